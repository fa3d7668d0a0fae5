//! Leases and oplocks through the public API, one test per rule of
//! tests/samba/LEASES-FINDINGS.md (smbd's answers): grants, breaks on open,
//! write and lock, waiting opens, acknowledgements, timeouts and epochs;
//! then a property test of random sequences against the plain reference in
//! tests/support/lease_model.rs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use smb_handles::*;

#[path = "support/lease_model.rs"]
mod lease_model;
#[path = "support/sharing_model.rs"]
mod sharing_model;

const R: LeaseState = LeaseState::READ;
const W: LeaseState = LeaseState::WRITE;
const H: LeaseState = LeaseState::HANDLE;
const RD: AccessMask = AccessMask::FILE_READ_DATA;
const WR: AccessMask = AccessMask::FILE_WRITE_DATA;

type Done = Vec<(PendingId, Result<Opened, OpenError>)>;

/// A table with its hooks recorded.
struct Rig {
    t: HandleTable,
    breaks: Arc<Mutex<Vec<Break>>>,
    done: Arc<Mutex<Done>>,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(Config::default())
    }

    fn with(config: Config) -> Rig {
        let t = HandleTable::with_config(config);
        let breaks = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::clone(&breaks);
        t.set_break_hook(Some(Arc::new(move |x: &[Break]| b.lock().unwrap().extend_from_slice(x))));
        let d = Arc::clone(&done);
        t.set_completion_hook(Some(Arc::new(move |id, r| d.lock().unwrap().push((id, r)))));
        Rig { t, breaks, done }
    }

    fn open(&self, spec: OpenSpec) -> Result<OpenOutcome, OpenError> {
        self.t.open_cached(spec)
    }

    fn opened(&self, spec: OpenSpec) -> Opened {
        match self.open(spec) {
            Ok(OpenOutcome::Opened(o)) => o,
            other => panic!("expected an immediate open, got {other:?}"),
        }
    }

    fn pending(&self, spec: OpenSpec) -> PendingId {
        match self.open(spec) {
            Ok(OpenOutcome::Pending(id)) => id,
            other => panic!("expected a waiting open, got {other:?}"),
        }
    }

    /// The breaks sent since the last call, as (target, from, to, ack).
    fn take_breaks(&self) -> Vec<(BreakTarget, LeaseState, LeaseState, bool)> {
        let mut b = self.breaks.lock().unwrap();
        b.drain(..).map(|b| (b.target, b.from, b.to, b.ack_required)).collect()
    }

    fn take_done(&self) -> Done {
        std::mem::take(&mut *self.done.lock().unwrap())
    }
}

fn spec(access: AccessMask) -> OpenSpec {
    OpenSpec::new(FileNumber(1), "/f", "o", access)
}

fn lease(client: u128, key: u128, state: LeaseState) -> CacheRequest {
    CacheRequest::Lease(LeaseRequest::v1(ClientGuid(client), LeaseKey(key), state))
}

fn target(client: u128, key: u128) -> BreakTarget {
    BreakTarget::Lease { client: ClientGuid(client), key: LeaseKey(key) }
}

fn state(o: &Opened) -> LeaseState {
    o.lease.expect("a lease grant").state
}

#[test]
fn first_lease_grants_as_smbd_cuts_requests() {
    let rig = Rig::new();
    for (file, req, want) in [
        (1, R, R),
        (2, R | W, R | W),
        (3, R | H, R | H),
        (4, R | W | H, R | W | H),
        (5, W, LeaseState::empty()),
        (6, H, LeaseState::empty()),
        (7, W | H, LeaseState::empty()),
        (8, LeaseState::empty(), LeaseState::empty()),
    ] {
        let s = OpenSpec::new(FileNumber(file), "/f", "o", RD).cache(lease(1, file as u128, req));
        assert_eq!(state(&rig.opened(s)), want, "requested {}", req.letters());
    }
    // A directory gets no lease.
    let d = OpenSpec::new(FileNumber(50), "/d", "o", RD).directory(true).cache(lease(1, 50, R));
    assert_eq!(rig.opened(d).lease, None);
}

