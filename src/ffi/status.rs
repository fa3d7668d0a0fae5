//! The statuses of the C ABI: the `smbh_status` enum, its messages
//! (`smbh_status_message`), its NTSTATUS (`smbh_status_nt`), and the one
//! conversion from each Rust error into it. Every match here is exhaustive:
//! a new error variant or status does not compile until it is mapped.

use std::ffi::c_char;

use crate::durable::ReconnectError;
use crate::error::ntstatus;
use crate::lease::AckError;
use crate::{
    CloseError, ConfigError, DispositionError, IoError, ListError, LockError, LockRangeError,
    OpenError, RenameError, RequestError, UnlockError,
};

use super::panic::ffi_boundary;

/// The result of every fallible call. `SMBH_STATUS_OK` is 0; any other value
/// means the call changed nothing and wrote no output (except where a
/// function's comment says otherwise). smbh_status_message gives its text.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum smbh_status {
    /// Success; the outputs were written.
    Ok = 0,
    /// A pointer parameter was NULL.
    NullParameter = 1,
    /// An argument was out of range: a bad table size, a zero list limit,
    /// a misaligned pointer, or a length that cannot be a real buffer.
    InvalidArgument = 2,
    /// A string was not valid UTF-8.
    InvalidUtf8 = 3,
    /// No open handle has that location: closed, stale, or never issued by
    /// this table.
    NotFound = 4,
    /// The table holds its maximum number of handles.
    TableFull = 5,
    /// The caller's buffer is too small; nothing was written to it.
    BufferTooSmall = 6,
    /// A bug inside smb-handles panicked; the panic was caught.
    Panic = 7,
    /// Not a location: `0`, `UINT64_MAX`, or text that is not 1 to 16 hex
    /// digits.
    InvalidLocation = 8,
    /// A list cursor that names no position of this table, or malformed
    /// cursor text.
    InvalidCursor = 9,
    /// A path longer than SMBH_MAX_PATH_LEN bytes.
    PathTooLong = 10,
    /// An owner longer than SMBH_MAX_OWNER_LEN bytes.
    OwnerTooLong = 11,
    /// A path containing a NUL byte (an owner: SMBH_STATUS_OWNER_CONTAINS_NUL).
    ContainsNul = 12,
    /// An access mask setting reserved bits (21-23, 26-27).
    ReservedAccessBits = 13,
    /// A byte-range lock count that would go below 0 or past UINT32_MAX.
    LockCountOutOfRange = 14,
    /// A close request body that is not a JSON array, is larger than
    /// SMBH_MAX_REQUEST_BYTES, or has more than 100000 elements.
    InvalidRequest = 15,
    /// The open's share mode conflicts with another open of the file
    /// (STATUS_SHARING_VIOLATION).
    SharingViolation = 16,
    /// A byte-range lock conflicts with a granted lock
    /// (STATUS_LOCK_NOT_GRANTED).
    LockNotGranted = 17,
    /// The handle holds no lock with exactly that range
    /// (STATUS_RANGE_NOT_LOCKED).
    RangeNotLocked = 18,
    /// A read or write conflicts with a byte-range lock
    /// (STATUS_FILE_LOCK_CONFLICT).
    FileLockConflict = 19,
    /// A range whose last byte lies past 2^64 - 1
    /// (STATUS_INVALID_LOCK_RANGE).
    InvalidLockRange = 20,
    /// A lock, unlock or read/write check through a directory handle, which
    /// has no byte ranges (STATUS_INVALID_DEVICE_REQUEST).
    DirectoryHandle = 21,
    /// A lock request that would take the handle past UINT32_MAX locks
    /// (STATUS_INSUFFICIENT_RESOURCES).
    TooManyLocks = 22,
    /// An owner containing a NUL byte.
    OwnerContainsNul = 23,
    /// The session is logged off or logging off, or the session id names
    /// none (NTSTATUS STATUS_USER_SESSION_DELETED).
    SessionDeleted = 24,
    /// The tree connect is disconnected, or the tree id names none
    /// (STATUS_NETWORK_NAME_DELETED).
    TreeDeleted = 25,
    /// The file is delete-pending: no new open is allowed
    /// (STATUS_DELETE_PENDING).
    DeletePending = 26,
    /// The handle lacks the access the call needs: a disposition set
    /// without DELETE access (STATUS_ACCESS_DENIED).
    AccessDenied = 27,
    /// The open waits for lease or oplock break acknowledgements
    /// (STATUS_PENDING); it completes later.
    BreakPending = 28,
    /// No lease with that client and key is open
    /// (STATUS_OBJECT_NAME_NOT_FOUND).
    LeaseNotFound = 29,
    /// The lease is not being broken (STATUS_UNSUCCESSFUL).
    NotBreaking = 30,
    /// An acknowledgement of more than the break offered
    /// (STATUS_REQUEST_NOT_ACCEPTED); the break stays pending.
    AckNotAccepted = 31,
    /// No oplock break is outstanding on the handle
    /// (STATUS_INVALID_OPLOCK_PROTOCOL).
    NoOplockBreak = 32,
    /// The file has a disconnected persistent open
    /// (STATUS_FILE_NOT_AVAILABLE).
    FileNotAvailable = 33,
    /// A durable v2 create GUID in use by another client
    /// (STATUS_DUPLICATE_OBJECTID).
    DuplicateCreateGuid = 34,
    /// The store did not take a persistent open or reconnect
    /// (STATUS_INSUFFICIENT_RESOURCES).
    StoreFailed = 35,
    /// No disconnected durable open matches a reconnect
    /// (STATUS_OBJECT_NAME_NOT_FOUND).
    NoDurableOpen = 36,
}

