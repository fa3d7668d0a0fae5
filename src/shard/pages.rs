//! Paged storage: a growable array whose elements never move.
//!
//! Pages hold 64, 128, … 4 096 elements, then 4 096 each, so a small shard
//! stays small, a big one wastes under one page, and growing never copies an
//! element under the shard's lock. Index `i` is found with one
//! `leading_zeros` and no loop. Slots, file records and interned owners all
//! live in `Pages`.

/// log2 of the elements in the first page.
const FIRST_PAGE_SHIFT: u32 = 6;
/// Pages stop doubling at this many elements.
const BIG_PAGE: u32 = 4096;
/// The number of doubling pages (64 … 4 096 elements).
const SMALL_PAGES: usize = 7;
/// Elements in the doubling pages: 64 + 128 + … + 4 096.
const SMALL_LEN: u32 = (1 << (FIRST_PAGE_SHIFT + SMALL_PAGES as u32)) - (1 << FIRST_PAGE_SHIFT);

/// Splits an index into (page, offset).
#[inline]
fn page_of(i: u32) -> (usize, usize) {
    if i < SMALL_LEN {
        let t = i as u64 + (1 << FIRST_PAGE_SHIFT);
        let bit = 63 - t.leading_zeros();
        ((bit - FIRST_PAGE_SHIFT) as usize, (t - (1u64 << bit)) as usize)
    } else {
        let rest = i - SMALL_LEN;
        (SMALL_PAGES + (rest / BIG_PAGE) as usize, (rest % BIG_PAGE) as usize)
    }
}

/// The number of elements in page `page`.
fn page_len(page: usize) -> usize {
    if page < SMALL_PAGES {
        1 << (FIRST_PAGE_SHIFT as usize + page)
    } else {
        BIG_PAGE as usize
    }
}

/// Elements that never move, indexed by `u32`, filled by a constructor.
#[derive(Debug)]
pub(crate) struct Pages<T> {
    pages: Vec<Box<[T]>>,
    /// Elements handed out (`0..len` are in use or were).
    len: u32,
}

impl<T> Pages<T> {
    pub(crate) const fn new() -> Self {
        Pages { pages: Vec::new(), len: 0 }
    }

    /// Elements handed out so far.
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Hands out the next element (`len`), allocating a page of `fresh()`
    /// elements when needed.
    pub(crate) fn push(&mut self, fresh: impl Fn() -> T) -> u32 {
        let i = self.len;
        let (page, _) = page_of(i);
        if page == self.pages.len() {
            self.pages.push((0..page_len(page)).map(|_| fresh()).collect());
        }
        self.len += 1;
        i
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &T {
        debug_assert!(i < self.len);
        let (p, o) = page_of(i);
        &self.pages[p][o]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut T {
        debug_assert!(i < self.len);
        let (p, o) = page_of(i);
        &mut self.pages[p][o]
    }

    /// The run of elements from `i` to the end of its page (or of `len`).
    #[inline]
    pub(crate) fn run(&self, i: u32) -> &[T] {
        let (p, o) = page_of(i);
        let page = &self.pages[p];
        let end = (page.len() - o).min((self.len - i) as usize);
        &page[o..o + end]
    }
}

/// A cache prefetch hint; a no-op where there is none.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
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

    #[test]
    fn pages_double_and_tile_the_index_space() {
        assert_eq!(page_of(0), (0, 0));
        assert_eq!(page_of(63), (0, 63));
        assert_eq!(page_of(64), (1, 0));
        assert_eq!(page_of(192), (2, 0));
        let mut expect = (0usize, 0usize);
        for s in 0..100_000u32 {
            assert_eq!(page_of(s), expect);
            expect.1 += 1;
            if expect.1 == page_len(expect.0) {
                expect = (expect.0 + 1, 0);
            }
        }
        let (last, off) = page_of((1 << 24) - 1);
        assert!(off < page_len(last));
    }

    #[test]
    fn elements_never_move_and_runs_cover_len() {
        let mut p: Pages<u32> = Pages::new();
        for i in 0..5_000 {
            assert_eq!(p.push(|| 7), i);
            *p.get_mut(i) = i;
        }
        let first = p.get(0) as *const u32;
        for _ in 0..10_000 {
            p.push(|| 0);
        }
        assert_eq!(first, p.get(0) as *const u32);
        let (mut i, mut seen) = (0, 0);
        while i < p.len() {
            let run = p.run(i);
            assert!(!run.is_empty());
            seen += run.len();
            i += run.len() as u32;
        }
        assert_eq!(seen, 15_000);
        assert_eq!(*p.get(4_999), 4_999);
    }
}
