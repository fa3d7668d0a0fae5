//! Closing handles: one, or a batch with each shard's lock taken once,
//! or what a request named (the JSON and C batch closes); with the work
//! each does after the shard's lock (freeing, tree counts, the unlock
//! hook, waiting opens, store removals) and the spare credits it returns.

use crate::error::CloseError;
use crate::location::Location;
use crate::record::{FileHandle, FileNumber};
use crate::shard::{Closed, FileExt, Report, Shard, NIL};
use crate::sync::Ordering;

use super::{settle, HandleTable, PaddedShard, Ticket};

impl HandleTable {
    /// Removes the handle at `loc` and returns its record, so the caller (not
    /// the table, and not under its lock) drops it. Of any number of
    /// concurrent closes of one location exactly one succeeds.
    ///
    /// # Errors
    ///
    /// [`CloseError::NotFound`] for a closed, stale or unknown location.
    pub fn close(&self, loc: Location) -> Result<FileHandle, CloseError> {
        self.close_as(loc)
    }

    /// [`close`](Self::close), answering with the report `R` asks for.
    #[inline(always)]
    pub(crate) fn close_as<R: Report>(&self, loc: Location) -> Result<R, CloseError> {
        let shard = self.shard(loc).ok_or(CloseError::NotFound)?;
        let mut g = shard.lock.write();
        let Closed { report, file_number, durable, unlocked, unblocked, tree } =
            g.close::<R>(loc)?;
        let garbage = g.take_all_garbage();
        let ticket = if durable { self.forget_durable(loc) } else { None };
        g.credits += 1;
        self.trim(&mut g);
        shard.count(-1);
        if unblocked {
            self.caching.unblocked(file_number);
        }
        drop(g);
        if let Some(garbage) = garbage {
            garbage.free();
        }
        if tree != NIL {
            self.left_trees(&[tree]);
        }
        if unlocked {
            self.notify_unlocked(&[file_number]);
        }
        self.run_ready();
        if !settle(ticket) {
            return Err(CloseError::StoreFailed);
        }
        Ok(report)
    }

    /// Closes `loc` in shard `shard`, whose write guard `g` the caller
    /// holds: counts it, and collects what to drop after the lock, the file
    /// if locks went, and the tree to uncount.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // each collects one kind of after-the-lock work
    pub(super) fn close_under<R: Report>(
        &self,
        shard: &PaddedShard,
        g: &mut Shard,
        loc: Location,
        garbage: &mut Vec<FileExt>,
        unlocked_files: &mut Vec<FileNumber>,
        trees: &mut Vec<u32>,
        tickets: &mut Vec<Ticket>,
    ) -> Result<R, CloseError> {
        let Closed { report, file_number, durable, unlocked, unblocked, tree } =
            g.close::<R>(loc)?;
        g.take_garbage(garbage);
        if durable {
            tickets.extend(self.forget_durable(loc));
        }
        g.credits += 1;
        shard.count(-1);
        if unblocked {
            self.caching.unblocked(file_number);
        }
        if unlocked {
            unlocked_files.push(file_number);
        }
        if tree != NIL {
            trees.push(tree);
        }
        Ok(report)
    }

    /// Closes many handles: one result per input, in input order. Each
    /// handle closes independently; a location repeated in one batch closes
    /// once and its repeats get [`CloseError::NotFound`]. Each shard's lock
    /// is taken once per batch.
    ///
    /// ```
    /// # use smb_handles::{AccessMask, CloseError, FileNumber, HandleTable, OpenSpec};
    /// # let table = HandleTable::new();
    /// # let open = |f| table.open(OpenSpec::new(FileNumber(f), "/f", "me", AccessMask::empty())).unwrap();
    /// let (a, b) = (open(1), open(2));
    /// let results = table.close_batch(&[a, b, a]);
    /// assert!(results[0].is_ok() && results[1].is_ok());
    /// assert_eq!(results[2], Err(CloseError::NotFound));
    /// assert!(table.close_batch(&[]).is_empty());
    /// ```
    pub fn close_batch(&self, locations: &[Location]) -> Vec<Result<FileHandle, CloseError>> {
        self.close_batch_as(locations)
    }

