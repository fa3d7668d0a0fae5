//! Strings across the boundary: borrowed `(ptr, len)` UTF-8 in, owned
//! NUL-terminated strings out (freed by `smbh_string_free`).

use std::ffi::c_char;
use std::mem::size_of;
use std::ptr;

use super::panic::ffi_boundary;
use super::status::smbh_status;

/// Bytes in front of an owned string that remember its length, so freeing
/// does not depend on the contents (a caller that writes a NUL into the
/// string cannot make the free use the wrong size).
const HEADER: usize = size_of::<usize>();

/// Borrows `len` bytes at `ptr` as UTF-8.
///
/// Order of checks: NULL, then `len > max` (reported as `too_long` without
/// reading the memory), then UTF-8.
///
/// # Safety
///
/// Unless `ptr` is NULL or `len > max`, `ptr` must be valid for reads of
/// `len` bytes for `'a`, and `max` must be at most `isize::MAX`.
pub(crate) unsafe fn str_in<'a>(
    ptr: *const c_char,
    len: usize,
    max: usize,
    too_long: smbh_status,
) -> Result<&'a str, smbh_status> {
    debug_assert!(max <= isize::MAX as usize);
    if ptr.is_null() {
        return Err(smbh_status::NullParameter);
    }
    if len > max {
        return Err(too_long);
    }
    // SAFETY: `ptr` is non-NULL (checked), `len <= max <= isize::MAX`, `u8`
    // has alignment 1, and the caller promises `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    utf8(bytes).ok_or(smbh_status::InvalidUtf8)
}

/// `bytes` as UTF-8, if they are. ASCII first, a word or more at a time
/// (paths and SIDs almost always are): the standard library's full check
/// goes a byte at a time over short unaligned strings and was the largest
/// single cost of a C open (194 of 1 392 instructions, callgrind,
/// `examples/ops.rs hot c_open`).
#[inline]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// Borrows an open's path: [`str_in`] with the path's limit, then the NUL
/// check, so a C open reports its first bad field in the order Rust's
/// `open` checks them (path length, path NUL, owner length, owner NUL).
///
/// # Safety
///
/// As [`str_in`].
pub(crate) unsafe fn path_in<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, smbh_status> {
    // SAFETY: the caller's promise, passed on.
    let path = unsafe { str_in(ptr, len, crate::limits::MAX_PATH_LEN, smbh_status::PathTooLong) }?;
    if crate::words::has_nul(path.as_bytes()) {
        return Err(smbh_status::ContainsNul);
    }
    Ok(path)
}

/// Hands `bytes` to C as an owned, NUL-terminated string; returns the
/// pointer and the length (without the NUL). Free it with [`free_owned`].
pub(crate) fn into_owned(bytes: &[u8]) -> (*mut c_char, usize) {
    let len = bytes.len();
    let mut buf = Vec::with_capacity(HEADER + len + 1);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(bytes);
    buf.push(0);
    let base = Box::into_raw(buf.into_boxed_slice()).cast::<u8>();
    // SAFETY: the allocation is `HEADER + len + 1` bytes long, so
    // `base + HEADER` is inside it.
    let text = unsafe { base.add(HEADER) };
    (text.cast::<c_char>(), len)
}

/// Frees a string made by [`into_owned`].
///
/// # Safety
///
/// `text` must come from [`into_owned`] and not have been freed yet.
pub(crate) unsafe fn free_owned(text: *mut c_char) {
    // SAFETY: `text` is `HEADER` bytes into an allocation made by
    // `into_owned` (caller's promise), so stepping back stays inside it and
    // recovers the original pointer's provenance.
    let base = unsafe { text.cast::<u8>().sub(HEADER) };
    let mut header = [0u8; HEADER];
    // SAFETY: the first `HEADER` bytes of the allocation hold the length;
    // `header` is a separate local array.
    unsafe { ptr::copy_nonoverlapping(base, header.as_mut_ptr(), HEADER) };
    let len = usize::from_ne_bytes(header);
    let whole = ptr::slice_from_raw_parts_mut(base, HEADER + len + 1);
    // SAFETY: `whole` is exactly the boxed slice `into_owned` leaked
    // (same start, same length), freed once (caller's promise).
    drop(unsafe { Box::from_raw(whole) });
}

/// Frees a string returned by smbh_list_json or smbh_close_batch_json.
/// NULL is a no-op.
///
/// # Safety
///
/// `text` is NULL or a string from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn smbh_string_free(text: *mut c_char) {
    ffi_boundary! {
        if !text.is_null() {
            // SAFETY: a non-NULL `text` came from `into_owned` and is freed
            // once (the caller's promise).
            unsafe { free_owned(text) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_answers_as_the_standard_check() {
        let cases: [&[u8]; 9] = [
            b"",
            b"/projects/q1/dir7/r1.xlsx",
            "/Gr\u{fc}\u{df}e/\u{65e5}\u{672c}/\u{1f600}.txt".as_bytes(),
            b"\x80",
            b"/ok/then/\xff",
            b"/truncated/\xe6\x97",
            b"\xed\xa0\x80 surrogate",
            b"S-1-5-21-1004336348-1177238915-682003330-1104",
            b"overlong \xc0\xaf",
        ];
        for b in cases {
            assert_eq!(utf8(b), std::str::from_utf8(b).ok(), "{b:?}");
        }
        assert!(utf8("/Gr\u{fc}\u{df}e".as_bytes()).is_some());
        assert!(utf8(b"/ok/then/\xff").is_none());
    }

    #[test]
    fn owned_strings_round_trip_and_are_nul_terminated() {
        for s in ["", "x", "[{\"error_message\":\"\"}]"] {
            let (p, len) = into_owned(s.as_bytes());
            assert_eq!(len, s.len());
            // SAFETY: `p` is a live string of `len` bytes plus a NUL.
            let back = unsafe { std::ffi::CStr::from_ptr(p) };
            assert_eq!(back.to_bytes(), s.as_bytes());
            // SAFETY: made by `into_owned`, freed once.
            unsafe { free_owned(p) };
        }
    }

    #[test]
    fn str_in_checks_null_length_and_utf8() {
        // SAFETY: every pointer is NULL, or valid for `len` bytes, or `len`
        // exceeds `max` and is never read.
        unsafe {
            assert_eq!(
                str_in(ptr::null(), 0, 10, smbh_status::PathTooLong),
                Err(smbh_status::NullParameter)
            );
            let ok = b"abc";
            assert_eq!(str_in(ok.as_ptr().cast(), 3, 10, smbh_status::PathTooLong), Ok("abc"));
            assert_eq!(
                str_in(ok.as_ptr().cast(), usize::MAX, 10, smbh_status::PathTooLong),
                Err(smbh_status::PathTooLong)
            );
            let bad = [0xffu8, 0xfe];
            assert_eq!(
                str_in(bad.as_ptr().cast(), 2, 10, smbh_status::PathTooLong),
                Err(smbh_status::InvalidUtf8)
            );
        }
    }
}
