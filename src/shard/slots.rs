//! A shard's handle slots: 64 bytes each, one cache line, never moved,
//! reused most recently freed first (the freed slot is still in cache), each
//! with a generation that a location must carry to name it.
//!
//! A slot holds everything a `get` answers: besides the handle's own state,
//! its file's number, path and delete-pending state. A file with one open
//! lives in its slot alone (`Slot::file` is [`HOME`], the slot owns the
//! path and the file index names the slot); a file's second open, first
//! lock or first lease moves what only shared files need into a file
//! record, and the slots keep copies of the path pointer and the
//! delete-pending state, which the shard updates in every member slot.

use crate::location::{Location, FIRST_GENERATION, MAX_GENERATION, SLOTS_PER_SHARD};

use super::pages::{prefetch, Pages};
use super::path::RawPath;
use super::NIL;

/// `owner` of a vacant slot.
pub(crate) const VACANT: u32 = u32::MAX;
/// `file` of a slot whose file has no record: the file's only open, kept
/// in the slot itself.
pub(crate) const HOME: u32 = u32::MAX - 1;
/// Bits of `Slot::member` that hold the member position; the top 8 hold
/// [`FLAG_DIRECTORY`] and the share mode.
pub(crate) const MEMBER_BITS: u32 = 24;
/// Flag: the handle is a directory.
pub(crate) const FLAG_DIRECTORY: u32 = 1 << 31;
/// Flag: the handle has a link in the shard's [`Trees`](super::trees::Trees)
/// (it came through a tree connect, or has notify watches).
pub(crate) const FLAG_LINKED: u32 = 1 << 30;
/// Flag: the handle was opened with `FILE_DELETE_ON_CLOSE`.
pub(crate) const FLAG_DELETE_ON_CLOSE: u32 = 1 << 29;
/// Flag: the handle is durable (the table's registry holds its reconnect
/// identity).
pub(crate) const FLAG_DURABLE: u32 = 1 << 28;
/// Flag: the durable handle's connection dropped; it waits for a reconnect.
pub(crate) const FLAG_DISCONNECTED: u32 = 1 << 27;
/// Where the share mode's three bits sit in `Slot::member`.
pub(crate) const SHARE_SHIFT: u32 = MEMBER_BITS;

/// One handle. 64 bytes, aligned to a cache line.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub(crate) struct Slot {
    /// The generation a location must carry to name this slot's handle.
    pub(crate) generation: u32,
    /// The file record, or [`HOME`] when the file lives in this slot alone
    /// (the next free slot while vacant).
    pub(crate) file: u32,
    /// The owner's number in the shard's interner; [`VACANT`] while vacant.
    pub(crate) owner: u32,
    /// The access mask as given.
    pub(crate) access: u32,
    /// Byte-range locks held (managed and adjusted).
    pub(crate) locks: u32,
    /// Position in the file's member list (low 24 bits), share mode (3 bits
    /// at [`SHARE_SHIFT`]) and [`FLAG_DIRECTORY`].
    pub(crate) member: u32,
    /// Record version: 1 at open, +1 per change.
    pub(crate) version: u64,
    /// The file's number.
    pub(crate) file_number: u64,
    /// The data pointer of the file's path (see [`Slot::path`]).
    path_ptr: *const u8,
    /// The handle's first lock in its file's lock set, or [`NIL`].
    pub(crate) lock_head: u32,
    /// The handle's lease or oplock in its file's caching state, or
    /// [`NIL`].
    pub(crate) holder: u32,
    /// The length of the file's path.
    path_len: u16,
    /// The file is delete-pending (a copy of the record's, for a shared
    /// file).
    pub(crate) delete_pending: bool,
}

// SAFETY: `path` is an `Arc<str>` (which is `Send + Sync`) this slot or its
// file record owns; the shard changes or releases it only through `&mut`.
unsafe impl Send for Slot {}
// SAFETY: as above; through `&Slot` the path is only read or cloned.
unsafe impl Sync for Slot {}

