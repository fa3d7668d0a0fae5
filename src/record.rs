//! The records the table stores and hands out: what an open asks for
//! ([`OpenSpec`]) and the snapshot of one handle ([`FileHandle`]).

use std::fmt;
use std::sync::Arc;

use crate::access::AccessMask;
use crate::durable::DurableSpec;
use crate::error::{OpenError, RenameError};
use crate::lease::CacheRequest;
use crate::limits::{MAX_OWNER_LEN, MAX_PATH_LEN};
use crate::location::Location;
use crate::session::TreeId;
use crate::share::ShareAccess;
use crate::words::has_nul;

/// The file (inode) a handle is open on. Any `u64`; JSON writes it as a
/// decimal string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FileNumber(pub u64);

impl fmt::Display for FileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a server registers when a client opens a file.
///
/// The strings are `S`: `Arc<str>` ([`OpenSpec::new`]) so a server that
/// already shares its path and owner strings hands them over without a
/// copy (`"text".into()` and `String::into()` both work), or `&str`
/// ([`OpenSpec::borrowed`]) for strings that live only as long as the
/// request, such as a name decoded into a reused request buffer: the
/// table then copies the path only for a file with no open yet and the
/// owner only when the file's shard holds no handle of that owner, so a
/// plain open of a busy file by a known owner allocates nothing (an open
/// that waits for a break keeps copies of its own; a durable open's
/// reconnect record shares the table's). See [`SpecStr`]. The path belongs to the file: the
/// first open of a file sets it, later opens of the same file keep it (and
/// drop the one they carry), and
/// [`HandleTable::rename_file`](crate::HandleTable::rename_file) changes it.
///
/// # Examples
///
/// ```
/// use smb_handles::{AccessMask, FileNumber, OpenSpec, ShareAccess};
///
/// let spec = OpenSpec::new(FileNumber(4242), "/projects/q3/report.xlsx",
///                          "S-1-5-21-1004336348-1177238915-682003330-1104",
///                          AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE)
///     .share_access(ShareAccess::READ)
///     .directory(false);
/// assert_eq!(spec.file_number, FileNumber(4242));
/// assert_eq!(spec.share_access, ShareAccess::READ);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenSpec<S = Arc<str>> {
    /// The file the handle is open on.
    pub file_number: FileNumber,
    /// The file's path as the server knows it (at most [`MAX_PATH_LEN`]
    /// bytes, no NUL).
    pub path: S,
    /// The opener's identity: SID, auth id or name (at most
    /// [`MAX_OWNER_LEN`] bytes, no NUL).
    pub owner: S,
    /// The access granted; reserved bits are refused.
    pub access_mask: AccessMask,
    /// What other opens of the file may do meanwhile; default
    /// `READ | WRITE | DELETE` (no restriction).
    pub share_access: ShareAccess,
    /// True for a directory handle: chooses the directory names of aliased
    /// access bits in JSON.
    pub directory: bool,
    /// The tree connect the open comes through (see
    /// [`HandleTable::tree_connect`](crate::HandleTable::tree_connect)), or
    /// `None` for an open outside any session.
    pub tree: Option<TreeId>,
    /// The CREATE's `FILE_DELETE_ON_CLOSE` option: when this handle
    /// closes, the file becomes delete-pending (see
    /// [`HandleTable::set_delete_pending`](crate::HandleTable::set_delete_pending)).
    /// Needs the `DELETE` bit itself in the access mask (`GENERIC_ALL`
    /// alone does not do, as smbd answers).
    pub delete_on_close: bool,
    /// The lease or oplock asked for (see
    /// [`HandleTable::open_cached`](crate::HandleTable::open_cached)).
    pub cache: CacheRequest,
    /// The CREATE's disposition is FILE_SUPERSEDE, FILE_OVERWRITE or
    /// FILE_OVERWRITE_IF: every other holder's caching is broken to none.
    pub overwrite: bool,
    /// The durable or persistent handle asked for (see
    /// [`HandleTable::reconnect`](crate::HandleTable::reconnect)).
    pub durable: Option<DurableSpec>,
}

