//! Issue 20's benchmarks: leases against what a server has today and
//! against the scan a server author writes without per-file aggregates.
//!
//! - `lease_open/<shape>`: an open asking for a lease that breaks nothing,
//!   followed by its close (`ours`: `open_cached` + `close`), against
//!   today's open + close with no request (`plain`: `open` + `close`), the
//!   same table and the same existing opens, without leases. Time per
//!   open + close pair, batches of 1 000 pairs.
//!   - `hot`, value = opens already on the file (1, 10, 1 000): a table
//!     holding that one file only, every existing open with an RH lease of
//!     its own client; the new open asks RH with a fresh client GUID and
//!     lease key (granted RH, no break). Fresh path and owner strings on
//!     every open, as the `hot` shape hands them over.
//!   - `distinct`, value = live handles: one open per file, every live
//!     handle with an RWH lease of its own client (as Windows clients ask);
//!     the timed open is the first of a new file, asking RWH with a fresh
//!     client (granted RWH, no break), so it creates the file's lease
//!     state and its close frees it. Shared strings.
//! - `break_decision/<case>`, value = leases on the file (1 000): the
//!   decision an open makes about breaks, timed as the whole open for both
//!   tables. `ksmbd_scan`: our table without leases for the handles, and
//!   beside it what a ksmbd-style server keeps: per file, a list of lease
//!   records, walked on every lease open (ksmbd's `same_client_has_lease`
//!   and break checks walk the inode's `m_op_list`; smbd's
//!   `delay_for_oplock` walks the share entries), each checked against the
//!   open with the same rules; a table-wide lease-key map (a key names one
//!   file per client) as ours keeps; waiting opens parked by file and the
//!   breaks handed to the same hook.
//!   - `compatible`: the file holds 1 000 RH leases; an open asking RH
//!     with a fresh client breaks nothing, then closes (open + close pair).
//!   - `write_holder`: the file holds one RWH lease and 999 RH leases of
//!     attribute-only ("stat") opens, which break nothing; a reading open
//!     of a fresh client must break the one write-caching holder to RH and
//!     wait for its acknowledgement (`open_cached` answers `Pending`). Only
//!     the open is timed; every iteration needs a fresh file (the RWH
//!     lease cannot come back while other opens stay), built untimed in
//!     chunks of files.
//!
//! Every input (spec, strings, client GUID and key) is made outside the
//! timed region, for every table alike. `BENCH_QUICK=1` as in the other
//! benches (20 000 instead of 1 000 000 live).

mod common;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{big, group, group_named, quick_mode, spec, Input, Rng, Shape, Workload};
use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use parking_lot::Mutex;
use smb_handles::{
    AccessMask, Break, CacheRequest, ClientGuid, HandleTable, LeaseKey, LeaseRequest, LeaseState,
    Location, OpenOutcome, OpenSpec,
};

const R: LeaseState = LeaseState::READ;
const W: LeaseState = LeaseState::WRITE;
const H: LeaseState = LeaseState::HANDLE;
/// Open + close pairs per batch.
const K: usize = 1_000;
/// Leases on the file of `break_decision`.
const LEASES: usize = 1_000;
/// Files built per timed chunk of `break_decision/write_holder`.
const CHUNK: u64 = 8;
/// What an attribute-only open asks: READ_ATTRIBUTES | SYNCHRONIZE.
const STAT_ACCESS: u32 = 0x0010_0080;
/// The break timeout both tables note for a break needing an ack (smbd's).
const BREAK_TIMEOUT: Duration = Duration::from_secs(35);

/// A lease request of client `n` (its GUID and key both derived from `n`).
fn lease(n: u64, state: LeaseState) -> CacheRequest {
    let n = u128::from(n);
    CacheRequest::Lease(LeaseRequest::v1(ClientGuid(n), LeaseKey(n ^ (0xA5 << 64)), state))
}

/// An open of `input` asking for client `n`'s lease, or nothing.
fn spec_for(input: Input, lease_of: Option<(u64, LeaseState)>) -> OpenSpec {
    match lease_of {
        Some((n, state)) => spec(input).cache(lease(n, state)),
        None => spec(input),
    }
}

/// The open succeeds without waiting; its location (and lease state).
fn opened(table: &HandleTable, s: OpenSpec) -> (Location, Option<LeaseState>) {
    match table.open_cached(s).expect("open") {
        OpenOutcome::Opened(o) => (o.location, o.lease.map(|l| l.state)),
        OpenOutcome::Pending(_) => panic!("the open waits for a break"),
    }
}

