//! Who may do what: recorders prove themselves with an ingest key, readers
//! (the API and the UI) with the API token, sent as a bearer token or as the
//! `reel_token` cookie that the sign-in page sets.
//!
//! Secrets are compared in constant time, so response timing does not leak
//! how much of a guess was right. The API token is held (and kept on disk)
//! as its SHA-256 only: a presented token is hashed and compared.

use crate::api::{ApiError, SharedState};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

pub const COOKIE_NAME: &str = "reel_token";
pub const INGEST_KEY_HEADER: &str = "x-reel-key";

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
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
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

/// Middleware for the read API.
pub async fn require_reader(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.auth.reader_ok(req.headers()) {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::unauthorized(
            "missing or wrong API token (send `Authorization: Bearer TOKEN`)",
        ))
    }
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
