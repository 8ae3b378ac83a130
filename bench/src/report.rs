//! Medians, ratios, bundle sizes, and the Markdown that goes into
//! `BENCHMARKS.md`.

use crate::{Run, WORKLOADS};
use anyhow::{bail, Context, Result};
use reel_e2e::ReelServer;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const BEGIN: &str =
    "<!-- bench:results:begin (written by reel-bench; edit outside the markers) -->";
pub const END: &str = "<!-- bench:results:end -->";

pub struct Environment {
    pub chromium: String,
    pub rrweb_versions: String,
    pub elapsed: Duration,
    /// `/proc/loadavg`'s 1-minute figure at the start and the end.
    pub load: (String, String),
    /// The commit measured, `+dirty` when the tree had changes.
    pub commit: String,
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// `git rev-parse --short HEAD`, with `+dirty` if the tree has changes.
pub fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => format!("{head}+dirty"),
        _ => head,
    }
}

/// One asset: its name, its raw, gzip -9 and brotli -q 11 sizes, and (for
/// Reel's) the bytes `reel-server` sends for it to a browser asking
/// `Accept-Encoding: br, gzip`.
pub struct Asset {
    pub name: String,
    pub raw: u64,
    pub gzip: u64,
    pub brotli: Option<u64>,
    pub served: Option<u64>,
}

pub struct Bundles {
    pub reel: Vec<Asset>,
    /// What the player's page downloads (its code, style and wasm).
    pub player: Vec<Asset>,
    pub rrweb: Vec<Asset>,
}

fn compressed_len(program: &str, args: &[&str], file: &Path) -> Result<Option<u64>> {
    let out = match Command::new(program).args(args).arg(file).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("running {program}")),
    };
    if !out.status.success() {
        bail!("{program} failed on {}", file.display());
    }
    Ok(Some(out.stdout.len() as u64))
}

fn asset(name: String, file: &Path) -> Result<Asset> {
    let raw = std::fs::metadata(file)
        .with_context(|| format!("{} (run `cargo xtask dist` first)", file.display()))?
        .len();
    let gzip = compressed_len("gzip", &["-9", "-c"], file)?
        .with_context(|| "gzip is not installed".to_string())?;
    let brotli = compressed_len("brotli", &["-q", "11", "-c"], file)?;
    Ok(Asset {
        name,
        raw,
        gzip,
        brotli,
        served: None,
    })
}

/// What a recording page and the player download from `reel-server`,
/// found as a browser finds them (`reel_e2e::assets::discover`), each file
/// weighed in `dist/` and as served (`Accept-Encoding: br, gzip`); and
/// rrweb's files from its npm packages.
pub async fn bundle_sizes(dist: &Path, rrweb: &Path, server: &ReelServer) -> Result<Bundles> {
    let auth = format!("Bearer {}", server.api_token());
    let mut lists = Vec::new();
    for root in ["/reel.js", "/sessions/00000000000000000000000000000000"] {
        let mut urls = vec![root.to_string()];
        urls.extend(reel_e2e::assets::discover(server, &[root], &auth).await?);
        let mut list = Vec::new();
        for url in urls {
            // The file in `dist/`: the URL without its version.
            let file = match url.splitn(5, '/').collect::<Vec<_>>()[..] {
                ["", tree, "v", _, rest] => format!("{tree}/{rest}"),
                _ if url == root && root != "/reel.js" => "player/player.html".to_string(),
                _ => url.trim_start_matches('/').to_string(),
            };
            let res = reel_e2e::http::get(
                &server.url(&url),
                &[("Accept-Encoding", "br, gzip"), ("Authorization", &auth)],
            )
            .await?
            .ensure_success(&url)?;
            let mut a = asset(file.clone(), &dist.join(&file))?;
            a.served = Some(res.body.len() as u64);
            list.push(a);
        }
        lists.push(list);
    }
    let player = lists.pop().unwrap_or_default();
    let reel = lists.pop().unwrap_or_default();
    let mut rrweb_files = vec![
        "record/umd/record.min.js".to_string(),
        "packer/dist/pack.umd.min.cjs".to_string(),
    ];
    // pack's minified build requires the shared fflate chunk, whose file
    // name carries a content hash.
    let mut base: Vec<String> = std::fs::read_dir(rrweb.join("packer/dist"))
        .context("reading @rrweb/packer's dist/")?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("base-") && n.ends_with(".umd.min.cjs"))
        .collect();
    base.sort();
    rrweb_files.extend(base.into_iter().map(|b| format!("packer/dist/{b}")));
    let mut rr = Vec::new();
    for f in rrweb_files {
        let path = rrweb.join(&f);
        rr.push(asset(format!("@rrweb/{f}"), &path)?);
    }
    Ok(Bundles {
        reel,
        player,
        rrweb: rr,
    })
}

