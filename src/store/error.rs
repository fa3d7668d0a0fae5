//! The store's one error type.

use std::fmt;
use std::path::PathBuf;

use super::record::EncodeError;

/// Why a store operation failed.
///
/// `Clone`, because [`GroupCommit`](super::GroupCommit) hands one commit's
/// error to every ticket of the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or set up (missing directory, not
    /// a database, a damaged header, locked by another process).
    Open {
        /// The database file.
        path: PathBuf,
        /// The database's message.
        message: String,
    },
    /// The database refused an operation (I/O error, disk full, damaged
    /// page); the batch was not applied.
    Database {
        /// What was being done (`"commit"`, `"load"`).
        operation: &'static str,
        /// The database's message.
        message: String,
    },
    /// A record in the batch cannot be encoded; nothing was applied.
    Encode(EncodeError),
    /// The group committer's thread could not be started, or a commit
    /// panicked (the batch's tickets see this; later batches go on).
    Committer(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, message } => {
                write!(f, "cannot open handle store {}: {message}", path.display())
            }
            StoreError::Database { operation, message } => {
                write!(f, "handle store {operation} failed: {message}")
            }
            StoreError::Encode(e) => write!(f, "cannot store open: {e}"),
            StoreError::Committer(msg) => write!(f, "handle store group commit: {msg}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<EncodeError> for StoreError {
    fn from(e: EncodeError) -> StoreError {
        StoreError::Encode(e)
    }
}
