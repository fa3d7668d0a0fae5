//! One shard: its handle slots, its file index and the records of shared
//! files, its interned owners, and the per-file share-mode counts and
//! byte-range locks.
//!
//! Everything here runs under the shard's lock, which the table owns; this
//! module never locks and never calls user code. What an operation removes
//! is handed back for the caller to drop after the lock is released: the
//! strings with its answer, a freed record's extension through the shard's
//! garbage ([`Shard::take_garbage`], [`Shard::take_all_garbage`]).
//!
//! # What an open and a close touch
//!
//! * An open of a new file: the file index line, the owner's index line
//!   and entry (cached for a busy owner), and the most recently freed slot
//!   (usually cached): the file lives in that slot until it is shared.
//! * An open of an open file: the index line and the file record, its
//!   extension (share counts, members), the owner and a slot; the second
//!   open also the first open's slot, whose file moves into a new record.
//!   The share check is three counters, whatever the number of opens.
//! * A close: its slot and its owner entry; of a shared file, the file
//!   record and extension too. The index entry of a file's last close is
//!   removed later, in a batch. Never another handle's slot.
//! * A `get`: its slot and its owner entry (and the path's count).

mod caching;
mod close;
mod durable;
mod files;
mod grants;
mod index;
mod locks;
mod owners;
mod pages;
mod path;
mod slots;
mod trees;

use std::sync::Arc;
use std::time::Duration;

use crate::access::AccessMask;
use crate::error::{IoError, LockRangeError, UnlockError};
use crate::lease::{Break, CacheRequest, LeaseGrant, OplockLevel, PendingId};
use crate::location::Location;
use crate::lock::{IoKind, LockElement, LockRange, Span};
use crate::record::{FileHandle, FileNumber, HandleInfo, OpenArgs};
use crate::share::{map_generic, Claim, ShareAccess};

use caching::{Ask, Due};
pub(crate) use caching::{KeyHash, LeaseKeys};
pub(crate) use close::{Closed, Quiet, Report};
use files::{At, Files};
pub(crate) use files::{FileExt, Garbage};
pub(crate) use grants::{Grant, GrantKind};
use owners::Owners;
use path::RawPath;
use slots::{Slot, Slots, FLAG_DELETE_ON_CLOSE, FLAG_DIRECTORY, FLAG_LINKED, HOME, SHARE_SHIFT};
#[cfg(test)]
pub(crate) use trees::Link as TreeLink;
use trees::Trees;

/// "None" for `u32` links.
pub(crate) const NIL: u32 = u32::MAX;

/// Why a shard could not take an open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every slot the shard can address is in use or retired.
    Full,
    /// Another open of the file conflicts with this one's share mode.
    Sharing,
    /// The file is delete-pending.
    DeletePending,
    /// Breaks were sent whose acknowledgement the open must wait for.
    Wait,
    /// The client's lease key is open on another file.
    KeyInUse,
}

/// What an open hands the shard beside its arguments, and what it gets
/// back: the breaks to send and what was granted.
#[derive(Debug, Default)]
pub(crate) struct CacheCtx {
    /// How long a break waits for its acknowledgement.
    pub(crate) timeout: Duration,
    /// Breaks decided (sent by the table after the lock).
    pub(crate) breaks: Vec<Break>,
    /// The oplock granted.
    pub(crate) oplock: OplockLevel,
    /// The lease granted.
    pub(crate) lease: Option<LeaseGrant>,
    /// A waiting open run again: its id (kept when it waits again).
    pub(crate) pending: Option<PendingId>,
    /// The durability granted (decided by the table).
    pub(crate) durable: Option<crate::durable::DurableGrant>,
    /// The open was a replay of an existing durable open.
    pub(crate) replayed: bool,
    /// A persistent open's store write, waited for after the lock.
    pub(crate) ticket: Option<crate::table::Ticket>,
}

