//! PostgreSQL implementation of [`AssetStore`] for [`DistStorage`], and
//! the hook the delete transaction calls.
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::pg::Tx;
use super::DistStorage;
use crate::store::assets::{AssetHash, AssetStore};
use crate::store::StoreError;
use reel_shared::SessionId;

/// Drops the session's asset uses and the assets no session uses any
/// more, inside the delete's transaction (their bytes must be gone when
/// the delete returns: keep asset bodies in PostgreSQL, or list bucket
/// objects in `doomed_objects` in this transaction).
pub(crate) async fn forget_in_tx(tx: &Tx<'_>, session: &SessionId) -> Result<(), StoreError> {
    let _ = (tx, session);
    Ok(())
}

impl AssetStore for DistStorage {
    fn asset_use(&self, session: &SessionId, hash: &AssetHash) -> Result<bool, StoreError> {
        let _ = (session, hash);
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn asset_put(
        &self,
        session: &SessionId,
        hash: &AssetHash,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let _ = (session, hash, body);
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn asset_get(
        &self,
        session: &SessionId,
        hash: &AssetHash,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = (session, hash);
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn asset_forget_session(&self, session: &SessionId) -> Result<(), StoreError> {
        let _ = session;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn asset_count(&self) -> Result<usize, StoreError> {
        Err(StoreError::Unavailable("not yet".into()))
    }
}
