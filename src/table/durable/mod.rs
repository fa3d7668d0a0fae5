//! Durable handles in the table: the registry of reconnect identities
//! (by persistent id, create GUID, app instance and, while disconnected,
//! by file and deadline), the grant at open, disconnect, reconnect,
//! replay, app instance takeover and expiry.
//!
//! # Locks
//!
//! The registry's mutex is taken alone or under one shard's lock, never
//! the other way round. Every change of a durable handle's state (grant,
//! disconnect, reconnect, close) happens under its shard's lock, so a
//! reconnect racing an expiry or a conflicting open is decided by that
//! lock: whoever takes it first wins, and the loser finds a stale location.

use std::time::Instant;

use crate::durable::{
    DurableGrant, DurableInfo, DurableSpec, PersistentId, ReconnectError, ReconnectSpec,
    Reconnected,
};
use crate::error::OpenError;
use crate::lease::{CacheRequest, ClientGuid, LeaseKey, LeaseState, OplockLevel};
use crate::location::Location;
use crate::record::{FileHandle, FileNumber, OpenArgs};
use crate::session::{CloseOutcome, SessionError, SessionId};
use crate::shard::{CacheCtx, FileExt, Shard, NIL};
use crate::sync::Ordering;

use super::HandleTable;

mod registry;

use registry::{add_id, slot_key, IdList, Registry};

/// The disconnected durable opens an open closed under its shard's lock
/// ([`HandleTable::displace`]): their records, and what their files' records
/// freed, for the table to drop after the lock. Boxed where it is returned:
/// the common open displaces nothing and carries one word.
#[derive(Debug, Default)]
pub(crate) struct Displaced {
    closed: Vec<FileHandle>,
    garbage: Vec<FileExt>,
}

impl Displaced {
    /// True when the open closed nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.garbage.is_empty()
    }
}
pub(crate) use registry::{Durables, Rec};

/// What the open asks of the lease it comes with.
fn lease_of(a: &OpenArgs<'_>) -> Option<(ClientGuid, LeaseKey)> {
    match a.cache {
        CacheRequest::Lease(l) => Some((l.client, l.key)),
        _ => None,
    }
}

impl HandleTable {
    /// Grants the durability `a` asks for to the open just made at `loc`
    /// (under its shard's lock `g`), as MS-SMB2 §3.3.5.9.6 and §3.3.5.9.10
    /// say: never to a directory; persistent when asked and the table has
    /// a store; otherwise only with a batch oplock or a lease with handle
    /// caching.
    #[cold]
    #[inline(never)]
    pub(crate) fn grant_durable(
        &self,
        g: &mut Shard,
        loc: Location,
        a: &OpenArgs<'_>,
        d: &DurableSpec,
        ctx: &mut Option<CacheCtx>,
    ) {
        if a.directory {
            return;
        }
        let persistent = d.is_persistent() && self.persists();
        let (oplock, lease) =
            ctx.as_ref().map_or((OplockLevel::None, None), |c| (c.oplock, c.lease));
        let cached = oplock == OplockLevel::Batch
            || lease.is_some_and(|l| l.state.contains(LeaseState::HANDLE));
        if !persistent && !cached {
            return;
        }
        // A handle taken in from another table holds this persistent id
        // (HandleTable::adopt): this open is not made durable.
        if self.durables.reg.lock().aliases.contains_key(&PersistentId(loc.as_u64())) {
            return;
        }
        let grant = DurableGrant {
            persistent_id: PersistentId(loc.as_u64()),
            timeout: self.durables.timeout_for(d),
            persistent,
        };
        g.mark_durable(loc);
        // The interner's count of the owner: no copy of a borrowed one.
        let owner = g.owner_of(loc).expect("just opened");
        let rec = Rec {
            loc,
            file: a.file_number,
            owner,
            client: d.client,
            create_guid: d.create_guid(),
            app_instance: d.app_instance,
            lease: lease.and(lease_of(a)),
            grant,
            deadline: None,
        };
        let saved = persistent.then(|| rec.clone());
        self.register(rec);
        let ticket = saved.and_then(|rec| self.persist_put(g, loc, &rec));
        if let Some(c) = ctx.as_mut() {
            c.durable = Some(grant);
            c.ticket = ticket;
        }
    }

