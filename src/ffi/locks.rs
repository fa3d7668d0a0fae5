//! Byte-range locks from C (SPEC §10–§11): `smbh_lock`, `smbh_unlock`,
//! `smbh_check_io`, and `smbh_adjust_byte_range_locks` for a server that
//! keeps its own locks and only counts them here (the unlock hook is in
//! `hook.rs`, the NTSTATUS of each status in `status.rs`).

use crate::{IoKind, LockElement, LockKind, LockRange, LockRangeError, UnlockError};

use super::panic::ffi_boundary;
use super::ptr::{array_in, check_ptr, location_in, table_ref, tri};
use super::status::smbh_status;
use super::table::smbh_table;

/// smbh_check_io: a read.
pub const SMBH_IO_READ: u32 = 0;
/// smbh_check_io: a write.
pub const SMBH_IO_WRITE: u32 = 1;

/// One element of an smbh_lock request.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_lock_element {
    /// First byte of the range.
    pub offset: u64,
    /// Bytes in the range; 0 is allowed.
    pub length: u64,
    /// True for an exclusive lock, false for a shared one.
    pub exclusive: bool,
}

/// One element of an smbh_unlock request: the exact range of a lock.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_lock_range {
    /// First byte of the range.
    pub offset: u64,
    /// Bytes in the range.
    pub length: u64,
}

/// Adds `delta` to a handle's byte-range lock count and writes the new count
/// to `*count_out`. A non-zero change bumps the handle's version.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_LOCATION,
/// SMBH_STATUS_NOT_FOUND, SMBH_STATUS_LOCK_COUNT_OUT_OF_RANGE (the count
/// would go below 0 or past UINT32_MAX; it is unchanged).
///
/// # Safety
///
/// `table` is NULL or live; `count_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_adjust_byte_range_locks(
    table: *const smbh_table,
    location: u64,
    delta: i64,
    count_out: *mut u32,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(count_out));
        let loc = tri!(location_in(location));
        let count = tri!(table.adjust_byte_range_locks(loc, delta).map_err(smbh_status::from));
        // SAFETY: `count_out` is non-NULL and aligned (checked), writable by
        // the caller's promise.
        unsafe { count_out.write(count) };
        smbh_status::Ok
    }
}

/// Takes byte-range locks through a handle (SPEC section 10): all `count`
/// elements or none, checked in order against the file's locks and those
/// granted earlier in the call. On success writes the handle's new lock
/// count to `lock_count_out`.
///
/// Statuses: SMBH_STATUS_DIRECTORY_HANDLE (a directory has no byte
/// ranges; nothing written), SMBH_STATUS_LOCK_NOT_GRANTED,
/// SMBH_STATUS_INVALID_LOCK_RANGE or SMBH_STATUS_TOO_MANY_LOCKS
/// (the failing element's index is written to `failed_index_out`, the only
/// output written on failure; the elements before it are released again),
/// SMBH_STATUS_NOT_FOUND, SMBH_STATUS_INVALID_LOCATION,
/// SMBH_STATUS_NULL_PARAMETER (any pointer NULL, even with `count` 0),
/// SMBH_STATUS_INVALID_ARGUMENT (misaligned or impossible array).
///
/// # Safety
///
/// `table` is NULL or live; `elements` is NULL or readable for `count`
/// values; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_lock(
    table: *const smbh_table,
    location: u64,
    elements: *const smbh_lock_element,
    count: usize,
    lock_count_out: *mut u32,
    failed_index_out: *mut usize,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(lock_count_out));
        tri!(check_ptr(failed_index_out));
        // SAFETY: the caller's promise on `elements`.
        let elements = tri!(unsafe { array_in(elements, count) });
        let loc = tri!(location_in(location));
        let req: Vec<LockElement> = elements
            .iter()
            .map(|e| LockElement {
                offset: e.offset,
                length: e.length,
                kind: if e.exclusive { LockKind::Exclusive } else { LockKind::Shared },
            })
            .collect();
        match table.lock(loc, &req) {
            Ok(n) => {
                // SAFETY: non-NULL and aligned (checked), writable.
                unsafe { lock_count_out.write(n) };
                smbh_status::Ok
            }
            Err(e) => {
                if let LockRangeError::NotGranted { index }
                | LockRangeError::InvalidRange { index }
                | LockRangeError::TooManyLocks { index } = e
                {
                    // SAFETY: non-NULL and aligned (checked), writable.
                    unsafe { failed_index_out.write(index) };
                }
                e.into()
            }
        }
    }
}

/// Removes, for each of `count` ranges in order, one lock of this handle
/// with exactly that offset and length (the oldest, of either kind). On
/// success writes the handle's new lock count to `lock_count_out`.
///
/// Statuses: SMBH_STATUS_RANGE_NOT_LOCKED (the failing range's index is
/// written to `failed_index_out`, the only output written on failure; the
/// ranges before it stay unlocked), SMBH_STATUS_DIRECTORY_HANDLE,
/// SMBH_STATUS_NOT_FOUND, SMBH_STATUS_INVALID_LOCATION,
/// SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_ARGUMENT.
///
/// # Safety
///
/// `table` is NULL or live; `ranges` is NULL or readable for `count`
/// values; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_unlock(
    table: *const smbh_table,
    location: u64,
    ranges: *const smbh_lock_range,
    count: usize,
    lock_count_out: *mut u32,
    failed_index_out: *mut usize,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(lock_count_out));
        tri!(check_ptr(failed_index_out));
        // SAFETY: the caller's promise on `ranges`.
        let ranges = tri!(unsafe { array_in(ranges, count) });
        let loc = tri!(location_in(location));
        let req: Vec<LockRange> =
            ranges.iter().map(|r| LockRange { offset: r.offset, length: r.length }).collect();
        match table.unlock(loc, &req) {
            Ok(n) => {
                // SAFETY: non-NULL and aligned (checked), writable.
                unsafe { lock_count_out.write(n) };
                smbh_status::Ok
            }
            Err(e) => {
                if let UnlockError::RangeNotLocked { index } = e {
                    // SAFETY: non-NULL and aligned (checked), writable.
                    unsafe { failed_index_out.write(index) };
                }
                e.into()
            }
        }
    }
}

/// Checks a read (`kind` SMBH_IO_READ) or write (SMBH_IO_WRITE) of `length`
/// bytes at `offset` through a handle against the file's byte-range locks.
/// Costs one lookup when the file has no locks; a zero length never
/// conflicts.
///
/// Statuses: SMBH_STATUS_OK (the I/O may go ahead),
/// SMBH_STATUS_FILE_LOCK_CONFLICT, SMBH_STATUS_DIRECTORY_HANDLE (checked
/// first, as smbd does), SMBH_STATUS_NOT_FOUND,
/// SMBH_STATUS_INVALID_LOCATION, SMBH_STATUS_NULL_PARAMETER,
/// SMBH_STATUS_INVALID_ARGUMENT (an unknown `kind`, or a range past byte
/// 2^64 - 1).
///
/// # Safety
///
/// `table` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn smbh_check_io(
    table: *const smbh_table,
    location: u64,
    offset: u64,
    length: u64,
    kind: u32,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let kind = match kind {
            SMBH_IO_READ => IoKind::Read,
            SMBH_IO_WRITE => IoKind::Write,
            _ => return smbh_status::InvalidArgument,
        };
        let loc = tri!(location_in(location));
        match table.check_io(loc, offset, length, kind) {
            Ok(()) => smbh_status::Ok,
            Err(e) => e.into(),
        }
    }
}
