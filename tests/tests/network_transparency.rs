//! Wrapping `fetch`, `XMLHttpRequest` and `sendBeacon` changes nothing the
//! page sees (issue 17): `tests/pages/network/transparency.html` runs the
//! same request scenarios without the recorder, with it, and with it
//! recording headers and bodies of every URL (so responses and `Request`
//! bodies are cloned), and logs what it saw: resolved values, errors
//! (network, CORS, abort, abort reasons, invalid URLs, illegal `this`),
//! unhandled rejections, streamed bodies, `Request` objects with bodies,
//! body types, synchronous XHR, XHR event order and `responseType`s,
//! timeouts, misuse errors, and `sendBeacon`'s return values. The three
//! logs must be equal, entry by entry.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::{Browser, PageServer, ReelServer};
use serde_json::Value;
use tokio::net::TcpListener;

/// A server that accepts connections and never answers (for XHR timeouts);
/// the sockets stay open until the task is dropped.
async fn blackhole() -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    Ok((origin, task))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_sees_the_same_with_and_without_the_recorder() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    // Another origin, without CORS headers.
    let other = PageServer::start(&[]).await?;
    let (hole, hole_task) = blackhole().await?;
    pages.set_var("OTHER_ORIGIN", &other.origin());
    pages.set_var("BLACKHOLE", &hole);
    let browser = Browser::launch().await?;

    let mut runs = Vec::new();
    for mode in ["none", "plain", "detail"] {
        let page = browser.new_page().await?;
        page.goto(&pages.url(&format!("/network/transparency.html?reel={mode}")))
            .await?;
        let out = page
            .eval("runAll()")
            .await
            .with_context(|| format!("mode {mode}"))?;
        ensure!(
            out["wrapped"] == (mode != "none"),
            "mode {mode}: fetch wrapped: {}",
            out["wrapped"]
        );
        if let Some(sid) = out["session"].as_str() {
            // The wrappers were recording: the scenarios' requests are in
            // the session.
            page.eval("Reel.flush().then(() => true)").await?;
            let events = server.events(sid).await?;
            let n = events
                .iter()
                .filter(|e| e.pointer("/data/Network").is_some())
                .count();
            ensure!(n >= 40, "mode {mode}: only {n} requests recorded");
        }
        let _ = page.close().await;
        runs.push((mode, out["log"].clone()));
    }
    drop(hole_task);

    let (_, base) = &runs[0];
    let base = base.as_array().context("no log")?;
    ensure!(base.len() >= 30, "too few scenarios ran: {}", base.len());
    let mut diffs = Vec::new();
    for (mode, log) in &runs[1..] {
        let log = log.as_array().context("no log")?;
        ensure!(
            log.len() == base.len(),
            "mode {mode}: {} entries",
            log.len()
        );
        for (a, b) in base.iter().zip(log) {
            if a != b {
                diffs.push(format!(
                    "{mode}: {}\n    without: {}\n    with:    {}",
                    a[0], a[1], b[1]
                ));
            }
        }
    }
    // Sanity: the scenarios did what they claim (without the recorder).
    let get = |name: &str| -> Value {
        base.iter()
            .find(|e| e[0] == name)
            .map(|e| e[1].clone())
            .unwrap_or(Value::Null)
    };
    ensure!(get("abort")["name"] == "AbortError", "{}", get("abort"));
    ensure!(
        get("abort-reason")["same"] == true,
        "{}",
        get("abort-reason")
    );
    ensure!(
        get("cors-error")["name"] == "TypeError",
        "{}",
        get("cors-error")
    );
    ensure!(get("stream")["bytes"] == 74000, "{}", get("stream"));
    ensure!(
        get("xhr-timeout")["ev"]
            .as_array()
            .is_some_and(|ev| ev.iter().any(|e| e == "timeout:4")),
        "{}",
        get("xhr-timeout")
    );
    ensure!(
        get("unhandled-rejection")["reason"]["name"] == "TypeError",
        "{}",
        get("unhandled-rejection")
    );
    if !diffs.is_empty() {
        bail!(
            "the page saw something else with the recorder:\n  {}",
            diffs.join("\n  ")
        );
    }
    Ok(())
}
