//! A shard's files: the index from a file number to where the file's state
//! is, and the records of shared files.
//!
//! A file with one open lives in its slot (see `slots`): the index names
//! the slot. Its second open, first lock or first lease gives it a record:
//! the file number, the path's count, the delete-pending state and, inline,
//! a [`FileExt`] with what only shared, locked or leased files need: the
//! count of opens, the aggregate share-mode claims, the list of member
//! slots, the byte-range locks and the leases. Most files have one open and
//! never have a record; so a record can afford to hold everything in one
//! place, a close or open of a shared file waiting on no second line
//! reached through it. A freed record keeps a small member list for the
//! next file that uses it.

use std::sync::Arc;

use crate::share::ShareCounts;

use super::caching::FileCaching;
use super::index::Index;
use super::locks::LockSet;
use super::pages::Pages;
use super::path::RawPath;
use super::slots::Slots;
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
const KEPT_MEMBERS: usize = 16;

impl FileExt {
    /// An extension of no file, holding nothing (a free record's).
    fn empty() -> FileExt {
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
    fn start(&mut self, slot: u32, lock_seed: u32) {
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
    fn finish(&mut self) -> Option<FileExt> {
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

    /// The member slots, in no particular order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.members.iter().copied().filter(|&m| m & FREE_POSITION == 0)
    }
}

/// What closes left for the table to drop after the shard's lock
/// ([`Files::take_all_garbage`]). Held only to be dropped: nothing reads
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

/// A shared file (or a locked or leased one). 144 bytes; `repr(C)` keeps
/// the fields an open or close reads together at the front (the record's
/// own and the extension's counts fill the first 64 bytes; see
/// [`FileExt`]). Records lie at a 144-byte stride, so those 64 bytes span
/// one cache line or two.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct FileRec {
    /// The file number.
    pub(crate) file_number: u64,
    /// The file's path, whose count this record owns (every member slot
    /// has a copy); [`RawPath::NONE`] exactly while the record is free or
    /// dead (its index entry still pending).
    path: RawPath,
    /// The file is delete-pending (every member slot has a copy).
    pub(crate) delete_pending: bool,
    /// The next free record while free.
    next_free: u32,
    /// What shared files keep (empty while the record is free or dead).
    ext: FileExt,
}

// SAFETY: `path` is an `Arc<str>` (`Send + Sync`) this record owns;
// everything else is plain data or `Send + Sync` itself.
unsafe impl Send for FileRec {}
// SAFETY: as above; through `&FileRec` the path is only read or cloned.
unsafe impl Sync for FileRec {}

impl FileRec {
    fn free() -> FileRec {
        FileRec {
            file_number: 0,
            path: RawPath::NONE,
            delete_pending: false,
            next_free: NIL,
            ext: FileExt::empty(),
        }
    }

    /// The extension of a live record.
    #[inline]
    pub(crate) fn ext(&self) -> &FileExt {
        debug_assert!(!self.path.is_none(), "a live record");
        &self.ext
    }

    /// The extension of a live record, to change.
    #[inline]
    pub(crate) fn ext_mut(&mut self) -> &mut FileExt {
        debug_assert!(!self.path.is_none(), "a live record");
        &mut self.ext
    }

    /// The path (the same pointer the member slots hold).
    #[inline]
    pub(crate) fn raw_path(&self) -> RawPath {
        self.path
    }

    /// A new count of the path.
    pub(crate) fn path(&self) -> Arc<str> {
        debug_assert!(!self.path.is_none());
        // SAFETY: a live record owns its path's count until `take_path`,
        // which needs `&mut self`.
        unsafe { self.path.to_arc() }
    }

    /// Takes the path count out; the record must be freed or given a new
    /// path right after.
    fn take_path(&mut self) -> Arc<str> {
        let p = std::mem::replace(&mut self.path, RawPath::NONE);
        // SAFETY: a live record owns its path's count; the record's copy
        // was just replaced, so it is taken once.
        unsafe { p.take() }
    }
}

impl Drop for FileRec {
    fn drop(&mut self) {
        if !self.path.is_none() {
            drop(self.take_path());
        }
    }
}

/// Where a file's state is: in the slot of its only open, or in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// The slot of the file's only open (`Slot::file` is `HOME`).
    Slot(u32),
    /// A file record.
    Rec(u32),
}

/// The bit of an index element that says it names a slot (elements are
/// below 2^24).
const SLOT_BIT: u32 = 1 << 31;

impl At {
    #[inline]
    fn element(self) -> u32 {
        match self {
            At::Slot(i) => i | SLOT_BIT,
            At::Rec(i) => i,
        }
    }

