//! Cross-origin frames (issue 14): a frame showing a document of another
//! origin (here `localhost` in a page of `127.0.0.1`) cannot be read by the
//! page's recorder; it is recorded as an element with its own attributes
//! (a border, `frameborder`, a class), and the replay shows, in the box the
//! frame had on the page, the document its own recorder sent, or else an
//! honest placeholder ("frame not recorded"), never an empty frame nor
//! today's page.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test cross_origin_frames`.

use anyhow::{ensure, Context, Result};
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_frame_replays_as_a_placeholder_of_its_size() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let other = pages.url("/inner.html").replace("127.0.0.1", "localhost");
    ensure!(other.contains("localhost"), "{other}");
    pages.add_page(
        "/inner.html",
        "text/html",
        "<!doctype html><p id=secret>another origin's page</p>",
    );
    pages.add_page(
        "/outer.html",
        "text/html",
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>outer</title>
<script src="{origin}/reel.js"></script></head>
<body><h1>outer</h1>
<iframe id="x" src="{other}" width="310" height="140" style="border:3px solid #333" onload="window.xloaded = true"></iframe>
<iframe id="z" src="{other}" width="200" height="90" frameborder="0"></iframe>
<script>
  window.startReel = function () {{
    return Reel.start({{ endpoint: '{origin}', ingestKey: '{key}' }})
      .then(function (s) {{ return s ? s.sessionId : null; }});
  }};
</script></body></html>"#,
            origin = server.origin(),
            key = server.ingest_key(),
        ),
    );

    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/outer.html")).await?;
    page.wait_for("window.xloaded === true", WAIT).await?;
    let sid = page.eval("startReel()").await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session: {sid}");
    // One more, added while recording (a mutation), with a border of its own.
    page.eval(
        "new Promise((ok) => { const f = document.createElement('iframe');
           f.id = 'w'; f.src = document.getElementById('x').src; f.width = 150; f.height = 60;
           f.style.border = '5px solid #a00'; f.onload = () => ok(true); document.body.appendChild(f); })",
    )
    .await?;
    let size = page.eval(BOXES).await?;
    page.eval("Reel.flush().then(() => true)").await?;

    // Nothing of the other origin's document left the page.
    let events = serde_json::to_string(&server.events(&sid).await?)?;
    ensure!(
        !events.contains("another origin"),
        "the frame's content was recorded"
    );

    let player = reel_e2e::fidelity::open_player(&browser, &server, &sid).await?;
    player
        .eval("reelPlayer.seek(reelPlayer.duration()).then(() => true)")
        .await?;
    let got = player
        .wait_for(
            &format!(
                "(() => {{ const d = document.getElementById('reel-replay').contentDocument;
                   return d && d.getElementById('w') ? {} : null; }})()",
                BOXES.replace("document.", "d.")
            ),
            WAIT,
        )
        .await?;
    // Each frame in the box it had on the page (its own border), saying
    // it was not recorded.
    for f in ["x", "z", "w"] {
        let (want, got) = (&size[f], &got[f]);
        ensure!(
            (0..4).all(
                |i| (want[i].as_f64().unwrap_or(-1.0) - got[i].as_f64().unwrap_or(-9.0)).abs()
                    <= 1.0
            ),
            "frame {f}'s placeholder {got}, on the page {want}"
        );
        ensure!(
            got[4]
                .as_str()
                .unwrap_or_default()
                .contains("frame not recorded"),
            "{got}"
        );
    }
    ensure!(
        size["x"][2] == 316.0 && size["z"][2] == 200.0 && size["w"][2] == 160.0,
        "the frames' own borders: {size}"
    );
    Ok(())
}

