//! The record every table in the benchmarks stores, the same small
//! interface implemented on smb-handles and on each peer (so every group
//! runs the same code against every table), and the workload shapes.
//!
//! The peers are what a server author would otherwise write. Index-free
//! ones: a `Mutex<HashMap>`, a `DashMap`, a `sharded_slab::Slab`, an
//! `RwLock<SlotMap>`, and naive sharded `Mutex<slab::Slab>` without padding
//! or generations. Ones that keep real per-file state, as file servers do
//! (`close` maintains it, `by_file` uses it): an intrusive per-file list of
//! opens (ksmbd's inode open list), a per-file array searched on close
//! (Samba's share entries), both on a sharded slab with generations, and a
//! sharded `Mutex<(slab::Slab, HashMap<file, Vec<key>>)>`. Each stores the
//! same record: file number, path, owner, access mask, byte-range lock count
//! and version.
//!
//! Shapes ([`Shape`]): `hot` (hundreds of opens per file, path and owner as
//! fresh strings on every open, as every C caller hands them over),
//! `distinct` (one open per file, shared `Arc<str>` strings, as a Rust
//! caller would pass them) and `zipf` (Zipf-distributed file popularity,
//! shared strings).

#![allow(dead_code)] // each bench target uses a different part of this module

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use parking_lot::{Mutex, RwLock};
use smb_handles::ffi::{self, smbh_handle, smbh_status, smbh_table};
use smb_handles::{AccessMask, CloseError, Config, FileHandle, FileNumber, HandleTable};
use smb_handles::{ListQuery, Location, OpenSpec};

/// One open handle, as the peers store it (ours stores its own records).
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

    /// The same input with its own, newly allocated path and owner: what a
    /// caller that does not share strings hands over on every open.
    pub fn fresh(&self) -> Input {
        Input {
            file_number: self.file_number,
            path: Arc::from(&*self.path),
            owner: Arc::from(&*self.owner),
            access: self.access,
        }
    }
}

/// The one place the benchmarks build smb-handles' `OpenSpec`.
pub fn spec(i: Input) -> OpenSpec {
    OpenSpec::new(
        FileNumber(i.file_number),
        i.path,
        i.owner,
        AccessMask::from_bits_retain(i.access),
    )
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
    /// An open as a C server makes it: path and owner are bytes the caller
    /// owns (`ptr`, `len`); the table checks them and keeps its own copy.
    /// The peers do what a Rust table behind a C ABI would: check UTF-8 and
    /// copy into their own `Arc<str>`.
    fn open_c(&self, file_number: u64, path: &[u8], owner: &[u8], access: u32) -> Self::Key {
        let path = std::str::from_utf8(path).expect("UTF-8 path");
        let owner = std::str::from_utf8(owner).expect("UTF-8 owner");
        self.open(Input { file_number, path: Arc::from(path), owner: Arc::from(owner), access })
    }
    fn get(&self, key: Self::Key) -> Option<Rec>;
    fn close(&self, key: Self::Key) -> Option<Rec>;
    /// A close as a C server makes it: the record is dropped, only the
    /// status comes back.
    fn close_c(&self, key: Self::Key) -> bool {
        self.close(key).is_some()
    }
    /// Closes many; the peers have no batch close, so this is their loop.
    fn close_many(&self, keys: &[Self::Key]) -> usize {
        close_each(self, keys)
    }
    /// [`Table::close_many`] through the C ABI (`smbh_close_batch` for ours,
    /// a loop of [`Table::close_c`] for the peers).
    fn close_many_c(&self, keys: &[Self::Key]) -> usize {
        keys.iter().filter(|&&k| self.close_c(k)).count()
    }
    /// An open through the Rust API with strings borrowed for the call (a
    /// server that decodes path and owner into buffers of its own): ours
    /// takes them as `OpenSpec::borrowed`; the peers, which keep
    /// `Arc<str>`s, copy them.
    fn open_str(&self, file_number: u64, path: &str, owner: &str, access: u32) -> Self::Key {
        self.open(Input { file_number, path: Arc::from(path), owner: Arc::from(owner), access })
    }
    /// Copies every record out; ours pages by `page` handles, the peers
    /// copy everything under their lock(s). Returns how many were copied.
    /// `None` when the table cannot iterate through `&self`.
    fn walk_all(&self, page: usize) -> Option<usize>;
    /// The handles of one file: through a per-file index where the table
    /// keeps one (ours and the per-file peers), else by a scan.
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

/// smb-handles with its default configuration, through the Rust API.
pub struct Ours(pub HandleTable);

impl Table for Ours {
    type Key = Location;
    const NAME: &'static str = "ours";
    fn create() -> Self {
        Ours(HandleTable::new())
    }
    fn open(&self, i: Input) -> Location {
        self.0.open(spec(i)).expect("open")
    }
    fn open_str(&self, file_number: u64, path: &str, owner: &str, access: u32) -> Location {
        let access = AccessMask::from_bits_retain(access);
        self.0.open(OpenSpec::borrowed(FileNumber(file_number), path, owner, access)).expect("open")
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
    /// Every handle of the file, page after page (a popular `zipf` file
    /// holds more than one page), as the peers return them all.
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        let mut query = ListQuery {
            file_number: Some(FileNumber(file)),
            resolve_paths: true,
            limit: Some(10_000),
            after: None,
        };
        let mut out = Vec::new();
        loop {
            let p = self.0.list(&query).expect("list");
            out.extend(p.file_handles.into_iter().map(from_handle));
            match p.next {
                Some(c) => query.after = Some(c),
                None => return Some(out),
            }
        }
    }
}

/// smb-handles through its C ABI: the exported `smbh_*` functions called
/// as a C server calls them (strings as pointer and length).
pub struct OursC(*mut smbh_table);

// SAFETY: every smbh_ function is safe to call from any thread concurrently
// (SPEC §7); the pointer is only freed in `drop`, with no other user.
unsafe impl Send for OursC {}
// SAFETY: as above.
unsafe impl Sync for OursC {}

impl Drop for OursC {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `smbh_table_new` and is freed once.
        unsafe { ffi::smbh_table_free(self.0) }
    }
}

