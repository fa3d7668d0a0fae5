//! A shard's file records: one per open file, found from the file number
//! through an [`Index`], created by the file's first open and freed with its
//! last close.
//!
//! A record is 32 bytes: the file number, the file's path (the data pointer
//! of an `Arc<str>` and its length), and either the slot of its only open or
//! a [`FileExt`] with what only shared or locked files need: the count of
//! opens, the aggregate share-mode claims, the list of member slots and the
//! byte-range locks. Most files have one open and never allocate an
//! extension.

use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Arc;

use crate::record::StrArg;
use crate::share::ShareCounts;

use super::caching::FileCaching;
use super::index::Index;
use super::locks::LockSet;
use super::pages::Pages;
use super::NIL;

/// One member of a shared file: a slot and the head of its locks' list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    /// The handle's slot, or [`NIL`] while the position is free.
    pub(crate) slot: u32,
    /// The handle's first lock in the file's [`LockSet`] (or, while the
    /// position is free, the next free position).
    pub(crate) lock_head: u32,
    /// The handle's lease or oplock in the file's
    /// [`FileCaching`](super::caching::FileCaching), or [`NIL`].
    pub(crate) holder: u32,
}

/// What a file with more than one open (or with locks) keeps.
#[derive(Debug)]
pub(crate) struct FileExt {
    /// Open handles of the file.
    pub(crate) opens: u32,
    /// The share-mode claims of its non-stat opens.
    pub(crate) share: ShareCounts,
    /// Its handles, by position (each slot knows its position).
    pub(crate) members: Vec<Member>,
    /// The first free position, or [`NIL`].
    member_free: u32,
    /// Its byte-range locks.
    pub(crate) locks: LockSet,
    /// Its leases and oplocks, once an open asked for one.
    pub(crate) caching: Option<Box<FileCaching>>,
}

impl FileExt {
    /// An extension holding one member, at position 0; `lock_seed` seeds
    /// the lock treap's priorities (see [`LockSet::with_seed`]).
    pub(crate) fn with_member(slot: u32, lock_seed: u32) -> FileExt {
        FileExt {
            opens: 1,
            share: ShareCounts::default(),
            members: vec![Member { slot, lock_head: NIL, holder: NIL }],
            member_free: NIL,
            locks: LockSet::with_seed(lock_seed),
            caching: None,
        }
    }

    /// Adds a member; returns its position.
    pub(crate) fn add_member(&mut self, slot: u32) -> u32 {
        self.opens += 1;
        let m = Member { slot, lock_head: NIL, holder: NIL };
        if self.member_free != NIL {
            let pos = self.member_free;
            self.member_free = self.members[pos as usize].lock_head;
            self.members[pos as usize] = m;
            pos
        } else {
            self.members.push(m);
            (self.members.len() - 1) as u32
        }
    }

    /// Frees position `pos` (its locks already released).
    pub(crate) fn remove_member(&mut self, pos: u32) {
        self.opens -= 1;
        self.members[pos as usize] = Member { slot: NIL, lock_head: self.member_free, holder: NIL };
        self.member_free = pos;
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
        self.members.retain(|m| m.slot != NIL);
        for (pos, m) in self.members.iter().enumerate() {
            moved(m.slot, pos as u32);
        }
        self.members.shrink_to(self.members.len() * 2);
        self.member_free = NIL;
    }

    /// The member slots, in no particular order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.members.iter().map(|m| m.slot).filter(|&s| s != NIL)
    }
}

/// One open file. 32 bytes.
#[derive(Debug)]
pub(crate) struct FileRec {
    /// The file number.
    pub(crate) file_number: u64,
    /// Data pointer of the path's `Arc<str>` (a strong count this record
    /// owns); null exactly while the record is free.
    path: *const u8,
    /// Present once the file has had a second open or a lock.
    pub(crate) ext: Option<Box<FileExt>>,
    path_len: u16,
    /// The file is delete-pending (in the record's padding: free).
    pub(crate) delete_pending: bool,
    /// The slot of the only open while `ext` is `None`; the next free
    /// record while free.
    pub(crate) solo: u32,
}

// SAFETY: `path` is an `Arc<str>` this record owns (see `into_raw`), and
// `Arc<str>` is `Send + Sync`; everything else is plain data.
unsafe impl Send for FileRec {}
// SAFETY: as above; `&FileRec` only ever clones that `Arc`.
unsafe impl Sync for FileRec {}

