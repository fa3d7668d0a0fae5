//! Property test: random sequences of operations against a plain reference
//! model; every result must match.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use smb_handles::{
    AccessMask, CloseError, Config, FileHandle, FileNumber, HandleInfo, HandleTable, ListQuery,
    Location, LockError, OpenSpec,
};

#[derive(Clone, Debug)]
enum Op {
    Open { file: u64, path: u8, owner: u8, access: u32, directory: bool },
    Close(usize),
    CloseBatch(Vec<usize>),
    Adjust(usize, i64),
    Rename { file: u64, path: u8 },
    List { file: Option<u64>, limit: usize, resolve: bool },
    Get(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u64, 0..3u8, 0..3u8, any::<u32>(), any::<bool>()).prop_map(|(file, path, owner, a, directory)| {
            Op::Open { file, path, owner, access: a & AccessMask::all().bits(), directory }
        }),
        2 => any::<usize>().prop_map(Op::Close),
        1 => prop::collection::vec(any::<usize>(), 0..6).prop_map(Op::CloseBatch),
        2 => (any::<usize>(), -3..4i64).prop_map(|(i, d)| Op::Adjust(i, d)),
        1 => (0..6u64, 0..3u8).prop_map(|(file, path)| Op::Rename { file, path }),
        1 => (prop::option::of(0..6u64), 1..5usize, any::<bool>())
            .prop_map(|(file, limit, resolve)| Op::List { file, limit, resolve }),
        1 => any::<usize>().prop_map(Op::Get),
    ]
}

/// The reference: a map from location to the record it should hold.
#[derive(Default)]
struct Model {
    live: BTreeMap<Location, FileHandle>,
    /// Every location ever issued, in order (closed ones stay, to be reused
    /// as stale inputs).
    issued: Vec<Location>,
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
            Op::Open { file, path, owner, access, directory } => {
                let spec = OpenSpec {
                    file_number: FileNumber(file),
                    path: name("p", path),
                    owner: name("o", owner),
                    access_mask: AccessMask::from_bits_retain(access),
                    directory,
                };
                let res = table.open(spec.clone());
                if m.live.len() == 40 {
                    prop_assert!(matches!(res, Err(ref e) if e.is_table_full()));
                    continue;
                }
                let loc = res.expect("open");
                prop_assert!(!m.issued.contains(&loc), "location {loc} issued twice");
                prop_assert!(loc.0 != 0 && loc.0 != u64::MAX);
                m.issued.push(loc);
                m.live.insert(
                    loc,
                    FileHandle {
                        file_number: spec.file_number,
                        handle_info: HandleInfo {
                            location: loc,
                            version: 1,
                            num_byte_range_locks: 0,
                            access_mask: spec.access_mask,
                            owner: spec.owner,
                            path: Some(spec.path),
                            directory,
                        },
                    },
                );
            }
            Op::Close(i) => {
                let loc = m.pick(i);
                let expected = m.live.remove(&loc).ok_or(CloseError::NotFound);
                prop_assert_eq!(table.close(loc), expected);
            }
            Op::CloseBatch(idx) => {
                let locs: Vec<Location> = idx.iter().map(|&i| m.pick(i)).collect();
                let expected: Vec<_> =
                    locs.iter().map(|l| m.live.remove(l).ok_or(CloseError::NotFound)).collect();
                prop_assert_eq!(table.close_batch(&locs), expected);
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
