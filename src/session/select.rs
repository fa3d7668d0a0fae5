//! Selectors (which handles an administrator or a server closes at once),
//! what a close by selector, logoff or tree disconnect answers, and the
//! session listing's query and page.

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::CloseError;
use crate::record::FileHandle;

use super::id::{SessionId, TreeId};
use super::info::SessionInfo;

/// A set of handles to close at once
/// ([`HandleTable::close_selected`](crate::HandleTable::close_selected)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selector {
    /// Every handle opened in the session (through any of its trees).
    Session(SessionId),
    /// Every handle opened through the tree connect.
    Tree(TreeId),
    /// Every handle opened through a tree connect to the share (names
    /// compare case-insensitively, as SMB share names do).
    ShareName(Arc<str>),
    /// Every handle opened in a session of the user, named by SID or by
    /// name (exactly).
    User(Arc<str>),
    /// Every handle opened in a session from the client address.
    ClientAddress(IpAddr),
    /// Every handle of the table whose file's path is the prefix or lies
    /// under it (`/a/b` selects `/a/b` and `/a/b/c`, not `/a/bc`): the
    /// folder, recursively, as Azure Files' force-close takes it. Handles
    /// opened outside sessions are selected too.
    PathPrefix(Arc<str>),
}

/// What a logoff, a tree disconnect or a close by selector did: one result
/// per handle it found, and the counts.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct CloseOutcome {
    /// One result per handle found: its record, or why its close failed
    /// (closed meanwhile by another caller).
    pub results: Vec<Result<FileHandle, CloseError>>,
    /// Handles closed.
    pub closed: usize,
    /// Handles found whose close failed.
    pub failed: usize,
    /// Durable handles kept, disconnected (only a
    /// [`HandleTable::disconnect`](crate::HandleTable::disconnect) keeps any).
    pub kept: usize,
}

impl CloseOutcome {
    pub(crate) fn push(&mut self, r: Result<FileHandle, CloseError>) {
        match r {
            Ok(_) => self.closed += 1,
            Err(_) => self.failed += 1,
        }
        self.results.push(r);
    }
}

/// What to list of the sessions
/// ([`HandleTable::list_sessions`](crate::HandleTable::list_sessions)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionQuery {
    /// Resume after this position (a page's `next`).
    pub after: Option<u32>,
    /// Page size; default [`DEFAULT_LIST_LIMIT`](crate::DEFAULT_LIST_LIMIT),
    /// capped at [`MAX_LIST_LIMIT`](crate::MAX_LIST_LIMIT); `Some(0)` is an
    /// empty page.
    pub limit: Option<usize>,
    /// Only sessions whose user has this SID or name.
    pub user: Option<Arc<str>>,
}

impl SessionQuery {
    /// Every session, first page.
    pub fn new() -> SessionQuery {
        SessionQuery::default()
    }

    /// Resumes after `after`.
    pub fn after(mut self, after: Option<u32>) -> SessionQuery {
        self.after = after;
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> SessionQuery {
        self.limit = Some(limit);
        self
    }

    /// Keeps only sessions of the user with this SID or name.
    pub fn user(mut self, user: impl Into<Arc<str>>) -> SessionQuery {
        self.user = Some(user.into());
        self
    }
}

/// One page of sessions, in registry order: every session live for a whole
/// walk is listed exactly once, one set up or logged off during it at most
/// once.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SessionPage {
    /// The sessions.
    pub sessions: Vec<SessionInfo>,
    /// Where the next page starts, or `None` when this was the last.
    pub next: Option<u32>,
}
