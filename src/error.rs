//! One error type per operation, each with a hand-written `Display` whose
//! text is the message used in JSON and through the C ABI.

use std::error::Error;
use std::fmt;

use crate::limits::{MAX_OWNER_LEN, MAX_PATH_LEN, MAX_REQUEST_BYTES, MAX_REQUEST_ELEMENTS};

/// NTSTATUS values the errors map to (MS-ERREF 2.3.1).
pub mod ntstatus {
    /// STATUS_SUCCESS.
    pub const SUCCESS: u32 = 0x0000_0000;
    /// STATUS_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: u32 = 0xC000_000D;
    /// STATUS_SHARING_VIOLATION.
    pub const SHARING_VIOLATION: u32 = 0xC000_0043;
    /// STATUS_FILE_LOCK_CONFLICT.
    pub const FILE_LOCK_CONFLICT: u32 = 0xC000_0054;
    /// STATUS_LOCK_NOT_GRANTED.
    pub const LOCK_NOT_GRANTED: u32 = 0xC000_0055;
    /// STATUS_RANGE_NOT_LOCKED.
    pub const RANGE_NOT_LOCKED: u32 = 0xC000_007E;
    /// STATUS_INSUFFICIENT_RESOURCES.
    pub const INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;
    /// STATUS_NAME_TOO_LONG.
    pub const NAME_TOO_LONG: u32 = 0xC000_0106;
    /// STATUS_OBJECT_NAME_INVALID.
    pub const OBJECT_NAME_INVALID: u32 = 0xC000_0033;
    /// STATUS_FILE_CLOSED.
    pub const FILE_CLOSED: u32 = 0xC000_0128;
    /// STATUS_INVALID_LOCK_RANGE.
    pub const INVALID_LOCK_RANGE: u32 = 0xC000_01A1;
    /// STATUS_INVALID_DEVICE_REQUEST: a lock, unlock or read on a directory
    /// handle.
    pub const INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
    /// STATUS_INTEGER_OVERFLOW (a lock count pushed out of range).
    pub const INTEGER_OVERFLOW: u32 = 0xC000_0095;
    /// STATUS_USER_SESSION_DELETED: the session was logged off.
    pub const USER_SESSION_DELETED: u32 = 0xC000_0203;
    /// STATUS_OBJECT_NAME_NOT_FOUND: a reconnect found no durable open.
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
    /// STATUS_FILE_NOT_AVAILABLE: the file has a disconnected persistent open.
    pub const FILE_NOT_AVAILABLE: u32 = 0xC000_0467;
    /// STATUS_DUPLICATE_OBJECTID: the create GUID is another client's.
    pub const DUPLICATE_OBJECTID: u32 = 0xC000_022A;
    /// STATUS_NETWORK_NAME_DELETED: the tree connect was disconnected.
    pub const NETWORK_NAME_DELETED: u32 = 0xC000_00C9;
    /// STATUS_PENDING: the request goes on asynchronously.
    pub const PENDING: u32 = 0x0000_0103;
    /// STATUS_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 0xC000_0022;
    /// STATUS_DELETE_PENDING: the file is to be deleted when its last open
    /// closes; no new open is allowed.
    pub const DELETE_PENDING: u32 = 0xC000_0056;
}

/// Why [`HandleTable::open`](crate::HandleTable::open) refused an open.
/// The table is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The path is longer than [`MAX_PATH_LEN`] bytes.
    PathTooLong {
        /// The length that was given, in bytes.
        len: usize,
    },
    /// The path contains a NUL byte.
    PathContainsNul,
    /// The owner is longer than [`MAX_OWNER_LEN`] bytes.
    OwnerTooLong {
        /// The length that was given, in bytes.
        len: usize,
    },
    /// The owner contains a NUL byte.
    OwnerContainsNul,
    /// The access mask sets reserved bits (21–23, 26–27).
    ReservedAccessBits {
        /// The reserved bits that were set.
        bits: u32,
    },
    /// Another open of the file holds access this open's share mode denies,
    /// or denies access this open asks for (STATUS_SHARING_VIOLATION).
    SharingViolation,
    /// The table already holds `max_handles` handles, or every slot it can
    /// address is in use or retired.
    TableFull {
        /// The configured limit.
        max_handles: usize,
    },
    /// The open's tree connect belongs to a session that is logged off or
    /// logging off (STATUS_USER_SESSION_DELETED).
    SessionDeleted,
    /// The open's tree connect is disconnected, stale or unknown
    /// (STATUS_NETWORK_NAME_DELETED).
    TreeDeleted,
    /// The file is delete-pending: a handle set its disposition, or a
    /// handle opened with delete-on-close has closed, and other opens
    /// remain (STATUS_DELETE_PENDING).
    DeletePending,
    /// Delete-on-close was asked for without the `DELETE` bit in the
    /// access mask (`GENERIC_ALL` alone does not do): STATUS_INVALID_PARAMETER,
    /// as smbd answers.
    DeleteOnCloseDenied,
    /// The open must wait for break acknowledgements (STATUS_PENDING): it
    /// was parked and completes through the completion hook (see
    /// [`HandleTable::open_cached`](crate::HandleTable::open_cached)).
    BreakPending {
        /// The waiting open.
        pending: crate::lease::PendingId,
    },
    /// The client's lease key is open on another file
    /// (STATUS_INVALID_PARAMETER, as smbd answers).
    LeaseKeyInUse,
    /// The file has a disconnected persistent open, kept for its client
    /// (STATUS_FILE_NOT_AVAILABLE, MS-SMB2 §3.3.5.9).
    FileNotAvailable,
    /// A durable v2 open's create GUID names another client's open
    /// (STATUS_DUPLICATE_OBJECTID, MS-SMB2 §3.3.5.9.10).
    DuplicateCreateGuid,
    /// A persistent open could not be written to the table's store
    /// (STATUS_INSUFFICIENT_RESOURCES); nothing was opened.
    StoreFailed,
}

