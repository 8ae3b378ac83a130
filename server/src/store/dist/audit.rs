//! PostgreSQL implementation of [`AuditLog`] for [`DistStorage`].
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::DistStorage;
use crate::store::audit::{AuditEntry, AuditKey, AuditLog};
use crate::store::StoreError;

impl AuditLog for DistStorage {
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let _ = entry;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn audit_entries(
        &self,
        since_ms: u64,
        before: Option<AuditKey>,
        limit: usize,
    ) -> Result<Vec<(AuditKey, AuditEntry)>, StoreError> {
        let _ = (since_ms, before, limit);
        Err(StoreError::Unavailable("not yet".into()))
    }
}
