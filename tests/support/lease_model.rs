//! A plain reference for leases, oplocks, breaks, acknowledgements, waiting
//! opens and delete-on-close (docs/contract.md §13–§14), written from
//! smbd's recorded answers (tests/samba/LEASES-FINDINGS.md), independently
//! of the crate: every open, lease, oplock, lock and waiting open in a
//! list, scanned linearly, nothing aggregated. Shared by the property test
//! (tests/leases.rs) and the fuzz target (fuzz/fuzz_targets/table_ops.rs);
//! needs `sharing_model` as a sibling module.
//!
//! Two answers no recording covers follow the table, marked UNRECORDED:
//! an oplock acknowledgement of level II for a break to none, and a write
//! or lock while a lease's break is outstanding.

#![allow(dead_code)] // each user needs a different part

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smb_handles::{
    AccessMask, AckError, Break, BreakTarget, CacheRequest, ClientGuid, CloseError, Config,
    DispositionError, FileNumber, HandleTable, LeaseKey, LeaseRequest, LeaseState, Location,
    LockElement, LockKind, LockRangeError, OpenError, OpenOutcome, OpenSpec, Opened, OplockLevel,
    PendingId, ShareAccess,
};

use crate::sharing_model::{overlaps, share_conflict};

const R: LeaseState = LeaseState::READ;
const W: LeaseState = LeaseState::WRITE;
const H: LeaseState = LeaseState::HANDLE;
const DELETE: u32 = 0x1_0000;

/// An open as the server asks for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Req {
    pub file: u64,
    pub access: u32,
    pub share: u32,
    pub overwrite: bool,
    pub doc: bool,
    pub cache: CacheRequest,
}

/// What an open got (its location is the table's: see [`LeaseModel::bind`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Got {
    /// Index of the new open in [`LeaseModel::opens`] until the next call.
    pub index: usize,
    pub oplock: OplockLevel,
    /// key, state, v2, epoch.
    pub lease: Option<(LeaseKey, LeaseState, bool, u16)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    Opened(Got),
    Pending(u64),
}

/// A break as the hook sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MBreak {
    pub file: u64,
    /// (client, key) of a lease, or `None` for an oplock…
    pub lease: Option<(u128, u128)>,
    /// …of this handle.
    pub oplock: Option<Location>,
    pub from: u32,
    pub to: u32,
    pub ack_required: bool,
    pub epoch: u16,
}

/// What a handle caches through.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Holder {
    None,
    Lease(ClientGuid, LeaseKey),
    /// Its own oplock: state, and the state an outstanding break offers.
    Oplock(LeaseState, Option<LeaseState>),
}

#[derive(Clone, Debug)]
pub struct Open {
    pub loc: Location,
    /// Which open this is (breaks name it until the location is bound).
    serial: usize,
    file: u64,
    access: u32,
    share: u32,
    doc: bool,
    holder: Holder,
}

#[derive(Clone, Debug)]
struct Lease {
    client: ClientGuid,
    key: LeaseKey,
    file: u64,
    state: LeaseState,
    breaking: Option<LeaseState>,
    v2: bool,
    epoch: u16,
    /// A write or lock came while the break was outstanding (LEASES-FINDINGS
    /// §5, seed 5): after the ack, R goes too.
    read_after_ack: bool,
}

#[derive(Clone, Debug)]
struct Waiting {
    id: u64,
    req: Req,
}

#[derive(Clone, Copy, Debug)]
struct Lock {
    loc: Location,
    offset: u64,
    length: u64,
    exclusive: bool,
}

#[derive(Default)]
pub struct LeaseModel {
    /// Live opens, oldest first.
    pub opens: Vec<Open>,
    leases: Vec<Lease>,
    waiting: Vec<Waiting>,
    locks: Vec<Lock>,
    pending_delete: Vec<u64>,
    next_id: u64,
    /// The location of every open ever made, by serial.
    serials: Vec<Location>,
    /// Breaks sent since the last [`LeaseModel::take_breaks`], with the
    /// serial of an oplock's open.
    breaks: Vec<(MBreak, Option<usize>)>,
    /// Waiting opens completed since the last take, in order.
    pub done: Vec<(u64, Result<Got, OpenError>)>,
}

