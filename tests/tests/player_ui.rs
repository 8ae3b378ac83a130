//! The player's UI end to end: every control, the markers, the deep link,
//! the side panels, live mode, the sessions list, and the XSS corpus.
//!
//! Most sessions here are built from events (encoded with
//! `reel_shared::encode_chunk` and posted like the recorder would), so the
//! times of clicks, errors and idle stretches are exact; the XSS corpus is
//! recorded from a real page, since what matters there is what a browser
//! really captures.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test player_ui`.

use anyhow::{ensure, Context, Result};
use reel_e2e::sessions::{self, el, meta, new_id, node, now_ms, num, opening, post};
use reel_e2e::{screenshots_dir, Browser, Page, PageServer, ReelServer};
use reel_shared::{
    AttrChange, Console, ConsoleLevel, Custom, Element, Event, EventData, FieldValue, Input,
    MouseInteraction, MouseKind, MousePosition, Mutation, NodeKind, PageError, PageErrorKind,
    Signal, SignalKind, TextChange,
};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A small shop page: `#title` (text node 6) says which second it is.
fn page(href: &str, heading: &str) -> Vec<Event> {
    let nodes = vec![
        node(1, 0, NodeKind::Document),
        el(2, 1, "html", &[]),
        el(3, 2, "head", &[]),
        el(10, 3, "style", &[]),
        node(
            11,
            10,
            NodeKind::Text(
                "body{font:18px sans-serif;margin:40px;background:#fafafa}\
                 h1{color:#1864ab}#box{width:300px;height:120px;background:#ffe066;padding:10px}"
                    .into(),
            ),
        ),
        el(4, 2, "body", &[]),
        el(5, 4, "h1", &[("id", "title")]),
        node(6, 5, NodeKind::Text(heading.into())),
        el(7, 4, "div", &[("id", "box")]),
        node(8, 7, NodeKind::Text("Your cart: 3 items".into())),
        node(
            9,
            4,
            NodeKind::Element(Element {
                tag: "input".into(),
                attrs: vec![("id".into(), "coupon".into())],
                value: Some(FieldValue::Text(String::new())),
                ..Default::default()
            }),
        ),
    ];
    opening(0, meta(href, "Shop"), nodes)
}

fn at(t: u64, data: EventData) -> Event {
    Event { t, data }
}

fn click(t: u64, x: i32, y: i32) -> Event {
    at(
        t,
        EventData::Mouse(MouseInteraction {
            kind: MouseKind::Click,
            id: 7,
            x,
            y,
            label: None,
            selector: None,
            box_x: None,
            box_y: None,
        }),
    )
}

fn moves(t: u64, from: (i32, i32), to: (i32, i32)) -> Event {
    at(
        t,
        EventData::MouseMove(
            (0..10)
                .map(|i| MousePosition {
                    x: from.0 + (to.0 - from.0) * i / 9,
                    y: from.1 + (to.1 - from.1) * i / 9,
                    dt: (i * 20) as u32,
                })
                .collect(),
        ),
    )
}

fn title(t: u64, text: String) -> Event {
    at(
        t,
        EventData::Mutation(Mutation {
            texts: vec![TextChange { id: 6, text }],
            ..Default::default()
        }),
    )
}

