//! Projects' endpoints (contract §8) and `GET /api/v1/config`, the public
//! recorder settings of the project an ingest key belongs to.
//!
//! | route | role |
//! |---|---|
//! | `GET /api/v1/projects` | viewer (keys shown to admins only) |
//! | `POST /api/v1/projects` | admin (audit `project_add`) |
//! | `PATCH /api/v1/projects/{id}` | admin (audit `project_update`) |
//! | `POST /api/v1/projects/{id}/keys` | admin (audit `project_key_add`) |
//! | `DELETE /api/v1/projects/{id}/keys/{key}` | admin (audit `project_key_revoke`) |
//! | `GET /api/v1/config?key=KEY` | public, any origin |
//!
//! Viewers see the list (names, origins, settings) because the sessions
//! list shows and filters by project; the keys are an admin's business.

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{Access, Role};
use crate::index::format_ms;
use crate::projects::{self, ProjectError, ProjectInput, CONFIG_MAX_AGE_SECS, DEFAULT_PROJECT};
use crate::store::now_ms;
use crate::store::projects::Project;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use std::collections::HashMap;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/projects", get(list).post(create))
        .route("/api/v1/projects/{id}", patch(update))
        .route("/api/v1/projects/{id}/keys", post(add_key))
        .route("/api/v1/projects/{id}/keys/{key}", delete(revoke_key))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// `GET /api/v1/config`: outside the API's auth, open to every origin.
pub fn config_routes() -> Router<SharedState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::OPTIONS])
        .expose_headers([ETAG])
        .max_age(Duration::from_secs(7200));
    Router::new()
        .route("/api/v1/config", get(config))
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(cors)
}

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Store(e) => e.into(),
            ProjectError::Invalid(m) => ApiError::bad_request(m),
            ProjectError::NotFound => ApiError::not_found("no such project"),
            ProjectError::Random(m) => ApiError::internal(m),
        }
    }
}

/// A project as the API shows it; with its keys for admins.
fn view(p: &Project, with_keys: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": p.id,
        "name": p.name,
        "origins": p.origins,
        "retention_days": p.retention_days,
        "sample_rate": p.sample_rate,
        "privacy": p.privacy,
        "created_at": format_ms(p.created_at),
        "default": p.id == DEFAULT_PROJECT,
    });
    if with_keys {
        let keys: Vec<serde_json::Value> = p
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "key": k.key,
                    "created_at": format_ms(k.created_at),
                    "revoked_at": k.revoked_at.map(format_ms),
                })
            })
            .collect();
        v["ingest_key"] = p
            .keys
            .iter()
            .rev()
            .find(|k| k.revoked_at.is_none())
            .map(|k| k.key.clone())
            .into();
        v["ingest_keys"] = keys.into();
    }
    v
}

fn json_body(body: &Bytes) -> Result<ProjectInput, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn project_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(id)
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Viewer)?;
    let admin = actor.role >= Role::Admin;
    let list: Vec<serde_json::Value> = state
        .projects
        .list()
        .iter()
        .map(|p| view(p, admin))
        .collect();
    Ok(Json(serde_json::json!({ "projects": list })))
}

async fn create(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = access.require(Role::Admin)?;
    let input = json_body(&body)?;
    let s = state.clone();
    let p = api::blocking(move || s.projects.create(&s.store, input, now_ms())).await??;
    audit::record(
        &state,
        &actor,
        "project_add",
        None,
        &format!("{} ({})", p.id, p.name),
    )
    .await;
    Ok((StatusCode::CREATED, Json(view(&p, true))).into_response())
}

async fn update(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let id = project_id(path)?;
    let input = json_body(&body)?;
    let s = state.clone();
    let pid = id.clone();
    let p = api::blocking(move || s.projects.update(&s.store, &pid, input)).await??;
    let detail = String::from_utf8_lossy(&body)
        .chars()
        .take(500)
        .collect::<String>();
    audit::record(
        &state,
        &actor,
        "project_update",
        None,
        &format!("{id}: {detail}"),
    )
    .await;
    Ok(Json(view(&p, true)))
}

async fn add_key(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let actor = access.require(Role::Admin)?;
    let id = project_id(path)?;
    let s = state.clone();
    let pid = id.clone();
    let p = api::blocking(move || s.projects.add_key(&s.store, &pid, now_ms())).await??;
    audit::record(&state, &actor, "project_key_add", None, &id).await;
    Ok((StatusCode::CREATED, Json(view(&p, true))).into_response())
}

async fn revoke_key(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let Path((id, key)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let s = state.clone();
    let pid = id.clone();
    let k = key.clone();
    let p = api::blocking(move || s.projects.revoke_key(&s.store, &pid, &k, now_ms())).await??;
    // The key's first digits say which one it was, not the key.
    let prefix: String = key.chars().take(6).collect();
    audit::record(
        &state,
        &actor,
        "project_key_revoke",
        None,
        &format!("{id}: {prefix}…"),
    )
    .await;
    Ok(Json(view(&p, true)))
}

/// `GET /api/v1/config?key=KEY`: the recorder's settings for the project
/// of `KEY` ([`projects::recorder_config`]). Public (the key is in the
/// page already), cached for [`CONFIG_MAX_AGE_SECS`] and revalidated by
/// its `ETag`.
async fn config(
    State(state): State<SharedState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Some(key) = q.get("key").filter(|k| !k.is_empty()) else {
        return Err(ApiError::bad_request("send the ingest key as `?key=`"));
    };
    let owner = state
        .projects
        .resolve(&state.auth, key)
        .ok_or_else(|| ApiError::not_found("no project has this ingest key"))?;
    let project = state
        .projects
        .get(&owner.project)
        .ok_or_else(|| ApiError::not_found("no project has this ingest key"))?;
    let body =
        serde_json::to_vec(&projects::recorder_config(&project)).map_err(ApiError::internal)?;
    let etag = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(&body);
        let hex: String = d[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    };
    let cache = format!("public, max-age={CONFIG_MAX_AGE_SECS}");
    let mut res = if headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == etag)
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    };
    let h = res.headers_mut();
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_str(&cache).map_err(ApiError::internal)?,
    );
    h.insert(
        ETAG,
        HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    Ok(res)
}
