//! Durable handles from C (SPEC §15): the durable request of an open
//! (`smbh_open_params.durable`), the grant it gets (`smbh_opened.durable`),
//! `smbh_disconnect` (a connection dropped without LOGOFF),
//! `smbh_reconnect` (DHnC / DH2C), and the timers: `smbh_expire_durable`,
//! `smbh_next_durable_deadline` and `smbh_run_timers`.

use std::ffi::{c_char, c_void};
use std::time::{Duration, Instant};

use crate::durable::{
    AppInstanceId, CreateGuid, DurableGrant, DurableSpec, PersistentId, ReconnectSpec, Reconnected,
};
use crate::lease::{ClientGuid, LeaseKey};
use crate::{SessionId, TreeId};

use super::leases::SMBH_OPLOCK_LEASE;
use super::listing::smbh_visitor;
use super::open::SMBH_MAX_OWNER_LEN;
use super::panic::ffi_boundary;
use super::ptr::{check_ptr, sized_in, table_ref, tri};
use super::sessions::visit_closed;
use super::status::smbh_status;
use super::strings::str_in;
use super::table::smbh_table;

/// `smbh_durable_request.version`: no durable request (the default of a
/// zeroed struct).
pub const SMBH_DURABLE_NONE: u8 = 0;
/// `smbh_durable_request.version`: SMB2_CREATE_DURABLE_HANDLE_REQUEST
/// (DHnQ); `smbh_reconnect_params.version`: its reconnect (DHnC).
pub const SMBH_DURABLE_V1: u8 = 1;
/// `smbh_durable_request.version`: SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2
/// (DH2Q); `smbh_reconnect_params.version`: its reconnect (DH2C).
pub const SMBH_DURABLE_V2: u8 = 2;

/// The durability an open asks for, in `smbh_open_params.durable`. GUIDs
/// are 16 bytes as on the wire, as in smbh_lease_request.
///
/// Granted (see smbh_opened.durable) only to an open of a file, not a
/// directory, that was granted a batch oplock or a lease with handle
/// caching.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_durable_request {
    /// The connection's ClientGuid: a reconnect and a v2 replay are checked
    /// against it.
    pub client_guid: [u8; 16],
    /// For version 2: the CREATE's CreateGuid.
    pub create_guid: [u8; 16],
    /// With `has_app_instance`: the SMB2_CREATE_APP_INSTANCE_ID context's
    /// GUID (other clients' opens of the file with it are closed first).
    pub app_instance: [u8; 16],
    /// For version 2: the requested timeout in milliseconds; 0 takes the
    /// table's default (60 s), more than the table's maximum (300 s) is
    /// capped to it. Version 1 always gets the default.
    pub timeout_ms: u32,
    /// SMBH_DURABLE_NONE, SMBH_DURABLE_V1 or SMBH_DURABLE_V2; other values
    /// are SMBH_STATUS_INVALID_ARGUMENT.
    pub version: u8,
    /// For version 2: SMB2_DHANDLE_FLAG_PERSISTENT. This library has no
    /// store yet: the request is treated as a durable one and the grant is
    /// never persistent.
    pub persistent: bool,
    /// True when `app_instance` is set.
    pub has_app_instance: bool,
}

/// The durability an open has (smbh_opened.durable, smbh_reconnected.durable).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_durable_grant {
    /// The id a reconnect presents (the SMB2 FileId's persistent part): the
    /// location the open was first given. 0 when not `granted`.
    pub persistent_id: u64,
    /// How long the open is kept once its connection drops, in
    /// milliseconds (the DH2Q response's Timeout).
    pub timeout_ms: u32,
    /// True when the open is durable: the CREATE response carries the
    /// DHnQ or DH2Q response context.
    pub granted: bool,
    /// SMB2_DHANDLE_FLAG_PERSISTENT granted (never, until the table has a
    /// store).
    pub persistent: bool,
}

/// How many handles smbh_disconnect closed, failed to close, and kept.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_disconnect_counts {
    /// Handles closed (every handle of the session that is not durable).
    pub closed: usize,
    /// Handles found whose close failed (closed meanwhile by another caller).
    pub failed: usize,
    /// Durable handles kept, disconnected, until their timeout.
    pub kept: usize,
}

