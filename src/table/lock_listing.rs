//! Listings of the SMB locks held: share-mode claims and byte-range locks,
//! for one file or every file, each with the owning handle and, through its
//! tree connect, its session's client address and user. Paged in shard,
//! slot, then lock order.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use crate::limits::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::location::Location;
use crate::lock::LockKind;
use crate::record::FileNumber;
use crate::session::{SessionId, SessionQuery, SessionSpec};
use crate::shard::{shard_of, Grant, GrantKind, NIL};
use crate::share::ShareAccess;

use super::HandleTable;

/// Which locks a listing names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockListKind {
    /// Each non-stat open's share-mode claim.
    ShareMode,
    /// Each byte-range lock.
    ByteRange,
}

/// What is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantMode {
    /// An open's share mode: the classes (READ, WRITE, DELETE) it accesses
    /// and those it denies to other opens.
    ShareMode {
        /// Classes accessed.
        access: ShareAccess,
        /// Classes denied to others.
        excludes: ShareAccess,
    },
    /// A byte-range lock.
    ByteRange {
        /// First byte.
        offset: u64,
        /// Bytes locked (0 for an empty range).
        length: u64,
        /// Shared or exclusive.
        kind: LockKind,
    },
}

/// One granted lock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockGrant {
    /// The file.
    pub file_number: FileNumber,
    /// The handle holding it.
    pub owner: Location,
    /// What is held.
    pub mode: GrantMode,
    /// The holding handle's session, if it was opened in one.
    pub session: Option<SessionId>,
    /// That session's registration (client address, user …).
    pub session_spec: Option<Arc<SessionSpec>>,
}

/// Where a lock listing resumes: shard, slot, and lock within the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockCursor {
    shard: u32,
    slot: u32,
    index: u32,
}

impl fmt::Display for LockCursor {
    /// `shard-slot-index` in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.shard, self.slot, self.index)
    }
}

/// A text that is not a [`LockCursor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLockCursorError;

impl fmt::Display for ParseLockCursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a lock cursor")
    }
}

impl std::error::Error for ParseLockCursorError {}

impl FromStr for LockCursor {
    type Err = ParseLockCursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('-').map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        });
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(shard)), Some(Some(slot)), Some(Some(index)), None) => {
                Ok(LockCursor { shard, slot, index })
            }
            _ => Err(ParseLockCursorError),
        }
    }
}

/// What to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockQuery {
    /// Only this file's locks.
    pub file: Option<FileNumber>,
    /// Only locks held through sessions from this client address.
    pub owner_address: Option<IpAddr>,
    /// Resume here (a page's `next`).
    pub after: Option<LockCursor>,
    /// Page size; default [`DEFAULT_LIST_LIMIT`], capped at
    /// [`MAX_LIST_LIMIT`]; 0 is taken as 1.
    pub limit: Option<usize>,
}

impl LockQuery {
    /// Every lock, first page.
    pub fn new() -> LockQuery {
        LockQuery::default()
    }

    /// Only `file`'s locks.
    pub fn file(mut self, file: FileNumber) -> LockQuery {
        self.file = Some(file);
        self
    }

    /// Only locks held from `addr`.
    pub fn owner_address(mut self, addr: IpAddr) -> LockQuery {
        self.owner_address = Some(addr);
        self
    }

    /// Resumes at `after`.
    pub fn after(mut self, after: Option<LockCursor>) -> LockQuery {
        self.after = after;
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> LockQuery {
        self.limit = Some(limit);
        self
    }
}

/// One page of grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockPage {
    /// The grants, in shard, slot, lock order.
    pub grants: Vec<LockGrant>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<LockCursor>,
}

