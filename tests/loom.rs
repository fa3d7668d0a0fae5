//! Model checking of the shard protocol with [loom](https://docs.rs/loom)
//! (issue 10): every interleaving of the table's lock and atomic operations,
//! up to a preemption bound, for small tables (two shards, a handful of
//! handles, so a credit chunk is one handle and the slow path is one open
//! away).
//!
//! Built only with `RUSTFLAGS="--cfg smb_handles_loom"`, where `src/sync.rs`
//! swaps the table's `parking_lot` lock and `std` atomics for loom's. Run with
//! `scripts/model-check.sh`; each model prints how many interleavings it
//! explored. `LOOM_MAX_PREEMPTIONS=n` overrides every model's bound.
//!
//! Loom checks, in every interleaving: the assertions below, that no lock
//! order deadlocks (loom fails a model whose threads all block), and no
//! overflow in the credit arithmetic (the script's profile keeps overflow
//! checks and debug assertions on).
#![cfg(smb_handles_loom)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Instant;

use loom::thread;
use smb_handles::{
    AccessMask, CloseError, Config, FileHandle, FileNumber, HandleTable, ListQuery, Location,
    OpenError, OpenSpec,
};

/// Runs `model` in every interleaving loom finds with at most `bound`
/// preemptions, counting the executions (with a `std` counter, outside the
/// model) and printing the count.
fn check<F>(name: &str, bound: usize, model: F) -> usize
where
    F: Fn() + Sync + Send + 'static,
{
    let runs = Arc::new(StdAtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    let bound = builder.preemption_bound.unwrap_or(bound);
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, StdOrdering::Relaxed);
        model();
    });
    let n = runs.load(StdOrdering::Relaxed);
    println!(
        "model {name}: {n} interleavings explored (preemption bound {bound}) in {:.2?}",
        start.elapsed()
    );
    assert!(n > 1, "{name}: the model explored a single interleaving: nothing raced");
    n
}

fn spec(file: u64) -> OpenSpec {
    OpenSpec::new(
        FileNumber(file),
        format!("/share/{file}"),
        "S-1-5-21-1",
        AccessMask::FILE_READ_DATA,
    )
}

fn table(shards: usize, max_handles: usize) -> HandleTable {
    HandleTable::with_config(Config::default().shards(shards).max_handles(max_handles))
}

/// The shard a location names (the public layout of `smb_handles::location`).
fn shard_of(loc: Location) -> usize {
    ((loc.as_u64() >> 24) & 0xff) as usize
}

/// A file number whose handles land in shard 0 of a two-shard table, and
/// one for shard 1, found once by opening (inside a one-thread model, since
/// the table's locks are loom's here).
fn files() -> (u64, u64) {
    static FILES: OnceLock<(u64, u64)> = OnceLock::new();
    *FILES.get_or_init(|| {
        let found = Arc::new(StdMutex::new([None, None]));
        let out = Arc::clone(&found);
        loom::model(move || {
            let t = table(2, 64);
            let mut f = [None, None];
            for file in 0..64 {
                let s = shard_of(t.open(spec(file)).unwrap());
                f[s].get_or_insert(file);
                if f.iter().all(Option::is_some) {
                    break;
                }
            }
            *out.lock().unwrap() = f;
        });
        let f = *found.lock().unwrap();
        (f[0].expect("a file in shard 0"), f[1].expect("a file in shard 1"))
    })
}

/// After the threads are done: the table has no leaked or duplicated open
/// credit, i.e. exactly `max_handles - len()` more opens fit (alternating
/// shards, so spare credits parked in either shard must be reclaimed).
fn assert_exact_capacity(t: &HandleTable, (f0, f1): (u64, u64)) {
    let free = t.max_handles() - t.len();
    let mut opened = Vec::new();
    for i in 0..free {
        let file = if i % 2 == 0 { f1 } else { f0 };
        opened.push(t.open(spec(file)).expect("a free place refused: credit leaked"));
    }
    for file in [f0, f1] {
        assert_eq!(
            t.open(spec(file)),
            Err(OpenError::TableFull { max_handles: t.max_handles() }),
            "an open past max_handles succeeded: credit duplicated"
        );
    }
    for loc in opened {
        t.close(loc).unwrap();
    }
}

