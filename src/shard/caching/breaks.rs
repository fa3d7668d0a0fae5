//! The breaks of one file's leases and oplocks: which an open needs (and
//! whether it must wait for their acknowledgements), which a write, a lock
//! or an end-of-file change needs, and sending one lease or oplock to its
//! new state.

use crate::lease::{Break, BreakTarget, LeaseState};
use crate::record::FileNumber;

use super::{Ask, Breaking, Due, FileCaching, H, NIL, OPLOCK_HOLDER, R, W};

impl FileCaching {
    /// The breaks an open needs before it may go on, into `out`; true when
    /// the open must wait for acknowledgements.
    pub(crate) fn open_breaks(
        &mut self,
        ask: &Ask<'_>,
        file: FileNumber,
        due: &mut Due,
        out: &mut Vec<Break>,
    ) -> bool {
        if ask.oplock_stat {
            return false;
        }
        let own = ask.own_lease;
        let own_state = own.map_or(LeaseState::empty(), |i| self.lease(i).state);
        let mask = if ask.sharing_violation { H } else { W };
        // O(1): does any other holder hold a bit this open takes?
        let others = |n: u32, bit: LeaseState| n - u32::from(own_state.contains(bit));
        let takes = if ask.overwrite {
            self.leases.len() + self.oplocks.len() > 0
        } else if mask == W {
            others(self.n_w, W) > 0
        } else {
            others(self.n_h, H) > 0
        };
        // smbd waits for a breaking lease that this open takes nothing
        // from, and for every breaking lease on a second attempt; a lease
        // that is breaking and loses something waits only when it had what
        // the open takes. Without an overwrite, every breaking lease is one
        // of those.
        // The opener's own lease breaking does not hold it up (smbd answers
        // it with SMB2_LEASE_FLAG_BREAK_IN_PROGRESS).
        let own_breaking = own.is_some_and(|i| self.lease(i).breaking.is_some());
        let others_breaking = self.breaking_leases - u32::from(own_breaking);
        // Lease holders never hold up a lease stat open (smbd returns before
        // looking at their breaks).
        let mut wait = !ask.lease_stat && others_breaking > 0 && (!ask.overwrite || ask.retry);
        if !takes {
            return wait;
        }
        if mask == W && !ask.overwrite {
            // Only write-caching holders lose anything: found directly.
            for holder in self.w_holders.clone() {
                if holder & OPLOCK_HOLDER != 0 {
                    let i = holder & !OPLOCK_HOLDER;
                    let o = self.oplocks[i as usize].as_ref().expect("live oplock");
                    if let Some(to) = break_to(o.state, mask, false, true) {
                        wait |= o.state.intersects(mask);
                        if o.breaking.is_none() {
                            self.break_oplock(i, to, file, due, out);
                        }
                    }
                } else if Some(holder) != own && !ask.lease_stat {
                    let l = self.lease(holder);
                    if let Some(to) = break_to(l.state, mask, false, false) {
                        wait |= l.state.intersects(mask);
                        if l.breaking.is_none() {
                            self.break_lease(holder, to, file, due, out);
                        }
                    }
                }
            }
            return wait;
        }
        for i in 0..self.leases.len() as u32 {
            if Some(i) == own || ask.lease_stat {
                continue;
            }
            let Some(l) = self.leases[i as usize].as_ref() else { continue };
            match break_to(l.state, mask, ask.overwrite, false) {
                // smbd waits for a holder that had what this open takes (W,
                // or H on a sharing violation), not for every acknowledged
                // break (an overwrite's RH -> none).
                Some(to) => {
                    wait |= l.state.intersects(mask);
                    if l.breaking.is_none() {
                        self.break_lease(i, to, file, due, out);
                    }
                }
                None => wait |= l.breaking.is_some(),
            }
        }
        for i in 0..self.oplocks.len() as u32 {
            let Some(o) = self.oplocks[i as usize].as_ref() else { continue };
            if let Some(to) = break_to(o.state, mask, ask.overwrite, true) {
                wait |= o.state.intersects(mask);
                if o.breaking.is_none() {
                    self.break_oplock(i, to, file, due, out);
                }
            }
        }
        wait
    }