/// Generic rights mapped (file objects).
pub fn mapped(access: u32) -> u32 {
    let mut m = access & 0x0FFF_FFFF;
    for (g, map) in [
        (0x8000_0000u32, 0x120089u32),
        (0x4000_0000, 0x120116),
        (0x2000_0000, 0x1200A0),
        (0x1000_0000, 0x1F01FF),
    ] {
        if access & g != 0 {
            m |= map;
        }
    }
    m
}

/// SYNCHRONIZE, READ_ATTRIBUTES, WRITE_ATTRIBUTES only (findings §3).
fn oplock_stat(access: u32) -> bool {
    mapped(access) & !(0x10_0000 | 0x80 | 0x100) == 0
}

/// The same and READ_CONTROL.
fn lease_stat(access: u32) -> bool {
    mapped(access) & !(0x10_0000 | 0x80 | 0x100 | 0x2_0000) == 0
}

fn level_state(l: OplockLevel) -> LeaseState {
    match l {
        OplockLevel::None => LeaseState::empty(),
        OplockLevel::LevelII => R,
        OplockLevel::Exclusive => R | W,
        OplockLevel::Batch => R | W | H,
    }
}

/// Findings §2: RWH batch, RW exclusive, R or RH level II, else none.
pub fn level_of(s: LeaseState) -> OplockLevel {
    if s == R | W | H {
        OplockLevel::Batch
    } else if s == R | W {
        OplockLevel::Exclusive
    } else if s.contains(R) && !s.contains(W) {
        OplockLevel::LevelII
    } else {
        OplockLevel::None
    }
}

impl LeaseModel {
    /// Gives the open at `index` (just answered) the table's location.
    pub fn bind(&mut self, index: usize, loc: Location) {
        self.opens[index].loc = loc;
        self.serials[self.opens[index].serial] = loc;
    }

    /// The waiting opens completed since the last call, in order (bind
    /// them before [`LeaseModel::take_breaks`]).
    pub fn take_done(&mut self) -> Vec<(u64, Result<Got, OpenError>)> {
        std::mem::take(&mut self.done)
    }

    /// The breaks sent since the last call, sorted.
    pub fn take_breaks(&mut self) -> Vec<MBreak> {
        let mut b: Vec<MBreak> = std::mem::take(&mut self.breaks)
            .into_iter()
            .map(|(mut b, serial)| {
                b.oplock = serial.map(|s| self.serials[s]);
                b
            })
            .collect();
        b.sort();
        b
    }

    fn find_open(&self, loc: Location) -> Option<usize> {
        self.opens.iter().position(|o| o.loc == loc)
    }

    fn find_lease(&self, client: ClientGuid, key: LeaseKey) -> Option<usize> {
        self.leases.iter().position(|l| l.client == client && l.key == key)
    }

    fn is_of_lease(o: &Open, client: ClientGuid, key: LeaseKey) -> bool {
        o.holder == Holder::Lease(client, key)
    }

    fn file_of_lease(&self, i: usize) -> u64 {
        self.leases[i].file
    }

    fn send(&mut self, b: MBreak, serial: Option<usize>) {
        self.breaks.push((b, serial));
    }

    /// Breaks lease `i` to `to`; true when an acknowledgement is needed
    /// (the state held has W or H: findings §4–§5).
    fn break_lease(&mut self, i: usize, to: LeaseState) -> bool {
        if self.leases[i].v2 {
            self.leases[i].epoch = self.leases[i].epoch.wrapping_add(1);
        }
        self.break_lease_keeping_epoch(i, to)
    }

    /// [`Self::break_lease`] without a new epoch (the read break after an
    /// acknowledgement).
    fn break_lease_keeping_epoch(&mut self, i: usize, to: LeaseState) -> bool {
        let l = &mut self.leases[i];
        let from = l.state;
        let ack_required = from.intersects(W | H);
        if ack_required {
            l.breaking = Some(to);
        } else {
            l.state = to;
        }
        let b = MBreak {
            file: l.file,
            lease: Some((l.client.0, l.key.0)),
            oplock: None,
            from: from.bits(),
            to: to.bits(),
            ack_required,
            epoch: if l.v2 { l.epoch } else { 0 },
        };
        self.send(b, None);
        ack_required
    }

