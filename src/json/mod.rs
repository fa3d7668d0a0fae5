//! JSON in the shape of Qumulo's REST API for open SMB files.
//!
//! * A [`FileHandle`] serializes as one element of `GET /v1/smb/files`:
//!   `{"file_number": "4242", "handle_info": {"location": "…", "version": 3,
//!   "num_byte_range_locks": 2, "num_notify_watches": "0", "access_mask": ["MS_ACCESS_…"], "owner": "…",
//!   "path": "…"}}` (`path` left out when not resolved).
//! * A [`Page`] serializes as `{"file_handles": […], "paging": {"next": …}}`.
//! * [`HandleTable::close_batch_json`] answers `POST /v1/smb/files/close`.
//!
//! Listing pages are written by a dedicated writer ([`page_to_json`],
//! [`listing_to_json`]) and close bodies read by a dedicated single-pass
//! scanner ([`parse_close_request`]); both give exactly what serde_json
//! gives, several times faster (tests/json_fast.rs checks them against it).

use std::fmt;
use std::sync::Arc;

use serde::de;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::access::AccessMask;
use crate::error::{CloseError, RequestError};
use crate::limits::MAX_REQUEST_BYTES;
use crate::location::Location;
use crate::paging::{Cursor, Page};
use crate::record::{FileHandle, FileNumber, HandleInfo};
use crate::table::{HandleTable, QuietClose};

mod scan;
mod sessions;
mod write;

pub use sessions::{auth_id, sessions_to_json};
#[cfg(feature = "admin")]
pub(crate) use write::listing_on_node;
pub use write::{listing_to_json, page_to_json};

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads a value from its text form (a JSON string).
fn from_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    s.parse().map_err(de::Error::custom)
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d)
    }
}

impl Serialize for FileNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FileNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(de::Error::custom("file_number must be a decimal string"));
        }
        s.parse().map(FileNumber).map_err(de::Error::custom)
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d)
    }
}

/// An access mask written as names, with directory names when asked.
struct Names(AccessMask, bool);

impl Serialize for Names {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for name in self.0.names(self.1) {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl Serialize for HandleInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("HandleInfo", 8)?;
        st.serialize_field("location", &self.location)?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("num_byte_range_locks", &self.num_byte_range_locks)?;
        // A string, as the seed documents it (its sibling above is a number).
        st.serialize_field("num_notify_watches", &self.num_notify_watches.to_string())?;
        st.serialize_field("access_mask", &Names(self.access_mask, self.directory))?;
        st.serialize_field("owner", &*self.owner)?;
        match &self.path {
            Some(p) => st.serialize_field("path", &**p)?,
            None => st.skip_field("path")?,
        }
        // Not in Qumulo's schema, which allows extra fields: only on a
        // disconnected durable handle, so every other listing is as before.
        if self.disconnected {
            st.serialize_field("disconnected", &true)?;
        } else {
            st.skip_field("disconnected")?;
        }
        st.end()
    }
}

impl Serialize for FileHandle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("FileHandle", 2)?;
        st.serialize_field("file_number", &self.file_number)?;
        st.serialize_field("handle_info", &self.handle_info)?;
        st.end()
    }
}

/// `{"next": cursor-or-null}`.
struct Paging(Option<Cursor>);

impl Serialize for Paging {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("next", &self.0)?;
        m.end()
    }
}

impl Serialize for Page {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Page", 2)?;
        st.serialize_field("file_handles", &self.file_handles)?;
        st.serialize_field("paging", &Paging(self.next))?;
        st.end()
    }
}

/// The wire shape of `handle_info`, for reading a listing back.
#[derive(Deserialize)]
struct HandleInfoWire {
    location: Location,
    version: u64,
    num_byte_range_locks: u32,
    /// Optional: listings written before it was added have none.
    #[serde(default, deserialize_with = "notify_count")]
    num_notify_watches: u32,
    access_mask: Vec<String>,
    owner: String,
    #[serde(default)]
    path: Option<String>,
}

/// `num_notify_watches`: a decimal string as written (the seed's type), or a
/// number.
fn notify_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(u32),
        Text(String),
    }
    match Count::deserialize(d)? {
        Count::Number(n) => Ok(n),
        Count::Text(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse().map_err(de::Error::custom)
        }
        Count::Text(_) => Err(de::Error::custom("num_notify_watches must be a decimal string")),
    }
}

