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

use serde_json::Value;
use smb_handles::admin::{self, AdminConfig, AdminServer, Credentials, Limits};
use smb_handles::{AccessMask, FileNumber, HandleTable, ListQuery, Location, OpenSpec};

/// Argon2id of "secret" with tiny parameters (m=64 KiB, t=1).
const CHEAP_HASH: &str =
    "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";

/// How much this process's RSS may grow across one attack.
const RSS_GROWTH_LIMIT_KIB: u64 = 64 << 10;

/// Longest a legitimate client may wait for an answer while an attack runs.
const LEGIT_DEADLINE: Duration = Duration::from_secs(3);

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The only place this file builds an `OpenSpec`.
fn spec(file: u64, path: &str) -> OpenSpec {
    OpenSpec {
        file_number: FileNumber(file),
        path: path.into(),
        owner: "S-1-5-21-1-2-3-1104".into(),
        access_mask: AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE,
        directory: false,
    }
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
        assert!(growth < RSS_GROWTH_LIMIT_KIB, "RSS grew by {growth} KiB");
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

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body))
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
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
    let sock = fx.sock.clone();
    let (stop, attacker) = in_background(move |stop| {
        let open = || -> Option<UnixStream> {
            let mut s = UnixStream::connect(&sock).ok()?;
            s.set_write_timeout(Some(Duration::from_millis(200))).ok()?;
            s.write_all(b"GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\nX-Slow: ").ok()?;
            Some(s)
        };
        let mut conns: Vec<Option<UnixStream>> = (0..300).map(|_| open()).collect();
        let mut reconnects = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            for c in conns.iter_mut() {
                let alive = c.as_mut().is_some_and(|s| s.write_all(b"a").is_ok());
                if !alive && reconnects < 20_000 {
                    reconnects += 1;
                    *c = open();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        reconnects
    });
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
