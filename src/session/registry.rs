//! The registry sessions and tree connects live in: entries found by index
//! without a lock, each with a generation that an id must carry.
//!
//! Entries sit in pages of [`PAGE_LEN`] that are allocated once and never
//! move or go away, reached through a fixed array of `OnceLock`s: a lookup
//! is two loads and a generation compare, so an open inside a session pays
//! no registry lock. Setting up and ending entries takes one mutex (rare
//! operations). Ended entries are reused first in, first out, so a stale
//! id's entry usually still says why it ended; an entry whose generation
//! would pass [`MAX_GENERATION`] is retired.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Instant;

use crate::sync::{AtomicU32, AtomicU64, Mutex, Ordering};

use crate::location::{FIRST_GENERATION, MAX_GENERATION};

/// log2 of the entries in a page.
const PAGE_SHIFT: u32 = 10;
/// Entries in a page.
const PAGE_LEN: usize = 1 << PAGE_SHIFT;
/// Pages a registry can have: 4 194 304 entries in all.
const PAGES: usize = 4096;
/// The most entries a registry holds.
pub(crate) const MAX_ENTRIES: usize = PAGE_LEN * PAGES;
/// Ended entries wait until this many others have ended before reuse (as
/// Linux hands out ids cyclically), so a stale id's entry still says why it
/// ended for the next 1 024 endings.
const REUSE_DELAY: usize = 1024;

/// An entry's life: vacant, live, or ending (its handles being closed).
pub(crate) const VACANT: u32 = 0;
/// Live: opens and tree connects may join it.
pub(crate) const LIVE: u32 = 1;
/// Ending because its session logs off.
pub(crate) const ENDING_LOGOFF: u32 = 2;
/// Ending because the tree is disconnected.
pub(crate) const ENDING_DISCONNECT: u32 = 3;

/// One session or tree connect.
#[derive(Debug)]
pub(crate) struct Entry<P> {
    generation: AtomicU32,
    /// [`VACANT`], [`LIVE`] or an ending state.
    state: AtomicU32,
    /// While vacant: the ending state it had (why its last id is stale).
    ended: AtomicU32,
    /// For a tree: its session's index.
    parent: AtomicU32,
    /// Open handles under it (and opens under way into it).
    pub(crate) opens: AtomicU64,
    /// Nanoseconds from the registry's epoch to the last activity.
    activity: AtomicU64,
    /// For a tree: the shards (bit i for shard i, up to 256) that may hold
    /// its handles, so a sweep visits only those.
    shards: [AtomicU64; 4],
    /// What listings show; `None` while vacant.
    pub(crate) payload: Mutex<Option<P>>,
}

impl<P> Entry<P> {
    fn vacant() -> Entry<P> {
        Entry {
            generation: AtomicU32::new(FIRST_GENERATION),
            state: AtomicU32::new(VACANT),
            ended: AtomicU32::new(VACANT),
            parent: AtomicU32::new(u32::MAX),
            opens: AtomicU64::new(0),
            activity: AtomicU64::new(0),
            shards: std::array::from_fn(|_| AtomicU64::new(0)),
            payload: Mutex::new(None),
        }
    }

    /// The entry's state, read in the total order its ending is stored in.
    #[inline]
    pub(crate) fn state(&self) -> u32 {
        self.state.load(Ordering::SeqCst)
    }

    /// True while the entry still carries `generation`.
    #[inline]
    pub(crate) fn is(&self, generation: u32) -> bool {
        self.generation.load(Ordering::SeqCst) == generation
    }

    /// The parent's index (a tree's session).
    #[inline]
    pub(crate) fn parent(&self) -> u32 {
        self.parent.load(Ordering::Relaxed)
    }

    /// Counts an open into the entry before it is checked (see
    /// `table::sessions::tree_admits`).
    #[inline]
    pub(crate) fn enter(&self) {
        self.opens.fetch_add(1, Ordering::SeqCst);
    }

    /// Uncounts `n` opens (closed, or refused after [`Entry::enter`]).
    #[inline]
    pub(crate) fn leave(&self, n: u64) {
        self.opens.fetch_sub(n, Ordering::SeqCst);
    }