/// `smbh_get`'s visitor: copies the handle into the `Option<Rec>` behind
/// `userdata`.
unsafe extern "C" fn copy_out(userdata: *mut c_void, h: *const smbh_handle) -> c_int {
    // SAFETY: `userdata` is the `&mut Option<Rec>` passed by `OursC::get`
    // and `h` is valid for this call (smbh_get's contract); its strings are
    // UTF-8 of the given lengths.
    unsafe {
        let h = &*h;
        let text = |p: *const std::ffi::c_char, n: usize| -> Arc<str> {
            if p.is_null() {
                Arc::from("")
            } else {
                Arc::from(std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast(), n)))
            }
        };
        *userdata.cast::<Option<Rec>>() = Some(Rec {
            file_number: h.file_number,
            path: text(h.path, h.path_len),
            owner: text(h.owner, h.owner_len),
            access: h.access_mask,
            locks: h.num_byte_range_locks,
            version: h.version,
        });
    }
    0
}

impl Table for OursC {
    type Key = u64;
    const NAME: &'static str = "ours";
    fn create() -> Self {
        let mut t = std::ptr::null_mut();
        // SAFETY: `t` is writable; 0, 0 asks for the defaults.
        let s = unsafe { ffi::smbh_table_new(0, 0, &mut t) };
        assert_eq!(s, smbh_status::Ok);
        OursC(t)
    }
    fn open(&self, i: Input) -> u64 {
        self.open_c(i.file_number, i.path.as_bytes(), i.owner.as_bytes(), i.access)
    }
    fn open_c(&self, file_number: u64, path: &[u8], owner: &[u8], access: u32) -> u64 {
        let mut loc = 0;
        // SAFETY: the table is live, the strings readable for their lengths
        // and `loc` writable.
        let s = unsafe {
            ffi::smbh_open(
                self.0,
                file_number,
                path.as_ptr().cast(),
                path.len(),
                owner.as_ptr().cast(),
                owner.len(),
                access,
                false,
                &mut loc,
            )
        };
        assert_eq!(s, smbh_status::Ok);
        loc
    }
    fn get(&self, key: u64) -> Option<Rec> {
        let mut out: Option<Rec> = None;
        // SAFETY: the table is live; `copy_out` writes only `out`.
        let s = unsafe {
            ffi::smbh_get(self.0, key, Some(copy_out), (&mut out as *mut Option<Rec>).cast())
        };
        if s == smbh_status::Ok {
            out
        } else {
            None
        }
    }
    /// The record as it was, then `smbh_close` (only used untimed: the C
    /// ABI's close gives no record back).
    fn close(&self, key: u64) -> Option<Rec> {
        let rec = self.get(key)?;
        self.close_c(key).then_some(rec)
    }
    fn close_c(&self, key: u64) -> bool {
        // SAFETY: the table is live.
        unsafe { ffi::smbh_close(self.0, key) == smbh_status::Ok }
    }
    fn close_many(&self, keys: &[u64]) -> usize {
        self.close_many_c(keys)
    }
    fn close_many_c(&self, keys: &[u64]) -> usize {
        let mut statuses: Vec<smbh_status> = Vec::with_capacity(keys.len());
        // SAFETY: the table is live; `keys` readable and `statuses` writable
        // for `keys.len()` values, which `set_len` then covers.
        unsafe {
            let s = ffi::smbh_close_batch(self.0, keys.as_ptr(), keys.len(), statuses.as_mut_ptr());
            assert_eq!(s, smbh_status::Ok);
            statuses.set_len(keys.len());
        }
        statuses.iter().filter(|&&s| s == smbh_status::Ok).count()
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        None
    }
    fn by_file(&self, _file: u64) -> Option<Vec<Rec>> {
        None
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

// ---------------------------------------------------------------- per-file peers

/// One shard on its own pair of cache lines (as dashmap and ours pad).
#[repr(align(128))]
pub struct Padded<T>(pub T);

/// A multiplicative hash for `u64` file numbers (FxHash's step): what a
/// performance-minded author puts on an integer-keyed map instead of SipHash.
#[derive(Default, Clone, Copy)]
pub struct FileHasher(u64);

impl Hasher for FileHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

/// A `HashMap` keyed by file number.
pub type FileMap<V> = HashMap<u64, V, BuildHasherDefault<FileHasher>>;

/// No slot / no neighbour.
const NIL: u32 = u32::MAX;
/// Generations are 24 bits, as SPEC §3 asks of ours; a slot whose
/// generation would wrap is retired.
const GEN_BITS: u32 = 24;

/// A key of the generation-checked sharded slabs: generation (24 bits),
/// shard (8 bits), slot (32 bits).
fn gen_key(generation: u32, shard: usize, slot: u32) -> u64 {
    ((generation as u64) << 40) | ((shard as u64) << 32) | slot as u64
}

fn split_key(key: u64) -> (u32, usize, u32) {
    ((key >> 40) as u32, ((key >> 32) & 0xff) as usize, key as u32)
}

/// What a handle's slot holds; the path and file number live in its file.
struct Open {
    owner: Arc<str>,
    access: u32,
    /// Share mode (SPEC §9 `ShareAccess` bits; READ|WRITE|DELETE unless
    /// opened through [`FileSlab::open_share`]).
    share: u32,
    locks: u32,
    version: u64,
    /// The index of its file in the shard's file slab.
    file: u32,
}

struct Slot<L> {
    generation: u32,
    link: L,
    open: Option<Open>,
}

/// Per-file state: one record per open file, created by its first open and
/// freed with its last close; the path belongs to the file.
struct File<M> {
    number: u64,
    path: Arc<str>,
    opens: u32,
    members: M,
}

/// One shard of a generation-checked slab with per-file records.
pub struct FileShard<P: PerFile> {
    slots: Vec<Slot<P::Link>>,
    /// Freed slots, most recently freed last (reused first: generations
    /// make that safe and it keeps the hot path in cache).
    free: Vec<u32>,
    files: slab::Slab<File<P::Members>>,
    index: FileMap<u32>,
}

/// How a per-file peer keeps the set of a file's opens.
pub trait PerFile: Send + Sync + Sized + 'static {
    type Link: Send + Sync + Copy;
    type Members: Send + Sync + Default;
    const NAME: &'static str;
    const NO_LINK: Self::Link;
    fn add(shard: &mut FileShard<Self>, file: u32, slot: u32);
    fn remove(shard: &mut FileShard<Self>, file: u32, slot: u32);
    fn each(shard: &FileShard<Self>, file: u32, f: impl FnMut(u32));
}

/// ksmbd's shape: each file (inode) heads a doubly linked list threaded
/// through its opens' slots; close unlinks in O(1), touching the neighbours.
pub struct IntrusiveList;

#[derive(Clone, Copy)]
pub struct Link {
    prev: u32,
    next: u32,
}

impl PerFile for IntrusiveList {
    type Link = Link;
    /// The list head.
    type Members = Head;
    const NAME: &'static str = "intrusive_list";
    const NO_LINK: Link = Link { prev: NIL, next: NIL };
    fn add(sh: &mut FileShard<Self>, file: u32, slot: u32) {
        let head = sh.files[file as usize].members.0;
        sh.slots[slot as usize].link = Link { prev: NIL, next: head };
        if head != NIL {
            sh.slots[head as usize].link.prev = slot;
        }
        sh.files[file as usize].members.0 = slot;
    }
    fn remove(sh: &mut FileShard<Self>, file: u32, slot: u32) {
        let Link { prev, next } = sh.slots[slot as usize].link;
        if prev == NIL {
            sh.files[file as usize].members.0 = next;
        } else {
            sh.slots[prev as usize].link.next = next;
        }
        if next != NIL {
            sh.slots[next as usize].link.prev = prev;
        }
    }
    fn each(sh: &FileShard<Self>, file: u32, mut f: impl FnMut(u32)) {
        let mut at = sh.files[file as usize].members.0;
        while at != NIL {
            f(at);
            at = sh.slots[at as usize].link.next;
        }
    }
}

/// The head of a file's intrusive list.
pub struct Head(u32);

impl Default for Head {
    fn default() -> Self {
        Head(NIL)
    }
}

/// Samba's shape: each file keeps an array of its opens (share entries);
/// close searches it for the closing open and swap-removes it.
pub struct FileArray;

impl PerFile for FileArray {
    type Link = ();
    type Members = Vec<u32>;
    const NAME: &'static str = "file_array";
    const NO_LINK: () = ();
    fn add(sh: &mut FileShard<Self>, file: u32, slot: u32) {
        sh.files[file as usize].members.push(slot);
    }
    fn remove(sh: &mut FileShard<Self>, file: u32, slot: u32) {
        let v = &mut sh.files[file as usize].members;
        let at = v.iter().position(|&s| s == slot).expect("open in its file's array");
        v.swap_remove(at);
    }
    fn each(sh: &FileShard<Self>, file: u32, f: impl FnMut(u32)) {
        sh.files[file as usize].members.iter().copied().for_each(f);
    }
}

impl<P: PerFile> FileShard<P> {
    fn new() -> Self {
        FileShard {
            slots: Vec::new(),
            free: Vec::new(),
            files: slab::Slab::new(),
            index: FileMap::default(),
        }
    }

