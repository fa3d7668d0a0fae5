//! The admin endpoint at the HTTP level: every error status and limit, the
//! paging contract, the force-close callback, the transports and shutdown.
//! Requests are written by hand over the Unix socket (and over TLS with
//! rustls's blocking API), so what is tested is exactly what goes over the
//! wire.
#![cfg(feature = "admin")]

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use smb_handles::admin::{self, AdminConfig, AdminServer, Credentials, Limits, ServeError};
use smb_handles::{AccessMask, FileNumber, HandleTable, Location, OpenSpec, MAX_LIST_LIMIT};

#[path = "support/http_reply.rs"]
mod http_reply;
use http_reply::{Reply, CHEAP_HASH};

fn creds() -> Credentials {
    Credentials::from_password_hash("admin", CHEAP_HASH).unwrap()
}

/// A fresh directory for one test's socket, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "smbh-admin-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn open(table: &HandleTable, file: u64, path: &str) -> Location {
    table
        .open(OpenSpec::new(
            FileNumber(file),
            path,
            "S-1-5-21-1-2-3-1104",
            AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE,
        ))
        .unwrap()
}

struct Fixture {
    table: Arc<HandleTable>,
    server: Option<AdminServer>,
    sock: PathBuf,
    /// Removed after `Fixture::drop` has shut the server down.
    _dir: TempDir,
}

impl Fixture {
    fn new(handles: u64) -> Fixture {
        Fixture::with(handles, |c| c)
    }

    fn with(handles: u64, f: impl FnOnce(AdminConfig) -> AdminConfig) -> Fixture {
        let table = Arc::new(HandleTable::new());
        for i in 0..handles {
            open(&table, 100 + i % 5, &format!("/share/f{i}"));
        }
        let dir = temp_dir("fx");
        let sock = dir.join("admin.sock");
        let server = admin::serve(table.clone(), f(AdminConfig::new(creds()).unix_socket(&sock)))
            .expect("serve");
        Fixture { table, server: Some(server), sock, _dir: dir }
    }

    fn login(&self) -> String {
        let r = self.send(
            "POST",
            "/v1/session/login",
            &[],
            br#"{"username": "admin", "password": "secret"}"#,
        );
        assert_eq!(r.status, 200, "{r:?}");
        r.json()["bearer_token"].as_str().unwrap().to_owned()
    }

    fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut s = UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        exchange(&mut s, method, target, headers, body)
    }

    fn get(&self, token: &str, target: &str) -> Reply {
        self.send("GET", target, &[("Authorization", &format!("Bearer {token}"))], b"")
    }

    fn post(&self, token: &str, target: &str, body: &[u8]) -> Reply {
        self.send("POST", target, &[("Authorization", &format!("Bearer {token}"))], body)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

impl Reply {
    /// Asserts a JSON error of `status` whose description mentions `needle`.
    fn assert_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let v = self.json();
        assert!(v["error_class"].is_string(), "{v}");
        let d = v["description"].as_str().unwrap();
        assert!(d.contains(needle), "{d:?} should mention {needle:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

/// Writes one request (with `Connection: close`) and reads the answer to EOF.
fn exchange<S: Read + Write>(
    s: &mut S,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost:0\r\nConnection: close\r\n");
    for (n, v) in headers {
        req += &format!("{n}: {v}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n", body.len());
    // The server may answer (405, 413, ...) and close before reading the
    // body; a failed write then is expected, the answer is what counts.
    let _ = s.write_all(req.as_bytes()).and_then(|()| s.write_all(body));
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply { status, headers, body: raw[end + 4..].to_vec() }
}

fn locations(page: &Value) -> Vec<String> {
    page["file_handles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["handle_info"]["location"].as_str().unwrap().to_owned())
        .collect()
}

// ---- login and authentication ------------------------------------------------

#[test]
fn login_gives_a_token_and_ignores_a_stale_authorization_header() {
    let fx = Fixture::new(1);
    let r = fx.send(
        "POST",
        "/v1/session/login",
        &[("Authorization", "Bearer stale-token")],
        br#"{"username": "admin", "password": "secret"}"#,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let token = r.json()["bearer_token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32, "at least 128 bits: {token}");
    assert_eq!(fx.get(&token, "/v1/smb/files/").status, 200);
    assert_ne!(fx.login(), token, "every login gets a fresh token");
}

#[test]
fn bad_logins() {
    let fx = Fixture::new(0);
    for body in [
        &br#"{"username": "admin", "password": "wrong"}"#[..],
        br#"{"username": "root", "password": "secret"}"#,
    ] {
        let r = fx.send("POST", "/v1/session/login", &[], body);
        r.assert_error(401, "Invalid credentials");
        assert_eq!(r.json()["error_class"], "api_invalid_credentials_error");
    }
    fx.send("POST", "/v1/session/login", &[], b"{not json").assert_error(400, "username");
    fx.send("POST", "/v1/session/login", &[], br#"{"username": "admin"}"#)
        .assert_error(400, "password");
    fx.send("GET", "/v1/session/login", &[], b"").assert_error(405, "POST");
    let big = vec![b' '; 65 << 10];
    fx.send("POST", "/v1/session/login", &[], &big).assert_error(413, "larger than");
}

#[test]
fn every_other_route_needs_a_valid_token() {
    let fx = Fixture::new(3);
    let close_body = br#"[{"handle_info": {"location": "0000000100000000"}}]"#;
    for (method, target, body) in [
        ("GET", "/v1/smb/files/", &b""[..]),
        ("GET", "/v1/smb/files", b""),
        ("POST", "/v1/smb/files/close", close_body),
        ("GET", "/v1/nowhere", b""),
    ] {
        let r = fx.send(method, target, &[], body);
        r.assert_error(401, "log in");
        assert_eq!(r.json()["error_class"], "authentication_required_error");
        for auth in ["Bearer nope", "Basic YWRtaW46c2VjcmV0", "Bearer", ""] {
            fx.send(method, target, &[("Authorization", auth)], body).assert_error(401, "log in");
        }
    }
    assert_eq!(fx.table.len(), 3, "refused requests change nothing");
    let token = fx.login();
    assert_eq!(
        fx.send("GET", "/v1/smb/files/", &[("authorization", &format!("bearer {token}"))], b"")
            .status,
        200
    );
}

#[test]
fn tokens_expire() {
    let fx = Fixture::with(1, |c| {
        let mut limits = Limits::default();
        limits.token_lifetime = Duration::from_millis(300);
        c.limits(limits)
    });
    let token = fx.login();
    assert_eq!(fx.get(&token, "/v1/smb/files/").status, 200);
    std::thread::sleep(Duration::from_millis(500));
    fx.get(&token, "/v1/smb/files/").assert_error(401, "log in");
}

// ---- routing -------------------------------------------------------------------

#[test]
fn unknown_routes_and_wrong_methods() {
    let fx = Fixture::new(2);
    let t = fx.login();
    fx.get(&t, "/v1/smb/files/x").assert_error(404, "/v1/smb/files/x");
    fx.get(&t, "/").assert_error(404, "/");
    // A path no open handle has: 404 in Qumulo's shape (the route exists now).
    fx.get(&t, "/v1/files/%2Fa/info/attributes").assert_error(404, "no open handle");
    fx.get(&t, "/v1/nope").assert_error(404, "no such route");
    for (method, target, allow) in [
        ("POST", "/v1/smb/files/", "GET"),
        ("DELETE", "/v1/smb/files", "GET"),
        ("GET", "/v1/smb/files/close", "POST"),
        ("PUT", "/v1/smb/files/close", "POST"),
    ] {
        let r = fx.send(method, target, &[("Authorization", &format!("Bearer {t}"))], b"[]");
        r.assert_error(405, allow);
        assert_eq!(r.header("allow"), Some(allow));
    }
    assert_eq!(fx.table.len(), 2);
}

// ---- listing -------------------------------------------------------------------

#[test]
fn bad_query_values_name_the_parameter() {
    let fx = Fixture::new(2);
    let t = fx.login();
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("limit=ten", "limit"),
        ("file_number=abc", "file_number"),
        ("file_number=-1", "file_number"),
        ("resolve_paths=maybe", "resolve_paths"),
        ("after=nonsense", "after"),
        ("after=ffffffff00000000", "after"), // well-formed, but no such shard
        ("limit=2&limit=3", "limit"),
    ] {
        fx.get(&t, &format!("/v1/smb/files/?{query}")).assert_error(400, name);
    }
}

#[test]
fn resolve_paths_and_unknown_parameters() {
    let fx = Fixture::new(4);
    let t = fx.login();
    for (v, with_path) in [
        ("True", true),
        ("TRUE", true),
        ("true", true),
        ("1", true),
        ("False", false),
        ("0", false),
    ] {
        let page = fx.get(&t, &format!("/v1/smb/files/?resolve_paths={v}&color=blue")).json();
        for h in page["file_handles"].as_array().unwrap() {
            assert_eq!(h["handle_info"].get("path").is_some(), with_path, "{v}: {h}");
        }
        assert_eq!(page["paging"]["next"], "");
    }
    let page = fx.get(&t, "/v1/smb/files").json();
    assert_eq!(locations(&page).len(), 4);
    assert!(page["file_handles"][0]["handle_info"].get("path").is_none(), "default: no paths");
}

#[test]
fn paging_follows_next_verbatim_and_sees_every_handle_once() {
    let fx = Fixture::new(23);
    let t = fx.login();
    let mut target = "/v1/smb/files/?resolve_paths=True&limit=3&extra=1".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = fx.get(&t, &target);
        assert_eq!(r.status, 200, "{r:?}");
        let page = r.json();
        let next = page["paging"]["next"].as_str().expect("next is a string").to_owned();
        let locs = locations(&page);
        assert!(locs.len() <= 3);
        assert!(next.is_empty() || !locs.is_empty(), "an empty page with a next");
        seen.extend(locs);
        pages += 1;
        if next.is_empty() {
            break;
        }
        assert!(
            next.starts_with("/v1/smb/files/?resolve_paths=True&limit=3&extra=1&after="),
            "{next}"
        );
        target = next;
    }
    assert!(pages >= 8);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a handle listed twice");
    assert_eq!(seen.len(), 23);
}

#[test]
fn file_number_filter() {
    let fx = Fixture::new(20);
    let t = fx.login();
    let page = fx.get(&t, "/v1/smb/files/?file_number=102&limit=2").json();
    assert_eq!(locations(&page).len(), 2);
    let next = page["paging"]["next"].as_str().unwrap().to_owned();
    assert!(next.starts_with("/v1/smb/files/?file_number=102&limit=2&after="), "{next}");
    let rest = fx.get(&t, &next).json();
    let mut all = locations(&page);
    all.extend(locations(&rest));
    let mut target = rest["paging"]["next"].as_str().unwrap().to_owned();
    while !target.is_empty() {
        let p = fx.get(&t, &target).json();
        all.extend(locations(&p));
        target = p["paging"]["next"].as_str().unwrap().to_owned();
    }
    assert_eq!(all.len(), 4, "file 102 has 4 of the 20 handles");
    let none = fx.get(&t, "/v1/smb/files/?file_number=999").json();
    assert_eq!(locations(&none).len(), 0);
    assert_eq!(none["paging"]["next"], "");
}

#[test]
fn limit_is_capped() {
    let fx = Fixture::new(MAX_LIST_LIMIT as u64 + 50);
    let t = fx.login();
    for limit in ["20000", "99999999999999999999999999"] {
        let page = fx.get(&t, &format!("/v1/smb/files/?limit={limit}")).json();
        assert_eq!(locations(&page).len(), MAX_LIST_LIMIT);
        assert!(page["paging"]["next"].as_str().unwrap().contains(&format!("limit={limit}")));
    }
    let default = fx.get(&t, "/v1/smb/files/").json();
    assert_eq!(locations(&default).len(), smb_handles::DEFAULT_LIST_LIMIT);
}

// ---- closing -------------------------------------------------------------------

#[test]
fn a_listing_posted_back_closes_every_handle_and_notifies_once_each() {
    let notified = Arc::new(Mutex::new(Vec::new()));
    let table_for_cb: Arc<Mutex<Option<Arc<HandleTable>>>> = Arc::new(Mutex::new(None));
    let (n, tcb) = (notified.clone(), table_for_cb.clone());
    let fx = Fixture::with(12, move |c| {
        c.on_force_close(move |h| {
            // No lock is held: the table can be used from the callback, and
            // the handle is already gone.
            let table = tcb.lock().unwrap().clone().unwrap();
            assert!(table.get(h.handle_info.location).is_none());
            let _ = table.list(&smb_handles::ListQuery::default()).unwrap();
            n.lock().unwrap().push(h.handle_info.location);
        })
    });
    *table_for_cb.lock().unwrap() = Some(fx.table.clone());
    let t = fx.login();
    let page = fx.get(&t, "/v1/smb/files/?resolve_paths=true").json();
    let body = serde_json::to_vec(&page["file_handles"]).unwrap();
    let r = fx.post(&t, "/v1/smb/files/close", &body);
    assert_eq!(r.status, 200, "{r:?}");
    let results = r.json();
    assert_eq!(results.as_array().unwrap().len(), 12);
    assert!(results.as_array().unwrap().iter().all(|e| e["error_message"] == ""), "{results}");
    assert!(fx.table.is_empty());
    let mut got: Vec<String> = notified.lock().unwrap().iter().map(|l| l.to_string()).collect();
    got.sort();
    let mut want = locations(&page);
    want.sort();
    assert_eq!(got, want, "one notification per closed handle");

    // The same body again: every element is now not found, nobody notified.
    let again = fx.post(&t, "/v1/smb/files/close", &body).json();
    assert!(again.as_array().unwrap().iter().all(|e| e["error_message"] == "handle not found"));
    assert_eq!(notified.lock().unwrap().len(), 12);
}

#[test]
fn close_reports_each_element() {
    let fx = Fixture::new(0);
    let a = open(&fx.table, 1, "/a");
    let t = fx.login();
    let body = format!(
        r#"[{{"handle_info": {{"location": "{a}"}}}}, {{"handle_info": {{"location": "zz"}}}},
            {{"file_number": 0}}, {{"handle_info": {{"location": "{a}"}}}}]"#
    );
    let r = fx.post(&t, "/v1/smb/files/close/", body.as_bytes()).json();
    let msgs: Vec<&str> =
        r.as_array().unwrap().iter().map(|e| e["error_message"].as_str().unwrap()).collect();
    assert_eq!(msgs, ["", "invalid location", "missing location", "handle not found"]);
    assert_eq!(fx.post(&t, "/v1/smb/files/close", b"[]").json(), serde_json::json!([]));
}

#[test]
fn bad_close_bodies_change_nothing() {
    let fx = Fixture::new(5);
    let t = fx.login();
    let page = fx.get(&t, "/v1/smb/files/").json();
    let good = serde_json::to_vec(&page["file_handles"]).unwrap();
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    fx.post(&t, "/v1/smb/files/close", &truncated).assert_error(400, "JSON array");
    fx.post(&t, "/v1/smb/files/close", br#"{"handle_info": {}}"#).assert_error(400, "JSON array");
    fx.post(&t, "/v1/smb/files/close", b"").assert_error(400, "JSON array");

    // Over 4 MiB: declared up front (refused unread) ...
    let mut s = UnixStream::connect(&fx.sock).unwrap();
    let head = format!(
        "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Length: {}\r\n\r\n",
        5 << 20
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw).assert_error(413, "larger than 4194304");

    // ... and chunked, found while reading: a valid array that is too big.
    let mut big = good[..good.len() - 1].to_vec();
    while big.len() <= 4 << 20 {
        big.extend_from_slice(br#",{"handle_info": {"location": "0000000000000001"}}"#);
    }
    big.push(b']');
    let mut s = UnixStream::connect(&fx.sock).unwrap();
    let head = format!(
        "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    for chunk in big.chunks(64 << 10) {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || s.write_all(chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break; // the server answered and closed
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw).assert_error(413, "larger than");
    assert_eq!(fx.table.len(), 5, "nothing closed");
}

// ---- abuse limits ----------------------------------------------------------------

fn short_limits(c: AdminConfig) -> AdminConfig {
    let mut limits = Limits::default();
    limits.header_timeout = Duration::from_millis(400);
    limits.request_timeout = Duration::from_millis(600);
    limits.max_connections = 2;
    c.limits(limits)
}

/// Reads until EOF or error; returns what was read and how long it took.
fn read_until_closed(s: &mut UnixStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connection not closed by the server: {e}"),
    }
    (raw, start.elapsed())
}

#[test]
fn slow_headers_and_idle_connections_are_cut_off() {
    let fx = Fixture::with(1, short_limits);
    let mut s = UnixStream::connect(&fx.sock).unwrap();
    s.write_all(b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (_, took) = read_until_closed(&mut s);
    assert!(took < Duration::from_secs(3), "closed after the header timeout, not {took:?}");

    // A kept-alive connection that goes idle is closed too.
    let t = fx.login();
    let mut s = UnixStream::connect(&fx.sock).unwrap();
    let req =
        format!("GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let (raw, took) = read_until_closed(&mut s);
    assert!(raw.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&raw));
    assert!(took < Duration::from_secs(3), "idle keep-alive closed, not {took:?}");
}

#[test]
fn slow_bodies_get_408() {
    let fx = Fixture::with(3, short_limits);
    let t = fx.login();
    let mut s = UnixStream::connect(&fx.sock).unwrap();
    let head = format!(
        "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Length: 100\r\n\r\n[{{"
    );
    s.write_all(head.as_bytes()).unwrap();
    let (raw, took) = read_until_closed(&mut s);
    parse_reply(&raw).assert_error(408, "in time");
    assert!(took < Duration::from_secs(3));
    assert_eq!(fx.table.len(), 3);
}

#[test]
fn over_the_cap_the_oldest_idle_connection_is_shed() {
    let fx = Fixture::with(1, |c| {
        let mut limits = Limits::default();
        limits.max_connections = 2;
        c.limits(limits)
    });
    let t = fx.login();
    // Two idle connections hold both slots; a third sheds the older one
    // and is answered.
    let mut held: Vec<UnixStream> =
        (0..2).map(|_| UnixStream::connect(&fx.sock).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200)); // let the server accept them
    assert_eq!(fx.get(&t, "/v1/smb/files/").status, 200, "a new client is answered");
    let (raw, took) = read_until_closed(&mut held[0]);
    assert!(raw.is_empty() && took < Duration::from_secs(2), "the oldest idle one is shed");
    drop(held);

    // Two connections busy with authenticated requests (bodies still
    // coming) are never shed: a third is closed without an answer.
    let busy: Vec<UnixStream> = (0..2)
        .map(|_| {
            let mut s = UnixStream::connect(&fx.sock).unwrap();
            let head = format!(
                "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Length: 10\r\n\r\n["
            );
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = UnixStream::connect(&fx.sock).unwrap();
    let _ = third.write_all(b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\n\r\n");
    let (raw, _) = read_until_closed(&mut third);
    assert!(raw.is_empty(), "every slot busy: closed without an answer");
    drop(busy);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(fx.get(&t, "/v1/smb/files/").status, 200, "slots are given back");
    assert_eq!(fx.table.len(), 1);
}

// ---- transports and lifecycle -------------------------------------------------------

#[test]
fn unix_socket_is_private_and_removed_on_shutdown() {
    let mut fx = Fixture::new(1);
    let meta = std::fs::symlink_metadata(&fx.sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A second server on the same live socket is refused.
    let err = admin::serve(fx.table.clone(), AdminConfig::new(creds()).unix_socket(&fx.sock))
        .unwrap_err();
    assert!(matches!(err, ServeError::SocketInUse(_)), "{err}");

    fx.server.take().unwrap().shutdown();
    assert!(!fx.sock.exists(), "socket file removed");
    assert!(UnixStream::connect(&fx.sock).is_err());
}

#[test]
fn serve_refuses_bad_setups() {
    let table = Arc::new(HandleTable::new());
    assert!(matches!(
        admin::serve(table.clone(), AdminConfig::new(creds())),
        Err(ServeError::NoTransport)
    ));
    let dir = temp_dir("setup");
    let file = dir.join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let err =
        admin::serve(table.clone(), AdminConfig::new(creds()).unix_socket(&file)).unwrap_err();
    assert!(matches!(err, ServeError::NotASocket(_)), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    // A stale socket (nobody listening) is replaced.
    let stale = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let server = admin::serve(table, AdminConfig::new(creds()).unix_socket(&stale)).unwrap();
    assert!(UnixStream::connect(&stale).is_ok());
    drop(server); // drop stops it too
    assert!(!stale.exists());
}

fn tls_identity() -> (admin::TlsIdentity, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let id = admin::TlsIdentity::from_pem(
        ck.cert.pem().as_bytes(),
        ck.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    (id, ck.cert.der().to_vec())
}

#[test]
fn tls_only_over_tcp() {
    use tokio_rustls::rustls;

    let (identity, cert_der) = tls_identity();
    let table = Arc::new(HandleTable::new());
    open(&table, 7, "/seven");
    let server = admin::serve(
        table.clone(),
        AdminConfig::new(creds()).tls("127.0.0.1:0".parse().unwrap(), identity),
    )
    .unwrap();
    let addr = server.tcp_addr().unwrap();
    assert_ne!(addr.port(), 0);
    assert!(server.unix_socket().is_none());

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(!raw.starts_with(b"HTTP/"), "plain HTTP answered: {:?}", String::from_utf8_lossy(&raw));

    // Over TLS (trusting the self-signed certificate), login and list.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der.into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = Arc::new(config);
    let tls = |method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]| {
        let conn =
            rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        exchange(&mut s, method, target, headers, body)
    };
    let r =
        tls("POST", "/v1/session/login", &[], br#"{"username": "admin", "password": "secret"}"#);
    assert_eq!(r.status, 200, "{r:?}");
    let token = r.json()["bearer_token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");
    let page =
        tls("GET", "/v1/smb/files/?resolve_paths=True", &[("Authorization", &auth)], b"").json();
    assert_eq!(page["file_handles"][0]["handle_info"]["path"], "/seven");
    tls("GET", "/v1/smb/files/", &[], b"").assert_error(401, "log in");
    server.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err(), "stopped listening");
}

#[test]
fn tls_identity_errors() {
    use smb_handles::admin::{TlsError, TlsIdentity};
    assert!(matches!(TlsIdentity::from_pem(b"", b""), Err(TlsError::Certificate(_))));
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = ck.cert.pem();
    assert!(matches!(
        TlsIdentity::from_pem(cert.as_bytes(), b"junk"),
        Err(TlsError::PrivateKey(_))
    ));
    let other = rcgen::generate_simple_self_signed(vec!["x".to_owned()]).unwrap();
    let mismatched =
        TlsIdentity::from_pem(cert.as_bytes(), other.signing_key.serialize_pem().as_bytes());
    assert!(matches!(mismatched, Err(TlsError::Rejected(_))), "{mismatched:?}");
    let missing = TlsIdentity::from_pem_files(
        Path::new("/nonexistent/c.pem"),
        Path::new("/nonexistent/k.pem"),
    );
    assert!(matches!(missing, Err(TlsError::Io { .. })));
}
