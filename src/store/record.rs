//! What the store keeps for one persistent open ([`StoredOpen`]) and its
//! byte encoding.
//!
//! # Encoding (format version 1)
//!
//! All integers little-endian; a string is a `u32` byte length and UTF-8
//! bytes; the trailer is a CRC-32 (IEEE) of every byte before it, so a
//! flipped bit anywhere in a value is reported as
//! [`DecodeError::Checksum`], never decoded into another handle.
//!
//! ```text
//! u8  format version (1)
//! u64 persistent_id   u64 file_number   u32 access   u32 share
//! u8  flags: 1 directory, 2 app_instance_id present, 4 lease_key present
//! [16] create_guid    [16] client_guid
//! [16] app_instance_id (if flagged)   [16] lease_key (if flagged)
//! u8  lease_state     u32 timeout_ms    u64 version
//! str path  str owner  str share_name
//! u32 lock count, then per lock: u64 offset, u64 length, u8 exclusive (0|1)
//! u32 CRC-32 of all the above
//! ```

use std::fmt;

use crate::limits::{MAX_OWNER_LEN, MAX_PATH_LEN, MAX_SHARE_NAME_LEN};

/// The format version written by [`StoredOpen::encode`].
pub const FORMAT_VERSION: u8 = 1;

/// The most byte-range locks one stored open may carry (an encoding limit,
/// far above what a client holds through one handle).
pub const MAX_STORED_LOCKS: usize = 1 << 20;

const FLAG_DIRECTORY: u8 = 1;
const FLAG_APP_INSTANCE: u8 = 2;
const FLAG_LEASE_KEY: u8 = 4;
const KNOWN_FLAGS: u8 = FLAG_DIRECTORY | FLAG_APP_INSTANCE | FLAG_LEASE_KEY;
const LOCK_BYTES: usize = 17;

/// One byte-range lock held through a persistent open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoredLock {
    /// First byte locked.
    pub offset: u64,
    /// Number of bytes locked (0 is a valid, empty range).
    pub length: u64,
    /// Exclusive (write) lock; shared (read) when false.
    pub exclusive: bool,
}

impl StoredLock {
    /// A lock of `length` bytes from `offset`.
    pub fn new(offset: u64, length: u64, exclusive: bool) -> StoredLock {
        StoredLock { offset, length, exclusive }
    }
}

/// Everything a crashed server needs to rebuild one persistent open: the
/// open itself, its byte-range locks and its reconnect identity.
///
/// # Examples
///
/// ```
/// use smb_handles::store::{StoredLock, StoredOpen};
///
/// let mut open = StoredOpen::new(0x0000_0001_000a_0003, 4242, "/projects/q3/report.xlsx",
///                                "S-1-5-21-1004336348-1177238915-682003330-1104");
/// open.locks.push(StoredLock::new(0, 4096, true));
/// let bytes = open.encode()?;
/// assert_eq!(StoredOpen::decode(&bytes)?, open);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredOpen {
    /// The open's persistent id (its location when it was granted); the
    /// key in the store.
    pub persistent_id: u64,
    /// The open's location now (a reconnect gives it a new one; a recovered
    /// open is restored at it). [`StoredOpen::new`] sets it to
    /// `persistent_id`.
    pub location: u64,
    /// The file (inode) the open is on.
    pub file_number: u64,
    /// The file's path (at most [`MAX_PATH_LEN`] bytes).
    pub path: String,
    /// The opener's SID (at most [`MAX_OWNER_LEN`] bytes).
    pub owner: String,
    /// The granted access mask bits.
    pub access: u32,
    /// The share mode bits (`FILE_SHARE_READ | WRITE | DELETE`).
    pub share: u32,
    /// A directory handle.
    pub directory: bool,
    /// The CREATE's `SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2` create GUID.
    pub create_guid: [u8; 16],
    /// The client's GUID (from NEGOTIATE).
    pub client_guid: [u8; 16],
    /// `SMB2_CREATE_APP_INSTANCE_ID`, when the client sent one.
    pub app_instance_id: Option<[u8; 16]>,
    /// The lease key, for a leased open.
    pub lease_key: Option<[u8; 16]>,
    /// The lease state bits (R = 1, H = 2, W = 4) or an oplock level.
    pub lease_state: u8,
    /// How long the handle is kept for a reconnect, in milliseconds.
    pub timeout_ms: u32,
    /// The tree connect's share name (at most [`MAX_SHARE_NAME_LEN`] bytes).
    pub share_name: String,
    /// The record's version in the table (for ordering and checks).
    pub version: u64,
    /// The byte-range locks held through the open.
    pub locks: Vec<StoredLock>,
}

