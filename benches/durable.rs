//! Issue 17's benchmark of a durable (not persistent) open: what the
//! durability costs an open that a client would make anyway.
//!
//! `durable_open/<shape>`: open + close pairs, batches of 1 000, three
//! sides on equal tables:
//! - `durable`: `open_cached` with an RWH lease of a fresh client and a
//!   durable v2 request with a fresh create GUID (granted: the lease has
//!   handle caching), then `close`;
//! - `lease`: the same open without the durable request (what a server
//!   pays today for the open Windows makes);
//! - `plain`: `open` with no request at all, then `close`.
//!
//! Shapes: `hot` (one file holding 10 opens with RH leases of their own
//! clients, fresh strings per open; the timed open asks RH, so nothing is
//! broken) and `distinct` (the big table, one open per file, each with an
//! RWH lease and durable, shared strings; the timed open is a new file's
//! first). Every input is made outside the timed region. `BENCH_QUICK=1`
//! as in the other benches.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use common::{big, group, spec, Input, Rng, Shape, Workload};
use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use smb_handles::{
    CacheRequest, ClientGuid, CreateGuid, DurableSpec, HandleTable, LeaseKey, LeaseRequest,
    LeaseState, OpenOutcome, OpenSpec,
};

const K: usize = 1_000;
const R: LeaseState = LeaseState::READ;
const W: LeaseState = LeaseState::WRITE;
const H: LeaseState = LeaseState::HANDLE;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Durable,
    Lease,
    Plain,
}

/// The open of `input` as `kind` makes it, for client `n`.
fn make(input: Input, kind: Kind, n: u64, state: LeaseState) -> OpenSpec {
    let c = ClientGuid(u128::from(n));
    let lease = CacheRequest::Lease(LeaseRequest::v1(c, LeaseKey(u128::from(n) << 1), state));
    match kind {
        Kind::Plain => spec(input),
        Kind::Lease => spec(input).cache(lease),
        Kind::Durable => spec(input).cache(lease).durable(DurableSpec::v2(
            c,
            CreateGuid(u128::from(n) << 2),
            Duration::ZERO,
        )),
    }
}

fn open(t: &HandleTable, s: OpenSpec, kind: Kind) -> smb_handles::Location {
    if kind == Kind::Plain {
        return t.open(s).expect("open");
    }
    match t.open_cached(s) {
        Ok(OpenOutcome::Opened(o)) => {
            assert_eq!(o.durable.is_some(), kind == Kind::Durable);
            o.location
        }
        other => panic!("open: {other:?}"),
    }
}

fn pairs(
    c: &mut Criterion,
    shape: Shape,
    value: usize,
    sides: &[(Kind, HandleTable)],
    work: &Workload,
    ask: LeaseState,
) {
    let mut g = group(c, "durable_open", shape);
    g.throughput(Throughput::Elements(K as u64));
    for (kind, table) in sides {
        let name = match kind {
            Kind::Durable => "durable",
            Kind::Lease => "lease",
            Kind::Plain => "plain",
        };
        let mut rng = Rng(0xD0 + value as u64);
        let next = Cell::new(1u64 << 40);
        let draw = |rng: &mut Rng| -> Vec<OpenSpec> {
            (0..K)
                .map(|_| make(work.input(rng), *kind, next.replace(next.get() + 1), ask))
                .collect()
        };
        // Untimed: checks the grant once.
        let s = draw(&mut rng).swap_remove(0);
        let loc = open(table, s, *kind);
        table.close(loc).expect("close");
        g.bench_with_input(BenchmarkId::new(name, value), &value, |b, _| {
            b.iter_batched_ref(
                || draw(&mut rng),
                |specs| {
                    specs.drain(..).for_each(|s| {
                        let loc = open(table, s, *kind);
                        black_box(table.close(loc).expect("close"));
                    })
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn hot(c: &mut Criterion) {
    let work = Workload::new(Shape::Hot, 1);
    let mut rng = Rng(10);
    let existing: Vec<Input> = (0..10).map(|_| work.input(&mut rng)).collect();
    let sides = [Kind::Durable, Kind::Lease, Kind::Plain].map(|kind| {
        let t = HandleTable::new();
        for (k, i) in existing.iter().enumerate() {
            open(&t, make(i.fresh(), kind, k as u64, R | H), kind);
        }
        (kind, t)
    });
    pairs(c, Shape::Hot, 10, &sides, &work, R | H);
}

fn distinct(c: &mut Criterion) {
    let live = big();
    let work = Workload::new(Shape::Distinct, live);
    for kind in [Kind::Durable, Kind::Lease, Kind::Plain] {
        let t = HandleTable::new();
        let mut rng = Rng(7);
        for k in 0..live {
            open(&t, make(work.input(&mut rng), kind, k as u64, R | W | H), kind);
        }
        pairs(c, Shape::Distinct, live, &[(kind, t)], &work, R | W | H);
    }
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    hot(&mut c);
    distinct(&mut c);
}

criterion_main!(benches);
