//! One file's byte-range locks: a treap (a binary search tree kept balanced
//! by random priorities) ordered by start offset, each node also holding the
//! largest last byte in its subtree, so "which locks overlap this range?"
//! costs O(log n + k) for k overlapping locks instead of a scan. Nodes live
//! in one arena per file; each handle's locks are also threaded into a list
//! (its head kept by the caller), so closing a handle releases its locks in
//! time proportional to their number.

use crate::lock::{io_conflict, lock_conflict, IoKind, LockKind, Span};

use super::NIL;

#[derive(Debug, Clone)]
struct Node {
    span: Span,
    /// Largest `span.last` in this subtree.
    max_last: u64,
    left: u32,
    right: u32,
    prio: u32,
    /// The slot of the handle holding the lock.
    holder: u32,
    kind: LockKind,
    /// Next lock of the same handle (or next free node).
    next: u32,
    /// Previous lock of the same handle.
    prev: u32,
    /// When it was granted (unlock removes the oldest of equal locks).
    seq: u64,
}

/// The locks of one file.
#[derive(Debug)]
pub(crate) struct LockSet {
    nodes: Vec<Node>,
    root: u32,
    free: u32,
    len: u32,
    rng: u32,
    /// Locks granted so far (the next `Node::seq`).
    granted: u64,
}

impl LockSet {
    /// An empty set whose priorities come from `seed` (never 0 inside).
    ///
    /// The seed must be secret (the table's random seed mixed with the
    /// file): a client who can predict the priorities can order its locks
    /// so the treap degenerates into a chain, making every lock, unlock and
    /// I/O check O(n) and the recursive tree operations as deep as the lock
    /// count.
    pub(crate) fn with_seed(seed: u32) -> LockSet {
        LockSet { nodes: Vec::new(), root: NIL, free: NIL, len: 0, rng: seed | 1, granted: 0 }
    }

    /// How many locks have been granted in this set so far: a lock whose
    /// [`LockSet::seq`] is below a value read earlier is older than it.
    #[inline]
    pub(crate) fn granted(&self) -> u64 {
        self.granted
    }

    /// When lock `n` was granted (see [`LockSet::granted`]).
    #[inline]
    pub(crate) fn seq(&self, n: u32) -> u64 {
        self.nodes[n as usize].seq
    }

    /// Locks held on the file.
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// True when the set holds an arena of nodes (memory to free), even
    /// with no lock left in it.
    #[inline]
    pub(crate) fn has_arena(&self) -> bool {
        self.nodes.capacity() != 0
    }

    #[inline]
    fn key(&self, n: u32) -> (u64, u32) {
        (self.nodes[n as usize].span.start, n)
    }

    fn pull(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        let mut m = node.span.last;
        for c in [node.left, node.right] {
            if c != NIL {
                m = m.max(self.nodes[c as usize].max_last);
            }
        }
        self.nodes[n as usize].max_last = m;
    }

