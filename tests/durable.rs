//! Durable handles through the public API: grants, disconnect, reconnect
//! and each of its refusals, replay, app instance ids, conflicting opens
//! against disconnected opens, expiry; then a property test of random
//! sequences against the plain model in tests/support/durable_model.rs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use smb_handles::*;

#[path = "support/durable_model.rs"]
mod durable_model;

const SID: &str = "S-1-5-21-1-1104";
const OTHER: &str = "S-1-5-21-1-1105";
const RD: AccessMask = AccessMask::FILE_READ_DATA;
const R: LeaseState = LeaseState::READ;
const W: LeaseState = LeaseState::WRITE;
const H: LeaseState = LeaseState::HANDLE;

/// A session with one tree connect.
fn session(t: &HandleTable, user: &str) -> (SessionId, TreeId) {
    let s = t
        .session_setup(SessionSpec::new(1, User::new(user, "u"), "10.0.0.7".parse().unwrap()))
        .unwrap();
    (s, t.tree_connect(s, "share").unwrap())
}

fn spec(tree: TreeId, file: u64, owner: &str) -> OpenSpec {
    OpenSpec::new(FileNumber(file), format!("/f{file}"), owner, RD).tree(tree)
}

fn opened(t: &HandleTable, s: OpenSpec) -> Opened {
    match t.open_cached(s) {
        Ok(OpenOutcome::Opened(o)) => o,
        other => panic!("open: {other:?}"),
    }
}

fn batch() -> CacheRequest {
    CacheRequest::Oplock(OplockLevel::Batch)
}

fn lease(client: u128, key: u128, state: LeaseState) -> CacheRequest {
    CacheRequest::Lease(LeaseRequest::v1(ClientGuid(client), LeaseKey(key), state))
}

fn v2(client: u128, guid: u128) -> DurableSpec {
    DurableSpec::v2(ClientGuid(client), CreateGuid(guid), Duration::ZERO)
}

#[test]
fn v1_is_granted_only_with_a_batch_oplock_or_a_handle_lease() {
    let t = HandleTable::new();
    let (_, tree) = session(&t, SID);
    let d = DurableSpec::v1(ClientGuid(1));
    let cases: [(CacheRequest, bool); 6] = [
        (CacheRequest::None, false),
        (CacheRequest::Oplock(OplockLevel::LevelII), false),
        (CacheRequest::Oplock(OplockLevel::Exclusive), false),
        (batch(), true),
        (lease(1, 10, R | H), true),
        (lease(1, 11, R), false),
    ];
    for (i, (cache, granted)) in cases.into_iter().enumerate() {
        let o = opened(&t, spec(tree, 100 + i as u64, SID).cache(cache).durable(d));
        assert_eq!(o.durable.is_some(), granted, "case {i}: {cache:?}");
        assert_eq!(t.get(o.location).unwrap().handle_info.durable, granted);
        if let Some(g) = o.durable {
            assert_eq!(g.timeout, DEFAULT_DURABLE_TIMEOUT);
            assert!(!g.persistent, "no store: never persistent");
            assert_eq!(g.persistent_id, PersistentId(o.location.as_u64()));
        }
    }
    let dir = spec(tree, 200, SID).directory(true).cache(batch()).durable(d);
    assert_eq!(opened(&t, dir).durable, None, "a directory is never durable");
}

#[test]
fn v2_timeouts_default_and_cap() {
    let t = HandleTable::with_config(
        Config::default().durable_timeouts(Duration::from_secs(30), Duration::from_secs(90)),
    );
    let (_, tree) = session(&t, SID);
    for (i, (asked, got)) in [(0, 30), (10, 10), (90, 90), (600, 90)].into_iter().enumerate() {
        let d =
            DurableSpec::v2(ClientGuid(1), CreateGuid(i as u128 + 1), Duration::from_secs(asked));
        let o = opened(&t, spec(tree, i as u64, SID).cache(batch()).durable(d));
        assert_eq!(o.durable.unwrap().timeout, Duration::from_secs(got), "asked {asked}");
    }
}