/// The controls session, 40 s long (times in ms from its start):
/// navigation at 0, moves and a click at 1000, custom `checkout` at 2000, a
/// rage click at 2500–2900, a console error at 3000, a page error at 3500,
/// typing at 4000; then no user activity until a navigation at 30000 (an
/// idle stretch 4000–30000), and moves until 40000. `#title` reads
/// `step N` from second N on.
fn controls_session() -> Vec<Event> {
    let mut ev = page("https://shop.test/cart", "step 0");
    ev.push(moves(100, (50, 50), (100, 100)));
    ev.push(click(1000, 100, 100));
    ev.push(at(
        2000,
        EventData::Custom(Custom {
            name: "checkout".into(),
            data: None,
        }),
    ));
    for t in [2500, 2700, 2900] {
        ev.push(click(t, 200, 150));
    }
    ev.push(at(
        3000,
        EventData::Console(Console {
            level: ConsoleLevel::Error,
            text: "payment failed: card declined".into(),
        }),
    ));
    ev.push(at(
        3500,
        EventData::PageError(PageError {
            kind: PageErrorKind::Uncaught,
            message: "TypeError: cart is undefined".into(),
            source: Some("https://shop.test/app.js:12:5".into()),
            stack: None,
        }),
    ));
    ev.push(at(
        4000,
        EventData::Input(Input {
            id: 9,
            value: Some(FieldValue::Text("SAVE10".into())),
            checked: None,
            label: None,
            selector: None,
        }),
    ));
    for s in 1..40u64 {
        if s == 30 {
            continue;
        }
        ev.push(title(s * 1000, format!("step {s}")));
    }
    let mut next = page("https://shop.test/done", "step 30");
    for e in &mut next {
        e.t = 30_000;
    }
    ev.extend(next);
    ev.push(at(
        30_500,
        EventData::Mutation(Mutation {
            attrs: vec![AttrChange {
                id: 7,
                name: "style".into(),
                value: Some("background:#b2f2bb".into()),
            }],
            ..Default::default()
        }),
    ));
    for s in 31..=40u64 {
        ev.push(moves(s * 1000, (300, 300), (400, 200 + s as i32)));
    }
    ev
}

async fn open_player(browser: &Browser, server: &ReelServer, path: &str) -> Result<Page> {
    sessions::open_player(browser, server, path, WAIT).await
}

/// The replayed `#title`'s text.
async fn heading(p: &Page) -> Result<String> {
    Ok(p.eval(
        "(document.getElementById('reel-replay').contentDocument.getElementById('title') || {}).textContent || null",
    )
    .await?
    .as_str()
    .unwrap_or("<none>")
    .to_string())
}

async fn seek(p: &Page, t: f64) -> Result<()> {
    p.eval(&format!("reelPlayer.seek({t}).then(() => true)"))
        .await?;
    Ok(())
}

async fn key(p: &Page, key: &str, code: &str, vk: u32, shift: bool) -> Result<()> {
    let modifiers = if shift { 8 } else { 0 };
    let mut down = json!({"type": "keyDown", "key": key, "code": code,
                          "windowsVirtualKeyCode": vk, "modifiers": modifiers});
    if key.chars().count() == 1 {
        down["text"] = json!(key);
    }
    p.call("Input.dispatchKeyEvent", down).await?;
    p.call(
        "Input.dispatchKeyEvent",
        json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk,
               "modifiers": modifiers}),
    )
    .await?;
    // Let the handlers (and a seek's rebuild) run.
    p.eval("new Promise(r => requestAnimationFrame(() => r(true)))")
        .await?;
    Ok(())
}

