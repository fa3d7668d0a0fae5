//! Why a session or tree-connect operation was refused.

use std::error::Error;
use std::fmt;

use crate::error::ntstatus;
use crate::limits::{MAX_OWNER_LEN, MAX_SHARE_NAME_LEN};

/// Why a session, tree-connect or selector operation was refused. The table
/// is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The session id names no live session: logged off, stale, or never
    /// issued (STATUS_USER_SESSION_DELETED).
    SessionDeleted,
    /// The tree id names no live tree connect (STATUS_NETWORK_NAME_DELETED).
    TreeDeleted,
    /// A user's SID or name is longer than [`MAX_OWNER_LEN`] bytes or
    /// contains NUL.
    InvalidUser,
    /// A share name is empty, longer than [`MAX_SHARE_NAME_LEN`] bytes or
    /// contains NUL.
    InvalidShareName,
    /// A path prefix is empty, too long or contains NUL.
    InvalidPath,
    /// The table holds as many sessions (or tree connects) as it can.
    TooMany,
}

impl SessionError {
    /// The NTSTATUS an SMB2 server answers with.
    pub fn nt_status(&self) -> u32 {
        match self {
            SessionError::SessionDeleted => ntstatus::USER_SESSION_DELETED,
            SessionError::TreeDeleted => ntstatus::NETWORK_NAME_DELETED,
            SessionError::InvalidUser
            | SessionError::InvalidShareName
            | SessionError::InvalidPath => ntstatus::INVALID_PARAMETER,
            SessionError::TooMany => ntstatus::INSUFFICIENT_RESOURCES,
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::SessionDeleted => f.write_str("session not found"),
            SessionError::TreeDeleted => f.write_str("tree connect not found"),
            SessionError::InvalidUser => {
                write!(f, "user SID or name longer than {MAX_OWNER_LEN} bytes or containing NUL")
            }
            SessionError::InvalidShareName => write!(
                f,
                "share name empty, longer than {MAX_SHARE_NAME_LEN} bytes or containing NUL"
            ),
            SessionError::InvalidPath => {
                f.write_str("path prefix empty, too long or containing NUL")
            }
            SessionError::TooMany => f.write_str("too many sessions or tree connects"),
        }
    }
}

impl Error for SessionError {}
