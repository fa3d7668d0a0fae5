//! Several threads open, close, batch-close and page through one table at
//! once. Checks: every close of a location succeeds at most once across
//! threads, no live handle is lost, and the paging guarantee (every handle
//! open for the whole walk is seen exactly once, none twice).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use smb_handles::{
    AccessMask, Config, FileHandle, FileNumber, HandleTable, ListQuery, Location, OpenSpec,
};

fn spec(file: u64, owner: &str) -> OpenSpec {
    OpenSpec::new(FileNumber(file), format!("/share/{file}"), owner, AccessMask::FILE_READ_DATA)
}

/// A tiny deterministic generator so the test needs no extra dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn concurrent_open_close_batch_and_paging_keep_every_invariant() {
    let table = Arc::new(HandleTable::with_config(Config::default().shards(8)));
    // Long-lived handles: open before the walkers start, closed only after.
    let stable: HashSet<Location> =
        (0..2_000).map(|i| table.open(spec(i % 300, "stable")).unwrap()).collect();

    // Shared pool of churn locations that every closer races on.
    let pool: Arc<Mutex<Vec<Location>>> = Arc::new(Mutex::new(Vec::new()));
    let successes: Arc<Mutex<HashMap<Location, usize>>> = Arc::default();
    let opened_total = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers = 4;
    let walkers = 2;
    let barrier = Arc::new(Barrier::new(workers + walkers));

    let mut handles = Vec::new();
    for w in 0..workers {
        let (table, pool, successes, opened_total, barrier) =
            (table.clone(), pool.clone(), successes.clone(), opened_total.clone(), barrier.clone());
        handles.push(thread::spawn(move || {
            let mut rng = Rng(0x9E37_79B9 + w as u64);
            let mut mine = Vec::new();
            barrier.wait();
            for round in 0..3_000 {
                let loc = table.open(spec(rng.next() % 500, "churn")).unwrap();
                mine.push(loc);
                pool.lock().unwrap().push(loc);
                // Everyone closes from the shared pool, so closes race.
                let snapshot: Vec<Location> = {
                    let p = pool.lock().unwrap();
                    let n = p.len();
                    (0..4.min(n)).map(|_| p[(rng.next() as usize) % n]).collect()
                };
                let results = if round % 3 == 0 {
                    table.close_batch(&snapshot)
                } else {
                    snapshot.iter().map(|&l| table.close(l)).collect()
                };
                let mut s = successes.lock().unwrap();
                for (loc, r) in snapshot.iter().zip(results) {
                    if let Ok(h) = r {
                        assert_eq!(h.handle_info.location, *loc, "closed another handle");
                        assert_eq!(&*h.handle_info.owner, "churn");
                        *s.entry(*loc).or_default() += 1;
                    }
                }
            }
            opened_total.lock().unwrap().extend(mine);
        }));
    }

    let walks: Arc<Mutex<Vec<Vec<FileHandle>>>> = Arc::default();
    for _ in 0..walkers {
        let (table, walks, stop, barrier) =
            (table.clone(), walks.clone(), stop.clone(), barrier.clone());
        handles.push(thread::spawn(move || {
            barrier.wait();
            let mut n = 0;
            while n < 3 || !stop.load(Ordering::Relaxed) {
                let mut q = ListQuery { limit: Some(97), ..ListQuery::default() };
                let mut seen = Vec::new();
                loop {
                    let page = table.list(&q).unwrap();
                    seen.extend(page.file_handles);
                    match page.next {
                        Some(c) => q.after = Some(c),
                        None => break,
                    }
                }
                walks.lock().unwrap().push(seen);
                n += 1;
            }
        }));
    }
    let walker_handles = handles.split_off(workers);
    for h in handles {
        h.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for h in walker_handles {
        h.join().unwrap();
    }

    // Every close of a location succeeded at most once.
    let successes = successes.lock().unwrap();
    assert!(successes.values().all(|&n| n == 1), "a location closed twice");
    assert!(!successes.is_empty());

    // Paging: stable handles exactly once per walk; nothing twice.
    for walk in walks.lock().unwrap().iter() {
        let mut counts: HashMap<Location, usize> = HashMap::new();
        for h in walk {
            *counts.entry(h.handle_info.location).or_default() += 1;
        }
        assert!(counts.values().all(|&n| n == 1), "a handle listed twice in one walk");
        for loc in &stable {
            assert_eq!(counts.get(loc), Some(&1), "stable handle {loc} missed by a walk");
        }
    }

    // No live handle lost: what is still open is exactly stable + churn not closed.
    let opened = opened_total.lock().unwrap();
    let still_open: HashSet<Location> =
        opened.iter().copied().filter(|l| !successes.contains_key(l)).chain(stable).collect();
    assert_eq!(table.len(), still_open.len());
    for loc in &still_open {
        assert!(table.get(*loc).is_some(), "live handle {loc} lost");
    }
    let mut q = ListQuery { limit: Some(10_000), ..ListQuery::default() };
    let mut listed = HashSet::new();
    loop {
        let page = table.list(&q).unwrap();
        listed.extend(page.file_handles.iter().map(|h| h.handle_info.location));
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(listed, still_open);
}

/// Spare open credits parked in other shards never make an open fail while
/// the table holds fewer than `max_handles` handles.
#[test]
fn a_small_cap_refuses_only_when_really_full() {
    let table = Arc::new(HandleTable::with_config(Config::default().shards(16).max_handles(64)));
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let table = table.clone();
            thread::spawn(move || {
                let mut rng = Rng(0xC0FFEE + t);
                let mut held = Vec::new();
                for _ in 0..20_000 {
                    // Each thread keeps at most 20 open: 40 < 64 in all.
                    if held.len() == 20 {
                        let i = (rng.next() % 20) as usize;
                        table.close(held.swap_remove(i)).unwrap();
                    }
                    let loc = table
                        .open(spec(rng.next() % 1_000, "capped"))
                        .unwrap_or_else(|e| panic!("refused with {} open: {e}", table.len()));
                    held.push(loc);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(table.len(), 40);
    // And a full table still refuses.
    for i in 0..24 {
        table.open(spec(i, "fill")).unwrap();
    }
    assert!(table.open(spec(7, "over")).unwrap_err().is_table_full());
}

/// `len` sums the shards' counts one by one: a handle that moves from an
/// early shard to a late one while it adds must not be counted twice past
/// `max_handles` (the count is capped).
#[test]
fn len_never_exceeds_max_handles() {
    let table = Arc::new(HandleTable::with_config(Config::default().shards(256).max_handles(1)));
    // Two files in far-apart shards (the location's bits 31..24 are its shard).
    let shard_of = |file: u64| {
        let loc = table.open(spec(file, "probe")).unwrap();
        table.close(loc).unwrap();
        (loc.as_u64() >> 24) & 0xff
    };
    let mut by_shard: Vec<(u64, u64)> = (0..2_000).map(|f| (shard_of(f), f)).collect();
    by_shard.sort();
    let (early, late) = (by_shard[0].1, by_shard[by_shard.len() - 1].1);
    assert!(by_shard[0].0 + 100 < by_shard[by_shard.len() - 1].0);
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let (table, stop) = (table.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for f in [early, late] {
                    let loc = table.open(spec(f, "mover")).unwrap();
                    table.close(loc).unwrap();
                }
            }
        })
    };
    let start = std::time::Instant::now();
    let mut worst = 0;
    while start.elapsed() < std::time::Duration::from_millis(1500) && worst <= 1 {
        worst = worst.max(table.len());
    }
    stop.store(true, Ordering::Relaxed);
    mover.join().unwrap();
    assert!(worst <= 1, "len() reported {worst} with max_handles 1");
}
