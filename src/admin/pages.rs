//! A cluster listing's pages without a JSON tree: a member's page is read
//! as raw entries (each entry's text borrowed from the answer, checked but
//! not built into values), each entry's location gets its node prefix by
//! splicing the text, and the merged page is written from those texts. A
//! page of 1 000 handles is then a scan and a copy, not a tree of maps
//! parsed, rewritten and serialized again (benches/cluster.rs
//! `cluster_list`).

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

/// The key whose string value is an entry's location. A member's entries
/// come from this crate's own writer (`src/json`), compact, each with one
/// location (a handle's in its `handle_info`, a session's at its top): in
/// JSON text a key's quote can never follow an escaped one, so the first
/// match is that key.
const LOCATION: &str = "\"location\":\"";

/// The entry's text with `NODE-` put before its location (as it is when
/// it has none: a lock grant). Still one JSON value: digits and '-' went
/// inside a string.
pub(crate) fn with_node(entry: &RawValue, node: u64) -> String {
    let text = entry.get();
    let Some(at) = text.find(LOCATION).map(|i| i + LOCATION.len()) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len() + 21);
    out.push_str(&text[..at]);
    out.push_str(&node.to_string());
    out.push('-');
    out.push_str(&text[at..]);
    out
}

/// A merged page: `{"KEY":[entries],"paging":{"next":NEXT}}`, with
/// `unreachable_nodes` when a member could not answer; each entry is the
/// text of one JSON value (from [`with_node`], or a value written).
pub(crate) fn write(key: &str, entries: &[String], next: &Value, missing: &[Value]) -> Vec<u8> {
    let size: usize = entries.iter().map(|e| e.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 128);
    out.push(b'{');
    push_json(&mut out, &Value::String(key.to_owned()));
    out.extend_from_slice(b":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e.as_bytes());
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

    #[test]
    fn entries_get_their_node_and_the_page_reads_back() {
        let body = br#"{"file_handles":[{"file_number":"7","handle_info":{"owner":"a\"location\":\"x","location":"0000000100000002","path":"/p"}},{"handle_info":{"location":"3"}}],"paging":{"next":"/v1/smb/files/?after=9"}}"#;
        let page = read(body, "file_handles").expect("a page");
        assert_eq!(page.next, Value::String("/v1/smb/files/?after=9".into()));
        let merged: Vec<String> = page.entries.iter().map(|e| with_node(e, 12)).collect();
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
        assert_eq!(with_node(grants.entries[0], 3), r#"{"mode":["READ"]}"#);
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
