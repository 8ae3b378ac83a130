//! The Reel player: rebuilds a recorded session inside a sandboxed iframe
//! and plays it on a timeline.

pub mod load;
pub mod model;
pub mod ops;
pub mod playback;
pub mod sanitize;
pub mod timeline;

#[cfg(test)]
mod testdom;
