//! The routes: login, list, close. Each request gets exactly one JSON
//! answer; an error answer never changes the table.

use std::fmt;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::header::{
    HeaderMap, HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH,
    CONTENT_TYPE, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::auth::{Credentials, LoginThrottle, Peer, TokenStore};
use super::config::{AdminConfig, ForceCloseCallback, Limits};
use super::error::ApiError;
use super::federated;
use super::federation::{Federation, PEER_HEADER};
use super::query::ListRequest;
use super::{locks, sessions};
use crate::json::{close_response, parse_close_request};
use crate::{FileHandle, HandleTable, ListError, LockListKind, RequestError, MAX_REQUEST_BYTES};

/// The largest login body accepted.
const MAX_LOGIN_BYTES: usize = 64 << 10;

const LOGIN: [&str; 2] = ["/v1/session/login", "/v1/session/login/"];
const FILES: [&str; 2] = ["/v1/smb/files", "/v1/smb/files/"];
const CLOSE: [&str; 2] = ["/v1/smb/files/close", "/v1/smb/files/close/"];
const SESSIONS: [&str; 2] = ["/v1/smb/sessions", "/v1/smb/sessions/"];
const SESSIONS_CLOSE: [&str; 2] = ["/v1/smb/sessions/close", "/v1/smb/sessions/close/"];

/// The table, however the embedder holds it (`Arc<HandleTable>`,
/// `&'static HandleTable`, or the C ABI's borrowed pointer).
pub(crate) type SharedTable = Arc<dyn Deref<Target = HandleTable> + Send + Sync>;

/// What every connection shares.
pub(crate) struct State {
    pub(crate) table: SharedTable,
    pub(crate) credentials: Credentials,
    pub(crate) read_only: Option<Credentials>,
    pub(crate) tokens: TokenStore,
    pub(crate) on_force_close: Option<ForceCloseCallback>,
    pub(crate) login_gate: Arc<Semaphore>,
    pub(crate) throttle: LoginThrottle,
    pub(crate) limits: Limits,
    /// The cluster this endpoint answers for, if any.
    pub(crate) federation: Option<Arc<dyn Federation>>,
}

impl State {
    /// The shared state of one endpoint serving `table` as `config` says
    /// (its transports are the caller's business).
    pub(crate) fn new<T>(table: T, config: AdminConfig) -> State
    where
        T: Deref<Target = HandleTable> + Send + Sync + 'static,
    {
        let limits = config.limits;
        State {
            table: Arc::new(table),
            credentials: config.credentials,
            read_only: config.read_only,
            tokens: TokenStore::new(limits.token_lifetime, limits.max_tokens),
            on_force_close: config.on_force_close,
            login_gate: Arc::new(Semaphore::new(limits.concurrent_logins.max(1))),
            throttle: LoginThrottle::new(limits.free_failed_logins, limits.max_login_backoff),
            limits,
            federation: config.federation,
        }
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State").field("limits", &self.limits).finish_non_exhaustive()
    }
}

pub(crate) type Resp = Response<RespBody>;
/// The body of every answer.
pub(crate) type RespBody = Full<Bytes>;

/// A request extension: the connection's "doing authenticated work" mark,
/// which keeps it from being shed when the endpoint is at its connection
/// cap (see `server::Slots`). Set once a request is authenticated (or a
/// login's body is read and its check admitted); cleared once the answer
/// is written out (see `server::Drain`).
#[derive(Clone, Debug)]
pub(crate) struct Busy(pub(crate) Arc<AtomicBool>);

fn mark_busy<B>(req: &Request<B>) {
    if let Some(Busy(b)) = req.extensions().get::<Busy>() {
        b.store(true, Ordering::Release);
    }
}

/// Answers one request, within the request timeout.
pub(crate) async fn handle<B>(state: Arc<State>, req: Request<B>) -> Resp
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(state.limits.request_timeout, route(&state, req)).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => error_response(&e),
        Err(_elapsed) => error_response(&ApiError::timeout()),
    }
}

