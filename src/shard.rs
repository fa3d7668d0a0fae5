//! One shard: a slab of generation-checked slots, a FIFO free list, and the
//! per-file index that links every open of a file.
//!
//! Everything here runs under the shard's lock, which the table owns; this
//! module never locks and never calls user code.
//!
//! # Slots
//!
//! A slot is 56 bytes and holds the whole record: file number, version,
//! lock count, access mask, and the owner and path as the data pointers of
//! their `Arc<str>` (the lengths, at most 1 024 and 32 767, fit in a `u16`
//! each), so a handle costs one slot and nothing else.
//!
//! Slots live in pages of 64, 128, … 4 096 slots, then 4 096 each, so a
//! shard grows without ever moving a slot or copying a page under its lock,
//! a small table stays small and a big one wastes under one page. A slot is
//! occupied while its owner pointer is non-null. Its `generation` goes up by
//! one at every close; a slot whose generation would pass
//! [`MAX_GENERATION`] is retired: left vacant and never put back on the free
//! list.
//!
//! Closed slots join the *back* of a FIFO queue and opens take from its
//! *front*, so the slot closed last is reused last: a stale location would
//! need the whole queue to cycle and its slot's generation to match before it
//! could name another handle, and the generation check forbids even that.
//!
//! # Files
//!
//! The slots of one file form a doubly linked list (`prev`, `next`). Its
//! first slot, the file's *head*, has no `prev`: that field instead carries
//! [`HEAD`] and the next head in its bucket of the per-file index, an array
//! of buckets (one `u32` per bucket, at least one bucket per open file)
//! chained through the head slots. So the index costs four bytes per open
//! file, and per-file queries and renames walk the file's own list. The head
//! slot is where later per-file state (share modes, leases) is found from a
//! file number.
//!
//! # Closing
//!
//! A close takes the strings out, bumps the generation and queues the slot
//! for reuse. When the slot is its file's only one (the common case: most
//! files have one open), it stays linked as a vacant head that per-file walks
//! skip, and is unlinked from the index only when an open reuses it: that
//! close touches its own slot and nothing else, and the index upkeep is paid
//! by the open that needed a slot anyway. Any other slot is unlinked at once,
//! through neighbours of the same file (usually cached: the file is busy), so
//! a file's list holds at most one vacant slot and per-file walks and renames
//! stay proportional to the file's open handles. Retired slots are unlinked
//! at once.

use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Arc;

use crate::access::AccessMask;
use crate::error::CloseError;
use crate::location::{Location, FIRST_GENERATION, MAX_GENERATION, SLOTS_PER_SHARD};
use crate::record::{FileHandle, FileNumber, HandleInfo, OpenSpec};

/// "No slot" in `next`.
const NIL: u32 = u32::MAX;
/// `prev` of a vacant slot already unlinked from its file's list (never a
/// slot index, nor `HEAD` plus a chain link: those are below 2^24 or
/// `NO_HEAD`).
const UNLINKED: u32 = u32::MAX - 1;
/// Set in `prev` of a file's head slot; the other bits are the next head in
/// its bucket chain, or [`NO_HEAD`].
const HEAD: u32 = 1 << 31;
/// "No further head" in a bucket chain (slot indices are below 2^24).
const NO_HEAD: u32 = HEAD - 1;
/// log2 of the slots in the first page; page `p` holds `64 << p` slots up to
/// [`BIG_PAGE`].
const FIRST_PAGE_SHIFT: u32 = 6;
/// Pages stop doubling at this many slots.
const BIG_PAGE: u32 = 4096;
/// The number of doubling pages (64 … 4 096 slots).
const SMALL_PAGES: usize = 7;
/// Slots in the doubling pages: 64 + 128 + … + 4 096.
const SMALL_SLOTS: u32 = (1 << (FIRST_PAGE_SHIFT + SMALL_PAGES as u32)) - (1 << FIRST_PAGE_SHIFT);
/// An internal flag kept in a reserved access bit (bit 21), which opens can
/// never set: the handle is a directory.
const DIRECTORY_FLAG: u32 = 1 << 21;