impl Slot {
    const fn vacant() -> Slot {
        Slot {
            generation: FIRST_GENERATION,
            file: NIL,
            owner: VACANT,
            access: 0,
            locks: 0,
            member: 0,
            version: 0,
            file_number: 0,
            path_ptr: std::ptr::null(),
            lock_head: NIL,
            holder: NIL,
            path_len: 0,
            delete_pending: false,
        }
    }

    /// The file's path: this slot owns its count when `file` is [`HOME`],
    /// the file record does otherwise (and every member slot has a copy).
    #[inline]
    pub(crate) fn path(&self) -> RawPath {
        RawPath::from_parts(self.path_ptr, self.path_len)
    }

    /// Sets the file's path (who owns its count: see [`Slot::path`]).
    #[inline]
    pub(crate) fn set_path(&mut self, path: RawPath) {
        (self.path_ptr, self.path_len) = (path.ptr(), path.len());
    }

    /// The file lives in this slot alone (no file record).
    #[inline]
    pub(crate) fn home(&self) -> bool {
        self.file == HOME
    }

    /// The file's path, borrowed (the slot is occupied).
    #[inline]
    pub(crate) fn path_str(&self) -> &str {
        // SAFETY: an occupied slot's path is owned by the slot itself or
        // by its file record, and either gives its count up only through
        // `&mut` of the shard, which this borrow of the slot excludes.
        unsafe { self.path().as_str() }
    }

    /// A new count of the file's path (the slot is occupied).
    #[inline]
    pub(crate) fn path_arc(&self) -> std::sync::Arc<str> {
        // SAFETY: as in `path_str`: the count is owned while we borrow.
        unsafe { self.path().to_arc() }
    }

    #[inline]
    pub(crate) fn occupied(&self) -> bool {
        self.owner != VACANT
    }

    #[inline]
    pub(crate) fn position(&self) -> u32 {
        self.member & ((1 << MEMBER_BITS) - 1)
    }

    #[inline]
    pub(crate) fn share_bits(&self) -> u32 {
        (self.member >> SHARE_SHIFT) & 0x7
    }

    #[inline]
    pub(crate) fn linked(&self) -> bool {
        self.member & FLAG_LINKED != 0
    }

    #[inline]
    pub(crate) fn delete_on_close(&self) -> bool {
        self.member & FLAG_DELETE_ON_CLOSE != 0
    }

    #[inline]
    pub(crate) fn durable(&self) -> bool {
        self.member & FLAG_DURABLE != 0
    }

    #[inline]
    pub(crate) fn disconnected(&self) -> bool {
        self.member & FLAG_DISCONNECTED != 0
    }

    #[inline]
    pub(crate) fn directory(&self) -> bool {
        self.member & FLAG_DIRECTORY != 0
    }
}

/// The slots of one shard.
#[derive(Debug)]
pub(crate) struct Slots {
    pages: Pages<Slot>,
    /// The most recently freed slot, or `NIL`; threaded through `Slot::file`.
    free: u32,
}

impl Slots {
    pub(crate) const fn new() -> Slots {
        Slots { pages: Pages::new(), free: NIL }
    }

    /// Gives slot `i`, which owns its path (its file lives in it alone), a
    /// new path; returns the old one for the caller to drop after the lock.
    pub(crate) fn replace_path(
        &mut self,
        i: u32,
        path: std::sync::Arc<str>,
    ) -> std::sync::Arc<str> {
        let old = self.take_path(i);
        self.pages.get_mut(i).set_path(RawPath::from_arc(path));
        old
    }

    /// Takes the path out of slot `i`, which owns it (its file lives in it
    /// alone), for the caller to drop after the lock.
    pub(crate) fn take_path(&mut self, i: u32) -> std::sync::Arc<str> {
        let s = self.pages.get_mut(i);
        debug_assert!(s.occupied() && s.home());
        let p = s.path();
        s.set_path(RawPath::NONE);
        // SAFETY: a home slot owns its path's count, and the slot's copy
        // was just replaced, so the count is taken once.
        unsafe { p.take() }
    }

    /// Slots handed out so far (a walk covers `0..high`).
    #[inline]
    pub(crate) fn high(&self) -> u32 {
        self.pages.len()
    }

    /// True when [`Slots::alloc`] would succeed.
    #[inline]
    pub(crate) fn can_alloc(&self) -> bool {
        self.free != NIL || self.pages.len() < SLOTS_PER_SHARD
    }