/// Pages through the whole table `limit` handles at a time; the locations
/// listed, in order.
fn walk(t: &HandleTable, limit: usize) -> Vec<Location> {
    let mut seen = Vec::new();
    let mut query = ListQuery { limit: Some(limit), ..ListQuery::default() };
    loop {
        let page = t.list(&query).unwrap();
        assert!(page.file_handles.len() <= limit);
        seen.extend(page.file_handles.iter().map(|h| h.handle_info.location));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return seen,
        }
    }
}

fn closed_location(r: &Result<FileHandle, CloseError>) -> Option<Location> {
    r.as_ref().ok().map(|h| h.handle_info.location)
}

/// The credit refill and the slow path: a three-handle table with a spare
/// credit parked in shard 0, and two threads each opening twice, one in
/// shard 0 and one in shard 1. The refills race on `reserved` (a chunk is
/// one handle), and an open that finds no credit in its shard nor in
/// `reserved` takes every shard's lock to reclaim the spare ones. Of the
/// four opens exactly three succeed in every interleaving (a refusal only
/// when the table really holds `max_handles`), and afterwards exactly
/// `max_handles` handles fit again.
#[test]
fn open_credit_refill_and_reclaiming_slow_path() {
    let files = files();
    let (f0, f1) = files;
    check("open_credit_refill_and_reclaiming_slow_path", 8, move || {
        // 2 shards, 3 handles: a credit chunk of one handle.
        let t = Arc::new(table(2, 3));
        let parked = t.open(spec(f0)).unwrap();
        t.close(parked).unwrap(); // shard 0 keeps the credit

        let t1 = Arc::clone(&t);
        let opener = thread::spawn(move || vec![t1.open(spec(f1)), t1.open(spec(f1))]);
        let mine = [t.open(spec(f0)), t.open(spec(f0))];
        let mut results = opener.join().unwrap();
        results.extend(mine);

        let ok: Vec<Location> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        assert_eq!(ok.len(), 3, "three of four opens fit a table of three: {results:?}");
        for r in &results {
            if let Err(e) = r {
                assert_eq!(*e, OpenError::TableFull { max_handles: 3 });
            }
        }
        assert_eq!(t.len(), 3);
        for loc in ok {
            t.close(loc).unwrap();
        }
        assert_exact_capacity(&t, files);
    });
}

/// Two slow paths at once, from different shards: a full two-handle table;
/// each thread opens in its own shard (no credit anywhere: both take every
/// shard's lock, which must be in one global order or they deadlock) and
/// then closes its shard's old handle. In any serial order at most one of
/// the opens succeeds (each needs the other thread's close to come first),
/// and a refusal is `TableFull`.
#[test]
fn two_reclaiming_slow_paths_at_once() {
    let files = files();
    let (f0, f1) = files;
    check("two_reclaiming_slow_paths_at_once", 8, move || {
        let t = Arc::new(table(2, 2));
        let h0 = t.open(spec(f0)).unwrap();
        let h1 = t.open(spec(f1)).unwrap();

        let t1 = Arc::clone(&t);
        let other = thread::spawn(move || {
            let r = t1.open(spec(f0));
            t1.close(h0).unwrap();
            r
        });
        let mine = t.open(spec(f1));
        t.close(h1).unwrap();
        let theirs = other.join().unwrap();

        let ok: Vec<Location> =
            [&mine, &theirs].iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        assert!(ok.len() <= 1, "both opens fit a full table: {mine:?} {theirs:?}");
        for r in [&mine, &theirs] {
            if let Err(e) = r {
                assert_eq!(*e, OpenError::TableFull { max_handles: 2 });
            }
        }
        assert_eq!(t.len(), ok.len());
        for loc in ok {
            t.close(loc).unwrap();
        }
        assert_exact_capacity(&t, files);
    });
}