/// The page's recorder and the recorder inside its cross-origin frame share
/// an ingest key: the frame is recorded into the page's session (message
/// passing, `recorder/js/src/crossframe.js`) and replayed in place.
///
/// One page holds the frame under test and a hostile frame that posts
/// forged and malformed messages; a script of the page logs every
/// `message` event. Checked: at each marker (after the frame's first
/// snapshot, a mutation in it, a field typed into, and its navigation to
/// another recorded page) the replay's frame document equals the live
/// frame's (structure) and looks like it (boxes and styles), in a frame
/// element of the live one's box; the frame made no session of its own
/// (`Reel.sessionId()` in it is the page's); nothing the page's script
/// saw nor anything stored holds the masked field's value or the masked
/// text; the hostile frame cost nothing but its own messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_cross_origin_frame_replays_in_place() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let key = server.ingest_key().to_string();
    let other = |path: &str| pages.url(path).replace("127.0.0.1", "localhost");
    for (path, title) in [("/child.html", "first"), ("/child2.html", "second")] {
        pages.add_page(path, "text/html", child_page(&server.origin(), &key, title));
    }
    pages.add_page(
        "/hostile.html",
        "text/html",
        format!(
            r#"<!doctype html><p>hostile</p><script>
  const post = (m) => parent.postMessage(m, '*');
  post({{ reel: 'hello', key: 'not-the-key', n: 1 }});
  post({{ reel: 'chunk', c: new Uint8Array([1, 2, 3]) }});
  let welcomed = false;
  addEventListener('message', (e) => {{
    if (!e.data || e.data.reel !== 'welcome' || welcomed) return;
    welcomed = true;
    post({{ reel: 'chunk', c: new Uint8Array([82, 69, 69, 76, 2, 255, 255, 255, 255]) }});
    post({{ reel: 'chunk', c: 'not bytes' }});
    post({{ reel: 'chunk', c: new Uint8Array(70000) }});
    post({{ reel: 'chunk', c: {{ length: 1e12 }} }});
    post({{ hostileDone: true }});
  }});
  const t = setInterval(() => welcomed ? clearInterval(t) : post({{ reel: 'hello', key: '{key}', n: 2 }}), 100);
</script>"#
        ),
    );
    pages.add_page(
        "/outer.html",
        "text/html",
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>outer</title>
<script>window.seen = []; addEventListener('message', (e) => seen.push(e.data));</script>
<script src="{origin}/reel.js"></script></head>
<body style="margin:10px"><h1>outer</h1>
<iframe id="x" src="{child}" width="310" height="160" style="border:3px solid #333"></iframe>
<iframe id="y" src="{child}" width="240" height="120" frameborder="0"></iframe>
<iframe id="h" src="{hostile}" width="100" height="50"></iframe>
<script>
  window.fromFrame = {{}};
  window.hostileDone = false;
  addEventListener('message', (e) => {{
    const y = e.source === document.getElementById('y').contentWindow;
    if (e.data && e.data.testStep) fromFrame[(y ? 'y:' : '') + e.data.testStep] = e.data;
    if (e.data && e.data.hostileDone) hostileDone = true;
  }});
  // Forged: from the page itself, not from a frame.
  postMessage({{ reel: 'hello', key: '{key}', n: 3 }}, '*');
  window.act = (step) => document.getElementById('x').contentWindow.postMessage({{ testAct: step }}, '*');
  window.startReel = () => Reel.start({{ endpoint: '{origin}', ingestKey: '{key}' }})
    .then((s) => (s ? s.sessionId : null));
</script></body></html>"#,
            origin = server.origin(),
            child = other("/child.html"),
            hostile = other("/hostile.html"),
        ),
    );

    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/outer.html")).await?;
    let sid = page.eval("startReel()").await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session: {sid}");

    // Each step: the frame acts, flushes (its chunk reaches the page
    // first), then reports its document; the page marks right after.
    // Frame `y` (frameborder=0) only loads: at every marker it shows
    // what it reported once ready.
    let mut expected = Vec::new();
    let y_ready = page
        .wait_for("fromFrame['y:ready'] || null", WAIT)
        .await
        .context("frame y never reported ready")?;
    ensure!(
        y_ready["sid"] == sid.as_str(),
        "frame y's Reel.sessionId() is not the page's: {y_ready}"
    );
    for step in ["ready", "mutate", "type", "navigate"] {
        if step != "ready" {
            page.eval(&format!("act('{step}')")).await?;
        }
        let got = page
            .wait_for(&format!("fromFrame['{step}'] || null"), WAIT)
            .await
            .with_context(|| format!("the frame never reported {step}"))?;
        ensure!(
            got["sid"] == sid.as_str(),
            "the frame's Reel.sessionId() is not the page's at {step}: {got}"
        );
        let boxes = page.eval(BOXES).await?;
        page.eval(&format!("Reel.event('{step}')")).await?;
        expected.push((step, got, boxes));
    }
    page.wait_for("hostileDone", WAIT).await?;
    page.eval("Reel.flush().then(() => true)").await?;

    // No session of the frame's own.
    let sessions = server.list_sessions().await?;
    ensure!(sessions.len() == 1, "sessions: {sessions:?}");

    // Privacy: what the page's script saw of Reel's messages, and what
    // was stored, never holds the masked value or text.
    let seen = page
        .eval("JSON.stringify(seen.filter((d) => d && d.reel).map((d) => d.c instanceof Uint8Array ? { ...d, c: Array.from(d.c) } : d))")
        .await?;
    let seen: Vec<serde_json::Value> = serde_json::from_str(seen.as_str().unwrap_or("[]"))?;
    let mut decoded = String::new();
    for m in &seen {
        let text = m.to_string();
        for secret in SECRETS {
            ensure!(!text.contains(secret), "the page saw {secret}: {text}");
        }
        if let Some(bytes) = m["c"].as_array() {
            let bytes: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect();
            if let Ok(c) = reel_shared::decode_chunk(&bytes, &reel_shared::Limits::default()) {
                decoded.push_str(&format!("{:?}", c.events));
            }
        }
    }
    ensure!(
        decoded.contains("frame heading first"),
        "no frame chunk decoded from the page's messages"
    );
    let mut stored = String::new();
    for raw in server.raw_chunks(&sid).await? {
        let mut c = reel_shared::decode_chunk(&raw, &reel_shared::Limits::default())?;
        reel_shared::frames::expand(&mut c.events);
        stored.push_str(&format!("{:?}", c.events));
    }
    ensure!(
        stored.contains("frame heading second"),
        "the frame's events were not stored"
    );
    for secret in SECRETS {
        ensure!(
            !decoded.contains(secret) && !stored.contains(secret),
            "{secret} left the frame"
        );
    }

    // The replay: at each marker, the frame in place, as it was.
    // Page and replay side by side, to be looked at.
    let shots = reel_e2e::screenshots_dir();
    std::fs::create_dir_all(&shots)?;
    page.screenshot(shots.join("cross-origin-frames-page.png"))
        .await?;
    let player = reel_e2e::fidelity::open_player(&browser, &server, &sid).await?;
    for (step, want_x, boxes) in &expected {
        seek_marker(&player, step).await?;
        for (f, want) in [("x", want_x), ("y", &y_ready)] {
            assert_frame_in_place(&player, f, step, want, boxes).await?;
        }
    }
    player
        .screenshot(shots.join("cross-origin-frames-replay.png"))
        .await?;
    // The hostile frame stays a placeholder, and the page itself replays.
    let h1 = player
        .eval("(() => { const d = document.getElementById('reel-replay').contentDocument; return [d.querySelector('h1') && d.querySelector('h1').textContent, d.getElementById('h').getAttribute('srcdoc')]; })()")
        .await?;
    ensure!(
        h1[0] == "outer"
            && h1[1]
                .as_str()
                .unwrap_or_default()
                .contains("frame not recorded"),
        "{h1}"
    );
    Ok(())
}