async fn route<B>(state: &Arc<State>, req: Request<B>) -> Result<Resp, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let path = req.uri().path();
    if LOGIN.contains(&path) {
        // Never looks at Authorization: qq sends its old (maybe stale) token
        // with a new login.
        if req.method() != Method::POST {
            return Err(ApiError::method_not_allowed(req.method(), path, "POST"));
        }
        return login(state, req).await;
    }
    if let Some(credential) = req.headers().get(PEER_HEADER) {
        // A peer's node-local request: the cluster credential, never a
        // bearer token.
        let ok = state
            .federation
            .as_ref()
            .is_some_and(|f| credential.to_str().is_ok_and(|c| f.is_peer(c)));
        if !ok {
            return Err(ApiError::unauthenticated());
        }
        mark_busy(&req);
        let mut req = req;
        if let Some(f) = &state.federation {
            super::federation::mark_cluster_form(&mut req, f.node_id());
        }
        return local_route(state, req, false).await;
    }
    let Some(read_only) = authorized(&state.tokens, req.headers()) else {
        return Err(ApiError::unauthenticated());
    };
    mark_busy(&req);
    if let Some(fed) = &state.federation {
        if let Some(kind) = federated::kind_of(req.method(), req.uri().path()) {
            let path = req.uri().path().to_owned();
            let query = req.uri().query().map(str::to_owned);
            let body = if matches!(kind, federated::Kind::Close | federated::Kind::Resolve) {
                read_body(req, MAX_REQUEST_BYTES).await?
            } else {
                Bytes::new()
            };
            return federated::route(state, fed, kind, &path, query.as_deref(), body, read_only)
                .await;
        }
    }
    local_route(state, req, read_only).await
}

/// The routes but login, for this node alone: the handle, session and lock
/// ones.
pub(crate) async fn local_route<B>(
    state: &Arc<State>,
    req: Request<B>,
    read_only: bool,
) -> Result<Resp, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let method = req.method().clone();
    let want = |m: Method, allow: &'static str| {
        if method == m {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed(&method, &path, allow))
        }
    };
    if SESSIONS.contains(&path.as_str()) {
        want(Method::GET, "GET")?;
        return sessions::list(state, &path, query.as_deref()).await;
    }
    if SESSIONS_CLOSE.contains(&path.as_str()) {
        want(Method::POST, "POST")?;
        if read_only {
            return Err(ApiError::forbidden());
        }
        return sessions::close(state, read_body(req, MAX_REQUEST_BYTES).await?).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/files/") {
        let rest = rest.to_owned();
        return files_route(state, req, &path, &rest, query.as_deref()).await;
    }
    if path == "/v1/dns/resolve-ips-to-names" {
        want(Method::POST, "POST")?;
        return locks::resolve_ips(&read_body(req, MAX_REQUEST_BYTES).await?);
    }
    let path = path.as_str();
    if FILES.contains(&path) {
        if req.method() != Method::GET {
            return Err(ApiError::method_not_allowed(req.method(), path, "GET"));
        }
        let node = req.extensions().get::<super::federation::ClusterForm>().map(|c| c.0);
        return list(state, path.to_owned(), req.uri().query(), node).await;
    }
    if CLOSE.contains(&path) {
        if req.method() != Method::POST {
            return Err(ApiError::method_not_allowed(req.method(), path, "POST"));
        }
        if read_only {
            return Err(ApiError::forbidden());
        }
        return close(state, req).await;
    }
    Err(ApiError::not_found(path))
}

/// `/v1/files/…`: lock listings, attributes, resolve.
async fn files_route<B>(
    state: &Arc<State>,
    req: Request<B>,
    path: &str,
    rest: &str,
    query: Option<&str>,
) -> Result<Resp, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let kind_of = |t: &str| match t {
        "share-mode" | "share-mode/" => Some(LockListKind::ShareMode),
        "byte-range" | "byte-range/" => Some(LockListKind::ByteRange),
        _ => None,
    };
    let get = |req: &Request<B>| {
        if req.method() == Method::GET {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed(req.method(), path, "GET"))
        }
    };
    if rest == "resolve" || rest == "resolve/" {
        if req.method() != Method::POST {
            return Err(ApiError::method_not_allowed(req.method(), path, "POST"));
        }
        let body = read_body(req, MAX_REQUEST_BYTES).await?;
        return locks::resolve(state, body).await;
    }
    if let Some(kind) = rest.strip_prefix("locks/smb/").and_then(kind_of) {
        get(&req)?;
        return locks::list(state, path, None, kind, query).await;
    }
    if let Some((file_ref, tail)) = rest.split_once('/') {
        if let Some(kind) = tail.strip_prefix("locks/smb/").and_then(kind_of) {
            get(&req)?;
            return locks::list(state, path, Some(file_ref.to_owned()), kind, query).await;
        }
        if tail == "info/attributes" || tail == "info/attributes/" {
            get(&req)?;
            return locks::attributes(state, file_ref.to_owned()).await;
        }
    }
    Err(ApiError::not_found(path))
}

