//! The page corpus, end to end: each page in `tests/pages/corpus/` is
//! recorded in headless Chromium while scripted steps change it; after
//! each step a custom marker captures the canonical document in the same
//! task, and the player, seeked to each marker, must show exactly that
//! (shadow roots, frame documents, stylesheet rules and adopted sheets
//! included: see `canon.js`), and look the same: every element's box and
//! the computed styles a viewer notices (`visual.js`).
//!
//! Besides pages written for it, the corpus has real pages no one here
//! wrote: the toolchain's own rustdoc page and mdBook chapter (served from
//! `rustc --print sysroot`), and pages on Bootstrap, React (bundled at test
//! time) and modern CSS (web fonts, custom properties, `@import`, media
//! queries, animations, popovers). Their page and replay are kept side by
//! side in `target/e2e-screenshots/corpus-*.png`.
//!
//! `REEL_CORPUS=styles,frames` runs only those pages. Needs the release
//! server with embedded assets (or `REEL_SERVER_BIN`).

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::fidelity::{check_replay, mark_seen};
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
    /// A JS expression awaited before the first marker (e.g. web fonts
    /// loaded), or "".
    ready: &'static str,
}

impl Case {
    /// The page's URL path: a corpus page by name, or a real page's path
    /// (starting with `/`) as served by the page server.
    fn path(&self) -> String {
        if self.page.starts_with('/') {
            self.page.to_string()
        } else {
            format!("/corpus/{}.html", self.page)
        }
    }

    /// A real page no one here wrote (or built on real libraries as they
    /// ship): screenshots of page and replay are kept for them.
    fn real(&self) -> bool {
        self.page.starts_with('/') || self.page.starts_with("real-")
    }

    /// A short name for messages and file names.
    fn name(&self) -> String {
        let n = self.page.trim_start_matches('/');
        let n = n.split('?').next().unwrap_or(n);
        n.trim_end_matches(".html").replace('/', "-")
    }
}

/// Resolves once the CSS transitions running now (or starting on the
/// next frame) have ended: a step that starts one waits for it, so the
/// marker sees the settled page (infinite CSS animations are not waited
/// for).
const SETTLED: &str =
    "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))).then(() => \
     Promise.all(document.getAnimations().filter(a => a.transitionProperty !== undefined) \
     .map(a => a.finished.catch(() => null)))).then(() => true)";