async fn sleep(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_markers_panels_and_deep_link() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let shots = screenshots_dir();
    let id = new_id()?;
    // A day ago: not live.
    post(
        &server,
        id,
        now_ms() - 86_400_000,
        0,
        &controls_session(),
        20,
    )
    .await?;
    let p = open_player(&browser, &server, &format!("/sessions/{id}")).await?;

    // --- Duration, markers, marker ticks --------------------------------
    ensure!(num(&p, "reelPlayer.duration()").await? == 40_000.0);
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 0.0);
    ensure!(
        p.eval("reelPlayer.live()").await? == json!(false),
        "a day-old session opened live"
    );
    let markers = p.eval("reelPlayer.markers()").await?;
    let kinds: Vec<(String, String, f64)> = markers
        .as_array()
        .context("markers")?
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or("").to_string(),
                m["name"].as_str().unwrap_or("").to_string(),
                m["t"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    for want in [
        ("navigation", "https://shop.test/cart", 0.0),
        ("click", "click", 1000.0),
        ("custom", "checkout", 2000.0),
        ("rage_click", "rage click", 2500.0),
        ("error", "payment failed: card declined", 3000.0),
        ("error", "TypeError: cart is undefined", 3500.0),
        ("navigation", "https://shop.test/done", 30_000.0),
    ] {
        ensure!(
            kinds
                .iter()
                .any(|(k, n, t)| k == want.0 && n == want.1 && *t == want.2),
            "no marker {want:?} in {kinds:?}"
        );
    }
    ensure!(
        kinds.iter().filter(|k| k.0 == "rage_click").count() == 1,
        "{kinds:?}"
    );
    let titles = p
        .eval("[...document.querySelectorAll('.reel-tick-error')].map(b => b.title)")
        .await?;
    ensure!(
        titles[0]
            .as_str()
            .is_some_and(|t| t.contains("Error") && t.contains("payment failed")),
        "hovering an error marker says {titles}"
    );
    p.click(".reel-tick-custom").await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 2000.0);
    ensure!(heading(&p).await? == "step 2", "{}", heading(&p).await?);

    // --- Seeking ----------------------------------------------------------
    seek(&p, 15_500.0).await?;
    ensure!(heading(&p).await? == "step 15");
    seek(&p, 5_000.0).await?;
    ensure!(heading(&p).await? == "step 5");
    seek(&p, 30_600.0).await?;
    let bg = p
        .eval("document.getElementById('reel-replay').contentDocument.getElementById('box').getAttribute('style')")
        .await?;
    ensure!(bg == json!("background:#b2f2bb"), "{bg}");

    // --- Play / pause button, speed control ------------------------------
    seek(&p, 31_000.0).await?;
    p.click("#reel-play").await?;
    sleep(700).await;
    ensure!(p.eval("reelPlayer.playing()").await? == json!(true));
    p.click("#reel-play").await?;
    let t = num(&p, "reelPlayer.currentTime()").await?;
    ensure!(
        p.eval("reelPlayer.playing()").await? == json!(false),
        "pause"
    );
    ensure!(
        (31_300.0..34_000.0).contains(&t),
        "played 0.7 s at 1× to {t}"
    );
    p.eval("(() => { const s = document.getElementById('reel-speed'); s.value = '8'; s.dispatchEvent(new Event('change')); return true; })()").await?;
    ensure!(num(&p, "reelPlayer.speed()").await? == 8.0);
    seek(&p, 31_000.0).await?;
    p.eval("reelPlayer.play()").await?;
    sleep(500).await;
    p.eval("reelPlayer.pause()").await?;
    let t = num(&p, "reelPlayer.currentTime()").await?;
    ensure!(t > 33_500.0, "0.5 s at 8× only got to {t}");
    p.eval("reelPlayer.setSpeed(1)").await?;

    // --- Keyboard ----------------------------------------------------------
    p.eval("document.activeElement && document.activeElement.blur(), true")
        .await?;
    seek(&p, 10_000.0).await?;
    key(&p, "ArrowRight", "ArrowRight", 39, false).await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 15_000.0);
    key(&p, "ArrowLeft", "ArrowLeft", 37, false).await?;
    key(&p, "ArrowLeft", "ArrowLeft", 37, false).await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 5_000.0);
    key(&p, "ArrowLeft", "ArrowLeft", 37, true).await?; // previous marker
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 3500.0);
    key(&p, "ArrowRight", "ArrowRight", 39, true).await?; // next marker
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 30_000.0);
    key(&p, "4", "Digit4", 52, false).await?;
    ensure!(num(&p, "reelPlayer.speed()").await? == 8.0);
    key(&p, "1", "Digit1", 49, false).await?;
    ensure!(num(&p, "reelPlayer.speed()").await? == 1.0);
    key(&p, " ", "Space", 32, false).await?;
    ensure!(p.eval("reelPlayer.playing()").await? == json!(true));
    key(&p, " ", "Space", 32, false).await?;
    ensure!(p.eval("reelPlayer.playing()").await? == json!(false));

    // --- Skip inactivity ---------------------------------------------------
    ensure!(p.eval("reelPlayer.idle()").await? == json!([[4000, 30000]]));
    ensure!(
        p.eval("document.getElementById('reel-skip').checked")
            .await?
            == json!(true)
    );
    ensure!(num(&p, "document.querySelectorAll('.reel-idle-span').length").await? == 1.0);
    seek(&p, 4_100.0).await?;
    p.eval("reelPlayer.play()").await?;
    sleep(600).await;
    p.eval("reelPlayer.pause()").await?;
    let t = num(&p, "reelPlayer.currentTime()").await?;
    ensure!(t > 29_000.0, "skipping inactivity only reached {t}");
    p.click("#reel-skip").await?;
    ensure!(p.eval("reelPlayer.skipInactivity()").await? == json!(false));
    seek(&p, 4_100.0).await?;
    p.eval("reelPlayer.play()").await?;
    sleep(600).await;
    p.eval("reelPlayer.pause()").await?;
    let t = num(&p, "reelPlayer.currentTime()").await?;
    ensure!(t < 6_000.0, "not skipping, 0.6 s went to {t}");
    p.click("#reel-skip").await?;

    // --- Side panels ---------------------------------------------------------
    let events = p
        .eval("[...document.querySelectorAll('#reel-events .reel-entry')].map(e => e.textContent)")
        .await?;
    let events = events.to_string();
    for want in [
        "https://shop.test/cart",
        "click",
        "input",
        "checkout",
        "https://shop.test/done",
    ] {
        ensure!(
            events.contains(want),
            "the event list lacks {want}: {events}"
        );
    }
    let console = p
        .eval("[...document.querySelectorAll('#reel-console .reel-entry')].map(e => e.textContent)")
        .await?
        .to_string();
    ensure!(
        console.contains("payment failed")
            && console.contains("cart is undefined (https://shop.test/app.js:12:5)"),
        "{console}"
    );
    p.click("#reel-console .reel-entry-error:last-child button")
        .await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 3500.0);
    p.click("#reel-events .reel-entry-navigation:last-child button")
        .await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 30_000.0);

    // --- Copy link ------------------------------------------------------------
    seek(&p, 15_500.0).await?;
    p.click("#reel-copy").await?;
    let link = p
        .wait_for("document.getElementById('reel-copied').dataset.link", WAIT)
        .await?;
    let link = link.as_str().context("no link")?.to_string();
    ensure!(
        link.ends_with(&format!("/sessions/{id}?t=15500")),
        "copied {link}"
    );
    seek(&p, 2_950.0).await?;
    p.eval("new Promise(r => setTimeout(() => r(true), 400))")
        .await?;
    p.screenshot(shots.join("player-ui.png")).await?;
    ensure!(
        p.exceptions().is_empty(),
        "the player threw: {:#?}",
        p.exceptions()
    );

    // --- Deep link ----------------------------------------------------------
    let deep = open_player(&browser, &server, &format!("/sessions/{id}?t=15500")).await?;
    ensure!(num(&deep, "reelPlayer.currentTime()").await? == 15_500.0);
    ensure!(
        heading(&deep).await? == "step 15",
        "{}",
        heading(&deep).await?
    );
    ensure!(
        deep.eval("document.getElementById('reel-time').textContent")
            .await?
            == json!("0:15 / 0:40")
    );
    Ok(())
}

