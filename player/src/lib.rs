//! The Reel player: rebuilds a recorded session inside a sandboxed iframe
//! and plays it on a timeline.
//!
//! Pure modules (natively tested, no browser APIs):
//! - [`model`]: the virtual document and the DOM ops that follow it;
//! - [`ops`]: those ops, serialised for the browser side in one crossing;
//! - [`json`]: the JSON text that crosses (written by hand: no serde);
//! - [`sanitize`]: what keeps the replay inert and its URLs working;
//! - [`timeline`]: events on one clock, keyframes, markers, pointer;
//! - [`playback`]: the playhead and the cheapest way to move it;
//! - [`load`]: the server's chunk stream into events;
//! - [`assets`]: content-addressed assets put back into the events.
//!
//! Browser glue (wasm32 only): `render` executes ops in the iframe, `fetch`
//! loads a session, `ui` runs the page and `window.reelPlayer`.

pub mod assets;
pub mod json;
pub mod load;
pub mod model;
pub mod ops;
pub mod playback;
pub mod sanitize;
pub mod timeline;

#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod render;
#[cfg(target_arch = "wasm32")]
mod ui;

#[cfg(test)]
mod testdom;

/// Runs when `boot.js` awaits wasm-bindgen's `init()`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    ui::start();
}
