//! Reading the table: `smbh_get`, `smbh_list` (a page through a visitor),
//! `smbh_list_json` (a page as Qumulo's JSON) and `smbh_cursor_parse`, with
//! the C view of a handle (`smbh_handle`) and of a query.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use crate::paging::Cursor;
use crate::{FileHandle, FileNumber, HandleTable, ListQuery};

use super::panic::ffi_boundary;
use super::ptr::{check_ptr, location_in, table_ref, tri};
use super::status::smbh_status;
use super::strings::{into_owned, str_in};
use super::table::smbh_table;

/// The `after` cursor that starts a listing at the beginning.
pub const SMBH_CURSOR_START: u64 = 0;
/// The `next` cursor of the last page: the walk is done.
pub const SMBH_CURSOR_DONE: u64 = 0xFFFF_FFFF_FFFF_FFFF;
/// The page size to use when in doubt.
pub const SMBH_DEFAULT_LIST_LIMIT: usize = 1000;
/// The largest page; larger limits are lowered to it.
pub const SMBH_MAX_LIST_LIMIT: usize = 10000;

// cbindgen copies literals, not paths: keep the C constants equal to the
// crate's own.
const _: () = {
    assert!(SMBH_DEFAULT_LIST_LIMIT == crate::DEFAULT_LIST_LIMIT);
    assert!(SMBH_MAX_LIST_LIMIT == crate::MAX_LIST_LIMIT);
    assert!(SMBH_CURSOR_DONE == u64::MAX);
};

/// One open handle, as smbh_get and smbh_list hand it to their visitor.
///
/// `owner` and `path` are borrowed: valid only until the visitor returns,
/// and not NUL-terminated (use `owner_len` and `path_len`, for example with
/// `printf("%.*s", (int)h->owner_len, h->owner)`). Copy what you keep.
#[repr(C)]
#[derive(Debug)]
pub struct smbh_handle {
    /// The file (inode) the handle is open on.
    pub file_number: u64,
    /// The handle's location (its id).
    pub location: u64,
    /// 1 at open; +1 on every change to the record.
    pub version: u64,
    /// Byte-range locks currently held through this handle.
    pub num_byte_range_locks: u32,
    /// Granted access: MS-DTYP ACCESS_MASK bits.
    pub access_mask: u32,
    /// The opener's identity (UTF-8, `owner_len` bytes; never NULL).
    pub owner: *const c_char,
    /// Length of `owner` in bytes.
    pub owner_len: usize,
    /// The file's path (UTF-8, `path_len` bytes), or NULL when the listing
    /// did not resolve paths.
    pub path: *const c_char,
    /// Length of `path` in bytes (0 when `path` is NULL).
    pub path_len: usize,
    /// True for a directory handle.
    pub directory: bool,
    /// True when the handle was opened with delete-on-close.
    pub delete_on_close: bool,
    /// True when the file is delete-pending (new opens are refused).
    pub delete_pending: bool,
    /// True for a durable handle (see smbh_open_params.durable).
    pub durable: bool,
    /// True for a durable handle kept after its connection dropped
    /// (smbh_disconnect), waiting for smbh_reconnect until its timeout.
    pub disconnected: bool,
}

/// A visitor: called once per handle with `userdata` as given and a record
/// borrowed for the duration of the call (see smbh_handle). No table lock is
/// held while it runs, so it may call any smbh_ function, including closing
/// the handle it is shown. Return 0 to go on, non-zero to stop. It must
/// return normally (no longjmp, no C++ exception).
pub type smbh_visitor =
    Option<unsafe extern "C" fn(userdata: *mut c_void, handle: *const smbh_handle) -> c_int>;

/// What smbh_list and smbh_list_json list.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_list_query {
    /// Where to start: SMBH_CURSOR_START, or the `next` cursor of the
    /// previous page. SMBH_CURSOR_DONE gives an empty, final page.
    pub after: u64,
    /// Page size: 1 to SMBH_MAX_LIST_LIMIT (larger values are lowered to
    /// it); 0 is SMBH_STATUS_INVALID_ARGUMENT.
    pub limit: usize,
    /// When true, list only the handles of `file_number` (a one-shard query
    /// whose cost follows that file's handle count).
    pub by_file: bool,
    /// The file to list when `by_file` is true; ignored otherwise.
    pub file_number: u64,
    /// When true, include each handle's path.
    pub resolve_paths: bool,
}

