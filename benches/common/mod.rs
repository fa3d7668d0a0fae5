//! The record every table in the benchmarks stores, and the same small
//! interface implemented on smb-handles and on each peer, so every group
//! runs the same code against every table.
//!
//! The peers are what a server author would otherwise write: a
//! `Mutex<HashMap>`, a `DashMap`, a `sharded_slab::Slab`, an
//! `RwLock<SlotMap>`, and naive sharded `Mutex<slab::Slab>` without padding
//! or generations. Each stores the same record: file number, path and owner
//! (`Arc<str>`, shared the same way by every table), access mask, byte-range
//! lock count and version.

#![allow(dead_code)] // each bench target uses a different part of this module

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use smb_handles::{AccessMask, CloseError, Config, FileHandle, FileNumber, HandleTable};
use smb_handles::{ListQuery, Location, OpenSpec};

/// One open handle, as the peers store it (ours stores its own slot).
#[derive(Clone, Debug)]
pub struct Rec {
    pub file_number: u64,
    pub path: Arc<str>,
    pub owner: Arc<str>,
    pub access: u32,
    pub locks: u32,
    pub version: u64,
}

/// What a benchmark opens: the same inputs for every table.
#[derive(Clone, Debug)]
pub struct Input {
    pub file_number: u64,
    pub path: Arc<str>,
    pub owner: Arc<str>,
    pub access: u32,
}

impl Input {
    fn rec(self) -> Rec {
        Rec {
            file_number: self.file_number,
            path: self.path,
            owner: self.owner,
            access: self.access,
            locks: 0,
            version: 1,
        }
    }
}

/// The operations the benchmarks need, on every table.
pub trait Table: Send + Sync + Sized {
    /// The id an open hands back.
    type Key: Copy + Send + Sync + std::fmt::Debug;
    /// The name in benchmark ids and the report.
    const NAME: &'static str;
    /// An empty table.
    fn create() -> Self;
    fn open(&self, input: Input) -> Self::Key;
    fn get(&self, key: Self::Key) -> Option<Rec>;
    fn close(&self, key: Self::Key) -> Option<Rec>;
    /// Closes many; the peers have no batch close, so this is their loop.
    fn close_many(&self, keys: &[Self::Key]) -> usize {
        close_each(self, keys)
    }
    /// Copies every record out; ours pages by `page` handles, the peers
    /// copy everything under their lock(s). Returns how many were copied.
    /// `None` when the table cannot iterate through `&self`.
    fn walk_all(&self, page: usize) -> Option<usize>;
    /// The handles of one file: ours through its per-file index, the peers
    /// by a full scan (they have no per-file index).
    fn by_file(&self, file: u64) -> Option<Vec<Rec>>;
}

/// Closes `keys` one at a time; returns how many closed.
pub fn close_each<T: Table>(table: &T, keys: &[T::Key]) -> usize {
    keys.iter().filter(|&&k| std::hint::black_box(table.close(k)).is_some()).count()
}

/// The number of shards every sharded table uses: the same default as ours.
pub fn shard_count() -> usize {
    Config::default_shards()
}

/// The shard a file lands in (what a naive sharded table would do).
fn shard_for(file: u64, shards: usize) -> usize {
    let h = file.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (((h >> 32) * shards as u64) >> 32) as usize
}

fn from_handle(h: FileHandle) -> Rec {
    Rec {
        file_number: h.file_number.0,
        path: h.handle_info.path.unwrap_or_else(|| Arc::from("")),
        owner: h.handle_info.owner,
        access: h.handle_info.access_mask.bits(),
        locks: h.handle_info.num_byte_range_locks,
        version: h.handle_info.version,
    }
}

// ---------------------------------------------------------------- ours

/// smb-handles with its default configuration.
pub struct Ours(pub HandleTable);

