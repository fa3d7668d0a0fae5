//! The table itself: `smbh_table_new` (with its configuration),
//! `smbh_table_free` and `smbh_len`.

use crate::{Config, HandleTable};

use super::panic::ffi_boundary;
use super::ptr::{check_ptr, table_ref, tri};
use super::status::smbh_status;

/// An opaque table of open SMB file handles. Made by smbh_table_new, freed
/// by smbh_table_free; every other function may be called on one table from
/// any number of threads at once.
#[derive(Debug)]
pub struct smbh_table {
    pub(super) inner: HandleTable,
}

/// Makes a table and writes it to `*table_out`.
///
/// `shards`: the number of shards (locks), 1 to 256; 0 picks a size for this
/// machine. `max_handles`: the most handles open at once (smbh_open then
/// fails with SMBH_STATUS_TABLE_FULL), at most 16777216 (one shard's slots:
/// a file's handles all live in one shard); 0 means 16777216.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER when `table_out` is NULL,
/// SMBH_STATUS_INVALID_ARGUMENT when `shards` is above 256 or `max_handles`
/// above 16777216.
///
/// Ownership: the caller owns the table and frees it with smbh_table_free.
///
/// # Safety
///
/// `table_out` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn smbh_table_new(
    shards: usize,
    max_handles: usize,
    table_out: *mut *mut smbh_table,
) -> smbh_status {
    ffi_boundary! {
        tri!(check_ptr(table_out));
        let config = tri!(config_of(shards, max_handles));
        // SAFETY: `table_out` is non-NULL and aligned (checked), writable by
        // the caller's promise.
        unsafe { hand_out(HandleTable::with_config(config), table_out) };
        smbh_status::Ok
    }
}

/// The configuration smbh_table_new's `shards` and `max_handles` ask for
/// (0: the default), checked.
pub(super) fn config_of(shards: usize, max_handles: usize) -> Result<Config, smbh_status> {
    let mut config = Config::default();
    if shards != 0 {
        config = config.shards(shards);
    }
    if max_handles != 0 {
        config = config.max_handles(max_handles);
    }
    config.validate().map_err(smbh_status::from)?;
    Ok(config)
}

/// Boxes `inner` as an `smbh_table` and writes it to `*table_out`.
///
/// # Safety
///
/// `table_out` is non-NULL, aligned and writable.
pub(super) unsafe fn hand_out(inner: HandleTable, table_out: *mut *mut smbh_table) {
    let table = Box::into_raw(Box::new(smbh_table { inner }));
    // SAFETY: the caller's promise.
    unsafe { table_out.write(table) };
}

/// Frees a table made by smbh_table_new, with every handle still in it.
/// NULL is a no-op. No other call may use the table during or after this
/// one.
///
/// # Safety
///
/// `table` is NULL or a pointer from smbh_table_new that has not been freed
/// and that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn smbh_table_free(table: *mut smbh_table) {
    ffi_boundary! {
        if !table.is_null() {
            // SAFETY: `table` came from `Box::into_raw` in `smbh_table_new`
            // and is freed once, with no other user (the caller's promise).
            drop(unsafe { Box::from_raw(table) });
        }
    }
}

/// Writes the number of open handles to `*len_out`.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// `table` is NULL or live; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_len(table: *const smbh_table, len_out: *mut usize) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(len_out));
        // SAFETY: `len_out` is non-NULL and aligned (checked), writable by
        // the caller's promise.
        unsafe { len_out.write(table.len()) };
        smbh_status::Ok
    }
}
