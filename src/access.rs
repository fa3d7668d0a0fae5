//! Access masks: the MS-DTYP `ACCESS_MASK` bits as a `bitflags` type, and
//! their `MS_ACCESS_*` names in Qumulo's JSON.

use std::fmt;

use std::error::Error;

bitflags::bitflags! {
    /// The access granted to one open, as MS-DTYP `ACCESS_MASK` bits.
    ///
    /// Bits 0x1, 0x2, 0x4 and 0x20 have other names on directories
    /// (`FILE_LIST_DIRECTORY`, `FILE_ADD_FILE`, `FILE_ADD_SUBDIRECTORY`,
    /// `FILE_TRAVERSE`); those are the same bits and are provided as aliases.
    /// Bits 21–23 and 26–27 are reserved: an open that sets them is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use smb_handles::AccessMask;
    ///
    /// let m = AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE;
    /// assert_eq!(m.names(false).collect::<Vec<_>>(),
    ///            ["MS_ACCESS_FILE_READ_DATA", "MS_ACCESS_SYNCHRONIZE"]);
    /// assert_eq!(m.names(true).next(), Some("MS_ACCESS_FILE_LIST_DIRECTORY"));
    /// let parsed = AccessMask::parse_names(["MS_ACCESS_SYNCHRONIZE", "MS_ACCESS_FILE_READ_DATA"]).unwrap();
    /// assert_eq!(parsed, m);
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct AccessMask: u32 {
        /// 0x1: read file data.
        const FILE_READ_DATA = 0x1;
        /// 0x1 on a directory: list it.
        const FILE_LIST_DIRECTORY = 0x1;
        /// 0x2: write file data.
        const FILE_WRITE_DATA = 0x2;
        /// 0x2 on a directory: create a file in it.
        const FILE_ADD_FILE = 0x2;
        /// 0x4: append file data.
        const FILE_APPEND_DATA = 0x4;
        /// 0x4 on a directory: create a subdirectory in it.
        const FILE_ADD_SUBDIRECTORY = 0x4;
        /// 0x8: read extended attributes.
        const FILE_READ_EA = 0x8;
        /// 0x10: write extended attributes.
        const FILE_WRITE_EA = 0x10;
        /// 0x20: execute the file.
        const FILE_EXECUTE = 0x20;
        /// 0x20 on a directory: traverse it.
        const FILE_TRAVERSE = 0x20;
        /// 0x40: delete children of a directory.
        const FILE_DELETE_CHILD = 0x40;
        /// 0x80: read attributes.
        const FILE_READ_ATTRIBUTES = 0x80;
        /// 0x100: write attributes.
        const FILE_WRITE_ATTRIBUTES = 0x100;
        /// 0x200: object-specific bit 9.
        const OBJECT_SPECIFIC_9 = 0x200;
        /// 0x400: object-specific bit 10.
        const OBJECT_SPECIFIC_10 = 0x400;
        /// 0x800: object-specific bit 11.
        const OBJECT_SPECIFIC_11 = 0x800;
        /// 0x1000: object-specific bit 12.
        const OBJECT_SPECIFIC_12 = 0x1000;
        /// 0x2000: object-specific bit 13.
        const OBJECT_SPECIFIC_13 = 0x2000;
        /// 0x4000: object-specific bit 14.
        const OBJECT_SPECIFIC_14 = 0x4000;
        /// 0x8000: object-specific bit 15.
        const OBJECT_SPECIFIC_15 = 0x8000;
        /// 0x10000: delete the object.
        const DELETE = 0x1_0000;
        /// 0x20000: read the security descriptor (not the SACL).
        const READ_CONTROL = 0x2_0000;
        /// 0x40000: change the DACL.
        const WRITE_DAC = 0x4_0000;
        /// 0x80000: change the owner.
        const WRITE_OWNER = 0x8_0000;
        /// 0x100000: synchronize.
        const SYNCHRONIZE = 0x10_0000;
        /// 0x1000000: access the SACL.
        const SYSTEM_SECURITY = 0x100_0000;
        /// 0x2000000: maximum allowed.
        const MAXIMUM_ALLOWED = 0x200_0000;
        /// 0x10000000: generic all.
        const GENERIC_ALL = 0x1000_0000;
        /// 0x20000000: generic execute.
        const GENERIC_EXECUTE = 0x2000_0000;
        /// 0x40000000: generic write.
        const GENERIC_WRITE = 0x4000_0000;
        /// 0x80000000: generic read.
        const GENERIC_READ = 0x8000_0000;
        /// `FILE_ALL_ACCESS` (0x1F01FF): a composite, accepted on input as
        /// `MS_ACCESS_FILE_ALL` and never written.
        const FILE_ALL = 0x1F_01FF;
    }
}

