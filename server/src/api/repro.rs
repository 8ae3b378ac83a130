//! `GET /api/v1/sessions/{id}/repro?format=steps|playwright`: a session
//! as steps in words or as a `@playwright/test` spec (see
//! [`crate::repro`]). Behind the API token like every read.
//!
//! The events are read a chunk at a time and fed to the builder, so memory
//! follows the page's size, not the session's length; a damaged or
//! undecodable chunk is skipped (its steps are missing, as its moments are
//! from the replay). Too many steps is a `400` as soon as it is known.

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{Access, Role};
use crate::index::format_ms;
use crate::repro::{self, playwright, steps, Builder, ReproError};
use crate::store::StoreError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use reel_shared::{decode_chunk, SessionId};
use std::collections::HashMap;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions/{id}/repro", get(repro))
        .method_not_allowed_fallback(api::method_not_allowed)
}

#[derive(Clone, Copy)]
enum Format {
    Steps,
    Playwright,
}

async fn repro(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let actor = access.require(Role::Member)?;
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id: SessionId = id.parse().map_err(|_| {
        ApiError::bad_request("the session id must be 32 lowercase hexadecimal digits")
    })?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = match q.get("format").map(String::as_str) {
        Some("steps") => Format::Steps,
        Some("playwright") => Format::Playwright,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown format {other:?}: use format=steps or format=playwright"
            )))
        }
        None => {
            return Err(ApiError::bad_request(
                "a format is needed: format=steps or format=playwright",
            ))
        }
    };
    let store = state.store.clone();
    let limits = state.limits.decode_limits();
    let (script, started_at) = api::blocking(move || -> Result<_, ApiError> {
        let meta = store
            .session(&id)?
            .ok_or_else(|| ApiError::not_found("no such session"))?;
        let mut b = Builder::new();
        for seq in store.chunk_seqs(&id, 0)? {
            let raw = match store.read_chunk(&id, seq) {
                Ok(Some(raw)) => raw,
                Ok(None) => continue,
                Err(e @ StoreError::Damaged { .. }) => {
                    tracing::warn!(session = %id, seq, "{e}; left out of the reproduction");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let Ok(chunk) = decode_chunk(&raw, &limits) else {
                tracing::warn!(session = %id, seq, "undecodable chunk left out of the reproduction");
                continue;
            };
            for e in &chunk.events {
                b.push(e).map_err(too_long)?;
            }
        }
        Ok((b.finish().map_err(too_long)?, meta.started_at))
    })
    .await??;
    audit::view(&state, &actor, &id, "reproduction").await;
    Ok(match format {
        Format::Steps => (
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            steps::render(&script),
        )
            .into_response(),
        Format::Playwright => (
            [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
            playwright::render(&script, &id.to_string(), &format_ms(started_at)),
        )
            .into_response(),
    })
}

fn too_long(e: ReproError) -> ApiError {
    match e {
        ReproError::TooLong => ApiError::bad_request(format!(
            "the session has more than {} steps, too many to turn into a reproduction",
            repro::MAX_STEPS
        )),
    }
}
