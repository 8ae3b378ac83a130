//! Content-addressed assets in PostgreSQL (`store::assets`) for
//! [`DistStorage`], and the hook the delete transaction calls
//! ([`forget_in_tx`]).
//!
//! Tables (migration 7 in `schema.rs`): `assets` (hash → the zstd frame,
//! as uploaded) and `session_assets` (session, hash: one row per use; its
//! hash references `assets`). An asset's life is its uses', as in the
//! embedded layout: the last session using it takes it along.
//!
//! The bodies are `bytea` in PostgreSQL, not objects in the bucket:
//! - a use, an upload and a delete each change bodies and uses in ONE
//!   transaction, so an asset never outlives its last use and a use never
//!   names a missing body, whatever crashes (an object would need a
//!   doomed list and a sweep to get there);
//! - assets are few and bounded (a stylesheet text or a `data:` URL, at
//!   most the ingest body limit compressed, stored once per deployment),
//!   unlike chunk bytes, which grow with every session: the bucket is for
//!   those. Stored uncompressed by PostgreSQL (`STORAGE EXTERNAL`): they
//!   are zstd frames already.
//!
//! Invariant (the same two-lock scheme as the digest's URLs,
//! `dist/digest.rs`): a transaction that adds a use first locks the asset's
//! row `FOR KEY SHARE` (shared among users; none: the asset is not stored);
//! a delete, having removed its session's uses, locks the rows of the
//! assets it used `FOR UPDATE` (waiting for every transaction adding a use
//! of them), then in a new statement removes those no use names.

use super::pg::Tx;
use super::DistStorage;
use crate::store::assets::{AssetHash, AssetStore};
use crate::store::StoreError;
use reel_shared::SessionId;

const LOCK_ASSET: &str = "SELECT 1 FROM assets WHERE hash = $1 FOR KEY SHARE";
const ADD_USE: &str =
    "INSERT INTO session_assets (session, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// How many times an upload tries to store a body that a delete keeps
/// removing under it (each try waits for that delete to commit).
const PUT_TRIES: usize = 3;

/// Drops the session's asset uses and the assets no session uses any
/// more, inside the delete's transaction: their bytes are gone when it
/// commits.
pub(crate) async fn forget_in_tx(tx: &Tx<'_>, session: &SessionId) -> Result<(), StoreError> {
    let sid: &[u8] = session.as_bytes();
    let rows = tx
        .query(
            "DELETE FROM session_assets WHERE session = $1 RETURNING hash",
            &[&sid],
        )
        .await?;
    let mut hashes: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if hashes.is_empty() {
        return Ok(());
    }
    hashes.sort_unstable();
    tx.query(
        "SELECT hash FROM assets WHERE hash = ANY($1) ORDER BY hash FOR UPDATE",
        &[&hashes],
    )
    .await?;
    // A new statement: it sees the uses committed by the transactions the
    // locks waited for.
    tx.execute(
        "DELETE FROM assets a WHERE a.hash = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM session_assets u WHERE u.hash = a.hash)",
        &[&hashes],
    )
    .await?;
    Ok(())
}

impl AssetStore for DistStorage {
    fn asset_use(&self, session: &SessionId, hash: &AssetHash) -> Result<bool, StoreError> {
        let (sid, h): (&[u8], &[u8]) = (session.as_bytes(), hash);
        self.pg().tx(async |tx| {
            let (lock, add) =
                tokio::try_join!(tx.prepare_cached(LOCK_ASSET), tx.prepare_cached(ADD_USE))?;
            if tx.query_opt(&lock, &[&h]).await?.is_none() {
                return Ok(false);
            }
            tx.execute(&add, &[&sid, &h]).await?;
            Ok(true)
        })
    }

    fn asset_put(
        &self,
        session: &SessionId,
        hash: &AssetHash,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let (sid, h): (&[u8], &[u8]) = (session.as_bytes(), hash);
        self.pg().tx(async |tx| {
            let (insert, lock, add) = tokio::try_join!(
                tx.prepare_cached(
                    "INSERT INTO assets (hash, body) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                ),
                tx.prepare_cached(LOCK_ASSET),
                tx.prepare_cached(ADD_USE),
            )?;
            for _ in 0..PUT_TRIES {
                // Waits for a delete that removed the row to commit; then
                // inserts it anew. A row present is locked next: from then
                // on no delete can take it.
                tx.execute(&insert, &[&h, &body]).await?;
                if tx.query_opt(&lock, &[&h]).await?.is_some() {
                    tx.execute(&add, &[&sid, &h]).await?;
                    return Ok(());
                }
            }
            Err(StoreError::Busy)
        })
    }

    fn asset_get(
        &self,
        session: &SessionId,
        hash: &AssetHash,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let (sid, h): (&[u8], &[u8]) = (session.as_bytes(), hash);
        let row = self.pg().run(async |c| {
            let s = c
                .prepare_cached(
                    "SELECT a.body FROM session_assets u JOIN assets a ON a.hash = u.hash \
                     WHERE u.session = $1 AND u.hash = $2",
                )
                .await?;
            Ok(c.query_opt(&s, &[&sid, &h]).await?)
        })?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn asset_forget_session(&self, session: &SessionId) -> Result<(), StoreError> {
        self.pg().tx(async |tx| forget_in_tx(tx, session).await)
    }

    fn asset_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self.pg().run(async |c| {
            Ok(c.query_one("SELECT count(*) FROM assets", &[])
                .await?
                .try_get(0)?)
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