#[test]
fn one_key_is_one_lease_and_another_client_is_another() {
    let rig = Rig::new();
    let a = rig.opened(spec(RD).cache(lease(1, 9, R | W | H)));
    assert_eq!(state(&a), R | W | H);
    // The same client and key: shares it, no break.
    let a2 = rig.opened(spec(RD).cache(lease(1, 9, R)));
    assert_eq!(state(&a2), R | W | H);
    assert!(rig.take_breaks().is_empty());
    // The same key value from another client: another lease; A loses W.
    let id = rig.pending(spec(RD).cache(lease(2, 9, R | W | H)));
    assert_eq!(rig.take_breaks(), [(target(1, 9), R | W | H, R | H, true)]);
    assert_eq!(rig.t.ack_lease_break(ClientGuid(1), LeaseKey(9), R | H), Ok(R | H));
    let done = rig.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert_eq!(state(done[0].1.as_ref().unwrap()), R | H);
    // A third lease next to two RH leases: RH, nothing broken.
    assert_eq!(state(&rig.opened(spec(RD).cache(lease(3, 2, R | W | H)))), R | H);
    assert!(rig.take_breaks().is_empty());
}

#[test]
fn plain_opens_take_write_and_handle_caching_from_new_grants() {
    let rig = Rig::new();
    rig.opened(spec(RD));
    // W dropped for another open, H dropped for a non-lease open.
    assert_eq!(state(&rig.opened(spec(RD).cache(lease(1, 1, R | W | H)))), R);
    let rig = Rig::new();
    rig.opened(spec(AccessMask::FILE_READ_ATTRIBUTES)); // a stat open counts too
    assert_eq!(state(&rig.opened(spec(RD).cache(lease(1, 1, R | W | H)))), R);
    // A byte-range lock drops R.
    let rig = Rig::new();
    let o = rig.opened(spec(RD | WR));
    rig.t
        .lock(o.location, &[LockElement { offset: 0, length: 1, kind: LockKind::Shared }])
        .unwrap();
    assert_eq!(state(&rig.opened(spec(RD).cache(lease(1, 1, R | W | H)))), LeaseState::empty());
}

#[test]
fn a_compatible_open_breaks_write_caching_and_waits() {
    let rig = Rig::new();
    rig.opened(spec(RD | WR).cache(lease(1, 1, R | W | H)));
    let id = rig.pending(spec(RD));
    assert_eq!(rig.take_breaks(), [(target(1, 1), R | W | H, R | H, true)]);
    // Acknowledging more than offered is refused; the break stays.
    assert_eq!(
        rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R | W | H),
        Err(AckError::NotAccepted)
    );
    assert!(rig.take_done().is_empty());
    assert_eq!(rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R | H), Ok(R | H));
    let done = rig.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(done[0].1.is_ok());
    // Not breaking any more; unknown keys.
    assert_eq!(rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R), Err(AckError::NotBreaking));
    assert_eq!(rig.t.ack_lease_break(ClientGuid(1), LeaseKey(77), R), Err(AckError::LeaseNotFound));
    assert_eq!(AckError::NotAccepted.nt_status(), 0xC000_00D0);
    // An RH lease is not broken by another compatible open.
    rig.opened(spec(WR));
    assert!(rig.take_breaks().is_empty());
}

#[test]
fn a_sharing_violation_breaks_handle_caching_first_then_is_refused() {
    let rig = Rig::new();
    rig.opened(spec(RD | WR).cache(lease(1, 1, R | W | H)));
    // Sharing READ only conflicts with the holder's write access.
    let id = rig.pending(spec(RD).share_access(ShareAccess::READ));
    assert_eq!(rig.take_breaks(), [(target(1, 1), R | W | H, R | W, true)]);
    rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R | W).unwrap();
    assert_eq!(rig.take_done(), [(id, Err(OpenError::SharingViolation))]);
    // RW left: the same conflict again breaks nothing, refused at once.
    assert_eq!(
        rig.open(spec(RD).share_access(ShareAccess::READ)),
        Err(OpenError::SharingViolation)
    );
    assert!(rig.take_breaks().is_empty());
    // A compatible READ takes W: RW -> R, acknowledged.
    rig.pending(spec(RD));
    assert_eq!(rig.take_breaks(), [(target(1, 1), R | W, R, true)]);
}

