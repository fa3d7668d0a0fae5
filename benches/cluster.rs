//! Issue 18's benchmarks, against a real etcd (Debian's etcd-server, `ETCD`
//! may name the binary; started on loopback ports with its data under
//! `target/cluster-bench/`):
//!
//! - `cluster_open` (value = live handles): a plain open, one open per file
//!   with shared strings, into the table of a node that has joined a
//!   cluster and keeps its persistent handles in etcd (`EtcdStore`), against
//!   the same open into a lone `HandleTable`. Nothing on that path may
//!   touch etcd: the target is no measurable difference. Each batch opens
//!   1 000 handles; the next batch's setup closes them (untimed), so the
//!   table stays at its size.
//! - `cluster_list` (value = handles listed): a walk of every page of
//!   `GET /v1/smb/files/?limit=1000` through the admin endpoint of node 1 of
//!   three nodes with 10^5 handles each (the cluster-wide listing: every
//!   page of the two others forwarded and merged), against the same walk of
//!   one lone node's 10^5. Time per handle listed; target: the cluster's at
//!   most twice the single node's. The nodes are in-process endpoints
//!   joined by tests/support/federation.rs' stand-in (a request to a peer
//!   is its HTTP bytes handed to the peer's endpoint): the merge, the
//!   forwarded requests and the peers' JSON are measured, TCP and TLS are
//!   not.
//! - `cluster_persistent_open` (value = concurrent callers, time = wall time
//!   per open over all callers): persistent opens through the table of a
//!   joined node over `EtcdStore`, acknowledged once in etcd, batched by the
//!   table's group commit (`table_group_commit`), against what a server
//!   author would write first (`etcd_txn_per_open`): a plain open, then one
//!   etcd transaction per open from each caller (each caller its own
//!   client, so etcd sees the callers' transactions concurrently). Target:
//!   at least 5× at 64 callers. After each function the bench prints
//!   transactions per open.
//!
//! ```text
//! cargo bench --features cluster --bench cluster -- --noplot
//! ```

#[path = "../tests/support/etcd.rs"]
mod etcd_support;
#[path = "../tests/support/federation.rs"]
mod federation;
#[path = "../tests/support/http_reply.rs"]
mod http_reply;
#[path = "support/persistent.rs"]
mod persistent;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use etcd_support::Etcd;
use federation::{parse, Fake, World};
use http_reply::CHEAP_HASH;
use persistent::{peer_record, persistent_spec, run_prepared, OWNER};
use smb_handles::admin::{AdminConfig, Credentials, Harness};
use smb_handles::cluster::{Cluster, ClusterConfig, ClusterKey, EtcdStore};
use smb_handles::store::{HandleStore, StoreOp};
use smb_handles::{AccessMask, Config, FileNumber, HandleTable, Location, OpenSpec};

const LIVE: u64 = 100_000;
const BATCH: u64 = 1_000;
const CALLERS: [usize; 3] = [1, 8, 64];

/// The bench's etcd, started by the first group that needs it, stopped by
/// `main` at the end.
static ETCD: std::sync::OnceLock<Etcd> = std::sync::OnceLock::new();

/// Where the bench's etcd keeps its data.
fn etcd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cluster-bench")
}

/// The bench's etcd, started once.
fn etcd() -> &'static Etcd {
    ETCD.get_or_init(|| {
        let dir = etcd_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench folder");
        Etcd::start(&dir)
    })
}

/// Joins the bench cluster as `node`.
fn join(node: &str) -> Arc<Cluster> {
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("address");
    let key = ClusterKey::new(&[0x5a; 32]).expect("key");
    Cluster::join(ClusterConfig::new(&etcd().url, "bench", node, addr, key)).expect("join")
}

/// A joined node's table, its persistent handles in etcd.
fn node_table(node: &str) -> (Arc<Cluster>, HandleTable) {
    let cluster = join(node);
    let store = Arc::new(EtcdStore::new(&cluster).expect("store"));
    let (table, _) = HandleTable::with_store(Config::default(), store).expect("table");
    (cluster, table)
}