impl CacheCtx {
    /// A context for an open (a waiting one run again has `pending`).
    pub(crate) fn new(timeout: Duration, pending: Option<PendingId>) -> CacheCtx {
        CacheCtx { timeout, pending, ..CacheCtx::default() }
    }
}

/// What [`Shard::lock`] answers.
#[derive(Debug)]
pub(crate) struct Locked {
    /// The handle's new lock count, or why nothing was granted.
    pub(crate) result: Result<u32, LockRangeError>,
    /// The file, when a refused request's undo removed a lock the handle held
    /// before it (a release the unlock hook must hear of).
    pub(crate) released: Option<FileNumber>,
    /// The lock was granted on a file whose leases or oplocks cache reads:
    /// they must be broken (see `Shard::write_breaks`).
    pub(crate) breaks_readers: bool,
}

/// Mixes a file number for choosing its shard.
pub(crate) fn shard_of(file: FileNumber, shards: usize) -> usize {
    let h = (file.0 ^ (file.0 >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let h = (h ^ (h >> 32)) as u32 as u64;
    ((h * shards as u64) >> 32) as usize
}

/// True when `path` is `prefix` or lies under it: the next character after
/// the prefix is a separator (`/` or `\\`). An empty prefix is the root.
pub(crate) fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.is_empty() || rest.is_empty() || rest.starts_with(['/', '\\']),
        None => false,
    }
}

/// The share-mode claim of an open's arguments.
fn claim_of_args(a: &OpenArgs<'_>) -> Option<Claim> {
    Claim::of(a.access_mask, a.share_access)
}

/// The share-mode claim of an occupied slot.
fn claim_of(s: &Slot) -> Option<Claim> {
    Claim::of(AccessMask::from_bits_retain(s.access), ShareAccess::from_bits_retain(s.share_bits()))
}

/// One shard's state, guarded by the table's lock for it.
#[derive(Debug)]
pub(crate) struct Shard {
    index: usize,
    slots: Slots,
    files: Files,
    owners: Owners,
    trees: Trees,
    /// The table's lease keys (shared by every shard).
    keys: Arc<LeaseKeys>,
    /// How long a break waits for its acknowledgement.
    break_timeout: Duration,
    /// Spare open credits this shard holds (see the table's `reserved`).
    pub(crate) credits: usize,
}

impl Shard {
    pub(crate) fn new(
        index: usize,
        seed: u64,
        keys: Arc<LeaseKeys>,
        break_timeout: Duration,
    ) -> Shard {
        Shard {
            keys,
            break_timeout,
            index,
            slots: Slots::new(),
            files: Files::new(seed),
            owners: Owners::new(seed.rotate_left(17) ^ index as u64),
            trees: Trees::new(),
            credits: 0,
        }
    }

    /// Moves what closes left to drop after the lock into `into`.
    #[inline]
    pub(crate) fn take_garbage(&mut self, into: &mut Vec<FileExt>) {
        self.files.take_garbage(into);
    }

    /// How many freed extensions wait in this shard.
    #[cfg(test)]
    pub(crate) fn garbage_len(&self) -> usize {
        self.files.garbage_len()
    }

    /// What closes left to drop after the lock; `None` (nothing made or
    /// dropped) on the common path.
    #[inline]
    pub(crate) fn take_all_garbage(&mut self) -> Option<Garbage> {
        self.files.take_all_garbage()
    }

    /// Slots this shard has handed out (its walk covers `0..high`).
    pub(crate) fn high(&self) -> u32 {
        self.slots.high()
    }

    /// Starts loading the slot `loc` names (a hint for batches).
    #[inline]
    pub(crate) fn prefetch(&self, loc: Location) {
        self.slots.prefetch(loc);
    }

    /// Starts loading the file record of the handle at `loc`, if its file
    /// has one (its slot should be in cache by now).
    #[inline]
    pub(crate) fn prefetch_file(&self, loc: Location) {
        if let Some(i) = self.slots.find(loc) {
            let s = self.slots.get(i);
            if !s.home() {
                self.files.prefetch(s.file);
            }
        }
    }

