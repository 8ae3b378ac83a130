//! Share links (contract §7): `POST /api/v1/sessions/{id}/shares`
//! `{"expires_in_s": N}` → `{"url", "token", "expires_at"}`,
//! `DELETE /api/v1/shares/{token}`, and (beyond the contract) `GET` of a
//! session's live links, each by its `id` (the token's SHA-256 in hex),
//! which `DELETE /api/v1/shares/{id}` also revokes: the token is shown
//! once, and a link must stay revocable after that.
//!
//! A share token opens one session's replay without signing in, and
//! nothing else: [`share_may_read`] is the one list of what it may read
//! (the player page, and `GET` of that session's item, events, chunks and
//! comments). The browser carries it as the `reel_share` cookie, set by the
//! player page when it is opened with `?share=TOKEN` and scoped to that
//! session's API path; API clients may send it as a bearer token instead.
//! Tokens are kept as their SHA-256 only, like the API token.

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{self, Access, Role};
use crate::index::format_ms;
use crate::store::now_ms;
use crate::support::{
    new_share_token, parse_share_id, share_id, share_key, share_lifetime, share_token_shape, Share,
};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{delete, post};
use axum::{Extension, Json, Router};
use reel_shared::SessionId;
use serde::Deserialize;

/// The cookie that carries a share token in a browser.
pub const SHARE_COOKIE: &str = "reel_share";

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions/{id}/shares", post(create).get(list))
        .route("/api/v1/shares/{token}", delete(revoke))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// The session a share link may read at `path` with `method`, if any: the
/// one place that says what a share opens.
pub fn share_may_read(method: &Method, path: &str) -> Option<SessionId> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let rest = path.strip_prefix("/api/v1/sessions/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let asset = tail
        .strip_prefix("assets/")
        .is_some_and(reel_shared::asset::is_hash);
    (asset || matches!(tail, "" | "events" | "chunks" | "comments"))
        .then(|| id.parse().ok())
        .flatten()
}

/// The live share links a request presents (bearer token or cookies),
/// looked up in the store. Expired and revoked ones are not among them.
pub async fn presented_shares(
    state: &SharedState,
    headers: &HeaderMap,
) -> Result<Vec<Share>, ApiError> {
    let tokens: Vec<String> = auth::bearer_token(headers)
        .into_iter()
        .chain(auth::cookie_values(headers, SHARE_COOKIE))
        .filter(|t| share_token_shape(t))
        .map(str::to_owned)
        .take(8)
        .collect();
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let store = state.store.clone();
    api::blocking(move || -> Result<Vec<Share>, ApiError> {
        let now = now_ms();
        let mut out = Vec::new();
        for t in tokens {
            if let Some(s) = store.share(&share_key(&t))? {
                if s.live(now) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    })
    .await?
}

/// A share token that opens `session` now, if `token` is one.
pub async fn opens(state: &SharedState, token: &str, session: &SessionId) -> Option<Share> {
    if !share_token_shape(token) {
        return None;
    }
    let store = state.store.clone();
    let key = share_key(token);
    let share = api::blocking(move || store.share(&key))
        .await
        .ok()?
        .ok()??;
    (share.session == *session && share.live(now_ms())).then_some(share)
}

/// The `Set-Cookie` that lets the player page's requests carry the share
/// token: only to that session's API paths, and gone when the link expires.
pub fn share_cookie(token: &str, share: &Share) -> String {
    let secs = share.expires_at.saturating_sub(now_ms()) / 1000;
    format!(
        "{SHARE_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/api/v1/sessions/{}; Max-Age={secs}",
        share.session
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewShare {
    expires_in_s: u64,
}

/// Where this server is, as the request reached it: for the link's URL.
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).filter(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    });
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    match host {
        Some(h) => format!("{}://{h}", if https { "https" } else { "http" }),
        None => String::new(),
    }
}

async fn create(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let actor = access.require(Role::Member)?;
    let created_by = actor.name.clone();
    let id = api::sessions::session_id(path)?;
    let new: NewShare = api::comments::json_body(&body, r#"{"expires_in_s": N}"#)?;
    let secs = share_lifetime(new.expires_in_s).map_err(ApiError::bad_request)?;
    let token = new_share_token().map_err(ApiError::internal)?;
    let now = now_ms();
    let share = Share {
        session: id,
        created_at: now,
        expires_at: now + secs * 1000,
        created_by,
    };
    let store = state.store.clone();
    let (key, s) = (share_key(&token), share.clone());
    if !api::blocking(move || store.put_share(&key, &s)).await?? {
        return Err(api::sessions::no_such_session());
    }
    tracing::info!(session = %id, expires_in_s = secs, "share link created");
    let link_id = share_id(&share_key(&token));
    let detail = format!("link {}…, expires in {secs} s", &link_id[..12]);
    audit::record(&state, &actor, audit::SHARE, Some(&id), &detail).await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "url": format!("{}/sessions/{id}?share={token}", origin(&headers)),
            "token": token,
            "expires_at": format_ms(share.expires_at),
            // Beyond the contract: what lists and revokes it later.
            "id": link_id,
        })),
    ))
}