impl Table for Ours {
    type Key = Location;
    const NAME: &'static str = "ours";
    fn create() -> Self {
        Ours(HandleTable::new())
    }
    fn open(&self, i: Input) -> Location {
        self.0
            .open(OpenSpec {
                file_number: FileNumber(i.file_number),
                path: i.path,
                owner: i.owner,
                access_mask: AccessMask::from_bits_retain(i.access),
                share_access: smb_handles::ShareAccess::all(),
                directory: false,
            })
            .expect("open")
    }
    fn get(&self, key: Location) -> Option<Rec> {
        self.0.get(key).map(from_handle)
    }
    fn close(&self, key: Location) -> Option<Rec> {
        self.0.close(key).ok().map(from_handle)
    }
    fn close_many(&self, keys: &[Location]) -> usize {
        let results: Vec<Result<FileHandle, CloseError>> = self.0.close_batch(keys);
        results.iter().filter(|r| r.is_ok()).count()
    }
    fn walk_all(&self, page: usize) -> Option<usize> {
        let mut query = ListQuery { limit: Some(page), resolve_paths: true, ..Default::default() };
        let mut n = 0;
        loop {
            let p = self.0.list(&query).expect("list");
            n += std::hint::black_box(p.file_handles).len();
            match p.next {
                Some(c) => query.after = Some(c),
                None => return Some(n),
            }
        }
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        let query = ListQuery {
            file_number: Some(FileNumber(file)),
            resolve_paths: true,
            limit: Some(10_000),
            after: None,
        };
        Some(self.0.list(&query).expect("list").file_handles.into_iter().map(from_handle).collect())
    }
}

// ---------------------------------------------------------------- Mutex<HashMap>

/// `parking_lot::Mutex<HashMap<u64, Rec>>` with a counter for ids.
pub struct MutexHashMap(Mutex<(u64, HashMap<u64, Rec>)>);

impl Table for MutexHashMap {
    type Key = u64;
    const NAME: &'static str = "mutex_hashmap";
    fn create() -> Self {
        MutexHashMap(Mutex::new((0, HashMap::new())))
    }
    fn open(&self, i: Input) -> u64 {
        let mut g = self.0.lock();
        g.0 += 1;
        let id = g.0;
        g.1.insert(id, i.rec());
        id
    }
    fn get(&self, key: u64) -> Option<Rec> {
        self.0.lock().1.get(&key).cloned()
    }
    fn close(&self, key: u64) -> Option<Rec> {
        let r = self.0.lock().1.remove(&key);
        r
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        let g = self.0.lock();
        let v: Vec<Rec> = g.1.values().cloned().collect();
        drop(g);
        Some(std::hint::black_box(v).len())
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        let g = self.0.lock();
        Some(g.1.values().filter(|r| r.file_number == file).cloned().collect())
    }
}

// ---------------------------------------------------------------- DashMap

/// `dashmap::DashMap<u64, Rec>` with an atomic counter for ids.
pub struct Dash(dashmap::DashMap<u64, Rec>, AtomicU64);

impl Table for Dash {
    type Key = u64;
    const NAME: &'static str = "dashmap";
    fn create() -> Self {
        Dash(dashmap::DashMap::new(), AtomicU64::new(0))
    }
    fn open(&self, i: Input) -> u64 {
        let id = self.1.fetch_add(1, Ordering::Relaxed) + 1;
        self.0.insert(id, i.rec());
        id
    }
    fn get(&self, key: u64) -> Option<Rec> {
        self.0.get(&key).map(|r| r.value().clone())
    }
    fn close(&self, key: u64) -> Option<Rec> {
        self.0.remove(&key).map(|(_, r)| r)
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        let v: Vec<Rec> = self.0.iter().map(|r| r.value().clone()).collect();
        Some(std::hint::black_box(v).len())
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        Some(
            self.0
                .iter()
                .filter(|r| r.value().file_number == file)
                .map(|r| r.value().clone())
                .collect(),
        )
    }
}

// ---------------------------------------------------------------- sharded-slab

/// `sharded_slab::Slab<Rec>` with its default configuration.
pub struct ShardedSlab(sharded_slab::Slab<Rec>);

impl Table for ShardedSlab {
    type Key = usize;
    const NAME: &'static str = "sharded_slab";
    fn create() -> Self {
        ShardedSlab(sharded_slab::Slab::new())
    }
    fn open(&self, i: Input) -> usize {
        self.0.insert(i.rec()).expect("sharded-slab full")
    }
    fn get(&self, key: usize) -> Option<Rec> {
        self.0.get(key).map(|e| e.clone())
    }
    fn close(&self, key: usize) -> Option<Rec> {
        self.0.take(key)
    }
    /// sharded-slab iterates only through `&mut self` (`unique_iter`): no
    /// walk while others may mutate, so no listing.
    fn walk_all(&self, _page: usize) -> Option<usize> {
        None
    }
    fn by_file(&self, _file: u64) -> Option<Vec<Rec>> {
        None
    }
}