impl OpenError {
    /// True for a full table, false for bad input.
    pub fn is_table_full(&self) -> bool {
        matches!(self, OpenError::TableFull { .. })
    }

    /// The NTSTATUS an SMB2 server answers the CREATE with.
    pub fn nt_status(&self) -> u32 {
        match self {
            OpenError::SharingViolation => ntstatus::SHARING_VIOLATION,
            OpenError::TableFull { .. } => ntstatus::INSUFFICIENT_RESOURCES,
            OpenError::PathTooLong { .. } => ntstatus::NAME_TOO_LONG,
            OpenError::PathContainsNul => ntstatus::OBJECT_NAME_INVALID,
            OpenError::SessionDeleted => ntstatus::USER_SESSION_DELETED,
            OpenError::TreeDeleted => ntstatus::NETWORK_NAME_DELETED,
            OpenError::DeletePending => ntstatus::DELETE_PENDING,
            OpenError::OwnerTooLong { .. }
            | OpenError::OwnerContainsNul
            | OpenError::ReservedAccessBits { .. }
            | OpenError::DeleteOnCloseDenied
            | OpenError::LeaseKeyInUse => ntstatus::INVALID_PARAMETER,
            OpenError::BreakPending { .. } => ntstatus::PENDING,
            OpenError::FileNotAvailable => ntstatus::FILE_NOT_AVAILABLE,
            OpenError::DuplicateCreateGuid => ntstatus::DUPLICATE_OBJECTID,
            OpenError::StoreFailed => ntstatus::INSUFFICIENT_RESOURCES,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::PathTooLong { .. } => write!(f, "path longer than {MAX_PATH_LEN} bytes"),
            OpenError::PathContainsNul => f.write_str("path contains a NUL byte"),
            OpenError::OwnerTooLong { .. } => write!(f, "owner longer than {MAX_OWNER_LEN} bytes"),
            OpenError::OwnerContainsNul => f.write_str("owner contains a NUL byte"),
            OpenError::ReservedAccessBits { bits } => {
                write!(f, "access mask sets reserved bits {bits:#010x}")
            }
            OpenError::SharingViolation => f.write_str("sharing violation"),
            OpenError::TableFull { max_handles } => {
                write!(f, "table full: {max_handles} handles open")
            }
            OpenError::SessionDeleted => f.write_str("session logged off"),
            OpenError::TreeDeleted => f.write_str("tree connect disconnected"),
            OpenError::DeletePending => f.write_str("file is delete-pending"),
            OpenError::DeleteOnCloseDenied => f.write_str("delete-on-close needs DELETE access"),
            OpenError::BreakPending { .. } => {
                f.write_str("the open waits for break acknowledgements")
            }
            OpenError::LeaseKeyInUse => f.write_str("lease key is in use on another file"),
            OpenError::FileNotAvailable => {
                f.write_str("the file has a disconnected persistent open")
            }
            OpenError::DuplicateCreateGuid => {
                f.write_str("create GUID is in use by another client")
            }
            OpenError::StoreFailed => f.write_str("the store did not take the persistent open"),
        }
    }
}

impl Error for OpenError {}

/// Why a close of one location failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseError {
    /// No open handle has that location: it was closed, is stale (its slot
    /// was reused), or was never issued by this table.
    NotFound,
    /// The location text was malformed (JSON and C string forms only).
    InvalidLocation,
    /// A close request element had no `handle_info.location` (JSON only).
    MissingLocation,
    /// The handle was persistent and the store did not take its removal:
    /// it is closed in the table, but a recovery after a crash may bring it
    /// back (STATUS_INSUFFICIENT_RESOURCES).
    StoreFailed,
}