/// A seek shows what the page settled into: a CSS transition that the
/// seek's changes start (here 30 s long) is finished at once, forward and
/// back; playing through the same change lets it run, as it ran on the
/// recorded page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seek_shows_transitions_finished_and_playback_runs_them() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let mut events = page("https://fade.test/", "fade");
    // The style text of `page()`, with a slow fade on #box's colour.
    if let EventData::FullSnapshot(snap) = &mut events[1].data {
        for n in &mut snap.nodes {
            if n.id == 11 {
                n.kind = NodeKind::Text(
                    "#box{background-color:rgb(0,0,255);transition:background-color 30s linear}\
                     #box.on{background-color:rgb(255,0,0)}"
                        .into(),
                );
            }
        }
    }
    let class = |t: u64, value: Option<&str>| {
        at(
            t,
            EventData::Mutation(Mutation {
                attrs: vec![AttrChange {
                    id: 7,
                    name: "class".into(),
                    value: value.map(str::to_string),
                }],
                ..Default::default()
            }),
        )
    };
    events.push(class(2_000, Some("on")));
    events.push(class(6_000, None));
    events.push(class(8_000, Some("on")));
    // The pointer moves all along: no idle stretch for playback to skip.
    for k in 0..=40u64 {
        events.push(moves(k * 250, (100, 100), (200, 100 + k as i32)));
    }
    events.sort_by_key(|e| e.t);
    post(&server, id, now_ms() - 60_000, 0, &events, 10).await?;
    let p = open_player(&browser, &server, &format!("/sessions/{id}")).await?;
    let colour = "getComputedStyle(document.getElementById('reel-replay').contentDocument\
                  .getElementById('box')).backgroundColor";
    let red = json!("rgb(255, 0, 0)");
    let blue = json!("rgb(0, 0, 255)");
    // Forward (an incremental step), far back (a diff), and forward again.
    for (t, want) in [
        (3_000.0, &red),
        (7_000.0, &blue),
        (1_000.0, &blue),
        (9_000.0, &red),
    ] {
        seek(&p, t).await?;
        let got = p.eval(colour).await?;
        ensure!(
            &got == want,
            "after seeking to {t} ms #box is {got}, not {want}"
        );
    }
    // Playing through the change at 2 s: the fade runs (30 s long, so a
    // second into it the colour is neither end).
    seek(&p, 1_500.0).await?;
    p.eval("reelPlayer.play()").await?;
    p.wait_for("reelPlayer.currentTime() > 2600", WAIT).await?;
    p.eval("reelPlayer.pause()").await?;
    let got = p.eval(colour).await?;
    let at_ms = num(&p, "reelPlayer.currentTime()").await?;
    ensure!(
        at_ms < 6_000.0 && got != red && got != blue,
        "paused at {at_ms} ms, playing through the change: #box is {got}, so the fade did not run"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_follows_a_session_being_recorded() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let t0 = now_ms();
    post(
        &server,
        id,
        t0,
        0,
        &page("https://live.test/", "step 0"),
        10,
    )
    .await?;
    let p = open_player(&browser, &server, &format!("/sessions/{id}")).await?;
    ensure!(
        p.eval("reelPlayer.live()").await? == json!(true),
        "a session recorded a moment ago should open live"
    );
    ensure!(
        p.eval("document.getElementById('reel-live').classList.contains('reel-on')")
            .await?
            == json!(true)
    );
    ensure!(
        p.eval("reelPlayer.playing()").await? == json!(false),
        "opening live must not start playing by itself"
    );
    // Live off, and on again: that follows the recording from its end.
    p.click("#reel-live").await?;
    ensure!(p.eval("reelPlayer.live()").await? == json!(false));
    p.click("#reel-live").await?;
    ensure!(p.eval("reelPlayer.live()").await? == json!(true));
    ensure!(p.eval("reelPlayer.playing()").await? == json!(true));
    // The recording goes on: three more chunks, a second apart.
    for s in 1..=3u64 {
        sleep(1000).await;
        let t = now_ms() - t0;
        let events = vec![
            title(t, format!("step {s}")),
            at(
                t,
                EventData::Custom(Custom {
                    name: format!("live-{s}"),
                    data: None,
                }),
            ),
        ];
        post(&server, id, t0, s as u32, &events, 10).await?;
    }
    p.wait_for("reelPlayer.markers().some(m => m.name === 'live-3')", WAIT)
        .await
        .context("live events never arrived")?;
    p.wait_for(
        "document.getElementById('reel-replay').contentDocument.getElementById('title').textContent === 'step 3'",
        WAIT,
    )
    .await
    .context("the live replay did not follow")?;
    let d = num(&p, "reelPlayer.duration()").await?;
    ensure!(d >= 2500.0, "duration {d}");
    // Live off: no more following.
    p.click("#reel-live").await?;
    ensure!(p.eval("reelPlayer.live()").await? == json!(false));
    ensure!(p.exceptions().is_empty(), "{:#?}", p.exceptions());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_list_filters_and_deletes() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let day = 86_400_000;
    let old = new_id()?;
    let erroring = new_id()?;
    post(
        &server,
        old,
        now_ms() - 3 * day,
        0,
        &page("https://a.test/home", "x"),
        10,
    )
    .await?;
    // The list filters rage clicks on the server, which knows them from
    // the recorder's signal (contract §6): the one its burst raises.
    let mut raging = controls_session();
    raging.push(at(
        2900,
        EventData::Signal(Signal {
            kind: SignalKind::RageClick,
            since: 2500,
            id: 7,
            x: 200,
            y: 150,
            count: 3,
            label: None,
            selector: None,
        }),
    ));
    raging.sort_by_key(|e| e.t);
    post(&server, erroring, now_ms() - day, 0, &raging, 50).await?;
    let list = reel_e2e::fidelity::authorised_page(&browser, &server).await?;
    list.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1400, "height": 700, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    list.goto(&server.url("/")).await?;
    list.wait_for(
        "document.querySelectorAll('#reel-sessions tbody tr').length === 2",
        WAIT,
    )
    .await?;
    // Newest first, with its pages, clicks and errors.
    let first = list
        .eval("[...document.querySelectorAll('#reel-sessions tbody tr:first-child td')].map(td => td.textContent)")
        .await?;
    ensure!(first[1] == json!("0:40"), "{first}");
    ensure!(first[2] == json!("https://shop.test/cart"), "{first}");
    ensure!(first[3] == json!("2"), "{first}");
    ensure!(first[4] == json!("4"), "{first}");
    ensure!(first[5] != json!("0"), "{first}");
    list.screenshot(screenshots_dir().join("sessions-list.png"))
        .await?;
    // Filters go to the server.
    list.eval("(() => { const c = document.getElementById('reel-errors'); c.checked = true; c.dispatchEvent(new Event('change')); return true; })()").await?;
    list.wait_for(
        "document.querySelectorAll('#reel-sessions tbody tr').length === 1",
        WAIT,
    )
    .await
    .context("has errors")?;
    list.eval("(() => { const c = document.getElementById('reel-errors'); c.checked = false; const u = document.getElementById('reel-url'); u.value = 'a.test/home'; u.dispatchEvent(new Event('input')); return true; })()").await?;
    list.wait_for(
        &format!("[...document.querySelectorAll('#reel-sessions tbody tr')].map(r => r.dataset.id).join() === '{old}'"),
        WAIT,
    )
    .await
    .context("url filter")?;
    list.eval("(() => { const u = document.getElementById('reel-url'); u.value = ''; const m = document.getElementById('reel-min'); m.value = '10'; m.dispatchEvent(new Event('input')); return true; })()").await?;
    list.wait_for(
        &format!("[...document.querySelectorAll('#reel-sessions tbody tr')].map(r => r.dataset.id).join() === '{erroring}'"),
        WAIT,
    )
    .await
    .context("min duration")?;
    // Rage clicks (a filter of the server's, contract §6).
    list.eval("(() => { const m = document.getElementById('reel-min'); m.value = ''; m.dispatchEvent(new Event('input')); return true; })()").await?;
    list.wait_for(
        "document.querySelectorAll('#reel-sessions tbody tr').length === 2",
        WAIT,
    )
    .await?;
    list.click("#reel-rage").await?;
    list.wait_for(
        &format!("[...document.querySelectorAll('#reel-sessions tbody tr:not([hidden])')].map(r => r.dataset.id).join() === '{erroring}'"),
        WAIT,
    )
    .await
    .context("rage filter")?;
    list.click("#reel-rage").await?;
    list.wait_for(
        "document.querySelectorAll('#reel-sessions tbody tr').length === 2",
        WAIT,
    )
    .await?;
    // Delete, confirmed.
    let mut rx = list.subscribe();
    list.eval(&format!(
        "setTimeout(() => document.querySelector('tr[data-id=\"{old}\"] .reel-danger').click()), true"
    ))
    .await?;
    list.wait_event(&mut rx, "Page.javascriptDialogOpening", WAIT)
        .await?;
    list.call("Page.handleJavaScriptDialog", json!({"accept": true}))
        .await?;
    list.wait_for(
        &format!("!document.querySelector('tr[data-id=\"{old}\"]')"),
        WAIT,
    )
    .await?;
    let left: Vec<Value> = server.list_sessions().await?;
    ensure!(
        left.len() == 1 && left[0]["id"] == json!(erroring.to_string()),
        "{left:?}"
    );
    Ok(())
}

