//! Content-addressed assets over HTTP (see `reel_shared::asset` and
//! [`crate::store::assets`]).
//!
//! Ingest side (open to any origin, guarded by an ingest key, like chunks):
//! - `POST /api/v1/sessions/{id}/assets` with `{"hashes": [HEX, ...]}` (at
//!   most [`MAX_OFFER`]): records that the session uses each asset the
//!   server holds, and answers `{"missing": [HEX, ...]}`, the ones it lacks;
//! - `POST /api/v1/sessions/{id}/asset-uploads/{hash}` with the asset as one zstd
//!   frame: inflated (bounded by `reel_shared::asset::MAX_BYTES`), checked
//!   against its SHA-256 (`400` when it differs: no one can put other
//!   bytes under a hash), stored once, used by the session. Its bytes count
//!   against the key's hourly allowance like a chunk's.
//!
//! Read side, authorised like `/chunks` (the API token, a signed-in
//! member, or the session's share link): `GET
//! /api/v1/sessions/{id}/assets/{hash}`, the frame as stored, only for an
//! asset the session uses.

use crate::api::ingest::{recorder_cors, refused};
use crate::api::sessions::session_id;
use crate::api::{self, ApiError, SharedState};
use crate::auth::INGEST_KEY_HEADER;
use crate::store::assets::AssetHash;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reel_shared::asset;
use reel_shared::chunk::{decompress_body, Limits};
use reel_shared::SessionId;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// Hashes one offer may name.
pub const MAX_OFFER: usize = 64;

/// The recorder's routes (ingest key).
pub fn ingest_routes(max_body: usize) -> Router<SharedState> {
    let cors = recorder_cors();
    Router::new()
        .route("/api/v1/sessions/{id}/assets", post(offer))
        .route("/api/v1/sessions/{id}/asset-uploads/{hash}", post(upload))
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(cors)
}

/// The player's route (behind the read side's authorisation).
pub fn read_routes() -> Router<SharedState> {
    Router::new().route("/api/v1/sessions/{id}/assets/{hash}", get(read))
}

/// The key's place (a flag key's or a project's, `crate::projects`), once
/// its project's origin check passed.
fn key_index(state: &SharedState, headers: &HeaderMap) -> Result<usize, ApiError> {
    let owner = headers
        .get(INGEST_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|k| state.projects.resolve(&state.auth, k))
        .ok_or_else(|| {
            ApiError::unauthorized(format!(
                "missing or wrong ingest key (send the `{INGEST_KEY_HEADER}` header)"
            ))
        })?;
    crate::projects::check_origin(&owner, headers)?;
    Ok(owner.index)
}

fn parse_hash(hex: &str) -> Option<AssetHash> {
    if !asset::is_hash(hex) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn hash_of(hex: &str) -> Result<AssetHash, ApiError> {
    parse_hash(hex)
        .ok_or_else(|| ApiError::bad_request("an asset hash is 64 lowercase hexadecimal digits"))
}

fn id_and_hash(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(SessionId, AssetHash, String), ApiError> {
    let Path((id, hex)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id = id.parse().map_err(|_| {
        ApiError::bad_request("the session id must be 32 lowercase hexadecimal digits")
    })?;
    Ok((id, hash_of(&hex)?, hex))
}

#[derive(serde::Deserialize)]
struct Offer {
    hashes: Vec<String>,
}

async fn offer(
    State(state): State<SharedState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    key_index(&state, &headers)?;
    let id = session_id(path)?;
    let offer: Offer = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{\"hashes\": [...]}}: {e}")))?;
    if offer.hashes.len() > MAX_OFFER {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_OFFER} hashes an offer"
        )));
    }
    let hashes = offer
        .hashes
        .iter()
        .map(|h| hash_of(h).map(|b| (b, h.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let store = state.store.clone();
    let missing = api::blocking(move || -> Result<Vec<String>, ApiError> {
        let mut missing = Vec::new();
        for (h, hex) in hashes {
            if !store.asset_use(&id, &h)? {
                missing.push(hex);
            }
        }
        Ok(missing)
    })
    .await??;
    Ok(Json(serde_json::json!({ "missing": missing })))
}

async fn upload(
    State(state): State<SharedState>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let key = key_index(&state, req.headers())?;
    let (id, hash, _) = id_and_hash(path)?;
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let body = Bytes::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let b = body.clone();
    let verified = api::blocking(move || {
        let limits = Limits {
            max_decompressed: asset::MAX_BYTES,
            ..Limits::default()
        };
        let raw = decompress_body(&b, &limits).map_err(|e| {
            let status = if matches!(e, reel_shared::ChunkError::BodyTooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::new(status, format!("the asset is not one zstd frame: {e}"))
        })?;
        if Sha256::digest(&raw)[..] != hash[..] {
            return Err(ApiError::bad_request(
                "the asset's SHA-256 differs from its hash",
            ));
        }
        Ok(())
    })
    .await?;
    verified?;
    state
        .rate
        .admit(key, addr, false, body.len() as u64)
        .map_err(refused)?;
    let store = state.store.clone();
    let len = body.len() as u64;
    api::blocking(move || store.asset_put(&id, &hash, &body)).await??;
    state.metrics.asset_uploaded(len);
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "ok": true }))).into_response())
}

async fn read(
    State(state): State<SharedState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, hash, _) = id_and_hash(path)?;
    let store = state.store.clone();
    let Some(body) = api::blocking(move || store.asset_get(&id, &hash)).await?? else {
        return Err(ApiError::not_found("no such asset in this session"));
    };
    Ok((
        [
            (CONTENT_TYPE, "application/zstd"),
            // Content-addressed: the same URL never means other bytes.
            (CACHE_CONTROL, "private, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_parse_only_in_lowercase_hex() {
        let hex = asset::hex(&[0x5a; 32]);
        assert_eq!(parse_hash(&hex), Some([0x5a; 32]));
        assert_eq!(parse_hash(&hex.to_uppercase()), None);
        assert_eq!(parse_hash("00"), None);
    }
}
