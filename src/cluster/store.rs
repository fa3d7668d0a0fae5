//! Persistent handles on etcd: [`EtcdStore`], the [`HandleStore`] of one
//! node (its records under `/smb-handles/<cluster>/opens/<node id>/`), and
//! the take-over of a dead node's open by a live one.
//!
//! * A commit is one etcd transaction per 128 operations (etcd's default
//!   `--max-txn-ops`); [`GroupCommit`](crate::store::GroupCommit) answers
//!   its tickets only once every transaction of the batch is in etcd. A
//!   batch of more than 128 is therefore not atomic as a whole: when a later
//!   transaction fails, the earlier ones stay applied and every ticket of
//!   the batch reports the failure. Nothing acknowledged is lost; an open
//!   reported as failed may still be found by a take-over, as after a
//!   crash between a commit and its answer.
//! * A node that dies leaves its records: they are listed as disconnected
//!   by every node ([`Cluster::orphans`]) until one takes them over.
//! * [`Cluster::take_over`] moves one to the node that asks, in a
//!   transaction that holds only while the dead node is still no member
//!   and the record unchanged: two nodes can never both adopt one open.

use std::fmt;

use parking_lot::Mutex;

use super::etcd::{cmp_mod, cmp_version, op_delete, op_put, Etcd};
use super::membership::{member_key, opens_prefix, Cluster};
use crate::location::Location;
use crate::store::{Damage, DamageReason, HandleStore, Recovery, StoreError, StoreOp, StoredOpen};
use crate::{HandleTable, PersistentId};

/// Operations per etcd transaction (etcd's default `--max-txn-ops`).
const TXN_OPS: usize = 128;

/// The key of one stored open.
fn open_key(prefix: &str, id: u64) -> String {
    format!("{prefix}{id:016x}")
}

/// One node's persistent opens, kept in etcd.
pub struct EtcdStore {
    etcd: Etcd,
    prefix: String,
    runtime: Mutex<tokio::runtime::Runtime>,
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn db(operation: &'static str) -> impl Fn(String) -> StoreError {
    move |message| StoreError::Database { operation, message }
}

impl EtcdStore {
    /// The store of `cluster`'s node (a new node id: empty until this node
    /// writes; a restarted node's old records stay its old id's, to be
    /// taken over).
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] when its runtime cannot be made.
    pub fn new(cluster: &Cluster) -> Result<EtcdStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Open { path: "etcd".into(), message: e.to_string() })?;
        Ok(EtcdStore {
            etcd: cluster.etcd().clone(),
            prefix: opens_prefix(cluster.cluster_name(), cluster.id()),
            runtime: Mutex::new(runtime),
        })
    }
}

impl HandleStore for EtcdStore {
    fn commit(&self, batch: &[StoreOp]) -> Result<(), StoreError> {
        let mut ops = Vec::with_capacity(batch.len());
        for op in batch {
            ops.push(match op {
                StoreOp::Put(open) => {
                    let bytes = open.encode().map_err(StoreError::Encode)?;
                    op_put(&open_key(&self.prefix, open.persistent_id), &bytes)
                }
                StoreOp::Remove(id) => op_delete(&open_key(&self.prefix, *id)),
            });
        }
        let rt = self.runtime.lock();
        for chunk in ops.chunks(TXN_OPS) {
            rt.block_on(self.etcd.txn(Vec::new(), chunk.to_vec())).map_err(db("commit"))?;
        }
        Ok(())
    }

    fn load(&self) -> Result<Recovery, StoreError> {
        let kvs = self.runtime.lock().block_on(self.etcd.range_prefix(&self.prefix));
        let mut out = Recovery::default();
        for kv in kvs.map_err(db("load"))? {
            match StoredOpen::decode(&kv.value) {
                Ok(o) => out.opens.push(o),
                Err(e) => out.damaged.push(Damage {
                    key: u64::from_str_radix(kv.key.rsplit('/').next().unwrap_or(""), 16).ok(),
                    reason: DamageReason::Record(e),
                }),
            }
        }
        out.opens.sort_by_key(|o| o.persistent_id);
        Ok(out)
    }
}

/// A dead node's persistent open, as the cluster lists it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Orphan {
    /// The node that stored it (no member any more).
    pub node: u64,
    /// The open.
    pub open: StoredOpen,
    key: String,
    mod_revision: i64,
}

