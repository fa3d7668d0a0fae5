//! Two nodes racing to take over one dead node's persistent open never
//! both win (issue 18): against a real etcd, node A stores 100 persistent
//! opens in etcd and leaves; for each open, nodes B and C call
//! `Cluster::take_over` at the same moment from two threads. Exactly one
//! wins every round; the loser's table is left as it was (its adoption
//! undone); etcd ends with every record under its winner's node, none
//! under A's, none twice.
//!
//! Needs `etcd` and `curl` (scripts/test.sh installs both); fails without
//! them, never skips.
#![cfg(feature = "cluster")]

#[path = "support/etcd.rs"]
mod etcd_support;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use etcd_support::{Etcd, Scratch};
use smb_handles::cluster::{Cluster, ClusterConfig, ClusterKey, EtcdStore, TakeOverError};
use smb_handles::store::HandleStore;
use smb_handles::*;

const ROUNDS: u64 = 100;
const SID: &str = "S-1-5-21-1-1104";

fn join(etcd: &Etcd, name: &str) -> (Arc<Cluster>, HandleTable, Arc<EtcdStore>) {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let key = ClusterKey::new(&[7u8; 32]).unwrap();
    let cluster = Cluster::join(ClusterConfig::new(&etcd.url, "race", name, addr, key))
        .unwrap_or_else(|e| panic!("{name} joins: {e}"));
    let store = Arc::new(EtcdStore::new(&cluster).unwrap());
    let (table, recovered) = HandleTable::with_store(Config::default(), store.clone()).unwrap();
    assert_eq!(recovered.restored, 0, "a new node id starts empty");
    (cluster, table, store)
}

fn persistent_open(t: &HandleTable, i: u64) -> PersistentId {
    let spec = OpenSpec::new(
        FileNumber(1_000 + i),
        format!("/vm/{i}.vhdx"),
        SID,
        AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA,
    )
    .share_access(ShareAccess::READ)
    .durable(
        DurableSpec::v2(ClientGuid(9), CreateGuid(u128::from(i) + 1), Duration::from_secs(300))
            .persistent(true),
    );
    match t.open_cached(spec) {
        Ok(OpenOutcome::Opened(o)) => {
            let g = o.durable.expect("durable");
            assert!(g.persistent, "a table over etcd grants persistence");
            g.persistent_id
        }
        other => panic!("open {i}: {other:?}"),
    }
}

#[test]
fn two_nodes_racing_to_adopt_one_open_never_both_win() {
    let dir = Scratch::new("smbh-cluster-adopt");
    let etcd = Etcd::start(&dir);

    let (a, ta, store_a) = join(&etcd, "a");
    let ids: Vec<PersistentId> = (0..ROUNDS).map(|i| persistent_open(&ta, i)).collect();
    assert_eq!(store_a.load().unwrap().opens.len(), ROUNDS as usize, "acknowledged = in etcd");
    // A dies: its lease is revoked, its records stay in etcd.
    a.leave();
    drop(ta);

    let (b, tb, store_b) = join(&etcd, "b");
    let (c, tc, store_c) = join(&etcd, "c");
    assert!(b.id() != a.id() && c.id() != a.id() && b.id() != c.id());

    let (mut wins_b, mut wins_c, mut undone) = (0u64, 0u64, 0u64);
    for (round, id) in ids.iter().copied().enumerate() {
        let barrier = Barrier::new(2);
        let race = |cl: &Cluster, t: &HandleTable| {
            barrier.wait();
            cl.take_over(t, id)
        };
        let (race, nb, nc, tb, tc) = (&race, &*b, &*c, &tb, &tc);
        let (rb, rc) = std::thread::scope(|s| {
            let hb = s.spawn(move || race(nb, tb));
            let hc = s.spawn(move || race(nc, tc));
            (hb.join().unwrap(), hc.join().unwrap())
        });
        let lost = |r: &Result<Location, TakeOverError>| {
            matches!(r, Err(TakeOverError::Taken) | Err(TakeOverError::NotFound))
        };
        let (winner, loc) = match (&rb, &rc) {
            (Ok(l), r) if lost(r) => (tb, *l),
            (r, Ok(l)) if lost(r) => (tc, *l),
            _ => panic!("round {round}: b {rb:?}, c {rc:?}: exactly one must win"),
        };
        // Taken: the loser adopted it too, and etcd's transaction undid it.
        undone += u64::from(matches!(
            (&rb, &rc),
            (Err(TakeOverError::Taken), _) | (_, Err(TakeOverError::Taken))
        ));
        if rb.is_ok() {
            wins_b += 1;
        } else {
            wins_c += 1;
        }
        let h = winner.get(loc).expect("the winner holds the open");
        assert!(h.handle_info.disconnected, "taken over, waiting for its client");
        // Nothing is left in the loser's table.
        let loser = if rb.is_ok() { tc } else { tb };
        assert_eq!(loser.len(), if rb.is_ok() { wins_c } else { wins_b } as usize);
        assert_eq!(winner.len(), if rb.is_ok() { wins_b } else { wins_c } as usize);
    }
    eprintln!(
        "cluster_adopt: {ROUNDS} rounds, b won {wins_b}, c won {wins_c}; \
         {undone} losers had adopted it and were undone by the transaction"
    );
    assert_eq!(wins_b + wins_c, ROUNDS);

    // etcd: every record once, under its winner.
    let held_b: Vec<u64> = store_b.load().unwrap().opens.iter().map(|o| o.persistent_id).collect();
    let held_c: Vec<u64> = store_c.load().unwrap().opens.iter().map(|o| o.persistent_id).collect();
    assert_eq!((held_b.len() as u64, held_c.len() as u64), (wins_b, wins_c));
    let mut all: Vec<u64> = held_b.iter().chain(&held_c).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len() as u64, ROUNDS, "no record twice");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert!(rt.block_on(b.orphans()).unwrap().is_empty(), "none left under the dead node");
    b.leave();
    c.leave();
    drop(etcd);
}