impl CloseError {
    /// The NTSTATUS an SMB2 server answers with: STATUS_FILE_CLOSED for a
    /// handle that is not open, STATUS_INVALID_PARAMETER for bad input.
    pub fn nt_status(&self) -> u32 {
        match self {
            CloseError::NotFound => ntstatus::FILE_CLOSED,
            CloseError::InvalidLocation | CloseError::MissingLocation => {
                ntstatus::INVALID_PARAMETER
            }
            CloseError::StoreFailed => ntstatus::INSUFFICIENT_RESOURCES,
        }
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseError::NotFound => "handle not found",
            CloseError::InvalidLocation => "invalid location",
            CloseError::MissingLocation => "missing location",
            CloseError::StoreFailed => "closed, but the store did not take the removal",
        })
    }
}

impl Error for CloseError {}

/// Why [`HandleTable::adjust_byte_range_locks`](crate::HandleTable::adjust_byte_range_locks)
/// failed. The count is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockError {
    /// No open handle has that location.
    NotFound,
    /// The count would go below zero or past `u32::MAX`.
    OutOfRange {
        /// The count before the call.
        current: u32,
        /// The change that was asked for.
        delta: i64,
    },
}

impl LockError {
    /// The NTSTATUS for this error.
    pub fn nt_status(&self) -> u32 {
        match self {
            LockError::NotFound => ntstatus::FILE_CLOSED,
            LockError::OutOfRange { .. } => ntstatus::INTEGER_OVERFLOW,
        }
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::NotFound => f.write_str("handle not found"),
            LockError::OutOfRange { current, delta } => write!(
                f,
                "byte-range lock count {current} adjusted by {delta} is out of range 0..={}",
                u32::MAX
            ),
        }
    }
}

impl Error for LockError {}

/// Why a rename was refused. Nothing was renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenameError {
    /// The new path is longer than [`MAX_PATH_LEN`] bytes.
    PathTooLong {
        /// The length that was given, in bytes.
        len: usize,
    },
    /// The new path contains a NUL byte.
    PathContainsNul,
}

impl fmt::Display for RenameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenameError::PathTooLong { .. } => write!(f, "path longer than {MAX_PATH_LEN} bytes"),
            RenameError::PathContainsNul => f.write_str("path contains a NUL byte"),
        }
    }
}

impl Error for RenameError {}

/// Why [`HandleTable::list`](crate::HandleTable::list) refused a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListError {
    /// `limit` was `Some(0)`.
    ZeroLimit,
    /// `after` does not name a position in this table.
    InvalidCursor,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListError::ZeroLimit => "limit must be at least 1",
            ListError::InvalidCursor => "invalid cursor",
        })
    }
}

impl Error for ListError {}

/// Why a `POST /v1/smb/files/close` body was refused as a whole. Nothing
/// was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is larger than [`MAX_REQUEST_BYTES`].
    TooLarge {
        /// The body's size in bytes.
        len: usize,
    },
    /// The array has more than [`MAX_REQUEST_ELEMENTS`] elements.
    TooManyElements,
    /// The body is not a JSON array (or not JSON at all).
    NotAnArray {
        /// What the parser said.
        detail: String,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::TooLarge { len } => {
                write!(f, "request body of {len} bytes is larger than {} bytes", MAX_REQUEST_BYTES)
            }
            RequestError::TooManyElements => {
                write!(f, "request body has more than {} elements", MAX_REQUEST_ELEMENTS)
            }
            RequestError::NotAnArray { detail } => {
                write!(f, "request body must be a JSON array of file handles: {detail}")
            }
        }
    }
}

impl Error for RequestError {}

/// Why [`HandleTable::lock`](crate::HandleTable::lock) refused a request.
/// All-or-nothing: no lock of the request is held afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockRangeError {
    /// No open handle has that location (STATUS_FILE_CLOSED).
    NotFound,
    /// Element `index` ends past byte 2^64 − 1 (STATUS_INVALID_LOCK_RANGE).
    InvalidRange {
        /// The failing element's index in the request.
        index: usize,
    },
    /// Element `index` conflicts with a granted lock, or one granted earlier
    /// in the same request (STATUS_LOCK_NOT_GRANTED).
    NotGranted {
        /// The failing element's index in the request.
        index: usize,
    },
    /// The handle's lock count would pass `u32::MAX`.
    TooManyLocks {
        /// The failing element's index in the request.
        index: usize,
    },
    /// The handle is a directory's, which has no byte ranges
    /// (STATUS_INVALID_DEVICE_REQUEST, as smbd answers).
    Directory,
}