    /// Breaks the oplock of open `j` to `to` (R or none); true when it must
    /// be acknowledged (from exclusive or batch).
    fn break_oplock(&mut self, j: usize, to: LeaseState) -> bool {
        let o = &mut self.opens[j];
        let Holder::Oplock(from, _) = o.holder else { unreachable!() };
        let ack_required = from.contains(W);
        o.holder = Holder::Oplock(if ack_required { from } else { to }, ack_required.then_some(to));
        let b = MBreak {
            file: o.file,
            lease: None,
            oplock: None,
            from: from.bits(),
            to: to.bits(),
            ack_required,
            epoch: 0,
        };
        let serial = o.serial;
        self.send(b, Some(serial));
        ack_required
    }

    /// A new open (`id` None) or a waiting one run again.
    pub fn open(&mut self, req: Req) -> Result<Outcome, OpenError> {
        if req.doc && req.access & DELETE == 0 {
            return Err(OpenError::DeleteOnCloseDenied);
        }
        self.attempt(req, None)
    }

    fn attempt(&mut self, req: Req, id: Option<u64>) -> Result<Outcome, OpenError> {
        let file = req.file;
        // §1 rule 4: delete pending before anything else.
        if self.pending_delete.contains(&file) {
            return Err(OpenError::DeletePending);
        }
        let own = match req.cache {
            CacheRequest::Lease(l) => {
                if let Some(i) = self.find_lease(l.client, l.key) {
                    if self.leases[i].file != file {
                        return Err(OpenError::LeaseKeyInUse); // §2: a key names one file
                    }
                    Some((l.client, l.key))
                } else {
                    None
                }
            }
            _ => None,
        };
        let violation = self.opens.iter().any(|o| {
            o.file == file && share_conflict((o.access, o.share), (req.access, req.share))
        });
        // §3 and §7: the breaks this open causes and whether it waits. An
        // overwrite is never a stat open (smbd adds FILE_WRITE_DATA).
        let ostat = oplock_stat(req.access) && !req.overwrite;
        let lstat = lease_stat(req.access) && !req.overwrite;
        let retry = id.is_some();
        let mut wait = false;
        if !ostat {
            let mask = if violation { H } else { W };
            // smbd's delay_for_oplock: the decision is taken on `held &
            // !mask` (an overwrite also takes H and R), then an overwrite
            // breaks to none and an oplock to R or none.
            let decide = |held: LeaseState| {
                let mut to = held - mask;
                if req.overwrite {
                    to -= H | R;
                }
                (to != held).then(|| if req.overwrite { LeaseState::empty() } else { to })
            };
            if !lstat {
                for i in 0..self.leases.len() {
                    let l = &self.leases[i];
                    if l.file != file || own == Some((l.client, l.key)) {
                        continue;
                    }
                    let held = l.state;
                    let breaking = l.breaking.is_some();
                    match decide(held) {
                        // A lease this open takes from: wait when it had
                        // what the open takes (W, or H on a violation).
                        Some(to) => {
                            wait |= held.intersects(mask);
                            if !breaking {
                                self.break_lease(i, to);
                            }
                        }
                        // Nothing to take from a breaking lease: wait.
                        None => wait |= breaking,
                    }
                    // A retried open waits for every breaking lease.
                    wait |= breaking && retry;
                    // Without an overwrite, every breaking lease holds the
                    // open up (it either has W/H to lose or nothing to take).
                    wait |= breaking && !req.overwrite;
                }
            }
            for j in 0..self.opens.len() {
                let o = &self.opens[j];
                let Holder::Oplock(held, breaking) = o.holder else { continue };
                if o.file != file {
                    continue;
                }
                if let Some(to) = decide(held) {
                    wait |= held.intersects(mask);
                    if breaking.is_none() {
                        self.break_oplock(j, to & R);
                    }
                }
            }
        }
        if wait {
            let id = id.unwrap_or_else(|| {
                self.next_id += 1;
                self.next_id
            });
            self.waiting.push(Waiting { id, req });
            return Ok(Outcome::Pending(id));
        }
        if violation {
            return Err(OpenError::SharingViolation);
        }
        // §2: grants.
        let has_locks =
            self.locks.iter().any(|k| self.opens.iter().any(|o| o.loc == k.loc && o.file == file));
        let (holder, oplock, lease) = match req.cache {
            CacheRequest::None => (Holder::None, OplockLevel::None, None),
            // §7: a stat open gets no oplock.
            CacheRequest::Oplock(_) if ostat => (Holder::None, OplockLevel::None, None),
            CacheRequest::Oplock(level) => {
                let mut s = level_state(level);
                if has_locks {
                    s -= R;
                }
                if self.opens.iter().any(|o| o.file == file) {
                    s -= W;
                }
                let lease_h = self.leases.iter().any(|l| l.file == file && l.state.contains(H));
                let granted = if lease_h { OplockLevel::None } else { level_of(s) };
                if granted == OplockLevel::None {
                    (Holder::None, OplockLevel::None, None)
                } else {
                    (Holder::Oplock(level_state(granted), None), granted, None)
                }
            }
            CacheRequest::Lease(q) => {
                let mut s = q.state;
                if !s.intersects(R | W) || s == W || s == W | H {
                    s = LeaseState::empty();
                }
                if has_locks {
                    s -= R;
                }
                let others = || {
                    self.opens
                        .iter()
                        .filter(move |o| o.file == file && !Self::is_of_lease(o, q.client, q.key))
                };
                // §7: a stat open's grant does not look at the other opens.
                if !ostat && others().count() > 0 {
                    s -= W;
                }
                if !ostat && others().any(|o| !matches!(o.holder, Holder::Lease(..))) {
                    s -= H;
                }
                let i = match self.find_lease(q.client, q.key) {
                    Some(i) => {
                        let l = &mut self.leases[i];
                        if q.state.contains(l.state)
                            && s == q.state
                            && s != l.state
                            && l.breaking.is_none()
                        {
                            l.state = s;
                            if l.v2 {
                                l.epoch = l.epoch.wrapping_add(1);
                            }
                        }
                        i
                    }
                    None => {
                        self.leases.push(Lease {
                            client: q.client,
                            key: q.key,
                            file,
                            state: s,
                            breaking: None,
                            v2: q.epoch.is_some(),
                            epoch: q.epoch.map_or(0, |e| e.wrapping_add(1)),
                            read_after_ack: false,
                        });
                        self.leases.len() - 1
                    }
                };
                let l = &self.leases[i];
                (
                    Holder::Lease(q.client, q.key),
                    OplockLevel::None,
                    Some((l.key, l.state, l.v2, l.epoch)),
                )
            }
        };
        self.serials.push(Location(0));
        self.opens.push(Open {
            loc: Location(0),
            serial: self.serials.len() - 1,
            file,
            access: req.access,
            share: req.share,
            doc: req.doc,
            holder,
        });
        Ok(Outcome::Opened(Got { index: self.opens.len() - 1, oplock, lease }))
    }

