//! smb-handles against the tables a server author would otherwise write,
//! one criterion group per operation and workload shape, every table in
//! every group.
//!
//! Run everything and regenerate `BENCHMARKS.md` with `scripts/bench.sh`.
//! Groups, each as `<group>/<shape>` for the shapes `hot`, `distinct` and
//! `zipf` (see `benches/common`):
//!
//! - Rust API: `close`, `close_batch`, `churn`, `open`, `get`, `list_walk`,
//!   `list_file`, `list_json`, `close_batch_json`, and `open_str` (path and
//!   owner in fresh buffers of the caller's per open, lent for the call:
//!   ours `OpenSpec::borrowed`, the peers copy them, as on the C path);
//! - C ABI (`smb_handles::ffi::smbh_*` for ours; the peers take the same
//!   pointer-and-length strings and copy them): `c_open`, `c_close`,
//!   `c_close_batch`. The caller allocates a fresh path and owner buffer per
//!   open, timed, for every table alike.
//!
//! Environment: `BENCH_TABLES=ours,dashmap` and `BENCH_SHAPES=hot,zipf`
//! limit a run; `BENCH_QUICK=1` shrinks the big table to 20 000 handles and
//! the measurement times (a smoke test, not a measurement).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use common::{
    big, group, opens, quick_mode, Dash, FileArrayPeer, Input, IntrusiveListPeer, MutexHashMap,
    NaiveShardedSlab, Ours, OursC, Pool, RwSlotMap, Shape, ShardedSlab, SlabFileMap, Table, Via,
    Workload,
};
use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use smb_handles::{HandleTable, ListQuery, Page};

/// The small (in-cache) table of the issue.
const SMALL: usize = 1_000;

/// The criterion filter given on the command line, if any (the first
/// positional argument; the values of criterion's options skipped).
fn filter() -> Option<(String, bool)> {
    const WITH_VALUE: &[&str] = &[
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--load-baseline",
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--plotting-backend",
        "--output-format",
        "--format",
        "--color",
        "-c",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if WITH_VALUE.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') {
            return Some((a.clone(), exact));
        }
        i += 1;
    }
    None
}

/// Whether the filter can select any benchmark of `ops` on `shape` for
/// `table`: lets a filtered run skip building tables nobody measures. A
/// filter with regex syntax is assumed to select everything.
fn wanted(ops: &[&str], shape: Shape, table: &str) -> bool {
    let Some((f, exact)) = filter() else { return true };
    if f.contains(|ch: char| "\\^$.|?*+()[]{}".contains(ch)) {
        return true;
    }
    let values = [SMALL, big(), 1, 2, 100, 1_000, 10_000];
    ops.iter().any(|op| {
        values.iter().any(|v| {
            let id = format!("{op}/{}/{table}/{v}", shape.name());
            if exact {
                id == f
            } else {
                id.contains(&f)
            }
        })
    })
}