// ---------------------------------------------------------------- RwLock<SlotMap>

/// `parking_lot::RwLock<slotmap::SlotMap<DefaultKey, Rec>>`.
pub struct RwSlotMap(RwLock<slotmap::SlotMap<slotmap::DefaultKey, Rec>>);

impl Table for RwSlotMap {
    type Key = slotmap::DefaultKey;
    const NAME: &'static str = "rwlock_slotmap";
    fn create() -> Self {
        RwSlotMap(RwLock::new(slotmap::SlotMap::new()))
    }
    fn open(&self, i: Input) -> slotmap::DefaultKey {
        self.0.write().insert(i.rec())
    }
    fn get(&self, key: slotmap::DefaultKey) -> Option<Rec> {
        self.0.read().get(key).cloned()
    }
    fn close(&self, key: slotmap::DefaultKey) -> Option<Rec> {
        let r = self.0.write().remove(key);
        r
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        let g = self.0.read();
        let v: Vec<Rec> = g.values().cloned().collect();
        drop(g);
        Some(std::hint::black_box(v).len())
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        let g = self.0.read();
        Some(g.values().filter(|r| r.file_number == file).cloned().collect())
    }
}

// ---------------------------------------------------------------- naive sharded slab

/// Naive sharding: `Vec<Mutex<slab::Slab<Rec>>>`, shards side by side (no
/// padding), keys without generations (shard in the high 32 bits).
pub struct NaiveShardedSlab(Vec<Mutex<slab::Slab<Rec>>>);

impl Table for NaiveShardedSlab {
    type Key = u64;
    const NAME: &'static str = "naive_sharded_slab";
    fn create() -> Self {
        NaiveShardedSlab((0..shard_count()).map(|_| Mutex::new(slab::Slab::new())).collect())
    }
    fn open(&self, i: Input) -> u64 {
        let s = shard_for(i.file_number, self.0.len());
        let k = self.0[s].lock().insert(i.rec());
        ((s as u64) << 32) | k as u64
    }
    fn get(&self, key: u64) -> Option<Rec> {
        self.0[(key >> 32) as usize].lock().get(key as u32 as usize).cloned()
    }
    fn close(&self, key: u64) -> Option<Rec> {
        self.0[(key >> 32) as usize].lock().try_remove(key as u32 as usize)
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        let mut v: Vec<Rec> = Vec::new();
        for s in &self.0 {
            let g = s.lock();
            v.extend(g.iter().map(|(_, r)| r.clone()));
        }
        Some(std::hint::black_box(v).len())
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        // Even a naive table knows the file's shard.
        let g = self.0[shard_for(file, self.0.len())].lock();
        Some(g.iter().filter(|(_, r)| r.file_number == file).map(|(_, r)| r.clone()).collect())
    }
}

// ---------------------------------------------------------------- workload

/// A small, fast, seedable generator (splitmix64): the same sequence for
/// every table.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// Distinct owners the workload draws from (sessions of a busy server).
pub const OWNERS: usize = 64;
/// Distinct paths the workload draws from.
pub const PATHS: usize = 4096;

/// The shared strings: every table gets clones of the same `Arc`s, so
/// strings cost the same in all and memory counts only the tables.
#[derive(Clone, Debug)]
pub struct Strings {
    pub paths: Vec<Arc<str>>,
    pub owners: Vec<Arc<str>>,
}

impl Strings {
    pub fn new() -> Strings {
        Strings {
            paths: (0..PATHS)
                .map(|i| Arc::from(format!("/projects/q{}/dir{}/report{i}.xlsx", i % 4, i % 97)))
                .collect(),
            owners: (0..OWNERS)
                .map(|i| {
                    Arc::from(format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1000 + i))
                })
                .collect(),
        }
    }

    /// The `n`th open of the workload: a distinct file number per open (the
    /// worst case for a per-file index), path and owner drawn from the
    /// shared strings.
    pub fn input(&self, rng: &mut Rng) -> Input {
        let r = rng.next_u64();
        Input {
            file_number: r >> 8,
            path: self.paths[(r as usize) % PATHS].clone(),
            owner: self.owners[(r >> 20) as usize % OWNERS].clone(),
            access: 0x0012_0089, // read data/attributes/EA, read control, synchronize
        }
    }
}