    /// Starts loading the path header the close of `loc` touches and, for
    /// a shared file, the handle's entry in its member list (its slot and
    /// file record should be in cache by now).
    #[inline]
    pub(crate) fn prefetch_path(&self, loc: Location) {
        if let Some(i) = self.slots.find(loc) {
            let s = self.slots.get(i);
            pages::prefetch(s.path().header());
            if !s.home() {
                self.files.prefetch_member(s.file, s.position());
            }
        }
    }

    /// Where the state of `file` is, if it has open handles.
    #[inline]
    fn find_file(&self, file: u64, hash: u64) -> Option<At> {
        self.files.find(file, hash, &self.slots)
    }

    /// True when `claim` conflicts with the share modes of the open file at
    /// `at`.
    fn share_conflicts(&self, at: At, claim: Claim) -> bool {
        match at {
            At::Slot(j) => claim_of(self.slots.get(j)).is_some_and(|o| o.conflicts_with(claim)),
            At::Rec(f) => self.ext(f).share.conflicts(claim),
        }
    }

    /// The delete-pending state of the open file at `at`.
    fn delete_pending_at(&self, at: At) -> bool {
        match at {
            At::Slot(j) => self.slots.get(j).delete_pending,
            At::Rec(f) => self.files.get(f).delete_pending,
        }
    }

    /// The extension of live record `f`.
    #[inline]
    fn ext(&self, f: u32) -> &FileExt {
        self.files.get(f).ext()
    }

    /// The extension of live record `f`, to change.
    #[inline]
    fn ext_mut(&mut self, f: u32) -> &mut FileExt {
        self.files.get_mut(f).ext_mut()
    }

    /// The extension of the file of occupied slot `s`: `None` while the
    /// file lives in the slot alone.
    #[inline]
    fn ext_of(&self, s: &Slot) -> Option<&FileExt> {
        if s.home() {
            None
        } else {
            Some(self.ext(s.file))
        }
    }

    /// The record of the file of occupied slot `idx`; a file that lives in
    /// the slot alone gets one now (its second open, first lock or first
    /// lease), which counts the slot's share-mode claim.
    fn shared(&mut self, idx: u32) -> u32 {
        let s = self.slots.get(idx);
        if !s.home() {
            return s.file;
        }
        let claim = claim_of(s);
        let f = self.files.promote(s.file_number, s.path(), s.delete_pending, idx);
        if let Some(c) = claim {
            self.ext_mut(f).share.add(c);
        }
        self.slots.get_mut(idx).file = f;
        f
    }

    /// Stores an open (the caller has validated it, and its tree connect);
    /// refuses it, changing nothing, when the shard is full or the share
    /// mode conflicts.
    pub(crate) fn open(
        &mut self,
        a: &OpenArgs<'_>,
        ctx: &mut Option<CacheCtx>,
    ) -> Result<Location, Refusal> {
        if !self.slots.can_alloc() {
            return Err(Refusal::Full);
        }
        let file = a.file_number.0;
        let hash = self.files.hash(file);
        let claim = Claim::of(a.access_mask, a.share_access);
        let found = self.find_file(file, hash);
        let (mut conflict, mut cached) = (false, false);
        if let Some(at) = found {
            if self.delete_pending_at(at) {
                return Err(Refusal::DeletePending);
            }
            conflict = claim.is_some_and(|c| self.share_conflicts(at, c));
            if let At::Rec(f) = at {
                cached = self.ext(f).caching.is_some();
            }
        }
        if cached || !matches!(a.cache, CacheRequest::None) {
            let timeout = self.break_timeout;
            let ctx = ctx.get_or_insert_with(|| CacheCtx::new(timeout, None));
            return self.open_caching(a, ctx, found, hash, conflict);
        }
        if conflict {
            return Err(Refusal::Sharing);
        }
        Ok(self.store(a, claim, found, hash).0)
    }

