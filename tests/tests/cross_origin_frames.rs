//! Cross-origin frames (issue 14): a frame showing a document of another
//! origin (here `localhost` in a page of `127.0.0.1`) cannot be read by the
//! page's recorder; it is recorded as a box of its size, and the replay
//! shows an honest placeholder there ("frame not recorded"), of the size
//! the frame had on the page, instead of an empty frame or today's page.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test cross_origin_frames`.

use anyhow::{ensure, Context, Result};
use reel_e2e::{Browser, PageServer, ReelServer};
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
<iframe id="x" src="{other}" width="310" height="140" onload="window.xloaded = true"></iframe>
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
    let size = page
        .eval("(() => { const r = document.getElementById('x').getBoundingClientRect(); return [r.width, r.height]; })()")
        .await?;
    let sid = page.eval("startReel()").await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session: {sid}");
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
            "(() => { const d = document.getElementById('reel-replay').contentDocument;
               const f = d && d.querySelector('iframe[data-reel-block]');
               if (!f) return null;
               const r = f.getBoundingClientRect();
               return [r.width, r.height, f.getAttribute('srcdoc')]; })()",
            WAIT,
        )
        .await?;
    let got = got.as_array().context("no placeholder")?;
    ensure!(
        got[0] == size[0] && got[1] == size[1],
        "placeholder {got:?}, frame on the page {size}"
    );
    ensure!(
        got[2]
            .as_str()
            .unwrap_or_default()
            .contains("frame not recorded"),
        "{got:?}"
    );
    Ok(())
}
