//! Opening handles: `smbh_open`, the extensible `smbh_open_ex` (share
//! modes, SPEC §9), and `smbh_rename_file`, which renames a file's opens.

use std::ffi::c_char;
use std::mem::size_of;

use crate::lease::{CacheRequest, ClientGuid, LeaseKey, LeaseRequest, LeaseState, OplockLevel};
use crate::record::{OpenArgs, StrArg};
use crate::{AccessMask, FileNumber, HandleTable, Location, ShareAccess};

use super::durable::{durable_spec, smbh_durable_request, SMBH_DURABLE_NONE};
use super::leases::{smbh_lease_request, SMBH_OPLOCK_LEASE};
use super::panic::ffi_boundary;
use super::ptr::{check_ptr, sized_in, table_ref, tri};
use super::status::smbh_status;
use super::strings::{path_in, str_in};
use super::table::smbh_table;

/// The longest path smbh_open and smbh_rename_file accept, in bytes.
pub const SMBH_MAX_PATH_LEN: usize = 32767;
/// The longest owner smbh_open accepts, in bytes.
pub const SMBH_MAX_OWNER_LEN: usize = 1024;

// cbindgen copies literals, not paths: keep the C constants equal to the
// crate's own.
const _: () = {
    assert!(SMBH_MAX_PATH_LEN == crate::MAX_PATH_LEN);
    assert!(SMBH_MAX_OWNER_LEN == crate::MAX_OWNER_LEN);
};

/// FILE_SHARE_READ, for smbh_open_params.share_access.
pub const SMBH_SHARE_READ: u32 = 0x1;
/// FILE_SHARE_WRITE, for smbh_open_params.share_access.
pub const SMBH_SHARE_WRITE: u32 = 0x2;
/// FILE_SHARE_DELETE, for smbh_open_params.share_access.
pub const SMBH_SHARE_DELETE: u32 = 0x4;

/// What smbh_open_ex and smbh_open_cached open. Set `size` to
/// `sizeof(smbh_open_params)`: later versions of the library add fields at
/// the end, and a caller built against an older header keeps working, the
/// new fields taking their defaults. The sizes taken: this version's, 0.1's
/// (the struct up to `directory`: no tree, no caching, no durable request)
/// and that of the layout before `durable` was added (up to `lease`: no
/// durable request; whatever lies in that struct's tail padding is not read
/// as one). A caller built against a newer header may pass a larger size as
/// long as the fields this library does not know are zero; any other size
/// is SMBH_STATUS_INVALID_ARGUMENT.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct smbh_open_params {
    /// `sizeof(smbh_open_params)` as the caller was compiled.
    pub size: usize,
    /// The file (inode) the handle is open on.
    pub file_number: u64,
    /// The file's path, `path_len` bytes of UTF-8 without NUL (the first
    /// open of a file sets it; later opens keep it).
    pub path: *const c_char,
    /// Length of `path` in bytes, at most SMBH_MAX_PATH_LEN.
    pub path_len: usize,
    /// The opener's identity, `owner_len` bytes of UTF-8 without NUL.
    pub owner: *const c_char,
    /// Length of `owner` in bytes, at most SMBH_MAX_OWNER_LEN.
    pub owner_len: usize,
    /// Granted access: MS-DTYP ACCESS_MASK bits.
    pub access_mask: u32,
    /// SMBH_SHARE_READ | SMBH_SHARE_WRITE | SMBH_SHARE_DELETE, or fewer;
    /// other bits are SMBH_STATUS_INVALID_ARGUMENT.
    pub share_access: u32,
    /// True for a directory handle.
    pub directory: bool,
    /// The tree connect the open comes through (from smbh_tree_connect), or
    /// 0 for an open outside any session. Added in 0.2: a caller compiled
    /// with the older, shorter struct passes its smaller `size` and opens
    /// outside sessions.
    pub tree: u64,
    /// The CREATE's FILE_DELETE_ON_CLOSE option: when this handle closes,
    /// the file becomes delete-pending (see smbh_set_delete_pending). Needs
    /// the DELETE bit (0x10000) itself in `access_mask` (GENERIC_ALL alone
    /// does not do, as smbd answers), else SMBH_STATUS_INVALID_ARGUMENT
    /// (STATUS_INVALID_PARAMETER). Added in 0.2.
    pub delete_on_close: bool,
    /// For smbh_open_cached: the oplock level asked for (0 none, 1 level
    /// II, 8 exclusive, 9 batch) or SMBH_OPLOCK_LEASE for `lease`.
    /// smbh_open_ex refuses anything but 0 (SMBH_STATUS_INVALID_ARGUMENT).
    /// Added in 0.2.
    pub oplock: u8,
    /// The CREATE's disposition overwrites the file (FILE_SUPERSEDE,
    /// FILE_OVERWRITE, FILE_OVERWRITE_IF): other holders' caching is broken
    /// to none. Added in 0.2.
    pub overwrite: bool,
    /// The lease asked for when `oplock` is SMBH_OPLOCK_LEASE. Added in 0.2.
    pub lease: smbh_lease_request,
    /// For smbh_open_cached: the durable handle asked for (version
    /// SMBH_DURABLE_NONE, the zero default, asks for none); smbh_open_ex
    /// refuses any other version (SMBH_STATUS_INVALID_ARGUMENT), as it
    /// cannot report the grant. Added in 0.2, after `lease`: a caller
    /// compiled before passes the smaller size and asks for none.
    pub durable: smbh_durable_request,
}

