//! Closing a handle inside its shard: the one close every public close
//! (Rust and C, one handle or a batch) runs, and what it answers with.

use std::sync::Arc;

use crate::access::AccessMask;
use crate::error::CloseError;
use crate::location::Location;
use crate::record::{FileHandle, FileNumber, HandleInfo};

use super::files::At;
use super::{claim_of, Shard, NIL};

/// What one close answers with, built from the closed handle's fields. The
/// Rust API answers with the whole record ([`FileHandle`]); the C ABI only
/// with whether to delete the file ([`Quiet`]), so its close takes no new
/// count of the owner and path strings (two atomic updates and, for a
/// shared file, the path's line) only to drop them again.
pub(crate) trait Report: Sized {
    /// Whether the report holds the owner and path: when false, `make`
    /// gets a string only when the close took its last count.
    const STRINGS: bool;

    /// The report of the closed handle `info`; `owner` and `path` as
    /// [`Report::STRINGS`] says.
    fn make(info: Gone, owner: Option<Arc<str>>, path: Option<Arc<str>>) -> Self;
}

/// The scalar fields of a closed handle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gone {
    pub(crate) file_number: FileNumber,
    pub(crate) location: Location,
    pub(crate) version: u64,
    pub(crate) num_byte_range_locks: u32,
    pub(crate) access_mask: AccessMask,
    pub(crate) directory: bool,
    pub(crate) num_notify_watches: u32,
    pub(crate) delete_on_close: bool,
    pub(crate) delete_pending: bool,
    pub(crate) delete_file: bool,
    pub(crate) durable: bool,
    pub(crate) disconnected: bool,
}

impl Report for FileHandle {
    const STRINGS: bool = true;

    #[inline(always)]
    fn make(g: Gone, owner: Option<Arc<str>>, path: Option<Arc<str>>) -> FileHandle {
        FileHandle {
            file_number: g.file_number,
            handle_info: HandleInfo {
                location: g.location,
                version: g.version,
                num_byte_range_locks: g.num_byte_range_locks,
                access_mask: g.access_mask,
                owner: owner.expect("a record's close keeps its owner"),
                path,
                directory: g.directory,
                num_notify_watches: g.num_notify_watches,
                delete_on_close: g.delete_on_close,
                delete_pending: g.delete_pending,
                delete_file: g.delete_file,
                durable: g.durable,
                disconnected: g.disconnected,
            },
        }
    }
}

/// A close's answer to a caller that reads only whether to delete the file
/// (the C ABI). It holds the strings whose last count the close took, so
/// they are freed where the answer is dropped: after the shard's lock.
#[derive(Debug)]
pub(crate) struct Quiet {
    /// The close was the file's last and the file is to be deleted.
    pub(crate) delete_file: bool,
    _last_counts: (Option<Arc<str>>, Option<Arc<str>>),
}

impl Quiet {
    /// The owner and path this close took the last count of.
    #[cfg(test)]
    pub(crate) fn last_counts(&self) -> (Option<&str>, Option<&str>) {
        (self._last_counts.0.as_deref(), self._last_counts.1.as_deref())
    }
}

impl Report for Quiet {
    const STRINGS: bool = false;

    #[inline(always)]
    fn make(g: Gone, owner: Option<Arc<str>>, path: Option<Arc<str>>) -> Quiet {
        Quiet { delete_file: g.delete_file, _last_counts: (owner, path) }
    }
}

/// A closed handle: its report, and what to do after the lock (what to
/// drop waits in the shard: [`Shard::take_garbage`]).
#[derive(Debug)]
pub(crate) struct Closed<R> {
    pub(crate) report: R,
    /// The closed handle's file.
    pub(crate) file_number: FileNumber,
    /// True when the handle was durable (the table forgets its grant).
    pub(crate) durable: bool,
    /// True when the close released byte-range locks.
    pub(crate) unlocked: bool,
    /// True when the close ended an outstanding break (opens waiting on
    /// the file may go on).
    pub(crate) unblocked: bool,
    /// The tree connect's registry index, or [`NIL`].
    pub(crate) tree: u32,
}

impl Shard {
    /// Removes the handle at `loc`, releasing its share reservation and its
    /// byte-range locks, and returns its report (with the strings moved, or
    /// new counts of strings other handles still use, as `R` asks).
    #[inline(always)]
    pub(crate) fn close<R: Report>(&mut self, loc: Location) -> Result<Closed<R>, CloseError> {
        let idx = self.slots.find(loc).ok_or(CloseError::NotFound)?;
        let s = self.slots.get(idx).clone();
        let owner = self.owners.release(s.owner, R::STRINGS);
        let file_number = s.file_number;
        // A delete-on-close handle's close makes the file delete-pending
        // (the other opens' versions are bumped below: they show it).
        let doc = s.delete_on_close();
        let mut unlocked = false;
        let mut unblocked = false;
        let (last, delete_pending, path) = if s.home() {
            let path = self.slots.take_path(idx);
            self.files.remove_home(self.files.hash(file_number), idx);
            (true, s.delete_pending || doc, Some(path))
        } else {
            let f = s.file;
            let rec = self.files.get_mut(f);
            let newly_pending = doc && !rec.delete_pending;
            rec.delete_pending |= doc;
            let delete_pending = rec.delete_pending;
            let ext = rec.ext_mut();
            if let Some(c) = claim_of(&s) {
                ext.share.remove(c);
            }
            let pos = s.position();
            if let Some(c) = ext.caching.as_deref_mut() {
                unblocked = c.closed(s.holder, &self.keys);
            }
            if s.lock_head != NIL {
                // (A handle without locks leaves the set, on the record's
                // last line, alone.)
                let mut head = s.lock_head;
                unlocked = ext.locks.release_all(&mut head) > 0;
            }
            ext.remove_member(pos);
            let last = ext.opens == 0;
            let path =
                if last { Some(self.files.remove(f)) } else { R::STRINGS.then(|| rec.path()) };
            if newly_pending && !last {
                for slot in self.file_members(At::Rec(f)) {
                    let m = self.slots.get_mut(slot);
                    m.version += 1;
                    m.delete_pending = true;
                }
            }
            (last, delete_pending, path)
        };
        let (tree, notify) = if s.linked() {
            let notify = self.trees.link(idx).notify;
            (self.trees.detach(idx), notify)
        } else {
            (NIL, 0)
        };
        self.slots.release(idx);
        let gone = Gone {
            file_number: FileNumber(file_number),
            location: loc,
            version: s.version,
            num_byte_range_locks: s.locks,
            access_mask: AccessMask::from_bits_retain(s.access),
            directory: s.directory(),
            num_notify_watches: notify,
            delete_on_close: doc,
            delete_pending,
            delete_file: last && delete_pending,
            durable: s.durable(),
            disconnected: s.disconnected(),
        };
        Ok(Closed {
            report: R::make(gone, owner, path),
            file_number: gone.file_number,
            durable: gone.durable,
            unlocked,
            unblocked,
            tree,
        })
    }
}
