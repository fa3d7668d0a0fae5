//! The `/v1/files/…` routes qq's `fs_list_locks` and
//! `smb_list_file_handles --path` use: the SMB lock listings
//! (`/v1/files/{ref}/locks/smb/{share-mode,byte-range}/` and
//! `/v1/files/locks/smb/…/`), `/v1/files/{ref}/info/attributes`, and the
//! minimal `POST /v1/files/resolve` and `POST /v1/dns/resolve-ips-to-names`.
//!
//! A `{ref}` is a file number (decimal) or a URL-encoded absolute path,
//! resolved to the file of an open handle with exactly that path; a path no
//! open handle has answers 404 (`fs_no_such_entry_error`).

use std::net::IpAddr;
use std::sync::Arc;

use hyper::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::routes::{json_response, Resp, State};
use crate::{
    FileNumber, GrantMode, HandleTable, ListQuery, LockCursor, LockGrant, LockKind, LockListKind,
    LockQuery, ShareAccess,
};

/// Decodes `%XX` escapes of one path segment (no `+` rule: qq writes
/// spaces as `%20`).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file an open handle of `table` has at `path`, and whether it is a
/// directory.
fn find_path(table: &HandleTable, path: &str) -> Option<(FileNumber, bool)> {
    let mut q = ListQuery { resolve_paths: true, ..ListQuery::default() };
    loop {
        let page = table.list(&q).ok()?;
        if let Some(h) =
            page.file_handles.iter().find(|h| h.handle_info.path.as_deref() == Some(path))
        {
            return Some((h.file_number, h.handle_info.directory));
        }
        q.after = Some(page.next?);
    }
}

/// Resolves a `{ref}` segment (still URL-encoded).
fn resolve_ref(table: &HandleTable, raw: &str) -> Result<FileNumber, ApiError> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse()
            .map(FileNumber)
            .map_err(|_| ApiError::bad_parameter("ref", "file number too large"));
    }
    let path = percent_decode(raw).ok_or_else(|| ApiError::bad_parameter("ref", "bad escape"))?;
    find_path(table, &path).map(|(f, _)| f).ok_or_else(|| ApiError::no_such_file(&path))
}

/// Qumulo's mode names of a grant.
fn mode_names(mode: GrantMode) -> Vec<&'static str> {
    match mode {
        GrantMode::ShareMode { access, excludes } => {
            let mut out = Vec::new();
            let names = [
                (ShareAccess::READ, "API_SHARE_MODE_READ", "API_SHARE_MODE_EXCLUDE_READ"),
                (ShareAccess::WRITE, "API_SHARE_MODE_WRITE", "API_SHARE_MODE_EXCLUDE_WRITE"),
                (ShareAccess::DELETE, "API_SHARE_MODE_DELETE", "API_SHARE_MODE_EXCLUDE_DELETE"),
            ];
            out.extend(names.iter().filter(|n| access.contains(n.0)).map(|n| n.1));
            out.extend(names.iter().filter(|n| excludes.contains(n.0)).map(|n| n.2));
            out
        }
        GrantMode::ByteRange { kind: LockKind::Exclusive, .. } => vec!["API_BYTE_RANGE_EXCLUSIVE"],
        GrantMode::ByteRange { kind: LockKind::Shared, .. } => vec!["API_BYTE_RANGE_SHARED"],
    }
}

/// One grant in the documented field order (`file_id`, `stream_id`,
/// `snapshot_id`, `mode`, `offset`, `size`, `owner_id`, `owner_name`,
/// `owner_address`, `node_address`): `qq fs_list_locks --json` prints the
/// server's order as it is. `offset`, `size` and `owner_name` only for
/// byte-range locks, as documented.
#[derive(Serialize)]
struct GrantJson {
    file_id: String,
    stream_id: &'static str,
    snapshot_id: &'static str,
    mode: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<String>,
    owner_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_name: Option<String>,
    owner_address: String,
    node_address: String,
}

impl GrantJson {
    fn of(g: &LockGrant) -> GrantJson {
        let spec = g.session_spec.as_deref();
        let owner_address = spec.map(|s| s.client_address.to_string()).unwrap_or_default();
        let node_address =
            spec.and_then(|s| s.server_address).map(|a| a.to_string()).unwrap_or_default();
        let range = match g.mode {
            GrantMode::ByteRange { offset, length, .. } => Some((offset, length)),
            GrantMode::ShareMode { .. } => None,
        };
        GrantJson {
            file_id: g.file_number.0.to_string(),
            stream_id: "0",
            snapshot_id: "",
            mode: mode_names(g.mode),
            offset: range.map(|r| r.0.to_string()),
            size: range.map(|r| r.1.to_string()),
            owner_id: g.owner.to_string(),
            owner_name: range.map(|_| owner_address.clone()),
            owner_address,
            node_address,
        }
    }
}

