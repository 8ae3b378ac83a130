//! The player's support panels end to end (issue 17): the Network panel
//! (waterfall rows, failed requests marked and filtered, details, seeking),
//! errors with their stacks, the event list by label, comments added in the
//! UI and shown on the timeline, and a share link opened in a browser with
//! no cookie, which opens that one session and nothing else, until revoked.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test player_support`.

use anyhow::{ensure, Context, Result};
use reel_e2e::http;
use reel_e2e::sessions::{
    self, el, key_press, labelled_click, labelled_input, meta, network, new_id, node, now_ms, num,
    opening, post,
};
use reel_e2e::{screenshots_dir, Browser, Page, ReelServer};
use reel_shared::{
    Console, ConsoleLevel, Element, Event, EventData, FieldValue, Mutation, NodeKind, PageError,
    PageErrorKind, TextChange,
};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn at(t: u64, data: EventData) -> Event {
    Event { t, data }
}

/// An orders page, 10 s long (ms from its start): a labelled click on
/// "Load orders" at 1000, its request (200, 300 ms, with headers and a
/// body) settling at 1300, typing into "Email" at 2000, Enter in "Search"
/// at 2500, a failed POST (status 0) at 3000, a 503 at 3200, a page error
/// with a stack at 3500 and a console error at 3600; `#title` reads
/// `step N` from second N on.
fn orders_session() -> Vec<Event> {
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
                 h1{color:#1864ab}button{font-size:18px;padding:8px 16px}"
                    .into(),
            ),
        ),
        el(4, 2, "body", &[]),
        el(5, 4, "h1", &[("id", "title")]),
        node(6, 5, NodeKind::Text("step 0".into())),
        el(7, 4, "button", &[("data-testid", "load")]),
        node(8, 7, NodeKind::Text("Load orders".into())),
        node(
            9,
            4,
            NodeKind::Element(Element {
                tag: "input".into(),
                attrs: vec![("aria-label".into(), "Email".into())],
                value: Some(FieldValue::Text(String::new())),
                ..Default::default()
            }),
        ),
    ];
    let mut ev = opening(0, meta("https://shop.test/orders", "Orders"), nodes);
    ev.push(labelled_click(1000, 7, 120, 140, "Load orders"));
    let mut orders = network("GET", "https://shop.test/api/orders?page=*", 200, 300);
    orders.response_bytes = Some(2048);
    orders.request_headers = vec![("accept".into(), "application/json".into())];
    orders.response_headers = vec![("content-type".into(), "application/json".into())];
    orders.response_body = Some(r#"{"orders":[{"id":42}]}"#.into());
    ev.push(at(1300, EventData::Network(orders)));
    ev.push(labelled_input(2000, 9, "a@b.test", "Email"));
    ev.push(key_press(2500, 9, "Enter", "Search"));
    ev.push(at(
        3000,
        EventData::Network(network("POST", "https://shop.test/api/pay", 0, 800)),
    ));
    ev.push(at(
        3200,
        EventData::Network(network("GET", "https://shop.test/api/stock", 503, 100)),
    ));
    ev.push(at(
        3500,
        EventData::PageError(PageError {
            kind: PageErrorKind::Uncaught,
            message: "TypeError: order is undefined".into(),
            source: Some("https://shop.test/app.js:12:5".into()),
            stack: Some(
                "TypeError: order is undefined\n    at pay (https://shop.test/app.js:12:5)\n    \
                 at HTMLButtonElement.onclick (https://shop.test/orders:1:1)"
                    .into(),
            ),
        }),
    ));
    ev.push(at(
        3600,
        EventData::Console(Console {
            level: ConsoleLevel::Error,
            text: "payment failed".into(),
        }),
    ));
    for s in 1..=10u64 {
        ev.push(at(
            s * 1000 + 10,
            EventData::Mutation(Mutation {
                texts: vec![TextChange {
                    id: 6,
                    text: format!("step {s}"),
                }],
                ..Default::default()
            }),
        ));
    }
    ev.sort_by_key(|e| e.t);
    ev
}

