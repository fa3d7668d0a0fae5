//! The table's plain paths, for instruction counts (`scripts/instructions.sh`
//! runs it under callgrind at two commits): 20 000 opens, then 20 000
//! open + close pairs, 20 000 gets and a close_batch of 10 000, on one
//! shape (`distinct`: a file per open; `hot`: one file).
//!
//! ```text
//! cargo run --release --example paths -- distinct
//! ```

use smb_handles::{AccessMask, FileNumber, HandleTable, Location, OpenSpec};

fn main() {
    let shape = std::env::args().nth(1).unwrap_or_else(|| "distinct".into());
    let hot = match shape.as_str() {
        "distinct" => false,
        "hot" => true,
        other => {
            eprintln!("paths: shape {other:?}: give distinct or hot");
            std::process::exit(2);
        }
    };
    const N: u64 = 20_000;
    let table = HandleTable::new();
    let spec = |i: u64| {
        let file = if hot { 7 } else { i };
        OpenSpec::new(
            FileNumber(file),
            format!("/share/dir/file{file}.dat"),
            "S-1-5-21-1004336348-1177238915-682003330-1104",
            AccessMask::FILE_READ_DATA,
        )
    };
    let live: Vec<Location> = (0..N).map(|i| table.open(spec(i)).expect("opens")).collect();
    for i in 0..N {
        let loc = table.open(spec(N + i)).expect("opens");
        table.close(loc).expect("closes");
    }
    let mut found = 0u64;
    for loc in &live {
        found += u64::from(table.get(*loc).is_some());
    }
    let closed = table.close_batch(&live[..(N / 2) as usize]);
    println!("{shape}: {found} found, {} closed, {} live", closed.len(), table.len());
}