/// The reserved bits (21–23 and 26–27): an open that sets any is refused.
pub const RESERVED_ACCESS_BITS: u32 = 0x00E0_0000 | 0x0C00_0000;

/// Prefix of every JSON name.
const PREFIX: &str = "MS_ACCESS_";

/// One entry per defined bit, in ascending bit order:
/// (bit, name on files, name on directories), both with the `MS_ACCESS_` prefix.
const NAMES: &[(u32, &str, &str)] = {
    const fn same(bit: u32, name: &'static str) -> (u32, &'static str, &'static str) {
        (bit, name, name)
    }
    &[
        (0x1, "MS_ACCESS_FILE_READ_DATA", "MS_ACCESS_FILE_LIST_DIRECTORY"),
        (0x2, "MS_ACCESS_FILE_WRITE_DATA", "MS_ACCESS_FILE_ADD_FILE"),
        (0x4, "MS_ACCESS_FILE_APPEND_DATA", "MS_ACCESS_FILE_ADD_SUBDIRECTORY"),
        same(0x8, "MS_ACCESS_FILE_READ_EA"),
        same(0x10, "MS_ACCESS_FILE_WRITE_EA"),
        (0x20, "MS_ACCESS_FILE_EXECUTE", "MS_ACCESS_FILE_TRAVERSE"),
        same(0x40, "MS_ACCESS_FILE_DELETE_CHILD"),
        same(0x80, "MS_ACCESS_FILE_READ_ATTRIBUTES"),
        same(0x100, "MS_ACCESS_FILE_WRITE_ATTRIBUTES"),
        same(0x200, "MS_ACCESS_OBJECT_SPECIFIC_9"),
        same(0x400, "MS_ACCESS_OBJECT_SPECIFIC_10"),
        same(0x800, "MS_ACCESS_OBJECT_SPECIFIC_11"),
        same(0x1000, "MS_ACCESS_OBJECT_SPECIFIC_12"),
        same(0x2000, "MS_ACCESS_OBJECT_SPECIFIC_13"),
        same(0x4000, "MS_ACCESS_OBJECT_SPECIFIC_14"),
        same(0x8000, "MS_ACCESS_OBJECT_SPECIFIC_15"),
        same(0x1_0000, "MS_ACCESS_DELETE"),
        same(0x2_0000, "MS_ACCESS_READ_CONTROL"),
        same(0x4_0000, "MS_ACCESS_WRITE_DAC"),
        same(0x8_0000, "MS_ACCESS_WRITE_OWNER"),
        same(0x10_0000, "MS_ACCESS_SYNCHRONIZE"),
        same(0x100_0000, "MS_ACCESS_SYSTEM_SECURITY"),
        same(0x200_0000, "MS_ACCESS_MAXIMUM_ALLOWED"),
        same(0x1000_0000, "MS_ACCESS_GENERIC_ALL"),
        same(0x2000_0000, "MS_ACCESS_GENERIC_EXECUTE"),
        same(0x4000_0000, "MS_ACCESS_GENERIC_WRITE"),
        same(0x8000_0000, "MS_ACCESS_GENERIC_READ"),
    ]
};

/// The `MS_ACCESS_FILE_ALL` composite name (input only).
const FILE_ALL_NAME: &str = "MS_ACCESS_FILE_ALL";