/// What smbh_reconnect presents (a CREATE with DHnC or DH2C). Set `size` to
/// `sizeof(smbh_reconnect_params)` and zero what you do not use (`memset`
/// or `= {0}`), so that fields added later read as zero.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_reconnect_params {
    /// `sizeof(smbh_reconnect_params)` as the caller was compiled.
    pub size: usize,
    /// The FileId's persistent part (smbh_durable_grant.persistent_id).
    pub persistent_id: u64,
    /// The tree connect the open joins (from smbh_tree_connect), or 0 for
    /// none.
    pub tree: u64,
    /// The reconnecting user's SID, `owner_len` bytes of UTF-8: must be the
    /// open's owner (smbh_open_params.owner).
    pub owner: *const c_char,
    /// Length of `owner` in bytes, at most SMBH_MAX_OWNER_LEN.
    pub owner_len: usize,
    /// The reconnecting connection's ClientGuid.
    pub client_guid: [u8; 16],
    /// For version 2: DH2C's CreateGuid, which must be the open's.
    pub create_guid: [u8; 16],
    /// With `has_lease_key`: the key of the reconnect's lease context.
    pub lease_key: [u8; 16],
    /// SMBH_DURABLE_V1 (DHnC) or SMBH_DURABLE_V2 (DH2C); other values are
    /// SMBH_STATUS_INVALID_ARGUMENT.
    pub version: u8,
    /// True when the CREATE carries a lease context (it must exactly when
    /// the open holds a lease, with its key and client).
    pub has_lease_key: bool,
    /// DH2C's SMB2_DHANDLE_FLAG_PERSISTENT.
    pub persistent: bool,
}

/// What smbh_reconnect gives back (the CREATE response).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_reconnected {
    /// The open's new location: the old one is stale from now on.
    pub location: u64,
    /// The lease's state (when `has_lease`): 1 read, 2 handle, 4 write.
    pub lease_state: u32,
    /// The oplock level held: 0, 1 (II), 8 (exclusive), 9 (batch), or
    /// SMBH_OPLOCK_LEASE when the open holds a lease.
    pub oplock: u8,
    /// True when the open holds a lease.
    pub has_lease: bool,
    /// Its durability, as granted at open.
    pub durable: smbh_durable_grant,
}

fn guid(b: [u8; 16]) -> u128 {
    u128::from_le_bytes(b)
}

/// A duration in whole milliseconds, saturating at `UINT32_MAX`.
fn ms_u32(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// The milliseconds from `now` until `deadline` (0 when due), or
/// `UINT64_MAX` when there is none: what every timer call of the C ABI
/// reports.
pub(crate) fn ms_until(deadline: Option<Instant>, now: Instant) -> u64 {
    deadline.map_or(u64::MAX, |d| {
        u64::try_from(d.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX - 1)
    })
}

/// The Rust form of an open's durable request (`None` for version 0).
pub(crate) fn durable_spec(r: &smbh_durable_request) -> Result<Option<DurableSpec>, smbh_status> {
    let client = ClientGuid(guid(r.client_guid));
    let spec = match r.version {
        SMBH_DURABLE_NONE => return Ok(None),
        SMBH_DURABLE_V1 => DurableSpec::v1(client),
        SMBH_DURABLE_V2 => DurableSpec::v2(
            client,
            CreateGuid(guid(r.create_guid)),
            Duration::from_millis(u64::from(r.timeout_ms)),
        )
        .persistent(r.persistent),
        _ => return Err(smbh_status::InvalidArgument),
    };
    Ok(Some(if r.has_app_instance {
        spec.app_instance(AppInstanceId(guid(r.app_instance)))
    } else {
        spec
    }))
}

/// The C form of a grant (all zero for none).
pub(crate) fn grant_out(g: Option<DurableGrant>) -> smbh_durable_grant {
    g.map_or_else(smbh_durable_grant::default, |g| smbh_durable_grant {
        persistent_id: g.persistent_id.0,
        timeout_ms: ms_u32(g.timeout),
        granted: true,
        persistent: g.persistent,
    })
}

fn reconnected_of(r: &Reconnected) -> smbh_reconnected {
    smbh_reconnected {
        location: r.location.0,
        lease_state: r.lease.map_or(0, |l| l.bits()),
        oplock: if r.lease.is_some() { SMBH_OPLOCK_LEASE } else { r.oplock.wire() },
        has_lease: r.lease.is_some(),
        durable: grant_out(Some(r.durable)),
    }
}

/// The session's connection dropped without a LOGOFF (MS-SMB2 §3.3.7.1):
/// every durable handle of the session is kept, disconnected (with its
/// share reservation, byte-range locks and lease) until its timeout, and
/// listed with smbh_handle.disconnected set; every other handle is closed
/// as smbh_logoff closes it, `visit` (if not NULL) called once per closed
/// handle with no table lock held (its return value is ignored). Writes the
/// counts to `*counts_out` (if not NULL). The session id and its tree ids
/// are stale afterwards; a kept handle comes back with smbh_reconnect.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`),
/// SMBH_STATUS_INVALID_ARGUMENT (`counts_out` misaligned),
/// SMBH_STATUS_SESSION_DELETED.
///
/// # Safety
///
/// `table` is NULL or live; `visit` is NULL or safe to call with
/// `userdata`; `counts_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_disconnect(
    table: *const smbh_table,
    session: u64,
    visit: smbh_visitor,
    userdata: *mut c_void,
    counts_out: *mut smbh_disconnect_counts,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        if !counts_out.is_null() {
            tri!(check_ptr(counts_out));
        }
        let out = tri!(table.disconnect(SessionId(session)).map_err(smbh_status::from));
        // SAFETY: the caller's promises on `visit` and `userdata`.
        unsafe { visit_closed(&out, visit, userdata) };
        if !counts_out.is_null() {
            let counts =
                smbh_disconnect_counts { closed: out.closed, failed: out.failed, kept: out.kept };
            // SAFETY: non-NULL and aligned (checked), writable by the promise.
            unsafe { counts_out.write(counts) };
        }
        smbh_status::Ok
    }
}

