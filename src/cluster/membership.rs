//! A node's membership: its id from the cluster's counter, its record under
//! the members prefix with a lease, the thread that keeps the lease alive,
//! and the last membership read (what stands in while etcd is away).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::etcd::Etcd;
use super::key::ClusterKey;
use super::ClusterConfig;

/// A joined node. Shared (`Arc`) by the admin endpoint, which asks it for
/// the members and sends peers their part of a request through it.
pub struct Cluster {
    id: u64,
    name: String,
    cluster: String,
    key: ClusterKey,
    etcd: Etcd,
    timeout: Duration,
    last_view: Mutex<Vec<Record>>,
    leave: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("cluster", &self.cluster)
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a node could not join.
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinError {
    /// A setting is unusable (the message says which).
    Config(String),
    /// etcd refused or did not answer.
    Etcd(String),
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Config(m) => write!(f, "cannot join the cluster: {m}"),
            JoinError::Etcd(m) => write!(f, "cannot join the cluster through etcd: {m}"),
        }
    }
}

impl std::error::Error for JoinError {}

/// A member's record in etcd.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    #[serde(with = "hex32")]
    pub(crate) cert: [u8; 32],
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(serde::de::Error::custom("a SHA-256 is 64 hex digits"));
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

fn prefix(cluster: &str) -> String {
    format!("/smb-handles/{cluster}/")
}

pub(crate) fn member_key(cluster: &str, id: u64) -> String {
    format!("{}members/{id:020}", prefix(cluster))
}

/// Where node `id`'s persistent opens are kept.
pub(crate) fn opens_prefix(cluster: &str, id: u64) -> String {
    format!("{}opens/{id:020}/", prefix(cluster))
}

/// Takes the next node id: the counter read, then written one higher only
/// if no other node wrote it meanwhile (an etcd transaction).
async fn next_id(etcd: &Etcd, cluster: &str) -> Result<u64, String> {
    let counter = format!("{}next-node-id", prefix(cluster));
    for _ in 0..100 {
        let current = etcd.get(&counter).await?;
        let (id, rev) = match &current {
            None => (1, 0),
            Some(kv) => {
                let text = String::from_utf8_lossy(&kv.value).into_owned();
                let id = text.trim().parse::<u64>().map_err(|_| {
                    format!("{counter} holds {text:?}, not a node id: not this cluster's key")
                })?;
                (id, kv.mod_revision)
            }
        };
        if etcd.put_if(&counter, (id + 1).to_string().as_bytes(), rev).await? {
            return Ok(id);
        }
    }
    Err("the node id counter kept changing under 100 attempts".into())
}

