//! Persistent handles over a store (feature `store`): the grant, the store
//! kept up to date by opens, locks, reconnects and closes, recovery into a
//! fresh table; then the crash test: a child process makes persistent
//! opens, locks and closes from several threads, reporting each
//! acknowledgement; the parent kills it with SIGKILL at a random moment,
//! 200 times, recovers each time, and checks that every acknowledged open
//! is there with its locks, every acknowledged close stays closed, and
//! nothing else appears but operations in flight at the kill.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smb_handles::store::{HandleStore, MemoryStore, SqliteStore};
use smb_handles::*;

const SID: &str = "S-1-5-21-1-1104";

fn persistent(client: u128, guid: u128) -> DurableSpec {
    DurableSpec::v2(ClientGuid(client), CreateGuid(guid), Duration::from_secs(60)).persistent(true)
}

fn spec(file: u64) -> OpenSpec {
    OpenSpec::new(
        FileNumber(file),
        format!("/vm/{file}.vhdx"),
        SID,
        AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA,
    )
    .share_access(ShareAccess::READ)
}

fn opened(t: &HandleTable, s: OpenSpec) -> Opened {
    match t.open_cached(s) {
        Ok(OpenOutcome::Opened(o)) => o,
        other => panic!("open: {other:?}"),
    }
}

fn x(offset: u64) -> LockElement {
    LockElement { offset, length: 1, kind: LockKind::Exclusive }
}

#[test]
fn persistent_opens_are_in_the_store_before_they_are_answered() {
    let store = Arc::new(MemoryStore::new());
    let (t, rec) = HandleTable::with_store(Config::default(), store.clone()).unwrap();
    assert_eq!(rec.restored, 0);
    // Granted without any caching (a continuously available share).
    let o = opened(&t, spec(1).durable(persistent(1, 1)));
    let g = o.durable.expect("persistent");
    assert!(g.persistent);
    assert_eq!(store.load().unwrap().opens.len(), 1, "in the store when answered");
    // A durable (not persistent) open never touches the store.
    let d = opened(
        &t,
        spec(2)
            .cache(CacheRequest::Oplock(OplockLevel::Batch))
            .durable(DurableSpec::v1(ClientGuid(1))),
    );
    assert!(!d.durable.unwrap().persistent);
    let commits = store.commits();
    t.lock(d.location, &[x(0)]).unwrap();
    t.close(d.location).unwrap();
    assert_eq!(store.commits(), commits, "non-persistent opens never touch the store");
    // Locks and closes of the persistent one do.
    t.lock(o.location, &[x(5), x(9)]).unwrap();
    let stored = store.load().unwrap().opens;
    assert_eq!(stored[0].locks.len(), 2);
    t.unlock(o.location, &[LockRange { offset: 5, length: 1 }]).unwrap();
    assert_eq!(store.load().unwrap().opens[0].locks.len(), 1);
    t.close(o.location).unwrap();
    assert!(store.load().unwrap().opens.is_empty());
}

#[test]
fn a_recovered_table_holds_every_persistent_open_disconnected_at_its_location() {
    let store = Arc::new(MemoryStore::new());
    let (t, _) = HandleTable::with_store(Config::default(), store.clone()).unwrap();
    let a = opened(&t, spec(1).durable(persistent(1, 11)));
    let b = opened(&t, spec(2).durable(persistent(1, 12)));
    let closed = opened(&t, spec(3).durable(persistent(1, 13)));
    t.lock(a.location, &[x(100)]).unwrap();
    t.close(closed.location).unwrap();
    drop(t); // the process dies

    let (t, rec) = HandleTable::with_store(Config::default(), store).unwrap();
    assert_eq!((rec.restored, rec.damaged.len(), rec.refused.len()), (2, 0, 0));
    assert_eq!(t.len(), 2);
    for o in [&a, &b] {
        let h = t.get(o.location).expect("restored at its location");
        assert!(h.handle_info.disconnected && h.handle_info.durable);
    }
    assert!(t.get(closed.location).is_none(), "a close acknowledged stays closed");
    assert_eq!(t.get(a.location).unwrap().handle_info.num_byte_range_locks, 1);
    // Its share mode and its lock hold: a newcomer is refused (a
    // disconnected persistent open keeps the file for its client).
    assert_eq!(t.open(spec(1)), Err(OpenError::FileNotAvailable));
    // Its client reconnects and finds its lock.
    let s = t
        .session_setup(SessionSpec::new(9, User::new(SID, "u"), "10.0.0.2".parse().unwrap()))
        .unwrap();
    let tree = t.tree_connect(s, "vms").unwrap();
    let r = ReconnectSpec::v2(a.durable.unwrap().persistent_id, CreateGuid(11), ClientGuid(1), SID)
        .persistent(true)
        .tree(tree);
    let back = t.reconnect(&r).unwrap();
    assert!(back.durable.persistent);
    assert_eq!(t.get(back.location).unwrap().handle_info.num_byte_range_locks, 1);
    // Without the persistent flag a DH2C does not find a persistent open.
    let r2 =
        ReconnectSpec::v2(b.durable.unwrap().persistent_id, CreateGuid(12), ClientGuid(1), SID)
            .tree(tree);
    assert_eq!(t.reconnect(&r2), Err(ReconnectError::NotFound));
}

