//! Who may do what: recorders prove themselves with an ingest key; people
//! and programs reading the API with the API token (an admin), a member's
//! sign-in (a session id, sent as the `reel_session` cookie the sign-in
//! page sets, or as a bearer token from `POST /api/v1/auth/login`) or a
//! member's personal API token; each acts with a [`Role`], and every
//! handler says which role it needs ([`Access::require`]). A share link's
//! token opens one session's replay and nothing else (`api::shares`).
//!
//! Secrets are compared in constant time, so response timing does not leak
//! how much of a guess was right. The API token, session ids and personal
//! tokens are held (and kept on disk) as their SHA-256 only: a presented
//! one is hashed and looked up.
//!
//! A request authenticated by the cookie that changes anything must prove
//! it comes from this origin ([`same_origin`]): `SameSite=Strict` keeps
//! other sites' requests from carrying the cookie, and this check keeps
//! other origins of the same site (a sibling subdomain) out too. Bearer
//! tokens are never sent by a browser on its own, so they need no check.

use crate::api::{shares, ApiError, SharedState};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use reel_shared::SessionId;
use subtle::ConstantTimeEq;

/// The sign-in cookie: a session id, never a long-lived secret.
pub const COOKIE_NAME: &str = "reel_session";
/// Where earlier versions kept the API token itself; cleared at sign-in
/// and sign-out, and no longer read.
pub const LEGACY_COOKIE: &str = "reel_token";
/// Session ids (a sign-in) and personal API tokens: a prefix, then 256
/// random bits in hex. The prefix says which table to look in.
pub const SESSION_PREFIX: &str = "rs_";
pub const TOKEN_PREFIX: &str = "rp_";
pub const INGEST_KEY_HEADER: &str = "x-reel-key";
/// Who the API token acts as (in comments, share links).
pub const ADMIN: &str = "admin";

/// What a signed-in person (or token) may do (contract §8). Ordered:
/// each role may do everything the roles below it may.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// List, watch, read events, comment, insights.
    Viewer,
    /// Also share, export, reproduce.
    Member,
    /// Also delete, erase people, projects, members, audit.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Member, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?}: use \"viewer\", \"member\" or \"admin\""
            )),
        }
    }
}

/// Who did something, for the handlers and the audit log: a name, the
/// role it acted with, and where the request came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// A member's email, [`ADMIN`] for the API token, or `share link`
    /// (with its creator) for a share link.
    pub name: String,
    pub role: Role,
    /// The client's address (the peer's, or what a trusted proxy
    /// forwarded: see [`crate::client`]), when known.
    pub address: Option<String>,
}

/// Who a request to the API comes from, as [`require_reader`] found: in the
/// request's extensions for the handlers, which call [`Access::require`]
/// with the role the action needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The API token, a member's session or a member's personal token.
    Signed(Actor),
    /// A share link: reading one session's replay (see
    /// `api::shares::share_may_read`), nothing else.
    Share {
        session: SessionId,
        address: Option<String>,
    },
}

impl Access {
    /// The actor, when it holds `role` or more: `403` otherwise, and
    /// always for a share link (see [`Access::read_session`] for the reads
    /// a share link may do).
    pub fn require(&self, role: Role) -> Result<Actor, ApiError> {
        match self {
            Access::Signed(a) if a.role >= role => Ok(a.clone()),
            Access::Signed(a) => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!("this needs the role {role}; {} is a {}", a.name, a.role),
            )),
            Access::Share { .. } => Err(share_refused()),
        }
    }

    /// For the reads a share link opens (its session's item, events,
    /// chunks and comments): a viewer, or a share link of that session.
    pub fn read_session(&self, id: &SessionId) -> Result<Actor, ApiError> {
        match self {
            Access::Share { session, address } if session == id => Ok(Actor {
                name: SHARE_ACTOR.into(),
                role: Role::Viewer,
                address: address.clone(),
            }),
            _ => self.require(Role::Viewer),
        }
    }

    /// The reader's name (a viewer or more), or `403` for a share link.
    pub fn reader(&self) -> Result<String, ApiError> {
        self.require(Role::Viewer).map(|a| a.name)
    }
}

/// The actor a share link reads as.
pub const SHARE_ACTOR: &str = "share link";

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

    /// The API token's fingerprint (8 bytes of its hash, hex): what a
    /// sign-in or a personal token made with it remembers, so that they
    /// end when the token is replaced.
    pub fn api_token_fingerprint(&self) -> String {
        hex(&self.api_token_hash[..8])
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh secret: `prefix` and 256 random bits in hex.
pub fn new_secret(prefix: &str) -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    Ok(format!("{prefix}{}", hex(&b)))
}

