//! What a shared file's record holds beyond its own fields: the count of
//! opens, the aggregate share-mode claims, the list of member slots, the
//! byte-range locks and the leases ([`FileExt`]), and what a file's last
//! close leaves to free after the shard's lock ([`Garbage`]).

use crate::share::ShareCounts;

use super::caching::FileCaching;
use super::locks::LockSet;
use super::NIL;

/// A free position of a member list: this bit and the next free position
/// (member slots are below 2^24, so the bit never marks a slot).
const FREE_POSITION: u32 = 1 << 31;

/// What a file with more than one open (or with locks or leases) keeps.
/// Each member's slot holds its own first lock and lease holder.
///
/// `repr(C)`: what an open or close of a shared file reads (the counts,
/// the member list's pointer, the leases' box) comes first, right after
/// the record's own fields, and the lock set, which a close of a handle
/// without locks does not touch, last.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct FileExt {
    /// Open handles of the file.
    pub(crate) opens: u32,
    /// The first free position, or [`NIL`].
    member_free: u32,
    /// The share-mode claims of its non-stat opens.
    pub(crate) share: ShareCounts,
    /// Its leases and oplocks, once an open asked for one.
    pub(crate) caching: Option<Box<FileCaching>>,
    /// Its handles' slots, by position (each slot knows its position); a
    /// free position holds [`FREE_POSITION`] and the next free one.
    members: Vec<u32>,
    /// Its byte-range locks.
    pub(crate) locks: LockSet,
}

/// A freed record keeps a member list of at most this capacity for the
/// next file promoted into it (a larger one goes with the file).
pub(super) const KEPT_MEMBERS: usize = 16;

impl FileExt {
    /// An extension of no file, holding nothing (a free record's).
    pub(super) fn empty() -> FileExt {
        FileExt {
            opens: 0,
            member_free: NIL,
            share: ShareCounts::default(),
            caching: None,
            members: Vec::new(),
            locks: LockSet::with_seed(0),
        }
    }

    /// Makes this empty extension (a free record's, or a new one) hold one
    /// member, at position 0; `lock_seed` seeds the lock treap's priorities
    /// (see [`LockSet::with_seed`]). A member list a freed record kept is
    /// used again; a new one has room for four from the start: a promotion
    /// by a second open adds one at once, and a one-element buffer would be
    /// reallocated right there (the allocator's smallest chunk holds four
    /// anyway).
    pub(super) fn start(&mut self, slot: u32, lock_seed: u32) {
        debug_assert!(self.opens == 0 && self.members.is_empty() && self.caching.is_none());
        debug_assert!(self.locks.len() == 0 && self.share == ShareCounts::default());
        self.opens = 1;
        self.member_free = NIL;
        self.members.reserve(4);
        self.members.push(slot);
        self.locks = LockSet::with_seed(lock_seed);
    }

    /// An extension holding one member, at position 0 (see
    /// [`FileExt::start`]).
    #[cfg(test)]
    pub(crate) fn with_member(slot: u32, lock_seed: u32) -> FileExt {
        let mut e = FileExt::empty();
        e.start(slot, lock_seed);
        e
    }

    /// Empties this extension after its file's last close. What holds
    /// memory to free is returned, for the caller to drop after the lock:
    /// the leases, a lock arena, a member list above [`KEPT_MEMBERS`]; a
    /// smaller member list stays for the next file (cleared).
    pub(super) fn finish(&mut self) -> Option<FileExt> {
        debug_assert!(self.opens == 0);
        if self.caching.is_none()
            && !self.locks.has_arena()
            && self.members.capacity() <= KEPT_MEMBERS
        {
            self.members.clear();
            self.share = ShareCounts::default();
            None
        } else {
            Some(std::mem::replace(self, FileExt::empty()))
        }
    }

    /// Adds a member; returns its position.
    pub(crate) fn add_member(&mut self, slot: u32) -> u32 {
        self.opens += 1;
        if self.member_free != NIL {
            let pos = self.member_free;
            let next = self.members[pos as usize] & !FREE_POSITION;
            self.member_free = if next == !FREE_POSITION { NIL } else { next };
            self.members[pos as usize] = slot;
            pos
        } else {
            self.members.push(slot);
            (self.members.len() - 1) as u32
        }
    }

