//! Personal API tokens, for automation: `POST /api/v1/tokens` `{"name"}`
//! → `201 {"id", "name", "token", "role", "created_at"}` (the token shown
//! this once; kept as its SHA-256), `GET /api/v1/tokens` → `{"tokens":
//! [{"id", "name", "owner", "role", "created_at"}]}` (one's own; an admin
//! sees everyone's), `DELETE /api/v1/tokens/{id}` (one's own; an admin any).
//!
//! A token acts as its owner with the owner's role at the time of use
//! (scoped to it: it can never do more than its owner), and dies with the
//! owner's membership. Any signed-in viewer or better may make their own.

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{self, Access, Role, ADMIN, TOKEN_PREFIX};
use crate::index::format_ms;
use crate::store::now_ms;
use crate::store::team::{token_id, PersonalToken};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::Deserialize;

/// Tokens one owner may hold.
pub const MAX_TOKENS_PER_OWNER: usize = 50;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}", delete(revoke))
        .method_not_allowed_fallback(api::method_not_allowed)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
}

/// The role a token's owner has now (for the listing).
fn owner_role(state: &SharedState, email: &str) -> Option<Role> {
    if email == ADMIN {
        return Some(Role::Admin);
    }
    state.store.member(email).ok().flatten().map(|m| m.role)
}

async fn create(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let actor = access.require(Role::Viewer)?;
    let new: NewToken = api::comments::json_body(&body, r#"{"name": "..."}"#)?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "`name` must be 1 to 100 characters, no control characters",
        ));
    }
    let token = auth::new_secret(TOKEN_PREFIX)?;
    let key = crate::config::token_hash(&token);
    let t = PersonalToken {
        id: token_id(&key),
        name: name.clone(),
        email: actor.name.clone(),
        created_at: now_ms(),
        api_token: (actor.name == ADMIN).then(|| state.auth.api_token_fingerprint()),
    };
    let store = state.store.clone();
    let t2 = t.clone();
    api::blocking(move || -> Result<(), ApiError> {
        let held = store
            .tokens()?
            .iter()
            .filter(|x| x.email == t2.email)
            .count();
        if held >= MAX_TOKENS_PER_OWNER {
            return Err(ApiError::bad_request(format!(
                "one person may hold at most {MAX_TOKENS_PER_OWNER} tokens: revoke some first"
            )));
        }
        Ok(store.put_token(&key, &t2)?)
    })
    .await??;
    audit::record(
        &state,
        &actor,
        audit::TOKEN_ADD,
        None,
        &format!("{} ({name})", t.id),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": t.id,
            "name": t.name,
            "token": token,
            "role": actor.role,
            "created_at": format_ms(t.created_at),
        })),
    ))
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Viewer)?;
    let st = state.clone();
    let items = api::blocking(move || -> Result<Vec<serde_json::Value>, ApiError> {
        let mut tokens = st.store.tokens()?;
        tokens.retain(|t| actor.role == Role::Admin || t.email == actor.name);
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Ok(tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id,
                    "name": t.name,
                    "owner": t.email,
                    "role": owner_role(&st, &t.email),
                    "created_at": format_ms(t.created_at),
                })
            })
            .collect())
    })
    .await??;
    Ok(Json(serde_json::json!({ "tokens": items })))
}

async fn revoke(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Viewer)?;
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if id.len() != 16 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::bad_request(
            "a token's id is 16 hexadecimal digits",
        ));
    }
    let store = state.store.clone();
    let (who, role, i) = (actor.name.clone(), actor.role, id.clone());
    let revoked = api::blocking(move || -> Result<bool, ApiError> {
        // Someone else's token is "not found" to a non-admin: its
        // existence is not theirs to learn.
        let mine = store
            .tokens()?
            .iter()
            .any(|t| t.id == i && (role == Role::Admin || t.email == who));
        Ok(mine && store.delete_token(&i)?)
    })
    .await??;
    if !revoked {
        return Err(ApiError::not_found("no such token"));
    }
    audit::record(&state, &actor, audit::TOKEN_REVOKE, None, &id).await;
    Ok(Json(serde_json::json!({ "revoked": true })))
}
