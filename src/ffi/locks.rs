//! The C ABI of share modes, byte-range locks and NTSTATUS (SPEC §9–§11):
//! an extensible open, `smbh_lock`, `smbh_unlock`, `smbh_check_io` and
//! `smbh_status_nt` (the unlock hook is in `hook.rs`).

use std::ffi::c_char;
use std::mem::size_of;

use super::ffi_boundary;
use super::strings::{path_in, str_in};
use super::{
    array_in, check_ptr, location_in, smbh_status, smbh_table, table_ref, SMBH_MAX_OWNER_LEN,
};
use crate::error::ntstatus;
use crate::record::{OpenArgs, StrArg};
use crate::{
    AccessMask, FileNumber, IoError, IoKind, LockElement, LockKind, LockRange, LockRangeError,
    ShareAccess, UnlockError,
};

/// smbh_check_io: a read.
pub const SMBH_IO_READ: u32 = 0;
/// smbh_check_io: a write.
pub const SMBH_IO_WRITE: u32 = 1;
/// FILE_SHARE_READ, for smbh_open_params.share_access.
pub const SMBH_SHARE_READ: u32 = 0x1;
/// FILE_SHARE_WRITE, for smbh_open_params.share_access.
pub const SMBH_SHARE_WRITE: u32 = 0x2;
/// FILE_SHARE_DELETE, for smbh_open_params.share_access.
pub const SMBH_SHARE_DELETE: u32 = 0x4;

/// What smbh_open_ex opens. Set `size` to `sizeof(smbh_open_params)`: later
/// versions of the library add fields at the end (session, durable flags,
/// lease key), and a caller built against an older header keeps working,
/// the new fields taking their defaults. A caller built against a newer
/// header may pass a larger size as long as the fields this library does
/// not know are zero; otherwise SMBH_STATUS_INVALID_ARGUMENT.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_open_params {
    /// `sizeof(smbh_open_params)` as the caller was compiled.
    pub size: usize,
    /// The file (inode) the handle is open on.
    pub file_number: u64,
    /// The file's path, `path_len` bytes of UTF-8 without NUL (the first
    /// open of a file sets it; later opens keep it).
    pub path: *const c_char,
    /// Length of `path` in bytes, at most SMBH_MAX_PATH_LEN.
    pub path_len: usize,
    /// The opener's identity, `owner_len` bytes of UTF-8 without NUL.
    pub owner: *const c_char,
    /// Length of `owner` in bytes, at most SMBH_MAX_OWNER_LEN.
    pub owner_len: usize,
    /// Granted access: MS-DTYP ACCESS_MASK bits.
    pub access_mask: u32,
    /// SMBH_SHARE_READ | SMBH_SHARE_WRITE | SMBH_SHARE_DELETE, or fewer;
    /// other bits are SMBH_STATUS_INVALID_ARGUMENT.
    pub share_access: u32,
    /// True for a directory handle.
    pub directory: bool,
}

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