    /// Runs `file`'s waiting opens again, oldest first.
    fn retry(&mut self, file: u64) {
        let (mine, rest): (Vec<Waiting>, Vec<Waiting>) =
            std::mem::take(&mut self.waiting).into_iter().partition(|w| w.req.file == file);
        self.waiting = rest;
        let mut done = Vec::new();
        for w in mine {
            match self.attempt(w.req, Some(w.id)) {
                Ok(Outcome::Pending(_)) => {}
                Ok(Outcome::Opened(g)) => done.push((w.id, Ok(g))),
                Err(e) => done.push((w.id, Err(e))),
            }
        }
        self.done.extend(done);
    }

    /// Whether a close answers `delete_file`, or no such handle.
    pub fn close(&mut self, loc: Location) -> Result<bool, CloseError> {
        let j = self.find_open(loc).ok_or(CloseError::NotFound)?;
        let o = self.opens.remove(j);
        self.locks.retain(|k| k.loc != loc);
        let file = o.file;
        if o.doc && !self.pending_delete.contains(&file) {
            self.pending_delete.push(file);
        }
        let pending = self.pending_delete.contains(&file);
        let last = !self.opens.iter().any(|p| p.file == file);
        if last {
            self.pending_delete.retain(|&f| f != file);
        }
        // §5: closing the holder ends its break.
        let ended = match o.holder {
            Holder::None => false,
            Holder::Oplock(_, b) => b.is_some(),
            Holder::Lease(c, k) => {
                if self.opens.iter().any(|p| Self::is_of_lease(p, c, k)) {
                    false
                } else {
                    let i = self.find_lease(c, k).expect("lease of an open");
                    self.leases.remove(i).breaking.is_some()
                }
            }
        };
        if ended {
            self.retry(file);
        }
        Ok(last && pending)
    }