/// The C form of a cursor: shard in the high 32 bits, slot in the low.
fn cursor_to_u64(next: Option<Cursor>) -> u64 {
    match next {
        Some(c) => (u64::from(c.shard) << 32) | u64::from(c.slot),
        None => SMBH_CURSOR_DONE,
    }
}

/// The cursor that resumes a walk right after `handle`.
fn cursor_after(handle: &FileHandle) -> Cursor {
    let loc = handle.handle_info.location;
    Cursor { shard: loc.shard() as u32, slot: loc.slot() + 1 }
}

/// Runs a C query: `Ok(None)` is the empty final page of SMBH_CURSOR_DONE.
fn run_list(table: &HandleTable, q: &smbh_list_query) -> Result<Option<crate::Page>, smbh_status> {
    if q.limit == 0 {
        return Err(smbh_status::InvalidArgument);
    }
    let after = match q.after {
        SMBH_CURSOR_START => None,
        SMBH_CURSOR_DONE => return Ok(None),
        v => Some(Cursor { shard: (v >> 32) as u32, slot: v as u32 }),
    };
    let query = ListQuery {
        file_number: q.by_file.then_some(FileNumber(q.file_number)),
        resolve_paths: q.resolve_paths,
        limit: Some(q.limit),
        after,
    };
    Ok(Some(table.list(&query)?))
}

/// Calls `visit` with a borrowed C view of `h`.
///
/// # Safety
///
/// `visit` must be safe to call with `userdata`.
pub(crate) unsafe fn visit_one(
    visit: unsafe extern "C" fn(*mut c_void, *const smbh_handle) -> c_int,
    userdata: *mut c_void,
    h: &FileHandle,
) -> c_int {
    let info = &h.handle_info;
    let (path, path_len) = match &info.path {
        Some(p) => (p.as_ptr().cast::<c_char>(), p.len()),
        None => (ptr::null(), 0),
    };
    let view = smbh_handle {
        file_number: h.file_number.0,
        location: info.location.0,
        version: info.version,
        num_byte_range_locks: info.num_byte_range_locks,
        access_mask: info.access_mask.bits(),
        owner: info.owner.as_ptr().cast::<c_char>(),
        owner_len: info.owner.len(),
        path,
        path_len,
        directory: info.directory,
        delete_on_close: info.delete_on_close,
        delete_pending: info.delete_pending,
        durable: info.durable,
        disconnected: info.disconnected,
    };
    // SAFETY: `view` and the strings it points into (owned by `h`) outlive
    // the call; the caller vouches for `visit` and `userdata`.
    unsafe { visit(userdata, &view) }
}

/// Looks up one handle and calls `visit` once with a snapshot of it (path
/// included), borrowed for the duration of that call. The visitor's return
/// value is ignored. No table lock is held while it runs.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table` or `visit` NULL; `userdata`
/// may be NULL), SMBH_STATUS_INVALID_LOCATION (0 or UINT64_MAX),
/// SMBH_STATUS_NOT_FOUND (closed, stale or foreign location; `visit` is not
/// called).
///
/// # Safety
///
/// `table` is NULL or live; `visit` is safe to call with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn smbh_get(
    table: *const smbh_table,
    location: u64,
    visit: smbh_visitor,
    userdata: *mut c_void,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let Some(visit) = visit else {
            return smbh_status::NullParameter;
        };
        let loc = tri!(location_in(location));
        let Some(handle) = table.get(loc) else {
            return smbh_status::NotFound;
        };
        // SAFETY: the caller vouches for `visit` and `userdata`.
        unsafe { visit_one(visit, userdata, &handle) };
        smbh_status::Ok
    }
}

