//! Lease keys across the table: the map from a client's lease key to the
//! file it names ([`LeaseKeys`]), and the seeded hash the lease maps use
//! ([`KeyHash`]).

use std::collections::HashMap;

use crate::lease::{ClientGuid, LeaseKey};
use crate::record::FileNumber;
use crate::sync::Mutex;

/// A seeded hash of (client, key) pairs: two multiply-xorshift rounds per
/// 128-bit word, keyed per process (keys come from clients, so their
/// positions must not be predictable). SipHash, the default, cost most of
/// a lease open (benches/leases.rs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHash(u64);

impl Default for KeyHash {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        KeyHash(*SEED.get_or_init(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x4c45_4153_454b_4559);
            h.finish() | 1
        }))
    }
}

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0)
    }
}

/// The hasher of [`KeyHash`].
#[derive(Debug)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        let h = (self.0 ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (h >> 32);
    }
}

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.mix(v as u64);
        self.mix((v >> 64) as u64);
    }
}

/// The table-wide map from a client's lease key to the file it names (a key
/// names one file per client), behind its own lock, taken only while a
/// shard lock is held (never the other way round).
#[derive(Debug)]
pub(crate) struct LeaseKeys {
    map: Mutex<HashMap<(ClientGuid, LeaseKey), FileNumber, KeyHash>>,
}

impl Default for LeaseKeys {
    fn default() -> Self {
        LeaseKeys { map: Mutex::new(HashMap::default()) }
    }
}

impl LeaseKeys {
    /// The file the key names.
    pub(crate) fn file_of(&self, client: ClientGuid, key: LeaseKey) -> Option<FileNumber> {
        self.map.lock().get(&(client, key)).copied()
    }

    pub(crate) fn claim(&self, client: ClientGuid, key: LeaseKey, file: FileNumber) -> bool {
        let mut m = self.map.lock();
        *m.entry((client, key)).or_insert(file) == file
    }

    pub(crate) fn release(&self, client: ClientGuid, key: LeaseKey) {
        self.map.lock().remove(&(client, key));
    }
}