impl LockRangeError {
    /// The NTSTATUS an SMB2 server answers the LOCK with.
    pub fn nt_status(&self) -> u32 {
        match self {
            LockRangeError::NotFound => ntstatus::FILE_CLOSED,
            LockRangeError::InvalidRange { .. } => ntstatus::INVALID_LOCK_RANGE,
            LockRangeError::NotGranted { .. } => ntstatus::LOCK_NOT_GRANTED,
            LockRangeError::TooManyLocks { .. } => ntstatus::INSUFFICIENT_RESOURCES,
            LockRangeError::Directory => ntstatus::INVALID_DEVICE_REQUEST,
        }
    }
}

impl fmt::Display for LockRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockRangeError::NotFound => f.write_str("handle not found"),
            LockRangeError::InvalidRange { index } => {
                write!(f, "lock element {index}: range ends past the last byte")
            }
            LockRangeError::NotGranted { index } => {
                write!(f, "lock element {index}: lock not granted")
            }
            LockRangeError::TooManyLocks { index } => {
                write!(f, "lock element {index}: too many locks on the handle")
            }
            LockRangeError::Directory => f.write_str("a directory handle cannot lock"),
        }
    }
}

impl Error for LockRangeError {}

/// Why [`HandleTable::unlock`](crate::HandleTable::unlock) stopped. The
/// ranges before `index` were unlocked; the rest were not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnlockError {
    /// No open handle has that location (STATUS_FILE_CLOSED).
    NotFound,
    /// The handle holds no lock with exactly the range of element `index`
    /// (STATUS_RANGE_NOT_LOCKED).
    RangeNotLocked {
        /// The failing element's index in the request.
        index: usize,
    },
    /// The handle is a directory's (STATUS_INVALID_DEVICE_REQUEST, as smbd
    /// answers).
    Directory,
}

impl UnlockError {
    /// The NTSTATUS an SMB2 server answers the unlock with.
    pub fn nt_status(&self) -> u32 {
        match self {
            UnlockError::NotFound => ntstatus::FILE_CLOSED,
            UnlockError::RangeNotLocked { .. } => ntstatus::RANGE_NOT_LOCKED,
            UnlockError::Directory => ntstatus::INVALID_DEVICE_REQUEST,
        }
    }
}

impl fmt::Display for UnlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnlockError::NotFound => f.write_str("handle not found"),
            UnlockError::RangeNotLocked { index } => {
                write!(f, "unlock element {index}: range not locked")
            }
            UnlockError::Directory => f.write_str("a directory handle cannot unlock"),
        }
    }
}

impl Error for UnlockError {}

/// Why [`HandleTable::check_io`](crate::HandleTable::check_io) refused a
/// read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoError {
    /// No open handle has that location (STATUS_FILE_CLOSED).
    NotFound,
    /// The range overlaps a lock that forbids this I/O
    /// (STATUS_FILE_LOCK_CONFLICT).
    IoConflict,
    /// The range ends past byte 2^64 − 1 (STATUS_INVALID_PARAMETER).
    InvalidRange,
    /// The handle is a directory's (STATUS_INVALID_DEVICE_REQUEST, smbd's
    /// answer to a READ; smbd refuses a WRITE on a directory earlier, with
    /// STATUS_ACCESS_DENIED, in its own access check).
    Directory,
}

impl IoError {
    /// The NTSTATUS an SMB2 server answers the READ or WRITE with.
    pub fn nt_status(&self) -> u32 {
        match self {
            IoError::NotFound => ntstatus::FILE_CLOSED,
            IoError::IoConflict => ntstatus::FILE_LOCK_CONFLICT,
            IoError::InvalidRange => ntstatus::INVALID_PARAMETER,
            IoError::Directory => ntstatus::INVALID_DEVICE_REQUEST,
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoError::NotFound => "handle not found",
            IoError::IoConflict => "file lock conflict",
            IoError::InvalidRange => "I/O range ends past the last byte",
            IoError::Directory => "a directory handle has no data to read or write",
        })
    }
}

impl Error for IoError {}

/// Why [`HandleTable::set_delete_pending`](crate::HandleTable::set_delete_pending)
/// changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DispositionError {
    /// No open handle has that location (STATUS_FILE_CLOSED).
    NotFound,
    /// The handle was not opened with `DELETE` access (STATUS_ACCESS_DENIED).
    AccessDenied,
}

impl DispositionError {
    /// The NTSTATUS an SMB2 server answers the SET_INFO with.
    pub fn nt_status(&self) -> u32 {
        match self {
            DispositionError::NotFound => ntstatus::FILE_CLOSED,
            DispositionError::AccessDenied => ntstatus::ACCESS_DENIED,
        }
    }
}

impl fmt::Display for DispositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DispositionError::NotFound => "handle not found",
            DispositionError::AccessDenied => "setting the disposition needs DELETE access",
        })
    }
}

impl Error for DispositionError {}