    /// Whether a durable handle of this table has persistent id `id`.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn holds_persistent_id(&self, id: PersistentId) -> bool {
        self.durables.reg.lock().rec(id).is_some()
    }

    /// Makes room for `n` restored handles at once (a recovery).
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn reserve_durable(&self, n: usize) {
        let mut reg = self.durables.reg.lock();
        reg.by_slot.reserve(n);
        reg.by_guid.reserve(n);
        reg.by_file.reserve(n);
    }

    /// Registers a handle restored from the store (under its shard's
    /// lock): disconnected, its timeout counting from `now`.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn register_restored(&self, mut rec: Rec, now: Instant) {
        let id = rec.grant.persistent_id;
        let deadline = now + rec.grant.timeout;
        rec.deadline = Some(deadline);
        let file = rec.file;
        let mut reg = self.register(rec);
        add_id(&mut reg.by_file, file, id);
        reg.deadlines.insert((deadline, id));
        self.durables.disconnected.fetch_add(1, Ordering::Relaxed);
    }

    /// Puts `rec` in the registry, indexed by slot, create GUID and app
    /// instance; returns the registry's guard, still held.
    fn register(&self, rec: Rec) -> impl std::ops::DerefMut<Target = Registry> + '_ {
        let id = rec.grant.persistent_id;
        let mut reg = self.durables.reg.lock();
        if let Some(gd) = rec.create_guid {
            reg.by_guid.insert(gd, id);
        }
        if let Some(app) = rec.app_instance {
            add_id(&mut reg.by_app, app, id);
            self.durables.with_app.fetch_add(1, Ordering::Relaxed);
        }
        let key = slot_key(rec.loc.as_u64());
        if key != slot_key(id.0) {
            reg.aliases.insert(id, key);
        }
        reg.by_slot.insert(key, rec);
        reg
    }

    /// Queues the state of the handle at `loc` for the store when it is a
    /// persistent handle (under its shard's lock `g`): after a lock or an
    /// unlock.
    pub(crate) fn persist_update(&self, g: &Shard, loc: Location) -> Option<super::Ticket> {
        if !self.persists() || !g.is_durable(loc) {
            return None;
        }
        let rec = {
            let reg = self.durables.reg.lock();
            reg.at(loc)?.clone()
        };
        if !rec.grant.persistent {
            return None;
        }
        self.persist_put(g, loc, &rec)
    }

    /// Before a durable open: a replay of a create GUID this client already
    /// has answers that open (`Ok(Some)`); one another client has is
    /// refused; an app instance id closes the other clients' opens of the
    /// same file with that id (MS-SMB2 §3.3.5.9.13).
    #[cold]
    #[inline(never)]
    pub(crate) fn durable_preflight(
        &self,
        a: &OpenArgs<'_>,
        d: &DurableSpec,
        ctx: &mut Option<CacheCtx>,
    ) -> Result<Option<Location>, OpenError> {
        if d.create_guid().is_none() && d.app_instance.is_none() {
            return Ok(None); // a v1 request: nothing to look up
        }
        let mut replaced = Vec::new();
        {
            let reg = self.durables.reg.lock();
            if let Some(rec) =
                d.create_guid().and_then(|gd| reg.by_guid.get(&gd)).and_then(|id| reg.rec(*id))
            {
                if rec.client != d.client || rec.deadline.is_some() {
                    return Err(OpenError::DuplicateCreateGuid);
                }
                let (loc, grant) = (rec.loc, rec.grant);
                drop(reg);
                let (oplock, lease) = self.caching_of(loc).unwrap_or((OplockLevel::None, None));
                let c = ctx.get_or_insert_with(|| CacheCtx::new(self.break_timeout, None));
                c.replayed = true;
                c.durable = Some(grant);
                c.oplock = oplock;
                c.lease = match (lease, a.cache) {
                    (Some(state), CacheRequest::Lease(l)) => {
                        Some(crate::lease::LeaseGrant::replayed(l.key, state, l.epoch.is_some()))
                    }
                    _ => None,
                };
                return Ok(Some(loc));
            }
            if let Some(app) =
                d.app_instance.filter(|_| self.durables.with_app.load(Ordering::Relaxed) != 0)
            {
                for id in reg.by_app.get(&app).into_iter().flat_map(IdList::iter) {
                    let rec = reg.rec(*id).expect("indexed");
                    if rec.client != d.client && rec.file == a.file_number {
                        replaced.push(rec.loc);
                    }
                }
            }
        }
        for loc in replaced {
            let _ = self.close(loc);
        }
        Ok(None)
    }

    /// Under shard lock `g`, before the open `a` runs: a disconnected
    /// persistent open of the file refuses it (`STATUS_FILE_NOT_AVAILABLE`,
    /// MS-SMB2 §3.3.5.9); the disconnected durable opens it conflicts with
    /// are closed (their records and what their files freed returned, to
    /// drop after the lock: [`HandleTable::after_displace`]).
    #[cold]
    #[inline(never)]
    pub(crate) fn displace(
        &self,
        g: &mut Shard,
        a: &OpenArgs<'_>,
    ) -> Result<Option<Box<Displaced>>, OpenError> {
        let mut doomed = Vec::new();
        {
            let reg = self.durables.reg.lock();
            let Some(ids) = reg.by_file.get(&a.file_number) else {
                return Ok(None);
            };
            for id in ids.iter() {
                let rec = reg.rec(*id).expect("indexed");
                if rec.grant.persistent {
                    return Err(OpenError::FileNotAvailable);
                }
                let own = rec.lease.is_some() && rec.lease == lease_of(a);
                if g.displaces(rec.loc, a, own) {
                    doomed.push(rec.loc);
                }
            }
        }
        let mut d = Displaced::default();
        for loc in doomed {
            if let Ok(c) = g.close::<FileHandle>(loc) {
                g.credits += 1;
                self.shards[loc.shard()].count(-1);
                if c.unblocked {
                    self.caching.unblocked(c.file_number);
                }
                let _ = self.forget_durable(loc); // never persistent
                d.closed.push(c.report);
            }
        }
        g.take_garbage(&mut d.garbage);
        Ok((!d.is_empty()).then(|| Box::new(d)))
    }

    /// After the lock of an open that closed disconnected handles: the
    /// unlock hook hears of the files whose locks went, and opens waiting
    /// on their breaks run.
    #[cold]
    #[inline(never)]
    pub(crate) fn after_displace(&self, d: Displaced) {
        let Displaced { closed, garbage } = d;
        drop(garbage);
        if closed.is_empty() {
            return;
        }
        let mut files: Vec<FileNumber> = closed
            .iter()
            .filter(|h| h.handle_info.num_byte_range_locks > 0)
            .map(|h| h.file_number)
            .collect();
        files.dedup();
        if !files.is_empty() {
            self.notify_unlocked(&files);
        }
        self.run_ready();
    }

    /// Forgets a durable handle that closed (under its shard's lock).
    #[cold]
    #[inline(never)]
    pub(crate) fn forget_durable(&self, loc: Location) -> Option<super::Ticket> {
        let mut reg = self.durables.reg.lock();
        let id = reg.at(loc)?.grant.persistent_id;
        let rec = reg.remove(id)?;
        drop(reg);
        if rec.deadline.is_some() {
            self.durables.disconnected.fetch_sub(1, Ordering::Relaxed);
        }
        if rec.app_instance.is_some() {
            self.durables.with_app.fetch_sub(1, Ordering::Relaxed);
        }
        if rec.grant.persistent {
            self.persist_remove(id)
        } else {
            None
        }
    }

    /// Marks the durable handle at `loc` disconnected (under its shard's
    /// lock `g`, after a sweep took it off its tree): it is kept until its
    /// timeout.
    pub(crate) fn keep_disconnected(&self, g: &mut Shard, loc: Location) -> bool {
        let mut reg = self.durables.reg.lock();
        let Some(id) = reg.at(loc).map(|r| r.grant.persistent_id) else { return false };
        // MS-SMB2 §3.3.7.1: a durable open is kept only while it holds a
        // batch oplock or a lease with handle caching (a persistent one
        // always); one broken below that is closed like any other.
        if !reg.rec(id).expect("indexed").grant.persistent {
            let (oplock, lease) = g.caching_of(loc).unwrap_or((OplockLevel::None, None));
            let holds = oplock == OplockLevel::Batch
                || lease.is_some_and(|l| l.contains(LeaseState::HANDLE));
            if !holds {
                return false;
            }
        }
        if !g.mark_disconnected(loc) {
            return false;
        }
        let rec = reg.rec_mut(id).expect("indexed");
        let deadline = Instant::now() + rec.grant.timeout;
        rec.deadline = Some(deadline);
        let file = rec.file;
        add_id(&mut reg.by_file, file, id);
        reg.deadlines.insert((deadline, id));
        self.durables.disconnected.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The connection of `session` dropped without a logoff (MS-SMB2
    /// §3.3.7.1): its durable handles that still hold a batch oplock or a
    /// lease with handle caching (and its persistent ones) are kept,
    /// disconnected, with their share reservations, locks and leases,
    /// until their timeouts; every
    /// other handle is closed as by [`HandleTable::logoff`], and the
    /// session is gone. The outcome's `results` hold the closed handles;
    /// `kept` counts the durable ones.
    ///
    /// ```
    /// use smb_handles::*;
    ///
    /// let table = HandleTable::new();
    /// let s = table.session_setup(SessionSpec::new(1, User::new("S-1-5-21-1-1104", "alice"), "10.0.0.7".parse()?))?;
    /// let t = table.tree_connect(s, "finance")?;
    /// let client = ClientGuid(0xA11CE);
    /// let batch = CacheRequest::Oplock(OplockLevel::Batch);
    /// let spec = OpenSpec::new(FileNumber(7), "/q3.xlsx", "S-1-5-21-1-1104", AccessMask::FILE_READ_DATA)
    ///     .tree(t).cache(batch).durable(DurableSpec::v1(client));
    /// let OpenOutcome::Opened(o) = table.open_cached(spec)? else { unreachable!() };
    /// let id = o.durable.expect("batch oplock: durable").persistent_id;
    ///
    /// let out = table.disconnect(s)?;
    /// assert_eq!((out.closed, out.kept), (0, 1));
    /// assert!(table.get(o.location).unwrap().handle_info.disconnected);
    ///
    /// let s2 = table.session_setup(SessionSpec::new(2, User::new("S-1-5-21-1-1104", "alice"), "10.0.0.7".parse()?))?;
    /// let t2 = table.tree_connect(s2, "finance")?;
    /// let back = table.reconnect(&ReconnectSpec::v1(id, client, "S-1-5-21-1-1104").tree(t2))?;
    /// assert!(table.get(o.location).is_none()); // the old location is stale
    /// assert_eq!(back.oplock, OplockLevel::Batch);
    /// assert!(!table.get(back.location).unwrap().handle_info.disconnected);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::SessionDeleted`] when the session is gone or going.
    pub fn disconnect(&self, session: SessionId) -> Result<CloseOutcome, SessionError> {
        self.end_session(session, true)
    }

    /// Takes a disconnected durable handle back (a CREATE with DHnC or
    /// DH2C): it joins `spec.tree` with its locks, share mode and caching,
    /// at a new location; the old location is stale from then on.
    ///
    /// # Errors
    ///
    /// As MS-SMB2 §3.3.5.9.7 and §3.3.5.9.12 answer:
    /// [`ReconnectError::NotFound`] when no durable handle has the id, it
    /// is not disconnected, or its create GUID, lease key, lease client or
    /// persistence differs; [`ReconnectError::AccessDenied`] when it is
    /// another user's; [`ReconnectError::TreeDeleted`] for a dead tree.
    pub fn reconnect(&self, spec: &ReconnectSpec) -> Result<Reconnected, ReconnectError> {
        let shard = crate::location::shard_of_raw(spec.persistent_id.0);
        let entered = match spec.tree {
            Some(t) => Some(self.enter_tree(t, shard).map_err(|_| ReconnectError::TreeDeleted)?),
            None => None,
        };
        let res = self.reconnect_entered(spec, entered.map(|e| e.0));
        if res.is_err() {
            if let Some(e) = entered {
                self.leave_tree(e);
            }
        }
        res
    }

    fn reconnect_entered(
        &self,
        spec: &ReconnectSpec,
        tree: Option<&crate::session::registry::Entry<crate::session::TreeRec>>,
    ) -> Result<Reconnected, ReconnectError> {
        let check = |reg: &Registry| -> Result<Location, ReconnectError> {
            let rec = reg.rec(spec.persistent_id).ok_or(ReconnectError::NotFound)?;
            let lease_ok = match rec.lease {
                Some((c, k)) => c == spec.client && spec.lease_key == Some(k),
                None => spec.lease_key.is_none(),
            };
            let guid_ok = spec.create_guid.is_none_or(|gd| rec.create_guid == Some(gd));
            if rec.deadline.is_none()
                || !lease_ok
                || !guid_ok
                || (rec.grant.persistent && spec.create_guid.is_some() && !spec.persistent)
            {
                return Err(ReconnectError::NotFound);
            }
            if *rec.owner != *spec.owner {
                return Err(ReconnectError::AccessDenied);
            }
            Ok(rec.loc)
        };
        let loc = check(&self.durables.reg.lock())?;
        let s = self.shards.get(loc.shard()).ok_or(ReconnectError::NotFound)?;
        let mut g = s.lock.write();
        if let (Some(t), Some(id)) = (tree, spec.tree) {
            super::sessions::tree_admits(t, id).map_err(|_| ReconnectError::TreeDeleted)?;
        }
        let mut reg = self.durables.reg.lock();
        if check(&reg)? != loc {
            return Err(ReconnectError::NotFound);
        }
        let tree_index = spec.tree.map_or(NIL, |t| t.index());
        let new = g.take_back(loc, tree_index).ok_or(ReconnectError::NotFound)?;
        let id = spec.persistent_id;
        let rec = reg.rec_mut(id).expect("checked");
        rec.loc = new;
        let (file, deadline) = (rec.file, rec.deadline.take().expect("checked"));
        let grant = rec.grant;
        reg.undisconnect(id, file, deadline);
        drop(reg);
        self.durables.disconnected.fetch_sub(1, Ordering::Relaxed);
        let (oplock, lease) = g.caching_of(new).unwrap_or((OplockLevel::None, None));
        let ticket = if grant.persistent { self.persist_update(&g, new) } else { None };
        drop(g);
        if !super::settle(ticket) {
            // The store still names the old location: the open cannot be
            // answered as reconnected, nor stay half-moved.
            let _ = self.close(new);
            return Err(ReconnectError::StoreFailed);
        }
        Ok(Reconnected { location: new, oplock, lease, durable: grant })
    }

    /// The earliest deadline of a disconnected durable handle, if any: when
    /// [`HandleTable::expire_durable`] has work.
    pub fn next_durable_deadline(&self) -> Option<Instant> {
        if !self.durables.any_disconnected() {
            return None;
        }
        self.durables.reg.lock().deadlines.first().map(|&(d, _)| d)
    }

    /// Closes the disconnected durable handles whose timeout passed by
    /// `now` (locks released, the unlock hook called); returns how many.
    /// The table runs no timer: call it at
    /// [`HandleTable::next_durable_deadline`] (the admin server does).
    pub fn expire_durable(&self, now: Instant) -> usize {
        if !self.durables.any_disconnected() {
            return 0;
        }
        let due: Vec<Location> = {
            let reg = self.durables.reg.lock();
            reg.deadlines
                .iter()
                .take_while(|(d, _)| *d <= now)
                .filter_map(|(_, id)| reg.rec(*id).map(|r| r.loc))
                .collect()
        };
        // A reconnect between here and the close renews the location: the
        // close then finds nothing, and the handle stays.
        due.into_iter().filter(|&loc| self.close(loc).is_ok()).count()
    }

    /// Runs the table's timers due by `now`: ends unanswered breaks
    /// ([`HandleTable::expire_breaks`]) and closes expired disconnected
    /// durable handles ([`HandleTable::expire_durable`]); returns the next
    /// deadline of either, for the caller to sleep until. The table has no
    /// thread of its own: a server calls this from its event loop (the
    /// admin endpoint's server runs it, at least once a second).
    ///
    /// ```
    /// # use std::time::Instant;
    /// # let table = smb_handles::HandleTable::new();
    /// assert_eq!(table.run_timers(Instant::now()), None); // nothing pending
    /// ```
    pub fn run_timers(&self, now: Instant) -> Option<Instant> {
        self.expire_breaks(now);
        self.expire_durable(now);
        match (self.next_break_deadline(), self.next_durable_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The durability of the handle at `loc`, or `None` when it is not a
    /// durable handle.
    pub fn durable_of(&self, loc: Location) -> Option<DurableInfo> {
        let reg = self.durables.reg.lock();
        let rec = reg.at(loc)?;
        let now = Instant::now();
        Some(DurableInfo {
            grant: rec.grant,
            client: rec.client,
            create_guid: rec.create_guid,
            app_instance: rec.app_instance,
            disconnected: rec.deadline.map(|d| d.saturating_duration_since(now)),
        })
    }

    /// Durable handles held (connected or not).
    pub fn durable_count(&self) -> usize {
        self.durables.reg.lock().by_slot.len()
    }
}
