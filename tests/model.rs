//! Property test: random sequences of operations (opens with share modes,
//! closes, batches, lock counts, renames, listings, byte-range locks, I/O
//! checks, delete-on-close and delete-pending) against a plain reference model; every result must match.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use proptest::prelude::*;

#[path = "support/sharing_model.rs"]
mod sharing_model;
use sharing_model::SharingModel;
use smb_handles::{
    AccessMask, CloseError, Config, DispositionError, FileHandle, FileNumber, HandleInfo,
    HandleTable, IoError, IoKind, ListQuery, Location, LockElement, LockError, LockKind, LockRange,
    LockRangeError, OpenError, OpenSpec, ShareAccess, UnlockError,
};

#[derive(Clone, Debug)]
enum Op {
    Open { file: u64, path: u8, owner: u8, access: u32, share: u32, directory: bool, doc: bool },
    SetDeletePending(usize, bool),
    Lock(usize, Vec<(u64, u64, bool)>),
    Unlock(usize, Vec<(u64, u64)>),
    CheckIo(usize, u64, u64, bool),
    Close(usize),
    CloseBatch(Vec<usize>),
    Adjust(usize, i64),
    Rename { file: u64, path: u8 },
    List { file: Option<u64>, limit: usize, resolve: bool },
    Get(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u64, 0..3u8, 0..3u8, access(), 0..8u32, any::<bool>(), prop::bool::weighted(0.15)).prop_map(|(file, path, owner, access, share, directory, doc)| {
            Op::Open { file, path, owner, access, share, directory, doc }
        }),
        1 => (any::<usize>(), prop::bool::weighted(0.7)).prop_map(|(i, on)| Op::SetDeletePending(i, on)),
        3 => (any::<usize>(), prop::collection::vec((offset(), length(), any::<bool>()), 0..4))
            .prop_map(|(i, e)| Op::Lock(i, e)),
        2 => (any::<usize>(), prop::collection::vec((offset(), length()), 0..3))
            .prop_map(|(i, r)| Op::Unlock(i, r)),
        2 => (any::<usize>(), offset(), length(), any::<bool>())
            .prop_map(|(i, o, l, w)| Op::CheckIo(i, o, l, w)),
        2 => any::<usize>().prop_map(Op::Close),
        1 => prop::collection::vec(any::<usize>(), 0..6).prop_map(Op::CloseBatch),
        2 => (any::<usize>(), -3..4i64).prop_map(|(i, d)| Op::Adjust(i, d)),
        1 => (0..6u64, 0..3u8).prop_map(|(file, path)| Op::Rename { file, path }),
        1 => (prop::option::of(0..6u64), 1..5usize, any::<bool>())
            .prop_map(|(file, limit, resolve)| Op::List { file, limit, resolve }),
        1 => any::<usize>().prop_map(Op::Get),
    ]
}

/// Access masks: mostly one or two of the classes that take part in
/// sharing, sometimes a stat open, sometimes anything.
fn access() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => prop::sample::select(vec![0x1u32, 0x2, 0x4, 0x20, 0x10000, 0x3, 0x80, 0x100080, 0x8000_0000, 0x4000_0000, 0x1000_0000, 0x2000_0000]),
        1 => any::<u32>().prop_map(|a| a & AccessMask::all().bits()),
    ]
}

/// Lock offsets: a small area where ranges meet, and the end of the space.
fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..40u64, 1 => (0..4u64).prop_map(|d| u64::MAX - d)]
}

fn length() -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 4 => 1..12u64, 1 => Just(u64::MAX)]
}

/// The reference: a map from location to the record it should hold.
#[derive(Default)]
struct Model {
    live: BTreeMap<Location, FileHandle>,
    /// Share modes and locks of the live handles.
    sharing: SharingModel,
    /// Every location ever issued, in order (closed ones stay, to be reused
    /// as stale inputs).
    issued: Vec<Location>,
    /// Files that are delete-pending.
    pending: BTreeSet<u64>,
}

impl Model {
    fn pick(&self, i: usize) -> Location {
        if self.issued.is_empty() {
            Location(0x0000_0001_0000_0000)
        } else {
            self.issued[i % self.issued.len()]
        }
    }
}

impl Model {
    fn close(&mut self, loc: Location) -> Result<FileHandle, CloseError> {
        let mut h = self.live.remove(&loc).ok_or(CloseError::NotFound)?;
        self.sharing.closed(loc);
        let file = h.file_number.0;
        if h.handle_info.delete_on_close {
            self.set_pending(file, true);
        }
        let pending = self.pending.contains(&file);
        h.handle_info.delete_pending = pending;
        let last = !self.live.values().any(|o| o.file_number.0 == file);
        if last {
            h.handle_info.delete_file = pending;
            self.pending.remove(&file);
        }
        Ok(h)
    }

