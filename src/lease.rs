//! Leases and oplocks as an open asks for them and as the table answers
//! (MS-SMB2 §2.2.13.2.8, §2.2.14, §2.2.23–§2.2.25; the rules are smbd's, see
//! `tests/samba/LEASES-FINDINGS.md` and `docs/contract.md` §14).

use std::fmt;
use std::time::Duration;

use crate::location::Location;
use crate::record::FileNumber;

bitflags::bitflags! {
    /// A lease's caching state (SMB2 `LeaseState`): a subset of read,
    /// handle and write caching.
    ///
    /// ```
    /// use smb_handles::LeaseState;
    /// let rwh = LeaseState::READ | LeaseState::WRITE | LeaseState::HANDLE;
    /// assert_eq!(rwh.bits(), 0x7);
    /// assert_eq!(LeaseState::from_letters("RH"), Some(LeaseState::READ | LeaseState::HANDLE));
    /// assert_eq!(rwh.letters(), "RWH");
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct LeaseState: u32 {
        /// `SMB2_LEASE_READ_CACHING`.
        const READ = 0x1;
        /// `SMB2_LEASE_HANDLE_CACHING`.
        const HANDLE = 0x2;
        /// `SMB2_LEASE_WRITE_CACHING`.
        const WRITE = 0x4;
    }
}

impl LeaseState {
    /// The state as letters in the order R, W, H (`""` for none).
    pub fn letters(self) -> String {
        let mut s = String::new();
        for (bit, c) in [(Self::READ, 'R'), (Self::WRITE, 'W'), (Self::HANDLE, 'H')] {
            if self.contains(bit) {
                s.push(c);
            }
        }
        s
    }

    /// Parses letters R, W, H in any order; `None` for anything else.
    pub fn from_letters(s: &str) -> Option<LeaseState> {
        let mut out = LeaseState::empty();
        for c in s.chars() {
            out |= match c {
                'R' => Self::READ,
                'W' => Self::WRITE,
                'H' => Self::HANDLE,
                _ => return None,
            };
        }
        Some(out)
    }
}

/// A 16-byte SMB2 lease key, as the client chose it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct LeaseKey(pub u128);

/// A client's 16-byte `ClientGuid` (from NEGOTIATE): a lease belongs to a
/// client and a key together.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ClientGuid(pub u128);

/// An oplock level (SMB2 `OplockLevel`), without the lease value 0xFF.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub enum OplockLevel {
    /// `SMB2_OPLOCK_LEVEL_NONE` (0x00).
    #[default]
    None,
    /// `SMB2_OPLOCK_LEVEL_II` (0x01): read caching, shared.
    LevelII,
    /// `SMB2_OPLOCK_LEVEL_EXCLUSIVE` (0x08): read and write caching.
    Exclusive,
    /// `SMB2_OPLOCK_LEVEL_BATCH` (0x09): read, write and handle caching.
    Batch,
}

impl OplockLevel {
    /// The wire value.
    pub fn wire(self) -> u8 {
        match self {
            OplockLevel::None => 0x00,
            OplockLevel::LevelII => 0x01,
            OplockLevel::Exclusive => 0x08,
            OplockLevel::Batch => 0x09,
        }
    }

    /// The level of a wire value (0x00, 0x01, 0x08, 0x09), else `None`.
    pub fn from_wire(v: u8) -> Option<OplockLevel> {
        Some(match v {
            0x00 => OplockLevel::None,
            0x01 => OplockLevel::LevelII,
            0x08 => OplockLevel::Exclusive,
            0x09 => OplockLevel::Batch,
            _ => return None,
        })
    }

    /// The caching this level stands for: batch RWH, exclusive RW, level II R.
    pub(crate) fn state(self) -> LeaseState {
        match self {
            OplockLevel::None => LeaseState::empty(),
            OplockLevel::LevelII => LeaseState::READ,
            OplockLevel::Exclusive => LeaseState::READ | LeaseState::WRITE,
            OplockLevel::Batch => LeaseState::all(),
        }
    }

    /// The level granted for a caching state: RWH batch, RW exclusive, R or
    /// RH level II, else none.
    pub(crate) fn of_state(s: LeaseState) -> OplockLevel {
        let rw = LeaseState::READ | LeaseState::WRITE;
        if s == LeaseState::all() {
            OplockLevel::Batch
        } else if s == rw {
            OplockLevel::Exclusive
        } else if s.contains(LeaseState::READ) && !s.contains(LeaseState::WRITE) {
            OplockLevel::LevelII
        } else {
            OplockLevel::None
        }
    }
}

/// A lease an open asks for (the CREATE's `RqLs` context).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct LeaseRequest {
    /// The client's GUID.
    pub client: ClientGuid,
    /// The lease key.
    pub key: LeaseKey,
    /// The state asked for.
    pub state: LeaseState,
    /// For a version 2 request (`SMB2_CREATE_REQUEST_LEASE_V2`): the
    /// client's epoch; `None` for version 1.
    pub epoch: Option<u16>,
    /// For a version 2 request: the parent directory's lease key, if set.
    pub parent: Option<LeaseKey>,
}

impl LeaseRequest {
    /// A version 1 lease request.
    pub fn v1(client: ClientGuid, key: LeaseKey, state: LeaseState) -> LeaseRequest {
        LeaseRequest { client, key, state, epoch: None, parent: None }
    }

    /// A version 2 lease request with the client's epoch and parent key.
    pub fn v2(
        client: ClientGuid,
        key: LeaseKey,
        state: LeaseState,
        epoch: u16,
        parent: Option<LeaseKey>,
    ) -> LeaseRequest {
        LeaseRequest { client, key, state, epoch: Some(epoch), parent }
    }
}

