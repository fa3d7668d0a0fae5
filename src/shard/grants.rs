//! What a shard lists of its locks: each open's share-mode claim and each
//! byte-range lock, with the slot that holds it, in slot order.

use crate::location::Location;
use crate::lock::LockKind;
use crate::record::FileNumber;
use crate::share::ShareAccess;

use super::{claim_of, Shard, NIL};

/// One granted lock, as a shard sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The holding handle.
    pub(crate) location: Location,
    /// Its file.
    pub(crate) file: FileNumber,
    /// The holding handle's tree connect (registry index), or [`NIL`].
    pub(crate) tree: u32,
    /// What is held.
    pub(crate) kind: GrantKind,
}

/// A share-mode claim or a byte-range lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrantKind {
    /// The classes the open accesses, and the classes it denies others.
    ShareMode { access: ShareAccess, excludes: ShareAccess },
    /// A byte-range lock (`length` 0 for an empty range).
    ByteRange { offset: u64, length: u64, kind: LockKind },
}

impl Shard {
    /// The occupied slots to list from `from` on, ascending: every one, or
    /// only `file`'s opens.
    pub(crate) fn grant_slots(&self, file: Option<FileNumber>, from: u32) -> Vec<u32> {
        match file {
            Some(file) => self.file_page(file, from, usize::MAX).0,
            None => (from..self.high()).filter(|&i| self.slots.get(i).occupied()).collect(),
        }
    }

    /// The grants of the (occupied) slot `idx`: its share-mode claim (none
    /// for a stat open) or its byte-range locks, newest first.
    pub(crate) fn slot_grants(&self, idx: u32, byte_range: bool, out: &mut Vec<Grant>) {
        let s = self.slots.get(idx);
        let location = Location::pack(s.generation, self.index, idx);
        let file = FileNumber(s.file_number);
        let tree = if s.linked() { self.trees.link(idx).tree } else { NIL };
        let grant = |kind| Grant { location, file, tree, kind };
        if !byte_range {
            if let Some(c) = claim_of(s) {
                let (access, excludes) = c.classes();
                out.push(grant(GrantKind::ShareMode { access, excludes }));
            }
            return;
        }
        let Some(ext) = self.ext_of(s) else { return };
        if s.locks == 0 {
            return;
        }
        let head = s.lock_head;
        for (span, kind) in ext.locks.held(head) {
            let length = if span.empty { 0 } else { (span.last - span.start).wrapping_add(1) };
            out.push(grant(GrantKind::ByteRange { offset: span.start, length, kind }));
        }
    }
}
