//! Unit tests of the table's own bookkeeping around the shards.

use super::*;
use crate::lock::{LockElement, LockKind};
use crate::AccessMask;

/// Freed extensions still waiting in some shard.
fn garbage_left(t: &HandleTable) -> usize {
    t.shards.iter().map(|s| s.lock.read().garbage_len()).sum()
}

/// A handle of file `f` holding one byte-range lock (its file has a record
/// with a lock arena, which its last close must free).
fn locked(t: &HandleTable, f: u64) -> Location {
    let spec = OpenSpec::new(FileNumber(f), "/f", "o", AccessMask::FILE_READ_DATA);
    let loc = t.open(spec).unwrap();
    let el = LockElement { offset: 0, length: 10, kind: LockKind::Exclusive };
    assert_eq!(t.lock(loc, &[el]), Ok(1));
    loc
}

/// One of the table's ways to close a handle; true when it closed.
type Close = dyn Fn(&HandleTable, Location) -> bool;

#[test]
fn every_close_frees_a_locked_files_state_after_the_lock() {
    let t = HandleTable::new();
    let closes: [&Close; 4] = [
        &|t, l| t.close(l).is_ok(),
        &|t, l| t.close_as::<QuietClose>(l).is_ok(),
        &|t, l| t.close_batch(&[l, l]).first().is_some_and(|r| r.is_ok()),
        &|t, l| t.close_batch_as::<QuietClose>(&[l, l]).first().is_some_and(|r| r.is_ok()),
    ];
    for (i, close) in closes.iter().enumerate() {
        let loc = locked(&t, 100 + i as u64);
        assert!(close(&t, loc), "close {i}");
        assert_eq!(garbage_left(&t), 0, "close {i} left the lock arena in its shard");
        assert!(t.is_empty());
    }
}