    /// Sets or clears a file's delete-pending state; a change bumps the
    /// version of each of its open handles.
    fn set_pending(&mut self, file: u64, on: bool) {
        if self.pending.contains(&file) == on {
            return;
        }
        if on {
            self.pending.insert(file);
        } else {
            self.pending.remove(&file);
        }
        for h in self.live.values_mut().filter(|h| h.file_number.0 == file) {
            h.handle_info.delete_pending = on;
            h.handle_info.version += 1;
        }
    }

    fn lock(&mut self, loc: Location, req: &[LockElement]) -> Result<u32, LockRangeError> {
        match self.live.get(&loc) {
            None => return Err(LockRangeError::NotFound),
            Some(h) if h.handle_info.directory => return Err(LockRangeError::Directory),
            Some(_) => {}
        }
        let taken = self.sharing.lock(loc, req)?;
        let h = self.live.get_mut(&loc).unwrap();
        if taken > 0 {
            h.handle_info.num_byte_range_locks += taken;
            h.handle_info.version += 1;
        }
        Ok(h.handle_info.num_byte_range_locks)
    }

    fn unlock(&mut self, loc: Location, req: &[LockRange]) -> Result<u32, UnlockError> {
        match self.live.get(&loc) {
            None => return Err(UnlockError::NotFound),
            Some(h) if h.handle_info.directory => return Err(UnlockError::Directory),
            Some(_) => {}
        }
        let (result, removed) = self.sharing.unlock(loc, req);
        let h = self.live.get_mut(&loc).unwrap();
        if removed > 0 {
            h.handle_info.num_byte_range_locks =
                h.handle_info.num_byte_range_locks.saturating_sub(removed);
            h.handle_info.version += 1;
        }
        result.map(|()| h.handle_info.num_byte_range_locks)
    }

    fn check_io(&self, loc: Location, o: u64, l: u64, kind: IoKind) -> Result<(), IoError> {
        match self.live.get(&loc) {
            None => return Err(IoError::NotFound),
            Some(h) if h.handle_info.directory => return Err(IoError::Directory),
            Some(_) => {}
        }
        self.sharing.check_io(loc, o, l, kind)
    }
}

/// DELETE (0x10000) in the mask, directly or through GENERIC_ALL.
fn has_delete(access: u32) -> bool {
    access & 0x10000 != 0 || access & 0x1000_0000 != 0
}

fn name(kind: &str, i: u8) -> Arc<str> {
    Arc::from(format!("/{kind}/{i}"))
}

/// Walks every page of `query` and returns the handles in order.
fn walk(table: &HandleTable, mut query: ListQuery) -> Vec<FileHandle> {
    let mut out = Vec::new();
    loop {
        let page = table.list(&query).expect("list");
        assert!(page.file_handles.len() <= query.limit.unwrap());
        out.extend(page.file_handles);
        match page.next {
            Some(c) => query.after = Some(c),
            None => return out,
        }
    }
}