impl smbh_status {
    /// Every status, in value order (for `smbh_status_message` and tests).
    pub(crate) const ALL: [smbh_status; 37] = [
        smbh_status::Ok,
        smbh_status::NullParameter,
        smbh_status::InvalidArgument,
        smbh_status::InvalidUtf8,
        smbh_status::NotFound,
        smbh_status::TableFull,
        smbh_status::BufferTooSmall,
        smbh_status::Panic,
        smbh_status::InvalidLocation,
        smbh_status::InvalidCursor,
        smbh_status::PathTooLong,
        smbh_status::OwnerTooLong,
        smbh_status::ContainsNul,
        smbh_status::ReservedAccessBits,
        smbh_status::LockCountOutOfRange,
        smbh_status::InvalidRequest,
        smbh_status::SharingViolation,
        smbh_status::LockNotGranted,
        smbh_status::RangeNotLocked,
        smbh_status::FileLockConflict,
        smbh_status::InvalidLockRange,
        smbh_status::DirectoryHandle,
        smbh_status::TooManyLocks,
        smbh_status::OwnerContainsNul,
        smbh_status::SessionDeleted,
        smbh_status::TreeDeleted,
        smbh_status::DeletePending,
        smbh_status::AccessDenied,
        smbh_status::BreakPending,
        smbh_status::LeaseNotFound,
        smbh_status::NotBreaking,
        smbh_status::AckNotAccepted,
        smbh_status::NoOplockBreak,
        smbh_status::FileNotAvailable,
        smbh_status::DuplicateCreateGuid,
        smbh_status::StoreFailed,
        smbh_status::NoDurableOpen,
    ];

