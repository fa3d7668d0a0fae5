//! A store in memory, for tests and for servers without persistent shares.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use super::{HandleStore, Recovery, StoreError, StoreOp, StoredOpen};

/// A [`HandleStore`] in a `BTreeMap`: "durable" when `commit` returns, gone
/// with the process. Counts its commits.
///
/// # Examples
///
/// ```
/// use smb_handles::store::{HandleStore, MemoryStore, StoreOp, StoredOpen};
///
/// let store = MemoryStore::new();
/// store.commit(&[StoreOp::Put(StoredOpen::new(7, 1, "/a", "S-1-5-32-544")), StoreOp::Remove(7)])?;
/// assert!(store.load()?.opens.is_empty());
/// assert_eq!(store.commits(), 1);
/// # Ok::<(), smb_handles::store::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    opens: BTreeMap<u64, StoredOpen>,
    commits: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.inner.lock().opens.len()
    }

    /// True when it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times [`HandleStore::commit`] succeeded.
    pub fn commits(&self) -> u64 {
        self.inner.lock().commits
    }
}

impl HandleStore for MemoryStore {
    fn commit(&self, batch: &[StoreOp]) -> Result<(), StoreError> {
        // Encodable, as a durable store would need: all or nothing.
        for op in batch {
            if let StoreOp::Put(open) = op {
                open.encode()?;
            }
        }
        let mut inner = self.inner.lock();
        for op in batch {
            match op {
                StoreOp::Put(open) => {
                    inner.opens.insert(open.persistent_id, open.clone());
                }
                StoreOp::Remove(id) => {
                    inner.opens.remove(id);
                }
            }
        }
        inner.commits += 1;
        Ok(())
    }

    fn load(&self) -> Result<Recovery, StoreError> {
        Ok(Recovery {
            opens: self.inner.lock().opens.values().cloned().collect(),
            damaged: Vec::new(),
        })
    }
}