async fn texts(p: &Page, selector: &str) -> Result<Vec<String>> {
    let v = p
        .eval(&format!(
            "[...document.querySelectorAll({})].map(e => e.textContent.replace(/\\s+/g, ' ').trim())",
            serde_json::to_string(selector)?
        ))
        .await?;
    Ok(v.as_array()
        .context("not a list")?
        .iter()
        .map(|s| s.as_str().unwrap_or("").to_string())
        .collect())
}

async fn seek(p: &Page, t: f64) -> Result<()> {
    p.eval(&format!("reelPlayer.seek({t}).then(() => true)"))
        .await?;
    Ok(())
}

/// Lets pending animation frames (panel layout) run.
async fn frames(p: &Page) -> Result<()> {
    p.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")
        .await?;
    Ok(())
}

async fn post_session(server: &ReelServer) -> Result<String> {
    let id = new_id()?;
    // A day ago: not live.
    post(server, id, now_ms() - 86_400_000, 0, &orders_session(), 8).await?;
    Ok(id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_errors_labels_and_comments() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let shots = screenshots_dir();
    let id = post_session(&server).await?;
    let p = sessions::open_player(&browser, &server, &format!("/sessions/{id}"), WAIT).await?;

    // --- Events by label ------------------------------------------------------
    let events = texts(&p, "#reel-events .reel-entry-text").await?;
    for want in [
        "Clicked “Load orders”",
        "Typed into “Email”",
        "Pressed Enter in “Search”",
    ] {
        ensure!(
            events.iter().any(|e| e == want),
            "the event list lacks {want}: {events:?}"
        );
    }
    ensure!(
        !events.iter().any(|e| e.contains("api/orders")),
        "requests belong in the Network panel: {events:?}"
    );
    let click = p
        .eval("reelPlayer.markers().find(m => m.kind === 'click')")
        .await?;
    ensure!(click["name"] == "Load orders", "{click}");

    // --- Network ---------------------------------------------------------------
    ensure!(
        p.eval("document.getElementById('reel-drawer-body').hidden")
            .await?
            == json!(true),
        "the drawer starts closed"
    );
    ensure!(
        texts(&p, "#reel-network-count").await? == ["3 · 2 failed"],
        "{:?}",
        texts(&p, "#reel-network-count").await?
    );
    p.click("#reel-tab-network").await?;
    frames(&p).await?;
    let rows = texts(&p, "#reel-network li").await?;
    ensure!(rows.len() == 3, "{rows:?}");
    ensure!(
        rows[0].contains("200")
            && rows[0].contains("GET")
            && rows[0].contains("https://shop.test/api/orders?page=*")
            && rows[0].contains("300 ms")
            && rows[0].contains("2.0 kB")
            && rows[0].starts_with("0:01"),
        "{}",
        rows[0]
    );
    ensure!(
        rows[1].contains("failed") && rows[1].contains("POST") && rows[1].contains("800 ms"),
        "{}",
        rows[1]
    );
    ensure!(rows[2].contains("503"), "{}", rows[2]);
    let failed = num(
        &p,
        "document.querySelectorAll('#reel-network li.reel-net-failed').length",
    )
    .await?;
    ensure!(failed == 2.0, "{failed} rows marked failed");
    // A row seeks to when its request settled, and shows its details.
    p.click("#reel-network li:first-child button").await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 1300.0);
    let detail = p
        .wait_for(
            "!document.getElementById('reel-detail').hidden && document.getElementById('reel-detail').textContent",
            WAIT,
        )
        .await?;
    let detail = detail.as_str().unwrap_or("").to_string();
    for want in [
        "accept: application/json",
        "content-type: application/json",
        r#"{"orders":[{"id":42}]}"#,
        "GET https://shop.test/api/orders?page=*",
    ] {
        ensure!(detail.contains(want), "details lack {want}: {detail}");
    }
    p.eval("new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    p.screenshot(shots.join("support-network-panel.png"))
        .await?;
    // Failed only.
    p.click("#reel-network-failed").await?;
    frames(&p).await?;
    let rows = texts(&p, "#reel-network li").await?;
    ensure!(
        rows.len() == 2 && rows[0].contains("POST") && rows[1].contains("503"),
        "{rows:?}"
    );
    p.click("#reel-network li:last-child button").await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 3200.0);
    p.click("#reel-network-failed").await?;
    frames(&p).await?;
    ensure!(texts(&p, "#reel-network li").await?.len() == 3);

    // --- Errors with their stacks ------------------------------------------
    p.click("#reel-tab-errors").await?;
    frames(&p).await?;
    let errors = texts(&p, "#reel-errors li").await?;
    ensure!(errors.len() == 2, "{errors:?}");
    ensure!(
        errors[0].contains("TypeError: order is undefined (https://shop.test/app.js:12:5)")
            && errors[0].contains("stack"),
        "{}",
        errors[0]
    );
    p.click("#reel-errors li:first-child button").await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 3500.0);
    let detail = p
        .wait_for(
            "!document.getElementById('reel-detail').hidden && document.getElementById('reel-detail').textContent",
            WAIT,
        )
        .await?;
    ensure!(
        detail
            .as_str()
            .unwrap_or("")
            .contains("at pay (https://shop.test/app.js:12:5)"),
        "{detail}"
    );
    p.screenshot(shots.join("support-errors-panel.png")).await?;

    // --- Comments ------------------------------------------------------------
    p.click("#reel-tab-comments").await?;
    ensure!(texts(&p, "#reel-comments li").await?.is_empty());
    seek(&p, 4_500.0).await?;
    p.wait_for(
        "document.getElementById('reel-comment-at').textContent === '0:04'",
        WAIT,
    )
    .await?;
    p.click("#reel-comment-text").await?;
    p.type_text("Pay fails here").await?;
    p.click("#reel-comment-form button[type=submit]").await?;
    p.wait_for(
        "document.querySelectorAll('#reel-comments li').length === 1",
        WAIT,
    )
    .await?;
    let listed = texts(&p, "#reel-comments li").await?;
    ensure!(
        listed[0].contains("0:04")
            && listed[0].contains("admin")
            && listed[0].contains("Pay fails here"),
        "{listed:?}"
    );
    let stored = server
        .api_json(&format!("/api/v1/sessions/{id}/comments"))
        .await?;
    ensure!(
        stored["comments"][0]["t"] == 4500 && stored["comments"][0]["text"] == "Pay fails here",
        "{stored}"
    );
    let marker = p
        .wait_for("reelPlayer.markers().find(m => m.kind === 'comment')", WAIT)
        .await?;
    ensure!(marker["t"] == 4500.0 || marker["t"] == 4500, "{marker}");
    ensure!(
        marker["name"]
            .as_str()
            .unwrap_or("")
            .contains("Pay fails here"),
        "{marker}"
    );
    ensure!(
        num(
            &p,
            "document.querySelectorAll('#reel-markers .reel-tick-comment').length"
        )
        .await?
            == 1.0
    );
    // A comment that is too long is refused, and says why.
    p.eval(
        "(() => { const t = document.getElementById('reel-comment-text'); \
          t.removeAttribute('maxlength'); t.value = 'x'.repeat(2001); return true; })()",
    )
    .await?;
    p.click("#reel-comment-form button[type=submit]").await?;
    let note = p
        .wait_for(
            "document.getElementById('reel-comment-note').textContent",
            WAIT,
        )
        .await?;
    ensure!(note.as_str().unwrap_or("").contains("2000"), "{note}");
    p.eval("document.getElementById('reel-comment-text').value = '', true")
        .await?;
    p.eval("document.getElementById('reel-comment-note').textContent = '', true")
        .await?;
    // A comment's row seeks to its moment.
    seek(&p, 9_000.0).await?;
    p.click("#reel-comments li:first-child button").await?;
    ensure!(num(&p, "reelPlayer.currentTime()").await? == 4500.0);
    p.eval("new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    p.screenshot(shots.join("support-comments.png")).await?;
    ensure!(p.exceptions().is_empty(), "{:#?}", p.exceptions());
    Ok(())
}

