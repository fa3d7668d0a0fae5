//! Bytes per live handle at 1 000 000 handles, for smb-handles and each
//! peer, on each workload shape, counted by a global allocator (not
//! estimated).
//!
//! Everything allocated while the table is filled and still live at the
//! end is counted: slots, indexes, per-file records, spare capacity, and
//! the strings the table keeps. With the `hot` shape every open hands over
//! freshly allocated path and owner strings (made inside the counted
//! window), so what a table keeps of them counts; with `distinct` and
//! `zipf` the caller shares its `Arc<str>`s, made before counting (a table
//! that copies them is still charged for its copies). The keys the
//! benchmark keeps live in a vector allocated before counting.
//!
//! `BENCH_QUICK=1` uses 20 000 handles (a smoke test);
//! `BENCH_TABLES` and `BENCH_SHAPES` select as in `benches/table.rs`.
//!
//! Writes JSON to the path in `BENCH_MEMORY_JSON` (default
//! `$CARGO_TARGET_DIR/bench-memory.json`, else `target/bench-memory.json`)
//! and prints a table. `scripts/bench.sh` runs it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use common::{
    Dash, FileArrayPeer, IntrusiveListPeer, MutexHashMap, NaiveShardedSlab, Ours, RwSlotMap, Shape,
    ShardedSlab, SlabFileMap, Table, Workload,
};

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

fn handles() -> usize {
    if std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0") {
        20_000
    } else {
        1_000_000
    }
}

struct Row {
    shape: &'static str,
    table: &'static str,
    live_bytes: usize,
    peak_bytes: usize,
}

fn measure<T: Table>(work: &Workload, rows: &mut Vec<Row>) {
    if !common::table_selected(T::NAME) {
        return;
    }
    let n = handles();
    let mut keys: Vec<T::Key> = Vec::with_capacity(n);
    let mut rng = common::Rng(42);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base as usize, Ordering::Relaxed);
    let table = T::create();
    // Shared-string inputs allocate nothing; fresh ones allocate their
    // strings here, counted (the table keeps them or frees them).
    for _ in 0..n {
        keys.push(table.open(work.input(&mut rng)));
    }
    let live = (LIVE.load(Ordering::Relaxed) - base) as usize;
    let peak = PEAK.load(Ordering::Relaxed) - base as usize;
    // Same handles, still there: keep the table alive until measured.
    assert!(table.get(keys[n / 2]).is_some());
    drop(table);
    rows.push(Row { shape: work.shape.name(), table: T::NAME, live_bytes: live, peak_bytes: peak });
}

fn main() {
    let n = handles();
    let mut rows = Vec::new();
    for shape in Shape::selected() {
        let work = Workload::new(shape, n);
        measure::<Ours>(&work, &mut rows);
        measure::<MutexHashMap>(&work, &mut rows);
        measure::<Dash>(&work, &mut rows);
        measure::<ShardedSlab>(&work, &mut rows);
        measure::<RwSlotMap>(&work, &mut rows);
        measure::<NaiveShardedSlab>(&work, &mut rows);
        measure::<IntrusiveListPeer>(&work, &mut rows);
        measure::<FileArrayPeer>(&work, &mut rows);
        measure::<SlabFileMap>(&work, &mut rows);
    }
    println!(
        "{:<10} {:<20} {:>14} {:>14} {:>14}",
        "shape", "table", "bytes/handle", "live MiB", "peak MiB"
    );
    let mut json = format!("{{\n  \"handles\": {n},\n  \"tables\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let per = r.live_bytes as f64 / n as f64;
        println!(
            "{:<10} {:<20} {:>14.1} {:>14.1} {:>14.1}",
            r.shape,
            r.table,
            per,
            r.live_bytes as f64 / (1 << 20) as f64,
            r.peak_bytes as f64 / (1 << 20) as f64
        );
        json.push_str(&format!(
            "    {{\"shape\": \"{}\", \"table\": \"{}\", \"live_bytes\": {}, \"peak_bytes\": {}, \"bytes_per_handle\": {:.2}}}{}\n",
            r.shape,
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
