//! What the tests that drive the example admin server with the vendor's
//! CLI share (tests/admin_qq.rs, tests/cluster.rs): qq's path, the example
//! built as the test was, and one way of running qq.

#![allow(dead_code)] // each user needs a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// qq's path from `QQ` (panics, saying how to install it, without it).
pub fn qq_path() -> PathBuf {
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
pub fn example_binary() -> PathBuf {
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

/// One way to reach the server: global options placed before the command.
pub struct Qq {
    pub bin: PathBuf,
    pub home: PathBuf,
    pub global: Vec<String>,
}

impl Qq {
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
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
    pub fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
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

    pub fn list(&self, args: &[&str]) -> Vec<Value> {
        self.listing("smb_list_file_handles", "file_handles", args)
    }

    /// A paginated listing command's entries under `key`.
    pub fn listing(&self, command: &str, key: &str, args: &[&str]) -> Vec<Value> {
        let mut all = vec![command];
        all.extend_from_slice(args);
        let stdout = self.ok(&all, None);
        let v: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("qq {all:?} printed invalid JSON ({e}):\n{stdout}"));
        v[key].as_array().unwrap().clone()
    }
}
