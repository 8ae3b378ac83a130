//! The recorder on a hostile page (issue 20, item 13):
//! - a page that replaces the built-ins Reel leans on (`JSON.stringify`,
//!   Array methods, `Object.keys`, `Promise.prototype.then`,
//!   `addEventListener`, `fetch`, `Date.now`, `setTimeout`), after reel.js
//!   has loaded, before or after `Reel.start`, gets no uncaught error from
//!   Reel, `Reel.event` does not throw, and the stored session still has
//!   the page's changes and the custom event;
//! - changes whose mutation records cannot be read are still recorded (a
//!   fresh full snapshot follows a failed batch);
//! - the `Dropped` markers of a session that lost chunks to an outage add up
//!   to every chunk lost, even when a chunk carrying a marker was lost too.

use anyhow::{ensure, Context, Result};
use reel_e2e::recording::ManualPage;
use reel_e2e::{Page, ReelServer};
use serde_json::Value;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// Replaces the built-ins with ones that throw or return garbage. The
/// test's own scripts after this use none of them.
const BREAK_GLOBALS: &str = r#"(() => {
  const boom = (what) => function () { throw new Error('hostile ' + what); };
  JSON.stringify = function () { return '{garbage'; };
  JSON.parse = boom('JSON.parse');
  Array.prototype.map = boom('map');
  Array.prototype.forEach = boom('forEach');
  Array.prototype.push = boom('push');
  Object.keys = boom('Object.keys');
  Promise.prototype.then = boom('then');
  EventTarget.prototype.addEventListener = boom('addEventListener');
  window.fetch = boom('fetch');
  Date.now = function () { return 'garbage'; };
  window.setTimeout = boom('setTimeout');
  return true;
})()"#;

