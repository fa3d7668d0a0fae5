//! Issue 9's benchmarks: share-mode checks and byte-range locks (SPEC §9,
//! §10), smb-handles against what servers do today.
//!
//! NOT BUILT YET: it needs the API issue 9 adds (`OpenSpec::share_access`,
//! `ShareAccess`, `HandleTable::lock` / `unlock` / `check_io`, `LockElement`,
//! `LockKind`, `LockRange`, `IoKind`). It lives outside `benches/*.rs` so
//! cargo does not discover it; to enable it, uncomment its `[[bench]]`
//! entry in Cargo.toml (path `benches/pending/locks.rs`) and add
//! `--bench locks` to scripts/bench.sh (and its groups to
//! scripts/bench_report.py's GROUPS).
//!
//! Groups (value = what the file already holds):
//!
//! - `share_open/<n>`: an open with a share check on a file holding n = 1,
//!   10, 1 000 compatible opens (every open must be checked against all of
//!   them, the worst case for a scan), in a table of 100 000 other handles.
//!   Ours (aggregate counts) against `intrusive_list` (ksmbd walks the
//!   inode's open list) and `file_array` (Samba walks its share entries).
//!   `ours_stat_open` times the same opens as stat opens (read attributes
//!   and synchronize: no data access, so no share check): what the check
//!   adds to an open is `ours` minus `ours_stat_open`.
//! - `lock/<n>`: `lock` + `unlock` of one free range on a file holding
//!   n = 10, 10 000 locks of other handles.
//! - `check_io/<n>`: a read check of a free range on a file holding n locks.
//! - `check_io_no_locks`: ours only, `check_io` on a file with no locks
//!   against `get` of the same handle.
//!
//! Lock peer: a sharded (by file, padded) `Mutex<HashMap<file, Vec<lock>>>`
//! scanned linearly, as a server with a simple lock list does.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{
    FileArrayPeer, FileMap, Input, IntrusiveListPeer, Ours, Padded, Rng, Shape, Table, Workload,
    SHARE_ALL, SHARE_READ,
};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use parking_lot::Mutex;
use smb_handles::{IoKind, Location, LockElement, LockKind, LockRange, ShareAccess};

/// Other handles in the table.
const BACKGROUND: usize = 100_000;
/// The file under test (far from the workload's file numbers).
const FILE: u64 = 0x4242;
/// Read data + synchronize: a non-stat open that the others must check.
const READ_ACCESS: u32 = 0x0010_0001;
/// Read attributes + synchronize: a stat open, which skips the share check.
const STAT_ACCESS: u32 = 0x0010_0080;
/// Lock geometry: existing locks at `i * STRIDE`, free ranges between.
const STRIDE: u64 = 8192;
const LEN: u64 = 4096;

fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    g.sample_size(20);
    g
}

fn input(file: u64, work: &Workload) -> Input {
    input_with(file, work, READ_ACCESS)
}

fn input_with(file: u64, work: &Workload, access: u32) -> Input {
    Input {
        file_number: file,
        path: work.strings.paths[0].clone(),
        owner: work.strings.owners[0].clone(),
        access,
    }
}

// ---------------------------------------------------------------- share_open

/// An open with a share check, on ours and the per-file peers.
trait ShareOpen: Table {
    fn open_share(&self, i: Input, share: u32) -> Option<Self::Key>;
}

impl ShareOpen for Ours {
    fn open_share(&self, i: Input, share: u32) -> Option<Location> {
        self.0.open(common::spec(i).share_access(ShareAccess::from_bits_retain(share))).ok()
    }
}

impl ShareOpen for IntrusiveListPeer {
    fn open_share(&self, i: Input, share: u32) -> Option<u64> {
        IntrusiveListPeer::open_share(self, i, share)
    }
}

impl ShareOpen for FileArrayPeer {
    fn open_share(&self, i: Input, share: u32) -> Option<u64> {
        FileArrayPeer::open_share(self, i, share)
    }
}

