//! Projects (contract §8): which project an ingest key belongs to, the
//! origins it may be used from, and the recorder settings it hands out
//! (`GET /api/v1/config`). The projects themselves are kept by the store
//! ([`crate::store::projects`]); this is the server's table of them in
//! memory, which every chunk consults, changed together with the store.
//!
//! Keys given with `--ingest-key` (held by [`Auth`]) belong to the
//! [`DEFAULT_PROJECT`], which checks no origin; its settings (sample rate,
//! privacy, retention) may be changed like any project's, its keys and
//! origins may not. Every key has a fixed place (the flag keys first, then
//! each project key in the order it was made, revoked ones included) that
//! indexes its rate-limit buckets ([`crate::ratelimit`]).

use crate::api::ApiError;
use crate::auth::Auth;
use crate::store::projects::{Privacy, Project, ProjectKey};
use crate::store::{Store, StoreError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use subtle::ConstantTimeEq;

/// The project of the `--ingest-key` keys, and of sessions recorded
/// before projects existed.
pub const DEFAULT_PROJECT: &str = "default";
/// Bounds on what a project holds: it is written whole at every change.
pub const MAX_ORIGINS: usize = 100;
pub const MAX_KEYS: usize = 100;
pub const MAX_NAME: usize = 200;
pub const MAX_SELECTOR: usize = 1000;
/// Cached by pages for this long: a change reaches a page within a minute.
pub const CONFIG_MAX_AGE_SECS: u64 = 60;

/// What an ingest key resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    /// Its place, for the rate limiter.
    pub index: usize,
    pub project: String,
    /// Empty: any origin (or none).
    pub origins: Vec<String>,
}

#[derive(Default)]
struct Table {
    projects: BTreeMap<String, Project>,
    /// Every project key in its fixed place: (key, project id, revoked).
    keys: Vec<(String, String, bool)>,
}

impl Table {
    fn add_keys_of(&mut self, p: &Project) {
        for k in &p.keys {
            match self.keys.iter_mut().find(|(key, _, _)| *key == k.key) {
                Some(e) => e.2 = k.revoked_at.is_some(),
                None => self
                    .keys
                    .push((k.key.clone(), p.id.clone(), k.revoked_at.is_some())),
            }
        }
    }
}

pub struct Projects {
    /// How many `--ingest-key` keys come first.
    flag_keys: usize,
    table: RwLock<Table>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("no such project")]
    NotFound,
    #[error("cannot generate a random value: {0}")]
    Random(String),
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, ProjectError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| ProjectError::Random(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// `scheme://host[:port]` as browsers send it in `Origin`: lowercased,
/// without a path or a trailing slash. `None` for anything else.
pub fn normalize_origin(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = s.split_once("://")?;
    let ok_scheme = matches!(scheme, "http" | "https");
    let ok_rest = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    (ok_scheme && ok_rest).then_some(s)
}

/// Ingest's origin check: a key of a project that lists origins is
/// accepted only from a page of one of them (`Origin`, which browsers set
/// and pages cannot). No `Origin` at all (a script, `Origin: null`) is
/// refused too. Keys of projects without origins pass.
pub fn check_origin(owner: &KeyOwner, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if owner.origins.is_empty() {
        return Ok(());
    }
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize_origin);
    if origin.is_some_and(|o| owner.origins.contains(&o)) {
        return Ok(());
    }
    Err(ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "this ingest key's project accepts recordings from its own origins only",
    ))
}

/// The settings a request may set (`POST` all of them, `PATCH` any).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub origins: Option<Vec<String>>,
    /// `null` clears it (back to the server's `--retention-days`).
    #[serde(default, deserialize_with = "double_option")]
    pub retention_days: Option<Option<f64>>,
    pub sample_rate: Option<f64>,
    pub privacy: Option<Privacy>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

