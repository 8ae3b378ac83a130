//! `POST /api/v1/sessions/{id}/chunks/{seq}`: where recorders send chunks.
//!
//! Open to any origin (the recorder runs on the embedder's site), guarded by
//! an ingest key. The order of checks is the order of their cost, with one
//! exception that protects the allowances:
//!
//! 1. the key and the URL (session id, seq range), before the body is read;
//! 2. the body's size, while it is read;
//! 3. the chunk itself ([`crate::validate::check_chunk`], the same checks
//!    `import` runs): header against URL and clock, then the body inflated
//!    and walked, the header's stats checked against the events;
//! 4. the chunk against its session's metadata
//!    ([`crate::validate::check_session`]: bytes per session, time span,
//!    seq growth);
//! 5. the allowances ([`crate::ratelimit`]): new sessions per client
//!    address and per key, bytes per key per hour. Cheaper than 3, but
//!    taken only after it, so that garbage never spends a token: a client
//!    sending junk costs the server some inflating (bounded by the inflate
//!    permits) and the site nothing.
//!
//! A chunk is acknowledged only once the ingest writer's sync has covered
//! it (see [`crate::store::Store::put_durable`]).

use crate::api::{self, ApiError, SharedState};
use crate::auth::INGEST_KEY_HEADER;
use crate::metrics::Stored;
use crate::ratelimit::Refused;
use crate::store::{now_ms, PutOutcome};
use crate::validate::{check_chunk_facts, check_session, Refusal};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use reel_shared::SessionId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tower_http::cors::{Any, CorsLayer};

/// Bodies up to this size are validated on the async worker that read
/// them: a real chunk (tens of KB) takes ~0.15 ms, less than the two thread
/// hand-offs of the blocking pool cost. Larger ones (up to `max_body`, and
/// inflating up to `max_decompressed`) go to the blocking pool, so that
/// one of them cannot stall every other connection of its worker.
const INLINE_VALIDATION_BYTES: usize = 256 * 1024;

pub use crate::validate::MAX_SEQ;

/// What a page of any origin may send to the routes `reel.js` calls
/// (chunks, asset offers and uploads): a POST with the ingest key, whose
/// `Retry-After` it may read. One rule for all of them.
pub(crate) fn recorder_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, HeaderName::from_static(INGEST_KEY_HEADER)])
        .expose_headers([axum::http::header::RETRY_AFTER])
        .max_age(Duration::from_secs(7200))
}

pub fn routes(max_body: usize) -> Router<SharedState> {
    let cors = recorder_cors();
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

fn refusal(e: Refusal) -> ApiError {
    let status = if e.too_large() {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, e.to_string())
}

/// 429 with `Retry-After`, or 413 for a chunk no wait would let in.
pub(crate) fn refused(r: Refused) -> ApiError {
    let (wait, message) = match r {
        Refused::AddressSessions(w) => (
            w,
            "too many new sessions from this client address for this ingest key; retry later",
        ),
        Refused::KeySessions(w) => (w, "too many new sessions for this ingest key; retry later"),
        Refused::KeyBytes(w) => (
            w,
            "this ingest key stored its allowance of bytes for the hour; retry later",
        ),
        Refused::LargerThanHourlyBytes => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the chunk is larger than this ingest key's allowance of bytes per hour",
            )
        }
    };
    ApiError {
        retry_after: Some((wait.as_secs_f64().ceil() as u64).max(1)),
        ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, message)
    }
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
    let Some(owner) = ingest_key(&req).and_then(|k| state.projects.resolve(&state.auth, &k)) else {
        return Err(ApiError::unauthorized(format!(
            "missing or wrong ingest key (send the `{INGEST_KEY_HEADER}` header)"
        )));
    };
    crate::projects::check_origin(&owner, req.headers())?;
    let key = owner.index;
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
    // The socket's peer, which the server's accept loop puts on every
    // request (absent when the router is driven without a socket, as in
    // the in-process tests).
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let body = Bytes::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let len = body.len() as u64;

    let permit = state
        .inflate_permits
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let (h, facts) = if body.len() <= INLINE_VALIDATION_BYTES {
        check_chunk_facts(&body, &id, seq, &state.limits, now_ms()).map_err(refusal)?
    } else {
        let (st, b) = (state.clone(), body.clone());
        api::blocking(move || check_chunk_facts(&b, &id, seq, &st.limits, now_ms()))
            .await?
            .map_err(refusal)?
    };
    drop(permit);

    let meta = state.store.session(&id)?;
    // A session stays with the project that started it: another project's
    // key cannot add to it.
    let project = match &meta {
        Some(m) => m.project.clone(),
        None => state.store.session_project(&id)?,
    };
    if project.as_deref().is_some_and(|p| p != owner.project) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this session was recorded with another project's ingest key",
        ));
    }
    // Only a session's first chunk takes a new-session token. Two first
    // chunks racing may both take one: the limit errs on the strict side.
    let admitted = check_session(&h, len, meta.as_ref(), &state.limits)
        .map_err(refusal)
        .and_then(|()| {
            state
                .rate
                .admit(key, addr, meta.is_none(), len)
                .map_err(refused)
        });
    if let Err(e) = admitted {
        // Reposting a stored chunk is harmless (it stores nothing), even
        // at a cap: a recorder whose answer was lost must not be told its
        // stored chunk is refused. Looked up only here, off the hot path.
        if meta.is_some() && state.store.chunk_seqs(&id, seq)?.first() == Some(&seq) {
            return Ok(Stored::Duplicate);
        }
        return Err(e);
    }

    // Returns once the chunk (or, for a duplicate, its first copy) is on
    // disk: the writer answers only after the sync that covers it.
    if project.is_none() && meta.is_none() {
        state.store.set_session_project(&id, &owner.project)?;
    }
    let outcome = state.store.put_durable(h, body, facts, now_ms()).await?;
    tracing::debug!(session = %id, seq, ?outcome, "chunk");
    Ok(match outcome {
        PutOutcome::Stored { new_session } => Stored::New {
            bytes: len,
            new_session,
        },
        PutOutcome::Duplicate => {
            // A retry of a stored chunk stores nothing.
            state.rate.refund_bytes(key, len);
            Stored::Duplicate
        }
    })
}
