//! Every input limit of the crate, in one place at the bottom of the layers:
//! the model, the table, JSON and the C ABI all take their limits from here.

/// The longest path an open or rename accepts, in bytes.
pub const MAX_PATH_LEN: usize = 32_767;
/// The longest owner an open accepts, in bytes.
pub const MAX_OWNER_LEN: usize = 1_024;
/// The page size used when [`ListQuery::limit`](crate::ListQuery::limit) is `None`.
pub const DEFAULT_LIST_LIMIT: usize = 1_000;
/// The largest page; larger limits are lowered to it.
pub const MAX_LIST_LIMIT: usize = 10_000;
/// The largest `POST /v1/smb/files/close` body accepted, in bytes (4 MiB).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;
/// The most elements one close request may hold.
pub const MAX_REQUEST_ELEMENTS: usize = 100_000;
/// The default cap on live handles: 16 777 216.
pub const DEFAULT_MAX_HANDLES: usize = 1 << 24;

/// The longest share name a tree connect takes, in bytes (MS-SMB2's share
/// names are at most 80 characters; this allows them in any UTF-8).
pub const MAX_SHARE_NAME_LEN: usize = 256;