#[test]
fn stat_opens_break_nothing_and_overwrites_break_everything() {
    let rig = Rig::new();
    rig.opened(spec(RD).cache(lease(1, 1, R | W | H)));
    let stat = AccessMask::FILE_READ_ATTRIBUTES | AccessMask::SYNCHRONIZE;
    rig.opened(spec(stat).share_access(ShareAccess::empty()));
    rig.opened(spec(AccessMask::READ_CONTROL));
    assert!(rig.take_breaks().is_empty());
    rig.pending(spec(RD | WR).overwrite(true));
    assert_eq!(rig.take_breaks(), [(target(1, 1), R | W | H, LeaseState::empty(), true)]);
}

#[test]
fn oplocks_grant_and_break_as_smbd() {
    let rig = Rig::new();
    let a = rig.opened(spec(RD).cache(CacheRequest::Oplock(OplockLevel::Batch)));
    assert_eq!(a.oplock, OplockLevel::Batch);
    // Another open: batch -> II, acknowledged; the newcomer asked batch, gets II.
    let id = rig.pending(spec(RD).cache(CacheRequest::Oplock(OplockLevel::Batch)));
    assert_eq!(rig.take_breaks(), [(BreakTarget::Oplock(a.location), R | W | H, R, true)]);
    assert_eq!(rig.t.ack_oplock_break(a.location, OplockLevel::Batch), Err(AckError::InvalidLevel));
    assert_eq!(rig.t.ack_oplock_break(a.location, OplockLevel::LevelII), Ok(OplockLevel::LevelII));
    let done = rig.take_done();
    assert_eq!(done[0].0, id);
    assert_eq!(done[0].1.as_ref().unwrap().oplock, OplockLevel::LevelII);
    assert_eq!(rig.t.caching_of(a.location), Some((OplockLevel::LevelII, None)));
    assert_eq!(rig.t.ack_oplock_break(a.location, OplockLevel::None), Err(AckError::NoOplockBreak));
    // A write through another handle breaks level II to none, no ack.
    let w = rig.opened(spec(WR));
    let sent = rig.t.break_for_write(w.location).unwrap();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|b| b.to.is_empty() && !b.ack_required));
    assert_eq!(rig.t.caching_of(a.location), Some((OplockLevel::None, None)));
    // A lease with handle caching means no oplock.
    let rig = Rig::new();
    rig.opened(spec(RD).cache(lease(1, 1, R | H)));
    let o = rig.opened(spec(RD).cache(CacheRequest::Oplock(OplockLevel::LevelII)));
    assert_eq!(o.oplock, OplockLevel::None);
    // An exclusive oplock is not broken by a sharing conflict.
    let rig = Rig::new();
    let x = rig.opened(spec(RD | WR).cache(CacheRequest::Oplock(OplockLevel::Exclusive)));
    assert_eq!(x.oplock, OplockLevel::Exclusive);
    assert_eq!(
        rig.open(spec(RD).share_access(ShareAccess::READ)),
        Err(OpenError::SharingViolation)
    );
    assert!(rig.take_breaks().is_empty());
}

