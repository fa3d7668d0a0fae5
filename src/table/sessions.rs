//! Sessions and tree connects in the table: setup, activity, logoff and
//! tree disconnect (each closing its handles), and listings. Closes by
//! selector (by tree as a logoff sweeps, or by path through each shard)
//! are in `select`.
//!
//! # How an open races a logoff
//!
//! An open into a tree connect first counts itself in the tree's `opens`
//! (a sequentially consistent add), then, under its shard's lock, checks
//! that the tree is still live. A logoff (or tree disconnect) first marks
//! the tree ending, then sweeps every shard under its lock, then waits for
//! the tree's count to reach zero. So an open either took its shard's lock
//! before the sweep did (the sweep then finds and closes it) or after (it
//! then sees the mark and fails with `SessionDeleted` / `TreeDeleted`);
//! either way no handle is left in a dead tree, and the tree's entry is
//! reused only once nothing counts in it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::OpenError;
use crate::limits::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, MAX_OWNER_LEN, MAX_SHARE_NAME_LEN};
use crate::location::Location;
use crate::record::{FileHandle, FileNumber};
use crate::session::registry::{Entry, ENDING_DISCONNECT, ENDING_LOGOFF, LIVE};
use crate::session::{
    CloseOutcome, SessionError, SessionId, SessionInfo, SessionPage, SessionQuery, SessionRec,
    SessionSpec, Sessions, TreeId, TreeInfo, TreeRec,
};
use crate::words::has_nul;

use super::HandleTable;

/// Handles a sweep closes per lock hold, so no logoff or selector keeps a
/// shard from other clients for long.
pub(super) const SWEEP_STEP: usize = 256;

/// Checks a SID or user name.
fn valid_name(s: &str) -> bool {
    s.len() <= MAX_OWNER_LEN && !has_nul(s.as_bytes())
}

impl HandleTable {
    /// The table's sessions, made on first use (a table that never sees a
    /// session pays nothing for them).
    pub(crate) fn sessions(&self) -> &Sessions {
        self.sessions.get_or_init(|| Box::new(Sessions::new()))
    }

