//! What the recorder captures for insights (issue 16, contract §6), for
//! real: scripted visits in headless Chromium (`tests/pages/signals/`)
//! against the real server, checked in the events API and the player's
//! `reelPlayer.markers()`:
//! - every frustration signal where its rule says (a thrash, a rage burst,
//!   dead clicks, an error click, a u-turn A → B → A) and none where it
//!   says not (clicks into a field, on plain text, on a button that
//!   changes the page);
//! - the referrer and the visitor id (new in its first session, returning
//!   in the next), none before consent or under an honoured Do Not Track;
//! - a click's position in its target's box, and the scroll depth at
//!   load and at the bottom, for a known layout.

use anyhow::{bail, ensure, Result};
use reel_e2e::fidelity::open_player;
use reel_e2e::recording::started_on;
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// The session's events once `done` holds for them (flushing the page's
/// recorder, when it has one, before each look).
async fn events_when(
    server: &ReelServer,
    page: Option<&Page>,
    sid: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    loop {
        if let Some(p) = page {
            p.eval("Reel.flush().then(() => true)").await?;
        }
        let events = server.events(sid).await?;
        if done(&events) {
            return Ok(events);
        }
        if start.elapsed() > WAIT {
            bail!("never stored: {what}; signals: {:?}", signals(&events));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// `(kind, selector, count)` of every signal.
fn signals(events: &[Value]) -> Vec<(String, String, u64)> {
    events
        .iter()
        .filter_map(|e| e["data"].get("Signal"))
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or_default().to_string(),
                s["selector"].as_str().unwrap_or_default().to_string(),
                s["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn has(events: &[Value], kind: &str, selector: &str) -> bool {
    signals(events)
        .iter()
        .any(|(k, s, _)| k == kind && (selector.is_empty() || s.contains(selector)))
}

fn metas(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter_map(|e| e["data"].get("Meta"))
        .collect()
}

/// Moves the pointer with real input, `ms` apart (the recorder samples
/// the pointer at most every 50 ms).
async fn move_through(page: &Page, points: &[(f64, f64)], ms: u64) -> Result<()> {
    for &(x, y) in points {
        page.move_mouse(x, y).await?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Ok(())
}

/// A real click at viewport `(x, y)`.
async fn click_at(page: &Page, x: f64, y: f64) -> Result<()> {
    page.move_mouse(x, y).await?;
    for (kind, buttons) in [("mousePressed", 1), ("mouseReleased", 0)] {
        page.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1 }),
        )
        .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_box_positions_depth_referrer_and_visitor() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    let a_url = pages.url("/signals/a.html");
    let b_url = pages.url("/signals/b.html");
    page.goto(&a_url).await?;
    let sid = started_on(&page, "/signals/a.html", WAIT).await?;
    ensure!(sid.len() == 32, "no session: {sid}");

    // A thrashed cursor: ten reversals of 200 px, sampled 60 ms apart.
    let zigzag: Vec<(f64, f64)> = (0..12)
        .map(|i| (if i % 2 == 0 { 100.0 } else { 300.0 }, 500.0))
        .collect();
    move_through(&page, &zigzag, 60).await?;
    events_when(&server, Some(&page), &sid, "a thrashed cursor", |ev| {
        has(ev, "ThrashedCursor", "")
    })
    .await?;

    // Clicks along the page's diagonal: a change, then nothing (dead once
    // its second is over with no change: waited for).
    page.click("#change").await?;
    page.click("#dead").await?;
    let dead = |sel: &'static str| move |ev: &[Value]| has(ev, "DeadClick", sel);
    events_when(
        &server,
        Some(&page),
        &sid,
        "the dead click on #dead",
        dead("#dead"),
    )
    .await?;
    // Into a field, on plain text, then on a box at a known point, which
    // does nothing: nothing changes after any of them, but only the box
    // click is dead; its decision comes after theirs.
    page.click("#field").await?;
    page.click("#text").await?;
    // 50 px into the 200 px box, 25 px into its 100 px: (250, 250).
    click_at(&page, 640.0 + 50.0, 160.0 + 25.0).await?;
    events_when(
        &server,
        Some(&page),
        &sid,
        "the dead click on #box",
        dead("#box"),
    )
    .await?;
    // A rage burst on a counter (each click changes the page), then a
    // button that throws and changes nothing.
    for _ in 0..3 {
        click_at(&page, 880.0 + 50.0, 200.0 + 15.0).await?;
    }
    page.click("#throw").await?;
    let events = events_when(
        &server,
        Some(&page),
        &sid,
        "the dead click on #throw",
        dead("#throw"),
    )
    .await?;
    let sig = signals(&events);
    for (kind, sel) in [
        ("DeadClick", "#dead"),
        ("DeadClick", "#box"),
        ("ErrorClick", "#throw"),
    ] {
        ensure!(has(&events, kind, sel), "no {kind} on {sel}: {sig:?}");
    }
    for sel in ["#change", "#field", "#text", "#rage"] {
        ensure!(
            !has(&events, "DeadClick", sel),
            "a dead click on {sel}, which the rule excludes: {sig:?}"
        );
    }
    let rage: Vec<_> = sig.iter().filter(|(k, _, _)| k == "RageClick").collect();
    ensure!(
        rage.len() == 1 && rage[0].1.contains("#rage") && rage[0].2 == 3,
        "one rage burst of three clicks on #rage: {sig:?}"
    );
    ensure!(
        sig.iter().filter(|(k, _, _)| k == "ThrashedCursor").count() == 1,
        "one thrash, the click path between targets is none: {sig:?}"
    );
    ensure!(
        sig.iter().filter(|(k, _, _)| k == "ErrorClick").count() == 1,
        "one error click: {sig:?}"
    );

    // The box click's position in its target's border box.
    let boxed = events
        .iter()
        .filter_map(|e| e["data"].get("Mouse"))
        .find(|m| {
            m["kind"] == "Click" && m["selector"].as_str().is_some_and(|s| s.contains("#box"))
        })
        .cloned()
        .unwrap_or(Value::Null);
    let (bx, by) = (boxed["box_x"].as_i64(), boxed["box_y"].as_i64());
    ensure!(
        bx.is_some_and(|x| (248..=252).contains(&x))
            && by.is_some_and(|y| (245..=255).contains(&y)),
        "box position of the click 50, 25 px into a 200 x 100 box: {boxed}"
    );

    // Depth of the first fold: the viewport's share of the page.
    let fold = page
        .eval("Math.round(innerHeight / document.documentElement.scrollHeight * 1000)")
        .await?
        .as_i64()
        .unwrap_or(-1);
    let first_depth = events
        .iter()
        .filter_map(|e| e["data"].get("Scroll"))
        .find_map(|s| s["depth"].as_i64());
    ensure!(
        first_depth.is_some_and(|d| (d - fold).abs() <= 1) && fold > 100 && fold < 400,
        "first fold depth {first_depth:?}, expected {fold}"
    );
    page.eval("window.scrollTo(0, document.documentElement.scrollHeight); true")
        .await?;
    events_when(&server, Some(&page), &sid, "a scroll to the bottom", |ev| {
        ev.iter()
            .filter_map(|e| e["data"].get("Scroll"))
            .any(|s| s["depth"] == 1000)
    })
    .await?;
    page.eval("window.scrollTo(0, 0); true").await?;

    // A u-turn: to B, and straight back to A.
    page.eval("Reel.flush().then(() => true)").await?;
    page.click("#next").await?;
    started_on(&page, "/signals/b.html", WAIT).await?;
    page.click("#back").await?;
    ensure!(
        started_on(&page, "/signals/a.html", WAIT).await? == sid,
        "the session did not continue across pages"
    );
    let events = events_when(&server, Some(&page), &sid, "a u-turn", |ev| {
        has(ev, "UTurn", "") && metas(ev).len() >= 3
    })
    .await?;
    let u: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["data"].get("Signal"))
        .filter(|s| s["kind"] == "UTurn")
        .collect();
    ensure!(
        u.len() == 1 && u[0]["label"] == b_url.as_str(),
        "one u-turn, leaving B: {u:?}"
    );

    // Referrer and visitor: none on the first page (typed in), the page
    // before it on the others; one visitor id, new in this session.
    let m = metas(&events);
    ensure!(
        m[0]["referrer"].is_null(),
        "a referrer for a typed URL: {}",
        m[0]
    );
    ensure!(m[1]["referrer"] == a_url.as_str(), "B's referrer: {}", m[1]);
    ensure!(m[2]["referrer"] == b_url.as_str(), "A's referrer: {}", m[2]);
    let vid = m[0]["visitor_id"].as_str().unwrap_or_default().to_string();
    ensure!(vid.len() == 32, "no visitor id: {}", m[0]);
    for meta in &m {
        ensure!(
            meta["visitor_id"] == vid.as_str() && meta["new_visitor"] == true,
            "the same new visitor on every page: {meta}"
        );
    }

    // The player's timeline: a marker for each kind.
    let player = open_player(&browser, &server, &sid).await?;
    let kinds = player
        .eval("[...new Set(reelPlayer.markers().map(m => m.kind))].sort()")
        .await?;
    for k in [
        "dead_click",
        "error_click",
        "rage_click",
        "thrashed_cursor",
        "u_turn",
    ] {
        ensure!(
            kinds.as_array().is_some_and(|a| a.iter().any(|v| v == k)),
            "no {k} marker: {kinds}"
        );
    }
    ensure!(
        player
            .eval("document.querySelectorAll('.reel-tick-dead_click, .reel-tick-u_turn, .reel-tick-thrashed_cursor').length")
            .await?
            .as_u64()
            .unwrap_or(0)
            >= 3,
        "signal ticks not drawn on the timeline"
    );

    // The next session of this browser: the same visitor, returning.
    let again = browser.new_page().await?;
    again.goto(&a_url).await?;
    let sid2 = started_on(&again, "/signals/a.html", WAIT).await?;
    ensure!(sid2 != sid, "a new tab continued the session");
    let ev2 = events_when(
        &server,
        Some(&again),
        &sid2,
        "the second session's Meta",
        |ev| !metas(ev).is_empty(),
    )
    .await?;
    let m2 = metas(&ev2)[0].clone();
    ensure!(
        m2["visitor_id"] == vid.as_str() && m2["new_visitor"] == false,
        "a returning visitor: {m2}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_visitor_id_before_consent_or_under_do_not_track() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let url = pages.url("/corpus/manual.html");
    let page = browser.new_page().await?;
    page.goto(&url).await?;
    let stored = "localStorage.getItem('reel.visitor')";

    page.eval("window.pending = startReel({ requireConsent: true }); true")
        .await?;
    page.eval("addItem('before consent'); true").await?;
    ensure!(
        page.eval(stored).await?.is_null(),
        "a visitor id before consent"
    );
    page.eval("Reel.consent(true); window.pending").await?;
    let sid = page.eval("Reel.sessionId()").await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    let events = events_when(&server, Some(&page), &sid, "the Meta after consent", |ev| {
        !metas(ev).is_empty()
    })
    .await?;
    let vid = metas(&events)[0]["visitor_id"].as_str().map(str::to_string);
    ensure!(
        vid.as_ref().is_some_and(|v| v.len() == 32),
        "no visitor id after consent: {}",
        metas(&events)[0]
    );
    ensure!(
        page.eval(stored)
            .await?
            .as_str()
            .is_some_and(|s| s.contains(vid.as_deref().unwrap_or("-"))),
        "the visitor id is not kept in the page's storage"
    );
    // Opting out forgets it.
    page.eval("Reel.optOut().then(() => true)").await?;
    ensure!(
        page.eval(stored).await?.is_null(),
        "the visitor id kept after opting out"
    );

    // Do Not Track (Global Privacy Control) honoured: nothing is kept.
    let page = browser.new_page().await?;
    page.goto(&url).await?;
    page.eval("localStorage.clear(); Object.defineProperty(navigator, 'globalPrivacyControl', { value: true }); true")
        .await?;
    let r = page.eval("startReel({ respectDoNotTrack: true })").await?;
    ensure!(r.is_null(), "recording under Do Not Track: {r}");
    ensure!(
        page.eval(stored).await?.is_null(),
        "a visitor id under Do Not Track"
    );
    Ok(())
}