    /// Opens; returns the slot, its generation, and the input's path when
    /// the file already had one (for the caller to drop after unlocking).
    fn open(&mut self, i: Input, share: u32) -> (u32, u32, Option<Arc<str>>) {
        let mut spare = None;
        let file = match self.index.entry(i.file_number) {
            std::collections::hash_map::Entry::Occupied(e) => {
                spare = Some(i.path);
                *e.get()
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let f = self.files.insert(File {
                    number: i.file_number,
                    path: i.path,
                    opens: 0,
                    members: P::Members::default(),
                }) as u32;
                e.insert(f);
                f
            }
        };
        let open = Open { owner: i.owner, access: i.access, share, locks: 0, version: 1, file };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize].open = Some(open);
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("shard full");
                self.slots.push(Slot { generation: 1, link: P::NO_LINK, open: Some(open) });
                s
            }
        };
        P::add(self, file, slot);
        self.files[file as usize].opens += 1;
        (slot, self.slots[slot as usize].generation, spare)
    }

    fn live(&self, generation: u32, slot: u32) -> Option<&Open> {
        let s = self.slots.get(slot as usize)?;
        if s.generation != generation {
            return None;
        }
        s.open.as_ref()
    }

    fn rec(&self, o: &Open) -> Rec {
        let f = &self.files[o.file as usize];
        Rec {
            file_number: f.number,
            path: f.path.clone(),
            owner: o.owner.clone(),
            access: o.access,
            locks: o.locks,
            version: o.version,
        }
    }

    fn close(&mut self, generation: u32, slot: u32) -> Option<Rec> {
        self.live(generation, slot)?;
        let s = &mut self.slots[slot as usize];
        let open = s.open.take().expect("live");
        s.generation += 1;
        if s.generation < 1 << GEN_BITS {
            self.free.push(slot);
        }
        P::remove(self, open.file, slot);
        let f = &mut self.files[open.file as usize];
        f.opens -= 1;
        let (number, path) = if f.opens == 0 {
            let f = self.files.remove(open.file as usize);
            self.index.remove(&f.number);
            (f.number, f.path)
        } else {
            (f.number, f.path.clone())
        };
        Some(Rec {
            file_number: number,
            path,
            owner: open.owner,
            access: open.access,
            locks: open.locks,
            version: open.version,
        })
    }
}