/// What a request with `headers` to `path` gets: its status.
async fn status(
    server: &ReelServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<u16> {
    let body: &[u8] = if method == "POST" {
        b"{\"t\":1,\"text\":\"x\",\"expires_in_s\":600}"
    } else {
        b""
    };
    let mut h = headers.to_vec();
    h.push(("Content-Type", "application/json"));
    Ok(http::request(method, &server.url(path), &h, body)
        .await?
        .status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_link_opens_one_session_without_signing_in_until_revoked() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let shots = screenshots_dir();
    let id = post_session(&server).await?;
    let other = post_session(&server).await?;
    let r = server
        .api(
            "POST",
            &format!("/api/v1/sessions/{id}/comments"),
            br#"{"t": 3500, "text": "the error is here"}"#,
        )
        .await?;
    ensure!(r.status == 201, "{}", r.text());

    // Made in the player: the Share button, a link, shown to copy.
    let p = sessions::open_player(&browser, &server, &format!("/sessions/{id}"), WAIT).await?;
    p.click("#reel-share-button").await?;
    p.eval("document.getElementById('reel-share-expiry').value = '3600', true")
        .await?;
    p.click("#reel-share-create").await?;
    let url = p
        .wait_for("document.getElementById('reel-share-url').value", WAIT)
        .await?;
    let url = url.as_str().context("no link")?.to_string();
    let token = url
        .split("share=")
        .nth(1)
        .context("the link carries no token")?
        .to_string();
    ensure!(
        url == server.url(&format!("/sessions/{id}?share={token}")),
        "{url}"
    );
    ensure!(token.len() >= 32, "a short token: {token}");

    // Opened in another browser (no cookie, no token): the player, read-only.
    let fresh = Browser::launch().await?;
    let q = fresh.new_page().await?;
    q.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1400, "height": 860, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    q.goto(&url).await?;
    q.wait_for("!!window.reelPlayer", WAIT).await?;
    q.eval("window.reelPlayer.ready.then(() => true)")
        .await
        .context("the shared replay did not load")?;
    ensure!(num(&q, "reelPlayer.duration()").await? == 10_010.0);
    seek(&q, 4_200.0).await?;
    let heading = q
        .eval("document.getElementById('reel-replay').contentDocument.getElementById('title').textContent")
        .await?;
    ensure!(heading == "step 4", "{heading}");
    q.wait_for(
        "reelPlayer.markers().some(m => m.kind === 'comment' && m.t === 3500)",
        WAIT,
    )
    .await?;
    for hidden in ["#reel-share-button", "#reel-comment-form", ".reel-back"] {
        let h = q
            .eval(&format!(
                "(e => !e || e.offsetParent === null)(document.querySelector('{hidden}'))"
            ))
            .await?;
        ensure!(h == json!(true), "{hidden} shows on a shared replay");
    }
    q.click("#reel-tab-comments").await?;
    q.wait_for(
        "document.querySelectorAll('#reel-comments li').length === 1",
        WAIT,
    )
    .await?;
    q.eval("new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    q.screenshot(shots.join("support-shared-player.png"))
        .await?;

    // From that page, with its cookie, nothing else opens.
    let probe = |method: &str, path: String| {
        format!(
            "fetch({}, {{method: '{method}', headers: {{'content-type': 'application/json'}}, \
              body: {}}}).then(r => r.status)",
            serde_json::to_string(&path).unwrap_or_default(),
            if method == "GET" || method == "DELETE" {
                "undefined"
            } else {
                "'{\"t\":1,\"text\":\"x\",\"expires_in_s\":600}'"
            }
        )
    };
    for (method, path, ok) in [
        ("GET", format!("/api/v1/sessions/{id}"), true),
        ("GET", format!("/api/v1/sessions/{id}/events"), true),
        ("GET", format!("/api/v1/sessions/{id}/comments"), true),
        ("GET", "/api/v1/sessions".to_string(), false),
        ("GET", format!("/api/v1/sessions/{other}"), false),
        ("GET", format!("/api/v1/sessions/{other}/chunks"), false),
        ("DELETE", format!("/api/v1/sessions/{id}"), false),
        ("POST", format!("/api/v1/sessions/{id}/comments"), false),
        ("POST", format!("/api/v1/sessions/{id}/shares"), false),
        ("DELETE", format!("/api/v1/shares/{token}"), false),
        ("GET", "/metrics".to_string(), false),
    ] {
        let s = q.eval(&probe(method, path.clone())).await?;
        let s = s.as_f64().unwrap_or(0.0) as u16;
        if ok {
            ensure!(s == 200, "{method} {path} from the shared page: {s}");
        } else {
            ensure!(
                [401, 403, 404].contains(&s),
                "{method} {path} from the shared page: {s}"
            );
        }
    }
    // The same with the token as a bearer token, outside any browser.
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    ensure!(
        status(
            &server,
            "GET",
            &format!("/api/v1/sessions/{id}/chunks"),
            &auth
        )
        .await?
            == 200
    );
    for (method, path) in [
        ("GET", "/api/v1/sessions".to_string()),
        ("GET", format!("/api/v1/sessions/{other}/events")),
        ("DELETE", format!("/api/v1/sessions/{id}")),
        ("POST", format!("/api/v1/sessions/{id}/comments")),
        ("POST", format!("/api/v1/sessions/{id}/shares")),
        ("DELETE", format!("/api/v1/shares/{token}")),
        ("GET", "/metrics".to_string()),
    ] {
        let s = status(&server, method, &path, &auth).await?;
        ensure!(
            [401, 403].contains(&s),
            "{method} {path} with the share token: {s}"
        );
    }
    // Pages: the list asks for the token; another session's player too.
    q.goto(&server.url("/")).await?;
    ensure!(
        q.eval("!!document.querySelector('form[action=\"/login\"]') && !document.querySelector('#reel-sessions, table')")
            .await?
            == json!(true),
        "the sessions list opened with a share link"
    );
    q.goto(&server.url(&format!("/sessions/{other}?share={token}")))
        .await?;
    ensure!(
        q.eval("!window.reelPlayer && document.body.textContent.includes('not for this session')")
            .await?
            == json!(true),
        "another session opened with a share link"
    );

    // Every live link is listed in the popover, and revocable there, also
    // one made elsewhere (by the API here), whose token the page never saw.
    let r = server
        .api(
            "POST",
            &format!("/api/v1/sessions/{id}/shares"),
            br#"{"expires_in_s": 600}"#,
        )
        .await?;
    ensure!(r.status == 201, "{}", r.text());
    let elsewhere = r.json()?["token"].as_str().context("token")?.to_string();
    let other_auth = format!("Bearer {elsewhere}");
    ensure!(
        status(
            &server,
            "GET",
            &format!("/api/v1/sessions/{id}"),
            &[("Authorization", other_auth.as_str())]
        )
        .await?
            == 200
    );
    p.click("#reel-share-button").await?; // closes
    p.click("#reel-share-button").await?; // opens, listing again
    p.wait_for(
        "document.querySelectorAll('#reel-share-list li').length === 2",
        WAIT,
    )
    .await?;
    p.screenshot(shots.join("support-share-popover.png"))
        .await?;
    p.click("#reel-share-list li:first-child button").await?;
    p.wait_for(
        "document.querySelectorAll('#reel-share-list li').length === 1",
        WAIT,
    )
    .await?;
    ensure!(
        status(
            &server,
            "GET",
            &format!("/api/v1/sessions/{id}"),
            &[("Authorization", other_auth.as_str())]
        )
        .await?
            == 401,
        "the link revoked from the list still opens the session"
    );
    ensure!(
        status(&server, "GET", &format!("/api/v1/sessions/{id}"), &auth).await? == 200,
        "revoking one link revoked another"
    );

    // Revoked in the player: the link opens nothing any more.
    p.click("#reel-share-revoke").await?;
    p.wait_for(
        "document.getElementById('reel-share-note').textContent.includes('revoked')",
        WAIT,
    )
    .await?;
    q.goto(&url).await?;
    ensure!(
        q.eval("!window.reelPlayer && document.body.textContent.includes('revoked')")
            .await?
            == json!(true),
        "a revoked link still opens the player"
    );
    let s = q
        .eval(&format!(
            "fetch('/api/v1/sessions/{id}/chunks').then(r => r.status)"
        ))
        .await?;
    ensure!(
        s == json!(401),
        "the share cookie still reads chunks after revoking: {s}"
    );
    ensure!(
        status(&server, "GET", &format!("/api/v1/sessions/{id}"), &auth).await? == 401,
        "the revoked token still reads the session"
    );
    ensure!(q.exceptions().is_empty(), "{:#?}", q.exceptions());
    Ok(())
}