    #[inline]
    fn of(element: u32) -> At {
        if element & SLOT_BIT != 0 {
            At::Slot(element & !SLOT_BIT)
        } else {
            At::Rec(element)
        }
    }
}

/// Mixes a file number for the file index (a different mix from the shard
/// choice, whose bits are all alike within one shard).
#[inline]
pub(crate) fn file_hash(file: u64, seed: u64) -> u64 {
    let h = (file ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 29)
}

/// Index removals a shard defers and then applies together.
const DEFERRED_REMOVALS: usize = 32;

/// The file index and the records of one shard's shared files.
///
/// A file's last close frees its home slot or its record at once (the
/// slot is vacant, the record's path taken: lookups skip either) but
/// removes its index entry later, together with 31 others after
/// prefetching all their index lines. So the close waits on its slot (and
/// the record of a shared file) only, not on a random index line, and the
/// index upkeep costs independent, overlapped loads.
///
/// A slot freed with its entry pending may be reused at once, by the same
/// file or another: index entries are the hash's tag and the element only,
/// so two entries naming one slot under one tag are the same value, and
/// each removal, insert or replacement acts on one of them; a lookup
/// confirms an entry against the slot's current state.
#[derive(Debug)]
pub(crate) struct Files {
    recs: Pages<FileRec>,
    index: Index,
    free: u32,
    seed: u64,
    /// Entries of dead homes and records still in the index: hash and
    /// element.
    pending: Vec<(u64, u32)>,
    /// Extensions of freed records that hold memory, for the table to drop
    /// after the lock (see [`Files::take_garbage`]).
    garbage: Vec<FileExt>,
}