/// `close_batch` against the slow path: a full two-handle table; one thread
/// batch-closes both handles (shard 1's first, then shard 0's: each shard's
/// lock in turn) while another opens in shard 0 and then in shard 1 (no
/// credit anywhere until a close returns one: the slow path, every lock at
/// once). Nothing deadlocks, every open that fails finds the table really
/// full, and the credits add up afterwards.
#[test]
fn close_batch_against_reclaiming_slow_path() {
    let files = files();
    let (f0, f1) = files;
    check("close_batch_against_reclaiming_slow_path", 8, move || {
        let t = Arc::new(table(2, 2));
        let h0 = t.open(spec(f0)).unwrap();
        let h1 = t.open(spec(f1)).unwrap();

        let t1 = Arc::clone(&t);
        let batch = thread::spawn(move || t1.close_batch(&[h1, h0]));
        let opened = [t.open(spec(f0)), t.open(spec(f1))];
        let batch = batch.join().unwrap();

        assert!(batch.iter().all(Result::is_ok), "nobody else closes them: {batch:?}");
        let ok: Vec<Location> = opened.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        for r in &opened {
            if let Err(e) = r {
                assert_eq!(*e, OpenError::TableFull { max_handles: 2 });
            }
        }
        // The second open runs after the first; if the first was refused
        // (both old handles still open), the second may be refused too, but
        // an open refused after the batch finished would be a lost credit.
        assert_eq!(t.len(), ok.len());
        for loc in ok {
            t.close(loc).unwrap();
        }
        assert_exact_capacity(&t, files);
    });
}

/// The slow path against a close and a page walk: the table is full; one
/// thread closes a handle of shard 0 and opens another there, one opens in
/// shard 1 (no credit anywhere but the one the close frees: the slow path),
/// one lists the table (read locks, one shard at a time, while the slow path
/// holds every write lock). Exactly one of the two opens succeeds, as in any
/// serial order; nothing deadlocks.
#[test]
fn reclaiming_slow_path_against_close_and_list() {
    let files = files();
    let (f0, f1) = files;
    check("reclaiming_slow_path_against_close_and_list", 8, move || {
        let t = Arc::new(table(2, 2));
        let h0 = t.open(spec(f0)).unwrap();
        let h1 = t.open(spec(f1)).unwrap();

        let t1 = Arc::clone(&t);
        let closer = thread::spawn(move || {
            t1.close(h0).unwrap();
            t1.open(spec(f0))
        });
        let t2 = Arc::clone(&t);
        let lister = thread::spawn(move || {
            t2.list(&ListQuery { limit: Some(1), ..ListQuery::default() }).unwrap().file_handles
        });
        let mine = t.open(spec(f1));
        let theirs = closer.join().unwrap();
        let page = lister.join().unwrap();

        assert_eq!(
            mine.is_ok() as usize + theirs.is_ok() as usize,
            1,
            "one place freed, two opens: {mine:?} {theirs:?}"
        );
        for r in [&mine, &theirs] {
            if let Err(e) = r {
                assert_eq!(*e, OpenError::TableFull { max_handles: 2 });
            }
        }
        // The first page holds h0, or (h0 closed) one of the other handles.
        assert_eq!(page.len(), 1);
        let listed = page[0].handle_info.location;
        assert!(
            listed == h0 || listed == h1 || Ok(listed) == mine || Ok(listed) == theirs,
            "listed a handle that never existed: {listed:?}"
        );
        assert_eq!(t.len(), 2);
        assert_exact_capacity(&t, files);
    });
}

/// Concurrent closes of one location: two threads close it and a third
/// batch-closes it twice; exactly one of the four wins and returns the
/// record, the others get `NotFound`. Meanwhile the main thread opens a
/// handle in the same shard, which may reuse the closed slot (with the next
/// generation): no losing close may close it.
#[test]
fn concurrent_closes_of_one_location_exactly_one_wins() {
    let files = files();
    let (f0, _) = files;
    check("concurrent_closes_of_one_location_exactly_one_wins", 8, move || {
        let t = Arc::new(table(2, 4));
        let h = t.open(spec(f0)).unwrap();

        let closers: Vec<_> = (0..2)
            .map(|_| {
                let t = Arc::clone(&t);
                thread::spawn(move || t.close(h))
            })
            .collect();
        let t3 = Arc::clone(&t);
        let batch = thread::spawn(move || t3.close_batch(&[h, h]));
        let fresh = t.open(spec(f0)).unwrap();
        let mut results: Vec<_> = closers.into_iter().map(|c| c.join().unwrap()).collect();
        let batch = batch.join().unwrap();
        assert_eq!(batch[1], Err(CloseError::NotFound), "a repeat in a batch closes once");
        results.extend(batch);

        let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "exactly one close wins: {results:?}");
        assert_eq!(closed_location(won[0]), Some(h));
        assert!(results.iter().any(|r| *r == Err(CloseError::NotFound)));
        assert_ne!(fresh, h);
        assert!(t.get(fresh).is_some(), "a losing close closed the slot's next handle");
        assert!(t.get(h).is_none());
        assert_eq!(t.close(h), Err(CloseError::NotFound));
        assert_eq!(t.len(), 1);
        t.close(fresh).unwrap();
        assert_exact_capacity(&t, files);
    });
}