#[derive(Deserialize)]
struct FileHandleWire {
    file_number: FileNumber,
    handle_info: HandleInfoWire,
}

/// Names only directories use; a listing that holds one came from a
/// directory handle.
const DIRECTORY_ONLY_NAMES: [&str; 4] = [
    "MS_ACCESS_FILE_LIST_DIRECTORY",
    "MS_ACCESS_FILE_ADD_FILE",
    "MS_ACCESS_FILE_ADD_SUBDIRECTORY",
    "MS_ACCESS_FILE_TRAVERSE",
];

impl<'de> Deserialize<'de> for FileHandle {
    /// Reads one element of a listing (strictly: every field of the seed's
    /// shape, `path` optional). `directory` is set when the access mask uses
    /// a directory-only name.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = FileHandleWire::deserialize(d)?;
        let hi = w.handle_info;
        let access_mask = AccessMask::parse_names(&hi.access_mask).map_err(de::Error::custom)?;
        let directory = hi.access_mask.iter().any(|n| DIRECTORY_ONLY_NAMES.contains(&n.as_str()));
        let mut info = HandleInfo::new(hi.location, access_mask, Arc::from(hi.owner));
        info.version = hi.version;
        info.num_byte_range_locks = hi.num_byte_range_locks;
        info.path = hi.path.map(Arc::from);
        info.directory = directory;
        info.num_notify_watches = hi.num_notify_watches;
        Ok(FileHandle::new(w.file_number, info))
    }
}

/// Parses a `POST /v1/smb/files/close` body into one requested location (or
/// the reason there is none) per element.
///
/// # Errors
///
/// [`RequestError`] when the body is larger than [`MAX_REQUEST_BYTES`], not
/// a JSON array, or longer than
/// [`MAX_REQUEST_ELEMENTS`](crate::MAX_REQUEST_ELEMENTS).
pub fn parse_close_request(body: &[u8]) -> Result<Vec<Result<Location, CloseError>>, RequestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge { len: body.len() });
    }
    scan::scan_close_request(body).map_err(|e| match e {
        scan::ScanError::TooMany => RequestError::TooManyElements,
        scan::ScanError::Syntax { what, at } => {
            RequestError::NotAnArray { detail: format!("{what} at byte {at}") }
        }
    })
}

/// Writes the response body: one `{"error_message": …}` per result.
pub fn close_response<T>(results: &[Result<T, CloseError>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + results.len() * 24);
    out.push(b'[');
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"error_message\":\"");
        if let Err(e) = r {
            // Every message is plain ASCII without quotes or backslashes.
            out.extend_from_slice(e.to_string().as_bytes());
        }
        out.extend_from_slice(b"\"}");
    }
    out.push(b']');
    out
}

impl HandleTable {
    /// Answers `POST /v1/smb/files/close`: takes its request body (a JSON
    /// array of file handles, as listed) and returns its response body, one
    /// `{"error_message": …}` per element in order: `""` on success, else
    /// `handle not found`, `invalid location` or `missing location`.
    ///
    /// Only `handle_info.location` is read; every other field is ignored
    /// whatever its type.
    ///
    /// # Errors
    ///
    /// A body over 4 MiB, not a JSON array, or with more than 100 000
    /// elements is a [`RequestError`] and closes nothing.
    ///
    /// ```
    /// use smb_handles::HandleTable;
    ///
    /// let table = HandleTable::new();
    /// let body = br#"[{"file_number": 0, "handle_info": {"location": "0000000100000000"}},
    ///                 {"handle_info": {"location": "zz"}}, {}]"#;
    /// let out = table.close_batch_json(body).unwrap();
    /// assert_eq!(String::from_utf8(out).unwrap(),
    ///     r#"[{"error_message":"handle not found"},{"error_message":"invalid location"},{"error_message":"missing location"}]"#);
    /// assert!(table.close_batch_json(b"{}").is_err());
    /// ```
    pub fn close_batch_json(&self, body: &[u8]) -> Result<Vec<u8>, RequestError> {
        let results = self.close_requested::<QuietClose, _>(parse_close_request(body)?);
        Ok(close_response(&results))
    }
}