/// Whether `s` looks like a secret [`new_secret`] made with `prefix`.
pub fn secret_shape(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Who presented valid credentials, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    /// By the sign-in cookie (so changes need [`same_origin`]).
    pub by_cookie: bool,
    /// The sign-in's key, when it is one (what sign-out deletes).
    pub login: Option<[u8; 32]>,
}

/// The role `email` acts with now: [`ADMIN`] for the API token's own
/// sign-ins and tokens (while it is still the same token), else the
/// member's; `None` when that is no longer anyone.
fn role_of(
    state: &SharedState,
    email: &str,
    api_token: Option<&str>,
) -> Result<Option<Role>, crate::store::StoreError> {
    if email == ADMIN {
        let fp = state.auth.api_token_fingerprint();
        return Ok((api_token == Some(fp.as_str())).then_some(Role::Admin));
    }
    Ok(state.store.member(email)?.map(|m| m.role))
}

/// Looks a session id or personal token up: who it is, if anyone now.
fn lookup(
    state: &SharedState,
    secret: &str,
    by_cookie: bool,
) -> Result<Option<Identity>, crate::store::StoreError> {
    let key = crate::config::token_hash(secret);
    if secret_shape(SESSION_PREFIX, secret) {
        let Some(login) = state.store.login(&key)? else {
            return Ok(None);
        };
        if login.expires_at <= crate::store::now_ms() {
            state.store.delete_login(&key)?;
            return Ok(None);
        }
        let role = role_of(state, &login.email, login.api_token.as_deref())?;
        return Ok(role.map(|role| Identity {
            name: login.email,
            role,
            by_cookie,
            login: Some(key),
        }));
    }
    if secret_shape(TOKEN_PREFIX, secret) {
        let Some(t) = state.store.token(&key)? else {
            return Ok(None);
        };
        let role = role_of(state, &t.email, t.api_token.as_deref())?;
        return Ok(role.map(|role| Identity {
            name: t.email,
            role,
            by_cookie,
            login: None,
        }));
    }
    Ok(None)
}

/// Who the request's credentials name, if any: the bearer token (the API
/// token, a sign-in's token, a personal token), else the sign-in cookie.
pub async fn identify(
    state: &SharedState,
    headers: &HeaderMap,
) -> Result<Option<Identity>, ApiError> {
    if let Some(t) = bearer_token(headers) {
        if state.auth.api_token_ok(t) {
            return Ok(Some(Identity {
                name: ADMIN.into(),
                role: Role::Admin,
                by_cookie: false,
                login: None,
            }));
        }
    }
    let bearer = bearer_token(headers)
        .filter(|t| secret_shape(SESSION_PREFIX, t) || secret_shape(TOKEN_PREFIX, t))
        .map(str::to_owned);
    let cookie = cookie_values(headers, COOKIE_NAME)
        .find(|t| secret_shape(SESSION_PREFIX, t))
        .map(str::to_owned);
    if bearer.is_none() && cookie.is_none() {
        return Ok(None);
    }
    let st = state.clone();
    crate::api::blocking(move || -> Result<Option<Identity>, ApiError> {
        for (secret, by_cookie) in [(bearer, false), (cookie, true)] {
            let Some(secret) = secret else { continue };
            if let Some(id) = lookup(&st, &secret, by_cookie)? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    })
    .await?
}

/// Whether a state-changing request comes from this server's own pages:
/// `Sec-Fetch-Site: same-origin`, or (from browsers that do not send it,
/// or over plain HTTP to a host that is not `localhost`, where Chrome
/// does not) an `Origin` naming this host. A request with neither is
/// refused: browsers send `Origin` with every cross-origin request and
/// every non-`GET` one, so only a non-browser client lacks both, and it
/// should send a bearer token.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    origin_is_host(headers) == Some(true)
}

/// `Some(whether Origin names this host)`, `None` without an `Origin`.
fn origin_is_host(headers: &HeaderMap) -> Option<bool> {
    let origin = headers.get(ORIGIN)?.to_str().ok()?;
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    Some(matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h)))
}

/// For the sign-in form (which has no cookie to protect yet, but must not
/// sign a victim in as someone else): refused only when the request says
/// it comes from elsewhere.
pub fn not_cross_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    origin_is_host(headers) != Some(false)
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

