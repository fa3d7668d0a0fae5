//! Sequences of table operations (opens with share modes, get, close,
//! close_batch, the JSON close, lock adjustments, byte-range locks, unlocks
//! and I/O checks, rename, paged listing with cursors) checked step by step
//! against a plain model: a map from location to record, and the share-mode
//! and lock reference the property test uses (tests/support). Lease steps
//! (opens asking for leases and oplocks, closes, acknowledgements, writes,
//! locks, delete-pending, break timeouts) run on a second table, against
//! the lease reference of tests/leases.rs (tests/support/lease_model.rs).
#![no_main]

mod common;
#[path = "../../tests/support/lease_model.rs"]
mod lease_model;
#[path = "../../tests/support/session_model.rs"]
mod session_model;
#[path = "../../tests/support/sharing_model.rs"]
mod sharing_model;

use session_model::{Life, SessionModel};
use sharing_model::SharingModel;

use std::collections::{BTreeMap, HashSet};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use smb_handles::{
    AccessMask, CloseError, Cursor, FileHandle, FileNumber, HandleTable, IoError, IoKind,
    ListQuery, Location, LockElement, LockKind, LockRange, LockRangeError, OpenError, OplockLevel,
    ShareAccess, UnlockError, MAX_LIST_LIMIT, MAX_OWNER_LEN, MAX_PATH_LEN, RESERVED_ACCESS_BITS,
};

/// At most this many handles open at once (small, so "full" is reached).
const MAX_HANDLES: usize = 24;

/// A handle named by the fuzzer: one of the model's live handles, one closed
/// earlier, or any 64-bit value.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Pick {
    Live(u8),
    Closed(u8),
    Raw(u64),
}

/// Which handles a fuzzed selector names.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Sel {
    Session(u8),
    Tree(u8),
    Share(u8),
    User(u8),
    Client(u8),
    Folder(u8),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Open {
        file: u8,
        path: u8,
        owner: u8,
        mask: u32,
        share: u8,
        directory: bool,
        odd: Odd,
    },
    /// An open through tree connect `tree` (an index into the model's
    /// trees, live or ended).
    OpenIn {
        tree: u8,
        file: u8,
        mask: u32,
        share: u8,
    },
    SessionSetup {
        user: u8,
        ip: u8,
    },
    TreeConnect {
        session: u8,
        share: u8,
    },
    Logoff(u8),
    TreeDisconnect(u8),
    Select(Sel),
    Lock(Pick, Vec<(u8, u8, bool)>),
    Unlock(Pick, Vec<(u8, u8)>),
    CheckIo(Pick, u8, u8, bool),
    Get(Pick),
    Close(Pick),
    CloseBatch(Vec<Pick>),
    CloseJson(Vec<Pick>),
    Adjust(Pick, i64),
    Rename {
        file: u8,
        path: u8,
    },
    List {
        file: Option<u8>,
        resolve_paths: bool,
        limit: u16,
    },
    ListFrom(u64),
    /// A step on the lease table.
    Lease(LeaseStep),
}

/// What an open asks to cache: nothing, an oplock (level 0..4), or a
/// lease (key 0..2, state bits, v2 epoch).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum LeaseAsk {
    None,
    Oplock(u8),
    Lease(u8, u8, Option<u16>),
}

/// [`lease_model::Step`], as fuzz bytes give it.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum LeaseStep {
    Open { file: u8, client: u8, access: u8, share: u8, overwrite: bool, doc: bool, ask: LeaseAsk },
    Close(u8),
    AckLease { client: u8, key: u8, state: u8 },
    AckOplock(u8, u8),
    AckSent(u8, Option<u8>),
    Write(u8),
    Lock(u8, u8, u8, bool),
    SetDeletePending(u8, bool),
    Expire,
}

const LEVELS: [OplockLevel; 4] =
    [OplockLevel::None, OplockLevel::LevelII, OplockLevel::Exclusive, OplockLevel::Batch];

/// The access masks of the lease steps: read, write, delete, stat opens,
/// READ_CONTROL and mixes.
const LEASE_ACCESS: [u32; 12] =
    [0x1, 0x2, 0x3, 0x1_0000, 0x1_0001, 0x1_0003, 0x80, 0x10_0080, 0x100, 0x2_0000, 0x2_0001, 0x4];

