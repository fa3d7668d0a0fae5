//! The admin endpoint driven by the vendor's own CLI: `qq` from PyPI's
//! `qumulo-api` (7.10.2.1), against `examples/admin_server.rs`, over TLS and
//! over the Unix socket.
//!
//! `qq` comes from the environment variable `QQ` (its path), which
//! `scripts/install-qq.sh` prints:
//!
//! ```text
//! QQ="$(bash scripts/install-qq.sh)" cargo test --all-features --test admin_qq
//! ```
//!
//! Without `QQ` the test fails; it never skips.
#![cfg(feature = "admin")]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const PROMPT: &str =
    "Are you sure you want to force close this file? The client's cached\nwrites will be lost. (yes/no): ";

fn qq_path() -> PathBuf {
    let qq = std::env::var_os("QQ").unwrap_or_else(|| {
        panic!(
            "QQ is not set: this test needs the vendor CLI. Install it with \
             `bash scripts/install-qq.sh` and run with QQ=<the path it prints>"
        )
    });
    let qq = PathBuf::from(qq);
    let out = Command::new(&qq)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("QQ={} cannot be run: {e}", qq.display()));
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.starts_with("qq "), "QQ={} is not qq: {version:?}", qq.display());
    qq
}

/// Builds the example the way this test binary was built (same target
/// directory and profile, all features as CI uses) and returns its path.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let target_dir = profile_dir.parent().unwrap();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--example", "admin_server", "--all-features", "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    // Cargo sets these for the test process; left in, they make build
    // scripts that watch them (ring's) rerun on every build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let set_for_tests = k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_")
            || k.starts_with("CARGO_MANIFEST_")
            || k.starts_with("CARGO_CFG_")
            || ["CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                .contains(&k.as_str());
        if set_for_tests {
            cmd.env_remove(&k);
        }
    }
    let status = cmd.status().expect("run cargo build for the example");
    assert!(status.success(), "building examples/admin_server.rs failed");
    let bin = profile_dir.join("examples").join("admin_server");
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

/// The example server, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    port: u16,
    sock: PathBuf,
    stderr: Option<std::process::ChildStderr>,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(dir: &Path, handles: usize) -> Server {
        let sock = dir.join("admin.sock");
        let mut child = Command::new(example_binary())
            .args(["--unix"])
            .arg(&sock)
            .args(["--tcp", "127.0.0.1:0", "--user", "admin", "--password", "secret"])
            .args(["--handles", &handles.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("ready"), "first line: {line:?}");
        let port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("tcp="))
            .and_then(|a| a.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no tcp=ADDR in {line:?}"));
        assert!(line.contains(&format!("unix={}", sock.display())), "{line:?}");
        let stderr = child.stderr.take();
        Server { child, port, sock, stderr, stdout }
    }

    /// SIGTERM, then the exit status and everything it printed after `ready`.
    fn stop(mut self) -> (std::process::ExitStatus, String, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).unwrap();
        let mut err = String::new();
        self.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status, out, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One way to reach the server: global options placed before the command.
struct Qq {
    bin: PathBuf,
    home: PathBuf,
    global: Vec<String>,
}

impl Qq {
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.global)
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run qq");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs and asserts exit code 0; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "qq {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn list(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["smb_list_file_handles"];
        all.extend_from_slice(args);
        let stdout = self.ok(&all, None);
        let v: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("qq {args:?} printed invalid JSON ({e}):\n{stdout}"));
        v["file_handles"].as_array().unwrap().clone()
    }
}

fn locations(handles: &[Value]) -> Vec<String> {
    handles.iter().map(|h| h["handle_info"]["location"].as_str().unwrap().to_owned()).collect()
}

