//! The admin endpoint's request and query-string parsing, through
//! `admin::Harness` (the real HTTP/1.1 parser, routes and limits, no
//! socket). The first byte picks how the rest is sent:
//!
//! * 0: as raw bytes (any number of requests, or garbage); the text `TOKEN`
//!   is replaced by a valid bearer token;
//! * 1: as the query string of an authorized `GET /v1/smb/files/`;
//! * 2: as the body of an authorized `POST /v1/smb/files/close`;
//! * 3: as the body of `POST /v1/session/login`.
//!
//! Checks: no panic, no hang, an answer to every request built by modes
//! 1-3, every answer starts with a status line, never
//! a 500, and a request that is not an authorized close leaves the table
//! as it was.
#![no_main]

mod common;

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use smb_handles::admin::{AdminConfig, Credentials, Harness};
use smb_handles::HandleTable;

/// Argon2id of "secret" with tiny parameters, so logins are cheap.
const CHEAP_HASH: &str =
    "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";

struct Fixture {
    table: Arc<HandleTable>,
    harness: Harness,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let table = Arc::new(common::small_table(64));
        let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
        let harness = Harness::new(table.clone(), AdminConfig::new(creds)).unwrap();
        let token = harness.token();
        Fixture { table, harness, token }
    })
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    // The same handles before every input.
    if f.table.len() != 8 {
        let all = f.table.list(&Default::default()).unwrap();
        let locs: Vec<_> = all.file_handles.iter().map(|h| h.handle_info.location).collect();
        f.table.close_batch(&locs);
        common::fill(&f.table, 8);
    }
    let auth = format!("Authorization: Bearer {}\r\n", f.token);
    let (request, may_close) = match mode % 4 {
        0 => {
            let raw = replace(rest, b"TOKEN", f.token.as_bytes());
            let may = raw.windows(f.token.len()).any(|w| w == f.token.as_bytes());
            (raw, may)
        }
        1 => {
            let mut r = b"GET /v1/smb/files/?".to_vec();
            r.extend_from_slice(rest);
            r.extend_from_slice(format!(" HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes());
            (r, false)
        }
        2 => {
            let head = format!(
                "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n",
                rest.len()
            );
            ([head.as_bytes(), rest].concat(), true)
        }
        _ => {
            let head = format!(
                "POST /v1/session/login HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                rest.len()
            );
            ([head.as_bytes(), rest].concat(), false)
        }
    };
    let before = f.table.len();
    let answer = f.harness.exchange(&request);
    // A request the target built itself is always answered.
    assert!(mode % 4 == 0 || !answer.is_empty(), "no answer to a built request");
    if !answer.is_empty() {
        // HTTP/1.0 requests are answered in HTTP/1.0.
        assert!(
            answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert!(
        !answer.windows(13).any(|w| w == b"HTTP/1.1 500 " || w == b"HTTP/1.0 500 "),
        "an internal error: {:?}",
        String::from_utf8_lossy(&answer)
    );
    if !may_close {
        assert_eq!(f.table.len(), before, "the table changed");
    }
});