/// Opens a handle with a share mode (SPEC section 9): like smbh_open, plus
/// the check, atomic with the insertion, against every other open of the
/// file. A stat open (no read, write, append, execute or delete access)
/// never conflicts.
///
/// Statuses: as smbh_open, plus SMBH_STATUS_SHARING_VIOLATION and
/// SMBH_STATUS_INVALID_ARGUMENT (a `size` this library cannot take, share
/// bits beyond the three). On any of them the table is unchanged.
///
/// # Safety
///
/// `table` is NULL or live; `params` is NULL or readable for
/// `params->size` bytes, its strings readable for their lengths;
/// `location_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_open_ex(
    table: *const smbh_table,
    params: *const smbh_open_params,
    location_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(params));
        tri!(check_ptr(location_out));
        // SAFETY: `params` is non-NULL and aligned (checked); its first
        // field is readable by the caller's promise.
        let size = unsafe { params.cast::<usize>().read() };
        let known = size_of::<smbh_open_params>();
        if size < known || size > isize::MAX as usize {
            return smbh_status::InvalidArgument;
        }
        if size > known {
            // SAFETY: the caller promises `size` readable bytes.
            let tail = unsafe { std::slice::from_raw_parts(params.cast::<u8>().add(known), size - known) };
            if tail.iter().any(|&b| b != 0) {
                return smbh_status::InvalidArgument;
            }
        }
        // SAFETY: `size >= sizeof(smbh_open_params)` bytes are readable.
        let p = unsafe { params.read() };
        if p.share_access & !0x7 != 0 {
            return smbh_status::InvalidArgument;
        }
        // SAFETY: the caller's promise on the strings.
        let path = tri!(unsafe { path_in(p.path, p.path_len) });
        // SAFETY: as above.
        let owner = tri!(unsafe { str_in(p.owner, p.owner_len, SMBH_MAX_OWNER_LEN, smbh_status::OwnerTooLong) });
        let args = OpenArgs {
            file_number: FileNumber(p.file_number),
            path: StrArg::Borrowed(path),
            owner: StrArg::Borrowed(owner),
            access_mask: AccessMask::from_bits_retain(p.access_mask),
            share_access: ShareAccess::from_bits_retain(p.share_access),
            directory: p.directory, tree: None };
        let loc = tri!(table.open_args(&args).map_err(smbh_status::from));
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { location_out.write(loc.0) };
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
        let (status, index) = match table.lock(loc, &req) {
            Ok(n) => {
                // SAFETY: non-NULL and aligned (checked), writable.
                unsafe { lock_count_out.write(n) };
                return smbh_status::Ok;
            }
            Err(LockRangeError::NotGranted { index }) => (smbh_status::LockNotGranted, index),
            Err(LockRangeError::InvalidRange { index }) => (smbh_status::InvalidLockRange, index),
            Err(LockRangeError::TooManyLocks { index }) => (smbh_status::TooManyLocks, index),
            Err(LockRangeError::Directory) => return smbh_status::DirectoryHandle,
            Err(_) => return smbh_status::NotFound,
        };
        // SAFETY: non-NULL and aligned (checked), writable.
        unsafe { failed_index_out.write(index) };
        status
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
            Err(UnlockError::RangeNotLocked { index }) => {
                // SAFETY: non-NULL and aligned (checked), writable.
                unsafe { failed_index_out.write(index) };
                smbh_status::RangeNotLocked
            }
            Err(UnlockError::Directory) => smbh_status::DirectoryHandle,
            Err(_) => smbh_status::NotFound,
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
            Err(IoError::IoConflict) => smbh_status::FileLockConflict,
            Err(IoError::InvalidRange) => smbh_status::InvalidArgument,
            Err(IoError::Directory) => smbh_status::DirectoryHandle,
            Err(_) => smbh_status::NotFound,
        }
    }
}

