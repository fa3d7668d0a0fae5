//! Locations as text: `smbh_location_format` and `smbh_location_parse`
//! (16 hex digits, as in JSON).

use std::ffi::c_char;
use std::ptr;

use crate::Location;

use super::panic::ffi_boundary;
use super::ptr::{check_ptr, location_in, tri};
use super::status::smbh_status;
use super::strings::str_in;

/// The length of a location's text form (16 lowercase hex digits); a buffer
/// for smbh_location_format needs one more byte for the NUL.
pub const SMBH_LOCATION_TEXT_LEN: usize = 16;

/// Writes a location's text form (exactly SMBH_LOCATION_TEXT_LEN lowercase
/// hex digits, as in JSON) and a NUL to `buf`, which holds `buf_len` bytes.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_LOCATION (0 or
/// UINT64_MAX), SMBH_STATUS_BUFFER_TOO_SMALL (`buf_len` below
/// SMBH_LOCATION_TEXT_LEN + 1; `buf` is left untouched).
///
/// # Safety
///
/// `buf` is NULL or writable for `buf_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn smbh_location_format(
    location: u64,
    buf: *mut c_char,
    buf_len: usize,
) -> smbh_status {
    ffi_boundary! {
        if buf.is_null() {
            return smbh_status::NullParameter;
        }
        let loc = tri!(location_in(location));
        if buf_len < SMBH_LOCATION_TEXT_LEN + 1 {
            return smbh_status::BufferTooSmall;
        }
        let mut text = [0u8; SMBH_LOCATION_TEXT_LEN + 1];
        let digits = loc.to_string();
        text[..SMBH_LOCATION_TEXT_LEN].copy_from_slice(digits.as_bytes());
        // SAFETY: `buf` is non-NULL and writable for `buf_len >= 17` bytes
        // (checked, and the caller's promise); `text` is a local array.
        unsafe { ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len()) };
        smbh_status::Ok
    }
}

/// Parses a location's text form (1 to 16 hex digits of either case, as in
/// JSON; `len` bytes, not necessarily NUL-terminated) into
/// `*location_out`.
///
/// Statuses: SMBH_STATUS_NULL_PARAMETER, SMBH_STATUS_INVALID_UTF8,
/// SMBH_STATUS_INVALID_LOCATION (anything else, including `0`,
/// `ffffffffffffffff`, a sign, `0x` or spaces).
///
/// # Safety
///
/// `text` is NULL or readable for `len` bytes (when `len` is at most 16);
/// `location_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn smbh_location_parse(
    text: *const c_char,
    len: usize,
    location_out: *mut u64,
) -> smbh_status {
    ffi_boundary! {
        tri!(check_ptr(location_out));
        // SAFETY: the caller's promise on `text`.
        let text = tri!(unsafe {
            str_in(text, len, SMBH_LOCATION_TEXT_LEN, smbh_status::InvalidLocation)
        });
        let Ok(loc) = text.parse::<Location>() else {
            return smbh_status::InvalidLocation;
        };
        // SAFETY: `location_out` is non-NULL and aligned (checked), writable
        // by the caller's promise.
        unsafe { location_out.write(loc.0) };
        smbh_status::Ok
    }
}