/// `close` in a table of 1 000: each batch is a fresh table of 1 000,
/// closed whole in random order.
fn close_small<T: Table>(c: &mut Criterion, shape: Shape) {
    let work = Workload::new(shape, SMALL);
    let mut rng = common::Rng(1);
    let mut g = group(c, "close", shape);
    g.throughput(Throughput::Elements(SMALL as u64));
    g.bench_with_input(BenchmarkId::new(T::NAME, SMALL), &SMALL, |b, _| {
        b.iter_batched_ref(
            || {
                let table = T::create();
                let keys = common::fill(&table, &work, SMALL, &mut rng);
                (table, keys)
            },
            |(table, keys)| assert_eq!(common::close_each(table, keys), keys.len()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Random closes from the big table, held at its size by the pool: for
/// each `(id, k)`, batches of `k` keys handed to `close`, which returns how
/// many it closed, reported under `id`.
fn closes<T: Table>(
    c: &mut Criterion,
    table: &T,
    pool: &mut Pool<T>,
    op: &str,
    sizes: &[(usize, usize)],
    close: impl Fn(&T, &[T::Key]) -> usize,
) {
    let closed = Cell::new(0);
    let mut g = group(c, op, pool.work.shape);
    for &(id, k) in sizes {
        g.throughput(Throughput::Elements(k as u64));
        g.bench_with_input(BenchmarkId::new(T::NAME, id), &k, |b, &k| {
            b.iter_batched_ref(
                || pool.batch_to_close(table, k, &closed),
                |keys| {
                    let n = close(table, keys);
                    assert_eq!(n, keys.len());
                    closed.set(closed.get() + n);
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    pool.settle_closed(table, &closed);
}

/// A C server's open: it hands over its own, freshly allocated path and
/// owner buffers (allocated here, timed, the same for every table) and
/// frees them after the call.
fn open_c<T: Table>(table: &T, i: Input) -> T::Key {
    let path: Vec<u8> = i.path.as_bytes().to_vec();
    let owner: Vec<u8> = i.owner.as_bytes().to_vec();
    table.open_c(i.file_number, &path, &owner, i.access)
}

/// A Rust server's open with borrowed strings: it decodes path and owner
/// into fresh buffers of its own (allocated here, timed, the same for every
/// table), lends them for the call and frees them after it.
fn open_str<T: Table>(table: &T, i: Input) -> T::Key {
    let path = String::from(&*i.path);
    let owner = String::from(&*i.owner);
    table.open_str(i.file_number, &path, &owner, i.access)
}

/// `get`: one random live handle per iteration of the big table.
fn get<T: Table>(c: &mut Criterion, table: &T, pool: &Pool<T>) {
    let keys = pool.keys();
    let n = keys.len();
    let mut g = group(c, "get", pool.work.shape);
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new(T::NAME, n), &n, |b, _| {
        let mut i = 0;
        b.iter(|| {
            i = if i + 1 == keys.len() { 0 } else { i + 1 };
            black_box(table.get(keys[i]))
        })
    });
    g.finish();
}

/// `list_walk`: every handle copied out; ours in pages of 1 000, the peers
/// under their locks.
fn list_walk<T: Table>(c: &mut Criterion, table: &T, pool: &Pool<T>) {
    let n = pool.len();
    if table.walk_all(1_000).is_none() {
        return;
    }
    let mut g = group(c, "list_walk", pool.work.shape);
    // Flat sampling: a walk of 1 000 000 takes tens of milliseconds, and
    // linear sampling would need 55 of them at least.
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new(T::NAME, n), &n, |b, _| {
        b.iter(|| assert_eq!(table.walk_all(1_000), Some(n)))
    });
    g.finish();
}

/// `list_file`: the handles of the file of one random live handle (ours
/// and the per-file peers through their per-file state, the others by a
/// scan). Throughput: one query.
fn list_file<T: Table>(c: &mut Criterion, table: &T, pool: &Pool<T>) {
    let n = pool.len();
    let Some(one) = table.get(pool.keys()[n / 2]) else { unreachable!() };
    let Some(found) = table.by_file(one.file_number) else {
        return;
    };
    if quick_mode() {
        // Smoke check of every table's per-file answer after the open and
        // close groups: the handles of the file, found one by one.
        let expected =
            pool.keys().iter().filter(|&&k| table.get(k).unwrap().file_number == one.file_number);
        assert_eq!(found.len(), expected.count(), "{}: handles of one file", T::NAME);
    }
    let mut g = group(c, "list_file", pool.work.shape);
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new(T::NAME, n), &n, |b, _| {
        b.iter(|| assert!(!black_box(table.by_file(one.file_number)).unwrap().is_empty()))
    });
    g.finish();
}

/// `churn`: open + close pairs in steady state, on 1 and 2 threads at
/// once, in a table of about 12 000 (10 000 in the background and a ring
/// of 1 000 per thread). Each thread opens one and closes its oldest;
/// iterations are split between the threads, so the time per element is
/// wall time per pair across the whole table. With fresh strings (`hot`)
/// each open's strings are allocated in the loop, for every table alike.
fn churn<T: Table>(c: &mut Criterion, shape: Shape) {
    const RING: usize = 1_000;
    let table = T::create();
    let work = Workload::new(shape, 12_000);
    let _background = common::fill(&table, &work, 10_000, &mut common::Rng(7));
    let fresh = shape.fresh_strings();
    let mut g = group(c, "churn", shape);
    g.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        let rings: Vec<Mutex<(Vec<T::Key>, common::Rng)>> = (0..threads)
            .map(|t| {
                let mut rng = common::Rng(100 + t as u64);
                let ring = (0..RING).map(|_| table.open(work.input(&mut rng))).collect();
                Mutex::new((ring, rng))
            })
            .collect();
        g.bench_with_input(BenchmarkId::new(T::NAME, threads), &threads, |b, &threads| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(threads as u64);
                let barrier = Barrier::new(threads);
                std::thread::scope(|s| {
                    let workers: Vec<_> = rings
                        .iter()
                        .map(|ring| {
                            let (table, work, barrier) = (&table, &work, &barrier);
                            s.spawn(move || {
                                let mut guard = ring.lock().unwrap();
                                let (ring, rng) = &mut *guard;
                                let inputs: Vec<_> =
                                    (0..per.min(4096)).map(|_| work.input(rng)).collect();
                                barrier.wait();
                                let start = Instant::now();
                                let mut at = 0;
                                for i in 0..per as usize {
                                    let input = &inputs[i % inputs.len()];
                                    let input = if fresh { input.fresh() } else { input.clone() };
                                    let key = table.open(input);
                                    black_box(table.close(std::mem::replace(&mut ring[at], key)));
                                    at = if at + 1 == RING { 0 } else { at + 1 };
                                }
                                start.elapsed()
                            })
                        })
                        .collect();
                    workers.into_iter().map(|w| w.join().unwrap()).max().unwrap()
                })
            })
        });
    }
    g.finish();
}

/// Every Rust-API group for one table on one shape.
fn suite<T: Table>(c: &mut Criterion, shape: Shape) {
    if !common::table_selected(T::NAME) {
        return;
    }
    if wanted(&["close"], shape, T::NAME) {
        close_small::<T>(c, shape);
    }
    let ops = ["close", "close_batch", "open", "get", "list_walk", "list_file"];
    if wanted(&ops, shape, T::NAME) {
        let table = T::create();
        let n = big();
        let mut pool = Pool::new(&table, Workload::new(shape, n), n, 2, Via::Rust);
        closes(c, &table, &mut pool, "close", &[(n, 1_000)], common::close_each);
        let sizes = [(100, 100), (10_000, 10_000)];
        closes(c, &table, &mut pool, "close_batch", &sizes, |t, k| t.close_many(k));
        opens(c, &table, &mut pool, "open", T::NAME, |t, i| t.open(i));
        get(c, &table, &pool);
        list_walk(c, &table, &pool);
        list_file(c, &table, &pool);
    }
    if wanted(&["churn"], shape, T::NAME) {
        churn::<T>(c, shape);
    }
}

/// The C-ABI groups for one table on one shape: fresh strings per open.
fn suite_c<T: Table>(c: &mut Criterion, shape: Shape) {
    if !common::table_selected(T::NAME)
        || !wanted(&["c_open", "c_close", "c_close_batch"], shape, T::NAME)
    {
        return;
    }
    let table = T::create();
    let n = big();
    let mut pool = Pool::new(&table, Workload::new(shape, n), n, 4, Via::C);
    opens(c, &table, &mut pool, "c_open", T::NAME, open_c);
    let each = |t: &T, keys: &[T::Key]| keys.iter().filter(|&&k| t.close_c(k)).count();
    closes(c, &table, &mut pool, "c_close", &[(n, 1_000)], each);
    let sizes = [(100, 100), (10_000, 10_000)];
    closes(c, &table, &mut pool, "c_close_batch", &sizes, |t, k| t.close_many_c(k));
}

/// `open_str` for one table on one shape: the big table filled with
/// handles that hold their own copies of the strings (as `suite_c`'s).
fn suite_str<T: Table>(c: &mut Criterion, shape: Shape) {
    if !common::table_selected(T::NAME) || !wanted(&["open_str"], shape, T::NAME) {
        return;
    }
    let table = T::create();
    let n = big();
    let mut pool = Pool::new(&table, Workload::new(shape, n), n, 5, Via::C);
    opens(c, &table, &mut pool, "open_str", T::NAME, open_str);
}

/// `GET /v1/smb/files` body for one page (the table's own writer, the
/// bytes of `serde_json::to_vec`).
fn list_json_bytes(_table: &HandleTable, page: &Page) -> Vec<u8> {
    smb_handles::json::page_to_json(page)
}

/// JSON on one shape: one page of 1 000 serialized, and a 1 000-element
/// close body (ours only: the JSON shapes are ours).
fn json(c: &mut Criterion, shape: Shape) {
    if !common::table_selected(Ours::NAME)
        || !wanted(&["list_json", "close_batch_json"], shape, Ours::NAME)
    {
        return;
    }
    let table = Ours::create();
    let n = big();
    let mut pool = Pool::new(&table, Workload::new(shape, n), n, 3, Via::Rust);
    let closed = Cell::new(0);
    let page = table
        .0
        .list(&ListQuery { limit: Some(1_000), resolve_paths: true, ..Default::default() })
        .unwrap();
    let mut g = group(c, "list_json", shape);
    g.throughput(Throughput::Elements(1_000));
    g.bench_function(BenchmarkId::new(Ours::NAME, 1_000), |b| {
        b.iter(|| black_box(list_json_bytes(&table.0, &page)))
    });
    g.finish();

    let mut g = group(c, "close_batch_json", shape);
    g.throughput(Throughput::Elements(1_000));
    g.bench_function(BenchmarkId::new(Ours::NAME, 1_000), |b| {
        b.iter_batched_ref(
            || {
                let keys = pool.batch_to_close(&table, 1_000, &closed);
                let handles: Vec<_> = keys.iter().map(|&k| table.0.get(k).unwrap()).collect();
                serde_json::to_vec(&handles).unwrap()
            },
            |body| {
                let out = table.0.close_batch_json(body).unwrap();
                closed.set(closed.get() + 1_000);
                black_box(out)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    for shape in Shape::selected() {
        suite::<Ours>(&mut c, shape);
        suite::<MutexHashMap>(&mut c, shape);
        suite::<Dash>(&mut c, shape);
        suite::<ShardedSlab>(&mut c, shape);
        suite::<RwSlotMap>(&mut c, shape);
        suite::<NaiveShardedSlab>(&mut c, shape);
        suite::<IntrusiveListPeer>(&mut c, shape);
        suite::<FileArrayPeer>(&mut c, shape);
        suite::<SlabFileMap>(&mut c, shape);

        suite_c::<OursC>(&mut c, shape);
        suite_c::<MutexHashMap>(&mut c, shape);
        suite_c::<Dash>(&mut c, shape);
        suite_c::<ShardedSlab>(&mut c, shape);
        suite_c::<RwSlotMap>(&mut c, shape);
        suite_c::<NaiveShardedSlab>(&mut c, shape);
        suite_c::<IntrusiveListPeer>(&mut c, shape);
        suite_c::<FileArrayPeer>(&mut c, shape);
        suite_c::<SlabFileMap>(&mut c, shape);

        suite_str::<Ours>(&mut c, shape);
        suite_str::<MutexHashMap>(&mut c, shape);
        suite_str::<Dash>(&mut c, shape);
        suite_str::<ShardedSlab>(&mut c, shape);
        suite_str::<RwSlotMap>(&mut c, shape);
        suite_str::<NaiveShardedSlab>(&mut c, shape);
        suite_str::<IntrusiveListPeer>(&mut c, shape);
        suite_str::<FileArrayPeer>(&mut c, shape);
        suite_str::<SlabFileMap>(&mut c, shape);

        json(&mut c, shape);
    }
}

criterion_main!(benches);
