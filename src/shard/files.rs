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

#[cfg(test)]
use super::file_ext::KEPT_MEMBERS;
use super::file_ext::{FileExt, Garbage};
use super::index::Index;
use super::pages::Pages;
use super::path::RawPath;
use super::slots::Slots;
use super::NIL;

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
    /// cannot predict the treap's priorities, see [`LockSet::with_seed`](super::locks::LockSet::with_seed)).
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
            if let Some(m) = self.recs.get(i).ext.member_at(pos) {
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
