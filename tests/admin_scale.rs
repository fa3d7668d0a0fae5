//! Issue 16's scale case: 340 000 orphaned guest sessions (one tree connect
//! each, no handles), listed through `GET /v1/smb/sessions/` and closed
//! through `POST /v1/smb/sessions/close` exactly as `qq smb_close_sessions`
//! does it: every page of the listing (no `limit`, following
//! `paging.next`), then the listed objects posted back 100 at a time.
//! Reports the time of each phase and the resident memory per session.
//!
//! About 40 s in a debug build (it runs in `scripts/test.sh`); for the
//! numbers of an optimized build:
//!
//! ```text
//! cargo test --release --all-features --test admin_scale -- --nocapture
//! ```
#![cfg(feature = "admin")]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use smb_handles::admin::{AdminConfig, Credentials, Harness};
use smb_handles::{Domain, HandleTable, SessionSpec, User};

const CHEAP_HASH: &str =
    "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";

/// The sessions of the customer case that made qq post 100 at a time.
const SESSIONS: usize = 340_000;
/// qq's `smb_close_sessions` batch size.
const BATCH: usize = 100;

/// This process's resident set in bytes (`VmRSS` of /proc/self/status).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

/// One request through the harness; the status line and the JSON body.
fn exchange(h: &Harness, token: &str, method: &str, target: &str, body: &[u8]) -> (String, Value) {
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nUser-Agent: qq\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let raw = h.exchange(&req);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole answer");
    let status = String::from_utf8_lossy(&raw[..raw.iter().position(|&b| b == b'\r').unwrap()]);
    let json = serde_json::from_slice(&raw[split + 4..]).expect("a JSON body");
    (status.into_owned(), json)
}

#[test]
fn lists_and_closes_340_000_guest_sessions_as_qq_does() {
    let before = rss();
    let t = Instant::now();
    let table = Arc::new(HandleTable::new());
    for i in 0..SESSIONS {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32 + 1));
        let user = User::new("S-1-5-32-546", "Guest").domain(Domain::World);
        let s =
            table.session_setup(SessionSpec::new(i as u64 + 1, user, addr).guest(true)).unwrap();
        table.tree_connect(s, "public").unwrap();
    }
    let setup = t.elapsed();
    let after = rss();
    assert_eq!(table.session_count(), SESSIONS);
    let per_session = (after - before) as f64 / SESSIONS as f64;

    let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
    let h = Harness::new(table.clone(), AdminConfig::new(creds)).unwrap();
    let token = h.token();

    // The listing, as `smb_close_sessions` makes it: no limit, then
    // `paging.next` verbatim until it is null.
    let t = Instant::now();
    let mut sessions = Vec::with_capacity(SESSIONS);
    let mut target = "/v1/smb/sessions/".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = exchange(&h, &token, "GET", &target, b"");
        assert_eq!(status, "HTTP/1.1 200 OK", "{target}: {page}");
        pages += 1;
        sessions.extend(page["session_infos"].as_array().unwrap().iter().cloned());
        match page["paging"]["next"].as_str() {
            Some(next) if !next.is_empty() => target = next.to_owned(),
            _ => break,
        }
    }
    let listing = t.elapsed();
    assert_eq!(sessions.len(), SESSIONS);

    // The close: the listed objects, unchanged, 100 per POST.
    let t = Instant::now();
    let mut posts = 0;
    for batch in sessions.chunks(BATCH) {
        let body = serde_json::to_vec(batch).unwrap();
        let (status, answer) = exchange(&h, &token, "POST", "/v1/smb/sessions/close", &body);
        assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
        let answers = answer.as_array().unwrap();
        assert_eq!(answers.len(), batch.len());
        assert!(answers.iter().all(|a| a["error_message"] == ""), "{answer}");
        posts += 1;
    }
    let closing = t.elapsed();
    assert_eq!(table.session_count(), 0);
    let (_, empty) = exchange(&h, &token, "GET", "/v1/smb/sessions/", b"");
    assert_eq!(empty["session_infos"], serde_json::json!([]));

    println!(
        "{SESSIONS} guest sessions (one tree each): setup {setup:?}; \
         RSS {before} -> {after} bytes = {per_session:.0} bytes/session; \
         listing {pages} pages in {listing:?}; closing {posts} POSTs of {BATCH} in {closing:?} \
         ({:.1} µs/session)",
        closing.as_secs_f64() * 1e6 / SESSIONS as f64
    );
}
