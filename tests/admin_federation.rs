//! The cluster-wide routes over a federation of in-memory endpoints (no
//! etcd, no sockets): every member a `Harness` over its own table, the
//! federation a stand-in whose membership the test changes between pages
//! and whose members it can make unreachable. What tests/cluster.rs cannot
//! force at a given moment: a node leaving or joining mid-walk, a node
//! failing between two pages, cursors of departed nodes, close routing.
#![cfg(feature = "admin")]

#[path = "support/http_reply.rs"]
mod http_reply;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_reply::CHEAP_HASH;
use serde_json::Value;
use smb_handles::admin::{
    AdminConfig, Credentials, Federation, FederationFuture, Harness, Member, PeerReply, PEER_HEADER,
};
use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec};

const CREDENTIAL: &str = "peer-credential-of-the-test";

/// The members' endpoints by id, who is a member, who is down.
#[derive(Default)]
struct World {
    nodes: BTreeMap<u64, Arc<Harness>>,
    members: BTreeSet<u64>,
    down: BTreeSet<u64>,
}

struct Fake {
    me: u64,
    world: Arc<Mutex<World>>,
}

fn parse(answer: &[u8]) -> (u16, Bytes) {
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
}

/// A member: its table and its endpoint.
type Node = (Arc<HandleTable>, Arc<Harness>);

/// `n` members with `per_node` handles each; the world and the nodes.
fn cluster(n: u64, per_node: u64) -> (Arc<Mutex<World>>, Vec<Node>) {
    let world = Arc::new(Mutex::new(World::default()));
    let mut out = Vec::new();
    for id in 1..=n {
        let table = Arc::new(HandleTable::new());
        for f in 0..per_node {
            let spec = OpenSpec::new(
                FileNumber(id * 1000 + f),
                format!("/s/{id}/{f}"),
                "S-1-5-21-1",
                AccessMask::FILE_READ_DATA,
            );
            table.open(spec).unwrap();
        }
        let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
        let fed = Arc::new(Fake { me: id, world: world.clone() });
        let h =
            Arc::new(Harness::new(table.clone(), AdminConfig::new(creds).federation(fed)).unwrap());
        let mut w = world.lock().unwrap();
        w.nodes.insert(id, h.clone());
        w.members.insert(id);
        drop(w);
        out.push((table, h));
    }
    (world, out)
}

