//! What a session and a tree connect record: the user (Qumulo's `user`
//! object), addresses, flags and times; what a server gives at session setup
//! ([`SessionSpec`]) and what a listing gives back ([`SessionInfo`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::id::{SessionId, TreeId};

/// The identity domain of a user, as Qumulo's API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Domain {
    /// `LOCAL`: a user of the server itself.
    Local,
    /// `ACTIVE_DIRECTORY`: a domain user.
    ActiveDirectory,
    /// `WORLD`: everyone (a guest).
    World,
    /// `POSIX_USER`: a uid without a SID.
    PosixUser,
    /// `POSIX_GROUP`: a gid.
    PosixGroup,
    /// `API_NULL_DOMAIN`: no domain (anonymous).
    Null,
}

impl Domain {
    /// The name Qumulo's JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Local => "LOCAL",
            Domain::ActiveDirectory => "ACTIVE_DIRECTORY",
            Domain::World => "WORLD",
            Domain::PosixUser => "POSIX_USER",
            Domain::PosixGroup => "POSIX_GROUP",
            Domain::Null => "API_NULL_DOMAIN",
        }
    }
}

/// A session's user: Qumulo's `user` object.
///
/// ```
/// use smb_handles::{Domain, User};
/// let u = User::new("S-1-5-21-1004336348-1177238915-682003330-1104", "alice")
///     .domain(Domain::ActiveDirectory)
///     .posix(2001, 100);
/// assert_eq!(u.uid, Some(2001));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// The user's SID (at most [`MAX_OWNER_LEN`](crate::MAX_OWNER_LEN) bytes, no NUL).
    pub sid: Arc<str>,
    /// The user's name (same limits).
    pub name: Arc<str>,
    /// Where the identity comes from; default [`Domain::Local`].
    pub domain: Domain,
    /// The POSIX uid, when the identity has one.
    pub uid: Option<u32>,
    /// The POSIX gid, when the identity has one.
    pub gid: Option<u32>,
}

impl User {
    /// A local user with a SID and a name and no POSIX ids.
    pub fn new(sid: impl Into<Arc<str>>, name: impl Into<Arc<str>>) -> User {
        User { sid: sid.into(), name: name.into(), domain: Domain::Local, uid: None, gid: None }
    }

    /// Sets the domain.
    pub fn domain(mut self, domain: Domain) -> User {
        self.domain = domain;
        self
    }

    /// Sets the POSIX uid and gid.
    pub fn posix(mut self, uid: u32, gid: u32) -> User {
        self.uid = Some(uid);
        self.gid = Some(gid);
        self
    }
}

/// What a server registers when a client's SESSION_SETUP succeeds.
///
/// ```
/// use smb_handles::{SessionSpec, User};
/// let spec = SessionSpec::new(0x4000_0000_0001, User::new("S-1-5-32-546", "guest"),
///                             "10.0.0.7".parse().unwrap())
///     .guest(true)
///     .dialect(0x0311);
/// assert!(spec.guest);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSpec {
    /// The SMB2 `SessionId` the server gave the client.
    pub smb_session_id: u64,
    /// Who logged on.
    pub user: User,
    /// The client's address (Qumulo's `originator`).
    pub client_address: IpAddr,
    /// The server address the client connected to; `None` when unknown.
    pub server_address: Option<IpAddr>,
    /// True for a guest (or anonymous) session.
    pub guest: bool,
    /// True when the session encrypts its messages.
    pub encrypted: bool,
    /// The negotiated dialect (`0x0311` for SMB 3.1.1); 0 when unknown.
    pub dialect: u16,
}

impl SessionSpec {
    /// A session of `user` from `client_address`: not guest, not encrypted,
    /// dialect unknown.
    pub fn new(smb_session_id: u64, user: User, client_address: IpAddr) -> SessionSpec {
        SessionSpec {
            smb_session_id,
            user,
            client_address,
            server_address: None,
            guest: false,
            encrypted: false,
            dialect: 0,
        }
    }

    /// Sets the server address.
    pub fn server_address(mut self, addr: IpAddr) -> SessionSpec {
        self.server_address = Some(addr);
        self
    }

    /// Marks the session as a guest session (or not).
    pub fn guest(mut self, guest: bool) -> SessionSpec {
        self.guest = guest;
        self
    }

    /// Marks the session as encrypted (or not).
    pub fn encrypted(mut self, encrypted: bool) -> SessionSpec {
        self.encrypted = encrypted;
        self
    }

    /// Sets the negotiated dialect.
    pub fn dialect(mut self, dialect: u16) -> SessionSpec {
        self.dialect = dialect;
        self
    }
}

/// A snapshot of one session, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's id in the table (Qumulo's `location`).
    pub id: SessionId,
    /// What the server registered.
    pub spec: Arc<SessionSpec>,
    /// Open handles in the session, over all its tree connects.
    pub num_opens: u64,
    /// When the session was set up.
    pub created: SystemTime,
    /// Time since the last [`HandleTable::touch`](crate::HandleTable::touch)
    /// (or the setup).
    pub idle: Duration,
    /// The share names of its tree connects, in connect order (a share
    /// connected twice is named twice).
    pub share_names: Vec<Arc<str>>,
    /// Its tree connects, in connect order.
    pub trees: Vec<TreeId>,
}

/// A snapshot of one tree connect.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeInfo {
    /// The tree connect's id.
    pub id: TreeId,
    /// The session it belongs to.
    pub session: SessionId,
    /// The share it connects to.
    pub share_name: Arc<str>,
    /// Open handles through it.
    pub num_opens: u64,
}
