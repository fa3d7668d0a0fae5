//! Issue 17's benchmark: a persistent open acknowledged after its sync,
//! from 1, 8 and 64 concurrent callers (group `store_put`, value = callers,
//! time = wall time per put over all callers, so ops/s = 1 / time).
//!
//! - `group_commit`: ours, `GroupCommit` over `SqliteStore`: each caller
//!   `enqueue(Put)` then `Ticket::wait`.
//! - `commit_per_put`: the same `SqliteStore`, one `commit` (one
//!   transaction, one sync) per put.
//! - `sqlite_peer`: what a server author would write: a `Mutex` around one
//!   rusqlite connection (WAL, `synchronous=FULL`), a column per field and a
//!   row per byte-range lock, one transaction per open.
//!
//! Every put is a new persistent id of the typical open of docs/store.md
//! (40-byte path, 45-byte SID, 2 locks); each function writes to a fresh
//! database in `target/store-bench/`. After each function and value the
//! bench prints syncs per op (`GroupCommit::commits() / ops()`).
//!
//! Group `persistent_open` (value = callers): the same question through
//! the table. Each caller opens new persistent handles
//! (`OpenSpec::durable(DurableSpec::v2(..).persistent(true))`, fresh file
//! numbers and create GUIDs; the specs and their strings are made before
//! the clock starts) and waits for each answer:
//!
//! - `table_group_commit`: `HandleTable::with_store` over `SqliteStore`
//!   (the table's `GroupCommit`); syncs per open from `store_counters`.
//! - `table_commit_per_open`: the same table over a `SqliteStore` wrapped
//!   so that every op of a batch is its own commit (one transaction, one
//!   sync per open), the table otherwise unchanged.
//! - `sqlite_peer`: a plain in-memory `HandleTable::open` of the same spec
//!   (no store) followed by the peer above, one transaction per open (its
//!   record built before the clock starts).
//!
//! ```text
//! cargo bench --features store --bench store -- --noplot
//! python3 scripts/store_bench_report.py target/criterion
//! ```

#[path = "support/persistent.rs"]
mod persistent;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use parking_lot::Mutex;
use persistent::{peer_record, persistent_spec, run_prepared};
use smb_handles::store::{
    GroupCommit, HandleStore, Recovery, SqliteStore, StoreError, StoreOp, StoredLock, StoredOpen,
};
use smb_handles::{Config, HandleTable, OpenSpec};

const CALLERS: [usize; 3] = [1, 8, 64];

fn typical(id: u64) -> StoredOpen {
    let mut open = StoredOpen::new(
        id,
        4242 + id,
        format!("/project/q3/finance/report-{:08}.xlsx", id % 100_000_000),
        "S-1-5-21-1004336348-1177238915-682003330-1104",
    );
    open.access = 0x0012_019f;
    open.share = 0x7;
    open.create_guid = [id as u8; 16];
    open.client_guid = [0xc1; 16];
    open.app_instance_id = Some([0xa1; 16]);
    open.lease_key = Some([(id >> 8) as u8; 16]);
    open.lease_state = 0x7;
    open.timeout_ms = 60_000;
    open.share_name = "projects".into();
    open.locks = vec![StoredLock::new(0, 4096, true), StoredLock::new(id * 4096, 512, false)];
    open
}

fn fresh_dir(name: &str) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let dir = target.join("store-bench").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

/// The peer: a server author's table per field, one transaction per open.
struct SqlitePeer(Mutex<rusqlite::Connection>);

impl SqlitePeer {
    fn open(dir: &std::path::Path) -> SqlitePeer {
        let conn = rusqlite::Connection::open(dir.join("peer.db")).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
        conn.pragma_update(None, "synchronous", "FULL").expect("full");
        conn.execute_batch(
            "CREATE TABLE opens (persistent_id INTEGER PRIMARY KEY, file_number INTEGER,
                 path TEXT, owner TEXT, access INTEGER, share INTEGER, directory INTEGER,
                 create_guid BLOB, client_guid BLOB, app_instance_id BLOB, lease_key BLOB,
                 lease_state INTEGER, timeout_ms INTEGER, share_name TEXT, version INTEGER);
             CREATE TABLE locks (persistent_id INTEGER, offset INTEGER, length INTEGER,
                 exclusive INTEGER);
             CREATE INDEX locks_by_open ON locks (persistent_id);",
        )
        .expect("schema");
        SqlitePeer(Mutex::new(conn))
    }

    fn put(&self, o: &StoredOpen) {
        let mut conn = self.0.lock();
        let tx = conn.transaction().expect("begin");
        tx.prepare_cached(
            "INSERT OR REPLACE INTO opens VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )
        .expect("prepare")
        .execute(rusqlite::params![
            o.persistent_id as i64, o.file_number as i64, o.path, o.owner, o.access, o.share,
            o.directory, o.create_guid, o.client_guid, o.app_instance_id, o.lease_key,
            o.lease_state, o.timeout_ms, o.share_name, o.version as i64,
        ])
        .expect("insert open");
        let mut lock =
            tx.prepare_cached("INSERT INTO locks VALUES (?1, ?2, ?3, ?4)").expect("prepare");
        for l in &o.locks {
            lock.execute(rusqlite::params![
                o.persistent_id as i64,
                l.offset as i64,
                l.length as i64,
                l.exclusive
            ])
            .expect("insert lock");
        }
        drop(lock);
        tx.commit().expect("commit");
    }
}

