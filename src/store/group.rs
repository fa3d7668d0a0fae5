//! Group commit: many callers' ops in one [`HandleStore::commit`], one sync.
//!
//! # Implementation
//!
//! One committer thread. [`GroupCommit::enqueue`] locks the queue for a
//! `Vec::push` and an `Arc` clone and wakes the committer; it never waits
//! for I/O, so the table may call it under a shard lock (the queue order is
//! then the table's order for each handle). The queue's ops all belong to
//! the *open batch*; the committer takes the whole queue (a `mem::take`
//! under the lock), puts a fresh open batch in its place, commits the taken
//! ops in enqueue order with one call, and completes the taken batch, which
//! wakes every [`Ticket`] of it. While a commit runs, new ops gather in the
//! next batch: the more callers, the more ops per sync.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use super::{HandleStore, StoreError, StoreOp};

/// Combines the ops of concurrent callers into one commit of a
/// [`HandleStore`].
///
/// Every enqueued op is committed, whether or not its ticket is waited on;
/// dropping the `GroupCommit` commits what is queued and stops the thread.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use smb_handles::store::{GroupCommit, HandleStore, MemoryStore, StoreOp, StoredOpen};
///
/// let store = Arc::new(MemoryStore::new());
/// let group = GroupCommit::new(store.clone())?;
/// let a = group.enqueue(StoreOp::Put(StoredOpen::new(1, 10, "/a", "S-1-5-32-544")));
/// let b = group.enqueue(StoreOp::Remove(1));
/// a.wait()?;
/// b.wait()?;
/// assert!(store.load()?.opens.is_empty());
/// assert_eq!(group.ops(), 2);
/// assert!(group.commits() <= 2);
/// # Ok::<(), smb_handles::store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the committer.
    work: Condvar,
    commits: AtomicU64,
    ops: AtomicU64,
}

#[derive(Debug)]
struct Queue {
    ops: Vec<StoreOp>,
    batch: Arc<Batch>,
    stop: bool,
}

/// One commit's outcome, shared by its tickets.
#[derive(Debug, Default)]
struct Batch {
    result: Mutex<Option<Result<(), StoreError>>>,
    done: Condvar,
}

impl Batch {
    fn complete(&self, result: Result<(), StoreError>) {
        *self.result.lock() = Some(result);
        self.done.notify_all();
    }
}

/// A claim on one enqueued op: [`wait`](Ticket::wait) until it is durable.
///
/// Dropping a ticket does not cancel the op.
#[derive(Debug, Clone)]
pub struct Ticket {
    batch: Arc<Batch>,
}

impl Ticket {
    /// Blocks until the commit holding the op has completed.
    ///
    /// # Errors
    ///
    /// The commit's [`StoreError`]: the op (and its whole batch) is not in
    /// the store.
    pub fn wait(self) -> Result<(), StoreError> {
        let mut result = self.batch.result.lock();
        loop {
            if let Some(r) = result.as_ref() {
                return r.clone();
            }
            self.batch.done.wait(&mut result);
        }
    }

    /// True once the commit holding the op has completed (successfully or
    /// not); [`wait`](Ticket::wait) then returns at once.
    pub fn is_done(&self) -> bool {
        self.batch.result.lock().is_some()
    }
}

impl GroupCommit {
    /// Starts the committer thread for `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Committer`] when the thread cannot be started.
    pub fn new(store: Arc<dyn HandleStore>) -> Result<GroupCommit, StoreError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { ops: Vec::new(), batch: Arc::default(), stop: false }),
            work: Condvar::new(),
            commits: AtomicU64::new(0),
            ops: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("smbh-store-commit".into())
            .spawn(move || committer(&thread_shared, &*store))
            .map_err(|e| StoreError::Committer(format!("cannot start thread: {e}")))?;
        Ok(GroupCommit { shared, thread: Some(thread) })
    }

    /// Queues `op` for the next commit and returns at once (no I/O, no
    /// waiting for a commit in progress). Ops are committed in the order
    /// they are enqueued.
    pub fn enqueue(&self, op: StoreOp) -> Ticket {
        let mut queue = self.shared.queue.lock();
        queue.ops.push(op);
        let batch = Arc::clone(&queue.batch);
        drop(queue);
        self.shared.work.notify_one();
        Ticket { batch }
    }

    /// Enqueues `op` and waits for it: [`enqueue`](Self::enqueue) then
    /// [`Ticket::wait`].
    ///
    /// # Errors
    ///
    /// As [`Ticket::wait`].
    pub fn commit_one(&self, op: StoreOp) -> Result<(), StoreError> {
        self.enqueue(op).wait()
    }

    /// How many commits (syncs) have completed, failed ones included.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// How many ops those commits held.
    pub fn ops(&self) -> u64 {
        self.shared.ops.load(Ordering::Relaxed)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.queue.lock().stop = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take() {
            // The committer catches commit panics, so it ends normally.
            let _ = thread.join();
        }
    }
}

fn committer(shared: &Shared, store: &dyn HandleStore) {
    loop {
        let (ops, batch) = {
            let mut queue = shared.queue.lock();
            while queue.ops.is_empty() && !queue.stop {
                shared.work.wait(&mut queue);
            }
            if queue.ops.is_empty() {
                return; // stopping, and everything queued is committed
            }
            let ops = std::mem::take(&mut queue.ops);
            let batch = std::mem::take(&mut queue.batch);
            (ops, batch)
        };
        let result = catch_unwind(AssertUnwindSafe(|| store.commit(&ops)))
            .unwrap_or_else(|_| Err(StoreError::Committer("the store's commit panicked".into())));
        shared.commits.fetch_add(1, Ordering::Relaxed);
        shared.ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
        batch.complete(result);
    }
}
