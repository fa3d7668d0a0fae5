//! Property test of sessions and tree connects: random session setups, tree
//! connects, opens (inside trees and outside) with share modes and
//! byte-range locks, touches, logoffs, tree disconnects and every selector,
//! against the plain models of tests/support (sessions, share modes and
//! locks). Every answer, count and listing must match, and what a logoff or
//! selector closes must release its share modes and locks.

use std::collections::BTreeMap;
use std::net::IpAddr;

use proptest::prelude::*;

#[path = "support/session_model.rs"]
mod session_model;
#[path = "support/sharing_model.rs"]
mod sharing_model;

use session_model::SessionModel;
use sharing_model::SharingModel;
use smb_handles::{
    AccessMask, CloseOutcome, Config, FileNumber, HandleTable, IoKind, Location, LockElement,
    LockKind, OpenError, OpenSpec, Selector, SessionError, SessionId, SessionQuery, SessionSpec,
    ShareAccess, TreeId, User,
};

#[derive(Clone, Debug)]
enum Op {
    Setup { user: u8, ip: u8 },
    Connect { session: usize, share: u8 },
    Open { tree: Option<usize>, file: u64, access: u32, share: u32 },
    Lock { handle: usize, offset: u64, exclusive: bool },
    Write { handle: usize, offset: u64 },
    Close(usize),
    Touch(usize),
    Logoff(usize),
    Disconnect(usize),
    Select { kind: u8, arg: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3u8, 0..3u8).prop_map(|(user, ip)| Op::Setup { user, ip }),
        3 => (any::<usize>(), 0..3u8).prop_map(|(session, share)| Op::Connect { session, share }),
        6 => (prop::option::weighted(0.85, any::<usize>()), 0..5u64, access(), 0..8u32)
            .prop_map(|(tree, file, access, share)| Op::Open { tree, file, access, share }),
        2 => (any::<usize>(), 0..4u64, any::<bool>())
            .prop_map(|(handle, offset, exclusive)| Op::Lock { handle, offset, exclusive }),
        1 => (any::<usize>(), 0..4u64).prop_map(|(handle, offset)| Op::Write { handle, offset }),
        1 => any::<usize>().prop_map(Op::Close),
        1 => any::<usize>().prop_map(Op::Touch),
        2 => any::<usize>().prop_map(Op::Logoff),
        2 => any::<usize>().prop_map(Op::Disconnect),
        2 => (0..7u8, any::<usize>()).prop_map(|(kind, arg)| Op::Select { kind, arg }),
    ]
}

fn access() -> impl Strategy<Value = u32> {
    prop::sample::select(vec![0x1u32, 0x2, 0x3, 0x80, 0x10000, 0x1_0003])
}

const USERS: [(&str, &str); 3] =
    [("S-1-5-21-1", "alice"), ("S-1-5-21-2", "bob"), ("S-1-5-21-3", "carol")];
const SHARES: [&str; 3] = ["finance", "eng", "Finance2"];

fn ip(i: u8) -> IpAddr {
    format!("10.0.0.{}", i + 1).parse().unwrap()
}

/// A file's path: two folders, so path prefixes select some files.
fn path(file: u64) -> String {
    format!("/d{}/f{file}", file % 2)
}

#[derive(Default)]
struct Model {
    sessions: SessionModel,
    sharing: SharingModel,
    /// Live handles: their file.
    live: BTreeMap<Location, u64>,
    issued: Vec<Location>,
}

impl Model {
    fn pick(&self, i: usize) -> Location {
        self.issued.get(i % self.issued.len().max(1)).copied().unwrap_or(Location(1 << 32))
    }

    fn close(&mut self, loc: Location) -> bool {
        let was = self.live.remove(&loc).is_some();
        if was {
            self.sharing.closed(loc);
            self.sessions.closed(loc);
        }
        was
    }

    /// Applies what a logoff, disconnect or selector closed to the model,
    /// and checks it closed exactly `want`.
    fn closed_all(
        &mut self,
        out: &CloseOutcome,
        mut want: Vec<Location>,
    ) -> Result<(), TestCaseError> {
        let mut got: Vec<Location> =
            out.results.iter().map(|r| r.as_ref().expect("closed").handle_info.location).collect();
        got.sort();
        want.sort();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!((out.closed, out.failed), (want.len(), 0));
        for l in want {
            self.live.remove(&l);
            self.sharing.closed(l);
            self.sessions.closed(l);
        }
        Ok(())
    }
}

