//! The walking skeleton, end to end: a page embeds the recorder with the
//! one-tag snippet, a user clicks and types, the page changes its own DOM;
//! the server stores the session; the player replays it, and at every custom
//! marker the replayed document must equal the recorded one (as the
//! contract's fidelity clause defines equality). Along the way, a masked
//! secret must never leave the browser.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `CARGO_TARGET_DIR=/work/target-e2e cargo test -p reel-e2e --test skeleton`.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::fidelity::{canon_replay, diff, mark, open_player, REPLAY_DOCUMENT};
use reel_e2e::{privacy, screenshots_dir, PageServer, ReelServer};
use serde_json::Value;
use std::time::Duration;

/// Typed into the masked `#name`: must appear nowhere outside the page.
const SECRET: &str = "s3cr3t-PA55-xyzzy";
/// Typed into the password field, which no markup can unmask.
const PASSWORD: &str = "pw-Hunter2-plugh";
/// Typed into `#city`, which is `data-reel-unmask`: replayed in clear.
const CITY: &str = "Berlin";

const WAIT: Duration = Duration::from_secs(20);

/// The page changing its own DOM in one task: every kind of mutation, plus
/// the ones that cancel out within a batch (the classic ordering bugs).
const DOM_CHANGES: &str = r#"(() => {
  const list = document.getElementById('list');
  const title = document.getElementById('title');
  // remove
  list.removeChild(list.querySelector('li'));
  // add a subtree, before an existing node
  const p = document.createElement('p');
  p.id = 'added';
  p.innerHTML = 'new <em>emphasised</em> text <span data-x="1">and a span</span>';
  document.body.insertBefore(p, document.getElementById('box'));
  // move
  document.body.insertBefore(document.getElementById('mover'), title);
  // attributes: add, change twice, remove
  title.setAttribute('data-state', 'first');
  title.setAttribute('data-state', 'changed');
  title.classList.add('changed');
  document.getElementById('box').removeAttribute('style');
  document.querySelector('#logo circle').setAttribute('r', '18');
  // text
  title.firstChild.data = 'Changed title';
  document.querySelector('#intro em').textContent = 'replaced';
  // added, then moved, within the same batch
  const li = document.createElement('li');
  li.textContent = 'transient';
  list.appendChild(li);
  list.insertBefore(li, list.firstChild);
  li.textContent = 'moved new item';
  // added and removed within the same batch: must leave no trace
  const ghost = document.createElement('div');
  document.body.appendChild(ghost);
  ghost.remove();
  return true;
})()"#;

