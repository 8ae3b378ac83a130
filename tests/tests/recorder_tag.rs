//! The one-tag embed and `recorder/js/src/options.js`, the one table of
//! options:
//! - every option is a `data-*` attribute of the tag (its name in
//!   kebab-case), read with its type; and the tag applies it: a short `data-idle-timeout-ms` or `data-max-session-ms` rotates
//!   the session, as the same option given to `Reel.start` does;
//! - the README's options table lists exactly the options of the table;
//! - with the tag first in `<head>` and no `defer`, an error thrown and a
//!   promise rejected by the page's own scripts while the recorder is
//!   still starting are recorded, with message and stack, right after the
//!   first snapshot (so the player, seeking to them, shows the page).

use anyhow::{ensure, Context, Result};
use reel_e2e::sessions::open_player;
use reel_e2e::{Browser, PageServer, ReelServer};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
}

/// The option names in `options.js`'s table, in order.
fn table_options() -> Result<Vec<String>> {
    let src = std::fs::read_to_string(root().join("recorder/js/src/options.js"))?;
    let mut out = Vec::new();
    for piece in src.split("name: '").skip(1) {
        let name = piece.split('\'').next().unwrap_or_default();
        out.push(name.to_string());
    }
    ensure!(out.len() >= 5, "no options table found in options.js");
    Ok(out)
}

/// The option names in the README's options table (its first column).
fn readme_options() -> Result<Vec<String>> {
    let readme = std::fs::read_to_string(root().join("README.md"))?;
    let table = readme
        .split("| option | default | effect |")
        .nth(1)
        .context("no options table in the README")?;
    Ok(table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1).map(str::to_string))
        .collect())
}

#[test]
fn the_readme_lists_exactly_the_options_of_the_table() -> Result<()> {
    let table = table_options()?;
    let readme = readme_options()?;
    let missing: Vec<_> = table.iter().filter(|o| !readme.contains(o)).collect();
    let extra: Vec<_> = readme.iter().filter(|o| !table.contains(o)).collect();
    ensure!(
        missing.is_empty() && extra.is_empty(),
        "README options table out of step with recorder/js/src/options.js: missing {missing:?}, not options {extra:?}"
    );
    Ok(())
}

/// Gives every option of the table its `data-*` attribute (a value of its
/// type) on a stand-in element and reads them back through `fromTag` and
/// `normalize`, in node: every option must come out set, none left at its
/// default, whatever its type.
const EVERY_OPTION_JS: &str = r#"
const { OPTIONS, attributeName, fromTag, normalize } = await import(process.argv[1]);
const sample = { boolean: 'true', number: '1234', string: 'abc', url: 'http://h.example/', selector: '.x',
  list: 'a, b', patterns: 'p,q' };
const attrs = {};
for (const o of OPTIONS) attrs[attributeName(o.name)] = sample[o.type];
const opts = normalize(fromTag({ getAttribute: (n) => (n in attrs ? attrs[n] : null) }), 'http://origin.example');
const unread = OPTIONS.filter((o) => opts[o.name] === undefined || opts[o.name] === o.def).map((o) => o.name);
console.log(JSON.stringify({ attrs: Object.keys(attrs), unread, idle: opts.idleTimeoutMs }));
"#;

#[test]
fn every_option_is_read_from_its_data_attribute() -> Result<()> {
    let options = root().join("recorder/js/src/options.js");
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e", EVERY_OPTION_JS])
        .arg(&options)
        .output()
        .context("running node")?;
    ensure!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    ensure!(
        v["unread"].as_array().is_some_and(|a| a.is_empty()),
        "options the tag does not apply: {v}"
    );
    let attrs = v["attrs"].as_array().context("no attributes")?;
    for want in [
        "data-idle-timeout-ms",
        "data-max-session-ms",
        "data-mask-all-text",
    ] {
        ensure!(attrs.iter().any(|a| a == want), "no {want}: {v}");
    }
    ensure!(attrs.len() == table_options()?.len(), "attributes {v}");
    ensure!(
        v["idle"] == 1234,
        "data-idle-timeout-ms read as {}",
        v["idle"]
    );
    Ok(())
}

