//! The persistent-handle store (feature `store`): record encoding, the
//! SQLite store on damaged files, and group commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use smb_handles::store::{
    DamageReason, DecodeError, GroupCommit, HandleStore, MemoryStore, Recovery, SqliteStore,
    StoreError, StoreOp, StoredLock, StoredOpen,
};

/// A fresh directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smbh-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An open as a server stores it: path ~40 bytes, SID ~45 bytes, 2 locks.
fn typical(id: u64) -> StoredOpen {
    let mut open = StoredOpen::new(
        id,
        id.wrapping_add(4242),
        format!("/project/q3/finance/report-{:08}.xlsx", id % 100_000_000),
        "S-1-5-21-1004336348-1177238915-682003330-1104",
    );
    open.access = 0x0012_019f;
    open.share = 0x7;
    open.create_guid = [id as u8; 16];
    open.client_guid = [0xc1; 16];
    open.app_instance_id = Some([0xa1; 16]);
    open.lease_key = Some([(id >> 8) as u8; 16]);
    open.lease_state = 0x7;
    open.timeout_ms = 60_000;
    open.share_name = "projects".into();
    open.version = id % 5 + 1;
    open.locks =
        vec![StoredLock::new(0, 4096, true), StoredLock::new(id.wrapping_mul(4096), 512, false)];
    open
}

#[test]
fn a_typical_open_is_a_few_hundred_bytes() {
    let open = typical(1);
    assert_eq!(open.path.len(), 40);
    assert_eq!(open.owner.len(), 45);
    let bytes = open.encode().unwrap();
    assert_eq!(bytes.len(), open.encoded_len());
    assert_eq!(bytes.len(), 258, "docs/store.md quotes this size");
    assert_eq!(StoredOpen::decode(&bytes).unwrap(), open);
}

#[test]
fn every_flipped_bit_of_a_record_is_reported() {
    let bytes = typical(9).encode().unwrap();
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(StoredOpen::decode(&damaged).is_err(), "bit {bit}");
    }
    for len in 0..bytes.len() {
        assert!(StoredOpen::decode(&bytes[..len]).is_err(), "cut at {len}");
    }
}

#[test]
fn oversized_fields_are_refused_before_anything_is_stored() {
    let mut open = typical(1);
    open.share_name = "s".repeat(257);
    let err = open.encode().unwrap_err();
    assert_eq!((err.field, err.len, err.max), ("share_name", 257, 256));
    let store = MemoryStore::new();
    let batch = [StoreOp::Put(typical(2)), StoreOp::Put(open)];
    assert!(matches!(store.commit(&batch), Err(StoreError::Encode(_))));
    assert!(store.is_empty());
}

fn guid() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>()
}

prop_compose! {
    fn stored_open()(
        ids in any::<(u64, u64, u32, u32)>(),
        path in "\\PC{0,60}", owner in "[S0-9-]{0,50}", share_name in "\\PC{0,20}",
        directory in any::<bool>(), guids in (guid(), guid()),
        optional in (proptest::option::of(guid()), proptest::option::of(guid())),
        small in any::<(u8, u32, u64)>(),
        locks in proptest::collection::vec(any::<(u64, u64, bool)>(), 0..5),
    ) -> StoredOpen {
        let mut open = StoredOpen::new(ids.0, ids.1, path, owner);
        open.access = ids.2;
        open.share = ids.3;
        open.directory = directory;
        (open.create_guid, open.client_guid) = guids;
        (open.app_instance_id, open.lease_key) = optional;
        (open.lease_state, open.timeout_ms, open.version) = small;
        open.share_name = share_name;
        open.locks = locks.into_iter().map(|(o, l, x)| StoredLock::new(o, l, x)).collect();
        open
    }
}