fn replay(expr: &str) -> String {
    format!("{REPLAY_DOCUMENT}.{expr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_skeleton_records_stores_and_replays() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = reel_e2e::Browser::launch().await?;
    let shots = screenshots_dir();

    // --- Record -----------------------------------------------------------
    let page = browser.new_page().await?;
    let url = pages.url("/skeleton.html");
    page.goto(&url).await?;
    let session_id = page
        .wait_for("window.Reel && Reel.sessionId()", WAIT)
        .await
        .context("the recorder never started (is reel.js served by the server?)")?
        .as_str()
        .context("Reel.sessionId() is not a string")?
        .to_string();
    eprintln!("recording session {session_id} of {url}");

    let mut expected: Vec<(&str, Value)> = Vec::new();

    page.click("#add").await?;
    page.wait_for("document.querySelectorAll('#list li').length === 3", WAIT)
        .await?;
    expected.push(("m1", mark(&page, "m1").await?));

    page.click("#name").await?;
    page.type_text(SECRET).await?;
    page.click("#city").await?;
    page.type_text(CITY).await?;
    page.click("#password").await?;
    page.type_text(PASSWORD).await?;
    let values = page
        .eval("['name', 'city', 'password'].map(id => document.getElementById(id).value)")
        .await?;
    // The click may put the caret anywhere in `#name`'s initial value; the
    // secret is typed contiguously wherever that is.
    ensure!(
        values[0].as_str().is_some_and(|v| v.contains(SECRET))
            && values[1] == CITY
            && values[2] == PASSWORD,
        "typing did not land in the fields: {values}"
    );
    expected.push(("m2", mark(&page, "m2").await?));

    page.eval(DOM_CHANGES).await?;
    expected.push(("m3", mark(&page, "m3").await?));

    page.eval("Reel.flush().then(() => true)")
        .await
        .context("Reel.flush()")?;
    // Stop recording, so what is stored stays put while it is checked
    // (a running recorder keeps sending chunks on its own timer).
    page.eval("Reel.stop().then(() => true)")
        .await
        .context("Reel.stop()")?;
    page.screenshot(shots.join("skeleton-recorded.png")).await?;
    ensure!(
        page.exceptions().is_empty(),
        "the recorded page threw: {:#?}",
        page.exceptions()
    );

    // --- Store ------------------------------------------------------------
    let info = server.session(&session_id).await?;
    eprintln!("session: {info}");
    let chunks = info["chunks"].as_u64().context("session has no `chunks`")?;
    ensure!(chunks >= 1, "no chunks stored: {info}");
    ensure!(
        info["click_count"].as_u64().unwrap_or(0) >= 1,
        "no clicks counted: {info}"
    );
    let urls: Vec<&str> = info["urls"]
        .as_array()
        .context("session has no `urls` array")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure!(urls.contains(&url.as_str()), "urls {urls:?} lack {url}");
    let listed = server.list_sessions().await?;
    ensure!(
        listed.iter().any(|s| s["id"] == session_id.as_str()),
        "the session is not listed: {listed:?}"
    );

    // --- Replay -----------------------------------------------------------
    let player = open_player(&browser, &server, &session_id).await?;
    let markers = player.eval("reelPlayer.markers()").await?;
    eprintln!("markers: {markers}");
    let markers = markers.as_array().context("markers() is not an array")?;

    let mut failures = Vec::new();
    let mut last_t = f64::MIN;
    for (name, want) in &expected {
        let Some(t) = markers
            .iter()
            .find(|m| m["kind"] == "custom" && m["name"] == *name)
            .and_then(|m| m["t"].as_f64())
        else {
            bail!("no custom marker {name} among {markers:?}");
        };
        ensure!(
            t >= last_t,
            "marker {name} at {t} is before the previous one at {last_t}"
        );
        last_t = t;
        player
            .eval(&format!("reelPlayer.seek({t}).then(() => true)"))
            .await
            .with_context(|| format!("seeking to {name} at {t}"))?;
        player
            .screenshot(shots.join(format!("skeleton-player-{name}.png")))
            .await?;
        let got = canon_replay(&player).await?;
        if let Some(d) = diff(want, &got) {
            failures.push(format!("at {name} (t = {t} ms): {d}"));
        }

        // Field values live in properties, not attributes: check them here.
        let fields = player
            .eval(&replay(
                "querySelectorAll('#name, #city, #password').length === 3 ? \
                 ['name', 'city', 'password'].map(id => \
                 document.getElementById('reel-replay').contentDocument.getElementById(id).value) : null",
            ))
            .await?;
        let html = player
            .eval(&replay("documentElement.outerHTML"))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(fields) = fields.as_array() else {
            failures.push(format!(
                "at {name}: the replay lacks #name, #city or #password"
            ));
            continue;
        };
        let city_want = if *name == "m1" { "" } else { CITY };
        if fields[1] != city_want {
            failures.push(format!(
                "at {name}: unmasked #city replays as {}, expected {city_want:?}",
                fields[1]
            ));
        }
        for (field, secret) in [(&fields[0], SECRET), (&fields[2], PASSWORD)] {
            if field.as_str().unwrap_or_default().contains(secret) || html.contains(secret) {
                failures.push(format!(
                    "at {name}: the replay shows the masked secret {secret:?}"
                ));
            }
        }
    }
    ensure!(
        player.exceptions().is_empty(),
        "the player threw: {:#?}",
        player.exceptions()
    );

    // --- Privacy ----------------------------------------------------------
    let events = serde_json::to_string(&server.events(&session_id).await?)?;
    ensure!(events.len() > 2, "no events returned");
    let raw = server.raw_chunks(&session_id).await?;
    ensure!(
        raw.len() as u64 == chunks,
        "GET .../chunks returned {} chunks, the session lists {chunks}",
        raw.len()
    );
    // A positive control: the unmasked value is in clear, so the search
    // does find what is there.
    ensure!(
        !privacy::chunk_leaks(&raw, CITY)?.is_empty(),
        "the unmasked #city value {CITY:?} is in no decompressed chunk"
    );
    ensure!(
        privacy::dir_size(server.data_dir())? > 0,
        "the data dir holds no data"
    );
    for secret in [SECRET, PASSWORD] {
        if events.contains(secret) {
            failures.push(format!("the events JSON contains {secret:?}"));
        }
        for leak in privacy::chunk_leaks(&raw, secret)? {
            failures.push(format!("{secret:?} found in {leak}"));
        }
        for (file, enc) in privacy::files_containing(server.data_dir(), secret)? {
            failures.push(format!("{secret:?} ({enc}) found in {}", file.display()));
        }
        let listing = serde_json::to_string(&listed)?;
        if listing.contains(secret) {
            failures.push(format!("the sessions list contains {secret:?}"));
        }
    }

    if !failures.is_empty() {
        bail!(
            "{} failure(s):\n  {}\n(screenshots in {})",
            failures.len(),
            failures.join("\n  "),
            shots.display()
        );
    }
    Ok(())
}