impl LeaseStep {
    fn step(self) -> lease_model::Step {
        use lease_model::{Ask, Step};
        match self {
            LeaseStep::Open { file, client, access, share, overwrite, doc, ask } => Step::Open {
                file: file % 3,
                client: client % 3,
                access: LEASE_ACCESS[usize::from(access) % LEASE_ACCESS.len()],
                share: u32::from(share & 7),
                overwrite,
                doc,
                ask: match ask {
                    LeaseAsk::None => Ask::None,
                    LeaseAsk::Oplock(l) => Ask::Oplock(LEVELS[usize::from(l % 4)]),
                    LeaseAsk::Lease(k, s, e) => Ask::Lease(k % 2, s & 7, e),
                },
            },
            LeaseStep::Close(i) => Step::Close(i.into()),
            LeaseStep::AckLease { client, key, state } => {
                Step::AckLease { client: client % 3, key: key % 2, state: state & 7 }
            }
            LeaseStep::AckOplock(i, l) => Step::AckOplock(i.into(), LEVELS[usize::from(l % 4)]),
            LeaseStep::AckSent(i, s) => Step::AckSent(i.into(), s.map(|s| s & 7)),
            LeaseStep::Write(i) => Step::Write(i.into()),
            LeaseStep::Lock(i, o, l, x) => {
                Step::Lock(i.into(), u64::from(o % 8), u64::from(l % 4) + 1, x)
            }
            LeaseStep::SetDeletePending(i, on) => Step::SetDeletePending(i.into(), on),
            LeaseStep::Expire => Step::Expire,
        }
    }
}

/// An input that breaks one limit (or none).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Odd {
    None,
    LongPath,
    LongOwner,
    NulPath,
    NulOwner,
}

#[derive(Clone, Debug, PartialEq)]
struct Rec {
    file: u64,
    path: String,
    owner: String,
    mask: AccessMask,
    directory: bool,
    locks: u32,
    version: u64,
}

#[derive(Default)]
struct Model {
    live: BTreeMap<Location, Rec>,
    closed: Vec<Location>,
    sharing: SharingModel,
    sessions: SessionModel,
}

const SHARES: [&str; 3] = ["finance", "eng", "home"];

fn client(ip: u8) -> std::net::IpAddr {
    std::net::IpAddr::from([10, 0, 0, ip % 3])
}

/// A lock offset: a small area where ranges meet, or the end of the space.
fn offset(v: u8) -> u64 {
    if v >= 248 {
        u64::MAX - u64::from(255 - v)
    } else {
        u64::from(v % 48)
    }
}

/// A lock length: 0, small, or the whole space.
fn length(v: u8) -> u64 {
    match v {
        0 => 0,
        255 => u64::MAX,
        _ => u64::from(v % 16),
    }
}

impl Model {
    fn pick(&self, p: Pick) -> Location {
        match p {
            Pick::Live(i) if !self.live.is_empty() => {
                *self.live.keys().nth(i as usize % self.live.len()).unwrap()
            }
            Pick::Closed(i) if !self.closed.is_empty() => {
                self.closed[i as usize % self.closed.len()]
            }
            Pick::Raw(v) => Location(v),
            _ => Location(0x0000_0001_0000_0000),
        }
    }

    /// The path every open of `file` has now, if it has opens.
    fn path_of(&self, file: u64) -> Option<&str> {
        self.live.values().find(|r| r.file == file).map(|r| r.path.as_str())
    }

    fn close(&mut self, loc: Location) -> Option<Rec> {
        let r = self.live.remove(&loc)?;
        self.sharing.closed(loc);
        self.sessions.closed(loc);
        self.closed.push(loc);
        Some(r)
    }

    /// Checks that a logoff, tree disconnect or selector closed exactly
    /// `want`, each record as the model has it, and applies it.
    fn closed_exactly(&mut self, out: &smb_handles::CloseOutcome, mut want: Vec<Location>) {
        want.sort();
        let mut got: Vec<Location> = Vec::new();
        for r in &out.results {
            let h = r.as_ref().expect("a found handle closes");
            let loc = h.handle_info.location;
            check(h, loc, self.live.get(&loc).expect("closed a handle the model has"));
            got.push(loc);
        }
        got.sort();
        assert_eq!(got, want, "closed other handles than the model");
        assert_eq!((out.closed, out.failed), (want.len(), 0));
        for l in want {
            self.close(l);
        }
    }
}