/// The size of the layout before `durable` was added: up to `lease`, padded
/// to the struct's alignment.
const SMBH_OPEN_PARAMS_BEFORE_DURABLE: usize = std::mem::offset_of!(smbh_open_params, durable)
    .next_multiple_of(std::mem::align_of::<smbh_open_params>());

/// The sizes of the older versions of smbh_open_params: 0.1's (up to
/// `directory`, padded) and the one before `durable`.
const SMBH_OPEN_PARAMS_OLDER: [usize; 2] =
    [std::mem::offset_of!(smbh_open_params, tree), SMBH_OPEN_PARAMS_BEFORE_DURABLE];

/// Reads a caller's smbh_open_params of any size this library takes (see
/// [`sized_in`]). An older layout has no durable request: its `durable`
/// reads as none even where its tail padding, copied over the start of
/// `durable`, held garbage.
///
/// # Safety
///
/// As [`sized_in`].
pub(crate) unsafe fn open_params_in(
    params: *const smbh_open_params,
) -> Result<smbh_open_params, smbh_status> {
    // SAFETY: the caller's promise, passed on.
    let mut p = unsafe { sized_in(params, &SMBH_OPEN_PARAMS_OLDER) }?;
    if p.size < size_of::<smbh_open_params>() {
        p.durable = smbh_durable_request::default();
    }
    Ok(p)
}

