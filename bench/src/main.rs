//! `reel-bench`: Reel's recorder side by side with rrweb's, in headless
//! Chromium, on loopback. Run it with `cargo xtask bench` (which builds the
//! assets and the server first); it is not part of the test suite.
//!
//! For each workload page and each of three modes (no recorder, rrweb with
//! `@rrweb/packer`, Reel to a real `reel-server`) it runs the page three
//! times in a fresh tab and measures, over the window from "start the
//! recorder" to "everything it captured has been sent":
//! - main-thread time: `Performance.getMetrics` `TaskDuration` delta (thread
//!   CPU time, `timeDomain: threadTicks`, so other load on the machine
//!   counts less), minus the no-recorder run's;
//! - the longest task: the longest `RunTask` on the page's renderer main
//!   thread in a trace (as DevTools' Performance panel shows tasks), by
//!   thread time;
//! - the JS heap after a forced GC, and for Reel its wasm linear memory
//!   (which the JS heap does not count);
//! - request body bytes sent to the sink or to `reel-server` (from CDP
//!   `Network.requestWillBeSent` / `Network.getRequestPostData`, checked
//!   against the sink's own count), and for Reel the bytes stored.
//!
//! It then writes the medians into `BENCHMARKS.md` (between the
//! `bench:results` markers, keeping the hand-written analysis around them)
//! and every run into `target/bench/results.json`.

mod profile;
mod report;
mod serve;
mod startup;
mod trace;

use anyhow::{anyhow, bail, Context, Result};
use reel_e2e::cdp::{base64_decode, CdpEvent, Collector};
use reel_e2e::{Browser, Page, ReelServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs per workload and mode; the report shows the median.
const RUNS: usize = 3;
/// The long-running workloads' length (the minute of mouse moves
/// is cut to this to keep the whole bench under ten minutes).
const STRETCH: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    None,
    Rrweb,
    Reel,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::None, Mode::Rrweb, Mode::Reel];
    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Rrweb => "rrweb",
            Mode::Reel => "reel",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Drive {
    /// `bench.run()` runs the page's own `workload`.
    Page,
    /// Clicks and typing over CDP.
    Form,
    /// Mouse moves over CDP for [`STRETCH`].
    Mouse,
}

pub struct Workload {
    pub name: &'static str,
    pub what: &'static str,
    page: &'static str,
    drive: Drive,
    /// One of rrweb's own DOM-mutation benchmark shapes (the issue's
    /// "mutation-heavy" set, where Reel should cost at most half).
    pub mutation_heavy: bool,
    /// Recorded once by Reel, unmeasured, before the measured runs: what
    /// a site's second and later sessions send once the server holds the
    /// page's large assets.
    pub warm: bool,
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "nested-1000x10",
        what: "1,000 × 10 nested divs added",
        page: "nested.html",
        drive: Drive::Page,
        mutation_heavy: true,
        warm: false,
    },
    Workload {
        name: "add-remove",
        what: "1,000 × 10 added, all removed, added again",
        page: "add-remove.html",
        drive: Drive::Page,
        mutation_heavy: true,
        warm: false,
    },
    Workload {
        name: "append-chain-1000",
        what: "1,000-deep append chain (each div into the previous)",
        page: "append-chain.html",
        drive: Drive::Page,
        mutation_heavy: true,
        warm: false,
    },
    Workload {
        name: "add-move-10000",
        what: "10,000 nodes added, then their container moved",
        page: "add-move.html",
        drive: Drive::Page,
        mutation_heavy: true,
        warm: false,
    },
    Workload {
        name: "classlist-10000",
        what: "10,000 `classList.add` on existing divs",
        page: "classlist.html",
        drive: Drive::Page,
        mutation_heavy: true,
        warm: false,
    },
    Workload {
        name: "deep-100x256",
        what: "body cleared, 100 roots × 256 deep added",
        page: "deep.html",
        drive: Drive::Page,
        mutation_heavy: true,
        warm: false,
    },
    Workload {
        name: "table-10000",
        what: "snapshot of a 10,000-row, 5-column table",
        page: "table.html",
        drive: Drive::Page,
        mutation_heavy: false,
        warm: false,
    },
    Workload {
        name: "form-typing",
        what: "form session: 5 fields clicked, ~150 keys typed (CDP key events, ~25 ms apart)",
        page: "form.html",
        drive: Drive::Form,
        mutation_heavy: false,
        warm: false,
    },
    Workload {
        name: "mouse-10s",
        what: "10 s of mouse moves (CDP, one every ~8 ms)",
        page: "mouse.html",
        drive: Drive::Mouse,
        mutation_heavy: false,
        warm: false,
    },
    Workload {
        name: "ticker-10s",
        what: "10 s of a ticker (text + class every 100 ms, a line a second)",
        page: "ticker.html",
        drive: Drive::Page,
        mutation_heavy: false,
        warm: false,
    },
    Workload {
        name: "fonts-first",
        what: "a theme stylesheet with 576 KB of base64 fonts, new to the server (a site's first session)",
        page: "fonts.html?fresh",
        drive: Drive::Page,
        mutation_heavy: false,
        warm: false,
    },
    Workload {
        name: "fonts-again",
        what: "the same page, its fonts already on the server (second and later sessions)",
        page: "fonts.html",
        drive: Drive::Page,
        mutation_heavy: false,
        warm: true,
    },
];

