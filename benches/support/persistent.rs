//! What the persistent-open benchmarks share (benches/store.rs and
//! benches/cluster.rs): the opens they make, the record a peer writes for
//! one, and the timing of many callers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use smb_handles::store::StoredOpen;
use smb_handles::{AccessMask, ClientGuid, CreateGuid, DurableSpec, FileNumber, OpenSpec};

/// The owner SID of every persistent open.
pub const OWNER: &str = "S-1-5-21-1004336348-1177238915-682003330-1104";

/// The `id`th persistent open of caller `caller`: a new file, a new create
/// GUID, its own path and owner strings.
pub fn persistent_spec(caller: usize, id: u64) -> OpenSpec {
    let d = DurableSpec::v2(
        ClientGuid(caller as u128 + 1),
        CreateGuid(u128::from(id)),
        Duration::from_secs(60),
    )
    .persistent(true);
    OpenSpec::new(
        FileNumber(4242 + id),
        format!("/project/q3/finance/report-{:08}.xlsx", id % 100_000_000),
        OWNER,
        AccessMask::from_bits_retain(0x0012_019f),
    )
    .durable(d)
}

/// The record the peer writes for the same open.
pub fn peer_record(spec: &OpenSpec, id: u64) -> StoredOpen {
    let mut open = StoredOpen::new(id, spec.file_number.0, &*spec.path, &*spec.owner);
    open.access = 0x0012_019f;
    open.share = 0x7;
    open.create_guid = u128::from(id).to_le_bytes();
    open.client_guid = [0xc1; 16];
    open.timeout_ms = 60_000;
    open
}

/// `iters` opens spread over `callers` threads; caller `k` runs
/// `open(k, item)` over the items `prepare` made for it before the common
/// start. The wall time from that start to the last open answered, per
/// `iters`.
pub fn run_prepared<T: Send>(
    callers: usize,
    iters: u64,
    next: &AtomicU64,
    prepare: &(dyn Fn(usize, u64) -> T + Sync),
    open: &(dyn Fn(usize, T) + Sync),
) -> Duration {
    let barrier = Barrier::new(callers + 1);
    let per = iters.div_ceil(callers as u64);
    let start = std::thread::scope(|s| {
        for caller in 0..callers {
            let barrier = &barrier;
            s.spawn(move || {
                let todo: Vec<T> = (0..per)
                    .map(|_| prepare(caller, next.fetch_add(1, Ordering::Relaxed)))
                    .collect();
                barrier.wait();
                for t in todo {
                    open(caller, t);
                }
            });
        }
        barrier.wait();
        Instant::now()
    });
    let done = (per * callers as u64) as f64;
    Duration::from_secs_f64(start.elapsed().as_secs_f64() * iters as f64 / done)
}
