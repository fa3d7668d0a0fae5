//! A table whose persistent handles are kept in the embedded store
//! (feature `store`): `smbh_store_table_new` opens (or creates) a SQLite
//! store and recovers what it holds, as `HandleTable::with_store` does.

use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::store::SqliteStore;
use crate::HandleTable;

use super::panic::ffi_boundary;
use super::ptr::{check_ptr, tri};
use super::status::smbh_status;
use super::table::{config_of, hand_out, smbh_table};

/// What smbh_store_table_new found in the store.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct smbh_recovered {
    /// Persistent opens restored, each disconnected at its location and
    /// waiting for its client's reconnect (or its deadline).
    pub restored: usize,
    /// Records the store could not read (damaged); they are not restored.
    pub damaged: usize,
    /// Records read but not restored (a share or lock conflict with an
    /// open restored before it, a location or a size the table cannot hold).
    pub refused: usize,
}

/// The longest store path accepted, in bytes.
const MAX_STORE_PATH: usize = 4096;

/// Makes a table over the SQLite store at `path` (`path_len` bytes, not
/// necessarily NUL-terminated; created when absent) and writes it to
/// `*table_out`: every persistent open the store holds is restored,
/// disconnected, at its location, and from then on every persistent open,
/// lock change, reconnect and close is in the store before it is answered
/// (one sync shared by concurrent callers). Durable requests with the
/// persistent flag are granted persistence on this table only. `shards`
/// and `max_handles` as smbh_table_new. What was recovered is written to
/// `*recovered_out` when it is not NULL.
///
/// Only in a library built with the `store` feature (`cargo build
/// --features store`; not in the default build).
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`path` or `table_out` NULL),
/// SMBH_STATUS_INVALID_ARGUMENT (`shards`, `max_handles`, or a path longer
/// than 4096 bytes or containing NUL), SMBH_STATUS_STORE_FAILED (the store
/// cannot be opened or read: not a store, a file cut short, no access).
///
/// Ownership: the caller owns the table and frees it with smbh_table_free
/// (which waits for the store's outstanding commit).
///
/// # Safety
///
/// `path` is NULL or readable for `path_len` bytes; `table_out` is NULL or
/// valid for writing one pointer; `recovered_out` is NULL or valid for
/// writing one `smbh_recovered`.
#[no_mangle]
pub unsafe extern "C" fn smbh_store_table_new(
    path: *const c_char,
    path_len: usize,
    shards: usize,
    max_handles: usize,
    recovered_out: *mut smbh_recovered,
    table_out: *mut *mut smbh_table,
) -> smbh_status {
    ffi_boundary! {
        tri!(check_ptr(path));
        tri!(check_ptr(table_out));
        if path_len > MAX_STORE_PATH {
            return smbh_status::InvalidArgument;
        }
        // SAFETY: `path` is non-NULL (checked) and readable for `path_len`
        // bytes (the caller's promise); `path_len` is small (checked).
        let bytes = unsafe { std::slice::from_raw_parts(path.cast::<u8>(), path_len) };
        if bytes.is_empty() || bytes.contains(&0) {
            return smbh_status::InvalidArgument;
        }
        let config = tri!(config_of(shards, max_handles));
        let store = match SqliteStore::open(std::ffi::OsStr::from_bytes(bytes)) {
            Ok(s) => s,
            Err(_) => return smbh_status::StoreFailed,
        };
        let (inner, recovered) = match HandleTable::with_store(config, Arc::new(store)) {
            Ok(r) => r,
            Err(_) => return smbh_status::StoreFailed,
        };
        if !recovered_out.is_null() {
            tri!(check_ptr(recovered_out));
            let r = smbh_recovered {
                restored: recovered.restored,
                damaged: recovered.damaged.len(),
                refused: recovered.refused.len(),
            };
            // SAFETY: non-NULL and aligned (checked), writable by the
            // caller's promise.
            unsafe { recovered_out.write(r) };
        }
        // SAFETY: `table_out` is non-NULL and aligned (checked), writable by
        // the caller's promise.
        unsafe { hand_out(inner, table_out) };
        smbh_status::Ok
    }
}