/// One measured run of one workload in one mode.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub workload: &'static str,
    pub mode: &'static str,
    /// Main-thread task time over the whole window, ms.
    pub task_ms: f64,
    /// Of which: loading and starting the recorder, ms.
    pub start_ms: f64,
    /// Script time over the whole window, ms.
    pub script_ms: f64,
    /// The longest renderer main-thread task in the window: its thread
    /// time, ms.
    pub longest_ms: f64,
    /// The same task's wall time, ms.
    pub longest_wall_ms: f64,
    /// `JSHeapUsedSize` after a forced GC, bytes.
    pub heap: f64,
    /// ArrayBuffer backing stores, bytes.
    pub backing: f64,
    /// Reel: the recorder's wasm linear memory, bytes.
    pub wasm_memory: Option<f64>,
    /// Request body bytes to the sink / to reel-server (CDP).
    pub wire: f64,
    /// How many such requests.
    pub requests: f64,
    /// rrweb: bytes the sink itself counted (a cross-check of `wire`).
    pub sink: Option<f64>,
    /// rrweb: the packed events' total length (deflate output, before the
    /// JSON that carries it).
    pub packed: Option<f64>,
    /// Reel: the session's `bytes` from the read API, plus the assets the
    /// server stored for it (new to the deployment: `/metrics`).
    pub stored: Option<f64>,
    /// Events the recorder produced (rrweb) / the server decoded (Reel).
    pub events: Option<f64>,
    /// Wall-clock length of the window, ms.
    pub wall_ms: f64,
}

