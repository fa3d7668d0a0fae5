//! Leases and oplocks from C: `smbh_open_cached`, the break and completion
//! hooks, the acknowledgements, writes that break read caching, and the
//! break timeout.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Instant;

use crate::lease::{
    AckError, Break, BreakTarget, ClientGuid, LeaseKey, LeaseState, OpenOutcome, Opened,
    OplockLevel, PendingId,
};
use crate::OpenError;

use super::durable::{grant_out, ms_until, smbh_durable_grant};
use super::open::{open_params_in, open_params_with, smbh_open_params};
use super::panic::ffi_boundary;
use super::ptr::{check_ptr, location_in, table_ref, tri};
use super::status::smbh_status;
use super::table::smbh_table;

/// `smbh_open_params.oplock` asking for the lease in `smbh_open_params.lease`.
pub const SMBH_OPLOCK_LEASE: u8 = 0xFF;

/// A lease request (the CREATE's lease context), in `smbh_open_params`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_lease_request {
    /// The client's ClientGuid, as on the wire.
    pub client_guid: [u8; 16],
    /// The lease key, as on the wire.
    pub key: [u8; 16],
    /// For a version 2 request with `has_parent`: the parent's lease key.
    pub parent_key: [u8; 16],
    /// Requested state: 1 read, 2 handle, 4 write caching.
    pub state: u32,
    /// For a version 2 request: the client's epoch.
    pub epoch: u16,
    /// True for SMB2_CREATE_REQUEST_LEASE_V2.
    pub v2: bool,
    /// True when `parent_key` is set (v2 only).
    pub has_parent: bool,
}

/// What smbh_open_cached (and the completion hook) reports of an open.
/// The caller allocates it and it carries no size: it changes only between
/// releases (`replayed` and `durable` are new in 0.2, as is the struct).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_opened {
    /// The new handle (0 while the open waits).
    pub location: u64,
    /// The waiting open's id when smbh_open_cached answered
    /// SMBH_STATUS_BREAK_PENDING; 0 otherwise.
    pub pending: u64,
    /// The lease state granted (when `lease_granted`).
    pub lease_state: u32,
    /// The lease's epoch (version 2 leases).
    pub epoch: u16,
    /// The oplock level granted: 0, 1 (II), 8 (exclusive), 9 (batch), or
    /// SMBH_OPLOCK_LEASE when a lease was granted.
    pub oplock: u8,
    /// True when the open asked for a lease and has one (the CREATE
    /// response then carries the lease context).
    pub lease_granted: bool,
    /// True for a version 2 lease.
    pub v2: bool,
    /// The lease is being broken: set SMB2_LEASE_FLAG_BREAK_IN_PROGRESS
    /// (0x2) in the response's lease flags.
    pub break_in_progress: bool,
    /// A durable v2 create replayed: its create GUID names an open this
    /// client already has, whose location (and caching and grant) this is;
    /// nothing new was opened.
    pub replayed: bool,
    /// The durability granted (`durable.granted`), for an open that asked
    /// for it in smbh_open_params.durable.
    pub durable: smbh_durable_grant,
}

/// One break the server must send.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_break {
    /// The file.
    pub file_number: u64,
    /// For an oplock break: the handle; 0 for a lease break.
    pub oplock_location: u64,
    /// For a lease break: the lease's client and key, as on the wire.
    pub client_guid: [u8; 16],
    /// See `client_guid`.
    pub key: [u8; 16],
    /// CurrentLeaseState (for an oplock, its level's caching).
    pub from: u32,
    /// NewLeaseState.
    pub to: u32,
    /// NewEpoch (version 2 leases), else 0.
    pub epoch: u16,
    /// For an oplock break: the level to send (1 level II, 0 none).
    pub oplock_to: u8,
    /// SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED.
    pub ack_required: bool,
}

/// Called with the breaks a call decided, `count` of them, after the
/// table's locks are released, on the calling thread. It may call any
/// smbh_ function. It must return normally.
pub type smbh_break_hook =
    Option<unsafe extern "C" fn(context: *mut c_void, breaks: *const smbh_break, count: usize)>;

/// Called once per open that smbh_open_cached answered
/// SMBH_STATUS_BREAK_PENDING, when it is done: `status` is SMBH_STATUS_OK
/// with `opened` filled, or why it was refused (then `opened` is NULL).
pub type smbh_completion_hook = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        pending: u64,
        status: smbh_status,
        opened: *const smbh_opened,
    ),
>;

/// A C function pointer and its context, callable from any thread (the
/// caller of the setter promises that).
struct Ctx<F> {
    hook: F,
    context: *mut c_void,
}
impl<F: Copy> Ctx<F> {
    /// The hook and its context (a method, so a closure captures the whole
    /// `Ctx`, not its raw pointer alone).
    fn parts(&self) -> (F, *mut c_void) {
        (self.hook, self.context)
    }
}

// SAFETY: the setters' contract: the hook may be called from any thread
// with this context.
unsafe impl<F> Send for Ctx<F> {}
// SAFETY: as above; only ever called.
unsafe impl<F> Sync for Ctx<F> {}

