//! Opens with borrowed strings (`OpenSpec::borrowed`) answer exactly as
//! opens with shared ones, keep their own copies of what they need, and
//! outlive the caller's buffers: through a wait for a break, and through a
//! durable open's disconnect and reconnect.

use std::sync::{Arc, Mutex};

use smb_handles::{
    AccessMask, Break, CacheRequest, ClientGuid, FileNumber, HandleTable, LeaseKey, LeaseRequest,
    LeaseState, ListQuery, Location, OpenOutcome, OpenSpec, ShareAccess, MAX_OWNER_LEN,
    MAX_PATH_LEN,
};

/// A 64-bit LCG's high bits: a repeatable sequence, so a failure names it.
fn step(x: &mut u64) -> u64 {
    *x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    *x >> 11
}

#[test]
fn borrowed_and_shared_opens_give_the_same_table() {
    let shared = HandleTable::new();
    let mixed = HandleTable::new();
    let mut seed = 19;
    // One buffer per string, rewritten for every open, as a server that
    // decodes each request's names into the same buffers.
    let (mut path, mut owner) = (String::new(), String::new());
    let mut locs: Vec<(Location, Location)> = Vec::new();
    for i in 0..3_000 {
        let r = step(&mut seed);
        let file = r % 97; // many opens per file
        path.clear();
        path.push_str(&format!("/share/dir{}/file{file}.txt", file % 7));
        owner.clear();
        owner.push_str(&format!("S-1-5-21-{}", (r >> 20) % 13));
        let access = AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE;
        let share = ShareAccess::from_bits_truncate(((r >> 40) % 8) as u32);
        let a = shared.open(
            OpenSpec::new(FileNumber(file), path.as_str(), owner.as_str(), access)
                .share_access(share),
        );
        let b = if i % 3 == 0 {
            mixed.open(
                OpenSpec::new(FileNumber(file), path.as_str(), owner.as_str(), access)
                    .share_access(share),
            )
        } else {
            mixed.open(
                OpenSpec::borrowed(FileNumber(file), &path, &owner, access).share_access(share),
            )
        };
        match (a, b) {
            (Ok(a), Ok(b)) => locs.push((a, b)),
            (Err(x), Err(y)) => assert_eq!(x, y, "open {i}"),
            (a, b) => panic!("open {i}: shared {a:?}, borrowed {b:?}"),
        }
        // Now and then a close, so files come and go and their paths are
        // set again by later opens.
        if r % 5 == 0 && !locs.is_empty() {
            let (a, b) = locs.swap_remove((r >> 8) as usize % locs.len());
            assert_eq!(shared.close(a), mixed.close(b));
        }
    }
    assert!(locs.len() > 100, "the sequence keeps handles open ({})", locs.len());
    for &(a, b) in &locs {
        assert_eq!(shared.get(a), mixed.get(b));
    }
    let q = ListQuery { resolve_paths: true, ..ListQuery::default() };
    assert_eq!(shared.list(&q).unwrap(), mixed.list(&q).unwrap());
}

#[test]
fn a_borrowed_open_keeps_its_own_copies() {
    let table = HandleTable::new();
    let mut path = String::from("/a/first.txt");
    let mut owner = String::from("alice");
    let read = AccessMask::FILE_READ_DATA;
    let a = table.open(OpenSpec::borrowed(FileNumber(1), &path, &owner, read)).unwrap();
    path.clear();
    path.push_str("/a/second.txt");
    owner.clear();
    owner.push_str("bob");
    let b = table.open(OpenSpec::borrowed(FileNumber(2), &path, &owner, read)).unwrap();
    drop((path, owner));
    let (ha, hb) = (table.get(a).unwrap(), table.get(b).unwrap());
    assert_eq!(ha.handle_info.path.as_deref(), Some("/a/first.txt"));
    assert_eq!(&*ha.handle_info.owner, "alice");
    assert_eq!(hb.handle_info.path.as_deref(), Some("/a/second.txt"));
    assert_eq!(&*hb.handle_info.owner, "bob");
    // A later open of file 1 keeps the file's path, whatever it carries.
    let c = table.open(OpenSpec::borrowed(FileNumber(1), "/elsewhere", "carol", read)).unwrap();
    assert_eq!(table.get(c).unwrap().handle_info.path.as_deref(), Some("/a/first.txt"));
}