#[test]
fn writes_and_locks_break_read_caching_of_others_only() {
    let rig = Rig::new();
    let a = rig.opened(spec(RD | WR).cache(lease(1, 1, R | H)));
    let b = rig.opened(spec(RD | WR).cache(lease(2, 2, R)));
    assert_eq!((state(&a), state(&rig.opened(spec(RD).cache(lease(2, 2, R))))), (R | H, R));
    assert!(rig.take_breaks().is_empty());
    // A's write breaks B's R lease to none, no ack; A keeps its own.
    rig.t.break_for_write(a.location).unwrap();
    assert_eq!(rig.take_breaks(), [(target(2, 2), R, LeaseState::empty(), false)]);
    assert_eq!(rig.t.caching_of(b.location), Some((OplockLevel::None, Some(LeaseState::empty()))));
    // A lock through B breaks A's RH to none, acknowledged (it had H).
    rig.t
        .lock(b.location, &[LockElement { offset: 0, length: 1, kind: LockKind::Shared }])
        .unwrap();
    assert_eq!(rig.take_breaks(), [(target(1, 1), R | H, LeaseState::empty(), true)]);
    // A writer whose lease caches writes breaks nothing.
    let rig = Rig::new();
    let a = rig.opened(spec(RD | WR).cache(lease(1, 1, R | W | H)));
    assert!(rig.t.break_for_write(a.location).unwrap().is_empty());
}

#[test]
fn closing_the_holder_completes_the_waiting_open() {
    let rig = Rig::new();
    let a = rig.opened(spec(RD).cache(lease(1, 1, R | W | H)));
    let id = rig.pending(spec(RD));
    rig.t.close(a.location).unwrap();
    let done = rig.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert_eq!(
        rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R | H),
        Err(AckError::LeaseNotFound)
    );
}

#[test]
fn unanswered_breaks_time_out_to_none() {
    let rig = Rig::with(Config::default().break_timeout(Duration::from_millis(1)));
    let a = rig.opened(spec(RD).cache(lease(1, 1, R | W | H)));
    let id = rig.pending(spec(RD));
    let deadline = rig.t.next_break_deadline().expect("a deadline");
    assert_eq!(rig.t.expire_breaks(deadline - Duration::from_millis(1)), 0);
    assert!(rig.take_done().is_empty());
    assert_eq!(rig.t.expire_breaks(Instant::now() + Duration::from_secs(1)), 1);
    let done = rig.take_done();
    assert_eq!(done[0].0, id);
    assert!(done[0].1.is_ok());
    assert_eq!(rig.t.caching_of(a.location), Some((OplockLevel::None, Some(LeaseState::empty()))));
    assert_eq!(rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R), Err(AckError::NotBreaking));
    assert_eq!(rig.t.next_break_deadline(), None);
}

#[test]
fn a_lease_key_names_one_file_per_client() {
    let rig = Rig::new();
    rig.opened(spec(RD).cache(lease(1, 1, R)));
    let other = OpenSpec::new(FileNumber(2), "/g", "o", RD).cache(lease(1, 1, R));
    assert_eq!(rig.open(other.clone()), Err(OpenError::LeaseKeyInUse));
    // Another client may use the same key value there.
    let theirs = OpenSpec::new(FileNumber(2), "/g", "o", RD).cache(lease(2, 1, R));
    rig.opened(theirs);
}

#[test]
fn version_2_epochs_count_grants_and_breaks() {
    let rig = Rig::new();
    let v2 = |state, epoch| {
        CacheRequest::Lease(LeaseRequest::v2(ClientGuid(1), LeaseKey(5), state, epoch, None))
    };
    let a = rig.opened(spec(RD).cache(v2(R | W | H, 7)));
    let g = a.lease.unwrap();
    assert!(g.v2);
    assert_eq!(g.epoch, 8);
    rig.pending(spec(RD));
    let b = rig.breaks.lock().unwrap().pop().unwrap();
    assert_eq!(b.epoch, 9);
    // A v1 request of the key is answered as v2.
    rig.t.ack_lease_break(ClientGuid(1), LeaseKey(5), R | H).unwrap();
    let again = rig.opened(spec(RD).cache(lease(1, 5, R | H)));
    assert!(again.lease.unwrap().v2);
}

#[test]
fn a_thousand_leases_cost_nothing_to_an_open_that_breaks_none() {
    let rig = Rig::new();
    for c in 0..1000u128 {
        rig.opened(spec(RD).cache(lease(c, 1, R | H)));
    }
    let _ = rig.take_breaks();
    let o = rig.opened(spec(RD));
    assert!(rig.take_breaks().is_empty());
    rig.t.close(o.location).unwrap();
    // A write breaks every one of them (RH: acknowledgements required).
    let w = rig.opened(spec(WR));
    assert_eq!(rig.t.break_for_write(w.location).unwrap().len(), 1000);
    // And an open now waits for those acknowledgements.
    rig.pending(spec(RD));
}

