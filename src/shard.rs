//! One shard: a slab of generation-checked slots, a FIFO free list, and the
//! per-file index that links every open of a file.
//!
//! Everything here runs under the shard's lock, which the table owns; this
//! module never locks and never calls user code.
//!
//! # Slots
//!
//! Slots live in pages that double in size (64, 128, 256, … slots), so a
//! shard grows without ever moving a slot or copying a page under its lock,
//! and a small table stays small. A slot is occupied while its `owner` is
//! `Some`. Its `generation` goes up by one at every close; a slot whose
//! generation would pass [`MAX_GENERATION`] is retired: left vacant and never
//! put back on the free list.
//!
//! Freed slots join the *tail* of the free list and opens take from its
//! *head*, so the slot closed last is reused last: a stale location would need
//! the whole free list to cycle and its slot's generation to match before it
//! could name another handle, and the generation check forbids even that.
//!
//! # Files
//!
//! Every open file has one [`FileEntry`] (found by file number through a hash
//! map, or by index from a slot), heading a doubly linked list threaded
//! through its slots. Per-file queries and renames walk that list only, and
//! the entry is where later per-file state (share modes, leases) belongs.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::access::AccessMask;
use crate::location::{Location, FIRST_GENERATION, MAX_GENERATION, SLOTS_PER_SHARD};
use crate::record::{FileHandle, FileNumber, HandleInfo, OpenSpec};

/// "No slot" / "no entry" in the `u32` links.
const NIL: u32 = u32::MAX;
/// log2 of the slots in the first page; page `p` holds `64 << p` slots.
const FIRST_PAGE_SHIFT: u32 = 6;
/// An internal flag kept in a reserved access bit (bit 21), which opens can
/// never set: the handle is a directory.
const DIRECTORY_FLAG: u32 = 1 << 21;

/// One handle slot. 64 bytes on 64-bit targets.
#[derive(Debug)]
struct Slot {
    /// The generation a location must carry to name this slot's handle.
    generation: u32,
    /// Occupied: index of the file's [`FileEntry`]. Vacant: next free slot.
    link: u32,
    /// Previous slot of the same file, or `NIL`.
    prev: u32,
    /// Next slot of the same file, or `NIL`.
    next: u32,
    /// Byte-range locks held.
    locks: u32,
    /// Access mask bits, plus [`DIRECTORY_FLAG`].
    access: u32,
    /// Record version: 1 at open, +1 per change.
    version: u64,
    /// `Some` exactly while the slot is occupied.
    owner: Option<Arc<str>>,
    /// The path; `Some` while occupied.
    path: Option<Arc<str>>,
}

impl Slot {
    const fn vacant() -> Slot {
        Slot {
            generation: FIRST_GENERATION,
            link: NIL,
            prev: NIL,
            next: NIL,
            locks: 0,
            access: 0,
            version: 0,
            owner: None,
            path: None,
        }
    }
}

/// Per-file state: the head of the list of the file's slots.
#[derive(Debug)]
struct FileEntry {
    file_number: u64,
    /// First slot of the file, or (when this entry is free) the next free entry.
    head: u32,
    /// Handles open on the file.
    count: u32,
}

/// A fast hasher for file numbers: they are chosen by the server, not by
/// clients, so a keyed hash buys nothing here; a multiply spreads them over
/// the high bits that the hash map uses.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct FileNumberHasher(u64);

