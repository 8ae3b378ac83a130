//! The recorder's and the player's files, embedded in the binary so that
//! copying the binary alone is enough to run Reel (contract §1).
//!
//! `cargo xtask dist` fills `dist/`; `build.rs` creates it empty when it is
//! missing so that the server compiles before the wasm crates are built.
//! In debug builds rust-embed reads the folder at run time instead.
//!
//! How they are sent (contract §9; the build side is `xtask/src/delivery.rs`):
//! - every file under `recorder/` and `player/` is also at
//!   `/{tree}/v/{version}/{path}` (`version` from `dist/manifest.json`),
//!   served `Cache-Control: public, max-age=31536000, immutable`; any other
//!   version is a 404. `reel.js`, the pages and what they load name only
//!   these URLs;
//! - `/reel.js`, the pages and the unversioned paths are `no-cache` with an
//!   ETag, so a browser revalidates them (`304`) and sees a new build at once;
//! - each file is sent as its build-time `.br` or `.gz` variant when the
//!   request accepts one (`negotiate.rs`), with `Vary: Accept-Encoding` and
//!   a strong ETag per variant.

use crate::api::{self, SharedState};
mod negotiate;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use negotiate::Coding;
use rust_embed::RustEmbed;
use std::borrow::Cow;
use std::collections::HashMap;
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
    tree_file("recorder", &path, &headers)
}

async fn player_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    tree_file("player", &path, &headers)
}

/// `/{tree}/v/{version}/{path}` (immutable, current version only) or
/// `/{tree}/{path}` (revalidated).
fn tree_file(tree: &str, path: &str, headers: &HeaderMap) -> Response {
    match path.strip_prefix("v/") {
        Some(rest) => {
            let Some((version, file)) = rest.split_once('/') else {
                return not_found();
            };
            if current_version(tree).as_deref() != Some(version) {
                return not_found();
            }
            serve_as(&format!("{tree}/{file}"), headers, Caching::Immutable)
        }
        None => serve(&format!("{tree}/{path}"), headers),
    }
}

/// What `cargo xtask dist` wrote into `dist/manifest.json`.
#[derive(serde::Deserialize)]
struct Manifest {
    versions: HashMap<String, String>,
}

/// The version of `tree` this build serves; `None` before `cargo xtask dist`.
/// Read per request: it is a few dozen bytes, and in debug builds `dist/`
/// may be rebuilt under a running server.
pub fn current_version(tree: &str) -> Option<String> {
    let file = Dist::get("manifest.json")?;
    let mut m: Manifest = serde_json::from_slice(&file.data).ok()?;
    m.versions.remove(tree)
}

/// How long a response may be reused without asking again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// Versioned URLs: their bytes never change.
    Immutable,
    /// Everything else: reused only after a `304` for its ETag.
    Revalidate,
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

/// An embedded file at an unversioned URL: revalidated by ETag.
pub fn serve(path: &str, req_headers: &HeaderMap) -> Response {
    serve_as(path, req_headers, Caching::Revalidate)
}

/// An embedded file in the best encoding the request accepts, with an ETag
/// for that variant and `304` when the request already holds it.
fn serve_as(path: &str, req_headers: &HeaderMap, caching: Caching) -> Response {
    // The compressed variants are only ever sent as an encoding of their file.
    if !safe_path(path) || path.ends_with(".br") || path.ends_with(".gz") {
        return not_found();
    }
    if Dist::get(path).is_none() {
        return not_found();
    }
    let available: Vec<Coding> = [Coding::Br, Coding::Gzip]
        .into_iter()
        .filter(|c| Dist::get(&format!("{path}{}", c.suffix())).is_some())
        .collect();
    let coding = negotiate::choose(req_headers, &available);
    let Some(file) = Dist::get(&format!("{path}{}", coding.suffix())) else {
        return not_found();
    };
    let etag = etag(&file.metadata.sha256_hash());
    let ct = content_type(path);
    let mut res = if if_none_match(req_headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = match file.data {
            Cow::Borrowed(b) => Bytes::from_static(b),
            Cow::Owned(v) => Bytes::from(v),
        };
        let mut res = Response::new(Body::from(body));
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        if let Some(enc) = coding.content_encoding() {
            res.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static(enc));
        }
        res
    };
    let h = res.headers_mut();
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(match caching {
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::Revalidate => "no-cache",
        }),
    );
    h.append(VARY, HeaderValue::from_static("accept-encoding"));
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

/// A strong validator: each variant's own bytes (rust-embed hashes them at
/// build time), so a gzip and a brotli response never share an ETag.
fn etag(sha256: &[u8; 32]) -> String {
    let hex: String = sha256[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `If-None-Match` (weak comparison, as RFC 9110 §13.1.2 asks for it).
fn if_none_match(req_headers: &HeaderMap, etag: &str) -> bool {
    req_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
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
    fn revalidation_compares_weakly_and_accepts_a_list() {
        let tag = etag(&[7; 32]);
        assert_eq!(tag, format!("\"{}\"", "07".repeat(16)));
        let ask = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, HeaderValue::from_str(v).expect("ascii"));
            if_none_match(&h, &tag)
        };
        assert!(ask(&tag));
        assert!(ask(&format!("\"x\", W/{tag}")));
        assert!(ask("*"));
        assert!(!ask("\"x\""));
        assert!(!if_none_match(&HeaderMap::new(), &tag));
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
