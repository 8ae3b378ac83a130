//! `REEL_BENCH_PROFILE=1`: a V8 CPU profile of each recorded run, summed by
//! script and by function (self time), and Reel's raw chunks saved for
//! inspection. For finding where a recorder spends its time and bytes; the
//! profiler's own overhead makes these runs useless as measurements, so a
//! profiling run never writes BENCHMARKS.md.

use anyhow::{anyhow, Result};
use reel_e2e::{Page, ReelServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

pub fn enabled() -> bool {
    std::env::var_os("REEL_BENCH_PROFILE").is_some()
}

pub async fn start(page: &Page) -> Result<()> {
    page.call("Profiler.enable", json!({})).await?;
    page.call("Profiler.setSamplingInterval", json!({ "interval": 100 }))
        .await?;
    page.call("Profiler.start", json!({})).await?;
    Ok(())
}

/// Stops the profiler and prints self time by script and by function.
pub async fn stop_and_print(page: &Page, label: &str) -> Result<()> {
    let r = page.call("Profiler.stop", json!({})).await?;
    let profile = r
        .get("profile")
        .ok_or_else(|| anyhow!("Profiler.stop returned no profile"))?;
    let nodes = profile
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("profile without nodes"))?;
    let frame: HashMap<i64, (String, String)> = nodes
        .iter()
        .filter_map(|n| {
            let id = n.get("id")?.as_i64()?;
            let cf = n.get("callFrame")?;
            let f = cf.get("functionName")?.as_str()?.to_string();
            let url = cf.get("url")?.as_str()?;
            let file = url.rsplit('/').next().unwrap_or(url).to_string();
            Some((id, (f, file)))
        })
        .collect();
    let samples = profile.get("samples").and_then(Value::as_array);
    let deltas = profile.get("timeDeltas").and_then(Value::as_array);
    let (Some(samples), Some(deltas)) = (samples, deltas) else {
        return Err(anyhow!("profile without samples"));
    };
    let mut by_fn: HashMap<(String, String), f64> = HashMap::new();
    let mut by_file: HashMap<String, f64> = HashMap::new();
    // timeDeltas[i] is the time between sample i-1 and sample i: charge it
    // to sample i's node.
    for (s, d) in samples.iter().zip(deltas.iter()) {
        let (Some(id), Some(us)) = (s.as_i64(), d.as_f64()) else {
            continue;
        };
        let Some((f, file)) = frame.get(&id) else {
            continue;
        };
        if f == "(idle)" {
            continue;
        }
        *by_fn.entry((f.clone(), file.clone())).or_default() += us / 1e3;
        let key = if file.is_empty() {
            f.clone()
        } else {
            file.clone()
        };
        *by_file.entry(key).or_default() += us / 1e3;
    }
    let mut files: Vec<_> = by_file.into_iter().collect();
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!("profile {label}: self time by script (ms):");
    for (f, ms) in files.iter().take(12) {
        eprintln!("  {ms:8.1}  {f}");
    }
    // Line-level ticks of the costliest functions (lines are 1-based in
    // the script as served).
    let mut lines: HashMap<(String, String, i64), i64> = HashMap::new();
    for n in nodes {
        let (Some(id), Some(ticks)) = (
            n.get("id").and_then(Value::as_i64),
            n.get("positionTicks").and_then(Value::as_array),
        ) else {
            continue;
        };
        let Some((f, file)) = frame.get(&id) else {
            continue;
        };
        for t in ticks {
            if let (Some(line), Some(k)) = (
                t.get("line").and_then(Value::as_i64),
                t.get("ticks").and_then(Value::as_i64),
            ) {
                *lines.entry((f.clone(), file.clone(), line)).or_default() += k;
            }
        }
    }
    let mut lines: Vec<_> = lines.into_iter().collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.1));
    eprintln!("profile {label}: hottest lines (samples):");
    for ((f, file, line), k) in lines.iter().take(15) {
        eprintln!("  {k:8}  {file}:{line} in {f}");
    }
    let mut fns: Vec<_> = by_fn.into_iter().collect();
    fns.sort_by(|a, b| b.1.total_cmp(&a.1));
    eprintln!("profile {label}: self time by function (ms):");
    for ((f, file), ms) in fns.iter().take(30) {
        eprintln!("  {ms:8.1}  {f} ({file})");
    }
    Ok(())
}

/// Saves the session's chunks as `dir/NAME-SEQ.chunk`.
pub async fn save_chunks(reel: &ReelServer, session: &str, dir: &Path, name: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, c) in reel.raw_chunks(session).await?.iter().enumerate() {
        std::fs::write(dir.join(format!("{name}-{i}.chunk")), c)?;
    }
    Ok(())
}
