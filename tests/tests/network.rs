//! Network capture, end to end (contract §7 "Network"): a page's fetch,
//! XHR and sendBeacon requests are stored as `Network` events with their
//! method, URL, status, duration, sizes and failure; Reel's own requests
//! are not; and secrets sent through every path (query values, credential
//! and redacted headers, JSON and form body fields, a response body, a
//! beacon) are found nowhere in the stored bytes or the API, while the
//! values the options allow are.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::{privacy, Browser, Page, PageServer, ReelServer};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The `Network` payloads of a session's events, in order.
fn network_events(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| e.pointer("/data/Network").cloned())
        .collect()
}

/// Flushes until the session holds at least `n` requests (a response
/// body is read after the page saw the response, so the last one may be
/// recorded a moment after the page's own promise settled).
async fn wait_network(server: &ReelServer, page: &Page, sid: &str, n: usize) -> Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        page.eval("Reel.flush().then(() => true)").await?;
        let got = network_events(&server.events(sid).await?);
        if got.len() >= n {
            return Ok(got);
        }
        if Instant::now() > deadline {
            bail!("{} of {n} requests recorded: {got:#?}", got.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start(page: &Page, opts: &str) -> Result<String> {
    let sid = page.eval(&format!("startReel({opts})")).await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session: {sid}");
    Ok(sid)
}

fn find<'a>(events: &'a [Value], kind: &str, url_part: &str) -> Result<&'a Value> {
    events
        .iter()
        .find(|n| n["kind"] == kind && n["url"].as_str().is_some_and(|u| u.contains(url_part)))
        .with_context(|| format!("no {kind} request to {url_part} in {events:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_recorded_with_status_sizes_and_failures() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/network/capture.html")).await?;
    let sid = start(&page, "{ networkQueryAllow: ['page'] }").await?;
    let seen = page.eval("runCapture()").await?;
    ensure!(
        seen == serde_json::json!([200, 404, "TypeError", "AbortError", 404, 200, 404, true]),
        "the page saw {seen}"
    );
    let events = wait_network(&server, &page, &sid, 8).await?;
    let origin = pages.origin();
    let data_len = std::fs::metadata(reel_e2e::pages::pages_dir().join("network/data.json"))?.len();

    let ok = find(&events, "Fetch", "/network/data.json?page")?;
    ensure!(ok["method"] == "GET" && ok["status"] == 200, "{ok}");
    ensure!(
        ok["url"] == format!("{origin}/network/data.json?page=2&q=•••"),
        "query values are masked but the allowed one: {ok}"
    );
    ensure!(
        ok["response_bytes"] == data_len,
        "size from Content-Length: {ok}"
    );
    ensure!(
        ok["failure"].is_null() && ok["duration_ms"].is_u64(),
        "{ok}"
    );

    let missing = find(&events, "Fetch", "/network/missing.json")?;
    ensure!(
        missing["status"] == 404 && missing["failure"].is_null(),
        "{missing}"
    );

    let refused = find(&events, "Fetch", "127.0.0.1:1/refused")?;
    ensure!(refused["status"] == 0, "{refused}");
    ensure!(
        refused["failure"]
            .as_str()
            .is_some_and(|f| f.starts_with("network error")),
        "{refused}"
    );

    let aborted = find(&events, "Fetch", "aborted=")?;
    ensure!(
        aborted["status"] == 0 && aborted["failure"] == "abort",
        "{aborted}"
    );

    let post = find(&events, "Fetch", "/network/post")?;
    ensure!(
        post["method"] == "POST" && post["status"] == 404 && post["request_bytes"] == 7,
        "{post}"
    );
    // No detail was asked for: no headers, no bodies.
    ensure!(
        post["request_headers"] == serde_json::json!([]) && post["request_body"].is_null(),
        "{post}"
    );

    let x = find(&events, "Xhr", "/network/data.json?via")?;
    ensure!(
        x["method"] == "GET" && x["status"] == 200 && x["response_bytes"] == data_len,
        "{x}"
    );
    let put = find(&events, "Xhr", "/network/put")?;
    ensure!(
        put["method"] == "PUT" && put["status"] == 404 && put["request_bytes"] == 12,
        "{put}"
    );

    let beacon = find(&events, "Beacon", "/network/beacon")?;
    ensure!(
        beacon["method"] == "POST" && beacon["request_bytes"] == 6 && beacon["failure"].is_null(),
        "{beacon}"
    );

    // Reel's own requests (the wasm half, the chunks) are never recorded.
    let own: Vec<_> = events
        .iter()
        .filter(|n| {
            n["url"]
                .as_str()
                .is_some_and(|u| u.starts_with(&server.origin()))
        })
        .collect();
    ensure!(
        own.is_empty(),
        "Reel's own requests were recorded: {own:#?}"
    );
    ensure!(
        events.len() == 8,
        "exactly the page's 8 requests: {events:#?}"
    );
    Ok(())
}