impl<P: PerFile> FileShard<P> {
    /// Whether an open of `file` with `access` and `share` passes the share
    /// check against every open of the file, found the way this peer keeps
    /// them (ksmbd walks the inode's open list, Samba its share entries):
    /// O(opens of the file).
    fn share_ok(&self, file: u64, access: u32, share: u32) -> bool {
        let Some(&f) = self.index.get(&file) else { return true };
        let mut ok = true;
        P::each(self, f, |slot| {
            let o = self.slots[slot as usize].open.as_ref().expect("member is live");
            ok &= !share_conflict(access, share, o.access, o.share);
        });
        ok
    }
}

/// SPEC §9's `ShareAccess` bits.
pub const SHARE_READ: u32 = 0x1;
pub const SHARE_WRITE: u32 = 0x2;
pub const SHARE_DELETE: u32 = 0x4;
pub const SHARE_ALL: u32 = SHARE_READ | SHARE_WRITE | SHARE_DELETE;

/// Maps generic access bits as SPEC §9 does for the check.
fn map_generic(access: u32) -> u32 {
    let mut a = access & 0x0FFF_FFFF;
    if access & 0x8000_0000 != 0 {
        a |= 0x0012_0089;
    }
    if access & 0x4000_0000 != 0 {
        a |= 0x0012_0116;
    }
    if access & 0x2000_0000 != 0 {
        a |= 0x0012_00A0;
    }
    if access & 0x1000_0000 != 0 {
        a |= 0x001F_01FF;
    }
    a
}

