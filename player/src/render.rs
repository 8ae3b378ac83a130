//! Executes [`DomOp`]s in the replay iframe's document.
//!
//! A batch crosses from wasm to JS once, as a JSON string, and a small JS
//! helper applies it: thousands of DOM calls through per-call bindings
//! would cost more in crossings than in DOM work. The helper
//! (`player/js/apply.js`, linted with the rest of the JavaScript) keeps its own
//! `Map` from node id to DOM node per document (a `reset` starts a new
//! one), and wraps every op in `try`/`catch` so that one bad tag or
//! attribute name in a recording costs that node, never the frame.
//!
//! The ops arrive sanitised; the helper only executes. Nothing it creates
//! can run: the iframe's sandbox has no `allow-scripts`.

use crate::ops::{self, DomOp};
use wasm_bindgen::prelude::*;
use web_sys::Document;

#[wasm_bindgen(module = "/js/apply.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn reel_apply(doc: &Document, json: &str, settle: bool) -> Result<(), JsValue>;
    #[wasm_bindgen(catch)]
    fn reel_rate(doc: &Document, rate: f64) -> Result<(), JsValue>;
}

/// Runs the replay's animations at `rate` (the player's speed; 0 while
/// paused, so a paused replay shows the moment the playhead is at).
pub fn set_rate(doc: &Document, rate: f64) {
    if let Err(e) = reel_rate(doc, rate) {
        web_sys::console::warn_2(&"reel: could not set the animations' rate:".into(), &e);
    }
}

/// Applies a batch of ops to `doc` (the replay iframe's document).
///
/// `settle` after a jump (a seek, not a playback step): the changes a jump
/// makes at once are hours or seconds of the recording, and the CSS
/// transitions they would start (from whatever the iframe showed before)
/// are finished, so the frame shows the state the page settled into
/// instead of a fade that never happened.
pub fn apply(doc: &Document, ops: &[DomOp], settle: bool) {
    if ops.is_empty() {
        return;
    }
    if let Err(e) = reel_apply(doc, &ops::to_json(ops), settle) {
        web_sys::console::warn_2(&"reel: could not apply a frame:".into(), &e);
    }
}