/// Times opens (share READ, so each checks every open of the file) in
/// chunks of 16, closing each chunk untimed so the file keeps about `n`.
/// The timed opens have `access` and are reported as `name`.
fn share_open<T: ShareOpen>(c: &mut Criterion, name: &str, access: u32) {
    let work = Workload::new(Shape::Distinct, BACKGROUND);
    let table = T::create();
    let _background = common::fill(&table, &work, BACKGROUND, &mut Rng(5));
    let mut g = group(c, "share_open");
    g.throughput(Throughput::Elements(1));
    for n in [1usize, 10, 1_000] {
        let held: Vec<T::Key> = (0..n)
            .map(|_| table.open_share(input(FILE + n as u64, &work), SHARE_ALL).unwrap())
            .collect();
        g.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut left = iters;
                let mut keys = Vec::with_capacity(16);
                while left > 0 {
                    let k = left.min(16);
                    let inputs: Vec<Input> =
                        (0..k).map(|_| input_with(FILE + n as u64, &work, access)).collect();
                    let start = Instant::now();
                    for i in inputs {
                        keys.push(table.open_share(i, SHARE_READ).expect("compatible"));
                    }
                    spent += start.elapsed();
                    for k in keys.drain(..) {
                        assert!(table.close_c(k));
                    }
                    left -= k;
                }
                spent
            })
        });
        for k in held {
            assert!(table.close_c(k));
        }
    }
    g.finish();
}

// ---------------------------------------------------------------- locks

/// Byte-range locks, on ours and the scanned peer. `handle` is the key of
/// an open of `file`.
trait Locks: Send + Sync {
    type Handle: Copy;
    const NAME: &'static str;
    fn lock(&self, file: u64, h: Self::Handle, offset: u64, length: u64, exclusive: bool) -> bool;
    fn unlock(&self, file: u64, h: Self::Handle, offset: u64, length: u64) -> bool;
    fn check_read(&self, file: u64, h: Self::Handle, offset: u64, length: u64) -> bool;
}

impl Locks for Ours {
    type Handle = Location;
    const NAME: &'static str = "ours";
    fn lock(&self, _file: u64, h: Location, offset: u64, length: u64, exclusive: bool) -> bool {
        let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
        self.0.lock(h, &[LockElement { offset, length, kind }]).is_ok()
    }
    fn unlock(&self, _file: u64, h: Location, offset: u64, length: u64) -> bool {
        self.0.unlock(h, &[LockRange { offset, length }]).is_ok()
    }
    fn check_read(&self, _file: u64, h: Location, offset: u64, length: u64) -> bool {
        self.0.check_io(h, offset, length, IoKind::Read).is_ok()
    }
}

#[derive(Clone, Copy)]
struct LockRec {
    handle: u64,
    offset: u64,
    length: u64,
    exclusive: bool,
}

fn overlap(a_off: u64, a_len: u64, b_off: u64, b_len: u64) -> bool {
    // Non-empty ranges (the benchmark uses no zero-length locks).
    a_off < b_off.saturating_add(b_len) && b_off < a_off.saturating_add(a_len)
}

/// A sharded (by file, padded) `Mutex<HashMap<file, Vec<lock>>>`, every
/// operation a linear scan of the file's locks.
struct LockListPeer(Vec<Padded<Mutex<FileMap<Vec<LockRec>>>>>);

impl LockListPeer {
    fn new() -> Self {
        LockListPeer(
            (0..common::shard_count()).map(|_| Padded(Mutex::new(FileMap::default()))).collect(),
        )
    }
    fn shard(&self, file: u64) -> &Mutex<FileMap<Vec<LockRec>>> {
        let h = file.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.0[(((h >> 32) * self.0.len() as u64) >> 32) as usize].0
    }
}

impl Locks for LockListPeer {
    type Handle = u64;
    const NAME: &'static str = "lock_list";
    fn lock(&self, file: u64, h: u64, offset: u64, length: u64, exclusive: bool) -> bool {
        let mut g = self.shard(file).lock();
        let locks = g.entry(file).or_default();
        let conflict = locks.iter().any(|l| {
            // Exclusive conflicts with everything; shared only with another
            // handle's exclusive lock (it may stack on its own).
            overlap(l.offset, l.length, offset, length)
                && (exclusive || (l.exclusive && l.handle != h))
        });
        if !conflict {
            locks.push(LockRec { handle: h, offset, length, exclusive });
        }
        !conflict
    }
    fn unlock(&self, file: u64, h: u64, offset: u64, length: u64) -> bool {
        let mut g = self.shard(file).lock();
        let Some(locks) = g.get_mut(&file) else { return false };
        match locks.iter().position(|l| l.handle == h && l.offset == offset && l.length == length) {
            Some(at) => {
                locks.swap_remove(at);
                true
            }
            None => false,
        }
    }
    fn check_read(&self, file: u64, h: u64, offset: u64, length: u64) -> bool {
        let g = self.shard(file).lock();
        let Some(locks) = g.get(&file) else { return true };
        !locks
            .iter()
            .any(|l| l.exclusive && l.handle != h && overlap(l.offset, l.length, offset, length))
    }
}

