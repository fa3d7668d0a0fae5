//! Bytes per live handle at 1 000 000 handles, for smb-handles and each
//! peer, counted by a global allocator (not estimated).
//!
//! Every table stores clones of the same shared `Arc<str>` paths and
//! owners, made before counting starts, so the numbers are the tables'
//! own memory: slots, indexes, spare capacity. The keys the benchmark
//! keeps live in a vector allocated before counting too.
//!
//! Writes JSON to the path in `BENCH_MEMORY_JSON` (default
//! `$CARGO_TARGET_DIR/bench-memory.json`, else `target/bench-memory.json`)
//! and prints a table. `scripts/bench.sh` runs it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use common::{Dash, MutexHashMap, NaiveShardedSlab, Ours, RwSlotMap, ShardedSlab, Strings, Table};

/// Counts the bytes currently allocated (and the peak).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n as isize, Ordering::Relaxed) + n as isize;
    PEAK.fetch_max(now.max(0) as usize, Ordering::Relaxed);
}

// SAFETY: forwards every call to `System` unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub((layout.size() - new_size) as isize, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 1_000_000;

struct Row {
    table: &'static str,
    live_bytes: usize,
    peak_bytes: usize,
}

fn measure<T: Table>(strings: &Strings) -> Row {
    let mut keys: Vec<T::Key> = Vec::with_capacity(N);
    let mut rng = common::Rng(42);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base as usize, Ordering::Relaxed);
    let table = T::create();
    // Inputs hold clones of the shared strings: making one allocates nothing.
    for _ in 0..N {
        keys.push(table.open(strings.input(&mut rng)));
    }
    let live = (LIVE.load(Ordering::Relaxed) - base) as usize;
    let peak = PEAK.load(Ordering::Relaxed) - base as usize;
    // Same handles, still there: keep the table alive until measured.
    assert!(table.get(keys[N / 2]).is_some());
    drop(table);
    Row { table: T::NAME, live_bytes: live, peak_bytes: peak }
}

fn main() {
    let strings = Strings::new();
    let rows = [
        measure::<Ours>(&strings),
        measure::<MutexHashMap>(&strings),
        measure::<Dash>(&strings),
        measure::<ShardedSlab>(&strings),
        measure::<RwSlotMap>(&strings),
        measure::<NaiveShardedSlab>(&strings),
    ];
    println!("{:<20} {:>14} {:>14} {:>14}", "table", "bytes/handle", "live MiB", "peak MiB");
    let mut json = String::from("{\n  \"handles\": 1000000,\n  \"tables\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let per = r.live_bytes as f64 / N as f64;
        println!(
            "{:<20} {:>14.1} {:>14.1} {:>14.1}",
            r.table,
            per,
            r.live_bytes as f64 / (1 << 20) as f64,
            r.peak_bytes as f64 / (1 << 20) as f64
        );
        json.push_str(&format!(
            "    {{\"table\": \"{}\", \"live_bytes\": {}, \"peak_bytes\": {}, \"bytes_per_handle\": {:.2}}}{}\n",
            r.table,
            r.live_bytes,
            r.peak_bytes,
            per,
            if i + 1 == rows.len() { "" } else { "," }
        ));
    }
    json.push_str("  ]\n}\n");
    let path = std::env::var("BENCH_MEMORY_JSON").unwrap_or_else(|_| {
        let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{dir}/bench-memory.json")
    });
    std::fs::write(&path, json).expect("write memory JSON");
    println!("wrote {path}");
}