/// Sent by `runSecrets()` in `tests/pages/network/capture.html`.
const SECRETS: &[&str] = &[
    "QUERY-secret-21",
    "QUERY-secret-22",
    "AUTH-secret-23",
    "HDR-secret-24",
    "JSON-secret-27",
    "FORM-secret-28",
    "RESP-secret-30",
    "BEACON-secret-32",
    "BEACON-secret-33",
    "COOKIE-secret-35",
    "QUERY-secret-36",
    "NODETAIL-secret-37",
    "XHRAUTH-secret-38",
    "REQ-secret-39",
];

/// Sent alongside, allowed by the options or not secret: recorded.
const VISIBLE: &[&str] = &[
    "page=2",
    "trace-visible-25",
    "visible-user-26",
    "visible-name-29",
    "visible-orders-31",
    "visible-event-34",
    "visible-city-40",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_sent_by_the_page_is_stored() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/network/capture.html")).await?;
    let sid = start(
        &page,
        "{ networkQueryAllow: ['page'], networkDetailUrls: ['/network/detail/', /\\/network\\/nowhere/], \
         networkRedactHeaders: ['x-custom-secret'] }",
    )
    .await?;
    let seen = page.eval("runSecrets()").await?;
    ensure!(
        seen == serde_json::json!([200, 404, 404, 404, true, 404]),
        "the page saw {seen}"
    );
    // The requests really carried the secrets (else their absence proves
    // nothing).
    let sent = pages.requests();
    let auth = sent
        .iter()
        .find(|r| r.target.starts_with("/network/detail/data.json"))
        .context("the page's first request never arrived")?;
    ensure!(
        auth.header("authorization") == Some("Bearer AUTH-secret-23")
            && auth.header("x-custom-secret") == Some("HDR-secret-24")
            && auth
                .header("cookie")
                .is_some_and(|c| c.contains("COOKIE-secret-35")),
        "the request did not carry its secrets: {auth:?}"
    );
    let events = wait_network(&server, &page, &sid, 6).await?;
    page.eval("Reel.stop().then(() => true)").await?;

    let mut failures = Vec::new();
    for secret in SECRETS {
        failures.extend(privacy::stored_leaks(&server, &sid, secret).await?);
    }
    let all = serde_json::to_string(&events)?;
    for visible in VISIBLE {
        if !all.contains(visible) {
            failures.push(format!("positive control {visible:?} not recorded"));
        }
    }
    let raw = server.raw_chunks(&sid).await?;
    ensure!(
        !privacy::chunk_leaks(&raw, "visible-user-26")?.is_empty(),
        "the byte search does not find what is recorded"
    );
    // Shapes: the detail URL's headers minus credentials and the redacted
    // one, masked fields in place, the plain URL without detail.
    let first = find(&events, "Fetch", "/network/detail/data.json")?;
    let names: Vec<String> = first["request_headers"]
        .as_array()
        .context("request headers")?
        .iter()
        .map(|h| h[0].as_str().unwrap_or_default().to_ascii_lowercase())
        .collect();
    if names != ["x-trace"] {
        failures.push(format!("request headers recorded: {names:?}"));
    }
    let login = find(&events, "Fetch", "/network/detail/login")?;
    if login["request_body"] != r#"{"user":"visible-user-26","password":"•••"}"# {
        failures.push(format!("login body: {}", login["request_body"]));
    }
    let plain = find(&events, "Fetch", "/network/plain")?;
    if !plain["request_body"].is_null() || plain["request_bytes"] != 29 {
        failures.push(format!("a request without detail: {plain}"));
    }
    if !failures.is_empty() {
        bail!(
            "{} problem(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}
