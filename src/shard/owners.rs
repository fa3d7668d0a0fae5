//! The owner interner: every distinct owner string of a shard is kept once,
//! with a count of the handles that name it, and handles store its `u32`
//! number. A C caller that passes the same owner on every open pays no
//! allocation once the owner is known.

use std::sync::Arc;

use super::index::Index;
use super::pages::Pages;
use super::NIL;
use crate::words::{last_word, same_text, short_word};

/// One interned owner.
#[derive(Debug)]
struct Owner {
    /// The string; `None` while the entry is free.
    text: Option<Arc<str>>,
    /// Handles naming it; while free, the next free entry.
    count: u32,
    /// The string's hash (to remove it from the index without rehashing).
    hash: u64,
}

/// The interned owners of one shard.
#[derive(Debug)]
pub(crate) struct Owners {
    entries: Pages<Owner>,
    index: Index,
    free: u32,
    seed: u64,
    /// Owners by their string's length and last eight bytes (where SIDs
    /// and names differ): a caller that builds its owner string afresh for
    /// every open (a C server, or fresh `Arc`s) is found by one comparison
    /// instead of hashing the whole string and probing the index. A miss,
    /// or a slot two owners share, falls back to the index.
    by_text: [u32; TEXT_CACHE],
    /// The seed of [`text_slot`].
    text_seed: u64,
    /// Owners by the address of the `Arc` a Rust caller shares (a session's
    /// owner string): a caller passing the very `Arc` the interner keeps is
    /// found without hashing or comparing the string.
    by_address: [u32; ADDRESS_CACHE],
}

/// Entries of the by-address cache: enough that a few dozen sessions'
/// owners rarely share one (64 collided at 64 owners, and each collision
/// hashes and compares the string).
const ADDRESS_CACHE: usize = 256;

/// Entries of the by-text cache (as many as the by-address cache, for the
/// same reason).
const TEXT_CACHE: usize = 256;

/// The by-text cache slot of `s`: its length and last word (or the whole
/// of a short string) mixed with `seed` by a multiply, top bits taken.
/// `seed` is the interner's `text_seed`, the table's seed put through the
/// string hash, so the cache's slots and the index's hash do not use one
/// key directly. A client that picks owners sharing a slot (same length,
/// same last eight bytes) only sends its opens to the index.
#[inline]
fn text_slot(s: &str, seed: u64) -> usize {
    let b = s.as_bytes();
    let w = last_word(b).unwrap_or_else(|| short_word(b, 0));
    let k = (w ^ seed).wrapping_add(b.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (k >> (64 - TEXT_CACHE.trailing_zeros())) as usize
}

/// The by-address cache slot of an `Arc<str>`'s data: the address's bits
/// mixed by a multiply, top bits taken (allocations are 16-byte aligned
/// and often a fixed stride apart, so the low bits alone collide).
#[inline]
fn address_slot(a: &Arc<str>) -> usize {
    let p = a.as_ptr() as u64;
    (p.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - ADDRESS_CACHE.trailing_zeros())) as usize
}

/// A word-at-a-time string hash mixed with a per-table seed (owners come from
/// clients, so collisions must not be predictable across tables).
pub(crate) fn hash_str(s: &str, seed: u64) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let b = s.as_bytes();
    let mut h = seed ^ (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    // The last partial word: the string's last eight bytes (overlapping the
    // previous word; the length is already mixed in), or the short string.
    if !chunks.remainder().is_empty() {
        let w = last_word(b).unwrap_or_else(|| short_word(b, 0));
        h = (h ^ w).wrapping_mul(K);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 29)
}

impl Owners {
    pub(crate) fn new(seed: u64) -> Owners {
        Owners {
            entries: Pages::new(),
            index: Index::new(),
            free: NIL,
            seed,
            by_text: [NIL; TEXT_CACHE],
            text_seed: hash_str("owners by text", seed),
            by_address: [NIL; ADDRESS_CACHE],
        }
    }

    /// The number of `text`, counting one more handle; interns it if new.
    pub(crate) fn acquire(&mut self, text: crate::record::StrArg<'_>) -> u32 {
        if let crate::record::StrArg::Shared(a) = text {
            let slot = address_slot(a);
            let i = self.by_address[slot];
            if i != NIL {
                let e = self.entries.get_mut(i);
                // Both `Arc`s are alive, so equal data addresses mean one
                // allocation: the same string.
                if e.text.as_ref().is_some_and(|t| t.as_ptr() == a.as_ptr()) {
                    e.count += 1;
                    return i;
                }
            }
            let i = self.acquire_text(text);
            if self.entries.get(i).text.as_ref().is_some_and(|t| t.as_ptr() == a.as_ptr()) {
                self.by_address[slot] = i;
            }
            return i;
        }
        self.acquire_text(text)
    }