    /// The open of a file with leases or oplocks, or of an open asking for
    /// one: the breaks it needs (waiting for their acknowledgement, as
    /// smbd does, before a sharing violation is answered), then the grant.
    #[inline(never)]
    fn open_caching(
        &mut self,
        a: &OpenArgs<'_>,
        ctx: &mut CacheCtx,
        found: Option<At>,
        hash: u64,
        conflict: bool,
    ) -> Result<Location, Refusal> {
        let file = a.file_number;
        let caching = match found {
            Some(At::Rec(f)) => self.ext(f).caching.as_deref(),
            _ => None,
        };
        let own_lease = match (caching, a.cache) {
            (Some(c), CacheRequest::Lease(l)) => c.find(l.client, l.key),
            _ => None,
        };
        let mask = map_generic(a.access_mask).bits();
        let stat = 0x0010_0000 | 0x80 | 0x100; // SYNCHRONIZE | READ_/WRITE_ATTRIBUTES
                                               // An overwrite is never a stat open: smbd adds FILE_WRITE_DATA to a
                                               // truncating open's access.
        let ask = Ask {
            request: a.cache,
            oplock_stat: !a.overwrite && mask & !stat == 0,
            lease_stat: !a.overwrite && mask & !(stat | 0x0002_0000) == 0, // and READ_CONTROL
            sharing_violation: conflict,
            overwrite: a.overwrite,
            directory: a.directory,
            own_lease,
            retry: ctx.pending.is_some(),
        };
        // A client's lease key names one file: refused before anything else.
        let mut claimed = None;
        if let CacheRequest::Lease(l) = *a.cache {
            if own_lease.is_none() {
                if !self.keys.claim(l.client, l.key, file) {
                    return Err(Refusal::KeyInUse);
                }
                claimed = Some((l.client, l.key));
            }
        }
        let release = |keys: &LeaseKeys| {
            if let Some((c, k)) = claimed {
                keys.release(c, k);
            }
        };
        if let Some(At::Rec(f)) = found {
            if let Some(caching) = self.ext_mut(f).caching.as_deref_mut() {
                let mut due = Due::new(ctx.timeout);
                if caching.open_breaks(&ask, file, &mut due, &mut ctx.breaks) {
                    release(&self.keys);
                    return Err(Refusal::Wait);
                }
            }
        }
        if conflict {
            release(&self.keys);
            return Err(Refusal::Sharing);
        }
        let (loc, _) = self.store(a, claim_of_args(a), found, hash);
        let f = self.shared(loc.slot());
        let ext = self.ext_mut(f);
        let has_locks = ext.locks.len() > 0;
        let opens = ext.opens - 1;
        let caching = ext.caching.get_or_insert_with(Box::default);
        let (holder, oplock, lease) = caching.grant(&ask, loc, opens, has_locks);
        self.slots.get_mut(loc.slot()).holder = holder;
        ctx.oplock = oplock;
        ctx.lease = lease;
        Ok(loc)
    }

    /// Stores a checked open; returns its location and member position.
    #[inline(always)]
    fn store(
        &mut self,
        a: &OpenArgs<'_>,
        claim: Option<Claim>,
        found: Option<At>,
        hash: u64,
    ) -> (Location, u32) {
        let idx = self.slots.alloc();
        self.store_at(idx, a, claim, found, hash)
    }