/// `Some(read_only)` for a request with a live bearer token.
fn authorized(tokens: &TokenStore, headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())?;
    match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => tokens.role(token.trim()),
        _ => None,
    }
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login<B>(state: &Arc<State>, req: Request<B>) -> Result<Resp, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let busy = req.extensions().get::<Busy>().cloned();
    let peer = req.extensions().get::<Peer>().cloned().unwrap_or(Peer::Unknown);
    let body = read_body(req, MAX_LOGIN_BYTES).await?;
    let login: LoginBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_body(format!(
            "login body must be {{\"username\": ..., \"password\": ...}}: {e}"
        ))
    })?;
    if let Err(wait) = state.throttle.check(&peer) {
        return Err(ApiError::too_many_failed_logins(wait));
    }
    let Ok(permit) = state.login_gate.clone().try_acquire_owned() else {
        return Err(ApiError::busy());
    };
    // The check under way (at most `concurrent_logins` at once) is work
    // worth finishing: not shed at the connection cap.
    if let Some(Busy(b)) = &busy {
        b.store(true, Ordering::Release);
    }
    let st = state.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        if st.credentials.verify(&login.username, &login.password) {
            Some(false)
        } else if st.read_only.as_ref().is_some_and(|r| r.verify(&login.username, &login.password))
        {
            Some(true)
        } else {
            None
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("login check failed: {e}")))?;
    let Some(read_only) = ok else {
        state.throttle.failed(&peer);
        return Err(ApiError::invalid_credentials());
    };
    state.throttle.succeeded(&peer);
    let token = if read_only { state.tokens.issue_read_only() } else { state.tokens.issue() };
    let token = token.ok_or_else(|| ApiError::internal("no randomness for a token"))?;
    let body = serde_json::to_vec(&serde_json::json!({ "bearer_token": token }))
        .map_err(ApiError::internal)?;
    let mut resp = json_response(StatusCode::OK, body);
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// A handle listing page; `node`: its locations in the cluster form (a
/// member's part of a cluster listing).
async fn list(
    state: &Arc<State>,
    path: String,
    query: Option<&str>,
    node: Option<u64>,
) -> Result<Resp, ApiError> {
    let request = ListRequest::parse(query)?;
    let table = state.table.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let mut query = request.query.clone();
        let mut page = table.list(&query).map_err(list_error)?;
        // Never an empty page with a next: qq 7.10 prints a stray comma for
        // it. Keep walking (the table never does this today; cheap insurance).
        while page.file_handles.is_empty() {
            let Some(next) = page.next else { break };
            query.after = Some(next);
            page = table.list(&query).map_err(list_error)?;
        }
        let next = page.next.map(|c| request.next_uri(&path, c)).unwrap_or_default();
        Ok(crate::json::listing_on_node(&page.file_handles, Some(&next), node))
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing failed: {e}")))??;
    Ok(json_response(StatusCode::OK, body))
}

fn list_error(e: ListError) -> ApiError {
    match e {
        ListError::ZeroLimit => ApiError::bad_parameter("limit", "must be at least 1"),
        ListError::InvalidCursor => {
            ApiError::bad_parameter("after", "does not name a position in this table")
        }
    }
}

async fn close<B>(state: &Arc<State>, req: Request<B>) -> Result<Resp, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let body = read_body(req, MAX_REQUEST_BYTES).await?;
    let table = state.table.clone();
    let notify = state.on_force_close.clone();
    // Once started, the closes and their notifications run to the end even
    // if the client goes away.
    let out = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let requested = parse_close_request(&body).map_err(request_error)?;
        let results = table.close_requested::<FileHandle, _>(requested);
        // close_requested has returned: every handle is removed and no lock
        // is held.
        if let Some(notify) = notify {
            for h in results.iter().flatten() {
                let _ = catch_unwind(AssertUnwindSafe(|| notify(h)));
            }
        }
        Ok(close_response(&results))
    })
    .await
    .map_err(|e| ApiError::internal(format!("close failed: {e}")))??;
    Ok(json_response(StatusCode::OK, out))
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::TooLarge { .. } => ApiError::too_large(MAX_REQUEST_BYTES),
        other => ApiError::bad_body(other),
    }
}

/// Reads a whole body of at most `limit` bytes: 413 past it (checked on
/// `Content-Length` first, so an honest big request is refused unread).
async fn read_body<B>(req: Request<B>, limit: usize) -> Result<Bytes, ApiError>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::too_large(limit)),
        Err(e) => Err(ApiError::bad_body(format!("could not read the request body: {e}"))),
    }
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The JSON answer for an error. 408 and 413 also close the connection (the
/// body may be left unread).
pub(crate) fn error_response(e: &ApiError) -> Resp {
    let mut resp = json_response(e.status, e.body());
    if let Some(allow) = e.allow {
        resp.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(secs) = e.retry_after {
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if matches!(e.status, StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE) {
        resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