/// One handle slot. 56 bytes on 64-bit targets.
#[derive(Debug)]
struct Slot {
    /// The generation a location must carry to name this slot's handle.
    generation: u32,
    /// Next slot of the same file or `NIL` (also while vacant and queued for
    /// reuse: the slot stays linked until it is reused).
    next: u32,
    /// Occupied: previous slot of the same file, or for the file's head
    /// [`HEAD`] plus the next head of its bucket chain.
    prev: u32,
    /// Byte-range locks held.
    locks: u32,
    /// Access mask bits, plus [`DIRECTORY_FLAG`].
    access: u32,
    owner_len: u16,
    path_len: u16,
    /// Record version: 1 at open, +1 per change.
    version: u64,
    file_number: u64,
    /// Data pointer of the owner's `Arc<str>` (a strong count this slot
    /// owns); null exactly while the slot is vacant.
    owner: *const u8,
    /// Data pointer of the path's `Arc<str>` (a strong count this slot owns).
    path: *const u8,
}

// SAFETY: the raw pointers are `Arc<str>`s this slot owns (see `into_raw`),
// and `Arc<str>` is `Send + Sync`.
unsafe impl Send for Slot {}
// SAFETY: as above; `&Slot` only ever clones those `Arc`s.
unsafe impl Sync for Slot {}

