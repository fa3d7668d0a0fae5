//! Errors: the JSON error bodies the endpoint answers with, and why
//! [`serve`](super::serve) or a configuration step failed.

use std::error::Error;
use std::fmt;
use std::io;

use hyper::StatusCode;

/// An HTTP error answer: a status and a body
/// `{"error_class": "...", "description": "..."}` (the shape `qq` prints as
/// `Error <status>: <error_class>: <description>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) class: &'static str,
    pub(crate) description: String,
    /// The `Allow` header of a 405.
    pub(crate) allow: Option<&'static str>,
    /// Seconds for a `Retry-After` header.
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        class: &'static str,
        description: impl Into<String>,
    ) -> Self {
        ApiError { status, class, description: description.into(), allow: None, retry_after: None }
    }

    /// 400 naming a query parameter and what is wrong with its value.
    pub(crate) fn bad_parameter(name: &str, detail: impl fmt::Display) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "api_invalid_parameter_error",
            format!("invalid query parameter {name}: {detail}"),
        )
    }

    /// 400 for a request body that is not the JSON expected.
    pub(crate) fn bad_body(detail: impl fmt::Display) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "api_invalid_request_body_error", detail.to_string())
    }

    /// 401: no valid bearer token.
    pub(crate) fn unauthenticated() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_required_error",
            "Need to log in: send Authorization: Bearer <token> from POST /v1/session/login",
        )
    }

    /// 401: wrong user name or password.
    pub(crate) fn invalid_credentials() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "api_invalid_credentials_error",
            "Invalid credentials",
        )
    }

    /// 403: the token's user may read but not change anything.
    pub(crate) fn forbidden() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "api_permission_denied_error",
            "The read-only user may not close handles or sessions",
        )
    }

    /// 404 in Qumulo's shape for a file the endpoint cannot find.
    pub(crate) fn no_such_file(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "fs_no_such_entry_error",
            format!("{what}: no open handle names this file"),
        )
    }

    /// 404 for a path that names no route.
    pub(crate) fn not_found(path: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "http_not_found_error",
            format!("no such route: {path}"),
        )
    }

    /// 405 for a route that exists but not with this method.
    pub(crate) fn method_not_allowed(
        method: &hyper::Method,
        path: &str,
        allow: &'static str,
    ) -> Self {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "http_method_not_allowed_error",
            format!("{method} is not allowed on {path}; allowed: {allow}"),
        );
        e.allow = Some(allow);
        e
    }

    /// 408: the request (body and handling) took longer than allowed.
    pub(crate) fn timeout() -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "http_request_timeout_error",
            "request not completed in time",
        )
    }

    /// 413: the body is over the limit.
    pub(crate) fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http_payload_too_large_error",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// 500: something that should not happen (a panic in the handler).
    pub(crate) fn internal(detail: impl fmt::Display) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", detail.to_string())
    }

    /// 503: too many logins being checked at once.
    pub(crate) fn too_many_failed_logins(wait: std::time::Duration) -> Self {
        // Whole seconds, rounded up, at least 1.
        let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api_too_many_failed_logins_error",
            format!("too many failed logins; try again in {secs} s"),
        );
        e.retry_after = Some(secs);
        e
    }

    pub(crate) fn busy() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable_error",
            "too many requests in progress; try again",
        )
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Vec<u8> {
        let v = serde_json::json!({ "error_class": self.class, "description": self.description });
        serde_json::to_vec(&v).expect("a JSON object of two strings serializes")
    }
}

/// Why [`serve`](super::serve) could not start the endpoint. Nothing is left
/// running or bound when it fails.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// Neither a Unix socket nor a TCP address was configured.
    NoTransport,
    /// Something else already answers on the Unix socket path.
    SocketInUse(std::path::PathBuf),
    /// A path exists where the Unix socket should be and it is not a socket.
    NotASocket(std::path::PathBuf),
    /// Binding, listening or setting up a listener failed.
    Io {
        /// What was being done (for example `bind 127.0.0.1:8000`).
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::NoTransport => {
                f.write_str("admin endpoint needs a Unix socket path or a TCP address (or both)")
            }
            ServeError::SocketInUse(p) => {
                write!(f, "another server already listens on Unix socket {}", p.display())
            }
            ServeError::NotASocket(p) => {
                write!(f, "{} exists and is not a Unix socket; not replacing it", p.display())
            }
            ServeError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl Error for ServeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ServeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a TLS certificate and key were refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The certificate PEM held no certificate, or could not be parsed.
    Certificate(String),
    /// The key PEM held no private key, or could not be parsed.
    PrivateKey(String),
    /// rustls refused the pair (for example a key that does not match the
    /// certificate, or an unsupported key type).
    Rejected(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            TlsError::Certificate(d) => write!(f, "bad TLS certificate PEM: {d}"),
            TlsError::PrivateKey(d) => write!(f, "bad TLS private key PEM: {d}"),
            TlsError::Rejected(d) => write!(f, "TLS certificate and key refused: {d}"),
        }
    }
}

impl Error for TlsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TlsError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why credentials could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The user name is empty.
    EmptyUsername,
    /// The stored hash is not an Argon2 PHC string (`$argon2id$v=19$...`).
    BadHash(String),
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::EmptyUsername => f.write_str("user name must not be empty"),
            CredentialsError::BadHash(d) => write!(f, "not an Argon2 password hash: {d}"),
        }
    }
}

impl Error for CredentialsError {}