    /// Notes that shard `shard` may hold handles of this tree; called after
    /// [`Entry::enter`] and before the open checks the tree under its shard
    /// lock, so an ending that misses the mark is seen by that check. One
    /// load when the mark is already there.
    #[inline]
    pub(crate) fn mark_shard(&self, shard: usize) {
        let (word, bit) = (&self.shards[shard / 64], 1u64 << (shard % 64));
        if word.load(Ordering::SeqCst) & bit == 0 {
            word.fetch_or(bit, Ordering::SeqCst);
        }
    }

    /// The shards that may hold this tree's handles (read after the tree
    /// was marked ending).
    pub(crate) fn marked_shards(&self) -> impl Iterator<Item = usize> + '_ {
        (0..256).filter(|&i| self.shards[i / 64].load(Ordering::SeqCst) & (1 << (i % 64)) != 0)
    }

    /// Why an id carrying `generation` no longer names a live entry: the
    /// entry's ending state while it ends, the one it ended with once it is
    /// vacant (also after it lives again, until it ends again), [`LIVE`]
    /// while the id is good, [`VACANT`] when that is no longer known.
    pub(crate) fn why(&self, generation: u32) -> u32 {
        if self.is(generation) {
            match self.state() {
                VACANT => self.ended.load(Ordering::SeqCst),
                s => s,
            }
        } else if self.is(generation.wrapping_add(1)) {
            self.ended.load(Ordering::SeqCst)
        } else {
            VACANT
        }
    }

    /// Moves a live entry to an ending state; false when it was not live.
    pub(crate) fn begin_end(&self, why: u32) -> bool {
        self.state.compare_exchange(LIVE, why, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// Open handles under the entry.
    #[inline]
    pub(crate) fn open_count(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }
}

/// Where new entries come from.
#[derive(Debug)]
struct Alloc {
    /// Ended entries, oldest first.
    free: VecDeque<u32>,
    /// Entries handed out so far.
    high: u32,
}

/// One page of entries, allocated at its first use.
type Page<P> = OnceLock<Box<[Entry<P>]>>;

/// Sessions or tree connects.
#[derive(Debug)]
pub(crate) struct Registry<P> {
    pages: Box<[Page<P>]>,
    alloc: Mutex<Alloc>,
    epoch: Instant,
    /// Live entries.
    live: AtomicU64,
}

impl<P> Registry<P> {
    pub(crate) fn new() -> Registry<P> {
        Registry {
            pages: (0..PAGES).map(|_| OnceLock::new()).collect(),
            alloc: Mutex::new(Alloc { free: VecDeque::new(), high: 0 }),
            epoch: Instant::now(),
            live: AtomicU64::new(0),
        }
    }

    /// The entry at `index`, whatever its state; `None` past what was
    /// handed out.
    #[inline]
    pub(crate) fn entry(&self, index: u32) -> Option<&Entry<P>> {
        let page = self.pages.get((index >> PAGE_SHIFT) as usize)?.get()?;
        page.get(index as usize & (PAGE_LEN - 1))
    }

    /// The entry `(generation, index)` names while it still carries that
    /// generation (live or ending).
    #[inline]
    pub(crate) fn find(&self, generation: u32, index: u32) -> Option<&Entry<P>> {
        self.entry(index).filter(|e| e.is(generation) && e.state() != VACANT)
    }

    /// Why the entry `(generation, index)` names is gone: the ending state
    /// it had (also once the entry lives again, until it ends again);
    /// [`VACANT`] when that is no longer known.
    pub(crate) fn why_gone(&self, generation: u32, index: u32) -> u32 {
        self.entry(index).map_or(VACANT, |e| e.why(generation))
    }

    /// A new live entry holding `payload` under `parent`; its generation and
    /// index, or `None` when the registry is full.
    pub(crate) fn insert(&self, payload: P, parent: u32) -> Option<(u32, u32)> {
        let mut a = self.alloc.lock();
        let reuse = a.free.len() > REUSE_DELAY || a.high as usize >= MAX_ENTRIES;
        let index = match if reuse { a.free.pop_front() } else { None } {
            Some(i) => i,
            None if (a.high as usize) < MAX_ENTRIES => {
                let i = a.high;
                self.pages[(i >> PAGE_SHIFT) as usize]
                    .get_or_init(|| (0..PAGE_LEN).map(|_| Entry::vacant()).collect());
                a.high += 1;
                i
            }
            None => return None,
        };

        let e = self.entry(index).expect("allocated");
        *e.payload.lock() = Some(payload);
        e.parent.store(parent, Ordering::Relaxed);
        for w in &e.shards {
            w.store(0, Ordering::SeqCst);
        }
        // `opens` is 0 here, but for a stale open that counted itself in
        // before the entry ended and has not yet counted itself out: left
        // alone, the count comes back to the new entry's own.
        e.activity.store(self.now(), Ordering::Relaxed);
        e.state.store(LIVE, Ordering::SeqCst);
        self.live.fetch_add(1, Ordering::Relaxed);
        Some((e.generation.load(Ordering::SeqCst), index))
    }

    /// Frees an ending entry whose opens are all gone: bumps its generation
    /// (so its id is stale from now on), and makes it reusable unless its
    /// generation is spent. Returns its payload for the caller to drop.
    pub(crate) fn remove(&self, index: u32) -> Option<P> {
        let e = self.entry(index)?;
        let payload = e.payload.lock().take();
        let mut a = self.alloc.lock();
        let why = e.state.load(Ordering::SeqCst);
        e.ended.store(why, Ordering::SeqCst);
        let g = e.generation.load(Ordering::SeqCst);
        e.generation.store(g.wrapping_add(1), Ordering::SeqCst);
        e.state.store(VACANT, Ordering::SeqCst);
        if g < MAX_GENERATION {
            a.free.push_back(index);
        }
        self.live.fetch_sub(1, Ordering::Relaxed);
        payload
    }

    /// Records activity on an entry now.
    #[inline]
    pub(crate) fn touch(&self, e: &Entry<P>) {
        e.activity.store(self.now(), Ordering::Relaxed);
    }

    /// Nanoseconds since the entry's last activity.
    pub(crate) fn idle_nanos(&self, e: &Entry<P>) -> u64 {
        self.now().saturating_sub(e.activity.load(Ordering::Relaxed))
    }

    /// Entries handed out so far (every index below is an entry).
    pub(crate) fn high(&self) -> u32 {
        self.alloc.lock().high
    }

    /// Live entries.
    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The generation the entry at `index` carries now.
    pub(crate) fn generation(&self, index: u32) -> u32 {
        self.entry(index).map_or(0, |e| e.generation.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_go_stale_and_say_why() {
        let r: Registry<u8> = Registry::new();
        let (g, i) = r.insert(1, u32::MAX).unwrap();
        assert_eq!(g, FIRST_GENERATION);
        assert!(r.find(g, i).is_some());
        assert!(r.find(g + 1, i).is_none());
        assert!(r.entry(i).unwrap().begin_end(ENDING_LOGOFF));
        assert!(!r.entry(i).unwrap().begin_end(ENDING_DISCONNECT), "ends once");
        assert_eq!(r.remove(i), Some(1));
        assert!(r.find(g, i).is_none());
        assert_eq!(r.why_gone(g, i), ENDING_LOGOFF);
        // Reuse waits for REUSE_DELAY other endings, then goes first in,
        // first out, with a new generation.
        let (_, i2) = r.insert(2, u32::MAX).unwrap();
        assert_ne!(i2, i, "not reused at once");
        // End REUSE_DELAY more entries; the next setup takes the oldest.
        let mut ended: Vec<u32> = Vec::new();
        while ended.len() < REUSE_DELAY {
            let (_, j) = r.insert(3, u32::MAX).unwrap();
            assert!(j != i, "reused before REUSE_DELAY others ended");
            assert!(r.entry(j).unwrap().begin_end(ENDING_DISCONNECT));
            r.remove(j);
            ended.push(j);
        }
        let reused = r.insert(4, u32::MAX);
        assert_eq!(reused, Some((g + 1, i)), "the oldest ended entry comes back first");
        assert_eq!(r.why_gone(g, i), ENDING_LOGOFF, "still known while it lives again");
        assert!(r.entry(1 << 20).is_none());
    }
}
