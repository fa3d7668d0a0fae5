//! A shard's part of leases and oplocks: acknowledgements, the breaks a
//! write through a handle needs, break expiry and what a handle holds, each
//! found by file number or location and handed to the file's
//! [`FileCaching`].

use std::time::{Duration, Instant};

use crate::lease::{AckError, Break, ClientGuid, LeaseKey, LeaseState, OplockLevel};
use crate::location::Location;
use crate::record::FileNumber;

use super::caching::{Due, FileCaching};

impl super::Shard {
    /// The caching state of `file`, if it has any.
    fn caching_mut(&mut self, file: FileNumber) -> Option<&mut FileCaching> {
        match self.find_file(file.0, self.files.hash(file.0))? {
            super::At::Rec(f) => self.ext_mut(f).caching.as_deref_mut(),
            super::At::Slot(_) => None,
        }
    }

    /// The holder id and file of the handle at `loc`.
    fn holder_of(&self, loc: Location) -> Option<(u32, FileNumber)> {
        let idx = self.slots.find(loc)?;
        let s = self.slots.get(idx);
        let holder = s.holder;
        Some((holder, FileNumber(s.file_number)))
    }

    /// Acknowledges a lease break on `file`; the breaks it releases go
    /// into `out`.
    pub(crate) fn ack_lease(
        &mut self,
        file: FileNumber,
        client: ClientGuid,
        key: LeaseKey,
        state: LeaseState,
        timeout: Duration,
        out: &mut Vec<Break>,
    ) -> Result<LeaseState, AckError> {
        let mut due = Due::new(timeout);
        self.caching_mut(file)
            .ok_or(AckError::LeaseNotFound)?
            .ack_lease(client, key, state, file, &mut due, out)
    }

    /// Acknowledges the oplock break of the handle at `loc`; returns the
    /// level and the file.
    pub(crate) fn ack_oplock(
        &mut self,
        loc: Location,
        level: OplockLevel,
    ) -> Result<(OplockLevel, FileNumber), AckError> {
        let (holder, file) = self.holder_of(loc).ok_or(AckError::HandleNotFound)?;
        let c = self.caching_mut(file).ok_or(AckError::NoOplockBreak)?;
        Ok((c.ack_oplock(holder, level)?, file))
    }

    /// The breaks a write (or lock, or end-of-file change) through `loc`
    /// needs; `None` when `loc` names no handle.
    pub(crate) fn write_breaks(
        &mut self,
        loc: Location,
        timeout: Duration,
        out: &mut Vec<Break>,
    ) -> Option<FileNumber> {
        let idx = self.slots.find(loc)?;
        let s = self.slots.get(idx);
        let (holder, file) = (s.holder, FileNumber(s.file_number));
        if !s.home() {
            let ext = self.ext_mut(s.file);
            if let Some(c) = ext.caching.as_deref_mut().filter(|c| c.n_r > 0) {
                c.write_breaks(holder, file, &mut Due::new(timeout), out);
            }
        }
        Some(file)
    }

    /// Ends the breaks of `file` past `now`; returns how many ended and the
    /// next deadline of the file's breaks.
    pub(crate) fn expire_breaks(
        &mut self,
        file: FileNumber,
        now: Instant,
    ) -> (usize, Option<Instant>) {
        match self.caching_mut(file) {
            None => (0, None),
            Some(c) => (c.expire(now), c.next_deadline()),
        }
    }

    /// The next deadline of `file`'s outstanding breaks.
    pub(crate) fn next_break_of(&mut self, file: FileNumber) -> Option<Instant> {
        self.caching_mut(file)?.next_deadline()
    }

    /// The oplock level and lease state the handle at `loc` holds now.
    pub(crate) fn caching_of(&self, loc: Location) -> Option<(OplockLevel, Option<LeaseState>)> {
        let (holder, _) = self.holder_of(loc)?;
        let idx = self.slots.find(loc)?;
        Some(match self.ext_of(self.slots.get(idx)).and_then(|e| e.caching.as_deref()) {
            Some(c) => c.held(holder),
            None => (OplockLevel::None, None),
        })
    }
}