impl HandleTable {
    /// One page of the share-mode claims or byte-range locks held. A page
    /// is full (`limit` grants) unless it is the last. Each shard's lock is
    /// held only while its grants are copied out.
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, LockElement, LockKind,
    ///                   LockListKind, LockQuery, OpenSpec, ShareAccess};
    /// let table = HandleTable::new();
    /// let spec = OpenSpec::new(FileNumber(7), "/f", "me", AccessMask::FILE_READ_DATA)
    ///     .share_access(ShareAccess::READ);
    /// let loc = table.open(spec)?;
    /// table.lock(loc, &[LockElement { offset: 10, length: 5, kind: LockKind::Exclusive }])?;
    /// let q = LockQuery::new().file(FileNumber(7));
    /// assert_eq!(table.list_locks(LockListKind::ShareMode, &q).grants.len(), 1);
    /// let page = table.list_locks(LockListKind::ByteRange, &q);
    /// assert_eq!(page.grants[0].owner, loc);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list_locks(&self, kind: LockListKind, query: &LockQuery) -> LockPage {
        let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT);
        // The tree connects (registry indices) of the address's sessions.
        let trees: Option<Vec<u32>> = query.owner_address.map(|addr| {
            let mut out = Vec::new();
            let mut q = SessionQuery::new().limit(MAX_LIST_LIMIT);
            loop {
                let page = self.list_sessions(&q);
                for s in page.sessions.iter().filter(|s| s.spec.client_address == addr) {
                    out.extend(s.trees.iter().map(|t| t.index()));
                }
                match page.next {
                    Some(n) => q = q.after(Some(n)),
                    None => break out,
                }
            }
        });
        let start = query.after.unwrap_or(LockCursor { shard: 0, slot: 0, index: 0 });
        let shards = self.shards.len() as u32;
        let (first, last) = match query.file {
            Some(f) => {
                let s = shard_of(f, self.shards.len()) as u32;
                (s.max(start.shard), s + 1)
            }
            None => (start.shard, shards),
        };
        let mut raw = Vec::new();
        let mut next = None;
        'shards: for shard in first..last.min(shards) {
            let from = if shard == start.shard { start.slot } else { 0 };
            let g = self.shards[shard as usize].lock.read();
            let mut held = Vec::new();
            for slot in g.grant_slots(query.file, from) {
                held.clear();
                g.slot_grants(slot, kind == LockListKind::ByteRange, &mut held);
                let skip = if shard == start.shard && slot == start.slot { start.index } else { 0 };
                for (k, grant) in held.drain(..).enumerate().skip(skip as usize) {
                    let wanted =
                        trees.as_ref().is_none_or(|t| grant.tree != NIL && t.contains(&grant.tree));
                    if !wanted {
                        continue;
                    }
                    if raw.len() == limit {
                        next = Some(LockCursor { shard, slot, index: k as u32 });
                        break 'shards;
                    }
                    raw.push(grant);
                }
            }
        }
        LockPage { grants: self.with_sessions(raw), next }
    }

    /// Adds each grant's session, looked up once per session (no shard
    /// lock held).
    fn with_sessions(&self, raw: Vec<Grant>) -> Vec<LockGrant> {
        let mut known: HashMap<SessionId, Arc<SessionSpec>> = HashMap::new();
        raw.into_iter()
            .map(|g| {
                let session = self.handle_tree(g.location).map(|(s, _)| s);
                let session_spec = session.and_then(|id| {
                    if let Some(spec) = known.get(&id) {
                        return Some(Arc::clone(spec));
                    }
                    let spec = self.session(id)?.spec;
                    known.insert(id, Arc::clone(&spec));
                    Some(spec)
                });
                let mode = match g.kind {
                    GrantKind::ShareMode { access, excludes } => {
                        GrantMode::ShareMode { access, excludes }
                    }
                    GrantKind::ByteRange { offset, length, kind } => {
                        GrantMode::ByteRange { offset, length, kind }
                    }
                };
                LockGrant { file_number: g.file, owner: g.location, mode, session, session_spec }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessMask, LockElement, OpenSpec, User};

    #[test]
    fn pages_fill_and_resume_and_filter_by_address() {
        let table = HandleTable::new();
        let a = table
            .session_setup(SessionSpec::new(1, User::new("S-1", "a"), "10.0.0.1".parse().unwrap()))
            .unwrap();
        let b = table
            .session_setup(SessionSpec::new(2, User::new("S-2", "b"), "10.0.0.2".parse().unwrap()))
            .unwrap();
        let (ta, tb) = (table.tree_connect(a, "x").unwrap(), table.tree_connect(b, "x").unwrap());
        let mut want_a = 0;
        for f in 0..20u64 {
            let tree = if f % 3 == 0 { tb } else { ta };
            let spec = OpenSpec::new(FileNumber(f), "/f", "me", AccessMask::FILE_READ_DATA)
                .share_access(ShareAccess::all())
                .tree(tree);
            let loc = table.open(spec).unwrap();
            let e = |o| LockElement { offset: o, length: 1, kind: LockKind::Shared };
            table.lock(loc, &[e(0), e(5)]).unwrap();
            if tree == ta {
                want_a += 2;
            }
        }
        let mut q = LockQuery::new().limit(3);
        let mut all = Vec::new();
        loop {
            let page = table.list_locks(LockListKind::ByteRange, &q);
            assert!(page.next.is_none() || page.grants.len() == 3);
            all.extend(page.grants);
            match page.next {
                Some(n) => q = q.after(Some(n)),
                None => break,
            }
        }
        assert_eq!(all.len(), 40);
        let q = LockQuery::new().owner_address("10.0.0.1".parse().unwrap());
        let page = table.list_locks(LockListKind::ByteRange, &q);
        assert_eq!(page.grants.len(), want_a);
        assert!(page.grants.iter().all(|g| g.session == Some(a)));
        let cursor = LockCursor { shard: 1, slot: 22, index: 3 };
        assert_eq!(cursor.to_string().parse::<LockCursor>(), Ok(cursor));
        assert!("1-2".parse::<LockCursor>().is_err());
    }
}