    /// [`Shard::store`] into slot `idx`, taken already.
    #[inline(always)]
    fn store_at(
        &mut self,
        idx: u32,
        a: &OpenArgs<'_>,
        claim: Option<Claim>,
        found: Option<At>,
        hash: u64,
    ) -> (Location, u32) {
        let owner = self.owners.acquire(a.owner);
        let (f, position, path, delete_pending) = match found {
            None => {
                self.files.insert_home(hash, idx);
                (HOME, 0, RawPath::from_arc(a.path.to_arc()), false)
            }
            Some(at) => {
                let f = match at {
                    At::Slot(j) => self.shared(j),
                    At::Rec(f) => f,
                };
                let ext = self.ext_mut(f);
                if let Some(c) = claim {
                    ext.share.add(c);
                }
                if ext.sparse() {
                    let mut moves = Vec::new();
                    ext.compact(|slot, pos| moves.push((slot, pos)));
                    for (slot, pos) in moves {
                        let s = self.slots.get_mut(slot);
                        s.member = (s.member & !((1 << slots::MEMBER_BITS) - 1)) | pos;
                    }
                }
                let position = self.ext_mut(f).add_member(idx);
                let rec = self.files.get(f);
                (f, position, rec.raw_path(), rec.delete_pending)
            }
        };
        let mut flags = (a.share_access.bits() & 0x7) << SHARE_SHIFT
            | if a.directory { FLAG_DIRECTORY } else { 0 }
            | if a.delete_on_close { FLAG_DELETE_ON_CLOSE } else { 0 };
        if let Some(tree) = a.tree {
            self.trees.attach(idx, tree.index());
            flags |= FLAG_LINKED;
        }
        let s = self.slots.get_mut(idx);
        s.file = f;
        s.owner = owner;
        s.access = a.access_mask.bits();
        s.locks = 0;
        s.member = position | flags;
        s.version = 1;
        s.file_number = a.file_number.0;
        s.set_path(path);
        s.lock_head = NIL;
        s.holder = NIL;
        s.delete_pending = delete_pending;
        (Location::pack(s.generation, self.index, idx), position)
    }

    /// A snapshot of the handle at `loc`.
    #[inline(always)]
    pub(crate) fn get(&self, loc: Location) -> Option<FileHandle> {
        let i = self.slots.find(loc)?;
        Some(self.snapshot(i, self.slots.get(i), true))
    }

    /// A snapshot of the (occupied) slot `idx`.
    #[inline]
    pub(crate) fn snapshot_at(&self, idx: u32, with_path: bool) -> FileHandle {
        self.snapshot(idx, self.slots.get(idx), with_path)
    }

    #[inline(always)]
    fn snapshot(&self, idx: u32, s: &Slot, with_path: bool) -> FileHandle {
        FileHandle {
            file_number: FileNumber(s.file_number),
            handle_info: HandleInfo {
                location: Location::pack(s.generation, self.index, idx),
                version: s.version,
                num_byte_range_locks: s.locks,
                access_mask: AccessMask::from_bits_retain(s.access),
                owner: Arc::clone(self.owners.get(s.owner)),
                path: with_path.then(|| s.path_arc()),
                directory: s.directory(),
                num_notify_watches: if s.linked() { self.trees.link(idx).notify } else { 0 },
                delete_on_close: s.delete_on_close(),
                delete_pending: s.delete_pending,
                delete_file: false,
                durable: s.durable(),
                disconnected: s.disconnected(),
            },
        }
    }

    /// Adds `delta` to the lock count of `loc`. `Ok(Err(current))` when the
    /// result would be out of range; `None` when `loc` names no handle.
    pub(crate) fn adjust_locks(&mut self, loc: Location, delta: i64) -> Option<Result<u32, u32>> {
        let s = self.slots.get_mut(self.slots.find(loc)?);
        let current = s.locks;
        let new = i64::from(current).checked_add(delta).and_then(|n| u32::try_from(n).ok());
        Some(match new {
            Some(n) => {
                if n != current {
                    s.locks = n;
                    s.version += 1;
                }
                Ok(n)
            }
            None => Err(current),
        })
    }

    /// Sets or clears the delete-pending state of the file of `loc`, whose
    /// access must include `DELETE`; bumps the version of each of the
    /// file's opens when it changes. `None` when `loc` names no handle,
    /// `Some(Err(()))` without `DELETE` access.
    pub(crate) fn set_delete_pending(&mut self, loc: Location, on: bool) -> Option<Result<(), ()>> {
        let idx = self.slots.find(loc)?;
        let access = AccessMask::from_bits_retain(self.slots.get(idx).access);
        if !map_generic(access).contains(AccessMask::DELETE) {
            return Some(Err(()));
        }
        let s = self.slots.get_mut(idx);
        if s.home() {
            if s.delete_pending != on {
                s.delete_pending = on;
                s.version += 1;
            }
        } else {
            let f = s.file;
            if self.files.get(f).delete_pending != on {
                self.files.get_mut(f).delete_pending = on;
                for slot in self.file_members(At::Rec(f)) {
                    let m = self.slots.get_mut(slot);
                    m.version += 1;
                    m.delete_pending = on;
                }
            }
        }
        Some(Ok(()))
    }

