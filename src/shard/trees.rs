//! Which tree connect each handle of a shard came through: a side table
//! beside the slots, and per tree connect a doubly linked list of its
//! handles in this shard, so a logoff or tree disconnect finds exactly its
//! handles (in proportion to them, never to the shard) and a close unlinks
//! one in O(1).
//!
//! Only handles opened inside a tree connect (or with notify watches) have
//! a link; the slot's [`FLAG_LINKED`](super::slots::FLAG_LINKED) says so, so
//! an open outside a session never touches this table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::pages::Pages;
use super::NIL;

/// One handle's link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    /// The tree connect's registry index, or [`NIL`].
    pub(crate) tree: u32,
    prev: u32,
    next: u32,
    /// Change-notify watches the server reported on the handle.
    pub(crate) notify: u32,
}

impl Link {
    const fn vacant() -> Link {
        Link { tree: NIL, prev: NIL, next: NIL, notify: 0 }
    }
}

/// A tree connect's handles in one shard.
#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    len: u32,
}

/// Hashes a registry index (dense numbers the table hands out, not client
/// input) with one multiply.
#[derive(Default)]
pub(crate) struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The links of one shard's slots and the lists of its tree connects.
#[derive(Debug)]
pub(crate) struct Trees {
    links: Pages<Link>,
    lists: HashMap<u32, List, BuildHasherDefault<IndexHasher>>,
}

impl Trees {
    pub(crate) fn new() -> Trees {
        Trees { links: Pages::new(), lists: HashMap::default() }
    }

    /// Slot `slot`'s link, made vacant first if the table never had one.
    fn link_mut(&mut self, slot: u32) -> &mut Link {
        while self.links.len() <= slot {
            self.links.push(Link::vacant);
        }
        self.links.get_mut(slot)
    }

    /// Slot `slot`'s link (the slot is linked).
    #[inline]
    pub(crate) fn link(&self, slot: u32) -> &Link {
        self.links.get(slot)
    }

    /// Gives a freshly opened slot its link: in `tree`'s list (when `tree`
    /// is not [`NIL`]) with no notify watches.
    pub(crate) fn attach(&mut self, slot: u32, tree: u32) {
        let mut next = NIL;
        if tree != NIL {
            let list = self.lists.entry(tree).or_insert(List { head: NIL, len: 0 });
            next = list.head;
            list.head = slot;
            list.len += 1;
        }
        if next != NIL {
            self.links.get_mut(next).prev = slot;
        }
        *self.link_mut(slot) = Link { tree, prev: NIL, next, notify: 0 };
    }

    /// Removes a closing slot from its tree's list; returns its tree.
    pub(crate) fn detach(&mut self, slot: u32) -> u32 {
        let Link { tree, prev, next, .. } = *self.links.get(slot);
        *self.links.get_mut(slot) = Link::vacant();
        if tree == NIL {
            return NIL;
        }
        if prev != NIL {
            self.links.get_mut(prev).next = next;
        }
        if next != NIL {
            self.links.get_mut(next).prev = prev;
        }
        if let Some(list) = self.lists.get_mut(&tree) {
            if list.head == slot {
                list.head = next;
            }
            list.len -= 1;
            if list.len == 0 {
                self.lists.remove(&tree);
            }
        }
        tree
    }

    /// Sets a slot's notify-watch count (the slot is linked).
    pub(crate) fn set_notify(&mut self, slot: u32, n: u32) {
        self.link_mut(slot).notify = n;
    }

    /// Up to `limit` slots of `tree` in this shard.
    pub(crate) fn members(&self, tree: u32, limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = self.lists.get(&tree).map_or(NIL, |l| l.head);
        while at != NIL && out.len() < limit {
            out.push(at);
            at = self.links.get(at).next;
        }
        out
    }

    /// Takes up to `limit` slots off `tree`'s list (one list lookup for
    /// them all) and leaves their links outside any tree: the caller closes
    /// them under the same lock, and their closes unlink nothing.
    pub(crate) fn take(&mut self, tree: u32, limit: usize) -> Vec<u32> {
        let Some(list) = self.lists.get_mut(&tree) else { return Vec::new() };
        let mut out = Vec::with_capacity(limit.min(list.len as usize));
        let mut at = list.head;
        while at != NIL && out.len() < limit {
            out.push(at);
            let l = self.links.get_mut(at);
            let next = l.next;
            *l = Link { tree: NIL, prev: NIL, next: NIL, notify: l.notify };
            at = next;
        }
        if at != NIL {
            self.links.get_mut(at).prev = NIL;
        }
        list.head = at;
        list.len -= out.len() as u32;
        if list.len == 0 {
            self.lists.remove(&tree);
        }
        out
    }

    /// Handles of `tree` in this shard.
    #[cfg(test)]
    pub(crate) fn count(&self, tree: u32) -> u32 {
        self.lists.get(&tree).map_or(0, |l| l.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_link_and_unlink_in_any_order() {
        let mut t = Trees::new();
        for s in 0..6 {
            t.attach(s, if s % 2 == 0 { 7 } else { 9 });
        }
        t.attach(6, NIL);
        let mut m = t.members(7, usize::MAX);
        m.sort_unstable();
        assert_eq!(m, [0, 2, 4]);
        assert_eq!(t.detach(2), 7);
        assert_eq!(t.detach(6), NIL);
        assert_eq!(t.detach(4), 7);
        assert_eq!(t.members(7, 10), [0]);
        assert_eq!(t.count(9), 3);
        assert_eq!(t.members(9, 2).len(), 2);
        assert_eq!(t.detach(0), 7);
        assert_eq!(t.count(7), 0);
        assert!(t.members(7, 10).is_empty());
        t.attach(0, 7);
        assert_eq!(t.members(7, 10), [0]);
        // Taking off the head in steps leaves the rest linked.
        for s in 10..15 {
            t.attach(s, 8);
        }
        let first = t.take(8, 2);
        assert_eq!(first.len(), 2);
        assert_eq!(t.count(8), 3);
        for s in first {
            assert_eq!(t.detach(s), NIL, "a taken slot is in no list");
        }
        let rest = t.members(8, 10);
        assert_eq!(rest.len(), 3);
        assert_eq!(t.detach(rest[1]), 8);
        assert_eq!(t.take(8, 10).len(), 2);
        assert_eq!(t.count(8), 0);
        assert!(t.take(8, 10).is_empty());
    }
}