    /// [`close_batch`](Self::close_batch), answering with the reports `R`
    /// asks for.
    pub(crate) fn close_batch_as<R: Report>(
        &self,
        locations: &[Location],
    ) -> Vec<Result<R, CloseError>> {
        if locations.len() <= 1 {
            return locations.iter().map(|&l| self.close_as(l)).collect();
        }
        let mut results: Vec<Result<R, CloseError>> =
            (0..locations.len()).map(|_| Err(CloseError::NotFound)).collect();
        // Visit inputs grouped by shard (input order within a shard, so a
        // repeat comes after the first occurrence), each lock taken once: a
        // counting sort, linear in the batch.
        let mut starts = vec![0u32; self.shards.len() + 1];
        for l in locations {
            if l.shard() < self.shards.len() {
                starts[l.shard() + 1] += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0u32; starts[self.shards.len()] as usize];
        let mut fill = starts.clone();
        for (i, l) in locations.iter().enumerate() {
            if l.shard() < self.shards.len() {
                order[fill[l.shard()] as usize] = i as u32;
                fill[l.shard()] += 1;
            }
        }
        // A close waits on dependent lines: its slot, then (for a shared
        // file) its file record, and the path's header (the file index's
        // upkeep is batched by the shard). Prefetch them in stages, so the
        // batch waits on memory once per many handles instead of on every
        // line of every handle: slots 24 closes ahead, file records 12 ahead
        // (their slots are in cache by then), paths 4 ahead.
        const SLOT_AHEAD: usize = 24;
        const FILE_AHEAD: usize = 12;
        const PATH_AHEAD: usize = 4;
        let mut garbage = Vec::new();
        let mut unlocked_files = Vec::new();
        let mut trees = Vec::new();
        let mut tickets = Vec::new();
        for (shard, s) in self.shards.iter().enumerate() {
            let group = &order[starts[shard] as usize..starts[shard + 1] as usize];
            if group.is_empty() {
                continue;
            }
            let mut g = s.lock.write();
            let at = |n: usize| group.get(n).map(|&i| locations[i as usize]);
            for n in 0..SLOT_AHEAD.min(group.len()) {
                g.prefetch(locations[group[n] as usize]);
            }
            for (n, &i) in group.iter().enumerate() {
                if let Some(l) = at(n + SLOT_AHEAD) {
                    g.prefetch(l);
                }
                if let Some(l) = at(n + FILE_AHEAD) {
                    g.prefetch_file(l);
                }
                if let Some(l) = at(n + PATH_AHEAD) {
                    g.prefetch_path(l);
                }
                results[i as usize] = self.close_under(
                    s,
                    &mut g,
                    locations[i as usize],
                    &mut garbage,
                    &mut unlocked_files,
                    &mut trees,
                    &mut tickets,
                );
            }
            self.trim(&mut g);
            drop(g);
            garbage.clear(); // after the lock
            self.left_trees(&trees);
            trees.clear();
        }
        if !unlocked_files.is_empty() {
            unlocked_files.sort_unstable();
            unlocked_files.dedup();
            self.notify_unlocked(&unlocked_files);
        }
        self.run_ready();
        // Persistent handles' removals: the batch is answered once they are
        // durable (a failed removal is not told apart here: contract §15).
        for t in tickets {
            settle(Some(t));
        }
        results
    }

    /// Closes what a request named, then matches the results back: each
    /// element of `requested` is a location to close or the reason the
    /// request named none. The locations are closed in one
    /// [`close_batch`](Self::close_batch); the answer has one result per
    /// element, in order: the element's own error, or its close's result.
    ///
    /// Written once for every batch close that takes a request: the JSON
    /// body of `POST /v1/smb/files/close` (in [`close_batch_json`] and the
    /// admin endpoint) and the C array of `smbh_close_batch`.
    ///
    /// [`close_batch_json`]: Self::close_batch_json
    pub(crate) fn close_requested<R: Report, E: From<CloseError>>(
        &self,
        requested: Vec<Result<Location, E>>,
    ) -> Vec<Result<R, E>> {
        let locations: Vec<Location> =
            requested.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        let mut closed = self.close_batch_as(&locations).into_iter();
        requested
            .into_iter()
            .map(|r| {
                r?;
                Ok(closed.next().expect("close_batch gives one result per location")?)
            })
            .collect()
    }

    /// Returns a shard's spare credits above two chunks to `reserved`.
    #[inline]
    pub(super) fn trim(&self, shard: &mut Shard) {
        if shard.credits > 2 * self.chunk {
            self.reserved.fetch_sub(shard.credits - self.chunk, Ordering::Relaxed);
            shard.credits = self.chunk;
        }
    }
}
