//! A stand-in federation of in-memory admin endpoints (no etcd, no
//! sockets), shared by tests/admin_federation.rs and benches/cluster.rs:
//! every member a `Harness` over its own table, reached by calling its
//! `exchange`; the world says who is a member and who does not answer.
#![allow(dead_code)] // each user needs a different part

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use smb_handles::admin::{Federation, FederationFuture, Harness, Member, PeerReply, PEER_HEADER};

/// The peers' credential.
pub const CREDENTIAL: &str = "peer-credential-of-the-test";

/// The members' endpoints by id, who is a member, who is down.
#[derive(Default)]
pub struct World {
    pub nodes: BTreeMap<u64, Arc<Harness>>,
    pub members: BTreeSet<u64>,
    pub down: BTreeSet<u64>,
    /// What `orphan_handles` answers (the dead nodes' handles).
    pub orphans: Vec<serde_json::Value>,
}

/// One member's view of the world.
pub struct Fake {
    pub me: u64,
    pub world: Arc<Mutex<World>>,
}

/// An HTTP answer's status and body.
pub fn parse(answer: &[u8]) -> (u16, Bytes) {
    let text = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..text]);
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, Bytes::copy_from_slice(&answer[text + 4..]))
}

impl Federation for Fake {
    fn node_id(&self) -> u64 {
        self.me
    }

    fn members(&self) -> FederationFuture<'_, Vec<Member>> {
        let ids: Vec<u64> = self.world.lock().unwrap().members.iter().copied().collect();
        Box::pin(async move { ids.into_iter().map(|i| Member::new(i, format!("n{i}"))).collect() })
    }

    fn forward<'a>(
        &'a self,
        member: &'a Member,
        method: &'a str,
        path_and_query: &'a str,
        body: Bytes,
    ) -> FederationFuture<'a, Result<PeerReply, String>> {
        let (node, down) = {
            let w = self.world.lock().unwrap();
            (w.nodes.get(&member.id).cloned(), w.down.contains(&member.id))
        };
        let request = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: x\r\n{PEER_HEADER}: {CREDENTIAL}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        Box::pin(async move {
            let node = node.ok_or("no such node")?;
            if down {
                return Err("connection refused".to_owned());
            }
            let mut bytes = request.into_bytes();
            bytes.extend_from_slice(&body);
            let answer = tokio::task::spawn_blocking(move || node.exchange(&bytes))
                .await
                .map_err(|e| e.to_string())?;
            let (status, body) = parse(&answer);
            Ok(PeerReply::new(status, body))
        })
    }

    fn is_peer(&self, credential: &str) -> bool {
        credential == CREDENTIAL
    }

    fn orphan_handles(
        &self,
        _resolve_paths: bool,
    ) -> FederationFuture<'_, Result<Vec<serde_json::Value>, String>> {
        let orphans = self.world.lock().unwrap().orphans.clone();
        Box::pin(async move { Ok(orphans) })
    }
}