/// `close_batch` against `close` and `open`: a batch closes a, b, a again,
/// c and d (three of them in shard 0, so its returned credits pass two
/// chunks and are trimmed back to `reserved`) while another thread closes c
/// and b and then opens in shard 1 (a refill racing the trim). Each location
/// is closed exactly once across both threads, the batch's repeat of `a` is
/// `NotFound`, every result names its input, and afterwards the credits
/// add up exactly.
#[test]
fn close_batch_against_close() {
    let files = files();
    let (f0, f1) = files;
    check("close_batch_against_close", 8, move || {
        // 2 shards, 4 handles: a chunk of one, trimmed above two spare.
        let t = Arc::new(table(2, 4));
        let a = t.open(spec(f0)).unwrap();
        let b = t.open(spec(f1)).unwrap();
        let c = t.open(spec(f0)).unwrap();
        let d = t.open(spec(f0)).unwrap();

        let t1 = Arc::clone(&t);
        let batch = thread::spawn(move || t1.close_batch(&[a, b, a, c, d]));
        let single = [t.close(c), t.close(b)];
        let opened = t.open(spec(f1));
        let batch = batch.join().unwrap();

        assert_eq!(batch.len(), 5);
        assert_eq!(batch[2], Err(CloseError::NotFound), "a repeat in a batch closes once");
        for (r, loc) in batch.iter().zip([a, b, a, c, d]) {
            if let Some(closed) = closed_location(r) {
                assert_eq!(closed, loc, "batch results are in input order");
            }
        }
        for (r, loc) in single.iter().zip([c, b]) {
            if let Some(closed) = closed_location(r) {
                assert_eq!(closed, loc);
            }
        }
        for loc in [a, b, c, d] {
            let wins = batch.iter().chain(&single).filter(|r| closed_location(r) == Some(loc));
            assert_eq!(wins.count(), 1, "{loc:?} closed exactly once: {batch:?} {single:?}");
        }
        let fresh = opened.expect("b was closed before this open: a place was free");
        assert_eq!(t.len(), 1);
        t.close(fresh).unwrap();
        assert_exact_capacity(&t, files);
    });
}

/// A paging walk (one handle per page, so the cursor resumes inside a shard
/// and across shards) against opens and closes: shard 0 holds x (slot 0),
/// l0 (slot 1) and w (slot 2), shard 1 holds l1. Meanwhile another thread
/// closes x, opens y in shard 0 (reusing x's slot, before the cursor),
/// closes w and opens z in shard 1. l0 and l1, open for the whole walk, are
/// each listed exactly once; x, w, y and z at most once; nothing else.
#[test]
fn paging_walk_against_opens_and_closes() {
    let (f0, f1) = files();
    check("paging_walk_against_opens_and_closes", 8, move || {
        let t = Arc::new(table(2, 8));
        let x = t.open(spec(f0)).unwrap();
        let l0 = t.open(spec(f0)).unwrap();
        let w = t.open(spec(f0)).unwrap();
        let l1 = t.open(spec(f1)).unwrap();

        let t1 = Arc::clone(&t);
        let walker = thread::spawn(move || walk(&t1, 1));
        t.close(x).unwrap();
        let y = t.open(spec(f0)).unwrap();
        t.close(w).unwrap();
        let z = t.open(spec(f1)).unwrap();
        let seen = walker.join().unwrap();

        let count = |loc| seen.iter().filter(|&&s| s == loc).count();
        assert_eq!(count(l0), 1, "l0, open for the whole walk: {seen:?}");
        assert_eq!(count(l1), 1, "l1, open for the whole walk: {seen:?}");
        for loc in [x, w, y, z] {
            assert!(count(loc) <= 1, "{loc:?} listed twice: {seen:?}");
        }
        let known: HashSet<Location> = [x, l0, w, l1, y, z].into();
        assert!(seen.iter().all(|s| known.contains(s)), "listed a stranger: {seen:?}");
        assert_eq!(t.len(), 4);
    });
}