fn bytes(v: u128) -> [u8; 16] {
    v.to_le_bytes()
}

fn opened_of(o: &Opened) -> smbh_opened {
    let lease = o.lease;
    smbh_opened {
        location: o.location.0,
        pending: 0,
        lease_state: lease.map_or(0, |l| l.state.bits()),
        epoch: lease.map_or(0, |l| l.epoch),
        oplock: if lease.is_some() { SMBH_OPLOCK_LEASE } else { o.oplock.wire() },
        lease_granted: lease.is_some(),
        v2: lease.is_some_and(|l| l.v2),
        break_in_progress: lease.is_some_and(|l| l.break_in_progress),
        replayed: o.replayed,
        durable: grant_out(o.durable),
    }
}

fn break_out(b: &Break) -> smbh_break {
    let (loc, client, key) = match b.target {
        BreakTarget::Lease { client, key } => (0, bytes(client.0), bytes(key.0)),
        BreakTarget::Oplock(loc) => (loc.0, [0; 16], [0; 16]),
    };
    smbh_break {
        file_number: b.file.0,
        oplock_location: loc,
        client_guid: client,
        key,
        from: b.from.bits(),
        to: b.to.bits(),
        epoch: b.epoch,
        oplock_to: b.oplock_to().wire(),
        ack_required: b.ack_required,
    }
}

/// Opens as smbh_open_ex does, with the lease or oplock `params` asks for
/// (`oplock`, `lease`, `overwrite`) and the durable handle (`durable`), and
/// writes what was granted to `*opened_out`. A durable v2 request whose
/// create GUID names an open of the same client answers that open
/// (`opened_out->replayed`). When holders must first acknowledge breaks (sent through
/// the break hook), answers SMBH_STATUS_BREAK_PENDING with
/// `opened_out->pending` set: the open completes through the completion
/// hook.
///
/// Statuses: those of smbh_open_ex, SMBH_STATUS_BREAK_PENDING,
/// SMBH_STATUS_INVALID_ARGUMENT for an oplock level other than 0, 1, 8, 9
/// or SMBH_OPLOCK_LEASE, a durable version other than 0, 1, 2, or a lease
/// key the client has open on another file; SMBH_STATUS_FILE_NOT_AVAILABLE
/// (the file has a disconnected persistent handle),
/// SMBH_STATUS_DUPLICATE_CREATE_GUID (a v2 create GUID held by another
/// client or by a disconnected handle), SMBH_STATUS_STORE_FAILED.
///
/// # Safety
///
/// As smbh_open_ex; `opened_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_open_cached(
    table: *const smbh_table,
    params: *const smbh_open_params,
    opened_out: *mut smbh_opened,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(opened_out));
        // SAFETY: the caller promises `params->size` readable bytes.
        let p = tri!(unsafe { open_params_in(params) });
        // SAFETY: the caller's promise on the strings.
        let r = tri!(unsafe { open_params_with(&p, |args| table.open_cached_args(args)) });
        let out = match r {
            Ok(OpenOutcome::Opened(o)) => (smbh_status::Ok, opened_of(&o)),
            Ok(OpenOutcome::Pending(id)) => {
                (smbh_status::BreakPending, smbh_opened { pending: id.0, ..Default::default() })
            }
            Err(e) => return e.into(),
        };
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { opened_out.write(out.1) };
        out.0
    }
}

/// Installs (NULL removes) the break hook. Set it before the first open
/// that asks for a lease or an oplock; a replaced hook's `context` must stay
/// valid until the table is freed (a call may be under way).
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// `table` is NULL or live; `hook` is safe to call with `context` from any
/// thread until the table is freed.
#[no_mangle]
pub unsafe extern "C" fn smbh_set_break_hook(
    table: *const smbh_table,
    hook: smbh_break_hook,
    context: *mut c_void,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        table.set_break_hook(hook.map(|hook| {
            let c = Ctx { hook, context };
            Arc::new(move |breaks: &[Break]| {
                let out: Vec<smbh_break> = breaks.iter().map(break_out).collect();
                let (hook, context) = c.parts();
                // SAFETY: the setter's contract; `out` lives for the call.
                unsafe { hook(context, out.as_ptr(), out.len()) }
            }) as crate::BreakHook
        }));
        smbh_status::Ok
    }
}

/// Installs (NULL removes) the completion hook, with the same rules as
/// smbh_set_break_hook.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// As smbh_set_break_hook.
#[no_mangle]
pub unsafe extern "C" fn smbh_set_completion_hook(
    table: *const smbh_table,
    hook: smbh_completion_hook,
    context: *mut c_void,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        table.set_completion_hook(hook.map(|hook| {
            let c = Ctx { hook, context };
            Arc::new(move |id: PendingId, r: Result<Opened, OpenError>| {
                let (status, opened) = match r {
                    Ok(o) => (smbh_status::Ok, Some(opened_of(&o))),
                    Err(e) => (smbh_status::from(e), None),
                };
                let p = opened.as_ref().map_or(std::ptr::null(), |o| o as *const smbh_opened);
                let (hook, context) = c.parts();
                // SAFETY: the setter's contract; `opened` lives for the call.
                unsafe { hook(context, id.0, status, p) }
            }) as crate::CompletionHook
        }));
        smbh_status::Ok
    }
}

