//! The records the table stores and hands out: what an open asks for
//! ([`OpenSpec`]) and the snapshot of one handle ([`FileHandle`]).

use std::fmt;
use std::sync::Arc;

use crate::access::AccessMask;
use crate::error::{OpenError, RenameError};
use crate::location::Location;

/// The longest path an open or rename accepts, in bytes.
pub const MAX_PATH_LEN: usize = 32_767;
/// The longest owner an open accepts, in bytes.
pub const MAX_OWNER_LEN: usize = 1_024;

/// The file (inode) a handle is open on. Any `u64`; JSON writes it as a
/// decimal string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FileNumber(pub u64);

impl fmt::Display for FileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a server registers when a client opens a file.
///
/// Strings are `Arc<str>` so a server that already shares its path and owner
/// strings hands them over without a copy; `"text".into()` and
/// `String::into()` both work.
///
/// # Examples
///
/// ```
/// use smb_handles::{AccessMask, FileNumber, OpenSpec};
///
/// let spec = OpenSpec {
///     file_number: FileNumber(4242),
///     path: "/projects/q3/report.xlsx".into(),
///     owner: "S-1-5-21-1004336348-1177238915-682003330-1104".into(),
///     access_mask: AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE,
///     directory: false,
/// };
/// assert_eq!(spec.file_number, FileNumber(4242));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSpec {
    /// The file the handle is open on.
    pub file_number: FileNumber,
    /// The file's path as the server knows it (at most [`MAX_PATH_LEN`]
    /// bytes, no NUL).
    pub path: Arc<str>,
    /// The opener's identity: SID, auth id or name (at most
    /// [`MAX_OWNER_LEN`] bytes, no NUL).
    pub owner: Arc<str>,
    /// The access granted; reserved bits are refused.
    pub access_mask: AccessMask,
    /// True for a directory handle: chooses the directory names of aliased
    /// access bits in JSON.
    pub directory: bool,
}

impl OpenSpec {
    /// Checks every input limit of an open.
    pub(crate) fn validate(&self) -> Result<(), OpenError> {
        match check_path(&self.path) {
            Err(RenameError::PathTooLong { len }) => return Err(OpenError::PathTooLong { len }),
            Err(RenameError::PathContainsNul) => return Err(OpenError::PathContainsNul),
            Ok(()) => {}
        }
        if self.owner.len() > MAX_OWNER_LEN {
            return Err(OpenError::OwnerTooLong { len: self.owner.len() });
        }
        if self.owner.as_bytes().contains(&0) {
            return Err(OpenError::OwnerContainsNul);
        }
        let reserved = self.access_mask.reserved_bits();
        if reserved != 0 {
            return Err(OpenError::ReservedAccessBits { bits: reserved });
        }
        Ok(())
    }
}

/// Checks a path against the limits of an open or a rename.
pub(crate) fn check_path(path: &str) -> Result<(), RenameError> {
    if path.len() > MAX_PATH_LEN {
        Err(RenameError::PathTooLong { len: path.len() })
    } else if path.as_bytes().contains(&0) {
        Err(RenameError::PathContainsNul)
    } else {
        Ok(())
    }
}

/// A snapshot of one open handle, as listed, fetched or closed.
///
/// Serializes exactly as one element of Qumulo's `GET /v1/smb/files`
/// `file_handles` array (see [`crate::json`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHandle {
    /// The file the handle is open on.
    pub file_number: FileNumber,
    /// Everything else about the handle.
    pub handle_info: HandleInfo,
}

/// The per-handle part of a [`FileHandle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandleInfo {
    /// The handle's id.
    pub location: Location,
    /// 1 at open, +1 on every change to the record.
    pub version: u64,
    /// Byte-range locks currently held through this handle.
    pub num_byte_range_locks: u32,
    /// The access granted.
    pub access_mask: AccessMask,
    /// The opener's identity.
    pub owner: Arc<str>,
    /// The file's path; `None` when the listing did not resolve paths.
    pub path: Option<Arc<str>>,
    /// True for a directory handle (not serialized; picks access names).
    pub directory: bool,
}
