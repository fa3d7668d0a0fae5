//! One shard: its handle slots, its file index and the records of shared
//! files, its interned owners, and the per-file share-mode counts and
//! byte-range locks.
//!
//! Everything here runs under the shard's lock, which the table owns; this
//! module never locks and never calls user code. What an operation removes
//! is handed back for the caller to drop after the lock is released: the
//! strings with its answer, a freed record's extension through the shard's
//! garbage ([`Shard::take_garbage`], [`Shard::take_all_garbage`]).
//!
//! # What an open and a close touch
//!
//! * An open of a new file: the file index line, the owner's index line
//!   and entry (cached for a busy owner), and the most recently freed slot
//!   (usually cached): the file lives in that slot until it is shared.
//! * An open of an open file: the index line and the file record, its
//!   extension (share counts, members), the owner and a slot; the second
//!   open also the first open's slot, whose file moves into a new record.
//!   The share check is three counters, whatever the number of opens.
//! * A close: its slot and its owner entry; of a shared file, the file
//!   record and extension too. The index entry of a file's last close is
//!   removed later, in a batch. Never another handle's slot.
//! * A `get`: its slot and its owner entry (and the path's count).

mod byte_ranges;
mod caching;
mod caching_ops;
mod close;
mod durable;
mod file_ext;
mod files;
mod grants;
mod index;
mod locks;
mod open;
mod owners;
mod pages;
mod path;
mod query;
mod slots;
mod trees;

use std::sync::Arc;
use std::time::Duration;

use crate::access::AccessMask;
use crate::location::Location;
use crate::record::{FileHandle, FileNumber, HandleInfo};
use crate::share::{map_generic, Claim, ShareAccess};

pub(crate) use caching::{KeyHash, LeaseKeys};
pub(crate) use close::{Closed, Quiet, Report};
pub(crate) use file_ext::{FileExt, Garbage};
use files::{At, Files};
pub(crate) use grants::{Grant, GrantKind};
pub(crate) use open::{CacheCtx, Refusal};
use owners::Owners;
use slots::{Slot, Slots, FLAG_LINKED};
#[cfg(test)]
pub(crate) use trees::Link as TreeLink;
use trees::Trees;

/// "None" for `u32` links.
pub(crate) const NIL: u32 = u32::MAX;

/// Mixes a file number for choosing its shard.
pub(crate) fn shard_of(file: FileNumber, shards: usize) -> usize {
    let h = (file.0 ^ (file.0 >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let h = (h ^ (h >> 32)) as u32 as u64;
    ((h * shards as u64) >> 32) as usize
}

/// True when `path` is `prefix` or lies under it: the next character after
/// the prefix is a separator (`/` or `\\`). An empty prefix is the root.
pub(crate) fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.is_empty() || rest.is_empty() || rest.starts_with(['/', '\\']),
        None => false,
    }
}

/// The share-mode claim of an occupied slot.
fn claim_of(s: &Slot) -> Option<Claim> {
    Claim::of(AccessMask::from_bits_retain(s.access), ShareAccess::from_bits_retain(s.share_bits()))
}

/// One shard's state, guarded by the table's lock for it.
#[derive(Debug)]
pub(crate) struct Shard {
    index: usize,
    slots: Slots,
    files: Files,
    owners: Owners,
    trees: Trees,
    /// The table's lease keys (shared by every shard).
    keys: Arc<LeaseKeys>,
    /// How long a break waits for its acknowledgement.
    break_timeout: Duration,
    /// Spare open credits this shard holds (see the table's `reserved`).
    pub(crate) credits: usize,
}

impl Shard {
    pub(crate) fn new(
        index: usize,
        seed: u64,
        keys: Arc<LeaseKeys>,
        break_timeout: Duration,
    ) -> Shard {
        Shard {
            keys,
            break_timeout,
            index,
            slots: Slots::new(),
            files: Files::new(seed),
            owners: Owners::new(seed.rotate_left(17) ^ index as u64),
            trees: Trees::new(),
            credits: 0,
        }
    }

    /// Moves what closes left to drop after the lock into `into`.
    #[inline]
    pub(crate) fn take_garbage(&mut self, into: &mut Vec<FileExt>) {
        self.files.take_garbage(into);
    }

    /// How many freed extensions wait in this shard.
    #[cfg(test)]
    pub(crate) fn garbage_len(&self) -> usize {
        self.files.garbage_len()
    }

    /// What closes left to drop after the lock; `None` (nothing made or
    /// dropped) on the common path.
    #[inline]
    pub(crate) fn take_all_garbage(&mut self) -> Option<Garbage> {
        self.files.take_all_garbage()
    }

    /// Slots this shard has handed out (its walk covers `0..high`).
    pub(crate) fn high(&self) -> u32 {
        self.slots.high()
    }

    /// Starts loading the slot `loc` names (a hint for batches).
    #[inline]
    pub(crate) fn prefetch(&self, loc: Location) {
        self.slots.prefetch(loc);
    }

    /// Starts loading the file record of the handle at `loc`, if its file
    /// has one (its slot should be in cache by now).
    #[inline]
    pub(crate) fn prefetch_file(&self, loc: Location) {
        if let Some(i) = self.slots.find(loc) {
            let s = self.slots.get(i);
            if !s.home() {
                self.files.prefetch(s.file);
            }
        }
    }

    /// Starts loading the path header the close of `loc` touches and, for
    /// a shared file, the handle's entry in its member list (its slot and
    /// file record should be in cache by now).
    #[inline]
    pub(crate) fn prefetch_path(&self, loc: Location) {
        if let Some(i) = self.slots.find(loc) {
            let s = self.slots.get(i);
            pages::prefetch(s.path().header());
            if !s.home() {
                self.files.prefetch_member(s.file, s.position());
            }
        }
    }

