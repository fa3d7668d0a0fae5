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

#[path = "support/qq.rs"]
mod qq_support;
use qq_support::{example_binary, qq_path, Qq};

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use smb_handles::admin::{self, AdminConfig, Credentials, TlsIdentity};
use smb_handles::{
    AccessMask, FileNumber, HandleTable, Location, LockElement, LockKind, LockListKind, LockQuery,
    OpenSpec, SessionId, SessionSpec, ShareAccess, User,
};

const PROMPT: &str =
    "Are you sure you want to force close this file? The client's cached\nwrites will be lost. (yes/no): ";

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
        Server::start_with(dir, handles, &[])
    }

    /// [`Server::start`] with more options.
    fn start_with(dir: &Path, handles: usize, extra: &[&str]) -> Server {
        let sock = dir.join("admin.sock");
        let mut child = Command::new(example_binary())
            .args(["--unix"])
            .arg(&sock)
            .args(["--tcp", "127.0.0.1:0", "--user", "admin", "--password", "secret"])
            .args(["--handles", &handles.to_string()])
            .args(extra)
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

/// An empty directory in the system's temp dir, named for this process.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn qq_drives_the_example_over_tls_and_the_unix_socket() {
    let qq_bin = qq_path();
    let dir = fresh_dir("smbh-admin-qq");
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

/// Issue 17: the example with `--state-dir` and `--persistent`: qq's
/// listing before a SIGKILL names the persistent handles, and after the
/// restart (which recovers them and populates nothing) it names exactly
/// them, at the same locations, marked disconnected.
#[test]
fn qq_lists_persistent_handles_across_a_sigkill_of_the_example() {
    let qq_bin = qq_path();
    let dir = fresh_dir("smbh-admin-qq-state");
    let state = dir.join("state");
    let state_arg = state.display().to_string();
    let extra = ["--state-dir", state_arg.as_str(), "--persistent", "5"];
    let qq_for = |server: &Server, name: &str| Qq {
        bin: qq_bin.clone(),
        home: dir.join(format!("home-{name}")),
        global: tcp_options(server.port, &dir.join(format!("creds-{name}"))),
    };
    let mut server = Server::start_with(&dir, 12, &extra);
    let qq = qq_for(&server, "before");
    assert_eq!(qq.ok(&["login", "-u", "admin", "-p", "secret"], None), "");
    let before = qq.list(&[]);
    assert_eq!(before.len(), 12);
    assert!(before.iter().all(|h| h["handle_info"].get("disconnected").is_none()));
    // SIGKILL: no shutdown, no flush but what each acknowledgement made.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = Server::start_with(&dir, 12, &extra);
    let qq = qq_for(&server, "after");
    assert_eq!(qq.ok(&["login", "-u", "admin", "-p", "secret"], None), "");
    let after = qq.list(&[]);
    // The example's first 5 opens (files, not directories) are persistent.
    assert_eq!(after.len(), 5, "recovered: {after:?}");
    let before_locs: BTreeSet<String> = locations(&before).into_iter().collect();
    for h in &after {
        let loc = h["handle_info"]["location"].as_str().unwrap();
        assert!(before_locs.contains(loc), "{loc} was not listed before the crash");
        assert_eq!(h["handle_info"]["disconnected"], Value::Bool(true), "{h}");
    }
    let (status, out, _) = server.stop();
    assert!(status.success());
    assert!(out.contains("stopped on SIGTERM"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Sessions and locks (issue 16), through an endpoint served in this process,
// so every listing and close is checked against the table itself.
// ---------------------------------------------------------------------------

/// The Argon2 hash of `secret`, cheap to check (both users' password).
const CHEAP_HASH: &str =
    "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";

/// qq's `smb_close_sessions` prompt for one session (no newline at the end).
const SESSIONS_PROMPT: &str =
    "About to force close (1) sessions. Client-side cached writes will be\nlost. Proceed? (yes/no): ";

const SHARES: [&str; 3] = ["finance", "eng", "home"];
/// Handles: more share-mode claims (all of them) and byte-range locks (odd
/// handles, plus a second lock on every fourth) than qq's lock page of 1000,
/// so `fs_list_locks` has to follow `paging.next`.
const OPENS: usize = 1_200;
const USERS: usize = 6;

/// One session per user: its id and the locations of its handles.
struct Layout {
    sessions: Vec<SessionId>,
    handles: Vec<Vec<Location>>,
}

fn sid(i: usize) -> String {
    format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1101 + i)
}

/// Session `i`: `user{i+1}` from `10.0.0.{11+i}`, tree-connected to
/// `SHARES[i % 3]` and (even `i`) `SHARES[(i+1) % 3]`. Handle `j` in
/// session `j % USERS` on file `5000 + j`, share modes and locks as
/// examples/admin_server.rs takes them.
fn populate(table: &HandleTable) -> Layout {
    let mut sessions = Vec::new();
    let mut trees = Vec::new();
    for i in 0..USERS {
        let addr: IpAddr = format!("10.0.0.{}", 11 + i).parse().unwrap();
        let user = User::new(sid(i), format!("user{}", i + 1)).posix(2001 + i as u32, 100);
        let spec = SessionSpec::new(100 + i as u64, user, addr)
            .server_address("10.0.0.1".parse().unwrap());
        let s = table.session_setup(spec).unwrap();
        let mut mine = vec![table.tree_connect(s, SHARES[i % 3]).unwrap()];
        if i % 2 == 0 {
            mine.push(table.tree_connect(s, SHARES[(i + 1) % 3]).unwrap());
        }
        sessions.push(s);
        trees.push(mine);
    }
    let mut handles = vec![Vec::new(); USERS];
    for j in 0..OPENS {
        let i = j % USERS;
        let tree = trees[i][(j / USERS) % trees[i].len()];
        let share = table.tree(tree).unwrap().share_name;
        let (access, share_access) = match j % 3 {
            0 => (AccessMask::FILE_READ_DATA, ShareAccess::READ),
            1 => (
                AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA,
                ShareAccess::READ | ShareAccess::WRITE,
            ),
            _ => (AccessMask::FILE_READ_DATA, ShareAccess::all()),
        };
        let path = format!("/{share}/user{}/file {j}.dat", i + 1);
        let spec = OpenSpec::new(FileNumber(5000 + j as u64), path, sid(i), access)
            .share_access(share_access)
            .tree(tree);
        let loc = table.open(spec).unwrap();
        let el = |offset, length, kind| LockElement { offset, length, kind };
        if j % 2 == 1 {
            table.lock(loc, &[el(0, 4096, LockKind::Exclusive)]).unwrap();
        }
        if j % 4 == 3 {
            table.lock(loc, &[el(8192, 100, LockKind::Shared)]).unwrap();
        }
        handles[i].push(loc);
    }
    Layout { sessions, handles }
}

/// Every grant of a kind, as `qq fs_list_locks` prints it without
/// `--sort`: (client address, path), sorted, from the table itself.
fn table_locks(table: &HandleTable, kind: LockListKind, query: LockQuery) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut q = query;
    loop {
        let page = table.list_locks(kind, &q);
        for g in &page.grants {
            let addr = g.session_spec.as_ref().unwrap().client_address.to_string();
            out.push((addr, table.get(g.owner).unwrap().handle_info.path.unwrap().to_string()));
        }
        match page.next {
            Some(n) => q = q.after(Some(n)),
            None => break,
        }
    }
    out.sort();
    out
}

/// `qq fs_list_locks` TSV lines as (mode, address, path).
fn tsv(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "{l:?}");
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

fn addr_path(lines: &[(String, String, String)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = lines.iter().map(|(_, a, p)| (a.clone(), p.clone())).collect();
    v.sort();
    v
}

impl Qq {
    fn sessions(&self, args: &[&str]) -> Vec<Value> {
        self.listing("smb_list_sessions", "session_infos", args)
    }

    fn locks(&self, args: &[&str]) -> Vec<(String, String, String)> {
        let mut all = vec!["fs_list_locks", "--protocol", "smb"];
        all.extend_from_slice(args);
        tsv(&self.ok(&all, None))
    }

    /// `smb_close_sessions`, answering `yes`: asserts the prompt names
    /// `n` sessions.
    fn close_sessions(&self, args: &[&str], n: usize) {
        let mut all = vec!["smb_close_sessions"];
        all.extend_from_slice(args);
        let out = self.ok(&all, Some(b"yes\n"));
        assert_eq!(out, SESSIONS_PROMPT.replace("(1)", &format!("({n})")), "qq {all:?}");
    }
}

fn session_locations(list: &[Value]) -> BTreeSet<String> {
    list.iter().map(|s| s["location"].as_str().unwrap().to_owned()).collect()
}

/// The sessions and locks commands through one transport, checked against
/// `table`; ends with every session closed.
fn sessions_scenario(qq: &Qq, viewer: &Qq, table: &HandleTable, layout: &Layout) {
    assert_eq!(qq.ok(&["login", "-u", "admin", "-p", "secret"], None), "");
    let live = |i: usize| table.session(layout.sessions[i]).is_some();
    let loc_of = |i: usize| layout.sessions[i].to_string();

    // Every session once, in pages of 2 (three pages), as the table has them.
    let listed = qq.sessions(&["--page-size", "2"]);
    assert_eq!(listed.len(), USERS);
    assert_eq!(session_locations(&listed), (0..USERS).map(loc_of).collect());
    for s in &listed {
        let id: SessionId = s["location"].as_str().unwrap().parse().unwrap();
        let info = table.session(id).unwrap();
        assert_eq!(s["num_opens"], info.num_opens, "{s}");
        assert_eq!(s["originator"], info.spec.client_address.to_string());
        let shares: Vec<&str> = info.share_names.iter().map(|s| &**s).collect();
        assert_eq!(s["share_names"], serde_json::json!(shares));
        assert_eq!(s["user"]["sid"], &*info.spec.user.sid);
    }
    assert_eq!(listed.iter().map(|s| s["num_opens"].as_u64().unwrap()).sum::<u64>(), OPENS as u64);

    // --identity, by name and by SID: that user's session only.
    let by_name = qq.sessions(&["--identity", "user3"]);
    assert_eq!(session_locations(&by_name), BTreeSet::from([loc_of(2)]));
    let by_sid = qq.sessions(&["--identity", &sid(4), "--page-size", "1"]);
    assert_eq!(session_locations(&by_sid), BTreeSet::from([loc_of(4)]));

    // Share-mode claims of every file: more than one page of 1000.
    let share_modes = qq.locks(&["--lock-type", "share-mode"]);
    assert_eq!(share_modes.len(), OPENS);
    assert_eq!(
        addr_path(&share_modes),
        table_locks(table, LockListKind::ShareMode, LockQuery::new())
    );
    let file0 = "/finance/user1/file 0.dat";
    assert!(share_modes.contains(&(
        "Read, Exclude write, Exclude delete".into(),
        "10.0.0.11".into(),
        file0.into()
    )));
    assert!(share_modes.iter().any(|(m, ..)| m == "Read, Write, Exclude delete"));

    // Byte-range locks: every one (past a page too), of a file by --path
    // and by --id, and of one client by --ip.
    let ranges = qq.locks(&["--lock-type", "byte-range"]);
    assert_eq!(ranges.len(), OPENS / 2 + OPENS / 4);
    assert_eq!(addr_path(&ranges), table_locks(table, LockListKind::ByteRange, LockQuery::new()));
    let file3 = "/finance/user4/file 3.dat";
    let mut by_path = qq.locks(&["--lock-type", "byte-range", "--path", file3]);
    by_path.sort();
    let want: Vec<(String, String, String)> =
        [("Exclusive [0, 4096)", "10.0.0.14", file3), ("Shared [8192, 8292)", "10.0.0.14", file3)]
            .iter()
            .map(|(m, a, p)| (m.to_string(), a.to_string(), p.to_string()))
            .collect();
    assert_eq!(by_path, want);
    let mut by_id = qq.locks(&["--lock-type", "byte-range", "--id", "5003"]);
    by_id.sort();
    assert_eq!(by_id, want);
    let share_of_file = qq.locks(&["--lock-type", "share-mode", "--path", file0]);
    assert_eq!(share_of_file.len(), 1);
    let ip = "10.0.0.12";
    let by_ip = qq.locks(&["--lock-type", "byte-range", "--ip", ip]);
    let q = LockQuery::new().owner_address(ip.parse().unwrap());
    assert_eq!(addr_path(&by_ip), table_locks(table, LockListKind::ByteRange, q));
    assert!(!by_ip.is_empty() && by_ip.iter().all(|(_, a, _)| a == ip));
    let share_by_ip = qq.locks(&["--lock-type", "share-mode", "--ip", ip]);
    assert_eq!(share_by_ip.len(), layout.handles[1].len());

    // smb_list_file_handles --path: the one handle of that file.
    let handles = qq.list(&["--path", file3]);
    assert_eq!(locations(&handles), vec![layout.handles[3][0].to_string()]);
    assert_eq!(handles[0]["handle_info"]["num_byte_range_locks"], 2);
    // A path no handle has: qq's error line for Qumulo's 404.
    let out = qq.run(&["smb_list_file_handles", "--path", "/nowhere"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error 404: fs_no_such_entry_error"));

    // The read-only user lists sessions and locks but may not close.
    assert_eq!(viewer.ok(&["login", "-u", "viewer", "-p", "secret"], None), "");
    assert_eq!(viewer.sessions(&[]).len(), USERS);
    assert_eq!(viewer.locks(&["--lock-type", "byte-range", "--ip", ip]).len(), by_ip.len());
    let out = viewer.run(&["smb_close_sessions", "--ip", ip], Some(b"yes\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error 403: api_permission_denied_error"));
    let victim = layout.handles[1][0].to_string();
    let out = viewer.run(&["smb_close_file_handle", "--location", &victim], Some(b"yes\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error 403: api_permission_denied_error"));
    assert!(live(1) && table.get(layout.handles[1][0]).is_some(), "nothing closed");
    assert_eq!(table.len(), OPENS);

    // Answering no closes nothing.
    let out = qq.ok(&["smb_close_sessions", "--ip", ip], Some(b"no\n"));
    assert!(out.ends_with("Canceling the smb_close_sessions request...\n"), "{out:?}");
    assert!(live(1));

    // --ip: session 1 only, with all its handles, locks and share modes.
    let closed_handles = |i: usize| layout.handles[i].iter().all(|&l| table.get(l).is_none());
    qq.close_sessions(&["--ip", ip], 1);
    assert!(!live(1) && closed_handles(1));
    assert_eq!(table.len(), OPENS - layout.handles[1].len());
    assert!(qq.locks(&["--lock-type", "byte-range", "--ip", ip]).is_empty());
    assert!(qq.locks(&["--lock-type", "share-mode", "--ip", ip]).is_empty());
    let out = qq.run(&["smb_close_sessions", "--ip", ip], Some(b"yes\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No sessions found to close"));

    // --share-name home: sessions 2 (home, finance), 4 (eng, home) and 5.
    qq.close_sessions(&["--share-name", "home"], 3);
    assert!(!live(2) && !live(4) && !live(5));
    assert!(closed_handles(2) && closed_handles(4) && closed_handles(5));
    assert!(live(0) && live(3));

    // --identity (filtered by the server): user4's session.
    qq.close_sessions(&["--identity", "user4"], 1);
    assert!(!live(3) && closed_handles(3) && live(0));

    // Filters are ANDed: session 0 is from 10.0.0.11 on finance and eng.
    let out = qq.run(&["smb_close_sessions", "--ip", "10.0.0.11", "--share-name", "home"], None);
    assert_eq!(out.status.code(), Some(1), "not on home: nothing to close");
    assert!(live(0));

    // --location: session 0, the last.
    qq.close_sessions(&["--location", &loc_of(0)], 1);
    assert!(!live(0) && closed_handles(0));

    assert_eq!(table.len(), 0);
    assert_eq!(table.session_count(), 0);
    assert!(qq.sessions(&[]).is_empty());
    assert!(qq.locks(&["--lock-type", "share-mode"]).is_empty());
}

#[test]
fn qq_drives_sessions_and_locks_over_tls_and_the_unix_socket() {
    let qq_bin = qq_path();
    let dir = fresh_dir("smbh-admin-qq-sessions");
    for transport in ["tls", "unix"] {
        let table = Arc::new(HandleTable::new());
        let layout = populate(&table);
        let notified = Arc::new(AtomicUsize::new(0));
        let n = notified.clone();
        let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
        let viewer = Credentials::from_password_hash("viewer", CHEAP_HASH).unwrap();
        let sock = dir.join(format!("{transport}.sock"));
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let identity = TlsIdentity::from_pem(
            ck.cert.pem().as_bytes(),
            ck.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let config = AdminConfig::new(creds)
            .read_only_user(viewer)
            .on_force_close(move |_| {
                n.fetch_add(1, Ordering::Relaxed);
            })
            .unix_socket(&sock)
            .tls("127.0.0.1:0".parse().unwrap(), identity);
        let server = admin::serve(table.clone(), config).unwrap();
        let global = |who: &str| -> Vec<String> {
            let creds = dir.join(format!("creds-{transport}-{who}"));
            if transport == "tls" {
                tcp_options(server.tcp_addr().unwrap().port(), &creds)
            } else {
                let s = sock.display().to_string();
                let c = creds.display().to_string();
                ["--host", "localhost", "--socket-path", &s, "--credentials-store", &c]
                    .map(String::from)
                    .to_vec()
            }
        };
        let home = dir.join(format!("home-{transport}"));
        let admin = Qq { bin: qq_bin.clone(), home: home.clone(), global: global("admin") };
        let viewer = Qq { bin: qq_bin.clone(), home, global: global("viewer") };
        sessions_scenario(&admin, &viewer, &table, &layout);
        server.shutdown();
        assert_eq!(notified.load(Ordering::Relaxed), OPENS, "one notification per closed handle");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
