//! Sessions and tree connects from C: `smbh_session_setup`,
//! `smbh_tree_connect`, `smbh_touch`, `smbh_tree_disconnect`,
//! `smbh_logoff` and `smbh_close_selected`. Ids are plain `uint64_t`, like
//! locations; an open names its tree in `smbh_open_params.tree`.

use std::ffi::{c_char, c_void};
use std::net::IpAddr;
use std::sync::Arc;

use crate::{
    CloseOutcome, Domain, HandleTable, Selector, SessionError, SessionId, SessionSpec, TreeId, User,
};

use super::listing::{smbh_visitor, visit_one};
use super::panic::ffi_boundary;
use super::ptr::{check_ptr, sized_in, table_ref, tri};
use super::status::smbh_status;
use super::strings::{path_in, str_in};
use super::table::smbh_table;

/// `smbh_session_params.domain`: a local user (Qumulo's `LOCAL`).
pub const SMBH_DOMAIN_LOCAL: u32 = 0;
/// `ACTIVE_DIRECTORY`.
pub const SMBH_DOMAIN_ACTIVE_DIRECTORY: u32 = 1;
/// `WORLD` (a guest).
pub const SMBH_DOMAIN_WORLD: u32 = 2;
/// `POSIX_USER`.
pub const SMBH_DOMAIN_POSIX_USER: u32 = 3;
/// `POSIX_GROUP`.
pub const SMBH_DOMAIN_POSIX_GROUP: u32 = 4;
/// `API_NULL_DOMAIN` (anonymous).
pub const SMBH_DOMAIN_NULL: u32 = 5;

/// `smbh_selector.kind`: every handle of the session `id`.
pub const SMBH_SELECT_SESSION: u32 = 1;
/// Every handle of the tree connect `id`.
pub const SMBH_SELECT_TREE: u32 = 2;
/// Every handle opened through a tree connect to the share named by `text`.
pub const SMBH_SELECT_SHARE_NAME: u32 = 3;
/// Every handle of the sessions of the user whose SID or name is `text`.
pub const SMBH_SELECT_USER: u32 = 4;
/// Every handle of the sessions from the client address `text` (an IPv4 or
/// IPv6 address).
pub const SMBH_SELECT_CLIENT_ADDRESS: u32 = 5;
/// Every handle whose path is `text` or under it (a folder, recursively).
pub const SMBH_SELECT_PATH_PREFIX: u32 = 6;

/// What smbh_session_setup registers. Set `size` to `sizeof(smbh_session_params)`
/// and zero what you do not use (`memset` or `= {0}`), so fields added later
/// read as zero.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_session_params {
    /// `sizeof(smbh_session_params)` as the caller was compiled with.
    pub size: usize,
    /// The SMB2 SessionId the server gave the client.
    pub smb_session_id: u64,
    /// The user's SID (UTF-8, `user_sid_len` bytes, at most 1 024, no NUL).
    pub user_sid: *const c_char,
    /// Length of `user_sid` in bytes.
    pub user_sid_len: usize,
    /// The user's name (same rules).
    pub user_name: *const c_char,
    /// Length of `user_name` in bytes.
    pub user_name_len: usize,
    /// One of the SMBH_DOMAIN_* values.
    pub domain: u32,
    /// True when `uid` and `gid` are set.
    pub has_posix_ids: bool,
    /// The POSIX uid.
    pub uid: u32,
    /// The POSIX gid.
    pub gid: u32,
    /// The client's address as text (`"10.0.0.7"`, `"fe80::1"`).
    pub client_address: *const c_char,
    /// Length of `client_address` in bytes.
    pub client_address_len: usize,
    /// The server address the client connected to, as text; NULL when unknown.
    pub server_address: *const c_char,
    /// Length of `server_address` in bytes.
    pub server_address_len: usize,
    /// True for a guest session.
    pub guest: bool,
    /// True when the session encrypts.
    pub encrypted: bool,
    /// The negotiated dialect (0x0311 for SMB 3.1.1), 0 when unknown.
    pub dialect: u16,
}

/// Handles a logoff, tree disconnect or close by selector closed and
/// failed to close (closed meanwhile by another caller).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct smbh_close_counts {
    /// Handles closed.
    pub closed: usize,
    /// Handles found whose close failed.
    pub failed: usize,
}

/// Which handles smbh_close_selected closes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_selector {
    /// One of the SMBH_SELECT_* values.
    pub kind: u32,
    /// The session or tree id (SMBH_SELECT_SESSION, SMBH_SELECT_TREE).
    pub id: u64,
    /// The share name, user, address or path (the other kinds; UTF-8).
    pub text: *const c_char,
    /// Length of `text` in bytes.
    pub text_len: usize,
}

impl From<SessionError> for smbh_status {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::SessionDeleted => smbh_status::SessionDeleted,
            SessionError::TreeDeleted => smbh_status::TreeDeleted,
            SessionError::InvalidUser
            | SessionError::InvalidShareName
            | SessionError::InvalidPath => smbh_status::InvalidArgument,
            SessionError::TooMany => smbh_status::TableFull,
        }
    }
}