impl Run {
    pub fn to_json(&self) -> Value {
        json!({
            "workload": self.workload, "mode": self.mode, "task_ms": self.task_ms,
            "start_ms": self.start_ms, "script_ms": self.script_ms,
            "longest_ms": self.longest_ms, "longest_wall_ms": self.longest_wall_ms,
            "heap": self.heap, "backing": self.backing, "wasm_memory": self.wasm_memory,
            "wire": self.wire, "requests": self.requests, "sink": self.sink,
            "packed": self.packed, "stored": self.stored, "events": self.events,
            "wall_ms": self.wall_ms,
        })
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let load_start = report::load_average();
    let root = root();
    let npm_prefix = root.join("target/bench-npm");
    npm_install(&npm_prefix)?;
    let rrweb_dir = npm_prefix.join("node_modules/@rrweb");
    let reel = ReelServer::start()
        .await
        .context("starting reel-server (build it with `cargo xtask dist && cargo build --release -p reel-server`)")?;
    // What the server just started sends, against `dist/` as `cargo xtask
    // dist` built it (the server embeds the same files).
    let bundles = report::bundle_sizes(&root.join("dist"), &rrweb_dir, &reel).await;
    if let Err(e) = &bundles {
        eprintln!("reel-bench: bundle sizes not measured: {e:#}");
    }
    let pages = serve::BenchServer::start(&root.join("bench/pages"), &rrweb_dir).await?;
    // `REEL_BENCH_REEL_JS=path/to/reel.js`: measure a modified capture
    // layer (served by the bench) against the server's wasm, without
    // rebuilding the server.
    let reel_script = match std::env::var_os("REEL_BENCH_REEL_JS") {
        Some(f) => {
            let f = PathBuf::from(f);
            if !f.is_file() {
                bail!("REEL_BENCH_REEL_JS={} is not a file", f.display());
            }
            pages.add_file("/reel-under-test.js", &f);
            eprintln!("reel-bench: Reel's capture layer from {}", f.display());
            Some(pages.url("/reel-under-test.js"))
        }
        None => None,
    };
    let browser = Browser::launch().await?;
    let version = browser.call("Browser.getVersion", json!({})).await?;
    let chromium = version
        .get("product")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    eprintln!("reel-bench: {chromium}, reel-server at {}", reel.origin());

    // For working on the bench itself: `REEL_BENCH_ONLY=name,name` and
    // `REEL_BENCH_RUNS=n`; a partial run does not touch BENCHMARKS.md.
    let only: Option<Vec<String>> = std::env::var("REEL_BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(|w| w.trim().to_string()).collect());
    let reps = std::env::var("REEL_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(RUNS);
    let partial = only.is_some() || reps != RUNS || profile::enabled() || reel_script.is_some();

    // The glue's URL as reel.js names it (versioned): the page imports the
    // very module instance reel.js loaded to read its wasm memory.
    let reel_glue = reel_e2e::assets::discover(&reel, &["/reel.js"], "")
        .await?
        .into_iter()
        .find(|p| p.ends_with("/reel_recorder.js"))
        .map_or_else(|| reel.url("/recorder/reel_recorder.js"), |p| reel.url(&p));
    let ctx = Ctx {
        pages: &pages,
        reel: &reel,
        reel_script: reel_script.as_deref(),
        reel_glue: &reel_glue,
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for w in WORKLOADS {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == w.name))
        {
            continue;
        }
        if w.warm {
            if let Err(e) = run_one(&browser, &ctx, w, Mode::Reel, 0).await {
                eprintln!("reel-bench: {} / warm-up failed ({e:#})", w.name);
            }
        }
        for rep in 0..reps {
            for mode in Mode::ALL {
                let label = format!("{} / {} / run {}", w.name, mode.name(), rep + 1);
                let t = Instant::now();
                let mut result = run_one(&browser, &ctx, w, mode, rep).await;
                if let Err(e) = &result {
                    eprintln!("reel-bench: {label} failed ({e:#}); retrying once");
                    result = run_one(&browser, &ctx, w, mode, rep).await;
                }
                match result {
                    Ok(r) => {
                        eprintln!(
                            "reel-bench: [{:>5.0}s] {label}: main thread {:.0} ms, longest task {:.0} ms, heap {:.1} MB, wire {} B ({:.1}s)",
                            started.elapsed().as_secs_f64(),
                            r.task_ms,
                            r.longest_ms,
                            r.heap / 1e6,
                            r.wire,
                            t.elapsed().as_secs_f64()
                        );
                        runs.push(r);
                    }
                    Err(e) => {
                        eprintln!("reel-bench: {label} failed again: {e:#}");
                        failures.push(format!("{label}: {e:#}"));
                    }
                }
            }
        }
    }
    // What a page pays before `Reel.start` (startup.rs): part of every
    // full run, or `REEL_BENCH_ONLY=startup`.
    let startup_runs = reps.max(5);
    let startup = if only
        .as_ref()
        .is_none_or(|o| o.iter().any(|n| n == "startup"))
    {
        let r = startup::measure(
            &browser,
            &pages,
            &reel,
            &root.join("target/bench"),
            startup_runs,
        )
        .await;
        if let Err(e) = &r {
            eprintln!("reel-bench: startup not measured: {e:#}");
        }
        Some(r)
    } else {
        None
    };
    let mut startup_md = String::new();
    if let Some(r) = &startup {
        startup::markdown(&mut startup_md, r, startup_runs);
    }
    drop(browser);

    let env = report::Environment {
        chromium,
        rrweb_versions: report::npm_versions(&rrweb_dir),
        elapsed: started.elapsed(),
        load: (load_start, report::load_average()),
        commit: report::commit(&root),
    };
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let raw = json!({
        "runs": runs.iter().map(Run::to_json).collect::<Vec<_>>(),
        "failures": failures,
    });
    std::fs::write(
        out_dir.join("results.json"),
        serde_json::to_string_pretty(&raw)?,
    )?;
    let md = report::results_markdown(&runs, &bundles, &startup_md, &env, &failures);
    println!("{md}");
    if partial {
        eprintln!("reel-bench: partial run (REEL_BENCH_ONLY / REEL_BENCH_RUNS): BENCHMARKS.md left as it is");
    } else {
        report::write_benchmarks_md(&root.join("BENCHMARKS.md"), &md)?;
    }
    eprintln!(
        "reel-bench: done in {:.0} s; results in BENCHMARKS.md and {}",
        started.elapsed().as_secs_f64(),
        out_dir.join("results.json").display()
    );
    if !failures.is_empty() {
        bail!("{} run(s) failed: {}", failures.len(), failures.join("; "));
    }
    Ok(())
}

/// Installs the latest `@rrweb/record` and `@rrweb/packer` under `prefix`.
fn npm_install(prefix: &Path) -> Result<()> {
    std::fs::create_dir_all(prefix)?;
    let mut cmd = Command::new("npm");
    cmd.arg("install").arg("--prefix").arg(prefix).args([
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "@rrweb/record@latest",
        "@rrweb/packer@latest",
    ]);
    eprintln!("reel-bench: {cmd:?}");
    let status = cmd
        .status()
        .context("running npm (install Node.js and npm)")?;
    if !status.success() {
        bail!("npm install failed with {status}");
    }
    Ok(())
}

async fn metrics(page: &Page) -> Result<std::collections::HashMap<String, f64>> {
    let r = page.call("Performance.getMetrics", json!({})).await?;
    let list = r
        .get("metrics")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("Performance.getMetrics returned no metrics: {r}"))?;
    Ok(list
        .iter()
        .filter_map(|m| {
            Some((
                m.get("name")?.as_str()?.to_string(),
                m.get("value")?.as_f64()?,
            ))
        })
        .collect())
}

fn metric(m: &std::collections::HashMap<String, f64>, name: &str) -> Result<f64> {
    m.get(name)
        .copied()
        .ok_or_else(|| anyhow!("Performance.getMetrics has no {name}"))
}

/// What every run needs.
struct Ctx<'a> {
    pages: &'a serve::BenchServer,
    reel: &'a ReelServer,
    /// The URL of Reel's `reel.js` when it is not the server's own.
    reel_script: Option<&'a str>,
    /// The URL of the recorder's wasm-bindgen glue, as `reel.js` names it.
    reel_glue: &'a str,
}