    /// Takes the most recently freed slot, else a fresh one. The caller
    /// checked [`Slots::can_alloc`].
    #[inline]
    pub(crate) fn alloc(&mut self) -> u32 {
        if self.free != NIL {
            let i = self.free;
            self.free = self.pages.get(i).file;
            i
        } else {
            self.pages.push(Slot::vacant)
        }
    }

    /// Takes slot `i` with `generation` for a handle restored from a store
    /// (recovery of a fresh table, slots in ascending order): the slots
    /// before it that were never handed out are made free. False when `i`
    /// was handed out already, is beyond a shard, or `generation` is not
    /// one a slot can have.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn claim_at(&mut self, i: u32, generation: u32) -> bool {
        if i < self.pages.len()
            || i >= SLOTS_PER_SHARD
            || !(FIRST_GENERATION..=MAX_GENERATION).contains(&generation)
        {
            return false;
        }
        while self.pages.len() < i {
            let skipped = self.pages.push(Slot::vacant);
            self.pages.get_mut(skipped).file = self.free;
            self.free = skipped;
        }
        let at = self.pages.push(Slot::vacant);
        debug_assert_eq!(at, i);
        self.pages.get_mut(i).generation = generation;
        true
    }

    /// Gives occupied slot `i` the next generation without freeing it (a
    /// durable reconnect: the old location goes stale); false when its
    /// generation is spent.
    pub(crate) fn renew(&mut self, i: u32) -> bool {
        let s = self.pages.get_mut(i);
        if s.generation >= MAX_GENERATION {
            return false;
        }
        s.generation += 1;
        true
    }

    /// Marks slot `i` vacant, bumps its generation and makes it the next to
    /// be reused, unless its generation is spent: then it is retired, never
    /// reused, so no location can name two handles.
    #[inline]
    pub(crate) fn release(&mut self, i: u32) {
        let s = self.pages.get_mut(i);
        let retire = s.generation >= MAX_GENERATION;
        s.generation = s.generation.wrapping_add(1);
        s.owner = VACANT;
        s.set_path(RawPath::NONE);
        if !retire {
            s.file = self.free;
            self.free = i;
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &Slot {
        self.pages.get(i)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut Slot {
        self.pages.get_mut(i)
    }

    /// The slot a location names, if it still names an open handle.
    #[inline]
    pub(crate) fn find(&self, loc: Location) -> Option<u32> {
        let i = loc.slot();
        if i >= self.pages.len() {
            return None;
        }
        let s = self.pages.get(i);
        (s.generation == loc.generation() && s.occupied()).then_some(i)
    }

    /// Starts loading the slot `loc` names.
    #[inline]
    pub(crate) fn prefetch(&self, loc: Location) {
        if loc.slot() < self.pages.len() {
            prefetch(self.pages.get(loc.slot()));
        }
    }

    /// The slots from `i` to the end of its page.
    #[inline]
    pub(crate) fn run(&self, i: u32) -> &[Slot] {
        self.pages.run(i)
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        let mut i = 0;
        while i < self.high() {
            let n = self.run(i).len() as u32;
            for j in i..i + n {
                let s = self.pages.get(j);
                if s.occupied() && s.home() && !s.path().is_none() {
                    drop(self.take_path(j));
                }
            }
            i += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_is_one_aligned_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
        assert_eq!(std::mem::align_of::<Slot>(), 64);
    }

    #[test]
    fn reuse_is_last_freed_first_and_spent_slots_retire() {
        let mut s = Slots::new();
        let (a, b) = (s.alloc(), s.alloc());
        s.get_mut(a).owner = 0;
        s.get_mut(b).owner = 0;
        s.release(a);
        s.release(b);
        assert_eq!(s.alloc(), b);
        assert_eq!(s.alloc(), a);
        assert_eq!(s.get(a).generation, FIRST_GENERATION + 1);
        s.get_mut(a).generation = MAX_GENERATION;
        s.get_mut(a).owner = 0;
        s.release(a);
        assert_ne!(s.alloc(), a, "a spent slot went back on the free list");
    }
}
