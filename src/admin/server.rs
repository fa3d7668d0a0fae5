//! Listeners, connections and the endpoint's own thread and runtime.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::pending;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::ops::Deref;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener as StdUnixListener, UnixStream as StdUnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

use super::auth::Peer;
use super::config::{AdminConfig, Limits};
use super::drain::{Drain, FlushWatch, Tracked};
use super::error::ServeError;
use super::routes::{self, State};
use crate::HandleTable;

/// The largest request head (request line and headers) read, in bytes.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// A running admin endpoint. Dropping it, or calling
/// [`AdminServer::shutdown`], stops it: no new connections, requests in
/// flight get [`Limits::shutdown_grace`](super::Limits::shutdown_grace) to
/// finish, the Unix socket file is removed, and its thread is joined.
#[derive(Debug)]
pub struct AdminServer {
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
    tcp_addr: Option<SocketAddr>,
    unix_socket: Option<PathBuf>,
}

impl AdminServer {
    /// The TCP (TLS) address it listens on, with the real port when port 0
    /// was asked for.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The Unix socket path it listens on.
    pub fn unix_socket(&self) -> Option<&Path> {
        self.unix_socket.as_deref()
    }

    /// Stops the endpoint and waits until its thread has ended: about the
    /// shutdown grace, or longer while a close already under way finishes
    /// (every notification it owes is delivered before this returns).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes the Unix socket file when dropped (unless disarmed).
struct SocketFile(Option<PathBuf>);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Starts the admin endpoint for `table` on its own thread and runtime, and
/// returns once every configured listener is bound and accepting.
///
/// `table` is anything that derefs to the table and can be shared with the
/// endpoint's threads: usually an `Arc<HandleTable>` the server also keeps.
///
/// # Errors
///
/// [`ServeError`] when no transport is configured or a listener cannot be
/// set up; then nothing is left bound or running.
pub fn serve<T>(table: T, config: AdminConfig) -> Result<AdminServer, ServeError>
where
    T: Deref<Target = HandleTable> + Send + Sync + 'static,
{
    if config.unix_socket.is_none() && config.tcp.is_none() {
        return Err(ServeError::NoTransport);
    }
    let (unix, socket_file) = match &config.unix_socket {
        Some(path) => (Some(bind_unix(path)?), SocketFile(Some(path.clone()))),
        None => (None, SocketFile(None)),
    };
    let (tcp, tcp_addr) = match &config.tcp {
        Some((addr, identity)) => {
            let l = StdTcpListener::bind(addr).map_err(|e| io_err(format!("bind {addr}"), e))?;
            let local = l.local_addr().map_err(|e| io_err("local_addr", e))?;
            l.set_nonblocking(true).map_err(|e| io_err("set_nonblocking", e))?;
            (Some((l, TlsAcceptor::from(identity.config.clone()))), Some(local))
        }
        None => (None, None),
    };
    let unix_socket = config.unix_socket.clone();
    let state = Arc::new(State::new(table, config));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("smbh-admin".into())
        .spawn(move || run(state, unix, tcp, stop_rx, ready_tx, socket_file))
        .map_err(|e| io_err("spawn the admin thread", e))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {
            Ok(AdminServer { stop: Some(stop_tx), thread: Some(thread), tcp_addr, unix_socket })
        }
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(io_err("start the admin thread", io::Error::other("it ended before listening")))
        }
    }
}

fn io_err(context: impl Into<String>, source: io::Error) -> ServeError {
    ServeError::Io { context: context.into(), source }
}

/// Binds and listens on a Unix socket with mode 0600, set before `listen` so
/// no client can connect while it is wider.
fn bind_unix(path: &Path) -> Result<StdUnixListener, ServeError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServeError::NotASocket(path.into()));
        }
        if StdUnixStream::connect(path).is_ok() {
            return Err(ServeError::SocketInUse(path.into()));
        }
        std::fs::remove_file(path)
            .map_err(|e| io_err(format!("remove stale {}", path.display()), e))?;
    }
    let ctx = |what: &str| format!("{what} {}", path.display());
    let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
        .map_err(|e| io_err(ctx("socket for"), e))?;
    let addr = socket2::SockAddr::unix(path).map_err(|e| io_err(ctx("address"), e))?;
    socket.bind(&addr).map_err(|e| io_err(ctx("bind"), e))?;
    let mut bound = SocketFile(Some(path.into()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err(ctx("chmod 0600"), e))?;
    socket.listen(1024).map_err(|e| io_err(ctx("listen on"), e))?;
    socket.set_nonblocking(true).map_err(|e| io_err(ctx("set_nonblocking"), e))?;
    bound.0 = None; // keep the file: the listener owns it now
    Ok(socket.into())
}