    /// Splits `t` into keys below `key` and keys at or above it.
    fn split(&mut self, t: u32, key: (u64, u32)) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.key(t) < key {
            let (l, r) = self.split(self.nodes[t as usize].right, key);
            self.nodes[t as usize].right = l;
            self.pull(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key);
            self.nodes[t as usize].left = r;
            self.pull(t);
            (l, t)
        }
    }

    /// Joins two treaps, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.pull(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.pull(b);
            b
        }
    }

    fn insert_node(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (l, r) = self.split(t, self.key(n));
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.pull(n);
            return n;
        }
        if self.key(n) < self.key(t) {
            let l = self.insert_node(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = l;
        } else {
            let r = self.insert_node(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = r;
        }
        self.pull(t);
        t
    }

    fn remove_node(&mut self, t: u32, n: u32) -> u32 {
        debug_assert!(t != NIL, "lock node not in its tree");
        if t == n {
            let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
            return self.merge(l, r);
        }
        if self.key(n) < self.key(t) {
            let l = self.remove_node(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = l;
        } else {
            let r = self.remove_node(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = r;
        }
        self.pull(t);
        t
    }

    /// True when some lock whose span may overlap `[lo, hi]` satisfies `hit`.
    fn any(&self, t: u32, lo: u64, hi: u64, hit: &mut impl FnMut(&Node) -> bool) -> bool {
        if t == NIL {
            return false;
        }
        let node = &self.nodes[t as usize];
        if node.max_last < lo {
            return false;
        }
        if self.any(node.left, lo, hi, hit) {
            return true;
        }
        if node.span.start > hi {
            return false;
        }
        (node.span.last >= lo && hit(node)) || self.any(node.right, lo, hi, hit)
    }

    /// True when a lock of `kind` over `span` by handle `by` conflicts with a
    /// granted lock.
    pub(crate) fn lock_conflicts(&self, span: Span, kind: LockKind, by: u32) -> bool {
        self.any(self.root, span.start, span.last, &mut |n| {
            n.span.overlaps(span) && lock_conflict(kind, by, n.kind, n.holder)
        })
    }

    /// True when an I/O of `kind` over `span` by handle `by` conflicts with a
    /// granted lock.
    pub(crate) fn io_conflicts(&self, span: Span, kind: IoKind, by: u32) -> bool {
        self.any(self.root, span.start, span.last, &mut |n| {
            n.span.overlaps(span) && io_conflict(kind, by, n.kind, n.holder)
        })
    }

    /// Grants a lock (the caller checked for conflicts) and threads it onto
    /// the handle's list at `head`. Returns the lock's node.
    pub(crate) fn insert(&mut self, span: Span, kind: LockKind, by: u32, head: &mut u32) -> u32 {
        // xorshift32 priorities.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let node = Node {
            span,
            max_last: span.last,
            left: NIL,
            right: NIL,
            prio: self.rng,
            holder: by,
            kind,
            next: *head,
            prev: NIL,
            seq: self.granted,
        };
        self.granted += 1;
        let n = if self.free != NIL {
            let n = self.free;
            self.free = self.nodes[n as usize].next;
            self.nodes[n as usize] = node;
            n
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        if *head != NIL {
            self.nodes[*head as usize].prev = n;
        }
        *head = n;
        self.root = self.insert_node(self.root, n);
        self.len += 1;
        n
    }

    /// The range of lock `n`.
    pub(crate) fn span(&self, n: u32) -> Span {
        self.nodes[n as usize].span
    }

    /// Releases lock `n`, unthreading it from the handle's list at `head`.
    pub(crate) fn remove(&mut self, n: u32, head: &mut u32) {
        self.root = self.remove_node(self.root, n);
        let (prev, next) = (self.nodes[n as usize].prev, self.nodes[n as usize].next);
        if prev == NIL {
            *head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[n as usize].next = self.free;
        self.free = n;
        self.len -= 1;
    }

    /// The oldest lock of handle `by` with exactly `span` (of either kind),
    /// if it holds one: the one smbd's unlock removes.
    pub(crate) fn find_exact(&self, span: Span, by: u32) -> Option<u32> {
        let mut t = self.root;
        // Descend to the subtree whose keys start at `span.start`, then search
        // it (equal starts may sit on both sides of any node).
        while t != NIL {
            let node = &self.nodes[t as usize];
            if node.span.start < span.start {
                t = node.right;
            } else if node.span.start > span.start {
                t = node.left;
            } else {
                return self.find_equal(t, span, by);
            }
        }
        None
    }

    /// The oldest lock of `by` with exactly `span` in subtree `t`.
    fn find_equal(&self, t: u32, span: Span, by: u32) -> Option<u32> {
        if t == NIL {
            return None;
        }
        let node = &self.nodes[t as usize];
        if node.span.start < span.start {
            return self.find_equal(node.right, span, by);
        }
        if node.span.start > span.start {
            return self.find_equal(node.left, span, by);
        }
        let here = (node.span == span && node.holder == by).then_some(t);
        [here, self.find_equal(node.left, span, by), self.find_equal(node.right, span, by)]
            .into_iter()
            .flatten()
            .min_by_key(|&n| self.nodes[n as usize].seq)
    }

    /// The locks on one handle's list at `head` (newest first): range and
    /// kind.
    pub(crate) fn held(&self, head: u32) -> impl Iterator<Item = (Span, LockKind)> + '_ {
        let mut n = head;
        std::iter::from_fn(move || {
            let node = self.nodes.get(n as usize)?;
            n = node.next;
            Some((node.span, node.kind))
        })
    }

    /// Releases every lock on the list at `head`; returns how many. The
    /// arena stays (its nodes on the free list), for the file's next locks;
    /// the file's last close hands it to the table to free after the lock
    /// (see `FileExt::finish`).
    pub(crate) fn release_all(&mut self, head: &mut u32) -> u32 {
        let mut n = 0;
        while *head != NIL {
            let h = *head;
            self.remove(h, head);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(o: u64, l: u64) -> Span {
        Span::new(o, l).unwrap()
    }

    /// A plain list of (span, kind, holder) answering the same questions.
    #[derive(Default)]
    struct Model(Vec<(Span, LockKind, u32, u32)>);

    #[test]
    fn agrees_with_a_linear_scan() {
        let mut set = LockSet::with_seed(0x9E37_79B9);
        let mut heads = [NIL; 4];
        let mut model = Model::default();
        let mut seed = 11u64;
        let mut rand = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..20_000 {
            let by = rand(4) as u32;
            let off = if rand(20) == 0 { u64::MAX - rand(4) } else { rand(200) };
            let len = if rand(10) == 0 { 0 } else { 1 + rand(30) };
            let Some(sp) = Span::new(off, len) else { continue };
            let kind = if rand(2) == 0 { LockKind::Shared } else { LockKind::Exclusive };
            let want =
                model.0.iter().any(|&(s, k, h, _)| s.overlaps(sp) && lock_conflict(kind, by, k, h));
            assert_eq!(set.lock_conflicts(sp, kind, by), want);
            let io = if rand(2) == 0 { IoKind::Read } else { IoKind::Write };
            let want_io =
                model.0.iter().any(|&(s, k, h, _)| s.overlaps(sp) && io_conflict(io, by, k, h));
            assert_eq!(set.io_conflicts(sp, io, by), want_io);
            match rand(5) {
                0 | 1 if !want => {
                    let n = set.insert(sp, kind, by, &mut heads[by as usize]);
                    model.0.push((sp, kind, by, n));
                }
                2 => {
                    let found = set.find_exact(sp, by);
                    // The model keeps grant order: the first match is the oldest.
                    let pos = model.0.iter().position(|&(s, _, h, _)| s == sp && h == by);
                    assert_eq!(found, pos.map(|p| model.0[p].3));
                    if let Some(n) = found {
                        set.remove(n, &mut heads[by as usize]);
                        let i = model.0.iter().position(|e| e.3 == n).unwrap();
                        model.0.remove(i);
                    }
                }
                3 if rand(50) == 0 => {
                    let gone = set.release_all(&mut heads[by as usize]);
                    let before = model.0.len();
                    model.0.retain(|e| e.2 != by);
                    // Node numbers may be reused: keep the model's ids fresh.
                    assert_eq!(gone as usize, before - model.0.len());
                }
                _ => {}
            }
            assert_eq!(set.len() as usize, model.0.len());
        }
    }

    fn depth(s: &LockSet, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            let n = &s.nodes[t as usize];
            1 + depth(s, n.left).max(depth(s, n.right))
        }
    }

    /// Offsets that a client who knows the priorities of `seed` would use to
    /// turn the treap into a chain: the k-th lock's offset is twice the rank
    /// of its priority (highest first).
    fn chain_offsets(seed: u32, n: usize) -> Vec<u64> {
        let mut probe = LockSet::with_seed(seed);
        let mut head = NIL;
        let prios: Vec<u32> = (0..n)
            .map(|i| {
                let node = probe.insert(span(i as u64 * 2, 1), LockKind::Shared, 0, &mut head);
                probe.nodes[node as usize].prio
            })
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(prios[i]));
        let mut offsets = vec![0; n];
        for (rank, &i) in order.iter().enumerate() {
            offsets[i] = rank as u64 * 2;
        }
        offsets
    }

    #[test]
    fn known_priorities_make_a_chain_and_a_secret_seed_defeats_them() {
        let n = 2_000;
        let offsets = chain_offsets(0x9E37_79B9, n);
        let build = |seed: u32| {
            let mut set = LockSet::with_seed(seed);
            let mut head = NIL;
            for &o in &offsets {
                set.insert(span(o, 1), LockKind::Exclusive, 0, &mut head);
            }
            depth(&set, set.root)
        };
        // Why the seed must be secret: the predicted order degenerates.
        assert_eq!(build(0x9E37_79B9), n);
        // Another seed keeps the same order logarithmic.
        for seed in [1, 0xDEAD_BEEF, 0x1234_5677] {
            assert!(build(seed) < 50, "seed {seed:#x}: depth {}", build(seed));
        }
    }

    #[test]
    fn deep_sets_stay_shallow() {
        let mut set = LockSet::with_seed(0x9E37_79B9);
        let mut head = NIL;
        for i in 0..100_000u64 {
            set.insert(span(i * 2, 1), LockKind::Exclusive, 0, &mut head);
        }
        assert!(depth(&set, set.root) < 60, "treap depth {}", depth(&set, set.root));
        assert!(set.lock_conflicts(span(1_000, 1), LockKind::Shared, 1));
        assert!(!set.lock_conflicts(span(1_001, 1), LockKind::Exclusive, 1));
        assert_eq!(set.release_all(&mut head), 100_000);
        assert_eq!(set.len(), 0);
    }
}
