//! The handle table: shards behind cache-line padded locks.

use std::sync::{Arc, OnceLock};

use crate::config::{Config, ConfigError};
use crate::error::{DispositionError, LockError, RenameError};
use crate::location::Location;
use crate::record::{check_path, FileHandle, FileNumber};
use crate::session::Sessions;
use crate::shard::{shard_of, LeaseKeys, Shard};
use crate::sync::{AtomicUsize, Ordering, RwLock};

mod caching;
mod close;
mod durable;
mod list;
mod lock_listing;
mod locks;
mod open;
#[cfg(feature = "store")]
mod persist;
#[cfg(not(feature = "store"))]
#[path = "persist_off.rs"]
mod persist;
mod select;
mod sessions;
#[cfg(test)]
mod tests;

/// A close's answer to a caller that reads only whether to delete the
/// file (the C ABI and the JSON close: no counts of the strings taken).
pub(crate) use crate::shard::Quiet as QuietClose;
pub use caching::{BreakHook, CompletionHook};
pub use lock_listing::{
    GrantMode, LockCursor, LockGrant, LockListKind, LockPage, LockQuery, ParseLockCursorError,
};
pub(crate) use locks::calls_on_this_thread;
pub use locks::UnlockHook;
pub(crate) use persist::{settle, Ticket};
#[cfg(feature = "store")]
pub use persist::{RecoverError, Recovered};

/// One shard's lock, alone on its cache lines (128 bytes covers the adjacent
/// line prefetcher of x86 and the 128-byte lines of some ARM cores), so two
/// cores working on two shards never fight over one line. Beside it, on the
/// line the lock holder owns anyway, the shard's count of live handles,
/// written only under the write lock and read by [`HandleTable::len`].
#[repr(align(128))]
#[derive(Debug)]
struct PaddedShard {
    lock: RwLock<Shard>,
    live: AtomicUsize,
}

impl PaddedShard {
    /// Adds `delta` to the live count; only under the write lock, so a
    /// plain load and store suffice.
    #[inline]
    fn count(&self, delta: isize) {
        let n = self.live.load(Ordering::Relaxed);
        self.live.store(n.wrapping_add_signed(delta), Ordering::Relaxed);
    }
}

/// Open credits a shard takes from the table's `reserved` at a time.
const CREDIT_CHUNK: usize = 64;

/// An in-process table of open SMB file handles.
///
/// `Send + Sync`; every method takes `&self`. Handles are spread over shards
/// by file number, each shard one lock; a location names its shard, so
/// `get`, `close` and lock adjustments touch exactly one lock. No callback is
/// ever run under a lock.
///
/// # Examples
///
/// ```
/// use smb_handles::{AccessMask, CloseError, FileNumber, HandleTable, ListQuery, OpenSpec};
///
/// let table = HandleTable::new();
/// let loc = table.open(OpenSpec::new(FileNumber(4242), "/projects/q3/report.xlsx", "S-1-5-21-1004336348-1177238915-682003330-1104", AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE))?;
/// assert_eq!(table.adjust_byte_range_locks(loc, 2)?, 2);
/// assert_eq!(table.get(loc).unwrap().handle_info.version, 2);
///
/// let page = table.list(&ListQuery { resolve_paths: true, ..ListQuery::default() })?;
/// assert_eq!(page.file_handles.len(), 1);
///
/// let closed = table.close(loc)?;
/// assert_eq!(closed.handle_info.num_byte_range_locks, 2);
/// assert_eq!(table.close(loc), Err(CloseError::NotFound)); // never closes twice
/// assert_eq!(table.len(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HandleTable {
    shards: Box<[PaddedShard]>,
    max_handles: usize,
    /// Open credits handed to shards: their live handles plus the spare
    /// credits they hold (`Shard::credits`), never above `max_handles`. A
    /// shard touches this shared counter once per [`CREDIT_CHUNK`] opens or
    /// closes instead of on every one, so two cores opening and closing in
    /// two shards share no cache line.
    reserved: AtomicUsize,
    /// Credits a shard takes at a time: [`CREDIT_CHUNK`], less for small caps.
    chunk: usize,
    /// Called after byte-range locks of a file were released.
    unlock_hook: RwLock<Option<UnlockHook>>,
    /// Sessions and tree connects, made by the first session setup.
    sessions: OnceLock<Box<Sessions>>,
    /// Which file each client's lease key names (shared with the shards).
    keys: Arc<LeaseKeys>,
    /// How long an open waits for break acknowledgements.
    break_timeout: std::time::Duration,
    /// Break and completion hooks, waiting opens, outstanding breaks.
    caching: caching::Caching,
    /// Durable handles' reconnect identities.
    durables: durable::Durables,
    /// The store persistent handles are kept in, behind group commit.
    #[cfg(feature = "store")]
    store: Option<crate::store::GroupCommit>,
}