fn run(ops: Vec<Op>, shards: usize) -> Result<(), TestCaseError> {
    let table = HandleTable::with_config(Config::default().shards(shards).max_handles(40));
    let mut m = Model::default();
    for op in ops {
        match op {
            Op::Open { file, path, owner, access, share, directory, doc } => {
                let spec = OpenSpec::new(
                    FileNumber(file),
                    name("p", path),
                    name("o", owner),
                    AccessMask::from_bits_retain(access),
                )
                .share_access(ShareAccess::from_bits_retain(share))
                .directory(directory)
                .delete_on_close(doc);
                let res = table.open(spec.clone());
                if doc && access & 0x10000 == 0 {
                    prop_assert_eq!(res, Err(OpenError::DeleteOnCloseDenied));
                    continue;
                }
                if m.pending.contains(&file) {
                    prop_assert_eq!(res, Err(OpenError::DeletePending));
                    continue;
                }
                if m.sharing.open_conflicts(file, access, share) {
                    prop_assert_eq!(res, Err(OpenError::SharingViolation));
                    continue;
                }
                if m.live.len() == 40 {
                    prop_assert!(matches!(res, Err(ref e) if e.is_table_full()));
                    continue;
                }
                // The path belongs to the file: a later open keeps the first's.
                let file_path = m
                    .live
                    .values()
                    .find(|h| h.file_number.0 == file)
                    .and_then(|h| h.handle_info.path.clone())
                    .unwrap_or(spec.path.clone());
                let loc = res.expect("open");
                prop_assert!(!m.issued.contains(&loc), "location {loc} issued twice");
                prop_assert!(loc.0 != 0 && loc.0 != u64::MAX);
                m.issued.push(loc);
                m.sharing.opened(loc, file, access, share);
                m.live.insert(loc, {
                    let mut info = HandleInfo::new(loc, spec.access_mask, spec.owner);
                    info.path = Some(file_path);
                    info.directory = directory;
                    info.delete_on_close = doc;
                    FileHandle::new(spec.file_number, info)
                });
            }
            Op::SetDeletePending(i, on) => {
                let loc = m.pick(i);
                let expected = match m.live.get(&loc) {
                    None => Err(DispositionError::NotFound),
                    Some(h) if !has_delete(h.handle_info.access_mask.bits()) => {
                        Err(DispositionError::AccessDenied)
                    }
                    Some(h) => {
                        let file = h.file_number.0;
                        m.set_pending(file, on);
                        Ok(())
                    }
                };
                prop_assert_eq!(table.set_delete_pending(loc, on), expected);
            }
            Op::Close(i) => {
                let loc = m.pick(i);
                let expected = m.close(loc);
                prop_assert_eq!(table.close(loc), expected);
            }
            Op::CloseBatch(idx) => {
                let locs: Vec<Location> = idx.iter().map(|&i| m.pick(i)).collect();
                let expected: Vec<_> = locs.iter().map(|&l| m.close(l)).collect();
                prop_assert_eq!(table.close_batch(&locs), expected);
            }
            Op::Lock(i, elements) => {
                let loc = m.pick(i);
                let req: Vec<LockElement> = elements
                    .iter()
                    .map(|&(offset, length, x)| LockElement {
                        offset,
                        length,
                        kind: if x { LockKind::Exclusive } else { LockKind::Shared },
                    })
                    .collect();
                let expected = m.lock(loc, &req);
                prop_assert_eq!(table.lock(loc, &req), expected);
            }
            Op::Unlock(i, ranges) => {
                let loc = m.pick(i);
                let req: Vec<LockRange> =
                    ranges.iter().map(|&(offset, length)| LockRange { offset, length }).collect();
                let expected = m.unlock(loc, &req);
                prop_assert_eq!(table.unlock(loc, &req), expected);
            }
            Op::CheckIo(i, offset, length, write) => {
                let loc = m.pick(i);
                let kind = if write { IoKind::Write } else { IoKind::Read };
                let expected = m.check_io(loc, offset, length, kind);
                prop_assert_eq!(table.check_io(loc, offset, length, kind), expected);
            }
            Op::Adjust(i, delta) => {
                let loc = m.pick(i);
                let expected = match m.live.get_mut(&loc) {
                    None => Err(LockError::NotFound),
                    Some(h) => {
                        let cur = h.handle_info.num_byte_range_locks;
                        let new = cur as i64 + delta;
                        if new < 0 {
                            Err(LockError::OutOfRange { current: cur, delta })
                        } else {
                            if delta != 0 {
                                h.handle_info.num_byte_range_locks = new as u32;
                                h.handle_info.version += 1;
                            }
                            Ok(new as u32)
                        }
                    }
                };
                prop_assert_eq!(table.adjust_byte_range_locks(loc, delta), expected);
            }
            Op::Rename { file, path } => {
                let mut n = 0;
                for h in m.live.values_mut().filter(|h| h.file_number.0 == file) {
                    h.handle_info.path = Some(name("p", path));
                    h.handle_info.version += 1;
                    n += 1;
                }
                prop_assert_eq!(table.rename_file(FileNumber(file), &name("p", path)), n);
            }
            Op::List { file, limit, resolve } => {
                let query = ListQuery {
                    file_number: file.map(FileNumber),
                    resolve_paths: resolve,
                    limit: Some(limit),
                    after: None,
                };
                let got = walk(&table, query);
                let mut want: Vec<FileHandle> = m
                    .live
                    .values()
                    .filter(|h| file.is_none_or(|f| h.file_number.0 == f))
                    .cloned()
                    .map(|mut h| {
                        if !resolve {
                            h.handle_info.path = None;
                        }
                        h
                    })
                    .collect();
                let mut got_sorted = got.clone();
                got_sorted.sort_by_key(|h| h.handle_info.location);
                want.sort_by_key(|h| h.handle_info.location);
                prop_assert_eq!(got_sorted, want);
                let unique: HashSet<_> = got.iter().map(|h| h.handle_info.location).collect();
                prop_assert_eq!(unique.len(), got.len(), "a handle listed twice");
            }
            Op::Get(i) => {
                let loc = m.pick(i);
                prop_assert_eq!(table.get(loc), m.live.get(&loc).cloned());
            }
        }
        prop_assert_eq!(table.len(), m.live.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_model_one_shard(ops in prop::collection::vec(op(), 1..120)) {
        run(ops, 1)?;
    }

    #[test]
    fn table_matches_model_three_shards(ops in prop::collection::vec(op(), 1..120)) {
        run(ops, 3)?;
    }
}
