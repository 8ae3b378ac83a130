//! What a page pays for Reel before `Reel.start` (issue 19): the same page
//! loaded without Reel, with `reel.js` loaded but not started (the JS API,
//! which starts later), and with the one-tag embed (which starts at
//! `DOMContentLoaded`). Per run, up to the page's `load` event: when it
//! fired, the renderer's main-thread time, long tasks, and the bytes and
//! requests that came from `reel-server`.

use crate::serve::BenchServer;
use anyhow::{Context, Result};
use reel_e2e::cdp::Collector;
use reel_e2e::{Browser, ReelServer};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// The embeddings compared, each a page of its own.
pub const MODES: &[(&str, &str)] = &[
    ("no Reel", ""),
    (
        "`reel.js` loaded, not started (JS API)",
        r#"<script src="{REEL}/reel.js" defer></script>"#,
    ),
    (
        "one tag (starts at DOMContentLoaded)",
        r#"<script src="{REEL}/reel.js" data-ingest-key="{KEY}" defer></script>"#,
    ),
];

/// A page with some weight of its own: a stylesheet and a 2,000-row table.
fn page(head: &str) -> String {
    let rows: String = (0..2000)
        .map(|i| {
            format!(
                "<tr><td>{i}</td><td>item {i}</td><td class=\"n\">{}</td></tr>",
                i * 7
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>startup</title>{head}\
         <style>td{{padding:2px 6px}} .n{{text-align:right}}</style></head>\
         <body><h1>Orders</h1><table>{rows}</table></body></html>"
    )
}

/// One run's figures, up to the `load` event.
#[derive(Default, Clone)]
pub struct Sample {
    pub load_ms: f64,
    pub task_ms: f64,
    pub long_tasks: f64,
    pub reel_bytes: f64,
    pub reel_requests: f64,
}

/// Records long tasks from the first script the page runs.
const LONG_TASKS: &str = "window.__longTasks = []; try { new PerformanceObserver(function (l) { \
    l.getEntries().forEach(function (e) { window.__longTasks.push(e.duration); }); }) \
    .observe({ type: 'longtask', buffered: true }); } catch (e) {}";

/// `runs` runs of every mode, interleaved; per mode, the samples.
pub async fn measure(
    browser: &Browser,
    pages: &BenchServer,
    reel: &ReelServer,
    dir: &Path,
    runs: usize,
) -> Result<Vec<Vec<Sample>>> {
    std::fs::create_dir_all(dir)?;
    let mut urls = Vec::new();
    for (i, (_, head)) in MODES.iter().enumerate() {
        let head = head
            .replace("{REEL}", &reel.origin())
            .replace("{KEY}", reel.ingest_key());
        let file = dir.join(format!("startup-{i}.html"));
        std::fs::write(&file, page(&head))?;
        let path = format!("/startup-{i}.html");
        pages.add_file(&path, &file);
        urls.push(pages.url(&path));
    }
    let mut out = vec![Vec::new(); MODES.len()];
    for _ in 0..runs {
        for (i, url) in urls.iter().enumerate() {
            out[i].push(
                one(browser, url, &reel.origin())
                    .await
                    .with_context(|| format!("startup: {}", MODES[i].0))?,
            );
        }
    }
    Ok(out)
}

async fn one(browser: &Browser, url: &str, reel_origin: &str) -> Result<Sample> {
    let page = browser.new_page().await?;
    page.call("Network.enable", json!({})).await?;
    page.call("Network.setCacheDisabled", json!({ "cacheDisabled": true }))
        .await?;
    page.call("Performance.enable", json!({ "timeDomain": "threadTicks" }))
        .await?;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": LONG_TASKS }),
    )
    .await?;
    let net = Collector::start(&page, |m| {
        matches!(
            m,
            "Network.requestWillBeSent" | "Network.loadingFinished" | "Page.loadEventFired"
        )
    });
    page.goto(url).await?;
    let metrics = page.call("Performance.getMetrics", json!({})).await?;
    let task_ms = metrics["metrics"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["name"] == "TaskDuration"))
        .and_then(|m| m["value"].as_f64())
        .unwrap_or(f64::NAN)
        * 1000.0;
    let timing = page
        .eval(
            "(() => { const n = performance.getEntriesByType('navigation')[0]; \
             const before = window.__longTasks.length; \
             return { load: n.loadEventStart, long: before }; })()",
        )
        .await?;
    let events = net.snapshot();
    let load_at = events
        .iter()
        .find(|e| e.method == "Page.loadEventFired")
        .and_then(|e| e.params["timestamp"].as_f64())
        .unwrap_or(f64::INFINITY);
    let reel_ids: Vec<&str> = events
        .iter()
        .filter(|e| e.method == "Network.requestWillBeSent")
        .filter(|e| {
            e.params["request"]["url"]
                .as_str()
                .is_some_and(|u| u.starts_with(reel_origin))
        })
        .filter_map(|e| e.params["requestId"].as_str())
        .collect();
    let mut sample = Sample {
        load_ms: timing["load"].as_f64().unwrap_or(f64::NAN),
        task_ms,
        long_tasks: timing["long"].as_f64().unwrap_or(f64::NAN),
        ..Sample::default()
    };
    for e in events
        .iter()
        .filter(|e| e.method == "Network.loadingFinished")
    {
        let id = e.params["requestId"].as_str().unwrap_or_default();
        let at = e.params["timestamp"].as_f64().unwrap_or(f64::INFINITY);
        if reel_ids.contains(&id) && at <= load_at {
            sample.reel_bytes += e.params["encodedDataLength"].as_f64().unwrap_or(0.0);
            sample.reel_requests += 1.0;
        }
    }
    let _ = page.close().await;
    Ok(sample)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The section of BENCHMARKS.md's results.
pub fn markdown(s: &mut String, samples: &Result<Vec<Vec<Sample>>>, runs: usize) {
    let _ = writeln!(s, "\n### Before `Reel.start`\n");
    let samples = match samples {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(s, "Not measured: {e:#}");
            return;
        }
    };
    let _ = writeln!(
        s,
        "A page with a stylesheet and a 2,000-row table, loaded {runs} times per embedding in a \
         fresh tab with the HTTP cache off; medians, everything up to the page's `load` event: \
         when it fired (wall time, so noisy on this shared machine), the renderer's main-thread \
         time (`TaskDuration`, thread ticks), long tasks (`PerformanceObserver`), and the bytes \
         (encoded, headers included) and requests from `reel-server` that finished before it.\n"
    );
    let _ = writeln!(
        s,
        "| embedding | load event (ms) | main thread (ms) | long tasks | bytes from reel-server | requests |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for ((name, _), v) in MODES.iter().zip(samples) {
        let m = |f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
        let _ = writeln!(
            s,
            "| {name} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} |",
            m(|x| x.load_ms),
            m(|x| x.task_ms),
            m(|x| x.long_tasks),
            m(|x| x.reel_bytes),
            m(|x| x.reel_requests)
        );
    }
}