#[test]
fn a_plain_open_that_must_wait_says_so() {
    let rig = Rig::new();
    rig.opened(spec(RD).cache(lease(1, 1, R | W | H)));
    match rig.t.open(spec(RD)) {
        Err(e @ OpenError::BreakPending { .. }) => assert_eq!(e.nt_status(), 0x103),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------
// Random sequences against the reference model.

/// What an open asks to cache.
#[derive(Clone, Debug)]
enum Ask {
    None,
    Oplock(OplockLevel),
    /// Key 0 or 1 of the opening client, a state, a v2 epoch.
    Lease(u8, u8, Option<u16>),
}

#[derive(Clone, Debug)]
enum Step {
    Open {
        file: u8,
        client: u8,
        access: u32,
        share: u32,
        overwrite: bool,
        doc: bool,
        ask: Ask,
    },
    Close(usize),
    AckLease {
        client: u8,
        key: u8,
        state: u8,
    },
    AckOplock(usize, OplockLevel),
    /// Acknowledges one of the breaks sent so far that needed it: with the
    /// state offered (`None`) or another.
    AckSent(usize, Option<u8>),
    Write(usize),
    Lock(usize, u64, u64, bool),
    SetDeletePending(usize, bool),
    Expire,
}

fn level() -> impl Strategy<Value = OplockLevel> {
    prop::sample::select(vec![
        OplockLevel::None,
        OplockLevel::LevelII,
        OplockLevel::Exclusive,
        OplockLevel::Batch,
    ])
}

fn step() -> impl Strategy<Value = Step> {
    // read, write, both, delete (alone, with read/write), stat opens,
    // READ_CONTROL (alone, with read), append.
    let access = prop::sample::select(vec![
        0x1u32, 0x2, 0x3, 0x1_0000, 0x1_0001, 0x1_0003, 0x80, 0x10_0080, 0x100, 0x2_0000, 0x2_0001,
        0x4,
    ]);
    let ask = prop_oneof![
        1 => Just(Ask::None),
        1 => level().prop_map(Ask::Oplock),
        2 => (0..2u8, 0..8u8, prop::option::of(prop::sample::select(vec![0u16, 7, u16::MAX])))
            .prop_map(|(k, s, e)| Ask::Lease(k, s, e)),
    ];
    prop_oneof![
        6 => (0..3u8, 0..3u8, access, prop_oneof![2 => Just(7u32), 1 => 0..8u32], prop::bool::weighted(0.15), prop::bool::weighted(0.1), ask)
            .prop_map(|(file, client, access, share, overwrite, doc, ask)| Step::Open {
                file, client, access, share, overwrite, doc, ask
            }),
        2 => any::<usize>().prop_map(Step::Close),
        3 => (0..3u8, 0..2u8, 0..8u8).prop_map(|(client, key, state)| Step::AckLease { client, key, state }),
        2 => (any::<usize>(), level()).prop_map(|(i, l)| Step::AckOplock(i, l)),
        4 => (any::<usize>(), prop::option::weighted(0.3, 0..8u8)).prop_map(|(i, s)| Step::AckSent(i, s)),
        1 => any::<usize>().prop_map(Step::Write),
        1 => (any::<usize>(), 0..8u64, 1..4u64, any::<bool>()).prop_map(|(i, o, l, x)| Step::Lock(i, o, l, x)),
        1 => (any::<usize>(), prop::bool::weighted(0.7)).prop_map(|(i, on)| Step::SetDeletePending(i, on)),
        1 => Just(Step::Expire),
    ]
}

fn model_break(b: &Break) -> lease_model::MBreak {
    let (lease, oplock) = match b.target {
        BreakTarget::Lease { client, key } => (Some((client.0, key.0)), None),
        BreakTarget::Oplock(loc) => (None, Some(loc)),
    };
    lease_model::MBreak {
        file: b.file.0,
        lease,
        oplock,
        from: b.from.bits(),
        to: b.to.bits(),
        ack_required: b.ack_required,
        epoch: b.epoch,
    }
}

/// An open's answer against the model's; binds the model's open to the
/// table's location.
fn same_open(
    m: &mut lease_model::LeaseModel,
    issued: &mut Vec<Location>,
    got: &Opened,
    want: &lease_model::Got,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.oplock, want.oplock);
    prop_assert_eq!(got.lease.map(|g| (g.key, g.state, g.v2, g.epoch)), want.lease);
    prop_assert!(!issued.contains(&got.location));
    m.bind(want.index, got.location);
    issued.push(got.location);
    Ok(())
}

fn run_leases(steps: Vec<Step>, files: u8, shards: usize) -> Result<(), TestCaseError> {
    let rig = Rig::with(Config::default().shards(shards).break_timeout(Duration::ZERO));
    let mut m = lease_model::LeaseModel::default();
    let mut issued: Vec<Location> = Vec::new();
    let mut acked: Vec<Break> = Vec::new();
    let pick = |issued: &Vec<Location>, i: usize| {
        if issued.is_empty() {
            Location(0x0000_0001_0000_0000)
        } else {
            issued[i % issued.len()]
        }
    };
    for (n, s) in steps.into_iter().enumerate() {
        let mut sent_direct = None;
        match s {
            Step::Open { file, client, access, share, overwrite, doc, ask } => {
                let file = u64::from(file % files);
                let cg = ClientGuid(u128::from(client) + 1);
                let cache = match ask {
                    Ask::None => CacheRequest::None,
                    Ask::Oplock(l) => CacheRequest::Oplock(l),
                    Ask::Lease(k, st, epoch) => {
                        let key = LeaseKey(u128::from(k) + 1);
                        let st = LeaseState::from_bits_truncate(u32::from(st));
                        CacheRequest::Lease(match epoch {
                            None => LeaseRequest::v1(cg, key, st),
                            Some(e) => LeaseRequest::v2(cg, key, st, e, None),
                        })
                    }
                };
                let spec = OpenSpec::new(
                    FileNumber(file),
                    "/f",
                    "o",
                    AccessMask::from_bits_retain(access),
                )
                .share_access(ShareAccess::from_bits_retain(share))
                .overwrite(overwrite)
                .delete_on_close(doc)
                .cache(cache);
                let req = lease_model::Req { file, access, share, overwrite, doc, cache };
                let got = rig.open(spec);
                let want = m.open(req);
                match (&got, &want) {
                    (Ok(OpenOutcome::Opened(g)), Ok(lease_model::Outcome::Opened(w))) => {
                        same_open(&mut m, &mut issued, g, w)?;
                    }
                    (Ok(OpenOutcome::Pending(g)), Ok(lease_model::Outcome::Pending(w))) => {
                        prop_assert_eq!(g.0, *w, "step {}", n);
                    }
                    (Err(g), Err(w)) => prop_assert_eq!(g, w, "step {}", n),
                    _ => prop_assert!(false, "step {}: open {:?}, model {:?}", n, got, want),
                }
            }
            Step::Close(i) => {
                let loc = pick(&issued, i);
                let got = rig.t.close(loc).map(|h| h.delete_file());
                prop_assert_eq!(got, m.close(loc), "step {}", n);
            }
            Step::AckLease { client, key, state } => {
                let (c, k) = (ClientGuid(u128::from(client) + 1), LeaseKey(u128::from(key) + 1));
                let st = LeaseState::from_bits_truncate(u32::from(state));
                prop_assert_eq!(
                    rig.t.ack_lease_break(c, k, st),
                    m.ack_lease(c, k, st),
                    "step {}",
                    n
                );
            }
            Step::AckOplock(i, level) => {
                let loc = pick(&issued, i);
                prop_assert_eq!(
                    rig.t.ack_oplock_break(loc, level),
                    m.ack_oplock(loc, level),
                    "step {}",
                    n
                );
            }
            Step::AckSent(i, other) if !acked.is_empty() => {
                let b = acked[i % acked.len()];
                match b.target {
                    BreakTarget::Lease { client, key } => {
                        let st =
                            other.map_or(b.to, |s| LeaseState::from_bits_truncate(u32::from(s)));
                        let got = rig.t.ack_lease_break(client, key, st);
                        prop_assert_eq!(got, m.ack_lease(client, key, st), "step {}", n);
                    }
                    BreakTarget::Oplock(loc) => {
                        let levels = [
                            OplockLevel::None,
                            OplockLevel::LevelII,
                            OplockLevel::Exclusive,
                            OplockLevel::Batch,
                        ];
                        let level = other.map_or(b.oplock_to(), |s| levels[usize::from(s % 4)]);
                        let got = rig.t.ack_oplock_break(loc, level);
                        prop_assert_eq!(got, m.ack_oplock(loc, level), "step {}", n);
                    }
                }
            }
            Step::AckSent(..) => {}
            Step::Write(i) => {
                let loc = pick(&issued, i);
                let got = rig.t.break_for_write(loc);
                prop_assert_eq!(got.is_some(), m.break_for_write(loc).is_some(), "step {}", n);
                sent_direct = got;
            }
            Step::Lock(i, offset, length, exclusive) => {
                let loc = pick(&issued, i);
                let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
                let got = rig.t.lock(loc, &[LockElement { offset, length, kind }]);
                prop_assert_eq!(got, m.lock(loc, offset, length, exclusive), "step {}", n);
            }
            Step::SetDeletePending(i, on) => {
                let loc = pick(&issued, i);
                prop_assert_eq!(
                    rig.t.set_delete_pending(loc, on),
                    m.set_delete_pending(loc, on),
                    "step {}",
                    n
                );
            }
            Step::Expire => {
                let got = rig.t.expire_breaks(Instant::now());
                prop_assert_eq!(got, m.expire(), "step {}", n);
            }
        }
        // The completions this step delivered, in order, and the breaks it
        // sent, as a set.
        let want_done = m.take_done();
        let got_done = rig.take_done();
        prop_assert_eq!(
            got_done.len(),
            want_done.len(),
            "step {}: completions {:?} vs {:?}",
            n,
            got_done,
            want_done
        );
        for ((gid, g), (wid, w)) in got_done.iter().zip(&want_done) {
            prop_assert_eq!(gid.0, *wid, "step {}", n);
            match (g, w) {
                (Ok(g), Ok(w)) => same_open(&mut m, &mut issued, g, w)?,
                (Err(g), Err(w)) => prop_assert_eq!(g, w, "step {}", n),
                _ => prop_assert!(false, "step {}: completion {:?}, model {:?}", n, g, w),
            }
        }
        let want_breaks = m.take_breaks();
        let sent: Vec<Break> = rig.breaks.lock().unwrap().drain(..).collect();
        acked.extend(sent.iter().filter(|b| b.ack_required));
        let mut got_breaks: Vec<_> = sent.iter().map(model_break).collect();
        got_breaks.sort();
        prop_assert_eq!(&got_breaks, &want_breaks, "step {}: breaks", n);
        if let Some(direct) = sent_direct {
            let mut direct: Vec<_> = direct.iter().map(model_break).collect();
            direct.sort();
            prop_assert_eq!(&direct, &want_breaks, "step {}: break_for_write's answer", n);
        }
        // What every live handle caches now.
        for o in &m.opens {
            prop_assert_eq!(
                rig.t.caching_of(o.loc),
                m.caching_of(o.loc),
                "step {}: {:?}",
                n,
                o.loc
            );
        }
        prop_assert_eq!(rig.t.len(), m.opens.len(), "step {}", n);
        if m.any_breaking() {
            prop_assert!(rig.t.next_break_deadline().is_some(), "step {}", n);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn leases_match_model(files in 1..=3u8, shards in prop::sample::select(vec![1usize, 3]), steps in prop::collection::vec(step(), 1..80)) {
        run_leases(steps, files, shards)?;
    }
}
