//! Listing: queries, pages and the cursors that resume a walk.
//!
//! A walk visits shards in index order and, within a shard, slots in index
//! order. A slot never moves, so a cursor is just the position to resume
//! from: every handle open for the whole walk is returned exactly once, and a
//! handle opened or closed during the walk at most once.

use std::fmt;
use std::str::FromStr;

use std::error::Error;

use crate::location::parse_hex_u64;
use crate::record::{FileHandle, FileNumber};

/// Where the next page of a walk starts. Its text form is opaque and
/// URL-safe (16 hexadecimal digits) and round-trips through `FromStr`.
///
/// # Examples
///
/// ```
/// use smb_handles::{Cursor, HandleTable, ListQuery};
///
/// let table = HandleTable::new();
/// let page = table.list(&ListQuery::default()).unwrap();
/// assert!(page.next.is_none()); // an empty table is one empty page
/// assert!("not a cursor".parse::<Cursor>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Cursor {
    pub(crate) shard: u32,
    pub(crate) slot: u32,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}{:08x}", self.shard, self.slot)
    }
}

impl FromStr for Cursor {
    type Err = ParseCursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(ParseCursorError(()));
        }
        let v = parse_hex_u64(s).ok_or(ParseCursorError(()))?;
        Ok(Cursor { shard: (v >> 32) as u32, slot: v as u32 })
    }
}

/// What to list.
///
/// # Examples
///
/// ```
/// use smb_handles::{FileNumber, ListQuery};
///
/// let q = ListQuery { file_number: Some(FileNumber(7)), ..ListQuery::default() };
/// assert_eq!(q.limit, None);
/// assert!(!q.resolve_paths);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only the handles of this file (a one-shard query whose cost follows the
    /// file's handle count, not the table's size).
    pub file_number: Option<FileNumber>,
    /// Include each handle's path.
    pub resolve_paths: bool,
    /// Page size: `None` is [`DEFAULT_LIST_LIMIT`](crate::DEFAULT_LIST_LIMIT), values above
    /// [`MAX_LIST_LIMIT`](crate::MAX_LIST_LIMIT) are lowered to it, `Some(0)` is an error.
    pub limit: Option<usize>,
    /// Resume after the previous page (`Page::next`); `None` starts at the
    /// beginning.
    pub after: Option<Cursor>,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The handles, in the walk's order.
    pub file_handles: Vec<FileHandle>,
    /// Where the next page starts; `None` when the walk is done.
    pub next: Option<Cursor>,
}

/// A cursor's text form was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCursorError(pub(crate) ());

impl fmt::Display for ParseCursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid cursor")
    }
}

impl Error for ParseCursorError {}
