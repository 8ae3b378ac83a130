//! Who may do what: recorders prove themselves with an ingest key, readers
//! (the API and the UI) with the API token, sent as a bearer token or as the
//! `reel_token` cookie that the sign-in page sets. A share link's token
//! opens one session's replay and nothing else (`api::shares`).
//!
//! Secrets are compared in constant time, so response timing does not leak
//! how much of a guess was right. The API token is held (and kept on disk)
//! as its SHA-256 only: a presented token is hashed and compared.

use crate::api::{shares, ApiError, SharedState};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use reel_shared::SessionId;
use subtle::ConstantTimeEq;

pub const COOKIE_NAME: &str = "reel_token";
pub const INGEST_KEY_HEADER: &str = "x-reel-key";
/// Who the API token acts as (in comments, share links).
pub const ADMIN: &str = "admin";

/// Who a request to the read API comes from, as [`require_reader`] found:
/// in the request's extensions for the handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// A reader: everything the read API does. `actor` names them where
    /// they leave a trace (a comment's author): `admin` for the API token,
    /// a member's email once members exist.
    Reader { actor: String },
    /// A share link: reading one session's replay (see
    /// `api::shares::share_may_read`).
    Share { session: SessionId },
}

impl Access {
    /// The reader's name, or `403` for a share link.
    pub fn reader(&self) -> Result<String, ApiError> {
        match self {
            Access::Reader { actor } => Ok(actor.clone()),
            Access::Share { .. } => Err(share_refused()),
        }
    }
}

fn share_refused() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "a share link opens its session's replay and nothing else",
    )
}

pub struct Auth {
    ingest_keys: Vec<String>,
    api_token_hash: [u8; 32],
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Auth {
    pub fn new(ingest_keys: Vec<String>, api_token: String) -> Self {
        Self::with_token_hash(ingest_keys, crate::config::token_hash(&api_token))
    }

    /// With the API token known by its hash only (see [`crate::config`]).
    pub fn with_token_hash(ingest_keys: Vec<String>, api_token_hash: [u8; 32]) -> Self {
        Auth {
            ingest_keys,
            api_token_hash,
        }
    }

    pub fn ingest_key_ok(&self, key: &str) -> bool {
        self.ingest_key_index(key).is_some()
    }

    /// Which configured key this is (for its rate limit), if any. No early
    /// exit: which key matched, if any, stays unobservable in the timing.
    pub fn ingest_key_index(&self, key: &str) -> Option<usize> {
        let mut found = None;
        for (i, k) in self.ingest_keys.iter().enumerate() {
            if ct_eq(k, key) {
                found = Some(i);
            }
        }
        found
    }

    pub fn ingest_key_count(&self) -> usize {
        self.ingest_keys.len()
    }

    pub fn api_token_ok(&self, token: &str) -> bool {
        bool::from(crate::config::token_hash(token).ct_eq(&self.api_token_hash))
    }

    /// A reader: the bearer token or the sign-in cookie.
    pub fn reader_ok(&self, headers: &HeaderMap) -> bool {
        bearer_token(headers).is_some_and(|t| self.api_token_ok(t))
            || cookie_value(headers, COOKIE_NAME).is_some_and(|t| self.api_token_ok(t))
    }
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The first cookie called `name`, across every `Cookie` header.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &'a str) -> Option<&'a str> {
    cookie_values(headers, name).next()
}

/// Every cookie called `name` (cookies of one name with different paths
/// are all sent), across every `Cookie` header.
pub fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// SameSite=Strict is the CSRF defence for the cookie-authenticated API:
/// no other site can make the browser send it.
pub fn login_cookie(token: &str) -> String {
    format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/")
}

pub fn logout_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Middleware for the read API: a reader may do anything there; a live
/// share link may read its own session's replay (`403` for anything
/// else); without either, `401`.
pub async fn require_reader(
    State(state): State<SharedState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.auth.reader_ok(req.headers()) {
        req.extensions_mut().insert(Access::Reader {
            actor: ADMIN.into(),
        });
        return Ok(next.run(req).await);
    }
    let presented = shares::presented_shares(&state, req.headers()).await?;
    if presented.is_empty() {
        return Err(ApiError::unauthorized(
            "missing or wrong API token (send `Authorization: Bearer TOKEN`)",
        ));
    }
    let Some(session) = shares::share_may_read(req.method(), req.uri().path()) else {
        return Err(share_refused());
    };
    if !presented.iter().any(|s| s.session == session) {
        return Err(share_refused());
    }
    req.extensions_mut().insert(Access::Share { session });
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_and_tokens() {
        let a = Auth::new(vec!["k1".into(), "k2".into()], "tok".into());
        assert!(a.ingest_key_ok("k1") && a.ingest_key_ok("k2"));
        assert!(!a.ingest_key_ok("k") && !a.ingest_key_ok("") && !a.ingest_key_ok("tok"));
        assert!(a.api_token_ok("tok") && !a.api_token_ok("to") && !a.api_token_ok("k1"));
        assert_eq!(a.ingest_key_index("k2"), Some(1));
        assert_eq!(a.ingest_key_index("tok"), None);
    }

    #[test]
    fn reader_by_bearer_or_cookie() {
        let a = Auth::new(vec!["k".into()], "tok".into());
        let with = |name, value: &'static str| {
            let mut h = HeaderMap::new();
            h.append(name, HeaderValue::from_static(value));
            a.reader_ok(&h)
        };
        assert!(with(AUTHORIZATION, "Bearer tok"));
        assert!(with(AUTHORIZATION, "bearer tok"));
        assert!(!with(AUTHORIZATION, "Bearer k"));
        assert!(!with(AUTHORIZATION, "Basic tok"));
        assert!(with(COOKIE, "a=b; reel_token=tok"));
        assert!(!with(COOKIE, "reel_token=nope"));
        assert!(!with(COOKIE, "xreel_token=tok"));
        assert!(!a.reader_ok(&HeaderMap::new()));
    }
}