#[test]
fn a_dropped_connection_keeps_durable_opens_with_their_locks_and_closes_the_rest() {
    let t = HandleTable::new();
    let (s, tree) = session(&t, SID);
    let d = DurableSpec::v1(ClientGuid(1));
    let durable = opened(&t, spec(tree, 1, SID).cache(batch()).durable(d)).location;
    let plain = t.open(spec(tree, 2, SID)).unwrap();
    t.lock(durable, &[LockElement { offset: 0, length: 10, kind: LockKind::Exclusive }]).unwrap();
    let out = t.disconnect(s).unwrap();
    assert_eq!((out.closed, out.kept, out.failed), (1, 1, 0));
    assert!(t.get(plain).is_none());
    let h = t.get(durable).unwrap();
    assert!(h.handle_info.disconnected && h.handle_info.num_byte_range_locks == 1);
    assert!(t.session(s).is_none(), "the session is gone");
    assert!(t.durable_of(durable).unwrap().disconnected.is_some());
    let page = t.list(&ListQuery::default()).unwrap();
    let json = String::from_utf8(json::page_to_json(&page)).unwrap();
    let serde = serde_json::to_string(&page.file_handles).unwrap();
    assert_eq!(serde.matches("\"disconnected\":true").count(), 1, "{serde}");
    assert_eq!(json.matches("\"disconnected\":true").count(), 1, "{json}");
    // Its lock still conflicts for another client's handle (shared access,
    // so no break is needed and the open keeps the durable one).
    let (_, t2) = session(&t, OTHER);
    let other = t
        .open(spec(t2, 1, OTHER).share_access(ShareAccess::all()))
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = other;
}

#[test]
fn logoff_and_tree_disconnect_close_durable_opens() {
    let t = HandleTable::new();
    let (s, tree) = session(&t, SID);
    let d = DurableSpec::v1(ClientGuid(1));
    let a = opened(&t, spec(tree, 1, SID).cache(batch()).durable(d)).location;
    assert_eq!(t.logoff(s).unwrap().closed, 1);
    assert!(t.get(a).is_none() && t.durable_of(a).is_none());
    let (_, tree) = session(&t, SID);
    let b = opened(&t, spec(tree, 1, SID).cache(batch()).durable(d)).location;
    assert_eq!(t.tree_disconnect(tree).unwrap().closed, 1);
    assert!(t.get(b).is_none());
    assert_eq!(t.durable_count(), 0);
}

/// A durable v2 open with an RH lease of client 1 and one byte locked,
/// disconnected; returns its grant and location.
fn disconnected_v2(t: &HandleTable) -> (DurableGrant, Location) {
    let (s, tree) = session(t, SID);
    let o = opened(t, spec(tree, 1, SID).cache(lease(1, 0xA, R | H)).durable(v2(1, 0x77)));
    t.lock(o.location, &[LockElement { offset: 5, length: 1, kind: LockKind::Exclusive }]).unwrap();
    assert_eq!(t.disconnect(s).unwrap().kept, 1);
    (o.durable.unwrap(), o.location)
}

#[test]
fn reconnect_refusals_follow_ms_smb2() {
    let t = HandleTable::new();
    let (g, _) = disconnected_v2(&t);
    let id = g.persistent_id;
    let (_, tree) = session(&t, SID);
    let good = ReconnectSpec::v2(id, CreateGuid(0x77), ClientGuid(1), SID)
        .lease_key(LeaseKey(0xA))
        .tree(tree);
    let with = |f: &dyn Fn(&mut ReconnectSpec)| {
        let mut r = good.clone();
        f(&mut r);
        r
    };
    let cases = [
        (with(&|r| r.persistent_id = PersistentId(id.0 ^ 1)), ReconnectError::NotFound),
        (with(&|r| r.create_guid = Some(CreateGuid(0x78))), ReconnectError::NotFound),
        (with(&|r| r.lease_key = Some(LeaseKey(0xB))), ReconnectError::NotFound),
        (with(&|r| r.lease_key = None), ReconnectError::NotFound),
        (with(&|r| r.client = ClientGuid(2)), ReconnectError::NotFound),
        (with(&|r| r.owner = OTHER.into()), ReconnectError::AccessDenied),
    ];
    for (r, want) in cases {
        assert_eq!(t.reconnect(&r), Err(want), "{r:?}");
        assert_eq!(want.nt_status() >> 28, 0xC);
    }
    assert_eq!(ReconnectError::NotFound.nt_status(), 0xC000_0034);
    assert_eq!(ReconnectError::AccessDenied.nt_status(), 0xC000_0022);
    let back = t.reconnect(&good).unwrap();
    assert_eq!(back.lease, Some(R | H));
    // Connected now: a second reconnect finds no disconnected open.
    assert_eq!(t.reconnect(&good), Err(ReconnectError::NotFound));
}

