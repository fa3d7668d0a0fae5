//! Persistent handles: the table over a store (feature `store`). A
//! persistent open, each change of its locks, its reconnect and its close
//! are put in the store's queue under the shard lock that made them (so the
//! store sees one handle's changes in the table's order) and waited for
//! after that lock, before the caller is answered; a table built by
//! [`HandleTable::with_store`] holds every open the store holds, each at its
//! location, disconnected and waiting for its client.

use std::sync::Arc;
use std::time::Instant;

use crate::access::AccessMask;
use crate::config::{Config, ConfigError};
use crate::durable::{AppInstanceId, CreateGuid, DurableGrant, PersistentId};
use crate::lease::{ClientGuid, LeaseKey};
use crate::location::Location;
use crate::lock::{LockElement, LockKind};
use crate::record::{FileNumber, OpenArgs, StrArg};
use crate::shard::Shard;
use crate::share::ShareAccess;
use crate::store::{GroupCommit, HandleStore, StoreError, StoreOp, StoredLock, StoredOpen};

use super::durable::Rec;
use super::HandleTable;

/// The claim on a store op the caller waits for after the shard lock.
pub(crate) type Ticket = crate::store::Ticket;

/// What [`HandleTable::with_store`] rebuilt.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Recovered {
    /// Persistent opens restored, disconnected.
    pub restored: usize,
    /// Records the store could not read (damaged), as it reported them.
    pub damaged: Vec<crate::store::Damage>,
    /// Records read but not restored: their persistent id and why (a
    /// location the table cannot hold, a share conflict with an open
    /// restored before, a lock that conflicts, a full table).
    pub refused: Vec<(u64, &'static str)>,
}

/// Why [`HandleTable::with_store`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecoverError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The store could not be read, or its committer not started.
    Store(StoreError),
}

impl std::fmt::Display for RecoverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoverError::Config(e) => write!(f, "invalid configuration: {e}"),
            RecoverError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for RecoverError {}

impl HandleTable {
    /// A table over `store`: every persistent open the store holds is
    /// restored at its location, with its locks, disconnected (its timeout
    /// counts from now), for its client to reconnect; from then on the
    /// table grants persistent handles and keeps the store up to date.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use smb_handles::*;
    /// use smb_handles::store::MemoryStore;
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let (table, _) = HandleTable::with_store(Config::default(), store.clone())?;
    /// let client = ClientGuid(7);
    /// let d = DurableSpec::v2(client, CreateGuid(1), Duration::from_secs(60)).persistent(true);
    /// let OpenOutcome::Opened(o) = table.open_cached(
    ///     OpenSpec::new(FileNumber(9), "/vm.vhdx", "S-1-5-21-1-1104", AccessMask::FILE_READ_DATA).durable(d))? else { unreachable!() };
    /// assert!(o.durable.unwrap().persistent); // in the store before this answer
    /// drop(table); // the process dies
    ///
    /// let (again, recovered) = HandleTable::with_store(Config::default(), store)?;
    /// assert_eq!(recovered.restored, 1);
    /// assert!(again.get(o.location).unwrap().handle_info.disconnected);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RecoverError`] when the configuration is invalid or the store
    /// cannot be read; records it cannot decode are reported in
    /// [`Recovered::damaged`] instead.
    pub fn with_store(
        config: Config,
        store: Arc<dyn HandleStore>,
    ) -> Result<(HandleTable, Recovered), RecoverError> {
        let mut table = HandleTable::try_with_config(config).map_err(RecoverError::Config)?;
        let loaded = store.load().map_err(RecoverError::Store)?;
        let mut out = Recovered { damaged: loaded.damaged, ..Recovered::default() };
        let mut opens = loaded.opens;
        // Per shard, ascending slots: each slot is taken fresh.
        opens.sort_by_key(|o| o.location & 0xFFFF_FFFF);
        let now = Instant::now();
        table.reserve_durable(opens.len());
        for o in &opens {
            match table.take_in(o, now, true) {
                Ok(_) => out.restored += 1,
                Err(why) => out.refused.push((o.persistent_id, why)),
            }
        }
        table.reserved.store(out.restored, crate::sync::Ordering::Relaxed);
        table.store = Some(GroupCommit::new(store).map_err(RecoverError::Store)?);
        Ok((table, out))
    }

