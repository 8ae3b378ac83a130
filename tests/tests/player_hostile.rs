//! The player against hostile or damaged sessions (issue 20): a DOM
//! thousands deep, a URL bomb, a panic in the wasm, a session of many tiny
//! events, a live session with a missing chunk, and a recording that tries
//! to change the player's referrer policy.
//!
//! Sessions are built with the shared encoder and posted like the recorder
//! would. Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test player_hostile`.

use anyhow::{ensure, Context, Result};
use reel_e2e::sessions::{self, custom, el, meta, new_id, node, now_ms, num, opening, post};
use reel_e2e::{screenshots_dir, Browser, Page, PageServer, ReelServer};
use reel_shared::{encode_chunk, Event, FlatNode, NodeKind, SessionId};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// A page's first two events: where it is, and its document.
fn page(href: &str, nodes: Vec<FlatNode>) -> Vec<Event> {
    opening(0, meta(href, "hostile"), nodes)
}

/// Opens the player on a session, without waiting for it to load.
async fn goto_player(browser: &Browser, server: &ReelServer, id: SessionId) -> Result<Page> {
    sessions::goto_player(browser, server, &format!("/sessions/{id}"), WAIT).await
}

async fn open_player(browser: &Browser, server: &ReelServer, id: SessionId) -> Result<Page> {
    sessions::open_player(browser, server, &format!("/sessions/{id}"), WAIT).await
}

const STATUS: &str = "(() => { const s = document.getElementById('reel-status'); \
                      return s.hidden ? '' : s.textContent; })()";

