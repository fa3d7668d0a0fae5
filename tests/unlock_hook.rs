//! The unlock hook hears of every release a waiter could need, and of
//! nothing else: unlock, close, and the undo of a refused lock request when
//! that undo removed a lock the handle held before the request.

use std::sync::{Arc, Mutex};

use smb_handles::{
    AccessMask, FileNumber, HandleTable, IoError, IoKind, Location, LockElement, LockKind,
    LockRangeError, OpenSpec,
};

const F: FileNumber = FileNumber(7);

fn table_with_log() -> (HandleTable, Arc<Mutex<Vec<FileNumber>>>) {
    let table = HandleTable::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    table.set_unlock_hook(Some(Arc::new(move |file| sink.lock().unwrap().push(file))));
    (table, log)
}

fn open(table: &HandleTable, who: &str) -> Location {
    let rw = AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA;
    table.open(OpenSpec::new(F, "/f", who, rw)).unwrap()
}

fn x(offset: u64, length: u64) -> LockElement {
    LockElement { offset, length, kind: LockKind::Exclusive }
}

fn s(offset: u64, length: u64) -> LockElement {
    LockElement { offset, length, kind: LockKind::Shared }
}

#[test]
fn a_refused_request_whose_undo_drops_an_older_lock_calls_the_hook() {
    let (table, log) = table_with_log();
    let (a, b, c) = (open(&table, "a"), open(&table, "b"), open(&table, "c"));
    table.lock(a, &[x(0, 10)]).unwrap();
    table.lock(c, &[x(100, 10)]).unwrap();
    // b waits: its shared lock and its read are refused.
    assert_eq!(table.lock(b, &[s(0, 10)]), Err(LockRangeError::NotGranted { index: 0 }));
    assert_eq!(table.check_io(b, 0, 10, IoKind::Read), Err(IoError::IoConflict));
    // a stacks S(0,10) on its X(0,10), then fails on c's range: smbd's undo
    // unlocks (0,10) once, which removes the *older* exclusive lock.
    assert_eq!(
        table.lock(a, &[s(0, 10), x(100, 10)]),
        Err(LockRangeError::NotGranted { index: 1 })
    );
    assert_eq!(table.check_io(b, 0, 10, IoKind::Read), Ok(()), "the exclusive lock went");
    assert_eq!(*log.lock().unwrap(), [F], "b's server must hear of it to retry");
}

#[test]
fn a_refused_request_that_only_undoes_its_own_locks_calls_no_hook() {
    let (table, log) = table_with_log();
    let (a, c) = (open(&table, "a"), open(&table, "c"));
    table.lock(c, &[x(100, 10)]).unwrap();
    // Two equal ranges granted by the call itself, then a refusal: the undo
    // removes exactly the call's own two locks (the oldest of each range is
    // one of them), so nothing that existed before was released.
    let refused = table.lock(a, &[s(0, 10), s(0, 10), x(100, 10)]);
    assert_eq!(refused, Err(LockRangeError::NotGranted { index: 2 }));
    assert_eq!(table.get(a).unwrap().handle_info.num_byte_range_locks, 0);
    assert!(log.lock().unwrap().is_empty());
    // An ordinary refusal with nothing to undo: no hook either.
    assert_eq!(table.lock(a, &[x(105, 1)]), Err(LockRangeError::NotGranted { index: 0 }));
    assert!(log.lock().unwrap().is_empty());
    // The releases the hook exists for still reach it.
    table.close(c).unwrap();
    assert_eq!(*log.lock().unwrap(), [F]);
}
