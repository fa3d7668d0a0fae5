//! `GET /v1/smb/sessions/` and `POST /v1/smb/sessions/close`.

use std::sync::Arc;

use hyper::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::routes::{json_response, Resp, State};
use crate::json::sessions_to_json;
use crate::{SessionId, SessionQuery, MAX_REQUEST_ELEMENTS};

/// The user a `qq --identity` names: Qumulo's `local:NAME`, `ad:NAME`,
/// `sid:SID` and `name:NAME` forms lose their prefix; anything else
/// (a bare name or SID) is matched as is against the user's SID and name.
fn identity(raw: &str) -> &str {
    for prefix in ["local:", "ad:", "sid:", "name:"] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            return rest;
        }
    }
    raw
}

/// One page of sessions; `paging.next` repeats `identity` and `limit`.
pub(crate) async fn list(
    state: &Arc<State>,
    path: &str,
    raw: Option<&str>,
) -> Result<Resp, ApiError> {
    let mut query = SessionQuery::new();
    let mut carried = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match &*key {
            "identity" => query = query.user(identity(&value)),
            "limit" => {
                let n = value.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    ApiError::bad_parameter("limit", format!("{value:?} is not a positive integer"))
                })?;
                query = query.limit(n);
            }
            "after" => {
                let a = value.parse::<u32>().map_err(|_| {
                    ApiError::bad_parameter("after", format!("{value:?} is not from paging.next"))
                })?;
                query = query.after(Some(a));
                continue;
            }
            _ => {}
        }
        carried.push(format!(
            "{}={}",
            key,
            form_urlencoded::byte_serialize(value.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        ));
    }
    let table = state.table.clone();
    let path = path.to_owned();
    let body = tokio::task::spawn_blocking(move || {
        let page = table.list_sessions(&query);
        let next = page.next.map(|n| {
            carried.push(format!("after={n}"));
            format!("{path}?{}", carried.join("&"))
        });
        sessions_to_json(&page.sessions, next.as_deref())
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing failed: {e}")))?;
    Ok(json_response(StatusCode::OK, body))
}

/// One element of a close body: only `location` is read.
#[derive(Deserialize)]
struct Named {
    location: Option<serde_json::Value>,
}

/// Logs off every session the body names, in order: one
/// `{"error_message": ""}` per element (`session not found`,
/// `invalid location` or `missing location` otherwise).
pub(crate) async fn close(state: &Arc<State>, body: bytes::Bytes) -> Result<Resp, ApiError> {
    let named: Vec<Named> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_body(format!("expected an array of sessions: {e}")))?;
    if named.len() > MAX_REQUEST_ELEMENTS {
        return Err(ApiError::bad_body("too many sessions in one request"));
    }
    let table = state.table.clone();
    let notify = state.on_force_close.clone();
    let out = tokio::task::spawn_blocking(move || {
        let messages: Vec<serde_json::Value> = named
            .iter()
            .map(|n| {
                let msg = match n.location.as_ref().map(|l| l.as_str()) {
                    None => "missing location".to_owned(),
                    Some(None) => "invalid location".to_owned(),
                    Some(Some(text)) => match text.parse::<SessionId>() {
                        Err(_) => "invalid location".to_owned(),
                        Ok(id) => match table.logoff(id) {
                            Ok(outcome) => {
                                if let Some(notify) = &notify {
                                    for h in outcome.results.iter().flatten() {
                                        let _ = std::panic::catch_unwind(
                                            std::panic::AssertUnwindSafe(|| notify(h)),
                                        );
                                    }
                                }
                                String::new()
                            }
                            Err(_) => "session not found".to_owned(),
                        },
                    },
                };
                serde_json::json!({ "error_message": msg })
            })
            .collect();
        serde_json::to_vec(&messages).expect("messages serialize")
    })
    .await
    .map_err(|e| ApiError::internal(format!("close failed: {e}")))?;
    Ok(json_response(StatusCode::OK, out))
}