#[test]
fn a_reconnected_open_keeps_its_locks_and_share_mode_at_a_new_location() {
    let t = HandleTable::new();
    let (g, old) = disconnected_v2(&t);
    let (s, tree) = session(&t, SID);
    let r = ReconnectSpec::v2(g.persistent_id, CreateGuid(0x77), ClientGuid(1), SID)
        .lease_key(LeaseKey(0xA))
        .tree(tree);
    let back = t.reconnect(&r).unwrap();
    assert_ne!(back.location, old);
    assert!(t.get(old).is_none(), "the old location is stale");
    assert_eq!(t.close(old), Err(CloseError::NotFound));
    let h = t.get(back.location).unwrap();
    assert_eq!(h.handle_info.num_byte_range_locks, 1);
    assert!(!h.handle_info.disconnected);
    assert_eq!(t.session(s).unwrap().num_opens, 1, "it joined the new session");
    assert_eq!(t.durable_of(back.location).unwrap().grant, g);
    // The lock is intact: another handle's conflicting lock is refused.
    let (_, t2) = session(&t, OTHER);
    let other = t.open(spec(t2, 1, OTHER)).unwrap();
    let clash = t.lock(other, &[LockElement { offset: 5, length: 1, kind: LockKind::Shared }]);
    assert!(clash.is_err());
    // And a logoff of the new session closes it.
    assert_eq!(t.logoff(s).unwrap().closed, 1);
    assert_eq!(t.durable_count(), 0);
}

#[test]
fn a_replayed_create_returns_the_same_open_and_another_clients_guid_is_refused() {
    let t = HandleTable::new();
    let (_, tree) = session(&t, SID);
    let first = opened(&t, spec(tree, 1, SID).cache(batch()).durable(v2(1, 5)));
    assert!(!first.replayed);
    let again = opened(&t, spec(tree, 1, SID).cache(batch()).durable(v2(1, 5)));
    assert!(again.replayed);
    assert_eq!((again.location, again.oplock), (first.location, OplockLevel::Batch));
    assert_eq!(t.len(), 1, "nothing new was opened");
    let other = t.open_cached(spec(tree, 1, SID).cache(batch()).durable(v2(2, 5)));
    assert_eq!(other, Err(OpenError::DuplicateCreateGuid));
    assert_eq!(OpenError::DuplicateCreateGuid.nt_status(), 0xC000_022A);
    t.close(first.location).unwrap();
    assert!(!opened(&t, spec(tree, 1, SID).cache(batch()).durable(v2(2, 5))).replayed);
}

#[test]
fn an_app_instance_id_closes_the_previous_instances_open() {
    let t = HandleTable::new();
    let (_, tree) = session(&t, SID);
    let app = AppInstanceId(0xAAA);
    let a = opened(&t, spec(tree, 1, SID).cache(batch()).durable(v2(1, 1).app_instance(app)));
    let elsewhere =
        opened(&t, spec(tree, 2, SID).cache(batch()).durable(v2(1, 2).app_instance(app)));
    // Another client (the failover node) with the same app instance id.
    let b = opened(&t, spec(tree, 1, SID).cache(batch()).durable(v2(2, 3).app_instance(app)));
    assert!(t.get(a.location).is_none(), "the previous instance's open is closed");
    assert!(t.get(b.location).is_some());
    assert_eq!(b.oplock, OplockLevel::Batch, "nothing left to break");
    assert!(t.get(elsewhere.location).is_some(), "only opens of the same file");
}

#[test]
fn a_conflicting_open_closes_a_disconnected_durable_open_and_a_compatible_one_keeps_it() {
    let t = HandleTable::new();
    let unlocked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&unlocked);
    t.set_unlock_hook(Some(Arc::new(move |f: FileNumber| log.lock().unwrap().push(f))));
    // RH lease, share read: a compatible reader keeps it (no break of H).
    let (_, old) = disconnected_v2(&t);
    let (_, tree) = session(&t, OTHER);
    let reader =
        t.open(spec(tree, 1, OTHER).share_access(ShareAccess::READ | ShareAccess::WRITE)).unwrap();
    assert!(t.get(old).is_some(), "a compatible open keeps the disconnected open");
    t.close(reader).unwrap();
    // Share none: the newcomer conflicts; the disconnected open is closed.
    let deny = t.open(spec(tree, 1, OTHER).share_access(ShareAccess::empty()));
    assert!(deny.is_ok(), "{deny:?}");
    assert!(t.get(old).is_none() && t.durable_count() == 0);
    assert_eq!(*unlocked.lock().unwrap(), vec![FileNumber(1)], "its lock went: the hook heard");
}

