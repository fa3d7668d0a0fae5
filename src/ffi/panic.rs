//! The panic boundary: no Rust panic unwinds into C.
//!
//! Every exported function writes its signature out in full (so cbindgen
//! sees it) and wraps only its body in [`ffi_boundary!`], which runs the body
//! under [`std::panic::catch_unwind`] and turns a panic into the function's
//! [`PanicValue`]: `SMBH_STATUS_PANIC` for functions returning a status, a
//! static message for `smbh_status_message`, nothing for the `_free`
//! functions.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::smbh_status;

/// What an exported function returns when its body panicked.
pub(crate) trait PanicValue {
    /// The value handed to C instead of unwinding.
    fn panic_value() -> Self;
}

impl PanicValue for smbh_status {
    fn panic_value() -> Self {
        smbh_status::Panic
    }
}

impl PanicValue for () {
    fn panic_value() -> Self {}
}

impl PanicValue for *const c_char {
    fn panic_value() -> Self {
        c"panic inside smb-handles".as_ptr()
    }
}

/// Runs `body`; a panic becomes `T::panic_value()`.
///
/// `AssertUnwindSafe` is sound here: after a caught panic the only state
/// that outlives the call is the table, whose shards are `parking_lot` locks
/// (released on unwind, never poisoned) guarding plain data that every
/// operation validates before use.
pub(crate) fn boundary<T: PanicValue>(body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            // Dropping a payload could itself panic (a `panic_any` value with
            // a panicking `Drop`): drop it under its own catch, then the
            // payload of that panic, and so on a few times; only a payload
            // still panicking after that is leaked. (Forgetting every payload
            // leaked it on each caught panic; LeakSanitizer found it.)
            let mut payload = payload;
            for _ in 0..4 {
                match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                    Ok(()) => return T::panic_value(),
                    Err(next) => payload = next,
                }
            }
            std::mem::forget(payload);
            T::panic_value()
        }
    }
}

/// Wraps the body of an exported function in the panic boundary.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        $crate::ffi::panic::boundary(move || { $($body)* })
    };
}
pub(crate) use ffi_boundary;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_value() {
        let status: smbh_status = ffi_boundary! {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            smbh_status::Ok
        };
        assert_eq!(status, smbh_status::Panic);
        let msg: *const c_char = boundary(|| panic!("boom"));
        assert!(!msg.is_null());
        boundary::<()>(|| panic!("boom"));
        assert_eq!(boundary(|| smbh_status::NotFound), smbh_status::NotFound);
    }

    #[test]
    fn a_caught_panic_payload_is_dropped_even_if_its_drop_panics() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Payload(bool);
        impl Drop for Payload {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
                if self.0 {
                    panic!("a payload whose drop panics");
                }
            }
        }
        let status: smbh_status = boundary(|| std::panic::panic_any(Payload(false)));
        assert_eq!(status, smbh_status::Panic);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the payload is dropped, not leaked");
        let status: smbh_status = boundary(|| std::panic::panic_any(Payload(true)));
        assert_eq!(status, smbh_status::Panic, "a panicking drop does not escape");
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    }
}
