//! What every target shares: the one place an `OpenSpec` is built, and a
//! small table filled the same way on every run.

#![allow(dead_code)] // each target uses a different part

use smb_handles::{AccessMask, Config, FileNumber, HandleTable, Location, OpenSpec};

/// Builds an open request. The only `OpenSpec` constructor in the fuzz
/// targets, so a change of its shape is a one-line change here.
pub fn spec(file: u64, path: &str, owner: &str, access_mask: AccessMask) -> OpenSpec {
    OpenSpec::new(FileNumber(file), path, owner, access_mask)
}

/// A small table (4 shards, at most `max` handles).
pub fn small_table(max: usize) -> HandleTable {
    HandleTable::with_config(Config::default().shards(4).max_handles(max))
}

/// Opens `n` handles on files 100.. and returns their locations in order.
pub fn fill(table: &HandleTable, n: u64) -> Vec<Location> {
    (0..n)
        .map(|i| {
            let mask = AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE;
            table
                .open(spec(100 + i % 3, &format!("/share/f{}", i % 3), "S-1-5-21-1-2-3-1104", mask))
                .expect("a valid open into a table with room")
        })
        .collect()
}