/// `@rrweb/record 2.x, @rrweb/packer 2.x`, from the installed packages.
pub fn npm_versions(rrweb: &Path) -> String {
    ["record", "packer"]
        .iter()
        .map(|p| {
            let v = std::fs::read_to_string(rrweb.join(p).join("package.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|j| j.get("version")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "?".to_string());
            format!("`@rrweb/{p}` {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of `f` over the runs of `workload` in `mode`.
fn med(runs: &[Run], workload: &str, mode: &str, f: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
    median(
        runs.iter()
            .filter(|r| r.workload == workload && r.mode == mode)
            .filter_map(f)
            .collect(),
    )
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(x) if x.abs() < 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.0}"),
    }
}

fn bytes(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(x) if x >= 1e6 => format!("{:.2} MB", x / 1e6),
        Some(x) if x >= 1e3 => format!("{:.1} kB", x / 1e3),
        Some(x) => format!("{x:.0} B"),
    }
}

fn mb(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{:.1}", x / 1e6))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}×"))
}

fn yes_no(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "n/a",
    }
}

/// `(days since 1970-01-01)` → `YYYY-MM-DD` (proleptic Gregorian).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    civil_date(secs.div_euclid(86_400))
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    format!(
        "`nproc` {cpus} ({model}), {:.1} GiB memory",
        mem_kb / (1024.0 * 1024.0)
    )
}