/// SPEC §9's sharing rule between two opens of one file.
pub fn share_conflict(access_a: u32, share_a: u32, access_b: u32, share_b: u32) -> bool {
    const READ: u32 = 0x1 | 0x20; // FILE_READ_DATA | FILE_EXECUTE
    const WRITE: u32 = 0x2 | 0x4; // FILE_WRITE_DATA | FILE_APPEND_DATA
    const DELETE: u32 = 0x1_0000;
    let (a, b) = (map_generic(access_a), map_generic(access_b));
    let stat = |x: u32| x & (READ | WRITE | DELETE) == 0;
    if stat(a) || stat(b) {
        return false;
    }
    let refuses = |access: u32, share: u32| {
        (access & READ != 0 && share & SHARE_READ == 0)
            || (access & WRITE != 0 && share & SHARE_WRITE == 0)
            || (access & DELETE != 0 && share & SHARE_DELETE == 0)
    };
    refuses(b, share_a) || refuses(a, share_b)
}

impl<P: PerFile> FileSlab<P> {
    /// An open with a share check, atomic with the insertion (one shard
    /// lock); `None` is a sharing violation.
    pub fn open_share(&self, i: Input, share: u32) -> Option<u64> {
        let sh = shard_for(i.file_number, self.0.len());
        let mut g = self.0[sh].0.lock();
        if !g.share_ok(i.file_number, i.access, share) {
            drop(g);
            return None;
        }
        let (slot, generation, spare) = g.open(i, share);
        drop(g);
        drop(spare);
        Some(gen_key(generation, sh, slot))
    }
}

/// A sharded slab with generations and per-file records, shards by file
/// number (so a file's opens and its record share a lock), padded shards.
pub struct FileSlab<P: PerFile>(Vec<Padded<Mutex<FileShard<P>>>>);