/// The page's session rotates (here: idle for longer than `idleTimeoutMs`,
/// then a click on the page): its joined frame follows it into the new
/// session (`crossframe.js`: the page welcomes it again, the frame opens
/// the new session with its document). The old session keeps the frame as
/// it was; in the new one the frame's document is there in place from
/// the start, equal to the live one, and a change inside it replays there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_frame_follows_its_page_into_the_next_session() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let key = server.ingest_key().to_string();
    pages.add_page(
        "/child.html",
        "text/html",
        child_page(&server.origin(), &key, "first"),
    );
    pages.add_page(
        "/outer.html",
        "text/html",
        outer_page(&server, &pages, "idleTimeoutMs: 1000"),
    );
    let browser = Browser::launch().await?;
    let (page, first) = open_outer(&browser, &pages).await?;
    ensure!(first.len() == 32, "no session: {first}");
    let ready = page.wait_for("fromFrame.ready || null", WAIT).await?;
    ensure!(ready["sid"] == first.as_str(), "frame not joined: {ready}");
    let ready_boxes = page.eval(BOXES).await?;
    page.eval("Reel.event('ready')").await?;

    // Idle (no input on the page since it started) for longer than
    // idleTimeoutMs, then a click: the page rotates.
    page.eval("window.idleFrom = clock()").await?;
    page.wait_for("clock() - idleFrom > 1200", WAIT).await?;
    page.click("h1").await?;
    let second = page
        .wait_for(
            &format!("Reel.sessionId() !== {first:?} && Reel.sessionId()"),
            WAIT,
        )
        .await
        .context("the page did not rotate")?;
    let second = second.as_str().unwrap_or_default().to_string();
    ensure!(second.len() == 32, "{second}");

    // The frame heard of it before this (messages from the page to the
    // frame arrive in order): it reports from the new session, then
    // changes something there.
    let mut expected = Vec::new();
    for step in ["report", "mutate"] {
        page.eval(&format!("act('{step}')")).await?;
        let got = page
            .wait_for(&format!("fromFrame['{step}'] || null"), WAIT)
            .await
            .with_context(|| format!("the frame never reported {step}"))?;
        ensure!(
            got["sid"] == second.as_str(),
            "the frame did not follow its page into {second} at {step}: {}",
            got["sid"]
        );
        let boxes = page.eval(BOXES).await?;
        page.eval(&format!("Reel.event('{step}')")).await?;
        expected.push((step, got, boxes));
    }
    // A frame chunk marked with the old session, arriving after the
    // rotation, goes into the old session.
    let late = reel_shared::encode_chunk(
        reel_shared::SessionId([3; 16]),
        0,
        &[reel_shared::Event {
            t: 1,
            data: reel_shared::EventData::Custom(reel_shared::Custom {
                name: "sealed for the old session".into(),
                data: None,
            }),
        }],
    )?;
    page.eval(&format!(
        "document.getElementById('x').contentWindow.postMessage({{ testAct: 'late', c: {late:?}, s: {first:?} }}, '*')"
    ))
    .await?;
    page.wait_for("fromFrame.late || null", WAIT).await?;
    page.eval("Reel.flush().then(() => true)").await?;
    let old_events = serde_json::to_string(&server.events(&first).await?)?;
    let new_events = serde_json::to_string(&server.events(&second).await?)?;
    ensure!(
        old_events.contains("sealed for the old session")
            && !new_events.contains("sealed for the old session"),
        "a late chunk for the old session went elsewhere"
    );
    ensure!(
        page.eval("Reel.sessionId()").await? == second.as_str(),
        "the page rotated again"
    );
    let sessions = server.list_sessions().await?;
    ensure!(sessions.len() == 2, "sessions: {sessions:?}");

    // The new session opens with the page's own Meta and snapshot.
    let events = server.events(&second).await?;
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["data"].as_object()?.keys().next().map(String::as_str))
        .collect();
    ensure!(
        kinds.first() == Some(&"Meta") && kinds.get(1) == Some(&"FullSnapshot"),
        "the new session opens with {kinds:?}"
    );

    // The old session: the frame as it was before the rotation.
    let player = reel_e2e::fidelity::open_player(&browser, &server, &first).await?;
    seek_marker(&player, "ready").await?;
    assert_frame_in_place(&player, "x", "ready (old session)", &ready, &ready_boxes).await?;
    // The new one: from its start, and after the change inside the frame.
    let player = reel_e2e::fidelity::open_player(&browser, &server, &second).await?;
    for (step, want, boxes) in &expected {
        seek_marker(&player, step).await?;
        assert_frame_in_place(&player, "x", step, want, boxes).await?;
    }
    let added = player
        .eval("document.getElementById('reel-replay').contentDocument.getElementById('x').contentDocument.querySelectorAll('.row').length")
        .await?;
    ensure!(added == 1, "the frame's change in the new session: {added}");
    Ok(())
}

