//! One cluster, one view, against a real etcd and three processes of the
//! example admin server, driven by the vendor's `qq` (and curl for the raw
//! answers qq does not print):
//!
//! - qq asked of node 1 lists the handles and sessions of all three, each
//!   exactly once, in small pages; closes a handle and a session of node 3;
//!   lists the locks of a file of node 2;
//! - SIGKILL of node 2: until its lease lapses it is named unreachable
//!   (and a close of its handle says so); within the TTL plus one second it
//!   is no member, its non-persistent handles are gone from every listing
//!   and its two persistent handles (kept in etcd) are listed as
//!   disconnected; one of them reconnects through node 3 (the example's
//!   `--commands`) with its lock, and is taken over once only;
//! - node 2 restarted joins with a new id; its old locations are refused;
//! - etcd stopped (SIGSTOP) for 10 s: every node goes on listing and
//!   closing; after SIGCONT the cluster is whole (no node missing).
//!
//! Needs `etcd` (Debian's etcd-server; `ETCD` may name the binary), `curl`
//! and `QQ` (scripts/test.sh installs all three). Fails without them;
//! never skips.
#![cfg(feature = "cluster")]

#[path = "support/etcd.rs"]
mod etcd_support;
#[path = "support/qq.rs"]
mod qq_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_support::{pid_signal, Etcd, Scratch};
use qq_support::{example_binary, qq_path, Qq};
use serde_json::Value;

/// The example's lease TTL (smb_handles::cluster::DEFAULT_LEASE_TTL).
const TTL: Duration = Duration::from_secs(5);
const HANDLES: usize = 6;
const SESSIONS: usize = 2;

/// One node: the example admin server in the cluster; killed when dropped.
struct Node {
    child: Child,
    id: u64,
    sock: PathBuf,
    stderr: PathBuf,
    /// With `--commands`: where to write them, and their answers.
    commands: Option<(std::process::ChildStdin, BufReader<std::process::ChildStdout>)>,
    /// A bearer token, once logged in (a login checks an Argon2 hash:
    /// slow in a debug or sanitizer build, so it is done once).
    token: std::cell::OnceCell<String>,
}

impl Node {
    fn start(dir: &Path, etcd: &Etcd, name: &str, key: &Path) -> Node {
        Node::start_with(dir, etcd, name, key, &[])
    }