impl Hasher for FileNumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Mixes a file number for choosing its shard.
pub(crate) fn shard_of(file: FileNumber, shards: usize) -> usize {
    let h = (file.0 ^ (file.0 >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let h = (h ^ (h >> 32)) as u32 as u64;
    ((h * shards as u64) >> 32) as usize
}

/// Splits a slot index into (page, offset).
#[inline]
fn page_of(slot: u32) -> (usize, usize) {
    let t = slot as u64 + (1 << FIRST_PAGE_SHIFT);
    let bit = 63 - t.leading_zeros();
    let page = (bit - FIRST_PAGE_SHIFT) as usize;
    (page, (t - (1u64 << bit)) as usize)
}

/// The number of slots in page `page`.
fn page_len(page: usize) -> usize {
    1 << (FIRST_PAGE_SHIFT as usize + page)
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
    free_head: u32,
    free_tail: u32,
    files: Vec<FileEntry>,
    files_free: u32,
    by_file: HashMap<u64, u32, BuildHasherDefault<FileNumberHasher>>,
}

impl Shard {
    pub(crate) fn new(index: usize) -> Shard {
        Shard {
            index,
            pages: Vec::new(),
            high: 0,
            free_head: NIL,
            free_tail: NIL,
            files: Vec::new(),
            files_free: NIL,
            by_file: HashMap::default(),
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
        (s.generation == loc.generation() && s.owner.is_some()).then_some(s)
    }

    #[inline]
    fn find_mut(&mut self, loc: Location) -> Option<&mut Slot> {
        let idx = loc.slot();
        if idx >= self.high {
            return None;
        }
        let s = self.slot_mut(idx);
        (s.generation == loc.generation() && s.owner.is_some()).then_some(s)
    }

    /// Takes a slot: the head of the free list, else a fresh one.
    fn alloc_slot(&mut self) -> Result<u32, ShardFull> {
        if self.free_head != NIL {
            let idx = self.free_head;
            let next = self.slot(idx).link;
            self.free_head = next;
            if next == NIL {
                self.free_tail = NIL;
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

    /// Appends a vacated slot to the tail of the free list.
    fn push_free(&mut self, idx: u32) {
        self.slot_mut(idx).link = NIL;
        if self.free_tail == NIL {
            self.free_head = idx;
        } else {
            let tail = self.free_tail;
            self.slot_mut(tail).link = idx;
        }
        self.free_tail = idx;
    }

    /// The entry index of `file`, created if needed.
    fn file_entry(&mut self, file: u64) -> u32 {
        if let Some(&e) = self.by_file.get(&file) {
            return e;
        }
        let entry = FileEntry { file_number: file, head: NIL, count: 0 };
        let e = if self.files_free != NIL {
            let e = self.files_free;
            self.files_free = self.files[e as usize].head;
            self.files[e as usize] = entry;
            e
        } else {
            self.files.push(entry);
            (self.files.len() - 1) as u32
        };
        self.by_file.insert(file, e);
        e
    }

    /// Stores an open; the caller has validated the spec.
    pub(crate) fn open(&mut self, spec: OpenSpec) -> Result<Location, ShardFull> {
        let idx = self.alloc_slot()?;
        let e = self.file_entry(spec.file_number.0);
        let old_head = self.files[e as usize].head;
        self.files[e as usize].head = idx;
        self.files[e as usize].count += 1;
        if old_head != NIL {
            self.slot_mut(old_head).prev = idx;
        }
        let s = self.slot_mut(idx);
        s.link = e;
        s.prev = NIL;
        s.next = old_head;
        s.locks = 0;
        s.access = spec.access_mask.bits() | if spec.directory { DIRECTORY_FLAG } else { 0 };
        s.version = 1;
        s.owner = Some(spec.owner);
        s.path = Some(spec.path);
        let generation = s.generation;
        Ok(Location::pack(generation, self.index, idx))
    }

    /// A snapshot of the handle at `loc`.
    pub(crate) fn get(&self, loc: Location) -> Option<FileHandle> {
        self.find(loc).map(|s| self.snapshot(loc.slot(), s, true))
    }

    fn snapshot(&self, idx: u32, s: &Slot, with_path: bool) -> FileHandle {
        FileHandle {
            file_number: FileNumber(self.files[s.link as usize].file_number),
            handle_info: HandleInfo {
                location: Location::pack(s.generation, self.index, idx),
                version: s.version,
                num_byte_range_locks: s.locks,
                access_mask: AccessMask::from_bits_retain(s.access & !DIRECTORY_FLAG),
                owner: s.owner.clone().unwrap_or_else(|| Arc::from("")),
                path: if with_path { s.path.clone() } else { None },
                directory: s.access & DIRECTORY_FLAG != 0,
            },
        }
    }

    /// Removes the handle at `loc` and returns its record (moved, not
    /// cloned), or `None` when `loc` names no open handle.
    pub(crate) fn close(&mut self, loc: Location) -> Option<FileHandle> {
        let idx = loc.slot();
        let s = self.find_mut(loc)?;
        let owner = s.owner.take()?;
        let path = s.path.take();
        let (e, prev, next) = (s.link, s.prev, s.next);
        let (version, locks, access, generation) = (s.version, s.locks, s.access, s.generation);
        let retire = generation >= MAX_GENERATION;
        s.generation = generation.wrapping_add(1);
        // Unlink from the file's list.
        if prev != NIL {
            self.slot_mut(prev).next = next;
        } else {
            self.files[e as usize].head = next;
        }
        if next != NIL {
            self.slot_mut(next).prev = prev;
        }
        let entry = &mut self.files[e as usize];
        entry.count -= 1;
        let file_number = entry.file_number;
        if entry.count == 0 {
            entry.head = self.files_free;
            self.files_free = e;
            self.by_file.remove(&file_number);
        }
        if !retire {
            self.push_free(idx);
        }
        Some(FileHandle {
            file_number: FileNumber(file_number),
            handle_info: HandleInfo {
                location: loc,
                version,
                num_byte_range_locks: locks,
                access_mask: AccessMask::from_bits_retain(access & !DIRECTORY_FLAG),
                owner,
                path,
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

    /// Sets the path of every open of `file`; returns how many.
    pub(crate) fn rename(&mut self, file: FileNumber, path: &Arc<str>) -> usize {
        let Some(&e) = self.by_file.get(&file.0) else {
            return 0;
        };
        let mut idx = self.files[e as usize].head;
        let mut n = 0;
        while idx != NIL {
            let s = self.slot_mut(idx);
            s.path = Some(path.clone());
            s.version += 1;
            idx = s.next;
            n += 1;
        }
        n
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
                if s.owner.is_some() {
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
        if let Some(&e) = self.by_file.get(&file.0) {
            slots.reserve(self.files[e as usize].count as usize);
            let mut idx = self.files[e as usize].head;
            while idx != NIL {
                slots.push(idx);
                idx = self.slot(idx).next;
            }
        }
        slots.sort_unstable();
        slots
    }

    /// A snapshot of the (occupied) slot `idx`.
    pub(crate) fn snapshot_at(&self, idx: u32, with_path: bool) -> FileHandle {
        self.snapshot(idx, self.slot(idx), with_path)
    }
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
    fn slot_is_64_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
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
        assert!(sh.close(last).is_some());
        assert_eq!(sh.free_head, NIL, "retired slot went back on the free list");
        let fresh = sh.open(spec(1)).unwrap();
        assert_ne!(fresh.slot(), loc.slot());
        assert!(sh.get(last).is_none());
        assert!(sh.close(last).is_none());
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
        assert!(!sh.by_file.contains_key(&0));
        assert_eq!(sh.rename(FileNumber(1), &Arc::from("/q")), 3);
        assert_eq!(sh.get(locs[3]).unwrap().handle_info.version, 2);
        assert_eq!(sh.rename(FileNumber(0), &Arc::from("/q")), 0);
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