    /// [`Owners::acquire`] by the string's contents.
    fn acquire_text(&mut self, text: crate::record::StrArg<'_>) -> u32 {
        let s = text.as_str();
        let slot = text_slot(s, self.text_seed);
        let c = self.by_text[slot];
        if c != NIL {
            // The entry may have been freed or reused since: its string says.
            let e = self.entries.get_mut(c);
            if e.text.as_deref().is_some_and(|t| same_text(t, s)) {
                e.count += 1;
                return c;
            }
        }
        let hash = hash_str(s, self.seed);
        let entries = &self.entries;
        if let Some(i) = self
            .index
            .find(hash, |i| entries.get(i).text.as_deref().is_some_and(|t| same_text(t, s)))
        {
            self.entries.get_mut(i).count += 1;
            self.by_text[slot] = i;
            return i;
        }
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.entries.get(i).count;
            i
        } else {
            self.entries.push(|| Owner { text: None, count: NIL, hash: 0 })
        };
        *self.entries.get_mut(i) = Owner { text: Some(text.to_arc()), count: 1, hash };
        self.index.insert(hash, i);
        self.by_text[slot] = i;
        i
    }

    /// The string of owner `i`.
    #[inline]
    pub(crate) fn get(&self, i: u32) -> &Arc<str> {
        self.entries.get(i).text.as_ref().expect("interned owner")
    }

    /// Counts one handle less; returns the string for the record being
    /// closed when `keep` (moved out when this was the last handle naming
    /// it, else a new count), and otherwise only a last count, for the
    /// caller to drop after the lock.
    #[inline(always)]
    pub(crate) fn release(&mut self, i: u32, keep: bool) -> Option<Arc<str>> {
        let e = self.entries.get_mut(i);
        e.count -= 1;
        if e.count > 0 {
            return keep.then(|| Arc::clone(e.text.as_ref().expect("interned owner")));
        }
        let text = e.text.take().expect("interned owner");
        let hash = e.hash;
        e.count = self.free;
        self.free = i;
        self.index.remove(hash, i);
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::StrArg;

    #[test]
    fn one_entry_per_distinct_owner_until_its_last_release() {
        let mut o = Owners::new(1);
        let a = o.acquire(StrArg::Borrowed("alice"));
        let b = o.acquire(StrArg::Borrowed("bob"));
        assert_eq!(o.acquire(StrArg::Borrowed("alice")), a);
        assert_ne!(a, b);
        assert_eq!(&**o.get(a), "alice");
        let shared: Arc<str> = Arc::from("alice");
        assert_eq!(o.acquire(StrArg::Shared(&shared)), a);
        assert_eq!(o.index.len(), 2);
        assert_eq!(o.release(a, true).as_deref(), Some("alice"));
        assert_eq!(o.release(a, false), None, "no count of a string others still use");
        assert_eq!(o.index.len(), 2);
        let last = o.release(a, false).expect("the last count");
        assert_eq!(Arc::strong_count(&last), 1, "the last release hands the string over");
        assert_eq!(o.index.len(), 1);
        // The freed entry is reused.
        assert_eq!(o.acquire(StrArg::Borrowed("carol")), a);
        assert_eq!(&**o.get(b), "bob");
    }

    #[test]
    fn owners_sharing_a_text_slot_stay_apart() {
        let mut o = Owners::new(3);
        // Same length and last eight bytes: the same by-text slot.
        let x = "S-1-5-21-1004336348-1177238915-682003330-1104";
        let y = "S-1-5-21-9999999999-1177238915-682003330-1104";
        assert_eq!(text_slot(x, o.text_seed), text_slot(y, o.text_seed));
        let a = o.acquire(StrArg::Borrowed(x));
        let b = o.acquire(StrArg::Borrowed(y));
        assert_ne!(a, b);
        for _ in 0..3 {
            assert_eq!(o.acquire(StrArg::Borrowed(x)), a);
            assert_eq!(o.acquire(StrArg::Borrowed(y)), b);
        }
        assert_eq!((o.entries.get(a).count, o.entries.get(b).count), (4, 4));
        // Freed, then reused by another owner: the slot's entry is checked.
        for _ in 0..4 {
            o.release(a, false);
        }
        let c = o.acquire(StrArg::Borrowed("carol"));
        assert_eq!(c, a, "the freed entry is reused");
        let again = o.acquire(StrArg::Borrowed(x));
        assert_ne!(again, c);
        assert_eq!(&**o.get(again), x);
        assert_eq!(&**o.get(c), "carol");
        assert_eq!(o.index.len(), 3);
    }

    #[test]
    fn a_shared_arc_is_found_by_address_and_a_reused_entry_is_not_confused() {
        let mut o = Owners::new(7);
        let alice: Arc<str> = Arc::from("alice");
        let a = o.acquire(StrArg::Shared(&alice));
        assert_eq!(o.acquire(StrArg::Shared(&alice)), a);
        assert_eq!(o.entries.get(a).count, 2);
        // An equal string in another allocation is found by contents.
        let copy: Arc<str> = Arc::from("alice");
        assert_eq!(o.acquire(StrArg::Shared(&copy)), a);
        for _ in 0..3 {
            o.release(a, false);
        }
        // The entry is free, then reused for another owner: the cache must
        // not hand it to `alice`.
        let bob: Arc<str> = Arc::from("bob");
        let b = o.acquire(StrArg::Shared(&bob));
        assert_eq!(b, a, "the freed entry is reused");
        let again = o.acquire(StrArg::Shared(&alice));
        assert_ne!(again, b);
        assert_eq!(&**o.get(again), "alice");
        assert_eq!(&**o.get(b), "bob");
    }

    #[test]
    fn hash_depends_on_every_byte_and_the_seed() {
        let base = hash_str("S-1-5-21-1004336348-1177238915-682003330-1104", 3);
        assert_ne!(base, hash_str("S-1-5-21-1004336348-1177238915-682003330-1105", 3));
        assert_ne!(base, hash_str("S-1-5-21-1004336348-1177238915-682003330-1104", 4));
        assert_ne!(hash_str("", 0), hash_str("\u{1}", 0));
    }
}
