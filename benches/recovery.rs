//! Issue 17's recovery benchmark: how long a crashed server waits before
//! its clients can reconnect. A `SqliteStore` holding N persistent opens is
//! built once, untimed (`SqliteStore::commit` in batches of 50 000); then
//! (group `recovery/<N>`, time = the whole call):
//!
//! - `with_store`: `HandleTable::with_store(Config::default().shards(16),
//!   store)`, the whole recovery: SQLite's load (scan, CRC, decode) and the
//!   table's restore (every open at its location, with its lock).
//! - `sqlite_load`: `SqliteStore::load` alone.
//! - `restore_only`: `with_store` over a store whose `load` hands back the
//!   records already loaded (copied before the clock starts): the table's
//!   share.
//!
//! and (group `recovery_open/<N>`, time per open) `in_memory_open`: a plain
//! `table.open` of a new handle with strings of the same sizes into a table
//! already holding N handles (the new handles are closed, untimed, after
//! each chunk of 1 000 so the table keeps its size).
//!
//! Records: distinct file numbers, each at the location the table itself
//! gives its file (its shard, found by opening it once in a probe table
//! with the same configuration; slots in order per shard; generation 1),
//! persistent id = location, a 40-byte path, a
//! 45-byte SID, one exclusive lock on every third. The store file stays
//! in the page cache between runs (a warm recovery; a cold one adds the
//! disk's read time).
//!
//! ```text
//! cargo bench --features store --bench recovery -- --noplot
//! RECOVERY_SIZES=100000,300000 cargo bench --features store --bench recovery -- --noplot
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use parking_lot::Mutex;
use smb_handles::store::{
    HandleStore, Recovery, SqliteStore, StoreError, StoreOp, StoredLock, StoredOpen,
};
use smb_handles::{AccessMask, Config, FileNumber, HandleTable, OpenSpec};

const SHARDS: usize = 16;
const OWNER: &str = "S-1-5-21-1004336348-1177238915-682003330-1104";

fn sizes() -> Vec<usize> {
    match std::env::var("RECOVERY_SIZES") {
        Ok(v) => v.split(',').map(|n| n.trim().parse().expect("RECOVERY_SIZES: numbers")).collect(),
        Err(_) => vec![100_000, 1_000_000],
    }
}

fn config() -> Config {
    Config::default().shards(SHARDS)
}

/// A 40-byte path for open `i`.
fn path(i: u64) -> String {
    let p = format!("/projects/q3/finance/report-{i:08}.xlsx");
    debug_assert_eq!(p.len(), 40);
    p
}

/// The shard the table puts file `0x1_0000_0000 + i` in, and the slot
/// within it, for every `i` below `n` (computed once, with a probe table).
fn layout(n: usize) -> &'static [(u64, u64)] {
    static LAYOUT: std::sync::OnceLock<Vec<(u64, u64)>> = std::sync::OnceLock::new();
    let all = LAYOUT.get_or_init(|| {
        let max = sizes().into_iter().max().unwrap_or(0);
        let probe = HandleTable::try_with_config(config()).expect("table");
        let mut next = [0u64; SHARDS];
        (0..max as u64)
            .map(|i| {
                let spec =
                    OpenSpec::new(FileNumber(0x1_0000_0000 + i), "/p", "o", AccessMask::empty());
                let loc = probe.open(spec).expect("probe open");
                probe.close(loc).expect("probe close");
                let shard = (loc.as_u64() >> 24) & 0xFF;
                let slot = next[shard as usize];
                next[shard as usize] += 1;
                (shard, slot)
            })
            .collect()
    });
    &all[..n]
}

fn record(i: u64) -> StoredOpen {
    let (shard, slot) = layout(i as usize + 1)[i as usize];
    let location = (1 << 32) | (shard << 24) | slot;
    let mut o = StoredOpen::new(location, 0x1_0000_0000 + i, path(i), OWNER);
    o.location = location;
    o.access = 0x0012_019f;
    o.share = 0x7;
    o.create_guid = u128::from(i + 1).to_le_bytes();
    o.client_guid = [0xc1; 16];
    o.timeout_ms = 60_000;
    if i % 3 == 0 {
        o.locks = vec![StoredLock::new(0, 4096, true)];
    }
    o
}

fn fresh_dir(name: &str) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let dir = target.join("recovery-bench").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

