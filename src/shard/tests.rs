//! Unit tests of one shard: reuse, retirement, per-file records and
//! members, owners, share modes and locks, with the shard's invariants
//! checked against a plain model.

use super::*;
use crate::error::{CloseError, IoError, LockRangeError, UnlockError};
use crate::location::MAX_GENERATION;
use crate::lock::{IoKind, LockElement, LockKind, LockRange};
use crate::record::{OpenArgs, StrArg};

fn args(file: u64, access: AccessMask, share: ShareAccess) -> OpenArgs<'static> {
    OpenArgs {
        file_number: FileNumber(file),
        path: StrArg::Borrowed("/p"),
        owner: StrArg::Borrowed("o"),
        access_mask: access,
        share_access: share,
        directory: false,
        tree: None,
        delete_on_close: false,
        cache: &crate::lease::CacheRequest::None,
        overwrite: false,
        durable: None,
    }
}

fn open(sh: &mut Shard, file: u64) -> Location {
    sh.open(&args(file, AccessMask::FILE_READ_DATA, ShareAccess::all()), &mut None).unwrap()
}

#[test]
fn freed_slots_are_reused_last_freed_first_with_a_new_generation() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let locs: Vec<_> = (0..4).map(|i| open(&mut sh, i)).collect();
    sh.close::<FileHandle>(locs[2]).unwrap();
    sh.close::<FileHandle>(locs[0]).unwrap();
    let a = open(&mut sh, 9);
    let b = open(&mut sh, 9);
    assert_eq!((a.slot(), b.slot()), (locs[0].slot(), locs[2].slot()));
    assert_eq!(a.generation(), locs[0].generation() + 1);
    assert!(sh.get(locs[0]).is_none() && sh.get(a).is_some());
    assert_eq!(sh.close::<FileHandle>(locs[0]).unwrap_err(), CloseError::NotFound);
}

#[test]
fn a_slot_whose_generation_would_wrap_is_retired() {
    let mut sh = Shard::new(3, 1, Default::default(), std::time::Duration::ZERO);
    let loc = open(&mut sh, 1);
    // Age the slot to its last generation, as 2^32 - 2 open/close pairs would.
    sh.slots.get_mut(loc.slot()).generation = MAX_GENERATION;
    let last = Location::pack(MAX_GENERATION, 3, loc.slot());
    assert!(sh.close::<FileHandle>(last).is_ok());
    let fresh = open(&mut sh, 1);
    assert_ne!(fresh.slot(), loc.slot());
    assert!(sh.get(last).is_none());
    assert!(sh.close::<FileHandle>(last).is_err());
}

#[test]
fn a_quiet_close_takes_no_count_of_strings_others_still_use() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let rw = AccessMask::FILE_READ_DATA | AccessMask::DELETE;
    let (a, b) = (open(&mut sh, 5), open(&mut sh, 5));
    let other = open(&mut sh, 6); // the same owner, another file
    let doomed = OpenArgs { delete_on_close: true, ..args(5, rw, ShareAccess::all()) };
    let c = sh.open(&doomed, &mut None).unwrap();
    let q = sh.close::<Quiet>(b).unwrap().report;
    assert_eq!((q.last_counts(), q.delete_file), ((None, None), false));
    let q = sh.close::<Quiet>(c).unwrap().report;
    assert_eq!((q.last_counts(), q.delete_file), ((None, None), false), "a is still open");
    let q = sh.close::<Quiet>(a).unwrap().report;
    assert_eq!(q.last_counts(), (None, Some("/p")), "the file's last close frees its path");
    assert!(q.delete_file, "c's delete-on-close made the file delete-pending");
    let q = sh.close::<Quiet>(other).unwrap().report;
    assert_eq!((q.last_counts(), q.delete_file), ((Some("o"), Some("/p")), false));
    assert_eq!(sh.close::<Quiet>(other).unwrap_err(), CloseError::NotFound);
}

