//! Durable and persistent opens (MS-SMB2 §3.3.5.9.6–§3.3.5.9.13): what an
//! open asks for, what it was granted, and what a reconnect must present.
//!
//! A durable open outlives its connection: when the session's connection
//! drops ([`HandleTable::disconnect`](crate::HandleTable::disconnect)) it
//! is kept, with its share reservation, locks and lease, marked
//! disconnected until its timeout passes, and the client may take it back
//! ([`HandleTable::reconnect`](crate::HandleTable::reconnect)). A
//! persistent open is also kept across a crash of the server when the
//! table has a store (see `docs/contract.md` §15).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::lease::{ClientGuid, LeaseKey};
use crate::session::TreeId;

/// The CREATE's `CreateGuid` (durable v2): names one create request, so a
/// replay of it finds the open it made.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CreateGuid(pub u128);

/// The `SMB2_CREATE_APP_INSTANCE_ID` context's GUID: an application
/// instance (a failover cluster's VM, say) whose newer open replaces the
/// older one's (MS-SMB2 §3.3.5.9.13).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AppInstanceId(pub u128);

/// The durable handle's id a reconnect presents (the SMB2 `FileId`'s
/// persistent part). It is the location the open was given when it was
/// granted; after a reconnect the open has a new location, but keeps this
/// id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PersistentId(pub u64);

/// Which durability an open asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum DurableRequest {
    /// `SMB2_CREATE_DURABLE_HANDLE_REQUEST` (DHnQ): granted only with a
    /// batch oplock or a lease with handle caching; the table's default
    /// timeout.
    V1,
    /// `SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2` (DH2Q).
    V2 {
        /// The request's `CreateGuid`.
        create_guid: CreateGuid,
        /// The requested timeout; zero takes the table's default, more than
        /// the table's maximum is capped to it.
        timeout: Duration,
        /// `SMB2_DHANDLE_FLAG_PERSISTENT`: the server asks only on a
        /// continuously available share; granted when the table has a store
        /// (with or without caching), else treated as a durable request.
        persistent: bool,
    },
}

/// Durability an open asks for, with the client's identity that a
/// reconnect or a replay is checked against.
///
/// ```
/// use std::time::Duration;
/// use smb_handles::{ClientGuid, CreateGuid, DurableSpec};
///
/// let d = DurableSpec::v2(ClientGuid(7), CreateGuid(0xC0FFEE), Duration::from_secs(120));
/// assert!(!d.is_persistent());
/// assert!(d.persistent(true).is_persistent());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct DurableSpec {
    /// What is asked.
    pub request: DurableRequest,
    /// The client's GUID (the connection's `ClientGuid`).
    pub client: ClientGuid,
    /// The `SMB2_CREATE_APP_INSTANCE_ID` context, if present.
    pub app_instance: Option<AppInstanceId>,
}

impl DurableSpec {
    /// A durable v1 request (DHnQ).
    pub fn v1(client: ClientGuid) -> DurableSpec {
        DurableSpec { request: DurableRequest::V1, client, app_instance: None }
    }

    /// A durable v2 request (DH2Q), not persistent.
    pub fn v2(client: ClientGuid, create_guid: CreateGuid, timeout: Duration) -> DurableSpec {
        DurableSpec {
            request: DurableRequest::V2 { create_guid, timeout, persistent: false },
            client,
            app_instance: None,
        }
    }

    /// Sets the v2 request's persistent flag (no effect on v1).
    pub fn persistent(mut self, on: bool) -> DurableSpec {
        if let DurableRequest::V2 { persistent, .. } = &mut self.request {
            *persistent = on;
        }
        self
    }

    /// Adds an app instance id.
    pub fn app_instance(mut self, id: AppInstanceId) -> DurableSpec {
        self.app_instance = Some(id);
        self
    }

    /// True for a v2 request with the persistent flag.
    pub fn is_persistent(&self) -> bool {
        matches!(self.request, DurableRequest::V2 { persistent: true, .. })
    }

    /// The v2 request's create GUID.
    pub fn create_guid(&self) -> Option<CreateGuid> {
        match self.request {
            DurableRequest::V2 { create_guid, .. } => Some(create_guid),
            DurableRequest::V1 => None,
        }
    }
}

/// What durability an open was granted (the CREATE response's DHnQ or
/// DH2Q context).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct DurableGrant {
    /// The id a reconnect presents.
    pub persistent_id: PersistentId,
    /// How long the open is kept once its connection drops (the DH2Q
    /// response's `Timeout`).
    pub timeout: Duration,
    /// `SMB2_DHANDLE_FLAG_PERSISTENT` granted: the open is in the table's
    /// store and survives a crash of the server.
    pub persistent: bool,
}