impl OpenSpec {
    /// An open of a file (not a directory) that shares everything, with
    /// shared strings.
    pub fn new(
        file_number: FileNumber,
        path: impl Into<Arc<str>>,
        owner: impl Into<Arc<str>>,
        access_mask: AccessMask,
    ) -> OpenSpec {
        OpenSpec::with_strings(file_number, path.into(), owner.into(), access_mask)
    }
}

impl<'a> OpenSpec<&'a str> {
    /// An open of a file (not a directory) that shares everything, with
    /// strings borrowed for the call: the table copies one only when it
    /// must keep it (see [`OpenSpec`] for when).
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec};
    ///
    /// let table = HandleTable::new();
    /// // A name decoded into a buffer the request reuses.
    /// let mut name = String::from("/projects/q3/report.xlsx");
    /// let a = table.open(OpenSpec::borrowed(FileNumber(7), &name, "alice", AccessMask::FILE_READ_DATA))?;
    /// name.clear(); // the table kept its own copy
    /// let b = table.open(OpenSpec::borrowed(FileNumber(7), "/ignored", "alice", AccessMask::FILE_READ_DATA))?;
    /// assert_eq!(table.get(b).unwrap().handle_info.path.as_deref(), Some("/projects/q3/report.xlsx"));
    /// assert_eq!(table.get(a).unwrap().handle_info.owner.as_ref(), "alice");
    /// # Ok::<(), smb_handles::OpenError>(())
    /// ```
    pub fn borrowed(
        file_number: FileNumber,
        path: &'a str,
        owner: &'a str,
        access_mask: AccessMask,
    ) -> OpenSpec<&'a str> {
        OpenSpec::with_strings(file_number, path, owner, access_mask)
    }
}

impl<S> OpenSpec<S> {
    /// The defaults of [`OpenSpec::new`] with these strings.
    fn with_strings(file_number: FileNumber, path: S, owner: S, access_mask: AccessMask) -> Self {
        OpenSpec {
            file_number,
            path,
            owner,
            access_mask,
            share_access: ShareAccess::all(),
            directory: false,
            tree: None,
            delete_on_close: false,
            cache: CacheRequest::None,
            overwrite: false,
            durable: None,
        }
    }

    /// Sets the share mode.
    pub fn share_access(mut self, share_access: ShareAccess) -> Self {
        self.share_access = share_access;
        self
    }

    /// Marks the open as a directory handle (or not).
    pub fn directory(mut self, directory: bool) -> Self {
        self.directory = directory;
        self
    }

    /// Opens through a tree connect: a logoff of its session, or a
    /// disconnect of the tree, closes the handle.
    pub fn tree(mut self, tree: TreeId) -> Self {
        self.tree = Some(tree);
        self
    }

    /// Sets the CREATE's `FILE_DELETE_ON_CLOSE` option (the open needs the
    /// `DELETE` bit in its mask; see [`OpenError::DeleteOnCloseDenied`]).
    ///
    /// [`OpenError::DeleteOnCloseDenied`]: crate::OpenError::DeleteOnCloseDenied
    pub fn delete_on_close(mut self, delete_on_close: bool) -> Self {
        self.delete_on_close = delete_on_close;
        self
    }

    /// Asks for a lease or an oplock (see
    /// [`HandleTable::open_cached`](crate::HandleTable::open_cached)).
    pub fn cache(mut self, cache: CacheRequest) -> Self {
        self.cache = cache;
        self
    }

    /// Marks the CREATE as one that overwrites the file (FILE_SUPERSEDE,
    /// FILE_OVERWRITE, FILE_OVERWRITE_IF).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Asks for a durable (or persistent) handle: granted as MS-SMB2
    /// §3.3.5.9.6 and §3.3.5.9.10 say, and shown in
    /// [`Opened::durable`](crate::Opened::durable).
    pub fn durable(mut self, durable: DurableSpec) -> Self {
        self.durable = Some(durable);
        self
    }