/// The paging walk against two threads changing both shards at once: shard
/// 0 holds x (slot 0) and l0 (slot 1), shard 1 holds l1 (slot 0) and v
/// (slot 1); one thread closes x and opens y in shard 0 (x's slot, behind
/// the cursor or ahead of it), another closes v and opens z in shard 1, while
/// the walker pages one handle at a time. l0 and l1 are listed exactly once,
/// the others at most once.
#[test]
fn paging_walk_against_two_mutators() {
    let (f0, f1) = files();
    check("paging_walk_against_two_mutators", 6, move || {
        let t = Arc::new(table(2, 8));
        let x = t.open(spec(f0)).unwrap();
        let l0 = t.open(spec(f0)).unwrap();
        let l1 = t.open(spec(f1)).unwrap();
        let v = t.open(spec(f1)).unwrap();

        let t1 = Arc::clone(&t);
        let walker = thread::spawn(move || walk(&t1, 1));
        let t2 = Arc::clone(&t);
        let mutator = thread::spawn(move || {
            t2.close(x).unwrap();
            t2.open(spec(f0)).unwrap()
        });
        t.close(v).unwrap();
        let z = t.open(spec(f1)).unwrap();
        let y = mutator.join().unwrap();
        let seen = walker.join().unwrap();

        let count = |loc| seen.iter().filter(|&&s| s == loc).count();
        assert_eq!(count(l0), 1, "l0, open for the whole walk: {seen:?}");
        assert_eq!(count(l1), 1, "l1, open for the whole walk: {seen:?}");
        for loc in [x, v, y, z] {
            assert!(count(loc) <= 1, "{loc:?} listed twice: {seen:?}");
        }
        let known: HashSet<Location> = [x, l0, l1, v, y, z].into();
        assert!(seen.iter().all(|s| known.contains(s)), "listed a stranger: {seen:?}");
        assert_eq!(t.len(), 4);
    });
}

/// A session with one tree connect, in a table of `shards` shards.
fn session_table(shards: usize) -> (HandleTable, smb_handles::SessionId, smb_handles::TreeId) {
    use smb_handles::{SessionSpec, User};
    let t = table(shards, 8);
    let ip = std::net::IpAddr::from([10, 0, 0, 7]);
    let s = t.session_setup(SessionSpec::new(1, User::new("S-1-5-21-1", "alice"), ip)).unwrap();
    let tree = t.tree_connect(s, "finance").unwrap();
    (t, s, tree)
}

/// Issue 16: an open into a tree racing its session's logoff either
/// completes first (and the logoff closes it) or fails with
/// `SessionDeleted`; never a handle left in the dead session. The logoff
/// answers the handles it closed, exactly those.
#[test]
fn logoff_against_open_into_its_tree() {
    // Two shards, the open in shard 1: the logoff must find the shard
    // through the tree's shard mark, which the open sets before its check.
    let (_, f1) = files();
    check("logoff_against_open_into_its_tree", 4, move || {
        let (t, s, tree) = session_table(2);
        let t = Arc::new(t);
        let opener = {
            let t = Arc::clone(&t);
            thread::spawn(move || t.open(spec(f1).tree(tree)))
        };
        let out = t.logoff(s).unwrap();
        let opened = opener.join().unwrap();
        match opened {
            Ok(loc) => {
                assert_eq!(out.closed, 1, "the open finished first: the logoff closed it");
                assert_eq!(closed_location(&out.results[0]), Some(loc));
                assert!(t.get(loc).is_none());
            }
            Err(e) => {
                assert_eq!(e, OpenError::SessionDeleted);
                assert_eq!(out.closed, 0);
            }
        }
        assert_eq!(t.len(), 0, "a handle was left in a logged-off session");
        assert!(t.session(s).is_none());
        assert_eq!(t.open(spec(f1).tree(tree)), Err(OpenError::SessionDeleted));
    });
}

