//! Share modes (SPEC §9, MS-FSA 2.1.5.1.2.1): the `ShareAccess` flags an open
//! asks for, and the aggregate counts a file keeps so that the check of a new
//! open against every other open of the file costs O(1).
//!
//! An open takes part in sharing only through three *classes* of access:
//! read (`FILE_READ_DATA` or `FILE_EXECUTE`), write (`FILE_WRITE_DATA` or
//! `FILE_APPEND_DATA`) and `DELETE`, after the generic bits are mapped. An
//! open with none of them (a *stat open*) never conflicts. Two non-stat opens
//! conflict when one holds a class the other's share mode does not allow.

use crate::access::AccessMask;

bitflags::bitflags! {
    /// What an open lets *other* opens of the same file do at the same time
    /// (SMB2 CREATE `ShareAccess`).
    ///
    /// # Examples
    ///
    /// ```
    /// use smb_handles::ShareAccess;
    ///
    /// let s = ShareAccess::READ | ShareAccess::WRITE;
    /// assert!(!s.contains(ShareAccess::DELETE));
    /// assert_eq!(ShareAccess::all().bits(), 0x7);
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct ShareAccess: u32 {
        /// `FILE_SHARE_READ`: others may open for read or execute.
        const READ = 0x1;
        /// `FILE_SHARE_WRITE`: others may open for write or append.
        const WRITE = 0x2;
        /// `FILE_SHARE_DELETE`: others may open for delete.
        const DELETE = 0x4;
    }
}

impl Default for ShareAccess {
    /// `READ | WRITE | DELETE`: no restriction.
    fn default() -> Self {
        ShareAccess::all()
    }
}

/// `GENERIC_READ` mapped for files (MS-SMB2 3.3.5.9 / MS-FSA): `0x120089`.
pub(crate) const GENERIC_READ_MAPPING: u32 = 0x0012_0089;
/// `GENERIC_WRITE` mapped: `0x120116`.
pub(crate) const GENERIC_WRITE_MAPPING: u32 = 0x0012_0116;
/// `GENERIC_EXECUTE` mapped: `0x1200A0`.
pub(crate) const GENERIC_EXECUTE_MAPPING: u32 = 0x0012_00A0;
/// `GENERIC_ALL` mapped: `0x1F01FF`.
pub(crate) const GENERIC_ALL_MAPPING: u32 = 0x001F_01FF;

/// The access mask with its generic bits replaced by what they map to (used
/// for the share check only; the stored mask keeps what was given).
///
/// ```
/// use smb_handles::{map_generic, AccessMask};
/// assert_eq!(map_generic(AccessMask::GENERIC_READ).bits(), 0x120089);
/// ```
pub fn map_generic(mask: AccessMask) -> AccessMask {
    if mask.bits() & 0xF000_0000 == 0 {
        return mask;
    }
    let mut bits = mask.bits() & 0x0FFF_FFFF;
    for (generic, mapped) in [
        (AccessMask::GENERIC_READ, GENERIC_READ_MAPPING),
        (AccessMask::GENERIC_WRITE, GENERIC_WRITE_MAPPING),
        (AccessMask::GENERIC_EXECUTE, GENERIC_EXECUTE_MAPPING),
        (AccessMask::GENERIC_ALL, GENERIC_ALL_MAPPING),
    ] {
        if mask.contains(generic) {
            bits |= mapped;
        }
    }
    AccessMask::from_bits_retain(bits)
}

/// Class bit: read or execute access / share READ.
const R: u8 = 0x1;
/// Class bit: write or append access / share WRITE.
const W: u8 = 0x2;
/// Class bit: delete access / share DELETE.
const D: u8 = 0x4;

/// What one non-stat open claims: the classes it accesses and the classes its
/// share mode denies to others. Three bits each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Claim {
    access: u8,
    denies: u8,
}

impl Claim {
    /// The claim of an open, or `None` for a stat open (which never takes
    /// part in sharing).
    pub(crate) fn of(access: AccessMask, share: ShareAccess) -> Option<Claim> {
        let m = map_generic(access);
        let mut classes = 0;
        if m.intersects(AccessMask::FILE_READ_DATA | AccessMask::FILE_EXECUTE) {
            classes |= R;
        }
        if m.intersects(AccessMask::FILE_WRITE_DATA | AccessMask::FILE_APPEND_DATA) {
            classes |= W;
        }
        if m.contains(AccessMask::DELETE) {
            classes |= D;
        }
        (classes != 0).then(|| Claim { access: classes, denies: !(share.bits() as u8) & 0x7 })
    }

    /// The classes it accesses and the classes it denies, as
    /// [`ShareAccess`] bits (READ, WRITE, DELETE).
    pub(crate) fn classes(self) -> (ShareAccess, ShareAccess) {
        (
            ShareAccess::from_bits_retain(u32::from(self.access)),
            ShareAccess::from_bits_retain(u32::from(self.denies)),
        )
    }

    /// True when two opens' claims conflict (symmetric).
    pub(crate) fn conflicts_with(self, other: Claim) -> bool {
        self.access & other.denies != 0 || other.access & self.denies != 0
    }
}

