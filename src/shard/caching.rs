//! One file's leases and oplocks: who holds what, which breaks an open, a
//! write or a lock needs, what an open is granted, and acknowledgements.
//! The rules are smbd's (tests/samba/LEASES-FINDINGS.md); this file only
//! decides, under the shard's lock: the table sends the breaks (through its
//! hook, after the lock) and runs the opens that waited.
//!
//! The per-file aggregates (holders with write and with handle caching, and
//! outstanding acknowledgements) answer the common question, "does this
//! open break anything?", in O(1) however many leases the file has; only a
//! break that must reach many holders walks them.
//!
//! Which breaks an open or a write needs is decided in `caching/breaks.rs`;
//! the shard's entry points (by file or handle) are in `caching_ops.rs`;
//! the table-wide map of lease keys, and their hash, in `caching/keys.rs`.

mod breaks;
mod keys;

pub(crate) use keys::{KeyHash, LeaseKeys};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::lease::{
    AckError, Break, CacheRequest, ClientGuid, LeaseGrant, LeaseKey, LeaseRequest, LeaseState,
    OplockLevel,
};
use crate::location::Location;
use crate::record::FileNumber;

use super::NIL;

const R: LeaseState = LeaseState::READ;
const W: LeaseState = LeaseState::WRITE;
const H: LeaseState = LeaseState::HANDLE;

/// Leases of a file found by a scan; past this many, through a map (a
/// scan of 32 costs less than a map's insert and remove on every open).
const SCAN_LEASES: u32 = 32;

/// Bit of a member's holder id that marks an oplock (else a lease index).
pub(crate) const OPLOCK_HOLDER: u32 = 1 << 31;

/// A break waiting for its acknowledgement.
#[derive(Clone, Copy, Debug)]
struct Breaking {
    to: LeaseState,
    deadline: Instant,
}

/// One lease on the file.
#[derive(Debug)]
struct LeaseRec {
    client: ClientGuid,
    key: LeaseKey,
    state: LeaseState,
    breaking: Option<Breaking>,
    v2: bool,
    epoch: u16,
    /// Handles of the file open with this lease.
    opens: u32,
    /// A write or lock took its read caching while its break was
    /// outstanding: once acknowledged, R goes too (smbd sends that second
    /// break at the acknowledgement; tests/samba/LEASES-FINDINGS.md §5).
    read_after_ack: bool,
}

/// One oplock (a handle's).
#[derive(Debug)]
struct OplockRec {
    loc: Location,
    state: LeaseState,
    breaking: Option<Breaking>,
}

/// What an open asks the file for: its request and the facts the rules
/// look at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ask<'a> {
    pub(crate) request: &'a CacheRequest,
    /// Access is only SYNCHRONIZE, READ_ATTRIBUTES, WRITE_ATTRIBUTES.
    pub(crate) oplock_stat: bool,
    /// As `oplock_stat`, READ_CONTROL allowed too.
    pub(crate) lease_stat: bool,
    /// The open conflicts with the file's share modes.
    pub(crate) sharing_violation: bool,
    /// FILE_SUPERSEDE, FILE_OVERWRITE or FILE_OVERWRITE_IF.
    pub(crate) overwrite: bool,
    pub(crate) directory: bool,
    /// The opener's lease on this file, when it has one already.
    pub(crate) own_lease: Option<u32>,
    /// The open waited before and runs again.
    pub(crate) retry: bool,
}

/// A break deadline, read from the clock only when a break needs one.
#[derive(Debug)]
pub(crate) struct Due {
    timeout: Duration,
    at: Option<Instant>,
}

impl Due {
    pub(crate) fn new(timeout: Duration) -> Due {
        Due { timeout, at: None }
    }

    fn get(&mut self) -> Instant {
        *self.at.get_or_insert_with(|| Instant::now() + self.timeout)
    }
}

