//! The page corpus, end to end: each page in `tests/pages/corpus/` is
//! recorded in headless Chromium while scripted steps change it; after
//! each step a custom marker captures the canonical document in the same
//! task, and the player, seeked to each marker, must show exactly that
//! (shadow roots, frame documents, stylesheet rules and adopted sheets
//! included: see `canon.js`).
//!
//! `REEL_CORPUS=styles,frames` runs only those pages. Needs the release
//! server with embedded assets (or `REEL_SERVER_BIN`).

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::fidelity::{check_replay, mark};
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A corpus page and its steps: a JS expression (awaited when it returns
/// a promise), then a marker.
struct Case {
    page: &'static str,
    steps: &'static [&'static str],
    /// Uncaught errors the page throws on purpose.
    throws: bool,
}

const CASES: &[Case] = &[
    Case {
        page: "console",
        steps: &[
            "logAll()",
            "(throwLater(), new Promise(r => setTimeout(() => r(true), 50)))",
        ],
        throws: true,
    },
    Case {
        page: "styles",
        steps: &["cssom()", "constructedSheets()", "editConstructed()"],
        throws: false,
    },
    Case {
        page: "shadow",
        steps: &["attachLater()", "changeInside()"],
        throws: false,
    },
    Case {
        page: "frames",
        steps: &["changeFrame()", "addFrame()", "navigateFrame()"],
        throws: false,
    },
    Case {
        page: "forms",
        steps: &["scriptValues()", "closeThings()"],
        throws: false,
    },
    Case {
        page: "storm",
        steps: &[
            "moves()",
            "splits()",
            "merge()",
            "thousands()",
            "interleaved()",
        ],
        throws: false,
    },
    Case {
        page: "busy",
        steps: &["settle()", "burstWhileBusy()", "stopBusy()"],
        throws: false,
    },
    Case {
        page: "svg",
        steps: &["draw()", "animate()", "teardown()"],
        throws: false,
    },
    Case {
        page: "text",
        steps: &[
            "editDom()",
            "normalizeAll()",
            "focusEditable()",
            TYPE_IN_EDITABLE,
        ],
        throws: false,
    },
    Case {
        page: "media",
        steps: &["seekBoth()", "playFast()", "pauseAndSeek()"],
        throws: false,
    },
    Case {
        page: "scroll",
        steps: &["scrollWindow()", "scrollNested()", "scrollBack()"],
        throws: false,
    },
    Case {
        page: "odd",
        steps: &["parseOdd()", "mutateOdd()"],
        throws: false,
    },
    Case {
        page: "table-sort",
        steps: &["sortByQty()", "filterAndStyle()", "reverseAndReplace()"],
        throws: false,
    },
    Case {
        page: "lib-vue",
        steps: &["addMany()", "reorder()", "filterAndRemove()", "clearAll()"],
        throws: false,
    },
    Case {
        page: "lib-preact",
        steps: &[
            "appReady.then(() => sortByScore())",
            "shuffle()",
            "shrink()",
        ],
        throws: false,
    },
    Case {
        page: "lib-lit",
        steps: &[
            "customElements.whenDefined('reel-list').then(() => ready())",
            "grow()",
            "bump()",
            "extraSheet()",
        ],
        throws: false,
    },
];

/// Typing into a contenteditable the way a user does (the browser's own
/// editing splits and merges text nodes): `document.execCommand` stands in
/// for key presses, since a step is one expression in the page.
const TYPE_IN_EDITABLE: &str = "(document.execCommand('insertText', false, ' typed words'), \
     document.execCommand('insertParagraph'), document.execCommand('insertText', false, 'new line'), \
     document.execCommand('bold'), document.execCommand('insertText', false, ' bold too'), true)";

/// Records `case` and returns the session id, the expected documents by
/// marker, and the recorded page.
async fn record(
    browser: &Browser,
    pages: &PageServer,
    case: &Case,
) -> Result<(String, Vec<(String, Value)>, Page)> {
    let page = browser.new_page().await?;
    let url = pages.url(&format!("/corpus/{}.html", case.page));
    page.goto(&url).await?;
    let sid = page
        .wait_for("window.Reel && Reel.sessionId()", WAIT)
        .await
        .with_context(|| format!("the recorder never started; page logs: {:?}", page.logs()))?
        .as_str()
        .context("sessionId is not a string")?
        .to_string();
    page.eval("Reel.flush().then(() => true)").await?;
    let mut expected = vec![("m0".to_string(), mark(&page, "m0").await?)];
    for (i, step) in case.steps.iter().enumerate() {
        page.eval(step)
            .await
            .with_context(|| format!("{}: step {step}", case.page))?;
        let name = format!("m{}", i + 1);
        expected.push((name.clone(), mark(&page, &name).await?));
    }
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await
        .context("flush and stop")?;
    if !case.throws {
        ensure!(
            page.exceptions().is_empty(),
            "{}: the recorded page threw: {:#?}",
            case.page,
            page.exceptions()
        );
    }
    Ok((sid, expected, page))
}

