//! The store in one SQLite file (WAL, `synchronous=FULL`).
//!
//! One table, `persistent_opens (id INTEGER PRIMARY KEY, record BLOB)`,
//! keyed by the persistent id (stored as the `i64` with the same bits);
//! the record is [`StoredOpen::encode`]'s bytes, whose CRC-32 catches the
//! damage SQLite itself does not check for (it keeps no page checksums).
//! Every commit is one `BEGIN IMMEDIATE … COMMIT` transaction, durable when
//! it returns: in WAL mode with `synchronous=FULL` SQLite syncs the log on
//! every commit.
//!
//! A second table, `store_meta`, keeps the number of records, updated in
//! the same transaction: a file that lost pages (a truncation SQLite does
//! not notice) then shows in [`Recovery::damaged`] as
//! [`DamageReason::Count`] instead of fewer handles without a word.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::{sort_row, Damage, DamageReason, DecodeError, HandleStore, Recovery};
use super::{StoreError, StoreOp, StoredOpen};

/// `PRAGMA application_id` of a store file: "SMBH".
const APPLICATION_ID: i32 = 0x534d_4248;
/// `PRAGMA user_version`: the schema.
const SCHEMA_VERSION: i32 = 1;

/// A [`HandleStore`] in one SQLite database file.
///
/// # Examples
///
/// ```
/// use smb_handles::store::{HandleStore, SqliteStore, StoreOp, StoredOpen};
///
/// let dir = std::env::temp_dir().join(format!("smbh-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("handles.db");
/// let open = StoredOpen::new(7, 4242, "/projects/q3/report.xlsx", "S-1-5-32-544");
/// {
///     let store = SqliteStore::open(&path)?;
///     store.commit(&[StoreOp::Put(open.clone())])?;
/// }
/// // After a restart (or a crash):
/// let recovery = SqliteStore::open(&path)?.load()?;
/// assert_eq!(recovery.opens, vec![open]);
/// assert!(recovery.damaged.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file (not its directory)
    /// when missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] when the file cannot be opened or is not a
    /// store: not a SQLite database, a damaged header, another
    /// application's database, a newer schema, or WAL mode refused.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let err =
            |e: rusqlite::Error| StoreError::Open { path: path.clone(), message: e.to_string() };
        let refuse = |message: String| StoreError::Open { path: path.clone(), message };
        // SQLite takes a file shorter than its 100-byte header for an empty
        // database, so a store cut that short would come back empty.
        if let Ok(meta) = std::fs::metadata(&path) {
            if (1..100).contains(&meta.len()) {
                return Err(refuse(format!(
                    "{} bytes, shorter than a database header (truncated?)",
                    meta.len()
                )));
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(refuse(format!("journal_mode is {mode}, not wal")));
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        let app: i32 =
            conn.pragma_query_value(None, "application_id", |row| row.get(0)).map_err(err)?;
        let schema: i32 =
            conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(err)?;
        match (app, schema) {
            (0, 0) => {
                // New (or created by a crash before its first commit): no
                // tables yet. Tables without our id are another program's.
                let tables: i64 = conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .map_err(err)?;
                if tables > 0 {
                    return Err(refuse(
                        "a database without a handle store's application_id".into(),
                    ));
                }
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     CREATE TABLE IF NOT EXISTS persistent_opens
                         (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
                     CREATE TABLE IF NOT EXISTS store_meta
                         (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                     INSERT OR IGNORE INTO store_meta VALUES ('records', 0);
                     PRAGMA application_id = {APPLICATION_ID};
                     PRAGMA user_version = {SCHEMA_VERSION};
                     COMMIT;"
                ))
                .map_err(err)?;
            }
            (APPLICATION_ID, SCHEMA_VERSION) => {}
            (APPLICATION_ID, v) => {
                return Err(refuse(format!("store schema {v}, this build reads {SCHEMA_VERSION}")))
            }
            (other, _) => {
                return Err(refuse(format!(
                    "another application's database (application_id {other:#x})"
                )))
            }
        }
        Ok(SqliteStore { path, conn: Mutex::new(conn) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn db_err(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Database { operation, message: e.to_string() }
}

impl HandleStore for SqliteStore {
    fn commit(&self, batch: &[StoreOp]) -> Result<(), StoreError> {
        // Encode outside the lock, and refuse the whole batch up front.
        let mut rows = Vec::with_capacity(batch.len());
        for op in batch {
            rows.push(match op {
                StoreOp::Put(open) => (open.persistent_id as i64, Some(open.encode()?)),
                StoreOp::Remove(id) => (*id as i64, None),
            });
        }
        let err = db_err("commit");
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO persistent_opens (id, record) VALUES (?1, ?2)",
                )
                .map_err(&err)?;
            let mut remove =
                tx.prepare_cached("DELETE FROM persistent_opens WHERE id = ?1").map_err(&err)?;
            let mut exists = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM persistent_opens WHERE id = ?1)")
                .map_err(&err)?;
            // The change to the record count, kept in the same transaction.
            let mut delta = 0i64;
            for (id, record) in &rows {
                match record {
                    Some(bytes) => {
                        let existed: bool = exists.query_row([id], |r| r.get(0)).map_err(&err)?;
                        put.execute((id, bytes)).map_err(&err)?;
                        delta += i64::from(!existed);
                    }
                    None => delta -= remove.execute([id]).map_err(&err)? as i64,
                }
            }
            if delta != 0 {
                tx.prepare_cached("UPDATE store_meta SET value = value + ?1 WHERE key = 'records'")
                    .map_err(&err)?
                    .execute([delta])
                    .map_err(&err)?;
            }
        }
        // On any error above, dropping `tx` rolls the batch back.
        tx.commit().map_err(&err)
    }

    fn load(&self) -> Result<Recovery, StoreError> {
        let err = db_err("load");
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, record FROM persistent_opens ORDER BY id")
            .map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        let mut recovery = Recovery::default();
        let mut rows_read = 0u64;
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => {
                    // A malformed page: keep what was read, say where it stopped.
                    recovery
                        .damaged
                        .push(Damage { key: None, reason: DamageReason::Scan(e.to_string()) });
                    break;
                }
            };
            let key = match row.get::<_, i64>(0) {
                Ok(key) => key as u64,
                Err(e) => {
                    recovery
                        .damaged
                        .push(Damage { key: None, reason: DamageReason::Scan(e.to_string()) });
                    continue;
                }
            };
            rows_read += 1;
            let value = match row.get_ref(1) {
                Ok(ValueRef::Blob(bytes)) => StoredOpen::decode(bytes),
                _ => Err(DecodeError::NotBytes),
            };
            sort_row(&mut recovery, key, value);
        }
        drop(rows);
        // SQLite orders the keys as i64: ids with the top bit set came first.
        recovery.opens.sort_unstable_by_key(|open| open.persistent_id);
        let expected =
            conn.query_row("SELECT value FROM store_meta WHERE key = 'records'", [], |r| {
                r.get::<_, i64>(0)
            });
        match expected {
            Ok(expected) if expected as u64 == rows_read => {}
            Ok(expected) => recovery.damaged.push(Damage {
                key: None,
                reason: DamageReason::Count { counted: expected as u64, found: rows_read },
            }),
            Err(e) => recovery.damaged.push(Damage {
                key: None,
                reason: DamageReason::Scan(format!("record count unreadable: {e}")),
            }),
        }
        Ok(recovery)
    }
}