/// A text IP address.
///
/// # Safety
///
/// As [`str_in`].
unsafe fn ip_in(p: *const c_char, len: usize) -> Result<IpAddr, smbh_status> {
    // SAFETY: the caller's promise, passed on.
    let s = unsafe { str_in(p, len, 64, smbh_status::InvalidArgument) }?;
    s.parse().map_err(|_| smbh_status::InvalidArgument)
}

/// Registers a session and writes its id to `*session_out`.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_ARGUMENT (a
/// `size` smaller than this version's struct or non-zero bytes past it, a
/// SID or name over 1 024 bytes or with NUL, an unknown domain, an address
/// that does not parse), SMBH_STATUS_INVALID_UTF8, SMBH_STATUS_TABLE_FULL
/// (4 194 304 sessions).
///
/// # Safety
///
/// `table` is NULL or live; `params` is NULL or points to `params->size`
/// readable bytes whose strings are readable for their lengths;
/// `session_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_session_setup(
    table: *const smbh_table,
    params: *const smbh_session_params,
    session_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(session_out));
        // SAFETY: the caller promises `params->size` readable bytes; an
        // all-zero `smbh_session_params` is valid.
        let p = tri!(unsafe { sized_in(params, &[]) });
        // SAFETY: the caller's promise on the strings.
        let spec = tri!(unsafe { session_spec(&p) });
        let id = tri!(table.session_setup(spec).map_err(smbh_status::from));
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { session_out.write(id.0) };
        smbh_status::Ok
    }
}

/// The Rust form of C session parameters.
///
/// # Safety
///
/// The strings of `p` are readable for their lengths.
unsafe fn session_spec(p: &smbh_session_params) -> Result<SessionSpec, smbh_status> {
    let long = smbh_status::InvalidArgument;
    // SAFETY: the caller's promise on the strings.
    let sid = unsafe { str_in(p.user_sid, p.user_sid_len, crate::MAX_OWNER_LEN, long) }?;
    // SAFETY: as above.
    let name = unsafe { str_in(p.user_name, p.user_name_len, crate::MAX_OWNER_LEN, long) }?;
    let domain = match p.domain {
        SMBH_DOMAIN_LOCAL => Domain::Local,
        SMBH_DOMAIN_ACTIVE_DIRECTORY => Domain::ActiveDirectory,
        SMBH_DOMAIN_WORLD => Domain::World,
        SMBH_DOMAIN_POSIX_USER => Domain::PosixUser,
        SMBH_DOMAIN_POSIX_GROUP => Domain::PosixGroup,
        SMBH_DOMAIN_NULL => Domain::Null,
        _ => return Err(smbh_status::InvalidArgument),
    };
    let mut user = User::new(sid, name).domain(domain);
    if p.has_posix_ids {
        user = user.posix(p.uid, p.gid);
    }
    // SAFETY: as above.
    let client = unsafe { ip_in(p.client_address, p.client_address_len) }?;
    let mut spec = SessionSpec::new(p.smb_session_id, user, client)
        .guest(p.guest)
        .encrypted(p.encrypted)
        .dialect(p.dialect);
    if !p.server_address.is_null() {
        // SAFETY: as above.
        spec = spec.server_address(unsafe { ip_in(p.server_address, p.server_address_len) }?);
    }
    Ok(spec)
}

/// Connects session `session` to a share and writes the tree id to
/// `*tree_out`.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_SESSION_DELETED (the
/// session is gone or logging off), SMBH_STATUS_INVALID_ARGUMENT (empty
/// share name, over 256 bytes or with NUL), SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_TABLE_FULL.
///
/// # Safety
///
/// `table` is NULL or live; `share` is NULL or readable for `share_len`
/// bytes; `tree_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_tree_connect(
    table: *const smbh_table,
    session: u64,
    share: *const c_char,
    share_len: usize,
    tree_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(tree_out));
        let long = smbh_status::InvalidArgument;
        // SAFETY: the caller's promise on `share`.
        let share = tri!(unsafe { str_in(share, share_len, crate::MAX_SHARE_NAME_LEN, long) });
        let id = tri!(table.tree_connect(SessionId(session), share).map_err(smbh_status::from));
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { tree_out.write(id.0) };
        smbh_status::Ok
    }
}

/// Records activity on a session (what `time_idle` counts from): one clock
/// read and a store, cheap enough for every request.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_SESSION_DELETED.
///
/// # Safety
///
/// `table` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn smbh_touch(table: *const smbh_table, session: u64) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        if table.touch(SessionId(session)) { smbh_status::Ok } else { smbh_status::SessionDeleted }
    }
}

/// Shows C the handles an outcome closed: `visit` (if not NULL) once per
/// closed handle, borrowed for the call.
///
/// # Safety
///
/// `visit` is safe to call with `userdata`.
pub(crate) unsafe fn visit_closed(out: &CloseOutcome, visit: smbh_visitor, userdata: *mut c_void) {
    if let Some(visit) = visit {
        for h in out.results.iter().flatten() {
            // SAFETY: the caller vouches for `visit` and `userdata`.
            unsafe { visit_one(visit, userdata, h) };
        }
    }
}

