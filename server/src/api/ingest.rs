//! `POST /api/v1/sessions/{id}/chunks/{seq}`: where recorders send chunks.
//!
//! Open to any origin (the recorder runs on the embedder's site), guarded by
//! an ingest key. The order of checks is the order of their cost: the key
//! and the URL before the body is read, the body's size while it is read,
//! the rate of new sessions before the chunk is inflated, and the chunk
//! itself (see [`crate::validate`]) before it is stored. A chunk is
//! acknowledged only once the ingest writer's sync has covered it (see
//! [`crate::store::Store::put_durable`]).

use crate::api::{self, ApiError, SharedState};
use crate::auth::INGEST_KEY_HEADER;
use crate::index::MAX_TIME_MS;
use crate::metrics::Stored;
use crate::store::{now_ms, PutOutcome};
use crate::validate::validate_chunk;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use reel_shared::{ChunkError, SessionId};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tower_http::cors::{Any, CorsLayer};

/// Bodies up to this size are validated on the async worker that read
/// them: a real chunk (tens of KB) takes ~0.15 ms, less than the two thread
/// hand-offs of the blocking pool cost. Larger ones (up to `max_body`, and
/// inflating up to `max_decompressed`) go to the blocking pool, so that
/// one of them cannot stall every other connection of its worker.
const INLINE_VALIDATION_BYTES: usize = 256 * 1024;

/// Far above any real session (a chunk every second for four months), low
/// enough that a garbage seq is caught as such.
pub const MAX_SEQ: u32 = 10_000_000;

pub fn routes(max_body: usize) -> Router<SharedState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, HeaderName::from_static(INGEST_KEY_HEADER)])
        .expose_headers([axum::http::header::RETRY_AFTER])
        .max_age(Duration::from_secs(7200));
    Router::new()
        .route("/api/v1/sessions/{id}/chunks/{seq}", post(put_chunk))
        // Before the layers, so that CORS headers reach the 405 too.
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
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
) -> Response {
    let started = Instant::now();
    let result = ingest(&state, path, req).await;
    let (status, stored) = match &result {
        Ok(s) => (StatusCode::OK, Some(*s)),
        Err(e) => (e.status, None),
    };
    state.metrics.ingest(status, started.elapsed(), stored);
    match result {
        Ok(s) => Json(serde_json::json!({
            "ok": true,
            "duplicate": matches!(s, Stored::Duplicate),
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn ingest(
    state: &SharedState,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<Stored, ApiError> {
    // The key is checked before the body is read: strangers do not get to
    // make the server buffer a body.
    let Some(key) = ingest_key(&req).and_then(|k| state.auth.ingest_key_index(&k)) else {
        return Err(ApiError::unauthorized(format!(
            "missing or wrong ingest key (send the `{INGEST_KEY_HEADER}` header)"
        )));
    };
    let Path((id, seq)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id: SessionId = id.parse().map_err(|_| {
        ApiError::bad_request("the session id must be 32 lowercase hexadecimal digits")
    })?;
    let seq: u32 = seq.parse().ok().filter(|s| *s < MAX_SEQ).ok_or_else(|| {
        ApiError::bad_request(format!(
            "the sequence number must be an integer from 0 to {}",
            MAX_SEQ - 1
        ))
    })?;
    let body = Bytes::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;

    let len = body.len() as u64;
    // Only a session's first chunk takes a token. Two first chunks racing
    // may both take one: the limit errs on the strict side.
    if !state.store.has_session(&id)? {
        if let Err(wait) = state.rate.take(key) {
            return Err(ApiError {
                retry_after: Some((wait.as_secs_f64().ceil() as u64).max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many new sessions for this ingest key; retry later",
                )
            });
        }
    }
    let permit = state
        .inflate_permits
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let h = if body.len() <= INLINE_VALIDATION_BYTES {
        validate_chunk(&body, &state.limits).map_err(chunk_error)?
    } else {
        let (st, b) = (state.clone(), body.clone());
        api::blocking(move || validate_chunk(&b, &st.limits))
            .await?
            .map_err(chunk_error)?
    };
    drop(permit);
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
    // Returns once the chunk (or, for a duplicate, its first copy) is on
    // disk: the writer answers only after the sync that covers it.
    let outcome = state.store.put_durable(h, body, now_ms()).await?;
    tracing::debug!(session = %id, seq, ?outcome, "chunk");
    Ok(match outcome {
        PutOutcome::Stored { new_session } => Stored::New {
            bytes: len,
            new_session,
        },
        PutOutcome::Duplicate => Stored::Duplicate,
    })
}
