//! A cluster listing's pages without a JSON tree. A member's part of a
//! handle listing comes in the cluster form (its locations written as
//! `NODE-LOCATION` by the member, see `federation::CLUSTER_FORM`): its
//! entries are passed on as one run of bytes, found by the fixed text
//! around them ([`on_node`]). Any other page (sessions, lock grants) is
//! read as raw entries (each entry's text borrowed from the answer,
//! checked but not built into values) and each entry's location gets its
//! node prefix by splicing the text ([`read`], [`with_node`]). The merged
//! page is written from those runs ([`write()`]). A page of 1 000 handles is
//! then a copy, not a tree of maps parsed, rewritten and serialized again
//! (benches/cluster.rs `cluster_list`).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// One member's page: its entries under the listing's key, and its
/// `paging.next` (absent: null).
pub(crate) struct MemberPage<'a> {
    pub(crate) entries: Vec<&'a RawValue>,
    pub(crate) next: Value,
}

/// A listing's page as members answer it: the entries under one of the
/// listings' keys (read in the same pass as the rest: one scan of the
/// text), then the paging.
#[derive(Deserialize)]
struct Listing<'a> {
    #[serde(borrow, default)]
    file_handles: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    session_infos: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    grants: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    next: Value,
}

/// Reads a member's page; `None` when it is not a JSON object whose `key`
/// (`file_handles`, `session_infos` or `grants`) holds an array (a missing
/// key is an empty part).
pub(crate) fn read<'a>(body: &'a [u8], key: &str) -> Option<MemberPage<'a>> {
    let page: Listing<'a> = serde_json::from_slice(body).ok()?;
    let entries = match key {
        "file_handles" => page.file_handles,
        "session_infos" => page.session_infos,
        "grants" => page.grants,
        _ => return None,
    };
    let next = page.paging.map_or(Value::Null, |p| p.next);
    Some(MemberPage { entries: entries.unwrap_or_default(), next })
}

/// A handle listing page as this crate writes it (`json::listing_on_node`)
/// starts with this; its entries follow.
const HANDLES_HEAD: &[u8] = b"{\"file_handles\":[";
/// …and end right before this, the page's last object.
const HANDLES_TAIL: &[u8] = b"],\"paging\":{\"next\":";

/// A member's handle listing page in the cluster form for `node`: its
/// entries (comma-separated, as they stand) and its `paging.next`. `None`
/// when the page is not one this crate wrote in that form (then it is read
/// entry by entry).
pub(crate) fn on_node(body: &[u8], node: u64) -> Option<MemberRun<'_>> {
    let rest = body.strip_prefix(HANDLES_HEAD)?;
    // The tail: `],"paging":{"next":` NEXT `}}`, NEXT a string (a URI, so
    // no `]` and no escaped quote in it) or null; searched from the end.
    let window = rest.len().min(4096);
    let from = rest.len() - window;
    let at = from + rest[from..].windows(HANDLES_TAIL.len()).rposition(|w| w == HANDLES_TAIL)?;
    let entries = &rest[..at];
    let next = rest[at + HANDLES_TAIL.len()..].strip_suffix(b"}}")?;
    let next: Value = serde_json::from_slice(next).ok()?;
    if !(next.is_string() || next.is_null()) {
        return None;
    }
    // The first entry's location must carry this node (an answer in the
    // node-local form is read entry by entry instead).
    if !entries.is_empty() {
        let mut want = Vec::with_capacity(64);
        want.extend_from_slice(b"{\"file_number\":\"");
        let digits = entries.get(want.len()..)?.iter().take_while(|b| b.is_ascii_digit()).count();
        let at = want.len() + digits;
        want.clear();
        want.extend_from_slice(b"\",\"handle_info\":{\"location\":\"");
        want.extend_from_slice(node.to_string().as_bytes());
        want.push(b'-');
        if entries.get(at..at + want.len())? != want.as_slice() {
            return None;
        }
    }
    Some(MemberRun { entries, next })
}

/// A member's handle listing page in the cluster form: its entries' text
/// (comma-separated) and its `paging.next`.
pub(crate) struct MemberRun<'a> {
    pub(crate) entries: &'a [u8],
    pub(crate) next: Value,
}

/// The key whose string value is an entry's location. A member's entries
/// come from this crate's own writer (`src/json`), compact, each with one
/// location (a handle's in its `handle_info`, a session's at its top): in
/// JSON text a key's quote can never follow an escaped one, so the first
/// match is that key.
const LOCATION: &str = "\"location\":\"";

/// The entry's text with `NODE-` put before its location (as it is when
/// it has none: a lock grant). Still one JSON value: digits and '-' went
/// inside a string.
pub(crate) fn with_node(entry: &RawValue, node: u64) -> Vec<u8> {
    let text = entry.get();
    let Some(at) = text.find(LOCATION).map(|i| i + LOCATION.len()) else {
        return text.as_bytes().to_vec();
    };
    let mut out = String::with_capacity(text.len() + 21);
    out.push_str(&text[..at]);
    out.push_str(&node.to_string());
    out.push('-');
    out.push_str(&text[at..]);
    out.into_bytes()
}

