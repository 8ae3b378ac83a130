//! Projects' storage (contract §8): one project per site, with its ingest
//! keys, allowed origins, retention, sample rate and privacy options; and
//! which project each session was recorded for.
//!
//! Implemented for [`LogStorage`] (sled trees: `projects`, keyed by the
//! project's id, its [`Project`] as JSON, a deployment tree; and
//! `session_project`, keyed by session id, the project's id, a session's
//! key that its delete removes) and for the in-memory `MemStorage`.
//! Projects are flushed as each is written: nothing else can rebuild them.

use super::{LogStorage, StoreError};
use reel_shared::SessionId;
use serde::{Deserialize, Serialize};

pub(crate) const PROJECTS_TREE: &str = "projects";
pub(crate) const SESSION_PROJECT_TREE: &str = "session_project";

/// One ingest key of a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectKey {
    pub key: String,
    /// ms since the Unix epoch.
    pub created_at: u64,
    /// Set once revoked: ingest and `/api/v1/config` refuse the key from
    /// then on. Kept (not removed) so that its place in the rate limiter's
    /// table stays its own.
    #[serde(default)]
    pub revoked_at: Option<u64>,
}

/// What the recorder is told to do on the project's pages (`GET
/// /api/v1/config`); every field unset means "the recorder's default".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Privacy {
    #[serde(default)]
    pub mask_all_text: Option<bool>,
    #[serde(default)]
    pub mask_text_selector: Option<String>,
    #[serde(default)]
    pub block_selector: Option<String>,
    #[serde(default)]
    pub require_consent: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// 16 lowercase hex digits (random), or `default` for the project of
    /// the `--ingest-key` keys.
    pub id: String,
    pub name: String,
    /// Origins (`scheme://host[:port]`) ingest accepts this project's keys
    /// from; empty: any.
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub keys: Vec<ProjectKey>,
    /// Sessions of this project are deleted after this many days without
    /// activity; `None`: the server's `--retention-days` (if any).
    #[serde(default)]
    pub retention_days: Option<f64>,
    /// The share of visits the recorder records, 0 to 1.
    #[serde(default = "one")]
    pub sample_rate: f64,
    #[serde(default)]
    pub privacy: Privacy,
    #[serde(default)]
    pub created_at: u64,
}

fn one() -> f64 {
    1.0
}

/// Projects and sessions' projects. Methods block (call them off the async
/// workers).
pub trait ProjectStore {
    /// Every project, by id.
    fn projects(&self) -> Result<Vec<Project>, StoreError>;
    /// Adds or replaces a project, durably.
    fn put_project(&self, project: &Project) -> Result<(), StoreError>;
    /// The project a session was recorded for (`None` for sessions stored
    /// before projects existed, or imported).
    fn session_project(&self, id: &SessionId) -> Result<Option<String>, StoreError>;
    /// Notes the project a session is recorded for (its first chunk's).
    fn set_session_project(&self, id: &SessionId, project: &str) -> Result<(), StoreError>;
}

fn decode(v: &[u8]) -> Result<Project, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(format!("project: {e}")))
}

impl ProjectStore for LogStorage {
    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.db()
            .open_tree(PROJECTS_TREE)?
            .iter()
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        let v = serde_json::to_vec(project).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db()
            .open_tree(PROJECTS_TREE)?
            .insert(project.id.as_bytes(), v)?;
        self.db().flush()?;
        Ok(())
    }

    fn session_project(&self, id: &SessionId) -> Result<Option<String>, StoreError> {
        project_of(self.db(), id)
    }

    fn set_session_project(&self, id: &SessionId, project: &str) -> Result<(), StoreError> {
        self.db()
            .open_tree(SESSION_PROJECT_TREE)?
            .insert(id.as_bytes(), project.as_bytes())?;
        Ok(())
    }
}

/// The project of a session, for `LogStorage`'s metadata.
pub(crate) fn project_of(db: &sled::Db, id: &SessionId) -> Result<Option<String>, StoreError> {
    Ok(db
        .open_tree(SESSION_PROJECT_TREE)?
        .get(id.as_bytes())?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// What `LogStorage::delete_session` calls: the session's project entry.
pub(crate) fn forget_session(db: &sled::Db, id: &SessionId) -> Result<(), StoreError> {
    db.open_tree(SESSION_PROJECT_TREE)?.remove(id.as_bytes())?;
    Ok(())
}

#[cfg(test)]
pub(super) fn mem_forget_session(m: &super::mem::MemStorage, id: &SessionId) {
    m.session_projects
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(id);
}

#[cfg(test)]
pub(super) fn mem_with_project(
    m: &super::mem::MemStorage,
    mut meta: crate::index::SessionMeta,
) -> crate::index::SessionMeta {
    if let Some(p) = m
        .session_projects
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&meta.id)
    {
        meta.project = Some(p.clone());
    }
    meta
}

#[cfg(test)]
impl ProjectStore for super::mem::MemStorage {
    fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let p = self.projects.lock().unwrap_or_else(|e| e.into_inner());
        Ok(p.values().cloned().collect())
    }

    fn put_project(&self, project: &Project) -> Result<(), StoreError> {
        let mut p = self.projects.lock().unwrap_or_else(|e| e.into_inner());
        p.insert(project.id.clone(), project.clone());
        Ok(())
    }

    fn session_project(&self, id: &SessionId) -> Result<Option<String>, StoreError> {
        let p = self
            .session_projects
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(p.get(id).cloned())
    }

    fn set_session_project(&self, id: &SessionId, project: &str) -> Result<(), StoreError> {
        let mut p = self
            .session_projects
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        p.insert(*id, project.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;
    use crate::store::Storage;

    fn check(s: &dyn Storage) {
        let p = Project {
            id: "0123456789abcdef".into(),
            name: "shop".into(),
            origins: vec!["https://shop.example".into()],
            keys: vec![ProjectKey {
                key: "k".into(),
                created_at: 1,
                revoked_at: None,
            }],
            retention_days: Some(3.0),
            sample_rate: 0.5,
            privacy: Privacy {
                mask_all_text: Some(true),
                ..Default::default()
            },
            created_at: 1,
        };
        s.put_project(&p).unwrap();
        assert_eq!(s.projects().unwrap(), std::slice::from_ref(&p));
        let id = SessionId([3; 16]);
        assert_eq!(s.session_project(&id).unwrap(), None);
        s.set_session_project(&id, &p.id).unwrap();
        assert_eq!(s.session_project(&id).unwrap().as_deref(), Some(&*p.id));
    }

    #[test]
    fn projects_round_trip_on_both_backends() {
        check(&MemStorage::default());
        let dir = tempfile::tempdir().unwrap();
        let s = LogStorage::open(dir.path()).unwrap();
        check(&s);
        drop(s);
        let s = LogStorage::open(dir.path()).unwrap();
        assert_eq!(s.projects().unwrap().len(), 1, "projects survive a restart");
    }

    #[test]
    fn projects_round_trip_on_the_distributed_layout() {
        check(&crate::store::dist::digest::fresh_for_tests());
    }
}
