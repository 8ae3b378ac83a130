//! The audit log in PostgreSQL (contract §8) for [`DistStorage`]: the
//! table `audit` (migration 4 in `schema.rs`), one row per entry, keyed by
//! `(at, seq)`: the entry's time in ms and a number from an identity
//! column, which orders the entries of one millisecond (across processes:
//! in the order their inserts drew it). [`AuditKey`] is the two as u64
//! big-endian, as in the embedded layout, so the listing's cursor means
//! the same on both. The entry itself is JSON in `entry`.
//!
//! Append-only, enforced by the database too: a trigger refuses every
//! `UPDATE` and `TRUNCATE` of the table, and every `DELETE` but the
//! retention sweep's prune ([`AuditLog::prune_audit`]), which names its
//! bound in its transaction (`reel.audit_prune_before`, migration 10):
//! a row at or after it is refused too.

use super::sessions::{big, unbig};
use super::DistStorage;
use crate::store::audit::{audit_key, AuditEntry, AuditKey, AuditLog};
use crate::store::StoreError;

fn decode(v: &str) -> Result<AuditEntry, StoreError> {
    serde_json::from_str(v).map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))
}

impl AuditLog for DistStorage {
    /// Durable on return (one committed insert).
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let body = serde_json::to_string(entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let at = big(entry.at);
        self.pg().run(async |c| {
            let s = c
                .prepare_cached("INSERT INTO audit (at, entry) VALUES ($1, $2)")
                .await?;
            c.execute(&s, &[&at, &body]).await?;
            Ok(())
        })
    }

    fn audit_entries(
        &self,
        since_ms: u64,
        before: Option<AuditKey>,
        limit: usize,
    ) -> Result<Vec<(AuditKey, AuditEntry)>, StoreError> {
        let Ok(since) = i64::try_from(since_ms) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // A cursor past every stored key (its time beyond i64) bounds nothing.
        let before = before.and_then(|k| {
            let at = i64::try_from(u64::from_be_bytes(k[..8].try_into().ok()?)).ok()?;
            let seq = u64::from_be_bytes(k[8..].try_into().ok()?);
            Some((at, i64::try_from(seq).unwrap_or(i64::MAX)))
        });
        let rows = self.pg().run(async |c| {
            Ok(match before {
                Some((at, seq)) => {
                    let s = c
                        .prepare_cached(
                            "SELECT at, seq, entry FROM audit \
                             WHERE at >= $1 AND (at, seq) < ($2, $3) \
                             ORDER BY at DESC, seq DESC LIMIT $4",
                        )
                        .await?;
                    c.query(&s, &[&since, &at, &seq, &limit]).await?
                }
                None => {
                    let s = c
                        .prepare_cached(
                            "SELECT at, seq, entry FROM audit WHERE at >= $1 \
                             ORDER BY at DESC, seq DESC LIMIT $2",
                        )
                        .await?;
                    c.query(&s, &[&since, &limit]).await?
                }
            })
        })?;
        rows.iter()
            .map(|r| {
                let key = audit_key(unbig(r.try_get(0)?), unbig(r.try_get(1)?));
                Ok((key, decode(r.try_get(2)?)?))
            })
            .collect()
    }

    /// Durable on return (one committed transaction).
    fn prune_audit(&self, before_ms: u64) -> Result<u64, StoreError> {
        let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
        let bound = before.to_string();
        self.pg().tx(async |tx| {
            tx.execute(
                "SELECT set_config('reel.audit_prune_before', $1, true)",
                &[&bound],
            )
            .await?;
            Ok(tx
                .execute("DELETE FROM audit WHERE at < $1", &[&before])
                .await?)
        })
    }
}
