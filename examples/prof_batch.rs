// temporary profiling driver (not committed)
use smb_handles::*;
use std::sync::Arc;
fn main() {
    let t = HandleTable::new();
    let n = 1_000_000u64;
    let owner: Arc<str> = Arc::from("S-1-5-21-1004336348-1177238915-682003330-1104");
    let mut locs: Vec<Location> = (0..n)
        .map(|i| {
            t.open(OpenSpec::new(
                FileNumber(i * 7919),
                format!("/share/dir/file{i}.txt"),
                owner.clone(),
                AccessMask::FILE_READ_DATA,
            ))
            .unwrap()
        })
        .collect();
    // shuffle
    let mut s = 12345u64;
    for i in (1..locs.len()).rev() {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = (s >> 33) as usize % (i + 1);
        locs.swap(i, j);
    }
    let mut times = Vec::new();
    for r in 0..20 {
        let batch: Vec<Location> = locs[r * 10_000..(r + 1) * 10_000].to_vec();
        let st = std::time::Instant::now();
        let res = t.close_batch(&batch);
        let ok = res.iter().filter(|r| r.is_ok()).count();
        drop(res);
        let el = st.elapsed();
        assert_eq!(ok, 10_000);
        times.push(el.as_nanos() as f64 / 10_000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!("close_batch median {:.1} ns/handle", times[10]);
    let mut times = Vec::new();
    for r in 20..40 {
        let batch: Vec<Location> = locs[r * 10_000..(r + 1) * 10_000].to_vec();
        let st = std::time::Instant::now();
        for &l in &batch {
            std::hint::black_box(t.close(l).unwrap());
        }
        times.push(st.elapsed().as_nanos() as f64 / 10_000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!("close loop median {:.1} ns/handle", times[10]);
}
