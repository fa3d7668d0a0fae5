//! Listing: the table's walk in shard, then slot order, resumed by cursors.

use crate::error::ListError;
use crate::limits::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::paging::{Cursor, ListQuery, Page};
use crate::record::{FileHandle, FileNumber};
use crate::shard::shard_of;

use super::HandleTable;

impl HandleTable {
    /// One page of the table, resuming from `query.after`.
    ///
    /// # Errors
    ///
    /// [`ListError::ZeroLimit`] for `limit: Some(0)`,
    /// [`ListError::InvalidCursor`] for a cursor that names no position of
    /// this table.
    ///
    /// ```
    /// # use smb_handles::{AccessMask, FileNumber, HandleTable, ListQuery, OpenSpec};
    /// let table = HandleTable::new();
    /// for f in 0..25 {
    ///     table.open(OpenSpec::new(FileNumber(f % 5), "/f", "me", AccessMask::empty()))?;
    /// }
    /// let mut query = ListQuery { limit: Some(10), ..ListQuery::default() };
    /// let mut seen = 0;
    /// loop {
    ///     let page = table.list(&query)?;
    ///     seen += page.file_handles.len();
    ///     match page.next {
    ///         Some(next) => query.after = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// assert_eq!(seen, 25);
    /// let one_file = table.list(&ListQuery { file_number: Some(FileNumber(3)), ..ListQuery::default() })?;
    /// assert_eq!(one_file.file_handles.len(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list(&self, query: &ListQuery) -> Result<Page, ListError> {
        let limit = match query.limit {
            Some(0) => return Err(ListError::ZeroLimit),
            Some(n) => n.min(MAX_LIST_LIMIT),
            None => DEFAULT_LIST_LIMIT,
        };
        let start = match query.after {
            None => Cursor { shard: 0, slot: 0 },
            // Every cursor this table issues names a slot at most its shard's
            // high mark (which never goes down): anything past it names no
            // position of this table, and walking from it would end the
            // listing as if it were done.
            Some(c)
                if (c.shard as usize) < self.shards.len()
                    && c.slot <= self.shards[c.shard as usize].lock.read().high() =>
            {
                c
            }
            Some(_) => return Err(ListError::InvalidCursor),
        };
        match query.file_number {
            Some(file) => Ok(self.list_file(file, start, limit, query.resolve_paths)),
            None => Ok(self.list_all(start, limit, query.resolve_paths)),
        }
    }

    fn list_all(&self, start: Cursor, limit: usize, with_path: bool) -> Page {
        let mut out = Vec::with_capacity(limit.min(self.len()));
        let mut pos = start;
        loop {
            let shard = self.shards[pos.shard as usize].lock.read();
            let resume = shard.walk(pos.slot, limit - out.len(), with_path, &mut out);
            let done_here = resume >= shard.high();
            drop(shard);
            if done_here {
                if pos.shard as usize + 1 == self.shards.len() {
                    return Page { file_handles: out, next: None };
                }
                pos = Cursor { shard: pos.shard + 1, slot: 0 };
            } else {
                pos.slot = resume;
            }
            if out.len() == limit {
                return Page { file_handles: out, next: Some(pos) };
            }
        }
    }

    fn list_file(&self, file: FileNumber, start: Cursor, limit: usize, with_path: bool) -> Page {
        let shard_idx = shard_of(file, self.shards.len()) as u32;
        if start.shard > shard_idx {
            return Page::default();
        }
        let from = if start.shard == shard_idx { start.slot } else { 0 };
        let shard = self.shards[shard_idx as usize].lock.read();
        let (slots, next) = shard.file_page(file, from, limit);
        let out: Vec<FileHandle> = slots.iter().map(|&s| shard.snapshot_at(s, with_path)).collect();
        let next = next.map(|slot| Cursor { shard: shard_idx, slot });
        Page { file_handles: out, next }
    }
}
