//! Threads opening with conflicting share modes on few files and locking
//! overlapping ranges: no two granted opens may ever conflict, and no two
//! granted locks of different handles may ever conflict.
//!
//! The audit keeps a shadow of what is granted, under one mutex: an open or
//! lock enters it only after the table granted it, and leaves it before the
//! table releases it. So everything in the shadow is granted in the table at
//! the moment it is looked at, and a conflict found there is two conflicting
//! grants the table let coexist.

use std::sync::{Arc, Mutex};
use std::thread;

use smb_handles::{
    AccessMask, FileNumber, HandleTable, LockElement, LockKind, LockRange, OpenError, OpenSpec,
    ShareAccess,
};

/// (read, write, delete) classes of an access mask (no generic bits here).
fn classes(m: u32) -> [bool; 3] {
    [m & 0x21 != 0, m & 0x6 != 0, m & 0x10000 != 0]
}

fn conflict(a: (u32, u32), b: (u32, u32)) -> bool {
    let (ca, cb) = (classes(a.0), classes(b.0));
    if !ca.iter().any(|&c| c) || !cb.iter().any(|&c| c) {
        return false;
    }
    (0..3).any(|i| (ca[i] && b.1 >> i & 1 == 0) || (cb[i] && a.1 >> i & 1 == 0))
}

#[derive(Default)]
struct Shadow {
    /// (file, location, access, share)
    opens: Vec<(u64, u64, u32, u32)>,
    /// (file, location, offset, length, exclusive)
    locks: Vec<(u64, u64, u64, u64, bool)>,
    checked_opens: usize,
    checked_locks: usize,
}

#[test]
fn granted_opens_and_locks_never_conflict() {
    let table = Arc::new(HandleTable::new());
    let shadow = Arc::new(Mutex::new(Shadow::default()));
    let accesses = [0x1u32, 0x2, 0x3, 0x10000, 0x80, 0x20, 0x4];
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (table, shadow) = (Arc::clone(&table), Arc::clone(&shadow));
            thread::spawn(move || {
                let mut seed = 0x9E37_79B9 ^ t;
                let mut rand = move |n: u64| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) % n
                };
                let mut mine: Vec<(u64, smb_handles::Location)> = Vec::new();
                let mut my_locks: Vec<(smb_handles::Location, u64, u64)> = Vec::new();
                for _ in 0..20_000 {
                    match rand(4) {
                        0 if mine.len() < 4 => {
                            let file = rand(2);
                            let access = accesses[rand(accesses.len() as u64) as usize];
                            let share = rand(8) as u32;
                            let spec = OpenSpec::new(
                                FileNumber(file),
                                "/f",
                                format!("user{t}"),
                                AccessMask::from_bits_retain(access),
                            )
                            .share_access(ShareAccess::from_bits_retain(share));
                            match table.open(spec) {
                                Ok(loc) => {
                                    let mut s = shadow.lock().unwrap();
                                    for &(f, other, a, sh) in &s.opens {
                                        assert!(
                                            f != file || !conflict((a, sh), (access, share)),
                                            "opens {other:x} ({a:#x}/{sh}) and {loc} ({access:#x}/{share}) of file {file} coexist"
                                        );
                                    }
                                    s.checked_opens += 1;
                                    s.opens.push((file, loc.0, access, share));
                                    mine.push((file, loc));
                                }
                                Err(OpenError::SharingViolation) => {}
                                Err(e) => panic!("unexpected {e}"),
                            }
                        }
                        1 if !mine.is_empty() => {
                            let (file, loc) = mine.swap_remove(rand(mine.len() as u64) as usize);
                            {
                                let mut s = shadow.lock().unwrap();
                                s.opens.retain(|o| o.1 != loc.0);
                                s.locks.retain(|l| l.1 != loc.0);
                            }
                            my_locks.retain(|l| l.0 != loc);
                            assert_eq!(table.close(loc).unwrap().file_number, FileNumber(file));
                        }
                        2 if !mine.is_empty() => {
                            let (file, loc) = mine[rand(mine.len() as u64) as usize];
                            let (offset, length) = (rand(64), 1 + rand(16));
                            let exclusive = rand(2) == 0;
                            let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
                            if table.lock(loc, &[LockElement { offset, length, kind }]).is_ok() {
                                let mut s = shadow.lock().unwrap();
                                for &(f, other, o, l, x) in &s.locks {
                                    let overlap = o < offset + length && offset < o + l;
                                    assert!(
                                        f != file || other == loc.0 || !overlap || !(x || exclusive),
                                        "locks of {other:x} and {loc} on file {file} conflict"
                                    );
                                }
                                s.checked_locks += 1;
                                s.locks.push((file, loc.0, offset, length, exclusive));
                                my_locks.push((loc, offset, length));
                            }
                        }
                        3 if !my_locks.is_empty() => {
                            let (loc, offset, length) =
                                my_locks.swap_remove(rand(my_locks.len() as u64) as usize);
                            {
                                let mut s = shadow.lock().unwrap();
                                let i = s
                                    .locks
                                    .iter()
                                    .position(|l| l.1 == loc.0 && l.2 == offset && l.3 == length)
                                    .unwrap();
                                s.locks.remove(i);
                            }
                            table.unlock(loc, &[LockRange { offset, length }]).unwrap();
                        }
                        _ => {}
                    }
                }
                for (_, loc) in mine {
                    {
                        // Closing releases the handle's locks too: they
                        // leave the shadow first, like its open.
                        let mut s = shadow.lock().unwrap();
                        s.opens.retain(|o| o.1 != loc.0);
                        s.locks.retain(|l| l.1 != loc.0);
                    }
                    table.close(loc).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = shadow.lock().unwrap();
    assert!(
        s.checked_opens > 1_000 && s.checked_locks > 1_000,
        "{} opens, {} locks",
        s.checked_opens,
        s.checked_locks
    );
    assert!(table.is_empty());
}