/// Gives up an `Arc<str>` for its data pointer and length.
fn into_raw(s: Arc<str>) -> (*const u8, u16) {
    let len = u16::try_from(s.len()).expect("validated path length fits u16");
    (Arc::into_raw(s) as *const u8, len)
}

/// Where the reference counts of the `Arc<str>` whose data is at `p` live
/// (two words before the data), for prefetching only: never dereferenced.
#[inline]
fn arc_header(p: *const u8) -> *const u8 {
    p.wrapping_sub(2 * std::mem::size_of::<usize>())
}

/// Takes back the `Arc<str>` that `into_raw` gave up.
///
/// # Safety
///
/// `(p, len)` came from `into_raw`, and the count it stands for is not
/// taken back twice.
unsafe fn from_raw(p: *const u8, len: u16) -> Arc<str> {
    // SAFETY: by the caller, `p..p+len` is the data of a live `Arc<str>`
    // whose strong count we own; `*const [u8]` to `*const str` keeps the
    // length metadata.
    unsafe { Arc::from_raw(ptr::slice_from_raw_parts(p, len as usize) as *const str) }
}

impl FileRec {
    fn free() -> FileRec {
        FileRec {
            file_number: 0,
            path: ptr::null(),
            ext: None,
            path_len: 0,
            delete_pending: false,
            solo: NIL,
        }
    }

    /// A new count of the path.
    pub(crate) fn path(&self) -> Arc<str> {
        debug_assert!(!self.path.is_null());
        // SAFETY: a live record owns its path count (set in `create` or
        // `set_path`); `ManuallyDrop` leaves that count in place.
        let arc = ManuallyDrop::new(unsafe { from_raw(self.path, self.path_len) });
        Arc::clone(&arc)
    }

    /// The path, borrowed for as long as the record is (no count taken).
    pub(crate) fn path_str(&self) -> &str {
        debug_assert!(!self.path.is_null());
        // SAFETY: a live record owns a count of its path's `Arc<str>`, so
        // `path..path+path_len` is that string's UTF-8 data, alive and
        // unchanged until the record gives the count up, which needs `&mut
        // self` and so cannot happen while the returned borrow lives.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                self.path,
                self.path_len as usize,
            ))
        }
    }

    /// Takes the path count out; the record must be freed or given a new
    /// path right after.
    fn take_path(&mut self) -> Arc<str> {
        debug_assert!(!self.path.is_null());
        // SAFETY: a live record owns its path count; nulling `path` makes
        // sure it is taken once.
        let p = unsafe { from_raw(self.path, self.path_len) };
        self.path = ptr::null();
        p
    }
}

