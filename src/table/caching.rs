//! Leases and oplocks through the table: opens that ask for them, the
//! breaks they cause (sent through the break hook, after the locks), opens
//! that wait for acknowledgements and complete through the completion
//! hook, acknowledgements, and the timeout that ends unanswered breaks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::error::OpenError;
use crate::lease::{
    AckError, Break, ClientGuid, LeaseKey, LeaseState, OpenOutcome, Opened, OplockLevel, PendingId,
};
use crate::location::Location;
use crate::record::{FileNumber, OpenArgs, OpenSpec, SpecStr};
use crate::shard::CacheCtx;
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};

use super::HandleTable;

/// Called with the breaks the server must send, with no table lock held.
/// Installed with [`HandleTable::set_break_hook`].
pub type BreakHook = Arc<dyn Fn(&[Break]) + Send + Sync>;

/// Called when an open that waited for acknowledgements is done (opened or
/// refused), with no table lock held. Installed with
/// [`HandleTable::set_completion_hook`].
pub type CompletionHook = Arc<dyn Fn(PendingId, Result<Opened, OpenError>) + Send + Sync>;

/// An open waiting for acknowledgements.
#[derive(Debug)]
struct Pending {
    id: PendingId,
    spec: OpenSpec,
}

/// The table's caching state outside the shards. Its locks are taken
/// after a shard's (`park`, `unblocked`) or alone, never before one.
pub(crate) struct Caching {
    break_hook: Mutex<Option<BreakHook>>,
    completion_hook: Mutex<Option<CompletionHook>>,
    /// Waiting opens by file, oldest first.
    pending: Mutex<BTreeMap<FileNumber, Vec<Pending>>>,
    /// Files with outstanding breaks, with the earliest deadline.
    breaking: Mutex<BTreeMap<FileNumber, Instant>>,
    /// Files whose outstanding breaks ended under a shard lock (a close):
    /// their waiting opens run at the end of the call.
    ready: Mutex<Vec<FileNumber>>,
    /// How many opens wait (so that a close checks `ready` only then).
    waiting: AtomicUsize,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Caching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caching").field("waiting", &self.waiting).finish_non_exhaustive()
    }
}

impl Default for Caching {
    fn default() -> Self {
        Caching {
            break_hook: Mutex::new(None),
            completion_hook: Mutex::new(None),
            pending: Mutex::new(BTreeMap::new()),
            breaking: Mutex::new(BTreeMap::new()),
            ready: Mutex::new(Vec::new()),
            waiting: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }
    }
}

/// The guard of `m` (a function, so that every use reads alike).
fn locked<T>(m: &Mutex<T>) -> impl std::ops::DerefMut<Target = T> + '_ {
    m.lock()
}

impl Caching {
    /// Notes, under a shard lock, that `file`'s breaks ended.
    pub(crate) fn unblocked(&self, file: FileNumber) {
        if self.waiting.load(Ordering::Relaxed) > 0 {
            locked(&self.ready).push(file);
        }
    }
}

impl HandleTable {
    /// Installs (or removes) the break hook: it is called with every break
    /// an open, a write, a lock or an overwrite decided, after the table's
    /// locks are released; the server sends each one (a lease break
    /// notification to the lease's client, an oplock break for the
    /// handle).
    pub fn set_break_hook(&self, hook: Option<BreakHook>) {
        *locked(&self.caching.break_hook) = hook;
    }

    /// Installs (or removes) the completion hook: it is called once per
    /// open that [`open_cached`](Self::open_cached) answered
    /// [`OpenOutcome::Pending`], when it is done.
    pub fn set_completion_hook(&self, hook: Option<CompletionHook>) {
        *locked(&self.caching.completion_hook) = hook;
    }

