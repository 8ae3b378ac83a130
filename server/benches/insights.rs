//! `insights`: the insights benchmark (issue 16). Not a test: it writes
//! `--sessions` generated sessions (100,000 by default) through the real
//! ingest path (chunks encoded, validated with their insights facts read
//! in the same walk, stored by the segment log + sled backend, indexed by
//! the writer's sync), reopens the store (so that everything is read from
//! sled, nothing from memory), and times the queries of contract §6:
//! a 5-step funnel, a click heatmap of one URL, a scroll map, a segment
//! list query. It also reports what the digest costs: its bytes per
//! session and the validation time per chunk with and without the facts.
//!
//! ```sh
//! cargo bench -p reel-server --bench insights -- --sessions 100000
//! ```

use clap::Parser;
use reel_server::digest::{self, ChunkFacts};
use reel_server::filters::Filters;
use reel_server::index::SessionMeta;
use reel_server::insights::{self, FunnelQuery};
use reel_server::store::{ListRange, Store};
use reel_server::validate::{check_chunk, check_chunk_facts, IngestLimits};
use reel_shared::{
    encode_chunk, Custom, Event, EventData, Meta, MouseInteraction, MouseKind, Mutation, Scroll,
    SessionId, Signal, SignalKind, TextChange,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Insights benchmark: 100k sessions, funnel/heatmap/scroll/list timings")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    sessions: usize,
    /// Data dir (default: a fresh temp dir, removed afterwards).
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// Runs of each query (the best and the median are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// xorshift64*: reproducible, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const UAS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
];
const SOURCES: &[&str] = &["news", "ads", "social", ""];
const PATHS: &[&str] = &[
    "/",
    "/products",
    "/product/1",
    "/product/2",
    "/product/3",
    "/cart",
    "/checkout",
    "/paid",
    "/blog",
    "/about",
    "/help",
    "/account",
];
const TARGETS: &[(&str, &str)] = &[
    ("Buy", "[data-testid=\"buy\"]"),
    ("Add to cart", "#add"),
    ("Checkout", "#checkout"),
    ("Pay", "#pay"),
    ("Menu", "nav > button"),
    ("Search", "#search"),
    ("Next", "role=button[name=\"Next\"]"),
    ("Read more", "main > a:nth-of-type(2)"),
];

