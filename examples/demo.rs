//! A small SMB file server's day, played against the handle table.
//!
//! Several client threads open about 100 000 handles over about 10 000
//! files, take and release byte-range locks, and close some handles; one
//! file is renamed. Then the administrator's view: the first page of the
//! listing as JSON, the handles of one file, the count from paging through
//! everything, and a force-close of one page by posting its JSON back.
//!
//! Run: `cargo run --release --example demo`

use std::sync::Arc;
use std::thread;
use std::time::Instant;

use smb_handles::{
    AccessMask, FileNumber, HandleTable, IoKind, ListQuery, Location, LockElement, LockKind,
    OpenError, OpenSpec, ShareAccess,
};

const CLIENTS: u64 = 4;
const OPENS_PER_CLIENT: u64 = 25_000;
const FILES: u64 = 10_000;

/// Deterministic xorshift, so every run plays the same day.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = Arc::new(HandleTable::new());
    // Paths are shared strings, as a server's own file cache would hold them.
    let paths: Arc<Vec<Arc<str>>> = Arc::new(
        (0..FILES).map(|f| Arc::from(format!("/share/dept{}/file{f}.docx", f % 17))).collect(),
    );

    let t = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (table, paths) = (table.clone(), paths.clone());
            thread::spawn(move || {
                let owner: Arc<str> =
                    Arc::from(format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1100 + c));
                let mut rng = Rng(0x5EED + c);
                let mut mine: Vec<Location> = Vec::new();
                let (mut closes, mut lock_ops) = (0u64, 0u64);
                for _ in 0..OPENS_PER_CLIENT {
                    let file = rng.next() % FILES;
                    let write = rng.next() % 4 == 0;
                    let access = if write {
                        AccessMask::FILE_READ_DATA
                            | AccessMask::FILE_WRITE_DATA
                            | AccessMask::SYNCHRONIZE
                    } else {
                        AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE
                    };
                    // Office-style opens: others may read and write, not delete.
                    let spec = OpenSpec::new(
                        FileNumber(file),
                        paths[file as usize].clone(),
                        owner.clone(),
                        access,
                    )
                    .share_access(ShareAccess::READ | ShareAccess::WRITE);
                    let loc = table.open(spec).expect("open");
                    if write {
                        // Two byte-range locks in this client's own region.
                        let base = c << 20;
                        let x =
                            |offset| LockElement { offset, length: 512, kind: LockKind::Exclusive };
                        if table.lock(loc, &[x(base), x(base + 4096)]).is_ok() {
                            lock_ops += 1;
                        }
                    }
                    mine.push(loc);
                    // One open in ten is a short-lived one the client closes.
                    if rng.next() % 10 == 0 {
                        let victim = mine.swap_remove((rng.next() as usize) % mine.len());
                        if let Ok(h) = table.close(victim) {
                            assert_eq!(h.handle_info.location, victim);
                            closes += 1;
                        }
                    }
                    // Every request looks its handle up.
                    let probe = mine[(rng.next() as usize) % mine.len()];
                    assert!(table.get(probe).is_some());
                }
                (closes, lock_ops)
            })
        })
        .collect();
    let (mut closes, mut locks) = (0u64, 0u64);
    for w in workers {
        let (c, l) = w.join().expect("client thread");
        closes += c;
        locks += l;
    }
    let opens = CLIENTS * OPENS_PER_CLIENT;
    println!(
        "clients: {CLIENTS} threads made {opens} opens over {FILES} files, {locks} lock changes, \
         {closes} closes, {} gets in {:.1?}; {} handles open",
        opens,
        t.elapsed(),
        table.len()
    );

    let t = Instant::now();
    let moved = table.rename_file(FileNumber(42), "/share/archive/file42-final.docx");
    println!("\nrename of file 42 moved {moved} handles in {:.1?}", t.elapsed());

    // Share modes and locks on file 42, as smbd would answer.
    let admin: Arc<str> = Arc::from("S-1-5-21-1004336348-1177238915-682003330-500");
    let delete = OpenSpec::new(FileNumber(42), "/x", admin.clone(), AccessMask::DELETE);
    match table.open(delete) {
        Err(e @ OpenError::SharingViolation) => println!(
            "an open of file 42 for DELETE: {e} (NTSTATUS {:#010x}): its opens do not share delete",
            e.nt_status()
        ),
        other => println!("an open of file 42 for DELETE: {other:?}"),
    }
    let stat =
        table.open(OpenSpec::new(FileNumber(42), "/x", admin, AccessMask::FILE_READ_ATTRIBUTES))?;
    let holder = table
        .list(&ListQuery { file_number: Some(FileNumber(42)), ..ListQuery::default() })?
        .file_handles
        .into_iter()
        .find(|h| h.handle_info.num_byte_range_locks > 0);
    if let Some(h) = holder {
        let other = table.check_io(stat, 0, 1 << 32, IoKind::Write);
        println!(
            "a stat open of file 42 is never refused; its write over the locks of {}: {:?}",
            h.handle_info.location, other
        );
    }
    table.close(stat)?;

    let t = Instant::now();
    let first =
        table.list(&ListQuery { resolve_paths: true, limit: Some(3), ..ListQuery::default() })?;
    let elapsed = t.elapsed();
    println!("\nGET /v1/smb/files?resolve_paths=true&limit=3 ({elapsed:.1?}):");
    println!("{}", serde_json::to_string_pretty(&first)?);

    let t = Instant::now();
    let one = table.list(&ListQuery {
        file_number: Some(FileNumber(42)),
        resolve_paths: true,
        ..ListQuery::default()
    })?;
    let elapsed = t.elapsed();
    println!("\nhandles of file 42 ({} in {elapsed:.1?}):", one.file_handles.len());
    for h in &one.file_handles {
        let i = &h.handle_info;
        println!(
            "  {} v{} locks={} owner={} path={}",
            i.location,
            i.version,
            i.num_byte_range_locks,
            i.owner,
            i.path.as_deref().unwrap_or("-")
        );
    }

    let t = Instant::now();
    let mut query = ListQuery { limit: Some(1_000), ..ListQuery::default() };
    let (mut pages, mut counted) = (0, 0);
    loop {
        let page = table.list(&query)?;
        pages += 1;
        counted += page.file_handles.len();
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    println!(
        "\npaged through everything: {counted} handles in {pages} pages of 1000 in {:.1?}",
        t.elapsed()
    );
    assert_eq!(counted, table.len());

    let page = table.list(&ListQuery { limit: Some(1_000), ..ListQuery::default() })?;
    let body = serde_json::to_vec(&page.file_handles)?;
    let before = table.len();
    let t = Instant::now();
    let response = table.close_batch_json(&body)?;
    let elapsed = t.elapsed();
    let results: Vec<serde_json::Value> = serde_json::from_slice(&response)?;
    let ok = results.iter().filter(|r| r["error_message"] == "").count();
    println!(
        "\nPOST /v1/smb/files/close with that page ({} bytes): {ok} of {} closed in {elapsed:.1?}; \
         {before} -> {} handles open",
        body.len(),
        results.len(),
        table.len()
    );
    let again: Vec<serde_json::Value> = serde_json::from_slice(&table.close_batch_json(&body)?)?;
    println!("posting it again: first result {}", again[0]);
    Ok(())
}