/// The sign-in cookie for a session id: `HttpOnly` (no script reads it),
/// `SameSite=Strict` (no other site's request carries it), `Secure` when
/// the request came over TLS, gone when the sign-in expires.
pub fn login_cookie(session: &str, max_age_s: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}"
    )
}

pub fn logout_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// Clears the cookie earlier versions set (which held the API token).
pub fn legacy_cookie_clear() -> String {
    format!("{LEGACY_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Middleware for the API: whoever the credentials name, with their
/// role, for the handlers to check ([`Access::require`]); a cookie-borne
/// change from another origin is `403`; a live share link may read its
/// own session's replay (`403` for anything else); without any, `401`.
pub async fn require_reader(
    State(state): State<SharedState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = crate::client::address(&req);
    if let Some(id) = identify(&state, req.headers()).await? {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if id.by_cookie && !safe && !same_origin(req.headers()) {
            tracing::warn!(actor = %id.name, "cross-origin change with the sign-in cookie refused");
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "a change made with the sign-in cookie must come from this server's own pages",
            ));
        }
        req.extensions_mut().insert(Access::Signed(Actor {
            name: id.name.clone(),
            role: id.role,
            address,
        }));
        req.extensions_mut().insert(id);
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
    req.extensions_mut()
        .insert(Access::Share { session, address });
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

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_tokens() {
        let h = headers(&[("authorization", "bearer tok ")]);
        assert_eq!(bearer_token(&h), Some("tok"));
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic tok")])),
            None
        );
        let h = headers(&[
            ("cookie", "a=b; reel_session=rs_1"),
            ("cookie", "reel_session=x"),
        ]);
        assert_eq!(
            cookie_values(&h, COOKIE_NAME).collect::<Vec<_>>(),
            ["rs_1", "x"]
        );
        assert_eq!(
            cookie_value(&headers(&[("cookie", "xreel_session=1")]), COOKIE_NAME),
            None
        );
    }

    #[test]
    fn roles_are_ordered_and_required() {
        assert!(Role::Viewer < Role::Member && Role::Member < Role::Admin);
        assert_eq!("member".parse::<Role>(), Ok(Role::Member));
        assert!("root".parse::<Role>().is_err());
        let member = Access::Signed(Actor {
            name: "m@x.org".into(),
            role: Role::Member,
            address: None,
        });
        assert!(member.require(Role::Viewer).is_ok());
        assert!(member.require(Role::Member).is_ok());
        assert_eq!(
            member.require(Role::Admin).unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
        let id = SessionId([1; 16]);
        let share = Access::Share {
            session: id,
            address: None,
        };
        assert!(
            share.require(Role::Viewer).is_err(),
            "a share link is no viewer"
        );
        assert_eq!(share.read_session(&id).unwrap().name, SHARE_ACTOR);
        assert!(share.read_session(&SessionId([2; 16])).is_err());
        assert!(member.read_session(&id).is_ok());
    }

    #[test]
    fn secrets_have_their_shape() {
        let s = new_secret(SESSION_PREFIX).unwrap();
        assert!(secret_shape(SESSION_PREFIX, &s));
        assert!(!secret_shape(TOKEN_PREFIX, &s));
        assert!(!secret_shape(SESSION_PREFIX, &s[..s.len() - 1]));
        assert_ne!(s, new_secret(SESSION_PREFIX).unwrap());
    }

    #[test]
    fn same_origin_checks() {
        let ok = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(same_origin(&ok));
        for site in ["same-site", "cross-site", "none"] {
            let h = headers(&[
                ("sec-fetch-site", site),
                ("origin", "http://a:1"),
                ("host", "a:1"),
            ]);
            assert!(!same_origin(&h), "{site}: the browser's word wins");
        }
        assert!(same_origin(&headers(&[
            ("origin", "http://a:1"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "http://evil"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "null"),
            ("host", "a:1")
        ])));
        assert!(
            !same_origin(&headers(&[("host", "a:1")])),
            "neither: refused"
        );
        // The sign-in form only refuses what says it is from elsewhere.
        assert!(not_cross_origin(&headers(&[("host", "a:1")])));
        assert!(not_cross_origin(&headers(&[("sec-fetch-site", "none")])));
        assert!(!not_cross_origin(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(!not_cross_origin(&headers(&[
            ("origin", "http://evil"),
            ("host", "a:1")
        ])));
    }
}