impl std::fmt::Debug for HandleTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleTable")
            .field("shards", &self.shards.len())
            .field("max_handles", &self.max_handles)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for HandleTable {
    fn default() -> Self {
        HandleTable::new()
    }
}

impl HandleTable {
    /// A table with [`Config::default`]: shards sized to the machine.
    pub fn new() -> HandleTable {
        HandleTable::with_config(Config::default())
    }

    /// A table sized by `config`.
    ///
    /// # Panics
    ///
    /// When the configuration is invalid (see [`HandleTable::try_with_config`]).
    pub fn with_config(config: Config) -> HandleTable {
        match HandleTable::try_with_config(config) {
            Ok(t) => t,
            Err(e) => panic!("invalid smb-handles configuration: {e}"),
        }
    }

    /// A table sized by `config`, or why the configuration is invalid
    /// (`shards` outside 1..=256, `max_handles` 0 or beyond what the shards
    /// can address).
    ///
    /// ```
    /// # use smb_handles::{Config, HandleTable};
    /// assert!(HandleTable::try_with_config(Config::default().shards(0)).is_err());
    /// ```
    pub fn try_with_config(config: Config) -> Result<HandleTable, ConfigError> {
        let (shards, max_handles) = config.validate()?;
        let seed = random_seed();
        let keys = Arc::new(LeaseKeys::default());
        Ok(HandleTable {
            shards: (0..shards)
                .map(|i| PaddedShard {
                    lock: RwLock::new(Shard::new(
                        i,
                        seed,
                        Arc::clone(&keys),
                        config.break_timeout_value(),
                    )),
                    live: AtomicUsize::new(0),
                })
                .collect(),
            max_handles,
            // Small caps get small chunks, so spare credits parked in shards
            // rarely push an open onto the slow path.
            chunk: (max_handles / (4 * shards)).clamp(1, CREDIT_CHUNK),
            reserved: AtomicUsize::new(0),
            unlock_hook: RwLock::new(None),
            sessions: OnceLock::new(),
            keys,
            break_timeout: config.break_timeout_value(),
            caching: caching::Caching::default(),
            durables: {
                let (default, max) = config.durable_timeout_values();
                durable::Durables::new(default, max)
            },
            #[cfg(feature = "store")]
            store: None,
        })
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The most handles the table holds at once.
    pub fn max_handles(&self) -> usize {
        self.max_handles
    }

    /// The number of open handles: exact when no open or close runs at the
    /// same time; otherwise a count taken shard by shard, which may miss or
    /// count twice a handle moving between shards, but never more than
    /// `max_handles`.
    pub fn len(&self) -> usize {
        let n: usize = self.shards.iter().map(|s| s.live.load(Ordering::Relaxed)).sum();
        n.min(self.max_handles)
    }

    /// True when no handle is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn shard(&self, loc: Location) -> Option<&PaddedShard> {
        self.shards.get(loc.shard())
    }

    /// Adds `delta` to the handle's change-notify watch count (what
    /// listings show as `num_notify_watches`) and returns the new count, as
    /// [`HandleTable::adjust_byte_range_locks`] does for locks: a change
    /// bumps the version; out of range is an error and changes nothing.
    ///
    /// ```
    /// # use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec};
    /// # let table = HandleTable::new();
    /// # let loc = table.open(OpenSpec::new(FileNumber(1), "/d", "me", AccessMask::FILE_READ_DATA).directory(true)).unwrap();
    /// assert_eq!(table.adjust_notify_watches(loc, 1), Ok(1));
    /// assert_eq!(table.get(loc).unwrap().handle_info.num_notify_watches, 1);
    /// assert!(table.adjust_notify_watches(loc, -2).is_err());
    /// ```
    pub fn adjust_notify_watches(&self, loc: Location, delta: i64) -> Result<u32, LockError> {
        let shard = self.shard(loc).ok_or(LockError::NotFound)?;
        let res = shard.lock.write().adjust_notify(loc, delta);
        match res {
            None => Err(LockError::NotFound),
            Some(Ok(n)) => Ok(n),
            Some(Err(current)) => Err(LockError::OutOfRange { current, delta }),
        }
    }

