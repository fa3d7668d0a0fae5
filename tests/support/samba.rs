//! What the differential tests against real Samba (tests/samba_diff.rs,
//! tests/samba_leases.rs) share: NTSTATUS names, running
//! scripts/samba-record.sh (a failure FAILS the test with the script's
//! stderr: it never skips), reading a recording, and `nt!`, a table
//! result as the NTSTATUS an SMB2 server answers.

#![allow(dead_code)] // each user needs a different part

use std::path::Path;
use std::process::Command;

use serde::de::DeserializeOwned;

pub const STATUS_SUCCESS: u32 = 0;
pub const STATUS_UNSUCCESSFUL: u32 = 0xC000_0001;
pub const STATUS_INVALID_INFO_CLASS: u32 = 0xC000_0003;
pub const STATUS_INVALID_PARAMETER: u32 = 0xC000_000D;
pub const STATUS_INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
pub const STATUS_OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
pub const STATUS_OBJECT_NAME_COLLISION: u32 = 0xC000_0035;
pub const STATUS_SHARING_VIOLATION: u32 = 0xC000_0043;
pub const STATUS_FILE_LOCK_CONFLICT: u32 = 0xC000_0054;
pub const STATUS_LOCK_NOT_GRANTED: u32 = 0xC000_0055;
pub const STATUS_DELETE_PENDING: u32 = 0xC000_0056;
pub const STATUS_RANGE_NOT_LOCKED: u32 = 0xC000_007E;
pub const STATUS_FILE_IS_A_DIRECTORY: u32 = 0xC000_00BA;
pub const STATUS_REQUEST_NOT_ACCEPTED: u32 = 0xC000_00D0;
pub const STATUS_INVALID_OPLOCK_PROTOCOL: u32 = 0xC000_00E3;
pub const STATUS_NETWORK_NAME_DELETED: u32 = 0xC000_00C9;
pub const STATUS_DIRECTORY_NOT_EMPTY: u32 = 0xC000_0101;
pub const STATUS_NOT_A_DIRECTORY: u32 = 0xC000_0103;
pub const STATUS_CANNOT_DELETE: u32 = 0xC000_0121;
pub const STATUS_FILE_CLOSED: u32 = 0xC000_0128;
pub const STATUS_INVALID_LOCK_RANGE: u32 = 0xC000_01A1;
pub const STATUS_USER_SESSION_DELETED: u32 = 0xC000_0203;
pub const STATUS_DUPLICATE_OBJECTID: u32 = 0xC000_022A;

const NAMES: &[(u32, &str)] = &[
    (STATUS_SUCCESS, "SUCCESS"),
    (STATUS_UNSUCCESSFUL, "UNSUCCESSFUL"),
    (STATUS_INVALID_INFO_CLASS, "INVALID_INFO_CLASS"),
    (STATUS_INVALID_PARAMETER, "INVALID_PARAMETER"),
    (STATUS_INVALID_DEVICE_REQUEST, "INVALID_DEVICE_REQUEST"),
    (STATUS_ACCESS_DENIED, "ACCESS_DENIED"),
    (STATUS_OBJECT_NAME_NOT_FOUND, "OBJECT_NAME_NOT_FOUND"),
    (STATUS_OBJECT_NAME_COLLISION, "OBJECT_NAME_COLLISION"),
    (STATUS_SHARING_VIOLATION, "SHARING_VIOLATION"),
    (STATUS_FILE_LOCK_CONFLICT, "FILE_LOCK_CONFLICT"),
    (STATUS_LOCK_NOT_GRANTED, "LOCK_NOT_GRANTED"),
    (STATUS_DELETE_PENDING, "DELETE_PENDING"),
    (STATUS_RANGE_NOT_LOCKED, "RANGE_NOT_LOCKED"),
    (STATUS_FILE_IS_A_DIRECTORY, "FILE_IS_A_DIRECTORY"),
    (STATUS_REQUEST_NOT_ACCEPTED, "REQUEST_NOT_ACCEPTED"),
    (STATUS_INVALID_OPLOCK_PROTOCOL, "INVALID_OPLOCK_PROTOCOL"),
    (STATUS_NETWORK_NAME_DELETED, "NETWORK_NAME_DELETED"),
    (STATUS_DIRECTORY_NOT_EMPTY, "DIRECTORY_NOT_EMPTY"),
    (STATUS_NOT_A_DIRECTORY, "NOT_A_DIRECTORY"),
    (STATUS_CANNOT_DELETE, "CANNOT_DELETE"),
    (STATUS_FILE_CLOSED, "FILE_CLOSED"),
    (STATUS_INVALID_LOCK_RANGE, "INVALID_LOCK_RANGE"),
    (STATUS_USER_SESSION_DELETED, "USER_SESSION_DELETED"),
    (STATUS_DUPLICATE_OBJECTID, "DUPLICATE_OBJECTID"),
];

/// The status's name without `STATUS_`, or its hex value.
pub fn status_name(st: u32) -> String {
    NAMES
        .iter()
        .find(|(v, _)| *v == st)
        .map_or_else(|| format!("0x{st:08X}"), |(_, name)| (*name).to_string())
}

/// A table call's result as the NTSTATUS the server answers: 0 on success,
/// the error's `nt_status()` otherwise (`#[macro_use]` on the module).
macro_rules! nt {
    ($result:expr) => {
        match $result {
            Ok(_) => $crate::samba::STATUS_SUCCESS,
            Err(e) => e.nt_status(),
        }
    };
}

/// Runs `bash scripts/samba-record.sh ARGS...` from the crate root and
/// returns its stderr (its progress). When the script fails (Samba cannot
/// be installed, smbd does not start, not root and no sudo, a recorder
/// error) the test FAILS with the script's stderr: a differential test
/// that cannot reach smbd never skips.
pub fn run_recorder(args: &[&std::ffi::OsStr]) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let result = Command::new("bash")
        .arg(format!("{root}/scripts/samba-record.sh"))
        .args(args)
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash scripts/samba-record.sh: {e}"));
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    if !result.status.success() {
        panic!(
            "scripts/samba-record.sh {args:?} failed ({}), so the differential test against Samba \
             cannot run. It must: install Samba (Debian package samba, as root) and rerun.\n\
             --- its stderr ---\n{stderr}",
            result.status
        );
    }
    stderr
}

/// Reads a recording, whose `format` must be 1.
pub fn load<T: DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    assert_eq!(format, Some(1), "{}: unknown recording format {format:?}", path.display());
    serde_json::from_value(value)
        .unwrap_or_else(|e| panic!("{} is not a recording: {e}", path.display()))
}