/// A table whose file `FILE` holds `n` exclusive locks (10 handles, ranges
/// `i * STRIDE`), plus the handle that takes and checks free ranges.
struct LockSetup<H> {
    tester: H,
    n: u64,
}

fn setup_ours(table: &Ours, n: u64, work: &Workload) -> LockSetup<Location> {
    let holders: Vec<Location> = (0..10).map(|_| table.open(input(FILE, work))).collect();
    for i in 0..n {
        assert!(Locks::lock(table, FILE, holders[(i % 10) as usize], i * STRIDE, LEN, true));
    }
    LockSetup { tester: table.open(input(FILE, work)), n }
}

fn setup_peer(table: &LockListPeer, n: u64) -> LockSetup<u64> {
    for i in 0..n {
        assert!(table.lock(FILE, 1 + i % 10, i * STRIDE, LEN, true));
    }
    LockSetup { tester: 100, n }
}

fn lock_groups<L: Locks>(c: &mut Criterion, table: &L, s: &LockSetup<L::Handle>) {
    let mut rng = Rng(9);
    let mut g = group(c, "lock");
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new(L::NAME, s.n), &s.n, |b, &n| {
        b.iter(|| {
            let off = rng.below(n as usize) as u64 * STRIDE + LEN;
            assert!(table.lock(FILE, s.tester, off, LEN, true));
            assert!(table.unlock(FILE, s.tester, off, LEN));
        })
    });
    g.finish();
    let mut g = group(c, "check_io");
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new(L::NAME, s.n), &s.n, |b, &n| {
        b.iter(|| {
            let off = rng.below(n as usize) as u64 * STRIDE + LEN;
            assert!(black_box(table.check_read(FILE, s.tester, off, LEN)))
        })
    });
    g.finish();
}

/// `check_io` on a file with no locks against `get` of the same handle, in
/// the same table (the target: a check costs no more than a get). Ids:
/// `ours` is `check_io`, `get` is the get.
fn check_io_without_locks(c: &mut Criterion, table: &Ours, work: &Workload) {
    let h = table.open(input(FILE + 1, work));
    let mut g = group(c, "check_io_no_locks");
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new("ours", 0), &0, |b, _| {
        b.iter(|| assert!(black_box(table.0.check_io(h, 4096, 512, IoKind::Write)).is_ok()))
    });
    g.bench_with_input(BenchmarkId::new("get", 0), &0, |b, _| {
        b.iter(|| assert!(black_box(table.0.get(h)).is_some()))
    });
    g.finish();
}

fn locks(c: &mut Criterion) {
    let work = Workload::new(Shape::Distinct, BACKGROUND);
    if common::table_selected("ours") {
        let table = Ours::create();
        let _background = common::fill(&table, &work, BACKGROUND, &mut Rng(5));
        check_io_without_locks(c, &table, &work);
    }
    for n in [10u64, 10_000] {
        if common::table_selected("ours") {
            let table = Ours::create();
            let _background = common::fill(&table, &work, BACKGROUND, &mut Rng(6));
            let s = setup_ours(&table, n, &work);
            lock_groups(c, &table, &s);
        }
        if common::table_selected(LockListPeer::NAME) {
            let table = LockListPeer::new();
            let s = setup_peer(&table, n);
            lock_groups(c, &table, &s);
        }
    }
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    if common::table_selected("ours") {
        share_open::<Ours>(&mut c, "ours", READ_ACCESS);
        share_open::<Ours>(&mut c, "ours_stat_open", STAT_ACCESS);
    }
    if common::table_selected(IntrusiveListPeer::NAME) {
        share_open::<IntrusiveListPeer>(&mut c, IntrusiveListPeer::NAME, READ_ACCESS);
    }
    if common::table_selected(FileArrayPeer::NAME) {
        share_open::<FileArrayPeer>(&mut c, FileArrayPeer::NAME, READ_ACCESS);
    }
    locks(&mut c);
}

criterion_main!(benches);