// ---------------------------------------------------------------- lease_open

/// A table and how its timed opens are made: `leased` opens ask for a
/// lease (`open_cached`), the others ask nothing (`open`).
struct Side {
    name: &'static str,
    table: HandleTable,
    /// The state the timed opens ask for, `None` for `plain`.
    ask: Option<LeaseState>,
}

impl Side {
    /// One open + close pair (timed).
    fn pair(&self, s: OpenSpec) {
        let loc = if self.ask.is_some() {
            match self.table.open_cached(s) {
                Ok(OpenOutcome::Opened(o)) => o.location,
                other => panic!("lease open: {other:?}"),
            }
        } else {
            self.table.open(s).expect("open")
        };
        black_box(self.table.close(loc).expect("close"));
    }
}

/// Times open + close pairs of inputs drawn from `work` on each side; the
/// timed opens' clients count up from `clients`.
fn pairs(c: &mut Criterion, shape: Shape, value: usize, sides: &[Side], work: &Workload) {
    let mut g = group(c, "lease_open", shape);
    g.throughput(Throughput::Elements(K as u64));
    for side in sides {
        let mut rng = Rng(0x1EA5E + value as u64);
        let next = Cell::new(1u64 << 40);
        let draw = |rng: &mut Rng| -> Vec<OpenSpec> {
            (0..K)
                .map(|_| {
                    let n = next.replace(next.get() + 1);
                    spec_for(work.input(rng), side.ask.map(|s| (n, s)))
                })
                .collect()
        };
        // Untimed: the open is granted what it asks, with no break.
        if let Some(ask) = side.ask {
            let s = draw(&mut rng).swap_remove(0);
            let (loc, got) = opened(&side.table, s);
            assert_eq!(got, Some(ask), "{} {shape:?} {value}", side.name);
            side.table.close(loc).expect("close");
        }
        g.bench_with_input(BenchmarkId::new(side.name, value), &value, |b, _| {
            b.iter_batched_ref(
                || draw(&mut rng),
                |specs| specs.drain(..).for_each(|s| side.pair(s)),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// `lease_open/hot`: one file holding n opens with RH leases (ours) or
/// without (plain).
fn lease_open_hot(c: &mut Criterion) {
    for n in [1, 10, 1_000] {
        let work = Workload::new(Shape::Hot, 1); // one file
        let mut rng = Rng(n as u64);
        let existing: Vec<Input> = (0..n).map(|_| work.input(&mut rng)).collect();
        let sides = [("ours", Some(R | H)), ("plain", None)].map(|(name, ask)| {
            let table = HandleTable::new();
            for (k, i) in existing.iter().enumerate() {
                let (_, got) = opened(&table, spec_for(i.fresh(), ask.map(|s| (k as u64, s))));
                assert_eq!(got, ask);
            }
            Side { name, table, ask }
        });
        pairs(c, Shape::Hot, n, &sides, &work);
    }
}

/// `lease_open/distinct`: the big table, one open per file, every handle
/// with an RWH lease of its own (ours) or none (plain); the timed open is
/// a new file's first.
fn lease_open_distinct(c: &mut Criterion) {
    let live = big();
    let work = Workload::new(Shape::Distinct, live);
    for (name, ask) in [("ours", Some(R | W | H)), ("plain", None)] {
        let table = HandleTable::new();
        let mut rng = Rng(7);
        for k in 0..live {
            opened(&table, spec_for(work.input(&mut rng), ask.map(|s| (k as u64, s))));
        }
        assert_eq!(table.len(), live);
        pairs(c, Shape::Distinct, live, &[Side { name, table, ask }], &work);
    }
}

// ---------------------------------------------------------------- the scanning peer

/// One lease as the peer keeps it.
#[derive(Debug)]
struct PeerLease {
    client: ClientGuid,
    key: LeaseKey,
    state: LeaseState,
    /// The state a break offered, while its acknowledgement is outstanding.
    breaking: Option<(LeaseState, Instant)>,
    /// Handles open with this lease.
    opens: u32,
}

/// A file's leases as the peer keeps them: a list walked on every open
/// (a vector with a free list, so that a close removes its record in O(1),
/// as ksmbd's `list_del` does).
#[derive(Debug, Default)]
struct PeerFile {
    leases: Vec<Option<PeerLease>>,
    free: Vec<u32>,
    opens: u32,
    lease_opens: u32,
    breaking: u32,
}

/// A break the peer sends: the same facts as [`Break`] (which only the
/// library builds). The stand-in hook only counts them; a server would
/// send each field.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)]
struct PeerBreak {
    file: u64,
    client: ClientGuid,
    key: LeaseKey,
    from: LeaseState,
    to: LeaseState,
    ack_required: bool,
}

/// What the break hook does for both tables: counts what it is handed.
#[derive(Default)]
struct Sent(AtomicUsize);

impl Sent {
    fn hook(self: &Arc<Self>) -> smb_handles::BreakHook {
        let me = Arc::clone(self);
        Arc::new(move |b: &[Break]| {
            me.0.fetch_add(black_box(b).len(), Ordering::Relaxed);
        })
    }
}

/// What the peer answers an open.
#[derive(Debug)]
enum PeerOpened {
    /// Opened: the handle and its lease record.
    Opened(Location, u32),
    /// Waits for acknowledgements.
    Pending,
}

/// A ksmbd-style server: our table for the handles (no leases), and its
/// own lease state beside it.
struct ScanPeer {
    table: HandleTable,
    files: Mutex<HashMap<u64, PeerFile>>,
    keys: Mutex<HashMap<(ClientGuid, LeaseKey), u64>>,
    pending: Mutex<BTreeMap<u64, Vec<OpenSpec>>>,
    deadlines: Mutex<BTreeMap<u64, Instant>>,
    sent: Arc<Sent>,
}

/// What an open that takes `mask` (W, or H for a sharing violation) breaks
/// a lease holding `held` to; `None` when it takes nothing.
fn break_to(held: LeaseState, mask: LeaseState) -> Option<LeaseState> {
    let to = held - mask;
    (to != held).then_some(to)
}

/// Access only SYNCHRONIZE, READ_/WRITE_ATTRIBUTES, READ_CONTROL: a lease
/// "stat" open, which breaks no lease.
fn lease_stat(access: AccessMask) -> bool {
    access.bits() & !(0x0010_0000 | 0x80 | 0x100 | 0x0002_0000) == 0
}

impl ScanPeer {
    fn new(sent: &Arc<Sent>) -> ScanPeer {
        ScanPeer {
            table: HandleTable::new(),
            files: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            pending: Mutex::new(BTreeMap::new()),
            deadlines: Mutex::new(BTreeMap::new()),
            sent: Arc::clone(sent),
        }
    }

    /// An open asking for a lease (the only opens these benchmarks make).
    fn open(&self, s: OpenSpec) -> PeerOpened {
        let CacheRequest::Lease(req) = s.cache else { panic!("a lease open") };
        let file = s.file_number.0;
        let stat = lease_stat(s.access_mask);
        let mut files = self.files.lock();
        let f = files.entry(file).or_default();
        // The decision: every lease of the file against this open.
        let deadline = Instant::now() + BREAK_TIMEOUT;
        let mut own = None;
        let mut wait = f.breaking > 0;
        let mut breaks = Vec::new();
        for (i, slot) in f.leases.iter_mut().enumerate() {
            let Some(l) = slot else { continue };
            if l.client == req.client && l.key == req.key {
                own = Some(i as u32);
                continue;
            }
            if stat || l.breaking.is_some() {
                continue;
            }
            let Some(to) = break_to(l.state, W) else { continue };
            let ack_required = l.state.intersects(W | H);
            if ack_required {
                l.breaking = Some((to, deadline));
                f.breaking += 1;
                wait = true;
            } else {
                l.state = to;
            }
            let (client, key, from) = (l.client, l.key, l.state);
            breaks.push(PeerBreak { file, client, key, from, to, ack_required });
        }
        if wait {
            drop(files);
            self.pending.lock().entry(file).or_default().push(s);
            self.send(&breaks, deadline);
            return PeerOpened::Pending;
        }
        if own.is_none() {
            let mut keys = self.keys.lock();
            match keys.get(&(req.client, req.key)) {
                Some(&other) => assert_eq!(other, file, "lease key in use"),
                None => {
                    keys.insert((req.client, req.key), file);
                }
            }
        }
        let loc = self.table.open(s.cache(CacheRequest::None)).expect("open");
        let holder = f.grant(&req, own);
        PeerOpened::Opened(loc, holder)
    }

    /// Notes the deadline of breaks needing an ack and hands them to the
    /// hook (with no lock held).
    fn send(&self, breaks: &[PeerBreak], deadline: Instant) {
        if let Some(b) = breaks.iter().find(|b| b.ack_required) {
            self.deadlines.lock().entry(b.file).or_insert(deadline);
        }
        self.sent.0.fetch_add(black_box(breaks).len(), Ordering::Relaxed);
    }

    /// Closes a handle holding lease record `holder`.
    fn close(&self, loc: Location, holder: u32) {
        let h = self.table.close(loc).expect("close");
        let file = h.file_number.0;
        let mut files = self.files.lock();
        let f = files.get_mut(&file).expect("file");
        f.opens -= 1;
        f.lease_opens -= 1;
        let l = f.leases[holder as usize].as_mut().expect("live lease");
        l.opens -= 1;
        if l.opens == 0 {
            let l = f.leases[holder as usize].take().expect("live lease");
            f.free.push(holder);
            f.breaking -= u32::from(l.breaking.is_some());
            self.keys.lock().remove(&(l.client, l.key));
        }
        if f.opens == 0 {
            files.remove(&file);
        }
        black_box(h);
    }

    /// Untimed setup: records a lease open without the walk (the state is
    /// what the benchmark needs, not how the peer got there).
    fn seed(&self, s: OpenSpec, state: LeaseState) {
        let CacheRequest::Lease(req) = s.cache else { panic!("a lease open") };
        let file = s.file_number.0;
        self.keys.lock().insert((req.client, req.key), file);
        self.table.open(s.cache(CacheRequest::None)).expect("open");
        let mut files = self.files.lock();
        let f = files.entry(file).or_default();
        let rec = PeerLease { client: req.client, key: req.key, state, breaking: None, opens: 1 };
        f.leases.push(Some(rec));
        f.opens += 1;
        f.lease_opens += 1;
    }
}

impl PeerFile {
    /// What the open is granted (the library's rules for a lease open);
    /// returns its lease record.
    fn grant(&mut self, req: &LeaseRequest, own: Option<u32>) -> u32 {
        let own_opens = own.map_or(0, |i| self.leases[i as usize].as_ref().expect("own").opens);
        let mut s = req.state;
        if !s.intersects(R | W) || s == W || s == (W | H) {
            s = LeaseState::empty();
        }
        if self.opens > own_opens {
            s.remove(W);
        }
        if self.opens > self.lease_opens {
            s.remove(H);
        }
        self.opens += 1;
        self.lease_opens += 1;
        if let Some(i) = own {
            let l = self.leases[i as usize].as_mut().expect("own");
            if req.state.contains(l.state) && s == req.state && l.breaking.is_none() {
                l.state = s;
            }
            l.opens += 1;
            return i;
        }
        let rec =
            PeerLease { client: req.client, key: req.key, state: s, breaking: None, opens: 1 };
        match self.free.pop() {
            Some(i) => {
                self.leases[i as usize] = Some(rec);
                i
            }
            None => {
                self.leases.push(Some(rec));
                (self.leases.len() - 1) as u32
            }
        }
    }
}

// ---------------------------------------------------------------- break_decision

/// The `break_decision` file `j`'s opens: the hot shape's strings (one
/// file), a distinct file number per `j`.
fn decision_input(work: &Workload, rng: &mut Rng, j: u64) -> Input {
    let mut i = work.input(rng);
    i.file_number ^= j << 40;
    i
}

/// `break_decision/compatible`: 1 000 RH leases; an RH open of a fresh
/// client + its close.
fn compatible(c: &mut Criterion) {
    let work = Workload::new(Shape::Hot, 1);
    let sent = Arc::new(Sent::default());
    let ours = HandleTable::new();
    ours.set_break_hook(Some(sent.hook()));
    let peer = ScanPeer::new(&sent);
    let mut rng = Rng(1000);
    for k in 0..LEASES as u64 {
        let i = decision_input(&work, &mut rng, 0);
        assert_eq!(opened(&ours, spec(i.fresh()).cache(lease(k, R | H))).1, Some(R | H));
        match peer.open(spec(i).cache(lease(k, R | H))) {
            PeerOpened::Opened(..) => {}
            PeerOpened::Pending => panic!("peer setup waits"),
        }
    }
    let mut g = group_named(c, "break_decision/compatible");
    g.throughput(Throughput::Elements(K as u64));
    let next = Cell::new(1u64 << 40);
    let draw = |rng: &mut Rng| -> Vec<OpenSpec> {
        (0..K)
            .map(|_| {
                let n = next.replace(next.get() + 1);
                spec(decision_input(&work, rng, 0)).cache(lease(n, R | H))
            })
            .collect()
    };
    g.bench_with_input(BenchmarkId::new("ours", LEASES), &LEASES, |b, _| {
        b.iter_batched_ref(
            || draw(&mut rng),
            |specs| {
                for s in specs.drain(..) {
                    let OpenOutcome::Opened(o) = ours.open_cached(s).expect("open") else {
                        panic!("waits")
                    };
                    black_box(ours.close(o.location).expect("close"));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_with_input(BenchmarkId::new("ksmbd_scan", LEASES), &LEASES, |b, _| {
        b.iter_batched_ref(
            || draw(&mut rng),
            |specs| {
                for s in specs.drain(..) {
                    let PeerOpened::Opened(loc, holder) = peer.open(s) else { panic!("waits") };
                    peer.close(loc, holder);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    assert_eq!(sent.0.load(Ordering::Relaxed), 0, "a compatible open broke something");
}

/// The opens that build `break_decision/write_holder`'s file `j` (the
/// holder's RWH open, then 999 stat opens asking RH, each with the state it
/// is granted), and the open that decides (a reading open of a fresh
/// client asking RH).
fn holder_file(
    work: &Workload,
    rng: &mut Rng,
    j: u64,
    next: &Cell<u64>,
) -> (Vec<(OpenSpec, LeaseState)>, OpenSpec) {
    let client = || next.replace(next.get() + 1);
    let mut setup = Vec::with_capacity(LEASES);
    let i = decision_input(work, rng, j);
    setup.push((spec(i).cache(lease(client(), R | W | H)), R | W | H));
    for _ in 1..LEASES {
        let mut i = decision_input(work, rng, j);
        i.access = STAT_ACCESS;
        setup.push((spec(i).cache(lease(client(), R | H)), R | H));
    }
    let decide = spec(decision_input(work, rng, j)).cache(lease(client(), R | H));
    (setup, decide)
}

/// Times `decide` on chunks of fresh files: `build` makes a table (ours or
/// the peer) holding a chunk's files untimed, `decide` runs one file's
/// deciding open (timed) and checks that it waits.
fn chunked<T>(
    iters: u64,
    mut build: impl FnMut(u64) -> (T, Vec<OpenSpec>),
    decide: impl Fn(&T, OpenSpec) -> bool,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let m = (iters - done).min(CHUNK);
        let (table, specs) = build(m);
        let t = Instant::now();
        let n = specs.into_iter().filter_map(|s| decide(&table, s).then_some(())).count() as u64;
        total += t.elapsed();
        assert_eq!(n, m, "every deciding open waits");
        drop(table);
        done += m;
    }
    total
}

/// `break_decision/write_holder`: one RWH lease and 999 stat opens' RH
/// leases; a reading open must break the one write-caching holder and
/// wait. Time per deciding open.
fn write_holder(c: &mut Criterion) {
    let work = Workload::new(Shape::Hot, 1);
    let mut g = group_named(c, "break_decision/write_holder");
    if !quick_mode() {
        // Each timed open needs a fresh file of 1 000 leases (hundreds of
        // times the open's own time to build): short, flat sampling.
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300));
    }
    g.throughput(Throughput::Elements(1));
    let sent = Arc::new(Sent::default());
    let mut rng = Rng(2000);
    let next = Cell::new(1u64 << 40);
    g.bench_with_input(BenchmarkId::new("ours", LEASES), &LEASES, |b, _| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |m| {
                    let table = HandleTable::new();
                    table.set_break_hook(Some(sent.hook()));
                    let mut decide = Vec::new();
                    for j in 0..m {
                        let (setup, d) = holder_file(&work, &mut rng, j, &next);
                        for (s, want) in setup {
                            assert_eq!(opened(&table, s).1, Some(want));
                        }
                        decide.push(d);
                    }
                    (table, decide)
                },
                |table, s| matches!(table.open_cached(s), Ok(OpenOutcome::Pending(_))),
            )
        })
    });
    g.bench_with_input(BenchmarkId::new("ksmbd_scan", LEASES), &LEASES, |b, _| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |m| {
                    let peer = ScanPeer::new(&sent);
                    let mut decide = Vec::new();
                    for j in 0..m {
                        let (setup, d) = holder_file(&work, &mut rng, j, &next);
                        for (s, state) in setup {
                            peer.seed(s, state);
                        }
                        decide.push(d);
                    }
                    (peer, decide)
                },
                |peer, s| matches!(peer.open(s), PeerOpened::Pending),
            )
        })
    });
    g.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    lease_open_hot(&mut c);
    lease_open_distinct(&mut c);
    compatible(&mut c);
    write_holder(&mut c);
}

criterion_main!(benches);