proptest! {
    #[test]
    fn records_round_trip(open in stored_open()) {
        let bytes = open.encode().unwrap();
        prop_assert_eq!(bytes.len(), open.encoded_len());
        prop_assert_eq!(StoredOpen::decode(&bytes).unwrap(), open);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = StoredOpen::decode(&bytes);
    }

    #[test]
    fn arbitrary_bytes_with_a_valid_checksum_never_panic(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..400),
        version in 0u8..3,
    ) {
        // Past the checksum, so the parser itself is exercised.
        if let Some(first) = bytes.first_mut() { *first = version; }
        let crc = crc32(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let _ = StoredOpen::decode(&bytes);
    }

    #[test]
    fn flipped_bits_are_errors(open in stored_open(), flips in proptest::collection::vec(any::<prop::sample::Index>(), 1..4)) {
        let good = open.encode().unwrap();
        let mut bytes = good.clone();
        for f in &flips {
            let bit = f.index(bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
        match StoredOpen::decode(&bytes) {
            Ok(decoded) => prop_assert!(bytes == good && decoded == open, "a damaged record decoded"),
            Err(_) => prop_assert!(bytes != good),
        }
    }
}

/// CRC-32 (IEEE), written out so the test does not trust the crate's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

// ---- the SQLite store -------------------------------------------------

/// Writes `n` records over a few commits; returns them by id.
fn write_store(path: &Path, n: u64) -> BTreeMap<u64, StoredOpen> {
    let store = SqliteStore::open(path).unwrap();
    let mut written = BTreeMap::new();
    for chunk in (1..=n).collect::<Vec<_>>().chunks(25) {
        let batch: Vec<_> = chunk.iter().map(|&id| StoreOp::Put(typical(id * 7919))).collect();
        store.commit(&batch).unwrap();
        for op in batch {
            if let StoreOp::Put(open) = op {
                written.insert(open.persistent_id, open);
            }
        }
    }
    written
}

/// Opens a damaged copy; every record it returns must be one written.
/// Returns what happened, for the summary.
fn check_damaged(path: &Path, written: &BTreeMap<u64, StoredOpen>) -> &'static str {
    let store = match SqliteStore::open(path) {
        Ok(store) => store,
        Err(e @ StoreError::Open { .. }) => {
            assert!(!e.to_string().is_empty());
            return "open refused";
        }
        Err(e) => panic!("open failed with {e:?}"),
    };
    let Recovery { opens, damaged } = match store.load() {
        Ok(r) => r,
        Err(StoreError::Database { .. }) => return "load refused",
        Err(e) => panic!("load failed with {e:?}"),
    };
    for open in &opens {
        assert_eq!(written.get(&open.persistent_id), Some(open), "an invented record");
    }
    for d in &damaged {
        assert!(!d.to_string().is_empty());
    }
    match (damaged.is_empty(), opens.len() == written.len()) {
        (true, true) => "all intact",
        (true, false) => panic!("{} of {} records, no damage reported", opens.len(), written.len()),
        (false, _) => "damage reported",
    }
}

fn damaged_copy(dir: &Path, original: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let path = dir.join("copy.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut bytes = std::fs::read(original).unwrap();
    edit(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_truncated_database_opens_or_fails_clearly_and_invents_nothing() {
    let dir = scratch("truncated");
    let original = dir.join("handles.db");
    let written = write_store(&original, 200);
    assert_eq!(SqliteStore::open(&original).unwrap().load().unwrap().opens.len(), 200);
    let len = std::fs::metadata(&original).unwrap().len() as usize;
    let mut outcomes = BTreeMap::<&str, usize>::new();
    let cuts = (0..20).map(|i| len * i / 20).chain([1, 99, 100, 101, len - 1, len - 4096]);
    for cut in cuts {
        if cut == 0 {
            // An empty file is a new store (SQLite's rule; a crash between
            // creating the file and its first commit leaves one).
            let copy = damaged_copy(&dir, &original, |b| b.clear());
            assert!(SqliteStore::open(&copy).unwrap().load().unwrap() == Recovery::default());
            continue;
        }
        let copy = damaged_copy(&dir, &original, |b| b.truncate(cut));
        *outcomes.entry(check_damaged(&copy, &written)).or_default() += 1;
    }
    println!("truncated: {outcomes:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_is_reported_never_decoded_into_a_handle() {
    let dir = scratch("flipped");
    let original = dir.join("handles.db");
    let written = write_store(&original, 200);
    let len = std::fs::metadata(&original).unwrap().len() as usize;
    let mut outcomes = BTreeMap::<&str, usize>::new();
    for i in 0..300 {
        let at = (len * i / 300 + 13) % len;
        let copy = damaged_copy(&dir, &original, |b| b[at] ^= 0x20);
        *outcomes.entry(check_damaged(&copy, &written)).or_default() += 1;
    }
    println!("flipped: {outcomes:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_under_another_key_is_damage() {
    let dir = scratch("key");
    let path = dir.join("handles.db");
    SqliteStore::open(&path).unwrap().commit(&[StoreOp::Put(typical(5))]).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE persistent_opens SET id = 6 WHERE id = 5", []).unwrap();
    conn.execute("INSERT INTO persistent_opens VALUES (7, 'text')", []).unwrap();
    drop(conn);
    let recovery = SqliteStore::open(&path).unwrap().load().unwrap();
    assert!(recovery.opens.is_empty());
    let reasons: Vec<_> = recovery.damaged.iter().map(|d| (d.key, d.reason.clone())).collect();
    assert_eq!(
        reasons,
        [
            (Some(6), DamageReason::Record(DecodeError::KeyMismatch { stored_id: 5 })),
            (Some(7), DamageReason::Record(DecodeError::NotBytes)),
            // The row inserted behind the store's back is not in its count.
            (None, DamageReason::Count { counted: 1, found: 2 }),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_record_count_follows_puts_replaces_and_removes() {
    let dir = scratch("count");
    let path = dir.join("handles.db");
    let store = SqliteStore::open(&path).unwrap();
    store.commit(&(1..=10).map(|id| StoreOp::Put(typical(id))).collect::<Vec<_>>()).unwrap();
    let batch = [
        StoreOp::Remove(3),
        StoreOp::Remove(3),
        StoreOp::Remove(99),
        StoreOp::Put(typical(4)),
        StoreOp::Put(typical(11)),
        StoreOp::Remove(11),
    ];
    store.commit(&batch).unwrap();
    store.commit(&[StoreOp::Put(typical(u64::MAX - 1)), StoreOp::Remove(u64::MAX - 1)]).unwrap();
    store.commit(&[StoreOp::Put(typical(1 << 63))]).unwrap();
    let recovery = store.load().unwrap();
    let ids: Vec<_> = recovery.opens.iter().map(|o| o.persistent_id).collect();
    assert_eq!(ids, [1, 2, 4, 5, 6, 7, 8, 9, 10, 1 << 63], "ascending as u64");
    store.commit(&[StoreOp::Remove(1 << 63)]).unwrap();
    let recovery = store.load().unwrap();
    assert_eq!(recovery.opens.len(), 9);
    assert!(recovery.damaged.is_empty(), "{:?}", recovery.damaged);
    // Rows lost behind SQLite's back are reported, not silently missing.
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM persistent_opens WHERE id > 8", []).unwrap();
    drop(conn);
    let recovery = SqliteStore::open(&path).unwrap().load().unwrap();
    assert_eq!(recovery.opens.len(), 7);
    assert_eq!(recovery.damaged.len(), 1);
    assert_eq!(recovery.damaged[0].reason, DamageReason::Count { counted: 9, found: 7 });
    assert_eq!(recovery.damaged[0].to_string(), "store: 9 records were stored, 7 found");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_applications_database_is_refused() {
    let dir = scratch("foreign");
    let path = dir.join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA application_id = 42; CREATE TABLE t(x);")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("another application"), "{err}");
    let plain = dir.join("plain.db");
    rusqlite::Connection::open(&plain).unwrap().execute_batch("CREATE TABLE t(x);").unwrap();
    let err = SqliteStore::open(&plain).unwrap_err();
    assert!(err.to_string().contains("without a handle store's application_id"), "{err}");
    let stub = dir.join("stub.db");
    std::fs::write(&stub, b"SQLite format 3").unwrap();
    let err = SqliteStore::open(&stub).unwrap_err();
    assert!(err.to_string().contains("shorter than a database header"), "{err}");
    std::fs::write(&path, b"not a database, just text ............................................................................").unwrap();
    assert!(matches!(SqliteStore::open(&path), Err(StoreError::Open { .. })));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- group commit -----------------------------------------------------

#[test]
fn eight_threads_every_waited_op_is_durable_with_fewer_syncs_than_ops() {
    let dir = scratch("group");
    let path = dir.join("handles.db");
    let group = Arc::new(GroupCommit::new(Arc::new(SqliteStore::open(&path).unwrap())).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let group = Arc::clone(&group);
            std::thread::spawn(move || {
                for i in 0..100 {
                    group.enqueue(StoreOp::Put(typical(t << 32 | i))).wait().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(group.ops(), 800);
    assert!(group.commits() < group.ops(), "{} syncs for 800 ops", group.commits());
    println!("8 threads: {} syncs for 800 ops", group.commits());
    drop(group);
    let recovery = SqliteStore::open(&path).unwrap().load().unwrap();
    assert!(recovery.damaged.is_empty());
    let expected: Vec<_> =
        (0..8u64).flat_map(|t| (0..100).map(move |i| typical(t << 32 | i))).collect();
    assert_eq!(recovery.opens, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ops_are_committed_in_enqueue_order() {
    let store = Arc::new(MemoryStore::new());
    let group = Arc::new(GroupCommit::new(store.clone()).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let group = Arc::clone(&group);
            std::thread::spawn(move || {
                for i in 0..200u64 {
                    let id = t << 32 | i;
                    let first = group.enqueue(StoreOp::Put(typical(id)));
                    let last = if i % 2 == 0 {
                        group.enqueue(StoreOp::Remove(id)) // put, remove: absent
                    } else {
                        let _ = group.enqueue(StoreOp::Remove(id));
                        group.enqueue(StoreOp::Put(typical(id))) // remove, put: present
                    };
                    first.wait().unwrap();
                    last.wait().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let ids: Vec<_> = store.load().unwrap().opens.iter().map(|o| o.persistent_id).collect();
    let expected: Vec<_> =
        (0..8u64).flat_map(|t| (0..200).filter(|i| i % 2 == 1).map(move |i| t << 32 | i)).collect();
    assert_eq!(ids, expected);
}

#[test]
fn ops_never_waited_on_are_committed_and_drop_flushes() {
    let store = Arc::new(MemoryStore::new());
    let group = GroupCommit::new(store.clone()).unwrap();
    for id in 1..=100 {
        let _ = group.enqueue(StoreOp::Put(typical(id)));
    }
    // A later op's ticket covers the earlier ones (enqueue order).
    group.enqueue(StoreOp::Remove(100)).wait().unwrap();
    assert_eq!(store.len(), 99);
    for id in 101..=150 {
        drop(group.enqueue(StoreOp::Put(typical(id))));
    }
    drop(group);
    assert_eq!(store.len(), 149);
}

/// Fails (or panics in) every commit holding id 13.
#[derive(Debug, Default)]
struct Picky {
    inner: MemoryStore,
    panic: AtomicBool,
}

impl HandleStore for Picky {
    fn commit(&self, batch: &[StoreOp]) -> Result<(), StoreError> {
        if batch.iter().any(|op| op.persistent_id() == 13) {
            if self.panic.load(Ordering::Relaxed) {
                panic!("the store panicked");
            }
            return Err(StoreError::Database { operation: "commit", message: "disk full".into() });
        }
        self.inner.commit(batch)
    }
    fn load(&self) -> Result<Recovery, StoreError> {
        self.inner.load()
    }
}

#[test]
fn a_failed_or_panicking_commit_fails_its_tickets_and_the_next_goes_on() {
    let store = Arc::new(Picky::default());
    let group = GroupCommit::new(store.clone()).unwrap();
    let err = group.commit_one(StoreOp::Put(typical(13))).unwrap_err();
    assert_eq!(err.to_string(), "handle store commit failed: disk full");
    store.panic.store(true, Ordering::Relaxed);
    let err = group.commit_one(StoreOp::Remove(13)).unwrap_err();
    assert!(matches!(err, StoreError::Committer(_)), "{err:?}");
    group.commit_one(StoreOp::Put(typical(14))).unwrap();
    assert_eq!(store.load().unwrap().opens, vec![typical(14)]);
    assert_eq!((group.commits(), group.ops()), (3, 3));
}
