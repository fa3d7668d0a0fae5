//! Without the `store` feature: no store, so no persistent handle; the
//! hooks the durable code calls are no-ops that compile away.

use crate::durable::PersistentId;
use crate::location::Location;
use crate::shard::Shard;

use super::durable::Rec;
use super::HandleTable;

/// No store op exists without a store: an empty type.
#[derive(Debug, Clone)]
pub(crate) enum Ticket {}

/// Nothing to wait for.
pub(crate) fn settle(t: Option<Ticket>) -> bool {
    match t {
        None => true,
        Some(t) => match t {},
    }
}

impl HandleTable {
    /// No store: no persistent handles.
    pub(crate) fn persists(&self) -> bool {
        false
    }

    pub(crate) fn persist_put(&self, _: &Shard, _: Location, _: &Rec) -> Option<Ticket> {
        None
    }

    pub(crate) fn persist_remove(&self, _: PersistentId) -> Option<Ticket> {
        None
    }
}
