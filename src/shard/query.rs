//! What a shard answers about its handles: the handles under a path, of
//! a tree connect or of a file (a page at a time), and the walk that copies
//! them out in slot order for listings.

use crate::location::Location;
use crate::record::{FileHandle, FileNumber};

use super::files::At;
use super::{pages, under, Shard, NIL};

impl Shard {
    /// Scans at most `budget` slots from `from` for handles whose file's
    /// path is `prefix` or under it (see [`under`]), taking at most `limit`;
    /// returns them and the slot to resume from (`None` when the shard is
    /// done).
    pub(crate) fn select_by_path(
        &self,
        from: u32,
        budget: usize,
        limit: usize,
        prefix: &str,
    ) -> (Vec<Location>, Option<u32>) {
        let mut out = Vec::new();
        let high = self.slots.high();
        let end = from.saturating_add(budget as u32).min(high);
        let mut i = from;
        while i < end && out.len() < limit {
            let s = self.slots.get(i);
            if s.occupied() && under(s.path_str(), prefix) {
                out.push(Location::pack(s.generation, self.index, i));
            }
            i += 1;
        }
        (out, (i < high).then_some(i))
    }

    /// Up to `limit` open handles of tree connect `tree` in this shard.
    pub(crate) fn tree_members(&self, tree: u32, limit: usize) -> Vec<Location> {
        let members = self.trees.members(tree, limit);
        members
            .into_iter()
            .map(|i| Location::pack(self.slots.get(i).generation, self.index, i))
            .collect()
    }

    /// Takes up to `limit` handles of tree connect `tree` in this shard off
    /// its list, for the caller to close under the same lock (a sweep).
    pub(crate) fn take_tree_members(&mut self, tree: u32, limit: usize) -> Vec<Location> {
        let taken = self.trees.take(tree, limit);
        taken
            .into_iter()
            .map(|i| Location::pack(self.slots.get(i).generation, self.index, i))
            .collect()
    }

    /// The tree connect (registry index) of the handle at `loc`: `None` for
    /// no handle, `Some(NIL)` for one outside any tree connect.
    pub(crate) fn tree_of(&self, loc: Location) -> Option<u32> {
        let i = self.slots.find(loc)?;
        Some(if self.slots.get(i).linked() { self.trees.link(i).tree } else { NIL })
    }

    /// The slots of the open file at `at`, unordered.
    pub(super) fn file_members(&self, at: At) -> Vec<u32> {
        match at {
            At::Slot(j) => vec![j],
            At::Rec(f) => self.ext(f).slots().collect(),
        }
    }

    /// The slot indices of every open of `file`, ascending.
    #[cfg(test)]
    pub(crate) fn file_slots(&self, file: FileNumber) -> Vec<u32> {
        self.file_page(file, 0, usize::MAX).0
    }

    /// One page of a per-file listing: the `limit` smallest slots of
    /// `file`'s opens from slot `from` on, ascending, and the next one (the
    /// following page's start). Selects rather than sorting every open:
    /// O(n + limit log limit) for a file with n opens.
    pub(crate) fn file_page(
        &self,
        file: FileNumber,
        from: u32,
        limit: usize,
    ) -> (Vec<u32>, Option<u32>) {
        let Some(at) = self.find_file(file.0, self.files.hash(file.0)) else {
            return (Vec::new(), None);
        };
        let mut slots = self.file_members(at);
        slots.retain(|&s| s >= from);
        let mut next = None;
        if slots.len() > limit {
            slots.select_nth_unstable(limit);
            next = Some(slots[limit]);
            slots.truncate(limit);
        }
        slots.sort_unstable();
        (slots, next)
    }

    /// Copies out up to `limit` handles from slot `from` on, in slot order.
    /// Returns the slot to resume from (`high` when the shard is done).
    pub(crate) fn walk(
        &self,
        from: u32,
        limit: usize,
        with_path: bool,
        out: &mut Vec<FileHandle>,
    ) -> u32 {
        let mut idx = from;
        let mut taken = 0;
        // A snapshot clones the slot's path (a write to the path's header):
        // a random line for most shapes. Prefetch it 4 slots ahead.
        const PATH_AHEAD: usize = 4;
        while idx < self.slots.high() && taken < limit {
            let run = self.slots.run(idx);
            for (i, s) in run.iter().enumerate() {
                if with_path {
                    if let Some(a) = run.get(i + PATH_AHEAD).filter(|a| a.occupied()) {
                        pages::prefetch(a.path().header());
                    }
                }
                if s.occupied() {
                    if taken == limit {
                        return idx + i as u32;
                    }
                    out.push(self.snapshot(idx + i as u32, s, with_path));
                    taken += 1;
                }
            }
            idx += run.len() as u32;
        }
        idx
    }
}