    /// Registers a session (a successful SESSION_SETUP) and returns its id.
    ///
    /// # Errors
    ///
    /// [`SessionError::InvalidUser`] for a SID or name over
    /// [`MAX_OWNER_LEN`] bytes or with NUL; [`SessionError::TooMany`] when
    /// the table holds 4 194 304 sessions.
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec, SessionSpec, User};
    ///
    /// let table = HandleTable::new();
    /// let s = table.session_setup(SessionSpec::new(
    ///     0x4000_0000_0001, User::new("S-1-5-21-1-1104", "alice"), "10.0.0.7".parse()?))?;
    /// let t = table.tree_connect(s, "finance")?;
    /// let loc = table.open(OpenSpec::new(FileNumber(7), "/q3.xlsx", "S-1-5-21-1-1104",
    ///                                    AccessMask::FILE_READ_DATA).tree(t))?;
    /// assert_eq!(table.session(s).unwrap().num_opens, 1);
    /// let out = table.logoff(s)?;                  // closes the session's handles
    /// assert_eq!((out.closed, out.failed), (1, 0));
    /// assert!(table.get(loc).is_none());
    /// assert!(table.open(OpenSpec::new(FileNumber(7), "/q3.xlsx", "x",
    ///                                  AccessMask::FILE_READ_DATA).tree(t)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_setup(&self, spec: SessionSpec) -> Result<SessionId, SessionError> {
        if !valid_name(&spec.user.sid) || !valid_name(&spec.user.name) {
            return Err(SessionError::InvalidUser);
        }
        let rec =
            SessionRec { spec: Arc::new(spec), created: SystemTime::now(), trees: Vec::new() };
        let (g, i) = self.sessions().sessions.insert(rec, u32::MAX).ok_or(SessionError::TooMany)?;
        Ok(SessionId::pack(g, i))
    }

    /// Connects a session to a share (a successful TREE_CONNECT).
    ///
    /// # Errors
    ///
    /// [`SessionError::SessionDeleted`] when the session is gone or logging
    /// off; [`SessionError::InvalidShareName`] for an empty name, one over
    /// [`MAX_SHARE_NAME_LEN`] bytes or with NUL; [`SessionError::TooMany`].
    pub fn tree_connect(
        &self,
        session: SessionId,
        share_name: &str,
    ) -> Result<TreeId, SessionError> {
        if share_name.is_empty()
            || share_name.len() > MAX_SHARE_NAME_LEN
            || has_nul(share_name.as_bytes())
        {
            return Err(SessionError::InvalidShareName);
        }
        let reg = self.sessions();
        let s = reg
            .sessions
            .find(session.generation(), session.index())
            .ok_or(SessionError::SessionDeleted)?;
        // Under the session's payload lock, which logoff takes to mark the
        // session ending: a tree is either in the list logoff takes, or
        // refused.
        let mut p = s.payload.lock();
        let rec = p.as_mut().filter(|_| s.state() == LIVE && s.is(session.generation()));
        let rec = rec.ok_or(SessionError::SessionDeleted)?;
        let tree = TreeRec { share: Arc::from(share_name), session };
        let (g, i) = reg.trees.insert(tree, session.index()).ok_or(SessionError::TooMany)?;
        rec.trees.push(i);
        drop(p);
        reg.sessions.touch(s);
        Ok(TreeId::pack(g, i))
    }

    /// Records activity on a session now (what its `time_idle` counts
    /// from): one clock read and one store, for every request. False when
    /// the session is gone.
    pub fn touch(&self, session: SessionId) -> bool {
        let Some(reg) = self.sessions.get() else { return false };
        match reg.sessions.find(session.generation(), session.index()) {
            Some(e) => {
                reg.sessions.touch(e);
                true
            }
            None => false,
        }
    }

    /// Disconnects a tree (TREE_DISCONNECT): closes every handle opened
    /// through it (locks and share reservations released, the unlock hook
    /// called once per file), then forgets it; its id is stale from then on.
    ///
    /// # Errors
    ///
    /// [`SessionError::TreeDeleted`] when the tree is already gone or going.
    pub fn tree_disconnect(&self, tree: TreeId) -> Result<CloseOutcome, SessionError> {
        let reg = self.sessions.get().ok_or(SessionError::TreeDeleted)?;
        let t = reg.trees.find(tree.generation(), tree.index()).ok_or(SessionError::TreeDeleted)?;
        if !t.begin_end(ENDING_DISCONNECT) {
            return Err(SessionError::TreeDeleted);
        }
        let mut out = CloseOutcome::default();
        let mut unlocked = Vec::new();
        self.end_tree(tree.index(), t, false, &mut out, &mut unlocked);
        // Out of its session's list (unless the session is logging off and
        // took the list already).
        if let Some(s) = reg.sessions.entry(t.parent()) {
            if let Some(rec) = s.payload.lock().as_mut() {
                rec.trees.retain(|&i| i != tree.index());
            }
        }
        drop(reg.trees.remove(tree.index()));
        self.finish_sweep(unlocked);
        Ok(out)
    }

    /// Logs a session off (LOGOFF, or its connection dropped): disconnects
    /// every tree of the session, closing every handle opened in it, then
    /// forgets the session; its id is stale from then on.
    ///
    /// # Errors
    ///
    /// [`SessionError::SessionDeleted`] when the session is already gone or
    /// going.
    pub fn logoff(&self, session: SessionId) -> Result<CloseOutcome, SessionError> {
        self.end_session(session, false)
    }

    /// A logoff, or (`keep_durable`) a dropped connection: durable handles
    /// are kept, disconnected.
    pub(crate) fn end_session(
        &self,
        session: SessionId,
        keep_durable: bool,
    ) -> Result<CloseOutcome, SessionError> {
        let reg = self.sessions.get().ok_or(SessionError::SessionDeleted)?;
        let s = reg
            .sessions
            .find(session.generation(), session.index())
            .ok_or(SessionError::SessionDeleted)?;
        let trees = {
            let mut p = s.payload.lock();
            if !s.is(session.generation()) || !s.begin_end(ENDING_LOGOFF) {
                return Err(SessionError::SessionDeleted);
            }
            p.as_mut().map(|r| std::mem::take(&mut r.trees)).unwrap_or_default()
        };
        let mut out = CloseOutcome::default();
        let mut unlocked = Vec::new();
        for i in trees {
            let Some(t) = reg.trees.entry(i) else { continue };
            // A tree disconnect under way owns that tree's ending.
            if t.begin_end(ENDING_LOGOFF) {
                self.end_tree(i, t, keep_durable, &mut out, &mut unlocked);
                drop(reg.trees.remove(i));
            }
        }
        wait_empty(s);
        drop(reg.sessions.remove(session.index()));
        self.finish_sweep(unlocked);
        Ok(out)
    }

    /// Closes every handle of an ending tree and waits for opens under way
    /// into it to finish failing.
    fn end_tree(
        &self,
        index: u32,
        t: &Entry<TreeRec>,
        keep_durable: bool,
        out: &mut CloseOutcome,
        unlocked: &mut Vec<FileNumber>,
    ) {
        self.sweep_tree(index, keep_durable, out, unlocked);
        wait_empty(t);
    }

    /// The tree entry at registry index `index`.
    fn tree_entry(&self, index: u32) -> Option<&Entry<TreeRec>> {
        self.sessions.get()?.trees.entry(index)
    }

    /// Closes the handles of tree `index` in every shard it marked, at most
    /// [`SWEEP_STEP`] per lock hold.
    pub(super) fn sweep_tree(
        &self,
        index: u32,
        keep_durable: bool,
        out: &mut CloseOutcome,
        unlocked: &mut Vec<FileNumber>,
    ) {
        let Some(t) = self.tree_entry(index) else { return };
        out.results.reserve(t.open_count() as usize);
        for shard in t.marked_shards().filter_map(|i| self.shards.get(i)) {
            loop {
                let mut g = shard.lock.write();
                let mut locs = g.take_tree_members(index, SWEEP_STEP);
                if locs.is_empty() {
                    break;
                }
                let n = locs.len() as u64;
                if keep_durable {
                    let before = locs.len();
                    locs.retain(|&l| !(g.is_durable(l) && self.keep_disconnected(&mut g, l)));
                    out.kept += before - locs.len();
                }
                // Taken off the tree's list: the closes unlink nothing, and
                // the tree is uncounted once for them all (kept ones too).
                self.close_step(shard, g, locs, out, unlocked);
                self.left_tree(index, n);
            }
        }
    }

    /// Calls the unlock hook for the files a sweep released locks of.
    pub(super) fn finish_sweep(&self, mut unlocked: Vec<FileNumber>) {
        if !unlocked.is_empty() {
            unlocked.sort_unstable();
            unlocked.dedup();
            self.notify_unlocked(&unlocked);
        }
    }

    /// Uncounts closed handles from their trees and sessions: one
    /// subtraction per run of equal trees (a sweep's are all one tree).
    pub(crate) fn left_trees(&self, trees: &[u32]) {
        for run in trees.chunk_by(|a, b| a == b) {
            self.left_tree(run[0], run.len() as u64);
        }
    }

    /// Uncounts `n` closed handles of tree `index` and its session.
    fn left_tree(&self, index: u32, n: u64) {
        let Some(reg) = self.sessions.get() else { return };
        if let Some(t) = reg.trees.entry(index) {
            if let Some(s) = reg.sessions.entry(t.parent()) {
                s.leave(n);
            }
            t.leave(n);
        }
    }

    /// Counts an open into its tree and session and marks its shard in the
    /// tree, and finds the tree; the caller checks [`tree_admits`] under its
    /// shard's lock.
    pub(crate) fn enter_tree(
        &self,
        tree: TreeId,
        shard: usize,
    ) -> Result<(&Entry<TreeRec>, &Entry<SessionRec>), OpenError> {
        let reg = self.sessions.get().ok_or(OpenError::TreeDeleted)?;
        let Some(t) = reg.trees.find(tree.generation(), tree.index()) else {
            return Err(gone(reg, tree));
        };
        let s = reg.sessions.entry(t.parent()).ok_or(OpenError::TreeDeleted)?;
        t.enter();
        s.enter();
        t.mark_shard(shard);
        Ok((t, s))
    }

    /// Undoes [`HandleTable::enter_tree`] for a refused open.
    pub(crate) fn leave_tree(&self, (t, s): (&Entry<TreeRec>, &Entry<SessionRec>)) {
        s.leave(1);
        t.leave(1);
    }

    /// A snapshot of one session.
    pub fn session(&self, id: SessionId) -> Option<SessionInfo> {
        let reg = self.sessions.get()?;
        let e = reg.sessions.find(id.generation(), id.index())?;
        session_info(reg, id.index(), e)
    }

    /// A snapshot of one tree connect.
    pub fn tree(&self, id: TreeId) -> Option<TreeInfo> {
        let reg = self.sessions.get()?;
        let e = reg.trees.find(id.generation(), id.index())?;
        let p = e.payload.lock();
        let rec = p.as_ref()?;
        (e.state() == LIVE).then(|| TreeInfo {
            id,
            session: rec.session,
            share_name: Arc::clone(&rec.share),
            num_opens: e.open_count(),
        })
    }

    /// The number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.get().map_or(0, |r| r.sessions.live() as usize)
    }

    /// One page of sessions, in a stable order (see [`SessionPage`]).
    pub fn list_sessions(&self, query: &SessionQuery) -> SessionPage {
        let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT).min(MAX_LIST_LIMIT);
        let Some(reg) = self.sessions.get() else { return SessionPage::default() };
        let high = reg.sessions.high();
        let mut out = Vec::new();
        let mut i = query.after.map_or(0, |a| a.saturating_add(1));
        while i < high && out.len() < limit {
            if let Some(info) = reg.sessions.entry(i).and_then(|e| session_info(reg, i, e)) {
                let keep = query
                    .user
                    .as_deref()
                    .is_none_or(|u| &*info.spec.user.sid == u || &*info.spec.user.name == u);
                if keep {
                    out.push(info);
                }
            }
            i += 1;
        }
        let next = (out.len() == limit && i < high).then(|| i - 1);
        SessionPage { sessions: out, next }
    }

    /// The session and tree connect the handle at `loc` was opened through;
    /// `None` for no handle or one opened outside sessions.
    pub fn handle_tree(&self, loc: Location) -> Option<(SessionId, TreeId)> {
        let reg = self.sessions.get()?;
        let i = self.shard(loc)?.lock.read().tree_of(loc)?;
        let t = reg.trees.entry(i)?;
        let g = reg.trees.generation(i);
        let session = t.payload.lock().as_ref()?.session;
        Some((session, TreeId::pack(g, i)))
    }

    /// The handles of one session, through every tree connect; costs in
    /// proportion to them (and the shard count), not to the table.
    pub fn session_handles(&self, id: SessionId) -> Vec<FileHandle> {
        let mut out = Vec::new();
        for t in self.trees_of(id) {
            let Some(e) = self.tree_entry(t) else { continue };
            for shard in e.marked_shards().filter_map(|i| self.shards.get(i)) {
                let g = shard.lock.read();
                for loc in g.tree_members(t, usize::MAX) {
                    out.extend(g.get(loc));
                }
            }
        }
        out
    }

    /// Registry indices of a live session's trees.
    pub(super) fn trees_of(&self, id: SessionId) -> Vec<u32> {
        let Some(reg) = self.sessions.get() else { return Vec::new() };
        let Some(e) = reg.sessions.find(id.generation(), id.index()) else { return Vec::new() };
        let p = e.payload.lock();
        p.as_ref().map(|r| r.trees.clone()).unwrap_or_default()
    }

    /// One step of a sweep: closes `locs` under the shard's write guard `g`,
    /// releases the lock, then drops what the closes removed and uncounts
    /// the handles' trees.
    pub(super) fn close_step(
        &self,
        shard: &super::PaddedShard,
        mut g: crate::sync::RwLockWriteGuard<'_, crate::shard::Shard>,
        locs: Vec<Location>,
        out: &mut CloseOutcome,
        unlocked: &mut Vec<FileNumber>,
    ) {
        let mut garbage = Vec::new();
        let mut trees = Vec::new();
        let mut tickets = Vec::new();
        for loc in locs {
            let r = self.close_under(
                shard,
                &mut g,
                loc,
                &mut garbage,
                unlocked,
                &mut trees,
                &mut tickets,
            );
            out.push(r);
        }
        self.trim(&mut g);
        drop(g);
        drop(garbage);
        self.left_trees(&trees);
        for t in tickets {
            super::settle(Some(t));
        }
    }
}