/// A lock racing a logoff of the handle's session: it is granted before the
/// logoff closes the handle (and released by it) or finds the handle
/// closed; either way the lock is gone afterwards, and another client can
/// take the range.
#[test]
fn logoff_against_lock_in_its_session() {
    use smb_handles::{LockElement, LockKind, LockRangeError};
    check("logoff_against_lock_in_its_session", 4, move || {
        let (t, s, tree) = session_table(1);
        let h = t.open(spec(5).tree(tree)).unwrap();
        let t = Arc::new(t);
        let range = [LockElement { offset: 0, length: 10, kind: LockKind::Exclusive }];
        let locker = {
            let t = Arc::clone(&t);
            thread::spawn(move || t.lock(h, &range))
        };
        let out = t.logoff(s).unwrap();
        match locker.join().unwrap() {
            Ok(n) => assert_eq!(n, 1),
            Err(e) => assert_eq!(e, LockRangeError::NotFound),
        }
        assert_eq!(out.closed, 1);
        assert_eq!(t.len(), 0);
        let other = t.open(spec(5)).unwrap();
        assert_eq!(t.lock(other, &range), Ok(1), "the logged-off session's lock stayed");
    });
}

/// A tree disconnect racing a logoff of the tree's session: exactly one of
/// them ends the tree and closes its handle.
#[test]
fn tree_disconnect_against_logoff() {
    check("tree_disconnect_against_logoff", 4, move || {
        let (t, s, tree) = session_table(1);
        let h = t.open(spec(5).tree(tree)).unwrap();
        let t = Arc::new(t);
        let disconnecter = {
            let t = Arc::clone(&t);
            thread::spawn(move || t.tree_disconnect(tree))
        };
        let logged_off = t.logoff(s).unwrap();
        let closed = match disconnecter.join().unwrap() {
            Ok(out) => out.closed + logged_off.closed,
            Err(_) => logged_off.closed,
        };
        assert_eq!(closed, 1, "the handle was closed once");
        assert!(t.get(h).is_none());
        assert!(t.tree(tree).is_none());
    });
}

/// A waiting open against everything that can release it at once: B's
/// open waits for A's lease break (RWH to RH); one thread acknowledges the
/// break, another closes A's handle, and the main thread runs the break
/// timeout. In every interleaving the open completes exactly once, opened
/// (never refused, never twice, never lost), the acknowledgement is either
/// taken or refused as smbd refuses a late one (not breaking, or the lease
/// gone), and afterwards no break or waiting open is left.
#[test]
fn lease_ack_against_close_and_timeout_of_one_waiting_open() {
    use smb_handles::{
        AckError, CacheRequest, ClientGuid, LeaseKey, LeaseRequest, LeaseState, OpenOutcome,
    };
    use std::time::Duration;

    let (f0, _) = files();
    check("lease_ack_against_close_and_timeout_of_one_waiting_open", 3, move || {
        let config = Config::default().shards(2).max_handles(8).break_timeout(Duration::ZERO);
        let t = Arc::new(HandleTable::with_config(config));
        let done = Arc::new(StdMutex::new(Vec::new()));
        let log = Arc::clone(&done);
        t.set_completion_hook(Some(Arc::new(move |id, r: Result<_, OpenError>| {
            log.lock().unwrap().push((id, r.is_ok()));
        })));
        let (client, key) = (ClientGuid(1), LeaseKey(7));
        let lease = CacheRequest::Lease(LeaseRequest::v1(client, key, LeaseState::all()));
        let Ok(OpenOutcome::Opened(a)) = t.open_cached(spec(f0).cache(lease)) else {
            panic!("A's lease open");
        };
        let Ok(OpenOutcome::Pending(id)) = t.open_cached(spec(f0)) else {
            panic!("B's open waits for A's break");
        };
        let rh = LeaseState::READ | LeaseState::HANDLE;

        let t1 = Arc::clone(&t);
        let acker = thread::spawn(move || t1.ack_lease_break(client, key, rh));
        let t2 = Arc::clone(&t);
        let closer = thread::spawn(move || t2.close(a.location));
        t.expire_breaks(Instant::now() + Duration::from_secs(1));
        let acked = acker.join().unwrap();
        assert!(closer.join().unwrap().is_ok(), "A's close");

        assert!(
            matches!(acked, Ok(s) if s == rh)
                || acked == Err(AckError::NotBreaking)
                || acked == Err(AckError::LeaseNotFound),
            "the acknowledgement: {acked:?}"
        );
        assert_eq!(*done.lock().unwrap(), [(id, true)], "the waiting open completes once");
        assert_eq!(t.len(), 1, "B's handle is open, A's closed");
        t.expire_breaks(Instant::now() + Duration::from_secs(2));
        assert_eq!(t.next_break_deadline(), None);
    });
}

