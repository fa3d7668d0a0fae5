//! Byte-range locks through a shard: granting a lock request (all of it
//! or none), unlocking ranges, and checking a read or write against the
//! file's locks. The locks themselves are the file's [`LockSet`]
//! (`locks.rs`).
//!
//! [`LockSet`]: super::locks::LockSet

use crate::error::{IoError, LockRangeError, UnlockError};
use crate::location::Location;
use crate::lock::{IoKind, LockElement, LockRange, Span};
use crate::record::FileNumber;

use super::Shard;

/// What [`Shard::lock`] answers.
#[derive(Debug)]
pub(crate) struct Locked {
    /// The handle's new lock count, or why nothing was granted.
    pub(crate) result: Result<u32, LockRangeError>,
    /// The file, when a refused request's undo removed a lock the handle held
    /// before it (a release the unlock hook must hear of).
    pub(crate) released: Option<FileNumber>,
    /// The lock was granted on a file whose leases or oplocks cache reads:
    /// they must be broken (see `Shard::write_breaks`).
    pub(crate) breaks_readers: bool,
}

impl Shard {
    /// Grants every element of a lock request or none (SPEC §10); returns
    /// the handle's new lock count. On a refusal whose undo removed a lock
    /// the handle held before the call (smbd's undo removes the *oldest*
    /// lock of each range), [`Locked::released`] names the file, so the
    /// caller can tell the unlock hook.
    pub(crate) fn lock(&mut self, loc: Location, elements: &[LockElement]) -> Locked {
        let mut released = None;
        let mut readers = false;
        let result = self.lock_inner(loc, elements, &mut released, &mut readers);
        Locked { result, released, breaks_readers: readers }
    }

    fn lock_inner(
        &mut self,
        loc: Location,
        elements: &[LockElement],
        released: &mut Option<FileNumber>,
        readers: &mut bool,
    ) -> Result<u32, LockRangeError> {
        let idx = self.slots.find(loc).ok_or(LockRangeError::NotFound)?;
        let (file, held, mut head) = {
            let s = self.slots.get(idx);
            if s.directory() {
                return Err(LockRangeError::Directory);
            }
            (FileNumber(s.file_number), s.locks, s.lock_head)
        };
        if elements.is_empty() {
            return Ok(held);
        }
        let f = self.shared(idx);
        let ext = self.files.get_mut(f).ext_mut();
        let before = ext.locks.granted();
        let mut granted: Vec<u32> = Vec::with_capacity(elements.len());
        let mut result = Ok(());
        for (index, e) in elements.iter().enumerate() {
            let Some(span) = Span::new(e.offset, e.length) else {
                result = Err(LockRangeError::InvalidRange { index });
                break;
            };
            if held as u64 + granted.len() as u64 >= u32::MAX as u64 {
                result = Err(LockRangeError::TooManyLocks { index });
                break;
            }
            if ext.locks.lock_conflicts(span, e.kind, idx) {
                result = Err(LockRangeError::NotGranted { index });
                break;
            }
            granted.push(ext.locks.insert(span, e.kind, idx, &mut head));
        }
        if result.is_err() {
            // Undo as smbd does: unlock each granted element's range, last
            // first, which removes the handle's *oldest* lock with that range
            // (an older lock of the other kind, when one is stacked there).
            for &n in granted.iter().rev() {
                let span = ext.locks.span(n);
                let oldest = ext.locks.find_exact(span, idx).expect("just granted");
                if ext.locks.seq(oldest) < before {
                    // A lock held before this call went (its range now has
                    // the call's lock instead): a release waiters may need.
                    *released = Some(file);
                }
                ext.locks.remove(oldest, &mut head);
            }
        }
        let has_readers = ext.caching.as_deref().is_some_and(|c| c.has_readers());
        let s = self.slots.get_mut(idx);
        s.lock_head = head;
        result?;
        *readers = has_readers;
        s.locks += granted.len() as u32;
        s.version += 1;
        Ok(s.locks)
    }

    /// Removes, for each range in order, one lock of the handle with exactly
    /// that range. Returns the outcome, how many locks were released (also
    /// on error: the ranges before the failing one stay unlocked) and the
    /// file.
    pub(crate) fn unlock(
        &mut self,
        loc: Location,
        ranges: &[LockRange],
    ) -> (Result<u32, UnlockError>, u32, FileNumber) {
        let Some(idx) = self.slots.find(loc) else {
            return (Err(UnlockError::NotFound), 0, FileNumber(0));
        };
        let (f, home, mut head) = {
            let s = self.slots.get(idx);
            (s.file, s.home(), s.lock_head)
        };
        let file = FileNumber(self.slots.get(idx).file_number);
        if self.slots.get(idx).directory() {
            return (Err(UnlockError::Directory), 0, file);
        }
        let mut released = 0;
        let mut result = Ok(());
        if !home {
            let ext = self.files.get_mut(f).ext_mut();
            for (index, r) in ranges.iter().enumerate() {
                let found =
                    Span::new(r.offset, r.length).and_then(|sp| ext.locks.find_exact(sp, idx));
                match found {
                    Some(n) => {
                        ext.locks.remove(n, &mut head);
                        released += 1;
                    }
                    None => {
                        result = Err(UnlockError::RangeNotLocked { index });
                        break;
                    }
                }
            }
        } else if !ranges.is_empty() {
            result = Err(UnlockError::RangeNotLocked { index: 0 });
        }
        let s = self.slots.get_mut(idx);
        s.lock_head = head;
        if released > 0 {
            s.locks = s.locks.saturating_sub(released);
            s.version += 1;
        }
        (result.map(|()| s.locks), released, file)
    }

    /// Checks a read or write by the handle at `loc` against the file's
    /// byte-range locks.
    pub(crate) fn check_io(
        &self,
        loc: Location,
        offset: u64,
        length: u64,
        kind: IoKind,
    ) -> Result<(), IoError> {
        let idx = self.slots.find(loc).ok_or(IoError::NotFound)?;
        let s = self.slots.get(idx);
        if s.directory() {
            return Err(IoError::Directory);
        }
        let span = Span::new(offset, length).ok_or(IoError::InvalidRange)?;
        if span.empty {
            // smbd never refuses a zero-length read or write for a lock.
            return Ok(());
        }
        match self.ext_of(s) {
            Some(ext) if ext.locks.len() > 0 && ext.locks.io_conflicts(span, kind, idx) => {
                Err(IoError::IoConflict)
            }
            _ => Ok(()),
        }
    }
}