    /// Adds `delta` to the notify-watch count of `loc`, as
    /// [`Shard::adjust_locks`] does for locks.
    pub(crate) fn adjust_notify(&mut self, loc: Location, delta: i64) -> Option<Result<u32, u32>> {
        let idx = self.slots.find(loc)?;
        if !self.slots.get(idx).linked() {
            self.trees.attach(idx, NIL);
            self.slots.get_mut(idx).member |= FLAG_LINKED;
        }
        let current = self.trees.link(idx).notify;
        let new = i64::from(current).checked_add(delta).and_then(|n| u32::try_from(n).ok());
        Some(match new {
            Some(n) => {
                if n != current {
                    self.trees.set_notify(idx, n);
                    self.slots.get_mut(idx).version += 1;
                }
                Ok(n)
            }
            None => Err(current),
        })
    }

    /// Scans at most `budget` slots from `from` for handles whose file's
    /// path is `prefix` or under it (see [`under`]), taking at most `limit`;
    /// returns them and the slot to resume from (`None` when the shard is
    /// done).
    pub(crate) fn select_by_path(
        &self,
        from: u32,
        budget: usize,
        limit: usize,
        prefix: &str,
    ) -> (Vec<Location>, Option<u32>) {
        let mut out = Vec::new();
        let high = self.slots.high();
        let end = from.saturating_add(budget as u32).min(high);
        let mut i = from;
        while i < end && out.len() < limit {
            let s = self.slots.get(i);
            if s.occupied() && under(s.path_str(), prefix) {
                out.push(Location::pack(s.generation, self.index, i));
            }
            i += 1;
        }
        (out, (i < high).then_some(i))
    }

    /// Up to `limit` open handles of tree connect `tree` in this shard.
    pub(crate) fn tree_members(&self, tree: u32, limit: usize) -> Vec<Location> {
        let members = self.trees.members(tree, limit);
        members
            .into_iter()
            .map(|i| Location::pack(self.slots.get(i).generation, self.index, i))
            .collect()
    }

    /// Takes up to `limit` handles of tree connect `tree` in this shard off
    /// its list, for the caller to close under the same lock (a sweep).
    pub(crate) fn take_tree_members(&mut self, tree: u32, limit: usize) -> Vec<Location> {
        let taken = self.trees.take(tree, limit);
        taken
            .into_iter()
            .map(|i| Location::pack(self.slots.get(i).generation, self.index, i))
            .collect()
    }

    /// The tree connect (registry index) of the handle at `loc`: `None` for
    /// no handle, `Some(NIL)` for one outside any tree connect.
    pub(crate) fn tree_of(&self, loc: Location) -> Option<u32> {
        let i = self.slots.find(loc)?;
        Some(if self.slots.get(i).linked() { self.trees.link(i).tree } else { NIL })
    }

    /// Sets the path of `file` and bumps the version of each of its opens;
    /// returns how many, and the old path for the caller to drop.
    pub(crate) fn rename(&mut self, file: FileNumber, path: Arc<str>) -> (usize, Option<Arc<str>>) {
        let Some(at) = self.find_file(file.0, self.files.hash(file.0)) else {
            return (0, None);
        };
        let members = self.file_members(at);
        let (old, raw) = match at {
            At::Slot(j) => (self.slots.replace_path(j, path), self.slots.get(j).path()),
            At::Rec(f) => (self.files.set_path(f, path), self.files.get(f).raw_path()),
        };
        for &slot in &members {
            let m = self.slots.get_mut(slot);
            m.version += 1;
            m.set_path(raw);
        }
        (members.len(), Some(old))
    }