/// What the console page must have recorded, besides its DOM.
async fn check_console(server: &ReelServer, sid: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let events = match server.events(sid).await {
        Ok(e) => e,
        Err(e) => return vec![format!("events: {e:#}")],
    };
    let text = serde_json::to_string(&events).unwrap_or_default();
    for needle in [
        "plain log 42 true null undefined",
        "warn with cyclic",
        "boom-error",
        "uncaught-kaboom",
        "rejected-promise",
        "UnhandledRejection",
        "Console",
        "PageError",
    ] {
        if !text.contains(needle) {
            failures.push(format!("console: the events lack {needle:?}"));
        }
    }
    // The 5000-character message is cut to about 1 KiB.
    if text.contains(&"x".repeat(1100)) {
        failures.push("console: a long message was not truncated".into());
    }
    match server.session(sid).await {
        Ok(info) if info["error_count"].as_u64().unwrap_or(0) >= 2 => {}
        Ok(info) => failures.push(format!("console: error_count < 2: {info}")),
        Err(e) => failures.push(format!("console: session: {e:#}")),
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_pages_replay_faithfully() -> Result<()> {
    let only: Option<Vec<String>> = std::env::var("REEL_CORPUS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let mut failures = Vec::new();
    for case in CASES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|p| p == case.page))
        {
            continue;
        }
        let (sid, expected, page) = match record(&browser, &pages, case).await {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: recording failed: {e:#}", case.page));
                continue;
            }
        };
        let _ = page.close().await;
        if std::env::var_os("REEL_CORPUS_DUMP").is_some() {
            for e in server.events(&sid).await.unwrap_or_default() {
                eprintln!("{}", e.to_string().chars().take(300).collect::<String>());
            }
        }
        if case.page == "console" {
            failures.extend(check_console(&server, &sid).await);
        }
        if case.page == "forms" {
            // Canvas bitmaps (canvasIntervalMs), focus and scroll offsets.
            let events = serde_json::to_string(&server.events(&sid).await.unwrap_or_default())
                .unwrap_or_default();
            for needle in ["\"Canvas\"", "data:image/", "\"Focus\"", "\"Scroll\""] {
                if !events.contains(needle) {
                    failures.push(format!("forms: the events lack {needle}"));
                }
            }
        }
        match check_replay(&browser, &server, &sid, &expected).await {
            Ok((diffs, player)) => {
                let n = diffs.len();
                failures.extend(diffs.into_iter().map(|d| format!("{}: {d}", case.page)));
                if !player.exceptions().is_empty() {
                    failures.push(format!(
                        "{}: the player threw: {:#?}",
                        case.page,
                        player.exceptions()
                    ));
                }
                eprintln!(
                    "corpus {}: {} markers, {n} differences",
                    case.page,
                    expected.len()
                );
                let _ = player.close().await;
            }
            Err(e) => failures.push(format!("{}: replay failed: {e:#}", case.page)),
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} failure(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}

/// A 10,000-node page and a burst of 10,000 mutations: the replay stays
/// faithful, and the main thread's long tasks are printed (measured with a
/// `longtask` PerformanceObserver; no timing is asserted, machines vary).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_page_and_burst_replay_and_report_long_tasks() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/corpus/big.html")).await?;
    let nodes = page
        .eval("document.getElementsByTagName('*').length + document.querySelectorAll('p').length")
        .await?;
    page.eval("window.longTasks = []; true").await?;
    let start_ms = page.eval("startReel()").await?;
    page.eval("new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    let snapshot_tasks = page.eval("window.longTasks.splice(0)").await?;
    let sid = page
        .eval("Reel.sessionId()")
        .await?
        .as_str()
        .context("no session")?
        .to_string();
    let mut expected = vec![("m0".to_string(), mark(&page, "m0").await?)];
    let burst_ms = page.eval("burst()").await?;
    expected.push(("m1".to_string(), mark(&page, "m1").await?));
    page.eval("new Promise(r => setTimeout(() => r(true), 300))")
        .await?;
    let burst_tasks = page.eval("window.longTasks.splice(0)").await?;
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await?;
    eprintln!(
        "big page: ~{nodes} nodes; Reel.start resolved after {start_ms} ms; long tasks during start: {snapshot_tasks}"
    );
    eprintln!("burst: the page's own work took {burst_ms} ms; long tasks around it (page + recorder): {burst_tasks}");
    let (diffs, _p) = check_replay(&browser, &server, &sid, &expected).await?;
    if !diffs.is_empty() {
        bail!("big page replay differs:\n  {}", diffs.join("\n  "));
    }
    Ok(())
}