impl<P: PerFile> Table for FileSlab<P> {
    type Key = u64;
    const NAME: &'static str = P::NAME;
    fn create() -> Self {
        FileSlab((0..shard_count()).map(|_| Padded(Mutex::new(FileShard::new()))).collect())
    }
    fn open(&self, i: Input) -> u64 {
        let sh = shard_for(i.file_number, self.0.len());
        let (slot, generation, spare) = self.0[sh].0.lock().open(i, SHARE_ALL);
        drop(spare);
        gen_key(generation, sh, slot)
    }
    fn get(&self, key: u64) -> Option<Rec> {
        let (generation, sh, slot) = split_key(key);
        let g = self.0.get(sh)?.0.lock();
        let o = g.live(generation, slot)?;
        Some(g.rec(o))
    }
    fn close(&self, key: u64) -> Option<Rec> {
        let (generation, sh, slot) = split_key(key);
        let r = self.0.get(sh)?.0.lock().close(generation, slot);
        r
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        let mut v: Vec<Rec> = Vec::new();
        for s in &self.0 {
            let g = s.0.lock();
            v.extend(g.slots.iter().filter_map(|s| s.open.as_ref()).map(|o| g.rec(o)));
        }
        Some(std::hint::black_box(v).len())
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        let g = self.0[shard_for(file, self.0.len())].0.lock();
        let mut v = Vec::new();
        if let Some(&f) = g.index.get(&file) {
            P::each(&g, f, |slot| {
                v.push(g.rec(g.slots[slot as usize].open.as_ref().expect("member is live")))
            });
        }
        Some(v)
    }
}

/// ksmbd-like: intrusive per-file open list.
pub type IntrusiveListPeer = FileSlab<IntrusiveList>;
/// Samba-like: per-file array searched on close.
pub type FileArrayPeer = FileSlab<FileArray>;

// ---------------------------------------------------------------- slab + file map

type SlabFiles = (slab::Slab<Rec>, FileMap<Vec<u32>>);

/// Sharded (by file number, padded) `Mutex<(slab::Slab<Rec>, HashMap<file,
/// Vec<key>>)>`: the whole record per handle in the slab, a file's keys in
/// the map. Keys: shard in the high 32 bits, slab key below (no
/// generations: `slab` has none).
pub struct SlabFileMap(Vec<Padded<Mutex<SlabFiles>>>);

