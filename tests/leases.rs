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

/// smbd (`random_00065` of seed 5, LEASES-FINDINGS §5): a lock that would
/// break a lease's R while the lease's own break (RH -> R) is outstanding
/// breaks nothing then; the acknowledgement to R is answered, and R -> ''
/// (no ack) follows at once, with the epoch of the break acknowledged.
#[test]
fn a_read_break_held_back_by_an_outstanding_break_follows_its_ack() {
    let rig = Rig::new();
    let v2 =
        |state| CacheRequest::Lease(LeaseRequest::v2(ClientGuid(1), LeaseKey(1), state, 7, None));
    let a = rig.opened(spec(RD).cache(v2(R | H)));
    let b = rig.opened(spec(RD | WR));
    assert!(rig.take_breaks().is_empty());
    // Sharing READ only conflicts with B's write access: A's H is broken
    // first (RH -> R, ack required) and the open waits.
    rig.pending(spec(RD).share_access(ShareAccess::READ));
    assert_eq!(rig.take_breaks(), [(target(1, 1), R | H, R, true)]);
    // B's lock while A's break is outstanding: nothing yet.
    rig.t
        .lock(b.location, &[LockElement { offset: 0, length: 2, kind: LockKind::Exclusive }])
        .unwrap();
    assert!(rig.take_breaks().is_empty());
    // A acknowledges R; R goes at once, no ack needed.
    assert_eq!(rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R), Ok(R));
    let sent = rig.breaks.lock().unwrap().drain(..).collect::<Vec<Break>>();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].from, sent[0].to, sent[0].ack_required), (R, LeaseState::empty(), false));
    assert_eq!(sent[0].epoch, 9, "the epoch of the RH -> R break (granted 8, broken 9)");
    assert_eq!(rig.t.caching_of(a.location), Some((OplockLevel::None, Some(LeaseState::empty()))));
    // Without the lock in between, the ack to R leaves R.
    let rig = Rig::new();
    let a = rig.opened(spec(RD).cache(lease(1, 1, R | H)));
    rig.opened(spec(RD | WR));
    rig.pending(spec(RD).share_access(ShareAccess::READ));
    rig.take_breaks();
    rig.t.ack_lease_break(ClientGuid(1), LeaseKey(1), R).unwrap();
    assert!(rig.take_breaks().is_empty());
    assert_eq!(rig.t.caching_of(a.location), Some((OplockLevel::None, Some(R))));
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
// Random sequences against the reference model (tests/support/lease_model.rs).

use lease_model::{Ask, Step};

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn leases_match_model(
        files in 1..=3u8,
        shards in prop::sample::select(vec![1usize, 3]),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut d = lease_model::Driver::new(files, shards);
        for (n, s) in steps.iter().enumerate() {
            d.step(n, s);
        }
    }
}

#[test]
fn an_oplock_broken_to_none_acknowledged_with_level_ii_ends_as_none() {
    let rig = Rig::new();
    let a = rig.opened(spec(RD).cache(CacheRequest::Oplock(OplockLevel::Batch)));
    rig.pending(spec(RD | WR).overwrite(true));
    assert_eq!(
        rig.take_breaks(),
        [(BreakTarget::Oplock(a.location), R | W | H, LeaseState::empty(), true)]
    );
    assert_eq!(rig.t.ack_oplock_break(a.location, OplockLevel::LevelII), Ok(OplockLevel::None));
    assert_eq!(rig.t.caching_of(a.location), Some((OplockLevel::None, None)));
    assert_eq!(rig.take_done().len(), 1);
}