fn run(ops: Vec<Op>, shards: usize) -> Result<(), TestCaseError> {
    let table = HandleTable::with_config(Config::default().shards(shards).max_handles(64));
    let mut m = Model::default();
    let stale_session = |m: &Model, i: usize| -> (Option<usize>, SessionId) {
        match m.sessions.sessions.len() {
            0 => (None, SessionId(0x7_0000_0003)),
            n => (Some(i % n), m.sessions.sessions[i % n].id),
        }
    };
    let pick_tree = |m: &Model, i: usize| -> (Option<usize>, TreeId) {
        match m.sessions.trees.len() {
            0 => (None, TreeId(0x7_0000_0003)),
            n => (Some(i % n), m.sessions.trees[i % n].id),
        }
    };
    for op in ops {
        match op {
            Op::Setup { user, ip: i } => {
                let (sid, name) = USERS[user as usize];
                let id = table
                    .session_setup(SessionSpec::new(7, User::new(sid, name), ip(i)))
                    .expect("setup");
                prop_assert!(m.sessions.sessions.iter().all(|s| s.id != id), "session id reused");
                m.sessions.set_up(id, sid, name, ip(i));
            }
            Op::Connect { session, share } => {
                let (s, id) = stale_session(&m, session);
                let share = SHARES[share as usize];
                let res = table.tree_connect(id, share);
                match s {
                    Some(s) => match m.sessions.connect_allowed(s) {
                        Ok(()) => {
                            let t = res.expect("tree connect");
                            prop_assert!(
                                m.sessions.trees.iter().all(|x| x.id != t),
                                "tree id reused"
                            );
                            m.sessions.connected(s, t, share);
                        }
                        Err(e) => prop_assert_eq!(res, Err(e)),
                    },
                    None => prop_assert_eq!(res, Err(SessionError::SessionDeleted)),
                }
            }
            Op::Open { tree, file, access, share } => {
                let mut spec = OpenSpec::new(
                    FileNumber(file),
                    path(file),
                    "owner",
                    AccessMask::from_bits_retain(access),
                )
                .share_access(ShareAccess::from_bits_retain(share));
                let mut t = None;
                if let Some(i) = tree {
                    let (ti, id) = pick_tree(&m, i);
                    spec = spec.tree(id);
                    t = ti;
                    if ti.is_none() {
                        prop_assert_eq!(table.open(spec), Err(OpenError::TreeDeleted));
                        continue;
                    }
                }
                let res = table.open(spec);
                if let Some(t) = t {
                    if let Err(e) = m.sessions.open_allowed(t) {
                        prop_assert_eq!(res, Err(e));
                        continue;
                    }
                }
                if m.sharing.open_conflicts(file, access, share) {
                    prop_assert_eq!(res, Err(OpenError::SharingViolation));
                    continue;
                }
                let loc = res.expect("open");
                m.issued.push(loc);
                m.live.insert(loc, file);
                m.sharing.opened(loc, file, access, share);
                if let Some(t) = t {
                    m.sessions.opened(loc, t);
                }
            }
            Op::Lock { handle, offset, exclusive } => {
                let loc = m.pick(handle);
                let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
                let req = [LockElement { offset, length: 2, kind }];
                let want = if m.live.contains_key(&loc) {
                    m.sharing.lock(loc, &req)
                } else {
                    Err(smb_handles::LockRangeError::NotFound)
                };
                prop_assert_eq!(table.lock(loc, &req).map(|_| ()), want.map(|_| ()));
            }
            Op::Write { handle, offset } => {
                let loc = m.pick(handle);
                let want = if m.live.contains_key(&loc) {
                    m.sharing.check_io(loc, offset, 1, IoKind::Write)
                } else {
                    Err(smb_handles::IoError::NotFound)
                };
                prop_assert_eq!(table.check_io(loc, offset, 1, IoKind::Write), want);
            }
            Op::Close(h) => {
                let loc = m.pick(h);
                let want = m.close(loc);
                prop_assert_eq!(table.close(loc).is_ok(), want);
            }
            Op::Touch(s) => {
                let (s, id) = stale_session(&m, s);
                let live =
                    s.is_some_and(|s| m.sessions.sessions[s].life == session_model::Life::Live);
                prop_assert_eq!(table.touch(id), live);
            }
            Op::Logoff(s) => {
                let (s, id) = stale_session(&m, s);
                let res = table.logoff(id);
                match s.map(|s| m.sessions.logoff(s)) {
                    Some(Ok(want)) => m.closed_all(&res.expect("logoff"), want)?,
                    Some(Err(e)) => prop_assert_eq!(res.map(|_| ()), Err(e)),
                    None => prop_assert_eq!(res.map(|_| ()), Err(SessionError::SessionDeleted)),
                }
            }
            Op::Disconnect(t) => {
                let (t, id) = pick_tree(&m, t);
                let res = table.tree_disconnect(id);
                match t.map(|t| m.sessions.disconnect(t)) {
                    Some(Ok(want)) => m.closed_all(&res.expect("disconnect"), want)?,
                    Some(Err(e)) => prop_assert_eq!(res.map(|_| ()), Err(e)),
                    None => prop_assert_eq!(res.map(|_| ()), Err(SessionError::TreeDeleted)),
                }
            }
            Op::Select { kind, arg } => {
                let sm = &m.sessions;
                let (selector, want): (Selector, Result<Vec<Location>, SessionError>) = match kind {
                    0 => {
                        let (s, id) = stale_session(&m, arg);
                        let want = match s {
                            Some(s) if sm.sessions[s].life == session_model::Life::Live => {
                                Ok(sm.handles_where(|t, _| t.session == s))
                            }
                            _ => Err(SessionError::SessionDeleted),
                        };
                        (Selector::Session(id), want)
                    }
                    1 => {
                        let (t, id) = pick_tree(&m, arg);
                        let want = match t {
                            Some(t) if sm.trees[t].life == session_model::Life::Live => {
                                Ok(sm.tree_handles(t))
                            }
                            _ => Err(SessionError::TreeDeleted),
                        };
                        (Selector::Tree(id), want)
                    }
                    2 => {
                        // Share names compare case-insensitively.
                        let name = ["FINANCE", "eng", "finance2"][arg % 3];
                        let want = sm.handles_where(|t, _| t.share.eq_ignore_ascii_case(name));
                        (Selector::ShareName(name.into()), Ok(want))
                    }
                    3 => {
                        let (sid, name) = USERS[arg % 3];
                        let by = if arg % 2 == 0 { sid } else { name };
                        let want = sm.handles_where(|_, s| s.sid == by || s.name == by);
                        (Selector::User(by.into()), Ok(want))
                    }
                    4 => {
                        let a = ip((arg % 3) as u8);
                        (Selector::ClientAddress(a), Ok(sm.handles_where(|_, s| s.ip == a)))
                    }
                    _ => {
                        let prefix = ["/d0", "/d1/", "/", "/d1/f3", "/d"][arg % 5];
                        let under = |file: u64| {
                            let p = path(file);
                            let pre = prefix.trim_end_matches('/');
                            p == pre || p.starts_with(&format!("{pre}/"))
                        };
                        let want =
                            m.live.iter().filter(|&(_, &f)| under(f)).map(|(&l, _)| l).collect();
                        (Selector::PathPrefix(prefix.into()), Ok(want))
                    }
                };
                let res = table.close_selected(&selector);
                match want {
                    Ok(want) => m.closed_all(&res.expect("selector"), want)?,
                    Err(e) => prop_assert_eq!(res.map(|_| ()), Err(e)),
                }
            }
        }
        // Counts and listings agree with the model after every step.
        prop_assert_eq!(table.len(), m.live.len());
        let mut listed = 0;
        let mut q = SessionQuery::new().limit(2);
        loop {
            let page = table.list_sessions(&q);
            for info in &page.sessions {
                let s = m
                    .sessions
                    .sessions
                    .iter()
                    .position(|s| s.id == info.id)
                    .expect("known session");
                prop_assert_eq!(m.sessions.sessions[s].life, session_model::Life::Live);
                prop_assert_eq!(
                    info.num_opens,
                    m.sessions.session_opens(s),
                    "num_opens of {}",
                    info.id
                );
                let shares: Vec<&str> = m.sessions.sessions[s]
                    .trees
                    .iter()
                    .filter(|&&t| m.sessions.trees[t].life == session_model::Life::Live)
                    .map(|&t| m.sessions.trees[t].share.as_str())
                    .collect();
                let got: Vec<&str> = info.share_names.iter().map(|s| &**s).collect();
                prop_assert_eq!(got, shares);
                listed += 1;
            }
            match page.next {
                Some(n) => q = q.after(Some(n)),
                None => break,
            }
        }
        let live_sessions =
            m.sessions.sessions.iter().filter(|s| s.life == session_model::Life::Live).count();
        prop_assert_eq!(listed, live_sessions);
        prop_assert_eq!(table.session_count(), live_sessions);
        for (t, tree) in m.sessions.trees.iter().enumerate() {
            let info = table.tree(tree.id);
            prop_assert_eq!(info.is_some(), tree.life == session_model::Life::Live);
            if let Some(info) = info {
                prop_assert_eq!(info.num_opens, m.sessions.tree_opens(t));
                prop_assert_eq!(&*info.share_name, tree.share.as_str());
            }
        }
        for (&loc, &t) in &m.sessions.handle_tree {
            let (s, tree) = table.handle_tree(loc).expect("handle in a tree");
            prop_assert_eq!(tree, m.sessions.trees[t].id);
            prop_assert_eq!(s, m.sessions.sessions[m.sessions.trees[t].session].id);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sessions_match_model_one_shard(ops in prop::collection::vec(op(), 1..100)) {
        run(ops, 1)?;
    }

    #[test]
    fn sessions_match_model_four_shards(ops in prop::collection::vec(op(), 1..100)) {
        run(ops, 4)?;
    }
}