#[test]
fn the_path_belongs_to_the_file_and_owners_are_shared() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let a = sh
        .open(
            &OpenArgs {
                path: StrArg::Borrowed("/first"),
                ..args(5, AccessMask::FILE_READ_DATA, ShareAccess::all())
            },
            &mut None,
        )
        .unwrap();
    let b = sh
        .open(
            &OpenArgs {
                path: StrArg::Borrowed("/second"),
                ..args(5, AccessMask::FILE_READ_DATA, ShareAccess::all())
            },
            &mut None,
        )
        .unwrap();
    let (ha, hb) = (sh.get(a).unwrap(), sh.get(b).unwrap());
    assert_eq!(ha.handle_info.path.as_deref(), Some("/first"));
    assert_eq!(hb.handle_info.path.as_deref(), Some("/first"));
    assert!(Arc::ptr_eq(&ha.handle_info.owner, &hb.handle_info.owner), "one owner string");
    assert_eq!(sh.rename(FileNumber(5), Arc::from("/moved")).0, 2);
    assert_eq!(sh.get(a).unwrap().handle_info.version, 2);
    assert_eq!(
        sh.close::<FileHandle>(b).unwrap().report.handle_info.path.as_deref(),
        Some("/moved")
    );
    assert_eq!(sh.file_slots(FileNumber(5)), vec![a.slot()]);
    sh.close::<FileHandle>(a).unwrap();
    assert!(sh.file_slots(FileNumber(5)).is_empty());
    assert_eq!(sh.rename(FileNumber(5), Arc::from("/x")).0, 0);
}

#[test]
fn files_and_members_agree_with_a_model_under_churn() {
    let mut sh = Shard::new(0, 42, Default::default(), std::time::Duration::ZERO);
    let mut live: Vec<(u64, Location)> = Vec::new();
    let mut seed = 1u64;
    let mut rand = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 33
    };
    for round in 0..30_000 {
        // Few hot files with many opens, many cold ones.
        if live.is_empty() || rand() % 3 != 0 {
            let file = if rand() % 2 == 0 { rand() % 4 } else { rand() % 3_000 };
            live.push((file, open(&mut sh, file)));
        } else {
            let i = rand() as usize % live.len();
            let (file, loc) = live.swap_remove(i);
            assert_eq!(sh.close::<FileHandle>(loc).unwrap().report.file_number, FileNumber(file));
        }
        if round % 3_000 == 0 || round == 29_999 {
            for file in (0..3_000).step_by(7).chain(0..4) {
                let mut want: Vec<u32> =
                    live.iter().filter(|l| l.0 == file).map(|l| l.1.slot()).collect();
                want.sort_unstable();
                assert_eq!(sh.file_slots(FileNumber(file)), want, "file {file}");
            }
            for &(file, loc) in &live {
                assert_eq!(sh.get(loc).unwrap().file_number, FileNumber(file));
            }
        }
    }
    // A hot file that shrank is compacted by later opens.
    for &(_, loc) in &live {
        sh.close::<FileHandle>(loc).unwrap();
    }
    let many: Vec<_> = (0..1_000).map(|_| open(&mut sh, 77)).collect();
    for &l in &many[..990] {
        sh.close::<FileHandle>(l).unwrap();
    }
    for _ in 0..10 {
        let l = open(&mut sh, 77);
        sh.close::<FileHandle>(l).unwrap();
    }
    let Some(super::At::Rec(f)) = sh.find_file(77, sh.files.hash(77)) else {
        panic!("a file with 100 opens has a record")
    };
    assert!(sh.ext(f).positions() < 100);
    let mut want: Vec<u32> = many[990..].iter().map(|l| l.slot()).collect();
    want.sort_unstable();
    assert_eq!(sh.file_slots(FileNumber(77)), want);
    for &l in &many[990..] {
        assert_eq!(sh.get(l).unwrap().file_number, FileNumber(77));
    }
}