    /// The borrowed form the shard stores from.
    #[inline(always)]
    pub(crate) fn args(&self) -> OpenArgs<'_>
    where
        S: SpecStr,
    {
        OpenArgs {
            file_number: self.file_number,
            path: arg_of(&self.path),
            owner: arg_of(&self.owner),
            access_mask: self.access_mask,
            share_access: self.share_access,
            directory: self.directory,
            tree: self.tree,
            delete_on_close: self.delete_on_close,
            cache: &self.cache,
            overwrite: self.overwrite,
            durable: self.durable.as_ref(),
        }
    }
}

/// The string types an [`OpenSpec`] holds: `Arc<str>`
/// ([`OpenSpec::new`]), kept without a copy when the table needs the
/// string, and `&str` ([`OpenSpec::borrowed`]), borrowed for the call and
/// copied only when the table must keep it (see [`OpenSpec`] for when).
/// Both are checked against the same limits, in the same order, and both
/// read as `&str` through [`AsRef`], so generic code can look at a spec's
/// strings. Sealed: no other type implements it.
///
/// ```
/// use smb_handles::{AccessMask, FileNumber, OpenSpec, SpecStr};
///
/// fn owner_of<S: SpecStr>(spec: &OpenSpec<S>) -> &str {
///     spec.owner.as_ref()
/// }
/// let shared = OpenSpec::new(FileNumber(1), "/a", "alice", AccessMask::FILE_READ_DATA);
/// let lent = OpenSpec::borrowed(FileNumber(1), "/a", "alice", AccessMask::FILE_READ_DATA);
/// assert_eq!(owner_of(&shared), owner_of(&lent));
/// ```
pub trait SpecStr: AsRef<str> + sealed::Sealed {}

impl SpecStr for Arc<str> {}
impl SpecStr for &str {}

mod sealed {
    use std::sync::Arc;

    /// Whether the open can keep a count of the string instead of a copy.
    pub trait Sealed {
        /// The `Arc` to keep a count of, for a shared string.
        fn shared(&self) -> Option<&Arc<str>>;
    }

    impl Sealed for Arc<str> {
        #[inline(always)]
        fn shared(&self) -> Option<&Arc<str>> {
            Some(self)
        }
    }

    impl Sealed for &str {
        #[inline(always)]
        fn shared(&self) -> Option<&Arc<str>> {
            None
        }
    }
}

/// The string as an open takes it.
#[inline(always)]
fn arg_of<S: SpecStr>(s: &S) -> StrArg<'_> {
    match s.shared() {
        Some(a) => StrArg::Shared(a),
        None => StrArg::Borrowed(s.as_ref()),
    }
}

/// A string handed to an open: an `Arc` the caller already shares (kept
/// without a copy when the table needs it) or a borrowed `&str` (copied only
/// when the table must keep it, as for C callers).
#[derive(Clone, Copy, Debug)]
pub(crate) enum StrArg<'a> {
    /// Shared with the caller.
    Shared(&'a Arc<str>),
    /// Borrowed for the call ([`OpenSpec::borrowed`], or a persistent
    /// open's strings as the store gave them back), checked by the open.
    Borrowed(&'a str),
    /// Borrowed for the call, and already checked by the caller as
    /// [`check_strings`] checks it, in its order (the C ABI, which reads
    /// the bytes to make a `&str` at all): the open does not read it again.
    /// The mark travels with the string, so an open whose string is
    /// replaced (`OpenArgs { path, ..checked }`) checks the new one.
    Checked(&'a str),
}

impl StrArg<'_> {
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            StrArg::Shared(a) => a,
            StrArg::Borrowed(s) | StrArg::Checked(s) => s,
        }
    }

    /// The string, unless the caller has checked it.
    #[inline]
    fn unchecked(&self) -> Option<&str> {
        match self {
            StrArg::Checked(_) => None,
            other => Some(other.as_str()),
        }
    }

    /// An `Arc` for the table to keep: a new count, or a copy.
    pub(crate) fn to_arc(self) -> Arc<str> {
        match self {
            StrArg::Shared(a) => Arc::clone(a),
            StrArg::Borrowed(s) | StrArg::Checked(s) => Arc::from(s),
        }
    }
}

