//! A plain model of durable handles, run against the table op by op:
//! which opens are granted durability, what a dropped connection keeps,
//! which reconnects succeed and with which refusal, which disconnected
//! opens a newcomer closes, what expiry closes. Every open asks for read
//! and write data, so share conflicts depend on the share modes alone; the
//! caching an open got (and holds) is read from the table: the lease rules
//! have their own model (lease_model.rs).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smb_handles::*;

/// One step.
#[derive(Clone, Debug)]
pub enum Op {
    /// Client `client` opens `file`: `cache` 0 none, 1 batch oplock, 2 RH
    /// lease, 3 RWH lease; `durable` 0 none, 1 v1, 2 v2; `share` 0 all,
    /// 1 read, 2 none, 3 read and write; `lock` takes a byte-range lock.
    Open { client: usize, file: u64, cache: u8, durable: u8, share: u8, lock: bool },
    /// The client's connection drops.
    Disconnect { client: usize },
    /// The client logs off.
    Logoff { client: usize },
    /// The client reconnects handle `handle` (an index into the handles
    /// made so far), `wrong` 0 right, 1 wrong create GUID, 2 wrong lease
    /// key, 3 another user, 4 wrong persistent id.
    Reconnect { client: usize, handle: usize, wrong: u8 },
    /// Closes handle `handle`.
    Close { handle: usize },
    /// Expires every disconnected open.
    Expire,
}

const USERS: [&str; 3] = ["S-1-5-21-1-1104", "S-1-5-21-1-1104", "S-1-5-21-1-1105"];

#[derive(Debug, Clone)]
struct H {
    loc: Location,
    client: usize,
    file: u64,
    owner: &'static str,
    grant: Option<DurableGrant>,
    create_guid: Option<u128>,
    lease_key: Option<u128>,
    share: u8,
    disconnected: bool,
    locks: u32,
    alive: bool,
}

fn share_of(s: u8) -> ShareAccess {
    match s {
        0 => ShareAccess::all(),
        1 => ShareAccess::READ,
        2 => ShareAccess::empty(),
        _ => ShareAccess::READ | ShareAccess::WRITE,
    }
}

/// Two read-write opens conflict unless both share read and write.
fn conflict(a: u8, b: u8) -> bool {
    matches!(a, 1 | 2) || matches!(b, 1 | 2)
}

/// Completed waiting opens.
type Done = Arc<Mutex<Vec<(PendingId, Result<Opened, OpenError>)>>>;

struct Rig {
    t: HandleTable,
    done: Done,
    sessions: [Option<(SessionId, TreeId)>; 3],
    handles: Vec<H>,
    guids: u128,
}

impl Rig {
    fn tree(&mut self, c: usize) -> TreeId {
        if let Some((_, t)) = self.sessions[c] {
            return t;
        }
        let s = self
            .t
            .session_setup(SessionSpec::new(
                c as u64,
                User::new(USERS[c], "u"),
                "10.0.0.1".parse().unwrap(),
            ))
            .unwrap();
        let t = self.t.tree_connect(s, "share").unwrap();
        self.sessions[c] = Some((s, t));
        t
    }

