//! A real recording to test against: the corpus's `manual.html` in a fresh
//! headless Chromium, with the recorder pointed at a [`ReelServer`]. What
//! the continuity and hostile-recorder tests share.

use crate::{Browser, Page, PageServer, ReelServer};
use anyhow::{ensure, Result};

/// `/corpus/manual.html` open in a new browser. Fields drop in order: the
/// page, its browser, then the page server.
pub struct ManualPage {
    pub page: Page,
    pub browser: Browser,
    pub pages: PageServer,
}

impl ManualPage {
    /// Serves the corpus for `server`'s recorder and opens `manual.html`
    /// (the recorder loaded, not started).
    pub async fn open(server: &ReelServer) -> Result<Self> {
        let pages = PageServer::for_reel(server).await?;
        let browser = Browser::launch().await?;
        let page = browser.new_page().await?;
        page.goto(&pages.url("/corpus/manual.html")).await?;
        Ok(Self {
            page,
            browser,
            pages,
        })
    }

    /// Starts the recorder with `opts` (a JS object literal) and flushes,
    /// so the session's first chunk is stored: its id.
    pub async fn start(&self, opts: &str) -> Result<String> {
        let sid = self.page.eval(&format!("startReel({opts})")).await?;
        let sid = sid.as_str().unwrap_or_default().to_string();
        ensure!(sid.len() == 32, "no session: {sid}");
        self.page.eval("Reel.flush().then(() => true)").await?;
        Ok(sid)
    }

    /// Seals `chunks` chunks of ~15 KB that do not compress (random text),
    /// each by a flush (which cannot finish while the server is down),
    /// `pause_ms` apart. The items are called `noise <i> …`.
    pub async fn noise_chunks(&self, chunks: usize, pause_ms: u64) -> Result<()> {
        for i in 0..chunks {
            self.page.eval(&format!(
                "(() => {{ let t = ''; for (let j = 0; j < 15000; j++) t += String.fromCharCode(33 + Math.floor(Math.random() * 90)); \
                 addItem('noise {i} ' + t); Reel.flush(); return true; }})()"
            ))
            .await?;
            self.page
                .eval(&format!(
                    "new Promise(r => setTimeout(() => r(true), {pause_ms}))"
                ))
                .await?;
        }
        Ok(())
    }
}

/// Waits until the recorder runs on the page whose path ends with `path`
/// and has *started* there: its first snapshot taken and the session's
/// state (the pages it showed, for u-turns) kept for the next page. The
/// session's id.
///
/// `Reel.sessionId()` alone answers as soon as the recorder is created,
/// before its wasm has arrived: a test that left the page then would lose
/// the page's visit (found by CI: a u-turn A → B → A missed because B was
/// left before its recorder started).
pub async fn started_on(page: &Page, path: &str, timeout: std::time::Duration) -> Result<String> {
    let cond = format!(
        "location.pathname.endsWith({}) && document.readyState === 'complete' && window.Reel && Reel.sessionId()",
        serde_json::to_string(path)?
    );
    let sid = page.wait_for(&cond, timeout).await?;
    page.eval("Reel.flush().then(() => true)").await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session on {path}: {sid}");
    Ok(sid)
}
