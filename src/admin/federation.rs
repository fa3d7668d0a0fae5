//! What the admin endpoint needs of a cluster to answer for all of it: who
//! the members are and how to send one of them a node-local request. The
//! `cluster` feature's [`Cluster`](crate::cluster::Cluster) implements it
//! on etcd; an embedder with its own membership can implement it too.
//!
//! A request that carries the cluster's peer credential (header
//! [`PEER_HEADER`]) is answered for this node alone, with node-local
//! locations, as a single-node endpoint answers; every other request
//! (an administrator's, with a bearer token) is answered for the cluster,
//! with cluster locations `NODE-LOCATION` (see `docs/contract.md` §17).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// The header a node's request to a peer carries its credential in (never
/// an administrator's bearer token).
pub const PEER_HEADER: &str = "x-smb-handles-peer";

/// The query parameter (`cluster_form=1`) a node adds to a member's part
/// of a handle listing: the member then writes its locations in the
/// cluster form `NODE-LOCATION` itself, and the asking node passes its
/// entries on without reading them. Heeded only on a peer's request (or
/// the asking node's own part); anyone else's is ignored, as unknown
/// parameters are.
pub(crate) const CLUSTER_FORM: (&str, &str) = ("cluster_form", "1");

/// A request's mark that its listing is a member's part in the cluster
/// form, for this node id (see [`CLUSTER_FORM`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClusterForm(pub(crate) u64);

/// Marks `req` with [`ClusterForm`] for `node` when its query asks for it.
pub(crate) fn mark_cluster_form<B>(req: &mut hyper::Request<B>, node: u64) {
    let asked = req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == CLUSTER_FORM.0 && v == CLUSTER_FORM.1)
    });
    if asked {
        req.extensions_mut().insert(ClusterForm(node));
    }
}

/// One member of the cluster: its node id (unique among the members that
/// ever joined) and the name it joined with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// The node id.
    pub id: u64,
    /// The node's name (`--node`).
    pub name: String,
}

impl Member {
    /// A member with this id and name.
    pub fn new(id: u64, name: impl Into<String>) -> Member {
        Member { id, name: name.into() }
    }
}

/// A peer's answer: its HTTP status and body.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PeerReply {
    /// The HTTP status code.
    pub status: u16,
    /// The body (JSON).
    pub body: Bytes,
}

impl PeerReply {
    /// An answer with this status and body.
    pub fn new(status: u16, body: Bytes) -> PeerReply {
        PeerReply { status, body }
    }
}

/// A boxed future of the federation's calls.
pub type FederationFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A cluster as the admin endpoint sees it.
pub trait Federation: Send + Sync + 'static {
    /// This node's id.
    fn node_id(&self) -> u64;

    /// The live members, this node among them, in increasing id order:
    /// read fresh where it can be, else the last membership seen (while
    /// the membership store is unreachable).
    fn members(&self) -> FederationFuture<'_, Vec<Member>>;

    /// Sends `member` a node-local request (`method`, `path_and_query`,
    /// `body`) with the peer credential; `Err` says why it could not be
    /// reached (shown to the administrator as the node's `error_message`).
    fn forward<'a>(
        &'a self,
        member: &'a Member,
        method: &'a str,
        path_and_query: &'a str,
        body: Bytes,
    ) -> FederationFuture<'a, Result<PeerReply, String>>;

    /// Whether `credential` (the [`PEER_HEADER`] value of a request) is the
    /// cluster's peer credential. Compared in constant time.
    fn is_peer(&self, credential: &str) -> bool;

    /// Handles no member holds but the cluster keeps (a dead node's
    /// persistent handles, waiting for their clients), as
    /// `GET /v1/smb/files/` entries: cluster locations, `"disconnected":
    /// true`, paths when `resolve_paths`. They end the listing, after every
    /// member's handles. None by default.
    fn orphan_handles(
        &self,
        resolve_paths: bool,
    ) -> FederationFuture<'_, Result<Vec<serde_json::Value>, String>> {
        let _ = resolve_paths;
        Box::pin(async { Ok(Vec::new()) })
    }
}
