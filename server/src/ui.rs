//! The UI's routes: the pages behind the API token (the sessions list,
//! insights, the player), and the sign-in
//! that turns the token into a cookie so a browser can open them. The
//! player page also opens with a share link (`?share=TOKEN`), for its own
//! session alone.

use crate::api::account::{self, Credentials};
use crate::api::{shares, SharedState};
use crate::assets;
use crate::auth::{self, login_cookie, logout_cookie, Identity, Role};
use crate::client::Client;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use reel_shared::SessionId;
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/insights", get(insights))
        .route("/account", get(account))
        .route("/sessions/{id}", get(player))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .merge(admin_routes())
}

/// The admin pages: `(path, page file, label in the admin nav)`. One
/// line per page; `GET /api/v1/auth/me` hands this list to the pages'
/// nav (`player/static/admin-nav.js`), so a new page appears there too.
pub const ADMIN_PAGES: &[(&str, &str, &str)] = &[
    ("/admin/members", "player/admin-members.html", "Members"),
    ("/admin/tokens", "player/admin-tokens.html", "API tokens"),
    ("/admin/audit", "player/admin-audit.html", "Audit log"),
    ("/admin/projects", "player/admin-projects.html", "Projects"),
    ("/admin/people", "player/admin-people.html", "People"),
];

fn admin_routes() -> Router<SharedState> {
    let mut r = Router::new();
    for &(path, file, _) in ADMIN_PAGES {
        r = r.route(
            path,
            get(
                move |State(state): State<SharedState>, headers: HeaderMap| async move {
                    page_for(&state, &headers, Role::Admin, path, file).await
                },
            ),
        );
    }
    r
}

/// Who is signed in, if anyone (the API token as a bearer, a sign-in's
/// cookie or token, a personal token).
pub async fn signed_in(state: &SharedState, headers: &HeaderMap) -> Option<Identity> {
    auth::identify(state, headers).await.ok().flatten()
}

/// The page `file` for someone with `role` or more: the sign-in form
/// (coming back to `next`) for no one, a `403` page for a lesser role.
pub async fn page_for(
    state: &SharedState,
    headers: &HeaderMap,
    role: Role,
    next: &str,
    file: &str,
) -> Response {
    match signed_in(state, headers).await {
        None => sign_in(StatusCode::OK, next, None),
        Some(id) if id.role < role => html(
            StatusCode::FORBIDDEN,
            &format!(
                "<p class=\"error\" role=\"alert\">This page is for {}s; you are signed in as a {}.</p>\
<p><a href=\"/\">All sessions</a></p>",
                role.as_str(),
                id.role.as_str()
            ),
        ),
        Some(_) => assets::page(file, headers),
    }
}

async fn index(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    page_for(&state, &headers, Role::Viewer, "/", "player/index.html").await
}

/// Heatmaps, scroll maps, funnels and frustrating targets (contract §6).
async fn insights(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    page_for(
        &state,
        &headers,
        Role::Viewer,
        "/insights",
        "player/insights.html",
    )
    .await
}

/// The member's own account: changing their password
/// (`api::own_password`).
async fn account(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    page_for(
        &state,
        &headers,
        Role::Viewer,
        "/account",
        "player/account.html",
    )
    .await
}

async fn player(
    State(state): State<SharedState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let Some(id) = path.ok().and_then(|Path(id)| id.parse::<SessionId>().ok()) else {
        return html(
            StatusCode::NOT_FOUND,
            "<p>There is no such session.</p><p><a href=\"/\">All sessions</a></p>",
        );
    };
    if signed_in(&state, &headers).await.is_some() {
        return assets::page("player/player.html", &headers);
    }
    // A share link: the page, and a cookie that lets its requests read
    // this session (and only it: see `api::shares`).
    let token = query.as_ref().ok().and_then(|Query(q)| q.get("share"));
    if let Some(token) = token {
        return match shares::opens(&state, token, &id).await {
            Some(share) => {
                let mut res = assets::page("player/player.html", &headers);
                if let Ok(v) = HeaderValue::from_str(&shares::share_cookie(token, &share)) {
                    res.headers_mut().append(SET_COOKIE, v);
                }
                res
            }
            None => html(
                StatusCode::FORBIDDEN,
                "<p class=\"error\" role=\"alert\">This share link has expired, \
was revoked, or is not for this session.</p>\
<p>Ask whoever sent it for a new one, or <a href=\"/login\">sign in</a>.</p>",
            ),
        };
    }
    sign_in(StatusCode::OK, &format!("/sessions/{id}"), None)
}