    /// Sets (`true`) or clears the file's delete-pending state through the
    /// handle at `loc`, as SMB2 SET_INFO with `FileDispositionInformation`
    /// does. While a file is delete-pending, every new open of it is
    /// refused with [`OpenError::DeletePending`], and the close of its last
    /// open returns [`FileHandle::delete_file`] true: the server deletes the
    /// file then. A handle opened with
    /// [`OpenSpec::delete_on_close`] sets the state when it closes.
    ///
    /// [`OpenError::DeletePending`]: crate::OpenError::DeletePending
    /// [`OpenSpec::delete_on_close`]: crate::OpenSpec::delete_on_close
    ///
    /// A change bumps the version of every open of the file; setting what
    /// is already set changes nothing.
    ///
    /// # Errors
    ///
    /// [`DispositionError::NotFound`] for a location that names no handle,
    /// [`DispositionError::AccessDenied`] when the handle has no `DELETE`
    /// access (nothing changes).
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, OpenError, OpenSpec};
    ///
    /// let table = HandleTable::new();
    /// let open = |mask| table.open(OpenSpec::new(FileNumber(7), "/old.tmp", "me", mask));
    /// let a = open(AccessMask::DELETE)?;
    /// let b = open(AccessMask::FILE_READ_DATA)?;
    /// table.set_delete_pending(a, true)?;
    /// assert_eq!(open(AccessMask::FILE_READ_DATA), Err(OpenError::DeletePending));
    /// assert!(table.get(b).unwrap().handle_info.delete_pending);
    /// assert!(!table.close(a)?.delete_file()); // b is still open
    /// assert!(table.close(b)?.delete_file()); // the last close: delete the file
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_delete_pending(&self, loc: Location, on: bool) -> Result<(), DispositionError> {
        let shard = self.shard(loc).ok_or(DispositionError::NotFound)?;
        let res = shard.lock.write().set_delete_pending(loc, on);
        match res {
            None => Err(DispositionError::NotFound),
            Some(Ok(())) => Ok(()),
            Some(Err(())) => Err(DispositionError::AccessDenied),
        }
    }

    /// A snapshot of the handle at `loc`, or `None` if `loc` names no open
    /// handle (closed, stale, foreign or never issued).
    pub fn get(&self, loc: Location) -> Option<FileHandle> {
        self.shard(loc)?.lock.read().get(loc)
    }

    /// Adds `delta` to the handle's byte-range lock count and returns the new
    /// count. A change bumps the version; a zero delta changes nothing.
    ///
    /// For servers with their own lock manager, which report their locks'
    /// count here. It moves only the number `num_byte_range_locks` shows:
    /// it grants, releases and checks nothing. Locks managed by
    /// [`HandleTable::lock`] count in the same number (each granted lock
    /// adds 1, each unlocked or closed one subtracts 1, never below 0), so
    /// a server should use one or the other for a handle: a negative delta
    /// here does not release managed locks, and lowers the count they share.
    ///
    /// # Errors
    ///
    /// [`LockError::NotFound`] for a location that names no handle,
    /// [`LockError::OutOfRange`] when the count would drop below 0 or pass
    /// `u32::MAX` (the count is then unchanged).
    ///
    /// ```
    /// # use smb_handles::{AccessMask, FileNumber, HandleTable, LockError, OpenSpec};
    /// # let table = HandleTable::new();
    /// # let loc = table.open(OpenSpec::new(FileNumber(1), "/f", "me", AccessMask::empty())).unwrap();
    /// assert_eq!(table.adjust_byte_range_locks(loc, 3), Ok(3));
    /// assert!(matches!(table.adjust_byte_range_locks(loc, -4), Err(LockError::OutOfRange { .. })));
    /// assert_eq!(table.adjust_byte_range_locks(loc, -3), Ok(0));
    /// ```
    pub fn adjust_byte_range_locks(&self, loc: Location, delta: i64) -> Result<u32, LockError> {
        let shard = self.shard(loc).ok_or(LockError::NotFound)?;
        let res = shard.lock.write().adjust_locks(loc, delta);
        match res {
            None => Err(LockError::NotFound),
            Some(Ok(n)) => Ok(n),
            Some(Err(current)) => Err(LockError::OutOfRange { current, delta }),
        }
    }

    /// Sets the path of every open of `file` (bumping each one's version) and
    /// returns how many handles were renamed. An invalid path (too long, or
    /// containing NUL) renames nothing and returns 0; use
    /// [`HandleTable::try_rename_file`] to learn why.
    pub fn rename_file(&self, file: FileNumber, new_path: &str) -> usize {
        self.try_rename_file(file, new_path).unwrap_or(0)
    }

    /// Like [`HandleTable::rename_file`], with an error for an invalid path.
    ///
    /// ```
    /// # use smb_handles::{FileNumber, HandleTable};
    /// let table = HandleTable::new();
    /// assert_eq!(table.try_rename_file(FileNumber(1), "/new"), Ok(0));
    /// assert!(table.try_rename_file(FileNumber(1), "bad\0path").is_err());
    /// ```
    pub fn try_rename_file(&self, file: FileNumber, new_path: &str) -> Result<usize, RenameError> {
        check_path(new_path)?;
        let path: Arc<str> = Arc::from(new_path);
        let shard = shard_of(file, self.shards.len());
        let (renamed, old_path) = self.shards[shard].lock.write().rename(file, path);
        drop(old_path); // after the lock
        Ok(renamed)
    }
}

/// A per-table seed for the shards' hashes, from the standard library's
/// randomly keyed hasher (file numbers and owners come from clients, so
/// their index positions must not be predictable).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5348_4e44_4c45_5321);
    h.finish()
}