/// Hands an outcome to C: [`visit_closed`], then the counts.
///
/// # Safety
///
/// `visit` is safe to call with `userdata`; `counts_out` is NULL or writable.
unsafe fn outcome_out(
    out: CloseOutcome,
    visit: smbh_visitor,
    userdata: *mut c_void,
    counts_out: *mut smbh_close_counts,
) -> smbh_status {
    // SAFETY: the caller's promise, passed on.
    unsafe { visit_closed(&out, visit, userdata) };
    if !counts_out.is_null() {
        // SAFETY: non-NULL; aligned and writable by the caller's promise.
        unsafe { counts_out.write(smbh_close_counts { closed: out.closed, failed: out.failed }) };
    }
    smbh_status::Ok
}

/// Disconnects a tree: closes every handle opened through it (locks and
/// share reservations released, the unlock hook called once per file),
/// calls `visit` (if not NULL) once per closed handle with no table lock
/// held (its return value is ignored), and writes the counts to
/// `*counts_out` (if not NULL). The tree id is stale afterwards.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`), SMBH_STATUS_TREE_DELETED.
///
/// # Safety
///
/// `table` is NULL or live; `visit` is NULL or safe to call with
/// `userdata`; `counts_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_tree_disconnect(
    table: *const smbh_table,
    tree: u64,
    visit: smbh_visitor,
    userdata: *mut c_void,
    counts_out: *mut smbh_close_counts,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let out = tri!(table.tree_disconnect(TreeId(tree)).map_err(smbh_status::from));
        // SAFETY: the caller's promises on `visit`, `userdata`, `counts_out`.
        unsafe { outcome_out(out, visit, userdata, counts_out) }
    }
}

/// Logs a session off: every tree disconnected and every handle of the
/// session closed, as smbh_tree_disconnect does for one tree. The session
/// id and its tree ids are stale afterwards.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`),
/// SMBH_STATUS_SESSION_DELETED.
///
/// # Safety
///
/// As smbh_tree_disconnect.
#[no_mangle]
pub unsafe extern "C" fn smbh_logoff(
    table: *const smbh_table,
    session: u64,
    visit: smbh_visitor,
    userdata: *mut c_void,
    counts_out: *mut smbh_close_counts,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let out = tri!(table.logoff(SessionId(session)).map_err(smbh_status::from));
        // SAFETY: the caller's promises on `visit`, `userdata`, `counts_out`.
        unsafe { outcome_out(out, visit, userdata, counts_out) }
    }
}

/// Closes every handle a selector names (sessions and trees stay
/// connected), in bounded steps; `visit` and `counts_out` as for
/// smbh_tree_disconnect.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`, `selector`, or `text` for
/// a kind that needs it), SMBH_STATUS_INVALID_ARGUMENT (unknown kind, an
/// address that does not parse, an empty path), SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_SESSION_DELETED, SMBH_STATUS_TREE_DELETED.
///
/// # Safety
///
/// `table` is NULL or live; `selector` is NULL or readable, its `text`
/// readable for `text_len` bytes when its kind uses it; `visit` and
/// `counts_out` as for smbh_tree_disconnect.
#[no_mangle]
pub unsafe extern "C" fn smbh_close_selected(
    table: *const smbh_table,
    selector: *const smbh_selector,
    visit: smbh_visitor,
    userdata: *mut c_void,
    counts_out: *mut smbh_close_counts,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table: &HandleTable = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(selector));
        // SAFETY: non-NULL and aligned (checked), readable by the promise.
        let sel = unsafe { selector.read() };
        // SAFETY: the caller's promise on `text`.
        let text = || unsafe {
            str_in(sel.text, sel.text_len, crate::MAX_PATH_LEN, smbh_status::PathTooLong)
        };
        let selector = match sel.kind {
            SMBH_SELECT_SESSION => Selector::Session(SessionId(sel.id)),
            SMBH_SELECT_TREE => Selector::Tree(TreeId(sel.id)),
            SMBH_SELECT_SHARE_NAME => Selector::ShareName(Arc::from(tri!(text()))),
            SMBH_SELECT_USER => Selector::User(Arc::from(tri!(text()))),
            // SAFETY: the caller's promise on `text`.
            SMBH_SELECT_CLIENT_ADDRESS => {
                Selector::ClientAddress(tri!(unsafe { ip_in(sel.text, sel.text_len) }))
            }
            // SAFETY: the caller's promise on `text`.
            SMBH_SELECT_PATH_PREFIX => {
                Selector::PathPrefix(Arc::from(tri!(unsafe { path_in(sel.text, sel.text_len) })))
            }
            _ => return smbh_status::InvalidArgument,
        };
        let out = tri!(table.close_selected(&selector).map_err(smbh_status::from));
        // SAFETY: the caller's promises on `visit`, `userdata`, `counts_out`.
        unsafe { outcome_out(out, visit, userdata, counts_out) }
    }
}