fn get(h: &Harness, path: &str) -> (u16, Value) {
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", h.token());
    let (status, body) = parse(&h.exchange(req.as_bytes()));
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn post(h: &Harness, path: &str, body: &str) -> (u16, Value) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\n\r\n{body}",
        h.token(),
        body.len()
    );
    let (status, body) = parse(&h.exchange(req.as_bytes()));
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn locations(page: &Value) -> Vec<String> {
    page["file_handles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["handle_info"]["location"].as_str().unwrap().to_owned())
        .collect()
}

fn node_of(loc: &str) -> u64 {
    loc.split_once('-').unwrap().0.parse().unwrap()
}

/// Walks every page; between pages, `between(page number)` may change the
/// world. Returns the locations and the unreachable node ids named.
fn walk(h: &Harness, limit: usize, mut between: impl FnMut(usize)) -> (Vec<String>, Vec<u64>) {
    let (mut locs, mut missing) = (Vec::new(), Vec::new());
    let mut path = format!("/v1/smb/files/?limit={limit}");
    for page_no in 0.. {
        let (status, page) = get(h, &path);
        assert_eq!(status, 200, "{page}");
        let here = locations(&page);
        let next = page["paging"]["next"].as_str().unwrap_or("").to_owned();
        assert!(!here.is_empty() || next.is_empty(), "an empty page with a next: {page}");
        locs.extend(here);
        for n in page.get("unreachable_nodes").and_then(Value::as_array).into_iter().flatten() {
            missing.push(n["node_id"].as_u64().unwrap());
        }
        if next.is_empty() {
            break;
        }
        between(page_no);
        path = next;
    }
    (locs, missing)
}

#[test]
fn one_cursor_walks_every_member_once() {
    let (_world, nodes) = cluster(3, 7);
    for (_, h) in &nodes {
        for limit in [1, 3, 7, 10, 1000] {
            let (locs, missing) = walk(h, limit, |_| {});
            assert_eq!(locs.len(), 21, "limit {limit}");
            assert_eq!(locs.iter().collect::<BTreeSet<_>>().len(), 21, "each once");
            assert!(missing.is_empty());
            let mut by: BTreeMap<u64, usize> = BTreeMap::new();
            for l in &locs {
                *by.entry(node_of(l)).or_default() += 1;
            }
            assert_eq!(by, BTreeMap::from([(1, 7), (2, 7), (3, 7)]));
        }
    }
}

#[test]
fn a_node_that_joins_mid_walk_is_walked_whole_and_one_that_leaves_is_skipped() {
    let (world, nodes) = cluster(3, 6);
    let (_, extra) = cluster(1, 5).1.pop().unwrap();
    // Node 4 joins after the first page.
    let w = world.clone();
    let (locs, _) = walk(&nodes[0].1, 4, move |page| {
        if page == 0 {
            let mut w = w.lock().unwrap();
            w.nodes.insert(4, extra.clone());
            w.members.insert(4);
        }
    });
    assert_eq!(locs.iter().filter(|l| node_of(l) == 4).count(), 5, "the new node whole");
    assert_eq!(locs.len(), 23);
    // Node 2 leaves while the walk is in it: the rest of it is skipped,
    // node 3 is still walked whole.
    let w = world.clone();
    let (locs, missing) = walk(&nodes[0].1, 4, move |page| {
        if page == 2 {
            w.lock().unwrap().members.remove(&2);
        }
    });
    assert!(locs.iter().filter(|l| node_of(l) == 2).count() < 6);
    assert_eq!(missing, vec![2], "the page after it left names it");
    assert_eq!(locs.iter().filter(|l| node_of(l) == 3).count(), 6);
    assert_eq!(locs.iter().collect::<BTreeSet<_>>().len(), locs.len(), "nothing twice");
}

#[test]
fn an_unreachable_member_is_skipped_and_named() {
    let (world, nodes) = cluster(3, 2);
    world.lock().unwrap().down.insert(2);
    let (locs, missing) = walk(&nodes[0].1, 100, |_| {});
    assert_eq!(locs.len(), 4);
    assert!(locs.iter().all(|l| node_of(l) != 2));
    assert_eq!(missing, vec![2]);
    // Every element of a close for it says why; the others are closed.
    let one = locs.iter().find(|l| node_of(l) == 3).unwrap().clone();
    let body = format!(
        r#"[{{"handle_info":{{"location":"2-0000000100000000"}}}},{{"handle_info":{{"location":"{one}"}}}},{{"handle_info":{{"location":"7-0000000100000000"}}}},{{"handle_info":{{"location":"0000000100000000"}}}},{{"location":"{one}"}}]"#
    );
    let (status, answer) = post(&nodes[0].1, "/v1/smb/files/close", &body);
    assert_eq!(status, 200, "{answer}");
    let msgs: Vec<&str> =
        answer.as_array().unwrap().iter().map(|a| a["error_message"].as_str().unwrap()).collect();
    assert_eq!(msgs.len(), 5, "one result per element, in order: {msgs:?}");
    assert!(msgs[0].contains("could not be reached"), "{}", msgs[0]);
    assert_eq!(msgs[1], "", "node 3's handle is closed");
    assert!(msgs[2].contains("not a member"), "{}", msgs[2]);
    assert!(msgs[3].contains("not a cluster location"), "{}", msgs[3]);
    assert!(!msgs[4].is_empty(), "a handle's location outside handle_info is refused");
    assert_eq!(nodes[2].0.len(), 1, "node 3 closed one of its two");
}

#[test]
fn cursors_are_checked_and_a_departed_nodes_cursor_goes_on_past_it() {
    let (world, nodes) = cluster(3, 3);
    let h = &nodes[0].1;
    for bad in ["x", "2", "a.b", "-1."] {
        let (status, _) = get(h, &format!("/v1/smb/files/?after={bad}"));
        assert_eq!(status, 400, "after={bad}");
    }
    // A cursor into node 2, which then leaves: the walk goes on at node 3.
    let (_, page) = get(h, "/v1/smb/files/?limit=4");
    let next = page["paging"]["next"].as_str().unwrap().to_owned();
    assert!(next.contains("after=2."), "{next}");
    world.lock().unwrap().members.remove(&2);
    let (_, rest) = get(h, &next);
    assert!(locations(&rest).iter().all(|l| node_of(l) == 3), "{rest}");
}

#[test]
fn peer_requests_need_the_credential_and_answer_for_their_node_alone() {
    let (_world, nodes) = cluster(2, 2);
    let h = &nodes[0].1;
    let ask = |credential: &str| {
        let req = format!(
            "GET /v1/smb/files/ HTTP/1.1\r\nHost: x\r\n{PEER_HEADER}: {credential}\r\n\r\n"
        );
        let (status, body) = parse(&h.exchange(req.as_bytes()));
        (status, serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
    };
    assert_eq!(ask("wrong").0, 401);
    let (status, page) = ask(CREDENTIAL);
    assert_eq!(status, 200);
    let locs = locations(&page);
    assert_eq!(locs.len(), 2, "node 1's own only");
    assert!(locs.iter().all(|l| !l.contains('-')), "node-local locations: {locs:?}");
    // Sessions are listed across the cluster too (none here).
    let (status, s) = get(h, "/v1/smb/sessions/");
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["session_infos"], Value::Array(Vec::new()));
}

#[test]
fn attributes_and_resolve_answer_from_the_member_that_has_the_file() {
    let (world, nodes) = cluster(3, 2);
    let h = &nodes[0].1;
    let (status, attrs) = get(h, "/v1/files/3001/info/attributes");
    assert_eq!(status, 200, "{attrs}");
    assert_eq!(attrs["path"], "/s/3/1");
    let (status, _) = get(h, "/v1/files/9999/info/attributes");
    assert_eq!(status, 404);
    let (status, paths) = post(h, "/v1/files/resolve", r#"["2000","1001","77"]"#);
    assert_eq!(status, 200, "{paths}");
    let got: Vec<&str> =
        paths.as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(got, ["/s/2/0", "/s/1/1", ""]);
    // A member that cannot be reached has nothing to say.
    world.lock().unwrap().down.insert(2);
    let (_, paths) = post(h, "/v1/files/resolve", r#"["2000"]"#);
    assert_eq!(paths[0]["path"], "");
}
