//! Reel's end-to-end harness: a real `reel-server`, a real headless
//! Chromium driven over the DevTools protocol, a static server for the page
//! corpus, and the tools to compare a recorded page with its replay.
//!
//! Nothing is mocked: the point of these tests is to catch what unit tests
//! of each crate cannot, i.e. the three programs disagreeing.

pub mod assets;
pub mod cdp;
pub mod deployment;
pub mod fidelity;
pub mod http;
pub mod pages;
pub mod privacy;
pub mod recording;
pub mod server;
pub mod sessions;

pub use cdp::{Browser, LogEntry, Page};
pub use fidelity::{canon, canon_document, canon_replay, diff};
pub use pages::PageServer;
pub use server::ReelServer;

use std::path::PathBuf;

/// `target/e2e-screenshots/` in the workspace (created on demand by
/// [`Page::screenshot`]): where tests leave pictures for a human to look at
/// after a failure.
pub fn screenshots_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots")
}
