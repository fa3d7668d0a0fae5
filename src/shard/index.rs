//! An open-addressing index from a 64-bit hash to a `u32` element number.
//!
//! Each entry is 8 bytes: the hash's high 32 bits (its *tag*) and the
//! element. Probing is linear and deletion shifts later entries back, so the
//! table never holds tombstones. A lookup compares tags first and asks the
//! caller to confirm a tag match against the element itself, so a miss (a
//! new file, a new owner) reads nothing but index lines. The home position
//! of an entry is the top bits of its tag, so growing rehashes from the
//! entries alone, without reading a single element.

/// An empty entry (element numbers are below 2^24).
const EMPTY: u64 = u64::MAX;
/// The smallest table: 16 entries.
const MIN_BITS: u32 = 4;

/// The index. Load stays at most 3/4 (linear probing's probe counts grow
/// as 1/(1 - load)^2: 8.5 at 3/4, 32 at 7/8).
#[derive(Debug)]
pub(crate) struct Index {
    entries: Box<[u64]>,
    /// log2 of `entries.len()`; 0 while empty.
    bits: u32,
    len: u32,
}

#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl Index {
    pub(crate) fn new() -> Index {
        Index { entries: Vec::new().into_boxed_slice(), bits: 0, len: 0 }
    }

    /// Entries in the index.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        (tag >> (32 - self.bits)) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.entries.len() - 1
    }

    /// Starts loading the line where `hash` would be found.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if self.bits != 0 {
            super::pages::prefetch(&self.entries[self.home(tag(hash))]);
        }
    }

    /// The element whose tag matches `hash` and which `is` confirms.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let t = tag(hash);
        let mut i = self.home(t);
        loop {
            let e = self.entries[i];
            if e == EMPTY {
                return None;
            }
            if (e >> 32) as u32 == t && is(e as u32) {
                return Some(e as u32);
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds `element` under `hash` (the caller knows it is absent).
    pub(crate) fn insert(&mut self, hash: u64, element: u32) {
        if (self.len as usize + 1) * 4 > self.entries.len() * 3 {
            self.grow();
        }
        self.place(((tag(hash) as u64) << 32) | element as u64);
        self.len += 1;
    }

    fn place(&mut self, entry: u64) {
        let mut i = self.home((entry >> 32) as u32);
        while self.entries[i] != EMPTY {
            i = (i + 1) & self.mask();
        }
        self.entries[i] = entry;
    }

    /// Doubles the table, rehashing from the tags alone.
    fn grow(&mut self) {
        let bits = (self.bits + 1).max(MIN_BITS);
        let old = std::mem::replace(&mut self.entries, vec![EMPTY; 1 << bits].into_boxed_slice());
        self.bits = bits;
        for &e in old.iter().filter(|&&e| e != EMPTY) {
            self.place(e);
        }
    }

    /// Makes the entry of `old` under `hash` (which must be present) name
    /// `new` instead: same tag, so it stays where it is.
    pub(crate) fn replace(&mut self, hash: u64, old: u32, new: u32) {
        let want = ((tag(hash) as u64) << 32) | old as u64;
        let mut i = self.home(tag(hash));
        while self.entries[i] != want {
            if self.entries[i] == EMPTY {
                debug_assert!(false, "replacing an absent entry");
                return;
            }
            i = (i + 1) & self.mask();
        }
        self.entries[i] = ((tag(hash) as u64) << 32) | new as u64;
    }

    /// Removes the entry of `element` under `hash` (which must be present).
    pub(crate) fn remove(&mut self, hash: u64, element: u32) {
        let want = ((tag(hash) as u64) << 32) | element as u64;
        let mask = self.mask();
        let mut hole = self.home(tag(hash));
        while self.entries[hole] != want {
            debug_assert!(self.entries[hole] != EMPTY, "removing an absent entry");
            hole = (hole + 1) & mask;
        }
        // Backward shift: move each later entry of the run into the hole when
        // its home does not lie cyclically between the hole and itself.
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let e = self.entries[j];
            if e == EMPTY {
                break;
            }
            let home = self.home((e >> 32) as u32);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.entries[hole] = e;
                hole = j;
            }
        }
        self.entries[hole] = EMPTY;
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_hashmap_under_churn_and_collisions() {
        let mut idx = Index::new();
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut seed = 7u64;
        let mut rand = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 11
        };
        for round in 0..50_000u32 {
            let r = rand();
            // Few distinct tags, so runs are long and wrap around.
            let hash = (r % 64) << 58 | (r % 3) << 32;
            if model.len() < 500 && r % 3 != 0 {
                let element = round;
                idx.insert(hash, element);
                model.insert(element, hash);
            } else if let Some((&e, &h)) = model.iter().next() {
                idx.remove(h, e);
                model.remove(&e);
            }
            if round % 5 == 0 {
                // Renaming an element keeps it findable under its hash.
                if let Some((&e, &h)) = model.iter().next() {
                    let renamed = e | 1 << 31;
                    idx.replace(h, e, renamed);
                    assert_eq!(idx.find(h, |x| x == renamed), Some(renamed));
                    idx.replace(h, renamed, e);
                }
            }
            if round % 997 == 0 {
                assert_eq!(idx.len() as usize, model.len());
                for (&e, &h) in &model {
                    assert_eq!(idx.find(h, |x| x == e), Some(e));
                }
                assert_eq!(idx.find(hash, |_| false), None);
            }
        }
    }
}