/// An open as the table takes it, with borrowed strings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenArgs<'a> {
    pub(crate) file_number: FileNumber,
    pub(crate) path: StrArg<'a>,
    pub(crate) owner: StrArg<'a>,
    pub(crate) access_mask: AccessMask,
    pub(crate) share_access: ShareAccess,
    pub(crate) directory: bool,
    /// The tree connect, if any (resolved by the table).
    pub(crate) tree: Option<TreeId>,
    /// `FILE_DELETE_ON_CLOSE`.
    pub(crate) delete_on_close: bool,
    /// Borrowed: the request is 80 bytes, and most opens carry none.
    pub(crate) cache: &'a CacheRequest,
    pub(crate) overwrite: bool,
    /// Borrowed, as `cache`.
    pub(crate) durable: Option<&'a DurableSpec>,
}

impl OpenArgs<'_> {
    /// The owned form (for an open that waits).
    pub(crate) fn to_spec(self) -> OpenSpec {
        OpenSpec {
            file_number: self.file_number,
            path: self.path.to_arc(),
            owner: self.owner.to_arc(),
            access_mask: self.access_mask,
            share_access: self.share_access,
            directory: self.directory,
            tree: self.tree,
            delete_on_close: self.delete_on_close,
            cache: *self.cache,
            overwrite: self.overwrite,
            durable: self.durable.copied(),
        }
    }

    /// Checks every input limit of an open.
    pub(crate) fn validate(&self) -> Result<(), OpenError> {
        // The C ABI's open tests two tags here and loads nothing else.
        if !matches!((self.path, self.owner), (StrArg::Checked(_), StrArg::Checked(_))) {
            check_strings(self.path, self.owner)?;
        }
        let reserved = self.access_mask.reserved_bits();
        if reserved != 0 {
            return Err(OpenError::ReservedAccessBits { bits: reserved });
        }
        // smbd wants the DELETE bit itself: GENERIC_ALL or MAXIMUM_ALLOWED
        // alone is refused too (tests/samba/LEASES-FINDINGS.md).
        if self.delete_on_close && !self.access_mask.contains(AccessMask::DELETE) {
            return Err(OpenError::DeleteOnCloseDenied);
        }
        Ok(())
    }
}

/// Checks an open's path and owner against their limits: the path's
/// length, its NUL bytes, the owner's length, its NUL bytes, in this order.
/// A string the caller marked [`StrArg::Checked`] is not read.
#[inline]
pub(crate) fn check_strings(path: StrArg<'_>, owner: StrArg<'_>) -> Result<(), OpenError> {
    if let Some(path) = path.unchecked() {
        match check_path(path) {
            Err(RenameError::PathTooLong { len }) => return Err(OpenError::PathTooLong { len }),
            Err(RenameError::PathContainsNul) => return Err(OpenError::PathContainsNul),
            Ok(()) => {}
        }
    }
    if let Some(owner) = owner.unchecked() {
        if owner.len() > MAX_OWNER_LEN {
            return Err(OpenError::OwnerTooLong { len: owner.len() });
        }
        if has_nul(owner.as_bytes()) {
            return Err(OpenError::OwnerContainsNul);
        }
    }
    Ok(())
}

/// Checks a path against the limits of an open or a rename.
pub(crate) fn check_path(path: &str) -> Result<(), RenameError> {
    if path.len() > MAX_PATH_LEN {
        Err(RenameError::PathTooLong { len: path.len() })
    } else if has_nul(path.as_bytes()) {
        Err(RenameError::PathContainsNul)
    } else {
        Ok(())
    }
}

/// A snapshot of one open handle, as listed, fetched or closed.
///
/// Serializes exactly as one element of Qumulo's `GET /v1/smb/files`
/// `file_handles` array (see [`crate::json`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileHandle {
    /// The file the handle is open on.
    pub file_number: FileNumber,
    /// Everything else about the handle.
    pub handle_info: HandleInfo,
}

impl FileHandle {
    /// A snapshot of a handle.
    pub fn new(file_number: FileNumber, handle_info: HandleInfo) -> FileHandle {
        FileHandle { file_number, handle_info }
    }

    /// Only in what a close returns (always false in `get` and listings):
    /// this close was the file's last, and the file was delete-pending or
    /// this handle was opened with delete-on-close, so the server must
    /// delete the file now (`handle_info.delete_file`).
    pub fn delete_file(&self) -> bool {
        self.handle_info.delete_file
    }
}