/// `iters` puts spread over `callers` threads; the wall time from a
/// common start to the last put acknowledged.
fn run(callers: usize, iters: u64, next: &AtomicU64, put: &(dyn Fn(u64) + Sync)) -> Duration {
    let barrier = Barrier::new(callers + 1);
    let per = iters.div_ceil(callers as u64);
    let start = std::thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..per {
                    put(next.fetch_add(1, Ordering::Relaxed));
                }
            });
        }
        barrier.wait();
        Instant::now()
        // The scope joins every caller before returning.
    });
    let done = (per * callers as u64) as f64;
    Duration::from_secs_f64(start.elapsed().as_secs_f64() * iters as f64 / done)
}

fn store_put(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_put");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for &callers in &CALLERS {
        let next = AtomicU64::new(1);
        let group = GroupCommit::new(Arc::new(
            SqliteStore::open(fresh_dir("group").join("h.db")).expect("store"),
        ))
        .expect("committer");
        g.bench_with_input(BenchmarkId::new("group_commit", callers), &callers, |b, &n| {
            b.iter_custom(|iters| {
                run(n, iters, &next, &|id| {
                    group.enqueue(StoreOp::Put(typical(id))).wait().expect("put")
                })
            })
        });
        if group.ops() > 0 {
            // (None when a filter skipped the group.)
            println!(
                "store_put/group_commit/{callers}: syncs/op = {:.3} ({} commits, {} ops)",
                group.commits() as f64 / group.ops() as f64,
                group.commits(),
                group.ops()
            );
        }

        let store = SqliteStore::open(fresh_dir("per_put").join("h.db")).expect("store");
        g.bench_with_input(BenchmarkId::new("commit_per_put", callers), &callers, |b, &n| {
            b.iter_custom(|iters| {
                run(n, iters, &next, &|id| store.commit(&[StoreOp::Put(typical(id))]).expect("put"))
            })
        });

        let peer = SqlitePeer::open(&fresh_dir("peer"));
        g.bench_with_input(BenchmarkId::new("sqlite_peer", callers), &callers, |b, &n| {
            b.iter_custom(|iters| run(n, iters, &next, &|id| peer.put(&typical(id))))
        });
    }
    g.finish();
}

/// A `SqliteStore` that commits every op of a batch on its own (one
/// transaction and one sync per op): the table's group commit undone.
#[derive(Debug)]
struct CommitPerOp {
    inner: SqliteStore,
    commits: AtomicU64,
}

impl HandleStore for CommitPerOp {
    fn commit(&self, batch: &[StoreOp]) -> Result<(), StoreError> {
        for op in batch {
            self.inner.commit(std::slice::from_ref(op))?;
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
    fn load(&self) -> Result<Recovery, StoreError> {
        self.inner.load()
    }
}

fn persistent_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("persistent_open");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    let open_persistent = |table: &HandleTable, spec: OpenSpec| {
        table.open(spec).expect("persistent open");
    };
    for &callers in &CALLERS {
        let next = AtomicU64::new(1);

        let store = SqliteStore::open(fresh_dir("table_group").join("h.db")).expect("store");
        let (table, _) =
            HandleTable::with_store(Config::default(), Arc::new(store)).expect("table");
        let before = table.store_counters().expect("a store");
        g.bench_with_input(BenchmarkId::new("table_group_commit", callers), &callers, |b, &n| {
            b.iter_custom(|iters| {
                run_prepared(n, iters, &next, &persistent_spec, &|_, spec| {
                    open_persistent(&table, spec)
                })
            })
        });
        let after = table.store_counters().expect("a store");
        let (commits, ops) = (after.0 - before.0, after.1 - before.1);
        println!(
            "persistent_open/table_group_commit/{callers}: syncs/open = {:.3} ({commits} commits, {ops} ops)",
            commits as f64 / ops as f64,
        );
        drop(table);

        let store = Arc::new(CommitPerOp {
            inner: SqliteStore::open(fresh_dir("table_per_open").join("h.db")).expect("store"),
            commits: AtomicU64::new(0),
        });
        let (table, _) = HandleTable::with_store(Config::default(), store.clone()).expect("table");
        let before = (store.commits.load(Ordering::Relaxed), table.store_counters().expect("").1);
        g.bench_with_input(
            BenchmarkId::new("table_commit_per_open", callers),
            &callers,
            |b, &n| {
                b.iter_custom(|iters| {
                    run_prepared(n, iters, &next, &persistent_spec, &|_, spec| {
                        open_persistent(&table, spec)
                    })
                })
            },
        );
        let commits = store.commits.load(Ordering::Relaxed) - before.0;
        let ops = table.store_counters().expect("").1 - before.1;
        println!(
            "persistent_open/table_commit_per_open/{callers}: syncs/open = {:.3} ({commits} commits, {ops} ops)",
            commits as f64 / ops as f64,
        );
        drop(table);

        let table = HandleTable::new();
        let peer = SqlitePeer::open(&fresh_dir("table_peer"));
        g.bench_with_input(BenchmarkId::new("sqlite_peer", callers), &callers, |b, &n| {
            b.iter_custom(|iters| {
                run_prepared(
                    n,
                    iters,
                    &next,
                    &|caller, id| {
                        let mut spec = persistent_spec(caller, id);
                        spec.durable = None;
                        let record = peer_record(&spec, id);
                        (spec, record)
                    },
                    &|_, (spec, record)| {
                        table.open(spec).expect("open");
                        peer.put(&record);
                    },
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, store_put, persistent_open);
criterion_main!(benches);