#[test]
fn a_write_caching_disconnected_open_is_closed_by_any_other_open() {
    let t = HandleTable::new();
    let (s, tree) = session(&t, SID);
    let o = opened(&t, spec(tree, 1, SID).cache(lease(1, 0xA, R | W | H)).durable(v2(1, 9)));
    t.disconnect(s).unwrap();
    let (_, t2) = session(&t, OTHER);
    // A stat open breaks nothing.
    let stat = OpenSpec::new(FileNumber(1), "/f1", OTHER, AccessMask::SYNCHRONIZE).tree(t2);
    let st = t.open(stat).unwrap();
    assert!(t.get(o.location).is_some());
    t.close(st).unwrap();
    let b = opened(&t, spec(t2, 1, OTHER));
    assert!(t.get(o.location).is_none(), "W would need a break: closed");
    assert!(t.get(b.location).is_some());
}

#[test]
fn expiry_closes_disconnected_opens_past_their_deadline() {
    let t = HandleTable::with_config(
        Config::default().durable_timeouts(Duration::from_secs(5), Duration::from_secs(5)),
    );
    assert_eq!(t.next_durable_deadline(), None);
    let (s, tree) = session(&t, SID);
    let d = DurableSpec::v1(ClientGuid(1));
    let a = opened(&t, spec(tree, 1, SID).cache(batch()).durable(d)).location;
    let before = Instant::now();
    t.disconnect(s).unwrap();
    let due = t.next_durable_deadline().expect("one disconnected open");
    assert!(
        due >= before + Duration::from_secs(5) && due <= Instant::now() + Duration::from_secs(5)
    );
    assert_eq!(t.expire_durable(due - Duration::from_millis(1)), 0);
    assert!(t.get(a).is_some());
    assert_eq!(t.expire_durable(due), 1);
    assert!(t.get(a).is_none() && t.next_durable_deadline().is_none());
    let r = ReconnectSpec::v1(PersistentId(a.as_u64()), ClientGuid(1), SID);
    assert_eq!(t.reconnect(&r), Err(ReconnectError::NotFound));
}

#[test]
fn a_reconnect_into_a_dead_tree_is_refused_and_leaves_the_open_disconnected() {
    let t = HandleTable::new();
    let (g, old) = disconnected_v2(&t);
    let (s, tree) = session(&t, SID);
    t.logoff(s).unwrap();
    let r = ReconnectSpec::v2(g.persistent_id, CreateGuid(0x77), ClientGuid(1), SID)
        .lease_key(LeaseKey(0xA))
        .tree(tree);
    assert_eq!(t.reconnect(&r), Err(ReconnectError::TreeDeleted));
    assert!(t.get(old).unwrap().handle_info.disconnected);
}

// ---- random sequences against the model ----

fn op_strategy() -> impl Strategy<Value = durable_model::Op> {
    use durable_model::Op;
    prop_oneof![
        4 => (0..3usize, 0..3u64, 0..4u8, 0..3u8, 0..4u8, any::<bool>()).prop_map(|(c, f, cache, dur, share, lock)| Op::Open { client: c, file: f, cache, durable: dur, share, lock }),
        2 => (0..3usize).prop_map(|c| Op::Disconnect { client: c }),
        1 => (0..3usize).prop_map(|c| Op::Logoff { client: c }),
        3 => (0..3usize, 0..8usize, 0..5u8).prop_map(|(c, h, wrong)| Op::Reconnect { client: c, handle: h, wrong }),
        2 => (0..8usize).prop_map(|h| Op::Close { handle: h }),
        1 => Just(Op::Expire),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn durable_sequences_match_the_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        durable_model::run(&ops).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn a_reconnect_with_any_id_is_refused_without_panicking() {
    let t = HandleTable::with_config(Config::default().shards(4));
    let (s, tree) = session(&t, SID);
    for raw in [0, 1, u64::MAX, 0xFF00_0000, 0x1_FF00_0001, 0xFFFF_FFFF_0000_0000, 0x7_0300_0005] {
        let r = ReconnectSpec::v1(PersistentId(raw), ClientGuid(1), SID).tree(tree);
        assert_eq!(t.reconnect(&r), Err(ReconnectError::NotFound), "{raw:#x}");
        let r2 = ReconnectSpec::v2(PersistentId(raw), CreateGuid(1), ClientGuid(1), SID);
        assert_eq!(t.reconnect(&r2), Err(ReconnectError::NotFound), "{raw:#x}");
    }
    // Every refused reconnect left the tree it was counted into.
    assert_eq!(t.session(s).unwrap().num_opens, 0);
    assert_eq!(t.logoff(s).unwrap().closed, 0);
}
