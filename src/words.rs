//! Word-at-a-time views of short byte strings (paths and owners), for the
//! NUL check, the owner hash and string comparison on the open path: eight
//! bytes per step (sixteen for the NUL check on x86-64), and a string's
//! last bytes read as one word without a call to `memcpy`.

/// The last eight bytes of `b` as one little-endian word; `None` when `b`
/// is shorter than eight bytes.
#[inline(always)]
pub(crate) fn last_word(b: &[u8]) -> Option<u64> {
    let tail = b.len().checked_sub(8).map(|start| &b[start..])?;
    Some(u64::from_le_bytes(tail.try_into().ok()?))
}

/// The bytes of `b` (shorter than eight) as one little-endian word, the
/// missing high bytes set to `fill`.
#[inline(always)]
pub(crate) fn short_word(b: &[u8], fill: u8) -> u64 {
    debug_assert!(b.len() < 8);
    let mut w = u64::from_le_bytes([fill; 8]);
    for (i, &x) in b.iter().enumerate() {
        let shift = 8 * i as u32;
        w = (w & !(0xFF << shift)) | (x as u64) << shift;
    }
    w
}

/// True when `bytes` holds a 0 byte.
///
/// On x86-64, sixteen bytes at a time with SSE2 (part of every x86-64
/// target but those built without it, which take the word path): the bytewise minimum of all blocks, the last block read as the
/// string's last sixteen bytes (overlapping bytes already seen), is zero in
/// some lane exactly when a byte is 0. Shorter strings, and other targets,
/// go eight bytes at a time: a word has a zero byte exactly when
/// `(w - 0x01…01) & !w & 0x80…80` is non-zero. Either way a path or an
/// owner of tens of bytes costs a few instructions and no call.
#[inline]
pub(crate) fn has_nul(bytes: &[u8]) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if bytes.len() >= 16 {
        return sse2_has_nul(bytes);
    }
    words_have_nul(bytes)
}

/// [`has_nul`] for strings of at least sixteen bytes, on x86-64 with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2_has_nul(b: &[u8]) -> bool {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
        _mm_setzero_si128,
    };
    let last = b.len() - 16;
    let p = b.as_ptr();
    // SAFETY: the cfg admits only targets with SSE2 (every x86-64 one but
    // those built without it), so these instructions exist. Every load reads the sixteen bytes at
    // an offset `i <= last = len - 16`, all inside `b`; `_mm_loadu_si128`
    // takes unaligned addresses.
    unsafe {
        let mut min = _mm_loadu_si128(p.add(last).cast::<__m128i>());
        let mut i = 0;
        while i < last {
            min = _mm_min_epu8(min, _mm_loadu_si128(p.add(i).cast::<__m128i>()));
            i += 16;
        }
        _mm_movemask_epi8(_mm_cmpeq_epi8(min, _mm_setzero_si128())) != 0
    }
}

/// [`has_nul`] eight bytes at a time; the last partial word is read as the
/// string's last eight bytes.
#[inline(always)]
fn words_have_nul(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |w: u64| w.wrapping_sub(LO) & !w & HI;
    let Some(last) = last_word(bytes) else {
        return zero(short_word(bytes, 1)) != 0;
    };
    let mut acc = zero(last);
    for c in bytes.chunks_exact(8) {
        acc |= zero(u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    acc != 0
}

/// Whether two strings are equal, comparing lengths, then the last eight
/// bytes (where owner SIDs and paths of one folder differ), then the rest.
#[inline]
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && last_word(a.as_bytes()) == last_word(b.as_bytes()) && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_exactly_the_bytes_given() {
        assert_eq!(last_word(b"1234567"), None);
        assert_eq!(last_word(b"x12345678"), Some(u64::from_le_bytes(*b"12345678")));
        assert_eq!(short_word(b"", 1), 0x0101_0101_0101_0101);
        assert_eq!(short_word(b"ab", 0), u64::from(b'a') | u64::from(b'b') << 8);
        assert_eq!(short_word(b"abcdefg", 0xFF) >> 56, 0xFF);
    }

    #[test]
    fn has_nul_finds_a_zero_anywhere_and_nothing_else() {
        for len in 0..80 {
            let mut v = vec![0x80u8; len];
            assert!(!has_nul(&v));
            assert!(!words_have_nul(&v));
            for b in [1u8, 0x7f, 0xff, 0x01] {
                v.iter_mut().for_each(|x| *x = b);
                assert!(!has_nul(&v), "{b:#x} x {len}");
                assert!(!words_have_nul(&v), "{b:#x} x {len}");
            }
            for i in 0..len {
                for fill in [0x01u8, 0xff] {
                    let mut w = vec![fill; len];
                    w[i] = 0;
                    assert!(has_nul(&w), "zero at {i} of {len}");
                    assert!(words_have_nul(&w), "zero at {i} of {len}");
                }
            }
        }
        assert!(!has_nul("S-1-5-21-1004336348-1177238915-682003330-1104".as_bytes()));
        // A zero byte just outside the slice is not seen.
        let buf = [
            b'a', b'b', 0, b'c', b'd', b'e', b'f', b'g', b'h', b'i', b'j', b'k', b'l', b'm', b'n',
            b'o', b'p', b'q', b'r', 0,
        ];
        assert!(!has_nul(&buf[3..19]));
        assert!(has_nul(&buf[2..19]));
    }

    #[test]
    fn same_text_is_string_equality() {
        let words = [
            "",
            "a",
            "ab",
            "abcdefgh",
            "abcdefgi",
            "xbcdefgh",
            "S-1-5-21-1-1104",
            "S-1-5-21-1-1105",
        ];
        for a in words {
            for b in words {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}