    /// [`Node::start`] with more flags (`--commands` keeps stdin open).
    fn start_with(dir: &Path, etcd: &Etcd, name: &str, key: &Path, extra: &[&str]) -> Node {
        let commands = extra.contains(&"--commands");
        let sock = dir.join(format!("{name}.sock"));
        let stderr = dir.join(format!("{name}.stderr"));
        let mut child = Command::new(example_binary())
            .arg("--unix")
            .arg(&sock)
            .args(["--tcp", "127.0.0.1:0", "--user", "admin", "--password", "secret"])
            .args(["--handles", &HANDLES.to_string(), "--sessions", &SESSIONS.to_string()])
            .args(["--etcd", &etcd.url, "--cluster", "test", "--node", name, "--cluster-key"])
            .arg(key)
            .args(extra)
            .stdin(if commands { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start the example");
        /// Kills the node that did not start (a `Child` is not killed
        /// when dropped), then fails.
        fn fail(child: &mut Child, why: String) -> ! {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{why}");
        }
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        if let Err(e) = out.read_line(&mut line) {
            fail(&mut child, format!("{name}: reading its first line: {e}"));
        }
        if !line.starts_with("ready") {
            let log = std::fs::read_to_string(&stderr).unwrap_or_default();
            fail(&mut child, format!("{name}: first line {line:?}; stderr: {log}"));
        }
        let Some(id) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("node="))
            .and_then(|n| n.parse().ok())
        else {
            fail(&mut child, format!("no node=ID in {line:?}"))
        };
        let commands = commands.then(|| (child.stdin.take().unwrap(), out));
        Node { child, id, sock, stderr, commands, token: std::cell::OnceCell::new() }
    }

    /// Sends one `--commands` line; its answer.
    fn command(&mut self, line: &str) -> String {
        use std::io::Write;
        let (input, output) = self.commands.as_mut().expect("started with --commands");
        writeln!(input, "{line}").unwrap();
        input.flush().unwrap();
        let mut answer = String::new();
        output.read_line(&mut answer).unwrap();
        answer.trim().to_owned()
    }

    fn qq(&self, home: &Path) -> Qq {
        std::fs::create_dir_all(home).unwrap();
        let qq = Qq {
            bin: qq_path(),
            home: home.to_path_buf(),
            global: vec![
                "--host".into(),
                "localhost".into(),
                "--socket-path".into(),
                self.sock.display().to_string(),
            ],
        };
        assert_eq!(qq.ok(&["login", "-u", "admin", "-p", "secret"], None), "");
        qq
    }

    /// A raw walk of `/v1/smb/files/` through every page: the locations,
    /// and the node ids any page named unreachable.
    fn raw_walk(&self) -> (Vec<String>, Vec<u64>) {
        let (entries, missing) = self.raw_entries();
        (handle_locations(&entries), missing)
    }

    /// [`Node::raw_walk`] with whole entries.
    fn raw_entries(&self) -> (Vec<Value>, Vec<u64>) {
        let (mut locs, mut missing) = (Vec::new(), Vec::new());
        let mut path = "/v1/smb/files/?limit=3".to_owned();
        let token = self.token();
        loop {
            let (status, page) = curl(&self.sock, "GET", &path, Some(&token), None);
            assert_eq!(status, 200, "{page}");
            locs.extend(page["file_handles"].as_array().unwrap().iter().cloned());
            for n in page.get("unreachable_nodes").and_then(Value::as_array).into_iter().flatten() {
                missing.push(n["node_id"].as_u64().unwrap_or(0));
            }
            match page["paging"]["next"].as_str() {
                Some(next) if !next.is_empty() => path = next.to_owned(),
                _ => return (locs, missing),
            }
        }
    }

    /// A raw request over the Unix socket with a fresh token: (status, body).
    fn raw(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        curl(&self.sock, method, path, Some(&self.token()), body)
    }

    /// A bearer token (logged in at the first call).
    fn token(&self) -> String {
        self.token.get_or_init(|| self.login()).clone()
    }

    fn login(&self) -> String {
        let login = curl(
            &self.sock,
            "POST",
            "/v1/session/login",
            None,
            Some(r#"{"username":"admin","password":"secret"}"#),
        );
        login.1["bearer_token"].as_str().expect("a token").to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(
    sock: &Path,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "20", "-w", "\n%{http_code}", "--unix-socket"]).arg(sock).args([
        "-X",
        method,
        &format!("http://localhost{path}"),
    ]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = cmd.output().expect("curl is needed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    let v = serde_json::from_str(json).unwrap_or(Value::String(json.to_owned()));
    (code.trim().parse().unwrap_or(0), v)
}

/// The node id of a cluster location `NODE-LOCAL`.
fn node_of(location: &str) -> u64 {
    location
        .split_once('-')
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{location:?} is not a cluster location"))
}

fn handle_locations(handles: &[Value]) -> Vec<String> {
    handles.iter().map(|h| h["handle_info"]["location"].as_str().unwrap().to_owned()).collect()
}

/// How many of `locations` each node has.
fn per_node(locations: &[String]) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for l in locations {
        *m.entry(node_of(l)).or_default() += 1;
    }
    m
}

fn unique(locations: &[String]) -> bool {
    let mut v = locations.to_vec();
    v.sort();
    v.dedup();
    v.len() == locations.len()
}

/// How many members etcd holds for the test's cluster.
fn members_in_etcd(etcd: &Etcd) -> String {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    // The members prefix, and its range end (the last byte one higher).
    let range = format!(
        r#"{{"key":"{}","range_end":"{}","count_only":true}}"#,
        b64("/smb-handles/test/members/"),
        b64("/smb-handles/test/members0")
    );
    let out = Command::new("curl")
        .args(["-s", "-m", "2", "-X", "POST", &format!("{}/v3/kv/range", etcd.url), "-d", &range])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["count"].as_str().unwrap_or("0").to_owned()
}

#[test]
fn three_nodes_on_etcd_listed_and_closed_as_one() {
    let dir = Scratch::new("smbh-cluster");
    let key = dir.join("cluster.key");
    let secret: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(97).wrapping_add(13)).collect();
    std::fs::write(&key, &secret).unwrap();
    let short = dir.join("short.key");
    std::fs::write(&short, &secret[..31]).unwrap();

    let etcd = Etcd::start(&dir);
    // A key under 32 bytes: the node refuses to join.
    let refused = Command::new(example_binary())
        .args(["--tcp", "127.0.0.1:0", "--user", "admin", "--password", "secret"])
        .args(["--etcd", &etcd.url, "--cluster", "test", "--node", "x", "--cluster-key"])
        .arg(&short)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a 31-byte key was accepted");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at least 32"));

