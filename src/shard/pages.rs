//! Paged storage: a growable array whose elements do not move once their
//! page is full.
//!
//! Pages hold 4 096 elements, so index `i` is found with a shift and a mask.
//! The first page starts small and doubles up to 4 096 (moving at most that
//! many elements, six times in a table's life), so a small shard stays
//! small; after that, growing adds a page and never copies an element under
//! the shard's lock. Slots, file records and interned owners all live in
//! `Pages`.

/// log2 of the elements in a page.
const PAGE_SHIFT: u32 = 12;
/// Elements in a page.
const PAGE_LEN: usize = 1 << PAGE_SHIFT;
/// The first page's first capacity.
const FIRST_CAPACITY: usize = 64;

/// Elements indexed by `u32`, filled by a constructor.
#[derive(Debug)]
pub(crate) struct Pages<T> {
    pages: Vec<Vec<T>>,
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

    /// Hands out the next element (`len`), made by `fresh()`.
    pub(crate) fn push(&mut self, fresh: impl Fn() -> T) -> u32 {
        let i = self.len;
        let page = (i >> PAGE_SHIFT) as usize;
        if page == self.pages.len() {
            let cap = if page == 0 { FIRST_CAPACITY } else { PAGE_LEN };
            self.pages.push(Vec::with_capacity(cap));
        }
        let p = &mut self.pages[page];
        if p.len() == p.capacity() {
            p.reserve_exact(p.capacity().min(PAGE_LEN - p.capacity()));
        }
        p.push(fresh());
        self.len += 1;
        i
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &T {
        &self.pages[(i >> PAGE_SHIFT) as usize][i as usize & (PAGE_LEN - 1)]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> &mut T {
        &mut self.pages[(i >> PAGE_SHIFT) as usize][i as usize & (PAGE_LEN - 1)]
    }

    /// The run of elements from `i` to the end of its page (or of `len`).
    #[inline]
    pub(crate) fn run(&self, i: u32) -> &[T] {
        &self.pages[(i >> PAGE_SHIFT) as usize][i as usize & (PAGE_LEN - 1)..]
    }
}

/// A cache prefetch hint; a no-op where there is none.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: a prefetch never faults and changes no memory, whatever the
    // address; the cfg admits only targets with SSE (every x86-64 one but
    // those built without it, such as kernel targets).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(first, p.get(0) as *const u32, "a full page never moves");
        assert_eq!(p.run(4_096).len(), 4_096);
        assert_eq!(p.run(14_999).len(), 1);
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