impl Table for SlabFileMap {
    type Key = u64;
    const NAME: &'static str = "slab_file_map";
    fn create() -> Self {
        SlabFileMap(
            (0..shard_count())
                .map(|_| Padded(Mutex::new((slab::Slab::new(), FileMap::default()))))
                .collect(),
        )
    }
    fn open(&self, i: Input) -> u64 {
        let s = shard_for(i.file_number, self.0.len());
        let file = i.file_number;
        let mut g = self.0[s].0.lock();
        let (slab, files) = &mut *g;
        let k = slab.insert(i.rec()) as u32;
        files.entry(file).or_default().push(k);
        ((s as u64) << 32) | k as u64
    }
    fn get(&self, key: u64) -> Option<Rec> {
        self.0.get((key >> 32) as usize)?.0.lock().0.get(key as u32 as usize).cloned()
    }
    fn close(&self, key: u64) -> Option<Rec> {
        let mut g = self.0.get((key >> 32) as usize)?.0.lock();
        let (slab, files) = &mut *g;
        let k = key as u32;
        let rec = slab.try_remove(k as usize)?;
        let std::collections::hash_map::Entry::Occupied(mut e) = files.entry(rec.file_number)
        else {
            unreachable!("an open's file is in the map")
        };
        let v = e.get_mut();
        let at = v.iter().position(|&x| x == k).expect("key in its file's list");
        v.swap_remove(at);
        if v.is_empty() {
            e.remove();
        }
        Some(rec)
    }
    fn walk_all(&self, _page: usize) -> Option<usize> {
        let mut v: Vec<Rec> = Vec::new();
        for s in &self.0 {
            let g = s.0.lock();
            v.extend(g.0.iter().map(|(_, r)| r.clone()));
        }
        Some(std::hint::black_box(v).len())
    }
    fn by_file(&self, file: u64) -> Option<Vec<Rec>> {
        let g = self.0[shard_for(file, self.0.len())].0.lock();
        let keys = g.1.get(&file).map(|v| v.as_slice()).unwrap_or(&[]);
        Some(keys.iter().map(|&k| g.0[k as usize].clone()).collect())
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
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Distinct owners the workload draws from (sessions of a busy server).
pub const OWNERS: usize = 64;
/// Distinct path strings the workload draws from.
pub const PATHS: usize = 4096;
/// Opens per file in the `hot` shape, on average, at the live size.
pub const HOT_OPENS_PER_FILE: usize = 200;
/// The exponent of the `zipf` shape's popularity (classic Zipf).
pub const ZIPF_EXPONENT: f64 = 1.0;

/// The shared strings: tables given shared strings get clones of the same
/// `Arc`s; fresh strings are copied from them.
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
}

impl Default for Strings {
    fn default() -> Self {
        Strings::new()
    }
}

/// The workload shapes of issue 8; every group runs on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Hundreds of opens per file (`HOT_OPENS_PER_FILE` on average at the
    /// live size), path and owner as fresh strings on every open.
    Hot,
    /// One open per file (a distinct random file number per open), shared
    /// `Arc<str>` strings.
    Distinct,
    /// Zipf(1) file popularity over as many files as live handles (at
    /// 1 000 000 the top file holds ~7 % of the opens), shared strings.
    Zipf,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::Hot, Shape::Distinct, Shape::Zipf];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Hot => "hot",
            Shape::Distinct => "distinct",
            Shape::Zipf => "zipf",
        }
    }

    /// Whether a Rust caller hands over fresh strings on every open.
    pub fn fresh_strings(self) -> bool {
        self == Shape::Hot
    }

    /// The shapes to run: `BENCH_SHAPES=hot,zipf` (default all).
    pub fn selected() -> Vec<Shape> {
        match std::env::var("BENCH_SHAPES") {
            Ok(only) => {
                Shape::ALL.into_iter().filter(|s| only.split(',').any(|o| o == s.name())).collect()
            }
            Err(_) => Shape::ALL.to_vec(),
        }
    }
}

/// Whether `BENCH_TABLES` (comma-separated names, default all) selects `name`.
pub fn table_selected(name: &str) -> bool {
    match std::env::var("BENCH_TABLES") {
        Ok(only) => only.split(',').any(|t| t == name),
        Err(_) => true,
    }
}

/// Scatters file index `i` over the u64 range (and so over the shards).
fn file_number(i: u64) -> u64 {
    (i ^ 0x5DEE_CE66_D1CE_4E5B).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// Draws the opens of one shape for a table of about `live` handles.
#[derive(Clone, Debug)]
pub struct Workload {
    pub shape: Shape,
    pub strings: Strings,
    /// Files of the `hot` shape.
    files: usize,
    /// Cumulative Zipf probabilities by rank (`zipf` shape only).
    zipf: Arc<Vec<f64>>,
}

impl Workload {
    pub fn new(shape: Shape, live: usize) -> Workload {
        let files = (live / HOT_OPENS_PER_FILE).max(1);
        let zipf = if shape == Shape::Zipf {
            let mut acc = 0.0;
            let mut cdf: Vec<f64> = (1..=live.max(1))
                .map(|k| {
                    acc += (k as f64).powf(-ZIPF_EXPONENT);
                    acc
                })
                .collect();
            let total = acc;
            cdf.iter_mut().for_each(|c| *c /= total);
            cdf
        } else {
            Vec::new()
        };
        Workload { shape, strings: Strings::new(), files, zipf: Arc::new(zipf) }
    }

    /// The next open of the workload, strings passed as this shape's caller
    /// passes them (fresh allocations or clones of shared `Arc`s).
    pub fn input(&self, rng: &mut Rng) -> Input {
        let r = rng.next_u64();
        let owner = &self.strings.owners[(r >> 20) as usize % OWNERS];
        let access = 0x0012_0089; // read data/attributes/EA, read control, synchronize
        match self.shape {
            Shape::Hot => {
                let f = rng.below(self.files);
                Input {
                    file_number: file_number(f as u64),
                    path: Arc::from(&*self.strings.paths[f % PATHS]),
                    owner: Arc::from(&**owner),
                    access,
                }
            }
            Shape::Distinct => Input {
                file_number: r >> 8,
                path: self.strings.paths[(r as usize) % PATHS].clone(),
                owner: owner.clone(),
                access,
            },
            Shape::Zipf => {
                let u = rng.unit();
                let rank = self.zipf.partition_point(|&c| c < u).min(self.zipf.len() - 1);
                Input {
                    file_number: file_number(rank as u64),
                    path: self.strings.paths[rank % PATHS].clone(),
                    owner: owner.clone(),
                    access,
                }
            }
        }
    }
}

/// Fills `table` with `n` handles; returns their keys in random order.
pub fn fill<T: Table>(table: &T, work: &Workload, n: usize, rng: &mut Rng) -> Vec<T::Key> {
    fill_via(table, work, n, rng, Via::Rust)
}

/// How a pool opens its handles: as the benchmarks that use it do, so that
/// every table holds strings the same way (shared, or its own copies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `Table::open` with the workload's `Arc<str>`s.
    Rust,
    /// `Table::open_c`: the table copies path and owner from bytes.
    C,
}

