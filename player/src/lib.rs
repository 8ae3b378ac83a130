//! The Reel player: rebuilds a recorded session inside a sandboxed iframe
//! and plays it on a timeline.

pub mod model;
pub mod ops;
pub mod sanitize;

#[cfg(test)]
mod testdom;
