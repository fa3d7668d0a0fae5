//! Byte-range locks (SPEC §10, MS-SMB2 3.3.5.14, MS-FSA 2.1.5.7): the types a
//! server passes in, and the rules that decide whether two ranges overlap and
//! whether a lock or an I/O conflicts with a granted lock.

/// Shared (read) or exclusive (write) lock.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LockKind {
    /// Many handles may hold overlapping shared locks.
    Shared,
    /// No other lock may overlap (but a shared lock of the same handle may
    /// stack on it).
    Exclusive,
}

/// One element of a lock request: a range and a kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LockElement {
    /// First byte of the range.
    pub offset: u64,
    /// Bytes in the range; 0 is allowed.
    pub length: u64,
    /// Shared or exclusive.
    pub kind: LockKind,
}

/// One element of an unlock request: the exact range of a lock to remove.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LockRange {
    /// First byte of the range.
    pub offset: u64,
    /// Bytes in the range.
    pub length: u64,
}

/// The kind of I/O that [`HandleTable::check_io`](crate::HandleTable::check_io) checks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IoKind {
    /// A read: conflicts with another handle's overlapping exclusive lock.
    Read,
    /// A write: conflicts with any overlapping lock of another handle, and
    /// with an overlapping shared lock of its own handle.
    Write,
}

/// A validated range: `start` and, when not empty, its inclusive `last`
/// byte (so a range ending at byte 2^64 − 1 fits in a `u64`). For an empty
/// range `last == start`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) last: u64,
    pub(crate) empty: bool,
}

impl Span {
    /// The span of `(offset, length)`, or `None` when its last byte would lie
    /// past 2^64 − 1 (STATUS_INVALID_LOCK_RANGE).
    pub(crate) fn new(offset: u64, length: u64) -> Option<Span> {
        if length == 0 {
            return Some(Span { start: offset, last: offset, empty: true });
        }
        offset.checked_add(length - 1).map(|last| Span { start: offset, last, empty: false })
    }

    /// SPEC §10's overlap: two non-empty ranges overlap when they share a
    /// byte (so two identical non-empty ranges always do); an empty range at
    /// `x` overlaps a non-empty range holding bytes on both sides of `x`
    /// (`start < x <= last`); two empty ranges never overlap.
    pub(crate) fn overlaps(self, other: Span) -> bool {
        match (self.empty, other.empty) {
            (false, false) => self.start <= other.last && other.start <= self.last,
            (true, false) => other.start < self.start && self.start <= other.last,
            (false, true) => self.start < other.start && other.start <= self.last,
            (true, true) => false,
        }
    }
}

/// Whether a new lock `(kind, by)` conflicts with a granted, overlapping
/// lock `(held, holder)`: at least one exclusive, except that a shared lock
/// may stack on an exclusive lock of the same handle.
pub(crate) fn lock_conflict(kind: LockKind, by: u32, held: LockKind, holder: u32) -> bool {
    match (kind, held) {
        (LockKind::Shared, LockKind::Shared) => false,
        (LockKind::Shared, LockKind::Exclusive) => by != holder,
        (LockKind::Exclusive, _) => true,
    }
}

/// Whether an I/O of `kind` by handle `by` conflicts with a granted,
/// overlapping lock `(held, holder)`.
pub(crate) fn io_conflict(kind: IoKind, by: u32, held: LockKind, holder: u32) -> bool {
    match kind {
        IoKind::Read => held == LockKind::Exclusive && holder != by,
        IoKind::Write => holder != by || held == LockKind::Shared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: u64, length: u64) -> Span {
        Span::new(offset, length).unwrap()
    }

    #[test]
    fn ranges_past_the_last_byte_are_refused() {
        assert!(Span::new(u64::MAX, 1).is_some());
        assert!(Span::new(u64::MAX, 2).is_none());
        assert!(Span::new(1, u64::MAX).is_some());
        assert!(Span::new(2, u64::MAX).is_none());
        assert!(Span::new(u64::MAX, 0).is_some());
        assert_eq!(s(1, u64::MAX).last, u64::MAX);
        assert!(s(7, 0).empty);
    }

    #[test]
    fn overlap_rules() {
        assert!(s(0, 10).overlaps(s(9, 1)));
        assert!(!s(0, 10).overlaps(s(10, 1)));
        assert!(s(u64::MAX, 1).overlaps(s(u64::MAX, 1)));
        assert!(s(0, 10).overlaps(s(5, 0)));
        assert!(s(5, 0).overlaps(s(0, 10)));
        assert!(!s(0, 10).overlaps(s(0, 0)), "empty at the first byte: nothing on its left");
        assert!(!s(0, 10).overlaps(s(10, 0)), "empty just past the end");
        assert!(!s(5, 0).overlaps(s(5, 0)));
        assert!(s(0, 10).overlaps(s(9, 0)));
    }

    #[test]
    fn conflict_rules() {
        use LockKind::*;
        assert!(!lock_conflict(Shared, 1, Shared, 2));
        assert!(lock_conflict(Shared, 1, Exclusive, 2));
        assert!(!lock_conflict(Shared, 1, Exclusive, 1));
        assert!(lock_conflict(Exclusive, 1, Exclusive, 1));
        assert!(lock_conflict(Exclusive, 1, Shared, 1));
        assert!(!io_conflict(IoKind::Read, 1, Shared, 2));
        assert!(io_conflict(IoKind::Read, 1, Exclusive, 2));
        assert!(!io_conflict(IoKind::Read, 1, Exclusive, 1));
        assert!(io_conflict(IoKind::Write, 1, Shared, 1));
        assert!(!io_conflict(IoKind::Write, 1, Exclusive, 1));
        assert!(io_conflict(IoKind::Write, 1, Shared, 2));
    }
}
