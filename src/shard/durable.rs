//! A shard's part of durable handles: the slot flags that mark a handle
//! durable and disconnected, the reconnect that gives it a new location in
//! place, and the question whether a new open must close a disconnected
//! one. The reconnect identity itself is the table's (`table/durable/`).

use crate::lease::{CacheRequest, LeaseState, OplockLevel};
use crate::location::Location;
use crate::record::OpenArgs;
use crate::share::Claim;

use super::slots::{FLAG_DISCONNECTED, FLAG_DURABLE, FLAG_LINKED};
use super::{claim_of, Shard, NIL};

impl Shard {
    /// Restores a handle read from a store at its location `loc` (a
    /// fresh table's recovery, in ascending slot order per shard): durable
    /// and disconnected, with its share claim, in no tree connect. False,
    /// changing nothing, when the slot cannot be taken or the share mode
    /// conflicts with a handle restored before it.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn restore(&mut self, loc: Location, a: &OpenArgs<'_>) -> bool {
        let file = a.file_number.0;
        let hash = self.files.hash(file);
        let claim = Claim::of(a.access_mask, a.share_access);
        let found = self.find_file(file, hash);
        if let (Some(at), Some(c)) = (found, claim) {
            if self.share_conflicts(at, c) {
                return false;
            }
        }
        if !self.slots.claim_at(loc.slot(), loc.generation()) {
            return false;
        }
        self.store_at(loc.slot(), a, claim, found, hash);
        self.slots.get_mut(loc.slot()).member |= FLAG_DURABLE | FLAG_DISCONNECTED;
        true
    }

    /// Takes in a handle another table stored (a node that died): like
    /// [`Shard::restore`], at a free slot of this shard (its new location).
    /// None, changing nothing, when the shard is full, the file is delete
    /// pending or the share mode conflicts with a handle open here.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn adopt(&mut self, a: &OpenArgs<'_>) -> Option<Location> {
        if !self.slots.can_alloc() {
            return None;
        }
        let file = a.file_number.0;
        let hash = self.files.hash(file);
        let claim = Claim::of(a.access_mask, a.share_access);
        let found = self.find_file(file, hash);
        if let Some(at) = found {
            let conflict = claim.is_some_and(|c| self.share_conflicts(at, c));
            if self.delete_pending_at(at) || conflict {
                return None;
            }
        }
        let (loc, _) = self.store(a, claim, found, hash);
        self.slots.get_mut(loc.slot()).member |= FLAG_DURABLE | FLAG_DISCONNECTED;
        Some(loc)
    }

    /// The byte-range locks the handle at `loc` holds, oldest first:
    /// offset, length, exclusive.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn handle_locks(&self, loc: Location) -> Option<Vec<(u64, u64, bool)>> {
        let i = self.slots.find(loc)?;
        let mut out = Vec::new();
        self.slot_grants(i, true, &mut out);
        Some(
            out.into_iter()
                .rev()
                .filter_map(|g| match g.kind {
                    super::grants::GrantKind::ByteRange { offset, length, kind } => {
                        Some((offset, length, kind == crate::lock::LockKind::Exclusive))
                    }
                    _ => None,
                })
                .collect(),
        )
    }

    /// Marks the handle at `loc` durable; false when `loc` names none.
    pub(crate) fn mark_durable(&mut self, loc: Location) -> bool {
        let Some(i) = self.slots.find(loc) else { return false };
        self.slots.get_mut(i).member |= FLAG_DURABLE;
        true
    }

    /// The owner of the handle at `loc`, shared with the shard's interner.
    pub(crate) fn owner_of(&self, loc: Location) -> Option<std::sync::Arc<str>> {
        let i = self.slots.find(loc)?;
        Some(std::sync::Arc::clone(self.owners.get(self.slots.get(i).owner)))
    }

    /// The share mode bits of the handle at `loc`.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn share_bits(&self, loc: Location) -> Option<u32> {
        self.slots.find(loc).map(|i| self.slots.get(i).share_bits())
    }

    /// True when `loc` names a durable handle.
    pub(crate) fn is_durable(&self, loc: Location) -> bool {
        self.slots.find(loc).is_some_and(|i| self.slots.get(i).durable())
    }

    /// Marks the durable handle at `loc` disconnected (a sweep took it off
    /// its tree's list already); bumps its version.
    pub(crate) fn mark_disconnected(&mut self, loc: Location) -> bool {
        let Some(i) = self.slots.find(loc) else { return false };
        let s = self.slots.get_mut(i);
        s.member |= FLAG_DISCONNECTED;
        s.version += 1;
        true
    }

    /// Reconnects the disconnected handle at `loc`: it gets the slot's next
    /// generation (so `loc` is stale from now on), joins tree connect
    /// `tree` (registry index, or [`NIL`]) and keeps its locks, share mode
    /// and caching. `None` when `loc` names no disconnected handle or the
    /// slot's generations are spent.
    pub(crate) fn take_back(&mut self, loc: Location, tree: u32) -> Option<Location> {
        let i = self.slots.find(loc)?;
        if !self.slots.get(i).disconnected() || !self.slots.renew(i) {
            return None;
        }
        if tree != NIL {
            self.trees.attach(i, tree);
        }
        let s = self.slots.get_mut(i);
        s.member &= !FLAG_DISCONNECTED;
        if tree != NIL {
            s.member |= FLAG_LINKED;
        }
        s.version += 1;
        let (file, holder, home) = (s.file, s.holder, s.home());
        let new = Location::pack(s.generation, self.index, i);
        if !home {
            let ext = self.ext_mut(file);
            if let Some(c) = ext.caching.as_deref_mut() {
                c.relocate(holder, new);
            }
        }
        Some(new)
    }

    /// True when the open `a` must end the disconnected durable handle at
    /// `loc` to go on (MS-SMB2 §3.3.4.6–§3.3.4.7: a break that cannot reach
    /// a disconnected holder closes its open): it conflicts with the
    /// handle's share mode, overwrites the file, or would break write
    /// caching (or handle caching, on a sharing violation) the handle
    /// holds. `own_lease` is true when `a` comes with the handle's own
    /// lease (same client and key): that lease is not broken by it.
    pub(crate) fn displaces(&self, loc: Location, a: &OpenArgs<'_>, own_lease: bool) -> bool {
        let Some(i) = self.slots.find(loc) else { return false };
        let share_conflict =
            match (claim_of(self.slots.get(i)), Claim::of(a.access_mask, a.share_access)) {
                (Some(held), Some(new)) => held.conflicts_with(new),
                _ => false,
            };
        if share_conflict || a.overwrite {
            return true;
        }
        if own_lease {
            return false;
        }
        let (oplock, lease) = self.caching_of(loc).unwrap_or((OplockLevel::None, None));
        let writes = matches!(oplock, OplockLevel::Batch | OplockLevel::Exclusive)
            || lease.is_some_and(|l| l.contains(LeaseState::WRITE));
        // A lease stat open breaks nothing (smbd answers it at once).
        let stat = matches!(a.cache, CacheRequest::None)
            && a.access_mask.bits() & !(0x0010_0000 | 0x80 | 0x100 | 0x0002_0000) == 0;
        writes && !stat
    }
}