/// Registers an open and writes its new location to `*location_out`.
///
/// `path` (`path_len` bytes, at most SMBH_MAX_PATH_LEN) and `owner`
/// (`owner_len` bytes, at most SMBH_MAX_OWNER_LEN) are UTF-8 without NUL
/// bytes and need not be NUL-terminated; the table keeps its own copies.
/// `access_mask` holds MS-DTYP ACCESS_MASK bits; `directory` picks the
/// directory names of aliased bits in JSON. The new handle has version 1 and
/// no byte-range locks.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table`, `path`, `owner` or
/// `location_out` NULL, even with a zero length), SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_PATH_TOO_LONG, SMBH_STATUS_OWNER_TOO_LONG,
/// SMBH_STATUS_CONTAINS_NUL (the path), SMBH_STATUS_OWNER_CONTAINS_NUL,
/// SMBH_STATUS_RESERVED_ACCESS_BITS, SMBH_STATUS_TABLE_FULL; when several
/// apply, the first in the order path length, path NUL, owner length, owner
/// NUL, access bits (each string checked for NULL and UTF-8 as it is read).
/// On any of them the table is unchanged.
///
/// # Safety
///
/// `table` is NULL or live; `path` and `owner` are NULL or readable for
/// their lengths (lengths above the limits are refused before any read);
/// `location_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_open(
    table: *const smbh_table,
    file_number: u64,
    path: *const c_char,
    path_len: usize,
    owner: *const c_char,
    owner_len: usize,
    access_mask: u32,
    directory: bool,
    location_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(location_out));
        // SAFETY: the caller's promise on `path` and `owner`.
        let (path, owner) = tri!(unsafe { strings_in(path, path_len, owner, owner_len) });
        let args = OpenArgs {
            file_number: FileNumber(file_number),
            path: StrArg::Checked(path),
            owner: StrArg::Checked(owner),
            access_mask: AccessMask::from_bits_retain(access_mask),
            share_access: ShareAccess::all(),
            directory,
            tree: None,
            delete_on_close: false,
            cache: &CacheRequest::None,
            overwrite: false,
            durable: None,
        };
        let loc = tri!(table.open_args(&args).map_err(smbh_status::from));
        // SAFETY: `location_out` is non-NULL and aligned (checked), writable
        // by the caller's promise.
        unsafe { location_out.write(loc.0) };
        smbh_status::Ok
    }
}

/// Opens a handle with a share mode (SPEC section 9): like smbh_open, plus
/// the check, atomic with the insertion, against every other open of the
/// file. A stat open (no read, write, append, execute or delete access)
/// never conflicts.
///
/// Statuses: as smbh_open, plus SMBH_STATUS_SHARING_VIOLATION and
/// SMBH_STATUS_INVALID_ARGUMENT (a `size` this library cannot take, share
/// bits beyond the three, an oplock, lease or durable request: use
/// smbh_open_cached). On any of them the table is unchanged.
///
/// # Safety
///
/// `table` is NULL or live; `params` is NULL or readable for
/// `params->size` bytes, its strings readable for their lengths;
/// `location_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_open_ex(
    table: *const smbh_table,
    params: *const smbh_open_params,
    location_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(params));
        tri!(check_ptr(location_out));
        // SAFETY: the caller promises `params->size` readable bytes; an
        // all-zero `smbh_open_params` is valid.
        let p = tri!(unsafe { open_params_in(params) });
        if p.oplock != 0 || p.durable.version != SMBH_DURABLE_NONE {
            return smbh_status::InvalidArgument;
        }
        // SAFETY: the caller's promise on the strings.
        let loc = tri!(unsafe { open_params(table, &p) });
        // SAFETY: non-NULL and aligned (checked), writable by the promise.
        unsafe { location_out.write(loc.0) };
        smbh_status::Ok
    }
}

/// The open smbh_open_ex makes once its own checks passed: the strings,
/// checked in the order Rust's `open` checks them (path length, path NUL,
/// owner length, owner NUL; see [`strings_in`]), then the table's open.
///
/// # Safety
///
/// `p.path` and `p.owner` are NULL or readable for their lengths (lengths
/// above the limits are refused before any read).
unsafe fn open_params(table: &HandleTable, p: &smbh_open_params) -> Result<Location, smbh_status> {
    // SAFETY: the caller's promise on the strings.
    unsafe { open_params_with(p, |args| table.open_args(args)) }?.map_err(smbh_status::from)
}