/// A reconnect of a disconnected durable open racing its expiry and a
/// conflicting open of another client: exactly one of them decides the
/// open's fate, under its shard's lock. Reconnected, it stays (the expiry
/// finds a stale location, the newcomer a sharing violation); otherwise it
/// is closed exactly once (by the expiry or by the newcomer, who then
/// opens) and the reconnect finds nothing.
#[test]
fn durable_reconnect_against_expiry_and_a_conflicting_open() {
    use smb_handles::{
        CacheRequest, ClientGuid, DurableSpec, OpenOutcome, OplockLevel, ReconnectError,
        ReconnectSpec, SessionSpec, ShareAccess, User,
    };
    use std::time::Duration;

    let (f0, _) = files();
    check("durable_reconnect_against_expiry_and_a_conflicting_open", 3, move || {
        let config = Config::default()
            .shards(2)
            .max_handles(8)
            .durable_timeouts(Duration::ZERO, Duration::ZERO);
        let t = Arc::new(HandleTable::with_config(config));
        let user = || User::new("S-1-5-21-1-1104", "alice");
        let ip = "10.0.0.1".parse().unwrap();
        let s = t.session_setup(SessionSpec::new(1, user(), ip)).unwrap();
        let tree = t.tree_connect(s, "share").unwrap();
        let client = ClientGuid(1);
        let open = spec(f0)
            .tree(tree)
            .cache(CacheRequest::Oplock(OplockLevel::Batch))
            .durable(DurableSpec::v1(client));
        let Ok(OpenOutcome::Opened(a)) = t.open_cached(open) else { panic!("A's durable open") };
        let id = a.durable.expect("batch: durable").persistent_id;
        assert_eq!(t.disconnect(s).unwrap().kept, 1);
        let s2 = t.session_setup(SessionSpec::new(2, user(), ip)).unwrap();
        let tree2 = t.tree_connect(s2, "share").unwrap();

        let t1 = Arc::clone(&t);
        let reconnect = thread::spawn(move || {
            t1.reconnect(&ReconnectSpec::v1(id, client, "S-1-5-21-1").tree(tree2))
        });
        let t2 = Arc::clone(&t);
        let expiry =
            thread::spawn(move || t2.expire_durable(Instant::now() + Duration::from_secs(1)));
        let newcomer = t.open(spec(f0).share_access(ShareAccess::empty()));
        let back = reconnect.join().unwrap();
        let expired = expiry.join().unwrap();

        assert!(t.get(a.location).is_none(), "the old location is stale or closed");
        match back {
            Ok(r) => {
                assert_eq!(expired, 0, "a reconnected open does not expire");
                // A holds its batch oplock again: the newcomer waits for its
                // break (a sharing violation once A acknowledges).
                assert!(matches!(newcomer, Err(OpenError::BreakPending { .. })), "{newcomer:?}");
                assert!(t.get(r.location).is_some());
                assert_eq!(t.len(), 1);
            }
            Err(e) => {
                assert_eq!(e, ReconnectError::NotFound);
                let by_newcomer = usize::from(newcomer.is_ok());
                // The newcomer opens either way once A is gone; it closed A
                // only if the expiry had not.
                assert!(newcomer.is_ok() || expired == 1, "{newcomer:?} {expired}");
                assert!(expired + by_newcomer >= 1);
                assert_eq!(t.len(), by_newcomer);
            }
        }
        assert_eq!(t.durable_count(), usize::from(back.is_ok()));
    });
}