/// The store of `n` opens, written in big batches (untimed).
fn build(n: usize) -> Arc<SqliteStore> {
    let start = Instant::now();
    let store = SqliteStore::open(fresh_dir(&n.to_string()).join("h.db")).expect("store");
    const BATCH: usize = 50_000;
    for from in (0..n).step_by(BATCH) {
        let ops: Vec<StoreOp> =
            (from..(from + BATCH).min(n)).map(|i| StoreOp::Put(record(i as u64))).collect();
        store.commit(&ops).expect("commit");
    }
    let bytes = std::fs::metadata(store.path()).map_or(0, |m| m.len());
    println!(
        "recovery/{n}: store built in {:.1} s, {:.1} MiB, {} bytes per record",
        start.elapsed().as_secs_f64(),
        bytes as f64 / (1 << 20) as f64,
        record(1).encoded_len(),
    );
    Arc::new(store)
}

/// A store whose load hands back records loaded before (once).
#[derive(Debug)]
struct Preloaded(Mutex<Option<Recovery>>);

impl HandleStore for Preloaded {
    fn commit(&self, _: &[StoreOp]) -> Result<(), StoreError> {
        Ok(())
    }
    fn load(&self) -> Result<Recovery, StoreError> {
        Ok(self.0.lock().take().unwrap_or_default())
    }
}

fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g
}

fn recovery(c: &mut Criterion) {
    for n in sizes() {
        let store = build(n);
        let loaded = store.load().expect("load");
        assert_eq!(loaded.opens.len(), n);
        assert!(loaded.damaged.is_empty());

        let mut g = group(c, &format!("recovery/{n}"));
        g.throughput(Throughput::Elements(n as u64));
        let dyn_store: Arc<dyn HandleStore> = store.clone();
        g.bench_function(BenchmarkId::new("with_store", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let (table, r) =
                        HandleTable::with_store(config(), dyn_store.clone()).expect("recovery");
                    total += start.elapsed();
                    assert_eq!(r.restored, n, "refused: {:?}", r.refused.first());
                    drop(table);
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("sqlite_load", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let r = store.load().expect("load");
                    total += start.elapsed();
                    assert_eq!(r.opens.len(), n);
                    drop(r);
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("restore_only", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let copy = Recovery { opens: loaded.opens.clone(), ..Recovery::default() };
                    let pre: Arc<dyn HandleStore> = Arc::new(Preloaded(Mutex::new(Some(copy))));
                    let start = Instant::now();
                    let (table, r) = HandleTable::with_store(config(), pre).expect("recovery");
                    total += start.elapsed();
                    assert_eq!(r.restored, n);
                    drop(table);
                }
                total
            })
        });
        g.finish();
        drop(loaded);

        // The in-memory open into a table of the same size.
        let table = HandleTable::try_with_config(config()).expect("table");
        for i in 0..n as u64 {
            let o = record(i);
            table
                .open(OpenSpec::new(
                    FileNumber(o.file_number),
                    o.path,
                    o.owner,
                    AccessMask::from_bits_retain(o.access),
                ))
                .expect("fill");
        }
        let mut g = group(c, &format!("recovery_open/{n}"));
        g.throughput(Throughput::Elements(1));
        let mut fresh = n as u64;
        g.bench_function(BenchmarkId::new("in_memory_open", n), |b| {
            b.iter_custom(|iters| {
                // In chunks of 1 000, each closed again untimed: the table
                // keeps its size.
                let mut took = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let k = left.min(1_000);
                    left -= k;
                    let specs: Vec<OpenSpec> = (0..k)
                        .map(|_| {
                            fresh += 1;
                            OpenSpec::new(
                                FileNumber(0x1_0000_0000 + fresh),
                                path(fresh),
                                OWNER,
                                AccessMask::from_bits_retain(0x0012_019f),
                            )
                        })
                        .collect();
                    let mut locs = Vec::with_capacity(specs.len());
                    let start = Instant::now();
                    for spec in specs {
                        locs.push(table.open(spec).expect("open"));
                    }
                    took += start.elapsed();
                    for loc in locs {
                        table.close(loc).expect("close");
                    }
                }
                took
            })
        });
        g.finish();
    }
}

criterion_group!(benches, recovery);
criterion_main!(benches);
