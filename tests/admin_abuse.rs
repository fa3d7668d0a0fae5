//! The admin endpoint under abuse, over its Unix socket: slow and flooding
//! clients, oversized and smuggled requests, hostile bodies and query
//! strings, bursts and password guessing. Each test asserts that the server
//! stays up and keeps answering legitimate clients, answers the expected
//! status, keeps its memory bounded (this process's RSS before and after),
//! and leaves the table unchanged. Every loop is bounded in count and time.
//!
//! The tests take turns (one lock), so RSS and timing are each test's own.
#![cfg(feature = "admin")]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use smb_handles::admin::{self, AdminConfig, AdminServer, Credentials, Limits};
use smb_handles::{AccessMask, FileNumber, HandleTable, ListQuery, Location, OpenSpec};

#[path = "support/http_reply.rs"]
mod http_reply;
use http_reply::{Reply, CHEAP_HASH};

/// How much this process's RSS may grow across one attack: 64 MiB, or
/// `SMBH_ABUSE_RSS_LIMIT_MIB` (scripts/sanitizers.sh raises it under
/// AddressSanitizer, whose quarantine keeps freed memory resident).
fn rss_growth_limit_kib() -> u64 {
    std::env::var("SMBH_ABUSE_RSS_LIMIT_MIB").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(64)
        << 10
}

/// Longest a legitimate client may wait for an answer while an attack runs.
const LEGIT_DEADLINE: Duration = Duration::from_secs(3);

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The only place this file builds an `OpenSpec`.
fn spec(file: u64, path: &str) -> OpenSpec {
    OpenSpec::new(
        FileNumber(file),
        path,
        "S-1-5-21-1-2-3-1104",
        AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE,
    )
}

/// `(field, value)` lines of /proc/self/status, in KiB.
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

struct Fixture {
    table: Arc<HandleTable>,
    server: Option<AdminServer>,
    sock: PathBuf,
    dir: PathBuf,
    rss_before: u64,
    snapshot: Vec<(Location, u64, u32)>,
    _turn: MutexGuard<'static, ()>,
}

impl Fixture {
    fn new(limits: impl FnOnce(&mut Limits)) -> Fixture {
        let turn = one_at_a_time();
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "smbh-abuse-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let table = Arc::new(HandleTable::new());
        for i in 0..20 {
            table.open(spec(100 + i % 4, &format!("/share/f{i}"))).unwrap();
        }
        let mut l = Limits::default();
        limits(&mut l);
        let sock = dir.join("admin.sock");
        let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
        let server =
            admin::serve(table.clone(), AdminConfig::new(creds).unix_socket(&sock).limits(l))
                .expect("serve");
        let snapshot = snapshot(&table);
        Fixture {
            table,
            server: Some(server),
            sock,
            dir,
            rss_before: rss_kib(),
            snapshot,
            _turn: turn,
        }
    }

    /// One request on a fresh connection; the answer or why there is none.
    fn try_send(&self, raw: &[u8]) -> Result<Reply, String> {
        let mut s = UnixStream::connect(&self.sock).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(raw);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        parse_reply(&out)
    }