/// A node that dies leaves its persistent opens in its store; another
/// table takes one in (`adopt`) at a location of its own, and the client
/// reconnects there with its persistent id, its lock and share mode intact.
#[test]
fn another_table_adopts_a_persistent_open_and_its_client_reconnects_there() {
    let dead_store = Arc::new(MemoryStore::new());
    let (dead, _) = HandleTable::with_store(Config::default(), dead_store.clone()).unwrap();
    let o = opened(&dead, spec(5).durable(persistent(1, 31)));
    dead.lock(o.location, &[x(10)]).unwrap();
    let id = o.durable.unwrap().persistent_id;
    drop(dead);
    let stored = dead_store.load().unwrap().opens;
    assert_eq!(stored.len(), 1);

    let (t, _) = HandleTable::with_store(Config::default(), Arc::new(MemoryStore::new())).unwrap();
    // This table's own handles take the same slots the dead table used.
    let own: Vec<Opened> = (1000..1512).map(|f| opened(&t, spec(f))).collect();
    assert!(own.iter().any(|h| h.location == o.location), "a slot of the dead table is in use");
    let at = t.adopt(&stored[0]).unwrap();
    assert_ne!(at, o.location);
    let h = t.get(at).unwrap();
    assert!(h.handle_info.disconnected);
    assert_eq!(h.handle_info.num_byte_range_locks, 1);
    // Taken in once only.
    assert!(t.adopt(&stored[0]).is_err());
    // Its share mode (READ only) and its lock are in force before the
    // client is back.
    let writer = OpenSpec::new(FileNumber(5), "/vm/5.vhdx", SID, AccessMask::FILE_WRITE_DATA)
        .share_access(ShareAccess::all());
    assert!(t.open(writer).is_err(), "the adopted share mode is not in force");
    // The client reconnects with its persistent id.
    let spec = ReconnectSpec::v2(id, CreateGuid(31), ClientGuid(1), SID).persistent(true);
    let back = t.reconnect(&spec).unwrap();
    let h = t.get(back.location).unwrap();
    assert!(!h.handle_info.disconnected);
    assert_eq!(h.handle_info.num_byte_range_locks, 1);
    let other = opened(&t, spec_reader(5));
    assert!(t.lock(other.location, &[x(10)]).is_err(), "the adopted lock is not held");
    // The local handle at the dead table's location is untouched.
    assert!(t.get(o.location).is_some());
    assert_eq!(t.len(), own.len() + 2);
}

/// A reader of `file` that shares everything.
fn spec_reader(file: u64) -> OpenSpec {
    OpenSpec::new(FileNumber(file), format!("/vm/{file}.vhdx"), SID, AccessMask::FILE_READ_DATA)
        .share_access(ShareAccess::all())
}