/// A file's leases and oplocks.
#[derive(Debug, Default)]
pub(crate) struct FileCaching {
    leases: Vec<Option<LeaseRec>>,
    lease_free: Vec<u32>,
    /// Leases by key, kept once the file has more than [`SCAN_LEASES`].
    by_key: HashMap<(ClientGuid, LeaseKey), u32, KeyHash>,
    live_leases: u32,
    oplocks: Vec<Option<OplockRec>>,
    oplock_free: Vec<u32>,
    /// Handles that are lease opens.
    lease_opens: u32,
    /// Holders whose state has write caching / handle caching / read caching
    /// (leases and oplocks).
    n_w: u32,
    n_h: u32,
    /// Leases holding read caching and level II oplocks (what a write breaks).
    pub(super) n_r: u32,
    /// Holders with an acknowledgement outstanding.
    breaking: u32,
    /// Of them, leases: an open waits while one is breaking (smbd).
    breaking_leases: u32,
    /// The holders with write caching (at most one but while a break of
    /// it runs): the only ones a compatible open breaks.
    w_holders: Vec<u32>,
}

impl FileCaching {
    /// Counts (`add`) or forgets holder `holder`'s state `s` in the
    /// aggregates.
    fn count(&mut self, holder: u32, s: LeaseState, add: bool) {
        if s.contains(W) {
            if add {
                self.w_holders.push(holder);
            } else if let Some(at) = self.w_holders.iter().position(|&h| h == holder) {
                self.w_holders.swap_remove(at);
            }
        }
        for (bit, n) in [(W, &mut self.n_w), (H, &mut self.n_h), (R, &mut self.n_r)] {
            if s.contains(bit) {
                if add {
                    *n += 1;
                } else {
                    *n -= 1;
                }
            }
        }
    }

    /// The lease of `client` with `key`: a scan of a handful of leases, a
    /// map lookup past [`SCAN_LEASES`].
    pub(crate) fn find(&self, client: ClientGuid, key: LeaseKey) -> Option<u32> {
        if self.by_key.is_empty() {
            let at = self
                .leases
                .iter()
                .position(|l| l.as_ref().is_some_and(|l| l.client == client && l.key == key));
            at.map(|i| i as u32)
        } else {
            self.by_key.get(&(client, key)).copied()
        }
    }

    /// True when some holder caches reads (a write or a lock breaks it).
    pub(crate) fn has_readers(&self) -> bool {
        self.n_r > 0
    }

    fn lease(&self, i: u32) -> &LeaseRec {
        self.leases[i as usize].as_ref().expect("live lease")
    }

    /// Grants what `ask` may have, given `opens` other handles on the file
    /// (the new one not counted) and whether it has byte-range locks;
    /// records the holder for the new handle at `loc` and returns its id
    /// (for the member list) and what was granted.
    pub(crate) fn grant(
        &mut self,
        ask: &Ask<'_>,
        loc: Location,
        opens: u32,
        has_locks: bool,
    ) -> (u32, OplockLevel, Option<LeaseGrant>) {
        match *ask.request {
            CacheRequest::None => (NIL, OplockLevel::None, None),
            CacheRequest::Oplock(level) => {
                // Stat opens get no oplock (smbd).
                if ask.directory || ask.oplock_stat {
                    return (NIL, OplockLevel::None, None);
                }
                let mut s = level.state();
                if has_locks {
                    s.remove(R);
                }
                if opens > 0 {
                    s.remove(W);
                }
                let lease_h = self.leases.iter().flatten().any(|l| l.state.contains(H));
                let granted = if lease_h { OplockLevel::None } else { OplockLevel::of_state(s) };
                if granted == OplockLevel::None {
                    return (NIL, OplockLevel::None, None);
                }
                let rec = OplockRec { loc, state: granted.state(), breaking: None };
                let state = rec.state;
                let i = match self.oplock_free.pop() {
                    Some(i) => {
                        self.oplocks[i as usize] = Some(rec);
                        i
                    }
                    None => {
                        self.oplocks.push(Some(rec));
                        (self.oplocks.len() - 1) as u32
                    }
                };
                self.count(i | OPLOCK_HOLDER, state, true);
                (i | OPLOCK_HOLDER, granted, None)
            }
            CacheRequest::Lease(req) => {
                if ask.directory {
                    return (NIL, OplockLevel::None, None);
                }
                let own = ask.own_lease;
                let own_opens = own.map_or(0, |i| self.lease(i).opens);
                let non_lease = opens - self.lease_opens;
                let mut s = req.state;
                if !s.intersects(R | W) || s == W || s == (W | H) {
                    s = LeaseState::empty();
                }
                if has_locks {
                    s.remove(R);
                }
                // smbd grants a stat open without looking at the other
                // opens (its delay check is skipped for them).
                if opens > own_opens && !ask.oplock_stat {
                    s.remove(W);
                }
                if non_lease > 0 && !ask.oplock_stat {
                    s.remove(H);
                }
                let i = match own {
                    Some(i) => {
                        let l = self.leases[i as usize].as_mut().expect("live lease");
                        let upgrade = req.state.contains(l.state)
                            && s == req.state
                            && s != l.state
                            && l.breaking.is_none();
                        if upgrade {
                            let old = l.state;
                            l.state = s;
                            if l.v2 {
                                l.epoch = l.epoch.wrapping_add(1);
                            }
                            self.count(i, old, false);
                            self.count(i, s, true);
                        }
                        i
                    }
                    None => self.new_lease(&req, s),
                };
                self.lease_opens += 1;
                let l = self.leases[i as usize].as_mut().expect("live lease");
                l.opens += 1;
                let grant = LeaseGrant {
                    key: l.key,
                    state: l.state,
                    v2: l.v2,
                    epoch: l.epoch,
                    break_in_progress: l.breaking.is_some(),
                };
                (i, OplockLevel::None, Some(grant))
            }
        }
    }

