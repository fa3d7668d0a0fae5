//! Checking what C hands in before anything happens: the table pointer,
//! output and array pointers, locations, and `tri!`, which returns the
//! status of a failed check. Exported with `pub(crate) use`, so the order of
//! the `mod` lines in `mod.rs` does not matter.

use crate::{HandleTable, Location};

use super::status::smbh_status;
use super::table::smbh_table;

/// Borrows the table behind a C pointer, or says why not.
///
/// # Safety
///
/// `table` is NULL or a live pointer from `smbh_table_new`.
pub(crate) unsafe fn table_ref<'a>(
    table: *const smbh_table,
) -> Result<&'a HandleTable, smbh_status> {
    // SAFETY: non-NULL table pointers come from `smbh_table_new` and are live
    // until `smbh_table_free` (the caller's promise).
    match unsafe { table.as_ref() } {
        Some(t) => Ok(&t.inner),
        None => Err(smbh_status::NullParameter),
    }
}

/// Checks an output or array pointer: NULL is `NullParameter`, misaligned
/// is `InvalidArgument`.
pub(crate) fn check_ptr<T>(p: *const T) -> Result<(), smbh_status> {
    if p.is_null() {
        Err(smbh_status::NullParameter)
    } else if !p.is_aligned() {
        Err(smbh_status::InvalidArgument)
    } else {
        Ok(())
    }
}

/// Reads a C array of `count` elements (NULL and misalignment refused even
/// for a zero count).
///
/// # Safety
///
/// `p` is NULL or readable for `count` values.
pub(crate) unsafe fn array_in<'a, T>(p: *const T, count: usize) -> Result<&'a [T], smbh_status> {
    check_ptr(p)?;
    if count > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(smbh_status::InvalidArgument);
    }
    // SAFETY: non-NULL, aligned, size in range (checked), readable by the
    // caller's promise.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// A location from C: `0` and `UINT64_MAX` are never issued.
pub(crate) fn location_in(location: u64) -> Result<Location, smbh_status> {
    if location == 0 || location == u64::MAX {
        Err(smbh_status::InvalidLocation)
    } else {
        Ok(Location(location))
    }
}

/// Unwraps a `Result<T, smbh_status>` or returns the status.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use tri;

/// Reads a C parameter struct whose first field is its `size` as the caller
/// was compiled with: an older version's size (one of `older`) or this
/// version's and up are taken (a size between names no version and is
/// refused),
/// fields past the caller's size read as zero, and bytes past this
/// version's struct must be zero (a newer caller asking for something this
/// library cannot do is refused, not ignored).
///
/// # Safety
///
/// `p` is NULL or points to at least `size` readable bytes, which (up to
/// `size_of::<T>()`) hold a valid `T` prefix; `T` is valid all-zero.
pub(crate) unsafe fn sized_in<T: Copy>(p: *const T, older: &[usize]) -> Result<T, smbh_status> {
    check_ptr(p)?;
    // SAFETY: non-NULL and aligned (checked); its first field is readable
    // by the caller's promise.
    let size = unsafe { p.cast::<usize>().read() };
    let known = size_of::<T>();
    if (!older.contains(&size) && size < known) || size > isize::MAX as usize {
        return Err(smbh_status::InvalidArgument);
    }
    if size > known {
        // SAFETY: the caller promises `size` readable bytes.
        let tail = unsafe { std::slice::from_raw_parts(p.cast::<u8>().add(known), size - known) };
        if tail.iter().any(|&b| b != 0) {
            return Err(smbh_status::InvalidArgument);
        }
    }
    let mut out = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `min(size, known)` bytes are readable (the promise) and fit
    // in `out`; the two do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            p.cast::<u8>(),
            out.as_mut_ptr().cast::<u8>(),
            size.min(known),
        )
    };
    // SAFETY: an all-zero `T` is valid (the caller's promise), and the
    // bytes copied over it are a valid prefix of a `T` (the same promise).
    Ok(unsafe { out.assume_init() })
}
