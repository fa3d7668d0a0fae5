//! Byte-range locks and I/O checks through the table (SPEC §10), and the
//! unlock-notification hook.

use std::sync::Arc;

use crate::error::{IoError, LockRangeError, UnlockError};
use crate::location::Location;
use crate::lock::{IoKind, LockElement, LockRange};
use crate::record::FileNumber;

use super::HandleTable;

/// Called with a file number after byte-range locks of that file were
/// released (by `unlock`, or by closing a handle that held locks), with no
/// table lock held, so a server that offers blocking locks can retry the
/// waiters of that file. Installed with [`HandleTable::set_unlock_hook`].
pub type UnlockHook = Arc<dyn Fn(FileNumber) + Send + Sync>;

thread_local! {
    /// The hooks (by the address of their `Arc`) whose calls this thread is
    /// inside, innermost last: a hook may call back into a table, even to
    /// replace a hook.
    static IN_UNLOCK_HOOK: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many calls of `hook` the current thread is inside.
pub(crate) fn calls_on_this_thread(hook: &UnlockHook) -> usize {
    let me = Arc::as_ptr(hook).cast::<()>() as usize;
    IN_UNLOCK_HOOK.with(|inside| inside.borrow().iter().filter(|&&h| h == me).count())
}

impl HandleTable {
    /// Installs (or, with `None`, removes) the unlock-notification hook. It
    /// is called once per file per call that released locks of that file,
    /// after the table's locks are released; it may call back into the
    /// table.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, LockElement, LockKind, OpenSpec};
    ///
    /// let table = HandleTable::new();
    /// let released = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&released);
    /// table.set_unlock_hook(Some(Arc::new(move |file| log.lock().unwrap().push(file))));
    /// let loc = table.open(OpenSpec::new(FileNumber(9), "/f", "me", AccessMask::FILE_WRITE_DATA))?;
    /// table.lock(loc, &[LockElement { offset: 0, length: 10, kind: LockKind::Exclusive }])?;
    /// table.close(loc)?;                                  // releases the lock
    /// assert_eq!(*released.lock().unwrap(), [FileNumber(9)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_unlock_hook(&self, hook: Option<UnlockHook>) {
        drop(self.replace_unlock_hook(hook));
    }

    /// Installs `hook` and returns the previous one. A call of the previous
    /// hook already under way on another thread holds a clone of its `Arc`
    /// until it returns, and none can start after this: so when the
    /// returned `Arc` is the last one, no call of it is running or will run.
    pub(crate) fn replace_unlock_hook(&self, hook: Option<UnlockHook>) -> Option<UnlockHook> {
        std::mem::replace(&mut *self.unlock_hook.write(), hook)
    }

    /// Calls the hook, if any, for each file (no table lock is held here).
    pub(crate) fn notify_unlocked(&self, files: &[FileNumber]) {
        let hook = self.unlock_hook.read().clone();
        if let Some(hook) = hook {
            let me = Arc::as_ptr(&hook).cast::<()>() as usize;
            IN_UNLOCK_HOOK.with(|inside| inside.borrow_mut().push(me));
            struct Leave;
            impl Drop for Leave {
                fn drop(&mut self) {
                    IN_UNLOCK_HOOK.with(|inside| inside.borrow_mut().pop());
                }
            }
            let _leave = Leave;
            for &f in files {
                hook(f);
            }
        }
    }

    /// Takes byte-range locks through the handle at `loc`: every element or
    /// none. Elements are checked in order, each against the file's granted
    /// locks and those granted earlier in the same call. Returns the
    /// handle's new lock count (`num_byte_range_locks`); a call that takes
    /// locks bumps the version once.
    ///
    /// A lock conflicts with a granted lock of the same file when their
    /// ranges overlap and one of them is exclusive, except that a shared
    /// lock may stack on an exclusive lock of the same handle. The table
    /// never waits: a server offering blocking locks retries when the unlock
    /// hook names the file.
    ///
    /// # Errors
    ///
    /// [`LockRangeError::InvalidRange`] (STATUS_INVALID_LOCK_RANGE, a range
    /// ending past byte 2^64 − 1) and [`LockRangeError::NotGranted`]
    /// (STATUS_LOCK_NOT_GRANTED) name the first failing element, in order;
    /// the elements granted before it are undone as smbd undoes them, by
    /// unlocking each one's range, last first (which removes the handle's
    /// *oldest* lock with that range: an older lock of the other kind
    /// stacked on the same range goes instead of the new one; that is a
    /// release, and the unlock hook is called for it).
    /// [`LockRangeError::TooManyLocks`] (STATUS_INSUFFICIENT_RESOURCES) when
    /// the handle's lock count would pass `u32::MAX`.
    /// [`LockRangeError::NotFound`] for a location that names no handle,
    /// [`LockRangeError::Directory`] (STATUS_INVALID_DEVICE_REQUEST) for a
    /// directory handle, checked first.
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, LockElement, LockKind, LockRangeError, OpenSpec};
    ///
    /// let table = HandleTable::new();
    /// let a = table.open(OpenSpec::new(FileNumber(1), "/f", "alice", AccessMask::FILE_WRITE_DATA))?;
    /// let b = table.open(OpenSpec::new(FileNumber(1), "/f", "bob", AccessMask::FILE_WRITE_DATA))?;
    /// let x = |offset, length| LockElement { offset, length, kind: LockKind::Exclusive };
    /// assert_eq!(table.lock(a, &[x(0, 100)])?, 1);
    /// assert_eq!(table.lock(b, &[x(200, 10), x(50, 10)]), Err(LockRangeError::NotGranted { index: 1 }));
    /// assert_eq!(table.lock(b, &[x(200, 10)])?, 1);          // the failed call took nothing
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self, loc: Location, elements: &[LockElement]) -> Result<u32, LockRangeError> {
        let shard = self.shard(loc).ok_or(LockRangeError::NotFound)?;
        let mut g = shard.lock.write();
        let locked = g.lock(loc, elements);
        let ticket = match locked.result {
            Ok(_) => self.persist_update(&g, loc),
            Err(_) => None,
        };
        // A granted lock breaks other holders' read caching, as a write
        // does (smbd): nothing to do on a file nobody caches reads of.
        if locked.breaks_readers {
            self.break_readers(g, loc);
        } else {
            drop(g);
        }
        if let Some(file) = locked.released {
            self.notify_unlocked(&[file]);
        }
        // A persistent handle's lock is answered once the store holds it.
        super::settle(ticket);
        locked.result
    }

    /// Removes, for each range in order, one lock of this handle with exactly
    /// that offset and length. Returns the handle's new lock count; a call
    /// that removes locks bumps the version once and calls the unlock hook.
    ///
    /// # Errors
    ///
    /// [`UnlockError::RangeNotLocked`] (STATUS_RANGE_NOT_LOCKED) names the
    /// first range the handle does not hold; the ranges before it stay
    /// unlocked. [`UnlockError::NotFound`] for a location that names no
    /// handle, [`UnlockError::Directory`] (STATUS_INVALID_DEVICE_REQUEST) for
    /// a directory handle, checked first.
    pub fn unlock(&self, loc: Location, ranges: &[LockRange]) -> Result<u32, UnlockError> {
        let shard = self.shard(loc).ok_or(UnlockError::NotFound)?;
        let mut g = shard.lock.write();
        let (result, released, file) = g.unlock(loc, ranges);
        let ticket = if released > 0 { self.persist_update(&g, loc) } else { None };
        drop(g);
        super::settle(ticket);
        if released > 0 {
            self.notify_unlocked(&[file]);
        }
        result
    }

    /// Checks a read or write of `length` bytes at `offset` through the
    /// handle at `loc` against the file's byte-range locks: a read conflicts
    /// with an overlapping exclusive lock of another handle; a write with
    /// any overlapping lock of another handle and with an overlapping shared
    /// lock of its own. Takes only a read lock of the shard, and costs a
    /// lookup when the file has no locks.
    ///
    /// # Errors
    ///
    /// [`IoError::IoConflict`] (STATUS_FILE_LOCK_CONFLICT),
    /// [`IoError::InvalidRange`] for a range past byte 2^64 − 1,
    /// [`IoError::NotFound`] for a location that names no handle,
    /// [`IoError::Directory`] (STATUS_INVALID_DEVICE_REQUEST) for a directory
    /// handle, checked first (also for a zero length).
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, IoError, IoKind, LockElement, LockKind, OpenSpec};
    ///
    /// let table = HandleTable::new();
    /// let rw = AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA;
    /// let a = table.open(OpenSpec::new(FileNumber(1), "/f", "alice", rw))?;
    /// let b = table.open(OpenSpec::new(FileNumber(1), "/f", "bob", rw))?;
    /// table.lock(a, &[LockElement { offset: 0, length: 4096, kind: LockKind::Shared }])?;
    /// assert_eq!(table.check_io(b, 100, 10, IoKind::Read), Ok(()));
    /// assert_eq!(table.check_io(b, 100, 10, IoKind::Write), Err(IoError::IoConflict));
    /// assert_eq!(table.check_io(a, 100, 10, IoKind::Write), Err(IoError::IoConflict));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_io(
        &self,
        loc: Location,
        offset: u64,
        length: u64,
        kind: IoKind,
    ) -> Result<(), IoError> {
        let shard = self.shard(loc).ok_or(IoError::NotFound)?;
        let r = shard.lock.read().check_io(loc, offset, length, kind);
        r
    }
}
