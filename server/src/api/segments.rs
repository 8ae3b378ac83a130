//! Saved segments (issue 16): `GET /api/v1/segments` (a viewer) lists
//! them, `POST /api/v1/segments` `{"name", "filters": {...}}` (a member)
//! saves one, `DELETE /api/v1/segments/{id}` (a member) removes it. The
//! filters are those of `GET /api/v1/sessions` (contract §3, §6), checked
//! by the same parser ([`crate::filters`]); the sessions list and the
//! insights page apply them.

use crate::api::comments::json_body;
use crate::api::{self, ApiError, SharedState};
use crate::auth::{Access, Role};
use crate::filters::Filters;
use crate::store::now_ms;
use crate::store::saved_segments::SavedSegment;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/segments", get(list).post(save))
        .route("/api/v1/segments/{id}", delete(remove))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// Bounds: a segment is a name and a few short filters, and a deployment
/// keeps a list a person can scroll.
pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_SEGMENTS: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSegment {
    name: String,
    #[serde(default)]
    filters: serde_json::Map<String, serde_json::Value>,
}

/// The name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters.
fn segment_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("`name` must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("`name` is at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("`name` must not contain control characters".into());
    }
    Ok(name.to_string())
}

/// The filters as strings (the query parameters they become): checked by
/// the one filter parser ([`Filters::from_json`]), so a segment holds
/// nothing the sessions list or the insights endpoints would refuse. A
/// number or a boolean is kept as its text; an empty value is dropped.
fn segment_filters(
    filters: serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, String> {
    let filters = serde_json::Value::Object(filters);
    Filters::from_json(&filters)?;
    let mut out = BTreeMap::new();
    if let serde_json::Value::Object(map) = filters {
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                v => v.to_string(),
            };
            if !v.is_empty() {
                out.insert(k, v);
            }
        }
    }
    Ok(out)
}

fn segment_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Ok(Path(id)) = path else {
        return Err(ApiError::bad_request("a segment id is 16 hex digits"));
    };
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(ApiError::bad_request("a segment id is 16 hex digits"))
    }
}

fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(Role::Viewer)?;
    let store = state.store.clone();
    let all = api::blocking(move || store.saved_segments()).await??;
    Ok(Json(serde_json::json!({ "segments": all })))
}

async fn save(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Result<(StatusCode, Json<SavedSegment>), ApiError> {
    let actor = access.require(Role::Member)?;
    let new: NewSegment = json_body(&body, r#"{"name": "...", "filters": {"device": "mobile"}}"#)?;
    let segment = SavedSegment {
        id: new_id()?,
        name: segment_name(&new.name).map_err(ApiError::bad_request)?,
        filters: segment_filters(new.filters).map_err(ApiError::bad_request)?,
        created_at: now_ms(),
        created_by: actor.name,
    };
    let store = state.store.clone();
    let saved = segment.clone();
    api::blocking(move || -> Result<(), ApiError> {
        if store.saved_segments()?.len() >= MAX_SEGMENTS {
            return Err(ApiError::bad_request(format!(
                "a deployment keeps at most {MAX_SEGMENTS} saved segments: delete some first"
            )));
        }
        Ok(store.put_saved_segment(&saved)?)
    })
    .await??;
    tracing::info!(id = %segment.id, "segment saved");
    Ok((StatusCode::CREATED, Json(segment)))
}

async fn remove(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Member)?;
    let id = segment_id(path)?;
    let store = state.store.clone();
    if api::blocking(move || store.delete_saved_segment(&id)).await?? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such saved segment"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(segment_name("  Mobile  ").unwrap(), "Mobile");
        assert!(segment_name("   ").is_err());
        assert!(segment_name(&"x".repeat(81)).is_err());
        assert!(segment_name("a\nb").is_err());
    }

    #[test]
    fn filters_are_those_of_the_sessions_list() {
        let f = |v: serde_json::Value| match v {
            serde_json::Value::Object(m) => segment_filters(m),
            _ => unreachable!("an object"),
        };
        let ok = f(serde_json::json!({
            "device": "mobile", "has_rage_clicks": true, "min_duration_ms": 5000, "user": ""
        }))
        .unwrap();
        assert_eq!(ok["has_rage_clicks"], "true");
        assert_eq!(ok["min_duration_ms"], "5000");
        assert!(!ok.contains_key("user"), "empty values are dropped");
        assert!(f(serde_json::json!({"colour": "red"}))
            .unwrap_err()
            .contains("unknown filter"));
        assert!(f(serde_json::json!({"device": "fridge"})).is_err());
        assert!(f(serde_json::json!({"device": ["a"]})).is_err());
        assert!(f(serde_json::json!({"url": "x".repeat(10_000)})).is_err());
    }
}