impl ProjectInput {
    /// Checks and applies the fields given to `p`.
    fn apply(self, p: &mut Project) -> Result<(), ProjectError> {
        let bad = |m: &str| Err(ProjectError::Invalid(m.to_owned()));
        if let Some(name) = self.name {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > MAX_NAME {
                return bad("`name` must be 1 to 200 bytes");
            }
            p.name = name;
        }
        if let Some(origins) = self.origins {
            if p.id == DEFAULT_PROJECT && !origins.is_empty() {
                return bad("the default project (the --ingest-key keys) checks no origin: make a project for the site instead");
            }
            if origins.len() > MAX_ORIGINS {
                return bad("at most 100 `origins`");
            }
            let mut out = Vec::new();
            for o in &origins {
                let Some(n) = normalize_origin(o) else {
                    return Err(ProjectError::Invalid(format!(
                        "{o:?} is not an origin (`https://shop.example`, `http://localhost:8080`)"
                    )));
                };
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            p.origins = out;
        }
        if let Some(r) = self.retention_days {
            if let Some(d) = r {
                if !(d.is_finite() && d > 0.0 && d <= 36_500.0) {
                    return bad("`retention_days` must be a number of days above 0 (or null)");
                }
            }
            p.retention_days = r;
        }
        if let Some(s) = self.sample_rate {
            if !(0.0..=1.0).contains(&s) {
                return bad("`sample_rate` must be from 0 to 1");
            }
            p.sample_rate = s;
        }
        if let Some(pr) = self.privacy {
            for s in [&pr.mask_text_selector, &pr.block_selector]
                .into_iter()
                .flatten()
            {
                if s.len() > MAX_SELECTOR {
                    return bad("a selector must be at most 1000 bytes");
                }
            }
            p.privacy = pr;
        }
        Ok(())
    }
}

impl Projects {
    /// The table of the store's projects, after the `flag_keys` flag keys.
    pub fn load(store: &Store, flag_keys: usize) -> Result<Self, StoreError> {
        let mut t = Table::default();
        let mut all = store.projects()?;
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        for p in all {
            t.add_keys_of(&p);
            t.projects.insert(p.id.clone(), p);
        }
        Ok(Projects {
            flag_keys,
            table: RwLock::new(t),
        })
    }