impl Default for Strings {
    fn default() -> Self {
        Strings::new()
    }
}

/// Fills `table` with `n` handles; returns their keys in random order.
pub fn fill<T: Table>(table: &T, strings: &Strings, n: usize, rng: &mut Rng) -> Vec<T::Key> {
    let mut keys: Vec<T::Key> = (0..n).map(|_| table.open(strings.input(rng))).collect();
    shuffle(&mut keys, rng);
    keys
}

/// Fisher–Yates.
pub fn shuffle<K>(v: &mut [K], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// A table kept at a steady number of live handles while benchmarks close
/// or open batches of random handles in it: building a 1 000 000-handle
/// table per batch would cost seconds, so each batch's setup instead puts
/// back what earlier batches took away (untimed) and picks the next batch at
/// random among all live handles.
///
/// Criterion may run several setups before the routines that use them
/// (`BatchSize::LargeInput` batches iterations), so the pool only puts
/// handles back once the routines report (through `closed` or `opened`)
/// that every batch it handed out has been used.
pub struct Pool<T: Table> {
    /// Every live key; the last `handed` ones were handed out.
    keys: Vec<T::Key>,
    handed: usize,
    strings: Strings,
    rng: Rng,
}

impl<T: Table> Pool<T> {
    /// Fills `table` with `n` handles.
    pub fn new(table: &T, n: usize, seed: u64) -> Pool<T> {
        let strings = Strings::new();
        let mut rng = Rng(seed);
        let keys = fill(table, &strings, n, &mut rng);
        Pool { keys, handed: 0, strings, rng }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The live keys (in random order); call [`Pool::settle_closed`] or
    /// [`Pool::settle_opened`] first.
    pub fn keys(&self) -> &[T::Key] {
        assert_eq!(self.handed, 0);
        &self.keys
    }

    /// Moves `k` random keys not yet handed out to the handed region and
    /// returns them.
    fn pick(&mut self, k: usize) -> Vec<T::Key> {
        let n = self.keys.len() - self.handed;
        assert!(k <= n, "pool exhausted: use fewer iterations per batch");
        for j in 0..k {
            let i = n - 1 - j;
            let r = self.rng.below(i + 1);
            self.keys.swap(i, r);
        }
        self.handed += k;
        self.keys[n - k..n].to_vec()
    }

    /// Hands out `k` random live keys for the routine to close; the routine
    /// adds how many it closed to `closed`. Once every handed key is closed,
    /// reopens as many handles first.
    pub fn batch_to_close(&mut self, table: &T, k: usize, closed: &Cell<usize>) -> Vec<T::Key> {
        self.settle_closed(table, closed);
        self.pick(k)
    }

    /// Reopens the closed handles, if every handed key has been closed.
    pub fn settle_closed(&mut self, table: &T, closed: &Cell<usize>) {
        if self.handed > 0 && closed.get() == self.handed {
            let n = self.keys.len();
            for i in n - self.handed..n {
                self.keys[i] = table.open(self.strings.input(&mut self.rng));
            }
            self.handed = 0;
            closed.set(0);
        }
    }

    /// Closes `k` random live handles (untimed) and returns `k` inputs for
    /// the routine to open in their place, pushing the new keys to
    /// `opened`. Once every closed handle has been replaced, takes the new
    /// keys in first.
    pub fn batch_to_open(
        &mut self,
        table: &T,
        k: usize,
        opened: &RefCell<Vec<T::Key>>,
    ) -> Vec<Input> {
        self.settle_opened(opened);
        for key in self.pick(k) {
            table.close(key).expect("live key");
        }
        (0..k).map(|_| self.strings.input(&mut self.rng)).collect()
    }

    /// Takes in the keys the routines opened, if they replace every
    /// handle closed.
    pub fn settle_opened(&mut self, opened: &RefCell<Vec<T::Key>>) {
        let mut opened = opened.borrow_mut();
        if self.handed > 0 && opened.len() == self.handed {
            let n = self.keys.len();
            self.keys[n - self.handed..].copy_from_slice(&opened);
            self.handed = 0;
            opened.clear();
        }
    }
}