impl Cluster {
    /// Joins the cluster `config` names: takes a node id no node ever held,
    /// registers this node with a lease of `config.lease_ttl`, and starts
    /// the thread that keeps it alive (and re-registers the node if etcd
    /// let the lease lapse while unreachable). Returns once registered.
    ///
    /// # Errors
    ///
    /// [`JoinError`] when a setting is unusable or etcd does not answer.
    pub fn join(config: ClusterConfig) -> Result<Arc<Cluster>, JoinError> {
        let ttl = config.lease_ttl.as_secs();
        if ttl < 2 {
            return Err(JoinError::Config("the lease TTL must be at least 2 s".into()));
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        if !valid(&config.cluster) || !valid(&config.node) {
            return Err(JoinError::Config(
                "cluster and node names are letters, digits, '-', '_' and '.'".into(),
            ));
        }
        let etcd = Etcd::new(&config.etcd, config.request_timeout).map_err(JoinError::Config)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("smbh-cluster".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(JoinError::Config(format!("runtime: {e}"))));
                        return;
                    }
                };
                rt.block_on(async move {
                    let registered = async {
                        let id = next_id(&etcd, &config.cluster).await?;
                        let record = Record {
                            id,
                            name: config.node.clone(),
                            addr: config.addr,
                            cert: config.certificate_sha256,
                        };
                        let lease = register(&etcd, &config.cluster, &record, ttl).await?;
                        Ok::<_, String>((record, lease))
                    }
                    .await;
                    let (record, lease) = match registered {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = ready_tx.send(Err(JoinError::Etcd(e)));
                            return;
                        }
                    };
                    let (leave_tx, leave_rx) = oneshot::channel();
                    let cluster = Arc::new(Cluster {
                        id: record.id,
                        name: record.name.clone(),
                        cluster: config.cluster.clone(),
                        key: config.key.clone(),
                        etcd: etcd.clone(),
                        timeout: config.request_timeout,
                        last_view: Mutex::new(vec![record.clone()]),
                        leave: Mutex::new(Some(leave_tx)),
                        thread: Mutex::new(None),
                    });
                    let _ = ready_tx.send(Ok(cluster.clone()));
                    keep_alive(&cluster, record, lease, ttl, leave_rx).await;
                });
            })
            .map_err(|e| JoinError::Config(format!("spawn the cluster thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(cluster)) => {
                *cluster.thread.lock() = Some(thread);
                Ok(cluster)
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(JoinError::Config("the cluster thread ended before joining".into())),
        }
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Leaves the cluster: revokes the lease (the node is gone for every
    /// other node at once) and stops the keep-alive thread. Without it the
    /// node is gone once its lease lapses.
    pub fn leave(&self) {
        if let Some(tx) = self.leave.lock().take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }

    pub(crate) fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    pub(crate) fn cluster_name(&self) -> &str {
        &self.cluster
    }

    pub(crate) fn key(&self) -> &ClusterKey {
        &self.key
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn credential(&self) -> String {
        self.key.credential(&self.cluster)
    }

    /// The members, fresh from etcd (then remembered), or the last read
    /// while etcd does not answer. This node is always among them.
    pub(crate) async fn view(&self) -> Vec<Record> {
        let members = format!("{}members/", prefix(&self.cluster));
        // etcd on loopback or a LAN answers in milliseconds: a second at
        // most before the last view stands in.
        let wait = self.timeout.min(Duration::from_secs(1));
        let read = tokio::time::timeout(wait, self.etcd.range_prefix(&members)).await;
        let mut view = self.last_view.lock().clone();
        if let Ok(Ok(kvs)) = read {
            view = kvs.iter().filter_map(|kv| serde_json::from_slice(&kv.value).ok()).collect();
            if !view.iter().any(|r: &Record| r.id == self.id) {
                // Our lease lapsed while etcd was away; the keep-alive
                // thread is registering us again.
                if let Some(me) = self.last_view.lock().iter().find(|r| r.id == self.id) {
                    view.push(me.clone());
                }
            }
            view.sort_by_key(|r| r.id);
            *self.last_view.lock() = view.clone();
        }
        view
    }

    /// The record of member `id` in the last view read.
    pub(crate) fn record_of(&self, id: u64) -> Option<Record> {
        self.last_view.lock().iter().find(|r| r.id == id).cloned()
    }
}

/// Writes `record` under a new lease of `ttl` seconds; the lease.
async fn register(etcd: &Etcd, cluster: &str, record: &Record, ttl: u64) -> Result<i64, String> {
    let lease = etcd.grant(ttl).await?;
    let value = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    etcd.put(&member_key(cluster, record.id), &value, lease).await?;
    Ok(lease)
}

/// Renews the lease every third of its TTL until told to leave; registers
/// again (same id, new lease) when etcd let it lapse; reads the members
/// each time (the view that stands in while etcd is away).
async fn keep_alive(
    cluster: &Cluster,
    record: Record,
    mut lease: i64,
    ttl: u64,
    mut leave: oneshot::Receiver<()>,
) {
    let period = Duration::from_millis(ttl * 1000 / 3);
    loop {
        tokio::select! {
            _ = &mut leave => {
                let _ = cluster.etcd.revoke(lease).await;
                return;
            }
            () = tokio::time::sleep(period) => {}
        }
        match cluster.etcd.keep_alive(lease).await {
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => {
                if let Ok(l) = register(&cluster.etcd, &cluster.cluster, &record, ttl).await {
                    lease = l;
                }
            }
        }
        // Keeps the last view at most a period old for when etcd is away.
        cluster.view().await;
    }
}