#[test]
fn a_reconnected_open_is_recovered_at_its_new_location() {
    let dir = tempdir("reconnected");
    let path = dir.join("handles.db");
    let a = {
        let (t, _) =
            HandleTable::with_store(Config::default(), Arc::new(SqliteStore::open(&path).unwrap()))
                .unwrap();
        opened(&t, spec(1).durable(persistent(1, 21)))
    };
    let back = {
        let (t, _) =
            HandleTable::with_store(Config::default(), Arc::new(SqliteStore::open(&path).unwrap()))
                .unwrap();
        let id = a.durable.unwrap().persistent_id;
        t.reconnect(&ReconnectSpec::v2(id, CreateGuid(21), ClientGuid(1), SID).persistent(true))
            .unwrap()
    };
    let (t, rec) =
        HandleTable::with_store(Config::default(), Arc::new(SqliteStore::open(&path).unwrap()))
            .unwrap();
    assert_eq!(rec.restored, 1);
    assert!(t.get(a.location).is_none());
    assert!(t.get(back.location).is_some(), "at the location it was reconnected to");
    drop(t);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_record_the_table_cannot_hold_where_it_was_is_refused_not_misplaced() {
    use smb_handles::store::{StoreOp, StoredOpen};
    let store = Arc::new(MemoryStore::new());
    let (t, _) = HandleTable::with_store(Config::default().shards(8), store.clone()).unwrap();
    let locs: Vec<Location> = (1..=20)
        .map(|f| opened(&t, spec(f).durable(persistent(1, u128::from(f)))).location)
        .collect();
    drop(t);
    // The same store read by a table of 16 shards: a file in shard s of 8
    // lives in shard 2s or 2s + 1 of 16, so every record outside shard 0
    // cannot be restored where it was, and is refused, never misplaced.
    let shard = |l: &Location| (l.as_u64() >> 24) & 0xFF;
    let (t, rec) = HandleTable::with_store(Config::default().shards(16), store.clone()).unwrap();
    let outside = locs.iter().filter(|l| shard(l) != 0).count();
    assert!(outside > 0);
    // (A file of shard 0 may be in shard 1 of 16: refused too.)
    assert!(rec.refused.len() >= outside, "{rec:?}");
    assert_eq!(rec.restored + rec.refused.len(), 20);
    let refused: Vec<u64> = rec.refused.iter().map(|(id, _)| *id).collect();
    for l in &locs {
        let back = t.get(*l).is_some();
        assert_eq!(back, !refused.contains(&l.as_u64()), "{l}");
        assert!(!(back && shard(l) != 0), "{l} restored in a shard that is not its file's");
    }
    drop(t);
    store.commit(&locs.iter().map(|l| StoreOp::Remove(l.as_u64())).collect::<Vec<_>>()).unwrap();
    // A record with a location no table issues, and one in a shard the
    // table does not have.
    let mut bad = StoredOpen::new(0, 7, "/x", SID);
    bad.location = 0;
    let mut far = StoredOpen::new(0x1_FF00_0001, 8, "/y", SID);
    far.location = 0x1_FF00_0001;
    store.commit(&[StoreOp::Put(bad), StoreOp::Put(far)]).unwrap();
    let (_, rec) = HandleTable::with_store(Config::default().shards(8), store).unwrap();
    assert_eq!((rec.restored, rec.refused.len()), (0, 2), "{rec:?}");
}

/// A fresh directory under the target's tmp dir.
fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("smbh-persistent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---- the crash test ----

const CHILD_ENV: &str = "SMBH_CRASH_CHILD_DB";
const RUN_ENV: &str = "SMBH_CRASH_CHILD_RUN";
const THREADS: u64 = 4;

/// The child: not a test of its own (returns at once unless the parent
/// started this binary for it).
#[test]
fn crash_child() {
    let Ok(db) = std::env::var(CHILD_ENV) else { return };
    let run: u64 = std::env::var(RUN_ENV).unwrap().parse().unwrap();
    let (t, _) =
        HandleTable::with_store(Config::default(), Arc::new(SqliteStore::open(db).unwrap()))
            .unwrap();
    let t = Arc::new(t);
    println!("ready");
    let threads: Vec<_> = (0..THREADS)
        .map(|th| {
            let t = Arc::clone(&t);
            std::thread::spawn(move || {
                let mut mine: Vec<Location> = Vec::new();
                for seq in 0.. {
                    let file = run << 32 | th << 24 | seq;
                    println!("o {file}");
                    let d = persistent(u128::from(th) + 1, u128::from(file));
                    let o = match t.open_cached(spec(file).durable(d)) {
                        Ok(OpenOutcome::Opened(o)) => o,
                        other => panic!("child open: {other:?}"),
                    };
                    println!("O {} {file}", o.location);
                    if seq % 3 == 0 {
                        println!("l {} {seq}", o.location);
                        t.lock(o.location, &[x(seq)]).unwrap();
                        println!("L {} {seq}", o.location);
                    }
                    mine.push(o.location);
                    if seq % 2 == 1 {
                        let victim = mine.swap_remove((seq as usize * 7) % mine.len());
                        println!("c {victim}");
                        t.close(victim).unwrap();
                        println!("C {victim}");
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
}

/// What the parent knows of one handle.
#[derive(Debug, Default, Clone)]
struct Known {
    file: u64,
    locks: BTreeSet<u64>,
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempdir("crash");
    let db = dir.join("handles.db");
    let exe = std::env::current_exe().unwrap();
    let mut live: BTreeMap<Location, Known> = BTreeMap::new();
    let mut rng = 0x5EED_u64;
    let (mut acked_opens, mut acked_closes, mut acked_locks, mut in_flight_seen) = (0, 0, 0, 0);
    let started = Instant::now();
    for run in 1..=200u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, &db)
            .env(RUN_ENV, run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the child's recovery, then let it work a random while.
        // (libtest prints "test crash_child ... " before the child's line.)
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.ends_with("ready") => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    panic!("run {run}: the child never got ready: {e}");
                }
            }
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(5 + rng % 60));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        // Every line the child printed before it died.
        let (mut opens, mut closes) = (BTreeMap::new(), BTreeSet::new());
        let (mut open_intents, mut close_intents, mut lock_intents) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut locks: Vec<(Location, u64)> = Vec::new();
        for l in rx.try_iter() {
            let w: Vec<&str> = l.split(' ').collect();
            let loc = |s: &str| s.parse::<Location>().unwrap();
            match w[0] {
                "o" => drop(open_intents.insert(w[1].parse::<u64>().unwrap())),
                "O" => {
                    let file: u64 = w[2].parse().unwrap();
                    open_intents.remove(&file);
                    opens.insert(loc(w[1]), file);
                }
                "l" => drop(lock_intents.insert((loc(w[1]), w[2].parse::<u64>().unwrap()))),
                "L" => {
                    let k = (loc(w[1]), w[2].parse::<u64>().unwrap());
                    lock_intents.remove(&k);
                    locks.push(k);
                }
                "c" => drop(close_intents.insert(loc(w[1]))),
                "C" => {
                    close_intents.remove(&loc(w[1]));
                    closes.insert(loc(w[1]));
                }
                _ => {}
            }
        }
        acked_opens += opens.len();
        acked_closes += closes.len();
        acked_locks += locks.len();
        for (l, f) in &opens {
            live.insert(*l, Known { file: *f, locks: BTreeSet::new() });
        }
        for (l, off) in &locks {
            live.get_mut(l).expect("a lock on an acknowledged open").locks.insert(*off);
        }
        for l in &closes {
            live.remove(l);
        }
        // Recover and compare.
        let (t, rec) =
            HandleTable::with_store(Config::default(), Arc::new(SqliteStore::open(&db).unwrap()))
                .unwrap();
        assert!(rec.damaged.is_empty() && rec.refused.is_empty(), "run {run}: {rec:?}");
        let mut found: BTreeMap<Location, FileHandle> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = t.list(&ListQuery { after, ..ListQuery::default() }).unwrap();
            found.extend(page.file_handles.into_iter().map(|h| (h.handle_info.location, h)));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        for (l, k) in live.iter_mut() {
            match found.remove(l) {
                Some(h) => {
                    assert_eq!(h.file_number, FileNumber(k.file), "run {run}: {l}");
                    assert!(h.handle_info.disconnected, "run {run}: recovered disconnected");
                    let n = h.handle_info.num_byte_range_locks as usize;
                    let pending = lock_intents.iter().filter(|(il, _)| il == l).count();
                    assert!(
                        n >= k.locks.len() && n <= k.locks.len() + pending,
                        "run {run}: {l} has {n} locks, acknowledged {:?}",
                        k.locks
                    );
                    if n > k.locks.len() {
                        in_flight_seen += 1;
                        k.locks
                            .extend(lock_intents.iter().filter(|(il, _)| il == l).map(|(_, o)| *o));
                    }
                }
                None => {
                    assert!(close_intents.contains(l), "run {run}: acknowledged open {l} lost");
                    in_flight_seen += 1;
                    k.file = u64::MAX; // closed in flight: dropped below
                }
            }
        }
        live.retain(|_, k| k.file != u64::MAX);
        // What is left appeared without an acknowledgement: only opens in
        // flight at the kill may.
        for (l, h) in found {
            assert!(
                open_intents.contains(&h.file_number.0),
                "run {run}: {l} ({:?}) appeared from nowhere",
                h.file_number
            );
            in_flight_seen += 1;
            let n = h.handle_info.num_byte_range_locks;
            assert!(n <= 1);
            let locks = lock_intents.iter().filter(|(il, _)| *il == l).map(|(_, o)| *o).collect();
            live.insert(l, Known { file: h.file_number.0, locks });
        }
        assert_eq!(t.len(), live.len());
        drop(t);
    }
    println!(
        "crash test: 200 SIGKILLs in {:.1?}; acknowledged {acked_opens} opens, {acked_locks} locks, {acked_closes} closes; {in_flight_seen} operations in flight at a kill were found applied; {} persistent opens live at the end",
        started.elapsed(),
        live.len()
    );
    assert!(acked_opens > 200 && acked_closes > 50, "the children did too little to test anything");
    std::fs::remove_dir_all(dir).unwrap();
}
