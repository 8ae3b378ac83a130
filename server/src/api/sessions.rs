//! The read API: listing, reading and deleting sessions. Behind the API
//! token (see `auth::require_reader`, applied by the router).

use crate::api::{self, ApiError, SharedState};
use crate::index::{encode_cursor, ListQuery, SessionItem};
use crate::store::{ListRange, Store};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use reel_shared::{decode_chunk, Limits, SessionId};
use std::collections::HashMap;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions", get(list))
        .route("/api/v1/sessions/{id}", get(get_one).delete(delete))
        .route("/api/v1/sessions/{id}/events", get(events))
        .route("/api/v1/sessions/{id}/chunks", get(chunks))
        .method_not_allowed_fallback(api::method_not_allowed)
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(q: Params) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn session_id(path: Result<Path<String>, PathRejection>) -> Result<SessionId, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    id.parse().map_err(|_| {
        ApiError::bad_request("the session id must be 32 lowercase hexadecimal digits")
    })
}

fn no_such_session() -> ApiError {
    ApiError::not_found("no such session")
}

async fn list(
    State(state): State<SharedState>,
    q: Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    let q = ListQuery::parse(&params(q)?).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    let page = api::blocking(move || {
        let range = ListRange {
            since: q.since_ms.unwrap_or(0),
            until: q.until_ms.unwrap_or(u64::MAX),
            before: q.cursor,
            limit: q.limit,
        };
        store.list_sessions(range, &mut |m| q.matches(m))
    })
    .await??;
    let sessions: Vec<SessionItem> = page.sessions.iter().map(SessionItem::from).collect();
    Ok(Json(serde_json::json!({
        "sessions": sessions,
        "next_cursor": page.next.map(|k| encode_cursor(&k)),
    })))
}

async fn get_one(
    State(state): State<SharedState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionItem>, ApiError> {
    let id = session_id(path)?;
    let store = state.store.clone();
    let meta = api::blocking(move || store.session(&id))
        .await??
        .ok_or_else(no_such_session)?;
    Ok(Json(SessionItem::from(&meta)))
}

async fn delete(
    State(state): State<SharedState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = session_id(path)?;
    let store = state.store.clone();
    if !api::blocking(move || store.delete_session(&id)).await?? {
        return Err(no_such_session());
    }
    state.store.flush().await?;
    tracing::info!(session = %id, "session deleted");
    Ok(Json(serde_json::json!({ "deleted": true })))
}

/// Why a session's events cannot be written out.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Ingest checks a chunk's structure, not every event's type (see
    /// `validate`), so a stored chunk can still fail to decode.
    #[error("chunk {seq} of this session cannot be decoded: {error}")]
    Undecodable {
        seq: u32,
        error: reel_shared::ChunkError,
    },
    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Every event of a session as one JSON array, written to `out`: what
/// `/events` answers and `reel-server export --json` writes.
pub fn write_events_json(
    store: &Store,
    id: &SessionId,
    limits: &Limits,
    out: &mut impl std::io::Write,
) -> Result<(), EventsError> {
    if !store.has_session(id)? {
        return Err(EventsError::NotFound);
    }
    out.write_all(b"[").map_err(serde_json::Error::io)?;
    let mut first = true;
    for (seq, raw) in store.chunks(id, 0)? {
        let chunk =
            decode_chunk(&raw, limits).map_err(|error| EventsError::Undecodable { seq, error })?;
        for e in &chunk.events {
            if !first {
                out.write_all(b",").map_err(serde_json::Error::io)?;
            }
            first = false;
            serde_json::to_writer(&mut *out, e)?;
        }
    }
    out.write_all(b"]").map_err(serde_json::Error::io)?;
    Ok(())
}

/// Built in memory: sessions are bounded by what a browser tab produces,
/// and this is not the player's path (it fetches `/chunks`).
fn events_json(store: &Store, id: &SessionId, limits: &Limits) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    write_events_json(store, id, limits, &mut out).map_err(|e| match e {
        EventsError::NotFound => no_such_session(),
        e @ EventsError::Undecodable { .. } => {
            tracing::warn!(session = %id, "{e}");
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        e => ApiError::internal(e),
    })?;
    Ok(out)
}

async fn events(
    State(state): State<SharedState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = session_id(path)?;
    let store = state.store.clone();
    let limits = state.limits.decode_limits();
    let body = api::blocking(move || events_json(&store, &id, &limits)).await??;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// The stored chunks, each framed as a u32 little-endian length and the
/// chunk's bytes: the player decodes them itself, so the server sends
/// compressed bytes and does no decoding work.
async fn chunks(
    State(state): State<SharedState>,
    path: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Response, ApiError> {
    let id = session_id(path)?;
    let from = match params(q)?.get("from").map(String::as_str) {
        None | Some("") => 0,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request("`from` must be a chunk sequence number"))?,
    };
    let store = state.store.clone();
    let body = api::blocking(move || -> Result<Vec<u8>, ApiError> {
        if !store.has_session(&id)? {
            return Err(no_such_session());
        }
        let mut out = Vec::new();
        for (_, raw) in store.chunks(&id, from)? {
            let len = u32::try_from(raw.len()).map_err(ApiError::internal)?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&raw);
        }
        Ok(out)
    })
    .await??;
    Ok(([(CONTENT_TYPE, "application/octet-stream")], body).into_response())
}