#[test]
fn a_borrowed_open_refuses_each_limit_as_a_shared_one() {
    let table = HandleTable::new();
    let long_path = "p".repeat(MAX_PATH_LEN + 1);
    let long_owner = "o".repeat(MAX_OWNER_LEN + 1);
    let cases: [(&str, &str, u32); 8] = [
        (&long_path, "o", 1),
        ("a\0", "o", 1),
        ("/p", &long_owner, 1),
        ("/p", "\0", 1),
        ("/p", "o", 1 << 21),
        // Several bad inputs at once: the same one is named first.
        ("a\0", &long_owner, 1 << 21),
        (&long_path, "\0", 1 << 21),
        ("/p", "\0", 1 << 21),
    ];
    for (path, owner, access) in cases {
        let access = AccessMask::from_bits_retain(access);
        let borrowed = table.open(OpenSpec::borrowed(FileNumber(3), path, owner, access));
        let shared = table.open(OpenSpec::new(FileNumber(3), path, owner, access));
        assert!(borrowed.is_err(), "{:?}", &path[..path.len().min(8)]);
        assert_eq!(borrowed, shared);
    }
    assert!(table.is_empty());
}

#[test]
fn a_borrowed_open_that_waits_for_a_break_completes_after_its_buffers_are_gone() {
    let table = HandleTable::new();
    let sent: Arc<Mutex<Vec<Break>>> = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&sent);
    table.set_break_hook(Some(Arc::new(move |b: &[Break]| log.lock().unwrap().extend(b))));
    let done = Arc::new(Mutex::new(None));
    let out = Arc::clone(&done);
    table.set_completion_hook(Some(Arc::new(move |p, r| *out.lock().unwrap() = Some((p, r)))));

    let (client, key) = (ClientGuid(1), LeaseKey(0xA));
    let rwh = LeaseState::READ | LeaseState::WRITE | LeaseState::HANDLE;
    let read = AccessMask::FILE_READ_DATA;
    let lease = CacheRequest::Lease(LeaseRequest::v1(client, key, rwh));
    let first = OpenSpec::borrowed(FileNumber(7), "/doc.docx", "alice", read).cache(lease);
    let OpenOutcome::Opened(o) = table.open_cached(first).unwrap() else { panic!("granted") };
    let first_loc = o.location;

    let (mut path, mut owner) = (String::from("/doc-v2.docx"), String::from("bob"));
    let second = OpenSpec::borrowed(FileNumber(7), &path, &owner, read);
    let OpenOutcome::Pending(id) = table.open_cached(second).unwrap() else {
        panic!("the write caching is broken first")
    };
    // The buffers are rewritten in place, then dropped, before the open
    // completes.
    path.clear();
    path.push_str("/xxxxxxxxxxxx");
    owner.clear();
    owner.push_str("zzz");
    drop((path, owner));
    assert_eq!(sent.lock().unwrap().len(), 1);
    // The holder closes instead of acknowledging: the file has no open
    // left, so the waiting open's own path becomes the file's.
    table.close(first_loc).unwrap();
    let (p, r) = done.lock().unwrap().take().expect("completed");
    assert_eq!(p, id);
    let opened = r.expect("opened after the holder closed");
    let h = table.get(opened.location).unwrap();
    assert_eq!(&*h.handle_info.owner, "bob");
    assert_eq!(h.handle_info.path.as_deref(), Some("/doc-v2.docx"));
}

#[test]
fn a_borrowed_durable_open_reconnects_with_its_strings_after_its_buffers_are_gone() {
    use smb_handles::{DurableSpec, OplockLevel, ReconnectSpec, SessionSpec, User};
    let table = HandleTable::new();
    let user = || User::new("S-1-5-21-1-1104", "u");
    let addr = "10.0.0.7".parse().unwrap();
    let s = table.session_setup(SessionSpec::new(1, user(), addr)).unwrap();
    let tree = table.tree_connect(s, "share").unwrap();
    let (mut path, mut owner) = (String::from("/q3/budget.ods"), String::from("S-1-5-21-1-1104"));
    let spec = OpenSpec::borrowed(FileNumber(5), &path, &owner, AccessMask::FILE_READ_DATA)
        .tree(tree)
        .cache(CacheRequest::Oplock(OplockLevel::Batch))
        .durable(DurableSpec::v1(ClientGuid(1)));
    let OpenOutcome::Opened(o) = table.open_cached(spec).unwrap() else { panic!("opened") };
    let grant = o.durable.expect("a batch oplock makes a v1 open durable");
    path.clear();
    path.push_str("/xxxxxxxxxxxxx");
    owner.clear();
    owner.push_str("S-1-5-21-9-9999");
    drop((path, owner));
    assert_eq!(table.disconnect(s).unwrap().kept, 1);

    let s2 = table.session_setup(SessionSpec::new(2, user(), addr)).unwrap();
    let tree2 = table.tree_connect(s2, "share").unwrap();
    let r = ReconnectSpec::v1(grant.persistent_id, ClientGuid(1), "S-1-5-21-1-1104").tree(tree2);
    let back = table.reconnect(&r).unwrap();
    let h = table.get(back.location).unwrap();
    assert_eq!(h.handle_info.path.as_deref(), Some("/q3/budget.ods"));
    assert_eq!(&*h.handle_info.owner, "S-1-5-21-1-1104");
    assert!(h.handle_info.durable && !h.handle_info.disconnected);
}