/// With another key in the frame, the page's recorder does not take it
/// in: the frame records a session of its own, and the page's replay
/// shows the placeholder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_with_another_key_records_on_its_own() -> Result<()> {
    let server =
        ReelServer::start_with_args(&["--ingest-key", "second-key-for-the-frame-0123456789"])
            .await?;
    let pages = PageServer::for_reel(&server).await?;
    pages.add_page(
        "/child.html",
        "text/html",
        child_page(
            &server.origin(),
            "second-key-for-the-frame-0123456789",
            "first",
        ),
    );
    pages.add_page("/outer.html", "text/html", outer_page(&server, &pages, ""));
    let browser = Browser::launch().await?;
    let (page, sid) = open_outer(&browser, &pages).await?;
    let got = page.wait_for("fromFrame.ready || null", WAIT).await?;
    let frame_sid = got["sid"].as_str().unwrap_or_default().to_string();
    ensure!(
        frame_sid.len() == 32 && frame_sid != sid,
        "frame {frame_sid}, page {sid}"
    );
    page.eval("Reel.flush().then(() => true)").await?;
    let frame_events = serde_json::to_string(&server.events(&frame_sid).await?)?;
    ensure!(
        frame_events.contains("frame heading first"),
        "the frame's own session lacks its page"
    );
    let page_events = serde_json::to_string(&server.events(&sid).await?)?;
    ensure!(
        !page_events.contains("frame heading"),
        "the frame went into the page's session"
    );
    let player = reel_e2e::fidelity::open_player(&browser, &server, &sid).await?;
    player
        .eval("reelPlayer.seek(reelPlayer.duration()).then(() => true)")
        .await?;
    player
        .wait_for(
            "(() => { const f = document.getElementById('reel-replay').contentDocument.getElementById('x'); return !!f && (f.getAttribute('srcdoc') || '').includes('frame not recorded'); })()",
            WAIT,
        )
        .await?;
    Ok(())
}