/// What a reconnect (DHnC or DH2C) presents.
///
/// ```
/// use smb_handles::{ClientGuid, CreateGuid, PersistentId, ReconnectSpec};
///
/// let r = ReconnectSpec::v2(PersistentId(0x1_0000_0003), CreateGuid(9), ClientGuid(7), "S-1-5-21-1-1104");
/// assert_eq!(r.create_guid, Some(CreateGuid(9)));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct ReconnectSpec {
    /// The `FileId`'s persistent part.
    pub persistent_id: PersistentId,
    /// DH2C's `CreateGuid`; `None` for a v1 reconnect (DHnC).
    pub create_guid: Option<CreateGuid>,
    /// The reconnecting connection's client GUID.
    pub client: ClientGuid,
    /// The reconnecting user's SID: must be the open's owner.
    pub owner: Arc<str>,
    /// The lease key of the reconnect's lease context, if it has one (it
    /// must have one exactly when the open holds a lease, with its key).
    pub lease_key: Option<LeaseKey>,
    /// DH2C's `SMB2_DHANDLE_FLAG_PERSISTENT`.
    pub persistent: bool,
    /// The tree connect the open joins.
    pub tree: Option<TreeId>,
}

impl ReconnectSpec {
    /// A v1 reconnect (DHnC).
    pub fn v1(
        persistent_id: PersistentId,
        client: ClientGuid,
        owner: impl Into<Arc<str>>,
    ) -> ReconnectSpec {
        ReconnectSpec {
            persistent_id,
            create_guid: None,
            client,
            owner: owner.into(),
            lease_key: None,
            persistent: false,
            tree: None,
        }
    }

    /// A v2 reconnect (DH2C).
    pub fn v2(
        persistent_id: PersistentId,
        create_guid: CreateGuid,
        client: ClientGuid,
        owner: impl Into<Arc<str>>,
    ) -> ReconnectSpec {
        ReconnectSpec {
            create_guid: Some(create_guid),
            ..ReconnectSpec::v1(persistent_id, client, owner)
        }
    }

    /// The lease key of the reconnect's lease context.
    pub fn lease_key(mut self, key: LeaseKey) -> ReconnectSpec {
        self.lease_key = Some(key);
        self
    }

    /// DH2C's persistent flag.
    pub fn persistent(mut self, on: bool) -> ReconnectSpec {
        self.persistent = on;
        self
    }

    /// The tree connect the open joins.
    pub fn tree(mut self, tree: TreeId) -> ReconnectSpec {
        self.tree = Some(tree);
        self
    }
}

/// Why a reconnect was refused (MS-SMB2 §3.3.5.9.7, §3.3.5.9.12).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ReconnectError {
    /// No durable open has the id, or it is not disconnected, or the
    /// create GUID, lease key, client (for a leased open) or persistent
    /// flag differs: `STATUS_OBJECT_NAME_NOT_FOUND`.
    NotFound,
    /// The open belongs to another user: `STATUS_ACCESS_DENIED`.
    AccessDenied,
    /// The tree connect (or its session) is gone: `STATUS_NETWORK_NAME_DELETED`.
    TreeDeleted,
    /// The store did not take the reconnect of a persistent open:
    /// `STATUS_INSUFFICIENT_RESOURCES`; the open stays disconnected.
    StoreFailed,
}

impl ReconnectError {
    /// The NTSTATUS an SMB2 server answers.
    pub fn nt_status(&self) -> u32 {
        match self {
            ReconnectError::NotFound => crate::error::ntstatus::OBJECT_NAME_NOT_FOUND,
            ReconnectError::AccessDenied => crate::error::ntstatus::ACCESS_DENIED,
            ReconnectError::TreeDeleted => crate::error::ntstatus::NETWORK_NAME_DELETED,
            ReconnectError::StoreFailed => crate::error::ntstatus::INSUFFICIENT_RESOURCES,
        }
    }
}

impl fmt::Display for ReconnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReconnectError::NotFound => "no disconnected durable open matches the reconnect",
            ReconnectError::AccessDenied => "the durable open belongs to another user",
            ReconnectError::TreeDeleted => "tree connect disconnected",
            ReconnectError::StoreFailed => "the store did not take the reconnect",
        })
    }
}

impl std::error::Error for ReconnectError {}

/// A durable open's state, as [`HandleTable::durable_of`](crate::HandleTable::durable_of) shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct DurableInfo {
    /// What was granted.
    pub grant: DurableGrant,
    /// The client that opened it.
    pub client: ClientGuid,
    /// The v2 request's create GUID.
    pub create_guid: Option<CreateGuid>,
    /// The app instance id.
    pub app_instance: Option<AppInstanceId>,
    /// Disconnected: the time left until it is closed.
    pub disconnected: Option<Duration>,
}

/// What a granted reconnect gives back (the CREATE response of DHnC or
/// DH2C).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Reconnected {
    /// The open's new location (the old one is stale from now on).
    pub location: crate::location::Location,
    /// The oplock it holds.
    pub oplock: crate::lease::OplockLevel,
    /// The state of the lease it holds, if it holds one.
    pub lease: Option<crate::lease::LeaseState>,
    /// Its durability, as granted at open.
    pub durable: DurableGrant,
}

/// The timeout of a durable open that asks for none (a v1 request, or v2
/// with zero): 60 s, as smbd and Windows grant.
pub const DEFAULT_DURABLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest timeout a v2 request is granted unless configured
/// otherwise: 300 s, smbd's cap.
pub const MAX_DURABLE_TIMEOUT: Duration = Duration::from_secs(300);