/// Records a page full of script-injection payloads and replays it: none
/// may run in the player, open a dialog or navigate anything; an inline
/// script injected into the player page must not run either (its CSP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xss_corpus_stays_inert_in_the_player() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let rec = browser.new_page().await?;
    rec.goto(&pages.url("/xss.html")).await?;
    let session = rec
        .wait_for("window.Reel && Reel.sessionId()", WAIT)
        .await?
        .as_str()
        .context("session id")?
        .to_string();
    // Dynamic payloads too: mutations carry them as well as the snapshot.
    rec.eval("window.addPayloads(), true").await?;
    rec.eval("Reel.event('payloads-added'), Reel.flush().then(() => true)")
        .await?;
    rec.eval("Reel.stop().then(() => true)").await?;
    // A positive control: the payloads are live, they do run where scripts
    // may (the recorded page itself).
    let recorded_hits = rec.eval("window.__xssHits || []").await?;
    eprintln!("payloads that ran in the recorded page itself: {recorded_hits}");
    ensure!(
        recorded_hits.as_array().map_or(0, Vec::len) >= 10,
        "the corpus' payloads did not even run in the recorded page: {recorded_hits}"
    );

    let player = reel_e2e::fidelity::authorised_page(&browser, &server).await?;
    let mut rx = player.subscribe();
    let url = server.url(&format!("/sessions/{session}"));
    player.goto(&url).await?;
    player.wait_for("!!window.reelPlayer", WAIT).await?;
    player.eval("reelPlayer.ready.then(() => true)").await?;
    let d = num(&player, "reelPlayer.duration()").await?;
    for t in [0.0, d / 2.0, d] {
        seek(&player, t).await?;
    }
    // Give timers, refreshes, loads and errors a chance to fire.
    player
        .eval("new Promise(r => setTimeout(() => r(true), 2500))")
        .await?;
    player
        .screenshot(screenshots_dir().join("player-xss.png"))
        .await?;
    let hits = player
        .eval("[window.__xssHits || null, document.getElementById('reel-replay').contentWindow.__xssHits || null]")
        .await?;
    ensure!(
        hits == json!([null, null]),
        "payloads ran in the player: {hits}"
    );
    ensure!(
        player.eval("location.href").await? == json!(url),
        "the player navigated"
    );
    // Links, javascript: links and forms in the replay, activated: none
    // may navigate anything or run anything.
    player
        .eval(
            "(() => { const d = document.getElementById('reel-replay').contentDocument; \
             window.__replayDoc = d; window.__replayUrl = d.URL; \
             for (const id of ['normal', 'jslink', 'jslink2', 'jslink3']) { const a = d.getElementById(id); if (a) a.click(); } \
             const f = d.getElementById('f'); if (f) { try { f.requestSubmit(); } catch (e) {} try { f.submit(); } catch (e) {} } \
             return true; })()",
        )
        .await?;
    player
        .eval("new Promise(r => setTimeout(() => r(true), 1000))")
        .await?;
    // The replay document is written with document.open (so that it takes
    // its recorded compatibility mode), which gives it the player's URL: a
    // navigation would instead replace the document object or its URL.
    let frame = player
        .eval(
            "(() => { const d = document.getElementById('reel-replay').contentDocument; \
             return [d === window.__replayDoc, d.URL, window.__replayUrl]; })()",
        )
        .await?;
    ensure!(
        frame[0] == json!(true) && frame[1] == frame[2],
        "the replay frame navigated: [same document, URL, URL before] = {frame}"
    );
    let hits = player
        .eval("[window.__xssHits || null, document.getElementById('reel-replay').contentWindow.__xssHits || null]")
        .await?;
    ensure!(
        hits == json!([null, null]),
        "activating links or forms ran a payload: {hits}"
    );
    // Defence in depth beyond the sandbox (contract §4's fidelity clause):
    // no `on*` handler attribute or `javascript:` URL survives into the
    // replayed DOM, nor a live <script>, refresh or <base>.
    let leftovers = player
        .eval(
            r#"(() => {
              const out = [], css = [];
              const walk = (doc) => {
                for (const el of doc.querySelectorAll('*')) {
                  for (const a of el.attributes) {
                    const v = a.value.replace(/[\u0000-\u0020]/g, '').toLowerCase();
                    if (/^on/i.test(a.name)) out.push(`${el.tagName} ${a.name}`);
                    // `javascript:void(0)` is how the player neutralises a URL.
                    else if (v.startsWith('javascript:') && v !== 'javascript:void(0)') out.push(`${el.tagName} ${a.name}=${a.value.slice(0, 40)}`);
                    // Known gap, reported: CSS `url(javascript:…)` and IE's
                    // `expression()` in style attributes are kept as
                    // recorded (no browser the player supports runs them).
                    else if (v.includes('url(javascript:') || v.includes('expression(')) css.push(`${el.tagName} ${a.name}`);
                  }
                  if (el.tagName.toLowerCase() === 'script' && el.textContent.trim()) out.push('script with code');
                  if (el.tagName === 'META' && /refresh/i.test(el.getAttribute('http-equiv') || '')) out.push('meta refresh');
                }
              };
              walk(document.getElementById('reel-replay').contentDocument);
              if (css.length) console.warn('reel-test: CSS script URLs kept: ' + css.join(', '));
              return out;
            })()"#,
        )
        .await?;
    ensure!(
        leftovers == json!([]),
        "payloads left in the replayed DOM (inert under the sandbox, but the contract says neutralised): {leftovers}"
    );
    let replayed = player
        .eval("document.getElementById('reel-replay').contentDocument.body.innerHTML.length")
        .await?;
    ensure!(
        replayed.as_f64().unwrap_or(0.0) > 500.0,
        "the corpus was not replayed: {replayed}"
    );
    let mut dialogs = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if ev.method == "Page.javascriptDialogOpening" {
            dialogs.push(ev.params.to_string());
        }
        if ev.method == "Page.frameNavigated" {
            let u = ev.params["frame"]["url"].as_str().unwrap_or("").to_string();
            ensure!(
                u == url || u == "about:srcdoc" || u == "about:blank",
                "a frame navigated to {u}"
            );
        }
    }
    ensure!(dialogs.is_empty(), "dialogs opened: {dialogs:?}");

    // The player page's CSP: an injected inline script does not run.
    let ran = player
        .eval("(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.appendChild(s); return window.__inline === 1; })()")
        .await?;
    ensure!(
        ran == json!(false),
        "an inline script ran in the player page"
    );
    let auth = format!("Bearer {}", server.api_token());
    let resp = reel_e2e::http::get(&url, &[("Authorization", auth.as_str())]).await?;
    let csp = resp
        .header("content-security-policy")
        .context("no CSP header on the player page")?;
    ensure!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline' 'self'")
            && csp.contains("object-src 'none'"),
        "weak CSP: {csp}"
    );
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap_or("");
    ensure!(
        !script_src.contains("unsafe-inline"),
        "script-src allows inline: {csp}"
    );
    ensure!(
        player.exceptions().is_empty(),
        "the player threw: {:#?}",
        player.exceptions()
    );
    Ok(())
}
