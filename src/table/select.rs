//! Closes by selector (`HandleTable::close_selected`): every handle of a
//! session, a tree connect, a share, a user, a client address, or under a
//! path, each swept a step at a time as a logoff sweeps its trees.

use std::net::IpAddr;

use crate::record::{check_path, FileNumber};
use crate::session::{CloseOutcome, Selector, SessionError};

use super::sessions::SWEEP_STEP;
use super::HandleTable;

impl HandleTable {
    /// Closes every handle a selector names, in bounded steps (no shard
    /// lock is held for more than a few hundred closes): one result per
    /// handle found, and the counts. Sessions and trees stay connected; the
    /// unlock hook is called once per file whose locks went.
    ///
    /// # Errors
    ///
    /// [`SessionError::SessionDeleted`] / [`SessionError::TreeDeleted`] for
    /// a session or tree that is gone, [`SessionError::InvalidPath`] for an
    /// empty or invalid path prefix.
    ///
    /// ```
    /// use smb_handles::{AccessMask, FileNumber, HandleTable, OpenSpec, Selector};
    /// let table = HandleTable::new();
    /// for (f, p) in [(1, "/a/b"), (2, "/a/b/c.txt"), (3, "/a/bc")] {
    ///     table.open(OpenSpec::new(FileNumber(f), p, "me", AccessMask::FILE_READ_DATA))?;
    /// }
    /// let out = table.close_selected(&Selector::PathPrefix("/a/b".into()))?;
    /// assert_eq!(out.closed, 2);
    /// assert_eq!(table.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_selected(&self, selector: &Selector) -> Result<CloseOutcome, SessionError> {
        let mut out = CloseOutcome::default();
        let mut unlocked = Vec::new();
        match selector {
            Selector::PathPrefix(prefix) => {
                if prefix.is_empty() || check_path(prefix).is_err() {
                    return Err(SessionError::InvalidPath);
                }
                // "/" (or "\\") is the root: everything.
                self.close_by_path(prefix.trim_end_matches(['/', '\\']), &mut out, &mut unlocked);
            }
            _ => {
                for t in self.select_trees(selector)? {
                    self.sweep_tree(t, false, &mut out, &mut unlocked);
                }
            }
        }
        self.finish_sweep(unlocked);
        Ok(out)
    }

    /// The registry indices of the trees a (non-path) selector names.
    fn select_trees(&self, selector: &Selector) -> Result<Vec<u32>, SessionError> {
        let Some(reg) = self.sessions.get() else {
            return match selector {
                Selector::Session(_) => Err(SessionError::SessionDeleted),
                Selector::Tree(_) => Err(SessionError::TreeDeleted),
                _ => Ok(Vec::new()),
            };
        };
        match selector {
            Selector::Session(id) => {
                reg.sessions
                    .find(id.generation(), id.index())
                    .ok_or(SessionError::SessionDeleted)?;
                Ok(self.trees_of(*id))
            }
            Selector::Tree(id) => {
                reg.trees.find(id.generation(), id.index()).ok_or(SessionError::TreeDeleted)?;
                Ok(vec![id.index()])
            }
            Selector::ShareName(name) => {
                let mut out = Vec::new();
                for i in 0..reg.trees.high() {
                    let e = reg.trees.entry(i).expect("below high");
                    let p = e.payload.lock();
                    if p.as_ref().is_some_and(|r| r.share.eq_ignore_ascii_case(name)) {
                        out.push(i);
                    }
                }
                Ok(out)
            }
            Selector::User(_) | Selector::ClientAddress(_) => {
                let mut out = Vec::new();
                for i in 0..reg.sessions.high() {
                    let e = reg.sessions.entry(i).expect("below high");
                    let p = e.payload.lock();
                    let Some(rec) = p.as_ref() else { continue };
                    let hit = match selector {
                        Selector::User(u) => {
                            *rec.spec.user.sid == **u || *rec.spec.user.name == **u
                        }
                        Selector::ClientAddress(a) => same_ip(rec.spec.client_address, *a),
                        _ => false,
                    };
                    if hit {
                        out.extend_from_slice(&rec.trees);
                    }
                }
                Ok(out)
            }
            Selector::PathPrefix(_) => Ok(Vec::new()),
        }
    }

    /// Closes every handle whose path is `prefix` or under it, walking each
    /// shard in steps.
    fn close_by_path(&self, prefix: &str, out: &mut CloseOutcome, unlocked: &mut Vec<FileNumber>) {
        for shard in self.shards.iter() {
            let mut from = 0;
            loop {
                let g = shard.lock.write();
                let (locs, next) = g.select_by_path(from, SWEEP_STEP * 16, SWEEP_STEP, prefix);
                self.close_step(shard, g, locs, out, unlocked);
                match next {
                    Some(n) => from = n,
                    None => break,
                }
            }
        }
    }
}

/// Addresses compare as the same host when equal, or one is the other as
/// an IPv4-mapped IPv6 address.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}
