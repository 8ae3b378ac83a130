//! The audit log's storage (contract §8): who did what, when and from
//! where. Append-only: the trait has no way to change an entry, and one
//! way to remove entries, [`AuditLog::prune_audit`], which only the
//! retention sweep calls ([`crate::retention`]): the log is kept as long
//! as the longest retention, and an entry older than that goes (no API
//! edits or deletes an entry; a session's delete leaves its entries).
//! Entries name sessions in their value, never in their key, so a
//! session's delete leaves no key of it behind.
//!
//! Implemented for [`LogStorage`] (the sled tree `audit`, keyed by the
//! entry's time in ms and a sequence number, both big-endian, so that key
//! order is time order) and for the in-memory [`MemStorage`].

use super::{LogStorage, StoreError};
use serde::{Deserialize, Serialize};

/// The sled tree the log lives in.
pub(crate) const AUDIT_TREE: &str = "audit";

/// One entry, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, ms since the Unix epoch (the server's clock).
    pub at: u64,
    /// Who: a member's email, `admin` for the API token, or a share link.
    pub actor: String,
    /// What: `login`, `login_failed`, `view`, `share`, `export`,
    /// `delete`, `member_add`, ... (see [`crate::audit`]).
    pub action: String,
    /// The session it concerns, if one (32 hex digits).
    pub session_id: Option<String>,
    pub detail: String,
    /// From where: the client's address, as [`crate::client`] found it.
    pub address: Option<String>,
}

/// Where an entry sits in the log: its time and a sequence number that
/// orders entries of the same millisecond. Also the listing's cursor.
pub type AuditKey = [u8; 16];

/// The audit log. Methods block (call them off the async workers).
pub trait AuditLog {
    /// Appends an entry. Not durable on return: the caller flushes the
    /// store ([`super::Store::flush`]) when it must be.
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Entries with `at >= since_ms` and (when given) a key strictly
    /// before `before`, newest first, at most `limit`.
    fn audit_entries(
        &self,
        since_ms: u64,
        before: Option<AuditKey>,
        limit: usize,
    ) -> Result<Vec<(AuditKey, AuditEntry)>, StoreError>;

    /// Removes the entries with `at < before_ms`; how many. The retention
    /// sweep's alone (entries older than the longest retention). Not
    /// durable on return on the embedded layout (the caller flushes).
    fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError>;
}

pub(crate) fn audit_key(at: u64, seq: u64) -> AuditKey {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&at.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn encode(e: &AuditEntry) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(e).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(v: &[u8]) -> Result<AuditEntry, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))
}

impl AuditLog for LogStorage {
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let db = self.db();
        let key = audit_key(entry.at, db.generate_id()?);
        db.open_tree(AUDIT_TREE)?.insert(key, encode(entry)?)?;
        Ok(())
    }

    fn audit_entries(
        &self,
        since_ms: u64,
        before: Option<AuditKey>,
        limit: usize,
    ) -> Result<Vec<(AuditKey, AuditEntry)>, StoreError> {
        let tree = self.db().open_tree(AUDIT_TREE)?;
        let lo = audit_key(since_ms, 0);
        let hi = before.unwrap_or([0xff; 16]);
        let mut out = Vec::new();
        for kv in tree.range(lo..hi).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv?;
            let key: AuditKey = k
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("audit key".into()))?;
            out.push((key, decode(&v)?));
        }
        Ok(out)
    }

    fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError> {
        let tree = self.db().open_tree(AUDIT_TREE)?;
        let mut n = 0;
        // In batches: a long-unpruned log may be large.
        loop {
            let keys: Vec<sled::IVec> = tree
                .range(..audit_key(before_ms, 0))
                .keys()
                .take(1024)
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                return Ok(n);
            }
            let mut batch = sled::Batch::default();
            for k in &keys {
                batch.remove(k);
            }
            tree.apply_batch(batch)?;
            n += keys.len() as u64;
        }
    }
}

