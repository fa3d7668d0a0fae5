//! A closed handle's location is refused everywhere, even after its slot is
//! reused by a new handle.

use smb_handles::{
    AccessMask, CloseError, Config, FileNumber, HandleTable, ListQuery, Location, LockError,
    OpenSpec,
};

fn spec(file: u64) -> OpenSpec {
    OpenSpec::new(FileNumber(file), "/f", "me", AccessMask::FILE_READ_DATA)
}

/// Low 32 bits: shard and slot; a reused slot keeps them and changes only the
/// generation.
fn slot_bits(loc: Location) -> u64 {
    loc.0 & 0xFFFF_FFFF
}

#[test]
fn stale_location_is_refused_after_its_slot_is_reused() {
    let table = HandleTable::with_config(Config::default().shards(1));
    let keep: Vec<_> = (0..10).map(|i| table.open(spec(i)).unwrap()).collect();
    let old = keep[4];
    table.close(old).unwrap();

    // Reopen until some handle lands in the old slot.
    let mut reused = None;
    for i in 0..1_000 {
        let loc = table.open(spec(100 + i)).unwrap();
        if slot_bits(loc) == slot_bits(old) {
            reused = Some(loc);
            break;
        }
    }
    let new = reused.expect("slot was never reused");
    assert_ne!(new, old);

    assert!(table.get(old).is_none());
    assert_eq!(table.close(old), Err(CloseError::NotFound));
    assert_eq!(table.close_batch(&[old, old]), vec![Err(CloseError::NotFound); 2]);
    assert_eq!(table.adjust_byte_range_locks(old, 1), Err(LockError::NotFound));
    let body = format!(r#"[{{"handle_info":{{"location":"{old}"}}}}]"#);
    assert_eq!(
        table.close_batch_json(body.as_bytes()).unwrap(),
        br#"[{"error_message":"handle not found"}]"#
    );

    // The new handle is untouched by all of that.
    let h = table.get(new).unwrap();
    assert_eq!(h.handle_info.version, 1);
    assert_eq!(h.handle_info.num_byte_range_locks, 0);
    assert!(table.close(new).is_ok());
}

/// Reuse order is free (SPEC §3: the generation check is the guarantee), so
/// this pins the guarantee: whichever slot a new open reuses, no closed
/// location ever names it.
#[test]
fn reused_slots_never_answer_to_closed_locations() {
    let table = HandleTable::with_config(Config::default().shards(1));
    let locs: Vec<_> = (0..100).map(|i| table.open(spec(i)).unwrap()).collect();
    for l in &locs[..50] {
        table.close(*l).unwrap();
    }
    let fresh: Vec<_> = (0..50).map(|i| table.open(spec(1_000 + i)).unwrap()).collect();
    let reused =
        fresh.iter().filter(|f| locs[..50].iter().any(|l| slot_bits(*l) == slot_bits(**f)));
    assert_eq!(reused.count(), 50, "closed slots are reused before new ones");
    for l in &locs[..50] {
        assert!(table.get(*l).is_none());
        assert_eq!(table.adjust_byte_range_locks(*l, 1), Err(smb_handles::LockError::NotFound));
        assert!(table.close(*l).is_err());
    }
    assert_eq!(table.len(), 100);
    for f in &fresh {
        assert!(table.close(*f).is_ok());
    }
}

#[test]
fn foreign_and_never_issued_locations_are_refused() {
    let table = HandleTable::with_config(Config::default().shards(2));
    let loc = table.open(spec(1)).unwrap();
    let other = HandleTable::with_config(Config::default().shards(2));
    // Same bits, different table: nothing there.
    assert!(other.get(loc).is_none());
    for bogus in [0, u64::MAX, loc.0 ^ (1 << 40), loc.0 + 1, 0xFF << 24 | 1 << 32] {
        let l = Location(bogus);
        assert!(table.get(l).is_none(), "{l:?}");
        assert_eq!(table.close(l), Err(CloseError::NotFound));
        assert_eq!(table.adjust_byte_range_locks(l, 1), Err(LockError::NotFound));
    }
    assert_eq!(table.len(), 1);
    assert_eq!(table.list(&ListQuery::default()).unwrap().file_handles.len(), 1);
}