/// Lists one kind of lock: of the file `file_ref` names, or (`None`) of
/// every file, filtered by `owner_address` / `owner_name` (both matched
/// against the client address: this table knows no machine names).
pub(crate) async fn list(
    state: &Arc<State>,
    path: &str,
    file_ref: Option<String>,
    kind: LockListKind,
    raw: Option<&str>,
) -> Result<Resp, ApiError> {
    let table = state.table.clone();
    let path = path.to_owned();
    let raw = raw.unwrap_or("").to_owned();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let mut query = LockQuery::new();
        let mut carried = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = form_urlencoded::parse(pair.as_bytes()).next().expect("one pair");
            match &*key {
                "limit" => {
                    let n = value.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                        ApiError::bad_parameter("limit", "must be a positive integer")
                    })?;
                    query = query.limit(n);
                }
                "after" => {
                    let c = value.parse::<LockCursor>().map_err(|_| {
                        ApiError::bad_parameter("after", "not a key from paging.next")
                    })?;
                    query = query.after(Some(c));
                    continue;
                }
                "owner_address" | "owner_name" => {
                    let a = value.parse::<IpAddr>().map_err(|_| {
                        ApiError::bad_parameter(&key, format!("{value:?} is not an IP address"))
                    })?;
                    query = query.owner_address(a);
                }
                _ => {}
            }
            carried.push(pair.to_owned());
        }
        if let Some(r) = &file_ref {
            query = query.file(resolve_ref(&table, r)?);
        }
        let page = table.list_locks(kind, &query);
        let grants: Vec<GrantJson> = page.grants.iter().map(GrantJson::of).collect();
        let next = page.next.map(|c| {
            carried.push(format!("after={c}"));
            format!("{path}?{}", carried.join("&"))
        });
        Ok(serde_json::to_vec(&json!({ "grants": grants, "paging": { "next": next } }))
            .expect("grants serialize"))
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing failed: {e}")))??;
    Ok(json_response(StatusCode::OK, body))
}

/// `GET /v1/files/{ref}/info/attributes`, as far as an open handle tells.
pub(crate) async fn attributes(state: &Arc<State>, file_ref: String) -> Result<Resp, ApiError> {
    let table = state.table.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let (file, path) = if file_ref.bytes().all(|b| b.is_ascii_digit()) {
            let file = resolve_ref(&table, &file_ref)?;
            let q = ListQuery {
                file_number: Some(file),
                resolve_paths: true,
                limit: Some(1),
                ..ListQuery::default()
            };
            let h = table.list(&q).ok().and_then(|p| p.file_handles.into_iter().next());
            let h = h.ok_or_else(|| ApiError::no_such_file(&file_ref))?;
            (file, h.handle_info.path.map(|p| p.to_string()).unwrap_or_default())
        } else {
            let path = percent_decode(&file_ref)
                .ok_or_else(|| ApiError::bad_parameter("ref", "bad escape"))?;
            let (file, _) =
                find_path(&table, &path).ok_or_else(|| ApiError::no_such_file(&path))?;
            (file, path)
        };
        let directory = find_path(&table, &path).is_some_and(|(_, d)| d);
        let name = path.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
        let kind = if directory { "FS_FILE_TYPE_DIRECTORY" } else { "FS_FILE_TYPE_FILE" };
        Ok(serde_json::to_vec(&json!({
            "path": path, "name": name, "num_links": 1, "type": kind,
            "file_number": file.0.to_string(), "id": file.0.to_string(),
        }))
        .expect("attributes serialize"))
    })
    .await
    .map_err(|e| ApiError::internal(format!("attributes failed: {e}")))??;
    Ok(json_response(StatusCode::OK, body))
}

/// `POST /v1/files/resolve`: `[id, …]` → `[{"id", "path"}, …]`, the path of
/// an open handle of the file (`""` when none is open).
pub(crate) async fn resolve(state: &Arc<State>, body: bytes::Bytes) -> Result<Resp, ApiError> {
    let ids: Vec<String> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_body(format!("expected an array of file ids: {e}")))?;
    let table = state.table.clone();
    let out = tokio::task::spawn_blocking(move || {
        let answers: Vec<Value> = ids
            .iter()
            .map(|id| {
                let path = id.parse::<u64>().ok().and_then(|f| {
                    let q = ListQuery {
                        file_number: Some(FileNumber(f)),
                        resolve_paths: true,
                        limit: Some(1),
                        ..ListQuery::default()
                    };
                    table.list(&q).ok()?.file_handles.into_iter().next()?.handle_info.path
                });
                json!({ "id": id, "path": path.as_deref().unwrap_or("") })
            })
            .collect();
        serde_json::to_vec(&answers).expect("paths serialize")
    })
    .await
    .map_err(|e| ApiError::internal(format!("resolve failed: {e}")))?;
    Ok(json_response(StatusCode::OK, out))
}

/// `POST /v1/dns/resolve-ips-to-names`: this server does no DNS, so every
/// address comes back unresolved (qq then prints the address).
pub(crate) fn resolve_ips(body: &[u8]) -> Result<Resp, ApiError> {
    let ips: Vec<String> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_body(format!("expected an array of addresses: {e}")))?;
    let answers: Vec<Value> = ips
        .iter()
        .map(|ip| json!({ "ip_address": ip, "hostname": "", "result": "ERROR_NOT_RESOLVED" }))
        .collect();
    Ok(json_response(StatusCode::OK, serde_json::to_vec(&answers).expect("answers serialize")))
}