    /// Takes in a persistent open another table stored (a node of a
    /// cluster that died, or a server whose store moved here): restored
    /// with its share mode, locks and reconnect identity, disconnected (its
    /// timeout counting from now), at a new location of this table, for its
    /// client to reconnect with its persistent id. It is not written to
    /// this table's store: the caller does that with the move of the
    /// record (the cluster, in the etcd transaction that takes it from the
    /// dead node), and closes the handle if the move fails.
    ///
    /// # Errors
    ///
    /// Why it could not be taken in: its persistent id is in use here, the
    /// table is full, its share mode or a lock conflicts with an open
    /// here, or the record is not one this table can hold.
    pub fn adopt(&self, open: &StoredOpen) -> Result<Location, &'static str> {
        let id = PersistentId(open.persistent_id);
        if self.holds_persistent_id(id) {
            return Err("its persistent id is in use in this table");
        }
        self.take_in(open, Instant::now(), false)
    }

    /// Restores one stored open: at its own location (`at_own`: a
    /// recovery), or at a new one (an adoption).
    fn take_in(
        &self,
        o: &StoredOpen,
        now: Instant,
        at_own: bool,
    ) -> Result<Location, &'static str> {
        let own = Location::from_raw(o.location).ok_or("not a location")?;
        let shard = self.shards.get(own.shard()).ok_or("a shard this table does not have")?;
        let loc = own;
        // A file's handles live in its file's shard (share modes and locks
        // are checked there): a record in another one (a table configured
        // with another shard count) cannot be restored where it was.
        if crate::shard::shard_of(FileNumber(o.file_number), self.shards.len()) != loc.shard() {
            return Err("its file belongs to another shard of this table (another shard count?)");
        }
        if self.reserved.load(crate::sync::Ordering::Relaxed)
            + shard.live.load(crate::sync::Ordering::Relaxed)
            >= self.max_handles
        {
            return Err("the table is full");
        }
        let cache = crate::lease::CacheRequest::None;
        let args = OpenArgs {
            file_number: FileNumber(o.file_number),
            path: StrArg::Borrowed(&o.path),
            owner: StrArg::Borrowed(&o.owner),
            access_mask: AccessMask::from_bits_retain(o.access),
            share_access: ShareAccess::from_bits_truncate(o.share),
            directory: o.directory,
            tree: None,
            delete_on_close: false,
            cache: &cache,
            overwrite: false,
            durable: None,
        };
        args.validate().map_err(|_| "a path, owner or access mask the table refuses")?;
        let mut g = shard.lock.write();
        let loc = if at_own {
            if !g.restore(loc, &args) {
                return Err("its slot is taken, or its share mode conflicts");
            }
            loc
        } else {
            g.adopt(&args).ok_or("the shard is full, or its share mode conflicts")?
        };
        shard.count(1);
        for l in &o.locks {
            let kind = if l.exclusive { LockKind::Exclusive } else { LockKind::Shared };
            let el = LockElement { offset: l.offset, length: l.length, kind };
            if g.lock(loc, &[el]).result.is_err() {
                // Not restored after all: nothing else knows of it yet.
                let closed = g.close::<super::QuietClose>(loc);
                let garbage = g.take_all_garbage();
                shard.count(-1);
                drop(g);
                drop((closed, garbage)); // after the lock
                return Err("a lock conflicts with one restored before");
            }
        }
        let guid = |g: [u8; 16]| u128::from_le_bytes(g);
        let rec = Rec {
            loc,
            file: FileNumber(o.file_number),
            owner: g.owner_of(loc).expect("just restored"),
            client: ClientGuid(guid(o.client_guid)),
            create_guid: (o.create_guid != [0; 16]).then(|| CreateGuid(guid(o.create_guid))),
            app_instance: o.app_instance_id.map(|a| AppInstanceId(guid(a))),
            lease: o.lease_key.map(|k| (ClientGuid(guid(o.client_guid)), LeaseKey(guid(k)))),
            grant: DurableGrant {
                persistent_id: PersistentId(o.persistent_id),
                timeout: std::time::Duration::from_millis(u64::from(o.timeout_ms)),
                persistent: true,
            },
            deadline: None,
        };
        self.register_restored(rec, now);
        drop(g);
        Ok(loc)
    }

    /// True when the table keeps persistent handles (it has a store).
    pub(crate) fn persists(&self) -> bool {
        self.store.is_some()
    }

    /// Queues the current state of the persistent handle at `loc` (under
    /// its shard's lock `g`).
    pub(crate) fn persist_put(&self, g: &Shard, loc: Location, rec: &Rec) -> Option<Ticket> {
        let store = self.store.as_ref()?;
        let h = g.get(loc)?;
        let info = &h.handle_info;
        let mut o = StoredOpen::new(
            rec.grant.persistent_id.0,
            h.file_number.0,
            info.path.as_deref().unwrap_or(""),
            &*info.owner,
        );
        o.location = loc.as_u64();
        o.access = info.access_mask.bits();
        o.share = g.share_bits(loc).unwrap_or(0);
        o.directory = info.directory;
        o.create_guid = rec.create_guid.map_or([0; 16], |c| c.0.to_le_bytes());
        o.client_guid = rec.client.0.to_le_bytes();
        o.app_instance_id = rec.app_instance.map(|a| a.0.to_le_bytes());
        o.lease_key = rec.lease.map(|(_, k)| k.0.to_le_bytes());
        o.timeout_ms = u32::try_from(rec.grant.timeout.as_millis()).unwrap_or(u32::MAX);
        o.version = info.version;
        o.locks = g
            .handle_locks(loc)
            .unwrap_or_default()
            .into_iter()
            .map(|(offset, length, exclusive)| StoredLock::new(offset, length, exclusive))
            .collect();
        Some(store.enqueue(StoreOp::Put(o)))
    }

    /// Queues the removal of a closed persistent handle.
    pub(crate) fn persist_remove(&self, id: PersistentId) -> Option<Ticket> {
        Some(self.store.as_ref()?.enqueue(StoreOp::Remove(id.0)))
    }
}

/// Waits for a queued store op; false when the store failed.
pub(crate) fn settle(t: Option<Ticket>) -> bool {
    t.is_none_or(|t| t.wait().is_ok())
}

/// Syncs (store commits) and ops so far, for benchmarks and tests: what
/// group commit saved.
impl HandleTable {
    /// The store's commits (syncs) and the ops they held so far; `None`
    /// without a store.
    pub fn store_counters(&self) -> Option<(u64, u64)> {
        self.store.as_ref().map(|s| (s.commits(), s.ops()))
    }
}
