//! Bad input never panics and never changes the table.

use smb_handles::{
    AccessMask, Config, Cursor, FileNumber, HandleTable, ListError, ListQuery, LockError,
    OpenError, OpenSpec, RenameError, MAX_LIST_LIMIT, MAX_OWNER_LEN, MAX_PATH_LEN,
};

fn spec(path: &str, owner: &str, access: u32) -> OpenSpec {
    OpenSpec::new(FileNumber(9), path, owner, AccessMask::from_bits_retain(access))
}

#[test]
fn open_refuses_each_limit_with_a_message_naming_it() {
    let table = HandleTable::new();
    let at_path = "p".repeat(MAX_PATH_LEN);
    let at_owner = "o".repeat(MAX_OWNER_LEN);
    let cases = [
        (spec(&format!("{at_path}p"), "o", 1), "path longer than 32767 bytes"),
        (spec("a\0", "o", 1), "path contains a NUL byte"),
        (spec("/p", &format!("{at_owner}o"), 1), "owner longer than 1024 bytes"),
        (spec("/p", "\0", 1), "owner contains a NUL byte"),
        (spec("/p", "o", 1 << 21), "access mask sets reserved bits 0x00200000"),
        (spec("/p", "o", 1 << 27 | 1 << 23), "access mask sets reserved bits 0x08800000"),
    ];
    for (s, msg) in cases {
        let err = table.open(s).unwrap_err();
        assert_eq!(err.to_string(), msg);
        assert!(!err.is_table_full());
    }
    assert!(table.is_empty());
    assert!(table.list(&ListQuery::default()).unwrap().file_handles.is_empty());
    // Exactly at the limits is fine, as is any file number.
    let loc = table.open(spec(&at_path, &at_owner, AccessMask::all().bits())).unwrap();
    assert_eq!(
        table.get(loc).unwrap().handle_info.path.as_deref().map(str::len),
        Some(MAX_PATH_LEN)
    );
    let mut s = spec("", "", 0);
    s.file_number = FileNumber(u64::MAX);
    table.open(s).unwrap();
}

#[test]
fn a_full_table_refuses_and_recovers() {
    let table = HandleTable::with_config(Config::default().shards(2).max_handles(3));
    let locs: Vec<_> = (0..3).map(|_| table.open(spec("/p", "o", 1)).unwrap()).collect();
    let err = table.open(spec("/p", "o", 1)).unwrap_err();
    assert_eq!(err, OpenError::TableFull { max_handles: 3 });
    assert!(err.is_table_full());
    assert_eq!(table.len(), 3);
    table.close(locs[1]).unwrap();
    assert!(table.open(spec("/p", "o", 1)).is_ok());
}

#[test]
fn lock_counts_stay_in_range() {
    let table = HandleTable::new();
    let loc = table.open(spec("/p", "o", 1)).unwrap();
    assert_eq!(
        table.adjust_byte_range_locks(loc, -1),
        Err(LockError::OutOfRange { current: 0, delta: -1 })
    );
    assert_eq!(table.adjust_byte_range_locks(loc, u32::MAX as i64), Ok(u32::MAX));
    assert!(table.adjust_byte_range_locks(loc, 1).is_err());
    assert!(table.adjust_byte_range_locks(loc, i64::MAX).is_err());
    assert!(table.adjust_byte_range_locks(loc, i64::MIN).is_err());
    let h = table.get(loc).unwrap();
    assert_eq!((h.handle_info.num_byte_range_locks, h.handle_info.version), (u32::MAX, 2));
    assert_eq!(table.adjust_byte_range_locks(loc, 0), Ok(u32::MAX));
    assert_eq!(table.get(loc).unwrap().handle_info.version, 2, "a zero delta is no change");
}