    pub fn set_delete_pending(&mut self, loc: Location, on: bool) -> Result<(), DispositionError> {
        let j = self.find_open(loc).ok_or(DispositionError::NotFound)?;
        if mapped(self.opens[j].access) & DELETE == 0 {
            return Err(DispositionError::AccessDenied);
        }
        let file = self.opens[j].file;
        self.pending_delete.retain(|&f| f != file);
        if on {
            self.pending_delete.push(file);
        }
        Ok(())
    }

    pub fn ack_lease(
        &mut self,
        client: ClientGuid,
        key: LeaseKey,
        state: LeaseState,
    ) -> Result<LeaseState, AckError> {
        let i = self.find_lease(client, key).ok_or(AckError::LeaseNotFound)?;
        let offered = self.leases[i].breaking.ok_or(AckError::NotBreaking)?;
        if !offered.contains(state) {
            return Err(AckError::NotAccepted);
        }
        self.leases[i].state = state;
        self.leases[i].breaking = None;
        if std::mem::take(&mut self.leases[i].read_after_ack) && state.contains(R) {
            self.break_lease_keeping_epoch(i, state - R);
        }
        let file = self.file_of_lease(i);
        self.retry(file);
        Ok(state)
    }

    pub fn ack_oplock(
        &mut self,
        loc: Location,
        level: OplockLevel,
    ) -> Result<OplockLevel, AckError> {
        let j = self.find_open(loc).ok_or(AckError::HandleNotFound)?;
        let Holder::Oplock(_, Some(offered)) = self.opens[j].holder else {
            return Err(AckError::NoOplockBreak);
        };
        if !matches!(level, OplockLevel::None | OplockLevel::LevelII) {
            return Err(AckError::InvalidLevel);
        }
        // Level II acknowledged for a break to none: smbd's smb2_break.c
        // answers none and removes the oplock (from its code; unrecorded).
        let level = if offered.is_empty() { OplockLevel::None } else { level };
        self.opens[j].holder = Holder::Oplock(level_state(level), None);
        let file = self.opens[j].file;
        self.retry(file);
        Ok(level)
    }

    /// §4: a write, an end-of-file change or a granted lock through `loc`.
    pub fn break_for_write(&mut self, loc: Location) -> Option<()> {
        let j = self.find_open(loc)?;
        let file = self.opens[j].file;
        let own = match self.opens[j].holder {
            Holder::Lease(c, k) => self.find_lease(c, k),
            _ => None,
        };
        // §7: a writer whose own caching has W (a lease, or a batch or
        // exclusive oplock) is alone: nothing is broken.
        let own_w = match self.opens[j].holder {
            Holder::Oplock(held, _) => held.contains(W),
            _ => own.is_some_and(|i| self.leases[i].state.contains(W)),
        };
        if own_w {
            return Some(());
        }
        for i in 0..self.leases.len() {
            let l = &self.leases[i];
            if Some(i) == own || l.file != file || !l.state.contains(R) {
                continue;
            }
            // A lease whose break is outstanding: its R goes after the ack
            // (smbd, `random_00065` of seed 5).
            if let Some(to) = l.breaking {
                if to.contains(R) {
                    self.leases[i].read_after_ack = true;
                }
                continue;
            }
            self.break_lease(i, LeaseState::empty());
        }
        for k in 0..self.opens.len() {
            let o = &self.opens[k];
            // §7: every level II oplock, the writer's own too.
            if o.file != file || o.holder != Holder::Oplock(R, None) {
                continue;
            }
            self.break_oplock(k, LeaseState::empty());
        }
        Some(())
    }

