//! The endpoint without a socket: raw request bytes in, raw answer bytes
//! out, through the same HTTP/1.1 parser, routes and limits a connection
//! gets. For fuzzers and tests.

use std::io;
use std::ops::Deref;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::auth::Peer;
use super::config::AdminConfig;
use super::routes::State;
use super::server::{http_builder, serve_connection};
use crate::HandleTable;

/// How long one [`Harness::exchange`] may take before it gives up.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

/// The admin endpoint for `table`, answering bytes handed to it in memory
/// as if they came over one connection (HTTP/1.1, no TLS). Lets a fuzzer or
/// a test reach the request parser, the query-string parser and every route
/// without a socket or a thread of its own.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use smb_handles::admin::{AdminConfig, Credentials, Harness};
/// use smb_handles::HandleTable;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cheap = "$argon2id$v=19$m=64,t=1,p=1$c21iaC10ZXN0LXNhbHQhIQ$4OewE5ufgPQffoQ9ZhGFn6SUoBZAXYsGJU9gZ0wq3M0";
/// let creds = Credentials::from_password_hash("admin", cheap)?;
/// let harness = Harness::new(Arc::new(HandleTable::new()), AdminConfig::new(creds))?;
/// let request = format!(
///     "GET /v1/smb/files/?limit=2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
///     harness.token()
/// );
/// let answer = harness.exchange(request.as_bytes());
/// assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// # Ok(()) }
/// ```
pub struct Harness {
    state: Arc<State>,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("state", &self.state).finish_non_exhaustive()
    }
}

impl Harness {
    /// An endpoint for `table` with `config`'s login, limits and callback;
    /// its transports are ignored.
    ///
    /// # Errors
    ///
    /// When its (single-threaded) runtime cannot start.
    pub fn new<T>(table: T, config: AdminConfig) -> io::Result<Harness>
    where
        T: Deref<Target = HandleTable> + Send + Sync + 'static,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()?;
        Ok(Harness { state: Arc::new(State::new(table, config)), rt })
    }

    /// A valid bearer token, issued without a password check (as if a
    /// login had just succeeded).
    ///
    /// # Panics
    ///
    /// If the system's random source fails.
    pub fn token(&self) -> String {
        self.state.tokens.issue().expect("randomness for a token")
    }

    /// Feeds `request` (any bytes: one request, several pipelined, or
    /// garbage) to a fresh connection, ends the client's side, and returns
    /// everything the endpoint wrote back before it closed the connection
    /// (empty when it answered nothing). Gives up after 30 s.
    pub fn exchange(&self, request: &[u8]) -> Vec<u8> {
        let state = self.state.clone();
        self.rt.block_on(async move {
            let (client, server) = tokio::io::duplex(64 << 10);
            let mut http = http_builder(&state.limits);
            // The client's side ends once the request is written: answer
            // anyway (a socket client keeps its side open until it has
            // read its answer, which in memory cannot be known).
            http.half_close(true);
            let graceful = GracefulShutdown::new();
            let busy = Arc::new(AtomicBool::new(false));
            let conn = tokio::spawn(serve_connection(
                server,
                http,
                state,
                graceful.watcher(),
                busy,
                Peer::Unknown,
            ));
            // Reads and writes on separate halves, so a large request cannot
            // deadlock against a large answer.
            let (mut rd, mut wr) = tokio::io::split(client);
            let talk = async {
                let write = async {
                    let _ = wr.write_all(request).await;
                    let _ = wr.shutdown().await;
                };
                let mut answer = Vec::new();
                let read = rd.read_to_end(&mut answer);
                let _ = tokio::join!(write, read);
                answer
            };
            let answer = tokio::time::timeout(EXCHANGE_LIMIT, talk).await.unwrap_or_default();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
            answer
        })
    }
}