/// The per-handle part of a [`FileHandle`].
///
/// Built by [`HandleInfo::new`]; its public fields can be set afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandleInfo {
    /// The handle's id.
    pub location: Location,
    /// 1 at open, +1 on every change to the record.
    pub version: u64,
    /// Byte-range locks currently held through this handle.
    pub num_byte_range_locks: u32,
    /// The access granted.
    pub access_mask: AccessMask,
    /// The opener's identity.
    pub owner: Arc<str>,
    /// The file's path; `None` when the listing did not resolve paths.
    pub path: Option<Arc<str>>,
    /// True for a directory handle (not serialized; picks access names).
    pub directory: bool,
    /// Change-notify watches the server reported on the handle (see
    /// [`HandleTable::adjust_notify_watches`](crate::HandleTable::adjust_notify_watches)).
    pub num_notify_watches: u32,
    /// The handle was opened with `FILE_DELETE_ON_CLOSE` (not serialized).
    pub delete_on_close: bool,
    /// The file is delete-pending: new opens are refused with
    /// `STATUS_DELETE_PENDING` (not serialized).
    pub delete_pending: bool,
    /// See [`FileHandle::delete_file`] (not serialized).
    pub delete_file: bool,
    /// A durable (or persistent) handle (not in Qumulo's schema).
    pub durable: bool,
    /// A durable handle whose connection dropped, kept for its client to
    /// reconnect until its timeout (listed as `"disconnected": true`).
    pub disconnected: bool,
}

impl HandleInfo {
    /// A handle at `location` opened by `owner` with `access_mask`, at
    /// version 1, holding nothing, path unresolved, not a directory.
    ///
    /// ```
    /// use smb_handles::{AccessMask, HandleInfo, Location};
    ///
    /// let loc: Location = "1".parse().unwrap();
    /// let mut info = HandleInfo::new(loc, AccessMask::FILE_READ_DATA, "me".into());
    /// info.version = 3;
    /// assert_eq!((info.version, info.num_byte_range_locks), (3, 0));
    /// ```
    pub fn new(location: Location, access_mask: AccessMask, owner: Arc<str>) -> HandleInfo {
        HandleInfo {
            location,
            version: 1,
            num_byte_range_locks: 0,
            access_mask,
            owner,
            path: None,
            directory: false,
            num_notify_watches: 0,
            delete_on_close: false,
            delete_pending: false,
            delete_file: false,
            durable: false,
            disconnected: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(path: StrArg<'a>, owner: StrArg<'a>, cache: &'a CacheRequest) -> OpenArgs<'a> {
        OpenArgs {
            file_number: FileNumber(1),
            path,
            owner,
            access_mask: AccessMask::empty(),
            share_access: ShareAccess::all(),
            directory: false,
            tree: None,
            delete_on_close: false,
            cache,
            overwrite: false,
            durable: None,
        }
    }

    #[test]
    fn validate_reads_every_string_but_those_marked_checked() {
        use StrArg::{Borrowed, Checked};
        let none = CacheRequest::None;
        let (bad_path, bad_owner) = ("/a\0b", "m\0e");
        for (path, owner, want) in [
            (Borrowed(bad_path), Borrowed("me"), Err(OpenError::PathContainsNul)),
            (Borrowed("/a"), Borrowed(bad_owner), Err(OpenError::OwnerContainsNul)),
            (Borrowed(bad_path), Borrowed(bad_owner), Err(OpenError::PathContainsNul)),
            // A string replaced after the C side checked the old one (here,
            // the owner) is read; the one still marked is not.
            (Checked("/a"), Borrowed(bad_owner), Err(OpenError::OwnerContainsNul)),
            (Borrowed(bad_path), Checked("me"), Err(OpenError::PathContainsNul)),
            // Marked strings are the caller's word, here false, to show that
            // they are not read again.
            (Checked(bad_path), Checked(bad_owner), Ok(())),
            (Checked("/a"), Checked("me"), Ok(())),
        ] {
            assert_eq!(args(path, owner, &none).validate(), want, "{path:?} {owner:?}");
        }
    }
}