impl AccessMask {
    /// The JSON names of the set bits, one per bit in ascending bit order,
    /// with the directory names when `directory` is true. Reserved bits have
    /// no name and are skipped.
    pub fn names(self, directory: bool) -> impl Iterator<Item = &'static str> {
        let bits = self.bits();
        NAMES.iter().filter(move |(bit, _, _)| bits & bit != 0).map(move |&(_, file, dir)| {
            if directory {
                dir
            } else {
                file
            }
        })
    }

    /// The bits one `MS_ACCESS_*` name stands for (file or directory name, or
    /// the `MS_ACCESS_FILE_ALL` composite), or `None` for an unknown name.
    ///
    /// ```
    /// # use smb_handles::AccessMask;
    /// assert_eq!(AccessMask::parse_name("MS_ACCESS_FILE_TRAVERSE"), Some(AccessMask::FILE_EXECUTE));
    /// assert_eq!(AccessMask::parse_name("MS_ACCESS_FILE_ALL"), Some(AccessMask::FILE_ALL));
    /// assert_eq!(AccessMask::parse_name("FILE_READ_DATA"), None);
    /// ```
    pub fn parse_name(name: &str) -> Option<AccessMask> {
        if !name.starts_with(PREFIX) {
            return None;
        }
        if name == FILE_ALL_NAME {
            return Some(AccessMask::FILE_ALL);
        }
        NAMES
            .iter()
            .find(|(_, file, dir)| *file == name || *dir == name)
            .map(|&(bit, _, _)| AccessMask::from_bits_retain(bit))
    }

    /// Parses a list of `MS_ACCESS_*` names, in any order, duplicates
    /// allowed. An unknown name is an error that names it.
    ///
    /// ```
    /// # use smb_handles::AccessMask;
    /// let err = AccessMask::parse_names(["MS_ACCESS_DELETE", "MS_ACCESS_BOGUS"]).unwrap_err();
    /// assert_eq!(err.to_string(), "unknown access mask name \"MS_ACCESS_BOGUS\"");
    /// ```
    pub fn parse_names<I, S>(names: I) -> Result<AccessMask, AccessMaskError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        names.into_iter().try_fold(AccessMask::empty(), |acc, name| {
            let name = name.as_ref();
            AccessMask::parse_name(name)
                .map(|bits| acc | bits)
                .ok_or_else(|| AccessMaskError::UnknownName(name.to_owned()))
        })
    }

    /// The reserved bits this mask sets (zero for every mask built from the
    /// named constants).
    pub fn reserved_bits(self) -> u32 {
        self.bits() & RESERVED_ACCESS_BITS
    }
}

impl fmt::Debug for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessMask({:#x}", self.bits())?;
        for (i, name) in self.names(false).enumerate() {
            f.write_str(if i == 0 { ": " } else { " | " })?;
            f.write_str(&name[PREFIX.len()..])?;
        }
        f.write_str(")")
    }
}

/// An access mask name was not one of the `MS_ACCESS_*` names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessMaskError {
    /// The name that was not recognised.
    UnknownName(String),
}

impl fmt::Display for AccessMaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessMaskError::UnknownName(n) => write!(f, "unknown access mask name {n:?}"),
        }
    }
}

impl Error for AccessMaskError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_name_parses() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/files_get_response.schema.json"))
                .unwrap();
        let names = schema["properties"]["file_handles"]["items"]["properties"]["handle_info"]
            ["properties"]["access_mask"]["items"]["enum"]
            .as_array()
            .unwrap();
        assert_eq!(names.len(), 32);
        for n in names {
            let n = n.as_str().unwrap();
            assert!(AccessMask::parse_name(n).is_some(), "{n} refused");
        }
    }

    #[test]
    fn names_are_in_bit_order_and_cover_every_defined_bit() {
        let all = AccessMask::all();
        let bits: Vec<u32> =
            all.names(false).map(|n| AccessMask::parse_name(n).unwrap().bits()).collect();
        assert_eq!(bits.len(), 27);
        assert!(bits.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bits.iter().fold(0, |a, b| a | b), all.bits());
        assert_eq!(all.bits() & RESERVED_ACCESS_BITS, 0);
        assert!(!all.names(true).any(|n| n == FILE_ALL_NAME));
    }

    #[test]
    fn directory_names_differ_only_on_aliased_bits() {
        let m = AccessMask::from_bits_retain(0x27);
        assert_eq!(
            m.names(true).collect::<Vec<_>>(),
            [
                "MS_ACCESS_FILE_LIST_DIRECTORY",
                "MS_ACCESS_FILE_ADD_FILE",
                "MS_ACCESS_FILE_ADD_SUBDIRECTORY",
                "MS_ACCESS_FILE_TRAVERSE"
            ]
        );
        assert_eq!(m.names(false).nth(3), Some("MS_ACCESS_FILE_EXECUTE"));
    }

    #[test]
    fn file_all_sets_its_bits_and_names_expand() {
        let m = AccessMask::parse_names(["MS_ACCESS_FILE_ALL", "MS_ACCESS_FILE_ALL"]).unwrap();
        assert_eq!(m.bits(), 0x1F01FF);
        assert_eq!(m.names(false).count(), 14);
    }

    #[test]
    fn reserved_bits_are_reported_and_unnamed() {
        let m = AccessMask::from_bits_retain(0x0020_0001 | 0x0800_0000);
        assert_eq!(m.reserved_bits(), 0x0820_0000);
        assert_eq!(m.names(false).count(), 1);
    }
}