/// Polls the server until the session's events satisfy `done`.
async fn events_until(
    server: &ReelServer,
    sid: &str,
    done: impl Fn(&str) -> bool,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    loop {
        if let Ok(events) = server.events(sid).await {
            if done(&serde_json::to_string(&events)?) {
                return Ok(events);
            }
        }
        ensure!(start.elapsed() < WAIT, "the session never got its events");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Mutates, clicks and marks on a broken page, then checks what the server
/// stored and that nothing was thrown.
async fn act_and_check(page: &Page, server: &ReelServer, sid: &str) -> Result<()> {
    page.eval("addItem('hostile one'); true").await?;
    page.click("#h").await?;
    let r = page
        .eval(
            "(() => { try { const r = Reel.event('hostile-marker', { a: 1 }); \
             return r === undefined ? 'ok' : 'returned ' + r; } catch (e) { return 'threw: ' + e; } })()",
        )
        .await?;
    ensure!(r == "ok", "Reel.event on a hostile page: {r}");
    page.eval("addItem('hostile two'); true").await?;
    let r = page
        .eval("(() => { try { Reel.flush(); Reel.identify('u1'); return 'ok'; } catch (e) { return 'threw: ' + e; } })()")
        .await?;
    ensure!(r == "ok", "Reel.flush on a hostile page: {r}");
    let events = events_until(server, sid, |t| {
        t.contains("hostile-marker") && t.contains("hostile one") && t.contains("hostile two")
    })
    .await
    .with_context(|| {
        format!(
            "the changes made on the hostile page; its log: {:?}",
            page.logs()
        )
    })?;
    ensure!(
        events.iter().any(|e| e["data"]
            .get("Mouse")
            .or_else(|| e["data"].get("MouseInteraction"))
            .is_some()
            || e["data"].to_string().contains("click")),
        "the click is missing"
    );
    let exceptions = page.exceptions();
    ensure!(
        exceptions.is_empty(),
        "uncaught errors on the hostile page: {exceptions:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_breaking_builtins_after_start_loses_nothing_and_sees_no_error() -> Result<()> {
    let server = ReelServer::start().await?;
    let m = ManualPage::open(&server).await?;
    let page = &m.page;
    let sid = m.start("{}").await?;
    page.eval(BREAK_GLOBALS).await?;
    act_and_check(page, &server, &sid).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_breaking_builtins_before_start_still_records() -> Result<()> {
    let server = ReelServer::start().await?;
    let m = ManualPage::open(&server).await?;
    let page = &m.page;
    // After reel.js loaded, before the wasm half is fetched and started.
    page.eval(BREAK_GLOBALS).await?;
    page.eval(&format!(
        "window.started = Reel.start({{ endpoint: {:?}, ingestKey: {:?} }}); true",
        server.origin(),
        server.ingest_key()
    ))
    .await?;
    let sid = page
        .wait_for("Reel.sessionId()", WAIT)
        .await?
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(sid.len() == 32, "no session: {sid}");
    act_and_check(page, &server, &sid).await
}

/// A page whose mutation records throw when read: the batch fails, and the
/// recorder falls back to a new full snapshot, so the change still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_from_a_failed_batch_still_arrive() -> Result<()> {
    let server = ReelServer::start().await?;
    let m = ManualPage::open(&server).await?;
    let page = &m.page;
    let sid = m.start("{}").await?;
    page.eval(
        "for (const p of ['addedNodes', 'removedNodes', 'type', 'target']) \
           Object.defineProperty(MutationRecord.prototype, p, { get() { throw new Error('hostile ' + p); } }); \
         addItem('after broken records'); true",
    )
    .await?;
    let start = Instant::now();
    loop {
        page.eval("Reel.flush(); true").await?;
        let text = serde_json::to_string(&server.events(&sid).await?)?;
        if text.contains("after broken records") {
            break;
        }
        ensure!(
            start.elapsed() < WAIT,
            "the change made while records failed was lost"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let exceptions = page.exceptions();
    ensure!(exceptions.is_empty(), "uncaught errors: {exceptions:?}");
    Ok(())
}

/// The stored chunks' seqs, and the sum of the `Dropped` markers.
async fn gaps_and_markers(server: &ReelServer, sid: &str) -> Result<(u64, u64, u64)> {
    let raw = server.raw_chunks(sid).await?;
    let mut seqs: Vec<u32> = raw
        .iter()
        .filter_map(|c| {
            reel_shared::decode_header(c, &reel_shared::Limits::default())
                .ok()
                .map(|h| h.0.seq)
        })
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    let max = seqs.last().copied().unwrap_or(0) as u64;
    let missing = max + 1 - seqs.len() as u64;
    let marked: u64 = server
        .events(sid)
        .await?
        .iter()
        .filter_map(|e| e["data"].get("Dropped"))
        .map(|d| d["chunks"].as_u64().unwrap_or(0))
        .sum();
    Ok((missing, marked, max))
}

/// An outage long enough that markers placed during it are themselves
/// dropped: the markers stored in the end still count every lost chunk
/// (seqs are dense, so a lost chunk is a missing seq), and the recorder's
/// own count agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_markers_add_up_to_every_lost_chunk() -> Result<()> {
    let mut server = ReelServer::start().await?;
    let m = ManualPage::open(&server).await?;
    let page = &m.page;
    let sid = m.start("{ maxBufferBytes: 40000 }").await?;
    server.kill9();
    // Chunks of ~15 KB that do not compress, each sealed by a flush that
    // cannot finish; between them the recorder's tick (every second) puts
    // the marker of what it dropped so far into the open chunk, which is
    // dropped in turn a couple of chunks later.
    m.noise_chunks(10, 1100).await?;
    server.restart().await?;
    page.eval("Reel.flush().then(() => true)").await?;
    // The marker of the last drops goes out with the tick after the flush
    // that delivered the rest; wait for the stored markers to settle.
    let start = Instant::now();
    loop {
        let (missing, marked, max) = gaps_and_markers(&server, &sid).await?;
        ensure!(missing >= 3, "too few chunks were lost to test: {missing}");
        if missing == marked {
            break;
        }
        ensure!(
            start.elapsed() < WAIT,
            "{missing} chunks of 0..={max} lost, the markers say {marked}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        page.eval("Reel.flush().then(() => true)").await?;
    }
    Ok(())
}
