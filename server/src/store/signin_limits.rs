//! Failed sign-ins, counted in the store (contract §8): the counters
//! behind [`crate::signin`], kept where every process of a deployment sees
//! them, so that ten guesses are ten whichever processes answered them.
//!
//! A counter is keyed by a string (`crate::signin` names accounts and
//! client addresses apart) and holds the times of its recent failures and
//! when its lockout ends. The rule that turns failures into a lockout is
//! [`Counter::fail`], one function every backend runs on its stored
//! counter, so the backends differ only in how they keep it:
//!
//! - [`LogStorage`]: the sled tree `signin_counters` (a deployment tree),
//!   updated with compare-and-swap; not flushed (a crash may forget the
//!   last failures, as a restart forgot all of them before).
//! - `MemStorage` (tests): a map.
//! - `DistStorage`: the table `signin_counters`, the row locked while its
//!   counter changes (`store/dist/signin_limits.rs`).
//!
//! A counter with nothing left to remember (no lockout running, no
//! failure within the window) is dropped by the next failure anywhere:
//! its [`Counter::idle_after`] says when.

use super::{LogStorage, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};

/// The sled tree of [`LogStorage`]'s counters.
pub(crate) const SIGNIN_TREE: &str = "signin_counters";

/// When failures turn into a lockout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// This many failures within `window_ms`...
    pub max: usize,
    pub window_ms: u64,
    /// ...refuse sign-ins for this long.
    pub lockout_ms: u64,
}

/// One key's recent failures and lockout, as stored. Times are ms since
/// the Unix epoch (the deployment's processes share no monotonic clock).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Failures within the window, oldest first.
    pub failures: Vec<u64>,
    /// Sign-ins are refused before this time (0: never locked).
    pub locked_until: u64,
    /// From this time on the counter remembers nothing: it may be dropped.
    pub idle_after: u64,
}

impl Counter {
    /// Records a failure at `now`: failures older than the window are
    /// dropped; the `max`th within it locks the key for `lockout_ms` and
    /// starts the count afresh.
    pub fn fail(&mut self, now: u64, rule: &Rule) {
        self.failures
            .retain(|t| now.saturating_sub(*t) < rule.window_ms);
        self.failures.push(now);
        if self.failures.len() >= rule.max {
            self.locked_until = now.saturating_add(rule.lockout_ms);
            self.failures.clear();
        }
        let last = self.failures.last().map_or(0, |t| t + rule.window_ms);
        self.idle_after = self.locked_until.max(last);
    }

    /// Little-endian u64s: `locked_until`, `idle_after`, then the failures.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + 8 * self.failures.len());
        v.extend_from_slice(&self.locked_until.to_le_bytes());
        v.extend_from_slice(&self.idle_after.to_le_bytes());
        for t in &self.failures {
            v.extend_from_slice(&t.to_le_bytes());
        }
        v
    }

    /// [`Counter::encode`]'s bytes back; `None` when they are not that.
    pub(crate) fn decode(b: &[u8]) -> Option<Counter> {
        if b.len() < 16 || !b.len().is_multiple_of(8) {
            return None;
        }
        let mut words = b
            .chunks_exact(8)
            .filter_map(|c| <[u8; 8]>::try_from(c).ok().map(u64::from_le_bytes));
        Some(Counter {
            locked_until: words.next()?,
            idle_after: words.next()?,
            failures: words.collect(),
        })
    }
}

/// Where a deployment counts failed sign-ins. Methods block.
pub trait SignInCounters {
    /// When `key`'s lockout ends (or ended), if it was ever locked and the
    /// counter is still kept.
    fn signin_locked_until(&self, key: &str) -> Result<Option<u64>, StoreError>;

    /// Records a failure of `key` at `now_ms` ([`Counter::fail`]), as one
    /// atomic step however many processes fail the same key at once; and
    /// drops counters idle at `now_ms`.
    fn signin_failed(&self, key: &str, now_ms: u64, rule: &Rule) -> Result<(), StoreError>;

    /// Forgets `key`'s failures and lockout (a successful sign-in).
    fn signin_clear(&self, key: &str) -> Result<(), StoreError>;
}

/// Failures since the last sweep of idle counters in the sled tree: a
/// sweep reads the whole tree, so it runs once per [`SWEEP_EVERY`].
static SINCE_SWEEP: AtomicU64 = AtomicU64::new(0);
const SWEEP_EVERY: u64 = 256;

