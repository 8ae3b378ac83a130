//! Content-addressed assets end to end (issue 14, "Bytes on real pages"): a
//! page with a large inline `<style>` (base64 fonts) and a large linked
//! stylesheet, recorded in two sessions. The first uploads each asset
//! once; the second only offers their hashes and uploads nothing; both
//! replay styled, a share link included; `/events` shows references; a
//! masked text stays inline (masked) and in no asset; deleting one session
//! keeps the assets the other uses, deleting both removes them.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test shared_assets`.

use anyhow::{ensure, Context, Result};
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use reel_shared::asset;
use reel_shared::chunk::{decompress_body, Limits};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Bytes that do not compress, as base64: a font.
fn base64_noise(n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            A[(x % 64) as usize] as char
        })
        .collect()
}

const SECRET: &str = "zebra quartz mango";

fn page(origin: &str, key: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>assets</title>
<script src="{origin}/reel.js"></script>
<style>@font-face {{ font-family: "Noise"; src: url(data:font/woff2;base64,{font}) format("woff2"); }}
#box {{ width: 123px; height: 45px; background: rgb(1, 2, 3); }}</style>
<link rel="stylesheet" href="/big.css">
</head><body>
<div id="box"></div><p id="linked">linked</p>
<div data-reel-mask><p>{secret}</p></div>
<script>
  window.startReel = function () {{
    return Reel.start({{ endpoint: '{origin}', ingestKey: '{key}' }})
      .then(function (s) {{ return s ? s.sessionId : null; }});
  }};
</script>
</body></html>"#,
        font = base64_noise(60_000),
        secret = SECRET.repeat(400),
        origin = origin,
        key = key,
    )
}

fn big_css() -> String {
    let mut s = String::from("#linked { margin-left: 77px; }\n");
    for i in 0..400 {
        s.push_str(&format!(
            ".rule-{i} {{ padding: {i}px; color: rgb({i}, 0, 0); }}\n"
        ));
    }
    s
}

/// A counter of the server's `/metrics`.
async fn metric(server: &ReelServer, name: &str) -> Result<f64> {
    let text = server.api("GET", "/metrics", &[]).await?.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .with_context(|| format!("no {name} in /metrics"))
}

/// Records one session of the page in a fresh browser: its id and how
/// many assets the server was sent for it.
async fn record(server: &ReelServer, pages: &PageServer) -> Result<(String, f64)> {
    let before = metric(server, "reel_asset_uploads_total").await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/assets.html")).await?;
    let sid = page.eval("startReel()").await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session: {sid}");
    // Assets go before chunks: once the chunks are acknowledged, every
    // upload of the session has been answered.
    page.eval("Reel.flush().then(() => true)").await?;
    let uploads = metric(server, "reel_asset_uploads_total").await? - before;
    Ok((sid, uploads))
}