    /// A one-element lock; returns the handle's lock count.
    pub fn lock(
        &mut self,
        loc: Location,
        offset: u64,
        length: u64,
        exclusive: bool,
    ) -> Result<u32, LockRangeError> {
        let j = self.find_open(loc).ok_or(LockRangeError::NotFound)?;
        let file = self.opens[j].file;
        let conflict = self.locks.iter().any(|k| {
            self.opens.iter().any(|o| o.loc == k.loc && o.file == file)
                && overlaps((k.offset, k.length), (offset, length))
                && (exclusive || (k.exclusive && k.loc != loc))
        });
        if conflict {
            return Err(LockRangeError::NotGranted { index: 0 });
        }
        self.locks.push(Lock { loc, offset, length, exclusive });
        self.break_for_write(loc);
        Ok(self.locks.iter().filter(|k| k.loc == loc).count() as u32)
    }

    /// Every outstanding break times out (a zero break timeout): leases
    /// and oplocks drop to none; files' waiting opens run again, files in
    /// ascending order. Returns how many breaks ended.
    pub fn expire(&mut self) -> usize {
        let mut files: Vec<u64> = self
            .leases
            .iter()
            .filter(|l| l.breaking.is_some())
            .map(|l| l.file)
            .chain(
                self.opens
                    .iter()
                    .filter(|o| matches!(o.holder, Holder::Oplock(_, Some(_))))
                    .map(|o| o.file),
            )
            .collect();
        files.sort_unstable();
        files.dedup();
        let mut ended = 0;
        for file in files {
            for l in self.leases.iter_mut().filter(|l| l.file == file && l.breaking.is_some()) {
                l.state = LeaseState::empty();
                l.breaking = None;
                l.read_after_ack = false;
                ended += 1;
            }
            for o in self.opens.iter_mut().filter(|o| o.file == file) {
                if let Holder::Oplock(_, Some(_)) = o.holder {
                    o.holder = Holder::Oplock(LeaseState::empty(), None);
                    ended += 1;
                }
            }
            self.retry(file);
        }
        ended
    }

    /// Whether any break is outstanding.
    pub fn any_breaking(&self) -> bool {
        self.leases.iter().any(|l| l.breaking.is_some())
            || self.opens.iter().any(|o| matches!(o.holder, Holder::Oplock(_, Some(_))))
    }

    /// What `caching_of` answers for a live handle.
    pub fn caching_of(&self, loc: Location) -> Option<(OplockLevel, Option<LeaseState>)> {
        let o = &self.opens[self.find_open(loc)?];
        Some(match o.holder {
            Holder::None => (OplockLevel::None, None),
            Holder::Oplock(s, _) => (level_of(s), None),
            Holder::Lease(c, k) => {
                (OplockLevel::None, Some(self.leases[self.find_lease(c, k).unwrap()].state))
            }
        })
    }

    /// How many waiting opens there are.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

// ---------------------------------------------------------------------
// The driver: one table and the model side by side.

/// What an open asks to cache.
#[derive(Clone, Debug)]
pub enum Ask {
    None,
    Oplock(OplockLevel),
    /// Key 0 or 1 of the opening client, a state, a v2 epoch.
    Lease(u8, u8, Option<u16>),
}

/// One step of a random sequence (files, handles and breaks are picked
/// modulo what exists).
#[derive(Clone, Debug)]
pub enum Step {
    Open {
        file: u8,
        client: u8,
        access: u32,
        share: u32,
        overwrite: bool,
        doc: bool,
        ask: Ask,
    },
    Close(usize),
    AckLease {
        client: u8,
        key: u8,
        state: u8,
    },
    AckOplock(usize, OplockLevel),
    /// Acknowledges one of the breaks sent so far that needed it: with the
    /// state offered (`None`) or another.
    AckSent(usize, Option<u8>),
    Write(usize),
    Lock(usize, u64, u64, bool),
    SetDeletePending(usize, bool),
    Expire,
}

fn model_break(b: &Break) -> MBreak {
    let (lease, oplock) = match b.target {
        BreakTarget::Lease { client, key } => (Some((client.0, key.0)), None),
        BreakTarget::Oplock(loc) => (None, Some(loc)),
    };
    MBreak {
        file: b.file.0,
        lease,
        oplock,
        from: b.from.bits(),
        to: b.to.bits(),
        ack_required: b.ack_required,
        epoch: b.epoch,
    }
}

type Done = Arc<Mutex<Vec<(PendingId, Result<Opened, OpenError>)>>>;

/// A table (zero break timeout, its hooks recorded) and the model, driven
/// step by step: every answer, the breaks each step sent, the waiting
/// opens it completed and what every live handle caches must agree
/// (a difference panics).
pub struct Driver {
    t: HandleTable,
    breaks: Arc<Mutex<Vec<Break>>>,
    done: Done,
    m: LeaseModel,
    files: u8,
    /// Every location issued (closed ones stay, as stale inputs).
    issued: Vec<Location>,
    /// Every break sent that needed an acknowledgement.
    acked: Vec<Break>,
}

impl Driver {
    /// `files` files (1–3), `shards` shards.
    pub fn new(files: u8, shards: usize) -> Driver {
        let config = Config::default().shards(shards).break_timeout(Duration::ZERO);
        let t = HandleTable::with_config(config);
        let breaks = Arc::new(Mutex::new(Vec::new()));
        let done: Done = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::clone(&breaks);
        t.set_break_hook(Some(Arc::new(move |x: &[Break]| b.lock().unwrap().extend_from_slice(x))));
        let d = Arc::clone(&done);
        t.set_completion_hook(Some(Arc::new(move |id, r| d.lock().unwrap().push((id, r)))));
        Driver {
            t,
            breaks,
            done,
            m: LeaseModel::default(),
            files: files.max(1),
            issued: Vec::new(),
            acked: Vec::new(),
        }
    }

