//! The synchronization primitives the table is built on, in one place so a
//! model checker can stand in for them.
//!
//! A normal build re-exports `parking_lot`'s `RwLock` and the standard
//! library's atomics unchanged: this module adds no code and no cost, and
//! nothing else in the crate changes.
//!
//! Built with `RUSTFLAGS="--cfg smb_handles_loom"` (only
//! `scripts/model-check.sh` does that, with its own target directory), the
//! same names are [loom](https://docs.rs/loom)'s instrumented types, with the
//! lock wrapped to `parking_lot`'s API (`read()` and `write()` return the
//! guard, no poisoning), so `tests/loom.rs` can explore every interleaving
//! of the table's lock and atomic operations up to a preemption bound. Under
//! loom a table must be created and used inside `loom::model`.
//!
//! The cfg has the crate's own name, not loom's customary `loom`: RUSTFLAGS
//! reach every dependency, and some (tokio, a dev-dependency) change under
//! `cfg(loom)` and then fail to build without their own loom setup. A
//! private name changes this crate only (crossbeam's `crossbeam_loom` does
//! the same).
//!
//! What loom does not model: `parking_lot`'s task fairness (a writer waiting
//! blocks new readers) — loom's lock lets readers in while a writer waits.
//! The table never takes a lock it already holds, so fairness cannot turn
//! one of its paths into a deadlock; loom checks everything else about the
//! locks (mutual exclusion, lock order, deadlock freedom).

// The guard types are exported for code that names them; the table may not.
#[cfg(not(smb_handles_loom))]
pub(crate) use parking_lot::Mutex;
#[cfg(not(smb_handles_loom))]
#[allow(unused_imports)]
pub(crate) use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(not(smb_handles_loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(smb_handles_loom))]
pub(crate) use std::thread::yield_now;

#[cfg(smb_handles_loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(smb_handles_loom)]
pub(crate) use loom::thread::yield_now;
#[cfg(smb_handles_loom)]
pub(crate) use loom_rwlock::Mutex;
#[cfg(smb_handles_loom)]
#[allow(unused_imports)]
pub(crate) use loom_rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(smb_handles_loom)]
mod loom_rwlock {
    use std::fmt;

    pub(crate) use loom::sync::{RwLockReadGuard, RwLockWriteGuard};

    /// loom's `RwLock` with `parking_lot`'s signatures.
    pub(crate) struct RwLock<T>(loom::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub(crate) fn new(value: T) -> RwLock<T> {
            RwLock(loom::sync::RwLock::new(value))
        }

        /// Shared access. A panic under the lock fails the whole model
        /// anyway, so poisoning is ignored as `parking_lot` ignores it.
        #[track_caller]
        pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }

        /// Exclusive access.
        #[track_caller]
        pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// loom's `Mutex` with `parking_lot`'s signature.
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Exclusive access; poisoning ignored as for [`RwLock`].
        #[track_caller]
        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    impl<T> fmt::Debug for Mutex<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Mutex").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Debug for RwLock<T> {
        /// Takes no lock: formatting must not add steps to the model.
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RwLock").finish_non_exhaustive()
        }
    }
}