impl SignInCounters for LogStorage {
    fn signin_locked_until(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let tree = self.db().open_tree(SIGNIN_TREE)?;
        Ok(tree
            .get(key.as_bytes())?
            .and_then(|v| Counter::decode(&v))
            .map(|c| c.locked_until)
            .filter(|u| *u > 0))
    }

    fn signin_failed(&self, key: &str, now_ms: u64, rule: &Rule) -> Result<(), StoreError> {
        let tree = self.db().open_tree(SIGNIN_TREE)?;
        // Compare-and-swap until it holds: concurrent failures each count.
        tree.update_and_fetch(key.as_bytes(), |old| {
            let mut c = old.and_then(Counter::decode).unwrap_or_default();
            c.fail(now_ms, rule);
            Some(c.encode())
        })?;
        if SINCE_SWEEP.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for kv in tree.iter() {
                let (k, v) = kv?;
                if Counter::decode(&v).is_none_or(|c| c.idle_after <= now_ms) {
                    // Only if unchanged since read: a failure in between wins.
                    let _ = tree.compare_and_swap(k, Some(v), None as Option<&[u8]>)?;
                }
            }
        }
        Ok(())
    }

    fn signin_clear(&self, key: &str) -> Result<(), StoreError> {
        self.db().open_tree(SIGNIN_TREE)?.remove(key.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
impl SignInCounters for super::mem::MemStorage {
    fn signin_locked_until(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let m = self.signin.lock().unwrap_or_else(|e| e.into_inner());
        Ok(m.get(key).map(|c| c.locked_until).filter(|u| *u > 0))
    }

    fn signin_failed(&self, key: &str, now_ms: u64, rule: &Rule) -> Result<(), StoreError> {
        let mut m = self.signin.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(key.to_owned()).or_default().fail(now_ms, rule);
        m.retain(|k, c| k == key || c.idle_after > now_ms);
        Ok(())
    }

    fn signin_clear(&self, key: &str) -> Result<(), StoreError> {
        let mut m = self.signin.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(key);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::mem::MemStorage;

    const RULE: Rule = Rule {
        max: 3,
        window_ms: 1_000,
        lockout_ms: 5_000,
    };

    /// The rule and the store's round trip, on any backend.
    pub(crate) fn check(s: &dyn SignInCounters) {
        assert_eq!(s.signin_locked_until("a").unwrap(), None);
        // Two failures, then a third after the first left the window.
        s.signin_failed("a", 100, &RULE).unwrap();
        s.signin_failed("a", 200, &RULE).unwrap();
        s.signin_failed("a", 1_100, &RULE).unwrap();
        assert_eq!(s.signin_locked_until("a").unwrap(), None);
        // The third within the window locks.
        s.signin_failed("a", 1_150, &RULE).unwrap();
        assert_eq!(s.signin_locked_until("a").unwrap(), Some(6_150));
        // Another key is its own.
        assert_eq!(s.signin_locked_until("b").unwrap(), None);
        s.signin_failed("b", 1_200, &RULE).unwrap();
        // Any key: the API token's account name holds a NUL.
        s.signin_failed("x\u{0}y", 1_200, &RULE).unwrap();
        s.signin_clear("a").unwrap();
        assert_eq!(s.signin_locked_until("a").unwrap(), None);
        // A lockout is kept until it ends, then dropped by a later failure.
        for t in [10, 20, 30] {
            s.signin_failed("c", t, &RULE).unwrap();
        }
        assert_eq!(s.signin_locked_until("c").unwrap(), Some(5_030));
        s.signin_failed("d", 5_029, &RULE).unwrap();
        assert_eq!(s.signin_locked_until("c").unwrap(), Some(5_030));
    }

    #[test]
    fn counters_lock_and_clear_on_both_backends() {
        check(&MemStorage::default());
        let dir = tempfile::tempdir().unwrap();
        let s = LogStorage::open(dir.path()).unwrap();
        check(&s);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0, "not a session's keys");
    }

    #[test]
    fn counters_encode_round_trip() {
        let mut c = Counter::default();
        c.fail(7, &RULE);
        c.fail(9, &RULE);
        assert_eq!(Counter::decode(&c.encode()), Some(c));
        assert_eq!(Counter::decode(&[1, 2, 3]), None);
    }

    #[test]
    fn counters_lock_and_clear_on_the_distributed_layout() {
        let s = crate::store::dist::digest::fresh_for_tests();
        check(&s);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0, "not a session's rows");
    }
}