    /// Runs an open to its end (a waiting one completes once its breaks
    /// time out).
    fn open(&self, spec: OpenSpec) -> Result<Opened, OpenError> {
        match self.t.open_cached(spec)? {
            OpenOutcome::Opened(o) => Ok(o),
            OpenOutcome::Pending(id) => {
                self.t.expire_breaks(Instant::now() + Duration::from_secs(3600));
                let mut done = self.done.lock().unwrap();
                let at = done.iter().position(|(p, _)| *p == id).expect("completed");
                done.remove(at).1
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        let mut alive = 0;
        for (i, h) in self.handles.iter().enumerate() {
            let got = self.t.get(h.loc);
            match (h.alive, got) {
                (false, None) => {}
                (false, Some(_)) => return Err(format!("handle {i} should be closed: {h:?}")),
                (true, None) => return Err(format!("handle {i} is gone: {h:?}")),
                (true, Some(g)) => {
                    alive += 1;
                    let info = &g.handle_info;
                    if info.disconnected != h.disconnected || info.num_byte_range_locks != h.locks {
                        return Err(format!("handle {i}: model {h:?}, table {info:?}"));
                    }
                    if info.durable != h.grant.is_some() {
                        return Err(format!("handle {i} durable: model {h:?}, table {info:?}"));
                    }
                }
            }
        }
        if self.t.len() != alive {
            return Err(format!("table holds {} handles, model {alive}", self.t.len()));
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Open { client, file, cache, durable, share, lock } => {
                self.do_open(client, file, cache, durable, share, lock)?
            }
            Op::Disconnect { client } | Op::Logoff { client } => {
                let Some((s, _)) = self.sessions[client].take() else { return Ok(()) };
                let keep = matches!(op, Op::Disconnect { .. });
                // What each open holds now (the lease rules' own model covers
                // the breaks): a durable open is kept only while it holds a
                // batch oplock or a lease with handle caching.
                let holds: std::collections::HashSet<Location> = self
                    .handles
                    .iter()
                    .filter(|h| h.alive && !h.disconnected && h.client == client)
                    .filter(|h| match self.t.caching_of(h.loc) {
                        Some((OplockLevel::Batch, _)) => true,
                        Some((_, Some(l))) => l.contains(LeaseState::HANDLE),
                        _ => false,
                    })
                    .map(|h| h.loc)
                    .collect();
                let out = if keep { self.t.disconnect(s) } else { self.t.logoff(s) }
                    .map_err(|e| format!("{op:?}: {e}"))?;
                let (mut kept, mut closed) = (0, 0);
                for h in self
                    .handles
                    .iter_mut()
                    .filter(|h| h.alive && !h.disconnected && h.client == client)
                {
                    if keep && h.grant.is_some() && holds.contains(&h.loc) {
                        h.disconnected = true;
                        kept += 1;
                    } else {
                        h.alive = false;
                        closed += 1;
                    }
                }
                if (out.kept, out.closed) != (kept, closed) {
                    return Err(format!(
                        "{op:?}: kept/closed {:?}, model {:?}",
                        (out.kept, out.closed),
                        (kept, closed)
                    ));
                }
            }
            Op::Reconnect { client, handle, wrong } => {
                if self.handles.is_empty() {
                    return Ok(());
                }
                let i = handle % self.handles.len();
                let tree = self.tree(client);
                let h = self.handles[i].clone();
                let id = h.grant.map_or(PersistentId(h.loc.as_u64()), |g| g.persistent_id);
                let owner = if wrong == 3 { USERS[(client + 2) % 3] } else { USERS[client] };
                let mut r = match h.create_guid {
                    Some(g) => ReconnectSpec::v2(
                        id,
                        CreateGuid(g ^ u128::from(wrong == 1)),
                        ClientGuid(client as u128 + 1),
                        owner,
                    ),
                    None if wrong == 1 => ReconnectSpec::v1(
                        PersistentId(id.0 ^ 1 << 40),
                        ClientGuid(client as u128 + 1),
                        owner,
                    ),
                    None => ReconnectSpec::v1(id, ClientGuid(client as u128 + 1), owner),
                }
                .tree(tree);
                if wrong == 4 {
                    r.persistent_id = PersistentId(id.0 ^ 1 << 40);
                }
                match (h.lease_key, wrong == 2) {
                    (Some(k), false) => r = r.lease_key(LeaseKey(k)),
                    (Some(k), true) => r = r.lease_key(LeaseKey(k + 1000)),
                    (None, true) => r = r.lease_key(LeaseKey(999)),
                    (None, false) => {}
                }
                let not_found = !h.alive
                    || !h.disconnected
                    || h.grant.is_none()
                    || matches!(wrong, 1 | 2 | 4)
                    || (h.lease_key.is_some() && h.client != client);
                let want = if not_found {
                    Err(ReconnectError::NotFound)
                } else if owner != h.owner {
                    Err(ReconnectError::AccessDenied)
                } else {
                    Ok(())
                };
                let got = self.t.reconnect(&r);
                if got.map(|_| ()) != want {
                    return Err(format!("{op:?} of {h:?}: {got:?}, model {want:?}"));
                }
                if let Ok(back) = got {
                    let m = &mut self.handles[i];
                    m.loc = back.location;
                    m.disconnected = false;
                    m.client = client;
                    if back.location == h.loc {
                        return Err("a reconnect kept the old location".into());
                    }
                }
            }
            Op::Close { handle } => {
                if self.handles.is_empty() {
                    return Ok(());
                }
                let i = handle % self.handles.len();
                let got = self.t.close(self.handles[i].loc);
                if got.is_ok() != self.handles[i].alive {
                    return Err(format!("{op:?}: {got:?}, model {:?}", self.handles[i]));
                }
                self.handles[i].alive = false;
            }
            Op::Expire => {
                let n = self.t.expire_durable(Instant::now() + Duration::from_secs(3600));
                let mut want = 0;
                for h in self.handles.iter_mut().filter(|h| h.alive && h.disconnected) {
                    h.alive = false;
                    want += 1;
                }
                if n != want {
                    return Err(format!("expired {n}, model {want}"));
                }
            }
        }
        self.check()
    }

    fn do_open(
        &mut self,
        client: usize,
        file: u64,
        cache: u8,
        durable: u8,
        share: u8,
        lock: bool,
    ) -> Result<(), String> {
        let tree = self.tree(client);
        let cg = ClientGuid(client as u128 + 1);
        let key = (client as u128 + 1) * 16 + file as u128;
        let req = match cache {
            1 => CacheRequest::Oplock(OplockLevel::Batch),
            2 => CacheRequest::Lease(LeaseRequest::v1(
                cg,
                LeaseKey(key),
                LeaseState::READ | LeaseState::HANDLE,
            )),
            3 => CacheRequest::Lease(LeaseRequest::v1(
                cg,
                LeaseKey(key),
                LeaseState::READ | LeaseState::WRITE | LeaseState::HANDLE,
            )),
            _ => CacheRequest::None,
        };
        self.guids += 1;
        let d = match durable {
            1 => Some(DurableSpec::v1(cg)),
            2 => Some(DurableSpec::v2(cg, CreateGuid(self.guids), Duration::ZERO)),
            _ => None,
        };
        let mut spec = OpenSpec::new(
            FileNumber(file),
            format!("/f{file}"),
            USERS[client],
            AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA,
        )
        .share_access(share_of(share))
        .tree(tree)
        .cache(req);
        if let Some(d) = d {
            spec = spec.durable(d);
        }
        // Which disconnected opens of the file the newcomer must close.
        let mut displaced = Vec::new();
        for (i, h) in self
            .handles
            .iter()
            .enumerate()
            .filter(|(_, h)| h.alive && h.disconnected && h.file == file)
        {
            let own = h.lease_key.is_some()
                && h.lease_key == (cache >= 2).then_some(key)
                && h.client == client;
            let (oplock, lease) = self.t.caching_of(h.loc).unwrap();
            let writes = matches!(oplock, OplockLevel::Batch | OplockLevel::Exclusive)
                || lease.is_some_and(|l| l.contains(LeaseState::WRITE));
            if conflict(h.share, share) || (!own && writes) {
                displaced.push(i);
            }
        }
        let res = self.open(spec);
        for &i in &displaced {
            self.handles[i].alive = false;
        }
        let sharing =
            self.handles.iter().any(|h| h.alive && h.file == file && conflict(h.share, share));
        match res {
            Err(OpenError::SharingViolation) if sharing => Ok(()),
            Err(e) => Err(format!("open of file {file} by {client}: {e}, model sharing={sharing}")),
            Ok(_) if sharing => {
                Err(format!("open of file {file} by {client} went through a share conflict"))
            }
            Ok(o) => {
                let cached = o.oplock == OplockLevel::Batch
                    || o.lease.is_some_and(|l| l.state.contains(LeaseState::HANDLE));
                if o.durable.is_some() != (d.is_some() && cached) {
                    return Err(format!("durable grant {:?} for {d:?} with {o:?}", o.durable));
                }
                let mut locks = 0;
                if lock {
                    let offset = self.handles.len() as u64;
                    self.t
                        .lock(
                            o.location,
                            &[LockElement { offset, length: 1, kind: LockKind::Exclusive }],
                        )
                        .map_err(|e| format!("lock: {e}"))?;
                    locks = 1;
                }
                self.handles.push(H {
                    loc: o.location,
                    client,
                    file,
                    owner: USERS[client],
                    grant: o.durable,
                    create_guid: o.durable.and(d.and_then(|d| d.create_guid())).map(|g| g.0),
                    lease_key: o.lease.map(|l| l.key.0),
                    share,
                    disconnected: false,
                    locks,
                    alive: true,
                });
                Ok(())
            }
        }
    }
}

/// Runs `ops` against a fresh table and the model; the first difference.
pub fn run(ops: &[Op]) -> Result<(), String> {
    let t = HandleTable::new();
    let done = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&done);
    t.set_completion_hook(Some(Arc::new(move |p, r| log.lock().unwrap().push((p, r)))));
    let mut rig = Rig { t, done, sessions: [None, None, None], handles: Vec::new(), guids: 0 };
    for (n, op) in ops.iter().enumerate() {
        rig.step(op).map_err(|e| format!("step {n} ({op:?}): {e}"))?;
    }
    Ok(())
}
