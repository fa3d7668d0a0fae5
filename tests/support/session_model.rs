//! A plain reference model of sessions and tree connects, shared by the
//! property test (tests/model.rs and tests/sessions.rs) and the `table_ops`
//! fuzz target: which handle came through which tree, what a logoff, tree
//! disconnect or selector must close, and what an open into a dead tree
//! must answer.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use smb_handles::{Location, OpenError, SessionError, SessionId, TreeId};

/// How a session or tree ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Live,
    LoggedOff,
    Disconnected,
}

#[derive(Clone, Debug)]
pub struct MSession {
    pub id: SessionId,
    pub sid: String,
    pub name: String,
    pub ip: IpAddr,
    pub life: Life,
    pub trees: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct MTree {
    pub id: TreeId,
    pub session: usize,
    pub share: String,
    pub life: Life,
}

/// The model: every session and tree ever set up (dead ones stay, to be
/// used as stale ids), and the tree of each live handle opened in one.
#[derive(Default, Debug)]
pub struct SessionModel {
    pub sessions: Vec<MSession>,
    pub trees: Vec<MTree>,
    pub handle_tree: BTreeMap<Location, usize>,
}

impl SessionModel {
    pub fn set_up(&mut self, id: SessionId, sid: &str, name: &str, ip: IpAddr) -> usize {
        self.sessions.push(MSession {
            id,
            sid: sid.into(),
            name: name.into(),
            ip,
            life: Life::Live,
            trees: Vec::new(),
        });
        self.sessions.len() - 1
    }

    /// What a tree connect into session `s` must answer (before it is made).
    pub fn connect_allowed(&self, s: usize) -> Result<(), SessionError> {
        match self.sessions[s].life {
            Life::Live => Ok(()),
            _ => Err(SessionError::SessionDeleted),
        }
    }

    pub fn connected(&mut self, s: usize, id: TreeId, share: &str) -> usize {
        self.trees.push(MTree { id, session: s, share: share.into(), life: Life::Live });
        let t = self.trees.len() - 1;
        self.sessions[s].trees.push(t);
        t
    }

    /// What an open into tree `t` must answer for its tree (before sharing).
    pub fn open_allowed(&self, t: usize) -> Result<(), OpenError> {
        match self.trees[t].life {
            Life::Live => Ok(()),
            Life::LoggedOff => Err(OpenError::SessionDeleted),
            Life::Disconnected => Err(OpenError::TreeDeleted),
        }
    }

    pub fn opened(&mut self, loc: Location, t: usize) {
        self.handle_tree.insert(loc, t);
    }

    pub fn closed(&mut self, loc: Location) {
        self.handle_tree.remove(&loc);
    }

    /// The live handles of tree `t`, in location order.
    pub fn tree_handles(&self, t: usize) -> Vec<Location> {
        self.handle_tree.iter().filter(|&(_, &x)| x == t).map(|(&l, _)| l).collect()
    }

    /// Handles of the trees matching `keep`, in location order.
    pub fn handles_where(&self, keep: impl Fn(&MTree, &MSession) -> bool) -> Vec<Location> {
        self.handle_tree
            .iter()
            .filter(|&(_, &t)| {
                let tree = &self.trees[t];
                keep(tree, &self.sessions[tree.session])
            })
            .map(|(&l, _)| l)
            .collect()
    }

    /// Ends tree `t` as `how`; returns the handles it must close.
    pub fn end_tree(&mut self, t: usize, how: Life) -> Vec<Location> {
        self.trees[t].life = how;
        let gone = self.tree_handles(t);
        for l in &gone {
            self.handle_tree.remove(l);
        }
        gone
    }

    /// Logs session `s` off; the handles it must close (`Err` when the
    /// session is not live).
    pub fn logoff(&mut self, s: usize) -> Result<Vec<Location>, SessionError> {
        if self.sessions[s].life != Life::Live {
            return Err(SessionError::SessionDeleted);
        }
        self.sessions[s].life = Life::LoggedOff;
        let mut gone = Vec::new();
        for t in self.sessions[s].trees.clone() {
            if self.trees[t].life == Life::Live {
                gone.extend(self.end_tree(t, Life::LoggedOff));
            }
        }
        gone.sort();
        Ok(gone)
    }

    /// Disconnects tree `t`; the handles it must close.
    pub fn disconnect(&mut self, t: usize) -> Result<Vec<Location>, SessionError> {
        if self.trees[t].life != Life::Live {
            return Err(SessionError::TreeDeleted);
        }
        Ok(self.end_tree(t, Life::Disconnected))
    }

    /// Live opens of session `s` and of tree `t`.
    pub fn session_opens(&self, s: usize) -> u64 {
        self.handles_where(|tree, _| tree.session == s).len() as u64
    }

    pub fn tree_opens(&self, t: usize) -> u64 {
        self.tree_handles(t).len() as u64
    }
}
