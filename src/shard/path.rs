//! A file's path as the shard keeps it: the data pointer and length of an
//! `Arc<str>` whose strong count someone (a one-open file's slot, or a
//! shared file's record) owns, and which every open of the file can read
//! without reaching that owner.

use std::ptr;
use std::sync::Arc;

/// The data pointer and length of an `Arc<str>`. Plain data: who owns the
/// count it stands for is said where it is stored, and only that owner may
/// [`RawPath::take`] it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawPath {
    ptr: *const u8,
    len: u16,
}

impl RawPath {
    /// No path (a vacant slot, a free record).
    pub(crate) const NONE: RawPath = RawPath { ptr: ptr::null(), len: 0 };

    /// Gives up `s`'s strong count for its pointer.
    pub(crate) fn from_arc(s: Arc<str>) -> RawPath {
        let len = u16::try_from(s.len()).expect("validated path length fits u16");
        RawPath { ptr: Arc::into_raw(s) as *const u8, len }
    }

    /// The pointer and length [`RawPath::ptr`] and [`RawPath::len`] gave.
    #[inline]
    pub(crate) fn from_parts(ptr: *const u8, len: u16) -> RawPath {
        RawPath { ptr, len }
    }

    /// The data pointer.
    #[inline]
    pub(crate) fn ptr(self) -> *const u8 {
        self.ptr
    }

    /// The length in bytes.
    #[inline]
    pub(crate) fn len(self) -> u16 {
        self.len
    }

    /// True when there is no path.
    #[inline]
    pub(crate) fn is_none(&self) -> bool {
        self.ptr.is_null()
    }

    /// Takes back the count [`RawPath::from_arc`] gave up.
    ///
    /// # Safety
    ///
    /// `self` came from `from_arc`, its count was not taken back yet, and
    /// no copy of `self` is used after this (the caller forgets them).
    pub(crate) unsafe fn take(self) -> Arc<str> {
        debug_assert!(!self.is_none());
        // SAFETY: by the caller, `ptr..ptr+len` is the data of a live
        // `Arc<str>` whose strong count we own; `*const [u8]` to
        // `*const str` keeps the length metadata.
        unsafe {
            Arc::from_raw(ptr::slice_from_raw_parts(self.ptr, self.len as usize) as *const str)
        }
    }

    /// A new count of the path.
    ///
    /// # Safety
    ///
    /// The count `self` stands for is still owned by someone (not taken).
    #[inline]
    pub(crate) unsafe fn to_arc(self) -> Arc<str> {
        // SAFETY: by the caller the `Arc` is alive; `ManuallyDrop` leaves
        // the owner's count in place and the clone adds ours.
        let arc = std::mem::ManuallyDrop::new(unsafe { self.take() });
        Arc::clone(&arc)
    }

    /// The path, borrowed for `'a`.
    ///
    /// # Safety
    ///
    /// The count `self` stands for stays owned (not taken) for all of `'a`.
    #[inline]
    pub(crate) unsafe fn as_str<'a>(self) -> &'a str {
        debug_assert!(!self.is_none());
        // SAFETY: by the caller the `Arc<str>`'s data is alive and (being
        // an `Arc<str>`) unchanged for `'a`, and it is UTF-8.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len as usize))
        }
    }

    /// Where the `Arc`'s counts live (two words before the data), for
    /// prefetching only: never dereferenced.
    #[inline]
    pub(crate) fn header(self) -> *const u8 {
        self.ptr.wrapping_sub(2 * std::mem::size_of::<usize>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_given_up_is_taken_back_once() {
        let s: Arc<str> = Arc::from("/a/b");
        let p = RawPath::from_arc(Arc::clone(&s));
        assert_eq!(Arc::strong_count(&s), 2);
        // SAFETY: `p`'s count is owned by this test until the `take` below.
        let (copy, borrowed) = unsafe { (p.to_arc(), p.as_str()) };
        assert_eq!((&*copy, borrowed), ("/a/b", "/a/b"));
        assert_eq!(Arc::strong_count(&s), 3);
        drop(copy);
        // SAFETY: taken once; `p` is not used after.
        drop(unsafe { p.take() });
        assert_eq!(Arc::strong_count(&s), 1);
        assert!(RawPath::NONE.is_none());
    }
}