async fn login_page() -> Response {
    sign_in(StatusCode::OK, "/", None)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only a path on this server, so the sign-in cannot be used to send
/// someone elsewhere (`//host` and `/\host` are other hosts to a browser).
fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.bytes().all(|b| (0x21..0x7f).contains(&b));
    if ok {
        next
    } else {
        "/"
    }
}

/// The sign-in form: an email and password, or the API token. Refused
/// from another origin (no one may sign a visitor in as someone else); a
/// success sets the session cookie and clears the cookie of earlier
/// versions (which held the API token itself).
async fn login(
    State(state): State<SharedState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !auth::not_cross_origin(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            "<p class=\"error\" role=\"alert\">Sign in from this server's own page.</p>\
<p><a href=\"/login\">Sign in</a></p>",
        );
    }
    let Ok(Form(form)) = form else {
        return sign_in(
            StatusCode::BAD_REQUEST,
            "/",
            Some("The sign-in form was not understood."),
        );
    };
    let next = local_path(&form.next);
    let creds = if !form.email.trim().is_empty() {
        Credentials::Password {
            email: &form.email,
            password: &form.password,
        }
    } else if !form.token.trim().is_empty() {
        Credentials::ApiToken(form.token.trim())
    } else {
        return sign_in(
            StatusCode::BAD_REQUEST,
            next,
            Some("Give an email and password, or the API token."),
        );
    };
    let issued = match account::sign_in(&state, creds, client).await {
        Ok(i) => i,
        Err(e) => {
            let mut res = sign_in(e.status, next, Some(&e.message));
            if let Some(secs) = e.retry_after {
                res.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return res;
        }
    };
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    // `next` passed `local_path`, so it is a valid header value; the
    // fallback is unreachable in practice.
    h.insert(
        LOCATION,
        HeaderValue::from_str(next).unwrap_or(HeaderValue::from_static("/")),
    );
    let max_age = issued
        .expires_at
        .saturating_sub(crate::store::now_ms())
        .div_ceil(1000);
    if let Ok(v) = HeaderValue::from_str(&login_cookie(&issued.token, max_age, client.https)) {
        h.append(SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&auth::legacy_cookie_clear()) {
        h.append(SET_COOKIE, v);
    }
    res
}

/// Signs out: the sign-in ends on the server (its cookie, copied
/// anywhere, opens nothing any more) and the cookie is cleared. A
/// cookie-borne sign-out from another origin is refused.
async fn logout(
    State(state): State<SharedState>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
) -> Response {
    if let Some(id) = signed_in(&state, &headers).await {
        if id.by_cookie && !auth::same_origin(&headers) {
            return html(
                StatusCode::FORBIDDEN,
                "<p class=\"error\" role=\"alert\">Sign out from this server's own page.</p>",
            );
        }
        account::sign_out(&state, &id, client.addr.map(|a| a.to_string())).await;
    }
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static("/login"));
    for c in [logout_cookie(client.https), auth::legacy_cookie_clear()] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(SET_COOKIE, v);
        }
    }
    res
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Reel</title>\
<style>body{{font:16px system-ui,sans-serif;max-width:24rem;margin:15vh auto;padding:0 1rem;color:#222}}\
h1{{font-size:1.5rem}}label,input,button{{display:block;width:100%;box-sizing:border-box}}\
input{{margin:.4rem 0 1rem;padding:.5rem;font:inherit}}button{{padding:.5rem;font:inherit;cursor:pointer}}\
.error{{color:#b00020}}details{{margin-top:2rem}}summary{{cursor:pointer;margin-bottom:1rem}}</style></head><body><h1>Reel</h1>\n{body}\n</body></html>\n"
    );
    let mut res = (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    assets::add_page_headers(res.headers_mut());
    res
}

fn sign_in(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let next = escape(local_path(next));
    html(
        status,
        &format!(
            "{error}<form method=\"post\" action=\"/login\" id=\"sign-in\">\
<label for=\"email\">Email</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<input type=\"hidden\" name=\"next\" value=\"{next}\">\
<button type=\"submit\">Sign in</button></form>\
<details><summary>Sign in with the API token</summary>\
<form method=\"post\" action=\"/login\" id=\"sign-in-token\">\
<label for=\"token\">API token</label>\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>\
<input type=\"hidden\" name=\"next\" value=\"{next}\">\
<button type=\"submit\">Sign in with the token</button></form>\
<p><small>The token is printed by <code>reel-server serve</code> as <code>api token: …</code>.</small></p>\
</details>"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_local() {
        assert_eq!(local_path("/sessions/ab"), "/sessions/ab");
        assert_eq!(local_path("/?url=x"), "/?url=x");
        for bad in [
            "",
            "https://evil",
            "//evil",
            "/\\evil",
            "evil",
            "/a b",
            "/\n",
        ] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
