//! One cluster, one view: nodes that embed the table join a named cluster in
//! etcd, and each node's admin endpoint lists and closes for all of them.
//! Needs the `cluster` feature.
//!
//! * **Membership.** [`Cluster::join`] takes a node id from the cluster's
//!   counter in etcd (a transaction: ids only grow, so no two nodes, live
//!   or gone, ever hold one) and registers the node under
//!   `/smb-handles/<cluster>/members/` with an etcd lease that a thread of
//!   the cluster keeps alive. A node whose lease lapses (killed, stopped,
//!   cut off) is gone for every other node within the lease's TTL. Nothing
//!   on the table's paths touches etcd: only admin requests do.
//! * **Peers.** Each member publishes where its admin endpoint listens
//!   (TLS) and the SHA-256 of its certificate; a node connects to a peer
//!   only if the peer presents that certificate, and proves itself with the
//!   cluster credential (HMAC-SHA-256 of the cluster's name under the
//!   shared key, in [`PEER_HEADER`]), never an
//!   administrator's token.
//! * **While etcd is away** every node goes on serving its own table; the
//!   membership last read stands in (peers are still asked directly), and
//!   the node re-registers once etcd answers again.
//!
//! The admin side of it (cluster locations `NODE-LOCATION`, the merged
//! listing and the forwarded close) is [`crate::admin::Federation`], which
//! [`Cluster`] implements. `docs/cluster.md` is the design.
//!
//! # Examples
//!
//! ```no_run
//! use std::sync::Arc;
//! use smb_handles::admin::{self, AdminConfig, Credentials, TlsIdentity};
//! use smb_handles::cluster::{Cluster, ClusterConfig, ClusterKey};
//! use smb_handles::HandleTable;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = TlsIdentity::from_pem_files("cert.pem".as_ref(), "key.pem".as_ref())?;
//! let key = ClusterKey::from_file("/etc/myserver/cluster.key".as_ref())?;
//! let addr = "10.0.0.5:8000".parse()?;
//! let config = ClusterConfig::new("http://127.0.0.1:2379", "prod", "node-a", addr, key)
//!     .certificate_sha256(identity.certificate_sha256());
//! let cluster = Cluster::join(config)?;
//! let table = Arc::new(HandleTable::new());
//! let admin = AdminConfig::new(Credentials::new("admin", "s3cret")?)
//!     .tls(addr, identity)
//!     .federation(cluster.clone());
//! let _server = admin::serve(table, admin)?;
//! # Ok(()) }
//! ```

mod etcd;
mod http;
mod key;
mod membership;
mod store;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::admin::{Federation, FederationFuture, Member, PeerReply, PEER_HEADER};

pub use key::{ClusterKey, KeyError, MIN_KEY_BYTES};
pub use membership::{Cluster, JoinError};
pub use store::{EtcdStore, Orphan, TakeOverError};

/// The lease TTL when none is given: a dead node is gone within 5 s.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// How a node joins: etcd's URL, the cluster's and the node's names, the
/// address its peers reach its admin endpoint at, and the shared key.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// etcd's client URL, `http://HOST:PORT`.
    pub etcd: String,
    /// The cluster's name (the etcd key prefix is `/smb-handles/<name>/`).
    pub cluster: String,
    /// This node's name (shown in listings' `unreachable_nodes`).
    pub node: String,
    /// Where peers reach this node's admin endpoint (TLS).
    pub addr: SocketAddr,
    /// The key every node of the cluster shares.
    pub key: ClusterKey,
    /// The SHA-256 of this node's TLS certificate, published for peers.
    pub certificate_sha256: [u8; 32],
    /// The etcd lease's time-to-live.
    pub lease_ttl: Duration,
    /// How long a call to etcd or a peer may take.
    pub request_timeout: Duration,
}

impl ClusterConfig {
    /// A configuration with the default lease TTL (5 s) and a 2 s timeout
    /// for each call to etcd or a peer.
    pub fn new(
        etcd: impl Into<String>,
        cluster: impl Into<String>,
        node: impl Into<String>,
        addr: SocketAddr,
        key: ClusterKey,
    ) -> ClusterConfig {
        ClusterConfig {
            etcd: etcd.into(),
            cluster: cluster.into(),
            node: node.into(),
            addr,
            key,
            certificate_sha256: [0; 32],
            lease_ttl: DEFAULT_LEASE_TTL,
            request_timeout: Duration::from_secs(2),
        }
    }

    /// Sets the certificate fingerprint peers pin this node to
    /// ([`TlsIdentity::certificate_sha256`](crate::admin::TlsIdentity::certificate_sha256)).
    pub fn certificate_sha256(mut self, sha256: [u8; 32]) -> ClusterConfig {
        self.certificate_sha256 = sha256;
        self
    }

    /// Sets the lease TTL (whole seconds, at least 2).
    pub fn lease_ttl(mut self, ttl: Duration) -> ClusterConfig {
        self.lease_ttl = ttl;
        self
    }
}

impl Federation for Cluster {
    fn node_id(&self) -> u64 {
        self.id()
    }

    fn members(&self) -> FederationFuture<'_, Vec<Member>> {
        Box::pin(async move {
            self.view().await.into_iter().map(|r| Member::new(r.id, r.name)).collect()
        })
    }

    fn forward<'a>(
        &'a self,
        member: &'a Member,
        method: &'a str,
        path_and_query: &'a str,
        body: Bytes,
    ) -> FederationFuture<'a, Result<PeerReply, String>> {
        Box::pin(async move {
            let record = self
                .record_of(member.id)
                .ok_or_else(|| format!("node {} is not a member", member.id))?;
            let credential = self.credential();
            let headers = [(PEER_HEADER, credential.as_str())];
            let req = http::Outgoing { method, path_and_query, headers: &headers, body };
            let (status, body) =
                http::pinned_tls(record.addr, record.cert, req, self.timeout()).await?;
            Ok(PeerReply::new(status, body))
        })
    }

    fn is_peer(&self, credential: &str) -> bool {
        self.key().verify(self.cluster_name(), credential)
    }

    fn orphan_handles(
        &self,
        resolve_paths: bool,
    ) -> FederationFuture<'_, Result<Vec<serde_json::Value>, String>> {
        Box::pin(async move {
            let orphans = self.orphans().await?;
            Ok(orphans.iter().filter_map(|o| o.to_json(resolve_paths)).collect())
        })
    }
}
