//! Locations: the 64-bit, generation-checked handle ids the table issues.
//!
//! # Layout
//!
//! ```text
//!  63                              32 31       24 23                     0
//! +----------------------------------+-----------+------------------------+
//! |     generation (32 bits)         | shard (8) |      slot (24 bits)    |
//! +----------------------------------+-----------+------------------------+
//! ```
//!
//! * **slot** indexes the shard's slab of slots (up to 16 777 216 per shard);
//! * **shard** picks one of up to 256 shards, so a close goes straight to one
//!   lock;
//! * **generation** counts the opens of that slot. It starts at 1 and goes up
//!   by one on every close. A location is valid only while the slot's
//!   generation still equals the one it carries, so a closed handle's
//!   location never names the next handle in that slot. A slot whose
//!   generation would pass [`MAX_GENERATION`] is retired instead of reused,
//!   which also keeps `u64::MAX` (SMB2's "no file id") from ever being
//!   issued; generation 0 is never used, so `0` is never issued either.

use std::fmt;
use std::str::FromStr;

use std::error::Error;

/// Bits of a location that hold the slot index.
pub(crate) const SLOT_BITS: u32 = 24;
/// Bits of a location that hold the shard index.
pub(crate) const SHARD_BITS: u32 = 8;
/// The number of slots one shard can address.
pub(crate) const SLOTS_PER_SHARD: u32 = 1 << SLOT_BITS;
/// The largest number of shards a table can have.
pub const MAX_SHARDS: usize = 1 << SHARD_BITS;
/// The first generation a slot is opened with.
pub(crate) const FIRST_GENERATION: u32 = 1;
/// The last generation a slot may be opened with; past it the slot is retired.
pub const MAX_GENERATION: u32 = u32::MAX - 1;

/// The id of one open handle: shard, slot and generation packed in 64 bits.
///
/// Its text form is exactly 16 lowercase hexadecimal digits; parsing accepts
/// 1 to 16 hexadecimal digits of either case and nothing else.
///
/// # Examples
///
/// ```
/// use smb_handles::Location;
///
/// let loc: Location = "00000001000A0003".parse().unwrap();
/// assert_eq!(loc.to_string(), "00000001000a0003");
/// assert!("0x1".parse::<Location>().is_err());
/// assert!("0".parse::<Location>().is_err()); // never issued
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location(pub u64);

impl Location {
    /// Packs a location from its parts.
    pub(crate) fn pack(generation: u32, shard: usize, slot: u32) -> Location {
        debug_assert!(shard < MAX_SHARDS && slot < SLOTS_PER_SHARD);
        debug_assert!((FIRST_GENERATION..=MAX_GENERATION).contains(&generation));
        Location(((generation as u64) << 32) | ((shard as u64) << SLOT_BITS) | slot as u64)
    }

    /// The generation part.
    pub(crate) fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The shard part.
    pub(crate) fn shard(self) -> usize {
        ((self.0 >> SLOT_BITS) as usize) & (MAX_SHARDS - 1)
    }

    /// The slot part.
    pub(crate) fn slot(self) -> u32 {
        (self.0 as u32) & (SLOTS_PER_SHARD - 1)
    }

    /// The raw 64-bit value (what the C ABI passes around).
    ///
    /// ```
    /// # use smb_handles::Location;
    /// assert_eq!(Location(0x1_0000_0002).as_u64(), 0x1_0000_0002);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({:016x})", self.0)
    }
}

/// Parses 1 to 16 hexadecimal digits (either case) into a `u64`; nothing else.
impl Location {
    /// The location a raw value names, if it is one the table could issue
    /// (not 0, not all ones).
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn from_raw(v: u64) -> Option<Location> {
        (v != 0 && v != u64::MAX).then_some(Location(v))
    }
}

/// The shard a raw location names (whether or not it is a valid one).
pub(crate) fn shard_of_raw(raw: u64) -> usize {
    Location(raw).shard()
}

pub(crate) fn parse_hex_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

impl FromStr for Location {
    type Err = ParseLocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_hex_u64(s) {
            Some(v) if v != 0 && v != u64::MAX => Ok(Location(v)),
            _ => Err(ParseLocationError(())),
        }
    }
}

/// A location's text form was malformed (not 1 to 16 hex digits, or a value
/// never issued: 0 or all ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLocationError(pub(crate) ());

impl fmt::Display for ParseLocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid location")
    }
}

impl Error for ParseLocationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_parts() {
        let loc = Location::pack(MAX_GENERATION, MAX_SHARDS - 1, SLOTS_PER_SHARD - 1);
        assert_eq!(loc.generation(), MAX_GENERATION);
        assert_eq!(loc.shard(), MAX_SHARDS - 1);
        assert_eq!(loc.slot(), SLOTS_PER_SHARD - 1);
        assert_ne!(loc.0, u64::MAX);
        let first = Location::pack(FIRST_GENERATION, 0, 0);
        assert_ne!(first.0, 0);
    }

    #[test]
    fn text_form_is_sixteen_lowercase_digits() {
        let loc = Location::pack(1, 0x0a, 3);
        assert_eq!(loc.to_string(), "000000010a000003");
        assert_eq!(loc.to_string().parse::<Location>().unwrap(), loc);
    }

    #[test]
    fn parse_rejects_everything_but_hex() {
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "-1",
            "0x1",
            "g",
            "00000000000000001",
            "0",
            "ffffffffffffffff",
            "FFFFFFFFFFFFFFFF",
            "1_0",
            "١",
        ] {
            assert!(bad.parse::<Location>().is_err(), "{bad:?} parsed");
        }
        assert_eq!("aB".parse::<Location>().unwrap(), Location(0xab));
        assert_eq!("fffffffffffffffe".parse::<Location>().unwrap(), Location(u64::MAX - 1));
    }
}