    /// The static, NUL-terminated message of this status.
    pub(crate) fn message(self) -> &'static std::ffi::CStr {
        match self {
            smbh_status::Ok => c"ok",
            smbh_status::NullParameter => c"a pointer parameter was NULL",
            smbh_status::InvalidArgument => c"invalid argument",
            smbh_status::InvalidUtf8 => c"string is not valid UTF-8",
            smbh_status::NotFound => c"handle not found",
            smbh_status::TableFull => c"table full",
            smbh_status::BufferTooSmall => c"buffer too small",
            smbh_status::Panic => c"panic inside smb-handles",
            smbh_status::InvalidLocation => c"invalid location",
            smbh_status::InvalidCursor => c"invalid cursor",
            smbh_status::PathTooLong => c"path longer than 32767 bytes",
            smbh_status::OwnerTooLong => c"owner longer than 1024 bytes",
            smbh_status::ContainsNul => c"path contains a NUL byte",
            smbh_status::ReservedAccessBits => c"access mask sets reserved bits",
            smbh_status::LockCountOutOfRange => c"byte-range lock count out of range",
            smbh_status::InvalidRequest => {
                c"request body must be a JSON array of at most 100000 file handles within 4 MiB"
            }
            smbh_status::SharingViolation => c"sharing violation",
            smbh_status::LockNotGranted => c"lock not granted",
            smbh_status::RangeNotLocked => c"range not locked",
            smbh_status::FileLockConflict => c"file lock conflict",
            smbh_status::InvalidLockRange => c"invalid lock range",
            smbh_status::DirectoryHandle => c"directory handle has no byte ranges",
            smbh_status::TooManyLocks => c"too many byte-range locks on the handle",
            smbh_status::OwnerContainsNul => c"owner contains a NUL byte",
            smbh_status::SessionDeleted => c"session logged off",
            smbh_status::TreeDeleted => c"tree connect disconnected",
            smbh_status::DeletePending => c"file is delete-pending",
            smbh_status::AccessDenied => c"access denied",
            smbh_status::BreakPending => c"the open waits for break acknowledgements",
            smbh_status::LeaseNotFound => c"lease not found",
            smbh_status::NotBreaking => c"lease is not being broken",
            smbh_status::AckNotAccepted => c"acknowledged more than the break offered",
            smbh_status::NoOplockBreak => c"no oplock break outstanding",
            smbh_status::FileNotAvailable => c"the file has a disconnected persistent open",
            smbh_status::DuplicateCreateGuid => c"create GUID in use by another client",
            smbh_status::StoreFailed => c"the store did not take the change",
            smbh_status::NoDurableOpen => c"no disconnected durable open matches",
        }
    }
}