/// The whole session of issue 5, through one transport. Closes one handle.
fn session(qq: &Qq, expect_total: usize, server_log: &mut Vec<String>) {
    // No token yet: refused, with qq's error line.
    let out = qq.run(&["smb_list_file_handles"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Error 401: authentication_required_error"), "{err}");

    let out = qq.run(&["login", "-u", "admin", "-p", "wrong"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Error 401: api_invalid_credentials_error")
    );

    assert_eq!(qq.ok(&["login", "-u", "admin", "-p", "secret"], None), "");

    // Everything, in one page and in pages of 2: each handle exactly once.
    let all = qq.list(&[]);
    assert_eq!(all.len(), expect_total);
    let paged = qq.list(&["--page-size", "2"]);
    let paged_locs = locations(&paged);
    let unique: BTreeSet<_> = paged_locs.iter().cloned().collect();
    assert_eq!(unique.len(), paged_locs.len(), "a handle listed twice: {paged_locs:?}");
    assert_eq!(unique, locations(&all).into_iter().collect::<BTreeSet<_>>());
    assert!(all.iter().all(|h| h["handle_info"].get("path").is_none()), "no paths without -p");

    // -p: paths.
    let with_paths = qq.list(&["-p", "--page-size", "3"]);
    assert_eq!(with_paths.len(), expect_total);
    assert!(with_paths
        .iter()
        .all(|h| h["handle_info"]["path"].as_str().is_some_and(|p| p.starts_with('/'))));

    // --file-number: that file's handles only (pick a file with two opens).
    let file = all[0]["file_number"].as_str().unwrap().to_owned();
    let want = all.iter().filter(|h| h["file_number"] == file.as_str()).count();
    let one_file = qq.list(&["--file-number", &file, "--page-size", "1"]);
    assert_eq!(one_file.len(), want);
    assert!(one_file.iter().all(|h| h["file_number"] == file.as_str()));

    // Force-close one handle, answering the prompt; it is gone afterwards.
    let victim = locations(&all)[1].clone();
    let stdout = qq.ok(&["smb_close_file_handle", "--location", &victim], Some(b"y\n"));
    assert_eq!(stdout, PROMPT, "qq printed only its prompt");
    let after = qq.list(&["--page-size", "2"]);
    assert_eq!(after.len(), expect_total - 1);
    assert!(!locations(&after).contains(&victim), "{victim} still listed");
    server_log.push(victim);
}

/// `qq`'s global options for the TLS port with its own credentials file.
fn tcp_options(port: u16, creds: &Path) -> Vec<String> {
    let creds = creds.display().to_string();
    ["--host", "127.0.0.1", "--port", &port.to_string(), "--credentials-store", &creds]
        .map(String::from)
        .to_vec()
}

#[test]
fn qq_drives_the_example_over_tls_and_the_unix_socket() {
    let qq_bin = qq_path();
    let dir = std::env::temp_dir().join(format!("smbh-admin-qq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let handles = 7;
    let server = Server::start(&dir, handles);
    let mut closed = Vec::new();

    let tls = Qq {
        bin: qq_bin.clone(),
        home: dir.join("home-tls"),
        global: tcp_options(server.port, &dir.join("creds-tls")),
    };
    session(&tls, handles, &mut closed);

    let unix = Qq {
        bin: qq_bin,
        home: dir.join("home-unix"),
        global: vec![
            "--host".into(),
            "localhost".into(),
            "--socket-path".into(),
            server.sock.display().to_string(),
            "--credentials-store".into(),
            dir.join("creds-unix").display().to_string(),
        ],
    };
    session(&unix, handles - 1, &mut closed);

    // A stale token in the store: refused.
    std::fs::write(dir.join("creds-stale"), "{\"bearer_token\": \"stale\", \"version\": 1}\n")
        .unwrap();
    let stale = Qq { global: tcp_options(server.port, &dir.join("creds-stale")), ..tls };
    let out = stale.run(&["smb_list_file_handles"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error 401"));

    // SIGTERM: a clean stop, the force-close callback saw both closes, and
    // the socket file is gone.
    let sock = server.sock.clone();
    let (status, out, err) = server.stop();
    assert!(status.success(), "exit {status}; stderr: {err}");
    assert!(out.contains("stopped on SIGTERM"), "{out}");
    for loc in &closed {
        assert_eq!(
            err.matches(&format!("closed {loc}")).count(),
            1,
            "callback once for {loc}: {err}"
        );
    }
    assert!(!sock.exists());
    std::thread::sleep(Duration::from_millis(10));
    let _ = std::fs::remove_dir_all(&dir);
}