    fn pick(&self, i: usize) -> Location {
        if self.issued.is_empty() {
            Location(0x0000_0001_0000_0000)
        } else {
            self.issued[i % self.issued.len()]
        }
    }

    /// An open's answer against the model's; binds the model's open to the
    /// table's location.
    fn same_open(&mut self, got: &Opened, want: &Got) {
        assert_eq!(got.oplock, want.oplock);
        assert_eq!(got.lease.map(|g| (g.key, g.state, g.v2, g.epoch)), want.lease);
        assert!(!self.issued.contains(&got.location));
        self.m.bind(want.index, got.location);
        self.issued.push(got.location);
    }

    /// Runs step `n` on both and compares.
    pub fn step(&mut self, n: usize, s: &Step) {
        let mut sent_direct = None;
        match s.clone() {
            Step::Open { file, client, access, share, overwrite, doc, ask } => {
                let file = u64::from(file % self.files);
                let cg = ClientGuid(u128::from(client) + 1);
                let cache = match ask {
                    Ask::None => CacheRequest::None,
                    Ask::Oplock(l) => CacheRequest::Oplock(l),
                    Ask::Lease(k, st, epoch) => {
                        let key = LeaseKey(u128::from(k) + 1);
                        let st = LeaseState::from_bits_truncate(u32::from(st));
                        CacheRequest::Lease(match epoch {
                            None => LeaseRequest::v1(cg, key, st),
                            Some(e) => LeaseRequest::v2(cg, key, st, e, None),
                        })
                    }
                };
                let spec = OpenSpec::new(
                    FileNumber(file),
                    "/f",
                    "o",
                    AccessMask::from_bits_retain(access),
                )
                .share_access(ShareAccess::from_bits_retain(share))
                .overwrite(overwrite)
                .delete_on_close(doc)
                .cache(cache);
                let req = Req { file, access, share, overwrite, doc, cache };
                let got = self.t.open_cached(spec);
                let want = self.m.open(req);
                match (&got, &want) {
                    (Ok(OpenOutcome::Opened(g)), Ok(Outcome::Opened(w))) => {
                        self.same_open(g, w);
                    }
                    (Ok(OpenOutcome::Pending(g)), Ok(Outcome::Pending(w))) => {
                        assert_eq!(g.0, *w, "step {}", n);
                    }
                    (Err(g), Err(w)) => assert_eq!(g, w, "step {}", n),
                    _ => panic!("step {}: open {:?}, model {:?}", n, got, want),
                }
            }
            Step::Close(i) => {
                let loc = self.pick(i);
                let got = self.t.close(loc).map(|h| h.delete_file());
                assert_eq!(got, self.m.close(loc), "step {}", n);
            }
            Step::AckLease { client, key, state } => {
                let (c, k) = (ClientGuid(u128::from(client) + 1), LeaseKey(u128::from(key) + 1));
                let st = LeaseState::from_bits_truncate(u32::from(state));
                assert_eq!(
                    self.t.ack_lease_break(c, k, st),
                    self.m.ack_lease(c, k, st),
                    "step {}",
                    n
                );
            }
            Step::AckOplock(i, level) => {
                let loc = self.pick(i);
                assert_eq!(
                    self.t.ack_oplock_break(loc, level),
                    self.m.ack_oplock(loc, level),
                    "step {}",
                    n
                );
            }
            Step::AckSent(i, other) if !self.acked.is_empty() => {
                let b = self.acked[i % self.acked.len()];
                match b.target {
                    BreakTarget::Lease { client, key } => {
                        let st =
                            other.map_or(b.to, |s| LeaseState::from_bits_truncate(u32::from(s)));
                        let got = self.t.ack_lease_break(client, key, st);
                        assert_eq!(got, self.m.ack_lease(client, key, st), "step {}", n);
                    }
                    BreakTarget::Oplock(loc) => {
                        let levels = [
                            OplockLevel::None,
                            OplockLevel::LevelII,
                            OplockLevel::Exclusive,
                            OplockLevel::Batch,
                        ];
                        let level = other.map_or(b.oplock_to(), |s| levels[usize::from(s % 4)]);
                        let got = self.t.ack_oplock_break(loc, level);
                        assert_eq!(got, self.m.ack_oplock(loc, level), "step {}", n);
                    }
                }
            }
            Step::AckSent(..) => {}
            Step::Write(i) => {
                let loc = self.pick(i);
                let got = self.t.break_for_write(loc);
                assert_eq!(got.is_some(), self.m.break_for_write(loc).is_some(), "step {}", n);
                sent_direct = got;
            }
            Step::Lock(i, offset, length, exclusive) => {
                let loc = self.pick(i);
                let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
                let got = self.t.lock(loc, &[LockElement { offset, length, kind }]);
                assert_eq!(got, self.m.lock(loc, offset, length, exclusive), "step {}", n);
            }
            Step::SetDeletePending(i, on) => {
                let loc = self.pick(i);
                assert_eq!(
                    self.t.set_delete_pending(loc, on),
                    self.m.set_delete_pending(loc, on),
                    "step {}",
                    n
                );
            }
            Step::Expire => {
                let got = self.t.expire_breaks(Instant::now());
                assert_eq!(got, self.m.expire(), "step {}", n);
            }
        }
        // The completions this step delivered, in order, and the breaks it
        // sent, as a set.
        let want_done = self.m.take_done();
        let got_done = std::mem::take(&mut *self.done.lock().unwrap());
        assert_eq!(
            got_done.len(),
            want_done.len(),
            "step {}: completions {:?} vs {:?}",
            n,
            got_done,
            want_done
        );
        for ((gid, g), (wid, w)) in got_done.iter().zip(&want_done) {
            assert_eq!(gid.0, *wid, "step {}", n);
            match (g, w) {
                (Ok(g), Ok(w)) => self.same_open(g, w),
                (Err(g), Err(w)) => assert_eq!(g, w, "step {}", n),
                _ => panic!("step {}: completion {:?}, model {:?}", n, g, w),
            }
        }
        let want_breaks = self.m.take_breaks();
        let sent: Vec<Break> = self.breaks.lock().unwrap().drain(..).collect();
        self.acked.extend(sent.iter().filter(|b| b.ack_required));
        let mut got_breaks: Vec<_> = sent.iter().map(model_break).collect();
        got_breaks.sort();
        assert_eq!(&got_breaks, &want_breaks, "step {}: breaks", n);
        if let Some(direct) = sent_direct {
            let mut direct: Vec<_> = direct.iter().map(model_break).collect();
            direct.sort();
            assert_eq!(&direct, &want_breaks, "step {}: break_for_write's answer", n);
        }
        // What every live handle caches now.
        for o in &self.m.opens {
            assert_eq!(
                self.t.caching_of(o.loc),
                self.m.caching_of(o.loc),
                "step {}: {:?}",
                n,
                o.loc
            );
        }
        assert_eq!(self.t.len(), self.m.opens.len(), "step {}", n);
        if self.m.any_breaking() {
            assert!(self.t.next_break_deadline().is_some(), "step {}", n);
        }
    }
}