/// A session's live share links, newest first: `{"shares": [{"id",
/// "created_at", "expires_at", "created_by"}]}` (no tokens: they are not
/// kept).
async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(Role::Member)?;
    let id = api::sessions::session_id(path)?;
    let store = state.store.clone();
    let mut shares = api::blocking(move || -> Result<_, ApiError> {
        if !store.has_session(&id)? {
            return Err(api::sessions::no_such_session());
        }
        Ok(store.shares_of(&id)?)
    })
    .await??;
    let now = now_ms();
    shares.retain(|(_, s)| s.live(now));
    shares.sort_by_key(|(_, s)| std::cmp::Reverse(s.created_at));
    let items: Vec<serde_json::Value> = shares
        .iter()
        .map(|(key, s)| {
            serde_json::json!({
                "id": share_id(key),
                "created_at": format_ms(s.created_at),
                "expires_at": format_ms(s.expires_at),
                "created_by": s.created_by,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "shares": items })))
}

async fn revoke(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Member)?;
    let Path(token) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if !share_token_shape(&token) {
        return Err(ApiError::bad_request(
            "a share token is 64 lowercase hexadecimal digits",
        ));
    }
    let store = state.store.clone();
    // The token itself, or a link's id (see `list`).
    let keys = [Some(share_key(&token)), parse_share_id(&token)];
    let revoked = api::blocking(move || -> Result<Option<Share>, ApiError> {
        for key in keys.into_iter().flatten() {
            let share = store.share(&key)?;
            if store.delete_share(&key)? {
                return Ok(Some(share.unwrap_or_else(|| Share {
                    session: SessionId([0; 16]),
                    created_at: 0,
                    expires_at: 0,
                    created_by: String::new(),
                })));
            }
        }
        Ok(None)
    })
    .await??;
    let Some(share) = revoked else {
        return Err(ApiError::not_found("no such share link"));
    };
    tracing::info!("share link revoked");
    audit::record(
        &state,
        &actor,
        audit::SHARE_REVOKE,
        Some(&share.session),
        &format!("made by {}", share.created_by),
    )
    .await;
    Ok(Json(serde_json::json!({ "revoked": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_reads_its_sessions_replay_alone() {
        let id = "ab".repeat(16);
        let get = |p: &str| share_may_read(&Method::GET, p).map(|s| s.to_string());
        for ok in ["", "/events", "/chunks", "/comments"] {
            assert_eq!(get(&format!("/api/v1/sessions/{id}{ok}")), Some(id.clone()));
        }
        for no in [
            "/api/v1/sessions".to_string(),
            "/api/v1/sessions/".to_string(),
            format!("/api/v1/sessions/{id}/shares"),
            format!("/api/v1/sessions/{id}/repro"),
            format!("/api/v1/sessions/{id}/chunks/0"),
            format!("/api/v1/sessions/{id}/events/"),
            "/api/v1/sessions/nothex/events".to_string(),
            "/metrics".to_string(),
            format!("/api/v1/shares/{id}"),
        ] {
            assert_eq!(get(&no), None, "{no}");
        }
        for m in [Method::POST, Method::DELETE, Method::PUT] {
            assert_eq!(share_may_read(&m, &format!("/api/v1/sessions/{id}")), None);
        }
    }
}