/// The paths the opens share (as a server's sessions share them).
fn paths() -> Vec<Arc<str>> {
    (0..4096)
        .map(|i| Arc::from(format!("/projects/q{}/dir{}/report{i}.xlsx", i % 4, i % 97)))
        .collect()
}

/// The `i`th plain open: its own file, shared strings.
fn plain(paths: &[Arc<str>], owner: &Arc<str>, i: u64) -> OpenSpec {
    OpenSpec::new(
        FileNumber(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        paths[i as usize % paths.len()].clone(),
        owner.clone(),
        AccessMask::from_bits_retain(0x0012_0089),
    )
}

fn cluster_open(c: &mut Criterion) {
    let (paths, owner): (Vec<Arc<str>>, Arc<str>) = (paths(), Arc::from(OWNER));
    let (cluster, node) = node_table("open-node");
    let lone = HandleTable::new();
    let mut g = c.benchmark_group("cluster_open");
    g.throughput(Throughput::Elements(BATCH));
    let next = AtomicU64::new(0);
    for (name, table) in [("lone_table", &lone), ("cluster_node", &node)] {
        for _ in 0..LIVE {
            table.open(plain(&paths, &owner, next.fetch_add(1, Ordering::Relaxed))).expect("fill");
        }
        let opened: RefCell<Vec<Location>> = RefCell::new(Vec::new());
        g.bench_with_input(BenchmarkId::new(name, LIVE), &LIVE, |b, _| {
            b.iter_batched(
                || {
                    for loc in opened.borrow_mut().drain(..) {
                        table.close(loc).expect("close");
                    }
                    (0..BATCH)
                        .map(|_| plain(&paths, &owner, next.fetch_add(1, Ordering::Relaxed)))
                        .collect::<Vec<_>>()
                },
                |specs| {
                    let mut out = opened.borrow_mut();
                    for s in specs {
                        out.push(table.open(s).expect("open"));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        assert_eq!(table.len() as u64, LIVE + opened.borrow().len() as u64);
    }
    g.finish();
    cluster.leave();
}

/// An admin endpoint over a table of `LIVE` handles of node `id`, a member
/// of `world` when one is given (else alone).
fn endpoint(id: u64, world: Option<&Arc<Mutex<World>>>) -> Arc<Harness> {
    let (paths, owner): (Vec<Arc<str>>, Arc<str>) = (paths(), Arc::from(OWNER));
    let table = Arc::new(HandleTable::new());
    for i in 0..LIVE {
        table.open(plain(&paths, &owner, id << 40 | i)).expect("fill");
    }
    let creds = Credentials::from_password_hash("admin", CHEAP_HASH).expect("hash");
    let mut config = AdminConfig::new(creds);
    if let Some(w) = world {
        config = config.federation(Arc::new(Fake { me: id, world: w.clone() }));
    }
    let h = Arc::new(Harness::new(table, config).expect("endpoint"));
    if let Some(w) = world {
        let mut w = w.lock().expect("world");
        w.nodes.insert(id, h.clone());
        w.members.insert(id);
    }
    h
}

/// Walks every page of the handle listing; the handles listed, counted
/// from the parsed pages (untimed: a check).
fn walk_counted(h: &Harness, token: &str) -> u64 {
    let mut path = "/v1/smb/files/?limit=1000".to_owned();
    let mut n = 0;
    loop {
        let body = page(h, token, &path);
        let page: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        n += page["file_handles"].as_array().expect("handles").len() as u64;
        match page["paging"]["next"].as_str() {
            Some(next) if !next.is_empty() => path = next.to_owned(),
            _ => return n,
        }
    }
}

/// Walks every page as a client that only follows `paging.next` does (the
/// timed walk: the client's own JSON parsing would weigh on both sides
/// alike and hide the difference); the pages walked.
fn walk(h: &Harness, token: &str) -> u64 {
    let mut path = "/v1/smb/files/?limit=1000".to_owned();
    let mut pages = 0;
    loop {
        let body = page(h, token, &path);
        pages += 1;
        match next_of(&body) {
            Some(next) => path = next,
            None => return pages,
        }
    }
}

/// One page's body.
fn page(h: &Harness, token: &str, path: &str) -> bytes::Bytes {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    let (status, body) = parse(&h.exchange(req.as_bytes()));
    assert_eq!(status, 200);
    body
}

/// `paging.next` of a page, read from its end (where the paging object is).
fn next_of(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"next\":";
    let tail = &body[body.len().saturating_sub(400)..];
    let at = tail.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let rest = std::str::from_utf8(&tail[at..]).ok()?.trim_start();
    let value: String =
        serde_json::Deserializer::from_str(rest).into_iter::<Option<String>>().next()?.ok()??;
    (!value.is_empty()).then_some(value)
}

fn cluster_list(c: &mut Criterion) {
    let world = Arc::new(Mutex::new(World::default()));
    let members: Vec<Arc<Harness>> = (1..=3).map(|id| endpoint(id, Some(&world))).collect();
    let single = endpoint(9, None);
    let mut g = c.benchmark_group("cluster_list");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    for (name, h, handles) in
        [("single_node", &single, LIVE), ("cluster_3_nodes", &members[0], 3 * LIVE)]
    {
        let token = h.token();
        assert_eq!(walk_counted(h, &token), handles, "{name}: every handle once");
        let pages = walk(h, &token);
        assert!(pages >= handles / 1000, "{name}: {pages} pages");
        g.throughput(Throughput::Elements(handles));
        g.bench_with_input(BenchmarkId::new(name, handles), &handles, |b, _| {
            b.iter(|| assert_eq!(walk(h, &token), pages))
        });
    }
    g.finish();
}

fn cluster_persistent_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("cluster_persistent_open");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    let next = AtomicU64::new(1);
    for &callers in &CALLERS {
        let (cluster, table) = node_table(&format!("group-{callers}"));
        let before = table.store_counters().expect("a store");
        g.bench_with_input(BenchmarkId::new("table_group_commit", callers), &callers, |b, &n| {
            b.iter_custom(|iters| {
                run_prepared(n, iters, &next, &persistent_spec, &|_, spec| {
                    table.open(spec).expect("persistent open");
                })
            })
        });
        let after = table.store_counters().expect("a store");
        let (txns, ops) = (after.0 - before.0, after.1 - before.1);
        println!(
            "cluster_persistent_open/table_group_commit/{callers}: commits/open = {:.3} \
             ({txns} commits of at most 128 ops, one etcd transaction each, for {ops} ops)",
            txns as f64 / ops as f64
        );
        drop(table);
        cluster.leave();

        let cluster = join(&format!("peer-{callers}"));
        let stores: Vec<EtcdStore> =
            (0..callers).map(|_| EtcdStore::new(&cluster).expect("store")).collect();
        let table = HandleTable::new();
        let txns = AtomicU64::new(0);
        g.bench_with_input(BenchmarkId::new("etcd_txn_per_open", callers), &callers, |b, &n| {
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
                    &|caller, (spec, record)| {
                        table.open(spec).expect("open");
                        stores[caller].commit(&[StoreOp::Put(record)]).expect("etcd put");
                        txns.fetch_add(1, Ordering::Relaxed);
                    },
                )
            })
        });
        println!(
            "cluster_persistent_open/etcd_txn_per_open/{callers}: transactions/open = 1.000 ({} opens)",
            txns.load(Ordering::Relaxed)
        );
        cluster.leave();
    }
    g.finish();
}

criterion_group!(benches, cluster_open, cluster_list, cluster_persistent_open);

/// criterion's main, then the bench's etcd stopped (a static is never
/// dropped, so it is killed here by its pid) and its folder removed.
fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let Some(e) = ETCD.get() {
        let _ = etcd_support::pid_signal_quiet(e.child.id(), "-KILL");
        let _ = std::fs::remove_dir_all(etcd_dir());
    }
}
