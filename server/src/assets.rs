//! The recorder's and the player's files, embedded in the binary so that
//! copying the binary alone is enough to run Reel (contract §1).
//!
//! `cargo xtask dist` fills `dist/`; `build.rs` creates it empty when it is
//! missing so that the server compiles before the wasm crates are built.
//! In debug builds rust-embed reads the folder at run time instead.

use crate::api::{self, SharedState};
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use tower_http::cors::{Any, CorsLayer};

#[derive(RustEmbed)]
#[folder = "../dist"]
struct Dist;

/// For every HTML page: recorded pages are replayed inside the player, so
/// the player's own origin must be locked down (no inline script, nothing
/// framing it from elsewhere), while recorded styles, images and fonts from
/// anywhere may still load.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self' 'unsafe-inline' data: blob: http: https:; img-src * data: blob:; \
font-src * data: blob:; media-src * data: blob:; connect-src 'self'; frame-src 'self' about:; \
object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

const NOT_BUILT: &str = "The recorder is not built into this server: run `cargo xtask dist`, then rebuild reel-server.\n";

pub fn routes() -> Router<SharedState> {
    // Host pages load the recorder cross-origin, and `import()` of an ES
    // module needs CORS even for a plain GET.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD]);
    let recorder = Router::new()
        .route("/reel.js", get(reel_js))
        .route("/recorder/{*path}", get(recorder_file))
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(cors);
    Router::new()
        .merge(recorder)
        .route("/player/{*path}", get(player_file))
        .method_not_allowed_fallback(api::method_not_allowed)
}

async fn reel_js(headers: HeaderMap) -> Response {
    if Dist::get("reel.js").is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response();
    }
    serve("reel.js", &headers)
}

async fn recorder_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("recorder/{path}"), &headers)
}

async fn player_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("player/{path}"), &headers)
}

pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Embedded names are plain relative paths; anything else is refused before
/// the lookup (which in debug builds touches the file system).
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// The headers every HTML page gets, embedded or server-rendered.
pub fn add_page_headers(headers: &mut HeaderMap) {
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// An embedded file, with revalidation by ETag.
pub fn serve(path: &str, req_headers: &HeaderMap) -> Response {
    if !safe_path(path) {
        return not_found();
    }
    let Some(file) = Dist::get(path) else {
        return not_found();
    };
    let hash = file.metadata.sha256_hash();
    let etag: String = format!(
        "\"{}\"",
        hash[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = req_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let ct = content_type(path);
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, ct)], file.data.into_owned()).into_response()
    };
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if ct.starts_with("text/html") {
        add_page_headers(h);
    }
    res
}

/// One of the UI's pages; 503 when the player was not built in.
pub fn page(path: &str, req_headers: &HeaderMap) -> Response {
    if Dist::get(path).is_none() {
        let mut res = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The player is not built into this server: run `cargo xtask dist`, then rebuild reel-server.\n",
        )
            .into_response();
        add_page_headers(res.headers_mut());
        return res;
    }
    serve(path, req_headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("reel.js"), "text/javascript; charset=utf-8");
        assert_eq!(
            content_type("recorder/reel_recorder_bg.wasm"),
            "application/wasm"
        );
        assert_eq!(
            content_type("player/index.html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type("a/b.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.svg"), "image/svg+xml");
        assert_eq!(content_type("x.png"), "image/png");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn traversal_is_refused() {
        assert!(safe_path("player/a/b.js"));
        for bad in [
            "",
            "/etc/passwd",
            "player/../../etc/passwd",
            "player/./x",
            "player//x",
            "a\\b",
            "..",
            "x/",
        ] {
            assert!(!safe_path(bad), "{bad}");
        }
    }
}
