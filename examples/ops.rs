//! One operation of the table on one workload shape at 10^6 live handles,
//! for profiles: fills the table, then runs 10^5 of the operation inside
//! `measured`, so callgrind can count that part alone:
//!
//! ```text
//! cargo build --release --example ops
//! valgrind --tool=callgrind --cache-sim=yes --toggle-collect='ops::measured' \
//!     target/release/examples/ops zipf open
//! ```
//!
//! Shapes as in `benches/`: `hot` (200 opens per file, fresh strings per
//! open), `distinct` (one open per file, shared strings), `zipf` (Zipf(1)
//! popularity over 10^6 files, shared strings). Operations: `open`,
//! `open_str` (`OpenSpec::borrowed`, path and owner in `String`s of the
//! caller's, copied per open into one reused pair of buffers, as a server
//! decodes each request into its own), `close`
//! (live handles in random order), `close_batch` (the same, 10 000 a
//! batch), `get` (random live handles), and
//! `c_open` (`smbh_open` through the C ABI, path and owner in byte buffers
//! of the caller's, fresh for every open), `c_close` (`smbh_close` of live
//! handles in random order, the table filled through the C ABI). Prints the wall-clock time per
//! operation (one run: for profiles, not a benchmark).

use std::sync::Arc;
use std::time::Instant;

use smb_handles::ffi::{self, smbh_status, smbh_table};
use smb_handles::{AccessMask, FileNumber, HandleTable, Location, OpenSpec};

const LIVE: usize = 1_000_000;
const OPS: usize = 100_000;

/// SplitMix64 (repeatable runs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct Shape {
    hot: bool,
    zipf: Vec<f64>,
    paths: Vec<Arc<str>>,
    owners: Vec<Arc<str>>,
}

