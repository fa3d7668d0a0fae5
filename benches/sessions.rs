//! Issue 16's benchmarks: sessions and tree connects against what a server
//! author would write without them. Each group is `<group>/<shape>` for
//! the shapes `hot`, `distinct` and `zipf` (see `benches/common`), ours and
//! every peer in the same group, the same strings and the same default
//! table configuration for all.
//!
//! - `logoff/<n>`: closing every handle of one session holding n = 10,
//!   1 000, 100 000 handles, in a table holding 4 such sessions; time per
//!   handle closed. `ours`: `HandleTable::logoff`. `per_session_loop`: the
//!   server keeps a `Vec<Location>` per session (on our table, without
//!   sessions) and closes it in a loop of `close`. `owner_scan`: as smbd's
//!   close-by-user, a walk of every open of the table (our listing, pages
//!   of 1 000) closing those whose owner is the session's user; the table
//!   has no session id to compare, so the owner SID is compared as a
//!   string.
//! - `session_open/<live>`: open into the 1 000 000-handle table through a
//!   tree connect (`ours`: `OpenSpec::tree`, every handle of the table in
//!   that tree) against the same opens outside any session
//!   (`outside_session`, the table `benches/table.rs`'s `open` measures);
//!   the same inputs, made outside the timed region; time per open.
//! - `close_prefix/<live>`: `close_selected(&Selector::PathPrefix(..))` of
//!   a folder holding exactly 100 handles in a table of 1 000 000 (`ours`)
//!   against `close_batch` of all 1 000 000 (`close_all`); time per call.
//!
//! Closes need fresh state: every iteration's setup (untimed) opens what it
//! closes. `logoff` sets up per iteration (`BatchSize::PerIteration`): with
//! `LargeInput`, criterion keeps several setups alive at once for short
//! routines, so the table would hold more than 4 sessions while one is
//! closed, and the scan would walk them all.
//!
//! Environment as in `benches/table.rs`: `BENCH_SHAPES=hot,zipf`,
//! `BENCH_TABLES=ours,owner_scan` (the `logoff` tables),
//! `BENCH_QUICK=1` (5 000 instead of 100 000 handles per session, 20 000
//! instead of 1 000 000 live: a smoke test, not a measurement).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use common::{
    big, group, opens, quick_mode, Input, Ours, Pool, Rec, Rng, Shape, Table, Via, Workload,
};
use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use smb_handles::{
    HandleTable, ListQuery, Location, Selector, SessionId, SessionSpec, TreeId, User,
};

/// Sessions in the `logoff` table: the one logged off and the others.
const SESSIONS: usize = 4;
/// The folder `close_prefix` closes, and how many handles it holds.
const FOLDER: &str = "/selected/folder";
const IN_FOLDER: usize = 100;

/// Handles per session in `logoff`.
fn session_sizes() -> [usize; 3] {
    if quick_mode() {
        [10, 1_000, 5_000]
    } else {
        [10, 1_000, 100_000]
    }
}

/// The SID (and owner string) of session `k`.
fn sid(k: usize) -> Arc<str> {
    Arc::from(format!("S-1-5-21-1004336348-1177238915-682003330-{}", 2000 + k))
}

/// `n` opens of the shape for the session of `sid`: the workload's, owned
/// by the session's user (a fresh owner string per open when the shape
/// hands over fresh strings).
fn session_inputs(work: &Workload, rng: &mut Rng, n: usize, sid: &Arc<str>) -> Vec<Input> {
    (0..n)
        .map(|_| {
            let mut i = work.input(rng);
            i.owner = if work.shape.fresh_strings() { Arc::from(&**sid) } else { sid.clone() };
            i
        })
        .collect()
}

/// Copies of `inputs` as the shape's caller hands them over again (fresh
/// strings, or clones of the shared ones).
fn again(shape: Shape, inputs: &[Input]) -> Vec<Input> {
    inputs.iter().map(|i| if shape.fresh_strings() { i.fresh() } else { i.clone() }).collect()
}

// ---------------------------------------------------------------- logoff

/// What a server does with one session's handles: open them (untimed), and
/// close them all at once when the session logs off (timed).
trait Logoff {
    const NAME: &'static str;
    /// What the server keeps for a session.
    type Held;
    fn create() -> Self;
    fn hold(&self, k: usize, sid: &Arc<str>, inputs: Vec<Input>) -> Self::Held;
    /// Closes the session's handles; returns how many closed.
    fn logoff(&self, sid: &Arc<str>, held: &mut Self::Held) -> usize;
}