/// The checks of an open's parameters (share bits, the caching and durable
/// requests, then the strings in the order Rust's `open` checks them), then `open`
/// with the borrowed arguments.
///
/// # Safety
///
/// As [`open_params`].
pub(crate) unsafe fn open_params_with<T>(
    p: &smbh_open_params,
    open: impl FnOnce(&OpenArgs<'_>) -> T,
) -> Result<T, smbh_status> {
    if p.share_access & !0x7 != 0 {
        return Err(smbh_status::InvalidArgument);
    }
    let cache = match p.oplock {
        0 => CacheRequest::None,
        SMBH_OPLOCK_LEASE => {
            let l = &p.lease;
            let state = LeaseState::from_bits(l.state).ok_or(smbh_status::InvalidArgument)?;
            let client = ClientGuid(u128::from_le_bytes(l.client_guid));
            let key = LeaseKey(u128::from_le_bytes(l.key));
            CacheRequest::Lease(if l.v2 {
                let parent = l.has_parent.then(|| LeaseKey(u128::from_le_bytes(l.parent_key)));
                LeaseRequest::v2(client, key, state, l.epoch, parent)
            } else {
                LeaseRequest::v1(client, key, state)
            })
        }
        level => CacheRequest::Oplock(
            OplockLevel::from_wire(level)
                .filter(|&l| l != OplockLevel::None)
                .ok_or(smbh_status::InvalidArgument)?,
        ),
    };
    let durable = durable_spec(&p.durable)?;
    // SAFETY: the caller's promise on the strings.
    let (path, owner) = unsafe { strings_in(p.path, p.path_len, p.owner, p.owner_len) }?;
    let args = OpenArgs {
        file_number: FileNumber(p.file_number),
        path: StrArg::Checked(path),
        owner: StrArg::Checked(owner),
        access_mask: AccessMask::from_bits_retain(p.access_mask),
        share_access: ShareAccess::from_bits_retain(p.share_access),
        directory: p.directory,
        tree: (p.tree != 0).then_some(crate::TreeId(p.tree)),
        delete_on_close: p.delete_on_close,
        cache: &cache,
        overwrite: p.overwrite,
        durable: durable.as_ref(),
    };
    Ok(open(&args))
}

/// An open's path and owner from C, checked as Rust's `open` checks them
/// (path length, path NUL, owner length, owner NUL), each first for NULL
/// and UTF-8 as it is read; the table then reads neither again.
///
/// # Safety
///
/// `path` and `owner` are NULL or readable for their lengths (lengths above
/// the limits are refused before any read), and their bytes stay valid and
/// unchanged for `'a`.
#[inline(always)]
unsafe fn strings_in<'a>(
    path: *const c_char,
    path_len: usize,
    owner: *const c_char,
    owner_len: usize,
) -> Result<(&'a str, &'a str), smbh_status> {
    // SAFETY: the caller's promise on `path`.
    let path = unsafe { path_in(path, path_len) }?;
    // SAFETY: the caller's promise on `owner`.
    let owner = unsafe { str_in(owner, owner_len, SMBH_MAX_OWNER_LEN, smbh_status::OwnerTooLong) }?;
    if crate::words::has_nul(owner.as_bytes()) {
        return Err(smbh_status::OwnerContainsNul);
    }
    Ok((path, owner))
}

/// Sets the path of every open handle of `file_number` (bumping each one's
/// version) and writes how many were renamed to `*renamed_out` (0 when the
/// file has no open handle).
///
/// `path` is `path_len` bytes of UTF-8, at most SMBH_MAX_PATH_LEN, without
/// NUL bytes, not necessarily NUL-terminated.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_PATH_TOO_LONG, SMBH_STATUS_CONTAINS_NUL; on any of them
/// nothing is renamed.
///
/// # Safety
///
/// `table` is NULL or live; `path` is NULL or readable for `path_len` bytes
/// (when `path_len` is within the limit); `renamed_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_rename_file(
    table: *const smbh_table,
    file_number: u64,
    path: *const c_char,
    path_len: usize,
    renamed_out: *mut usize,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        tri!(check_ptr(renamed_out));
        // SAFETY: the caller's promise on `path`.
        let path = tri!(unsafe { path_in(path, path_len) });
        let renamed =
            tri!(table.try_rename_file(FileNumber(file_number), path).map_err(smbh_status::from));
        // SAFETY: `renamed_out` is non-NULL and aligned (checked), writable
        // by the caller's promise.
        unsafe { renamed_out.write(renamed) };
        smbh_status::Ok
    }
}