impl Shape {
    fn spec(&self, rng: &mut Rng) -> OpenSpec {
        let r = rng.next();
        let owner = &self.owners[(r >> 20) as usize % self.owners.len()];
        let (file, path, owner): (u64, Arc<str>, Arc<str>) = if self.hot {
            let f = (r >> 32) % (LIVE / 200) as u64;
            let p = &self.paths[f as usize % self.paths.len()];
            (f.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, Arc::from(&**p), Arc::from(&**owner))
        } else if self.zipf.is_empty() {
            (r >> 8, self.paths[r as usize % self.paths.len()].clone(), owner.clone())
        } else {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            let rank = self.zipf.partition_point(|&c| c < u).min(self.zipf.len() - 1);
            let p = self.paths[rank % self.paths.len()].clone();
            ((rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, p, owner.clone())
        };
        OpenSpec::new(FileNumber(file), path, owner, AccessMask::from_bits_retain(0x0012_0089))
    }
}

#[inline(never)]
fn measured_open(table: &HandleTable, specs: Vec<OpenSpec>) -> Vec<Location> {
    specs.into_iter().map(|s| table.open(s).expect("opens")).collect()
}

#[inline(never)]
fn measured_open_str(table: &HandleTable, specs: &[(u64, String, String)]) -> Vec<Location> {
    let access = AccessMask::from_bits_retain(0x0012_0089);
    // One pair of buffers the "request" is decoded into, reused by every
    // open, as a server decodes each CREATE into its own buffers.
    let (mut path, mut owner) = (String::with_capacity(256), String::with_capacity(256));
    let mut open = |(f, p, o): &(u64, String, String)| {
        path.clear();
        path.push_str(p);
        owner.clear();
        owner.push_str(o);
        table.open(OpenSpec::borrowed(FileNumber(*f), &path, &owner, access)).expect("opens")
    };
    specs.iter().map(&mut open).collect()
}

/// One open through the C ABI, as a C server makes it.
fn c_open(table: *mut smbh_table, spec: &(u64, Vec<u8>, Vec<u8>)) -> u64 {
    let (file, path, owner) = spec;
    let mut loc = 0;
    // SAFETY: `table` came from `smbh_table_new` and is freed only at the
    // end of `run_c`, after every call; the strings are readable for their lengths and `loc`
    // is writable.
    let s = unsafe {
        ffi::smbh_open(
            table,
            *file,
            path.as_ptr().cast(),
            path.len(),
            owner.as_ptr().cast(),
            owner.len(),
            0x0012_0089,
            false,
            &mut loc,
        )
    };
    assert_eq!(s, smbh_status::Ok);
    loc
}

#[inline(never)]
fn measured_c_open(table: *mut smbh_table, specs: &[(u64, Vec<u8>, Vec<u8>)]) -> usize {
    specs.iter().map(|s| c_open(table, s)).filter(|&l| l != 0).count()
}

#[inline(never)]
fn measured_c_close(table: *mut smbh_table, locs: &[u64]) -> usize {
    // SAFETY: `table` came from `smbh_table_new` and is freed only at the
    // end of `run_c`, after every call.
    locs.iter().filter(|&&l| unsafe { ffi::smbh_close(table, l) } == smbh_status::Ok).count()
}

/// The `c_open` and `c_close` runs: a table made and filled through the C
/// ABI.
fn run_c(w: &Shape, rng: &mut Rng, shape: &str, op: &str) {
    let bytes = |s: OpenSpec| {
        let h = s.file_number.0;
        (h, s.path.as_bytes().to_vec(), s.owner.as_bytes().to_vec())
    };
    let mut table = std::ptr::null_mut();
    // SAFETY: `table` is writable; 0, 0 asks for the defaults.
    assert_eq!(unsafe { ffi::smbh_table_new(0, 0, &mut table) }, smbh_status::Ok);
    let mut live: Vec<u64> = (0..LIVE).map(|_| c_open(table, &bytes(w.spec(rng)))).collect();
    let (n, start) = if op == "c_open" {
        let specs: Vec<_> = (0..OPS).map(|_| bytes(w.spec(rng))).collect();
        let start = Instant::now();
        (measured_c_open(table, &specs), start)
    } else {
        for i in (1..live.len()).rev() {
            live.swap(i, rng.next() as usize % (i + 1));
        }
        let start = Instant::now();
        (measured_c_close(table, &live[..OPS]), start)
    };
    let ns = start.elapsed().as_nanos() as f64 / OPS as f64;
    println!("{shape} {op}: {n} of {OPS}, {ns:.0} ns per op");
    // SAFETY: made above, used by nothing after this.
    unsafe { ffi::smbh_table_free(table) };
}

#[inline(never)]
fn measured_close(table: &HandleTable, locs: &[Location]) -> usize {
    locs.iter().filter(|&&l| table.close(l).is_ok()).count()
}

#[inline(never)]
fn measured_close_batch(table: &HandleTable, locs: &[Location]) -> usize {
    locs.chunks(10_000).map(|c| table.close_batch(c).iter().filter(|r| r.is_ok()).count()).sum()
}

#[inline(never)]
fn measured_get(table: &HandleTable, locs: &[Location]) -> usize {
    locs.iter().filter(|&&l| table.get(l).is_some()).count()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (shape, op) = (args.next().unwrap_or_default(), args.next().unwrap_or_default());
    let zipf = shape == "zipf";
    if !matches!(shape.as_str(), "hot" | "distinct" | "zipf")
        || !matches!(
            op.as_str(),
            "open" | "open_str" | "close" | "close_batch" | "get" | "c_open" | "c_close"
        )
    {
        eprintln!(
            "usage: ops hot|distinct|zipf open|open_str|close|close_batch|get|c_open|c_close"
        );
        std::process::exit(2);
    }
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = if zipf {
        (1..=LIVE)
            .map(|k| {
                acc += 1.0 / k as f64;
                acc
            })
            .collect()
    } else {
        Vec::new()
    };
    cdf.iter_mut().for_each(|c| *c /= acc);
    let w = Shape {
        hot: shape == "hot",
        zipf: cdf,
        paths: (0..4096)
            .map(|i| Arc::from(format!("/projects/q{}/dir{}/r{i}.xlsx", i % 4, i % 97)))
            .collect(),
        owners: (0..64)
            .map(|i| Arc::from(format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1000 + i)))
            .collect(),
    };
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    if op.starts_with("c_") {
        run_c(&w, &mut rng, &shape, &op);
        return;
    }
    let table = HandleTable::new();
    let mut live: Vec<Location> =
        (0..LIVE).map(|_| table.open(w.spec(&mut rng)).expect("opens")).collect();
    for i in (1..live.len()).rev() {
        live.swap(i, rng.next() as usize % (i + 1));
    }
    let start;
    let n = match op.as_str() {
        "open" => {
            let specs: Vec<OpenSpec> = (0..OPS).map(|_| w.spec(&mut rng)).collect();
            start = Instant::now();
            measured_open(&table, specs).len()
        }
        "open_str" => {
            let specs: Vec<(u64, String, String)> = (0..OPS)
                .map(|_| {
                    let s = w.spec(&mut rng);
                    (s.file_number.0, s.path.to_string(), s.owner.to_string())
                })
                .collect();
            start = Instant::now();
            measured_open_str(&table, &specs).len()
        }
        "close" => {
            start = Instant::now();
            measured_close(&table, &live[..OPS])
        }
        "close_batch" => {
            start = Instant::now();
            measured_close_batch(&table, &live[..OPS])
        }
        _ => {
            let picks: Vec<Location> =
                (0..OPS).map(|_| live[rng.next() as usize % live.len()]).collect();
            start = Instant::now();
            measured_get(&table, &picks)
        }
    };
    let ns = start.elapsed().as_nanos() as f64 / OPS as f64;
    println!("{shape} {op}: {n} of {OPS}, {ns:.0} ns per op, {} live", table.len());
}
