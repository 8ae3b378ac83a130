//! Failed sign-ins in PostgreSQL for [`DistStorage`]: the counters of
//! [`crate::store::signin_limits`] in the table `signin_counters`
//! (migration 8 in `schema.rs`: key as bytes, failure times, lockout end,
//! and when the counter is idle), so that every process of a deployment counts the
//! same failures.
//!
//! A failure is one transaction: the counter's row is created or locked
//! (`INSERT ... ON CONFLICT DO UPDATE` locks it either way), changed by
//! [`Counter::fail`] (the one rule every backend runs), written back; so
//! concurrent failures of one key, from any processes, all count. The same
//! transaction drops a few idle counters (those another transaction holds
//! are skipped, not waited for).

use super::sessions::{big, unbig};
use super::DistStorage;
use crate::store::signin_limits::{Counter, Rule, SignInCounters};
use crate::store::StoreError;

/// Idle counters one failure drops at most.
const PRUNE: i64 = 100;

impl SignInCounters for DistStorage {
    fn signin_locked_until(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let key = key.as_bytes();
        let row = self.pg().run(async |c| {
            let s = c
                .prepare_cached("SELECT locked_until FROM signin_counters WHERE key = $1")
                .await?;
            Ok(c.query_opt(&s, &[&key]).await?)
        })?;
        Ok(row
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()?
            .map(unbig)
            .filter(|u| *u > 0))
    }

    fn signin_failed(&self, key: &str, now_ms: u64, rule: &Rule) -> Result<(), StoreError> {
        let key = key.as_bytes();
        let now = big(now_ms);
        self.pg().tx(async |tx| {
            let (get, put, prune) = tokio::try_join!(
                tx.prepare_cached(
                    "INSERT INTO signin_counters (key, failures, locked_until, idle_after) \
                     VALUES ($1, '{}', 0, 0) \
                     ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key \
                     RETURNING failures, locked_until, idle_after"
                ),
                tx.prepare_cached(
                    "UPDATE signin_counters SET failures = $2, locked_until = $3, \
                     idle_after = $4 WHERE key = $1"
                ),
                tx.prepare_cached(
                    "DELETE FROM signin_counters WHERE key IN (SELECT key FROM signin_counters \
                     WHERE idle_after <= $1 AND key <> $2 LIMIT $3 FOR UPDATE SKIP LOCKED)"
                ),
            )?;
            let row = tx.query_one(&get, &[&key]).await?;
            let failures: Vec<i64> = row.try_get(0)?;
            let mut c = Counter {
                failures: failures.into_iter().map(unbig).collect(),
                locked_until: unbig(row.try_get(1)?),
                idle_after: unbig(row.try_get(2)?),
            };
            c.fail(now_ms, rule);
            let failures: Vec<i64> = c.failures.iter().map(|t| big(*t)).collect();
            let (until, idle) = (big(c.locked_until), big(c.idle_after));
            tokio::try_join!(
                async { tx.execute(&put, &[&key, &failures, &until, &idle]).await },
                async { tx.execute(&prune, &[&now, &key, &PRUNE]).await },
            )?;
            Ok(())
        })
    }

    fn signin_clear(&self, key: &str) -> Result<(), StoreError> {
        let key = key.as_bytes();
        self.pg().run(async |c| {
            let s = c
                .prepare_cached("DELETE FROM signin_counters WHERE key = $1")
                .await?;
            c.execute(&s, &[&key]).await?;
            Ok(())
        })
    }
}