impl Orphan {
    /// The open as a `GET /v1/smb/files/` entry: its cluster location,
    /// `"disconnected": true`, its path when `resolve_paths`.
    pub fn to_json(&self, resolve_paths: bool) -> Option<serde_json::Value> {
        let o = &self.open;
        let loc = Location::from_raw(o.location)?;
        let mut info = crate::HandleInfo::new(
            loc,
            crate::AccessMask::from_bits_retain(o.access),
            std::sync::Arc::from(o.owner.as_str()),
        );
        info.num_byte_range_locks = u32::try_from(o.locks.len()).unwrap_or(u32::MAX);
        info.directory = o.directory;
        info.durable = true;
        info.disconnected = true;
        if resolve_paths {
            info.path = Some(std::sync::Arc::from(o.path.as_str()));
        }
        let handle = crate::FileHandle::new(crate::FileNumber(o.file_number), info);
        let page: serde_json::Value =
            serde_json::from_slice(&crate::json::listing_to_json(&[handle], None)).ok()?;
        let mut entry = page.get("file_handles")?.get(0)?.clone();
        let text = format!("{}-{loc}", self.node);
        entry.get_mut("handle_info")?["location"] = serde_json::Value::String(text);
        Some(entry)
    }
}

/// Why [`Cluster::take_over`] did not take an open.
#[derive(Debug)]
#[non_exhaustive]
pub enum TakeOverError {
    /// No dead node left an open with this persistent id.
    NotFound,
    /// Another node took it first, or its node came back.
    Taken,
    /// This table cannot hold it (the reason).
    Refused(&'static str),
    /// etcd did not answer.
    Etcd(String),
}

impl fmt::Display for TakeOverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TakeOverError::NotFound => f.write_str("no dead node left an open with this id"),
            TakeOverError::Taken => f.write_str("another node took the open over first"),
            TakeOverError::Refused(why) => write!(f, "this table cannot take the open: {why}"),
            TakeOverError::Etcd(e) => write!(f, "etcd: {e}"),
        }
    }
}

impl std::error::Error for TakeOverError {}

impl Cluster {
    /// The persistent opens of nodes that are no members any more, by node
    /// and persistent id.
    ///
    /// # Errors
    ///
    /// etcd's message when it does not answer.
    pub async fn orphans(&self) -> Result<Vec<Orphan>, String> {
        let members: Vec<u64> = self.view().await.iter().map(|r| r.id).collect();
        let all = format!("/smb-handles/{}/opens/", self.cluster_name());
        let mut out = Vec::new();
        for kv in self.etcd().range_prefix(&all).await? {
            let Some(rest) = kv.key.strip_prefix(&all) else { continue };
            let Some(node) = rest.split('/').next().and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            if members.contains(&node) {
                continue;
            }
            if let Ok(open) = StoredOpen::decode(&kv.value) {
                out.push(Orphan { node, open, key: kv.key.clone(), mod_revision: kv.mod_revision });
            }
        }
        Ok(out)
    }

    /// Takes over the dead node's open with persistent id `id` into
    /// `table` (whose store must be this node's [`EtcdStore`]): the table
    /// adopts it (HandleTable::adopt) at a location of its own, and one
    /// etcd transaction moves its record here, if the node that left it is
    /// still no member and nobody moved it first; otherwise the adoption is
    /// undone. Then its client reconnects with `table.reconnect`.
    /// Blocking; call it from a thread of the server's own.
    ///
    /// # Errors
    ///
    /// [`TakeOverError`].
    pub fn take_over(
        &self,
        table: &HandleTable,
        id: PersistentId,
    ) -> Result<Location, TakeOverError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TakeOverError::Etcd(e.to_string()))?;
        rt.block_on(async {
            let orphans = self.orphans().await.map_err(TakeOverError::Etcd)?;
            let o = orphans
                .into_iter()
                .find(|o| o.open.persistent_id == id.0)
                .ok_or(TakeOverError::NotFound)?;
            let loc = table.adopt(&o.open).map_err(TakeOverError::Refused)?;
            let mut moved = o.open.clone();
            moved.location = loc.as_u64();
            let bytes = moved.encode().map_err(|e| TakeOverError::Etcd(e.to_string()))?;
            let here = open_key(&opens_prefix(self.cluster_name(), self.id()), id.0);
            let compare = vec![
                cmp_version(&member_key(self.cluster_name(), o.node), 0),
                cmp_mod(&o.key, o.mod_revision),
            ];
            let success = vec![op_delete(&o.key), op_put(&here, &bytes)];
            match self.etcd().txn(compare, success).await {
                Ok(true) => Ok(loc),
                other => {
                    // Not ours: the adoption is undone (its close removes
                    // nothing from etcd that exists).
                    let _ = table.close(loc);
                    match other {
                        Err(e) => Err(TakeOverError::Etcd(e)),
                        _ => Err(TakeOverError::Taken),
                    }
                }
            }
        })
    }
}
