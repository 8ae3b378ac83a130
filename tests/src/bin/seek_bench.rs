//! The player's seek benchmark (not a test): a one-hour session with a
//! document of a few thousand nodes and tens of thousands of mutations,
//! posted to a real `reel-server`, opened in headless Chromium; reports the
//! time to the first frame, to fully loaded, and the time of seeks to 20
//! points spread over the hour (and of short forward seeks, the playback
//! path, and of one-minute steps back). A seek is timed until the replayed
//! document is laid out, not only until `seek()` resolves: the browser's
//! style and layout are most of what a viewer waits for.
//!
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo run --release -p reel-e2e --bin seek_bench` (a list that turns
//! over), or `... --bin seek_bench -- --steady` (one that changes in place).
//! `... -- --first-frame N` only opens the session, N times, each in a
//! fresh browser (a cold cache, as a first-time viewer), and reports the
//! first frame's time and the bytes of the player's code as served.

use anyhow::{Context, Result};
use reel_e2e::sessions::{el, node};
use reel_e2e::{Browser, ReelServer};
use reel_shared::{
    encode_chunk, AddedTree, AttrChange, Event, EventData, FlatNode, Meta, MouseInteraction,
    MouseKind, MousePosition, Mutation, NodeKind, SessionId, Snapshot, TextChange,
};

use std::time::{Duration, Instant};

const HOUR_MS: u64 = 3_600_000;
const LIST_ITEMS: u32 = 1_500;
const MUTATIONS: u32 = 40_000;
/// Session time per chunk, as a recorder flushing every few seconds.
const CHUNK_MS: u64 = 5_000;

/// xorshift: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn text(id: u32, parent: u32, s: String) -> FlatNode {
    node(id, parent, NodeKind::Text(s))
}

/// The session's events, `t` from 0; `steady` for the profile whose list
/// changes in place rather than turning over.
fn session(steady: bool) -> Vec<Event> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut nodes = vec![
        FlatNode {
            id: 1,
            parent: 0,
            kind: NodeKind::Document,
        },
        el(2, 1, "html", &[]),
        el(3, 2, "head", &[]),
        el(4, 3, "style", &[]),
        text(5, 4, "li{font:12px sans-serif}.hot{color:red}".into()),
        el(6, 2, "body", &[]),
        el(7, 6, "ul", &[("id", "list")]),
    ];
    let mut next_id = 100u32;
    // Each item: <li class><span>label</span> text</li>: 4 nodes.
    let mut items: Vec<(u32, u32)> = Vec::new(); // (li, its text node)
    for i in 0..LIST_ITEMS {
        let (li, span, label, t) = (next_id, next_id + 1, next_id + 2, next_id + 3);
        next_id += 4;
        nodes.push(el(li, 7, "li", &[("class", &format!("item i{i}"))]));
        nodes.push(el(span, li, "span", &[]));
        nodes.push(text(label, span, format!("#{i}")));
        nodes.push(text(t, li, format!(" item {i} of the list")));
        items.push((li, t));
    }
    let mut events = vec![
        Event {
            t: 0,
            data: EventData::Meta(Meta {
                href: "https://bench.test/long".into(),
                title: "long".into(),
                width: 1280,
                height: 720,
                user_agent: "bench".into(),
                referrer: None,
                visitor_id: None,
                new_visitor: None,
            }),
        },
        Event {
            t: 0,
            data: EventData::FullSnapshot(Snapshot {
                nodes,
                scroll_x: 0,
                scroll_y: 0,
            }),
        },
    ];
    for k in 0..MUTATIONS {
        let t = 1 + u64::from(k) * (HOUR_MS - 2) / u64::from(MUTATIONS);
        let pick = rng.below(items.len() as u64) as usize;
        let (li, tx) = items[pick];
        // Churning: 50% text, 25% class, 15% adds, 10% removes, so that the
        // list turns over. Steady: 70%, 25%, 2.5%, 2.5%, a page whose
        // content changes in place (a dashboard, a feed that updates).
        let kind = if steady {
            match rng.below(40) {
                0..=27 => 0,
                28..=37 => 10,
                38 => 15,
                _ => 19,
            }
        } else {
            rng.below(20)
        };
        let m = match kind {
            0..=9 => Mutation {
                texts: vec![TextChange {
                    id: tx,
                    text: format!(" item changed at {t}"),
                }],
                ..Default::default()
            },
            10..=14 => Mutation {
                attrs: vec![AttrChange {
                    id: li,
                    name: "class".into(),
                    value: Some(format!("item hot h{}", rng.below(9))),
                }],
                ..Default::default()
            },
            15..=17 => {
                let (nli, nt) = (next_id, next_id + 1);
                next_id += 2;
                items.push((nli, nt));
                Mutation {
                    adds: vec![AddedTree {
                        parent: 7,
                        next: li,
                        nodes: vec![
                            el(nli, 7, "li", &[("class", "item new")]),
                            text(nt, nli, format!(" added at {t}")),
                        ],
                    }],
                    ..Default::default()
                }
            }
            _ => {
                if items.len() > 100 {
                    items.swap_remove(pick);
                }
                Mutation {
                    removes: vec![li],
                    ..Default::default()
                }
            }
        };
        events.push(Event {
            t,
            data: EventData::Mutation(m),
        });
        if k % 4 == 0 {
            events.push(Event {
                t,
                data: EventData::MouseMove(vec![MousePosition {
                    x: rng.below(1200) as i32,
                    y: rng.below(700) as i32,
                    dt: 0,
                }]),
            });
        }
        if k % 50 == 0 {
            events.push(Event {
                t,
                data: EventData::Mouse(MouseInteraction {
                    kind: MouseKind::Click,
                    id: li,
                    x: 100,
                    y: 100,
                    label: None,
                    selector: None,
                    box_x: None,
                    box_y: None,
                }),
            });
        }
    }
    events
}

/// The renderer's `Performance.getMetrics` (seconds, in thread ticks once
/// `Performance.enable` asked for them), by name.
async fn thread_metrics(p: &reel_e2e::Page) -> Result<std::collections::HashMap<String, f64>> {
    let r = p
        .call("Performance.getMetrics", serde_json::json!({}))
        .await?;
    Ok(r["metrics"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| Some((m["name"].as_str()?.to_string(), m["value"].as_f64()?)))
                .collect()
        })
        .unwrap_or_default())
}

/// The browser's floor for showing a document: its HTML written into a
/// fresh iframe of the replay's size (sandboxed the same way) and laid out,
/// so Chromium's own parser builds the nodes and nothing of the player
/// runs. A seek can only beat it by keeping nodes; what a seek takes above
/// it is the player's share. The iframe is emptied afterwards, so that it
/// does not weigh on the next seek's layout.
const FLOOR_JS: &str = "(async (rd) => { \
    const rf = document.getElementById('reel-replay'); \
    let f = document.getElementById('bench-floor'); \
    if (!f) { \
        f = document.createElement('iframe'); f.id = 'bench-floor'; \
        f.setAttribute('sandbox', 'allow-same-origin'); \
        f.style.cssText = `position:fixed;left:-30000px;top:0;border:0;width:${rf.offsetWidth}px;height:${rf.offsetHeight}px`; \
        document.body.appendChild(f); \
        await new Promise(r => setTimeout(r, 50)); \
    } \
    const html = (rd.compatMode === 'BackCompat' ? '' : '<!DOCTYPE html>') + rd.documentElement.outerHTML; \
    const fd = f.contentDocument; \
    const a = performance.now(); \
    fd.open(); fd.write(html); fd.close(); \
    fd.body.offsetHeight; \
    const took = performance.now() - a; \
    fd.open(); fd.write('<body></body>'); fd.close(); fd.body.offsetHeight; \
    return took; })";

/// `--first-frame N`: how many cold opens to time (and nothing else).
fn first_frame_runs() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--first-frame")?;
    Some(args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(5))
}

/// What the player page downloaded of code (its scripts and wasm: the
/// replay runs no script): bytes on the wire (`transferSize`, headers
/// included) and decoded.
const PLAYER_BYTES: &str = "(() => { let wire = 0, body = 0; \
    for (const r of performance.getEntriesByType('resource')) { \
      if (/\\.(js|wasm)$/.test(new URL(r.name).pathname)) { \
        wire += r.transferSize; body += r.decodedBodySize; } } \
    return { wire, body }; })()";

/// When each request of the page started, had its first byte and ended
/// (ms after navigation start), in order: where the time to the first
/// frame goes.
const WATERFALL: &str = "(() => performance.getEntriesByType('resource').map(r => \
    `${new URL(r.name).pathname.split('/').pop().slice(0, 24)} ${r.startTime.toFixed(0)}-${r.responseStart.toFixed(0)}-${r.responseEnd.toFixed(0)}`).join(', '))()";

/// Opens the session `runs` times, each in a fresh browser (its own empty
/// profile: nothing cached, nothing compiled), and reports the time from
/// navigation start to the first frame shown.
async fn first_frames(server: &ReelServer, id: SessionId, runs: usize) -> Result<()> {
    let auth = format!("Bearer {}", server.api_token());
    let mut firsts = Vec::new();
    for run in 0..runs {
        let browser = Browser::launch().await?;
        let p = browser.new_page().await?;
        p.set_extra_headers(&[("Authorization", auth.as_str())])
            .await?;
        p.goto(&server.url(&format!("/sessions/{id}"))).await?;
        p.wait_for("!!window.reelPlayer", Duration::from_secs(60))
            .await?;
        p.eval("reelPlayer.ready.then(() => true)").await?;
        let stats = p.eval("reelPlayer.stats()").await?;
        let bytes = p.eval(PLAYER_BYTES).await?;
        let first = stats["firstFrameMs"].as_f64().unwrap_or(-1.0);
        println!(
            "open {}: first frame at {first:.0} ms, fully loaded at {:.0} ms after navigation start; player code {} bytes on the wire ({} decoded)",
            run + 1,
            stats["loadedMs"].as_f64().unwrap_or(-1.0),
            bytes["wire"],
            bytes["body"],
        );
        println!(
            "  requests (ms): {}",
            p.eval(WATERFALL).await?.as_str().unwrap_or("")
        );
        firsts.push(first);
        drop(p);
        drop(browser);
    }
    firsts.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (firsts.first(), firsts.last()) {
        println!(
            "first frame, {runs} cold opens: min {min:.0} ms, median {:.0} ms, max {max:.0} ms",
            firsts[firsts.len() / 2]
        );
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    // `--steady`: the in-place profile (see `session`).
    let steady = std::env::args().any(|a| a == "--steady");
    let events = session(steady);
    let mutations = events
        .iter()
        .filter(|e| matches!(e.data, EventData::Mutation(_)))
        .count();
    let server = ReelServer::start().await?;
    let id: SessionId = reel_e2e::server::random_hex()?
        .parse()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // A day ago, so the player does not open it live.
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64
        - 86_400_000;
    let started = Instant::now();
    let (mut seq, mut from, mut bytes) = (0u32, 0usize, 0usize);
    while from < events.len() {
        let until = events[from].t / CHUNK_MS * CHUNK_MS + CHUNK_MS;
        let to = from + events[from..].partition_point(|e| e.t < until);
        let part: Vec<Event> = events[from..to]
            .iter()
            .map(|e| Event {
                t: t0 + e.t,
                data: e.data.clone(),
            })
            .collect();
        let chunk = encode_chunk(id, seq, &part)?;
        bytes += chunk.len();
        let r = server.post_chunk(&id.to_string(), seq, &chunk).await?;
        anyhow::ensure!(r.status < 300, "chunk {seq}: {}", r.text());
        seq += 1;
        from = to;
    }
    println!(
        "session ({}): {} events ({mutations} mutations, {} snapshot nodes) over 1 h, {seq} chunks, {:.1} MB compressed (posted in {:.1} s)",
        if steady { "steady" } else { "churning" },
        events.len(),
        4 * LIST_ITEMS + 7,
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    if let Some(runs) = first_frame_runs() {
        return first_frames(&server, id, runs).await;
    }

    let browser = Browser::launch().await?;
    let p = browser.new_page().await?;
    let auth = format!("Bearer {}", server.api_token());
    p.set_extra_headers(&[("Authorization", auth.as_str())])
        .await?;
    let opened = Instant::now();
    p.goto(&server.url(&format!("/sessions/{id}"))).await?;
    p.wait_for("!!window.reelPlayer", Duration::from_secs(60))
        .await?;
    p.eval("reelPlayer.ready.then(() => true)").await?;
    let wall = opened.elapsed().as_secs_f64() * 1000.0;
    let stats = p.eval("reelPlayer.stats()").await?;
    println!(
        "open: first frame at {:.0} ms, fully loaded at {:.0} ms after navigation start ({:.0} ms wall to ready); {} events, {} keyframes",
        stats["firstFrameMs"].as_f64().unwrap_or(-1.0),
        stats["loadedMs"].as_f64().unwrap_or(-1.0),
        wall,
        stats["events"],
        stats["keyframes"]
    );

    // 20 points over the hour, visited out of order (back and forth).
    let order = [
        13, 2, 19, 7, 0, 16, 5, 11, 18, 3, 9, 14, 1, 17, 6, 12, 4, 15, 8, 10,
    ];
    let mut times = Vec::new();
    let mut resolved = Vec::new();
    let mut floors = Vec::new();
    let mut cpu = Vec::new();
    // The renderer main thread's CPU time per seek (thread ticks): on this
    // shared machine it moves less with other jobs than wall time does.
    p.call(
        "Performance.enable",
        serde_json::json!({ "timeDomain": "threadTicks" }),
    )
    .await?;
    println!(
        "seek to   laid out ms   (seek resolved ms; in wasm: model+ops+DOM, of which model+ops)   \
         main-thread CPU ms (script, style, layout)   browser floor ms"
    );
    for i in order {
        let t = (i as f64 + 0.5) * HOUR_MS as f64 / 20.0;
        let before = thread_metrics(&p).await?;
        let r = p
            .eval(&format!(
                "(async () => {{ const a = performance.now(); await reelPlayer.seek({t}); \
                 const b = performance.now(); \
                 document.getElementById('reel-replay').contentDocument.body.offsetHeight; \
                 const c = performance.now(); \
                 return {{ total: c - a, resolved: b - a, inner: reelPlayer.stats().lastSeekMs, model: reelPlayer.stats().lastSeekModelMs }}; }})()"
            ))
            .await
            .context("seek")?;
        let after = thread_metrics(&p).await?;
        let spent = |name: &str| {
            1000.0
                * (after.get(name).copied().unwrap_or(0.0)
                    - before.get(name).copied().unwrap_or(0.0))
        };
        let task = spent("TaskDuration");
        let floor = p
            .eval(&format!(
                "{FLOOR_JS}(document.getElementById('reel-replay').contentDocument)"
            ))
            .await
            .context("floor")?
            .as_f64()
            .unwrap_or(-1.0);
        let total = r["total"].as_f64().unwrap_or(-1.0);
        let done = r["resolved"].as_f64().unwrap_or(-1.0);
        println!(
            "{:>8.0} s  {total:>8.1}      ({done:.1}; {:.1}, {:.1})   {task:>6.1} ({:.1}, {:.1}, {:.1})   {floor:>8.1}",
            t / 1000.0,
            r["inner"].as_f64().unwrap_or(-1.0),
            r["model"].as_f64().unwrap_or(-1.0),
            spent("ScriptDuration"),
            spent("RecalcStyleDuration"),
            spent("LayoutDuration"),
        );
        times.push(total);
        resolved.push(done);
        floors.push(floor);
        cpu.push(task);
    }
    let mut over: Vec<f64> = times.iter().zip(&floors).map(|(t, f)| t - f).collect();
    // Recycling gone nodes for new ones, on against off, paired: each far
    // seek is timed both ways from the same state (the previous point),
    // one right after the other, so the machine's drift cancels out.
    let mut on_off = Vec::new();
    let mut prev = 0.0;
    for i in order {
        let t = (i as f64 + 0.5) * HOUR_MS as f64 / 20.0;
        let mut pair = [0.0; 2];
        for (k, on) in [true, false].into_iter().enumerate() {
            p.eval(&format!(
                "(async () => {{ reelPlayer.setRecycling(true); await reelPlayer.seek({prev}); \
                 document.getElementById('reel-replay').contentDocument.body.offsetHeight; }})()"
            ))
            .await?;
            let r = p
                .eval(&format!(
                    "(async () => {{ reelPlayer.setRecycling({on}); const a = performance.now(); \
                     await reelPlayer.seek({t}); \
                     document.getElementById('reel-replay').contentDocument.body.offsetHeight; \
                     const took = performance.now() - a; reelPlayer.setRecycling(true); return took; }})()"
                ))
                .await?;
            pair[k] = r.as_f64().unwrap_or(-1.0);
        }
        on_off.push(pair);
        prev = t;
    }
    // Short forward seeks: the playback path (incremental), also until
    // laid out.
    let mut short = Vec::new();
    for k in 0..20 {
        let t = 1_800_000.0 + f64::from(k) * 2_000.0;
        let r = p
            .eval(&format!(
                "(async () => {{ const a = performance.now(); await reelPlayer.seek({t}); \
                 document.getElementById('reel-replay').contentDocument.body.offsetHeight; \
                 return performance.now() - a; }})()"
            ))
            .await?;
        short.push(r.as_f64().unwrap_or(-1.0));
    }
    // A minute back, 20 times (rewinding while watching): never the
    // incremental path, so the cost of going back to a nearby state.
    p.eval("reelPlayer.seek(2460000)").await?;
    let mut back = Vec::new();
    for k in 0..20 {
        let t = 2_400_000.0 - f64::from(k) * 60_000.0;
        let r = p
            .eval(&format!(
                "(async () => {{ const a = performance.now(); await reelPlayer.seek({t}); \
                 document.getElementById('reel-replay').contentDocument.body.offsetHeight; \
                 return performance.now() - a; }})()"
            ))
            .await?;
        back.push(r.as_f64().unwrap_or(-1.0));
    }
    let summary = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (med, max) = summary(&mut times);
    let (rmed, rmax) = summary(&mut resolved);
    let (fmed, fmax) = summary(&mut floors);
    let (cmed, cmax) = summary(&mut cpu);
    let (omed, omax) = summary(&mut over);
    let (smed, smax) = summary(&mut short);
    let (bmed, bmax) = summary(&mut back);
    println!("seek anywhere, until laid out: median {med:.1} ms, max {max:.1} ms (20 points)");
    println!("seek anywhere, until seek() resolved: median {rmed:.1} ms, max {rmax:.1} ms");
    println!("seek anywhere, main-thread CPU: median {cmed:.1} ms, max {cmax:.1} ms");
    println!(
        "browser floor (the same documents parsed and laid out from HTML by Chromium alone): median {fmed:.1} ms, max {fmax:.1} ms"
    );
    println!("seek minus floor, point by point: median {omed:.1} ms, max {omax:.1} ms");
    let mut ratios: Vec<f64> = on_off.iter().map(|[on, off]| on / off).collect();
    let (mut ons, mut offs): (Vec<f64>, Vec<f64>) = on_off.iter().map(|[a, b]| (*a, *b)).unzip();
    let ((onmed, _), (offmed, _)) = (summary(&mut ons), summary(&mut offs));
    let (ratio_med, ratio_max) = summary(&mut ratios);
    println!(
        "recycling nodes, paired far seeks until laid out: on median {onmed:.1} ms, off median {offmed:.1} ms; \
         on/off median {ratio_med:.2}, max {ratio_max:.2}"
    );
    println!("seek 2 s forward: median {smed:.1} ms, max {smax:.1} ms (20 steps)");
    println!("seek 1 min back: median {bmed:.1} ms, max {bmax:.1} ms (20 steps, until laid out)");
    Ok(())
}
