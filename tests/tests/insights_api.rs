//! The insights API (contract §6) end to end: two scripted visits in
//! headless Chromium (`tests/pages/insights/`) recorded by the real
//! recorder into the real server, then every number the session items,
//! the list filters, the heatmap, the scroll map and the funnel return:
//! - visit 1, desktop (a Chrome-on-Mac user agent), from Google, landing
//!   with utm_source/medium/campaign: home, a click 50, 25 px into the
//!   200 x 100 px Buy button, the link to the cart, Pay (a custom event `paid`), a
//!   scroll to the cart's bottom;
//! - visit 2, an iPhone (user agent and a mobile viewport set over CDP),
//!   the same browser (a returning visitor): home, the same click.

use anyhow::{bail, ensure, Result};
use reel_e2e::recording::started_on;
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

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

/// The session's item once `done` holds for it.
async fn item_when(server: &ReelServer, sid: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
    let start = Instant::now();
    loop {
        let item = server.session(sid).await?;
        if done(&item) {
            return Ok(item);
        }
        if start.elapsed() > WAIT {
            bail!("the session never got there: {item}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn get(server: &ReelServer, path: &str) -> Result<Value> {
    let r = server.api("GET", path, b"").await?;
    ensure!(r.status == 200, "{path}: {} {}", r.status, r.text());
    Ok(serde_json::from_slice(&r.body)?)
}

async fn ids(server: &ReelServer, query: &str) -> Result<Vec<String>> {
    let mut ids: Vec<String> = server
        .list_sessions_query(query)
        .await?
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_of_scripted_visits() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let home = pages.url("/insights/home.html");

    // Visit 1: desktop, from Google, with UTM parameters.
    let page = browser.new_page().await?;
    page.call(
        "Emulation.setUserAgentOverride",
        json!({ "userAgent": CHROME_MAC }),
    )
    .await?;
    page.call(
        "Page.navigate",
        json!({
            "url": format!("{home}?utm_source=news&utm_medium=email&utm_campaign=spring"),
            "referrer": "http://www.google.com/",
        }),
    )
    .await?;
    let s1 = started_on(&page, "/insights/home.html", WAIT).await?;
    ensure!(s1.len() == 32, "no session: {s1}");
    click_at(&page, 100.0 + 50.0, 100.0 + 25.0).await?;
    page.wait_for(
        "document.getElementById('out').textContent === 'added'",
        WAIT,
    )
    .await?;
    page.eval("Reel.flush().then(() => true)").await?;
    page.click("#cart").await?;
    ensure!(
        started_on(&page, "/insights/cart.html", WAIT).await? == s1,
        "one session across pages"
    );
    click_at(&page, 150.0, 150.0).await?;
    page.wait_for(
        "document.getElementById('out').textContent === 'paid'",
        WAIT,
    )
    .await?;
    page.eval("window.scrollTo(0, document.documentElement.scrollHeight); true")
        .await?;
    // The recorder sends scroll positions on a short timer after the scroll
    // event (listeners.js), so one flush right away may go before them:
    // flush until the server holds the cart's bottom.
    let start = Instant::now();
    loop {
        page.eval("Reel.flush().then(() => true)").await?;
        let sc = get(&server, "/api/v1/insights/scroll?url=/insights/cart.html").await?;
        if sc["depth"][10]["sessions"] == 1 {
            break;
        }
        ensure!(
            start.elapsed() < WAIT,
            "the cart's bottom never arrived: {sc}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let a = item_when(&server, &s1, |i| {
        i["page_count"] == 2 && i["click_count"] == 3
    })
    .await?;

    // Visit 2: an iPhone, in another tab of the same browser.
    let page2 = browser.new_page().await?;
    page2
        .call(
            "Emulation.setUserAgentOverride",
            json!({ "userAgent": IPHONE }),
        )
        .await?;
    page2
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await?;
    page2.goto(&home).await?;
    let s2 = started_on(&page2, "/insights/home.html", WAIT).await?;
    ensure!(s2 != s1 && s2.len() == 32, "a second session: {s2}");
    click_at(&page2, 100.0 + 50.0, 100.0 + 25.0).await?;
    page2
        .wait_for(
            "document.getElementById('out').textContent === 'added'",
            WAIT,
        )
        .await?;
    page2.eval("Reel.flush().then(() => true)").await?;
    let b = item_when(&server, &s2, |i| i["click_count"] == 1).await?;

    // The items.
    for (k, v) in [
        ("device", json!("desktop")),
        ("browser", json!("Chrome")),
        ("os", json!("Mac OSX")),
        ("utm_source", json!("news")),
        ("utm_medium", json!("email")),
        ("utm_campaign", json!("spring")),
        ("new_visitor", json!(true)),
        ("page_count", json!(2)),
        ("rage_click_count", json!(0)),
        ("dead_click_count", json!(0)),
        ("error_click_count", json!(0)),
    ] {
        ensure!(a[k] == v, "{k} of visit 1: {a}");
    }
    ensure!(
        a["referrer"]
            .as_str()
            .is_some_and(|r| r.contains("google.com")),
        "the referrer of visit 1: {a}"
    );
    let visitor = a["visitor_id"].as_str().unwrap_or_default().to_owned();
    ensure!(!visitor.is_empty(), "a visitor id: {a}");
    for (k, v) in [
        ("device", json!("mobile")),
        ("browser", json!("Safari")),
        ("os", json!("iPhone")),
        ("utm_source", Value::Null),
        ("referrer", Value::Null),
        ("visitor_id", json!(visitor)),
        ("new_visitor", json!(false)),
        ("page_count", json!(1)),
    ] {
        ensure!(b[k] == v, "{k} of visit 2: {b}");
    }

    // The list's filters.
    let both = {
        let mut v = vec![s1.clone(), s2.clone()];
        v.sort();
        v
    };
    for (q, want) in [
        ("device=desktop", vec![s1.clone()]),
        ("device=mobile", vec![s2.clone()]),
        ("browser=safari", vec![s2.clone()]),
        ("os=iPhone", vec![s2.clone()]),
        ("referrer=google", vec![s1.clone()]),
        ("utm_source=news", vec![s1.clone()]),
        ("visited=/insights/cart.html", vec![s1.clone()]),
        ("event=paid", vec![s1.clone()]),
        ("new_visitor=true", vec![s1.clone()]),
        ("new_visitor=false", vec![s2.clone()]),
        ("has_rage_clicks=true", vec![]),
        (&format!("visitor={visitor}"), both.clone()),
    ] {
        ensure!(ids(&server, q).await? == want, "{q}");
    }

    // The heatmap of home: two sessions, two clicks on Buy, each a
    // quarter into the button's width and height.
    let h = get(&server, "/api/v1/insights/clicks?url=/insights/home.html").await?;
    ensure!(h["sessions"] == 2, "{h}");
    let t = &h["targets"][0];
    ensure!(
        t["selector"] == "#buy" && t["label"] == "Buy" && t["clicks"] == 2 && t["sessions"] == 2,
        "{h}"
    );
    // And the link to the cart, once.
    ensure!(
        h["targets"][1]["selector"] == "#cart" && h["targets"][1]["clicks"] == 1,
        "{h}"
    );
    let points: Vec<Value> = h["points"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["selector"] == "#buy")
        .collect();
    ensure!(
        points.len() == 2 && h["points"].as_array().map(Vec::len) == Some(3),
        "{h}"
    );
    for p in &points {
        let near = |v: &Value| v.as_f64().is_some_and(|v| (v - 0.25).abs() <= 0.01);
        ensure!(near(&p["x"]) && near(&p["y"]), "a point a quarter in: {p}");
    }
    let mobile = get(
        &server,
        "/api/v1/insights/clicks?url=/insights/home.html&device=mobile",
    )
    .await?;
    ensure!(
        mobile["sessions"] == 1 && mobile["targets"][0]["clicks"] == 1,
        "{mobile}"
    );

    // The scroll maps: the cart was scrolled to its bottom by visit 1;
    // home was seen by both, neither at its bottom.
    let sc = get(&server, "/api/v1/insights/scroll?url=/insights/cart.html").await?;
    ensure!(
        sc["sessions"] == 1 && sc["depth"][10]["sessions"] == 1,
        "{sc}"
    );
    let sh = get(&server, "/api/v1/insights/scroll?url=/insights/home.html").await?;
    ensure!(
        sh["sessions"] == 2 && sh["depth"][0]["sessions"] == 2 && sh["depth"][10]["sessions"] == 0,
        "{sh}"
    );

    // The funnel home > Buy > cart > paid: 2, 2, 1, 1; visit 2 dropped
    // before the cart.
    let body = json!({"steps": [
        {"url": "/insights/home.html"}, {"click": "Buy"},
        {"url": "/insights/cart.html"}, {"event": "paid"}
    ]});
    let r = server
        .api(
            "POST",
            "/api/v1/insights/funnel",
            body.to_string().as_bytes(),
        )
        .await?;
    ensure!(r.status == 200, "{}", r.text());
    let f: Value = serde_json::from_slice(&r.body)?;
    let counts: Vec<u64> = f["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|x| x["sessions"].as_u64()).collect())
        .unwrap_or_default();
    ensure!(counts == [2, 2, 1, 1], "{f}");
    ensure!(f["steps"][2]["dropped_ids"] == json!([s2]), "{f}");
    ensure!(f["steps"][3]["session_ids"] == json!([s1]), "{f}");

    // Bad input: a 400 with a reason.
    let r = server
        .api(
            "POST",
            "/api/v1/insights/funnel",
            json!({"steps": vec![json!({"url": "/"}); 50]})
                .to_string()
                .as_bytes(),
        )
        .await?;
    ensure!(
        r.status == 400 && r.text().contains("at most 20"),
        "{}",
        r.text()
    );
    Ok(())
}