    /// The breaks a write, a lock or an end-of-file change through a
    /// handle holding `holder` needs: every other lease with read caching
    /// and every level II oplock to none (no wait). None when the handle's
    /// own lease has write caching.
    pub(crate) fn write_breaks(
        &mut self,
        holder: u32,
        file: FileNumber,
        due: &mut Due,
        out: &mut Vec<Break>,
    ) {
        let own_lease = (holder != NIL && holder & OPLOCK_HOLDER == 0).then_some(holder);
        // A writer whose own caching is exclusive (a lease or an oplock with
        // write caching) is alone: smbd breaks nothing.
        if holder != NIL
            && self
                .held(holder)
                .1
                .map_or_else(|| self.held(holder).0.state().contains(W), |s| s.contains(W))
        {
            return;
        }
        if self.n_r == 0 {
            return;
        }
        for i in 0..self.leases.len() as u32 {
            if Some(i) == own_lease {
                continue;
            }
            let Some(l) = self.leases[i as usize].as_mut() else { continue };
            if l.state.contains(R) && l.breaking.is_none() {
                self.break_lease(i, LeaseState::empty(), file, due, out);
            } else if l.breaking.is_some_and(|b| b.to.contains(R)) {
                l.read_after_ack = true;
            }
        }
        // Every level II oplock, the writer's own too (as smbd breaks it).
        for i in 0..self.oplocks.len() as u32 {
            let Some(o) = self.oplocks[i as usize].as_ref() else { continue };
            if o.state == R && o.breaking.is_none() {
                self.break_oplock(i, LeaseState::empty(), file, due, out);
            }
        }
    }

    /// Sends lease `i` to `to`; true when an acknowledgement is required.
    fn break_lease(
        &mut self,
        i: u32,
        to: LeaseState,
        file: FileNumber,
        due: &mut Due,
        out: &mut Vec<Break>,
    ) -> bool {
        self.break_lease_at(i, to, file, due, out, true)
    }

    /// [`Self::break_lease`]; `new_epoch`: a v2 lease's epoch goes up (not
    /// for the read break that follows an acknowledgement: smbd sends it
    /// with the epoch of the break acknowledged).
    pub(super) fn break_lease_at(
        &mut self,
        i: u32,
        to: LeaseState,
        file: FileNumber,
        due: &mut Due,
        out: &mut Vec<Break>,
        new_epoch: bool,
    ) -> bool {
        let l = self.leases[i as usize].as_mut().expect("live lease");
        let from = l.state;
        let ack_required = from.intersects(W | H);
        if l.v2 && new_epoch {
            l.epoch = l.epoch.wrapping_add(1);
        }
        let epoch = if l.v2 { l.epoch } else { 0 };
        let target = BreakTarget::Lease { client: l.client, key: l.key };
        if ack_required {
            l.breaking = Some(Breaking { to, deadline: due.get() });
            self.breaking += 1;
            self.breaking_leases += 1;
        } else {
            l.state = to;
            self.count(i, from, false);
            self.count(i, to, true);
        }
        out.push(Break { file, target, from, to, ack_required, epoch });
        ack_required
    }

    /// Sends oplock `i` to `to` (R or none); true when an acknowledgement
    /// is required (from exclusive or batch).
    fn break_oplock(
        &mut self,
        i: u32,
        to: LeaseState,
        file: FileNumber,
        due: &mut Due,
        out: &mut Vec<Break>,
    ) -> bool {
        let o = self.oplocks[i as usize].as_mut().expect("live oplock");
        let from = o.state;
        let ack_required = from.contains(W);
        let target = BreakTarget::Oplock(o.loc);
        if ack_required {
            o.breaking = Some(Breaking { to, deadline: due.get() });
            self.breaking += 1;
        } else {
            o.state = to;
            self.count(i | OPLOCK_HOLDER, from, false);
            self.count(i | OPLOCK_HOLDER, to, true);
        }
        out.push(Break { file, target, from, to, ack_required, epoch: 0 });
        ack_required
    }
}

/// What `held` breaks to when an open takes `mask` (H for a sharing
/// violation, else W) or overwrites; `None` when nothing is taken.
fn break_to(
    held: LeaseState,
    mask: LeaseState,
    overwrite: bool,
    oplock: bool,
) -> Option<LeaseState> {
    let mut to = held - mask;
    if overwrite {
        to -= H | R;
    }
    if (held - to).is_empty() {
        return None;
    }
    if overwrite {
        to -= R | W;
    }
    if oplock {
        to -= H | W;
    }
    Some(to)
}
