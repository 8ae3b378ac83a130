//! People (contract §8): a recorded person is the user id a page gave
//! `Reel.identify`. Support looks up their sessions; an access request
//! gets everything held about them; an erasure request deletes every
//! session identified with them, every byte (see `store::people` for how
//! their id is kept out of sled, and `store::log` for the zeroed chunks).
//!
//! | route | role |
//! |---|---|
//! | `GET /api/v1/people/{user_id}/sessions` | viewer |
//! | `GET /api/v1/people/{user_id}/export` | member (audit `export`) |
//! | `DELETE /api/v1/people/{user_id}` | admin (audit `people_delete`) |
//!
//! The audit log names the person by [`audit::pseudonym`], never by id.

use crate::api::sessions::write_events_json;
use crate::api::{self, ApiError, SharedState};
use crate::archive;
use crate::audit;
use crate::auth::{Access, Role};
use crate::index::{format_ms, SessionItem, MAX_FIELD_LEN};
use crate::store::{now_ms, Store, StoreError};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use reel_shared::{Limits, SessionId};
use std::io::Write;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/people/{user_id}", delete(erase))
        .route("/api/v1/people/{user_id}/sessions", get(sessions))
        .route("/api/v1/people/{user_id}/export", get(export))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// An erasure lists and deletes again while sessions of the person keep
/// appearing (a page still identifying them), at most this often.
const ERASE_ROUNDS: usize = 8;

fn user_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(u) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if u.is_empty() || u.len() > MAX_FIELD_LEN {
        return Err(ApiError::bad_request("the user id must be 1 to 1024 bytes"));
    }
    Ok(u)
}

/// The person's sessions' metadata, newest first.
fn items_of(store: &Store, user: &str) -> Result<Vec<SessionItem>, StoreError> {
    let mut metas = Vec::new();
    for id in store.sessions_of_user(user)? {
        if let Some(m) = store.session(&id)? {
            if m.user_id.as_deref() == Some(user) {
                metas.push(m);
            }
        }
    }
    metas.sort_by_key(|m| std::cmp::Reverse(m.start_key()));
    Ok(metas.iter().map(SessionItem::from).collect())
}

async fn sessions(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(Role::Viewer)?;
    let user = user_id(path)?;
    let store = state.store.clone();
    let u = user.clone();
    let items = api::blocking(move || items_of(&store, &u)).await??;
    Ok(Json(
        serde_json::json!({ "user_id": user, "sessions": items }),
    ))
}

/// Deletes every session of `user`: how many, and what the store has not
/// scrubbed of them yet (`PeopleStore::scrub_erased`).
fn erase_all(store: &Store, user: &str) -> Result<(u64, Vec<String>), StoreError> {
    let mut deleted = 0;
    // One batch: the sessions' keys leave the disk together.
    store.delete_sessions(&mut |delete| {
        for _ in 0..ERASE_ROUNDS {
            let ids = store.sessions_of_user(user)?;
            if ids.is_empty() {
                break;
            }
            for id in ids {
                let mut attempts = 0;
                loop {
                    match delete(&id) {
                        Ok(true) => deleted += 1,
                        Ok(false) => {}
                        // Ingest keeps writing to it: try again.
                        Err(StoreError::Busy) if attempts < 8 => {
                            attempts += 1;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                    break;
                }
            }
        }
        Ok(())
    })?;
    store.flush_blocking()?;
    // The id itself, last: off the disk too.
    store.purge_forgotten()?;
    // Once per erasure, however many sessions.
    let deferred = if deleted > 0 {
        store.scrub_erased()?
    } else {
        Vec::new()
    };
    Ok((deleted, deferred))
}

async fn erase(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let user = user_id(path)?;
    let store = state.store.clone();
    let u = user.clone();
    let (deleted, deferred) = api::blocking(move || erase_all(&store, &u)).await??;
    state.store.flush().await?;
    let who = audit::pseudonym(&state, &user);
    tracing::info!(sessions = deleted, person = %who, "person erased");
    let mut detail = format!("{who}: {deleted} sessions");
    if !deferred.is_empty() {
        detail.push_str("; not yet scrubbed: ");
        detail.push_str(&deferred.join("; "));
    }
    audit::record(&state, &actor, "people_delete", None, &detail).await;
    Ok(Json(serde_json::json!({ "deleted_sessions": deleted })))
}

/// Everything held about `user`, as one JSON document:
///
/// ```json
/// {"reel_people_export": 1, "user_id": "...", "exported_at": "...",
///  "sessions": [{"archive": {...a `reel-server export` archive...},
///                "comments": [...], "events": [...every event...]}]}
/// ```
///
/// Each `archive` can be imported as it is (`reel-server import`);
/// `events` is what `/api/v1/sessions/{id}/events` answers, for reading.
fn write_export(
    store: &Store,
    user: &str,
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Result<usize, ApiError> {
    let ids: Vec<SessionId> = items_of(store, user)?
        .iter()
        .filter_map(|i| i.id.parse().ok())
        .collect();
    let head = serde_json::json!({
        "reel_people_export": 1,
        "user_id": user,
        "exported_at": format_ms(now_ms()),
    });
    let head = serde_json::to_string(&head).map_err(ApiError::internal)?;
    // The head without its closing brace, then the sessions.
    out.extend_from_slice(head.trim_end_matches('}').as_bytes());
    out.extend_from_slice(b",\"sessions\":[");
    let mut n = 0;
    for id in &ids {
        let mut archived = Vec::new();
        match archive::export(store, id, &mut archived) {
            Ok(()) => {}
            // Deleted meanwhile.
            Err(archive::ArchiveError::NoSuchSession(_)) => continue,
            Err(e) => return Err(ApiError::internal(e)),
        }
        if n > 0 {
            out.push(b',');
        }
        n += 1;
        out.extend_from_slice(b"{\"archive\":");
        out.extend_from_slice(&archived);
        out.extend_from_slice(b",\"comments\":");
        let comments = store.comments(id)?;
        serde_json::to_writer(&mut *out, &comments).map_err(ApiError::internal)?;
        out.extend_from_slice(b",\"events\":");
        let mut events = Vec::new();
        match write_events_json(store, id, limits, &mut events) {
            Ok(()) => out.extend_from_slice(&events),
            Err(e) => {
                tracing::warn!(session = %id, "export: events unreadable: {e}");
                out.extend_from_slice(b"null");
            }
        }
        out.push(b'}');
    }
    out.write_all(b"]}").map_err(ApiError::internal)?;
    Ok(n)
}

async fn export(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let actor = access.require(Role::Member)?;
    let user = user_id(path)?;
    let store = state.store.clone();
    let limits = state.limits.decode_limits();
    let u = user.clone();
    let (body, n) = api::blocking(move || {
        let mut out = Vec::new();
        write_export(&store, &u, &limits, &mut out).map(|n| (out, n))
    })
    .await??;
    let who = audit::pseudonym(&state, &user);
    audit::record(
        &state,
        &actor,
        audit::EXPORT,
        None,
        &format!("{who}: {n} sessions"),
    )
    .await;
    Ok((
        [
            (CONTENT_TYPE, "application/json"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"reel-person-export.json\"",
            ),
        ],
        body,
    )
        .into_response())
}