    let n1 = Node::start(&dir, &etcd, "n1", &key);
    let n2 = Node::start_with(&dir, &etcd, "n2", &key, &["--persistent", "2"]);
    let mut n3 = Node::start_with(&dir, &etcd, "n3", &key, &["--commands"]);
    let ids = [n1.id, n2.id, n3.id];
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "node ids {ids:?}");
    let qq1 = n1.qq(&dir.join("home1"));

    // Every handle of the three, once, in pages of 4.
    let listed = handle_locations(&qq1.list(&["--page-size", "4"]));
    assert_eq!(listed.len(), 3 * HANDLES, "{listed:?}");
    assert!(unique(&listed), "a handle listed twice: {listed:?}");
    assert_eq!(per_node(&listed), ids.iter().map(|&i| (i, HANDLES)).collect());
    // Node 3 answers the same (any node answers for the cluster).
    let from3 = handle_locations(&n3.qq(&dir.join("home3")).list(&["--page-size", "5"]));
    let (mut a, mut b) = (listed.clone(), from3);
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // Every session of the three, once, in pages of 1.
    let sessions = qq1.listing("smb_list_sessions", "session_infos", &["--page-size", "1"]);
    let s_locs: Vec<String> =
        sessions.iter().map(|s| s["location"].as_str().unwrap().to_owned()).collect();
    assert_eq!(per_node(&s_locs), ids.iter().map(|&i| (i, SESSIONS)).collect());
    assert!(unique(&s_locs));

    // Close a handle of node 3 through node 1: node 3 closed it.
    let victim = listed.iter().find(|l| node_of(l) == n3.id).unwrap().clone();
    qq1.ok(&["smb_close_file_handle", "--location", &victim], Some(b"yes\n"));
    let after = handle_locations(&qq1.list(&[]));
    assert_eq!(after.len(), 3 * HANDLES - 1);
    assert!(!after.contains(&victim));
    let local = victim.split_once('-').unwrap().1;
    let log3 = std::fs::read_to_string(&n3.stderr).unwrap();
    assert!(log3.contains(&format!("closed {local}")), "node 3 did not close {local}: {log3}");

    // Close a session of node 3 through node 1.
    let s_victim = s_locs.iter().find(|l| node_of(l) == n3.id).unwrap().clone();
    qq1.ok(&["smb_close_sessions", "--location", &s_victim], Some(b"yes\n"));
    let sessions = qq1.listing("smb_list_sessions", "session_infos", &[]);
    let s_after: Vec<&str> = sessions.iter().map(|s| s["location"].as_str().unwrap()).collect();
    assert_eq!(s_after.len(), 3 * SESSIONS - 1);
    assert!(!s_after.contains(&s_victim.as_str()));

    // The share-mode locks of a file of node 2 (its files are numbered
    // from 2 x 10^6): listed through node 1, and only that file's.
    let file2 = n2.id * 1_000_000 + 2000;
    let (status, grants) = n1.raw("GET", &format!("/v1/files/{file2}/locks/smb/share-mode/"), None);
    assert_eq!(status, 200, "{grants}");
    let grants = grants["grants"].as_array().unwrap().clone();
    assert!(!grants.is_empty(), "no lock of node 2's file {file2} listed through node 1");
    let want = file2.to_string();
    assert!(grants.iter().all(|g| g["file_id"] == want.as_str()), "{grants:?}");
    let id = file2.to_string();
    let qq_locks = qq1.ok(
        &["fs_list_locks", "--protocol", "smb", "--lock-type", "share-mode", "--id", &id, "--json"],
        None,
    );
    let qq_grants: Value =
        serde_json::from_str(&qq_locks).unwrap_or_else(|e| panic!("{e}: {qq_locks}"));
    let qq_grants = qq_grants.as_array().or_else(|| qq_grants["grants"].as_array()).unwrap();
    assert_eq!(qq_grants.len(), grants.len(), "{qq_locks}");

    // SIGKILL node 2: within TTL + 1 s it is no member; its two persistent
    // handles (files 2000 and 2001 of its own) stay, listed as
    // disconnected by every node; its other handles are gone.
    let (id2, pid2) = (n2.id, n2.child.id());
    let base2 = id2 * 1_000_000;
    let entries = qq1.list(&[]);
    let file_of = |e: &Value| e["file_number"].as_str().unwrap().parse::<u64>().unwrap();
    let loc_of = |e: &Value| e["handle_info"]["location"].as_str().unwrap().to_owned();
    let persistent2: Vec<String> = entries
        .iter()
        .filter(|e| node_of(&loc_of(e)) == id2 && file_of(e) < base2 + 2002)
        .map(loc_of)
        .collect();
    assert_eq!(persistent2.len(), 2, "{entries:?}");
    let old2 =
        entries.iter().map(loc_of).find(|l| node_of(l) == id2 && !persistent2.contains(l)).unwrap();
    pid_signal(pid2, "-KILL");
    let killed = Instant::now();
    let mut saw_unreachable = false;
    let mut saw_close_refused = false;
    let (gone, after_kill) = loop {
        // What a walk saw is as of when it started.
        let started = killed.elapsed();
        let (entries, missing) = n1.raw_entries();
        let of2: Vec<&Value> = entries.iter().filter(|e| node_of(&loc_of(e)) == id2).collect();
        saw_unreachable |= missing.contains(&id2);
        if !missing.contains(&id2) {
            break (killed.elapsed(), of2.into_iter().cloned().collect::<Vec<Value>>());
        }
        // A walk whose pages span the lapse of node 2's lease names it
        // unreachable on its early pages and lists its persistent handles,
        // disconnected, on its last (the dead nodes' handles, from etcd).
        // Only then: node 2 is no member by the walk's end, and of its
        // handles those alone are listed, each once.
        if !of2.is_empty() {
            assert_eq!(
                members_in_etcd(&etcd),
                "2",
                "an unreachable member's handles listed: {of2:?}"
            );
            let mut locs: Vec<String> = of2.iter().map(|e| loc_of(e)).collect();
            assert!(unique(&locs), "{locs:?}");
            locs.sort();
            let mut want = persistent2.clone();
            want.sort();
            assert_eq!(locs, want, "not node 2's persistent handles alone: {of2:?}");
            assert!(of2.iter().all(|e| e["handle_info"]["disconnected"] == true), "{of2:?}");
        }
        if !saw_close_refused {
            // A close of its handle meanwhile: answered, with why.
            let body = format!(r#"[{{"handle_info":{{"location":"{old2}"}}}}]"#);
            let (status, answer) = n1.raw("POST", "/v1/smb/files/close", Some(&body));
            assert_eq!(status, 200, "{answer}");
            let msg = answer[0]["error_message"].as_str().unwrap_or_default().to_owned();
            if msg.contains("could not be reached") {
                saw_close_refused = true;
            } else {
                // Its lease lapsed between the listing and the close.
                assert!(msg.contains("not a member"), "{msg}");
            }
        }
        assert!(started < TTL + Duration::from_secs(1), "node 2 still a member {started:?} after");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(saw_unreachable, "node 2 was never named unreachable before its lease lapsed");
    assert!(saw_close_refused, "no close was answered 'could not be reached'");
    eprintln!("cluster: node {id2} no member of node 1's listing {gone:?} after SIGKILL");
    let mut left: Vec<String> = after_kill.iter().map(loc_of).collect();
    left.sort();
    let mut want = persistent2.clone();
    want.sort();
    assert_eq!(left, want, "node 2's persistent handles, and only those, stay listed");
    assert!(after_kill.iter().all(|e| e["handle_info"]["disconnected"] == true), "{after_kill:?}");
    drop(n2);

    // The client of node 2's file 2001 (j = 1: client 0xC0DE0001, create
    // GUID 2, user1102, a lock on [0, 4096)) reconnects through node 3.
    let lost = after_kill.iter().find(|e| file_of(e) == base2 + 2001).unwrap();
    let pid = loc_of(lost).split_once('-').unwrap().1.to_owned();
    let owner = "S-1-5-21-1004336348-1177238915-682003330-1102";
    let line = format!("reconnect {pid} 2 {} {owner}", 0xC0DE_0001u128);
    let answer = n3.command(&line);
    assert!(answer.starts_with("reconnected ") && answer.ends_with(" locks=1"), "{answer}");
    let new_loc = format!("{}-{}", n3.id, answer.split_whitespace().nth(1).unwrap());
    let (entries, _) = n1.raw_entries();
    let back = entries.iter().find(|e| loc_of(e) == new_loc).expect("listed at node 3");
    assert!(back["handle_info"].get("disconnected").is_none(), "{back}");
    assert_eq!(back["handle_info"]["num_byte_range_locks"], 1);
    assert!(!entries.iter().any(|e| loc_of(e) == loc_of(lost)), "still listed as node 2's");
    // Taken over once: the same reconnect again finds nothing to take.
    assert!(n3.command(&line).starts_with("refused "), "a second take-over");

    // Node 2 restarted: a new id; its old locations are refused.
    let n2b = Node::start(&dir, &etcd, "n2", &key);
    assert!(n2b.id > n3.id, "restarted node 2 got id {} (not new)", n2b.id);
    let body = format!(r#"[{{"handle_info":{{"location":"{old2}"}}}}]"#);
    let (status, answer) = n1.raw("POST", "/v1/smb/files/close", Some(&body));
    assert_eq!(status, 200, "{answer}");
    let msg = answer[0]["error_message"].as_str().unwrap();
    assert!(msg.contains("not a member"), "{msg}");
    let listed = handle_locations(&qq1.list(&["--page-size", "7"]));
    assert_eq!(per_node(&listed).get(&n2b.id), Some(&HANDLES));

    // etcd stopped for 10 s: each node goes on listing (the last membership
    // read) and closing.
    // Each node reads the members every third of the TTL: wait one such
    // period, so every node has seen the restarted node 2 before etcd stops
    // (a node that joined less than a period before an outage is unknown to
    // the others until etcd answers again).
    std::thread::sleep(TTL / 3 + Duration::from_millis(700));
    pid_signal(etcd.child.id(), "-STOP");
    let stopped = Instant::now();
    let qq3 = n3.qq(&dir.join("home3b"));
    let during = handle_locations(&qq3.list(&[]));
    // Every live node's handles; the dead node's persistent ones are read
    // from etcd, so they are missing meanwhile (and the page says so).
    let kept_for_dead = listed.iter().filter(|l| node_of(l) == id2).count();
    assert_eq!(kept_for_dead, 1, "{listed:?}");
    assert_eq!(during.len(), listed.len() - kept_for_dead, "listing while etcd is stopped");
    let (_, missing) = n3.raw_walk();
    assert!(!missing.is_empty(), "a listing while etcd is stopped says what it could not read");
    let mine = during.iter().find(|l| node_of(l) == n3.id).unwrap().clone();
    qq3.ok(&["smb_close_file_handle", "--location", &mine], Some(b"yes\n"));
    let mine1 = during.iter().find(|l| node_of(l) == n1.id).unwrap().clone();
    qq1.ok(&["smb_close_file_handle", "--location", &mine1], Some(b"yes\n"));
    let during2 = handle_locations(&qq1.list(&[]));
    assert_eq!(during2.len(), listed.len() - kept_for_dead - 2);
    if let Some(left) = Duration::from_secs(10).checked_sub(stopped.elapsed()) {
        std::thread::sleep(left);
    }
    pid_signal(etcd.child.id(), "-CONT");

    // Whole again: every node listed, none unreachable, and membership read
    // from etcd names all three (re-registered if their leases lapsed).
    let deadline = Instant::now() + TTL * 3;
    loop {
        let (locs, missing) = n1.raw_walk();
        // Leases lapsed while etcd was stopped: every node registers again.
        let whole = missing.is_empty()
            && per_node(&locs).len() == per_node(&listed).len()
            && locs.len() == listed.len() - 2
            && members_in_etcd(&etcd) == "3";
        if whole {
            break;
        }
        assert!(Instant::now() < deadline, "not whole after SIGCONT: {locs:?} {missing:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop((n1, n2b, n3, etcd));
}
