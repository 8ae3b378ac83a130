//! PostgreSQL implementation of [`ProjectStore`] for [`DistStorage`].
//!
//! Sessions' projects live in the table `session_projects` (session bytea
//! primary key, project text), created by migration 1 (`schema.rs`) because
//! the session index reads it (a session's `project`, listing) and a
//! delete removes its row; this file owns the `projects` table.
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::DistStorage;
use crate::store::projects::{Project, ProjectStore};
use crate::store::StoreError;
use reel_shared::SessionId;

impl ProjectStore for DistStorage {
    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        let _ = project;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn session_project(&self, id: &SessionId) -> Result<Option<String>, StoreError> {
        let _ = id;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn set_session_project(&self, id: &SessionId, project: &str) -> Result<(), StoreError> {
        let _ = (id, project);
        Err(StoreError::Unavailable("not yet".into()))
    }
}