const CASES: &[Case] = &[
    Case {
        page: "console",
        steps: &[
            "logAll()",
            "(throwLater(), new Promise(r => setTimeout(() => r(true), 50)))",
        ],
        throws: true,
        ready: "",
    },
    Case {
        page: "styles",
        steps: &["cssom()", "constructedSheets()", "editConstructed()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "shadow",
        steps: &["attachLater()", "changeInside()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "frames",
        steps: &["changeFrame()", "addFrame()", "navigateFrame()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "forms",
        steps: &["scriptValues()", "closeThings()"],
        throws: false,
        ready: "",
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
        ready: "",
    },
    Case {
        page: "busy",
        steps: &["settle()", "burstWhileBusy()", "stopBusy()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "svg",
        steps: &["draw()", "animate()", "teardown()"],
        throws: false,
        ready: "",
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
        ready: "",
    },
    Case {
        page: "media",
        steps: &["seekBoth()", "playFast()", "pauseAndSeek()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "scroll",
        steps: &["scrollWindow()", "scrollNested()", "scrollBack()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "odd",
        steps: &["parseOdd()", "mutateOdd()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "table-sort",
        steps: &["sortByQty()", "filterAndStyle()", "reverseAndReplace()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "lib-vue",
        steps: &["addMany()", "reorder()", "filterAndRemove()", "clearAll()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "lib-preact",
        steps: &[
            "appReady.then(() => sortByScore())",
            "shuffle()",
            "shrink()",
        ],
        throws: false,
        ready: "",
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
        ready: "",
    },
    // Real pages: the toolchain's own docs as rustc ships them (a rustdoc
    // page and an mdBook chapter), and pages on libraries as npm ships them.
    Case {
        page: "/rustdoc-rec/std/cell/struct.Cell.html",
        steps: &[
            "(document.querySelectorAll('details.toggle').forEach((d, i) => { if (i % 2) d.open = false; }), true)",
            "(document.getElementById('method.get').scrollIntoView(), true)",
        ],
        throws: false,
        ready: "document.fonts.ready.then(() => true)",
    },
    Case {
        page: "/rustdoc-rec/book/ch03-02-data-types.html",
        steps: &[
            "(window.scrollTo(0, 900), true)",
            "(document.getElementById('mdbook-theme-navy').click(), true)",
        ],
        // Its playground script fetches play.rust-lang.org, unreachable
        // offline: an unhandled rejection of the page's own.
        throws: true,
        ready: "document.fonts.ready.then(() => true)",
    },
    Case {
        page: "real-bootstrap",
        steps: &["secondAnswer()", "openMenu()", "openDialog()", "closeDialog()"],
        throws: false,
        ready: "",
    },
    Case {
        page: "real-react",
        steps: &[
            "reactSteps.type()",
            "reactSteps.portal()",
            "reactSteps.reorder()",
        ],
        throws: false,
        ready: "",
    },
    Case {
        page: "real-features",
        steps: &[
            "warmTheme()",
            "startLate()",
            "openPopover()",
            "closePopover()",
        ],
        throws: false,
        ready: "fontsLoaded()",
    },
];

/// Differences the recorder and player do not fix yet, each named by page
/// and a text every line of it contains (the path and property), with why.
/// They are printed, not failed; every other difference fails the test.
/// Keep this list short and true: remove an entry when it is fixed.
const KNOWN: &[(&str, &str, &str)] = &[];

/// Splits `failures` of one page into those that fail the test and the
/// known ones (with their reason).
fn known(page: &str, failures: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut fail = Vec::new();
    let mut seen = Vec::new();
    for f in failures {
        match KNOWN
            .iter()
            .find(|(p, text, _)| *p == page && f.contains(text))
        {
            Some((_, _, why)) => seen.push(format!("{f}\n      known: {why}")),
            None => fail.push(f),
        }
    }
    (fail, seen)
}

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
    let url = pages.url(&case.path());
    page.goto(&url).await?;
    let sid = page
        .wait_for("window.Reel && Reel.sessionId()", WAIT)
        .await
        .with_context(|| format!("the recorder never started; page logs: {:?}", page.logs()))?
        .as_str()
        .context("sessionId is not a string")?
        .to_string();
    if !case.ready.is_empty() {
        let ready = page.eval(case.ready).await?;
        ensure!(
            ready == Value::Bool(true),
            "{}: {} gave {ready}",
            case.page,
            case.ready
        );
    }
    page.eval(SETTLED).await?;
    page.eval("Reel.flush().then(() => true)").await?;
    let mut expected = vec![("m0".to_string(), mark_seen(&page, "m0").await?)];
    for (i, step) in case.steps.iter().enumerate() {
        page.eval(step)
            .await
            .with_context(|| format!("{}: step {step}", case.page))?;
        page.eval(SETTLED).await?;
        let name = format!("m{}", i + 1);
        expected.push((name.clone(), mark_seen(&page, &name).await?));
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

/// A PNG of the viewport of `page`.
async fn shot(page: &Page) -> Result<Vec<u8>> {
    let tmp = std::env::temp_dir().join(format!("reel-shot-{}.png", std::process::id()));
    page.screenshot(&tmp).await?;
    let png = std::fs::read(&tmp)?;
    let _ = std::fs::remove_file(&tmp);
    Ok(png)
}

/// Writes `target/e2e-screenshots/corpus-NAME.png`: the recorded page
/// (left) and the player showing its replay (right), both at the last
/// marker, composed by the browser itself on a page of the page server.
async fn side_by_side(
    browser: &Browser,
    pages: &PageServer,
    name: &str,
    page_png: &[u8],
    player: &Page,
) -> Result<()> {
    let replay_png = shot(player).await?;
    pages.add_page(
        &format!("/shots/{name}-page.png"),
        "image/png",
        page_png.to_vec(),
    );
    pages.add_page(
        &format!("/shots/{name}-replay.png"),
        "image/png",
        replay_png,
    );
    let html = format!(
        "<!doctype html><style>body{{margin:0;display:flex;gap:8px;background:#888}}\
         figure{{margin:0;width:50%}}img{{width:100%;display:block}}figcaption{{font:14px sans-serif;color:#fff;padding:4px}}</style>\
         <figure><figcaption>page</figcaption><img src=\"{name}-page.png\"></figure>\
         <figure><figcaption>replay (player)</figcaption><img src=\"{name}-replay.png\"></figure>"
    );
    pages.add_page(
        &format!("/shots/{name}.html"),
        "text/html; charset=utf-8",
        html,
    );
    let view = browser.new_page().await?;
    view.goto(&pages.url(&format!("/shots/{name}.html")))
        .await?;
    view.wait_for(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
        WAIT,
    )
    .await?;
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/e2e-screenshots/corpus-{name}.png"));
    view.screenshot(&out).await?;
    let _ = view.close().await;
    Ok(())
}

/// Bundles the React corpus app (`tests/pages/corpus/react-app.src.js`)
/// with the esbuild `.ci/setup` installs into `target/tools`, against the
/// react and react-dom it installs into `target/e2e-npm`, to
/// `target/e2e-built/react-app.js` (served as `/built/react-app.js`).
fn build_react_app() -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let esbuild = root.join("target/tools/node_modules/.bin/esbuild");
    ensure!(
        esbuild.is_file(),
        "{} is missing: run .ci/setup",
        esbuild.display()
    );
    let out = std::process::Command::new(&esbuild)
        .arg(root.join("tests/pages/corpus/react-app.src.js"))
        .args(["--bundle", "--minify", "--log-level=warning"])
        .arg("--define:process.env.NODE_ENV=\"production\"")
        .arg(format!(
            "--outfile={}",
            reel_e2e::pages::built_dir().join("react-app.js").display()
        ))
        .env("NODE_PATH", reel_e2e::pages::npm_dir())
        .output()
        .context("running esbuild")?;
    ensure!(
        out.status.success(),
        "esbuild failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
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
    build_react_app()?;
    for case in CASES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|p| p == case.page || *p == case.name()))
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
        // The page as it looked at its last marker, for the side-by-side.
        let page_shot = if case.real() {
            shot(&page).await.ok()
        } else {
            None
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
                let (diffs, seen) = known(case.page, diffs);
                for k in &seen {
                    eprintln!("corpus {}: known difference: {k}", case.page);
                }
                failures.extend(diffs.into_iter().map(|d| format!("{}: {d}", case.page)));
                if let Some(page_shot) = &page_shot {
                    // The player is at the last marker now.
                    if let Err(e) =
                        side_by_side(&browser, &pages, &case.name(), page_shot, &player).await
                    {
                        failures.push(format!("{}: screenshots: {e:#}", case.page));
                    }
                }
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
    let mut expected = vec![("m0".to_string(), mark_seen(&page, "m0").await?)];
    let burst_ms = page.eval("burst()").await?;
    expected.push(("m1".to_string(), mark_seen(&page, "m1").await?));
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
