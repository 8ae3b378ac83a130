//! The Reel recorder.
//!
//! Two halves meet here. `js/src/` (bundled into `reel.js`) is the page-side capture layer: it
//! walks the DOM, observes mutations and listens to the user, in JavaScript,
//! where DOM access is cheap, and hands its findings across the wasm
//! boundary as one JSON batch at a time (few crossings). This crate is the
//! rest: the masking rules, the event model, batching, encoding and zstd
//! compression, and the transport with its retries.
//!
//! Invariant: nothing reaches [`batch`] without passing through
//! [`convert`], which applies [`mask`] (and [`netmask`] to requests). That
//! is the privacy boundary.

pub mod assets;
pub mod batch;
pub mod convert;
pub mod json;
pub mod mask;
pub mod netmask;
pub mod raw;
pub mod transport;

#[cfg(target_arch = "wasm32")]
mod api;

/// Every page that records downloads this module, and the allocator is a
/// fixed part of it: talc (a well-kept, MIRI-checked allocator built for
/// wasm) is about 2 KB smaller brotli'd than std's dlmalloc, and faster.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
