//! Projects in PostgreSQL (contract §8) for [`DistStorage`]: the table
//! `projects` (migration 5 in `schema.rs`: id, and the [`Project`] as
//! JSON), written as each project changes, seen by every process.
//!
//! Sessions' projects live in the table `session_projects` (session bytea
//! primary key, project text), created by migration 1 because the session
//! index reads it (a session's `project`, listing) and a delete removes
//! its row.

use super::DistStorage;
use crate::store::projects::{Project, ProjectStore};
use crate::store::StoreError;
use reel_shared::SessionId;

impl ProjectStore for DistStorage {
    /// By id, as the embedded layout (ids compare as bytes: `COLLATE "C"`).
    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = self.pg().run(async |c| {
            let s = c
                .prepare_cached("SELECT body FROM projects ORDER BY id")
                .await?;
            Ok(c.query(&s, &[]).await?)
        })?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.try_get(0)?)
                    .map_err(|e| StoreError::Corrupt(format!("project: {e}")))
            })
            .collect()
    }

    fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(project).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.pg().run(async |c| {
            let s = c
                .prepare_cached(
                    "INSERT INTO projects (id, body) VALUES ($1, $2) \
                     ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
                )
                .await?;
            c.execute(&s, &[&project.id, &body]).await?;
            Ok(())
        })
    }

    fn session_project(&self, id: &SessionId) -> Result<Option<String>, StoreError> {
        let sid: &[u8] = id.as_bytes();
        let row = self.pg().run(async |c| {
            let s = c
                .prepare_cached("SELECT project FROM session_projects WHERE session = $1")
                .await?;
            Ok(c.query_opt(&s, &[&sid]).await?)
        })?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn set_session_project(&self, id: &SessionId, project: &str) -> Result<(), StoreError> {
        let sid: &[u8] = id.as_bytes();
        self.pg().run(async |c| {
            let s = c
                .prepare_cached(
                    "INSERT INTO session_projects (session, project) VALUES ($1, $2) \
                     ON CONFLICT (session) DO UPDATE SET project = EXCLUDED.project",
                )
                .await?;
            c.execute(&s, &[&sid, &project]).await?;
            Ok(())
        })
    }
}