/// The depth of the deepest node of the replayed document.
const REPLAY_DEPTH: &str = "(() => { \
    let n = document.getElementById('reel-replay').contentDocument.documentElement, d = 1; \
    while (n && n.firstElementChild) { n = n.firstElementChild; d++; } return d; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dom_4000_deep_is_cut_and_the_tab_stays_responsive() -> Result<()> {
    const DEPTH: u32 = 4_000;
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let mut nodes = vec![node(1, 0, NodeKind::Document), el(2, 1, "html", &[])];
    nodes.push(el(3, 2, "body", &[]));
    for i in 4..DEPTH + 4 {
        nodes.push(el(i, i - 1, "div", &[("style", "padding-left:1px")]));
    }
    nodes.push(node(DEPTH + 4, DEPTH + 3, NodeKind::Text("bottom".into())));
    post(
        &server,
        id,
        now_ms() - 86_400_000,
        0,
        &page("https://deep.test/", nodes),
        10,
    )
    .await?;
    let p = open_player(&browser, &server, id).await?;
    // Responsive: the page answers, a seek completes, layout can be read.
    ensure!(p.eval("1 + 1").await? == json!(2));
    p.eval("reelPlayer.seek(0).then(() => true)").await?;
    let depth = num(&p, REPLAY_DEPTH).await?;
    ensure!(
        depth > 100.0 && depth <= 520.0,
        "the replay is {depth} elements deep"
    );
    let h = num(
        &p,
        "document.getElementById('reel-replay').contentDocument.body.getBoundingClientRect().width",
    )
    .await?;
    ensure!(h > 0.0, "no layout: {h}");
    let notice = p
        .eval("(n => n.hidden ? '' : n.textContent)(document.getElementById('reel-notice'))")
        .await?;
    ensure!(
        notice.as_str().is_some_and(|n| n.contains("not shown")),
        "the viewer is not told that part of the page is cut: {notice}"
    );
    p.screenshot(screenshots_dir().join("player-hostile-deep.png"))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_bomb_plays_without_panicking() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    // A page URL of 32 KB (the chunk header carries it, so it cannot be
    // much longer), and 70,000 relative srcset candidates and CSS urls:
    // each as long as the page URL once resolved, 2 GB each, from a chunk
    // of a few KB.
    let href = format!("https://bomb.test/{}", "a/".repeat(16 * 1024));
    let srcset = "x ,".repeat(70_000);
    let style = "background:url(y);".repeat(70_000);
    let nodes = vec![
        node(1, 0, NodeKind::Document),
        el(2, 1, "html", &[]),
        el(3, 2, "body", &[]),
        el(4, 3, "img", &[("id", "bomb"), ("srcset", &srcset)]),
        el(5, 3, "div", &[("id", "css"), ("style", &style)]),
        el(6, 3, "h1", &[("id", "title")]),
        node(7, 6, NodeKind::Text("still here".into())),
    ];
    let events = page(&href, nodes);
    let bytes = encode_chunk(id, 0, &events)?;
    ensure!(bytes.len() < 64 * 1024, "the bomb is {} bytes", bytes.len());
    let resp = server.post_chunk(&id.to_string(), 0, &bytes).await?;
    ensure!(resp.status < 300, "{}", resp.text());
    let p = goto_player(&browser, &server, id).await?;
    // Loaded, or failed visibly: never "Loading…" for ever.
    p.eval(
        "reelPlayer.ready.then(() => window.__settled = 'ok', \
         e => window.__settled = 'failed: ' + e.message), true",
    )
    .await?;
    let settled = p
        .wait_for(
            &format!("window.__settled || (/could not/.test({STATUS}) ? {STATUS} : null)"),
            WAIT,
        )
        .await
        .context("the player neither loaded nor said why")?;
    ensure!(
        settled == json!("ok"),
        "the bomb broke the player: {settled}"
    );
    let title = p
        .eval("document.getElementById('reel-replay').contentDocument.getElementById('title').textContent")
        .await?;
    ensure!(title == json!("still here"), "{title}");
    let sizes = p
        .eval(
            "(d => [d.getElementById('bomb').getAttribute('srcset').length, \
              d.getElementById('css').getAttribute('style').length])\
             (document.getElementById('reel-replay').contentDocument)",
        )
        .await?;
    let ok = sizes
        .as_array()
        .is_some_and(|a| a.iter().all(|n| n.as_f64().is_some_and(|n| n <= 5e6)));
    ensure!(ok, "rewritten values are not bounded: {sizes}");
    ensure!(
        p.eval(STATUS).await? == json!(""),
        "{}",
        p.eval(STATUS).await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_wasm_shows_on_the_page() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let nodes = vec![node(1, 0, NodeKind::Document), el(2, 1, "html", &[])];
    post(
        &server,
        id,
        now_ms() - 86_400_000,
        0,
        &page("https://panic.test/", nodes),
        10,
    )
    .await?;
    let p = open_player(&browser, &server, id).await?;
    // The call itself throws (the wasm aborts); what matters is the page.
    let _ = p
        .eval("reelPlayer.panicForTest('forced for the test')")
        .await;
    let status = p
        .wait_for(
            &format!("/could not be replayed/.test({STATUS}) && {STATUS}"),
            WAIT,
        )
        .await
        .context("a panic left no visible error")?;
    ensure!(
        status
            .as_str()
            .is_some_and(|s| s.contains("forced for the test")),
        "{status}"
    );
    ensure!(
        p.eval("document.getElementById('reel-status').classList.contains('reel-error')")
            .await?
            == json!(true)
    );
    p.screenshot(screenshots_dir().join("player-hostile-panic.png"))
        .await?;
    Ok(())
}

