//! A plain reference for share modes and byte-range locks (SPEC §9–§10, as
//! Samba's smbd answers them), written independently of the crate: lists
//! scanned linearly, 128-bit range ends. Shared by the property test
//! (tests/model.rs) and the fuzz target (fuzz/fuzz_targets/table_ops.rs).

#![allow(dead_code)] // each user needs a different part

use std::collections::BTreeMap;

use smb_handles::UnlockError;
use smb_handles::{IoError, IoKind, Location, LockElement, LockKind, LockRange, LockRangeError};

/// One granted lock.
#[derive(Clone, Copy, Debug)]
struct Granted {
    loc: Location,
    offset: u64,
    length: u64,
    exclusive: bool,
}

/// SPEC §10's overlap: identical non-empty ranges overlap, an empty range
/// at x overlaps a range holding bytes on both sides of x, two empty ranges
/// never overlap.
pub fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    let end = |(o, l): (u64, u64)| o as u128 + l as u128;
    match (a.1 == 0, b.1 == 0) {
        (false, false) => (a.0 as u128) < end(b) && (b.0 as u128) < end(a),
        (true, false) => b.0 < a.0 && (a.0 as u128) < end(b),
        (false, true) => a.0 < b.0 && (b.0 as u128) < end(a),
        (true, true) => false,
    }
}

/// A range whose last byte is at most 2^64 - 1.
pub fn valid_range(o: u64, l: u64) -> bool {
    l == 0 || o as u128 + l as u128 <= 1u128 << 64
}

/// SPEC §9's classes (read/execute, write/append, delete) after generic
/// mapping.
pub fn classes(access: u32) -> [bool; 3] {
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
    [m & 0x21 != 0, m & 0x6 != 0, m & 0x10000 != 0]
}

/// Whether two opens `(access, share)` conflict (neither may be a stat open).
pub fn share_conflict(a: (u32, u32), b: (u32, u32)) -> bool {
    let (ca, cb) = (classes(a.0), classes(b.0));
    if !ca.iter().any(|&c| c) || !cb.iter().any(|&c| c) {
        return false;
    }
    (0..3).any(|i| (ca[i] && b.1 >> i & 1 == 0) || (cb[i] && a.1 >> i & 1 == 0))
}

/// The live opens (file, access, share) and the granted locks.
#[derive(Default)]
pub struct SharingModel {
    opens: BTreeMap<Location, (u64, u32, u32)>,
    locks: Vec<Granted>,
}

impl SharingModel {
    /// Whether an open of `file` would be refused for sharing.
    pub fn open_conflicts(&self, file: u64, access: u32, share: u32) -> bool {
        self.opens.values().any(|&(f, a, s)| f == file && share_conflict((a, s), (access, share)))
    }

    /// Records a granted open.
    pub fn opened(&mut self, loc: Location, file: u64, access: u32, share: u32) {
        self.opens.insert(loc, (file, access, share));
    }

    /// Forgets a closed open and releases its locks; returns how many.
    pub fn closed(&mut self, loc: Location) -> usize {
        self.opens.remove(&loc);
        let before = self.locks.len();
        self.locks.retain(|l| l.loc != loc);
        before - self.locks.len()
    }

    fn file(&self, loc: Location) -> u64 {
        self.opens[&loc].0
    }

    /// A lock request by the live handle `loc`: in order, all or nothing,
    /// undone as smbd undoes it (unlocking each granted range, last first,
    /// which removes the handle's oldest lock with that range). Returns how
    /// many locks it took.
    pub fn lock(&mut self, loc: Location, req: &[LockElement]) -> Result<u32, LockRangeError> {
        let file = self.file(loc);
        let mut granted: Vec<Granted> = Vec::new();
        for (index, e) in req.iter().enumerate() {
            let invalid = !valid_range(e.offset, e.length);
            let exclusive = e.kind == LockKind::Exclusive;
            let conflict = !invalid
                && self.locks.iter().chain(granted.iter()).any(|l| {
                    self.opens[&l.loc].0 == file
                        && overlaps((l.offset, l.length), (e.offset, e.length))
                        && (exclusive || (l.exclusive && l.loc != loc))
                });
            if invalid || conflict {
                self.locks.extend(granted.iter().copied());
                for g in granted.iter().rev() {
                    let p = self
                        .locks
                        .iter()
                        .position(|l| l.loc == loc && l.offset == g.offset && l.length == g.length)
                        .expect("just granted");
                    self.locks.remove(p);
                }
                return Err(if invalid {
                    LockRangeError::InvalidRange { index }
                } else {
                    LockRangeError::NotGranted { index }
                });
            }
            granted.push(Granted { loc, offset: e.offset, length: e.length, exclusive });
        }
        self.locks.extend(granted);
        Ok(req.len() as u32)
    }

    /// An unlock request by the live handle `loc`: for each range in order,
    /// the oldest lock of the handle with exactly that range. Returns the
    /// outcome and how many locks went (also on error).
    pub fn unlock(&mut self, loc: Location, req: &[LockRange]) -> (Result<(), UnlockError>, u32) {
        let mut removed = 0;
        for (index, r) in req.iter().enumerate() {
            match self
                .locks
                .iter()
                .position(|l| l.loc == loc && l.offset == r.offset && l.length == r.length)
            {
                Some(p) => {
                    self.locks.remove(p);
                    removed += 1;
                }
                None => return (Err(UnlockError::RangeNotLocked { index }), removed),
            }
        }
        (Ok(()), removed)
    }

    /// A read or write check by the live handle `loc`.
    pub fn check_io(&self, loc: Location, o: u64, l: u64, kind: IoKind) -> Result<(), IoError> {
        if !valid_range(o, l) {
            return Err(IoError::InvalidRange);
        }
        if l == 0 {
            return Ok(()); // smbd: a zero-length read or write never conflicts
        }
        let file = self.file(loc);
        let conflict = self.locks.iter().any(|k| {
            self.opens[&k.loc].0 == file
                && overlaps((k.offset, k.length), (o, l))
                && match kind {
                    IoKind::Read => k.exclusive && k.loc != loc,
                    IoKind::Write => k.loc != loc || !k.exclusive,
                }
        });
        if conflict {
            Err(IoError::IoConflict)
        } else {
            Ok(())
        }
    }
}