    fn send(&self, raw: &[u8]) -> Reply {
        self.try_send(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    fn login(&self) -> Result<String, String> {
        let r = self.try_send(&login_request("secret"))?;
        if r.status != 200 {
            return Err(format!("login: {r:?}"));
        }
        Ok(r.json()["bearer_token"].as_str().unwrap().to_owned())
    }

    /// A legitimate listing: must answer 200 within [`LEGIT_DEADLINE`].
    fn legit_list(&self, token: &str) -> Duration {
        let t0 = Instant::now();
        let r = self.try_send(&get_request("/v1/smb/files/?limit=5", token));
        let took = t0.elapsed();
        let r = r.unwrap_or_else(|e| panic!("legitimate client locked out after {took:?}: {e}"));
        assert_eq!(r.status, 200, "{r:?}");
        assert!(took < LEGIT_DEADLINE, "legitimate client answered only after {took:?}");
        took
    }

    /// The end of every test: the server still answers, memory is bounded,
    /// the table is as it was. Returns the growth of RSS in KiB.
    fn finish(mut self) -> u64 {
        let token = self.login().expect("the server still answers a login");
        self.legit_list(&token);
        assert_eq!(snapshot(&self.table), self.snapshot, "the table changed");
        let after = rss_kib();
        let growth = after.saturating_sub(self.rss_before);
        eprintln!(
            "rss before {} KiB, after {after} KiB, peak (process) {} KiB",
            self.rss_before,
            proc_status_kib("VmHWM:")
        );
        assert!(growth < rss_growth_limit_kib(), "RSS grew by {growth} KiB");
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        growth
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

fn snapshot(table: &HandleTable) -> Vec<(Location, u64, u32)> {
    let q = ListQuery { limit: Some(10_000), ..ListQuery::default() };
    let mut v: Vec<_> = table
        .list(&q)
        .unwrap()
        .file_handles
        .iter()
        .map(|h| {
            let i = &h.handle_info;
            (i.location, i.version, i.num_byte_range_locks)
        })
        .collect();
    v.sort();
    v
}

fn login_request(password: &str) -> Vec<u8> {
    let body = format!(r#"{{"username": "admin", "password": "{password}"}}"#);
    format!(
        "POST /v1/session/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get_request(target: &str, token: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .into_bytes()
}

/// The first answer in `raw`.
fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete answer: {:?}", String::from_utf8_lossy(raw)))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(raw.len() - end - 4);
    let body = raw[end + 4..].iter().copied().take(len).collect();
    Ok(Reply { status, headers, body })
}

/// A slow-client attack in the background: `conns` connections that each
/// send `head`, then `byte` every 100 ms, reconnecting whenever they are cut
/// off (at most 20 000 times), until stopped or after `duration`. Returns
/// the stop flag and the thread, which answers its reconnect count.
fn trickle(
    sock: PathBuf,
    conns: usize,
    head: &'static [u8],
    byte: &'static [u8],
    duration: Duration,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<usize>) {
    in_background(move |stop| {
        let open = || -> Option<UnixStream> {
            let mut s = UnixStream::connect(&sock).ok()?;
            s.set_write_timeout(Some(Duration::from_millis(200))).ok()?;
            s.write_all(head).ok()?;
            Some(s)
        };
        let mut conns: Vec<Option<UnixStream>> = (0..conns).map(|_| open()).collect();
        let mut reconnects = 0;
        let deadline = Instant::now() + duration;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            for c in conns.iter_mut() {
                let alive = c.as_mut().is_some_and(|s| s.write_all(byte).is_ok());
                if !alive && reconnects < 20_000 {
                    reconnects += 1;
                    *c = open();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        reconnects
    })
}

/// Runs `attack` on its own thread until `stop` is set, returning its count.
fn in_background(
    attack: impl FnOnce(&AtomicBool) -> usize + Send + 'static,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<usize>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    (stop, std::thread::spawn(move || attack(&s)))
}

// ---- slow clients ---------------------------------------------------------------

/// 300 connections that each send a request line and then one header byte
/// at a time (reconnecting whenever they are cut off), against the default
/// limits (64 connections, 10 s header timeout): legitimate clients must
/// still get answers, quickly, all the while.
#[test]
fn slowloris_does_not_lock_out_legitimate_clients() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let (stop, attacker) = trickle(
        fx.sock.clone(),
        300,
        b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"a",
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_millis(500)); // let it fill every slot
    let mut worst = Duration::ZERO;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        worst = worst.max(fx.legit_list(&token));
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = fx.login().expect("a login still works during the attack");
    fx.legit_list(&t);
    stop.store(true, Ordering::Relaxed);
    let reconnects = attacker.join().unwrap();
    eprintln!("slowloris: worst legitimate answer {worst:?}, attacker reconnects {reconnects}");
    fx.finish();
}

// ---- password guessing --------------------------------------------------------------

/// 40 wrong passwords in a row from one peer: after a few, the endpoint
/// answers 429 with `Retry-After` without checking the password, so a
/// guesser gets only a handful of checks; once the backoff has passed the
/// right password works again (the administrator is not locked out for
/// longer than the capped backoff).
#[test]
fn password_guessing_is_slowed_down() {
    let fx = Fixture::new(|_| {});
    let t0 = Instant::now();
    let (mut checked, mut throttled, mut retry_after) = (0, 0, 0u64);
    for _ in 0..40 {
        let r = fx.send(&login_request("wrong"));
        match r.status {
            401 => checked += 1,
            429 => {
                throttled += 1;
                let secs: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
                assert!((1..=5).contains(&secs), "Retry-After {secs}");
                retry_after = retry_after.max(secs);
                assert_eq!(r.json()["error_class"], "api_too_many_failed_logins_error");
            }
            s => panic!("unexpected status {s}: {r:?}"),
        }
    }
    eprintln!("40 wrong passwords in {:?}: {checked} checked, {throttled} refused", t0.elapsed());
    assert!(checked <= 5, "{checked} wrong passwords were checked in a row");
    assert!(throttled >= 35);
    // While throttled even the right password is refused unchecked...
    assert_eq!(fx.send(&login_request("secret")).status, 429);
    // ... and accepted once the backoff has passed.
    std::thread::sleep(Duration::from_secs(retry_after) + Duration::from_millis(100));
    let token = fx.login().expect("the administrator gets in after the backoff");
    fx.legit_list(&token);
    // A success forgets the failures: one wrong password is checked again.
    assert_eq!(fx.send(&login_request("wrong")).status, 401);
    fx.finish();
}

// ---- floods, smuggling, hostile bodies and query strings ---------------------------

/// One line of the table in fuzz/README.md, printed with `--nocapture`.
fn report(attack: &str, sent: &str, status: &str) {
    eprintln!(
        "ABUSE | {attack} | {sent} | {status} | VmHWM {} MiB |",
        proc_status_kib("VmHWM:") >> 10
    );
}

fn post_close(token: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n{extra_headers}\r\n"
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A request head past 64 KiB, one with thousands of headers, and 64
/// connections each sitting on 60 KiB of unfinished headers.
#[test]
fn header_floods() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let mut big = b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\n".to_vec();
    while big.len() < 200 << 10 {
        big.extend_from_slice(
            b"X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    big.extend_from_slice(b"\r\n");
    let r = fx.send(&big);
    assert_eq!(r.status, 431, "{r:?}");
    report("header flood", "one 200 KiB request head", "431");

    let mut many = b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..5000 {
        many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let r = fx.send(&many);
    assert_eq!(r.status, 431, "{r:?}");
    report("header flood", "5 000 headers in one request", "431");

    let mut held = Vec::new();
    for _ in 0..64 {
        let mut s = UnixStream::connect(&fx.sock).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(&big[..60 << 10]);
        held.push(s);
    }
    fx.legit_list(&token);
    drop(held);
    report("header flood", "64 connections x 60 KiB of unfinished headers", "legit 200");
    fx.finish();
}

/// Bodies past 4 MiB (declared, sent, and chunked), a chunk size that
/// overflows, and deeply nested JSON: refused, nothing closed.
#[test]
fn oversized_chunked_and_nested_bodies() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let five_mib = vec![b'['; 5 << 20];

    let r = fx.send(&post_close(&token, "Content-Length: 5242880\r\n", &five_mib));
    assert_eq!(r.status, 413, "{r:?}");
    report("oversized body", "5 MiB close body with Content-Length", "413");

    let mut chunked = Vec::new();
    for c in five_mib.chunks(256 << 10) {
        chunked.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        chunked.extend_from_slice(c);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = fx.send(&post_close(&token, "Transfer-Encoding: chunked\r\n", &chunked));
    assert_eq!(r.status, 413, "{r:?}");
    report("chunked body", "5 MiB close body in 256 KiB chunks", "413");

    let r = fx.send(&post_close(
        &token,
        "Transfer-Encoding: chunked\r\n",
        b"ffffffffffffffffff\r\n[]\r\n0\r\n\r\n",
    ));
    assert_eq!(r.status, 400, "{r:?}");
    report("chunked body", "chunk size 0xffffffffffffffffff", "400");

    for (what, body) in [
        ("300 000 '['", "[".repeat(300_000)),
        (
            "200 000 '[' inside an element",
            format!(r#"[{{"handle_info": {{"location": "x", "y": {}}}}}]"#, "[".repeat(200_000)),
        ),
        ("300 000 '{\"a\":'", r#"{"a":"#.repeat(300_000)),
    ] {
        let headers = format!("Content-Length: {}\r\n", body.len());
        let r = fx.send(&post_close(&token, &headers, body.as_bytes()));
        assert_eq!(r.status, 400, "{what}: {r:?}");
        assert!(r.json()["description"].as_str().unwrap().contains("JSON array"), "{r:?}");
        report("nested JSON", &format!("close body of {what}"), "400");
    }
    // Balanced, it is a valid array of one element that is not a handle:
    // skipped without recursion (no stack to overflow), answered per element.
    let balanced = "[".repeat(150_000) + &"]".repeat(150_000);
    let headers = format!("Content-Length: {}\r\n", balanced.len());
    let r = fx.send(&post_close(&token, &headers, balanced.as_bytes()));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), serde_json::json!([{"error_message": "missing location"}]));
    report("nested JSON", "close body of 150 000 '[' then 150 000 ']'", "200, missing location");
    let nested_login = "[".repeat(60_000);
    let r = fx.send(
        format!(
            "POST /v1/session/login HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{nested_login}",
            nested_login.len()
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 400, "{r:?}");
    report("nested JSON", "login body of 60 000 '['", "400");
    fx.finish();
}

/// Content-Length and Transfer-Encoding that disagree, and a request
/// hidden in a body: never a second request out of one, never a close.
#[test]
fn request_smuggling_is_refused() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let victim = fx.snapshot[0].0;
    let hidden = String::from_utf8(post_close(
        &token,
        "Content-Length: 45\r\n",
        format!(r#"[{{"handle_info":{{"location":"{victim}"}}}}]"#).as_bytes(),
    ))
    .unwrap();
    assert!(hidden.ends_with("\"}}]"));

    // CL.TE: a chunked body that ends early, with the hidden close after it.
    let body = format!("0\r\n\r\n{hidden}");
    let headers = format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", body.len());
    let mut s = UnixStream::connect(&fx.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(&post_close(&token, &headers, body.as_bytes()).replace_close());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let answers = raw.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
    let first = parse_reply(&raw).unwrap();
    assert_eq!(first.status, 400, "{first:?}");
    assert_eq!(answers, 1, "one answer only: {:?}", String::from_utf8_lossy(&raw));
    report(
        "smuggling CL.TE",
        "Content-Length and chunked, close hidden after 0-chunk",
        "400, closed",
    );

    // TE.CL and obfuscated forms.
    for (what, headers) in [
        ("two Content-Length", "Content-Length: 2\r\nContent-Length: 45\r\n".to_owned()),
        ("Content-Length list", "Content-Length: 2, 45\r\n".to_owned()),
        ("Transfer-Encoding gzip", "Transfer-Encoding: gzip\r\n".to_owned()),
        ("chunked then identity", "Transfer-Encoding: chunked, identity\r\n".to_owned()),
        ("space before colon", "Transfer-Encoding : chunked\r\n".to_owned()),
        ("negative Content-Length", "Content-Length: -1\r\n".to_owned()),
    ] {
        let mut s = UnixStream::connect(&fx.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = post_close(&token, &headers, b"[]").replace_close();
        req.extend_from_slice(hidden.as_bytes());
        let _ = s.write_all(&req);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let first = parse_reply(&raw).unwrap();
        assert_eq!(first.status, 400, "{what}: {first:?}");
        let answers = raw.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
        assert_eq!(answers, 1, "{what}: {:?}", String::from_utf8_lossy(&raw));
        report("smuggling", what, "400, closed");
    }
    fx.finish();
}

trait KeepAlive {
    /// The request with `Connection: close` taken out, so a second request
    /// on the connection would be read if the server let it through.
    fn replace_close(self) -> Vec<u8>;
}

impl KeepAlive for Vec<u8> {
    fn replace_close(self) -> Vec<u8> {
        let text = String::from_utf8(self).unwrap();
        text.replacen("Connection: close\r\n", "", 1).into_bytes()
    }
}

/// Raw non-ASCII in the request target, percent-escapes of invalid UTF-8,
/// NUL and unfinished escapes: 400 naming the parameter where one is
/// named, never a crash, nothing closed.
#[test]
fn hostile_query_strings() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let mut raw_target = b"GET /v1/smb/files/?limit=\xff\xfe HTTP/1.1\r\nHost: x\r\n".to_vec();
    raw_target.extend_from_slice(format!("Authorization: Bearer {token}\r\n\r\n").as_bytes());
    let r = fx.send(&raw_target);
    assert_eq!(r.status, 400, "{r:?}");
    report("query string", "raw bytes 0xff 0xfe in the target", "400");
    for (query, want) in [
        ("file_number=%FF%FE", 400),
        ("limit=%00", 400),
        ("limit=1%00", 400),
        ("after=%ZZ", 400),
        ("after=%", 400),
        ("resolve_paths=%C0%AF", 400),
        ("file_number=%2B1", 400),
        ("limit=%31%30", 200),
        ("%FF%FE=1&limit=2", 200),
        ("resolve_paths=%74rue", 200),
        ("a=%&b=%%%&limit=3", 200),
    ] {
        let r = fx.send(&get_request(&format!("/v1/smb/files/?{query}"), &token));
        assert_eq!(r.status, want, "{query}: {r:?}");
        if want == 200 {
            let next = r.json()["paging"]["next"].as_str().unwrap().to_owned();
            if !next.is_empty() {
                assert_eq!(fx.send(&get_request(&next, &token)).status, 200, "{next}");
            }
        }
    }
    report(
        "query string",
        "11 percent-escape forms (invalid UTF-8, NUL, bad escapes)",
        "400 / 200",
    );
    let long = format!("/v1/smb/files/?x={}", "%FF".repeat(15_000));
    let r = fx.send(&get_request(&long, &token));
    assert_eq!(r.status, 200, "{r:?}");
    report("query string", "45 KB of %FF in an unknown parameter", "200");
    fx.finish();
}

/// 500 connections at once, each with an authenticated listing: every one
/// is answered or closed (none hangs), most are answered, and the server
/// answers normally afterwards.
#[test]
fn burst_of_500_connections() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let req = get_request("/v1/smb/files/?limit=1", &token);
    let t0 = Instant::now();
    let conns: Vec<UnixStream> = (0..500)
        .filter_map(|_| {
            let mut s = UnixStream::connect(&fx.sock).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = s.write_all(&req);
            Some(s)
        })
        .collect();
    assert_eq!(conns.len(), 500, "the listen backlog takes the burst");
    let (mut answered, mut closed) = (0, 0);
    for mut s in conns {
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        match parse_reply(&raw) {
            Ok(r) => {
                assert_eq!(r.status, 200, "{r:?}");
                answered += 1;
            }
            Err(_) => closed += 1,
        }
    }
    let took = t0.elapsed();
    eprintln!("burst: {answered} answered, {closed} closed in {took:?}");
    assert!(answered >= 64, "only {answered} of 500 answered");
    assert!(took < Duration::from_secs(30));
    report(
        "burst",
        "500 connections at once, each an authenticated GET",
        &format!("200 x {answered}, closed x {closed}"),
    );
    fx.finish();
}

/// Slow bodies: 200 connections each sending a login request whose body
/// trickles in a byte at a time (unauthenticated work): legitimate
/// clients are still answered, and the slow ones are shed or time out.
#[test]
fn slow_login_bodies_do_not_hold_the_slots() {
    let fx = Fixture::new(|_| {});
    let token = fx.login().unwrap();
    let (stop, attacker) = trickle(
        fx.sock.clone(),
        200,
        b"POST /v1/session/login HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{",
        b" ",
        Duration::from_secs(15),
    );
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let mut worst = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(3) {
        worst = worst.max(fx.legit_list(&token));
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let reconnects = attacker.join().unwrap();
    eprintln!("slow bodies: worst legitimate answer {worst:?}, attacker reconnects {reconnects}");
    report(
        "slow bodies",
        "200 login requests, body 1 byte / 100 ms, reconnecting",
        &format!("legit 200, worst {worst:?}"),
    );
    fx.finish();
}

/// A large answer to an authenticated client that reads it slowly is still
/// authenticated work while it is being written: new connections at the
/// cap must not shed it (they used to, once the route had returned, cutting
/// the answer off mid-body).
#[test]
fn an_answer_being_written_is_not_shed_at_the_cap() {
    let mut fx = Fixture::new(|l| l.max_connections = 2);
    let long = "d".repeat(1000);
    for i in 0..5_000u64 {
        fx.table.open(spec(10_000 + i, &format!("/{long}/{i}"))).unwrap();
    }
    fx.snapshot = snapshot(&fx.table);
    let token = fx.login().unwrap();
    let mut slow = UnixStream::connect(&fx.sock).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow.write_all(&get_request("/v1/smb/files/?limit=10000&resolve_paths=true", &token)).unwrap();
    // Read the head and a little of the body, then let the answer back up.
    let mut first = vec![0u8; 4096];
    let n = slow.read(&mut first).unwrap();
    first.truncate(n);
    std::thread::sleep(Duration::from_millis(300));
    // Two more connections at a cap of 2: one of the others must be shed.
    let newcomers: Vec<UnixStream> =
        (0..2).map(|_| UnixStream::connect(&fx.sock).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut raw = first;
    let _ = slow.read_to_end(&mut raw);
    drop(newcomers);
    let reply = parse_reply(&raw).unwrap();
    assert_eq!(reply.status, 200);
    let declared: usize = reply
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("content-length");
    assert!(declared > 5_000_000, "the answer is large: {declared} bytes");
    assert_eq!(reply.body.len(), declared, "the answer was cut off");
    report(
        "slow reader at the cap",
        "authenticated 5.7 MB listing read slowly, 2 new connections at a cap of 2",
        "200, whole body delivered",
    );
    fx.finish();
}