    /// An empty table (no stored projects).
    pub fn empty(flag_keys: usize) -> Self {
        Projects {
            flag_keys,
            table: RwLock::default(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Who owns `key`: a flag key (the default project) or a live project
    /// key. Every key is compared, in constant time, whichever matches.
    pub fn resolve(&self, auth: &Auth, key: &str) -> Option<KeyOwner> {
        let flag = auth.ingest_key_index(key);
        let t = self.read();
        let mut found = None;
        for (i, (k, project, revoked)) in t.keys.iter().enumerate() {
            if ct_eq(k, key) && !*revoked {
                found = Some((i, project));
            }
        }
        if let Some(index) = flag {
            return Some(KeyOwner {
                index,
                project: DEFAULT_PROJECT.into(),
                origins: Vec::new(),
            });
        }
        let (i, project) = found?;
        Some(KeyOwner {
            index: self.flag_keys + i,
            project: project.clone(),
            origins: t
                .projects
                .get(project)
                .map(|p| p.origins.clone())
                .unwrap_or_default(),
        })
    }

    /// How many keys (flag and project, revoked included) have a place.
    pub fn key_count(&self) -> usize {
        self.flag_keys + self.read().keys.len()
    }

    /// A project, or the default one's settings.
    pub fn get(&self, id: &str) -> Option<Project> {
        let t = self.read();
        t.projects
            .get(id)
            .cloned()
            .or_else(|| (id == DEFAULT_PROJECT).then(default_project))
    }

    /// Every project, the default one first.
    pub fn list(&self) -> Vec<Project> {
        let t = self.read();
        let mut out = vec![t
            .projects
            .get(DEFAULT_PROJECT)
            .cloned()
            .unwrap_or_else(default_project)];
        let mut rest: Vec<Project> = t
            .projects
            .values()
            .filter(|p| p.id != DEFAULT_PROJECT)
            .cloned()
            .collect();
        rest.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        out.extend(rest);
        out
    }

    /// Retention of each project that sets one, in days.
    pub fn retentions(&self) -> BTreeMap<String, f64> {
        self.read()
            .projects
            .values()
            .filter_map(|p| Some((p.id.clone(), p.retention_days?)))
            .collect()
    }

    fn save(&self, store: &Store, p: Project) -> Result<Project, ProjectError> {
        // The table's lock is held across the write: two changes of one
        // project cannot interleave and lose one.
        store.put_project(&p)?;
        let mut t = self.write();
        t.add_keys_of(&p);
        t.projects.insert(p.id.clone(), p.clone());
        Ok(p)
    }

    /// Makes a project with one fresh ingest key. Blocks.
    pub fn create(
        &self,
        store: &Store,
        input: ProjectInput,
        now: u64,
    ) -> Result<Project, ProjectError> {
        if input.name.is_none() {
            return Err(ProjectError::Invalid("`name` is required".into()));
        }
        let mut p = Project {
            id: random_hex(8)?,
            name: String::new(),
            origins: Vec::new(),
            keys: vec![ProjectKey {
                key: random_hex(16)?,
                created_at: now,
                revoked_at: None,
            }],
            retention_days: None,
            sample_rate: 1.0,
            privacy: Privacy::default(),
            created_at: now,
        };
        input.apply(&mut p)?;
        self.save(store, p)
    }

    /// Changes the settings given. Blocks.
    pub fn update(
        &self,
        store: &Store,
        id: &str,
        input: ProjectInput,
    ) -> Result<Project, ProjectError> {
        let mut p = self.get(id).ok_or(ProjectError::NotFound)?;
        input.apply(&mut p)?;
        self.save(store, p)
    }

    /// Adds a fresh ingest key to a project. Blocks.
    pub fn add_key(&self, store: &Store, id: &str, now: u64) -> Result<Project, ProjectError> {
        let mut p = self.stored_project(id)?;
        if p.keys.len() >= MAX_KEYS {
            return Err(ProjectError::Invalid(
                "a project holds at most 100 keys".into(),
            ));
        }
        p.keys.push(ProjectKey {
            key: random_hex(16)?,
            created_at: now,
            revoked_at: None,
        });
        self.save(store, p)
    }

    /// Revokes one of a project's keys: ingest refuses it from then on.
    pub fn revoke_key(
        &self,
        store: &Store,
        id: &str,
        key: &str,
        now: u64,
    ) -> Result<Project, ProjectError> {
        let mut p = self.stored_project(id)?;
        let Some(k) = p.keys.iter_mut().find(|k| ct_eq(&k.key, key)) else {
            return Err(ProjectError::NotFound);
        };
        k.revoked_at.get_or_insert(now);
        self.save(store, p)
    }

    fn stored_project(&self, id: &str) -> Result<Project, ProjectError> {
        if id == DEFAULT_PROJECT {
            return Err(ProjectError::Invalid(
                "the default project's keys are the --ingest-key flags".into(),
            ));
        }
        self.get(id).ok_or(ProjectError::NotFound)
    }
}

/// The default project's settings until someone changes them.
pub fn default_project() -> Project {
    Project {
        id: DEFAULT_PROJECT.into(),
        name: "Default (--ingest-key)".into(),
        origins: Vec::new(),
        keys: Vec::new(),
        retention_days: None,
        sample_rate: 1.0,
        privacy: Privacy::default(),
        created_at: 0,
    }
}

/// What `GET /api/v1/config` answers: the recorder's settings, in the
/// names of `Reel.start`'s options. Unset privacy options are left out
/// (the recorder's defaults apply).
pub fn recorder_config(p: &Project) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("project".into(), p.id.clone().into());
    m.insert("sampleRate".into(), p.sample_rate.into());
    let pr = &p.privacy;
    if let Some(v) = pr.mask_all_text {
        m.insert("maskAllText".into(), v.into());
    }
    if let Some(v) = &pr.mask_text_selector {
        m.insert("maskTextSelector".into(), v.clone().into());
    }
    if let Some(v) = &pr.block_selector {
        m.insert("blockSelector".into(), v.clone().into());
    }
    if let Some(v) = pr.require_consent {
        m.insert("requireConsent".into(), v.into());
    }
    // A recorder in a cross-origin frame joins a parent page of these
    // origins only (recorder/js/src/crossframe.js).
    if !p.origins.is_empty() {
        m.insert("origins".into(), p.origins.clone().into());
    }
    serde_json::Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;
    use std::sync::Arc;

    fn input(json: &str) -> ProjectInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn keys_resolve_to_their_project_in_fixed_places() {
        let store = Store::new(Arc::new(MemStorage::default()));
        let auth = Auth::new(vec!["flag1".into(), "flag2".into()], "tok".into());
        let projects = Projects::load(&store, 2).unwrap();
        let a = projects
            .create(
                &store,
                input(r#"{"name":"a","origins":["https://A.example/"]}"#),
                1,
            )
            .unwrap();
        assert_eq!(a.origins, ["https://a.example"]);
        let b = projects
            .create(&store, input(r#"{"name":"b"}"#), 2)
            .unwrap();
        let flag = projects.resolve(&auth, "flag2").unwrap();
        assert_eq!((flag.index, flag.project.as_str()), (1, DEFAULT_PROJECT));
        let ka = &a.keys[0].key;
        let ra = projects.resolve(&auth, ka).unwrap();
        assert_eq!(
            (ra.index, &ra.project, &ra.origins[..]),
            (2, &a.id, &a.origins[..])
        );
        assert_eq!(projects.resolve(&auth, &b.keys[0].key).unwrap().index, 3);
        assert_eq!(projects.resolve(&auth, "nope"), None);
        // A second key, then the first revoked: the second keeps its place.
        let a2 = projects.add_key(&store, &a.id, 3).unwrap();
        let k2 = a2.keys[1].key.clone();
        assert_eq!(projects.resolve(&auth, &k2).unwrap().index, 4);
        projects.revoke_key(&store, &a.id, ka, 4).unwrap();
        assert_eq!(projects.resolve(&auth, ka), None);
        assert_eq!(projects.resolve(&auth, &k2).unwrap().index, 4);
        assert_eq!(projects.key_count(), 5);
        // Read back from the store (places are per process: the rate
        // limiter's buckets live in memory).
        let again = Projects::load(&store, 2).unwrap();
        assert_eq!(again.resolve(&auth, &k2).unwrap().project, a.id);
        assert_eq!(again.resolve(&auth, ka), None);
        assert_eq!(
            again.list().len(),
            3,
            "the default project first, then a and b"
        );
    }

    #[test]
    fn settings_are_checked() {
        let store = Store::new(Arc::new(MemStorage::default()));
        let projects = Projects::empty(0);
        for bad in [
            r#"{"origins":["x"]}"#,
            r#"{"name":""}"#,
            r#"{"name":"a","origins":["ftp://x"]}"#,
            r#"{"name":"a","origins":["https://a.example/path"]}"#,
            r#"{"name":"a","sample_rate":1.5}"#,
            r#"{"name":"a","retention_days":0}"#,
        ] {
            assert!(projects.create(&store, input(bad), 1).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<ProjectInput>(r#"{"nmae":"a"}"#).is_err());
        let d = projects
            .update(&store, DEFAULT_PROJECT, input(r#"{"sample_rate":0.25}"#))
            .unwrap();
        assert_eq!(d.sample_rate, 0.25);
        assert_eq!(projects.get(DEFAULT_PROJECT).unwrap().sample_rate, 0.25);
        assert!(projects
            .update(
                &store,
                DEFAULT_PROJECT,
                input(r#"{"origins":["https://a.b"]}"#)
            )
            .is_err());
        assert!(projects.add_key(&store, DEFAULT_PROJECT, 1).is_err());
        let p = projects
            .create(&store, input(r#"{"name":"a","retention_days":7}"#), 1)
            .unwrap();
        let p = projects
            .update(&store, &p.id, input(r#"{"retention_days":null}"#))
            .unwrap();
        assert_eq!(p.retention_days, None, "null clears it");
        let c = recorder_config(&d);
        assert_eq!(c["sampleRate"], 0.25);
        assert!(c.get("maskAllText").is_none());
    }
}