/// A page on 127.0.0.1 with one frame `x` showing `/child.html` from
/// localhost (so cross-origin), a 3 px border around it; `startReel()`
/// starts Reel with the extra options `opts` (an object literal's inside);
/// `act(step)` asks the frame to do `step`; what the frame reports lands
/// in `fromFrame[step]`; `clock()` is the page's time in ms.
fn outer_page(server: &ReelServer, pages: &PageServer, opts: &str) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>outer</title>
<script src="{origin}/reel.js"></script></head>
<body style="margin:10px"><h1>outer</h1>
<iframe id="x" src="{child}" width="310" height="160" style="border:3px solid #333"></iframe>
<script>
  window.fromFrame = {{}};
  addEventListener('message', (e) => {{ if (e.data && e.data.testStep) fromFrame[e.data.testStep] = e.data; }});
  window.act = (step) => document.getElementById('x').contentWindow.postMessage({{ testAct: step }}, '*');
  window.clock = () => performance.timeOrigin + performance.now();
  window.startReel = () => Reel.start({{ endpoint: '{origin}', ingestKey: '{key}', {opts} }})
    .then((s) => (s ? s.sessionId : null));
</script></body></html>"#,
        origin = server.origin(),
        key = server.ingest_key(),
        child = pages.url("/child.html").replace("127.0.0.1", "localhost"),
    )
}

/// Opens [`outer_page`] and starts Reel there: the page, its session id.
async fn open_outer(browser: &Browser, pages: &PageServer) -> Result<(Page, String)> {
    let page = browser.new_page().await?;
    page.goto(&pages.url("/outer.html")).await?;
    let sid = page.eval("startReel()").await?;
    Ok((page, sid.as_str().unwrap_or_default().to_string()))
}

/// Moves the player to the custom marker `step`.
async fn seek_marker(player: &Page, step: &str) -> Result<()> {
    let markers = player.eval("reelPlayer.markers()").await?;
    let t = markers
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|m| m["kind"] == "custom" && m["name"] == step)
        })
        .and_then(|m| m["t"].as_f64())
        .with_context(|| format!("no marker {step}: {markers}"))?;
    player
        .eval(&format!("reelPlayer.seek({t}).then(() => true)"))
        .await?;
    Ok(())
}

