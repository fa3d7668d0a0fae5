//! Closing handles: `smbh_close`, `smbh_close_batch`, and
//! `smbh_close_batch_json` (the body of `POST /v1/smb/files/close`).

use std::ffi::c_char;
use std::ptr;

use crate::table::QuietClose;
use crate::Location;

use super::panic::ffi_boundary;
use super::ptr::{array_in, check_ptr, location_in, table_ref, tri};
use super::status::smbh_status;
use super::strings::{into_owned, str_in};
use super::table::smbh_table;

/// The largest body smbh_close_batch_json accepts, in bytes (4 MiB).
pub const SMBH_MAX_REQUEST_BYTES: usize = 4194304;

// cbindgen copies literals, not paths: keep the C constant equal to the
// crate's own.
const _: () = assert!(SMBH_MAX_REQUEST_BYTES == crate::MAX_REQUEST_BYTES);

/// Closes one handle. Of any number of concurrent closes of one location
/// exactly one returns SMBH_STATUS_OK.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_LOCATION (0 or
/// UINT64_MAX), SMBH_STATUS_NOT_FOUND (already closed, stale or foreign).
///
/// # Safety
///
/// `table` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn smbh_close(table: *const smbh_table, location: u64) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let loc = tri!(location_in(location));
        match table.close_as::<QuietClose>(loc) {
            Ok(_) => smbh_status::Ok,
            Err(e) => e.into(),
        }
    }
}

/// smbh_close that also says whether the server must now delete the file:
/// `*delete_file_out` is set to true when this close was the file's last and
/// the file was delete-pending (or this handle was opened with
/// delete-on-close), false otherwise. Statuses as smbh_close; on an error
/// `*delete_file_out` is not written.
///
/// # Safety
///
/// `table` is NULL or live; `delete_file_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_close_ex(
    table: *const smbh_table,
    location: u64,
    delete_file_out: *mut bool,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(delete_file_out));
        let loc = tri!(location_in(location));
        match table.close_as::<QuietClose>(loc) {
            Ok(closed) => {
                // SAFETY: non-NULL and aligned (checked), writable by the
                // caller's promise.
                unsafe { delete_file_out.write(closed.delete_file) };
                smbh_status::Ok
            }
            Err(e) => e.into(),
        }
    }
}

/// Sets (`delete_pending` true) or clears the file's delete-pending state
/// through the handle at `location`, as SMB2 SET_INFO with
/// FileDispositionInformation does: while it is set, every new open of the
/// file fails with SMBH_STATUS_DELETE_PENDING, and the close of its last
/// open reports that the file must be deleted (smbh_close_ex).
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_LOCATION,
/// SMBH_STATUS_NOT_FOUND, SMBH_STATUS_ACCESS_DENIED (the handle has no
/// DELETE access; nothing changes).
///
/// # Safety
///
/// `table` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn smbh_set_delete_pending(
    table: *const smbh_table,
    location: u64,
    delete_pending: bool,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let loc = tri!(location_in(location));
        match table.set_delete_pending(loc, delete_pending) {
            Ok(()) => smbh_status::Ok,
            Err(e) => e.into(),
        }
    }
}

/// Closes `count` handles and writes one status per location to
/// `statuses_out[0..count]`, in input order: SMBH_STATUS_OK,
/// SMBH_STATUS_NOT_FOUND (closed, stale, foreign, or a repeat of a location
/// earlier in the same batch) or SMBH_STATUS_INVALID_LOCATION (0 or
/// UINT64_MAX). Handles close independently; `count` may be 0.
///
/// Returns SMBH_STATUS_OK when the batch ran (look at `statuses_out`), or
/// SMBH_STATUS_NULL_PARAMETER (`table`, `locations` or `statuses_out` NULL,
/// even when `count` is 0) or SMBH_STATUS_INVALID_ARGUMENT (a misaligned
/// array, or `count` too large for memory); then nothing was closed or
/// written.
///
/// # Safety
///
/// `table` is NULL or live; `locations` is NULL or readable for `count`
/// values; `statuses_out` is NULL or writable for `count` values.
#[no_mangle]
pub unsafe extern "C" fn smbh_close_batch(
    table: *const smbh_table,
    locations: *const u64,
    count: usize,
    statuses_out: *mut smbh_status,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(locations));
        tri!(check_ptr(statuses_out));
        // Copy the input out first: the two arrays may even overlap, and no
        // slice of one is alive while the other is written.
        // SAFETY: the caller's promise on `locations`.
        let requested: Vec<Result<Location, smbh_status>> =
            tri!(unsafe { array_in(locations, count) }).iter().map(|&raw| location_in(raw)).collect();
        let statuses: Vec<smbh_status> = table
            .close_requested::<QuietClose, _>(requested)
            .into_iter()
            .map(|closed| closed.err().unwrap_or(smbh_status::Ok))
            .collect();
        // SAFETY: `statuses_out` is non-NULL and aligned (checked) and
        // writable for `count` values (the caller's promise); `statuses` has
        // exactly `count` elements and is a separate allocation.
        unsafe { ptr::copy_nonoverlapping(statuses.as_ptr(), statuses_out, count) };
        smbh_status::Ok
    }
}

/// Answers `POST /v1/smb/files/close`: takes its request body (`body_len`
/// bytes of UTF-8 JSON, a JSON array of file handles as listed; only
/// `handle_info.location` is read) and writes the response body, one
/// `{"error_message": "..."}` per element in order (`""` on success, else
/// `handle not found`, `invalid location` or `missing location`), as an
/// owned, NUL-terminated string to `*response_out` and its length to
/// `*response_len_out`. Free it with smbh_string_free.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_INVALID_REQUEST (not a JSON array, larger than
/// SMBH_MAX_REQUEST_BYTES, or more than 100000 elements: nothing closed).
///
/// # Safety
///
/// `table` is NULL or live; `body` is NULL or readable for `body_len` bytes
/// (when `body_len` is within SMBH_MAX_REQUEST_BYTES); the out pointers are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_close_batch_json(
    table: *const smbh_table,
    body: *const c_char,
    body_len: usize,
    response_out: *mut *mut c_char,
    response_len_out: *mut usize,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(response_out));
        tri!(check_ptr(response_len_out));
        // SAFETY: the caller's promise on `body`.
        let body = tri!(unsafe {
            str_in(body, body_len, SMBH_MAX_REQUEST_BYTES, smbh_status::InvalidRequest)
        });
        let response = tri!(table.close_batch_json(body.as_bytes()).map_err(smbh_status::from));
        let (text, len) = into_owned(&response);
        // SAFETY: both out pointers are non-NULL and aligned (checked) and
        // writable by the caller's promise.
        unsafe {
            response_out.write(text);
            response_len_out.write(len);
        }
        smbh_status::Ok
    }
}
