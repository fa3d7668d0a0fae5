//! The admin endpoint: Qumulo's `/v1/smb/files` REST API over HTTP/1.1, so
//! administrators list and force-close open handles with the vendor's own
//! CLI (`qq` from the `qumulo-api` package). Needs the `admin` feature.
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/session/login` `{"username", "password"}` | `{"bearer_token": "..."}`; ignores any `Authorization` header |
//! | `GET /v1/smb/files/` (or without the slash) | one page: `{"file_handles": [...], "paging": {"next": "..."}}` |
//! | `POST /v1/smb/files/close` | one `{"error_message": ""}` per element (SPEC §6) |
//!
//! Every route but login needs `Authorization: Bearer <token>`. The listing
//! takes `file_number`, `resolve_paths` (`true`/`false` in any case, `1`/`0`),
//! `limit` (1 or more; above 10 000 lowered to it) and `after`; other
//! parameters are ignored. `paging.next` is a relative URI that repeats the
//! request's other parameters with a new `after`, or `""` when the walk is
//! done; a page with a `next` is never empty.
//!
//! Errors are JSON `{"error_class": "...", "description": "..."}` (which
//! `qq` prints as `Error 401: authentication_required_error: ...`): 400 for
//! a bad parameter (named) or body, 401, 404, 405 (with `Allow`), 408, 413
//! (over 4 MiB), 429 (a peer's failed logins: wait `Retry-After` seconds),
//! 431 (request head over 64 KiB), 503 (too many logins at once). An error
//! changes nothing.
//!
//! # Under abuse
//!
//! At its connection cap ([`Limits::max_connections`]) the endpoint sheds
//! the oldest connection not doing authenticated work, so slow or idle
//! clients cannot lock legitimate ones out; failed logins back off per peer
//! ([`Limits::free_failed_logins`], [`Limits::max_login_backoff`]).
//! `tests/admin_abuse.rs` checks both and the other attacks it names.
//!
//! # Transports
//!
//! * A Unix domain socket, mode 0600, plain HTTP (`qq --socket-path`).
//! * TCP with TLS (rustls, `ring`), certificate and key from PEM. There is
//!   no plain HTTP over TCP.
//!
//! # Threads
//!
//! [`serve`] starts one thread with its own Tokio runtime (plus at most four
//! blocking helpers for password checks, listings and closes) and returns
//! once listening; it never runs anything on the caller's threads. The
//! [`AdminServer`] it returns stops everything when dropped.
//!
//! # Examples
//!
//! ```no_run
//! use std::sync::Arc;
//! use smb_handles::admin::{self, AdminConfig, Credentials};
//! use smb_handles::HandleTable;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let table = Arc::new(HandleTable::new());
//! let config = AdminConfig::new(Credentials::new("admin", "s3cret")?)
//!     .unix_socket("/run/myserver/admin.sock")
//!     .on_force_close(|h| println!("tear down open {}", h.handle_info.location));
//! let server = admin::serve(table.clone(), config)?;
//! // qq --host localhost --socket-path /run/myserver/admin.sock login -u admin -p s3cret
//! drop(server); // stops it
//! # Ok(()) }
//! ```

mod auth;
mod config;
mod drain;
mod error;
mod federated;
mod federation;
mod harness;
mod locks;
mod pages;
mod query;
mod routes;
mod server;
mod sessions;

pub use auth::Credentials;
pub use config::{AdminConfig, ForceCloseCallback, Limits, TlsIdentity};
pub use error::{CredentialsError, ServeError, TlsError};
pub use federation::{Federation, FederationFuture, Member, PeerReply, PEER_HEADER};
pub use harness::Harness;
pub use server::{serve, AdminServer};