    /// Registers an open that may ask for a lease or an oplock
    /// ([`OpenSpec::cache`]) and returns what it was granted, or that it
    /// waits for break acknowledgements.
    ///
    /// The rules are smbd's (`docs/contract.md` §14): an open (any open,
    /// with or without a request) breaks other holders' caching it
    /// conflicts with: write caching for a compatible open, handle caching
    /// for one that violates the share modes (which is refused only after
    /// the holders acknowledged, so that they can close), everything for an
    /// overwrite. A break from a state with write or handle caching needs an
    /// acknowledgement, and the open waits: it is answered
    /// [`OpenOutcome::Pending`] and completes through the completion hook
    /// when the holders acknowledge or close, or when the break timeout
    /// ([`Config::break_timeout`](crate::Config::break_timeout)) passes
    /// ([`HandleTable::expire_breaks`]). The spec's strings are shared or
    /// borrowed, as for [`HandleTable::open`]; an open that waits keeps
    /// copies of its own.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use smb_handles::*;
    ///
    /// let table = HandleTable::new();
    /// let sent = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&sent);
    /// table.set_break_hook(Some(Arc::new(move |b: &[Break]| log.lock().unwrap().extend_from_slice(b))));
    ///
    /// let (client, key) = (ClientGuid(1), LeaseKey(0xA));
    /// let rwh = LeaseState::READ | LeaseState::WRITE | LeaseState::HANDLE;
    /// let spec = |owner| OpenSpec::new(FileNumber(7), "/doc.docx", owner, AccessMask::FILE_READ_DATA);
    /// let lease = CacheRequest::Lease(LeaseRequest::v1(client, key, rwh));
    /// let OpenOutcome::Opened(a) = table.open_cached(spec("alice").cache(lease))? else { panic!() };
    /// assert_eq!(a.lease.unwrap().state, rwh);
    ///
    /// // Another open breaks the write caching and waits for the ack.
    /// let OpenOutcome::Pending(id) = table.open_cached(spec("bob"))? else { panic!() };
    /// assert_eq!(sent.lock().unwrap()[0].to, LeaseState::READ | LeaseState::HANDLE);
    /// let done = Arc::new(Mutex::new(None));
    /// let out = Arc::clone(&done);
    /// table.set_completion_hook(Some(Arc::new(move |p, r| *out.lock().unwrap() = Some((p, r)))));
    /// table.ack_lease_break(client, key, LeaseState::READ | LeaseState::HANDLE)?;
    /// let (p, r) = done.lock().unwrap().take().unwrap();
    /// assert_eq!(p, id);
    /// assert!(r.is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`HandleTable::open`], and [`OpenError::LeaseKeyInUse`] when the
    /// client's lease key is open on another file.
    pub fn open_cached<S: SpecStr>(&self, spec: OpenSpec<S>) -> Result<OpenOutcome, OpenError> {
        self.open_or_wait(&spec.args(), None)
    }

    /// [`HandleTable::open_cached`] with borrowed strings (the C path).
    pub(crate) fn open_cached_args(&self, args: &OpenArgs<'_>) -> Result<OpenOutcome, OpenError> {
        self.open_or_wait(args, None)
    }

    /// One attempt of an open (a new one, or a waiting one run again).
    fn open_or_wait(
        &self,
        args: &OpenArgs<'_>,
        id: Option<PendingId>,
    ) -> Result<OpenOutcome, OpenError> {
        let mut ctx = match (id, args.durable) {
            (None, None) => None,
            (id, _) => Some(CacheCtx::new(self.break_timeout, id)),
        };
        let mut res = self.open_with(args, &mut ctx);
        if let Some(ctx) = ctx.as_mut() {
            self.send_breaks(&ctx.breaks);
            res = self.settle_open(res, ctx);
        }
        let (oplock, lease, durable, replayed) = ctx
            .map_or((OplockLevel::None, None, None, false), |c| {
                (c.oplock, c.lease, c.durable, c.replayed)
            });
        match res {
            Ok(location) => {
                Ok(OpenOutcome::Opened(Opened { location, oplock, lease, durable, replayed }))
            }
            Err(OpenError::BreakPending { pending }) => Ok(OpenOutcome::Pending(pending)),
            Err(e) => Err(e),
        }
    }

