//! The handle table: shards behind cache-line padded locks.

use std::sync::{Arc, OnceLock};

use crate::config::{Config, ConfigError};
use crate::error::{CloseError, DispositionError, LockError, OpenError, RenameError};
use crate::location::Location;
use crate::record::{check_path, FileHandle, FileNumber, OpenArgs, OpenSpec};
use crate::session::Sessions;
use crate::shard::{shard_of, CacheCtx, Closed, FileExt, LeaseKeys, Refusal, Report, Shard, NIL};
use crate::sync::{AtomicUsize, Ordering, RwLock};

mod caching;
mod durable;
mod list;
mod lock_listing;
mod locks;
#[cfg(feature = "store")]
mod persist;
#[cfg(not(feature = "store"))]
#[path = "persist_off.rs"]
mod persist;
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

    /// Takes up to [`CREDIT_CHUNK`] open credits from `reserved` for a
    /// shard; false when the table has none left.
    fn refill(&self, shard: &mut Shard) -> bool {
        let mut cur = self.reserved.load(Ordering::Relaxed);
        loop {
            let take = self.chunk.min(self.max_handles - cur);
            if take == 0 {
                return false;
            }
            match self.reserved.compare_exchange_weak(
                cur,
                cur + take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    shard.credits += take;
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// The slow path of an open whose shard found no credit: with every
    /// shard's lock held (taken in index order, none held by the caller), take
    /// back every spare credit, so `reserved` is exactly the handles open, and
    /// open in `target` if that is below `max_handles`. A refusal therefore
    /// means the table really held `max_handles` handles at that moment.
    fn open_reclaiming(
        &self,
        target: usize,
        args: &OpenArgs<'_>,
        ctx: &mut Option<CacheCtx>,
        admits: impl Fn() -> Result<(), OpenError>,
    ) -> Result<Location, OpenError> {
        let full = OpenError::TableFull { max_handles: self.max_handles };
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.lock.write()).collect();
        admits()?;
        let displaced = if self.durables.any_disconnected() {
            self.displace(&mut guards[target], args)?
        } else {
            None
        };
        let mut live = 0;
        for (s, g) in self.shards.iter().zip(guards.iter_mut()) {
            g.credits = 0;
            live += s.live.load(Ordering::Relaxed);
        }
        self.reserved.store(live, Ordering::Relaxed);
        if live >= self.max_handles {
            drop(guards);
            if let Some(d) = displaced {
                self.after_displace(*d);
            }
            return Err(full);
        }
        let g = &mut guards[target];
        let res = self.shard_open(g, args, ctx);
        if res.is_ok() {
            self.reserved.store(live + 1, Ordering::Relaxed);
            self.shards[target].count(1);
        }
        drop(guards);
        if let Some(d) = displaced {
            self.after_displace(*d);
        }
        res
    }

    /// Returns a shard's spare credits above two chunks to `reserved`.
    #[inline]
    fn trim(&self, shard: &mut Shard) {
        if shard.credits > 2 * self.chunk {
            self.reserved.fetch_sub(shard.credits - self.chunk, Ordering::Relaxed);
            shard.credits = self.chunk;
        }
    }

    /// Registers an open and returns its fresh location. The record starts at
    /// version 1 with no byte-range locks.
    ///
    /// # Errors
    ///
    /// [`OpenError`] names the field and limit of bad input (path or owner
    /// too long or containing NUL, reserved access bits), or a full table.
    /// On error the table is unchanged.
    ///
    /// ```
    /// # use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec};
    /// let table = HandleTable::new();
    /// let err = table.open(OpenSpec::new(FileNumber(1), "a\0b", "me", AccessMask::empty())).unwrap_err();
    /// assert_eq!(err.to_string(), "path contains a NUL byte");
    /// assert!(table.is_empty());
    /// ```
    pub fn open(&self, spec: OpenSpec) -> Result<Location, OpenError> {
        self.open_args(&spec.args())
    }

    /// The shard's open, under its guard `g`: a refusal made public; an
    /// open that must wait is parked here, under the lock that decided it.
    #[inline(always)]
    fn shard_open(
        &self,
        g: &mut Shard,
        args: &OpenArgs<'_>,
        ctx: &mut Option<CacheCtx>,
    ) -> Result<Location, OpenError> {
        match g.open(args, ctx) {
            Ok(loc) => {
                if let Some(d) = args.durable {
                    self.grant_durable(g, loc, args, d, ctx);
                }
                Ok(loc)
            }
            Err(Refusal::Wait) => Err(self.park_waiting(args, ctx)),
            Err(r) => Err(refusal(r, self.max_handles)),
        }
    }

    /// Parks an open the shard answered [`Refusal::Wait`] (its guard still
    /// held by the caller).
    #[cold]
    #[inline(never)]
    fn park_waiting(&self, args: &OpenArgs<'_>, ctx: &mut Option<CacheCtx>) -> OpenError {
        let ctx = ctx.as_mut().expect("a waiting open has its context");
        let pending = self.park(args.to_spec(), ctx.pending);
        ctx.pending = Some(pending);
        OpenError::BreakPending { pending }
    }

    /// [`HandleTable::open`] with borrowed strings: the table copies a
    /// string only when it holds no equal one yet (a new file's path, a new
    /// owner), so a caller that builds fresh strings per open (a C server)
    /// pays no allocation for a busy file or a known owner.
    pub(crate) fn open_args(&self, args: &OpenArgs<'_>) -> Result<Location, OpenError> {
        let mut ctx = args.durable.map(|_| CacheCtx::new(self.break_timeout, None));
        let res = self.open_with(args, &mut ctx);
        if let Some(mut ctx) = ctx {
            self.send_breaks(&ctx.breaks);
            return self.settle_open(res, &mut ctx);
        }
        res
    }

    /// Waits for the store to hold a persistent open before it is
    /// answered; one the store did not take is closed again.
    #[inline(always)]
    pub(crate) fn settle_open(
        &self,
        res: Result<Location, OpenError>,
        ctx: &mut CacheCtx,
    ) -> Result<Location, OpenError> {
        let Some(t) = ctx.ticket.take() else { return res };
        match res {
            Ok(loc) if !settle(Some(t)) => {
                let _ = self.close(loc);
                ctx.durable = None;
                Err(OpenError::StoreFailed)
            }
            res => res,
        }
    }

    /// [`HandleTable::open_args`] with what the caching rules need and
    /// give back; the caller sends `ctx.breaks`.
    #[inline(always)]
    pub(crate) fn open_with(
        &self,
        args: &OpenArgs<'_>,
        ctx: &mut Option<CacheCtx>,
    ) -> Result<Location, OpenError> {
        args.validate()?;
        if let Some(d) = args.durable {
            if let Some(loc) = self.durable_preflight(args, d, ctx)? {
                return Ok(loc);
            }
        }
        let Some(tree) = args.tree else {
            return self.open_checked(args, ctx, || Ok(()));
        };
        // Counted into the tree before the shard lock, checked under it
        // (see `table/sessions.rs` for why no handle outlives its tree).
        let entered = self.enter_tree(tree, shard_of(args.file_number, self.shards.len()))?;
        let res = self.open_checked(args, ctx, || sessions::tree_admits(entered.0, tree));
        if res.is_err() {
            self.leave_tree(entered);
        }
        res
    }

    /// Stores a validated open if `admits` (called under the shard's lock)
    /// allows it.
    #[inline(always)]
    fn open_checked(
        &self,
        args: &OpenArgs<'_>,
        ctx: &mut Option<CacheCtx>,
        admits: impl Fn() -> Result<(), OpenError>,
    ) -> Result<Location, OpenError> {
        let target = shard_of(args.file_number, self.shards.len());
        let shard = &self.shards[target];
        let mut g = shard.lock.write();
        // The tree first: an open into an ended tree answers that, whatever
        // else is wrong (then a full table, then the share mode).
        admits()?;
        let displaced =
            if self.durables.any_disconnected() { self.displace(&mut g, args)? } else { None };
        if g.credits == 0 && !self.refill(&mut g) {
            drop(g);
            if let Some(d) = displaced {
                self.after_displace(*d);
            }
            return self.open_reclaiming(target, args, ctx, admits);
        }
        let res = self.shard_open(&mut g, args, ctx);
        if res.is_ok() {
            g.credits -= 1;
            shard.count(1);
        }
        drop(g);
        if let Some(d) = displaced {
            self.after_displace(*d);
        }
        res
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

    /// Removes the handle at `loc` and returns its record, so the caller (not
    /// the table, and not under its lock) drops it. Of any number of
    /// concurrent closes of one location exactly one succeeds.
    ///
    /// # Errors
    ///
    /// [`CloseError::NotFound`] for a closed, stale or unknown location.
    pub fn close(&self, loc: Location) -> Result<FileHandle, CloseError> {
        self.close_as(loc)
    }

    /// [`close`](Self::close), answering with the report `R` asks for.
    #[inline(always)]
    pub(crate) fn close_as<R: Report>(&self, loc: Location) -> Result<R, CloseError> {
        let shard = self.shard(loc).ok_or(CloseError::NotFound)?;
        let mut g = shard.lock.write();
        let Closed { report, file_number, durable, unlocked, unblocked, tree } =
            g.close::<R>(loc)?;
        let garbage = g.take_all_garbage();
        let ticket = if durable { self.forget_durable(loc) } else { None };
        g.credits += 1;
        self.trim(&mut g);
        shard.count(-1);
        if unblocked {
            self.caching.unblocked(file_number);
        }
        drop(g);
        if let Some(garbage) = garbage {
            garbage.free();
        }
        if tree != NIL {
            self.left_trees(&[tree]);
        }
        if unlocked {
            self.notify_unlocked(&[file_number]);
        }
        self.run_ready();
        if !settle(ticket) {
            return Err(CloseError::StoreFailed);
        }
        Ok(report)
    }

    /// Closes `loc` in shard `shard`, whose write guard `g` the caller
    /// holds: counts it, and collects what to drop after the lock, the file
    /// if locks went, and the tree to uncount.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // each collects one kind of after-the-lock work
    fn close_under<R: Report>(
        &self,
        shard: &PaddedShard,
        g: &mut Shard,
        loc: Location,
        garbage: &mut Vec<FileExt>,
        unlocked_files: &mut Vec<FileNumber>,
        trees: &mut Vec<u32>,
        tickets: &mut Vec<Ticket>,
    ) -> Result<R, CloseError> {
        let Closed { report, file_number, durable, unlocked, unblocked, tree } =
            g.close::<R>(loc)?;
        g.take_garbage(garbage);
        if durable {
            tickets.extend(self.forget_durable(loc));
        }
        g.credits += 1;
        shard.count(-1);
        if unblocked {
            self.caching.unblocked(file_number);
        }
        if unlocked {
            unlocked_files.push(file_number);
        }
        if tree != NIL {
            trees.push(tree);
        }
        Ok(report)
    }

    /// Closes many handles: one result per input, in input order. Each
    /// handle closes independently; a location repeated in one batch closes
    /// once and its repeats get [`CloseError::NotFound`]. Each shard's lock
    /// is taken once per batch.
    ///
    /// ```
    /// # use smb_handles::{AccessMask, CloseError, FileNumber, HandleTable, OpenSpec};
    /// # let table = HandleTable::new();
    /// # let open = |f| table.open(OpenSpec::new(FileNumber(f), "/f", "me", AccessMask::empty())).unwrap();
    /// let (a, b) = (open(1), open(2));
    /// let results = table.close_batch(&[a, b, a]);
    /// assert!(results[0].is_ok() && results[1].is_ok());
    /// assert_eq!(results[2], Err(CloseError::NotFound));
    /// assert!(table.close_batch(&[]).is_empty());
    /// ```
    pub fn close_batch(&self, locations: &[Location]) -> Vec<Result<FileHandle, CloseError>> {
        self.close_batch_as(locations)
    }

    /// [`close_batch`](Self::close_batch), answering with the reports `R`
    /// asks for.
    pub(crate) fn close_batch_as<R: Report>(
        &self,
        locations: &[Location],
    ) -> Vec<Result<R, CloseError>> {
        if locations.len() <= 1 {
            return locations.iter().map(|&l| self.close_as(l)).collect();
        }
        let mut results: Vec<Result<R, CloseError>> =
            (0..locations.len()).map(|_| Err(CloseError::NotFound)).collect();
        // Visit inputs grouped by shard (input order within a shard, so a
        // repeat comes after the first occurrence), each lock taken once: a
        // counting sort, linear in the batch.
        let mut starts = vec![0u32; self.shards.len() + 1];
        for l in locations {
            if l.shard() < self.shards.len() {
                starts[l.shard() + 1] += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0u32; starts[self.shards.len()] as usize];
        let mut fill = starts.clone();
        for (i, l) in locations.iter().enumerate() {
            if l.shard() < self.shards.len() {
                order[fill[l.shard()] as usize] = i as u32;
                fill[l.shard()] += 1;
            }
        }
        // A close waits on dependent lines: its slot, then (for a shared
        // file) its file record, and the path's header (the file index's
        // upkeep is batched by the shard). Prefetch them in stages, so the
        // batch waits on memory once per many handles instead of on every
        // line of every handle: slots 24 closes ahead, file records 12 ahead
        // (their slots are in cache by then), paths 4 ahead.
        const SLOT_AHEAD: usize = 24;
        const FILE_AHEAD: usize = 12;
        const PATH_AHEAD: usize = 4;
        let mut garbage = Vec::new();
        let mut unlocked_files = Vec::new();
        let mut trees = Vec::new();
        let mut tickets = Vec::new();
        for (shard, s) in self.shards.iter().enumerate() {
            let group = &order[starts[shard] as usize..starts[shard + 1] as usize];
            if group.is_empty() {
                continue;
            }
            let mut g = s.lock.write();
            let at = |n: usize| group.get(n).map(|&i| locations[i as usize]);
            for n in 0..SLOT_AHEAD.min(group.len()) {
                g.prefetch(locations[group[n] as usize]);
            }
            for (n, &i) in group.iter().enumerate() {
                if let Some(l) = at(n + SLOT_AHEAD) {
                    g.prefetch(l);
                }
                if let Some(l) = at(n + FILE_AHEAD) {
                    g.prefetch_file(l);
                }
                if let Some(l) = at(n + PATH_AHEAD) {
                    g.prefetch_path(l);
                }
                results[i as usize] = self.close_under(
                    s,
                    &mut g,
                    locations[i as usize],
                    &mut garbage,
                    &mut unlocked_files,
                    &mut trees,
                    &mut tickets,
                );
            }
            self.trim(&mut g);
            drop(g);
            garbage.clear(); // after the lock
            self.left_trees(&trees);
            trees.clear();
        }
        if !unlocked_files.is_empty() {
            unlocked_files.sort_unstable();
            unlocked_files.dedup();
            self.notify_unlocked(&unlocked_files);
        }
        self.run_ready();
        // Persistent handles' removals: the batch is answered once they are
        // durable (a failed removal is not told apart here: contract §15).
        for t in tickets {
            settle(Some(t));
        }
        results
    }

    /// Closes what a request named, then matches the results back: each
    /// element of `requested` is a location to close or the reason the
    /// request named none. The locations are closed in one
    /// [`close_batch`](Self::close_batch); the answer has one result per
    /// element, in order: the element's own error, or its close's result.
    ///
    /// Written once for every batch close that takes a request: the JSON
    /// body of `POST /v1/smb/files/close` (in [`close_batch_json`] and the
    /// admin endpoint) and the C array of `smbh_close_batch`.
    ///
    /// [`close_batch_json`]: Self::close_batch_json
    pub(crate) fn close_requested<R: Report, E: From<CloseError>>(
        &self,
        requested: Vec<Result<Location, E>>,
    ) -> Vec<Result<R, E>> {
        let locations: Vec<Location> =
            requested.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        let mut closed = self.close_batch_as(&locations).into_iter();
        requested
            .into_iter()
            .map(|r| {
                r?;
                Ok(closed.next().expect("close_batch gives one result per location")?)
            })
            .collect()
    }
}

/// The public error for a shard's refusal.
fn refusal(r: Refusal, max_handles: usize) -> OpenError {
    match r {
        Refusal::Full => OpenError::TableFull { max_handles },
        Refusal::Sharing => OpenError::SharingViolation,
        Refusal::DeletePending => OpenError::DeletePending,
        Refusal::KeyInUse => OpenError::LeaseKeyInUse,
        Refusal::Wait => unreachable!("shard_open parks waiting opens"),
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
