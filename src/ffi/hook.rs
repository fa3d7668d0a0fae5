//! The C unlock-notification hook: `smbh_unlock_hook` and
//! `smbh_set_unlock_hook`, whose replacement of a hook waits for the old
//! one's calls under way on other threads.

use std::ffi::c_void;
use std::sync::Arc;

use super::panic::ffi_boundary;
use super::ptr::{table_ref, tri};
use super::status::smbh_status;
use super::table::smbh_table;
use crate::FileNumber;

/// Called with `context` and a file number after byte-range locks of that
/// file were released (by smbh_unlock or by closing a handle that held
/// locks), on the releasing thread, with no table lock held: a server that
/// offers blocking locks retries that file's waiters. It may call any smbh_
/// function. It must return normally.
pub type smbh_unlock_hook = Option<unsafe extern "C" fn(context: *mut c_void, file_number: u64)>;

/// The C hook and its context, callable from any thread (the caller of
/// smbh_set_unlock_hook promises that).
struct CHook {
    hook: unsafe extern "C" fn(*mut c_void, u64),
    context: *mut c_void,
}

impl CHook {
    fn call(&self, file: FileNumber) {
        // SAFETY: smbh_set_unlock_hook's contract: callable with `context`
        // from any thread.
        unsafe { (self.hook)(self.context, file.0) }
    }
}

// SAFETY: smbh_set_unlock_hook's contract: the hook may be called from any
// thread with this context.
unsafe impl Send for CHook {}
// SAFETY: as above; the hook is only ever called, never mutated.
unsafe impl Sync for CHook {}