    /// The slots of the open file at `at`, unordered.
    fn file_members(&self, at: At) -> Vec<u32> {
        match at {
            At::Slot(j) => vec![j],
            At::Rec(f) => self.ext(f).slots().collect(),
        }
    }

    /// The slot indices of every open of `file`, ascending.
    #[cfg(test)]
    pub(crate) fn file_slots(&self, file: FileNumber) -> Vec<u32> {
        self.file_page(file, 0, usize::MAX).0
    }

    /// One page of a per-file listing: the `limit` smallest slots of
    /// `file`'s opens from slot `from` on, ascending, and the next one (the
    /// following page's start). Selects rather than sorting every open:
    /// O(n + limit log limit) for a file with n opens.
    pub(crate) fn file_page(
        &self,
        file: FileNumber,
        from: u32,
        limit: usize,
    ) -> (Vec<u32>, Option<u32>) {
        let Some(at) = self.find_file(file.0, self.files.hash(file.0)) else {
            return (Vec::new(), None);
        };
        let mut slots = self.file_members(at);
        slots.retain(|&s| s >= from);
        let mut next = None;
        if slots.len() > limit {
            slots.select_nth_unstable(limit);
            next = Some(slots[limit]);
            slots.truncate(limit);
        }
        slots.sort_unstable();
        (slots, next)
    }

    /// Copies out up to `limit` handles from slot `from` on, in slot order.
    /// Returns the slot to resume from (`high` when the shard is done).
    pub(crate) fn walk(
        &self,
        from: u32,
        limit: usize,
        with_path: bool,
        out: &mut Vec<FileHandle>,
    ) -> u32 {
        let mut idx = from;
        let mut taken = 0;
        // A snapshot clones the slot's path (a write to the path's header):
        // a random line for most shapes. Prefetch it 4 slots ahead.
        const PATH_AHEAD: usize = 4;
        while idx < self.slots.high() && taken < limit {
            let run = self.slots.run(idx);
            for (i, s) in run.iter().enumerate() {
                if with_path {
                    if let Some(a) = run.get(i + PATH_AHEAD).filter(|a| a.occupied()) {
                        pages::prefetch(a.path().header());
                    }
                }
                if s.occupied() {
                    if taken == limit {
                        return idx + i as u32;
                    }
                    out.push(self.snapshot(idx + i as u32, s, with_path));
                    taken += 1;
                }
            }
            idx += run.len() as u32;
        }
        idx
    }

    /// Grants every element of a lock request or none (SPEC §10); returns
    /// the handle's new lock count. On a refusal whose undo removed a lock
    /// the handle held before the call (smbd's undo removes the *oldest*
    /// lock of each range), [`Locked::released`] names the file, so the
    /// caller can tell the unlock hook.
    pub(crate) fn lock(&mut self, loc: Location, elements: &[LockElement]) -> Locked {
        let mut released = None;
        let mut readers = false;
        let result = self.lock_inner(loc, elements, &mut released, &mut readers);
        Locked { result, released, breaks_readers: readers }
    }