    /// Frees position `pos` (its locks already released).
    pub(crate) fn remove_member(&mut self, pos: u32) {
        self.opens -= 1;
        self.members[pos as usize] = FREE_POSITION | (self.member_free & !FREE_POSITION);
        self.member_free = pos;
    }

    /// Positions in the member list, live or free.
    #[cfg(test)]
    pub(crate) fn positions(&self) -> usize {
        self.members.len()
    }

    /// True when the member list is mostly free positions and worth
    /// compacting (see [`FileExt::compact`]).
    #[inline]
    pub(crate) fn sparse(&self) -> bool {
        self.members.len() >= 64 && (self.opens as usize) * 4 <= self.members.len()
    }

    /// Packs the live members to the front; calls `moved(slot, new_pos)` for
    /// each, so the caller can update the slots' positions.
    pub(crate) fn compact(&mut self, mut moved: impl FnMut(u32, u32)) {
        self.members.retain(|&m| m & FREE_POSITION == 0);
        for (pos, &m) in self.members.iter().enumerate() {
            moved(m, pos as u32);
        }
        self.members.shrink_to(self.members.len() * 2);
        self.member_free = NIL;
    }

    /// The member list's entry at `pos` (a slot, or a free position's
    /// mark), if the list has that position.
    #[inline]
    pub(super) fn member_at(&self, pos: u32) -> Option<&u32> {
        self.members.get(pos as usize)
    }

    /// The member slots, in no particular order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.members.iter().copied().filter(|&m| m & FREE_POSITION == 0)
    }
}

/// What closes left for the table to drop after the shard's lock
/// ([`Files::take_all_garbage`](super::files::Files::take_all_garbage)). Held only to be dropped: nothing reads
/// the extensions.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read by their drop alone
pub(crate) enum Garbage {
    /// One freed record's extension (what one close leaves).
    One(FileExt),
    /// Several.
    Many(Vec<FileExt>),
}

impl Garbage {
    /// Frees it (out of line: the close that has garbage is the rare one).
    #[cold]
    #[inline(never)]
    pub(crate) fn free(self) {
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_reuse_positions_and_compact() {
        let mut e = FileExt::with_member(100, 1);
        let ps: Vec<u32> = (0..99).map(|i| e.add_member(200 + i)).collect();
        assert_eq!(e.opens, 100);
        for &p in &ps[..90] {
            e.remove_member(p);
        }
        assert_eq!(e.add_member(7), ps[89], "the last freed position is reused");
        assert!(e.sparse());
        let mut moved = Vec::new();
        e.compact(|s, p| moved.push((s, p)));
        assert_eq!(moved.len(), 11);
        assert_eq!(e.positions(), 11);
        let mut slots: Vec<u32> = e.slots().collect();
        slots.sort_unstable();
        assert_eq!(slots[0], 7);
        assert_eq!(slots[1], 100);
    }

    /// Closes every member of `e` and finishes it.
    fn close_all(e: &mut FileExt) -> Option<FileExt> {
        for p in 0..e.positions() as u32 {
            e.remove_member(p);
        }
        e.finish()
    }

    #[test]
    fn a_finished_extension_keeps_a_small_member_list_and_gives_up_the_rest() {
        let mut small = FileExt::with_member(1, 1);
        small.add_member(2);
        assert!(close_all(&mut small).is_none(), "nothing to free");
        assert!(small.members.is_empty() && small.members.capacity() > 0, "kept for reuse");
        small.start(9, 3);
        assert_eq!(small.slots().collect::<Vec<_>>(), [9]);

        let mut big = FileExt::with_member(1, 1);
        for i in 0..KEPT_MEMBERS as u32 {
            big.add_member(2 + i);
        }
        let freed = close_all(&mut big).expect("a list above the kept size is freed");
        assert!(freed.members.capacity() > KEPT_MEMBERS);
        assert_eq!(big.members.capacity(), 0, "the record keeps nothing of it");
    }
}
