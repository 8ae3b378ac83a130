//! PostgreSQL implementation of [`DigestStore`] (issue 16's insights digest)
//! for [`DistStorage`], and the hooks the chunk and delete transactions
//! call.
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::pg::Tx;
use super::DistStorage;
use crate::digest::{DigestUpdate, PagePart, Step, UrlKey};
use crate::store::digest::DigestStore;
use crate::store::StoreError;
use reel_shared::SessionId;

/// Writes chunk `seq`'s digest records (what `crate::digest::apply`
/// returned for it) inside the group commit's transaction (see
/// `dist/mod.rs`, invariant 1), after its chunk row is inserted. Called
/// once per stored chunk, in the group's order.
pub(crate) async fn apply_in_tx(
    tx: &Tx<'_>,
    session: &SessionId,
    seq: u32,
    up: &DigestUpdate,
) -> Result<(), StoreError> {
    let _ = (tx, session, seq, up);
    Ok(())
}

/// Removes every digest record of a session (and the URLs only it saw),
/// inside the delete's transaction.
pub(crate) async fn forget_in_tx(tx: &Tx<'_>, session: &SessionId) -> Result<(), StoreError> {
    let _ = (tx, session);
    Ok(())
}

impl DigestStore for DistStorage {
    fn digest_urls(
        &self,
        pattern: &str,
        cap: usize,
    ) -> Result<(Vec<(UrlKey, String)>, bool), StoreError> {
        let _ = (pattern, cap);
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn digest_parts(
        &self,
        url: UrlKey,
        each: &mut dyn FnMut(&SessionId, PagePart) -> bool,
    ) -> Result<(), StoreError> {
        let _ = (url, each);
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn digest_steps(&self, id: &SessionId) -> Result<Vec<Step>, StoreError> {
        let _ = id;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn digest_all_steps(
        &self,
        each: &mut dyn FnMut(&SessionId, Vec<Step>) -> bool,
    ) -> Result<(), StoreError> {
        let _ = each;
        Err(StoreError::Unavailable("not yet".into()))
    }
}
