//! The cluster-wide routes: a listing walks every member with one cursor,
//! a close goes to the members that hold its locations. Each member's part
//! is its node-local answer (this node's from the local routes, a peer's
//! through [`Federation::forward`]); this file only merges them.
//!
//! * A cluster location is `NODE-LOCATION`: the node id (decimal), `-`,
//!   the node-local location. A cluster cursor is `NODE.CURSOR` (the
//!   member the walk is in, and its own cursor, empty at its start).
//! * Members are walked in id order. Ids only grow, so a node that joins
//!   mid-walk is walked whole when the walk reaches it; one that leaves is
//!   skipped from where the walk was. A member that cannot be reached is
//!   skipped and named in the page's `unreachable_nodes`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::error::ApiError;
use super::federation::{Federation, Member};
use super::pages;
use super::routes::{json_response, local_route, Resp, State};
use crate::MAX_REQUEST_ELEMENTS;

/// What a cluster-wide route does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// A listing whose entries are under the key; `absent_is_empty`: a
    /// member's 404 (a file ref it has no open of) is an empty part.
    List { key: &'static str, absent_is_empty: bool },
    /// A close of handles or sessions, one answer per element.
    Close,
    /// A file's attributes: the first member that has the file open.
    Attributes,
    /// File ids to paths: per id, the first member that has a path for it.
    Resolve,
}

/// The cluster-wide route of a request, if it has one.
pub(crate) fn kind_of(method: &Method, path: &str) -> Option<Kind> {
    let list = |key| Some(Kind::List { key, absent_is_empty: false });
    match (method, path) {
        (&Method::GET, "/v1/smb/files" | "/v1/smb/files/") => list("file_handles"),
        (&Method::GET, "/v1/smb/sessions" | "/v1/smb/sessions/") => list("session_infos"),
        (
            &Method::POST,
            "/v1/smb/files/close"
            | "/v1/smb/files/close/"
            | "/v1/smb/sessions/close"
            | "/v1/smb/sessions/close/",
        ) => Some(Kind::Close),
        (&Method::GET, p) if p.starts_with("/v1/files/") && p.contains("/locks/smb/") => {
            Some(Kind::List { key: "grants", absent_is_empty: true })
        }
        (&Method::GET, p)
            if p.starts_with("/v1/files/")
                && (p.ends_with("/info/attributes") || p.ends_with("/info/attributes/")) =>
        {
            Some(Kind::Attributes)
        }
        (&Method::POST, "/v1/files/resolve" | "/v1/files/resolve/") => Some(Kind::Resolve),
        _ => None,
    }
}

/// Answers a cluster-wide route.
pub(crate) async fn route(
    state: &Arc<State>,
    fed: &Arc<dyn Federation>,
    kind: Kind,
    path: &str,
    query: Option<&str>,
    body: Bytes,
    read_only: bool,
) -> Result<Resp, ApiError> {
    match kind {
        Kind::List { key, absent_is_empty } => {
            list(state, fed, path, query, key, absent_is_empty, read_only).await
        }
        Kind::Close if read_only => Err(ApiError::forbidden()),
        Kind::Close => close(state, fed, path, body).await,
        Kind::Attributes => attributes(state, fed, path, read_only).await,
        Kind::Resolve => resolve(state, fed, path, body, read_only).await,
    }
}

/// One member's node-local answer: this node's through the local routes,
/// a peer's through the federation.
async fn ask(
    state: &Arc<State>,
    fed: &Arc<dyn Federation>,
    member: &Member,
    method: Method,
    path_and_query: &str,
    body: Bytes,
    read_only: bool,
) -> Result<(u16, Bytes), String> {
    if member.id == fed.node_id() {
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Full::new(body))
            .map_err(|e| format!("bad request to this node: {e}"))?;
        super::federation::mark_cluster_form(&mut req, member.id);
        let resp = match local_route(state, req, read_only).await {
            Ok(resp) => resp,
            Err(e) => super::routes::error_response(&e),
        };
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        return Ok((status, body));
    }
    let reply = fed.forward(member, method.as_str(), path_and_query, body).await?;
    Ok((reply.status, reply.body))
}

/// `NODE-LOCATION` → (node, local location).
fn split_location(text: &str) -> Option<(u64, &str)> {
    let (node, local) = text.split_once('-')?;
    if node.is_empty() || !node.bytes().all(|b| b.is_ascii_digit()) || local.is_empty() {
        return None;
    }
    Some((node.parse().ok()?, local))
}

/// The location string of a listed entry or a close element: a handle's
/// is its `handle_info`'s (`in_handle_info`), a session's its own.
fn location_slot(v: &mut Value, in_handle_info: bool) -> Option<&mut Value> {
    let holder = if in_handle_info { v.get_mut("handle_info")? } else { v };
    holder.get_mut("location").filter(|l| l.is_string())
}

