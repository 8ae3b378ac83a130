//! Signing in and out (contract §8): `POST /api/v1/auth/login` `{"email",
//! "password"}` → `{"token", "expires_at"}` (a sign-in's token, for
//! `Authorization: Bearer`), `POST /api/v1/auth/logout` (ends the sign-in
//! that made the request, server-side), `GET /api/v1/auth/me` (who this
//! is: `{"name", "role"}`, for the UI's admin links). The sign-in page
//! (`ui.rs`) goes through [`sign_in`] too, with a password or the API
//! token, and gets a cookie instead.
//!
//! Every attempt passes the limits first ([`crate::signin`]): a locked
//! account or address is answered `429` with `Retry-After` before any
//! password is looked at. Every sign-in and failure is in the audit log.

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{self, Access, Actor, Identity, Role, ADMIN, SESSION_PREFIX};
use crate::client::Client;
use crate::index::format_ms;
use crate::password;
use crate::signin::API_TOKEN_ACCOUNT;
use crate::store::now_ms;
use crate::store::team::Login;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

/// Routes open to anyone (the limits guard them).
pub fn public_routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// Routes behind `auth::require_reader`.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// What someone signs in with.
pub enum Credentials<'a> {
    Password { email: &'a str, password: &'a str },
    ApiToken(&'a str),
}

/// A new sign-in.
pub struct Issued {
    /// The session id: the cookie's value, or the API's bearer token.
    pub token: String,
    pub expires_at: u64,
    pub actor: Actor,
}

/// The longest email kept (RFC 5321's limit); longer is no member.
const MAX_EMAIL: usize = 254;

/// A member's email as it is kept: trimmed and lowercase.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks the limits, then the credentials; on success stores a new
/// sign-in. Failures: `429` (limits), `401` (wrong credentials).
pub async fn sign_in(
    state: &SharedState,
    creds: Credentials<'_>,
    client: Client,
) -> Result<Issued, ApiError> {
    let address = client.addr.map(|a| a.to_string());
    let (account, shown) = match &creds {
        Credentials::Password { email, .. } => {
            let e = normalize_email(email);
            let shown: String = e.chars().take(MAX_EMAIL).collect();
            (e, shown)
        }
        Credentials::ApiToken(_) => (API_TOKEN_ACCOUNT.to_owned(), "api token".to_owned()),
    };
    let locked = {
        let (st, acc, addr) = (state.clone(), account.clone(), client.addr);
        api::blocking(move || st.access.signin.check(&*st.store, &acc, addr, now_ms())).await??
    };
    if let Some(secs) = locked {
        tracing::warn!(%shown, ?address, "sign-in refused: too many failures");
        return Err(ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed sign-ins: try again in {} minutes",
                    secs.div_ceil(60)
                ),
            )
        });
    }
    let who = match creds {
        Credentials::ApiToken(t) => state.auth.api_token_ok(t.trim()).then(|| {
            (
                ADMIN.to_owned(),
                Role::Admin,
                Some(state.auth.api_token_fingerprint()),
            )
        }),
        Credentials::Password { password, .. } => {
            let member = if account.len() <= MAX_EMAIL {
                let (store, email) = (state.store.clone(), account.clone());
                api::blocking(move || store.member(&email)).await??
            } else {
                None
            };
            let hash = member.as_ref().map_or_else(
                || password::dummy_hash().to_owned(),
                |m| m.password_hash.clone(),
            );
            let password = password.to_owned();
            let ok = {
                let _permit = state
                    .access
                    .hashing
                    .acquire()
                    .await
                    .map_err(ApiError::internal)?;
                api::blocking(move || password::verify(&password, &hash)).await?
            };
            match member {
                Some(m) if ok => Some((m.email, m.role, None)),
                _ => None,
            }
        }
    };
    let failed_actor = Actor {
        name: shown.clone(),
        role: Role::Viewer,
        address: address.clone(),
    };
    let Some((name, role, api_token)) = who else {
        let (st, acc, addr) = (state.clone(), account.clone(), client.addr);
        api::blocking(move || st.access.signin.failed(&*st.store, &acc, addr, now_ms())).await??;
        tracing::info!(%shown, ?address, "failed sign-in");
        let detail = if account == API_TOKEN_ACCOUNT {
            "wrong API token"
        } else {
            "wrong email or password"
        };
        audit::record(state, &failed_actor, audit::LOGIN_FAILED, None, detail).await;
        return Err(ApiError::unauthorized(if account == API_TOKEN_ACCOUNT {
            "That is not the API token."
        } else {
            "Wrong email or password."
        }));
    };
    let (st, acc) = (state.clone(), account.clone());
    api::blocking(move || st.access.signin.succeeded(&*st.store, &acc)).await??;
    let token = auth::new_secret(SESSION_PREFIX)?;
    let now = now_ms();
    let ttl = u64::try_from(state.access.session_ttl.as_millis()).unwrap_or(u64::MAX);
    let login = Login {
        email: name.clone(),
        created_at: now,
        expires_at: now.saturating_add(ttl),
        api_token,
    };
    let (store, key, l) = (
        state.store.clone(),
        crate::config::token_hash(&token),
        login.clone(),
    );
    api::blocking(move || -> Result<(), ApiError> {
        store.prune_logins(now)?;
        Ok(store.put_login(&key, &l)?)
    })
    .await??;
    let actor = Actor {
        name,
        role,
        address,
    };
    let how = if account == API_TOKEN_ACCOUNT {
        "with the API token"
    } else {
        "with a password"
    };
    audit::record(state, &actor, audit::LOGIN, None, how).await;
    Ok(Issued {
        token,
        expires_at: login.expires_at,
        actor,
    })
}