    /// A new lease (its key claimed in [`LeaseKeys`] by the caller).
    fn new_lease(&mut self, req: &LeaseRequest, s: LeaseState) -> u32 {
        let rec = LeaseRec {
            client: req.client,
            key: req.key,
            state: s,
            breaking: None,
            v2: req.epoch.is_some(),
            epoch: req.epoch.map_or(0, |e| e.wrapping_add(1)),
            opens: 0,
            read_after_ack: false,
        };
        let i = match self.lease_free.pop() {
            Some(i) => {
                self.leases[i as usize] = Some(rec);
                i
            }
            None => {
                self.leases.push(Some(rec));
                (self.leases.len() - 1) as u32
            }
        };
        self.count(i, s, true);
        self.live_leases += 1;
        if !self.by_key.is_empty() {
            self.by_key.insert((req.client, req.key), i);
        } else if self.live_leases > SCAN_LEASES {
            // Past a few dozen leases, find them by key through a map.
            for (j, l) in self.leases.iter().enumerate() {
                if let Some(l) = l {
                    self.by_key.insert((l.client, l.key), j as u32);
                }
            }
        }
        i
    }

    /// A handle holding `holder` closed; true when an outstanding
    /// acknowledgement went with it (waiting opens may go on).
    pub(crate) fn closed(&mut self, holder: u32, keys: &LeaseKeys) -> bool {
        if holder == NIL {
            return false;
        }
        if holder & OPLOCK_HOLDER != 0 {
            let o = self.oplocks[(holder & !OPLOCK_HOLDER) as usize].take().expect("live oplock");
            self.oplock_free.push(holder & !OPLOCK_HOLDER);
            self.count(holder, o.state, false);
            if o.breaking.is_some() {
                self.breaking -= 1;
                return true;
            }
            return false;
        }
        self.lease_opens -= 1;
        let l = self.leases[holder as usize].as_mut().expect("live lease");
        l.opens -= 1;
        if l.opens > 0 {
            return false;
        }
        let l = self.leases[holder as usize].take().expect("live lease");
        self.lease_free.push(holder);
        self.live_leases -= 1;
        if !self.by_key.is_empty() {
            self.by_key.remove(&(l.client, l.key));
        }
        keys.release(l.client, l.key);
        self.count(holder, l.state, false);
        if l.breaking.is_some() {
            self.breaking -= 1;
            self.breaking_leases -= 1;
            return true;
        }
        false
    }

