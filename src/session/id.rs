//! Session and tree-connect ids: 64-bit, generation-checked, like locations.
//!
//! # Layout
//!
//! ```text
//!  63                              32 31                               0
//! +----------------------------------+----------------------------------+
//! |     generation (32 bits)         |         index (32 bits)          |
//! +----------------------------------+----------------------------------+
//! ```
//!
//! The index names an entry of the table's session (or tree) registry; the
//! generation counts the entry's uses, starts at 1 and goes up by one when
//! the session logs off (the tree disconnects). An id is valid only while its
//! entry's generation equals the one it carries, so a logged-off session's id
//! never names a later session; an entry whose generation would pass
//! [`MAX_GENERATION`](crate::MAX_GENERATION) is retired. `0` and `u64::MAX`
//! are never issued. The text form is 16 lowercase hexadecimal digits, as a
//! location's.

use std::fmt;
use std::str::FromStr;

use crate::location::{parse_hex_u64, ParseLocationError};

/// Defines one registry id type: the packing, text form and parsing.
macro_rules! registry_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl $name {
            /// Packs an id from its registry index and generation.
            pub(crate) fn pack(generation: u32, index: u32) -> $name {
                $name(((generation as u64) << 32) | index as u64)
            }

            /// The generation part.
            pub(crate) fn generation(self) -> u32 {
                (self.0 >> 32) as u32
            }

            /// The registry index part.
            pub(crate) fn index(self) -> u32 {
                self.0 as u32
            }

            /// The raw 64-bit value (what the C ABI passes around).
            pub fn as_u64(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:016x})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseLocationError;

            /// 1 to 16 hexadecimal digits of either case; `0` and all ones
            /// (never issued) are refused.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match parse_hex_u64(s) {
                    Some(v) if v != 0 && v != u64::MAX => Ok($name(v)),
                    _ => Err(ParseLocationError(())),
                }
            }
        }
    };
}

registry_id!(
    /// The id of one SMB session in a table (see the [module](self) for its
    /// layout). Not the SMB2 `SessionId` of the wire, which the session's
    /// record keeps beside it.
    ///
    /// ```
    /// use smb_handles::SessionId;
    /// let id: SessionId = "0000000100000007".parse().unwrap();
    /// assert_eq!(id.to_string(), "0000000100000007");
    /// assert!("0".parse::<SessionId>().is_err());
    /// ```
    SessionId
);

registry_id!(
    /// The id of one tree connect (a session's connection to one share) in
    /// a table; same layout and text form as [`SessionId`].
    TreeId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_parts_and_text() {
        let s = SessionId::pack(7, 0xdead_beef);
        assert_eq!((s.generation(), s.index()), (7, 0xdead_beef));
        assert_eq!(s.to_string().parse::<SessionId>().unwrap(), s);
        let t = TreeId::pack(1, 0);
        assert_eq!(t.to_string(), "0000000100000000");
        for bad in ["", "0", "ffffffffffffffff", "0x1", "1 ", "00000000000000001"] {
            assert!(bad.parse::<TreeId>().is_err(), "{bad:?}");
        }
    }
}