    /// Parks an open that must wait, under the shard lock that decided so
    /// (an acknowledgement takes that lock, so it comes after this and
    /// finds the open); `id` is the waiting open's own when it runs again.
    pub(crate) fn park(&self, spec: OpenSpec, id: Option<PendingId>) -> PendingId {
        let id = id
            .unwrap_or_else(|| PendingId(self.caching.next_id.fetch_add(1, Ordering::Relaxed) + 1));
        self.caching.waiting.fetch_add(1, Ordering::Relaxed);
        locked(&self.caching.pending)
            .entry(spec.file_number)
            .or_default()
            .push(Pending { id, spec });
        id
    }

    /// Hands breaks to the hook (no lock held) and notes their deadlines.
    #[inline(always)]
    pub(crate) fn send_breaks(&self, breaks: &[Break]) {
        if !breaks.is_empty() {
            self.send_breaks_now(breaks);
        }
    }

    #[cold]
    #[inline(never)]
    fn send_breaks_now(&self, breaks: &[Break]) {
        let deadline = Instant::now() + self.break_timeout;
        {
            let mut b = locked(&self.caching.breaking);
            for br in breaks.iter().filter(|b| b.ack_required) {
                b.entry(br.file).or_insert(deadline);
            }
        }
        let hook = locked(&self.caching.break_hook).clone();
        if let Some(hook) = hook {
            hook(breaks);
        }
    }

    /// Runs the waiting opens of `file` again; completes those that are
    /// done.
    fn retry_file(&self, file: FileNumber) {
        let Some(waiting) = locked(&self.caching.pending).remove(&file) else { return };
        let mut done = Vec::new();
        for p in waiting {
            self.caching.waiting.fetch_sub(1, Ordering::Relaxed);
            match self.open_or_wait(&p.spec.args(), Some(p.id)) {
                Ok(OpenOutcome::Pending(_)) => {}
                Ok(OpenOutcome::Opened(o)) => done.push((p.id, Ok(o))),
                Err(e) => done.push((p.id, Err(e))),
            }
        }
        if done.is_empty() {
            return;
        }
        let hook = locked(&self.caching.completion_hook).clone();
        if let Some(hook) = hook {
            for (id, r) in done {
                hook(id, r);
            }
        }
    }

    /// Runs the waiting opens of the files whose breaks ended during this
    /// call (closes note them under their shard lock).
    #[inline(always)]
    pub(crate) fn run_ready(&self) {
        if self.caching.waiting.load(Ordering::Relaxed) != 0 {
            self.run_ready_now();
        }
    }

    #[cold]
    #[inline(never)]
    fn run_ready_now(&self) {
        let files = std::mem::take(&mut *locked(&self.caching.ready));
        for f in files {
            self.retry_file(f);
        }
    }

    /// Acknowledges a lease break (SMB2 LEASE_BREAK_ACK): the lease takes
    /// `state`, which must be within what the break offered; the opens that
    /// waited for it go on. Returns the lease's new state.
    ///
    /// # Errors
    ///
    /// [`AckError::LeaseNotFound`] (no such lease is open),
    /// [`AckError::NotBreaking`], [`AckError::NotAccepted`] (more than
    /// offered; the break stays pending).
    pub fn ack_lease_break(
        &self,
        client: ClientGuid,
        key: LeaseKey,
        state: LeaseState,
    ) -> Result<LeaseState, AckError> {
        let file = self.keys.file_of(client, key).ok_or(AckError::LeaseNotFound)?;
        let shard = &self.shards[crate::shard::shard_of(file, self.shards.len())];
        let mut g = shard.lock.write();
        let mut out = Vec::new();
        let r = g.ack_lease(file, client, key, state, self.break_timeout, &mut out);
        let next = g.next_break_of(file);
        drop(g);
        if r.is_ok() {
            self.send_breaks(&out);
            self.note_deadline(file, next);
            self.retry_file(file);
        }
        r
    }