impl StoredOpen {
    /// An open with no access, no sharing, zero GUIDs, no lease, no locks,
    /// an empty share name and version 1; set the other fields directly.
    pub fn new(
        persistent_id: u64,
        file_number: u64,
        path: impl Into<String>,
        owner: impl Into<String>,
    ) -> StoredOpen {
        StoredOpen {
            persistent_id,
            location: persistent_id,
            file_number,
            path: path.into(),
            owner: owner.into(),
            access: 0,
            share: 0,
            directory: false,
            create_guid: [0; 16],
            client_guid: [0; 16],
            app_instance_id: None,
            lease_key: None,
            lease_state: 0,
            timeout_ms: 0,
            share_name: String::new(),
            version: 1,
            locks: Vec::new(),
        }
    }

    /// The bytes the store keeps: format version, fields, CRC-32.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] when a string is longer than its limit or there are
    /// more than [`MAX_STORED_LOCKS`] locks.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        check_len("path", &self.path, MAX_PATH_LEN)?;
        check_len("owner", &self.owner, MAX_OWNER_LEN)?;
        check_len("share_name", &self.share_name, MAX_SHARE_NAME_LEN)?;
        if self.locks.len() > MAX_STORED_LOCKS {
            return Err(EncodeError {
                field: "locks",
                len: self.locks.len(),
                max: MAX_STORED_LOCKS,
            });
        }
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.persistent_id.to_le_bytes());
        out.extend_from_slice(&self.location.to_le_bytes());
        out.extend_from_slice(&self.file_number.to_le_bytes());
        out.extend_from_slice(&self.access.to_le_bytes());
        out.extend_from_slice(&self.share.to_le_bytes());
        let mut flags = 0;
        if self.directory {
            flags |= FLAG_DIRECTORY;
        }
        if self.app_instance_id.is_some() {
            flags |= FLAG_APP_INSTANCE;
        }
        if self.lease_key.is_some() {
            flags |= FLAG_LEASE_KEY;
        }
        out.push(flags);
        out.extend_from_slice(&self.create_guid);
        out.extend_from_slice(&self.client_guid);
        for guid in [self.app_instance_id, self.lease_key].iter().flatten() {
            out.extend_from_slice(guid);
        }
        out.push(self.lease_state);
        out.extend_from_slice(&self.timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        for s in [&self.path, &self.owner, &self.share_name] {
            put_len(&mut out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        put_len(&mut out, self.locks.len());
        for lock in &self.locks {
            out.extend_from_slice(&lock.offset.to_le_bytes());
            out.extend_from_slice(&lock.length.to_le_bytes());
            out.push(u8::from(lock.exclusive));
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// The length of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        let guids = 16
            * (2 + usize::from(self.app_instance_id.is_some())
                + usize::from(self.lease_key.is_some()));
        1 + 8
            + 8
            + 8
            + 4
            + 4
            + 1
            + guids
            + 1
            + 4
            + 8
            + 4 * 3
            + self.path.len()
            + self.owner.len()
            + self.share_name.len()
            + 4
            + LOCK_BYTES * self.locks.len()
            + 4
    }

    /// Reads what [`encode`](Self::encode) wrote. Never panics: any other
    /// input, including a valid encoding with a flipped bit, is an error.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] saying what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<StoredOpen, DecodeError> {
        let Some(body_len) = bytes.len().checked_sub(4) else {
            return Err(DecodeError::TooShort { len: bytes.len() });
        };
        let (body, crc) = bytes.split_at(body_len);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(DecodeError::Checksum { stored, computed });
        }
        let mut r = Reader(body);
        let version = r.u8("format version")?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let persistent_id = r.u64("persistent_id")?;
        let location = r.u64("location")?;
        let file_number = r.u64("file_number")?;
        let access = r.u32("access")?;
        let share = r.u32("share")?;
        let flags = r.u8("flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::Invalid { field: "flags" });
        }
        let create_guid = r.guid("create_guid")?;
        let client_guid = r.guid("client_guid")?;
        let app_instance_id = match flags & FLAG_APP_INSTANCE {
            0 => None,
            _ => Some(r.guid("app_instance_id")?),
        };
        let lease_key = match flags & FLAG_LEASE_KEY {
            0 => None,
            _ => Some(r.guid("lease_key")?),
        };
        let lease_state = r.u8("lease_state")?;
        let timeout_ms = r.u32("timeout_ms")?;
        let record_version = r.u64("version")?;
        let path = r.string("path", MAX_PATH_LEN)?;
        let owner = r.string("owner", MAX_OWNER_LEN)?;
        let share_name = r.string("share_name", MAX_SHARE_NAME_LEN)?;
        let count = r.u32("locks")? as usize;
        if count > MAX_STORED_LOCKS || count.saturating_mul(LOCK_BYTES) > r.0.len() {
            return Err(DecodeError::Truncated { field: "locks" });
        }
        let mut locks = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64("lock offset")?;
            let length = r.u64("lock length")?;
            let exclusive = match r.u8("lock kind")? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Invalid { field: "lock kind" }),
            };
            locks.push(StoredLock { offset, length, exclusive });
        }
        if !r.0.is_empty() {
            return Err(DecodeError::TrailingBytes { len: r.0.len() });
        }
        Ok(StoredOpen {
            persistent_id,
            location,
            file_number,
            path,
            owner,
            access,
            share,
            directory: flags & FLAG_DIRECTORY != 0,
            create_guid,
            client_guid,
            app_instance_id,
            lease_key,
            lease_state,
            timeout_ms,
            share_name,
            version: record_version,
            locks,
        })
    }
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), EncodeError> {
    if s.len() > max {
        return Err(EncodeError { field, len: s.len(), max });
    }
    Ok(())
}