/// Acknowledges a lease break (SMB2 LEASE_BREAK_ACK) with `state`; writes
/// the lease's new state to `*state_out`. Waiting opens go on.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_LEASE_NOT_FOUND
/// (STATUS_OBJECT_NAME_NOT_FOUND), SMBH_STATUS_NOT_BREAKING
/// (STATUS_UNSUCCESSFUL), SMBH_STATUS_ACK_NOT_ACCEPTED (more than offered,
/// STATUS_REQUEST_NOT_ACCEPTED; the break stays), SMBH_STATUS_INVALID_ARGUMENT
/// (state bits other than 1, 2, 4).
///
/// # Safety
///
/// `table` is NULL or live; `client_guid` and `key` are NULL or readable for
/// 16 bytes; `state_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_ack_lease_break(
    table: *const smbh_table,
    client_guid: *const u8,
    key: *const u8,
    state: u32,
    state_out: *mut u32,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(client_guid));
        tri!(check_ptr(key));
        tri!(check_ptr(state_out));
        let Some(state) = LeaseState::from_bits(state) else {
            return smbh_status::InvalidArgument;
        };
        // SAFETY: non-NULL (checked), readable for 16 bytes by the promise.
        let (c, k) = unsafe {
            (
                client_guid.cast::<[u8; 16]>().read_unaligned(),
                key.cast::<[u8; 16]>().read_unaligned(),
            )
        };
        let r = table.ack_lease_break(
            ClientGuid(u128::from_le_bytes(c)),
            LeaseKey(u128::from_le_bytes(k)),
            state,
        );
        let s = tri!(r.map_err(smbh_status::from));
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { state_out.write(s.bits()) };
        smbh_status::Ok
    }
}

/// Acknowledges an oplock break (SMB2 OPLOCK_BREAK_ACK) of `location` with
/// `level` (1 level II or 0 none); writes the new level to `*level_out`.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_LOCATION,
/// SMBH_STATUS_NOT_FOUND (STATUS_FILE_CLOSED), SMBH_STATUS_NO_OPLOCK_BREAK
/// (STATUS_INVALID_OPLOCK_PROTOCOL), SMBH_STATUS_INVALID_ARGUMENT (another
/// level; the break stays).
///
/// # Safety
///
/// `table` is NULL or live; `level_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_ack_oplock_break(
    table: *const smbh_table,
    location: u64,
    level: u8,
    level_out: *mut u8,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(level_out));
        let loc = tri!(location_in(location));
        let Some(level) = OplockLevel::from_wire(level) else {
            return smbh_status::InvalidArgument;
        };
        let l = tri!(table.ack_oplock_break(loc, level).map_err(smbh_status::from));
        // SAFETY: non-NULL (checked), writable by the promise.
        unsafe { level_out.write(l.wire()) };
        smbh_status::Ok
    }
}

/// Breaks what a WRITE, a SET_INFO end-of-file or similar change through
/// `location` conflicts with (other holders' read caching, to none; the
/// breaks go to the break hook); nothing waits.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_LOCATION,
/// SMBH_STATUS_NOT_FOUND.
///
/// # Safety
///
/// `table` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn smbh_break_for_write(
    table: *const smbh_table,
    location: u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let loc = tri!(location_in(location));
        match table.break_for_write(loc) {
            Some(_) => smbh_status::Ok,
            None => smbh_status::NotFound,
        }
    }
}

/// Ends the breaks whose timeout has passed (see Config's break timeout,
/// smbh_table_new's default 35 s) and lets waiting opens go on; writes how
/// many ended to `*ended_out`, and to `*next_ms_out` the milliseconds until
/// the next deadline (UINT64_MAX when none): call it again then.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER.
///
/// # Safety
///
/// `table` is NULL or live; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_expire_breaks(
    table: *const smbh_table,
    ended_out: *mut usize,
    next_ms_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(ended_out));
        tri!(check_ptr(next_ms_out));
        let now = Instant::now();
        let ended = table.expire_breaks(now);
        let next = ms_until(table.next_break_deadline(), now);
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe {
            ended_out.write(ended);
            next_ms_out.write(next);
        }
        smbh_status::Ok
    }
}

impl From<AckError> for smbh_status {
    fn from(e: AckError) -> Self {
        match e {
            AckError::LeaseNotFound => smbh_status::LeaseNotFound,
            AckError::NotBreaking => smbh_status::NotBreaking,
            AckError::NotAccepted => smbh_status::AckNotAccepted,
            AckError::HandleNotFound => smbh_status::NotFound,
            AckError::NoOplockBreak => smbh_status::NoOplockBreak,
            AckError::InvalidLevel => smbh_status::InvalidArgument,
        }
    }
}