/// Waits for opens under way into an ending entry to finish (each holds a
/// shard lock for one open at most, so this is short).
fn wait_empty<P>(e: &Entry<P>) {
    let mut spins = 0u32;
    while e.opens.load(crate::sync::Ordering::SeqCst) != 0 {
        spins += 1;
        if spins < 64 && cfg!(not(smb_handles_loom)) {
            std::hint::spin_loop();
        } else {
            crate::sync::yield_now();
        }
    }
}

/// Why an open into tree `tree` is refused when the tree is not live.
fn gone(reg: &Sessions, tree: TreeId) -> OpenError {
    match reg.trees.why_gone(tree.generation(), tree.index()) {
        ENDING_LOGOFF => OpenError::SessionDeleted,
        _ => OpenError::TreeDeleted,
    }
}

/// Checks, under the open's shard lock, that its tree still admits opens;
/// the error to answer otherwise.
pub(crate) fn tree_admits(t: &Entry<TreeRec>, tree: TreeId) -> Result<(), OpenError> {
    match t.why(tree.generation()) {
        LIVE => Ok(()),
        ENDING_LOGOFF => Err(OpenError::SessionDeleted),
        _ => Err(OpenError::TreeDeleted),
    }
}

/// The snapshot of session entry `e` (index `i`), when live.
fn session_info(reg: &Sessions, i: u32, e: &Entry<SessionRec>) -> Option<SessionInfo> {
    if e.state() != LIVE {
        return None;
    }
    let p = e.payload.lock();
    let rec = p.as_ref()?;
    let share_names = rec
        .trees
        .iter()
        .filter_map(|&t| reg.trees.entry(t)?.payload.lock().as_ref().map(|r| Arc::clone(&r.share)))
        .collect();
    Some(SessionInfo {
        id: SessionId::pack(reg.sessions.generation(i), i),
        spec: Arc::clone(&rec.spec),
        num_opens: e.open_count(),
        created: rec.created,
        idle: Duration::from_nanos(reg.sessions.idle_nanos(e)),
        share_names,
        trees: rec.trees.iter().map(|&t| TreeId::pack(reg.trees.generation(t), t)).collect(),
    })
}