impl Files {
    pub(crate) fn new(seed: u64) -> Files {
        Files {
            recs: Pages::new(),
            index: Index::new(),
            free: NIL,
            seed,
            pending: Vec::new(),
            garbage: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn hash(&self, file: u64) -> u64 {
        file_hash(file, self.seed)
    }

    /// A secret seed for the lock treap of record `f`'s file: the table's
    /// random seed mixed with the file number and the record (a client
    /// cannot predict the treap's priorities, see [`LockSet::with_seed`]).
    fn lock_seed(&self, f: u32) -> u32 {
        let file = self.get(f).file_number;
        (file_hash(file ^ u64::from(f) << 40, self.seed.rotate_left(29)) >> 32) as u32
    }

    /// Starts loading record `i`.
    #[inline]
    pub(crate) fn prefetch(&self, i: u32) {
        if i < self.recs.len() {
            super::pages::prefetch(self.recs.get(i));
        }
    }

    /// Starts loading position `pos` of record `i`'s member list (the
    /// line a close writes), if the record is live and has it.
    #[inline]
    pub(crate) fn prefetch_member(&self, i: u32, pos: u32) {
        if i < self.recs.len() {
            if let Some(m) = self.recs.get(i).ext.members.get(pos as usize) {
                super::pages::prefetch(m);
            }
        }
    }

    /// Where the state of `file` is, if it has open handles (dead homes
    /// and records, whose index entries are still pending, do not count).
    #[inline]
    pub(crate) fn find(&self, file: u64, hash: u64, slots: &Slots) -> Option<At> {
        let recs = &self.recs;
        self.index
            .find(hash, |e| match At::of(e) {
                At::Slot(i) => {
                    let s = slots.get(i);
                    s.occupied() && s.home() && s.file_number == file
                }
                At::Rec(i) => {
                    let r = recs.get(i);
                    r.file_number == file && !r.path.is_none()
                }
            })
            .map(At::of)
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &FileRec {
        self.recs.get(i)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut FileRec {
        self.recs.get_mut(i)
    }

    /// Enters a new file, living in slot `slot` alone, in the index.
    #[inline]
    pub(crate) fn insert_home(&mut self, hash: u64, slot: u32) {
        self.index.insert(hash, At::Slot(slot).element());
    }

    /// The last close of the file living in slot `slot`: its index entry
    /// goes with the next batch of deferred removals.
    #[inline]
    pub(crate) fn remove_home(&mut self, hash: u64, slot: u32) {
        self.defer(hash, At::Slot(slot).element());
    }

    /// Gives the file living in slot `slot` a record (its second open,
    /// first lock or first lease): the record takes the slot's path count
    /// (`path`; the slot keeps a copy), its delete-pending state and an
    /// extension whose only member is `slot`, and the index names the
    /// record instead of the slot.
    pub(crate) fn promote(
        &mut self,
        file: u64,
        path: RawPath,
        delete_pending: bool,
        slot: u32,
    ) -> u32 {
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.recs.get(i).next_free;
            i
        } else {
            self.recs.push(FileRec::free)
        };
        let r = self.recs.get_mut(i);
        r.file_number = file;
        r.path = path;
        r.delete_pending = delete_pending;
        let lock_seed = self.lock_seed(i);
        self.recs.get_mut(i).ext.start(slot, lock_seed);
        let hash = self.hash(file);
        self.index.replace(hash, At::Slot(slot).element(), At::Rec(i).element());
        i
    }

    /// Frees record `i` after its last close and returns its path. What of
    /// its extension holds memory to free (see [`FileExt::finish`]) waits in
    /// the garbage for the table to drop after the lock; the index entry
    /// goes with the next batch of deferred removals.
    pub(crate) fn remove(&mut self, i: u32) -> Arc<str> {
        let hash = self.hash(self.recs.get(i).file_number);
        let r = self.recs.get_mut(i);
        let path = r.take_path();
        if let Some(ext) = r.ext.finish() {
            self.garbage.push(ext);
        }
        self.defer(hash, At::Rec(i).element());
        path
    }

    /// Moves the extensions freed records left into `into` (nothing to do,
    /// and no copy, on the common path: a record whose extension held no
    /// memory beyond what it keeps leaves none).
    #[inline]
    pub(crate) fn take_garbage(&mut self, into: &mut Vec<FileExt>) {
        if !self.garbage.is_empty() {
            into.append(&mut self.garbage);
        }
    }

    /// How many freed extensions wait.
    #[cfg(test)]
    pub(crate) fn garbage_len(&self) -> usize {
        self.garbage.len()
    }

    /// Takes the extensions freed records left, if any: one close leaves at
    /// most one, moved out alone so the vector keeps its capacity (the
    /// next push allocates nothing under the lock).
    #[inline]
    pub(crate) fn take_all_garbage(&mut self) -> Option<Garbage> {
        if self.garbage.is_empty() {
            None
        } else {
            self.take_garbage_slow()
        }
    }

    #[cold]
    #[inline(never)]
    fn take_garbage_slow(&mut self) -> Option<Garbage> {
        match self.garbage.len() {
            1 => self.garbage.pop().map(Garbage::One),
            _ => Some(Garbage::Many(std::mem::take(&mut self.garbage))),
        }
    }

    #[inline]
    fn defer(&mut self, hash: u64, element: u32) {
        self.pending.push((hash, element));
        if self.pending.len() == DEFERRED_REMOVALS {
            self.apply_removals();
        }
    }

    /// Removes the pending index entries (all their lines loading at once)
    /// and puts the dead records on the free list.
    fn apply_removals(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for &(hash, _) in &pending {
            self.index.prefetch(hash);
        }
        for &(hash, e) in &pending {
            self.index.remove(hash, e);
            if let At::Rec(i) = At::of(e) {
                self.recs.get_mut(i).next_free = self.free;
                self.free = i;
            }
        }
        self.pending = pending;
        self.pending.clear();
    }

    /// Replaces the path of record `i`; returns the old one (the caller
    /// updates the member slots' copies to [`FileRec::raw_path`]).
    pub(crate) fn set_path(&mut self, i: u32, path: Arc<str>) -> Arc<str> {
        let r = self.recs.get_mut(i);
        let old = r.take_path();
        r.path = RawPath::from_arc(path);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_144_bytes_and_elements_say_slot_or_record() {
        assert_eq!(std::mem::size_of::<FileRec>(), 144);
        let top = (1 << 24) - 1;
        for at in [At::Slot(0), At::Slot(top), At::Rec(0), At::Rec(top)] {
            assert_eq!(At::of(at.element()), at);
        }
    }

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

    #[test]
    fn freed_memory_waits_in_the_garbage_until_taken() {
        let mut files = Files::new(7);
        let hash = files.hash(5);
        files.insert_home(hash, 3);
        let path = RawPath::from_arc(Arc::from("/f"));
        let f = files.promote(5, path, false, 3);
        for i in 0..KEPT_MEMBERS as u32 {
            files.get_mut(f).ext_mut().add_member(10 + i);
        }
        for p in 0..=KEPT_MEMBERS as u32 {
            files.get_mut(f).ext_mut().remove_member(p);
        }
        assert_eq!(&*files.remove(f), "/f");
        let garbage = files.take_all_garbage().expect("the big member list waits");
        assert!(matches!(garbage, Garbage::One(_)), "{garbage:?}");
        assert!(files.take_all_garbage().is_none(), "taken once");
        assert!(files.garbage.capacity() > 0, "the vector keeps its room for the next");
    }
}