/// The claims of every live non-stat open of one file, as counts per class:
/// how many opens access each class and how many deny it. Exact under add
/// and remove, so the check is O(1) whatever the number of opens.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct ShareCounts {
    /// Opens accessing R, W, D.
    access: [u32; 3],
    /// Opens whose share mode denies R, W, D.
    denies: [u32; 3],
}

impl ShareCounts {
    /// Bits of the classes with a non-zero count in `counts`.
    fn nonzero(counts: &[u32; 3]) -> u8 {
        (counts[0] != 0) as u8 | ((counts[1] != 0) as u8) << 1 | ((counts[2] != 0) as u8) << 2
    }

    /// True when `claim` conflicts with any open counted here.
    pub(crate) fn conflicts(&self, claim: Claim) -> bool {
        claim.access & Self::nonzero(&self.denies) != 0
            || claim.denies & Self::nonzero(&self.access) != 0
    }

    /// Counts one more open.
    pub(crate) fn add(&mut self, claim: Claim) {
        for i in 0..3 {
            self.access[i] += u32::from(claim.access >> i & 1);
            self.denies[i] += u32::from(claim.denies >> i & 1);
        }
    }

    /// Forgets one open counted by [`ShareCounts::add`].
    pub(crate) fn remove(&mut self, claim: Claim) {
        for i in 0..3 {
            self.access[i] -= u32::from(claim.access >> i & 1);
            self.denies[i] -= u32::from(claim.denies >> i & 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RD: AccessMask = AccessMask::FILE_READ_DATA;
    const WR: AccessMask = AccessMask::FILE_WRITE_DATA;

    #[test]
    fn stat_opens_make_no_claim() {
        for m in [
            AccessMask::FILE_READ_ATTRIBUTES,
            AccessMask::SYNCHRONIZE | AccessMask::READ_CONTROL,
            AccessMask::FILE_WRITE_ATTRIBUTES | AccessMask::FILE_READ_EA | AccessMask::WRITE_DAC,
            AccessMask::empty(),
        ] {
            assert_eq!(Claim::of(m, ShareAccess::empty()), None, "{m:?}");
        }
        assert!(Claim::of(AccessMask::GENERIC_READ, ShareAccess::empty()).is_some());
        assert!(Claim::of(AccessMask::GENERIC_ALL, ShareAccess::empty()).is_some());
        assert!(Claim::of(AccessMask::DELETE, ShareAccess::empty()).is_some());
        assert!(Claim::of(AccessMask::FILE_EXECUTE, ShareAccess::empty()).is_some());
        assert!(Claim::of(AccessMask::FILE_APPEND_DATA, ShareAccess::empty()).is_some());
    }

    #[test]
    fn generic_bits_map_for_the_check_only() {
        assert_eq!(map_generic(AccessMask::GENERIC_WRITE).bits(), 0x120116);
        assert_eq!(map_generic(AccessMask::GENERIC_EXECUTE).bits(), 0x1200A0);
        assert_eq!(map_generic(AccessMask::GENERIC_ALL).bits(), 0x1F01FF);
        assert_eq!(map_generic(RD | AccessMask::GENERIC_READ).bits(), 0x120089);
    }

    #[test]
    fn counts_agree_with_pairwise_claims() {
        // Every pair of (access class set, share) against every third open.
        let masks = [RD, WR, AccessMask::DELETE, RD | WR, AccessMask::FILE_READ_ATTRIBUTES];
        let shares: Vec<ShareAccess> = (0..8).map(ShareAccess::from_bits_truncate).collect();
        for &m1 in &masks {
            for &s1 in &shares {
                for &m2 in &masks {
                    for &s2 in &shares {
                        let mut counts = ShareCounts::default();
                        let c1 = Claim::of(m1, s1);
                        if let Some(c) = c1 {
                            counts.add(c);
                        }
                        let c2 = Claim::of(m2, s2);
                        let pairwise =
                            matches!((c1, c2), (Some(a), Some(b)) if a.conflicts_with(b));
                        assert_eq!(c2.is_some_and(|c| counts.conflicts(c)), pairwise);
                        if let Some(c) = c1 {
                            counts.remove(c);
                        }
                        assert_eq!(counts, ShareCounts::default());
                    }
                }
            }
        }
    }

    #[test]
    fn the_classic_cases() {
        let reader_sharing_read = Claim::of(RD, ShareAccess::READ).unwrap();
        let writer = Claim::of(WR, ShareAccess::all()).unwrap();
        let reader = Claim::of(RD, ShareAccess::all()).unwrap();
        assert!(reader_sharing_read.conflicts_with(writer));
        assert!(!reader_sharing_read.conflicts_with(reader));
        let deleter = Claim::of(AccessMask::DELETE, ShareAccess::all()).unwrap();
        let no_delete = Claim::of(RD, ShareAccess::READ | ShareAccess::WRITE).unwrap();
        assert!(deleter.conflicts_with(no_delete));
    }
}