/// Takes a disconnected durable handle back (a CREATE with DHnC or DH2C):
/// it joins `params->tree` with its locks, share mode and caching, at a new
/// location written to `*reconnected_out` with the oplock or lease it holds
/// and its grant. The old location is stale from then on, as a closed one.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`, `params`, `owner` or
/// `reconnected_out`), SMBH_STATUS_INVALID_ARGUMENT (a `size` this library
/// cannot take, a version other than 1 or 2), SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_OWNER_TOO_LONG, SMBH_STATUS_NO_DURABLE_OPEN
/// (STATUS_OBJECT_NAME_NOT_FOUND: no durable handle has the id, it is not
/// disconnected, or its create GUID, lease key, lease client or
/// persistence differs), SMBH_STATUS_ACCESS_DENIED (another owner),
/// SMBH_STATUS_TREE_DELETED (the tree connect is gone),
/// SMBH_STATUS_STORE_FAILED (the store did not take the reconnect of a
/// persistent handle). On any of them nothing changed.
///
/// # Safety
///
/// `table` is NULL or live; `params` is NULL or readable for
/// `params->size` bytes, its `owner` readable for `owner_len` bytes;
/// `reconnected_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_reconnect(
    table: *const smbh_table,
    params: *const smbh_reconnect_params,
    reconnected_out: *mut smbh_reconnected,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(reconnected_out));
        // SAFETY: the caller promises `params->size` readable bytes; an
        // all-zero `smbh_reconnect_params` is valid.
        let p = tri!(unsafe { sized_in(params, &[]) });
        // SAFETY: the caller's promise on `owner`.
        let owner =
            tri!(unsafe { str_in(p.owner, p.owner_len, SMBH_MAX_OWNER_LEN, smbh_status::OwnerTooLong) });
        let (id, client) = (PersistentId(p.persistent_id), ClientGuid(guid(p.client_guid)));
        let mut spec = match p.version {
            SMBH_DURABLE_V1 => ReconnectSpec::v1(id, client, owner),
            SMBH_DURABLE_V2 => {
                ReconnectSpec::v2(id, CreateGuid(guid(p.create_guid)), client, owner)
                    .persistent(p.persistent)
            }
            _ => return smbh_status::InvalidArgument,
        };
        if p.has_lease_key {
            spec = spec.lease_key(LeaseKey(guid(p.lease_key)));
        }
        if p.tree != 0 {
            spec = spec.tree(TreeId(p.tree));
        }
        let r = tri!(table.reconnect(&spec).map_err(smbh_status::from));
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { reconnected_out.write(reconnected_of(&r)) };
        smbh_status::Ok
    }
}

/// Writes to `*ms_from_now_out` the milliseconds until the earliest
/// deadline of a disconnected durable handle (0 when one is due), or
/// UINT64_MAX when no handle is disconnected: call smbh_expire_durable (or
/// smbh_run_timers) then.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// `table` is NULL or live; `ms_from_now_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_next_durable_deadline(
    table: *const smbh_table,
    ms_from_now_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(ms_from_now_out));
        let ms = ms_until(table.next_durable_deadline(), Instant::now());
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { ms_from_now_out.write(ms) };
        smbh_status::Ok
    }
}

/// Closes the disconnected durable handles whose timeout has passed (locks
/// released, the unlock hook called); writes how many to `*closed_out`,
/// and to `*next_ms_out` the milliseconds until the next durable deadline
/// (UINT64_MAX when none), as smbh_expire_breaks does for breaks.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// `table` is NULL or live; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_expire_durable(
    table: *const smbh_table,
    closed_out: *mut usize,
    next_ms_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(closed_out));
        tri!(check_ptr(next_ms_out));
        let now = Instant::now();
        let closed = table.expire_durable(now);
        let next = ms_until(table.next_durable_deadline(), now);
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe {
            closed_out.write(closed);
            next_ms_out.write(next);
        }
        smbh_status::Ok
    }
}

/// Runs every timer of the table that is due: ends unanswered breaks (as
/// smbh_expire_breaks) and closes expired disconnected durable handles (as
/// smbh_expire_durable); writes to `*next_ms_out` the milliseconds until
/// the next deadline of either (UINT64_MAX when none). The table has no
/// thread of its own: call this from the server's event loop at that time
/// (and whenever convenient; a call with nothing due does nothing).
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// `table` is NULL or live; `next_ms_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_run_timers(
    table: *const smbh_table,
    next_ms_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(next_ms_out));
        let now = Instant::now();
        let next = ms_until(table.run_timers(now), now);
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { next_ms_out.write(next) };
        smbh_status::Ok
    }
}