async fn run_one(
    browser: &Browser,
    ctx: &Ctx<'_>,
    w: &Workload,
    mode: Mode,
    rep: usize,
) -> Result<Run> {
    let mut page = browser.new_page().await?;
    let result = measure(&mut page, ctx, w, mode, rep).await;
    let errors = page.errors();
    let _ = page.close().await;
    let run = result?;
    if let Some(e) = errors.first() {
        bail!("the page reported an error: {}: {}", e.kind, e.text);
    }
    Ok(run)
}

async fn measure(
    page: &mut Page,
    ctx: &Ctx<'_>,
    w: &Workload,
    mode: Mode,
    rep: usize,
) -> Result<Run> {
    let (pages, reel) = (ctx.pages, ctx.reel);
    page.set_timeout(Duration::from_secs(120));
    // A cold load every time (no HTTP or V8 code cache), the same for both
    // recorders.
    page.call("Network.setCacheDisabled", json!({ "cacheDisabled": true }))
        .await?;
    page.call("Performance.enable", json!({ "timeDomain": "threadTicks" }))
        .await?;
    page.goto(&pages.url(&format!("/{}", w.page))).await?;
    page.wait_for("window.benchReady === true", Duration::from_secs(60))
        .await?;

    let run_id = format!("{}-{}-{}", w.name, mode.name(), rep);
    let collector = Collector::start(page, |m| {
        matches!(
            m,
            "Tracing.dataCollected" | "Tracing.tracingComplete" | "Network.requestWillBeSent"
        )
    });
    page.call(
        "Tracing.start",
        json!({
            "traceConfig": { "includedCategories": trace::CATEGORIES, "recordMode": "recordAsMuchAsPossible" },
            "transferMode": "ReportEvents",
        }),
    )
    .await?;
    let profiling = profile::enabled() && mode != Mode::None;
    if profiling {
        profile::start(page).await?;
    }
    let assets0 = asset_bytes(reel).await?;
    let m0 = metrics(page).await?;
    let wall = Instant::now();
    let script = ctx
        .reel_script
        .map_or_else(|| reel.url("/reel.js"), str::to_string);
    let cfg = json!({
        "run": run_id, "reelOrigin": reel.origin(), "reelScript": script,
        "reelGlue": ctx.reel_glue, "ingestKey": reel.ingest_key(), "profile": profiling,
    });
    page.eval(&format!("bench.start({:?}, {cfg})", mode.name()))
        .await
        .context("starting the recorder")?;
    let ms = metrics(page).await?;
    match w.drive {
        Drive::Page => {}
        Drive::Form => drive_form(page).await?,
        Drive::Mouse => drive_mouse(page).await?,
    }
    page.eval("bench.run()")
        .await
        .context("running the workload")?;
    let fin = page
        .eval("bench.finish()")
        .await
        .context("flushing the recorder")?;
    let m1 = metrics(page).await?;
    let wall_ms = wall.elapsed().as_secs_f64() * 1e3;
    if profiling {
        profile::stop_and_print(page, &run_id).await?;
    }
    page.call("Tracing.end", json!({})).await?;
    collector
        .wait_for("Tracing.tracingComplete", Duration::from_secs(60))
        .await?;
    let events = collector.snapshot();
    let longest = trace::longest_main_thread_task(&events)?;

    page.call("HeapProfiler.collectGarbage", json!({})).await?;
    let mh = metrics(page).await?;
    let usage = page.call("Runtime.getHeapUsage", json!({})).await?;
    let backing = usage
        .get("backingStorageSize")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);

    let ingest = match mode {
        Mode::None => None,
        Mode::Rrweb => Some("/sink?"),
        Mode::Reel => Some("/api/v1/sessions/"),
    };
    let (wire, requests) = match ingest {
        None => (0.0, 0.0),
        Some(pat) => request_bodies(page, &events, pat).await?,
    };

    let ms_of = |a: &std::collections::HashMap<String, f64>,
                 b: &std::collections::HashMap<String, f64>,
                 k: &str|
     -> Result<f64> { Ok((metric(b, k)? - metric(a, k)?) * 1e3) };
    let mut run = Run {
        workload: w.name,
        mode: mode.name(),
        task_ms: ms_of(&m0, &m1, "TaskDuration")?,
        start_ms: ms_of(&m0, &ms, "TaskDuration")?,
        script_ms: ms_of(&m0, &m1, "ScriptDuration")?,
        longest_ms: longest.cpu / 1e3,
        longest_wall_ms: longest.wall / 1e3,
        heap: metric(&mh, "JSHeapUsedSize")?,
        backing,
        wire,
        requests,
        wall_ms,
        ..Run::default()
    };
    match mode {
        Mode::None => {}
        Mode::Rrweb => {
            if let Some(errs) = fin.get("errors").and_then(Value::as_array) {
                if let Some(e) = errs.first() {
                    bail!("rrweb's batches did not all reach the sink: {e}");
                }
            }
            run.packed = fin.get("packedChars").and_then(Value::as_f64);
            run.events = fin.get("events").and_then(Value::as_f64);
            let sink = pages.sink(&run_id);
            run.sink = Some(sink.bytes as f64);
            if sink.bytes as f64 != wire {
                eprintln!(
                    "reel-bench: note: {run_id}: CDP saw {wire} body bytes, the sink {} ({} requests)",
                    sink.bytes, sink.requests
                );
            }
        }
        Mode::Reel => {
            let id = fin
                .get("sessionId")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("Reel.sessionId() gave no id: {fin}"))?;
            let s = reel.session(id).await?;
            let assets = asset_bytes(reel).await? - assets0;
            run.stored = s.get("bytes").and_then(Value::as_f64).map(|b| b + assets);
            run.events = s.get("event_count").and_then(Value::as_f64);
            run.wasm_memory = fin.get("wasmMemory").and_then(Value::as_f64);
            if profiling {
                eprintln!(
                    "profile {run_id}: time in calls to the wasm half and JSON.stringify (ms): {}",
                    fin.get("timings").cloned().unwrap_or(Value::Null)
                );
                let dir = root().join("target/bench/chunks");
                profile::save_chunks(reel, id, &dir, &run_id).await?;
            }
        }
    }
    Ok(run)
}

