//! The open path of a shard: finding the state of an open file, its
//! share-mode and delete-pending checks, giving a lone open's file a record
//! when it is shared, and storing an open (with the lease and oplock breaks
//! and grants of an open that asks for caching or meets it). What a shard
//! answers an open with ([`Refusal`], [`CacheCtx`]) is here too.

use std::time::Duration;

use crate::lease::{Break, CacheRequest, LeaseGrant, OplockLevel, PendingId};
use crate::location::Location;
use crate::record::OpenArgs;
use crate::share::{map_generic, Claim};

use super::caching::{Ask, Due};
use super::files::At;
use super::path::RawPath;
use super::slots::{self, FLAG_DELETE_ON_CLOSE, FLAG_DIRECTORY, FLAG_LINKED, HOME, SHARE_SHIFT};
use super::{claim_of, LeaseKeys, Shard, NIL};

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

/// The share-mode claim of an open's arguments.
fn claim_of_args(a: &OpenArgs<'_>) -> Option<Claim> {
    Claim::of(a.access_mask, a.share_access)
}

impl Shard {
    /// Where the state of `file` is, if it has open handles.
    #[inline]
    pub(super) fn find_file(&self, file: u64, hash: u64) -> Option<At> {
        self.files.find(file, hash, &self.slots)
    }

    /// True when `claim` conflicts with the share modes of the open file at
    /// `at`.
    pub(super) fn share_conflicts(&self, at: At, claim: Claim) -> bool {
        match at {
            At::Slot(j) => claim_of(self.slots.get(j)).is_some_and(|o| o.conflicts_with(claim)),
            At::Rec(f) => self.ext(f).share.conflicts(claim),
        }
    }

    /// The delete-pending state of the open file at `at`.
    pub(super) fn delete_pending_at(&self, at: At) -> bool {
        match at {
            At::Slot(j) => self.slots.get(j).delete_pending,
            At::Rec(f) => self.files.get(f).delete_pending,
        }
    }

    /// The record of the file of occupied slot `idx`; a file that lives in
    /// the slot alone gets one now (its second open, first lock or first
    /// lease), which counts the slot's share-mode claim.
    pub(super) fn shared(&mut self, idx: u32) -> u32 {
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
    pub(super) fn store(
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
    pub(super) fn store_at(
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
}