/// The NTSTATUS an SMB2 server answers with for `status`:
/// STATUS_SUCCESS (0) for SMBH_STATUS_OK, STATUS_SHARING_VIOLATION
/// (0xC0000043), STATUS_LOCK_NOT_GRANTED (0xC0000055),
/// STATUS_RANGE_NOT_LOCKED (0xC000007E), STATUS_FILE_LOCK_CONFLICT
/// (0xC0000054), STATUS_INVALID_LOCK_RANGE (0xC00001A1),
/// STATUS_INVALID_DEVICE_REQUEST (0xC0000010) for a directory handle,
/// STATUS_FILE_CLOSED (0xC0000128) for a handle not found,
/// STATUS_INSUFFICIENT_RESOURCES (0xC000009A) for too many locks or a full
/// table, STATUS_INVALID_PARAMETER for bad input, and
/// STATUS_UNSUCCESSFUL (0xC0000001) for a value that is no status.
#[no_mangle]
pub extern "C" fn smbh_status_nt(status: u32) -> u32 {
    let Some(&s) = smbh_status::ALL.get(status as usize) else {
        return 0xC000_0001;
    };
    match s {
        smbh_status::Ok => ntstatus::SUCCESS,
        smbh_status::NotFound => ntstatus::FILE_CLOSED,
        smbh_status::TableFull => ntstatus::INSUFFICIENT_RESOURCES,
        smbh_status::BufferTooSmall => 0xC000_0023,
        smbh_status::Panic => 0xC000_00E5,
        smbh_status::PathTooLong => ntstatus::NAME_TOO_LONG,
        smbh_status::ContainsNul => ntstatus::OBJECT_NAME_INVALID,
        smbh_status::LockCountOutOfRange => ntstatus::INTEGER_OVERFLOW,
        smbh_status::SharingViolation => ntstatus::SHARING_VIOLATION,
        smbh_status::LockNotGranted => ntstatus::LOCK_NOT_GRANTED,
        smbh_status::RangeNotLocked => ntstatus::RANGE_NOT_LOCKED,
        smbh_status::FileLockConflict => ntstatus::FILE_LOCK_CONFLICT,
        smbh_status::InvalidLockRange => ntstatus::INVALID_LOCK_RANGE,
        smbh_status::DirectoryHandle => ntstatus::INVALID_DEVICE_REQUEST,
        smbh_status::TooManyLocks => ntstatus::INSUFFICIENT_RESOURCES,
        smbh_status::NullParameter
        | smbh_status::InvalidArgument
        | smbh_status::InvalidUtf8
        | smbh_status::InvalidLocation
        | smbh_status::InvalidCursor
        | smbh_status::OwnerTooLong
        | smbh_status::ReservedAccessBits
        | smbh_status::InvalidRequest
        | smbh_status::OwnerContainsNul => ntstatus::INVALID_PARAMETER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_status_agrees_with_the_rust_errors() {
        use crate::{CloseError, OpenError};
        let pairs = [
            (
                smbh_status::from(OpenError::SharingViolation),
                OpenError::SharingViolation.nt_status(),
            ),
            (smbh_status::from(CloseError::NotFound), CloseError::NotFound.nt_status()),
            (smbh_status::LockNotGranted, LockRangeError::NotGranted { index: 0 }.nt_status()),
            (smbh_status::InvalidLockRange, LockRangeError::InvalidRange { index: 0 }.nt_status()),
            (smbh_status::RangeNotLocked, UnlockError::RangeNotLocked { index: 0 }.nt_status()),
            (smbh_status::FileLockConflict, IoError::IoConflict.nt_status()),
            (smbh_status::DirectoryHandle, LockRangeError::Directory.nt_status()),
            (smbh_status::DirectoryHandle, UnlockError::Directory.nt_status()),
            (smbh_status::DirectoryHandle, IoError::Directory.nt_status()),
            (smbh_status::TooManyLocks, LockRangeError::TooManyLocks { index: 0 }.nt_status()),
            (smbh_status::TableFull, OpenError::TableFull { max_handles: 1 }.nt_status()),
            (smbh_status::from(OpenError::PathContainsNul), OpenError::PathContainsNul.nt_status()),
            (
                smbh_status::from(OpenError::OwnerContainsNul),
                OpenError::OwnerContainsNul.nt_status(),
            ),
            (
                smbh_status::from(OpenError::OwnerTooLong { len: 2000 }),
                OpenError::OwnerTooLong { len: 2000 }.nt_status(),
            ),
            (
                smbh_status::from(OpenError::PathTooLong { len: 40000 }),
                OpenError::PathTooLong { len: 40000 }.nt_status(),
            ),
            (
                smbh_status::from(OpenError::ReservedAccessBits { bits: 1 << 21 }),
                OpenError::ReservedAccessBits { bits: 1 << 21 }.nt_status(),
            ),
        ];
        for (s, nt) in pairs {
            assert_eq!(smbh_status_nt(s as u32), nt, "{s:?}");
        }
        assert_eq!(smbh_status_nt(0), 0);
        assert_eq!(smbh_status_nt(999), 0xC000_0001);
    }
}