#[test]
fn sharing_is_checked_against_every_other_open_and_refusals_change_nothing() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let rd = AccessMask::FILE_READ_DATA;
    let wr = AccessMask::FILE_WRITE_DATA;
    let a = sh.open(&args(1, rd, ShareAccess::READ), &mut None).unwrap();
    assert_eq!(sh.open(&args(1, wr, ShareAccess::all()), &mut None), Err(Refusal::Sharing));
    assert_eq!(sh.file_slots(FileNumber(1)), vec![a.slot()], "a refusal adds nothing");
    let b = sh.open(&args(1, rd, ShareAccess::READ), &mut None).unwrap();
    // A stat open always passes.
    let s = sh
        .open(&args(1, AccessMask::FILE_READ_ATTRIBUTES, ShareAccess::empty()), &mut None)
        .unwrap();
    assert_eq!(sh.open(&args(1, wr, ShareAccess::all()), &mut None), Err(Refusal::Sharing));
    sh.close::<FileHandle>(a).unwrap();
    assert_eq!(sh.open(&args(1, wr, ShareAccess::all()), &mut None), Err(Refusal::Sharing));
    sh.close::<FileHandle>(b).unwrap();
    let w = sh.open(&args(1, wr, ShareAccess::all()), &mut None).unwrap();
    sh.close::<FileHandle>(s).unwrap();
    sh.close::<FileHandle>(w).unwrap();
    assert!(sh.file_slots(FileNumber(1)).is_empty());
}

#[test]
fn closing_releases_locks_and_reports_it() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let a = open(&mut sh, 1);
    let b = open(&mut sh, 1);
    let x = |offset| LockElement { offset, length: 10, kind: LockKind::Exclusive };
    assert_eq!(sh.lock(a, &[x(0), x(20)]).result, Ok(2));
    assert_eq!(sh.lock(b, &[x(5)]).result, Err(LockRangeError::NotGranted { index: 0 }));
    let closed = sh.close::<FileHandle>(a).unwrap();
    assert!(closed.unlocked);
    assert_eq!(closed.report.handle_info.num_byte_range_locks, 2);
    assert_eq!(sh.lock(b, &[x(5)]).result, Ok(1));
    let (r, released, file) = sh.unlock(b, &[LockRange { offset: 5, length: 10 }]);
    assert_eq!((r, released, file), (Ok(0), 1, FileNumber(1)));
}

#[test]
fn a_directory_handle_refuses_lock_unlock_and_io_before_anything_else() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let dir = sh
        .open(
            &OpenArgs {
                directory: true,
                ..args(9, AccessMask::FILE_READ_DATA, ShareAccess::all())
            },
            &mut None,
        )
        .unwrap();
    let file = open(&mut sh, 10);
    let x = LockElement { offset: 0, length: 10, kind: LockKind::Exclusive };
    // Even a range past 2^64 - 1, an empty request or a zero length.
    let bad = LockElement { offset: u64::MAX, length: 2, kind: LockKind::Shared };
    for els in [&[x][..], &[bad], &[]] {
        assert_eq!(sh.lock(dir, els).result, Err(LockRangeError::Directory));
    }
    let (res, released, _) = sh.unlock(dir, &[LockRange { offset: 0, length: 10 }]);
    assert_eq!((res, released), (Err(UnlockError::Directory), 0));
    for (len, kind) in [(10, IoKind::Read), (0, IoKind::Read), (5, IoKind::Write)] {
        assert_eq!(sh.check_io(dir, 0, len, kind), Err(IoError::Directory));
    }
    assert_eq!(LockRangeError::Directory.nt_status(), 0xC000_0010);
    // The directory holds nothing; a file handle of the same shard locks.
    assert_eq!(sh.snapshot_at(dir.slot(), true).handle_info.num_byte_range_locks, 0);
    assert_eq!(sh.lock(file, &[x]).result, Ok(1));
    assert_eq!(sh.check_io(file, 0, 5, IoKind::Read), Ok(()));
}

