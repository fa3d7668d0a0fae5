//! Sessions and tree connects: the model of who opened what through which
//! share, and the registry they live in. The table's operations on them are
//! in `table/sessions.rs`.

mod error;
mod id;
mod info;
pub(crate) mod registry;
mod select;

pub use error::SessionError;
pub use id::{SessionId, TreeId};
pub use info::{Domain, SessionInfo, SessionSpec, TreeInfo, User};
pub use select::{CloseOutcome, Selector, SessionPage, SessionQuery};

use std::sync::Arc;
use std::time::SystemTime;

/// What the session registry keeps per session beside its counters.
#[derive(Debug)]
pub(crate) struct SessionRec {
    pub(crate) spec: Arc<SessionSpec>,
    pub(crate) created: SystemTime,
    /// Registry indices of its tree connects, in connect order.
    pub(crate) trees: Vec<u32>,
}

/// What the tree registry keeps per tree connect.
#[derive(Debug)]
pub(crate) struct TreeRec {
    pub(crate) share: Arc<str>,
    pub(crate) session: SessionId,
}

/// A table's sessions and tree connects.
#[derive(Debug)]
pub(crate) struct Sessions {
    pub(crate) sessions: registry::Registry<SessionRec>,
    pub(crate) trees: registry::Registry<TreeRec>,
}

impl Sessions {
    pub(crate) fn new() -> Sessions {
        Sessions { sessions: registry::Registry::new(), trees: registry::Registry::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::registry::Entry;
    use super::*;

    /// The records' sizes, as the contract's cost notes and the closing
    /// note of issue 16 state them: a session or tree entry is two cache
    /// lines at most, a handle's link 16 bytes.
    #[test]
    fn record_sizes() {
        let session = std::mem::size_of::<Entry<SessionRec>>();
        let tree = std::mem::size_of::<Entry<TreeRec>>();
        println!("session entry {session} B, tree entry {tree} B");
        assert!(session <= 128 && tree <= 128, "session {session} B, tree {tree} B");
        assert_eq!(std::mem::size_of::<crate::shard::TreeLink>(), 16);
    }
}
