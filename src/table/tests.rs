//! Unit tests of the table's own bookkeeping around the shards.

use super::*;
use crate::lock::{LockElement, LockKind};
use crate::record::OpenSpec;
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

#[test]
fn an_open_that_closes_a_disconnected_durable_open_frees_its_files_state_after_the_lock() {
    use crate::lease::{CacheRequest, OplockLevel};
    use crate::{ClientGuid, DurableSpec, OpenOutcome, SessionSpec, ShareAccess, User};
    let t = HandleTable::new();
    let user = User::new("S-1-5-21-1", "u");
    let s = t.session_setup(SessionSpec::new(1, user, "10.0.0.7".parse().unwrap())).unwrap();
    let tree = t.tree_connect(s, "share").unwrap();
    let spec = OpenSpec::new(FileNumber(1), "/f", "o", AccessMask::FILE_READ_DATA)
        .tree(tree)
        .cache(CacheRequest::Oplock(OplockLevel::Batch))
        .durable(DurableSpec::v1(ClientGuid(1)));
    let Ok(OpenOutcome::Opened(o)) = t.open_cached(spec) else { panic!("durable open") };
    let el = LockElement { offset: 0, length: 10, kind: LockKind::Exclusive };
    assert_eq!(t.lock(o.location, &[el]), Ok(1));
    assert_eq!(t.disconnect(s).unwrap().kept, 1);
    // Share none: the newcomer conflicts, and its open closes the
    // disconnected one, the file's last, under the shard's lock.
    let deny = OpenSpec::new(FileNumber(1), "/f", "p", AccessMask::FILE_READ_DATA)
        .share_access(ShareAccess::empty());
    let new = t.open(deny).unwrap();
    assert!(t.get(o.location).is_none(), "the disconnected open was closed");
    assert_eq!(garbage_left(&t), 0, "the closed file's lock arena waits in its shard");
    assert!(t.close(new).is_ok() && t.is_empty());
}
