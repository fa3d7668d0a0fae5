//! `admin::Harness`: the endpoint answers bytes in memory exactly as over a
//! connection (the fuzz target `admin_request` relies on it).
#![cfg(feature = "admin")]

use std::sync::Arc;

use smb_handles::admin::{AdminConfig, Credentials, Harness};
use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec};

const CHEAP_HASH: &str =
    "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";

/// An authenticated `GET target` through the harness: the answer as text.
fn get(h: &Harness, target: &str) -> String {
    let token = h.token();
    let raw = h.exchange(
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n")
            .as_bytes(),
    );
    String::from_utf8_lossy(&raw).into_owned()
}

/// The only place this file builds an `OpenSpec`.
fn spec(file: u64, path: &str) -> OpenSpec {
    OpenSpec::new(FileNumber(file), path, "S-1-5-21-1-2-3-1104", AccessMask::FILE_READ_DATA)
}

#[test]
fn answers_list_close_login_and_garbage_in_memory() {
    let table = Arc::new(HandleTable::new());
    let loc = table.open(spec(7, "/a")).unwrap();
    table.open(spec(8, "/b")).unwrap();
    let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
    let h = Harness::new(table.clone(), AdminConfig::new(creds)).unwrap();
    let token = h.token();

    let text = get(&h, "/v1/smb/files/?limit=1");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    assert!(text.contains("after="), "a next page: {text:?}");

    // Two pipelined requests on one connection: two answers.
    let two = h.exchange(
        format!(
            "GET /v1/smb/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .as_bytes(),
    );
    let text = String::from_utf8_lossy(&two);
    assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{text:?}");
    assert!(text.contains("HTTP/1.1 401"), "{text:?}");

    let body = format!(r#"[{{"handle_info": {{"location": "{loc}"}}}}]"#);
    let close = h.exchange(
        format!(
            "POST /v1/smb/files/close HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert!(String::from_utf8_lossy(&close).ends_with(r#"[{"error_message":""}]"#));
    assert_eq!(table.len(), 1);

    let login = br#"{"username": "admin", "password": "secret"}"#;
    let mut req = format!(
        "POST /v1/session/login HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        login.len()
    )
    .into_bytes();
    req.extend_from_slice(login);
    let text = String::from_utf8(h.exchange(&req)).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("bearer_token"), "{text:?}");

    let garbage = String::from_utf8(h.exchange(b"\x00\x01 not http\r\n\r\n")).unwrap();
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
    assert_eq!(table.len(), 1);
}

/// "Never" as a limit: `Duration::MAX` for the timeouts and the lifetime
/// must not overflow into a panic in every connection.
#[test]
fn unbounded_time_limits_still_answer() {
    let table = Arc::new(HandleTable::new());
    table.open(spec(7, "/a")).unwrap();
    let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
    let mut limits = smb_handles::admin::Limits::default();
    limits.connection_lifetime = std::time::Duration::MAX;
    limits.header_timeout = std::time::Duration::MAX;
    limits.request_timeout = std::time::Duration::MAX;
    let h = Harness::new(table, AdminConfig::new(creds).limits(limits)).unwrap();
    let text = get(&h, "/v1/smb/files/");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    assert!(text.contains(r#""file_number":"7""#), "{text:?}");
}