#[cfg(test)]
impl AuditLog for super::mem::MemStorage {
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut log = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let seq = log.len() as u64;
        log.insert(audit_key(entry.at, seq), entry.clone());
        Ok(())
    }

    fn audit_entries(
        &self,
        since_ms: u64,
        before: Option<AuditKey>,
        limit: usize,
    ) -> Result<Vec<(AuditKey, AuditEntry)>, StoreError> {
        let log = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let hi = before.unwrap_or([0xff; 16]);
        Ok(log
            .range(audit_key(since_ms, 0)..hi)
            .rev()
            .take(limit)
            .map(|(k, e)| (*k, e.clone()))
            .collect())
    }

    fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError> {
        let mut log = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let keep = log.split_off(&audit_key(before_ms, 0));
        let n = log.len() as u64;
        *log = keep;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;

    fn entry(at: u64, action: &str) -> AuditEntry {
        AuditEntry {
            at,
            actor: "admin".into(),
            action: action.into(),
            session_id: None,
            detail: String::new(),
            address: Some("127.0.0.1".into()),
        }
    }

    fn check(log: &dyn AuditLog) {
        for (at, a) in [(10, "a"), (20, "b"), (20, "c"), (30, "d")] {
            log.append_audit(&entry(at, a)).unwrap();
        }
        let all = log.audit_entries(0, None, 10).unwrap();
        let actions: Vec<&str> = all.iter().map(|(_, e)| e.action.as_str()).collect();
        assert_eq!(actions, ["d", "c", "b", "a"], "newest first");
        let since = log.audit_entries(20, None, 10).unwrap();
        assert_eq!(since.len(), 3);
        let page = log.audit_entries(0, None, 2).unwrap();
        assert_eq!(page.len(), 2);
        let rest = log.audit_entries(0, Some(page[1].0), 10).unwrap();
        let actions: Vec<&str> = rest.iter().map(|(_, e)| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["b", "a"],
            "the cursor continues where the page ended"
        );
    }

    /// Pruning removes the entries before the bound, and those alone.
    fn check_prune(log: &dyn AuditLog) {
        assert_eq!(log.prune_audit(20).unwrap(), 1, "the entry at 10");
        let left: Vec<u64> = log
            .audit_entries(0, None, 10)
            .unwrap()
            .iter()
            .map(|(_, e)| e.at)
            .collect();
        assert_eq!(left, [30, 20, 20]);
        assert_eq!(log.prune_audit(20).unwrap(), 0, "nothing more");
        assert_eq!(log.prune_audit(31).unwrap(), 3);
        assert!(log.audit_entries(0, None, 10).unwrap().is_empty());
        log.append_audit(&entry(40, "e")).unwrap();
        assert_eq!(log.audit_entries(0, None, 10).unwrap().len(), 1);
    }

    #[test]
    fn newest_first_since_and_paged_on_both_backends() {
        let m = MemStorage::default();
        check(&m);
        check_prune(&m);
        let dir = tempfile::tempdir().unwrap();
        let s = LogStorage::open(dir.path()).unwrap();
        check(&s);
        check_prune(&s);
        // Not a session's keys: a session's delete leaves them.
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0);
    }

    #[test]
    fn newest_first_since_and_paged_on_the_distributed_layout() {
        let s = crate::store::dist::digest::fresh_for_tests();
        check(&s);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0);
        // Append-only in the database too.
        for sql in ["UPDATE audit SET entry = '{}'", "DELETE FROM audit"] {
            let r = s.pg().run(async |c| Ok(c.execute(sql, &[]).await?));
            assert!(r.is_err(), "{sql} was allowed");
        }
        assert_eq!(s.audit_entries(0, None, 10).unwrap().len(), 4);
        // Pruning is the one delete the database lets through: of old
        // entries, in the prune's own transaction.
        let r = s.pg().tx(async |tx| {
            tx.batch_execute(
                "SELECT set_config('reel.audit_prune_before', '15', true); \
                 DELETE FROM audit WHERE at < 25",
            )
            .await?;
            Ok(())
        });
        assert!(r.is_err(), "a delete past the prune's bound was allowed");
        let r = s
            .pg()
            .run(async |c| Ok(c.batch_execute("TRUNCATE audit").await?));
        assert!(r.is_err(), "TRUNCATE was allowed");
        assert_eq!(s.audit_entries(0, None, 10).unwrap().len(), 4);
        check_prune(&s);
    }
}
