//! One error type per operation, each with a hand-written `Display` whose
//! text is the message used in JSON and through the C ABI.

use std::error::Error;
use std::fmt;

use crate::record::{MAX_OWNER_LEN, MAX_PATH_LEN};

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
    /// The table already holds `max_handles` handles, or every slot it can
    /// address is in use or retired.
    TableFull {
        /// The configured limit.
        max_handles: usize,
    },
}

impl OpenError {
    /// True for a full table, false for bad input.
    pub fn is_table_full(&self) -> bool {
        matches!(self, OpenError::TableFull { .. })
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
            OpenError::TableFull { max_handles } => {
                write!(f, "table full: {max_handles} handles open")
            }
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
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseError::NotFound => "handle not found",
            CloseError::InvalidLocation => "invalid location",
            CloseError::MissingLocation => "missing location",
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
    /// The body is larger than [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES).
    TooLarge {
        /// The body's size in bytes.
        len: usize,
    },
    /// The array has more than [`MAX_REQUEST_ELEMENTS`](crate::MAX_REQUEST_ELEMENTS) elements.
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
            RequestError::TooLarge { len } => write!(
                f,
                "request body of {len} bytes is larger than {} bytes",
                crate::json::MAX_REQUEST_BYTES
            ),
            RequestError::TooManyElements => write!(
                f,
                "request body has more than {} elements",
                crate::json::MAX_REQUEST_ELEMENTS
            ),
            RequestError::NotAnArray { detail } => {
                write!(f, "request body must be a JSON array of file handles: {detail}")
            }
        }
    }
}

impl Error for RequestError {}

/// Why [`HandleTable::try_with_config`](crate::HandleTable::try_with_config)
/// refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `shards` was 0 or more than [`MAX_SHARDS`](crate::MAX_SHARDS).
    Shards(usize),
    /// `max_handles` was 0 or more than the shards can address.
    MaxHandles(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Shards(n) => {
                write!(f, "shards must be 1..={}, not {n}", crate::location::MAX_SHARDS)
            }
            ConfigError::MaxHandles(n) => write!(
                f,
                "max_handles must be at least 1 and at most what the shards can address, not {n}"
            ),
        }
    }
}

impl Error for ConfigError {}

/// A location's text form was malformed (not 1 to 16 hex digits, or a value
/// never issued: 0 or all ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLocationError(pub(crate) ());

impl fmt::Display for ParseLocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid location")
    }
}

impl Error for ParseLocationError {}

/// A cursor's text form was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCursorError(pub(crate) ());

impl fmt::Display for ParseCursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid cursor")
    }
}

impl Error for ParseCursorError {}

/// An access mask name was not one of the `MS_ACCESS_*` names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessMaskError {
    /// The name that was not recognised.
    UnknownName(String),
}

impl fmt::Display for AccessMaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessMaskError::UnknownName(n) => write!(f, "unknown access mask name {n:?}"),
        }
    }
}

impl Error for AccessMaskError {}
