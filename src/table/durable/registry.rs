//! The registry of durable handles' reconnect identities: by slot (which
//! answers both "the handle at this location" and "the handle with this
//! persistent id"), by create GUID, by app instance and, while
//! disconnected, by file and by deadline; and its cheap hashes.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::durable::{
    AppInstanceId, CreateGuid, DurableGrant, DurableRequest, DurableSpec, PersistentId,
};
use crate::lease::{ClientGuid, LeaseKey};
use crate::location::Location;
use crate::record::FileNumber;
use crate::shard::KeyHash;
use crate::sync::{AtomicUsize, Mutex, Ordering};

/// One durable handle's reconnect identity.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    /// Where the handle is now.
    pub(crate) loc: Location,
    pub(crate) file: FileNumber,
    pub(crate) owner: Arc<str>,
    pub(crate) client: ClientGuid,
    pub(crate) create_guid: Option<CreateGuid>,
    pub(crate) app_instance: Option<AppInstanceId>,
    /// The lease's client and key, for a lease open.
    pub(crate) lease: Option<(ClientGuid, LeaseKey)>,
    pub(crate) grant: DurableGrant,
    /// Disconnected: when it is closed.
    pub(crate) deadline: Option<Instant>,
}

/// Hashes a table-issued 64-bit id (a location or persistent id, not
/// client input) with one multiply and a shift.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// For table-issued ids.
pub(super) type Ids = BuildHasherDefault<IdHasher>;

/// Client-chosen keys (create GUIDs, app instance ids, file numbers) get
/// the seeded hash of lease keys: cheap, and unpredictable to clients.
pub(super) type ClientKeys = KeyHash;

#[derive(Debug, Default)]
pub(super) struct Registry {
    /// By slot (the low 32 bits of a location: shard and slot), which a
    /// handle keeps across reconnects and which its persistent id names
    /// too: one map answers both lookups.
    pub(super) by_slot: HashMap<u32, Rec, Ids>,
    pub(super) by_guid: HashMap<CreateGuid, PersistentId, ClientKeys>,
    pub(super) by_app: HashMap<AppInstanceId, IdList, ClientKeys>,
    /// Disconnected handles by file.
    pub(super) by_file: HashMap<FileNumber, IdList, ClientKeys>,
    pub(super) deadlines: BTreeSet<(Instant, PersistentId)>,
    /// The slots of handles whose persistent id names another slot: those
    /// taken in from another table (`HandleTable::adopt`). Almost always
    /// empty.
    pub(super) aliases: HashMap<PersistentId, u32, Ids>,
}

/// A location's (or persistent id's) shard and slot.
pub(super) fn slot_key(raw: u64) -> u32 {
    raw as u32
}

impl Registry {
    /// The durable handle with persistent id `id`.
    pub(super) fn rec(&self, id: PersistentId) -> Option<&Rec> {
        self.by_slot.get(&self.key_of(id)).filter(|r| r.grant.persistent_id == id)
    }

    pub(super) fn rec_mut(&mut self, id: PersistentId) -> Option<&mut Rec> {
        let key = self.key_of(id);
        self.by_slot.get_mut(&key).filter(|r| r.grant.persistent_id == id)
    }

    /// The slot key the record of `id` is under.
    fn key_of(&self, id: PersistentId) -> u32 {
        if self.aliases.is_empty() {
            return slot_key(id.0);
        }
        self.aliases.get(&id).copied().unwrap_or(slot_key(id.0))
    }

    /// The durable handle at `loc`.
    pub(super) fn at(&self, loc: Location) -> Option<&Rec> {
        self.by_slot.get(&slot_key(loc.as_u64())).filter(|r| r.loc == loc)
    }

    /// Forgets `id` everywhere.
    pub(super) fn remove(&mut self, id: PersistentId) -> Option<Rec> {
        self.rec(id)?;
        let rec = self.by_slot.remove(&self.key_of(id))?;
        self.aliases.remove(&id);
        if let Some(g) = rec.create_guid {
            if self.by_guid.get(&g) == Some(&id) {
                self.by_guid.remove(&g);
            }
        }
        if let Some(a) = rec.app_instance {
            drop_id(&mut self.by_app, a, id);
        }
        if let Some(d) = rec.deadline {
            self.undisconnect(id, rec.file, d);
        }
        Some(rec)
    }

    /// Takes a disconnected `id` out of the by-file and deadline indexes.
    pub(super) fn undisconnect(&mut self, id: PersistentId, file: FileNumber, deadline: Instant) {
        drop_id(&mut self.by_file, file, id);
        self.deadlines.remove(&(deadline, id));
    }
}

/// The durable handles of one file or app instance: almost always one,
/// kept inline (a recovery of 10^6 handles on 10^6 files allocates no list).
#[derive(Debug)]
pub(super) enum IdList {
    One(PersistentId),
    Many(Vec<PersistentId>),
}

impl IdList {
    pub(super) fn iter(&self) -> std::slice::Iter<'_, PersistentId> {
        match self {
            IdList::One(id) => std::slice::from_ref(id).iter(),
            IdList::Many(v) => v.iter(),
        }
    }
}

/// Adds `id` to `map[key]`.
pub(super) fn add_id<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, IdList, ClientKeys>,
    key: K,
    id: PersistentId,
) {
    use std::collections::hash_map::Entry;
    match map.entry(key) {
        Entry::Vacant(e) => {
            e.insert(IdList::One(id));
        }
        Entry::Occupied(mut e) => {
            let l = e.get_mut();
            match l {
                IdList::One(a) => *l = IdList::Many(vec![*a, id]),
                IdList::Many(v) => v.push(id),
            }
        }
    }
}

/// Removes `id` from `map[key]`, and the key once its list is empty.
pub(super) fn drop_id<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, IdList, ClientKeys>,
    key: K,
    id: PersistentId,
) {
    let empty = match map.get_mut(&key) {
        None => return,
        Some(IdList::One(a)) => *a == id,
        Some(IdList::Many(v)) => {
            v.retain(|&x| x != id);
            v.is_empty()
        }
    };
    if empty {
        map.remove(&key);
    }
}

/// The table's durable handles.
#[derive(Debug)]
pub(crate) struct Durables {
    pub(super) reg: Mutex<Registry>,
    /// Disconnected handles: an open looks at the registry only when some
    /// exist.
    pub(super) disconnected: AtomicUsize,
    /// Handles with an app instance id: as `disconnected`, for opens that
    /// carry one.
    pub(super) with_app: AtomicUsize,
    default_timeout: Duration,
    max_timeout: Duration,
}

impl Durables {
    pub(crate) fn new(default_timeout: Duration, max_timeout: Duration) -> Durables {
        Durables {
            reg: Mutex::new(Registry::default()),
            disconnected: AtomicUsize::new(0),
            with_app: AtomicUsize::new(0),
            default_timeout,
            max_timeout,
        }
    }

    /// The timeout a request is granted.
    pub(super) fn timeout_for(&self, d: &DurableSpec) -> Duration {
        match d.request {
            DurableRequest::V2 { timeout, .. } if !timeout.is_zero() => {
                timeout.min(self.max_timeout)
            }
            _ => self.default_timeout,
        }
    }

    /// True when some handle is disconnected.
    #[inline(always)]
    pub(crate) fn any_disconnected(&self) -> bool {
        self.disconnected.load(Ordering::Relaxed) != 0
    }
}