/// Gives up an `Arc<str>` for its data pointer and length.
fn into_raw(s: Arc<str>) -> (*const u8, u16) {
    let len = u16::try_from(s.len()).expect("validated string length fits u16");
    (Arc::into_raw(s) as *const u8, len)
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

/// A new strong reference to the `Arc<str>` at `(p, len)`.
///
/// # Safety
///
/// `(p, len)` came from `into_raw` and its count is still owned.
unsafe fn clone_raw(p: *const u8, len: u16) -> Arc<str> {
    // SAFETY: by the caller; `ManuallyDrop` leaves the owned count in place.
    let arc = ManuallyDrop::new(unsafe { from_raw(p, len) });
    Arc::clone(&arc)
}

impl Slot {
    const fn vacant() -> Slot {
        Slot {
            generation: FIRST_GENERATION,
            next: NIL,
            prev: NIL,
            locks: 0,
            access: 0,
            owner_len: 0,
            path_len: 0,
            version: 0,
            file_number: 0,
            owner: ptr::null(),
            path: ptr::null(),
        }
    }

    #[inline]
    fn occupied(&self) -> bool {
        !self.owner.is_null()
    }

    fn owner(&self) -> Arc<str> {
        debug_assert!(self.occupied());
        // SAFETY: an occupied slot owns its owner `Arc` (set in `open`).
        unsafe { clone_raw(self.owner, self.owner_len) }
    }

    fn path(&self) -> Arc<str> {
        debug_assert!(self.occupied());
        // SAFETY: an occupied slot owns its path `Arc` (set in `open`/`rename`).
        unsafe { clone_raw(self.path, self.path_len) }
    }

    /// Moves the strings out and leaves the slot vacant.
    fn take_strings(&mut self) -> (Arc<str>, Arc<str>) {
        debug_assert!(self.occupied());
        // SAFETY: the slot owns both counts; nulling `owner` marks it vacant,
        // so they are never taken again.
        let taken =
            unsafe { (from_raw(self.owner, self.owner_len), from_raw(self.path, self.path_len)) };
        self.owner = ptr::null();
        self.path = ptr::null();
        taken
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.occupied() {
            drop(self.take_strings());
        }
    }
}

/// Mixes a file number for choosing its shard.
pub(crate) fn shard_of(file: FileNumber, shards: usize) -> usize {
    let h = (file.0 ^ (file.0 >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let h = (h ^ (h >> 32)) as u32 as u64;
    ((h * shards as u64) >> 32) as usize
}

/// The bucket of `file` in an index of `2^bits` buckets (a different mix
/// from `shard_of`, whose bits are all the same within one shard).
#[inline]
fn bucket_of(file: u64, bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    let h = file.rotate_left(23).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - bits)) as usize
}

/// Splits a slot index into (page, offset).
#[inline]
fn page_of(slot: u32) -> (usize, usize) {
    if slot < SMALL_SLOTS {
        let t = slot as u64 + (1 << FIRST_PAGE_SHIFT);
        let bit = 63 - t.leading_zeros();
        ((bit - FIRST_PAGE_SHIFT) as usize, (t - (1u64 << bit)) as usize)
    } else {
        let rest = slot - SMALL_SLOTS;
        (SMALL_PAGES + (rest / BIG_PAGE) as usize, (rest % BIG_PAGE) as usize)
    }
}

/// The number of slots in page `page`.
fn page_len(page: usize) -> usize {
    if page < SMALL_PAGES {
        1 << (FIRST_PAGE_SHIFT as usize + page)
    } else {
        BIG_PAGE as usize
    }
}

/// Why a shard could not take an open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ShardFull;

/// One shard's state, guarded by the table's lock for it.
#[derive(Debug)]
pub(crate) struct Shard {
    index: usize,
    pages: Vec<Box<[Slot]>>,
    /// Slots handed out so far (the high-water mark).
    high: u32,
    /// Closed slots waiting for reuse, oldest first. They are still linked
    /// in their file's list (see "Closing" in the module docs).
    free: VecDeque<u32>,
    /// The per-file index: the first head slot of each bucket, or `NO_HEAD`.
    buckets: Box<[u32]>,
    /// log2 of `buckets.len()` (0 while there are none).
    bucket_bits: u32,
    /// Files with at least one open handle (heads in the index).
    files: u32,
    /// Spare open credits this shard holds (see the table's `reserved`).
    pub(crate) credits: usize,
}

impl Shard {
    pub(crate) fn new(index: usize) -> Shard {
        Shard {
            index,
            pages: Vec::new(),
            high: 0,
            free: VecDeque::new(),
            buckets: Box::new([]),
            bucket_bits: 0,
            files: 0,
            credits: 0,
        }
    }

    /// Slots this shard has handed out (its walk covers `0..high`).
    pub(crate) fn high(&self) -> u32 {
        self.high
    }

    #[inline]
    fn slot(&self, slot: u32) -> &Slot {
        let (p, o) = page_of(slot);
        &self.pages[p][o]
    }

    #[inline]
    fn slot_mut(&mut self, slot: u32) -> &mut Slot {
        let (p, o) = page_of(slot);
        &mut self.pages[p][o]
    }

    /// The occupied slot a location names, if it still names one.
    #[inline]
    fn find(&self, loc: Location) -> Option<&Slot> {
        let idx = loc.slot();
        if idx >= self.high {
            return None;
        }
        let s = self.slot(idx);
        (s.generation == loc.generation() && s.occupied()).then_some(s)
    }

    #[inline]
    fn find_mut(&mut self, loc: Location) -> Option<&mut Slot> {
        let idx = loc.slot();
        if idx >= self.high {
            return None;
        }
        let s = self.slot_mut(idx);
        (s.generation == loc.generation() && s.occupied()).then_some(s)
    }

    /// Starts loading the slot `loc` names into the cache (a hint for
    /// batches; never faults, changes nothing).
    #[inline]
    pub(crate) fn prefetch(&self, loc: Location) {
        self.prefetch_slot(loc.slot());
    }

    #[inline]
    fn prefetch_slot(&self, idx: u32) {
        if idx < self.high {
            let p: *const u8 = (self.slot(idx) as *const Slot).cast();
            // A 56-byte slot straddles two cache lines for 6 slots in 8:
            // fetch both, or the close stalls on the second.
            prefetch_read(p);
            prefetch_read(p.wrapping_add(std::mem::size_of::<Slot>() - 1));
        }
    }

    /// Takes a slot: the oldest closed one (unlinked from its old file's
    /// list now), else a fresh one.
    fn alloc_slot(&mut self) -> Result<u32, ShardFull> {
        if let Some(idx) = self.free.pop_front() {
            if self.slot(idx).prev != UNLINKED {
                self.unlink(idx);
            }
            return Ok(idx);
        }
        if self.high == SLOTS_PER_SHARD {
            return Err(ShardFull);
        }
        let idx = self.high;
        let (page, _) = page_of(idx);
        if page == self.pages.len() {
            self.pages.push((0..page_len(page)).map(|_| Slot::vacant()).collect());
        }
        self.high += 1;
        Ok(idx)
    }

    /// Takes slot `idx` (vacant, still linked) out of its file's list and,
    /// for the file's last slot, out of the per-file index.
    fn unlink(&mut self, idx: u32) {
        let s = self.slot(idx);
        debug_assert!(!s.occupied());
        let (prev, next, file) = (s.prev, s.next, s.file_number);
        if prev & HEAD == 0 {
            // Inside the file's list.
            self.slot_mut(prev).next = next;
            if next != NIL {
                self.slot_mut(next).prev = prev;
            }
        } else if next != NIL {
            // The file's head with more slots: the next one takes its place.
            self.slot_mut(next).prev = prev;
            self.replace_head(file, idx, next);
        } else {
            // The file's last slot.
            self.replace_head(file, idx, prev & !HEAD);
            self.files -= 1;
        }
        let s = self.slot_mut(idx);
        s.prev = UNLINKED;
        s.next = NIL;
    }

    /// The head slot of `file`, if it has open handles.
    fn head_of(&self, file: u64) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut h = self.buckets[bucket_of(file, self.bucket_bits)];
        while h != NO_HEAD {
            let s = self.slot(h);
            if s.file_number == file {
                return Some(h);
            }
            h = s.prev & !HEAD;
        }
        None
    }

    /// Doubles the index (at least 64 buckets) and rehashes every head.
    fn grow_index(&mut self) {
        let bits = (self.bucket_bits + 1).max(6);
        let old = std::mem::replace(&mut self.buckets, vec![NO_HEAD; 1 << bits].into_boxed_slice());
        self.bucket_bits = bits;
        for &first in old.iter() {
            let mut h = first;
            while h != NO_HEAD {
                let (file, chain) = {
                    let s = self.slot(h);
                    (s.file_number, s.prev & !HEAD)
                };
                let b = bucket_of(file, bits);
                self.slot_mut(h).prev = HEAD | self.buckets[b];
                self.buckets[b] = h;
                h = chain;
            }
        }
    }

    /// Makes whatever pointed at head `old` in its bucket chain point at
    /// `new` (a head slot, or `NO_HEAD`).
    fn replace_head(&mut self, file: u64, old: u32, new: u32) {
        let b = bucket_of(file, self.bucket_bits);
        if self.buckets[b] == old {
            self.buckets[b] = new;
            return;
        }
        let mut h = self.buckets[b];
        loop {
            debug_assert!(h != NO_HEAD, "head missing from its bucket");
            let chain = self.slot(h).prev & !HEAD;
            if chain == old {
                self.slot_mut(h).prev = HEAD | new;
                return;
            }
            h = chain;
        }
    }

    /// Stores an open; the caller has validated the spec.
    pub(crate) fn open(&mut self, spec: OpenSpec) -> Result<Location, ShardFull> {
        let idx = self.alloc_slot()?;
        let file = spec.file_number.0;
        let (prev, next) = match self.head_of(file) {
            Some(head) => {
                // Second and later opens of a file go right after its head,
                // so the bucket chain is left alone.
                let after = self.slot(head).next;
                if after != NIL {
                    self.slot_mut(after).prev = idx;
                }
                self.slot_mut(head).next = idx;
                (head, after)
            }
            None => {
                if self.files as usize >= self.buckets.len() {
                    self.grow_index();
                }
                let b = bucket_of(file, self.bucket_bits);
                let chain = self.buckets[b];
                self.buckets[b] = idx;
                self.files += 1;
                (HEAD | chain, NIL)
            }
        };
        let (owner, owner_len) = into_raw(spec.owner);
        let (path, path_len) = into_raw(spec.path);
        let s = self.slot_mut(idx);
        s.next = next;
        s.prev = prev;
        s.locks = 0;
        s.access = spec.access_mask.bits() | if spec.directory { DIRECTORY_FLAG } else { 0 };
        s.version = 1;
        s.file_number = file;
        s.owner = owner;
        s.owner_len = owner_len;
        s.path = path;
        s.path_len = path_len;
        let generation = s.generation;
        Ok(Location::pack(generation, self.index, idx))
    }

    /// A snapshot of the handle at `loc`.
    pub(crate) fn get(&self, loc: Location) -> Option<FileHandle> {
        self.find(loc).map(|s| self.snapshot(loc.slot(), s, true))
    }

    #[inline]
    fn snapshot(&self, idx: u32, s: &Slot, with_path: bool) -> FileHandle {
        FileHandle {
            file_number: FileNumber(s.file_number),
            handle_info: HandleInfo {
                location: Location::pack(s.generation, self.index, idx),
                version: s.version,
                num_byte_range_locks: s.locks,
                access_mask: AccessMask::from_bits_retain(s.access & !DIRECTORY_FLAG),
                owner: s.owner(),
                path: if with_path { Some(s.path()) } else { None },
                directory: s.access & DIRECTORY_FLAG != 0,
            },
        }
    }

    /// Removes the handle at `loc` and returns its record (moved, not
    /// cloned), or `NotFound` when `loc` names no open handle. (The result
    /// type is the public one, so the record is not re-laid out on its way
    /// to the caller.)
    // Always inlined: called out of line, its 88-byte result was written
    // field by field and read back in 16-byte chunks by the caller, a
    // store-forwarding stall that cost a third of an in-cache close.
    #[inline(always)]
    pub(crate) fn close(&mut self, loc: Location) -> Result<FileHandle, CloseError> {
        let idx = loc.slot();
        let s = self.find_mut(loc).ok_or(CloseError::NotFound)?;
        let (owner, path) = s.take_strings();
        let (version, locks, access, generation) = (s.version, s.locks, s.access, s.generation);
        let file = s.file_number;
        // A file's only slot stays linked (the index still finds the file
        // through it) until an open reuses it: the close touches nothing
        // else. Any other slot is unlinked now, from neighbours of the same
        // file, so a file's list never holds more than one vacant slot and
        // per-file walks stay proportional to its open handles.
        let sole = s.prev & HEAD != 0 && s.next == NIL;
        s.generation = generation.wrapping_add(1);
        let retire = generation >= MAX_GENERATION;
        if retire || !sole {
            self.unlink(idx);
        }
        if !retire {
            self.free.push_back(idx);
        }
        Ok(FileHandle {
            file_number: FileNumber(file),
            handle_info: HandleInfo {
                location: loc,
                version,
                num_byte_range_locks: locks,
                access_mask: AccessMask::from_bits_retain(access & !DIRECTORY_FLAG),
                owner,
                path: Some(path),
                directory: access & DIRECTORY_FLAG != 0,
            },
        })
    }

    /// Adds `delta` to the lock count of `loc`. `Ok(Err(current))` when the
    /// result would be out of range; `None` when `loc` names no handle.
    pub(crate) fn adjust_locks(&mut self, loc: Location, delta: i64) -> Option<Result<u32, u32>> {
        let s = self.find_mut(loc)?;
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

    /// Sets the path of every open of `file`; returns how many. The old
    /// paths are handed back for the caller to drop after the lock.
    pub(crate) fn rename(&mut self, file: FileNumber, path: &Arc<str>) -> (usize, Vec<Arc<str>>) {
        let Some(head) = self.head_of(file.0) else {
            return (0, Vec::new());
        };
        let mut old = Vec::new();
        let mut idx = head;
        while idx != NIL {
            let s = self.slot_mut(idx);
            idx = s.next;
            if !s.occupied() {
                continue; // closed, waiting for reuse
            }
            let (p, len) = into_raw(path.clone());
            // SAFETY: an occupied slot owns its path count; it is replaced
            // right away, so it is taken back once.
            old.push(unsafe { from_raw(s.path, s.path_len) });
            s.path = p;
            s.path_len = len;
            s.version += 1;
        }
        (old.len(), old)
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
        while idx < self.high && taken < limit {
            let (p, o) = page_of(idx);
            let page = &self.pages[p];
            let end = (page.len() - o).min((self.high - idx) as usize);
            for (i, s) in page[o..o + end].iter().enumerate() {
                if s.occupied() {
                    if taken == limit {
                        return idx + i as u32;
                    }
                    out.push(self.snapshot(idx + i as u32, s, with_path));
                    taken += 1;
                }
            }
            idx += end as u32;
        }
        idx
    }

    /// The slot indices of every open of `file`, ascending.
    pub(crate) fn file_slots(&self, file: FileNumber) -> Vec<u32> {
        let mut slots = Vec::new();
        let mut idx = self.head_of(file.0).unwrap_or(NIL);
        while idx != NIL {
            let s = self.slot(idx);
            if s.occupied() {
                slots.push(idx);
            }
            idx = s.next;
        }
        slots.sort_unstable();
        slots
    }

    /// A snapshot of the (occupied) slot `idx`.
    pub(crate) fn snapshot_at(&self, idx: u32, with_path: bool) -> FileHandle {
        self.snapshot(idx, self.slot(idx), with_path)
    }
}

/// A cache prefetch hint; a no-op where there is none.
#[inline(always)]
fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory, whatever the
    // address; SSE is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(file: u64) -> OpenSpec {
        OpenSpec {
            file_number: FileNumber(file),
            path: "/p".into(),
            owner: "o".into(),
            access_mask: AccessMask::FILE_READ_DATA,
            directory: false,
        }
    }

    #[test]
    fn slot_is_56_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 56);
    }

    #[test]
    fn pages_double_and_tile_the_slot_space() {
        assert_eq!(page_of(0), (0, 0));
        assert_eq!(page_of(63), (0, 63));
        assert_eq!(page_of(64), (1, 0));
        assert_eq!(page_of(127), (1, 63));
        assert_eq!(page_of(192), (2, 0));
        let mut expect = (0usize, 0usize);
        for s in 0..100_000u32 {
            assert_eq!(page_of(s), expect);
            expect.1 += 1;
            if expect.1 == page_len(expect.0) {
                expect = (expect.0 + 1, 0);
            }
        }
        let (last, off) = page_of(SLOTS_PER_SHARD - 1);
        assert!(off < page_len(last));
    }

    #[test]
    fn freed_slots_are_reused_first_in_first_out() {
        let mut sh = Shard::new(0);
        let locs: Vec<_> = (0..4).map(|i| sh.open(spec(i)).unwrap()).collect();
        sh.close(locs[2]).unwrap();
        sh.close(locs[0]).unwrap();
        let a = sh.open(spec(9)).unwrap();
        let b = sh.open(spec(9)).unwrap();
        assert_eq!((a.slot(), b.slot()), (locs[2].slot(), locs[0].slot()));
        assert_eq!(a.generation(), locs[2].generation() + 1);
        assert!(sh.get(locs[2]).is_none() && sh.get(a).is_some());
    }

    #[test]
    fn a_slot_whose_generation_would_wrap_is_retired() {
        let mut sh = Shard::new(3);
        let loc = sh.open(spec(1)).unwrap();
        // Age the slot to its last generation, as 2^32 - 2 open/close pairs would.
        sh.slot_mut(loc.slot()).generation = MAX_GENERATION;
        let last = Location::pack(MAX_GENERATION, 3, loc.slot());
        assert!(sh.close(last).is_ok());
        assert!(sh.free.is_empty(), "retired slot went back on the free list");
        let fresh = sh.open(spec(1)).unwrap();
        assert_ne!(fresh.slot(), loc.slot());
        assert!(sh.get(last).is_none());
        assert!(sh.close(last).is_err());
    }

    #[test]
    fn file_lists_stay_linked_through_closes() {
        let mut sh = Shard::new(0);
        let locs: Vec<_> = (0..6).map(|i| sh.open(spec(i % 2)).unwrap()).collect();
        sh.close(locs[2]).unwrap(); // middle of file 0's list
        sh.close(locs[4]).unwrap(); // head of file 0's list
        assert_eq!(sh.file_slots(FileNumber(0)), vec![locs[0].slot()]);
        assert_eq!(sh.file_slots(FileNumber(1)).len(), 3);
        sh.close(locs[0]).unwrap();
        assert!(sh.file_slots(FileNumber(0)).is_empty());
        // Closed slots stay linked (vacant) until reused; walks skip them.
        assert!(sh.head_of(0).is_some());
        assert_eq!(sh.rename(FileNumber(1), &Arc::from("/q")).0, 3);
        assert_eq!(sh.get(locs[3]).unwrap().handle_info.version, 2);
        assert_eq!(sh.rename(FileNumber(0), &Arc::from("/q")).0, 0);
        // Reusing all three unlinks them, and file 0 leaves the index.
        let reused: Vec<_> = (0..3).map(|_| sh.open(spec(7)).unwrap().slot()).collect();
        assert_eq!(reused, [locs[2].slot(), locs[4].slot(), locs[0].slot()]);
        assert!(sh.head_of(0).is_none());
        assert_eq!(sh.file_slots(FileNumber(7)).len(), 3);
        assert_eq!(sh.file_slots(FileNumber(1)).len(), 3);
    }

    #[test]
    fn the_file_index_survives_growth_and_every_kind_of_close() {
        let mut sh = Shard::new(0);
        let mut live: Vec<(u64, Location)> = Vec::new();
        let mut seed = 1u64;
        let mut rand = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for round in 0..20_000 {
            if live.is_empty() || rand() % 3 != 0 {
                let file = rand() % 3_000;
                live.push((file, sh.open(spec(file)).unwrap()));
            } else {
                let i = rand() as usize % live.len();
                let (file, loc) = live.swap_remove(i);
                assert_eq!(sh.close(loc).unwrap().file_number, FileNumber(file));
            }
            if round % 2_000 == 0 || round == 19_999 {
                for file in 0..3_000 {
                    let mut want: Vec<u32> =
                        live.iter().filter(|l| l.0 == file).map(|l| l.1.slot()).collect();
                    want.sort_unstable();
                    assert_eq!(sh.file_slots(FileNumber(file)), want, "file {file}");
                }
                // Indexed: files with open handles or closed slots not yet reused.
                let queued: Vec<u64> = sh
                    .free
                    .iter()
                    .filter(|&&i| sh.slot(i).prev != UNLINKED)
                    .map(|&i| sh.slot(i).file_number)
                    .collect();
                let files = (0..3_000)
                    .filter(|&f| live.iter().any(|l| l.0 == f) || queued.contains(&f))
                    .count();
                assert_eq!(sh.files as usize, files);
            }
        }
    }

    /// Every slot linked in `file`'s list, vacant ones included.
    fn linked(sh: &Shard, file: u64) -> usize {
        let mut n = 0;
        let mut idx = sh.head_of(file).unwrap_or(NIL);
        while idx != NIL {
            n += 1;
            idx = sh.slot(idx).next;
        }
        n
    }

    #[test]
    fn a_busy_file_never_collects_closed_slots() {
        let mut sh = Shard::new(0);
        // A long reuse queue: 1 000 slots closed and waiting.
        let others: Vec<_> = (0..1_000).map(|i| sh.open(spec(100 + i)).unwrap()).collect();
        for l in others {
            sh.close(l).unwrap();
        }
        // One file opened and closed over and over, one handle kept open.
        let keep = sh.open(spec(1)).unwrap();
        for _ in 0..2_000 {
            let l = sh.open(spec(1)).unwrap();
            assert!(linked(&sh, 1) <= 3);
            sh.close(l).unwrap();
        }
        assert_eq!(sh.file_slots(FileNumber(1)), vec![keep.slot()]);
        assert!(linked(&sh, 1) <= 2, "{} slots linked for one open handle", linked(&sh, 1));
        sh.close(keep).unwrap();
        assert!(linked(&sh, 1) <= 1);
        assert_eq!(sh.rename(FileNumber(1), &Arc::from("/r")).0, 0);
    }

    #[test]
    fn shard_of_stays_in_range() {
        for shards in [1, 2, 3, 8, 256] {
            for f in [0, 1, 2, u64::MAX, 1 << 40] {
                assert!(shard_of(FileNumber(f), shards) < shards);
            }
        }
    }
}
