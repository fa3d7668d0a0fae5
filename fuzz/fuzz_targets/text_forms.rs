//! `Location` and `Cursor` text forms: parsing never panics, accepts exactly
//! the forms SPEC §3 allows, and every value round-trips through its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_handles::{Cursor, Location};

fuzz_target!(|data: &[u8]| {
    // Any u64 (from the first 8 bytes) formats as 16 lowercase hex digits
    // that parse back to it, unless it is one of the two never-issued values.
    if data.len() >= 8 {
        let v = u64::from_le_bytes(data[..8].try_into().unwrap());
        let text = Location(v).to_string();
        assert_eq!(text.len(), 16);
        assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        match text.parse::<Location>() {
            Ok(back) => assert_eq!(back, Location(v)),
            Err(_) => assert!(v == 0 || v == u64::MAX, "{text} did not parse back"),
        }
    }
    let Ok(s) = std::str::from_utf8(data) else { return };

    // Location: 1 to 16 hex digits of either case, nothing else, not 0 or all ones.
    let well_formed = (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
    match s.parse::<Location>() {
        Ok(loc) => {
            assert!(well_formed, "{s:?} parsed as {loc}");
            let v = u64::from_str_radix(s, 16).unwrap();
            assert_eq!(loc, Location(v));
            assert!(v != 0 && v != u64::MAX);
            assert_eq!(loc.to_string(), format!("{v:016x}"));
            assert_eq!(loc.to_string().parse::<Location>().unwrap(), loc);
        }
        Err(e) => {
            let _ = e.to_string();
            if well_formed {
                let v = u64::from_str_radix(s, 16).unwrap();
                assert!(v == 0 || v == u64::MAX, "{s:?} refused");
            }
        }
    }

    // Cursor: opaque, URL-safe, round-trips.
    if let Ok(c) = s.parse::<Cursor>() {
        let text = c.to_string();
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
        assert_eq!(text.parse::<Cursor>().unwrap(), c, "{s:?} -> {text:?}");
    }
});