    /// Acknowledges the break of lease (`client`, `key`) with `state`; a
    /// read break a write or lock left for after it goes into `out`.
    pub(crate) fn ack_lease(
        &mut self,
        client: ClientGuid,
        key: LeaseKey,
        state: LeaseState,
        file: FileNumber,
        due: &mut Due,
        out: &mut Vec<Break>,
    ) -> Result<LeaseState, AckError> {
        let i = self.find(client, key).ok_or(AckError::LeaseNotFound)?;
        let l = self.leases[i as usize].as_mut().expect("live lease");
        let b = l.breaking.ok_or(AckError::NotBreaking)?;
        if !b.to.contains(state) {
            return Err(AckError::NotAccepted);
        }
        let old = l.state;
        l.state = state;
        l.breaking = None;
        let read_after = std::mem::take(&mut l.read_after_ack) && state.contains(R);
        self.breaking -= 1;
        self.breaking_leases -= 1;
        self.count(i, old, false);
        self.count(i, state, true);
        if read_after {
            self.break_lease_at(i, state - R, file, due, out, false);
        }
        Ok(state)
    }

    /// Acknowledges the oplock break of `holder` with `level`.
    pub(crate) fn ack_oplock(
        &mut self,
        holder: u32,
        level: OplockLevel,
    ) -> Result<OplockLevel, AckError> {
        if holder == NIL || holder & OPLOCK_HOLDER == 0 {
            return Err(AckError::NoOplockBreak);
        }
        let o = self.oplocks[(holder & !OPLOCK_HOLDER) as usize].as_mut().expect("live oplock");
        let Some(b) = o.breaking else {
            return Err(AckError::NoOplockBreak);
        };
        if !matches!(level, OplockLevel::None | OplockLevel::LevelII) {
            return Err(AckError::InvalidLevel);
        }
        // Level II acknowledged for a break to none: smbd answers none and
        // removes the oplock (smb2_break.c).
        let level = if b.to.is_empty() { OplockLevel::None } else { level };
        let old = o.state;
        o.state = level.state();
        o.breaking = None;
        let new = o.state;
        self.breaking -= 1;
        self.count(holder, old, false);
        self.count(holder, new, true);
        Ok(level)
    }

    /// Ends every break past `now` as smbd's timeout does: the lease drops
    /// to none, the oplock to none; returns how many ended.
    pub(crate) fn expire(&mut self, now: Instant) -> usize {
        let mut ended = 0;
        let mut changes = Vec::new();
        for (i, l) in self.leases.iter_mut().enumerate() {
            let Some(l) = l else { continue };
            if l.breaking.is_some_and(|b| b.deadline <= now) {
                changes.push((i as u32, l.state));
                l.state = LeaseState::empty();
                l.breaking = None;
                l.read_after_ack = false;
                self.breaking_leases -= 1;
            }
        }
        for (i, o) in self.oplocks.iter_mut().enumerate() {
            let Some(o) = o else { continue };
            if o.breaking.is_some_and(|b| b.deadline <= now) {
                changes.push((i as u32 | OPLOCK_HOLDER, o.state));
                o.state = LeaseState::empty();
                o.breaking = None;
            }
        }
        for (holder, old) in changes {
            self.count(holder, old, false);
            self.breaking -= 1;
            ended += 1;
        }
        ended
    }

    /// The earliest deadline of an outstanding break.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let l = self.leases.iter().flatten().filter_map(|l| l.breaking.map(|b| b.deadline));
        let o = self.oplocks.iter().flatten().filter_map(|o| o.breaking.map(|b| b.deadline));
        l.chain(o).min()
    }

    /// The lease state and oplock level a holder has now (for snapshots).
    /// Moves holder `holder`'s oplock (if it is one) to the handle's new
    /// location (a durable reconnect).
    pub(crate) fn relocate(&mut self, holder: u32, loc: Location) {
        if holder != NIL && holder & OPLOCK_HOLDER != 0 {
            if let Some(o) = self.oplocks[(holder & !OPLOCK_HOLDER) as usize].as_mut() {
                o.loc = loc;
            }
        }
    }

    pub(crate) fn held(&self, holder: u32) -> (OplockLevel, Option<LeaseState>) {
        if holder == NIL {
            (OplockLevel::None, None)
        } else if holder & OPLOCK_HOLDER != 0 {
            let o = self.oplocks[(holder & !OPLOCK_HOLDER) as usize].as_ref().expect("live");
            (OplockLevel::of_state(o.state), None)
        } else {
            (OplockLevel::None, Some(self.lease(holder).state))
        }
    }
}