fn run(
    state: Arc<State>,
    unix: Option<StdUnixListener>,
    tcp: Option<(StdTcpListener, TlsAcceptor)>,
    stop: watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<Result<(), ServeError>>,
    socket_file: SocketFile,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_name("smbh-admin-worker")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(io_err("start the admin runtime", e)));
            return;
        }
    };
    rt.block_on(async move {
        let unix = match unix.map(UnixListener::from_std).transpose() {
            Ok(l) => l,
            Err(e) => return drop(ready.send(Err(io_err("register the Unix listener", e)))),
        };
        let tcp = match tcp.map(|(l, a)| TcpListener::from_std(l).map(|l| (l, a))).transpose() {
            Ok(l) => l,
            Err(e) => return drop(ready.send(Err(io_err("register the TCP listener", e)))),
        };
        let _ = ready.send(Ok(()));
        tokio::spawn(run_timers(Arc::clone(&state), stop.clone()));
        accept_loop(state, unix, tcp, stop).await;
    });
    // Dropping the runtime waits for its blocking tasks: a close under way
    // finishes and delivers every notification before stop returns, so the
    // caller may free what its callback uses as soon as it does.
    drop(rt);
    drop(socket_file);
}

/// Runs the table's timers (break timeouts, durable handle expiry) until
/// the server stops: at each next deadline, and at least once a second.
async fn run_timers(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        let st = Arc::clone(&state);
        // Off the runtime's thread: expiry calls the server's hooks.
        let next =
            tokio::task::spawn_blocking(move || st.table.run_timers(std::time::Instant::now()))
                .await
                .ok()
                .flatten();
        let now = std::time::Instant::now();
        let wait = next.map_or(std::time::Duration::from_secs(1), |d| {
            d.saturating_duration_since(now).min(std::time::Duration::from_secs(1))
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The open connections, oldest first, each with its "doing authenticated
/// work" mark and a way to shed it.
///
/// At the cap, a new connection sheds the oldest one that is not working
/// for an authenticated request (still in its TLS handshake, sending its
/// request head, idle between requests, or sending an unauthenticated
/// request). So clients that never finish a request, however many and
/// however fast they reconnect, cannot keep a legitimate client out: its
/// connection is the newest, and it is shed only after every older idle
/// one. A connection is refused only when every slot is doing
/// authenticated work.
#[derive(Clone)]
struct Slots {
    inner: Arc<parking_lot::Mutex<SlotTable>>,
}

struct SlotTable {
    max: usize,
    next_id: u64,
    open: BTreeMap<u64, (Arc<AtomicBool>, Arc<Notify>)>,
}

/// A connection's place in [`Slots`]; gives it back when dropped.
struct Slot {
    id: u64,
    busy: Arc<AtomicBool>,
    shed: Arc<Notify>,
    slots: Slots,
}

impl Slots {
    fn new(max: usize) -> Slots {
        let table = SlotTable { max: max.max(1), next_id: 0, open: BTreeMap::new() };
        Slots { inner: Arc::new(parking_lot::Mutex::new(table)) }
    }

    /// A slot for a new connection, shedding the oldest idle one at the
    /// cap; `None` when every connection is busy.
    fn admit(&self) -> Option<Slot> {
        let mut t = self.inner.lock();
        if t.open.len() >= t.max {
            let victim = t
                .open
                .iter()
                .find(|(_, (busy, _))| !busy.load(Ordering::Acquire))
                .map(|(&id, _)| id)?;
            if let Some((_, shed)) = t.open.remove(&victim) {
                // notify_one keeps the wake-up if the task is not waiting yet.
                shed.notify_one();
            }
        }
        let id = t.next_id;
        t.next_id += 1;
        let busy = Arc::new(AtomicBool::new(false));
        let shed = Arc::new(Notify::new());
        t.open.insert(id, (busy.clone(), shed.clone()));
        Some(Slot { id, busy, shed, slots: self.clone() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.inner.lock().open.remove(&self.id);
    }
}

/// One accepted connection, before TLS.
enum Accepted {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn accept_loop(
    state: Arc<State>,
    unix: Option<UnixListener>,
    tcp: Option<(TcpListener, TlsAcceptor)>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = state.limits.clone();
    let graceful = GracefulShutdown::new();
    let slots = Slots::new(limits.max_connections);
    let http = http_builder(&limits);
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            r = async {
                match &unix {
                    Some(l) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
                    None => pending().await,
                }
            } => r,
            r = async {
                match &tcp {
                    Some((l, _)) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
                    None => pending().await,
                }
            } => r,
        };
        let conn = match accepted {
            Ok(c) => c,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // At the cap, the oldest connection doing no authenticated work
        // makes room; when every one is, the new one is closed at once
        // (cheaper than a TLS handshake to say so).
        let Some(slot) = slots.admit() else {
            drop(conn);
            continue;
        };
        let watcher = graceful.watcher();
        let http = http.clone();
        let state = state.clone();
        let acceptor = tcp.as_ref().map(|(_, a)| a.clone());
        tokio::spawn(async move {
            let shed = slot.shed.clone();
            let work = async move {
                match conn {
                    Accepted::Unix(s) => {
                        let peer = s.peer_cred().map_or(Peer::Unknown, |c| Peer::Uid(c.uid()));
                        serve_connection(s, http, state, watcher, slot.busy.clone(), peer).await
                    }
                    Accepted::Tcp(s) => {
                        let _ = s.set_nodelay(true);
                        let peer = s.peer_addr().map_or(Peer::Unknown, |a| Peer::from_ip(a.ip()));
                        let acceptor =
                            acceptor.expect("a TCP connection came from the TLS listener");
                        let handshake =
                            tokio::time::timeout(limits.header_timeout, acceptor.accept(s));
                        if let Ok(Ok(tls)) = handshake.await {
                            serve_connection(tls, http, state, watcher, slot.busy.clone(), peer)
                                .await;
                        }
                    }
                }
                drop(slot);
            };
            // Shed: dropping the connection closes it.
            tokio::select! {
                () = work => {}
                () = shed.notified() => {}
            }
        });
        // Let the new connection read its request head before the next
        // accept: under a flood of connections, a client that sends its
        // request at once is authenticated (and kept) before 63 more
        // arrivals could shed it.
        tokio::task::yield_now().await;
    }
    drop(unix);
    drop(tcp);
    let _ = tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await;
}

/// How every connection speaks HTTP/1.1.
pub(crate) fn http_builder(limits: &Limits) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // hyper adds it to an Instant: "never" (Duration::MAX) would overflow.
        .header_read_timeout(limits.header_timeout.min(super::config::LONGEST_WAIT))
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    http
}

pub(crate) async fn serve_connection<I>(
    io: I,
    http: http1::Builder,
    state: Arc<State>,
    watcher: Watcher,
    busy: Arc<AtomicBool>,
    peer: Peer,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let limits = state.limits.clone();
    let drain = Arc::new(Drain { busy, draining: AtomicBool::new(false) });
    let io = FlushWatch { io, drain: drain.clone() };
    let service = service_fn(move |mut req: Request<Incoming>| {
        let state = state.clone();
        let drain = drain.clone();
        let peer = peer.clone();
        async move {
            // A new request: an earlier answer still flushing no longer
            // decides when this connection stops being busy.
            drain.draining.store(false, Ordering::Release);
            // The routes set it once the request is authenticated.
            req.extensions_mut().insert(routes::Busy(drain.busy.clone()));
            req.extensions_mut().insert(peer);
            let mut resp = routes::handle(state.clone(), req).await;
            if started.elapsed() >= state.limits.connection_lifetime {
                resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            }
            // Busy until the answer is written out, not just produced.
            Ok::<_, Infallible>(resp.map(|body| Tracked { body, drain }))
        }
    });
    let conn = http.serve_connection(TokioIo::new(io), service);
    // A client that stops reading its answer is cut off here.
    let hard_limit = limits
        .connection_lifetime
        .saturating_add(limits.request_timeout)
        .saturating_add(limits.header_timeout);
    let _ = tokio::time::timeout(hard_limit, watcher.watch(conn)).await;
}