/// One session's chunks (1 to 3), each as events.
fn session(rng: &mut Rng, t0: u64) -> Vec<Vec<Event>> {
    let ua = UAS[rng.below(UAS.len() as u64) as usize];
    let src = SOURCES[rng.below(SOURCES.len() as u64) as usize];
    let pages = 1 + rng.below(6) as usize;
    let mut t = t0;
    let mut chunks = vec![Vec::new()];
    let per_chunk = 1 + pages / (1 + rng.below(3) as usize);
    for p in 0..pages {
        if p > 0 && p % per_chunk == 0 {
            chunks.push(Vec::new());
        }
        let ev = chunks.last_mut().unwrap_or_else(|| unreachable!());
        let path = if p == 0 {
            "/"
        } else {
            PATHS[rng.below(PATHS.len() as u64) as usize]
        };
        let href = if p == 0 && !src.is_empty() {
            format!("https://shop.example{path}?utm_source={src}")
        } else {
            format!("https://shop.example{path}")
        };
        ev.push(Event {
            t,
            data: EventData::Meta(Meta {
                href,
                title: "Shop".into(),
                width: 1280,
                height: 800,
                user_agent: ua.into(),
                referrer: (p == 0).then(|| "https://www.google.com/".to_owned()),
                visitor_id: Some(format!("v{}", rng.below(50_000))),
                new_visitor: Some(rng.below(3) == 0),
            }),
        });
        // Some page changes, as a real chunk carries.
        for i in 0..3 {
            t += 200;
            ev.push(Event {
                t,
                data: EventData::Mutation(Mutation {
                    texts: vec![TextChange {
                        id: 10 + i,
                        text: format!("price {}", rng.below(1000)),
                    }],
                    ..Default::default()
                }),
            });
        }
        ev.push(Event {
            t,
            data: EventData::Scroll(Scroll {
                id: 1,
                x: 0,
                y: 0,
                depth: Some(300),
            }),
        });
        for _ in 0..rng.below(5) {
            t += 500 + rng.below(3000);
            let (label, sel) = TARGETS[rng.below(TARGETS.len() as u64) as usize];
            ev.push(Event {
                t,
                data: EventData::Mouse(MouseInteraction {
                    kind: MouseKind::Click,
                    id: 42,
                    x: rng.below(1280) as i32,
                    y: rng.below(800) as i32,
                    label: Some(label.into()),
                    selector: Some(sel.into()),
                    box_x: Some(rng.below(1001) as u16),
                    box_y: Some(rng.below(1001) as u16),
                }),
            });
            if rng.below(20) == 0 {
                ev.push(Event {
                    t: t + 1_000,
                    data: EventData::Signal(Signal {
                        kind: [
                            SignalKind::RageClick,
                            SignalKind::DeadClick,
                            SignalKind::ErrorClick,
                        ][rng.below(3) as usize],
                        since: t,
                        id: 42,
                        x: 1,
                        y: 1,
                        count: 1,
                        label: Some(label.into()),
                        selector: Some(sel.into()),
                    }),
                });
                t += 1_000;
            }
        }
        t += 500;
        ev.push(Event {
            t,
            data: EventData::Scroll(Scroll {
                id: 1,
                x: 0,
                y: 500,
                depth: Some(300 + rng.below(701) as u16),
            }),
        });
        if rng.below(4) == 0 {
            ev.push(Event {
                t,
                data: EventData::Custom(Custom {
                    name: ["added", "checkout", "paid"][rng.below(3) as usize].into(),
                    data: None,
                }),
            });
        }
        t += 1_000 + rng.below(20_000);
    }
    chunks.retain(|c| !c.is_empty());
    chunks
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (
        times[0],
        times[times.len() / 2],
        out.unwrap_or_else(|| unreachable!()),
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let dir = args.data.clone().unwrap_or_else(|| tmp.path().join("data"));
    let now = reel_server::store::now_ms();
    let limits = IngestLimits::default();
    let mut rng = Rng(0x5eed_1234_abcd_0001);

    // Generate and encode.
    let started = Instant::now();
    let mut chunks: Vec<(SessionId, u32, Vec<u8>)> = Vec::new();
    let mut digest_bytes: u64 = 0;
    let mut meta_bytes: u64 = 0;
    let mut distinct_urls: HashMap<u64, usize> = HashMap::new();
    for s in 0..args.sessions {
        let mut idb = [0u8; 16];
        idb[..8].copy_from_slice(&(s as u64 + 1).to_be_bytes());
        idb[8..].copy_from_slice(&rng.next().to_be_bytes());
        let id = SessionId(idb);
        // Spread over the last 25 days.
        let t0 = now - 25 * 86_400_000 + rng.below(25 * 86_400_000 - 3_600_000);
        let mut meta: Option<SessionMeta> = None;
        let mut steps = Vec::new();
        for (seq, ev) in session(&mut rng, t0).into_iter().enumerate() {
            let c = encode_chunk(id, seq as u32, &ev)?;
            // The digest's size, as the backend stores it.
            let (h, _) = reel_shared::decode_header(&c, &reel_shared::Limits::default())?;
            let mut m = reel_server::index::merge(meta.take(), &h, c.len() as u64, now);
            let up = digest::apply(&mut m, seq as u32, h.t_end, &ChunkFacts::from_events(&ev));
            for (k, url) in &up.urls {
                distinct_urls.entry(*k).or_insert(8 + url.len());
            }
            for (_, _, p) in &up.parts {
                // The part (30-byte key) and its index entry (46 bytes).
                digest_bytes += 30 + digest::encode_part(p).len() as u64 + 46;
            }
            digest::merge_steps(&mut steps, seq as u32, &up.steps);
            meta = Some(m);
            chunks.push((id, seq as u32, c));
        }
        digest_bytes += 16 + digest::encode_steps(&steps).len() as u64;
        if let Some(m) = meta {
            meta_bytes += serde_json::to_vec(&m.insights)?.len() as u64;
        }
    }
    let url_bytes: usize = distinct_urls.values().sum();
    println!(
        "generated {} sessions, {} chunks in {:.1} s",
        args.sessions,
        chunks.len(),
        started.elapsed().as_secs_f64()
    );

    // Validation, with and without the facts (best of 3 passes each).
    let n = chunks.len().min(20_000);
    let mut best = [f64::MAX; 2];
    for _ in 0..3 {
        for (i, with_facts) in [false, true].into_iter().enumerate() {
            let t = Instant::now();
            for (id, seq, c) in &chunks[..n] {
                if with_facts {
                    std::hint::black_box(check_chunk_facts(c, id, *seq, &limits, now)?);
                } else {
                    std::hint::black_box(check_chunk(c, id, *seq, &limits, now)?);
                }
            }
            best[i] = best[i].min(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
    }
    println!(
        "validation per chunk ({} B average): {:.1} µs without the facts, {:.1} µs with them",
        chunks[..n].iter().map(|c| c.2.len()).sum::<usize>() / n.max(1),
        best[0],
        best[1]
    );

    // Ingest: validated with facts, written in groups as the writer does.
    {
        let store = Store::open(&dir)?;
        let t = Instant::now();
        for group in chunks.chunks(512) {
            let checked: Vec<_> = group
                .iter()
                .map(|(id, seq, c)| check_chunk_facts(c, id, *seq, &limits, now))
                .collect::<Result<_, _>>()?;
            let batch: Vec<_> = checked
                .iter()
                .zip(group)
                .map(|((h, _), (_, _, c))| (h, &c[..]))
                .collect();
            let facts: Vec<&ChunkFacts> = checked.iter().map(|(_, f)| f).collect();
            store.put_chunks_digested(&batch, &facts, now)?;
            store.flush_blocking()?;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "ingest (validate + store + sync, groups of 512): {:.1} s, {:.0} chunks/s",
            secs,
            chunks.len() as f64 / secs
        );
    }
    println!(
        "digest: {:.0} bytes per session (page parts and their index, steps), \
         + {:.0} bytes of insights fields in the session's metadata (JSON), \
         + {} distinct URLs ({} bytes in all)",
        digest_bytes as f64 / args.sessions as f64,
        meta_bytes as f64 / args.sessions as f64,
        distinct_urls.len(),
        url_bytes
    );
    drop(chunks);

    // Reopened: every query reads sled.
    let store = Store::open(&dir)?;
    let mut filters = Filters::default();
    insights::bound_range(&mut filters, now).map_err(anyhow::Error::msg)?;
    let body = serde_json::json!({"steps": [
        {"url": "shop.example/?utm"}, {"click": "Add to cart"}, {"url": "/cart"},
        {"url": "/checkout"}, {"event": "paid"}
    ]});
    let mut funnel = FunnelQuery::parse(body.to_string().as_bytes()).map_err(anyhow::Error::msg)?;
    insights::bound_range(&mut funnel.filters, now).map_err(anyhow::Error::msg)?;
    let report = |what: &str, (best, median, summary): (Duration, Duration, String)| {
        println!(
            "{what}: best {:.0} ms, median {:.0} ms ({summary})",
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3
        );
    };
    report(
        "funnel of 5 steps over every session",
        time(args.runs, || {
            let a = insights::funnel(&*store, &funnel).unwrap_or_else(|e| panic!("{e}"));
            a.steps
                .iter()
                .map(|s| s.sessions.to_string())
                .collect::<Vec<_>>()
                .join(" > ")
        }),
    );
    report(
        "click heatmap of /cart",
        time(args.runs, || {
            let a = insights::clicks(&*store, "shop.example/cart", &filters)
                .unwrap_or_else(|e| panic!("{e}"));
            format!(
                "{} sessions, {} targets, {} points",
                a.sessions,
                a.targets.len(),
                a.points.len()
            )
        }),
    );
    report(
        "scroll map of /product/1",
        time(args.runs, || {
            let a =
                insights::scroll(&*store, "/product/1", &filters).unwrap_or_else(|e| panic!("{e}"));
            format!("{} sessions", a.sessions)
        }),
    );
    let mut seg = filters.clone();
    seg.device = Some(digest::Device::Mobile);
    seg.has_rage_clicks = Some(true);
    seg.utm_source = Some("ads".into());
    report(
        "segment list (mobile, rage clicks, utm_source=ads), 50 newest",
        time(args.runs, || {
            let page = store
                .list_sessions(
                    ListRange {
                        since: 0,
                        until: u64::MAX,
                        before: None,
                        limit: 50,
                    },
                    &mut |m| seg.matches(m),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            format!("{} sessions", page.sessions.len())
        }),
    );
    let mut count = 0;
    report(
        "segment count over every session (mobile, rage clicks, utm_source=ads)",
        time(args.runs, || {
            count = 0;
            store
                .list_sessions(
                    ListRange {
                        since: 0,
                        until: u64::MAX,
                        before: None,
                        limit: 1,
                    },
                    &mut |m| {
                        count += u64::from(seg.matches(m));
                        false
                    },
                )
                .unwrap_or_else(|e| panic!("{e}"));
            format!("{count} sessions")
        }),
    );
    Ok(())
}