/// Lengths are checked against limits far below `u32::MAX` first.
fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

/// A cursor over the body; every read checks the remaining length.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated { field });
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.array(field).map(u64::from_le_bytes)
    }

    fn guid(&mut self, field: &'static str) -> Result<[u8; 16], DecodeError> {
        self.array(field)
    }

    fn string(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::Invalid { field });
        }
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Invalid { field })
    }
}

/// A record that cannot be encoded: a field over its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeError {
    /// The field (`"path"`, `"owner"`, `"share_name"` or `"locks"`).
    pub field: &'static str,
    /// Its length (bytes, or locks).
    pub len: usize,
    /// The limit.
    pub max: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stored open's {} is {} long, more than the limit of {}",
            self.field, self.len, self.max
        )
    }
}

impl std::error::Error for EncodeError {}

/// Why stored bytes are not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the checksum alone.
    TooShort {
        /// The length found.
        len: usize,
    },
    /// The CRC-32 does not match: the value is damaged.
    Checksum {
        /// The checksum in the trailer.
        stored: u32,
        /// The checksum of the bytes before it.
        computed: u32,
    },
    /// A format version this build does not read.
    UnknownVersion(u8),
    /// The bytes end inside a field.
    Truncated {
        /// The field.
        field: &'static str,
    },
    /// A field holds a value no encoder writes (flags, lock kind, a string
    /// over its limit or not UTF-8).
    Invalid {
        /// The field.
        field: &'static str,
    },
    /// Bytes after the last lock.
    TrailingBytes {
        /// How many.
        len: usize,
    },
    /// The record is intact but names another persistent id than its key.
    KeyMismatch {
        /// The id inside the record.
        stored_id: u64,
    },
    /// The store's value is not a byte string (SQLite: not a BLOB).
    NotBytes,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort { len } => write!(f, "stored record of {len} bytes is too short"),
            DecodeError::Checksum { stored, computed } => write!(
                f,
                "stored record is damaged: checksum {stored:08x}, computed {computed:08x}"
            ),
            DecodeError::UnknownVersion(v) => write!(f, "stored record has unknown format {v}"),
            DecodeError::Truncated { field } => write!(f, "stored record ends inside {field}"),
            DecodeError::Invalid { field } => write!(f, "stored record has an invalid {field}"),
            DecodeError::TrailingBytes { len } => {
                write!(f, "stored record has {len} bytes after its end")
            }
            DecodeError::KeyMismatch { stored_id } => {
                write!(f, "stored record names persistent id {stored_id:016x}, not its key")
            }
            DecodeError::NotBytes => f.write_str("stored value is not a byte string"),
        }
    }
}

impl std::error::Error for DecodeError {}
