//! The insights page and the sessions list's segments (issue 16), end to
//! end: three scripted visits of a small shop (`tests/pages/insights/`)
//! are recorded by the real recorder in headless Chromium, then
//! `/insights` and `/` are driven in the same browser. Checked: the click
//! heatmap's points land on their targets (by selector and box position)
//! in the replayed frame, the most clicked targets and their rage/dead/
//! error marks, the scroll map's bars, the funnel's numbers and its
//! drop-off link into the list, the list's new columns and filters, and
//! saved segments (saved, applied on both pages, deleted). Screenshots of
//! each view go to `target/e2e-screenshots/insights-*.png`.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test insights_ui`.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::recording::started_on;
use reel_e2e::{screenshots_dir, Browser, Page, PageServer, ReelServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

async fn flush(page: &Page) -> Result<()> {
    page.eval("Reel.flush().then(() => true)").await?;
    Ok(())
}

/// Clicks `selector` `n` times at a point of its border box given as
/// fractions of its width and height, as a user's mouse does.
async fn click_at(page: &Page, selector: &str, fx: f64, fy: f64, n: usize) -> Result<()> {
    let sel = serde_json::to_string(selector)?;
    let r = page
        .eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.scrollIntoView({{ block: 'nearest' }});
               const r = e.getBoundingClientRect();
               return {{ x: r.left + {fx} * r.width, y: r.top + {fy} * r.height }}; }})()"
        ))
        .await?;
    let (x, y) = (r["x"].as_f64().context("x")?, r["y"].as_f64().context("y")?);
    page.move_mouse(x, y).await?;
    for _ in 0..n {
        for (kind, buttons) in [("mousePressed", 1), ("mouseReleased", 0)] {
            page.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1 }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Flushes `page`'s recording and reads `GET /api/v1/sessions/{id}` until
/// `check` accepts the item: the server digests a session as its chunks
/// arrive, and the recorder knows a dead click only once a second has
/// passed without a change.
async fn item_until(
    server: &ReelServer,
    page: &Page,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let start = Instant::now();
    loop {
        flush(page).await?;
        let item = server.session(id).await?;
        if check(&item) {
            return Ok(item);
        }
        if start.elapsed() > WAIT {
            bail!("session {id}: {what} never showed: {item}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Visits {
    /// Landing with `?utm_source=newsletter`, a click on “Add to cart” at
    /// (25 %, 75 %) of its box, scrolled to the bottom, then checkout and
    /// “Pay now” (custom event `purchase`).
    buyer: String,
    /// Three quick clicks on “Add to cart” at (80 %, 30 %) (a rage click),
    /// a click on “Subscribe”, which does nothing (a dead click), scrolled
    /// half-way; leaves.
    browser: String,
    /// On a phone: a click on “Apply coupon”, which throws (an error
    /// click), then checkout; does not pay.
    phone: String,
}

async fn record_visits(
    server: &ReelServer,
    pages: &PageServer,
    browser: &Browser,
) -> Result<Visits> {
    let landing = pages.url("/insights/landing.html");

    let p = browser.new_page().await?;
    p.goto(&format!("{landing}?utm_source=newsletter")).await?;
    let buyer = started_on(&p, "/insights/landing.html", WAIT).await?;
    click_at(&p, "#add", 0.25, 0.75, 1).await?;
    p.wait_for("document.getElementById('count').textContent === '1'", WAIT)
        .await?;
    p.eval("window.scrollTo(0, document.documentElement.scrollHeight); true")
        .await?;
    // The recorder samples scrolling: the bottom is recorded before the
    // click below scrolls back up to the button.
    let bottom = format!("/api/v1/insights/scroll?url=%2Finsights%2Flanding.html&ids={buyer}");
    let start = Instant::now();
    loop {
        flush(&p).await?;
        let s = server.api_json(&bottom).await?;
        if s["depth"][10]["sessions"] == json!(1) {
            break;
        }
        ensure!(
            start.elapsed() < WAIT,
            "the bottom of the page was never recorded: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click_at(&p, "#checkout", 0.5, 0.5, 1).await?;
    started_on(&p, "/insights/checkout.html", WAIT).await?;
    click_at(&p, "#pay", 0.3, 0.4, 1).await?;
    p.wait_for("!document.getElementById('paid').hidden", WAIT)
        .await?;
    item_until(server, &p, &buyer, "the purchase", |s| {
        s["page_count"].as_u64() == Some(2)
    })
    .await?;
    p.close().await?;

    let p = browser.new_page().await?;
    p.goto(&landing).await?;
    let visitor = started_on(&p, "/insights/landing.html", WAIT).await?;
    click_at(&p, "#add", 0.8, 0.3, 3).await?;
    click_at(&p, "#nothing", 0.5, 0.5, 1).await?;
    // Nothing may change before the dead click is known (a scroll would
    // make it not dead).
    item_until(server, &p, &visitor, "a dead click", |s| {
        s["dead_click_count"].as_u64() == Some(1)
    })
    .await?;
    p.eval("window.scrollTo(0, document.documentElement.scrollHeight / 2 - innerHeight / 2); true")
        .await?;
    flush(&p).await?;
    p.close().await?;

    let p = browser.new_page().await?;
    p.call(
        "Emulation.setUserAgentOverride",
        json!({ "userAgent": IPHONE }),
    )
    .await?;
    p.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await?;
    p.goto(&landing).await?;
    let phone = started_on(&p, "/insights/landing.html", WAIT).await?;
    click_at(&p, "#broken", 0.5, 0.5, 1).await?;
    flush(&p).await?;
    click_at(&p, "#checkout", 0.2, 0.5, 1).await?;
    started_on(&p, "/insights/checkout.html", WAIT).await?;
    item_until(server, &p, &phone, "an error click", |s| {
        s["error_click_count"].as_u64() == Some(1) && s["page_count"].as_u64() == Some(2)
    })
    .await?;
    p.close().await?;
    Ok(Visits {
        buyer,
        browser: visitor,
        phone,
    })
}

/// Sets a form control's value as a user does (`input` and `change`).
async fn set_value(page: &Page, selector: &str, value: &str) -> Result<()> {
    page.eval(&format!(
        "(() => {{ const e = document.querySelector({}); e.value = {};
           e.dispatchEvent(new Event('input', {{ bubbles: true }}));
           e.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()",
        serde_json::to_string(selector)?,
        serde_json::to_string(value)?
    ))
    .await?;
    Ok(())
}

/// The ids of the list's rows, in order, joined by commas.
const ROWS: &str =
    "[...document.querySelectorAll('#reel-sessions tbody tr')].map(r => r.dataset.id).join()";

/// Brings `page`'s tab to the front (a tab behind others gets no
/// animation frames, which the player's seek waits for).
async fn front(page: &Page) -> Result<()> {
    page.call("Page.bringToFront", json!({})).await?;
    Ok(())
}

async fn rows_are(page: &Page, ids: &[&str], what: &str) -> Result<()> {
    let want = serde_json::to_string(&ids.join(","))?;
    page.wait_for(&format!("{ROWS} === {want}"), WAIT)
        .await
        .with_context(|| format!("{what}: the list should show {ids:?}"))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_page_and_segments() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let v = record_visits(&server, &pages, &browser).await?;
    let (buyer, visitor, phone) = (v.buyer.as_str(), v.browser.as_str(), v.phone.as_str());

    // What the API says, which the page must show.
    let clicks = server
        .api_json("/api/v1/insights/clicks?url=%2Finsights%2Flanding.html")
        .await?;
    ensure!(clicks["sessions"] == json!(3), "{clicks}");
    let targets = clicks["targets"].as_array().context("targets")?;
    let target = |sel: &str| {
        targets
            .iter()
            .find(|t| t["selector"] == json!(sel))
            .cloned()
            .unwrap_or(Value::Null)
    };
    ensure!(targets[0]["selector"] == json!("#add"), "{clicks}");
    ensure!(target("#add")["clicks"] == json!(4), "{clicks}");
    ensure!(target("#add")["sessions"] == json!(2), "{clicks}");
    ensure!(target("#add")["rage_clicks"] == json!(1), "{clicks}");
    ensure!(target("#nothing")["dead_clicks"] == json!(1), "{clicks}");
    ensure!(target("#broken")["error_clicks"] == json!(1), "{clicks}");
    ensure!(target("#checkout")["clicks"] == json!(2), "{clicks}");
    let scroll = server
        .api_json("/api/v1/insights/scroll?url=%2Finsights%2Flanding.html")
        .await?;
    ensure!(scroll["sessions"] == json!(3), "{scroll}");

    // The heatmap, over the landing page replayed at 1280 px.
    let ins = reel_e2e::fidelity::authorised_page(&browser, &server).await?;
    ins.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1500, "height": 950, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    front(&ins).await?;
    ins.goto(&server.url("/insights?page=%2Finsights%2Flanding.html"))
        .await?;
    if let Err(e) = ins
        .wait_for("document.body.dataset.insPage === 'ready'", WAIT)
        .await
    {
        let why = ins
            .eval("[document.body.dataset.insPage, document.getElementById('reel-status').textContent, document.getElementById('ins-frame-note').textContent, String(window.reelInsights && window.reelInsights.state().frame)]")
            .await?;
        ins.screenshot(screenshots_dir().join("insights-not-ready.png"))
            .await?;
        bail!(
            "the heatmap never became ready: {e:#}; page says {why}; logs {:?}",
            ins.logs()
        );
    }
    let placed = ins.eval("window.reelInsights.state().placed").await?;
    let placed = placed.as_array().context("placed")?;
    ensure!(placed.len() == 8, "every click is a point: {placed:?}");
    for p in placed {
        ensure!(p["placed"] == json!(true), "a point found no target: {p}");
        let (x, y, b) = (&p["x"], &p["y"], &p["box"]);
        let inside = |v: &Value, lo: &Value, len: &Value| {
            let (v, lo, len) = (
                v.as_f64().unwrap_or(-1.0),
                lo.as_f64().unwrap_or(0.0),
                len.as_f64().unwrap_or(0.0),
            );
            v >= lo && v <= lo + len
        };
        ensure!(
            inside(x, &b["left"], &b["width"]) && inside(y, &b["top"], &b["height"]),
            "a point outside its target's box: {p}"
        );
    }
    // The buyer's click at (25 %, 75 %) of “Add to cart”, where it fell.
    let on_add = ins
        .eval(
            "(() => { const d = document.getElementById('ins-frame').contentDocument
                .getElementById('reel-replay').contentDocument;
              const r = d.getElementById('add').getBoundingClientRect();
              const want = [r.left + 0.25 * r.width, r.top + 0.75 * r.height];
              return window.reelInsights.state().placed.some(p => p.selector === '#add'
                && Math.abs(p.x - want[0]) <= 1.5 && Math.abs(p.y - want[1]) <= 1.5); })()",
        )
        .await?;
    ensure!(
        on_add == json!(true),
        "the buyer's click is not where it fell"
    );
    let first = ins
        .eval("[...document.querySelectorAll('#ins-targets tbody tr:first-child td')].map(td => td.textContent)")
        .await?;
    ensure!(
        first[1].as_str().unwrap_or("").starts_with("Add to cart"),
        "{first}"
    );
    ensure!(first[2] == json!("4") && first[3] == json!("2"), "{first}");
    ensure!(
        first[4].as_str().unwrap_or("").contains("1 rage"),
        "{first}"
    );
    let frustrated = ins
        .eval("document.querySelectorAll('#ins-marks .ins-mark-frustrated').length")
        .await?;
    ensure!(
        frustrated == json!(3),
        "rage, dead and error targets marked: {frustrated}"
    );
    ins.screenshot(screenshots_dir().join("insights-heatmap.png"))
        .await?;

    // At phone width the page is laid out again; the points follow.
    set_value(&ins, "#ins-width", "390").await?;
    ins.wait_for(
        "document.body.dataset.insPage === 'ready' && window.reelInsights.state().width === 390
         && document.getElementById('ins-frame').offsetWidth === 390",
        WAIT,
    )
    .await?;
    let inside = ins
        .eval(
            "window.reelInsights.state().placed.every(p => p.placed && p.x >= p.box.left
               && p.x <= p.box.left + p.box.width && p.box.width < 390)",
        )
        .await?;
    ensure!(inside == json!(true), "points off their targets at 390 px");
    ins.screenshot(screenshots_dir().join("insights-heatmap-mobile.png"))
        .await?;
    set_value(&ins, "#ins-width", "1280").await?;
    ins.wait_for(
        "document.body.dataset.insPage === 'ready' && window.reelInsights.state().width === 1280",
        WAIT,
    )
    .await?;

    // The scroll map: one bar per tenth, as the API counted.
    ins.click("#ins-tab-scroll").await?;
    let bars = ins
        .eval("[...document.querySelectorAll('#ins-scroll-bars li')].map(li => [Number(li.dataset.percent), Number(li.dataset.sessions)])")
        .await?;
    let want: Vec<Value> = scroll["depth"]
        .as_array()
        .context("depth")?
        .iter()
        .map(|d| json!([d["percent"], d["sessions"]]))
        .collect();
    ensure!(bars == json!(want), "bars {bars} for {scroll}");
    ensure!(bars[0] == json!([0, 3]) && want.len() == 11, "{bars}");
    ensure!(
        bars[10][1].as_u64() == Some(1),
        "only the buyer reached the bottom: {bars}"
    );
    ins.screenshot(screenshots_dir().join("insights-scroll.png"))
        .await?;

    // The funnel: landing → checkout → purchase.
    ins.click("#ins-tab-funnel").await?;
    ins.eval("(() => { document.getElementById('ins-steps').replaceChildren(); return true; })()")
        .await?;
    for _ in 0..3 {
        ins.click("#ins-add-step").await?;
    }
    for (i, kind, value) in [
        (1, "url", "/insights/landing.html"),
        (2, "url", "/insights/checkout.html"),
        (3, "event", "purchase"),
    ] {
        set_value(
            &ins,
            &format!(".ins-step:nth-child({i}) .ins-step-kind"),
            kind,
        )
        .await?;
        set_value(
            &ins,
            &format!(".ins-step:nth-child({i}) .ins-step-value"),
            value,
        )
        .await?;
    }
    ins.click("#ins-run-funnel").await?;
    ins.wait_for("document.body.dataset.insFunnel === 'ready'", WAIT)
        .await?;
    let counts = ins
        .eval("[...document.querySelectorAll('.ins-funnel-step')].map(s => Number(s.dataset.sessions))")
        .await?;
    ensure!(counts == json!([3, 2, 1]), "funnel {counts}");
    let drops = ins
        .eval("[...document.querySelectorAll('.ins-dropoff')].map(a => [a.textContent, a.getAttribute('href')])")
        .await?;
    ensure!(
        drops
            == json!([
                ["1 dropped", format!("/?ids={visitor}")],
                ["1 dropped", format!("/?ids={phone}")]
            ]),
        "drop-offs {drops}"
    );
    ins.screenshot(screenshots_dir().join("insights-funnel.png"))
        .await?;

    // The most frustrating targets.
    ins.click("#ins-tab-frustration").await?;
    ins.wait_for("document.body.dataset.insFrustration === 'ready'", WAIT)
        .await?;
    let worst = ins
        .eval("[...document.querySelectorAll('#ins-frustrating tbody tr')].map(r => r.dataset.selector).sort().join()")
        .await?;
    ensure!(worst == json!("#add,#broken,#nothing"), "{worst}");
    ins.screenshot(screenshots_dir().join("insights-frustration.png"))
        .await?;

    // A drop-off opens the list with those sessions alone.
    ins.click("#ins-tab-funnel").await?;
    ins.click(".ins-dropoff[data-step='1']").await?;
    rows_are(&ins, &[visitor], "the drop-off link").await?;
    ins.screenshot(screenshots_dir().join("insights-dropoff-list.png"))
        .await?;

    // The list: new columns and the §6 filters.
    let list = reel_e2e::fidelity::authorised_page(&browser, &server).await?;
    list.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1500, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    list.goto(&server.url("/")).await?;
    rows_are(&list, &[phone, visitor, buyer], "all sessions").await?;
    let cells = list
        .eval(&format!(
            "[...document.querySelectorAll('tr[data-id=\"{phone}\"] td')].map(td => td.textContent)"
        ))
        .await?;
    ensure!(
        cells[6].as_str().unwrap_or("").contains("1 error"),
        "{cells}"
    );
    ensure!(
        cells[7].as_str().unwrap_or("").starts_with("Mobile"),
        "{cells}"
    );
    let source = list
        .eval(&format!(
            "document.querySelector('tr[data-id=\"{buyer}\"] td.source').textContent"
        ))
        .await?;
    ensure!(
        source == json!("newsletter"),
        "the buyer came from {source}"
    );
    let signals = list
        .eval(&format!(
            "document.querySelector('tr[data-id=\"{visitor}\"] td.signals').textContent"
        ))
        .await?;
    ensure!(
        signals.as_str().unwrap_or("").contains("1 rage")
            && signals.as_str().unwrap_or("").contains("1 dead"),
        "{signals}"
    );
    list.click("#reel-more-filters").await?;
    set_value(&list, "#reel-device", "mobile").await?;
    rows_are(&list, &[phone], "device = mobile").await?;
    set_value(&list, "#reel-device", "").await?;
    set_value(&list, "#reel-event", "purchase").await?;
    rows_are(&list, &[buyer], "event = purchase").await?;
    set_value(&list, "#reel-event", "").await?;
    set_value(&list, "#reel-utm-source", "newsletter").await?;
    rows_are(&list, &[buyer], "utm_source").await?;
    set_value(&list, "#reel-utm-source", "").await?;
    list.click("#reel-dead").await?;
    rows_are(&list, &[visitor], "has dead clicks").await?;
    list.click("#reel-dead").await?;

    // Saved segments: save “Phones” on the list...
    set_value(&list, "#reel-device", "mobile").await?;
    rows_are(&list, &[phone], "device = mobile").await?;
    list.click("#reel-segment-save").await?;
    set_value(&list, "#reel-segment-name", "Phones").await?;
    list.eval("document.getElementById('reel-segment-form').requestSubmit(), true")
        .await?;
    list.wait_for(
        "[...document.querySelectorAll('#reel-segment option')].some(o => o.textContent === 'Phones')",
        WAIT,
    )
    .await?;
    list.screenshot(screenshots_dir().join("insights-list-segment.png"))
        .await?;
    let saved = server.api_json("/api/v1/segments").await?;
    ensure!(
        saved["segments"][0]["name"] == json!("Phones")
            && saved["segments"][0]["filters"] == json!({"device": "mobile"}),
        "{saved}"
    );
    let seg_id = saved["segments"][0]["id"]
        .as_str()
        .context("id")?
        .to_string();
    // ...apply it on a fresh list...
    list.goto(&server.url("/")).await?;
    rows_are(&list, &[phone, visitor, buyer], "no filter").await?;
    list.wait_for(
        &format!("!!document.querySelector('#reel-segment option[value=\"{seg_id}\"]')"),
        WAIT,
    )
    .await?;
    set_value(&list, "#reel-segment", &seg_id).await?;
    rows_are(&list, &[phone], "the saved segment").await?;
    ensure!(
        list.eval("document.getElementById('reel-device').value")
            .await?
            == json!("mobile"),
        "the segment's filter is shown"
    );
    // ...and on the insights page: the heatmap counts that session alone.
    front(&ins).await?;
    ins.goto(&server.url("/insights?page=%2Finsights%2Flanding.html"))
        .await?;
    ins.wait_for("document.body.dataset.insPage === 'ready'", WAIT)
        .await?;
    ins.wait_for(
        &format!("!!document.querySelector('#reel-segment option[value=\"{seg_id}\"]')"),
        WAIT,
    )
    .await?;
    set_value(&ins, "#reel-segment", &seg_id).await?;
    ins.wait_for(
        "document.body.dataset.insPage === 'ready' && window.reelInsights.state().clicks.sessions === 1",
        WAIT,
    )
    .await
    .context("the segment on the insights page")?;
    let frame = ins.eval("window.reelInsights.state().frame").await?;
    ensure!(
        frame == json!(phone),
        "the frame comes from the segment: {frame}"
    );
    // Deleted, it is gone.
    front(&list).await?;
    list.click("#reel-segment-delete").await?;
    list.wait_for(
        &format!("!document.querySelector('#reel-segment option[value=\"{seg_id}\"]')"),
        WAIT,
    )
    .await?;
    let saved = server.api_json("/api/v1/segments").await?;
    ensure!(saved["segments"] == json!([]), "{saved}");
    Ok(())
}

/// The segments endpoint's bad input (`400` with a JSON error) and roles
/// (a viewer reads, a member saves and deletes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_segments_refuse_bad_input() -> Result<()> {
    let server = ReelServer::start().await?;
    for (body, want) in [
        (&b"not json"[..], "JSON"),
        (br#"{"name": "", "filters": {}}"#, "name"),
        (
            br#"{"name": "x", "filters": {"colour": "red"}}"#,
            "unknown filter",
        ),
        (
            br#"{"name": "x", "filters": {"device": ["a"]}}"#,
            "must be a string",
        ),
        (
            br#"{"name": "x", "filters": {"device": "fridge"}}"#,
            "device",
        ),
    ] {
        let r = server.api("POST", "/api/v1/segments", body).await?;
        ensure!(
            r.status == 400,
            "{} for {:?}",
            r.status,
            String::from_utf8_lossy(body)
        );
        let e = r.json()?;
        ensure!(
            e["error"].as_str().unwrap_or("").contains(want),
            "{e} should say {want}"
        );
    }
    let r = server
        .api("DELETE", "/api/v1/segments/0123456789abcdef", b"")
        .await?;
    ensure!(r.status == 404, "{}", r.status);
    let r = server.api("DELETE", "/api/v1/segments/nope", b"").await?;
    ensure!(r.status == 400, "{}", r.status);
    let r = reel_e2e::http::get(&server.url("/api/v1/segments"), &[]).await?;
    ensure!(r.status == 401, "no token: {}", r.status);

    // A viewer reads the segments; saving and deleting take a member.
    let made = server
        .api(
            "POST",
            "/api/v1/members",
            br#"{"email": "viewer@example.com", "role": "viewer"}"#,
        )
        .await?
        .ensure_success("adding a viewer")?
        .json()?;
    let login = serde_json::to_vec(&json!({
        "email": "viewer@example.com",
        "password": made["password"],
    }))?;
    let token = reel_e2e::http::request(
        "POST",
        &server.url("/api/v1/auth/login"),
        &[("Content-Type", "application/json")],
        &login,
    )
    .await?
    .ensure_success("the viewer's sign-in")?
    .json()?["token"]
        .as_str()
        .context("a token")?
        .to_string();
    let viewer = format!("Bearer {token}");
    let saved = server
        .api(
            "POST",
            "/api/v1/segments",
            br#"{"name": "Phones", "filters": {"device": "mobile"}}"#,
        )
        .await?;
    ensure!(saved.status == 201, "the API token saves: {}", saved.status);
    let id = saved.json()?["id"].as_str().context("id")?.to_string();
    let r = reel_e2e::http::get(
        &server.url("/api/v1/segments"),
        &[("Authorization", &viewer)],
    )
    .await?;
    ensure!(
        r.status == 200 && r.json()?["segments"][0]["name"] == json!("Phones"),
        "a viewer reads them: {}",
        r.status
    );
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/segments".to_string(),
            &br#"{"name": "x", "filters": {}}"#[..],
        ),
        ("DELETE", format!("/api/v1/segments/{id}"), &b""[..]),
    ] {
        let r = reel_e2e::http::request(
            method,
            &server.url(&path),
            &[
                ("Authorization", &viewer),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .await?;
        ensure!(r.status == 403, "{method} {path} as a viewer: {}", r.status);
    }
    Ok(())
}