/// Bytes of the content-addressed assets the server has stored so far
/// (`reel_asset_upload_bytes_total` in `/metrics`).
async fn asset_bytes(reel: &ReelServer) -> Result<f64> {
    let text = reel.api("GET", "/metrics", &[]).await?.text();
    Ok(text
        .lines()
        .find_map(|l| {
            l.strip_prefix("reel_asset_upload_bytes_total ")?
                .parse()
                .ok()
        })
        .unwrap_or(0.0))
}

/// Sums the request bodies of the POSTs whose URL contains `pattern`.
async fn request_bodies(page: &Page, events: &[CdpEvent], pattern: &str) -> Result<(f64, f64)> {
    let mut total = 0u64;
    let mut count = 0u64;
    for ev in events
        .iter()
        .filter(|e| e.method == "Network.requestWillBeSent")
    {
        let Some(req) = ev.params.get("request") else {
            continue;
        };
        let url = req.get("url").and_then(Value::as_str).unwrap_or_default();
        let method = req
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if method != "POST" || !url.contains(pattern) {
            continue;
        }
        count += 1;
        let id = ev
            .params
            .get("requestId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("requestWillBeSent without a requestId"))?;
        total += body_len(page, id, req).await?;
    }
    Ok((total as f64, count as f64))
}

/// The body's length in bytes: from `postDataEntries` when the event
/// carries the whole body, else from `Network.getRequestPostData`.
async fn body_len(page: &Page, request_id: &str, req: &Value) -> Result<u64> {
    if let Some(entries) = req.get("postDataEntries").and_then(Value::as_array) {
        let mut n = 0u64;
        let mut complete = !entries.is_empty();
        for e in entries {
            match e.get("bytes").and_then(Value::as_str) {
                Some(b) => n += base64_decode(b)?.len() as u64,
                None => complete = false,
            }
        }
        if complete {
            return Ok(n);
        }
    }
    let r = page
        .call(
            "Network.getRequestPostData",
            json!({ "requestId": request_id }),
        )
        .await
        .context("Network.getRequestPostData")?;
    let data = r
        .get("postData")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("Network.getRequestPostData gave no postData"))?;
    if r.get("base64Encoded").and_then(Value::as_bool) == Some(true) {
        Ok(base64_decode(data)?.len() as u64)
    } else {
        Ok(data.len() as u64)
    }
}

/// Clicks into each field and types, key by key, ~25 ms apart.
async fn drive_form(page: &Page) -> Result<()> {
    let fields = [
        ("#name", "Ada Lovelace"),
        ("#email", "ada@analytical.example"),
        ("#address", "12 St James's Square, London"),
        (
            "#bio",
            "Leave it with the porter please. Ring twice, the bell is faint. Fragile: engine drawings inside.",
        ),
        ("#password", "correct horse 42"),
    ];
    for (sel, text) in fields {
        page.click(sel).await?;
        for c in text.chars() {
            page.type_text(&c.to_string()).await?;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    page.click("#terms").await?;
    page.click("#submit").await?;
    Ok(())
}

/// Moves the mouse along a Lissajous curve for [`STRETCH`].
async fn drive_mouse(page: &Page) -> Result<()> {
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < STRETCH {
        let t = i as f64 * 0.01;
        let x = 640.0 + 600.0 * (3.0 * t).sin();
        let y = 400.0 + 380.0 * (2.0 * t).cos();
        page.move_mouse(x, y).await?;
        i += 1;
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    Ok(())
}
