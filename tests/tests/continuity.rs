//! Sessions across pages, time, tabs and outages, and consent:
//! - a same-tab navigation continues the session (same id, sequence
//!   continues, the new page's Meta and snapshot follow) and the player
//!   replays both pages faithfully;
//! - a session rotates after `idleTimeoutMs` without activity and after
//!   `maxSessionMs`; a duplicated tab (sessionStorage copied) starts its own;
//! - a server that goes down (kill -9) and comes back loses nothing;
//! - `requireConsent`, `optOut()` and `respectDoNotTrack` record and store
//!   nothing until consent.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::fidelity::{check_replay, mark};
use reel_e2e::recording::ManualPage;
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn start(page: &Page, opts: &str) -> Result<Value> {
    page.eval(&format!("startReel({opts})")).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The variant names of a session's events, in order.
async fn kinds(server: &ReelServer, sid: &str) -> Result<Vec<String>> {
    Ok(server
        .events(sid)
        .await?
        .iter()
        .filter_map(|e| e["data"].as_object().and_then(|o| o.keys().next().cloned()))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_keeps_the_session_and_replays_both_pages() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    let url = pages.url("/corpus/manual.html");
    page.goto(&url).await?;
    let sid = s(&start(&page, "{}").await?);
    ensure!(sid.len() == 32, "no session: {sid}");
    let mut expected = Vec::new();
    page.eval("addItem('page one')").await?;
    expected.push(("p1".to_string(), mark(&page, "p1").await?));
    page.eval("Reel.flush().then(() => true)").await?;

    page.goto(&format!("{url}?second")).await?;
    let sid2 = s(&start(&page, "{}").await?);
    ensure!(
        sid2 == sid,
        "navigation started a new session: {sid} then {sid2}"
    );
    page.eval("addItem('page two')").await?;
    expected.push(("p2".to_string(), mark(&page, "p2").await?));
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await?;

    let k = kinds(&server, &sid).await?;
    let metas: Vec<usize> = k
        .iter()
        .enumerate()
        .filter(|(_, n)| *n == "Meta")
        .map(|(i, _)| i)
        .collect();
    ensure!(metas.len() == 2, "expected two Meta events: {k:?}");
    for &i in &metas {
        ensure!(
            k.get(i + 1).map(String::as_str) == Some("FullSnapshot"),
            "a Meta not followed by a FullSnapshot: {k:?}"
        );
    }
    let info = server.session(&sid).await?;
    let chunks = info["chunks"].as_u64().unwrap_or(0);
    ensure!(chunks >= 2, "expected chunks from both pages: {info}");
    // Dense sequence: every seq from 0 is stored (the second page
    // continued the first's numbering, it did not restart at 0).
    let raw = server.raw_chunks(&sid).await?;
    let mut seqs: Vec<u32> = raw
        .iter()
        .filter_map(|c| {
            reel_shared::decode_header(c, &reel_shared::Limits::default())
                .ok()
                .map(|h| h.0.seq)
        })
        .collect();
    seqs.sort_unstable();
    let want: Vec<u32> = (0..seqs.len() as u32).collect();
    ensure!(seqs == want, "sequence numbers {seqs:?} are not 0..n");

    let (diffs, _player) = check_replay(&browser, &server, &sid, &expected).await?;
    if !diffs.is_empty() {
        bail!("multi-page replay differs:\n  {}", diffs.join("\n  "));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_rotate_when_idle_old_or_duplicated() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let url = pages.url("/corpus/manual.html");

    // Idle: no activity for longer than idleTimeoutMs, then activity.
    let page = browser.new_page().await?;
    page.goto(&url).await?;
    let first = s(&start(&page, "{ idleTimeoutMs: 1000 }").await?);
    page.click("#h").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    page.click("#h").await?;
    let second = s(&page.eval("Reel.sessionId()").await?);
    ensure!(
        first != second && second.len() == 32,
        "no rotation after idle: {first} {second}"
    );
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await?;
    let k = kinds(&server, &second)
        .await
        .context("the rotated session")?;
    ensure!(
        k.first().map(String::as_str) == Some("Meta")
            && k.get(1).map(String::as_str) == Some("FullSnapshot"),
        "the rotated session does not open with Meta + FullSnapshot: {k:?}"
    );
    ensure!(
        !kinds(&server, &first)
            .await
            .context("the idle session")?
            .is_empty(),
        "the idle session lost its events"
    );
    let _ = page.close().await;

    // Maximum age.
    let page = browser.new_page().await?;
    page.goto(&url).await?;
    let first = s(&start(&page, "{ maxSessionMs: 1500 }").await?);
    page.wait_for(
        &format!("Reel.sessionId() && Reel.sessionId() !== {first:?}"),
        Duration::from_secs(10),
    )
    .await
    .context("no rotation after maxSessionMs")?;
    page.eval("Reel.stop().then(() => true)").await?;
    let _ = page.close().await;

    // A duplicated tab: a second tab with the first one's sessionStorage.
    let a = browser.new_page().await?;
    a.goto(&url).await?;
    let sa = s(&start(&a, "{}").await?);
    let stored = a.eval("sessionStorage.getItem('reel.session')").await?;
    ensure!(stored.is_string(), "no session in sessionStorage");
    let b = browser.new_page().await?;
    b.goto(&url).await?;
    b.eval(&format!(
        "sessionStorage.setItem('reel.session', {})",
        serde_json::to_string(&stored)?
    ))
    .await?;
    let sb = s(&start(&b, "{}").await?);
    ensure!(
        sb.len() == 32 && sb != sa,
        "the duplicated tab shares session {sa}"
    );
    // The original tab keeps its session.
    ensure!(
        s(&a.eval("Reel.sessionId()").await?) == sa,
        "tab A lost its session"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outage_loses_nothing() -> Result<()> {
    let mut server = ReelServer::start().await?;
    let m = ManualPage::open(&server).await?;
    let (page, browser) = (&m.page, &m.browser);
    let sid = m.start("{}").await?;
    let mut expected = Vec::new();
    server.kill9();
    for i in 0..3 {
        page.eval(&format!("addItem('during outage {i}')")).await?;
        let name = format!("down{i}");
        expected.push((name.clone(), mark(page, &name).await?));
        // Let the recorder seal and fail to send a chunk.
        page.eval("new Promise(r => setTimeout(() => r(true), 1200))")
            .await?;
    }
    server.restart().await?;
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await
        .context("flush after the server came back")?;
    let (diffs, _p) = check_replay(browser, &server, &sid, &expected).await?;
    if !diffs.is_empty() {
        bail!("after an outage:\n  {}", diffs.join("\n  "));
    }
    ensure!(
        !kinds(&server, &sid).await?.iter().any(|k| k == "Dropped"),
        "data was dropped within the cap"
    );
    Ok(())
}

/// An outage longer than the recorder's buffer: the oldest chunks are
/// dropped (memory stays bounded), the rest arrive once the server is back,
/// and the recording says what was lost, which the player shows as a gap
/// marker on its timeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_drops_the_oldest_and_the_player_shows_the_gap() -> Result<()> {
    let mut server = ReelServer::start().await?;
    let m = ManualPage::open(&server).await?;
    let (page, browser) = (&m.page, &m.browser);
    let sid = m.start("{ maxBufferBytes: 40000 }").await?;
    server.kill9();
    // Six chunks, each sealed at once by a flush that cannot finish while
    // the server is down.
    m.noise_chunks(6, 100).await?;
    server.restart().await?;
    // The gap is reported with the next tick; the flush after it sends it.
    page.eval("new Promise(r => setTimeout(() => r(true), 1500)).then(() => Reel.flush()).then(() => Reel.stop()).then(() => true)")
        .await
        .context("flush after the server came back")?;
    let events = server.events(&sid).await?;
    let dropped: Vec<_> = events
        .iter()
        .filter_map(|e| e["data"].get("Dropped"))
        .collect();
    ensure!(
        !dropped.is_empty(),
        "no Dropped event after an outage past the cap"
    );
    ensure!(
        dropped
            .iter()
            .all(|d| d["chunks"].as_u64().unwrap_or(0) >= 1),
        "Dropped events say nothing was lost: {dropped:?}"
    );
    // Not everything was dropped: the newest noise made it.
    let text = serde_json::to_string(&events)?;
    ensure!(text.contains("noise 5 "), "the newest chunk was lost too");
    let player = reel_e2e::fidelity::open_player(browser, &server, &sid).await?;
    let gaps = player
        .eval("reelPlayer.markers().filter(m => m.kind === 'gap').length")
        .await?;
    ensure!(
        gaps.as_u64().unwrap_or(0) >= 1,
        "the player shows no gap marker"
    );
    let ticks = player
        .eval("document.querySelectorAll('.reel-tick-gap').length")
        .await?;
    ensure!(
        ticks.as_u64().unwrap_or(0) >= 1,
        "no gap tick on the timeline"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_recorded_or_stored_without_consent() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let url = pages.url("/corpus/manual.html");
    let page = browser.new_page().await?;
    page.goto(&url).await?;

    // requireConsent: start waits; nothing stored, nothing sent.
    page.eval("window.pending = startReel({ requireConsent: true }); true")
        .await?;
    page.eval("addItem('before consent'); new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    ensure!(
        page.eval("Reel.sessionId()").await?.is_null(),
        "recording before consent"
    );
    let storage = page.eval("reelStorage()").await?;
    ensure!(
        storage.as_object().is_some_and(|o| o.is_empty()),
        "stored before consent: {storage}"
    );
    ensure!(
        server.list_sessions().await?.is_empty(),
        "sent before consent"
    );
    page.eval("Reel.consent(true); window.pending").await?;
    let sid = s(&page.eval("Reel.sessionId()").await?);
    ensure!(sid.len() == 32, "consent did not start the recording");
    page.eval("Reel.flush().then(() => true)").await?;
    ensure!(
        !server.list_sessions().await?.is_empty(),
        "nothing sent after consent"
    );

    // optOut: stops, and is remembered on the next visit.
    page.eval("Reel.optOut().then(() => true)").await?;
    ensure!(
        page.eval("Reel.sessionId()").await?.is_null(),
        "still recording after optOut"
    );
    page.goto(&url).await?;
    page.eval("window.pending = startReel({}); true").await?;
    page.eval("new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    ensure!(
        page.eval("Reel.sessionId()").await?.is_null(),
        "opt-out forgotten"
    );
    ensure!(
        page.eval("sessionStorage.getItem('reel.session')")
            .await?
            .is_null(),
        "a session stored while opted out"
    );
    page.eval("Reel.consent(true); window.pending").await?;
    ensure!(
        s(&page.eval("Reel.sessionId()").await?).len() == 32,
        "consent(true) did not lift the opt-out"
    );
    page.eval("Reel.stop().then(() => true)").await?;

    // respectDoNotTrack with Global Privacy Control on.
    let page = browser.new_page().await?;
    page.goto(&url).await?;
    page.eval("Object.defineProperty(navigator, 'globalPrivacyControl', { value: true }); true")
        .await?;
    let r = start(&page, "{ respectDoNotTrack: true }").await?;
    ensure!(r.is_null(), "recording despite Global Privacy Control: {r}");
    ensure!(
        page.eval("reelStorage()")
            .await?
            .as_object()
            .is_some_and(|o| o.is_empty()),
        "stored despite Global Privacy Control"
    );
    let _ = WAIT;
    Ok(())
}
