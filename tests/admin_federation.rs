//! The cluster-wide routes over a federation of in-memory endpoints (no
//! etcd, no sockets): every member a `Harness` over its own table, the
//! federation a stand-in whose membership the test changes between pages
//! and whose members it can make unreachable. What tests/cluster.rs cannot
//! force at a given moment: a node leaving or joining mid-walk, a node
//! failing between two pages, cursors of departed nodes, close routing.
#![cfg(feature = "admin")]

#[path = "support/federation.rs"]
mod federation;
#[path = "support/http_reply.rs"]
mod http_reply;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use federation::{parse, Fake, World, CREDENTIAL};
use http_reply::CHEAP_HASH;
use proptest::prelude::*;
use serde_json::Value;
use smb_handles::admin::{AdminConfig, Credentials, Harness, PEER_HEADER};
use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec};

/// A member: its table and its endpoint.
type Node = (Arc<HandleTable>, Arc<Harness>);

/// `n` members with `per_node` handles each; the world and the nodes.
fn cluster(n: u64, per_node: u64) -> (Arc<Mutex<World>>, Vec<Node>) {
    let world = Arc::new(Mutex::new(World::default()));
    let nodes = (1..=n).map(|id| member(&world, id, per_node)).collect();
    (world, nodes)
}

/// A new member `id` of `world` with `handles` handles (files `id*1000+f`).
fn member(world: &Arc<Mutex<World>>, id: u64, handles: u64) -> Node {
    let table = Arc::new(HandleTable::new());
    for f in 0..handles {
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
    let h = Arc::new(Harness::new(table.clone(), AdminConfig::new(creds).federation(fed)).unwrap());
    let mut w = world.lock().unwrap();
    w.nodes.insert(id, h.clone());
    w.members.insert(id);
    drop(w);
    (table, h)
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
    // Node 4 joins after the first page.
    let w = world.clone();
    let (locs, _) = walk(&nodes[0].1, 4, move |page| {
        if page == 0 {
            member(&w, 4, 5);
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
fn an_unreachable_last_member_is_named_on_the_page_of_the_dead_nodes_handles() {
    // Node 1's handles fill the first page; the walk then reaches node 2,
    // which does not answer, and goes on to the handles of a dead node.
    let (world, nodes) = cluster(2, 2);
    {
        let mut w = world.lock().unwrap();
        w.down.insert(2);
        w.orphans.push(serde_json::json!({
            "file_number": "9000",
            "handle_info": { "location": "9-0000000100000000", "disconnected": true },
        }));
    }
    let (locs, missing) = walk(&nodes[0].1, 2, |_| {});
    assert_eq!(locs.iter().filter(|l| node_of(l) == 1).count(), 2, "{locs:?}");
    assert!(locs.contains(&"9-0000000100000000".to_owned()), "the dead node's handle: {locs:?}");
    assert_eq!(missing, vec![2], "node 2 named unreachable: {locs:?}");
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
    // Asked for the cluster form, a peer writes its node id in them.
    let req = format!(
        "GET /v1/smb/files/?cluster_form=1 HTTP/1.1\r\nHost: x\r\n{PEER_HEADER}: {CREDENTIAL}\r\n\r\n"
    );
    let (status, body) = parse(&h.exchange(req.as_bytes()));
    assert_eq!(status, 200);
    let page: Value = serde_json::from_slice(&body).unwrap();
    let cluster_form = locations(&page);
    let prefixed: Vec<String> = locs.iter().map(|l| format!("1-{l}")).collect();
    assert_eq!(cluster_form, prefixed);
    // An administrator's request for it on a lone node is not heeded.
    let lone = Arc::new(HandleTable::new());
    lone.open(OpenSpec::new(FileNumber(1), "/a", "S-1-5-21-1", AccessMask::FILE_READ_DATA))
        .unwrap();
    let creds = Credentials::from_password_hash("admin", CHEAP_HASH).unwrap();
    let alone = Harness::new(lone, AdminConfig::new(creds)).unwrap();
    let (status, page) = get(&alone, "/v1/smb/files/?cluster_form=1");
    assert_eq!(status, 200);
    assert!(locations(&page).iter().all(|l| !l.contains('-')), "{page}");
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

/// What may happen to the cluster between two pages of a walk.
#[derive(Clone, Debug)]
enum Change {
    /// A new node (the next id, as etcd's counter gives) with this many handles.
    Join(u64),
    /// The member at this index (of the members then) leaves.
    Leave(usize),
    /// The member at this index stops answering.
    Down(usize),
    /// Every member answers again.
    Up,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0u64..6).prop_map(Change::Join),
        (0usize..6).prop_map(Change::Leave),
        (0usize..6).prop_map(Change::Down),
        Just(Change::Up),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The merged cursor, whatever the membership does between pages:
    /// nothing is listed twice or invented; a node that is a member and
    /// answers throughout is listed whole; a node listed in part was named
    /// unreachable (it left during the walk, or stopped answering); only a
    /// node that left or stopped answering is named.
    #[test]
    fn the_merged_cursor_keeps_the_paging_guarantee_per_node(
        counts in proptest::collection::vec(0u64..8, 1..5),
        limit in 1usize..6,
        changes in proptest::collection::vec((0usize..8, change()), 0..4),
    ) {
        let world = Arc::new(Mutex::new(World::default()));
        let mut handles: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        let mut tables = Vec::new();
        for (i, &n) in counts.iter().enumerate() {
            tables.push(member(&world, i as u64 + 1, n));
        }
        let asker = tables[0].1.clone();
        // Node 1 asks, so it stays a member and up (a walk is its own).
        let (troubled, joined) = (Arc::new(Mutex::new(BTreeSet::new())), Arc::new(Mutex::new(Vec::new())));
        let (w, t, j) = (world.clone(), troubled.clone(), joined.clone());
        let (locs, missing) = walk(&asker, limit, move |page| {
            for (_, c) in changes.iter().filter(|(at, _)| *at == page) {
                let ids: Vec<u64> = w.lock().unwrap().members.iter().copied().filter(|&m| m != 1).collect();
                match c {
                    Change::Join(n) => {
                        let id = w.lock().unwrap().nodes.keys().max().unwrap() + 1;
                        j.lock().unwrap().push(member(&w, id, *n));
                    }
                    Change::Leave(i) if !ids.is_empty() => {
                        let id = ids[i % ids.len()];
                        w.lock().unwrap().members.remove(&id);
                        t.lock().unwrap().insert(id);
                    }
                    Change::Down(i) if !ids.is_empty() => {
                        let id = ids[i % ids.len()];
                        w.lock().unwrap().down.insert(id);
                        t.lock().unwrap().insert(id);
                    }
                    Change::Up => w.lock().unwrap().down.clear(),
                    _ => {}
                }
            }
        });
        let troubled = troubled.lock().unwrap().clone();
        let all_nodes = world.lock().unwrap().nodes.clone();
        for (id, h) in &all_nodes {
            // Each node's own handles, asked as its peers ask.
            let req = format!(
                "GET /v1/smb/files/?limit=100000 HTTP/1.1\r\nHost: x\r\n{PEER_HEADER}: {CREDENTIAL}\r\n\r\n"
            );
            let (_, body) = parse(&h.exchange(req.as_bytes()));
            let own: Value = serde_json::from_slice(&body).unwrap();
            handles.insert(*id, locations(&own).into_iter().map(|l| format!("{id}-{l}")).collect());
        }
        let unique: BTreeSet<&String> = locs.iter().collect();
        prop_assert_eq!(unique.len(), locs.len(), "nothing twice: {:?}", locs);
        let mut listed: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for l in &locs {
            let id = node_of(l);
            prop_assert!(handles.get(&id).is_some_and(|h| h.contains(l)), "{} is no handle", l);
            listed.entry(id).or_default().insert(l.clone());
        }
        for (id, all) in &handles {
            let got = listed.get(id).map_or(0, BTreeSet::len);
            if !troubled.contains(id) {
                prop_assert_eq!(got, all.len(), "node {} listed whole", id);
            } else if got > 0 && got < all.len() {
                prop_assert!(missing.contains(id), "node {} listed in part and not named", id);
            }
        }
        for id in &missing {
            prop_assert!(troubled.contains(id), "node {} named without cause", id);
        }
    }

    /// Close routing: every element goes to the node its location names and
    /// is answered in order; a handle of a member that answers is closed
    /// (once: a second close of it is refused), anything else is refused
    /// with a message and closes nothing.
    #[test]
    fn closes_go_to_the_node_the_location_names(
        counts in proptest::collection::vec(1u64..6, 2..5),
        picks in proptest::collection::vec((0usize..5, 0usize..6, 0u8..5), 1..12),
    ) {
        let world = Arc::new(Mutex::new(World::default()));
        let nodes: Vec<Node> =
            counts.iter().enumerate().map(|(i, &n)| member(&world, i as u64 + 1, n)).collect();
        let h = &nodes[0].1;
        // Node 2 is down, the last node has left (node 1 asks).
        let last = nodes.len() as u64;
        world.lock().unwrap().down.insert(2);
        world.lock().unwrap().members.remove(&last);
        let own: Vec<Vec<String>> = nodes
            .iter()
            .map(|(t, _)| t.list(&Default::default()).unwrap().file_handles.iter()
                .map(|f| f.handle_info.location.to_string()).collect())
            .collect();
        let mut body = Vec::new();
        let mut expect = Vec::new(); // Some(node index) when it must close
        let mut closed: BTreeSet<String> = BTreeSet::new();
        for &(n, k, kind) in &picks {
            let n = n % nodes.len();
            let id = n as u64 + 1;
            let loc = &own[n][k % own[n].len()];
            let (text, ok) = match kind {
                0..=2 => {
                    let t = format!("{id}-{loc}");
                    let ok = id != 2 && id != last && closed.insert(t.clone());
                    (t, ok)
                }
                3 => (format!("{}-{loc}", last + 7), false), // never a member
                _ => (loc.clone(), false),                   // no node named
            };
            body.push(serde_json::json!({"handle_info": {"location": text}}));
            expect.push(ok.then_some(n));
        }
        let before: Vec<usize> = nodes.iter().map(|(t, _)| t.len()).collect();
        let (status, answer) = post(h, "/v1/smb/files/close", &Value::Array(body).to_string());
        prop_assert_eq!(status, 200, "{}", answer);
        let results = answer.as_array().unwrap();
        prop_assert_eq!(results.len(), expect.len(), "one result per element");
        let mut closes = vec![0usize; nodes.len()];
        for (r, e) in results.iter().zip(&expect) {
            let msg = r["error_message"].as_str().unwrap();
            match e {
                Some(n) => {
                    prop_assert_eq!(msg, "", "closed");
                    closes[*n] += 1;
                }
                None => prop_assert!(!msg.is_empty(), "refused with a message: {}", r),
            }
        }
        for (i, (t, _)) in nodes.iter().enumerate() {
            prop_assert_eq!(t.len(), before[i] - closes[i], "node {} closed what was routed to it", i + 1);
        }
    }
}