/// How many tiny events the panel test loads (`REEL_HOSTILE_EVENTS`
/// overrides it, e.g. 1000000 to measure).
fn tiny_events() -> usize {
    std::env::var("REEL_HOSTILE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tiny_events_keep_the_events_panel_small() -> Result<()> {
    let n = tiny_events();
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let nodes = vec![
        node(1, 0, NodeKind::Document),
        el(2, 1, "html", &[]),
        el(3, 2, "body", &[]),
    ];
    let mut events = page("https://tiny.test/", nodes);
    events.extend((0..n as u64).map(|i| custom(1 + i / 10, format!("e{i}"))));
    let started = Instant::now();
    post(&server, id, now_ms() - 86_400_000, 0, &events, 50_000).await?;
    let ingest = started.elapsed();
    let started = Instant::now();
    let p = open_player(&browser, &server, id).await?;
    let load = started.elapsed();
    let rows = num(&p, "document.querySelectorAll('#reel-events li').length").await?;
    let all = num(&p, "document.querySelectorAll('*').length").await?;
    let stats = p.eval("reelPlayer.stats()").await?;
    eprintln!(
        "{n} tiny events: ingest {ingest:?}, player load {load:?} ({stats}), \
         {rows} rows in the events panel, {all} elements in the page"
    );
    ensure!(rows > 0.0 && rows <= 200.0, "{rows} rows in the DOM");
    ensure!(all < 5_000.0, "{all} elements in the page");
    ensure!(
        num(&p, "reelPlayer.rowCount(false)").await? == (n + 1) as f64,
        "the panel does not count every line"
    );
    // Scrolled to the end, the last lines are there; a click seeks.
    p.eval(
        "(l => { l.scrollTop = l.scrollHeight; return new Promise(r => \
          requestAnimationFrame(() => requestAnimationFrame(() => r(true)))); })\
         (document.getElementById('reel-events').parentElement)",
    )
    .await?;
    let last = p
        .eval("[...document.querySelectorAll('#reel-events .reel-entry-text')].pop().textContent")
        .await?;
    ensure!(last == json!(format!("e{}", n - 1)), "last row {last}");
    let rows = num(&p, "document.querySelectorAll('#reel-events li').length").await?;
    ensure!(rows <= 200.0, "{rows} rows after scrolling");
    let want = p
        .eval("Number([...document.querySelectorAll('#reel-events button')].pop().dataset.t)")
        .await?;
    p.eval("[...document.querySelectorAll('#reel-events button')].pop().click(), true")
        .await?;
    p.wait_for(&format!("reelPlayer.currentTime() === {want}"), WAIT)
        .await?;
    // Responsive: the page answers at once.
    ensure!(p.eval("1 + 1").await? == json!(2));
    ensure!(p.exceptions().is_empty(), "{:#?}", p.exceptions());
    // The picture shows the row played last as current (marked by a
    // timer a few times a second, not at once on a seek).
    p.wait_for(
        "!!document.querySelector('#reel-events .reel-current')",
        WAIT,
    )
    .await?;
    p.screenshot(screenshots_dir().join("player-hostile-tiny-events.png"))
        .await?;
    Ok(())
}

/// The bytes of `/chunks` responses the player fetched by polling (every
/// one but the first load, `from=0`).
const POLLED_BYTES: &str = "performance.getEntriesByType('resource') \
    .filter(e => /\\/chunks\\?from=/.test(e.name) && !/from=0$/.test(e.name)) \
    .reduce((s, e) => s + e.encodedBodySize, 0)";

/// A string zstd cannot shrink much: `n` pseudo-random hex digits.
fn noise(n: usize, seed: u64) -> String {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_polls_do_not_download_again_past_a_gap() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let t0 = now_ms();
    let nodes = vec![node(1, 0, NodeKind::Document), el(2, 1, "html", &[])];
    post(&server, id, t0, 0, &page("https://live.test/", nodes), 10).await?;
    // Seq 1 never arrives; 2 to 5 are 100 KB each.
    let mut after_gap = 0;
    for seq in 2..=5u32 {
        let e = vec![custom(u64::from(seq) * 10, noise(100_000, u64::from(seq)))];
        after_gap += post(&server, id, t0, seq, &e, 1).await?[0];
    }
    let p = open_player(&browser, &server, id).await?;
    ensure!(
        p.eval("reelPlayer.live()").await? == json!(true),
        "not live"
    );
    // Four polls (1.5 s apart; a re-check of the gap comes at the tenth):
    // none may fetch the chunks after the gap.
    const POLLS: &str = "performance.getEntriesByType('resource')\
        .filter(e => /chunks\\?from=[1-9]/.test(e.name)).length";
    p.wait_for(&format!("{POLLS} >= 4"), WAIT).await?;
    let polls = num(&p, POLLS).await?;
    let polled = num(&p, POLLED_BYTES).await?;
    eprintln!("{polls} polls fetched {polled} bytes (the chunks after the gap: {after_gap})");
    ensure!(
        polled < (after_gap / 4) as f64,
        "{polls} polls fetched {polled} bytes: the chunks after the gap again"
    );
    // Not followed any more: the missing chunk is a recording gap.
    p.eval("reelPlayer.live(false)").await?;
    p.wait_for(
        "reelPlayer.markers().some(m => m.kind === 'gap' && /missing/.test(m.name))",
        WAIT,
    )
    .await
    .context("no gap marker for the missing chunk")?;
    ensure!(
        num(&p, "document.querySelectorAll('.reel-tick-gap').length").await? >= 1.0,
        "no gap tick"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_chunk_is_a_recording_gap() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let t0 = now_ms() - 86_400_000;
    let nodes = vec![node(1, 0, NodeKind::Document), el(2, 1, "html", &[])];
    post(&server, id, t0, 0, &page("https://gap.test/", nodes), 10).await?;
    post(&server, id, t0, 3, &[custom(5_000, "after".into())], 1).await?;
    let p = open_player(&browser, &server, id).await?;
    let gaps = p
        .eval("reelPlayer.markers().filter(m => m.kind === 'gap').map(m => [m.name, m.t])")
        .await?;
    ensure!(
        gaps == json!([["recording gap: 2 chunk(s) missing on the server", 5000]]),
        "{gaps}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_referrer_policy_does_not_apply() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::start(&[]).await?;
    // A 1x1 GIF.
    let gif: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    pages.add_page("/pixel-a.gif", "image/gif", gif);
    pages.add_page("/pixel-b.gif", "image/gif", gif);
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let a = pages.url("/pixel-a.gif");
    let b = pages.url("/pixel-b.gif");
    let nodes = vec![
        node(1, 0, NodeKind::Document),
        el(2, 1, "html", &[]),
        el(3, 2, "head", &[]),
        el(
            4,
            3,
            "meta",
            &[("name", "referrer"), ("content", "unsafe-url")],
        ),
        el(
            5,
            3,
            "meta",
            &[("http-equiv", "Referrer-Policy"), ("content", "unsafe-url")],
        ),
        el(6, 2, "body", &[]),
        el(7, 6, "img", &[("src", &a)]),
        el(
            8,
            6,
            "img",
            &[("src", &b), ("referrerpolicy", "unsafe-url")],
        ),
    ];
    post(
        &server,
        id,
        now_ms() - 86_400_000,
        0,
        &page(&pages.url("/shop.html"), nodes),
        10,
    )
    .await?;
    let p = open_player(&browser, &server, id).await?;
    let deadline = Instant::now() + WAIT;
    let seen = loop {
        let reqs = pages.requests();
        let got: Vec<_> = reqs
            .iter()
            .filter(|r| r.target.starts_with("/pixel-"))
            .cloned()
            .collect();
        if got.len() >= 2 {
            break got;
        }
        ensure!(
            Instant::now() < deadline,
            "the replay's images were not requested"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for r in &seen {
        ensure!(
            r.header("referer").is_none(),
            "{} was requested with Referer {:?}",
            r.target,
            r.header("referer")
        );
    }
    let policy = p
        .eval("document.getElementById('reel-replay').contentDocument.querySelector('meta[name=referrer]').content")
        .await?;
    ensure!(policy == json!("no-referrer"), "{policy}");
    let _: Value = p.eval("1").await?;
    Ok(())
}