fn open_via<T: Table>(table: &T, i: Input, via: Via) -> T::Key {
    match via {
        Via::Rust => table.open(i),
        Via::C => table.open_c(i.file_number, i.path.as_bytes(), i.owner.as_bytes(), i.access),
    }
}

fn fill_via<T: Table>(
    table: &T,
    work: &Workload,
    n: usize,
    rng: &mut Rng,
    via: Via,
) -> Vec<T::Key> {
    let mut keys: Vec<T::Key> = (0..n).map(|_| open_via(table, work.input(rng), via)).collect();
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
    pub work: Workload,
    rng: Rng,
    via: Via,
}

impl<T: Table> Pool<T> {
    /// Fills `table` with `n` handles of the shape `work` draws, opened
    /// (now and on every refill) through `via`.
    pub fn new(table: &T, work: Workload, n: usize, seed: u64, via: Via) -> Pool<T> {
        let mut rng = Rng(seed);
        let keys = fill_via(table, &work, n, &mut rng, via);
        Pool { keys, handed: 0, work, rng, via }
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
                self.keys[i] = open_via(table, self.work.input(&mut self.rng), self.via);
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
            assert!(table.close_c(key), "live key");
        }
        (0..k).map(|_| self.work.input(&mut self.rng)).collect()
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

// ---------------------------------------------------------------- criterion

/// `BENCH_QUICK=1`: tiny sizes and times, to check that everything runs.
pub fn quick_mode() -> bool {
    std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0")
}

/// The large table of the issue: 1 000 000 live handles.
pub fn big() -> usize {
    if quick_mode() {
        20_000
    } else {
        1_000_000
    }
}

/// One group, named `<op>/<shape>`, with the suite's time budget: 20
/// samples, 0.3 s warm-up, 1 s measurement (the whole run must fit in 25
/// minutes on 2 cores).
pub fn group<'c>(c: &'c mut Criterion, op: &str, shape: Shape) -> BenchmarkGroup<'c, WallTime> {
    group_named(c, &format!("{op}/{}", shape.name()))
}

/// A group named `name` (`<op>/<case>`) with the suite's time budget (see
/// [`group`]).
pub fn group_named<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    if quick_mode() {
        g.warm_up_time(Duration::from_millis(50))
            .measurement_time(Duration::from_millis(200))
            .sample_size(10);
    } else {
        g.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
    }
    g
}

/// Batches of 1 000 opens into the big table (the setup first closes 1 000
/// random handles, so the table keeps its size); `open` makes one; reported
/// as `name`.
pub fn opens<T: Table>(
    c: &mut Criterion,
    table: &T,
    pool: &mut Pool<T>,
    op: &str,
    name: &str,
    open: impl Fn(&T, Input) -> T::Key,
) {
    const K: usize = 1_000;
    let opened: RefCell<Vec<T::Key>> = RefCell::new(Vec::new());
    let n = pool.len();
    let mut g = group(c, op, pool.work.shape);
    g.throughput(Throughput::Elements(K as u64));
    g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
        b.iter_batched_ref(
            || pool.batch_to_open(table, K, &opened),
            |inputs| {
                let mut out = opened.borrow_mut();
                for input in inputs.drain(..) {
                    out.push(open(table, input));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    pool.settle_opened(&opened);
}
