//! Word-at-a-time views of short byte strings (paths and owners), for the
//! NUL check, the owner hash and string comparison on the open path: eight
//! bytes per step, and a string's last bytes read as one word without a
//! call to `memcpy`.

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
