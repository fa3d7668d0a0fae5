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
//! Handles are spread over shards by file number (so every per-file query,
//! share check and lock touches one shard); each shard is a
//! `parking_lot::RwLock` padded to its own cache lines. A shard keeps
//! 64-byte handle slots, one cache line each (reused most recently freed
//! first, each with a generation), which also hold the file's number, path
//! and delete-pending state, so a `get` reads one slot; an open-addressing
//! index from file number to the slot of a file's only open or, for a file
//! with several opens, any lock or a lease, to its record, with the
//! share-mode counts, the member list, an interval tree of byte-range locks
//! and the leases; and an interner for owner strings. See the [`location`]
//! module for the bit layout of a location.
//!
//! # Share modes and byte-range locks
//!
//! [`HandleTable::open`] refuses an open whose share mode conflicts with
//! another open of the file ([`OpenError::SharingViolation`]);
//! [`HandleTable::lock`], [`HandleTable::unlock`] and
//! [`HandleTable::check_io`] manage byte-range locks as an SMB2 server must,
//! answering as Samba's smbd does. Every error a server forwards to a client
//! has `nt_status()`.
//!
//! # The contract
//!
//! The behaviour users rely on, section by section (data model, locations,
//! access masks, operations, JSON, C ABI, per-file state, share modes,
//! byte-range locks and NTSTATUS codes), is the page [`contract`] (`docs/contract.md` in the package).
//! Changes between releases are in `CHANGELOG.md`.
//!
//! # Feature flags
//!
//! * `admin` (off by default): the [`admin`] module, Qumulo's
//!   `/v1/smb/files` REST endpoint over a Unix socket and over TCP with TLS,
//!   for the vendor's `qq` CLI, and its C functions `smbh_admin_start` and
//!   `smbh_admin_stop`. It pulls in tokio, hyper and rustls.
//! * `store` (off by default): the [`store`] module, the persistent-handle
//!   store beneath the table: records of persistent opens in SQLite (bundled)
//!   with group commit (`docs/store.md`). It pulls in rusqlite and crc32fast.
//!
//! # Use from C and C++
//!
//! The [`ffi`] module is the C ABI of the committed header
//! `include/smb_handles.h`; `include/smb_handles.hpp` wraps it for C++17.
//! [cargo-c](https://crates.io/crates/cargo-c) installs the library the way
//! C builds expect it (`scripts/install-c.sh` does the same without
//! cargo-c):
//!
//! ```text
//! cargo cinstall --release --prefix=/usr/local   # add --features admin for smbh_admin_*
//! cc server.c $(pkg-config --cflags --libs smb_handles)
//! ```
//!
//! It installs `libsmb_handles.so` (SONAME `libsmb_handles.so.0.1` for
//! every 0.1.x), `libsmb_handles.a`, `smb_handles.pc`, the two headers, and
//! a CMake package (`find_package(smb_handles)`, target
//! `smb_handles::smb_handles`).
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (`rust-version` in Cargo.toml), with or without `admin`: CI
//! checks the library with that toolchain and the committed `Cargo.lock`
//! (`scripts/msrv.sh`). Newer releases of some dependencies need a newer
//! Rust; resolving with Cargo's MSRV-aware resolver keeps to older ones.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The model, bottom layer: limits, ids, masks, share modes, lock ranges,
// records and errors.
mod access;
mod config;
mod durable;
mod error;
mod lease;
mod limits;
pub mod location;
mod lock;
mod paging;
mod record;
mod session;
mod share;
// Storage: one shard's slots, file records, index, owners and locks.
mod shard;
// The table's locks and atomics (loom's for model checking, tests/loom.rs).
mod sync;
// The table: shards behind padded locks.
mod table;
mod words;
// On top: JSON, the C ABI and the admin endpoint.
#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
pub mod cluster;
pub mod ffi;
pub mod json;
// Beneath the table: the persistent-handle store (issue 17).
#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub mod store;

#[doc = include_str!("../docs/contract.md")]
pub mod contract {}

pub use access::{AccessMask, AccessMaskError, RESERVED_ACCESS_BITS};
pub use config::{Config, ConfigError};
pub use durable::{
    AppInstanceId, CreateGuid, DurableGrant, DurableInfo, DurableRequest, DurableSpec,
    PersistentId, ReconnectError, ReconnectSpec, Reconnected, DEFAULT_DURABLE_TIMEOUT,
    MAX_DURABLE_TIMEOUT,
};
pub use error::{
    ntstatus, CloseError, DispositionError, IoError, ListError, LockError, LockRangeError,
    OpenError, RenameError, RequestError, UnlockError,
};
pub use lease::{
    AckError, Break, BreakTarget, CacheRequest, ClientGuid, LeaseGrant, LeaseKey, LeaseRequest,
    LeaseState, OpenOutcome, Opened, OplockLevel, PendingId, DEFAULT_BREAK_TIMEOUT,
};
pub use limits::{
    DEFAULT_LIST_LIMIT, DEFAULT_MAX_HANDLES, MAX_LIST_LIMIT, MAX_OWNER_LEN, MAX_PATH_LEN,
    MAX_REQUEST_BYTES, MAX_REQUEST_ELEMENTS, MAX_SHARE_NAME_LEN,
};
pub use location::{Location, ParseLocationError, MAX_GENERATION, MAX_SHARDS};
pub use lock::{IoKind, LockElement, LockKind, LockRange};
pub use paging::{Cursor, ListQuery, Page, ParseCursorError};
pub use record::{FileHandle, FileNumber, HandleInfo, OpenSpec, SpecStr};
pub use session::{
    CloseOutcome, Domain, Selector, SessionError, SessionId, SessionInfo, SessionPage,
    SessionQuery, SessionSpec, TreeId, TreeInfo, User,
};
pub use share::{map_generic, ShareAccess};
pub use table::{
    BreakHook, CompletionHook, GrantMode, HandleTable, LockCursor, LockGrant, LockListKind,
    LockPage, LockQuery, ParseLockCursorError, UnlockHook,
};
#[cfg(feature = "store")]
pub use table::{RecoverError, Recovered};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
