//! The longest task on the page's renderer main thread, from a trace.

use anyhow::{bail, Result};
use reel_e2e::cdp::CdpEvent;
use serde_json::Value;
use std::collections::HashMap;

/// `RunTask` in `disabled-by-default-devtools.timeline` is the task as
/// DevTools' Performance panel shows it: the task and the microtask
/// checkpoint after it. `ThreadControllerImpl::RunTask` (`toplevel`) leaves
/// the checkpoint out, so it misses work done in promise continuations
/// (rrweb's first snapshot, for one); it is only a fallback.
pub const CATEGORIES: &[&str] = &["disabled-by-default-devtools.timeline", "toplevel"];
const TASK: &str = "RunTask";
const FALLBACK_TASK: &str = "ThreadControllerImpl::RunTask";

/// The longest task of a thread, in µs: its thread (CPU) time and its wall
/// time. On a loaded machine the wall time mostly measures the load, so the
/// task is chosen, and reported, by thread time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Longest {
    pub cpu: f64,
    pub wall: f64,
    total_cpu: f64,
}

impl Longest {
    fn add(&mut self, cpu: f64, wall: f64) {
        self.total_cpu += cpu;
        if cpu > self.cpu {
            self.cpu = cpu;
            self.wall = wall;
        }
    }
}

/// Finds every `CrRendererMain` thread in the trace, takes the busiest one
/// (the page under test: other renderers are idle), and returns its longest
/// task.
pub fn longest_main_thread_task(events: &[CdpEvent]) -> Result<Longest> {
    let debug = std::env::var_os("REEL_BENCH_DEBUG").is_some();
    let mut names: HashMap<(i64, i64), String> = HashMap::new();
    // Per thread: (RunTask, ThreadControllerImpl::RunTask).
    let mut tasks: HashMap<(i64, i64), (Longest, Longest)> = HashMap::new();
    for ev in events
        .iter()
        .filter(|e| e.method == "Tracing.dataCollected")
    {
        let Some(list) = ev.params.get("value").and_then(Value::as_array) else {
            continue;
        };
        for t in list {
            let (Some(pid), Some(tid)) = (
                t.get("pid").and_then(Value::as_i64),
                t.get("tid").and_then(Value::as_i64),
            ) else {
                continue;
            };
            let name = t.get("name").and_then(Value::as_str).unwrap_or_default();
            let ph = t.get("ph").and_then(Value::as_str).unwrap_or_default();
            if ph == "M" && name == "thread_name" {
                if let Some(n) = t
                    .get("args")
                    .and_then(|a| a.get("name"))
                    .and_then(Value::as_str)
                {
                    names.insert((pid, tid), n.to_string());
                }
                continue;
            }
            // Tasks still running when tracing stopped come as unmatched
            // "B" events: those are the bench's own Tracing.end.
            if ph != "X" || (name != TASK && name != FALLBACK_TASK) {
                continue;
            }
            let wall = t.get("dur").and_then(Value::as_f64).unwrap_or(0.0);
            let cpu = t.get("tdur").and_then(Value::as_f64).unwrap_or(wall);
            if debug && cpu > 10_000.0 {
                eprintln!(
                    "trace: {pid}/{tid} {name} at {:?}: wall {wall} µs, cpu {cpu} µs {}",
                    t.get("ts"),
                    t.get("args").map(Value::to_string).unwrap_or_default()
                );
            }
            let slot = tasks.entry((pid, tid)).or_default();
            if name == TASK {
                slot.0.add(cpu, wall);
            } else {
                slot.1.add(cpu, wall);
            }
        }
    }
    let busiest = tasks
        .iter()
        .filter(|(k, _)| names.get(k).is_some_and(|n| n == "CrRendererMain"))
        .map(|(_, (run, fallback))| if run.total_cpu > 0.0 { *run } else { *fallback })
        .max_by(|a, b| a.total_cpu.total_cmp(&b.total_cpu));
    match busiest {
        Some(longest) => Ok(longest),
        None => bail!(
            "the trace has no task events on a CrRendererMain thread ({} threads named)",
            names.len()
        ),
    }
}