/// The references in a session's `/events`.
fn references(events: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut walk = vec![serde_json::to_value(events).unwrap_or_default()];
    while let Some(v) = walk.pop() {
        match v {
            Value::String(s) => {
                if let Some(h) = asset::parse_ref(&s) {
                    out.push(h.to_string());
                }
            }
            Value::Array(a) => walk.extend(a),
            Value::Object(o) => walk.extend(o.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn asset_text(server: &ReelServer, sid: &str, hash: &str) -> Result<Option<String>> {
    let r = server
        .api("GET", &format!("/api/v1/sessions/{sid}/assets/{hash}"), &[])
        .await?;
    if r.status == 404 {
        return Ok(None);
    }
    ensure!(r.status == 200, "{}: {}", r.status, r.text());
    let limits = Limits {
        max_decompressed: asset::MAX_BYTES,
        ..Limits::default()
    };
    let raw = decompress_body(&r.body, &limits)?;
    Ok(Some(String::from_utf8(raw)?))
}

/// The replay of `sid` in `p` shows the inline and the linked sheet.
async fn check_styled(p: &Page) -> Result<()> {
    p.eval("window.reelPlayer.ready.then(() => true)")
        .await
        .context("the replay did not load")?;
    p.eval("reelPlayer.seek(reelPlayer.duration()).then(() => true)")
        .await?;
    let doc = "document.getElementById('reel-replay').contentDocument";
    let styled = format!(
        "(() => {{ const d = {doc}; const b = d.getElementById('box'), l = d.getElementById('linked');
           if (!b || !l) return 'missing: ' + d.documentElement.outerHTML.slice(0, 400);
           const s = getComputedStyle(b), t = getComputedStyle(l);
           return [s.width, s.backgroundColor, t.marginLeft].join(' '); }})()"
    );
    let got = p
        .wait_for(
            &format!("(() => {{ const v = {styled}; return v.indexOf('123px') === 0 && v; }})()"),
            WAIT,
        )
        .await;
    let got = match got {
        Ok(v) => v,
        Err(_) => p.eval(&styled).await?,
    };
    ensure!(got == "123px rgb(1, 2, 3) 77px", "replayed styles: {got}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_sessions_send_only_what_is_new_and_replay_in_full() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    pages.add_page(
        "/assets.html",
        "text/html",
        page(&server.origin(), server.ingest_key()),
    );
    pages.add_page("/big.css", "text/css", big_css());

    let (first, up1) = record(&server, &pages).await?;
    let (second, up2) = record(&server, &pages).await?;
    // The inline sheet and the linked one: uploaded once, by the first.
    ensure!(up1 == 2.0, "the first session uploaded {up1} assets");
    ensure!(up2 == 0.0, "the second session uploaded {up2} assets");

    // `/events` shows explicit references; each resolves for its session.
    let refs = references(&server.events(&second).await?);
    ensure!(refs.len() == 2, "references in /events: {refs:?}");
    ensure!(refs == references(&server.events(&first).await?));
    for h in &refs {
        let text = asset_text(&server, &second, h)
            .await?
            .context("an asset the session uses")?;
        ensure!(asset::hex(&asset::sha256(text.as_bytes())) == *h);
        ensure!(!text.contains("zebra"), "a masked text in an asset");
    }
    // The masked text is masked inline, in no asset.
    let events = serde_json::to_string(&server.events(&second).await?)?;
    ensure!(
        !events.contains("zebra"),
        "the masked text left the browser"
    );
    // A session reads only its own assets' URLs.
    let other = "0123456789abcdef0123456789abcdef";
    ensure!(asset_text(&server, other, &refs[0]).await?.is_none());

    // The second session replays styled, for a member and a share link.
    let browser = Browser::launch().await?;
    let p = reel_e2e::fidelity::open_player(&browser, &server, &second).await?;
    check_styled(&p).await?;
    let share = server
        .api(
            "POST",
            &format!("/api/v1/sessions/{second}/shares"),
            json!({"expires_in_s": 3600}).to_string().as_bytes(),
        )
        .await?;
    ensure!(share.status == 201, "{}", share.text());
    let url = share.json()?["url"].as_str().context("no url")?.to_string();
    let fresh = Browser::launch().await?;
    let q = fresh.new_page().await?;
    q.goto(&url).await?;
    q.wait_for("!!window.reelPlayer", WAIT).await?;
    check_styled(&q).await?;

    // Deleting the first keeps what the second uses; deleting the second
    // too removes the assets.
    ensure!(server.delete_session(&first).await?.status == 200);
    ensure!(asset_text(&server, &second, &refs[0]).await?.is_some());
    ensure!(server.delete_session(&second).await?.status == 200);
    let (third, up3) = record(&server, &pages).await?;
    ensure!(
        up3 == 2.0,
        "after both deletes, {up3} uploads (the assets were kept)"
    );
    ensure!(asset_text(&server, &third, &refs[0]).await?.is_some());
    Ok(())
}