/// A page recorded by the tag alone, with `attrs` on it.
fn tagged_page(attrs: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tag</title>\
         <script src=\"{{{{REEL_ORIGIN}}}}/reel.js\" data-ingest-key=\"{{{{INGEST_KEY}}}}\" {attrs}></script>\
         </head><body><p id=\"h\">tagged page</p></body></html>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tag_applies_idle_timeout_and_max_session() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    pages.add_page(
        "/idle.html",
        "text/html",
        tagged_page("data-idle-timeout-ms=\"1000\""),
    );
    pages.add_page(
        "/max.html",
        "text/html",
        tagged_page("data-max-session-ms=\"1500\" defer"),
    );
    let browser = Browser::launch().await?;

    // Idle: activity, then none for longer than the tag's 1 s, then
    // activity again: the session rotates.
    let page = browser.new_page().await?;
    page.goto(&pages.url("/idle.html")).await?;
    let first = page.wait_for("Reel.sessionId()", WAIT).await?;
    // Started (its activity clock running), not only created.
    page.eval("Reel.flush().then(() => true)").await?;
    page.click("#h").await?;
    page.eval("window.clickedAt = performance.now(); true")
        .await?;
    page.wait_for("performance.now() - window.clickedAt > 1200", WAIT)
        .await?;
    page.click("#h").await?;
    let second = page.eval("Reel.sessionId()").await?;
    ensure!(
        first != second && second.as_str().is_some_and(|s| s.len() == 32),
        "data-idle-timeout-ms was not applied: {first} then {second}"
    );
    let _ = page.close().await;

    // Maximum age: the session rotates by itself after the tag's 1.5 s.
    let page = browser.new_page().await?;
    page.goto(&pages.url("/max.html")).await?;
    let first = page.wait_for("Reel.sessionId()", WAIT).await?;
    page.wait_for(
        &format!("Reel.sessionId() && Reel.sessionId() !== {first}"),
        WAIT,
    )
    .await
    .context("data-max-session-ms was not applied: no rotation")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_thrown_before_the_recorder_started_are_recorded() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    pages.add_page(
        "/early.html",
        "text/html",
        "<!doctype html><html><head>\
         <script src=\"{{REEL_ORIGIN}}/reel.js\" data-ingest-key=\"{{INGEST_KEY}}\"></script>\
         <meta charset=\"utf-8\"><title>early errors</title>\
         <script>\
           function loadConfig() { throw new Error('early-boom'); }\
           Promise.reject(new Error('early-rejection'));\
           loadConfig();\
         </script>\
         </head><body><p>page whose scripts fail at load</p></body></html>",
    );
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/early.html")).await?;
    let sid = page.wait_for("Reel.sessionId()", WAIT).await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    page.eval("Reel.flush().then(() => true)").await?;
    let events = server.events(&sid).await?;
    let errors: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["data"].get("PageError"))
        .collect();
    let find = |kind: &str, message: &str| {
        errors
            .iter()
            .find(|e| {
                e["kind"] == kind && e["message"].as_str().is_some_and(|m| m.contains(message))
            })
            .copied()
    };
    let thrown = find("Uncaught", "early-boom")
        .with_context(|| format!("the error thrown at load is missing: {errors:?}"))?;
    let stack = thrown["stack"].as_str().unwrap_or_default();
    ensure!(
        stack.contains("loadConfig"),
        "the early error has no stack: {thrown}"
    );
    ensure!(
        thrown["source"]
            .as_str()
            .is_some_and(|s| s.contains("/early.html:")),
        "the early error has no file:line:col source: {thrown}"
    );
    let rejected = find("UnhandledRejection", "early-rejection")
        .with_context(|| format!("the rejection at load is missing: {errors:?}"))?;
    ensure!(
        rejected["stack"]
            .as_str()
            .is_some_and(|s| s.contains("early-rejection")),
        "the early rejection has no stack: {rejected}"
    );
    // Recorded once each (the recording's own listeners do not see them again).
    ensure!(errors.len() == 2, "expected exactly two errors: {errors:?}");
    // Right after the first snapshot, at its time: in order with the rest.
    let at = |kind: &str| events.iter().position(|e| e["data"].get(kind).is_some());
    ensure!(
        at("FullSnapshot") < at("PageError"),
        "the early errors come before the first snapshot"
    );
    let ts: Vec<u64> = events.iter().filter_map(|e| e["t"].as_u64()).collect();
    ensure!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "event times go backwards: {ts:?}"
    );
    // The player loads the session and marks both on its timeline, and
    // seeking to the first of them shows the page (not an empty frame).
    let player = open_player(&browser, &server, &format!("/sessions/{sid}"), WAIT).await?;
    let errors = player
        .eval("window.reelPlayer.markers().filter((m) => m.kind === 'error').map((m) => m.t)")
        .await?;
    let first = errors
        .as_array()
        .filter(|a| a.len() == 2)
        .and_then(|a| a[0].as_f64())
        .with_context(|| format!("the player does not mark both errors: {errors}"))?;
    player
        .eval(&format!("window.reelPlayer.seek({first}).then(() => true)"))
        .await?;
    let shown = player
        .eval("document.getElementById('reel-replay').contentDocument.body.textContent")
        .await?;
    ensure!(
        shown
            .as_str()
            .is_some_and(|t| t.contains("page whose scripts fail at load")),
        "seeking to the early error shows {shown}"
    );
    Ok(())
}