/// Ours: a session with one tree connect; `logoff` closes its handles.
struct OursSessions(HandleTable);

impl Logoff for OursSessions {
    const NAME: &'static str = "ours";
    type Held = SessionId;
    fn create() -> Self {
        OursSessions(HandleTable::new())
    }
    fn hold(&self, k: usize, sid: &Arc<str>, inputs: Vec<Input>) -> SessionId {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, k as u8 + 1));
        let user = User::new(sid.clone(), format!("user{k}"));
        let s = self.0.session_setup(SessionSpec::new(0x4000_0000 + k as u64, user, ip)).unwrap();
        let t = self.0.tree_connect(s, "share").unwrap();
        for i in inputs {
            self.0.open(common::spec(i).tree(t)).expect("open");
        }
        s
    }
    fn logoff(&self, _sid: &Arc<str>, s: &mut SessionId) -> usize {
        let out = self.0.logoff(*s).expect("logoff");
        let n = out.closed;
        drop(black_box(out));
        n
    }
}

/// The server's own list per session, on our table without sessions.
struct PerSessionLoop(HandleTable);

impl Logoff for PerSessionLoop {
    const NAME: &'static str = "per_session_loop";
    type Held = Vec<Location>;
    fn create() -> Self {
        PerSessionLoop(HandleTable::new())
    }
    fn hold(&self, _k: usize, _sid: &Arc<str>, inputs: Vec<Input>) -> Vec<Location> {
        inputs.into_iter().map(|i| self.0.open(common::spec(i)).expect("open")).collect()
    }
    fn logoff(&self, _sid: &Arc<str>, locs: &mut Vec<Location>) -> usize {
        locs.iter().filter(|&&loc| black_box(self.0.close(loc)).is_ok()).count()
    }
}

/// smbd's close-by-user: walk every open, close the user's.
struct OwnerScan(HandleTable);

impl Logoff for OwnerScan {
    const NAME: &'static str = "owner_scan";
    type Held = ();
    fn create() -> Self {
        OwnerScan(HandleTable::new())
    }
    fn hold(&self, _k: usize, _sid: &Arc<str>, inputs: Vec<Input>) {
        for i in inputs {
            self.0.open(common::spec(i)).expect("open");
        }
    }
    fn logoff(&self, sid: &Arc<str>, _: &mut ()) -> usize {
        let mut query = ListQuery { limit: Some(1_000), ..Default::default() };
        let mut closed = 0;
        loop {
            let page = self.0.list(&query).expect("list");
            for h in &page.file_handles {
                if *h.handle_info.owner == **sid
                    && black_box(self.0.close(h.handle_info.location)).is_ok()
                {
                    closed += 1;
                }
            }
            match page.next {
                Some(c) => query.after = Some(c),
                None => return closed,
            }
        }
    }
}

