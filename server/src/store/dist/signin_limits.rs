//! PostgreSQL implementation of [`SignInCounters`] for [`DistStorage`]:
//! sign-in failure counters every process of the deployment shares.
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::DistStorage;
use crate::store::signin_limits::{Rule, SignInCounters};
use crate::store::StoreError;

impl SignInCounters for DistStorage {
    fn signin_locked_until(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let _ = key;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn signin_failed(&self, key: &str, now_ms: u64, rule: &Rule) -> Result<(), StoreError> {
        let _ = (key, now_ms, rule);
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn signin_clear(&self, key: &str) -> Result<(), StoreError> {
        let _ = key;
        Err(StoreError::Unavailable("not yet".into()))
    }
}