pub fn results_markdown(
    runs: &[Run],
    bundles: &Result<Bundles>,
    startup: &str,
    env: &Environment,
    failures: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "- Date: {} (UTC). Command: `cargo xtask bench` (the bench itself took {:.0} s).",
        today(),
        env.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "- Machine: {}; 1-minute load average {} at the start, {} at the end (the machine is \
         shared with other jobs, hence thread-time rather than wall-time figures).",
        machine(),
        env.load.0,
        env.load.1
    );
    let _ = writeln!(s, "- Reel at commit `{}`.", env.commit);
    let _ = writeln!(
        s,
        "- Browser: {} (headless). rrweb: {}.",
        env.chromium, env.rrweb_versions
    );
    let _ = writeln!(
        s,
        "- Every figure is the median of 3 runs, each in a fresh tab with the HTTP cache off.\n"
    );

    // Main-thread time.
    let _ = writeln!(s, "### Main-thread time added by the recorder\n");
    let _ = writeln!(
        s,
        "Renderer main-thread CPU time (`TaskDuration`, thread ticks) from \"load the recorder\" \
         to \"everything sent\", minus the same window without a recorder. \"start\" is the part \
         spent loading the recorder and taking the first snapshot. Target: Reel ≤ rrweb, ≤ ½ rrweb \
         on the six mutation workloads (†).\n"
    );
    let _ = writeln!(
        s,
        "| workload | no recorder (ms) | rrweb added (start) | Reel added (start) | Reel/rrweb | target met |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|:---:|");
    let mut cpu_fails = Vec::new();
    for w in WORKLOADS
        .iter()
        .filter(|w| runs.iter().any(|r| r.workload == w.name))
    {
        let base = med(runs, w.name, "none", |r| Some(r.task_ms));
        let base_start = med(runs, w.name, "none", |r| Some(r.start_ms));
        let added = |mode: &str| Some(med(runs, w.name, mode, |r| Some(r.task_ms))? - base?);
        let start = |mode: &str| Some(med(runs, w.name, mode, |r| Some(r.start_ms))? - base_start?);
        let (rr, re) = (added("rrweb"), added("reel"));
        let r = match (re, rr) {
            (Some(a), Some(b)) if b > 0.0 => Some(a.max(0.0) / b),
            _ => None,
        };
        let limit = if w.mutation_heavy { 0.5 } else { 1.0 };
        let ok = r.map(|r| r <= limit);
        if ok == Some(false) {
            cpu_fails.push(w.name);
        }
        let _ = writeln!(
            s,
            "| {}{} | {} | {} ({}) | {} ({}) | {} | {} |",
            w.name,
            if w.mutation_heavy { " †" } else { "" },
            ms(base),
            ms(rr),
            ms(start("rrweb")),
            ms(re),
            ms(start("reel")),
            fmt_ratio(r),
            yes_no(ok)
        );
    }

    // Longest task and heap.
    let _ = writeln!(s, "\n### Longest task and heap\n");
    let _ = writeln!(
        s,
        "Longest top-level task on the page's renderer main thread in the window (trace, \
         `toplevel`; thread time, as wall time on this shared machine mostly measures the other \
         load), which includes the workload's own task. Heap: `JSHeapUsedSize` after the \
         workload and a forced GC; for Reel also its wasm linear memory, which the JS heap does \
         not count.\n"
    );
    let _ = writeln!(
        s,
        "| workload | longest task none / rrweb / Reel (ms) | Reel/rrweb | JS heap none / rrweb / Reel (MB) | Reel wasm memory (MB) | Reel (JS + wasm) / rrweb (JS) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for w in WORKLOADS
        .iter()
        .filter(|w| runs.iter().any(|r| r.workload == w.name))
    {
        let longest = |m: &str| med(runs, w.name, m, |r| Some(r.longest_ms));
        let heap = |m: &str| med(runs, w.name, m, |r| Some(r.heap));
        let wasm = med(runs, w.name, "reel", |r| r.wasm_memory);
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
            _ => "n/a".to_string(),
        };
        let _ = writeln!(
            s,
            "| {} | {} / {} / {} | {} | {} / {} / {} | {} | {} |",
            w.name,
            ms(longest("none")),
            ms(longest("rrweb")),
            ms(longest("reel")),
            ratio(longest("reel"), longest("rrweb")),
            mb(heap("none")),
            mb(heap("rrweb")),
            mb(heap("reel")),
            mb(wasm),
            ratio(heap("reel").map(|h| h + wasm.unwrap_or(0.0)), heap("rrweb")),
        );
    }

    // Bytes.
    let _ = writeln!(s, "\n### Bytes on the wire\n");
    let _ = writeln!(
        s,
        "Request body bytes (CDP `Network.requestWillBeSent` / `getRequestPostData`; for rrweb \
         checked against the sink's own count) after both recorders flushed everything. rrweb: \
         each event `pack`ed, batches POSTed as JSON every 5 s and at the end; \"packed\" is the \
         packed strings' total length before JSON escaping. Reel: chunks POSTed to reel-server; \
         \"stored\" is the session's `bytes` from the read API. Target: Reel ≤ ½ rrweb.\n"
    );
    let _ = writeln!(
        s,
        "| workload | rrweb wire (requests) | rrweb packed | Reel wire (requests) | Reel stored | Reel/rrweb | target met |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|:---:|");
    let mut byte_fails = Vec::new();
    for w in WORKLOADS
        .iter()
        .filter(|w| runs.iter().any(|r| r.workload == w.name))
    {
        let rw = med(runs, w.name, "rrweb", |r| Some(r.wire));
        let rq = med(runs, w.name, "rrweb", |r| Some(r.requests));
        let rp = med(runs, w.name, "rrweb", |r| r.packed);
        let ew = med(runs, w.name, "reel", |r| Some(r.wire));
        let eq = med(runs, w.name, "reel", |r| Some(r.requests));
        let es = med(runs, w.name, "reel", |r| r.stored);
        let r = ratio(ew, rw);
        let ok = r.map(|r| r <= 0.5);
        if ok == Some(false) {
            byte_fails.push(w.name);
        }
        let _ = writeln!(
            s,
            "| {} | {} ({}) | {} | {} ({}) | {} | {} | {} |",
            w.name,
            bytes(rw),
            rq.map_or("n/a".into(), |x| format!("{x:.0}")),
            bytes(rp),
            bytes(ew),
            eq.map_or("n/a".into(), |x| format!("{x:.0}")),
            bytes(es),
            fmt_ratio(r),
            yes_no(ok)
        );
    }

    // Bundles.
    let _ = writeln!(s, "\n### Bundle size\n");
    let _ = writeln!(
        s,
        "Reel: the files a browser fetches from `reel-server` starting at `/reel.js` (and, for the \
         player, at its page), weighed in `dist/` as `cargo xtask dist` builds them (raw, gzip -9, \
         brotli -q 11) and as served: the body `reel-server` sends to `Accept-Encoding: br, gzip`. \
         rrweb: the minified files the npm packages ship (the packer's shared chunk also holds \
         `unzlibSync`, which a bundler could drop); how they are served depends on the site.\n"
    );
    let bundle_ratio = match bundles {
        Ok(b) => Some(bundle_table(&mut s, b)),
        Err(e) => {
            let _ = writeln!(s, "Not measured: {e:#}");
            None
        }
    };

    s.push_str(startup);

    // Targets.
    let _ = writeln!(s, "\n### Targets\n");
    let list = |v: &[&str]| {
        if v.is_empty() {
            "met on every workload".to_string()
        } else {
            format!("**not met** on {}", v.join(", "))
        }
    };
    let _ = writeln!(
        s,
        "- Bytes on the wire ≤ ½ rrweb+packer: {}.",
        list(&byte_fails)
    );
    let _ = writeln!(
        s,
        "- Main-thread time ≤ rrweb (≤ ½ on the mutation workloads): {}.",
        list(&cpu_fails)
    );
    match bundle_ratio {
        Some((gz_ratio, br_note, page, player)) => {
            let _ = writeln!(
                s,
                "- Bundle within 2× of rrweb's gzipped record+packer: {} (gzip {gz_ratio:.2}×{br_note}).",
                if gz_ratio <= 2.0 { "met" } else { "**not met**" },
            );
            let within = |v: Option<u64>, limit: u64| match v {
                Some(b) if b <= limit => format!("met ({b} bytes)"),
                Some(b) => format!("**not met** ({b} bytes)"),
                None => "not measured".to_string(),
            };
            let _ = writeln!(
                s,
                "- A recording page downloads ≤ 60 KB as served: {}.",
                within(page, 60 * 1024)
            );
            let _ = writeln!(
                s,
                "- The player downloads ≤ 200 KB of code as served: {}.",
                within(player, 200 * 1024)
            );
        }
        None => {
            let _ = writeln!(s, "- Bundle size: not measured.");
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(s, "\nRuns that failed (left out of the medians):\n");
        for f in failures {
            let _ = writeln!(s, "- {f}");
        }
    }
    s
}