/// The replayed frame `f` shows the document its page reported (`want`:
/// `canon` and `visual`, see `child_page`), in the box it had on the page
/// (`boxes`, from `BOXES`).
async fn assert_frame_in_place(
    player: &Page,
    f: &str,
    step: &str,
    want: &serde_json::Value,
    boxes: &serde_json::Value,
) -> Result<()> {
    let replay_frame =
        format!("document.getElementById('reel-replay').contentDocument.getElementById('{f}')");
    player
        .wait_for(
            &format!("!!({replay_frame} && {replay_frame}.contentDocument.body)"),
            WAIT,
        )
        .await
        .with_context(|| format!("no document in frame {f} in the replay at {step}"))?;
    let doc = format!("{replay_frame}.contentDocument");
    let got = reel_e2e::fidelity::canon(player, &doc).await?;
    reel_e2e::fidelity::assert_same(&want["canon"], &got, &format!("frame {f} at {step}"))?;
    let got = player.eval(&reel_e2e::fidelity::visual_expr(&doc)).await?;
    let d = reel_e2e::fidelity::visual_diff(&want["visual"], &got);
    ensure!(d.is_empty(), "frame {f} at {step}, visually: {d:?}");
    let got_box = player
        .eval(&format!("(() => {{ const r = {replay_frame}.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()"))
        .await?;
    let want_box = &boxes[f];
    for i in 0..4 {
        let (a, b) = (
            want_box[i].as_f64().unwrap_or(-1.0),
            got_box[i].as_f64().unwrap_or(-9.0),
        );
        ensure!(
            (a - b).abs() <= 1.0,
            "frame {f}'s box at {step}: page {want_box}, replay {got_box}"
        );
    }
    Ok(())
}

const SECRETS: [&str; 2] = ["FRAME-SECRET-VALUE", "FRAME-MASKED-TEXT"];

/// The boxes of the page's frames (`x`, `y`, `z` where present) and their
/// `srcdoc`, by id.
const BOXES: &str = "(() => { const o = {}; for (const f of document.querySelectorAll('iframe')) { const r = f.getBoundingClientRect(); o[f.id] = [r.x, r.y, r.width, r.height, f.getAttribute('srcdoc')]; } return o; })()";

/// A page for the frame: records with `key`, acts when its parent asks
/// (`report` only reports; `late` posts the chunk it is given, marked
/// with the session it is given), and reports each step (after a flush, so its chunk reached the parent
/// first) with its canonical form and what a viewer sees.
fn child_page(origin: &str, key: &str, title: &str) -> String {
    let canon = reel_e2e::fidelity::canon_expr("document");
    let visual = reel_e2e::fidelity::visual_expr("document");
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 6px; font: 15px/1.3 sans-serif; background: #fafaf0 }} .row {{ height: 20px; background: #cde; margin: 2px 0 }}</style>
<script src="{origin}/reel.js"></script></head>
<body><h2>frame heading {title}</h2><p data-reel-mask>FRAME-MASKED-TEXT</p>
<input id="secret" autocomplete="off"><div id="list"></div>
<script>
  const report = (step) => Reel.flush().then(() => parent.postMessage(
    {{ testStep: step, sid: Reel.sessionId(), canon: {canon}, visual: {visual} }}, '*'));
  addEventListener('message', (e) => {{
    const step = e.data && e.data.testAct;
    if (step === 'mutate') {{
      const d = document.createElement('div');
      d.className = 'row';
      d.textContent = 'added row';
      document.getElementById('list').appendChild(d);
    }} else if (step === 'type') {{
      const i = document.getElementById('secret');
      i.focus();
      i.value = 'FRAME-SECRET-VALUE';
      i.dispatchEvent(new Event('input', {{ bubbles: true }}));
    }} else if (step === 'navigate') {{
      location.href = '/child2.html';
      return;
    }} else if (step === 'late') {{
      // A chunk sealed for the session before (as one sealed just before
      // the page's rotation reached the frame would be).
      parent.postMessage({{ reel: 'chunk', c: new Uint8Array(e.data.c), s: e.data.s }}, '*');
    }} else if (step !== 'report') return;
    report(step);
  }});
  Reel.start({{ endpoint: '{origin}', ingestKey: '{key}' }}).then(() => report('{step0}'));
</script></body></html>"#,
        step0 = if title == "first" {
            "ready"
        } else {
            "navigate"
        },
    )
}
