//! What to serve on, who may log in, and the limits that bound abuse.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

use super::auth::Credentials;
use super::error::TlsError;
use super::federation::Federation;

/// The longest wait the endpoint sets a clock to (about 100 years): a limit
/// of `Duration::MAX` ("never") is cut to it where it is added to an
/// `Instant`, which would otherwise overflow.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
use crate::FileHandle;

/// Called once for each handle the endpoint force-closes, after the handle
/// is removed from the table and with no table lock held, so the server can
/// tear the open down. It runs on one of the endpoint's own threads; a panic
/// in it is caught and does not stop the other notifications.
pub type ForceCloseCallback = Arc<dyn Fn(&FileHandle) + Send + Sync + 'static>;

/// A certificate chain and private key for the TCP listener, checked and
/// ready for rustls (TLS 1.2 and 1.3, `ring` crypto, ALPN `http/1.1`).
#[derive(Clone)]
pub struct TlsIdentity {
    pub(crate) config: Arc<rustls::ServerConfig>,
    leaf_sha256: [u8; 32],
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// From PEM text: `cert_pem` holds the certificate chain (leaf first),
    /// `key_pem` a PKCS#8, PKCS#1 or SEC1 private key.
    ///
    /// # Errors
    ///
    /// [`TlsError`] when either cannot be parsed or rustls refuses the pair.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsIdentity, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        if certs.is_empty() {
            return Err(TlsError::Certificate("no CERTIFICATE section".into()));
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, certs[0].as_ref());
        let mut leaf_sha256 = [0u8; 32];
        leaf_sha256.copy_from_slice(digest.as_ref());
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::PrivateKey(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rejected(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Rejected(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsIdentity { config: Arc::new(config), leaf_sha256 })
    }

    /// The SHA-256 of the leaf certificate (DER): what a cluster's peers
    /// pin this node's TLS endpoint to.
    pub fn certificate_sha256(&self) -> [u8; 32] {
        self.leaf_sha256
    }

    /// From PEM files (see [`TlsIdentity::from_pem`]).
    ///
    /// # Errors
    ///
    /// [`TlsError::Io`] when a file cannot be read, else as `from_pem`.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsIdentity, TlsError> {
        let read =
            |p: &Path| std::fs::read(p).map_err(|source| TlsError::Io { path: p.into(), source });
        TlsIdentity::from_pem(&read(cert)?, &read(key)?)
    }
}

/// Bounds that keep a misbehaving or hostile client from holding the
/// endpoint. Request bodies are always limited to
/// [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES) (4 MiB; 64 KiB for login)
/// and pages to [`MAX_LIST_LIMIT`](crate::MAX_LIST_LIMIT) handles.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Open connections at once, over both transports. At the cap, a new
    /// connection sheds the oldest one not working for an authenticated
    /// request (in its TLS handshake, sending its request head, idle, or
    /// unauthenticated), so slow or idle clients cannot lock legitimate
    /// ones out; only when every connection is busy with authenticated work
    /// is the new one closed as soon as it is accepted. Default 64.
    pub max_connections: usize,
    /// Time for the TLS handshake, for a request's headers, and the longest
    /// a kept-alive connection may sit idle between requests. Default 10 s.
    pub header_timeout: Duration,
    /// Time to read a request's body and answer it; past it the answer is
    /// 408 and the connection closes. Default 30 s.
    pub request_timeout: Duration,
    /// After this long, a connection's next answer carries
    /// `Connection: close` (a client that stops reading is cut off a little
    /// later). Default 10 minutes.
    pub connection_lifetime: Duration,
    /// Logins checked at once (each Argon2 check takes ~19 MiB and some CPU);
    /// more get 503. Default 2.
    pub concurrent_logins: usize,
    /// Failed logins in a row a peer (an IP address over TCP, a user id over
    /// the Unix socket) may make before it must wait between attempts.
    /// Default 3.
    pub free_failed_logins: u32,
    /// The longest wait after a failed login: waits start at 250 ms and
    /// double with each further failure up to this; a login during the wait
    /// is answered 429 with `Retry-After`, unchecked. A success resets the
    /// peer. Default 5 s.
    pub max_login_backoff: Duration,
    /// Bearer tokens live at once; past it the oldest is dropped. Default 1024.
    pub max_tokens: usize,
    /// How long a bearer token stays valid after login. Default 1 hour.
    pub token_lifetime: Duration,
    /// How long [`AdminServer::shutdown`](super::AdminServer::shutdown) lets
    /// requests in flight finish before cutting them off. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(600),
            concurrent_logins: 2,
            free_failed_logins: 3,
            max_login_backoff: Duration::from_secs(5),
            max_tokens: 1024,
            token_lifetime: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Everything [`serve`](super::serve) needs: at least one transport, the
