//! Saved segments in PostgreSQL (issue 16) for [`DistStorage`]: the table
//! `saved_segments` (migration 6 in `schema.rs`: id, and the
//! [`SavedSegment`] as JSON). Durable when a call returns. Listed in the
//! embedded layout's order (by name, case aside, then id), sorted here by
//! the same function: PostgreSQL's idea of case depends on its collation.

use super::DistStorage;
use crate::store::saved_segments::{by_name, SavedSegment, SavedSegments};
use crate::store::StoreError;

impl SavedSegments for DistStorage {
    fn put_saved_segment(&self, segment: &SavedSegment) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(segment).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.pg().run(async |c| {
            let s = c
                .prepare_cached(
                    "INSERT INTO saved_segments (id, body) VALUES ($1, $2) \
                     ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
                )
                .await?;
            c.execute(&s, &[&segment.id, &body]).await?;
            Ok(())
        })
    }

    fn saved_segments(&self) -> Result<Vec<SavedSegment>, StoreError> {
        let rows = self.pg().run(async |c| {
            let s = c.prepare_cached("SELECT body FROM saved_segments").await?;
            Ok(c.query(&s, &[]).await?)
        })?;
        let all = rows
            .iter()
            .map(|r| {
                serde_json::from_str(r.try_get(0)?)
                    .map_err(|e| StoreError::Corrupt(format!("saved segment: {e}")))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(by_name(all))
    }

    fn delete_saved_segment(&self, id: &str) -> Result<bool, StoreError> {
        let n = self.pg().run(async |c| {
            let s = c
                .prepare_cached("DELETE FROM saved_segments WHERE id = $1")
                .await?;
            Ok(c.execute(&s, &[&id]).await?)
        })?;
        Ok(n > 0)
    }
}
