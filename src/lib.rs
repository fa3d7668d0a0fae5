//! # smb-handles
//!
//! An embeddable, in-process table of open SMB file handles for file servers
//! written in Rust, C or C++.
//!
//! The server registers every open; the table gives back a
//! generation-checked 64-bit [`Location`], keeps each handle's state (access
//! mask, byte-range lock count, owner, path), answers "what is open?" with
//! stable cursor paging, and force-closes handles one at a time or in
//! batches with one result per handle. Its JSON is exactly the shape of
//! Qumulo's REST API for open SMB files (`GET /v1/smb/files`,
//! `POST /v1/smb/files/close`), so a listing can be posted back to close.
//!
//! # Examples
//!
//! ```
//! use smb_handles::{AccessMask, FileNumber, HandleTable, ListQuery, OpenSpec, ShareAccess};
//!
//! let table = HandleTable::new();
//! let loc = table.open(
//!     OpenSpec::new(FileNumber(4242), "/projects/q3/report.xlsx",
//!                   "S-1-5-21-1004336348-1177238915-682003330-1104",
//!                   AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE)
//!         .share_access(ShareAccess::READ),            // others may read, not write or delete
//! )?;
//!
//! // An administrator lists what is open...
//! let page = table.list(&ListQuery { resolve_paths: true, ..ListQuery::default() })?;
//! let body = serde_json::to_vec(&page.file_handles)?;
//! // ...and posts the listing back to force-close it.
//! let response = table.close_batch_json(&body)?;
//! assert_eq!(response, br#"[{"error_message":""}]"#);
//! assert!(table.get(loc).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//!
//! * **Stale ids never name another handle.** A location carries a 32-bit
//!   generation (see [`location`]); once its handle is closed it is refused by
//!   every operation, even after its slot is reused. A slot whose generation
//!   would wrap is retired.
//! * **Paging is stable under change.** Every handle open for a whole walk is
//!   listed exactly once; one opened or closed during the walk at most once.
//! * **Concurrency.** The table is `Send + Sync`; of concurrent closes of one
//!   location exactly one succeeds. No callback runs under a lock.
//! * **Bad input never panics** and never changes the table.
//!
//! # Implementation
//!
//! Handles are spread over shards by file number (so every per-file query
//! touches one shard); each shard is a `parking_lot::RwLock` padded to its own
//! cache lines, guarding a slab of 64-byte slots in doubling pages, a FIFO
//! free list (the slot freed last is reused last) and a per-file list of
//! slots. See the [`location`] module for the bit layout.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

// The model, bottom layer: limits, ids, masks, share modes, lock ranges,
// records and errors.
mod access;
mod config;
mod error;
mod limits;
pub mod location;
mod lock;
mod paging;
mod record;
mod share;
// Storage: one shard's slots, file records, index, owners and locks.
mod shard;
// The table's locks and atomics (loom's for model checking, tests/loom.rs).
mod sync;
// The table: shards behind padded locks.
mod table;
// On top: JSON, the C ABI and the admin endpoint.
#[cfg(feature = "admin")]
pub mod admin;
pub mod ffi;
pub mod json;

pub use access::{AccessMask, AccessMaskError, RESERVED_ACCESS_BITS};
pub use config::{Config, ConfigError};
pub use error::{
    ntstatus, CloseError, IoError, ListError, LockError, LockRangeError, OpenError, RenameError,
    RequestError, UnlockError,
};
pub use limits::{
    DEFAULT_LIST_LIMIT, DEFAULT_MAX_HANDLES, MAX_LIST_LIMIT, MAX_OWNER_LEN, MAX_PATH_LEN,
    MAX_REQUEST_BYTES, MAX_REQUEST_ELEMENTS,
};
pub use location::{Location, ParseLocationError, MAX_GENERATION, MAX_SHARDS};
pub use lock::{IoKind, LockElement, LockKind, LockRange};
pub use paging::{Cursor, ListQuery, Page, ParseCursorError};
pub use record::{FileHandle, FileNumber, HandleInfo, OpenSpec};
pub use share::{map_generic, ShareAccess};
pub use table::{HandleTable, UnlockHook};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