impl Drop for FileRec {
    fn drop(&mut self) {
        if !self.path.is_null() {
            drop(self.take_path());
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

/// The file records of one shard.
///
/// A file's last close frees its record at once (its path is taken, which
/// marks it dead: lookups skip it) but removes its index entry later,
/// together with 31 others after prefetching all their index lines. So the
/// close waits on its slot and its record only, not on a third random line,
/// and the index upkeep costs independent, overlapped loads.
#[derive(Debug)]
pub(crate) struct Files {
    recs: Pages<FileRec>,
    index: Index,
    free: u32,
    seed: u64,
    /// Dead records still in the index.
    pending: Vec<u32>,
}

impl Files {
    pub(crate) fn new(seed: u64) -> Files {
        Files { recs: Pages::new(), index: Index::new(), free: NIL, seed, pending: Vec::new() }
    }

    #[inline]
    pub(crate) fn hash(&self, file: u64) -> u64 {
        file_hash(file, self.seed)
    }

    /// A secret seed for the lock treap of record `f`'s file: the table's
    /// random seed mixed with the file number and the record (a client
    /// cannot predict the treap's priorities, see [`LockSet::with_seed`]).
    pub(crate) fn lock_seed(&self, f: u32) -> u32 {
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

    /// Starts loading the path header of record `i` (in cache).
    #[inline]
    pub(crate) fn prefetch_path(&self, i: u32) {
        if i < self.recs.len() {
            super::pages::prefetch(arc_header(self.recs.get(i).path));
        }
    }

    /// The record of `file`, if it has open handles (dead records, whose
    /// index entries are still pending, do not count).
    #[inline]
    pub(crate) fn find(&self, file: u64, hash: u64) -> Option<u32> {
        let recs = &self.recs;
        self.index.find(hash, |i| {
            let r = recs.get(i);
            r.file_number == file && !r.path.is_null()
        })
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &FileRec {
        self.recs.get(i)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut FileRec {
        self.recs.get_mut(i)
    }

    /// A record for a file with no open handle yet, whose only open is
    /// `solo`.
    pub(crate) fn create(&mut self, file: u64, hash: u64, path: StrArg<'_>, solo: u32) -> u32 {
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.recs.get(i).solo;
            i
        } else {
            self.recs.push(FileRec::free)
        };
        let (p, len) = into_raw(path.to_arc());
        let r = self.recs.get_mut(i);
        r.file_number = file;
        r.path = p;
        r.path_len = len;
        r.delete_pending = false;
        r.solo = solo;
        debug_assert!(r.ext.is_none());
        self.index.insert(hash, i);
        i
    }

    /// Frees record `i` after its last close: returns its path and
    /// extension for the caller to drop after the lock. The index entry goes
    /// with the next batch of deferred removals.
    pub(crate) fn remove(&mut self, i: u32) -> (Arc<str>, Option<Box<FileExt>>) {
        let r = self.recs.get_mut(i);
        let path = r.take_path();
        let ext = r.ext.take();
        self.pending.push(i);
        if self.pending.len() == DEFERRED_REMOVALS {
            self.apply_removals();
        }
        (path, ext)
    }

    /// Removes the pending records' index entries (all their lines loading
    /// at once) and puts the records on the free list.
    fn apply_removals(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for &i in &pending {
            self.index.prefetch(self.hash(self.recs.get(i).file_number));
        }
        for &i in &pending {
            let hash = self.hash(self.recs.get(i).file_number);
            self.index.remove(hash, i);
            self.recs.get_mut(i).solo = self.free;
            self.free = i;
        }
        self.pending = pending;
        self.pending.clear();
    }

    /// Replaces the path of record `i`; returns the old one.
    pub(crate) fn set_path(&mut self, i: u32, path: Arc<str>) -> Arc<str> {
        let r = self.recs.get_mut(i);
        let old = r.take_path();
        (r.path, r.path_len) = into_raw(path);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_32_bytes() {
        assert_eq!(std::mem::size_of::<FileRec>(), 32);
    }

    #[test]
    fn records_are_found_freed_and_reused() {
        let mut f = Files::new(5);
        let h1 = f.hash(1);
        let a = f.create(1, h1, StrArg::Borrowed("/a"), 10);
        let b = f.create(2, f.hash(2), StrArg::Borrowed("/b"), 11);
        assert_eq!(f.find(1, h1), Some(a));
        assert_eq!(f.find(3, f.hash(3)), None);
        assert_eq!(&*f.get(b).path(), "/b");
        let old = f.set_path(b, Arc::from("/c"));
        assert_eq!((&*old, &*f.get(b).path()), ("/b", "/c"));
        let (path, ext) = f.remove(a);
        assert_eq!((&*path, ext.is_none()), ("/a", true));
        assert_eq!(f.find(1, h1), None, "a dead record is not found");
        // Reopened before its entry is removed: a second entry, found alone.
        let again = f.create(1, h1, StrArg::Borrowed("/a2"), 13);
        assert_ne!(again, a);
        assert_eq!(f.find(1, h1), Some(again));
        // After a batch of removals, freed records are reused.
        let many: Vec<u32> = (100..100 + DEFERRED_REMOVALS as u64)
            .map(|n| f.create(n, f.hash(n), StrArg::Borrowed("/m"), 0))
            .collect();
        for &m in &many {
            drop(f.remove(m));
        }
        assert!(f.pending.len() < DEFERRED_REMOVALS);
        assert_eq!(f.index.len() as usize, 2 + f.pending.len(), "b and again, and the pending");
        let reused = f.create(4, f.hash(4), StrArg::Borrowed("/d"), 12);
        assert!(many.contains(&reused) || reused == a);
        assert_eq!(f.find(1, h1), Some(again));
        assert_eq!(f.find(4, f.hash(4)), Some(reused));
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
        assert_eq!(e.members.len(), 11);
        let mut slots: Vec<u32> = e.slots().collect();
        slots.sort_unstable();
        assert_eq!(slots[0], 7);
        assert_eq!(slots[1], 100);
    }
}