/// The `after` parameter of a `paging.next` URI.
fn after_of(next: &str) -> Option<String> {
    let query = next.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "after").map(|(_, v)| v.into())
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The error message of a member that could not answer.
fn unreachable(member: &Member, why: &str) -> Value {
    json!({
        "node_id": member.id,
        "node_name": member.name,
        "error_message": format!("node {} ({}) could not be reached: {why}", member.id, member.name),
    })
}

/// The description of an error answer, for an `error_message`.
fn describe(status: u16, body: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("description").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    format!("it answered HTTP {status}: {text}")
}

#[allow(clippy::too_many_arguments)]
async fn list(
    state: &Arc<State>,
    fed: &Arc<dyn Federation>,
    path: &str,
    query: Option<&str>,
    key: &'static str,
    absent_is_empty: bool,
    read_only: bool,
) -> Result<Resp, ApiError> {
    let mut carried: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<(u64, Option<String>)> = None;
    let mut orphans_from: Option<usize> = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "after" {
            let bad = || ApiError::bad_parameter("after", format!("{v:?} is not from paging.next"));
            let (node, local) = v.split_once('.').ok_or_else(bad)?;
            if node == "o" {
                orphans_from = Some(local.parse().map_err(|_| bad())?);
                continue;
            }
            let node: u64 = node.parse().map_err(|_| bad())?;
            cursor = Some((node, (!local.is_empty()).then(|| local.to_owned())));
        } else {
            carried.push((k.into_owned(), v.into_owned()));
        }
    }
    let with_orphans = key == "file_handles";
    if let Some(skip) = orphans_from {
        return orphans_page(fed, path, &carried, skip, Vec::new()).await;
    }
    let members = fed.members().await;
    let resumed = cursor.is_some();
    let (start, mut local_after) = cursor.unwrap_or((0, None));
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut missing: Vec<Value> = Vec::new();
    let mut last_next = Value::Null;
    if resumed && !members.iter().any(|m| m.id == start) {
        // The walk was in a node that has left since: the rest of it is
        // skipped, and the page says so.
        missing.push(json!({
            "node_id": start,
            "node_name": "",
            "error_message": format!(
                "node {start} left the cluster during this walk: its handles after the cursor \
                 are not listed"
            ),
        }));
    }
    let walk: Vec<&Member> = members.iter().filter(|m| m.id >= start).collect();
    for (i, member) in walk.iter().enumerate() {
        if member.id != start {
            local_after = None;
        }
        loop {
            let mut pairs = carried.clone();
            if let Some(a) = &local_after {
                pairs.push(("after".into(), a.clone()));
            }
            if key == "file_handles" {
                let (k, v) = super::federation::CLUSTER_FORM;
                pairs.push((k.into(), v.into()));
            }
            let q = encode(&pairs);
            let target = if q.is_empty() { path.to_owned() } else { format!("{path}?{q}") };
            let (status, body) = match ask(
                state,
                fed,
                member,
                Method::GET,
                &target,
                Bytes::new(),
                read_only,
            )
            .await
            {
                Ok(answer) => answer,
                Err(why) => {
                    missing.push(unreachable(member, &why));
                    break;
                }
            };
            if status == 404 && absent_is_empty {
                break;
            }
            if status != 200 {
                if member.id == fed.node_id() {
                    // This node's own refusal (a bad parameter): the answer.
                    return Ok(json_response(
                        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                        body.to_vec(),
                    ));
                }
                missing.push(unreachable(member, &describe(status, &body)));
                break;
            }
            let next = if let Some(page) = pages::on_node(&body, member.id) {
                // Written in the cluster form by the member: passed on.
                if !page.entries.is_empty() {
                    items.push(page.entries.to_vec());
                }
                page.next
            } else {
                let Some(page) = pages::read(&body, key) else {
                    missing.push(unreachable(member, "its answer is not a JSON listing"));
                    break;
                };
                items.extend(page.entries.iter().map(|e| pages::with_node(e, member.id)));
                page.next
            };
            match next.as_str().filter(|s| !s.is_empty()).and_then(after_of) {
                Some(after) => {
                    if !items.is_empty() {
                        return page_response(
                            path,
                            &carried,
                            key,
                            items,
                            Some((member.id, after)),
                            missing,
                        );
                    }
                    local_after = Some(after);
                }
                None => {
                    last_next = next;
                    break;
                }
            }
        }
        if !items.is_empty() {
            if let Some(following) = walk.get(i + 1) {
                return page_response(
                    path,
                    &carried,
                    key,
                    items,
                    Some((following.id, String::new())),
                    missing,
                );
            }
            if with_orphans && has_orphans(fed).await {
                // The dead nodes' handles follow on a page of their own.
                let next = next_uri(path, &carried, "o.0");
                return Ok(json_response(
                    StatusCode::OK,
                    pages::write(key, &items, &next, &missing),
                ));
            }
        }
    }
    if with_orphans && items.is_empty() && has_orphans(fed).await {
        // What this page found unreachable stays named on it.
        return orphans_page(fed, path, &carried, 0, missing).await;
    }
    if last_next.is_string() {
        last_next = Value::String(String::new());
    }
    Ok(json_response(StatusCode::OK, pages::write(key, &items, &last_next, &missing)))
}