/// Lists one page: calls `visit` once per handle, in the table's stable
/// order, each record borrowed for that call only, then writes the cursor of
/// the next page to `*next_out` (SMBH_CURSOR_DONE after the last page).
///
/// The page is a snapshot taken before the first call: no table lock is
/// held while `visit` runs, and it may close handles. When `visit` returns
/// non-zero, listing stops and `*next_out` resumes right after that handle.
/// Paging guarantee: a walk from SMBH_CURSOR_START to SMBH_CURSOR_DONE
/// shows every handle open for the whole walk exactly once, and one opened
/// or closed during it at most once.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`, `query`, `visit` or
/// `next_out` NULL; `userdata` may be NULL), SMBH_STATUS_INVALID_ARGUMENT
/// (`query->limit` is 0), SMBH_STATUS_INVALID_CURSOR (`query->after` names
/// no position of this table). On an error `visit` is not called.
///
/// # Safety
///
/// `table` is NULL or live; `query` is NULL or readable; `visit` is safe to
/// call with `userdata`; `next_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_list(
    table: *const smbh_table,
    query: *const smbh_list_query,
    visit: smbh_visitor,
    userdata: *mut c_void,
    next_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(query));
        let Some(visit) = visit else {
            return smbh_status::NullParameter;
        };
        tri!(check_ptr(next_out));
        // SAFETY: `query` is non-NULL and aligned (checked) and readable (the
        // caller's promise); it is copied, not kept.
        let q = unsafe { query.read() };
        let Some(page) = tri!(run_list(table, &q)) else {
            // SAFETY: `next_out` is non-NULL, aligned, writable.
            unsafe { next_out.write(SMBH_CURSOR_DONE) };
            return smbh_status::Ok;
        };
        let mut next = cursor_to_u64(page.next);
        for h in &page.file_handles {
            // SAFETY: the caller vouches for `visit` and `userdata`.
            if unsafe { visit_one(visit, userdata, h) } != 0 {
                next = cursor_to_u64(Some(cursor_after(h)));
                break;
            }
        }
        // SAFETY: `next_out` is non-NULL and aligned (checked), writable by
        // the caller's promise.
        unsafe { next_out.write(next) };
        smbh_status::Ok
    }
}

/// Lists one page as the JSON body of Qumulo's `GET /v1/smb/files`:
/// `{"file_handles": [...], "paging": {"next": "<cursor text>" or null}}`.
/// Writes an owned, NUL-terminated string to `*json_out`, its length
/// (without the NUL) to `*json_len_out`, and the next page's cursor to
/// `*next_out` (SMBH_CURSOR_DONE after the last page). Free the string with
/// smbh_string_free.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (any pointer NULL),
/// SMBH_STATUS_INVALID_ARGUMENT (`query->limit` is 0),
/// SMBH_STATUS_INVALID_CURSOR.
///
/// # Safety
///
/// `table` is NULL or live; `query` is NULL or readable; the out pointers
/// are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_list_json(
    table: *const smbh_table,
    query: *const smbh_list_query,
    json_out: *mut *mut c_char,
    json_len_out: *mut usize,
    next_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(query));
        tri!(check_ptr(json_out));
        tri!(check_ptr(json_len_out));
        tri!(check_ptr(next_out));
        // SAFETY: `query` is non-NULL and aligned (checked) and readable (the
        // caller's promise); it is copied, not kept.
        let q = unsafe { query.read() };
        let page = tri!(run_list(table, &q)).unwrap_or_default();
        let next = cursor_to_u64(page.next);
        let json = crate::json::page_to_json(&page);
        let (text, len) = into_owned(&json);
        // SAFETY: the three out pointers are non-NULL and aligned (checked)
        // and writable by the caller's promise.
        unsafe {
            json_out.write(text);
            json_len_out.write(len);
            next_out.write(next);
        }
        smbh_status::Ok
    }
}

/// Parses a cursor's text form (the `paging.next` string of
/// smbh_list_json, `len` bytes) into the `uint64_t` cursor smbh_list_query
/// takes, so a server can resume a listing from a REST query parameter.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_INVALID_CURSOR (also for text that reads as
/// SMBH_CURSOR_DONE, which no listing hands out as a next cursor).
///
/// # Safety
///
/// `text` is NULL or readable for `len` bytes (when `len` is at most 16);
/// `cursor_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_cursor_parse(
    text: *const c_char,
    len: usize,
    cursor_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        tri!(check_ptr(cursor_out));
        // SAFETY: the caller's promise on `text`.
        let text = tri!(unsafe { str_in(text, len, 16, smbh_status::InvalidCursor) });
        let Ok(cursor) = text.parse::<Cursor>() else {
            return smbh_status::InvalidCursor;
        };
        // That text is no cursor (Rust's list refuses it); as a number it
        // would read as SMBH_CURSOR_DONE, a finished walk.
        if cursor_to_u64(Some(cursor)) == SMBH_CURSOR_DONE {
            return smbh_status::InvalidCursor;
        }
        // SAFETY: `cursor_out` is non-NULL and aligned (checked), writable by
        // the caller's promise.
        unsafe { cursor_out.write(cursor_to_u64(Some(cursor))) };
        smbh_status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_encoding_round_trips_through_text() {
        let c = Cursor { shard: 7, slot: 0x00ab_cdef };
        let v = cursor_to_u64(Some(c));
        assert_eq!(format!("{v:016x}"), c.to_string());
        assert_eq!(cursor_to_u64(None), SMBH_CURSOR_DONE);
    }
}