/// A merged page: `{"KEY":[entries],"paging":{"next":NEXT}}`, with
/// `unreachable_nodes` when a member could not answer; each of `entries`
/// is the text of one or more JSON values, comma-separated (a member's run
/// from [`on_node`], an entry from [`with_node`], or a value written).
pub(crate) fn write(key: &str, entries: &[Vec<u8>], next: &Value, missing: &[Value]) -> Vec<u8> {
    let size: usize = entries.iter().map(|e| e.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 128);
    out.push(b'{');
    push_json(&mut out, &Value::String(key.to_owned()));
    out.extend_from_slice(b":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.extend_from_slice(b"],\"paging\":{\"next\":");
    push_json(&mut out, next);
    out.push(b'}');
    if !missing.is_empty() {
        out.extend_from_slice(b",\"unreachable_nodes\":");
        push_json(&mut out, &Value::Array(missing.to_vec()));
    }
    out.push(b'}');
    out
}

fn push_json(out: &mut Vec<u8>, v: &Value) {
    // Writing a `Value` into a `Vec` cannot fail.
    serde_json::to_writer(&mut *out, v).expect("a JSON value is written");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessMask, FileNumber, HandleTable, ListQuery, OpenSpec};

    #[test]
    fn a_members_cluster_form_page_is_passed_on_as_it_stands() {
        let t = HandleTable::new();
        for f in 0..3 {
            t.open(OpenSpec::new(
                FileNumber(40 + f),
                "/x \"q\"],\"paging\":",
                "S-1",
                AccessMask::FILE_READ_DATA,
            ))
            .unwrap();
        }
        let all = ListQuery { resolve_paths: true, ..ListQuery::default() };
        let handles = t.list(&all).unwrap().file_handles;
        let body =
            crate::json::listing_on_node(&handles, Some("/v1/smb/files/?after=00ab"), Some(5));
        let run = on_node(&body, 5).expect("the cluster form");
        assert_eq!(run.next, Value::String("/v1/smb/files/?after=00ab".into()));
        assert!(on_node(&body, 6).is_none(), "another node's form is read entry by entry");
        let local = crate::json::listing_to_json(&handles, None);
        assert!(on_node(&local, 5).is_none(), "the node-local form is read entry by entry");
        let merged = write("file_handles", &[run.entries.to_vec()], &Value::Null, &[]);
        let v: Value = serde_json::from_slice(&merged).unwrap();
        let got: Vec<String> = v["file_handles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["handle_info"]["location"].as_str().unwrap().to_owned())
            .collect();
        let want: Vec<String> =
            handles.iter().map(|h| format!("5-{}", h.handle_info.location)).collect();
        assert_eq!(got, want);
        assert_eq!(v["file_handles"][0]["handle_info"]["path"], "/x \"q\"],\"paging\":");
        // An empty page, and pages cut short, are not taken.
        let empty = crate::json::listing_on_node(&[], None, Some(5));
        assert!(on_node(&empty, 5).unwrap().entries.is_empty());
        assert!(on_node(&body[..body.len() - 1], 5).is_none());
        assert!(on_node(b"{\"file_handles\":[", 5).is_none());
    }

    #[test]
    fn entries_get_their_node_and_the_page_reads_back() {
        let body = br#"{"file_handles":[{"file_number":"7","handle_info":{"owner":"a\"location\":\"x","location":"0000000100000002","path":"/p"}},{"handle_info":{"location":"3"}}],"paging":{"next":"/v1/smb/files/?after=9"}}"#;
        let page = read(body, "file_handles").expect("a page");
        assert_eq!(page.next, Value::String("/v1/smb/files/?after=9".into()));
        let merged: Vec<Vec<u8>> = page.entries.iter().map(|e| with_node(e, 12)).collect();
        let out = write("file_handles", &merged, &Value::Null, &[]);
        let v: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["file_handles"][0]["handle_info"]["location"], "12-0000000100000002");
        assert_eq!(v["file_handles"][0]["handle_info"]["owner"], "a\"location\":\"x");
        assert_eq!(v["file_handles"][1]["handle_info"]["location"], "12-3");
        assert_eq!(v["paging"]["next"], Value::Null);
        assert!(v.get("unreachable_nodes").is_none());
        // A grant has no location: unchanged; a missing key is empty.
        let grants =
            read(br#"{"grants":[{"mode":["READ"]}],"paging":{"next":""}}"#, "grants").unwrap();
        assert_eq!(with_node(grants.entries[0], 3), br#"{"mode":["READ"]}"#);
        assert!(read(br#"{"paging":{}}"#, "grants").unwrap().entries.is_empty());
        assert!(read(b"[1]", "grants").is_none());
        assert!(read(br#"{"grants":7}"#, "grants").is_none());
        let missing = [serde_json::json!({"node_id": 2})];
        let out = write("session_infos", &[], &Value::String(String::new()), &missing);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["unreachable_nodes"][0]["node_id"], 2);
        assert_eq!(v["session_infos"], Value::Array(Vec::new()));
    }
}