/// login, and optionally limits and a force-close callback.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use smb_handles::admin::{self, AdminConfig, Credentials, TlsIdentity};
/// use smb_handles::HandleTable;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let table = Arc::new(HandleTable::new());
/// let tls = TlsIdentity::from_pem_files("cert.pem".as_ref(), "key.pem".as_ref())?;
/// let config = AdminConfig::new(Credentials::new("admin", "s3cret")?)
///     .unix_socket("/run/myserver/admin.sock")
///     .tls("127.0.0.1:8000".parse()?, tls)
///     .on_force_close(|h| eprintln!("closed {}", h.handle_info.location));
/// let server = admin::serve(table, config)?;
/// // ... serve SMB ...
/// server.shutdown();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AdminConfig {
    pub(crate) unix_socket: Option<PathBuf>,
    pub(crate) tcp: Option<(SocketAddr, TlsIdentity)>,
    pub(crate) credentials: Credentials,
    pub(crate) read_only: Option<Credentials>,
    pub(crate) limits: Limits,
    pub(crate) on_force_close: Option<ForceCloseCallback>,
    pub(crate) federation: Option<Arc<dyn Federation>>,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("unix_socket", &self.unix_socket)
            .field("tcp", &self.tcp.as_ref().map(|t| t.0))
            .field("credentials", &self.credentials)
            .field("limits", &self.limits)
            .field("on_force_close", &self.on_force_close.is_some())
            .field("federation", &self.federation.as_ref().map(|f| f.node_id()))
            .finish()
    }
}

impl AdminConfig {
    /// A configuration with no transport yet, default limits and no callback.
    pub fn new(credentials: Credentials) -> AdminConfig {
        AdminConfig {
            unix_socket: None,
            tcp: None,
            credentials,
            read_only: None,
            limits: Limits::default(),
            on_force_close: None,
            federation: None,
        }
    }

    /// Serve plain HTTP/1.1 on a Unix domain socket at `path`, created with
    /// mode 0600 (only the server's user can connect). A stale socket left
    /// at `path` is replaced; a live one or any other file is an error. The
    /// socket is removed on shutdown.
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> AdminConfig {
        self.unix_socket = Some(path.into());
        self
    }

    /// Serve HTTPS (HTTP/1.1 over TLS) on `addr` (port 0 picks a free port;
    /// see [`AdminServer::tcp_addr`](super::AdminServer::tcp_addr)). Plain
    /// HTTP over TCP is not offered.
    pub fn tls(mut self, addr: SocketAddr, identity: TlsIdentity) -> AdminConfig {
        self.tcp = Some((addr, identity));
        self
    }

    /// Adds a second, read-only user: its tokens list handles, sessions and
    /// locks but every close (`/v1/smb/files/close`,
    /// `/v1/smb/sessions/close`) is refused with 403, as Qumulo's read-only
    /// roles are.
    pub fn read_only_user(mut self, credentials: Credentials) -> AdminConfig {
        self.read_only = Some(credentials);
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> AdminConfig {
        self.limits = limits;
        self
    }

    /// Registers the force-close notification (see [`ForceCloseCallback`]).
    pub fn on_force_close(
        mut self,
        f: impl Fn(&FileHandle) + Send + Sync + 'static,
    ) -> AdminConfig {
        self.on_force_close = Some(Arc::new(f));
        self
    }

    /// Answers for a cluster: listings walk every member, closes go to the
    /// members that hold their locations, and locations are
    /// `NODE-LOCATION` (see [`Federation`] and `docs/contract.md` §17).
    /// Requests that carry the cluster's peer credential are answered for
    /// this node alone.
    pub fn federation(mut self, federation: Arc<dyn Federation>) -> AdminConfig {
        self.federation = Some(federation);
        self
    }
}