/// `logoff/<shape>` for one table: for each size, a fresh table holding
/// three background sessions; each iteration opens session 0's handles
/// (untimed) and logs it off (timed).
fn logoff<L: Logoff>(c: &mut Criterion, shape: Shape) {
    if !common::table_selected(L::NAME) {
        return;
    }
    let mut g = group(c, "logoff", shape);
    for n in session_sizes() {
        let table = L::create();
        let work = Workload::new(shape, SESSIONS * n);
        let mut rng = Rng(16);
        let sids: Vec<Arc<str>> = (0..SESSIONS).map(sid).collect();
        let mine = session_inputs(&work, &mut rng, n, &sids[0]);
        let _background: Vec<L::Held> = (1..SESSIONS)
            .map(|k| table.hold(k, &sids[k], session_inputs(&work, &mut rng, n, &sids[k])))
            .collect();
        if n >= 100_000 {
            g.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new(L::NAME, n), &n, |b, &n| {
            b.iter_batched_ref(
                || table.hold(0, &sids[0], again(shape, &mine)),
                |held| assert_eq!(table.logoff(&sids[0], held), n),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

// ---------------------------------------------------------------- session_open

/// Our table with every open through one tree connect of one session.
struct InSession(Ours, TreeId);

impl Table for InSession {
    type Key = Location;
    const NAME: &'static str = "ours";
    fn create() -> Self {
        let t = HandleTable::new();
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let s = t.session_setup(SessionSpec::new(0x4000_0001, User::new(sid(0), "user0"), ip));
        let tree = t.tree_connect(s.unwrap(), "share").unwrap();
        InSession(Ours(t), tree)
    }
    fn open(&self, i: Input) -> Location {
        self.0 .0.open(common::spec(i).tree(self.1)).expect("open")
    }
    fn get(&self, key: Location) -> Option<Rec> {
        self.0.get(key)
    }
    fn close(&self, key: Location) -> Option<Rec> {
        self.0.close(key)
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        None
    }
    fn by_file(&self, _file: u64) -> Option<Vec<Rec>> {
        None
    }
}

/// `session_open/<shape>`: the same pool (seed, inputs) into a table in a
/// session and one outside.
fn session_open(c: &mut Criterion, shape: Shape) {
    let n = big();
    {
        let table = InSession::create();
        let mut pool = Pool::new(&table, Workload::new(shape, n), n, 2, Via::Rust);
        opens(c, &table, &mut pool, "session_open", "ours", |t, i| t.open(i));
    }
    let table = Ours::create();
    let mut pool = Pool::new(&table, Workload::new(shape, n), n, 2, Via::Rust);
    opens(c, &table, &mut pool, "session_open", "outside_session", |t, i| t.open(i));
}

// ---------------------------------------------------------------- close_prefix

/// The opens of a table of `live`: `live - 100` of the shape (paths under
/// `/projects`), and 100 under [`FOLDER`], drawn by the same shape over
/// files of their own (one path per file, as a file has one path).
fn prefix_inputs(shape: Shape, live: usize) -> Vec<Input> {
    let mut rng = Rng(61);
    let work = Workload::new(shape, live);
    let mut out: Vec<Input> = (0..live - IN_FOLDER).map(|_| work.input(&mut rng)).collect();
    let folder = Workload::new(shape, IN_FOLDER);
    out.extend((0..IN_FOLDER).map(|_| {
        let mut i = folder.input(&mut rng);
        i.file_number ^= 0xF01D_E000_0000_0000;
        i.path = Arc::from(format!("{FOLDER}/report{:x}.xlsx", i.file_number));
        i
    }));
    out
}

/// `close_prefix/<shape>`: the folder's 100 handles closed by selector
/// (`ours`; reopened untimed before each call), against closing the whole
/// table with `close_batch` (`close_all`; refilled untimed before each).
fn close_prefix(c: &mut Criterion, shape: Shape) {
    let live = big();
    let inputs = prefix_inputs(shape, live);
    let selector = Selector::PathPrefix(Arc::from(FOLDER));
    let mut g = group(c, "close_prefix", shape);
    g.throughput(Throughput::Elements(1));
    {
        let table = HandleTable::new();
        for i in again(shape, &inputs[..live - IN_FOLDER]) {
            table.open(common::spec(i)).expect("open");
        }
        let folder = &inputs[live - IN_FOLDER..];
        let reopened = Cell::new(true);
        for i in again(shape, folder) {
            table.open(common::spec(i)).expect("open");
        }
        g.bench_with_input(BenchmarkId::new("ours", live), &live, |b, _| {
            b.iter_batched_ref(
                || {
                    if !reopened.replace(true) {
                        for i in again(shape, folder) {
                            table.open(common::spec(i)).expect("open");
                        }
                    }
                },
                |_| {
                    let out = table.close_selected(&selector).expect("close_selected");
                    assert_eq!((out.closed, out.failed), (IN_FOLDER, 0));
                    reopened.set(false);
                    drop(black_box(out));
                },
                BatchSize::PerIteration,
            )
        });
        assert_eq!(table.len(), live - usize::from(!reopened.get()) * IN_FOLDER);
    }
    // Closing 10^6 takes tens of milliseconds and refilling a second: few,
    // flat samples.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(500));
    let table = HandleTable::new();
    g.bench_with_input(BenchmarkId::new("close_all", live), &live, |b, &live| {
        b.iter_batched_ref(
            || {
                let locs: Vec<Location> = again(shape, &inputs)
                    .into_iter()
                    .map(|i| table.open(common::spec(i)).expect("open"))
                    .collect();
                locs
            },
            |locs| {
                let out = table.close_batch(locs);
                assert_eq!(out.len(), live);
                drop(black_box(out));
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    for shape in Shape::selected() {
        logoff::<OursSessions>(&mut c, shape);
        logoff::<PerSessionLoop>(&mut c, shape);
        logoff::<OwnerScan>(&mut c, shape);
        session_open(&mut c, shape);
        close_prefix(&mut c, shape);
    }
}

criterion_main!(benches);