/// The message of a status: a static, NUL-terminated string, never NULL,
/// never to be freed. Any value is accepted; unknown values give
/// "unknown status".
#[no_mangle]
pub extern "C" fn smbh_status_message(status: u32) -> *const c_char {
    ffi_boundary! {
        match smbh_status::ALL.get(status as usize) {
            Some(s) => s.message().as_ptr(),
            None => c"unknown status".as_ptr(),
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
/// table, STATUS_USER_SESSION_DELETED (0xC0000203),
/// STATUS_NETWORK_NAME_DELETED (0xC00000C9), STATUS_DELETE_PENDING
/// (0xC0000056), STATUS_ACCESS_DENIED (0xC0000022),
/// STATUS_INVALID_PARAMETER for bad input, and
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
        smbh_status::SessionDeleted => ntstatus::USER_SESSION_DELETED,
        smbh_status::TreeDeleted => ntstatus::NETWORK_NAME_DELETED,
        smbh_status::DeletePending => ntstatus::DELETE_PENDING,
        smbh_status::AccessDenied => ntstatus::ACCESS_DENIED,
        smbh_status::BreakPending => ntstatus::PENDING,
        smbh_status::LeaseNotFound => AckError::LeaseNotFound.nt_status(),
        smbh_status::NotBreaking => AckError::NotBreaking.nt_status(),
        smbh_status::AckNotAccepted => AckError::NotAccepted.nt_status(),
        smbh_status::NoOplockBreak => AckError::NoOplockBreak.nt_status(),
        smbh_status::FileNotAvailable => ntstatus::FILE_NOT_AVAILABLE,
        smbh_status::DuplicateCreateGuid => ntstatus::DUPLICATE_OBJECTID,
        smbh_status::StoreFailed => ntstatus::INSUFFICIENT_RESOURCES,
        smbh_status::NoDurableOpen => ntstatus::OBJECT_NAME_NOT_FOUND,
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

impl From<OpenError> for smbh_status {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::PathTooLong { .. } => smbh_status::PathTooLong,
            OpenError::PathContainsNul => smbh_status::ContainsNul,
            OpenError::OwnerContainsNul => smbh_status::OwnerContainsNul,
            OpenError::OwnerTooLong { .. } => smbh_status::OwnerTooLong,
            OpenError::ReservedAccessBits { .. } => smbh_status::ReservedAccessBits,
            OpenError::TableFull { .. } => smbh_status::TableFull,
            OpenError::SharingViolation => smbh_status::SharingViolation,
            OpenError::SessionDeleted => smbh_status::SessionDeleted,
            OpenError::TreeDeleted => smbh_status::TreeDeleted,
            OpenError::DeletePending => smbh_status::DeletePending,
            OpenError::DeleteOnCloseDenied | OpenError::LeaseKeyInUse => {
                smbh_status::InvalidArgument
            }
            OpenError::BreakPending { .. } => smbh_status::BreakPending,
            OpenError::FileNotAvailable => smbh_status::FileNotAvailable,
            OpenError::DuplicateCreateGuid => smbh_status::DuplicateCreateGuid,
            OpenError::StoreFailed => smbh_status::StoreFailed,
        }
    }
}

impl From<ReconnectError> for smbh_status {
    fn from(e: ReconnectError) -> Self {
        match e {
            ReconnectError::NotFound => smbh_status::NoDurableOpen,
            ReconnectError::AccessDenied => smbh_status::AccessDenied,
            ReconnectError::TreeDeleted => smbh_status::TreeDeleted,
            ReconnectError::StoreFailed => smbh_status::StoreFailed,
        }
    }
}

impl From<DispositionError> for smbh_status {
    fn from(e: DispositionError) -> Self {
        match e {
            DispositionError::NotFound => smbh_status::NotFound,
            DispositionError::AccessDenied => smbh_status::AccessDenied,
        }
    }
}

impl From<CloseError> for smbh_status {
    fn from(e: CloseError) -> Self {
        match e {
            CloseError::NotFound => smbh_status::NotFound,
            CloseError::InvalidLocation | CloseError::MissingLocation => {
                smbh_status::InvalidLocation
            }
            CloseError::StoreFailed => smbh_status::StoreFailed,
        }
    }
}

impl From<LockError> for smbh_status {
    fn from(e: LockError) -> Self {
        match e {
            LockError::NotFound => smbh_status::NotFound,
            LockError::OutOfRange { .. } => smbh_status::LockCountOutOfRange,
        }
    }
}

impl From<RenameError> for smbh_status {
    fn from(e: RenameError) -> Self {
        match e {
            RenameError::PathTooLong { .. } => smbh_status::PathTooLong,
            RenameError::PathContainsNul => smbh_status::ContainsNul,
        }
    }
}

impl From<ListError> for smbh_status {
    fn from(e: ListError) -> Self {
        match e {
            ListError::InvalidCursor => smbh_status::InvalidCursor,
            ListError::ZeroLimit => smbh_status::InvalidArgument,
        }
    }
}

impl From<RequestError> for smbh_status {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::TooLarge { .. }
            | RequestError::TooManyElements
            | RequestError::NotAnArray { .. } => smbh_status::InvalidRequest,
        }
    }
}

impl From<ConfigError> for smbh_status {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Shards(_) | ConfigError::MaxHandles(_) => smbh_status::InvalidArgument,
        }
    }
}

impl From<LockRangeError> for smbh_status {
    fn from(e: LockRangeError) -> Self {
        match e {
            LockRangeError::NotFound => smbh_status::NotFound,
            LockRangeError::InvalidRange { .. } => smbh_status::InvalidLockRange,
            LockRangeError::NotGranted { .. } => smbh_status::LockNotGranted,
            LockRangeError::TooManyLocks { .. } => smbh_status::TooManyLocks,
            LockRangeError::Directory => smbh_status::DirectoryHandle,
        }
    }
}

