//! Opening a handle: the credit a shard needs for it (and the slow path
//! that reclaims spare credits when none is left), the tree connect it
//! enters, the shard's open and what it refuses with, an open that must
//! wait for break acknowledgements, and a persistent open's store write.

use crate::error::OpenError;
use crate::location::Location;
use crate::record::{OpenArgs, OpenSpec, SpecStr};
use crate::shard::{shard_of, CacheCtx, Refusal, Shard};
use crate::sync::Ordering;

use super::{sessions, settle, HandleTable};

impl HandleTable {
    /// Takes up to [`CREDIT_CHUNK`] open credits from `reserved` for a
    /// shard; false when the table has none left.
    ///
    /// [`CREDIT_CHUNK`]: super::CREDIT_CHUNK
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

    /// Registers an open and returns its fresh location. The record starts at
    /// version 1 with no byte-range locks. The spec's strings are shared
    /// ([`OpenSpec::new`], kept without a copy) or borrowed
    /// ([`OpenSpec::borrowed`], copied only when the table must keep one:
    /// see [`OpenSpec`] for when).
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
    pub fn open<S: SpecStr>(&self, spec: OpenSpec<S>) -> Result<Location, OpenError> {
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
    /// string only when it must keep it (a new file's path, an owner with no
    /// handle in the file's shard, an open that waits), so a caller that
    /// builds fresh strings per open (a C server) pays no allocation for a
    /// busy file or a known owner.
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