/// Ends a sign-in, server-side: its id opens nothing from now on.
pub async fn sign_out(state: &SharedState, id: &Identity, address: Option<String>) {
    let Some(key) = id.login else { return };
    let store = state.store.clone();
    match api::blocking(move || store.delete_login(&key)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!("could not end a sign-in: {e}"),
        Err(e) => tracing::error!("could not end a sign-in: {}", e.message),
    }
    let actor = Actor {
        name: id.name.clone(),
        role: id.role,
        address,
    };
    audit::record(state, &actor, audit::LOGOUT, None, "").await;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let client = crate::client::of(&req);
    let body: Bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|_| {
            ApiError::bad_request(
                "the body must be JSON {\"email\", \"password\"} of at most 64 KiB",
            )
        })?;
    let b: LoginBody = api::comments::json_body(&body, r#"{"email": "...", "password": "..."}"#)?;
    let issued = sign_in(
        &state,
        Credentials::Password {
            email: &b.email,
            password: &b.password,
        },
        client,
    )
    .await?;
    Ok(Json(serde_json::json!({
        "token": issued.token,
        "expires_at": format_ms(issued.expires_at),
        "role": issued.actor.role,
    })))
}

async fn logout(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    id: Option<Extension<Identity>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Viewer)?;
    let Some(Extension(id)) = id.filter(|Extension(i)| i.login.is_some()) else {
        return Err(ApiError::bad_request(
            "this request was not made with a sign-in (a personal or the API token cannot sign out)",
        ));
    };
    sign_out(&state, &id, actor.address).await;
    Ok(Json(serde_json::json!({ "signed_out": true })))
}

async fn me(Extension(access): Extension<Access>) -> Result<Json<serde_json::Value>, ApiError> {
    let a = access.require(Role::Viewer)?;
    let admin_pages: Vec<serde_json::Value> = if a.role == Role::Admin {
        crate::ui::ADMIN_PAGES
            .iter()
            .map(|(href, _, label)| serde_json::json!({ "href": href, "label": label }))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Json(serde_json::json!({
        "name": a.name,
        "role": a.role,
        "admin_pages": admin_pages,
    })))
}