/// Whether the cluster keeps handles of dead nodes (an error counts as
/// yes: the orphans page then says what could not be read).
async fn has_orphans(fed: &Arc<dyn Federation>) -> bool {
    fed.orphan_handles(false).await.map_or(true, |o| !o.is_empty())
}

/// A `next` URI: the request's parameters and `after`.
fn next_uri(path: &str, carried: &[(String, String)], after: &str) -> Value {
    let mut pairs = carried.to_vec();
    pairs.push(("after".into(), after.to_owned()));
    Value::String(format!("{path}?{}", encode(&pairs)))
}

/// The listing's last part: the handles the cluster keeps for dead nodes,
/// from the `skip`th on, `limit` at a time; `missing`, the members this
/// page's walk could not reach, is named on it.
async fn orphans_page(
    fed: &Arc<dyn Federation>,
    path: &str,
    carried: &[(String, String)],
    skip: usize,
    mut missing: Vec<Value>,
) -> Result<Resp, ApiError> {
    let param = |k: &str| carried.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let limit =
        param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(1000).clamp(1, 10_000);
    let resolve =
        param("resolve_paths").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let (items, next) = match fed.orphan_handles(resolve).await {
        Ok(all) => {
            let rest: Vec<Value> = all.into_iter().skip(skip).collect();
            let more = rest.len() > limit;
            let page: Vec<Vec<u8>> =
                rest.iter().take(limit).map(|v| v.to_string().into_bytes()).collect();
            let next = if more {
                next_uri(path, carried, &format!("o.{}", skip + limit))
            } else {
                Value::String(String::new())
            };
            (page, next)
        }
        Err(why) => {
            missing.push(json!({ "node_id": Value::Null, "node_name": "",
                         "error_message": format!("the dead nodes' handles could not be read: {why}") }));
            (Vec::new(), Value::String(String::new()))
        }
    };
    Ok(json_response(StatusCode::OK, pages::write("file_handles", &items, &next, &missing)))
}

fn page_response(
    path: &str,
    carried: &[(String, String)],
    key: &str,
    items: Vec<Vec<u8>>,
    next: Option<(u64, String)>,
    missing: Vec<Value>,
) -> Result<Resp, ApiError> {
    let next = next.map_or(Value::Null, |(node, local)| {
        let mut pairs = carried.to_vec();
        pairs.push(("after".into(), format!("{node}.{local}")));
        Value::String(format!("{path}?{}", encode(&pairs)))
    });
    Ok(json_response(StatusCode::OK, pages::write(key, &items, &next, &missing)))
}

async fn close(
    state: &Arc<State>,
    fed: &Arc<dyn Federation>,
    path: &str,
    body: Bytes,
) -> Result<Resp, ApiError> {
    let elements: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_body(format!("expected a JSON array: {e}")))?;
    if elements.len() > MAX_REQUEST_ELEMENTS {
        return Err(ApiError::bad_body("too many elements in one request"));
    }
    let members = fed.members().await;
    let handles = path.starts_with("/v1/smb/files/");
    let mut answers: Vec<Option<Value>> = vec![None; elements.len()];
    // node -> (indices, rewritten elements)
    let mut groups: Vec<(u64, Vec<usize>, Vec<Value>)> = Vec::new();
    for (i, mut el) in elements.into_iter().enumerate() {
        let message = match location_slot(&mut el, handles) {
            // No location string: this node's parser says what is wrong.
            None => {
                push(&mut groups, fed.node_id(), i, el);
                continue;
            }
            Some(slot) => {
                let text = slot.as_str().unwrap_or_default().to_owned();
                match split_location(&text) {
                    None => format!(
                        "{text:?} is not a cluster location (NODE-LOCATION, as the cluster's \
                         listings give)"
                    ),
                    Some((node, _)) if !members.iter().any(|m| m.id == node) => format!(
                        "node {node} is not a member of the cluster (it left, or never \
                         joined): location {text} refused"
                    ),
                    Some((node, local)) => {
                        *slot = Value::String(local.to_owned());
                        push(&mut groups, node, i, el);
                        continue;
                    }
                }
            }
        };
        answers[i] = Some(json!({ "error_message": message }));
    }
    for (node, indices, els) in groups {
        let member = members
            .iter()
            .find(|m| m.id == node)
            .cloned()
            .unwrap_or_else(|| Member::new(node, String::new()));
        let body = Bytes::from(serde_json::to_vec(&els).map_err(ApiError::internal)?);
        let failed = |why: String| {
            let v = unreachable(&member, &why);
            json!({ "error_message": v["error_message"] })
        };
        let parts: Vec<Value> = match ask(state, fed, &member, Method::POST, path, body, false)
            .await
        {
            Ok((200, body)) => match serde_json::from_slice::<Vec<Value>>(&body) {
                Ok(parts) if parts.len() == indices.len() => parts,
                _ => vec![failed("its answer is not one result per element".into()); indices.len()],
            },
            Ok((status, body)) => vec![failed(describe(status, &body)); indices.len()],
            Err(why) => vec![failed(why); indices.len()],
        };
        for (i, part) in indices.into_iter().zip(parts) {
            answers[i] = Some(part);
        }
    }
    let out: Vec<Value> = answers.into_iter().map(|a| a.unwrap_or(Value::Null)).collect();
    Ok(json_response(StatusCode::OK, serde_json::to_vec(&out).map_err(ApiError::internal)?))
}