    /// The extension of live record `f`.
    #[inline]
    fn ext(&self, f: u32) -> &FileExt {
        self.files.get(f).ext()
    }

    /// The extension of live record `f`, to change.
    #[inline]
    fn ext_mut(&mut self, f: u32) -> &mut FileExt {
        self.files.get_mut(f).ext_mut()
    }

    /// The extension of the file of occupied slot `s`: `None` while the
    /// file lives in the slot alone.
    #[inline]
    fn ext_of(&self, s: &Slot) -> Option<&FileExt> {
        if s.home() {
            None
        } else {
            Some(self.ext(s.file))
        }
    }

    /// A snapshot of the handle at `loc`.
    #[inline(always)]
    pub(crate) fn get(&self, loc: Location) -> Option<FileHandle> {
        let i = self.slots.find(loc)?;
        Some(self.snapshot(i, self.slots.get(i), true))
    }

    /// A snapshot of the (occupied) slot `idx`.
    #[inline]
    pub(crate) fn snapshot_at(&self, idx: u32, with_path: bool) -> FileHandle {
        self.snapshot(idx, self.slots.get(idx), with_path)
    }

    #[inline(always)]
    fn snapshot(&self, idx: u32, s: &Slot, with_path: bool) -> FileHandle {
        FileHandle {
            file_number: FileNumber(s.file_number),
            handle_info: HandleInfo {
                location: Location::pack(s.generation, self.index, idx),
                version: s.version,
                num_byte_range_locks: s.locks,
                access_mask: AccessMask::from_bits_retain(s.access),
                owner: Arc::clone(self.owners.get(s.owner)),
                path: with_path.then(|| s.path_arc()),
                directory: s.directory(),
                num_notify_watches: if s.linked() { self.trees.link(idx).notify } else { 0 },
                delete_on_close: s.delete_on_close(),
                delete_pending: s.delete_pending,
                delete_file: false,
                durable: s.durable(),
                disconnected: s.disconnected(),
            },
        }
    }

    /// Adds `delta` to the lock count of `loc`. `Ok(Err(current))` when the
    /// result would be out of range; `None` when `loc` names no handle.
    pub(crate) fn adjust_locks(&mut self, loc: Location, delta: i64) -> Option<Result<u32, u32>> {
        let s = self.slots.get_mut(self.slots.find(loc)?);
        let current = s.locks;
        let new = i64::from(current).checked_add(delta).and_then(|n| u32::try_from(n).ok());
        Some(match new {
            Some(n) => {
                if n != current {
                    s.locks = n;
                    s.version += 1;
                }
                Ok(n)
            }
            None => Err(current),
        })
    }

    /// Sets or clears the delete-pending state of the file of `loc`, whose
    /// access must include `DELETE`; bumps the version of each of the
    /// file's opens when it changes. `None` when `loc` names no handle,
    /// `Some(Err(()))` without `DELETE` access.
    pub(crate) fn set_delete_pending(&mut self, loc: Location, on: bool) -> Option<Result<(), ()>> {
        let idx = self.slots.find(loc)?;
        let access = AccessMask::from_bits_retain(self.slots.get(idx).access);
        if !map_generic(access).contains(AccessMask::DELETE) {
            return Some(Err(()));
        }
        let s = self.slots.get_mut(idx);
        if s.home() {
            if s.delete_pending != on {
                s.delete_pending = on;
                s.version += 1;
            }
        } else {
            let f = s.file;
            if self.files.get(f).delete_pending != on {
                self.files.get_mut(f).delete_pending = on;
                for slot in self.file_members(At::Rec(f)) {
                    let m = self.slots.get_mut(slot);
                    m.version += 1;
                    m.delete_pending = on;
                }
            }
        }
        Some(Ok(()))
    }

    /// Adds `delta` to the notify-watch count of `loc`, as
    /// [`Shard::adjust_locks`] does for locks.
    pub(crate) fn adjust_notify(&mut self, loc: Location, delta: i64) -> Option<Result<u32, u32>> {
        let idx = self.slots.find(loc)?;
        if !self.slots.get(idx).linked() {
            self.trees.attach(idx, NIL);
            self.slots.get_mut(idx).member |= FLAG_LINKED;
        }
        let current = self.trees.link(idx).notify;
        let new = i64::from(current).checked_add(delta).and_then(|n| u32::try_from(n).ok());
        Some(match new {
            Some(n) => {
                if n != current {
                    self.trees.set_notify(idx, n);
                    self.slots.get_mut(idx).version += 1;
                }
                Ok(n)
            }
            None => Err(current),
        })
    }

    /// Sets the path of `file` and bumps the version of each of its opens;
    /// returns how many, and the old path for the caller to drop.
    pub(crate) fn rename(&mut self, file: FileNumber, path: Arc<str>) -> (usize, Option<Arc<str>>) {
        let Some(at) = self.find_file(file.0, self.files.hash(file.0)) else {
            return (0, None);
        };
        let members = self.file_members(at);
        let (old, raw) = match at {
            At::Slot(j) => (self.slots.replace_path(j, path), self.slots.get(j).path()),
            At::Rec(f) => (self.files.set_path(f, path), self.files.get(f).raw_path()),
        };
        for &slot in &members {
            let m = self.slots.get_mut(slot);
            m.version += 1;
            m.set_path(raw);
        }
        (members.len(), Some(old))
    }
}

#[cfg(test)]
mod tests;
