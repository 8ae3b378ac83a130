//! What a viewer sees beyond the DOM, page against replay (issue 14, "What
//! was seen on real pages"): boxes and computed styles the canonical DOM
//! comparison (`canon.js`) cannot see.
//!
//! - `<noscript>`: the page ran script, so its `<noscript>` showed nothing;
//!   the replay (which runs none) must not show it either, and a
//!   `<noscript>` stylesheet link (rustdoc's) must move no box.
//! - Document mode: the top document and each frame document (`src` and
//!   `srcdoc`) replay in the compatibility mode they were recorded in, so
//!   body margins and the root's height match.
//! - A masked `<select>` shows an option (not an empty box) without
//!   revealing which one was chosen: no value of it leaves the browser.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::fidelity::{check_replay, mark_seen, REPLAY_DOCUMENT};
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// What is rendered, as a JS function of a document: the compatibility
/// mode and layout of each document (top and frames), every `<noscript>`'s
/// and a few elements' boxes (rounded to whole pixels), and what the
/// select shows.
const RENDERED: &str = r#"(doc) => {
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return [r.x, r.y, r.width, r.height].map(Math.round);
  };
  const layout = (d) => {
    const w = d.defaultView;
    const body = d.body;
    return {
      mode: d.compatMode,
      rootHeight: d.documentElement ? Math.round(d.documentElement.getBoundingClientRect().height) : null,
      bodyMargin: body ? w.getComputedStyle(body).margin : null,
      bodyBox: box(body),
      first: box(body && body.firstElementChild),
    };
  };
  const byId = (id) => doc.getElementById(id);
  const style = (el) => {
    if (!el) return null;
    const cs = doc.defaultView.getComputedStyle(el);
    return [cs.display, cs.lineHeight, cs.fontSize, cs.fontFamily, cs.color].join(' | ');
  };
  const sel = byId('sel');
  return {
    top: layout(doc),
    frames: Array.from(doc.querySelectorAll('iframe[id]'), (f) => [f.id, f.contentDocument && layout(f.contentDocument)]),
    noscripts: Array.from(doc.querySelectorAll('noscript'), box),
    after: [box(byId('after')), style(byId('after'))],
    next: box(byId('next')),
    select: sel && { shows: sel.selectedIndex >= 0 && sel.options[sel.selectedIndex].text.length > 0, box: box(sel) },
  };
}"#;

async fn rendered(page: &Page, doc: &str) -> Result<Value> {
    page.eval(&format!("({RENDERED})({doc})")).await
}

/// Records `page` (running `steps`, a marker after each), then checks the
/// replay at each marker: canonical DOM and what is rendered. Returns the
/// session id.
async fn record_and_compare(
    browser: &Browser,
    server: &ReelServer,
    pages: &PageServer,
    name: &str,
    steps: &[&str],
) -> Result<String> {
    let page = browser.new_page().await?;
    page.goto(&pages.url(&format!("/corpus/{name}.html")))
        .await?;
    let sid = page
        .wait_for("window.Reel && Reel.sessionId()", WAIT)
        .await
        .with_context(|| format!("{name}: the recorder never started: {:?}", page.logs()))?
        .as_str()
        .context("sessionId is not a string")?
        .to_string();
    page.eval("Reel.flush().then(() => true)").await?;
    let mut expected = vec![("m0".to_string(), mark_seen(&page, "m0").await?)];
    let mut shown = vec![rendered(&page, "document").await?];
    for (i, step) in steps.iter().enumerate() {
        page.eval(step)
            .await
            .with_context(|| format!("{name}: {step}"))?;
        let m = format!("m{}", i + 1);
        expected.push((m.clone(), mark_seen(&page, &m).await?));
        shown.push(rendered(&page, "document").await?);
    }
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await?;
    ensure!(
        page.exceptions().is_empty(),
        "{name}: {:?}",
        page.exceptions()
    );
    let _ = page.close().await;

    let (mut failures, player) = check_replay(browser, server, &sid, &expected).await?;
    let markers = player.eval("reelPlayer.markers()").await?;
    for ((m, _), want) in expected.iter().zip(&shown) {
        let t = markers
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|x| x["kind"] == "custom" && x["name"] == m.as_str())
            })
            .and_then(|x| x["t"].as_f64())
            .with_context(|| format!("{name}: no marker {m}"))?;
        player
            .eval(&format!("reelPlayer.seek({t}).then(() => true)"))
            .await?;
        let got = rendered(&player, REPLAY_DOCUMENT).await?;
        for key in ["top", "frames", "noscripts", "after", "next", "select"] {
            if want[key] != got[key] {
                failures.push(format!(
                    "{name} at {m}: {key}: page {} != replay {}",
                    want[key], got[key]
                ));
            }
        }
    }
    ensure!(
        player.exceptions().is_empty(),
        "{name}: the player threw: {:?}",
        player.exceptions()
    );
    let _ = player.close().await;
    if !failures.is_empty() {
        bail!(
            "{} difference(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(sid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noscript_modes_and_masked_select_render_as_recorded() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let sid = record_and_compare(&browser, &server, &pages, "render", &["choose()"]).await?;
    // The masked select's choice never left the browser: its options'
    // values are in the snapshot (markup), but no field value names one.
    let events = serde_json::to_string(&server.events(&sid).await?)?;
    ensure!(events.contains("opt-2"), "the options were not recorded");
    for v in ["opt-1", "opt-2", "opt-3"] {
        ensure!(
            !events.contains(&format!("\"Text\":\"{v}\""))
                && !events.contains(&format!("\"value\":\"{v}\"")),
            "the masked select's value {v:?} left the browser"
        );
    }
    record_and_compare(&browser, &server, &pages, "quirks", &[]).await?;
    Ok(())
}