fn check(h: &FileHandle, loc: Location, r: &Rec) {
    assert_eq!(h.file_number, FileNumber(r.file));
    let i = &h.handle_info;
    assert_eq!(i.location, loc);
    assert_eq!(&*i.owner, r.owner.as_str(), "{loc}");
    assert_eq!(i.access_mask, r.mask, "{loc}");
    assert_eq!(i.num_byte_range_locks, r.locks, "{loc}");
    assert_eq!(i.version, r.version, "{loc}");
    assert_eq!(i.directory, r.directory, "{loc}");
    if let Some(p) = &i.path {
        assert_eq!(&**p, r.path.as_str(), "{loc}");
    }
}

fn path_text(n: u8) -> String {
    format!("/share/dir{}/file{}", n % 4, n)
}

fn run(ops: Vec<Op>) {
    let table: HandleTable = common::small_table(MAX_HANDLES);
    let mut m = Model::default();
    let mut leases = lease_model::Driver::new(3, 4);
    for (n, op) in ops.into_iter().take(256).enumerate() {
        match op {
            Op::Lease(s) => leases.step(n, &s.step()),
            Op::Open { file, path, owner, mask, share, directory, odd } => {
                let share = u32::from(share & 7);
                let file = u64::from(file % 16);
                // Every open of a file has the file's path (SPEC §8).
                let mut path =
                    m.path_of(file).map(str::to_owned).unwrap_or_else(|| path_text(path));
                let mut owner = format!("S-1-5-21-{}", owner % 5);
                let mask = AccessMask::from_bits_retain(mask);
                match odd {
                    Odd::None => {}
                    Odd::LongPath => path = "p".repeat(MAX_PATH_LEN + 1),
                    Odd::LongOwner => owner = "o".repeat(MAX_OWNER_LEN + 1),
                    Odd::NulPath => path.push('\0'),
                    Odd::NulOwner => owner.push('\0'),
                }
                let valid = matches!(odd, Odd::None) && (mask.bits() & RESERVED_ACCESS_BITS) == 0;
                let full = m.live.len() == MAX_HANDLES;
                let conflict = m.sharing.open_conflicts(file, mask.bits(), share);
                let before = table.len();
                let spec = common::spec(file, &path, &owner, mask)
                    .share_access(ShareAccess::from_bits_retain(share))
                    .directory(directory);
                match table.open(spec) {
                    Ok(loc) => {
                        assert!(valid, "invalid open accepted: {odd:?} mask {mask:?}");
                        assert!(!conflict, "a conflicting open was granted");
                        m.sharing.opened(loc, file, mask.bits(), share);
                        assert!(m.live.len() < MAX_HANDLES, "open past max_handles");
                        assert!(loc.0 != 0 && loc.0 != u64::MAX);
                        assert!(!m.live.contains_key(&loc), "{loc} issued twice");
                        assert!(!m.closed.contains(&loc), "{loc} reissued after close");
                        let rec = Rec { file, path, owner, mask, directory, locks: 0, version: 1 };
                        check(&table.get(loc).expect("just opened"), loc, &rec);
                        m.live.insert(loc, rec);
                    }
                    Err(e) => {
                        assert!(!valid || full || conflict, "valid open refused: {e}");
                        if valid && !full {
                            assert_eq!(e, OpenError::SharingViolation);
                        }
                        assert_eq!(table.len(), before, "a refused open changed the table");
                    }
                }
            }
            Op::SessionSetup { user, ip } => {
                let sid = format!("S-1-5-21-{}", user % 3);
                let name = format!("user{}", user % 3);
                let spec = smb_handles::SessionSpec::new(
                    7,
                    smb_handles::User::new(sid.as_str(), name.as_str()),
                    client(ip),
                );
                let id = table.session_setup(spec).expect("setup");
                assert!(m.sessions.sessions.iter().all(|s| s.id != id), "session id reissued");
                m.sessions.set_up(id, &sid, &name, client(ip));
            }
            Op::TreeConnect { session, share } => {
                if m.sessions.sessions.is_empty() {
                    continue;
                }
                let s = session as usize % m.sessions.sessions.len();
                let share = SHARES[share as usize % 3];
                let res = table.tree_connect(m.sessions.sessions[s].id, share);
                match m.sessions.connect_allowed(s) {
                    Ok(()) => {
                        let t = res.expect("tree connect");
                        assert!(m.sessions.trees.iter().all(|x| x.id != t), "tree id reissued");
                        m.sessions.connected(s, t, share);
                    }
                    Err(e) => assert_eq!(res, Err(e)),
                }
            }
            Op::OpenIn { tree, file, mask, share } => {
                if m.sessions.trees.is_empty() {
                    continue;
                }
                let t = tree as usize % m.sessions.trees.len();
                let share = u32::from(share & 7);
                let file = u64::from(file % 16);
                let path =
                    m.path_of(file).map(str::to_owned).unwrap_or_else(|| path_text(file as u8));
                let owner = "S-1-5-21-9".to_owned();
                let mask = AccessMask::from_bits_retain(mask & !RESERVED_ACCESS_BITS);
                let spec = common::spec(file, &path, &owner, mask)
                    .share_access(ShareAccess::from_bits_retain(share))
                    .tree(m.sessions.trees[t].id);
                let res = table.open(spec);
                if let Err(e) = m.sessions.open_allowed(t) {
                    assert_eq!(res, Err(e), "open into an ended tree");
                    continue;
                }
                if m.live.len() == MAX_HANDLES {
                    assert_eq!(res, Err(OpenError::TableFull { max_handles: MAX_HANDLES }));
                    continue;
                }
                if m.sharing.open_conflicts(file, mask.bits(), share) {
                    assert_eq!(res, Err(OpenError::SharingViolation));
                    continue;
                }
                let loc = res.expect("a valid open into a live tree");
                m.sharing.opened(loc, file, mask.bits(), share);
                m.sessions.opened(loc, t);
                let rec = Rec { file, path, owner, mask, directory: false, locks: 0, version: 1 };
                m.live.insert(loc, rec);
            }
            Op::Logoff(s) => {
                if m.sessions.sessions.is_empty() {
                    continue;
                }
                let s = s as usize % m.sessions.sessions.len();
                let res = table.logoff(m.sessions.sessions[s].id);
                match m.sessions.logoff(s) {
                    Ok(want) => m.closed_exactly(&res.expect("logoff"), want),
                    Err(e) => assert_eq!(res.map(|_| ()), Err(e)),
                }
            }
            Op::TreeDisconnect(t) => {
                if m.sessions.trees.is_empty() {
                    continue;
                }
                let t = t as usize % m.sessions.trees.len();
                let res = table.tree_disconnect(m.sessions.trees[t].id);
                match m.sessions.disconnect(t) {
                    Ok(want) => m.closed_exactly(&res.expect("tree disconnect"), want),
                    Err(e) => assert_eq!(res.map(|_| ()), Err(e)),
                }
            }
            Op::Select(sel) => {
                let sm = &m.sessions;
                let live_s = |i: usize| sm.sessions.get(i).filter(|s| s.life == Life::Live);
                let (selector, want) = match sel {
                    Sel::Session(i) if !sm.sessions.is_empty() => {
                        let i = i as usize % sm.sessions.len();
                        let want = live_s(i).map(|_| sm.handles_where(|t, _| t.session == i));
                        (smb_handles::Selector::Session(sm.sessions[i].id), want)
                    }
                    Sel::Tree(i) if !sm.trees.is_empty() => {
                        let i = i as usize % sm.trees.len();
                        let want = (sm.trees[i].life == Life::Live).then(|| sm.tree_handles(i));
                        (smb_handles::Selector::Tree(sm.trees[i].id), want)
                    }
                    Sel::Share(i) => {
                        let name = SHARES[i as usize % 3].to_uppercase();
                        let want = sm.handles_where(|t, _| t.share.eq_ignore_ascii_case(&name));
                        (smb_handles::Selector::ShareName(name.into()), Some(want))
                    }
                    Sel::User(i) => {
                        let name = format!("user{}", i % 3);
                        let want = sm.handles_where(|_, s| s.name == name);
                        (smb_handles::Selector::User(name.into()), Some(want))
                    }
                    Sel::Client(i) => {
                        let a = client(i);
                        (
                            smb_handles::Selector::ClientAddress(a),
                            Some(sm.handles_where(|_, s| s.ip == a)),
                        )
                    }
                    Sel::Folder(i) => {
                        let folder = format!("/share/dir{}", i % 4);
                        let want = m
                            .live
                            .iter()
                            .filter(|(_, r)| r.path.starts_with(&format!("{folder}/")))
                            .map(|(&l, _)| l)
                            .collect();
                        (smb_handles::Selector::PathPrefix(folder.into()), Some(want))
                    }
                    _ => continue,
                };
                let res = table.close_selected(&selector);
                match want {
                    Some(want) => m.closed_exactly(&res.expect("selector"), want),
                    None => assert!(res.is_err(), "a selector of an ended session or tree"),
                }
            }
            Op::Get(p) => {
                let loc = m.pick(p);
                match (table.get(loc), m.live.get(&loc)) {
                    (Some(h), Some(r)) => check(&h, loc, r),
                    (None, None) => {}
                    (h, r) => panic!("get {loc}: table {h:?}, model {r:?}"),
                }
            }
            Op::Close(p) => {
                let loc = m.pick(p);
                match (table.close(loc), m.close(loc)) {
                    (Ok(h), Some(r)) => check(&h, loc, &r),
                    (Err(CloseError::NotFound), None) => {}
                    (h, r) => panic!("close {loc}: table {h:?}, model {r:?}"),
                }
            }
            Op::CloseBatch(picks) => {
                let locs: Vec<Location> = picks.iter().map(|&p| m.pick(p)).collect();
                let results = table.close_batch(&locs);
                assert_eq!(results.len(), locs.len());
                for (loc, res) in locs.iter().zip(results) {
                    match (res, m.close(*loc)) {
                        (Ok(h), Some(r)) => check(&h, *loc, &r),
                        (Err(CloseError::NotFound), None) => {}
                        (h, r) => panic!("close_batch {loc}: table {h:?}, model {r:?}"),
                    }
                }
            }
            Op::CloseJson(picks) => {
                let locs: Vec<Location> = picks.iter().map(|&p| m.pick(p)).collect();
                let body: Vec<String> = locs
                    .iter()
                    .map(|l| format!(r#"{{"file_number":0,"handle_info":{{"location":"{l}"}}}}"#))
                    .collect();
                let out = table.close_batch_json(format!("[{}]", body.join(",")).as_bytes());
                let out: Vec<serde_json::Value> =
                    serde_json::from_slice(&out.expect("a well-formed body")).unwrap();
                assert_eq!(out.len(), locs.len());
                for (loc, res) in locs.iter().zip(out) {
                    let want = if loc.0 == 0 || loc.0 == u64::MAX {
                        "invalid location"
                    } else if m.close(*loc).is_some() {
                        ""
                    } else {
                        "handle not found"
                    };
                    assert_eq!(res["error_message"], want, "json close {loc}");
                }
            }
            Op::Adjust(p, delta) => {
                let loc = m.pick(p);
                let got = table.adjust_byte_range_locks(loc, delta);
                match m.live.get_mut(&loc) {
                    None => assert!(got.is_err(), "adjust of a closed handle: {got:?}"),
                    Some(r) => {
                        let new = i64::from(r.locks)
                            .checked_add(delta)
                            .and_then(|n| u32::try_from(n).ok());
                        match new {
                            Some(n) => {
                                assert_eq!(got, Ok(n));
                                if n != r.locks {
                                    r.locks = n;
                                    r.version += 1;
                                }
                            }
                            None => assert!(got.is_err(), "out of range accepted: {got:?}"),
                        }
                        check(&table.get(loc).unwrap(), loc, r);
                    }
                }
            }
            Op::Lock(p, elements) => {
                let loc = m.pick(p);
                let req: Vec<LockElement> = elements
                    .iter()
                    .take(8)
                    .map(|&(o, l, x)| LockElement {
                        offset: offset(o),
                        length: length(l),
                        kind: if x { LockKind::Exclusive } else { LockKind::Shared },
                    })
                    .collect();
                let got = table.lock(loc, &req);
                match m.live.get_mut(&loc) {
                    None => assert_eq!(got, Err(LockRangeError::NotFound)),
                    // A directory has no byte ranges (smbd: INVALID_DEVICE_REQUEST).
                    Some(r) if r.directory => assert_eq!(got, Err(LockRangeError::Directory)),
                    Some(r) => {
                        let want = m.sharing.lock(loc, &req).map(|taken| {
                            if taken > 0 {
                                r.locks += taken;
                                r.version += 1;
                            }
                            r.locks
                        });
                        assert_eq!(got, want, "lock {loc} {req:?}");
                        check(&table.get(loc).unwrap(), loc, r);
                    }
                }
            }
            Op::Unlock(p, ranges) => {
                let loc = m.pick(p);
                let req: Vec<LockRange> = ranges
                    .iter()
                    .take(8)
                    .map(|&(o, l)| LockRange { offset: offset(o), length: length(l) })
                    .collect();
                let got = table.unlock(loc, &req);
                match m.live.get_mut(&loc) {
                    None => assert_eq!(got, Err(UnlockError::NotFound)),
                    Some(r) if r.directory => assert_eq!(got, Err(UnlockError::Directory)),
                    Some(r) => {
                        let (result, removed) = m.sharing.unlock(loc, &req);
                        if removed > 0 {
                            r.locks = r.locks.saturating_sub(removed);
                            r.version += 1;
                        }
                        assert_eq!(got, result.map(|()| r.locks), "unlock {loc} {req:?}");
                        check(&table.get(loc).unwrap(), loc, r);
                    }
                }
            }
            Op::CheckIo(p, o, l, write) => {
                let loc = m.pick(p);
                let kind = if write { IoKind::Write } else { IoKind::Read };
                let got = table.check_io(loc, offset(o), length(l), kind);
                let want = match m.live.get(&loc) {
                    None => Err(IoError::NotFound),
                    Some(r) if r.directory => Err(IoError::Directory),
                    Some(_) => m.sharing.check_io(loc, offset(o), length(l), kind),
                };
                assert_eq!(got, want, "check_io {loc}");
            }
            Op::Rename { file, path } => {
                let file = u64::from(file % 16);
                let path = path_text(path);
                let mut want = 0;
                for r in m.live.values_mut().filter(|r| r.file == file) {
                    r.path = path.clone();
                    r.version += 1;
                    want += 1;
                }
                assert_eq!(table.rename_file(FileNumber(file), &path), want);
            }
            Op::List { file, resolve_paths, limit } => {
                let file = file.map(|f| u64::from(f % 16));
                let limit = usize::from(limit % 8) + 1;
                let mut q = ListQuery {
                    file_number: file.map(FileNumber),
                    resolve_paths,
                    limit: Some(limit),
                    after: None,
                };
                let mut seen = HashSet::new();
                let mut pages = 0;
                loop {
                    let page = table.list(&q).expect("a valid query");
                    assert!(page.file_handles.len() <= limit.min(MAX_LIST_LIMIT));
                    for h in &page.file_handles {
                        let loc = h.handle_info.location;
                        let r = m.live.get(&loc).unwrap_or_else(|| panic!("listed closed {loc}"));
                        check(h, loc, r);
                        assert_eq!(h.handle_info.path.is_some(), resolve_paths);
                        assert!(file.is_none_or(|f| f == r.file), "filter ignored");
                        assert!(seen.insert(loc), "{loc} listed twice");
                    }
                    pages += 1;
                    assert!(pages <= MAX_HANDLES + 2, "the walk does not end");
                    match page.next {
                        None => break,
                        Some(c) => {
                            // The text form round-trips and resumes the same walk.
                            let back: Cursor = c.to_string().parse().expect("cursor text");
                            assert_eq!(back, c);
                            q.after = Some(back);
                        }
                    }
                }
                let want: HashSet<Location> = m
                    .live
                    .iter()
                    .filter(|(_, r)| file.is_none_or(|f| f == r.file))
                    .map(|(l, _)| *l)
                    .collect();
                assert_eq!(seen, want, "a walk lists every handle once");
            }
            Op::ListFrom(v) => {
                // Any cursor text either resumes somewhere or is refused.
                if let Ok(c) = format!("{v:016x}").parse::<Cursor>() {
                    let q = ListQuery { after: Some(c), ..ListQuery::default() };
                    if let Ok(page) = table.list(&q) {
                        for h in &page.file_handles {
                            assert!(m.live.contains_key(&h.handle_info.location));
                        }
                    }
                }
            }
        }
        assert_eq!(table.len(), m.live.len(), "len agrees with the model");
    }
    // Everything left closes.
    let locs: Vec<Location> = m.live.keys().copied().collect();
    assert!(table.close_batch(&locs).iter().all(Result::is_ok));
    assert!(table.is_empty());
}

fuzz_target!(|ops: Vec<Op>| run(ops));