#[test]
fn rename_refuses_bad_paths_and_changes_nothing() {
    let table = HandleTable::new();
    let loc = table.open(spec("/old", "o", 1)).unwrap();
    assert_eq!(table.try_rename_file(FileNumber(9), "a\0b"), Err(RenameError::PathContainsNul));
    let long = "x".repeat(MAX_PATH_LEN + 1);
    assert!(matches!(
        table.try_rename_file(FileNumber(9), &long),
        Err(RenameError::PathTooLong { .. })
    ));
    assert_eq!(table.rename_file(FileNumber(9), &long), 0);
    let h = table.get(loc).unwrap();
    assert_eq!((h.handle_info.path.as_deref(), h.handle_info.version), (Some("/old"), 1));
    assert_eq!(table.rename_file(FileNumber(9), "/new"), 1);
    assert_eq!(table.get(loc).unwrap().handle_info.path.as_deref(), Some("/new"));
}

#[test]
fn list_limits_and_cursors() {
    let table = HandleTable::with_config(Config::default().shards(4));
    for i in 0..(MAX_LIST_LIMIT as u64 + 5) {
        let mut s = spec("/p", "o", 1);
        s.file_number = FileNumber(i);
        table.open(s).unwrap();
    }
    let q = |limit, after| ListQuery { limit, after, ..ListQuery::default() };
    assert_eq!(table.list(&q(Some(0), None)), Err(ListError::ZeroLimit));
    assert_eq!(table.list(&q(None, None)).unwrap().file_handles.len(), 1_000);
    let capped = table.list(&q(Some(usize::MAX), None)).unwrap();
    assert_eq!(capped.file_handles.len(), MAX_LIST_LIMIT);
    let rest = table.list(&q(Some(10), capped.next)).unwrap();
    assert_eq!(rest.file_handles.len(), 5);
    assert_eq!(rest.next, None);

    // Cursors round-trip through text; foreign positions and junk are errors.
    let c = capped.next.unwrap();
    assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
    assert!(c.to_string().bytes().all(|b| b.is_ascii_alphanumeric()));
    let beyond: Cursor = "0000000400000000".parse().unwrap();
    assert_eq!(table.list(&q(None, Some(beyond))), Err(ListError::InvalidCursor));
    let past_slots: Cursor = "0000000001000001".parse().unwrap();
    assert_eq!(table.list(&q(None, Some(past_slots))), Err(ListError::InvalidCursor));
    // Past the slots the shard has handed out (no shard handed out more
    // slots than the table had opens), e.g. a bigger table's cursor:
    // refused, not a silently empty, finished walk.
    let opens = MAX_LIST_LIMIT as u64 + 5;
    let past_high: Cursor = format!("00000000{:08x}", opens + 1).parse().unwrap();
    assert_eq!(table.list(&q(None, Some(past_high))), Err(ListError::InvalidCursor));
    let in_range: Cursor = "0000000000000001".parse().unwrap();
    assert!(table.list(&q(None, Some(in_range))).unwrap().file_handles.len() > 1);
    let done_text: Result<Cursor, _> = "ffffffffffffffff".parse();
    if let Ok(c) = done_text {
        assert_eq!(table.list(&q(None, Some(c))), Err(ListError::InvalidCursor));
    }
    for junk in
        ["", "zz", "00000000000000000", "000000000000000", "+000000000000000", " 000000000000000"]
    {
        assert!(junk.parse::<Cursor>().is_err(), "{junk:?}");
    }
}

#[test]
fn file_queries_page_too() {
    let table = HandleTable::with_config(Config::default().shards(4));
    let mut mine = Vec::new();
    for i in 0..50u64 {
        let mut s = spec("/p", "o", 1);
        s.file_number = FileNumber(i % 2);
        let loc = table.open(s).unwrap();
        if i % 2 == 1 {
            mine.push(loc);
        }
    }
    let mut q =
        ListQuery { file_number: Some(FileNumber(1)), limit: Some(4), ..ListQuery::default() };
    let mut seen = Vec::new();
    loop {
        let page = table.list(&q).unwrap();
        assert!(page.file_handles.iter().all(|h| h.file_number == FileNumber(1)));
        seen.extend(page.file_handles.iter().map(|h| h.handle_info.location));
        // Closing an already-listed handle between pages loses nothing.
        if let Some(h) = page.file_handles.first() {
            table.close(h.handle_info.location).unwrap();
        }
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    seen.sort();
    mine.sort();
    assert_eq!(seen, mine);
}
