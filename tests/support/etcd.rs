//! A throwaway etcd for the cluster tests: Debian's etcd-server (`ETCD`
//! may name the binary) on two free loopback ports, its data in a
//! temporary folder, killed when dropped. Fails, never skips, without it.
#![allow(dead_code)] // each test uses what it needs

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on (now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A scratch folder under the system's temporary folder, fresh when made
/// and removed when dropped, so a failing test leaves nothing behind.
/// Declare it before the processes that write into it: locals drop in
/// reverse order, so they are killed first. When the test is failing, the
/// last lines of each log in it (`*.log`, `*.stderr`) are printed first,
/// so the failure's evidence is in the test's output; `KEEP_TMP=1` keeps
/// the folder instead.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `<tmp>/<name>-<this process's id>`, emptied and created.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.0)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log" || x == "stderr"))
                .collect();
            logs.sort();
            for log in logs {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                eprintln!("---- last lines of {} ----\n{}", log.display(), tail.join("\n"));
            }
        }
        if std::env::var_os("KEEP_TMP").is_some_and(|v| v == "1") {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The etcd binary, checked to run.
pub fn etcd_binary() -> PathBuf {
    let bin = std::env::var_os("ETCD").map_or_else(|| PathBuf::from("etcd"), PathBuf::from);
    let ok = Command::new(&bin).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot be run: this test needs etcd (Debian's etcd-server; scripts/test.sh \
         installs it), or ETCD=<path>",
        bin.display()
    );
    bin
}

/// Sends `sig` (`-STOP`, `-CONT`, …) to `pid`; asserts `kill` succeeded.
pub fn pid_signal(pid: u32, sig: &str) {
    let st = Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(st.success(), "kill {sig} {pid}");
}

/// [`pid_signal`] whose failure is the caller's to judge.
pub fn pid_signal_quiet(pid: u32, sig: &str) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill").args([sig, &pid.to_string()]).status()
}

/// etcd on two free loopback ports, its data in `dir`; killed when dropped.
pub struct Etcd {
    pub child: Child,
    pub url: String,
}

impl Etcd {
    /// Starts etcd and waits (at most 20 s) until it answers a range.
    pub fn start(dir: &Path) -> Etcd {
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.join("etcd.log")).unwrap();
        let child = Command::new(etcd_binary())
            .arg("--data-dir")
            .arg(dir.join("etcd-data"))
            .args(["--name", "test", "--listen-client-urls", &url, "--advertise-client-urls", &url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("test={peer_url}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let e = Etcd { child, url };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = Command::new("curl")
                .args(["-s", "-m", "1", "-X", "POST", &format!("{}/v3/kv/range", e.url)])
                .args(["-d", r#"{"key":"eA=="}"#])
                .output()
                .expect("curl is needed");
            if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("header") {
                return e;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("etcd did not answer within 20 s (its log: {})", dir.join("etcd.log").display());
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = pid_signal_quiet(self.child.id(), "-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