impl From<UnlockError> for smbh_status {
    fn from(e: UnlockError) -> Self {
        match e {
            UnlockError::NotFound => smbh_status::NotFound,
            UnlockError::RangeNotLocked { .. } => smbh_status::RangeNotLocked,
            UnlockError::Directory => smbh_status::DirectoryHandle,
        }
    }
}

impl From<IoError> for smbh_status {
    fn from(e: IoError) -> Self {
        match e {
            IoError::NotFound => smbh_status::NotFound,
            IoError::IoConflict => smbh_status::FileLockConflict,
            IoError::InvalidRange => smbh_status::InvalidArgument,
            IoError::Directory => smbh_status::DirectoryHandle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_and_messages_line_up() {
        for (i, s) in smbh_status::ALL.iter().enumerate() {
            assert_eq!(*s as u32, i as u32);
            assert!(!s.message().to_bytes().is_empty());
        }
        assert_eq!(smbh_status::NotFound.message().to_str(), Ok("handle not found"));
        assert_eq!(
            smbh_status::PathTooLong.message().to_str().unwrap(),
            crate::OpenError::PathTooLong { len: 0 }.to_string()
        );
        assert_eq!(
            smbh_status::OwnerTooLong.message().to_str().unwrap(),
            crate::OpenError::OwnerTooLong { len: 0 }.to_string()
        );
    }

    /// The C status of every Rust error answers the NTSTATUS the Rust
    /// error itself gives.
    #[test]
    fn nt_status_agrees_with_the_rust_errors() {
        fn agree<E: std::fmt::Debug + Into<smbh_status>>(e: E, nt: u32) {
            let what = format!("{e:?}");
            let s: smbh_status = e.into();
            assert_eq!(smbh_status_nt(s as u32), nt, "{what} as {s:?}");
        }
        for e in [
            OpenError::PathTooLong { len: 40000 },
            OpenError::PathContainsNul,
            OpenError::OwnerTooLong { len: 2000 },
            OpenError::OwnerContainsNul,
            OpenError::ReservedAccessBits { bits: 1 << 21 },
            OpenError::SharingViolation,
            OpenError::TableFull { max_handles: 1 },
            OpenError::SessionDeleted,
            OpenError::TreeDeleted,
        ] {
            let nt = e.nt_status();
            agree(e, nt);
        }
        for e in [
            ReconnectError::NotFound,
            ReconnectError::AccessDenied,
            ReconnectError::TreeDeleted,
            ReconnectError::StoreFailed,
        ] {
            let nt = e.nt_status();
            agree(e, nt);
        }
        for e in [CloseError::NotFound, CloseError::InvalidLocation, CloseError::MissingLocation] {
            let nt = e.nt_status();
            agree(e, nt);
        }
        for e in [LockError::NotFound, LockError::OutOfRange { current: 0, delta: -1 }] {
            let nt = e.nt_status();
            agree(e, nt);
        }
        for e in [
            LockRangeError::NotFound,
            LockRangeError::InvalidRange { index: 0 },
            LockRangeError::NotGranted { index: 0 },
            LockRangeError::TooManyLocks { index: 0 },
            LockRangeError::Directory,
        ] {
            let nt = e.nt_status();
            agree(e, nt);
        }
        for e in [
            UnlockError::NotFound,
            UnlockError::RangeNotLocked { index: 0 },
            UnlockError::Directory,
        ] {
            let nt = e.nt_status();
            agree(e, nt);
        }
        for e in [IoError::NotFound, IoError::IoConflict, IoError::InvalidRange, IoError::Directory]
        {
            let nt = e.nt_status();
            agree(e, nt);
        }
        assert_eq!(smbh_status_nt(0), 0);
        assert_eq!(smbh_status_nt(999), 0xC000_0001);
    }
}
