//! A member changes their own password (issue 18):
//! `POST /api/v1/account/password` `{"current_password", "new_password"}`
//! → `{"changed": true, "signins_ended": n}`.
//!
//! - Any role, as a member: the API token (and its sign-ins) has no
//!   password to change (`400`).
//! - The current password is required, checked like a sign-in: through
//!   the sign-in limits first (a stolen cookie must not become a way to
//!   guess the password: `429` once the account is locked), and a wrong
//!   one counts as a failed sign-in (`403`, audited `password_failed`).
//! - The new one: 12 to 1024 bytes, not the current one; stored as an
//!   Argon2id hash ([`crate::password`]).
//! - Every other sign-in of the member ends (the one making the request
//!   stays, so the page that asked keeps working); personal tokens stay
//!   (revoked by id). Audited `password_change`.

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{Access, Identity, Role};
use crate::password;
use crate::store::now_ms;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/account/password", post(change))
        .method_not_allowed_fallback(api::method_not_allowed)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    current_password: String,
    new_password: String,
}

async fn change(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = req
        .extensions()
        .get::<Access>()
        .cloned()
        .ok_or_else(|| ApiError::internal("no access on a read route"))?;
    let actor = access.require(Role::Viewer)?;
    let id = req.extensions().get::<Identity>().cloned();
    let client = crate::client::of(&req);
    let body: Bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("the body must be JSON of at most 64 KiB"))?;
    let b: Body = api::comments::json_body(
        &body,
        r#"{"current_password": "...", "new_password": "..."}"#,
    )?;
    if b.new_password.chars().count() < MIN_LEN || b.new_password.len() > MAX_LEN {
        return Err(ApiError::bad_request(format!(
            "the new password must be {MIN_LEN} characters to {MAX_LEN} bytes long"
        )));
    }
    if b.new_password == b.current_password {
        return Err(ApiError::bad_request(
            "the new password must differ from the current one",
        ));
    }
    let email = actor.name.clone();
    let member = {
        let (store, e) = (state.store.clone(), email.clone());
        api::blocking(move || store.member(&e)).await??
    };
    let Some(mut member) = member else {
        return Err(ApiError::bad_request(
            "only a member has a password to change (the API token has none)",
        ));
    };
    let locked = {
        let (st, e, addr) = (state.clone(), email.clone(), client.addr);
        api::blocking(move || st.access.signin.check(&*st.store, &e, addr, now_ms())).await??
    };
    if let Some(secs) = locked {
        return Err(ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many wrong passwords: try again in {} minutes",
                    secs.div_ceil(60)
                ),
            )
        });
    }
    let (ok, new_hash) = {
        let _permit = state
            .access
            .hashing
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        let (current, new, hash) = (
            b.current_password,
            b.new_password,
            member.password_hash.clone(),
        );
        api::blocking(move || -> Result<(bool, Option<String>), ApiError> {
            if !password::verify(&current, &hash) {
                return Ok((false, None));
            }
            let h = password::hash(&new).map_err(ApiError::internal)?;
            Ok((true, Some(h)))
        })
        .await??
    };
    let Some(new_hash) = new_hash.filter(|_| ok) else {
        let (st, e, addr) = (state.clone(), email.clone(), client.addr);
        api::blocking(move || st.access.signin.failed(&*st.store, &e, addr, now_ms())).await??;
        audit::record(
            &state,
            &actor,
            PASSWORD_FAILED,
            None,
            "wrong current password",
        )
        .await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the current password is wrong",
        ));
    };
    member.password_hash = new_hash;
    let keep = id.and_then(|i| i.login);
    let store = state.store.clone();
    let st = state.clone();
    let ended = api::blocking(move || -> Result<usize, ApiError> {
        st.access.signin.succeeded(&*st.store, &member.email)?;
        // The sign-in making this request survives the others' end.
        let current = match &keep {
            Some(k) => store.login(k)?,
            None => None,
        };
        store.update_member(&member)?;
        let n = store.end_logins_of(&member.email)?;
        if let (Some(k), Some(l)) = (&keep, current) {
            store.put_login(k, &l)?;
        }
        Ok(n.saturating_sub(usize::from(keep.is_some())))
    })
    .await??;
    audit::record(
        &state,
        &actor,
        PASSWORD_CHANGE,
        None,
        &format!("{ended} other sign-ins ended"),
    )
    .await;
    Ok(Json(
        serde_json::json!({ "changed": true, "signins_ended": ended }),
    ))
}

/// Audit actions.
pub const PASSWORD_CHANGE: &str = "password_change";
pub const PASSWORD_FAILED: &str = "password_failed";