fn opt(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |b| b.to_string())
}

/// Sums of raw, gzip, brotli and served (`None` when any file lacks one).
fn totals(v: &[Asset]) -> (u64, u64, Option<u64>, Option<u64>) {
    (
        v.iter().map(|a| a.raw).sum(),
        v.iter().map(|a| a.gzip).sum(),
        v.iter().map(|a| a.brotli).sum(),
        v.iter().map(|a| a.served).sum(),
    )
}

/// Writes the bundle tables; returns the gzip ratio, a brotli note, and
/// the bytes as served for a recording page and for the player.
fn bundle_table(s: &mut String, bundles: &Bundles) -> (f64, String, Option<u64>, Option<u64>) {
    for (title, lists) in [
        (
            "What a recording page downloads",
            vec![("Reel", &bundles.reel), ("rrweb", &bundles.rrweb)],
        ),
        (
            "What the player downloads",
            vec![("Player", &bundles.player)],
        ),
    ] {
        let _ = writeln!(
            s,
            "{title}:
"
        );
        let _ = writeln!(s, "| file | raw | gzip | brotli | as served |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for (label, list) in lists {
            for a in list.iter() {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | {} | {} |",
                    a.name,
                    a.raw,
                    a.gzip,
                    opt(a.brotli),
                    opt(a.served)
                );
            }
            let (raw, gz, br, served) = totals(list);
            let _ = writeln!(
                s,
                "| **{label} total** | **{raw}** | **{gz}** | **{}** | **{}** |",
                opt(br),
                opt(served)
            );
        }
        let _ = writeln!(s);
    }
    let (_, reel_gz, reel_br, reel_served) = totals(&bundles.reel);
    let (_, rr_gz, rr_br, _) = totals(&bundles.rrweb);
    let (_, _, _, player_served) = totals(&bundles.player);
    let gz_ratio = reel_gz as f64 / rr_gz.max(1) as f64;
    let br_note = match (reel_br, rr_br) {
        (Some(a), Some(b)) => format!(", brotli {:.2}×", a as f64 / b.max(1) as f64),
        _ => ", brotli not measured (no `brotli` CLI)".to_string(),
    };
    (gz_ratio, br_note, reel_served, player_served)
}

/// Puts `results` between the markers of `BENCHMARKS.md`, keeping the text
/// around them; creates the file if it is missing.
pub fn write_benchmarks_md(path: &Path, results: &str) -> Result<()> {
    let block = format!("{BEGIN}\n{results}{END}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{block}{}", &old[..b], &old[e + END.len()..])
            }
            _ => format!("{old}\n{block}\n"),
        },
        Err(_) => format!("# Benchmarks\n\n{block}\n"),
    };
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(20_415), "2025-11-23");
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