    fn lock_inner(
        &mut self,
        loc: Location,
        elements: &[LockElement],
        released: &mut Option<FileNumber>,
        readers: &mut bool,
    ) -> Result<u32, LockRangeError> {
        let idx = self.slots.find(loc).ok_or(LockRangeError::NotFound)?;
        let (file, held, mut head) = {
            let s = self.slots.get(idx);
            if s.directory() {
                return Err(LockRangeError::Directory);
            }
            (FileNumber(s.file_number), s.locks, s.lock_head)
        };
        if elements.is_empty() {
            return Ok(held);
        }
        let f = self.shared(idx);
        let ext = self.files.get_mut(f).ext_mut();
        let before = ext.locks.granted();
        let mut granted: Vec<u32> = Vec::with_capacity(elements.len());
        let mut result = Ok(());
        for (index, e) in elements.iter().enumerate() {
            let Some(span) = Span::new(e.offset, e.length) else {
                result = Err(LockRangeError::InvalidRange { index });
                break;
            };
            if held as u64 + granted.len() as u64 >= u32::MAX as u64 {
                result = Err(LockRangeError::TooManyLocks { index });
                break;
            }
            if ext.locks.lock_conflicts(span, e.kind, idx) {
                result = Err(LockRangeError::NotGranted { index });
                break;
            }
            granted.push(ext.locks.insert(span, e.kind, idx, &mut head));
        }
        if result.is_err() {
            // Undo as smbd does: unlock each granted element's range, last
            // first, which removes the handle's *oldest* lock with that range
            // (an older lock of the other kind, when one is stacked there).
            for &n in granted.iter().rev() {
                let span = ext.locks.span(n);
                let oldest = ext.locks.find_exact(span, idx).expect("just granted");
                if ext.locks.seq(oldest) < before {
                    // A lock held before this call went (its range now has
                    // the call's lock instead): a release waiters may need.
                    *released = Some(file);
                }
                ext.locks.remove(oldest, &mut head);
            }
        }
        let has_readers = ext.caching.as_deref().is_some_and(|c| c.has_readers());
        let s = self.slots.get_mut(idx);
        s.lock_head = head;
        result?;
        *readers = has_readers;
        s.locks += granted.len() as u32;
        s.version += 1;
        Ok(s.locks)
    }

    /// Removes, for each range in order, one lock of the handle with exactly
    /// that range. Returns the outcome, how many locks were released (also
    /// on error: the ranges before the failing one stay unlocked) and the
    /// file.
    pub(crate) fn unlock(
        &mut self,
        loc: Location,
        ranges: &[LockRange],
    ) -> (Result<u32, UnlockError>, u32, FileNumber) {
        let Some(idx) = self.slots.find(loc) else {
            return (Err(UnlockError::NotFound), 0, FileNumber(0));
        };
        let (f, home, mut head) = {
            let s = self.slots.get(idx);
            (s.file, s.home(), s.lock_head)
        };
        let file = FileNumber(self.slots.get(idx).file_number);
        if self.slots.get(idx).directory() {
            return (Err(UnlockError::Directory), 0, file);
        }
        let mut released = 0;
        let mut result = Ok(());
        if !home {
            let ext = self.files.get_mut(f).ext_mut();
            for (index, r) in ranges.iter().enumerate() {
                let found =
                    Span::new(r.offset, r.length).and_then(|sp| ext.locks.find_exact(sp, idx));
                match found {
                    Some(n) => {
                        ext.locks.remove(n, &mut head);
                        released += 1;
                    }
                    None => {
                        result = Err(UnlockError::RangeNotLocked { index });
                        break;
                    }
                }
            }
        } else if !ranges.is_empty() {
            result = Err(UnlockError::RangeNotLocked { index: 0 });
        }
        let s = self.slots.get_mut(idx);
        s.lock_head = head;
        if released > 0 {
            s.locks = s.locks.saturating_sub(released);
            s.version += 1;
        }
        (result.map(|()| s.locks), released, file)
    }

    /// Checks a read or write by the handle at `loc` against the file's
    /// byte-range locks.
    pub(crate) fn check_io(
        &self,
        loc: Location,
        offset: u64,
        length: u64,
        kind: IoKind,
    ) -> Result<(), IoError> {
        let idx = self.slots.find(loc).ok_or(IoError::NotFound)?;
        let s = self.slots.get(idx);
        if s.directory() {
            return Err(IoError::Directory);
        }
        let span = Span::new(offset, length).ok_or(IoError::InvalidRange)?;
        if span.empty {
            // smbd never refuses a zero-length read or write for a lock.
            return Ok(());
        }
        match self.ext_of(s) {
            Some(ext) if ext.locks.len() > 0 && ext.locks.io_conflicts(span, kind, idx) => {
                Err(IoError::IoConflict)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
