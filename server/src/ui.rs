//! The UI's routes: the two pages behind the API token, and the sign-in
//! that turns the token into a cookie so a browser can open them. The
//! player page also opens with a share link (`?share=TOKEN`), for its own
//! session alone.

use crate::api::{shares, SharedState};
use crate::assets;
use crate::auth::{login_cookie, logout_cookie};
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use reel_shared::SessionId;
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/sessions/{id}", get(player))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
}

async fn index(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if !state.auth.reader_ok(&headers) {
        return sign_in(StatusCode::OK, "/", None);
    }
    assets::page("player/index.html", &headers)
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
    if state.auth.reader_ok(&headers) {
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

async fn login(
    State(state): State<SharedState>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return sign_in(
            StatusCode::BAD_REQUEST,
            "/",
            Some("The sign-in form was not understood."),
        );
    };
    let next = local_path(&form.next);
    let token = form.token.trim();
    if !state.auth.api_token_ok(token) {
        tracing::info!("failed sign-in");
        return sign_in(
            StatusCode::UNAUTHORIZED,
            next,
            Some("That is not the API token."),
        );
    }
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    // Both values passed `valid_secret` / `local_path`, so they are valid
    // header values; the fallbacks are unreachable in practice.
    h.insert(
        LOCATION,
        HeaderValue::from_str(next).unwrap_or(HeaderValue::from_static("/")),
    );
    if let Ok(v) = HeaderValue::from_str(&login_cookie(token)) {
        h.insert(SET_COOKIE, v);
    }
    res
}

async fn logout() -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static("/"));
    if let Ok(v) = HeaderValue::from_str(&logout_cookie()) {
        h.insert(SET_COOKIE, v);
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
.error{{color:#b00020}}</style></head><body><h1>Reel</h1>\n{body}\n</body></html>\n"
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
    html(
        status,
        &format!(
            "{error}<form method=\"post\" action=\"/login\">\
<label for=\"token\">API token</label>\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
<input type=\"hidden\" name=\"next\" value=\"{}\">\
<button type=\"submit\">Sign in</button></form>\
<p><small>The token is printed by <code>reel-server serve</code> as <code>api token: …</code>.</small></p>",
            escape(local_path(next))
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