    /// Acknowledges an oplock break (SMB2 OPLOCK_BREAK_ACK) of the handle
    /// at `loc` with level II or none; the opens that waited for it go on.
    ///
    /// # Errors
    ///
    /// [`AckError::HandleNotFound`], [`AckError::NoOplockBreak`],
    /// [`AckError::InvalidLevel`] (the break stays pending).
    pub fn ack_oplock_break(
        &self,
        loc: Location,
        level: OplockLevel,
    ) -> Result<OplockLevel, AckError> {
        let shard = self.shard(loc).ok_or(AckError::HandleNotFound)?;
        let mut g = shard.lock.write();
        let r = g.ack_oplock(loc, level);
        let next = r.as_ref().ok().and_then(|&(_, file)| g.next_break_of(file));
        drop(g);
        r.map(|(level, file)| {
            self.note_deadline(file, next);
            self.retry_file(file);
            level
        })
    }

    /// Records `file`'s next break deadline (none: it has no outstanding
    /// break).
    fn note_deadline(&self, file: FileNumber, next: Option<Instant>) {
        let mut b = locked(&self.caching.breaking);
        match next {
            Some(d) => b.insert(file, d),
            None => b.remove(&file),
        };
    }

    /// Breaks what a write, a byte-range lock or an end-of-file change
    /// through the handle at `loc` conflicts with: every other lease with
    /// read caching and every level II oplock, to none (unless the
    /// handle's own lease caches writes). Nothing waits. Returns the
    /// breaks sent (also through the hook), or `None` for no handle.
    pub fn break_for_write(&self, loc: Location) -> Option<Vec<Break>> {
        let shard = self.shard(loc)?;
        let mut out = Vec::new();
        shard.lock.write().write_breaks(loc, self.break_timeout, &mut out)?;
        self.send_breaks(&out);
        Some(out)
    }

    /// Breaks the read caching a granted lock through `loc` conflicts
    /// with, under the shard guard `g` (released here, before the hook).
    #[cold]
    #[inline(never)]
    pub(crate) fn break_readers(
        &self,
        mut g: crate::sync::RwLockWriteGuard<'_, crate::shard::Shard>,
        loc: Location,
    ) {
        let mut out = Vec::new();
        g.write_breaks(loc, self.break_timeout, &mut out);
        drop(g);
        self.send_breaks(&out);
    }

    /// The earliest moment an outstanding break times out, if any: call
    /// [`HandleTable::expire_breaks`] then (the table runs no thread). A
    /// break that ended by its holder's close may still be named here
    /// until then (`expire_breaks` then ends nothing); one acknowledged is
    /// not.
    pub fn next_break_deadline(&self) -> Option<Instant> {
        locked(&self.caching.breaking).values().min().copied()
    }

    /// Ends every break whose timeout passed by `now`, as smbd does: the
    /// lease or oplock drops to none, and the opens that waited go on.
    /// Returns how many breaks ended.
    pub fn expire_breaks(&self, now: Instant) -> usize {
        let due: Vec<FileNumber> = {
            let b = locked(&self.caching.breaking);
            b.iter().filter(|(_, &d)| d <= now).map(|(&f, _)| f).collect()
        };
        let mut ended = 0;
        for file in due {
            let shard = &self.shards[crate::shard::shard_of(file, self.shards.len())];
            let (n, next) = shard.lock.write().expire_breaks(file, now);
            ended += n;
            self.note_deadline(file, next);
            self.retry_file(file);
        }
        ended
    }

    /// The oplock and lease state the handle at `loc` holds now (`None`
    /// for no handle; the lease state is `None` for a handle without one).
    pub fn caching_of(&self, loc: Location) -> Option<(OplockLevel, Option<LeaseState>)> {
        self.shard(loc)?.lock.read().caching_of(loc)
    }
}
