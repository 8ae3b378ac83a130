//! Loading a session from the server.
//!
//! Same-origin requests with `credentials: same-origin`: the page is
//! authorised by the `reel_token` cookie (or by an `Authorization` header
//! that a test adds to every request the page makes); the player never sees
//! or stores a token itself.

use crate::load;
use reel_shared::Event;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCredentials, RequestInit, Response};

/// A readable message for a failed request or a rejected promise.
pub fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            js_sys::Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

async fn get(url: &str) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_credentials(RequestCredentials::SameOrigin);
    let resp = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| describe(&e))?;
    let resp: Response = resp
        .dyn_into()
        .map_err(|_| "fetch did not return a Response".to_string())?;
    if !resp.ok() {
        return Err(match resp.status() {
            401 | 403 => format!(
                "not authorised to read {url} ({}); sign in first",
                resp.status()
            ),
            404 => "no such session".to_string(),
            s => format!("{url} answered {s}"),
        });
    }
    Ok(resp)
}

/// `GET /api/v1/sessions/{id}`: the session's index entry.
pub async fn session_meta(id: &str) -> Result<serde_json::Value, String> {
    let resp = get(&format!("/api/v1/sessions/{id}")).await?;
    let text = JsFuture::from(resp.text().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?;
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| format!("bad session metadata: {e}"))
}

/// `GET /api/v1/sessions/{id}/chunks`: every chunk, decoded. Chunks that do
/// not decode are skipped with a console warning.
pub async fn session_events(id: &str) -> Result<Vec<Event>, String> {
    let resp = get(&format!("/api/v1/sessions/{id}/chunks")).await?;
    let buf = JsFuture::from(resp.array_buffer().map_err(|e| describe(&e))?)
        .await
        .map_err(|e| describe(&e))?;
    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
    let (events, warnings) = load::decode_session(&bytes);
    for w in warnings {
        web_sys::console::warn_1(&format!("reel: {w}").into());
    }
    Ok(events)
}