/// What an open asks to cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum CacheRequest {
    /// Nothing (`RequestedOplockLevel` 0, no lease context).
    #[default]
    None,
    /// An oplock of this level.
    Oplock(OplockLevel),
    /// A lease (`RequestedOplockLevel` 0xFF with a lease context).
    Lease(LeaseRequest),
}

/// The lease an open was granted (the CREATE response's lease context).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct LeaseGrant {
    /// The lease key.
    pub key: LeaseKey,
    /// The state granted (the lease's state, shared by every open of it).
    pub state: LeaseState,
    /// True for a version 2 lease (answered as v2 once it was created as
    /// v2, whatever later requests ask).
    pub v2: bool,
    /// For a version 2 lease: its epoch.
    pub epoch: u16,
    /// The lease is being broken (`SMB2_LEASE_FLAG_BREAK_IN_PROGRESS` in
    /// the response's flags): an open of its own client with its key is
    /// answered at once with the state it holds, as smbd answers.
    pub break_in_progress: bool,
}

impl LeaseGrant {
    /// The grant a replayed create answers: the lease's state now.
    pub(crate) fn replayed(key: LeaseKey, state: LeaseState, v2: bool) -> LeaseGrant {
        LeaseGrant { key, state, v2, epoch: 0, break_in_progress: false }
    }
}

/// What an open was granted: its location and its caching.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Opened {
    /// The new handle.
    pub location: Location,
    /// The oplock granted (`None` for a lease open or no oplock).
    pub oplock: OplockLevel,
    /// The lease granted, for an open that asked for one (on a directory
    /// none is granted: `None`).
    pub lease: Option<LeaseGrant>,
    /// The durability granted, for an open that asked for it
    /// ([`OpenSpec::durable`](crate::OpenSpec::durable)).
    pub durable: Option<crate::durable::DurableGrant>,
    /// A durable v2 create replayed (its create GUID names an open this
    /// client already has): `location` is that open's, nothing new was
    /// opened.
    pub replayed: bool,
}

/// An open waiting for break acknowledgements (see
/// [`HandleTable::open_cached`](crate::HandleTable::open_cached)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PendingId(pub u64);

/// What [`HandleTable::open_cached`](crate::HandleTable::open_cached) answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpenOutcome {
    /// Done.
    Opened(Opened),
    /// Breaks were sent (through the break hook) whose acknowledgement the
    /// open must wait for: it completes through the completion hook.
    Pending(PendingId),
}

/// Who a break goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BreakTarget {
    /// A lease: send `SMB2 Lease Break Notification` to the client.
    Lease {
        /// The lease's client.
        client: ClientGuid,
        /// The lease key.
        key: LeaseKey,
    },
    /// An oplock: send `SMB2 Oplock Break Notification` for this handle.
    Oplock(Location),
}

/// One break the server must send (with no table lock held, through the
/// break hook).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Break {
    /// The file.
    pub file: FileNumber,
    /// The holder.
    pub target: BreakTarget,
    /// The state held (`CurrentLeaseState`; for an oplock, its level's).
    pub from: LeaseState,
    /// The state to break to (`NewLeaseState`; for an oplock, level II
    /// for R and none for nothing).
    pub to: LeaseState,
    /// `SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED`: the holder must
    /// acknowledge (an oplock break from exclusive or batch always does).
    pub ack_required: bool,
    /// For a version 2 lease: `NewEpoch`; 0 otherwise.
    pub epoch: u16,
}

impl Break {
    /// The oplock level an oplock break notification carries.
    pub fn oplock_to(&self) -> OplockLevel {
        OplockLevel::of_state(self.to)
    }
}

/// The default time a pending open waits for acknowledgements: smbd's 35 s.
pub const DEFAULT_BREAK_TIMEOUT: Duration = Duration::from_secs(35);

/// Why an acknowledgement was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum AckError {
    /// No lease with that client and key is open (STATUS_OBJECT_NAME_NOT_FOUND).
    LeaseNotFound,
    /// The lease is not being broken (STATUS_UNSUCCESSFUL).
    NotBreaking,
    /// The state acknowledged holds more than the break offered
    /// (STATUS_REQUEST_NOT_ACCEPTED); the break stays pending.
    NotAccepted,
    /// No open handle has that location (STATUS_FILE_CLOSED).
    HandleNotFound,
    /// No oplock break is outstanding on the handle
    /// (STATUS_INVALID_OPLOCK_PROTOCOL, as smbd answers).
    NoOplockBreak,
    /// An oplock acknowledgement of a level other than II or none
    /// (STATUS_INVALID_PARAMETER); the break stays pending.
    InvalidLevel,
}

impl AckError {
    /// The NTSTATUS the acknowledgement is answered with.
    pub fn nt_status(&self) -> u32 {
        match self {
            AckError::LeaseNotFound => 0xC000_0034,
            AckError::NotBreaking => 0xC000_0001,
            AckError::NotAccepted => 0xC000_00D0,
            AckError::HandleNotFound => crate::ntstatus::FILE_CLOSED,
            AckError::NoOplockBreak => 0xC000_00E3,
            AckError::InvalidLevel => crate::ntstatus::INVALID_PARAMETER,
        }
    }
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckError::LeaseNotFound => "lease not found",
            AckError::NotBreaking => "lease is not being broken",
            AckError::NotAccepted => "acknowledged more than the break offered",
            AckError::HandleNotFound => "handle not found",
            AckError::NoOplockBreak => "no oplock break outstanding",
            AckError::InvalidLevel => "an oplock break is acknowledged with level II or none",
        })
    }
}

impl std::error::Error for AckError {}
