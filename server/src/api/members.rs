//! Members (contract §8), admins only:
//! `POST /api/v1/members` `{"email", "role"}` → `201 {"email", "role",
//! "password"}` (the password generated, shown this once, kept as its
//! Argon2id hash); `GET /api/v1/members` → `{"members": [{"email", "role",
//! "created_at"}]}`; `PATCH /api/v1/members/{email}` `{"role"}` (a role
//! change applies at once, to the member's sign-ins and tokens too);
//! `POST /api/v1/members/{email}/password` → `{"email", "password"}` (a new
//! one: the old stops working, and every sign-in of theirs ends);
//! `DELETE /api/v1/members/{email}` (with their sign-ins and tokens).

use crate::api::account::normalize_email;
use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{Access, Role};
use crate::index::format_ms;
use crate::password;
use crate::store::now_ms;
use crate::store::team::Member;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/members", get(list).post(add))
        .route("/api/v1/members/{email}", patch(change).delete(remove))
        .route("/api/v1/members/{email}/password", post(reset_password))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// An email Reel accepts as a member's name: one `@` with text on both
/// sides, at most 254 characters, no spaces or control characters (it is
/// shown in pages and logs).
pub fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    (3..=254).contains(&e.len())
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && e.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>\"'\\/".contains(c))
}

fn member_json(m: &Member) -> serde_json::Value {
    serde_json::json!({
        "email": m.email,
        "role": m.role,
        "created_at": format_ms(m.created_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    email: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: String,
}

fn role(s: &str) -> Result<Role, ApiError> {
    s.parse().map_err(ApiError::bad_request)
}

fn email_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(e) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(normalize_email(&e))
}

fn no_such_member() -> ApiError {
    ApiError::not_found("no such member")
}

/// A password and its hash, computed off the async workers under the
/// hashing limit.
async fn new_password(state: &SharedState) -> Result<(String, String), ApiError> {
    let _permit = state
        .access
        .hashing
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    api::blocking(|| -> Result<(String, String), ApiError> {
        let p = password::generate().map_err(ApiError::internal)?;
        let h = password::hash(&p).map_err(ApiError::internal)?;
        Ok((p, h))
    })
    .await?
}

async fn add(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let actor = access.require(Role::Admin)?;
    let new: NewMember =
        api::comments::json_body(&body, r#"{"email": "...", "role": "viewer|member|admin"}"#)?;
    let email = normalize_email(&new.email);
    if !valid_email(&email) {
        return Err(ApiError::bad_request("`email` must be an email address"));
    }
    let role = role(&new.role)?;
    let (password, hash) = new_password(&state).await?;
    let m = Member {
        email: email.clone(),
        role,
        password_hash: hash,
        created_at: now_ms(),
    };
    let store = state.store.clone();
    let m2 = m.clone();
    if !api::blocking(move || store.add_member(&m2)).await?? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "there is already a member with that email",
        ));
    }
    tracing::info!(%email, %role, "member added");
    audit::record(
        &state,
        &actor,
        audit::MEMBER_ADD,
        None,
        &format!("{email} as {role}"),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "email": email, "role": role, "password": password })),
    ))
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(Role::Admin)?;
    let store = state.store.clone();
    let members = api::blocking(move || store.members()).await??;
    let items: Vec<serde_json::Value> = members.iter().map(member_json).collect();
    Ok(Json(serde_json::json!({ "members": items })))
}

async fn change(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let email = email_of(path)?;
    let c: RoleChange = api::comments::json_body(&body, r#"{"role": "viewer|member|admin"}"#)?;
    let role = role(&c.role)?;
    let store = state.store.clone();
    let e = email.clone();
    let m = api::blocking(move || -> Result<Option<Member>, ApiError> {
        let Some(mut m) = store.member(&e)? else {
            return Ok(None);
        };
        m.role = role;
        Ok(store.update_member(&m)?.then_some(m))
    })
    .await??
    .ok_or_else(no_such_member)?;
    audit::record(
        &state,
        &actor,
        audit::MEMBER_ROLE,
        None,
        &format!("{email} to {role}"),
    )
    .await;
    Ok(Json(member_json(&m)))
}

async fn reset_password(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let email = email_of(path)?;
    let (password, hash) = new_password(&state).await?;
    let store = state.store.clone();
    let e = email.clone();
    let found = api::blocking(move || -> Result<bool, ApiError> {
        let Some(mut m) = store.member(&e)? else {
            return Ok(false);
        };
        m.password_hash = hash;
        // Their sign-ins end (tokens stay: they are revoked by id).
        store.update_member(&m)?;
        store.end_logins_of(&e)?;
        Ok(true)
    })
    .await??;
    if !found {
        return Err(no_such_member());
    }
    audit::record(&state, &actor, audit::MEMBER_PASSWORD, None, &email).await;
    Ok(Json(
        serde_json::json!({ "email": email, "password": password }),
    ))
}

async fn remove(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let email = email_of(path)?;
    let store = state.store.clone();
    let e = email.clone();
    if !api::blocking(move || store.remove_member(&e)).await?? {
        return Err(no_such_member());
    }
    tracing::info!(%email, "member removed");
    audit::record(&state, &actor, audit::MEMBER_REMOVE, None, &email).await;
    Ok(Json(serde_json::json!({ "removed": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b", "ann.lee+reel@example.org"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "@b.org",
            "a@",
            "a b@c.org",
            "a@b@c",
            "<a>@b.org",
            "a\n@b.org",
        ] {
            assert!(!valid_email(bad), "{bad:?}");
        }
    }
}
