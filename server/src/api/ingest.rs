//! `POST /api/v1/sessions/{id}/chunks/{seq}`: where recorders send chunks.
//!
//! Open to any origin (the recorder runs on the embedder's site), guarded by
//! an ingest key. A chunk is fully decoded before it is stored, so what the
//! read API later decodes is known to be well-formed; and it is acknowledged
//! only once flushed to disk.

use crate::api::{self, ApiError, SharedState};
use crate::auth::INGEST_KEY_HEADER;
use crate::index::MAX_TIME_MS;
use crate::store::PutOutcome;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, Method, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use reel_shared::{decode_chunk, ChunkError, Limits, SessionId};
use std::collections::HashMap;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Far above any real session (a chunk every second for four months), low
/// enough that a garbage seq is caught as such.
pub const MAX_SEQ: u32 = 10_000_000;

pub fn routes() -> Router<SharedState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, HeaderName::from_static(INGEST_KEY_HEADER)])
        .max_age(Duration::from_secs(7200));
    Router::new()
        .route("/api/v1/sessions/{id}/chunks/{seq}", post(put_chunk))
        // Before the layers, so that CORS headers reach the 405 too.
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES))
        .layer(cors)
}

/// The header, or `?key=` for transports that cannot set headers
/// (`navigator.sendBeacon` on page hide).
fn ingest_key(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(INGEST_KEY_HEADER) {
        return v.to_str().ok().map(str::to_owned);
    }
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(req.uri()).ok()?;
    q.get("key").cloned()
}

fn chunk_error(e: ChunkError) -> ApiError {
    let status = match e {
        ChunkError::BodyTooLarge(_) | ChunkError::TooManyEvents(..) => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, format!("bad chunk: {e}"))
}

async fn put_chunk(
    State(state): State<SharedState>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The key is checked before the body is read: strangers do not get to
    // make the server buffer 8 MiB.
    if !ingest_key(&req).is_some_and(|k| state.auth.ingest_key_ok(&k)) {
        return Err(ApiError::unauthorized(format!(
            "missing or wrong ingest key (send the `{INGEST_KEY_HEADER}` header)"
        )));
    }
    let Path((id, seq)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id: SessionId = id.parse().map_err(|_| {
        ApiError::bad_request("the session id must be 32 lowercase hexadecimal digits")
    })?;
    let seq: u32 =
        seq.parse().ok().filter(|s| *s < MAX_SEQ).ok_or_else(|| {
            ApiError::bad_request(format!("seq must be an integer below {MAX_SEQ}"))
        })?;
    let body = Bytes::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;

    let store = state.store.clone();
    let outcome = api::blocking(move || -> Result<PutOutcome, ApiError> {
        let chunk = decode_chunk(&body, &Limits::default()).map_err(chunk_error)?;
        let h = &chunk.header;
        if h.session != id {
            return Err(ApiError::bad_request(
                "the chunk's session id differs from the URL's",
            ));
        }
        if h.seq != seq {
            return Err(ApiError::bad_request(
                "the chunk's seq differs from the URL's",
            ));
        }
        if h.t_end > MAX_TIME_MS {
            return Err(ApiError::bad_request(
                "the chunk's timestamps are past the year 9999",
            ));
        }
        Ok(store.put_chunk(h, &body)?)
    })
    .await??;
    // Also for a duplicate: its first copy may still be in flight to disk.
    state.store.flush().await?;
    tracing::debug!(session = %id, seq, ?outcome, "chunk");
    Ok(Json(
        serde_json::json!({ "ok": true, "duplicate": outcome == PutOutcome::Duplicate }),
    ))
}
