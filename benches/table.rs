//! smb-handles against the tables a server author would otherwise write,
//! one criterion group per operation, every table in every group.
//!
//! Run everything and regenerate `BENCHMARKS.md` with `scripts/bench.sh`.
//! Groups: `close`, `close_batch`, `churn`, `open`, `get`, `list_walk`,
//! `list_file`, `list_json`, `close_batch_json`. See `benches/common` for
//! the peers and the workload.

mod common;

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use common::{
    Dash, MutexHashMap, NaiveShardedSlab, Ours, Pool, RwSlotMap, ShardedSlab, Strings, Table,
};
use criterion::measurement::WallTime;
use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use smb_handles::ListQuery;

/// The large table of the issue.
const BIG: usize = 1_000_000;
/// The small table of the issue.
const SMALL: usize = 1_000;

fn quick<'c>(c: &'c mut Criterion, group: &str) -> criterion::BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(group);
    g.warm_up_time(Duration::from_millis(700)).measurement_time(Duration::from_secs(2));
    g
}

/// `close` in a table of 1 000: each batch is a fresh table of 1 000,
/// closed whole in random order.
fn close_small<T: Table>(c: &mut Criterion) {
    let strings = Strings::new();
    let mut rng = common::Rng(1);
    let mut g = quick(c, "close");
    g.throughput(Throughput::Elements(SMALL as u64));
    g.bench_with_input(BenchmarkId::new(T::NAME, SMALL), &SMALL, |b, _| {
        b.iter_batched_ref(
            || {
                let table = T::create();
                let keys = common::fill(&table, &strings, SMALL, &mut rng);
                (table, keys)
            },
            |(table, keys)| assert_eq!(common::close_each(table, keys), keys.len()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Random closes from the big table, held at 1 000 000 live by the pool:
/// for each `(id, k)`, batches of `k` closes reported under `id`. With
/// `batch`, ours uses `close_batch` (the peers have none and loop).
fn closes<T: Table>(
    c: &mut Criterion,
    table: &T,
    pool: &mut Pool<T>,
    group: &str,
    sizes: &[(usize, usize)],
    batch: bool,
) {
    let closed = Cell::new(0);
    let mut g = quick(c, group);
    for &(id, k) in sizes {
        g.throughput(Throughput::Elements(k as u64));
        g.bench_with_input(BenchmarkId::new(T::NAME, id), &k, |b, &k| {
            b.iter_batched_ref(
                || pool.batch_to_close(table, k, &closed),
                |keys| {
                    let n = if batch {
                        table.close_many(keys)
                    } else {
                        common::close_each(table, keys)
                    };
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

/// `open`: batches of 1 000 opens into the big table (the setup first
/// closes 1 000 random handles, so the table stays at 1 000 000).
fn open<T: Table>(c: &mut Criterion, table: &T, pool: &mut Pool<T>) {
    const K: usize = 1_000;
    let opened: RefCell<Vec<T::Key>> = RefCell::new(Vec::new());
    let mut g = quick(c, "open");
    g.throughput(Throughput::Elements(K as u64));
    g.bench_with_input(BenchmarkId::new(T::NAME, BIG), &BIG, |b, _| {
        b.iter_batched_ref(
            || pool.batch_to_open(table, K, &opened),
            |inputs| {
                let mut out = opened.borrow_mut();
                for input in inputs.drain(..) {
                    out.push(table.open(input));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    pool.settle_opened(&opened);
}

/// `get`: one random live handle per iteration of the big table.
fn get<T: Table>(c: &mut Criterion, table: &T, pool: &Pool<T>) {
    let keys = pool.keys();
    let mut g = quick(c, "get");
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new(T::NAME, BIG), &BIG, |b, _| {
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
fn list_walk<T: Table>(c: &mut Criterion, table: &T, n: usize) {
    if table.walk_all(1_000).is_none() {
        return;
    }
    let mut g = quick(c, "list_walk");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new(T::NAME, n), &n, |b, _| {
        b.iter(|| assert_eq!(table.walk_all(1_000), Some(n)))
    });
    g.finish();
}

/// `list_file`: the handles of one file among `n` (ours through its
/// per-file index, the peers by scanning).
fn list_file<T: Table>(c: &mut Criterion, table: &T, pool: &Pool<T>) {
    let n = pool.len();
    let Some(one) = table.get(pool.keys()[n / 2]) else { unreachable!() };
    if table.by_file(one.file_number).is_none() {
        return;
    }
    let mut g = quick(c, "list_file");
    if n >= BIG {
        g.sample_size(10);
    }
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new(T::NAME, n), &n, |b, _| {
        b.iter(|| assert!(!black_box(table.by_file(one.file_number)).unwrap().is_empty()))
    });
    g.finish();
}

/// `churn`: open + close pairs in steady state, on `threads` threads at
/// once. Each thread keeps a ring of 1 000 of its own handles, opens one
/// and closes its oldest; iterations are split between the threads, so the
/// time per element is wall time per pair across the whole table.
fn churn<T: Table>(c: &mut Criterion) {
    const RING: usize = 1_000;
    let table = T::create();
    let strings = Strings::new();
    let _background = common::fill(&table, &strings, 10_000, &mut common::Rng(7));
    let mut g = quick(c, "churn");
    g.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        let rings: Vec<Mutex<(Vec<T::Key>, common::Rng)>> = (0..threads)
            .map(|t| {
                let mut rng = common::Rng(100 + t as u64);
                let ring = (0..RING).map(|_| table.open(strings.input(&mut rng))).collect();
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
                            let (table, strings, barrier) = (&table, &strings, &barrier);
                            s.spawn(move || {
                                let mut guard = ring.lock().unwrap();
                                let (ring, rng) = &mut *guard;
                                let inputs: Vec<_> =
                                    (0..per.min(4096)).map(|_| strings.input(rng)).collect();
                                barrier.wait();
                                let start = Instant::now();
                                let mut at = 0;
                                for i in 0..per as usize {
                                    let key = table.open(inputs[i % inputs.len()].clone());
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

/// Every group for one table.
/// `BENCH_TABLES=ours,dashmap` limits a run to some tables (default all).
fn suite<T: Table>(c: &mut Criterion) {
    if let Ok(only) = std::env::var("BENCH_TABLES") {
        if !only.split(',').any(|t| t == T::NAME) {
            return;
        }
    }
    close_small::<T>(c);
    {
        let table = T::create();
        let pool = Pool::new(&table, SMALL, 1);
        list_file(c, &table, &pool);
    }
    {
        let table = T::create();
        let mut pool = Pool::new(&table, BIG, 2);
        // `close` at 1 000 000 live: batches of 1 000 random closes.
        closes(c, &table, &mut pool, "close", &[(BIG, 1_000)], false);
        let sizes = [(1, 1), (100, 100), (10_000, 10_000)];
        closes(c, &table, &mut pool, "close_batch", &sizes, true);
        open(c, &table, &mut pool);
        get(c, &table, &pool);
        list_walk(c, &table, BIG);
        list_file(c, &table, &pool);
    }
    churn::<T>(c);
}

/// JSON: one page of 1 000 serialized, and a 1 000-element close body.
fn json(c: &mut Criterion) {
    let table = Ours::create();
    let mut pool = Pool::new(&table, BIG, 3);
    let closed = Cell::new(0);
    let page = table
        .0
        .list(&ListQuery { limit: Some(1_000), resolve_paths: true, ..Default::default() })
        .unwrap();
    let mut g = quick(c, "list_json");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function(BenchmarkId::new(Ours::NAME, 1_000), |b| {
        b.iter(|| black_box(serde_json::to_vec(&page).unwrap()))
    });
    g.finish();

    let mut g = quick(c, "close_batch_json");
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
    suite::<Ours>(&mut c);
    suite::<MutexHashMap>(&mut c);
    suite::<Dash>(&mut c);
    suite::<ShardedSlab>(&mut c);
    suite::<RwSlotMap>(&mut c);
    suite::<NaiveShardedSlab>(&mut c);
    json(&mut c);
}

criterion_main!(benches);