#[test]
fn a_file_page_is_the_next_slots_in_order_and_where_the_following_starts() {
    let mut sh = Shard::new(0, 1, Default::default(), std::time::Duration::ZERO);
    let mut locs: Vec<Location> =
        (0..300).map(|i| open(&mut sh, if i % 3 == 0 { 9 } else { 5 })).collect();
    // Scramble the member list: close some, reopen into freed slots.
    for i in (0..300).step_by(7) {
        sh.close::<FileHandle>(locs[i]).unwrap();
    }
    for _ in 0..20 {
        locs.push(open(&mut sh, 5));
    }
    let all = sh.file_slots(FileNumber(5));
    assert!(all.windows(2).all(|w| w[0] < w[1]), "ascending");
    for from in [0, 1, 50, 151, 299, 400] {
        for limit in [1, 7, 100, 1000] {
            let want: Vec<u32> = all.iter().copied().filter(|&s| s >= from).collect();
            let (page, next) = sh.file_page(FileNumber(5), from, limit);
            assert_eq!(page, want[..want.len().min(limit)], "from {from} limit {limit}");
            assert_eq!(next, want.get(limit).copied(), "from {from} limit {limit}");
        }
    }
}

#[test]
fn lone_opens_in_their_slots_and_shared_records_agree_with_a_model() {
    // Few files, so a freed slot is reused at once, by its own file or
    // another, while its index entry is still pending; each file's path
    // is set by its first open, renames and delete-pending reach every
    // open, and a first lock moves a lone open's file into a record.
    use std::collections::HashMap;
    let mut sh = Shard::new(0, 9, Default::default(), std::time::Duration::ZERO);
    let mut live: Vec<(u64, Location)> = Vec::new();
    let mut path: HashMap<u64, String> = HashMap::new();
    let mut pending: HashMap<u64, bool> = HashMap::new();
    let mut seed = 3u64;
    let mut rand = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 33
    };
    let access = AccessMask::FILE_READ_DATA | AccessMask::DELETE;
    for round in 0..40_000u64 {
        let r = rand();
        match r % 10 {
            0..=3 => {
                let file = rand() % 40;
                let given = format!("/f{file}/{round}");
                let a = OpenArgs {
                    path: StrArg::Borrowed(&given),
                    ..args(file, access, ShareAccess::all())
                };
                let got = sh.open(&a, &mut None);
                if pending.get(&file) == Some(&true) {
                    assert_eq!(got, Err(Refusal::DeletePending), "round {round}");
                } else {
                    live.push((file, got.unwrap()));
                    path.entry(file).or_insert(given);
                }
            }
            4..=6 if !live.is_empty() => {
                let (file, loc) = live.swap_remove(rand() as usize % live.len());
                let closed = sh.close::<FileHandle>(loc).unwrap().report;
                assert_eq!(closed.file_number, FileNumber(file));
                assert_eq!(closed.handle_info.path.as_deref(), path.get(&file).map(|p| &**p));
                if !live.iter().any(|l| l.0 == file) {
                    path.remove(&file);
                    pending.remove(&file);
                }
            }
            7 if !live.is_empty() => {
                let (file, _) = live[rand() as usize % live.len()];
                let new = format!("/renamed{file}/{round}");
                let n = live.iter().filter(|l| l.0 == file).count();
                assert_eq!(sh.rename(FileNumber(file), Arc::from(&*new)).0, n);
                path.insert(file, new);
            }
            8 if !live.is_empty() => {
                let (file, loc) = live[rand() as usize % live.len()];
                let on = rand() % 3 == 0;
                assert_eq!(sh.set_delete_pending(loc, on), Some(Ok(())));
                pending.insert(file, on);
            }
            9 if !live.is_empty() => {
                let (_, loc) = live[rand() as usize % live.len()];
                let x = LockElement { offset: round, length: 1, kind: LockKind::Shared };
                assert!(sh.lock(loc, &[x]).result.is_ok());
            }
            _ => {}
        }
        if round % 500 == 0 {
            for &(file, loc) in &live {
                let h = sh.get(loc).unwrap();
                assert_eq!(h.file_number, FileNumber(file));
                assert_eq!(h.handle_info.path.as_deref(), Some(&*path[&file]), "round {round}");
                assert_eq!(h.handle_info.delete_pending, pending.get(&file) == Some(&true));
            }
            for file in 0..40 {
                let mut want: Vec<u32> =
                    live.iter().filter(|l| l.0 == file).map(|l| l.1.slot()).collect();
                want.sort_unstable();
                assert_eq!(sh.file_slots(FileNumber(file)), want, "file {file} round {round}");
            }
        }
    }
}
