//! The persistent-handle store, the layer beneath the table (issue 17).
//!
//! A persistent SMB open must survive a crashed server: the open, its
//! byte-range locks and its reconnect identity ([`StoredOpen`]) are written
//! to a [`HandleStore`] before the open is acknowledged, and after a crash
//! the table is rebuilt from [`HandleStore::load`].
//!
//! * [`HandleStore`]: what the table needs from a store; [`SqliteStore`]
//!   keeps records in one SQLite file, [`MemoryStore`] in memory (tests),
//!   and a cluster store can implement it later.
//! * [`GroupCommit`]: combines the ops of concurrent callers into one
//!   [`HandleStore::commit`] (one sync); [`GroupCommit::enqueue`] is cheap
//!   and non-blocking, [`Ticket::wait`] blocks until the op is durable.
//!
//! Why SQLite, and what it costs, measured: `docs/store.md`.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use smb_handles::store::{GroupCommit, HandleStore, MemoryStore, StoreOp, StoredOpen};
//!
//! let store = Arc::new(MemoryStore::new());
//! let group = GroupCommit::new(store.clone())?;
//! let open = StoredOpen::new(7, 4242, "/projects/q3/report.xlsx", "S-1-5-32-544");
//! // Under the table's shard lock: cheap, keeps the order of the table.
//! let ticket = group.enqueue(StoreOp::Put(open.clone()));
//! // After releasing it: wait until the open is durable, then acknowledge.
//! ticket.wait()?;
//! assert_eq!(store.load()?.opens, vec![open]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod group;
mod memory;
mod record;
mod sqlite;

pub use error::StoreError;
pub use group::{GroupCommit, Ticket};
pub use memory::MemoryStore;
pub use record::{
    DecodeError, EncodeError, StoredLock, StoredOpen, FORMAT_VERSION, MAX_STORED_LOCKS,
};
pub use sqlite::SqliteStore;

/// What the table needs from a store of persistent opens.
///
/// Implementations must be safe to call from many threads; [`GroupCommit`]
/// calls [`commit`](HandleStore::commit) from one thread at a time.
pub trait HandleStore: Send + Sync + std::fmt::Debug + 'static {
    /// Applies the batch atomically and durably (on disk / in the cluster
    /// when it returns), in order: a later op on the same id wins.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the batch could not be made durable; then none
    /// of it is applied.
    fn commit(&self, batch: &[StoreOp]) -> Result<(), StoreError>;

    /// Everything the store holds: intact records, and what could not be
    /// read.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read at all.
    fn load(&self) -> Result<Recovery, StoreError>;
}

/// One change to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// Writes the open (insert or replace), keyed by its `persistent_id`.
    Put(StoredOpen),
    /// Removes the open with this persistent id (absent: no change).
    Remove(u64),
}

impl StoreOp {
    /// The persistent id the op is about.
    pub fn persistent_id(&self) -> u64 {
        match self {
            StoreOp::Put(open) => open.persistent_id,
            StoreOp::Remove(id) => *id,
        }
    }
}

/// What [`HandleStore::load`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The intact records, in ascending persistent id.
    pub opens: Vec<StoredOpen>,
    /// What could not be read, in the order found.
    pub damaged: Vec<Damage>,
}

/// A record, or part of the store, that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Damage {
    /// The key of the damaged record; `None` when the damage is not in one
    /// record (the rest of the table could not be read).
    pub key: Option<u64>,
    /// Why.
    pub reason: DamageReason,
}

/// Why a [`Damage`] could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageReason {
    /// The record's bytes are not a valid, intact encoding.
    Record(DecodeError),
    /// The store stopped reading here (e.g. a malformed database page); the
    /// message is the database's.
    Scan(String),
    /// The store holds another number of records than it counted: some
    /// were lost (a truncated file) and cannot be named, or rows were
    /// written behind the store's back.
    Count {
        /// The count kept with the records, in the same transactions.
        counted: u64,
        /// The records found (intact or damaged).
        found: u64,
    },
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key {
            Some(key) => write!(f, "persistent id {key:016x}: ")?,
            None => f.write_str("store: ")?,
        }
        match &self.reason {
            DamageReason::Record(e) => write!(f, "{e}"),
            DamageReason::Scan(msg) => write!(f, "scan stopped: {msg}"),
            DamageReason::Count { counted, found } => {
                write!(f, "{counted} records were stored, {found} found")
            }
        }
    }
}

/// Sorts decoded rows into [`Recovery`]: a record whose id differs from
/// its key is damage, not a handle.
pub(crate) fn sort_row(recovery: &mut Recovery, key: u64, value: Result<StoredOpen, DecodeError>) {
    let reason = match value {
        Ok(open) if open.persistent_id == key => {
            recovery.opens.push(open);
            return;
        }
        Ok(open) => DecodeError::KeyMismatch { stored_id: open.persistent_id },
        Err(e) => e,
    };
    recovery.damaged.push(Damage { key: Some(key), reason: DamageReason::Record(reason) });
}