/// The first member's answer that is not a 404 (this node's 404 when every
/// member answers so, or none answers).
async fn attributes(
    state: &Arc<State>,
    fed: &Arc<dyn Federation>,
    path: &str,
    read_only: bool,
) -> Result<Resp, ApiError> {
    for member in fed.members().await {
        if let Ok((status, body)) =
            ask(state, fed, &member, Method::GET, path, Bytes::new(), read_only).await
        {
            if status != 404 {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                return Ok(json_response(status, body.to_vec()));
            }
        }
    }
    local_route(
        state,
        Request::get(path).body(Full::new(Bytes::new())).map_err(ApiError::internal)?,
        read_only,
    )
    .await
}

/// Every member's paths, merged: per id, the first non-empty one.
async fn resolve(
    state: &Arc<State>,
    fed: &Arc<dyn Federation>,
    path: &str,
    body: Bytes,
    read_only: bool,
) -> Result<Resp, ApiError> {
    let mut merged: Option<Vec<Value>> = None;
    for member in fed.members().await {
        let Ok((200, answer)) =
            ask(state, fed, &member, Method::POST, path, body.clone(), read_only).await
        else {
            if member.id == fed.node_id() {
                // This node's refusal (a bad body) is the answer.
                return local_route(
                    state,
                    Request::post(path).body(Full::new(body)).map_err(ApiError::internal)?,
                    read_only,
                )
                .await;
            }
            continue;
        };
        let Ok(part) = serde_json::from_slice::<Vec<Value>>(&answer) else { continue };
        match &mut merged {
            None => merged = Some(part),
            Some(m) => {
                for (have, new) in m.iter_mut().zip(part) {
                    if have["path"].as_str().is_some_and(str::is_empty) {
                        *have = new;
                    }
                }
            }
        }
    }
    let out = merged.unwrap_or_default();
    Ok(json_response(StatusCode::OK, serde_json::to_vec(&out).map_err(ApiError::internal)?))
}

fn push(groups: &mut Vec<(u64, Vec<usize>, Vec<Value>)>, node: u64, i: usize, el: Value) {
    match groups.iter_mut().find(|g| g.0 == node) {
        Some(g) => {
            g.1.push(i);
            g.2.push(el);
        }
        None => groups.push((node, vec![i], vec![el])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_locations_split_at_the_first_dash() {
        assert_eq!(split_location("3-00010000000000a5"), Some((3, "00010000000000a5")));
        assert_eq!(split_location("12-x-y"), Some((12, "x-y")));
        assert_eq!(split_location("00010000000000a5"), None);
        assert_eq!(split_location("-00a5"), None);
        assert_eq!(split_location("3-"), None);
        assert_eq!(split_location("a3-00a5"), None);
    }

    #[test]
    fn the_after_of_a_next_uri() {
        assert_eq!(after_of("/v1/smb/files/?limit=2&after=ab%2Ecd").as_deref(), Some("ab.cd"));
        assert_eq!(after_of("/v1/smb/files/?limit=2"), None);
        assert_eq!(after_of(""), None);
    }

    #[test]
    fn a_location_is_a_handles_handle_info_or_a_sessions_own() {
        let mut a = json!({"location": "1-a"});
        let mut b = json!({"handle_info": {"location": "2-b"}, "location": "9-z"});
        let mut c = json!({"handle_info": {"location": 5}});
        assert_eq!(location_slot(&mut a, false).cloned(), Some(json!("1-a")));
        assert_eq!(location_slot(&mut a, true), None);
        assert_eq!(location_slot(&mut b, true).cloned(), Some(json!("2-b")));
        assert_eq!(location_slot(&mut b, false).cloned(), Some(json!("9-z")));
        assert_eq!(location_slot(&mut c, true), None);
    }
}