/// Installs `hook` (NULL removes it), called as `hook(context, file_number)`
/// after locks of a file were released; see smbh_unlock_hook. Replacing the
/// hook while other threads are releasing locks is safe: each calls the old
/// hook or the new one, and this function returns only when no call of the
/// old hook is running on another thread (it waits for those under way), so
/// the old `context` may be freed once it returns. Called from inside the
/// hook itself, it cannot wait for that call: the old context must then
/// outlive the hook's return.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER (`table` NULL).
///
/// # Safety
///
/// `table` is NULL or live; `hook` is safe to call with `context` from any
/// thread until the call of smbh_set_unlock_hook that replaces it returns
/// (or the table is freed).
#[no_mangle]
pub unsafe extern "C" fn smbh_set_unlock_hook(
    table: *const smbh_table,
    hook: smbh_unlock_hook,
    context: *mut c_void,
) -> smbh_status {
    ffi_boundary! {
        // SAFETY: the caller's promise on `table`.
        let table = tri!(unsafe { table_ref(table) });
        let installed = hook.map(|hook| {
            let c = CHook { hook, context };
            Arc::new(move |file: FileNumber| c.call(file)) as crate::UnlockHook
        });
        let old = table.replace_unlock_hook(installed);
        if let Some(old) = old {
            // The table held the old hook's only `Arc` (this function made
            // it); every other one belongs to a call under way. Wait for
            // those on other threads: this thread's own calls of it (when
            // it is replaced from inside itself) cannot end before this
            // returns.
            let mine = crate::table::calls_on_this_thread(&old);
            while Arc::strong_count(&old) > 1 + mine {
                std::thread::yield_now();
            }
        }
        smbh_status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LockElement, LockKind, LockRange};

    /// A hook call under way on another thread when the hook is replaced:
    /// smbh_set_unlock_hook returns only after it, so the caller may free
    /// the old context.
    #[test]
    fn replacing_the_hook_waits_for_calls_under_way() {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::time::Duration;

        use crate::{AccessMask, HandleTable, OpenSpec};

        /// 1 once the hook was entered, 2 once it returned.
        static STATE: AtomicU32 = AtomicU32::new(0);
        unsafe extern "C" fn slow_hook(_context: *mut c_void, _file: u64) {
            STATE.store(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            STATE.store(2, Ordering::SeqCst);
        }

        let table = Box::new(smbh_table { inner: HandleTable::new() });
        let t: *const smbh_table = &*table;
        // SAFETY: `table` is live for the whole test; the hook ignores its context.
        assert_eq!(
            unsafe { smbh_set_unlock_hook(t, Some(slow_hook), std::ptr::null_mut()) },
            smbh_status::Ok
        );
        let loc = table
            .inner
            .open(OpenSpec::new(FileNumber(3), "/f", "o", AccessMask::FILE_WRITE_DATA))
            .unwrap();
        let el = LockElement { offset: 0, length: 1, kind: LockKind::Exclusive };
        table.inner.lock(loc, &[el]).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| table.inner.unlock(loc, &[LockRange { offset: 0, length: 1 }]).unwrap());
            while STATE.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            // SAFETY: as above.
            let st = unsafe { smbh_set_unlock_hook(t, None, std::ptr::null_mut()) };
            assert_eq!(st, smbh_status::Ok);
            assert_eq!(STATE.load(Ordering::SeqCst), 2, "returned while the old hook was running");
        });
    }

    /// Replacing table B's hook from inside table A's hook still waits for
    /// B's old hook running on another thread (only calls of the replaced
    /// hook on this very thread are not waited for).
    #[test]
    fn replacing_from_inside_another_hook_still_waits() {
        use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
        use std::time::Duration;

        use crate::{AccessMask, HandleTable, OpenSpec};

        /// B's hook: 1 once entered, 2 once returned.
        static B_STATE: AtomicU32 = AtomicU32::new(0);
        /// What B's state was when the replacement returned.
        static SEEN: AtomicU32 = AtomicU32::new(0);
        static REPLACED: AtomicUsize = AtomicUsize::new(0);
        unsafe extern "C" fn slow_b(_context: *mut c_void, _file: u64) {
            B_STATE.store(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            B_STATE.store(2, Ordering::SeqCst);
        }
        unsafe extern "C" fn a_replaces_b(context: *mut c_void, _file: u64) {
            let b = context.cast_const().cast::<smbh_table>();
            // SAFETY: `context` is table B, live for the whole test.
            let st = unsafe { smbh_set_unlock_hook(b, None, std::ptr::null_mut()) };
            assert_eq!(st, smbh_status::Ok);
            SEEN.store(B_STATE.load(Ordering::SeqCst), Ordering::SeqCst);
            REPLACED.fetch_add(1, Ordering::SeqCst);
        }

        let a = Box::new(smbh_table { inner: HandleTable::new() });
        let b = Box::new(smbh_table { inner: HandleTable::new() });
        let (pa, pb): (*const smbh_table, *const smbh_table) = (&*a, &*b);
        // SAFETY: both tables are live for the whole test.
        unsafe {
            assert_eq!(
                smbh_set_unlock_hook(pb, Some(slow_b), std::ptr::null_mut()),
                smbh_status::Ok
            );
            assert_eq!(
                smbh_set_unlock_hook(pa, Some(a_replaces_b), pb.cast_mut().cast()),
                smbh_status::Ok
            );
        }
        let el = [LockElement { offset: 0, length: 1, kind: LockKind::Exclusive }];
        let range = [LockRange { offset: 0, length: 1 }];
        let spec = || OpenSpec::new(FileNumber(3), "/f", "o", AccessMask::FILE_WRITE_DATA);
        let (la, lb) = (a.inner.open(spec()).unwrap(), b.inner.open(spec()).unwrap());
        a.inner.lock(la, &el).unwrap();
        b.inner.lock(lb, &el).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| b.inner.unlock(lb, &range).unwrap());
            while B_STATE.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            a.inner.unlock(la, &range).unwrap(); // runs a_replaces_b here
        });
        assert_eq!(REPLACED.load(Ordering::SeqCst), 1);
        assert_eq!(SEEN.load(Ordering::SeqCst), 2, "returned while B's old hook was running");
    }

    /// A hook may remove itself: the replacement does not wait for the call
    /// it is made from (that would never end).
    #[test]
    fn a_hook_may_replace_itself() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use crate::{AccessMask, HandleTable, OpenSpec};

        static CALLS: AtomicUsize = AtomicUsize::new(0);
        unsafe extern "C" fn once(context: *mut c_void, _file: u64) {
            CALLS.fetch_add(1, Ordering::SeqCst);
            let t = context.cast_const().cast::<smbh_table>();
            // SAFETY: `context` is the table, live for the whole test.
            assert_eq!(
                unsafe { smbh_set_unlock_hook(t, None, std::ptr::null_mut()) },
                smbh_status::Ok
            );
        }
        let table = Box::new(smbh_table { inner: HandleTable::new() });
        let t: *const smbh_table = &*table;
        // SAFETY: live table.
        assert_eq!(
            unsafe { smbh_set_unlock_hook(t, Some(once), t.cast_mut().cast()) },
            smbh_status::Ok
        );
        let loc = table
            .inner
            .open(OpenSpec::new(FileNumber(4), "/f", "o", AccessMask::FILE_WRITE_DATA))
            .unwrap();
        let el = [LockElement { offset: 0, length: 1, kind: LockKind::Exclusive }];
        for _ in 0..2 {
            table.inner.lock(loc, &el).unwrap();
            table.inner.unlock(loc, &[LockRange { offset: 0, length: 1 }]).unwrap();
        }
        assert_eq!(CALLS.load(Ordering::SeqCst), 1, "removed after its first call");
    }
}
