//! `reel-load`: the ingest load benchmark. Not a test: it starts the real
//! `reel-server` binary (built in the bench profile) on a fresh data dir,
//! drives it over loopback with many simulated recorders, and reports
//! throughput and latency.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-server cargo bench -p reel-server --bench reel-load -- \
//!     --connections 64 --seconds 20
//! ```
//!
//! Each recorder is one keep-alive HTTP/1.1 connection posting chunks back
//! to back, a new session every `--chunks-per-session` chunks. Chunks are
//! built with `reel_shared::encode_chunk` from page-like events (snapshots
//! and mutations whose text compresses like real pages) until they weigh
//! about `--chunk-kb` on the wire. Only the header differs between posts, so
//! the client spends its CPU on sending, not encoding: the server and the
//! client share this machine's cores.

use clap::Parser;
use reel_shared::{
    decode_header, encode_chunk, AddedTree, AttrChange, Element, Event, EventData, FlatNode, Meta,
    MouseInteraction, MouseKind, MousePosition, Mutation, Namespace, NodeKind, Scroll, SessionId,
    Snapshot, TextChange,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(about = "Ingest load benchmark for reel-server")]
struct Args {
    /// Concurrent recorders (keep-alive connections).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Target size of one chunk on the wire, in KB.
    #[arg(long, default_value_t = 20)]
    chunk_kb: usize,
    #[arg(long, default_value_t = 50)]
    chunks_per_session: u32,
    /// Use a running server instead of starting one (needs --key).
    #[arg(long)]
    addr: Option<String>,
    #[arg(long)]
    key: Option<String>,
    /// Data dir for the started server (default: a fresh temp dir under
    /// the target dir, removed afterwards).
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// The `reel-server` binary to start (default: the one this bench was
    /// built with), e.g. to compare two builds on the same chunks.
    #[arg(long, value_name = "PATH")]
    server_bin: Option<std::path::PathBuf>,
    /// Extra arguments for `reel-server serve`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// The distributed layout (contract §5): start this many processes of
    /// one deployment, on a fresh database and bucket of the PostgreSQL
    /// and s3s-fs that `reel-testsvc` runs here (PostgreSQL with
    /// `fsync=on`), the connections spread over them in turn. 0: the
    /// embedded default, one process on its data dir.
    #[arg(long, default_value_t = 0)]
    processes: usize,
    /// Only time the ingest validation steps on the chunks (inflate, then
    /// the MessagePack walk), in µs per chunk, without any server.
    #[arg(long)]
    validate_only: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// xorshift64*: reproducible, dependency-free, good enough for fake pages.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "that",
    "your",
    "cart",
    "order",
    "shipping",
    "free",
    "returns",
    "product",
    "details",
    "review",
    "customer",
    "price",
    "sale",
    "new",
    "account",
    "sign",
    "in",
    "search",
    "menu",
    "home",
    "about",
    "contact",
    "support",
    "delivery",
    "size",
    "colour",
    "black",
    "white",
    "cotton",
    "shirt",
    "shoes",
    "jacket",
    "collection",
    "summer",
    "winter",
    "available",
    "stock",
    "add",
    "wishlist",
    "checkout",
    "payment",
    "secure",
    "privacy",
    "policy",
    "terms",
    "conditions",
    "newsletter",
    "subscribe",
    "email",
    "address",
    "phone",
    "help",
    "faq",
    "track",
    "store",
    "locator",
    "gift",
    "card",
    "discount",
    "code",
    "apply",
    "total",
    "subtotal",
    "tax",
    "estimated",
    "continue",
    "shopping",
];
const TAGS: &[&str] = &[
    "div", "span", "a", "p", "li", "button", "img", "section", "h2",
];
const CLASSES: &[&str] = &[
    "container",
    "row",
    "col-md-6",
    "product-card",
    "btn btn-primary",
    "nav-item",
    "text-muted",
    "price--sale",
    "grid__item",
    "card-body",
    "flex items-center gap-2",
    "hidden md:block",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s
}

fn element(rng: &mut Rng) -> NodeKind {
    let tag = TAGS[rng.below(TAGS.len())];
    let mut attrs = vec![(
        "class".to_owned(),
        CLASSES[rng.below(CLASSES.len())].to_owned(),
    )];
    if tag == "a" {
        attrs.push((
            "href".into(),
            format!(
                "/products/{}-{}",
                WORDS[rng.below(WORDS.len())],
                rng.below(9999)
            ),
        ));
    }
    if tag == "img" {
        attrs.push((
            "src".into(),
            format!("https://cdn.shop.example/img/{}.jpg", rng.below(99999)),
        ));
        attrs.push(("alt".into(), sentence(rng, 3)));
    }
    NodeKind::Element(Element {
        tag: tag.into(),
        ns: Namespace::Html,
        attrs,
        ..Default::default()
    })
}

/// `n` nodes under `parent`, ids from `next_id`: elements with text children.
fn subtree(rng: &mut Rng, parent: u32, next_id: &mut u32, n: usize) -> Vec<FlatNode> {
    let mut nodes = Vec::with_capacity(n);
    let mut open = vec![parent];
    for _ in 0..n {
        let id = *next_id;
        *next_id += 1;
        let p = open[rng.below(open.len())];
        if rng.below(3) == 0 {
            let words = 2 + rng.below(12);
            nodes.push(FlatNode {
                id,
                parent: p,
                kind: NodeKind::Text(sentence(rng, words)),
            });
        } else {
            nodes.push(FlatNode {
                id,
                parent: p,
                kind: element(rng),
            });
            open.push(id);
        }
    }
    nodes
}

/// Page-like events: a page load and snapshot for a session's first chunk,
/// mutations, pointer moves, scrolls and clicks after it, grown until the
/// encoded chunk weighs about `target` bytes.
fn chunk_events(rng: &mut Rng, first: bool, target: usize) -> Vec<Event> {
    let t0 = 1_714_564_800_000u64;
    let mut t = t0;
    let mut next_id: u32;
    let mut events = Vec::new();
    if first {
        events.push(Event {
            t,
            data: EventData::Meta(Meta {
                href: "https://shop.example/products/cotton-shirt".into(),
                title: "Cotton shirt – Shop".into(),
                width: 1280,
                height: 800,
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0".into(),
                referrer: None,
                visitor_id: None,
                new_visitor: None,
            }),
        });
        let mut nodes = vec![FlatNode {
            id: 1,
            parent: 0,
            kind: NodeKind::Document,
        }];
        next_id = 2;
        nodes.extend(subtree(rng, 1, &mut next_id, 1500));
        events.push(Event {
            t,
            data: EventData::FullSnapshot(Snapshot {
                nodes,
                scroll_x: 0,
                scroll_y: 0,
            }),
        });
    } else {
        next_id = 5000;
    }
    loop {
        for _ in 0..20 {
            t += 1 + rng.below(200) as u64;
            let data = match rng.below(6) {
                0 | 1 => {
                    let parent = 2 + rng.below(1000) as u32;
                    let n = 3 + rng.below(20);
                    EventData::Mutation(Mutation {
                        removes: vec![parent + 1],
                        adds: vec![AddedTree {
                            parent,
                            next: 0,
                            nodes: subtree(rng, parent, &mut next_id, n),
                        }],
                        attrs: vec![AttrChange {
                            id: parent,
                            name: "class".into(),
                            value: Some(CLASSES[rng.below(CLASSES.len())].into()),
                        }],
                        texts: vec![TextChange {
                            id: parent + 2,
                            text: sentence(rng, 4),
                        }],
                    })
                }
                2 => EventData::MouseMove(
                    (0..10)
                        .map(|i| MousePosition {
                            x: rng.below(1280) as i32,
                            y: rng.below(800) as i32,
                            dt: i * 16,
                        })
                        .collect(),
                ),
                3 => EventData::Scroll(Scroll {
                    id: 1,
                    x: 0,
                    y: rng.below(5000) as i32,
                    depth: None,
                }),
                4 => EventData::Mouse(MouseInteraction {
                    kind: MouseKind::Click,
                    id: 2 + rng.below(1000) as u32,
                    x: rng.below(1280) as i32,
                    y: rng.below(800) as i32,
                    label: None,
                    selector: None,
                    box_x: None,
                    box_y: None,
                }),
                _ => EventData::Mutation(Mutation {
                    texts: vec![TextChange {
                        id: 2 + rng.below(1000) as u32,
                        text: sentence(rng, 6),
                    }],
                    ..Default::default()
                }),
            };
            events.push(Event { t, data });
        }
        let size = encode_chunk(SessionId([0; 16]), 0, &events)
            .map(|c| c.len())
            .unwrap_or(0);
        if size >= target {
            return events;
        }
    }
}

/// A chunk split where the per-post part (the header) starts: everything
/// after it is reused for every post.
struct Template {
    header: reel_shared::ChunkHeader,
    body: Vec<u8>,
}

impl Template {
    fn new(events: &[Event]) -> Template {
        let raw = encode_chunk(SessionId([0; 16]), 0, events).expect("encode");
        let (header, body) =
            decode_header(&raw, &reel_shared::Limits::default()).expect("own chunk");
        Template {
            header,
            body: body.to_vec(),
        }
    }

    /// The HTTP request posting this template as `(id, seq)`.
    fn request(&self, id: SessionId, seq: u32, key: &str, host: &str) -> Vec<u8> {
        let mut h = self.header.clone();
        h.session = id;
        h.seq = seq;
        let hb = rmp_serde::to_vec(&h).expect("header");
        let len = 9 + hb.len() + self.body.len();
        let mut req = format!(
            "POST /api/v1/sessions/{id}/chunks/{seq} HTTP/1.1\r\nHost: {host}\r\n\
             X-Reel-Key: {key}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {len}\r\n\r\n"
        )
        .into_bytes();
        req.extend_from_slice(b"REEL");
        req.push(reel_shared::chunk::FORMAT_VERSION);
        req.extend_from_slice(&(hb.len() as u32).to_le_bytes());
        req.extend_from_slice(&hb);
        req.extend_from_slice(&self.body);
        req
    }
}

/// Reads one response; returns its status. Keep-alive: consumes exactly
/// the response's bytes.
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(std::io::Error::other)?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Ok(status)
}

#[derive(Default)]
struct Tally {
    /// Latencies in µs of successful posts inside the measured window.
    latencies: Vec<u32>,
    bytes: u64,
    errors: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
}

#[allow(clippy::too_many_arguments)]
async fn recorder(
    n: usize,
    addr: String,
    key: String,
    templates: Arc<Vec<Template>>,
    chunks_per_session: u32,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    // Seeded from the clock too: a run against a server that kept an
    // earlier run's data (`--addr`, `--data`) must not post the same
    // sessions again, which the server answers as duplicates, without a
    // write (about a third faster, and not what is being measured).
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng =
        Rng((0x9e37_79b9_7f4a_7c15 ^ salt ^ (n as u64 + 1).wrapping_mul(0x1234_5678_9abc)) | 1);
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(4096);
    let mut id = SessionId([0; 16]);
    let mut seq = chunks_per_session;
    while !stop.load(Ordering::Relaxed) {
        if seq == chunks_per_session {
            for b in id.0.iter_mut() {
                *b = rng.next() as u8;
            }
            seq = 0;
        }
        // Template 0 holds the snapshot: a session's first chunk.
        let t = if seq == 0 {
            &templates[0]
        } else {
            &templates[1 + rng.below(templates.len() - 1)]
        };
        let req = t.request(id, seq, &key, &addr);
        let s = match &mut conn {
            Some(s) => s,
            None => match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn.insert(s)
                }
                Err(_) => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let r = async {
            s.write_all(&req).await?;
            read_response(s, &mut buf).await
        }
        .await;
        let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        let counted = measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed);
        match r {
            Ok(status) => {
                if counted {
                    *tally.statuses.entry(status).or_default() += 1;
                }
                if status == 200 {
                    seq += 1;
                    if counted {
                        tally.latencies.push(micros);
                        tally.bytes += req.len() as u64;
                    }
                } else if counted {
                    tally.errors += 1;
                }
            }
            Err(_) => {
                conn = None;
                if counted {
                    tally.errors += 1;
                }
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// The started server: killed (SIGTERM, then SIGKILL) when dropped.
struct Server {
    child: std::process::Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(
    bin: Option<&std::path::Path>,
    data: &std::path::Path,
    extra: &[String],
    env: &[(String, String)],
) -> (Server, String, String) {
    let own_build = bin.is_none();
    let bin = bin.unwrap_or(std::path::Path::new(env!("CARGO_BIN_EXE_reel-server")));
    let mut child = Command::new(bin)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(["--ingest-key", "load-key", "--api-token", "load-token"])
        .args(["--max-new-sessions-per-minute", "0"])
        // The load comes from one address and stores GBs an hour: no
        // allowances (builds given by --server-bin may predate these flags).
        .args(if own_build {
            &[
                "--max-new-sessions-per-address-per-minute",
                "0",
                "--max-bytes-per-key-per-hour",
                "0",
            ][..]
        } else {
            &[][..]
        })
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start reel-server");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server { child };
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("reel-server exited before listening")
            .expect("read stdout");
        if let Some(addr) = line.strip_prefix("listening on http://") {
            let addr = addr.to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return (server, addr, "load-key".into());
        }
    }
}

/// CPU seconds (user + system) a process has used so far, from /proc.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

/// One scrape of `/metrics`, for the server-side view (flushes, sizes).
fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer load-token\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// µs per chunk of each validation step, best of five rounds.
fn time_validation(templates: &[Template]) {
    use reel_server::validate::{check_events, inflate, validate_chunk, IngestLimits};
    let limits = IngestLimits::default();
    let chunks: Vec<Vec<u8>> = templates
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let req = t.request(SessionId([i as u8; 16]), i as u32, "k", "h");
            let at = req.windows(4).position(|w| w == b"REEL").expect("chunk");
            req[at..].to_vec()
        })
        .collect();
    let raws: Vec<Vec<u8>> = templates
        .iter()
        .map(|t| inflate(&t.body, limits.max_decompressed).expect("inflate"))
        .collect();
    let rounds = 200;
    let time = |f: &dyn Fn()| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..rounds {
                    f();
                }
                t.elapsed().as_secs_f64() * 1e6 / (rounds * templates.len()) as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    let inflate_us = time(&|| {
        for t in templates {
            std::hint::black_box(inflate(&t.body, limits.max_decompressed).expect("inflate"));
        }
    });
    let walk_us = time(&|| {
        for (r, t) in raws.iter().zip(templates) {
            check_events(r, &t.header).expect("walk");
        }
    });
    let all_us = time(&|| {
        for c in &chunks {
            std::hint::black_box(validate_chunk(c, &limits).expect("valid"));
        }
    });
    println!(
        "per chunk: inflate {inflate_us:.1} µs (fresh buffers), walk {walk_us:.1} µs, \
         validate_chunk {all_us:.1} µs (header + inflate + walk, reused buffers)"
    );
}

fn main() {
    let args = Args::parse();
    let target = args.chunk_kb * 1024;
    let mut rng = Rng(42);
    let mut templates = vec![Template::new(&chunk_events(&mut rng, true, target))];
    for _ in 0..7 {
        templates.push(Template::new(&chunk_events(&mut rng, false, target)));
    }
    let sizes: Vec<usize> = templates.iter().map(|t| t.body.len() + 150).collect();
    let raw_sizes: Vec<usize> = templates
        .iter()
        .map(|t| {
            reel_shared::chunk::decompress_body(&t.body, &reel_shared::Limits::default())
                .map(|b| b.len())
                .unwrap_or(0)
        })
        .collect();
    eprintln!(
        "chunks: ~{} B on the wire ({} events first, {} after), ~{} B decompressed",
        sizes.iter().sum::<usize>() / sizes.len(),
        templates[0].header.event_count,
        templates[1].header.event_count,
        raw_sizes.iter().sum::<usize>() / raw_sizes.len()
    );

    if args.validate_only {
        time_validation(&templates);
        return;
    }

    let mut tmps = Vec::new();
    let mut server_pids: Vec<String> = Vec::new();
    let mut servers = Vec::new();
    let mut dist: Option<Dist> = None;
    let (addrs, key) = match &args.addr {
        Some(a) => (
            vec![a.clone()],
            args.key.clone().expect("--key with --addr"),
        ),
        None => {
            let mut extra = args.server_args.clone();
            let mut env = Vec::new();
            if args.processes > 0 {
                let d = Dist::new();
                extra.extend(d.flags());
                env = d.env.clone();
                dist = Some(d);
            }
            let mut addrs = Vec::new();
            let mut key = String::new();
            for _ in 0..args.processes.max(1) {
                let data = match &args.data {
                    Some(d) if args.processes == 0 => d.clone(),
                    _ => {
                        let t =
                            tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
                        let p = t.path().to_path_buf();
                        tmps.push(t);
                        p
                    }
                };
                let (s, a, k) = start_server(args.server_bin.as_deref(), &data, &extra, &env);
                eprintln!("server on {a}, data in {}", data.display());
                server_pids.push(s.child.id().to_string());
                servers.push(s);
                addrs.push(a);
                key = k;
            }
            (addrs, key)
        }
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let templates = Arc::new(templates);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let before = scrape_all(&addrs);
    let mut cpu = (0.0, 0.0, 0.0, 0.0);
    let mut services = ((0.0, 0.0), (0.0, 0.0));
    let (tallies, elapsed) = rt.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..args.connections {
            tasks.push(tokio::spawn(recorder(
                n,
                addrs[n % addrs.len()].clone(),
                key.clone(),
                templates.clone(),
                args.chunks_per_session,
                measuring.clone(),
                stop.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
        measuring.store(true, Ordering::Relaxed);
        cpu.0 = server_pids.iter().filter_map(|p| cpu_seconds(p)).sum();
        services.0 = services_cpu(&server_pids);
        cpu.2 = cpu_seconds("self").unwrap_or(0.0);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        cpu.1 = server_pids.iter().filter_map(|p| cpu_seconds(p)).sum();
        services.1 = services_cpu(&server_pids);
        cpu.3 = cpu_seconds("self").unwrap_or(0.0);
        let elapsed = started.elapsed();
        let mut tallies = Vec::new();
        for t in tasks {
            tallies.push(t.await.expect("recorder task"));
        }
        (tallies, elapsed)
    });
    let after = scrape_all(&addrs);

    let mut all = Tally::default();
    for t in tallies {
        all.latencies.extend(t.latencies);
        all.bytes += t.bytes;
        all.errors += t.errors;
        for (k, v) in t.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    all.latencies.sort_unstable();
    let secs = elapsed.as_secs_f64();
    let n = all.latencies.len();
    println!(
        "{} connections, {:.1} s: {} chunks acknowledged, {:.0} chunks/s, {:.1} MB/s, \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors, statuses {:?}",
        args.connections,
        secs,
        n,
        n as f64 / secs,
        all.bytes as f64 / secs / 1e6,
        percentile(&all.latencies, 0.50),
        percentile(&all.latencies, 0.99),
        percentile(&all.latencies, 1.0),
        all.errors,
        all.statuses
    );
    if !server_pids.is_empty() && n > 0 {
        let (server_cpu, client_cpu) = (cpu.1 - cpu.0, cpu.3 - cpu.2);
        println!(
            "cpu: server {:.2} s ({:.0}% of one core, {:.3} ms per chunk), load client {:.2} s; \
             load average {}",
            server_cpu,
            100.0 * server_cpu / secs,
            1000.0 * server_cpu / n as f64,
            client_cpu,
            std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        );
    }
    if dist.is_some() && n > 0 {
        let ((pg0, s30), (pg1, s31)) = services;
        println!(
            "cpu: postgres {:.2} s ({:.3} ms per chunk), s3s-fs {:.2} s ({:.3} ms per chunk)",
            pg1 - pg0,
            1000.0 * (pg1 - pg0) / n as f64,
            s31 - s30,
            1000.0 * (s31 - s30) / n as f64,
        );
    }
    if let (Some(b), Some(a)) = (before, after) {
        let sum = |texts: &[String], name: &str| -> Option<f64> {
            texts.iter().map(|t| metric(t, name)).sum::<Option<f64>>()
        };
        let d = |name: &str| Some(sum(&a, name)? - sum(&b, name).unwrap_or(0.0));
        if let (Some(flushes), Some(chunks), Some(flush_secs)) = (
            d("reel_store_flushes_total"),
            d("reel_ingest_chunks_total{outcome=\"stored\"}"),
            d("reel_store_flush_seconds_total"),
        ) {
            println!(
                "server: {chunks:.0} chunks stored in {flushes:.0} flushes ({:.1} chunks per flush, \
                 {:.1} ms per flush), {:.0} MB on disk",
                chunks / flushes.max(1.0),
                1000.0 * flush_secs / flushes.max(1.0),
                metric(&a[0], "reel_store_size_bytes").unwrap_or(0.0) / 1e6
            );
        }
        if let (Some(d), Some(total)) = (
            &dist,
            sum(&a, "reel_ingest_chunks_total{outcome=\"stored\"}"),
        ) {
            d.report(total);
        }
    }
}

/// The deployment of `--processes`: a fresh database and bucket.
struct Dist {
    db: String,
    db_name: String,
    bucket: String,
    env: Vec<(String, String)>,
    /// `pg_current_wal_lsn()` before any process started.
    wal_start: String,
}

impl Dist {
    fn new() -> Dist {
        // Durable commits, as a deployment runs (the tests' servers do
        // without); must be set before the server starts.
        if std::env::var_os("REEL_TESTSVC_FSYNC").is_none() {
            std::env::set_var("REEL_TESTSVC_FSYNC", "1");
        }
        let pg = reel_testsvc::postgres();
        let db = pg.create_database();
        let db_name = db.rsplit('/').next().unwrap_or_default().to_string();
        let s3 = reel_testsvc::s3();
        let bucket = s3.create_bucket();
        let env = s3
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let wal_start = pg
            .psql(&db_name, "SELECT pg_current_wal_lsn()")
            .trim()
            .to_string();
        eprintln!("distributed: {db} and {bucket}");
        Dist {
            db,
            db_name,
            bucket,
            env,
            wal_start,
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--chunk-store".into(),
            self.bucket.clone(),
            "--index-db".into(),
            self.db.clone(),
        ]
    }

    /// What the store did over the whole run (warm-up included), per chunk
    /// stored: transactions, rows, WAL bytes, objects written.
    fn report(&self, chunks: f64) {
        // Backends report their counts to pg_stat_database when idle for
        // 10 s at most (PostgreSQL 15).
        std::thread::sleep(Duration::from_secs(11));
        let pg = reel_testsvc::postgres();
        let row = pg.psql(
            &self.db_name,
            &format!(
                "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, \
                 pg_wal_lsn_diff(pg_current_wal_lsn(), '{}') \
                 FROM pg_stat_database WHERE datname = current_database()",
                self.wal_start
            ),
        );
        let v: Vec<f64> = row
            .trim()
            .split('|')
            .map(|x| x.parse().unwrap_or(f64::NAN))
            .collect();
        let objects = std::fs::read_dir(reel_testsvc::s3().bucket_dir(&self.bucket).join("chunks"))
            .map(|d| d.count())
            .unwrap_or(0) as f64;
        let per = |x: f64| x / chunks.max(1.0);
        if let [commits, ins, upd, del, wal] = v[..] {
            println!(
                "store: {chunks:.0} chunks; per chunk: {:.3} objects PUT ({objects:.0}), \
                 {:.2} commits, {:.2} rows inserted, {:.2} updated, {:.2} deleted, \
                 {:.0} B of WAL (the whole run, warm-up included)",
                per(objects),
                per(commits),
                per(ins),
                per(upd),
                per(del),
                per(wal)
            );
        }
    }
}

/// CPU seconds of the services this process started (`reel-testsvc`'s
/// PostgreSQL with its backends, and s3s-fs): every descendant of this
/// process but the servers, `(postgres, s3s-fs)`.
fn services_cpu(servers: &[String]) -> (f64, f64) {
    let mut procs: Vec<(u32, u32, String, f64)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some((head, rest))) = (stat.find('('), stat.rsplit_once(')')) else {
            continue;
        };
        let comm = head.get(open + 1..).unwrap_or("").to_string();
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ppid = f.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        let ticks = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        procs.push((pid, ppid, comm, ticks / 100.0));
    }
    let mut mine = vec![std::process::id()];
    let mut i = 0;
    while i < mine.len() {
        let parent = mine[i];
        for (pid, ppid, _, _) in &procs {
            if *ppid == parent && !servers.contains(&pid.to_string()) {
                mine.push(*pid);
            }
        }
        i += 1;
    }
    let (mut pg, mut s3) = (0.0, 0.0);
    for (pid, _, comm, cpu) in &procs {
        if !mine[1..].contains(pid) {
            continue;
        }
        if comm.starts_with("postgres") {
            pg += cpu;
        } else if comm.starts_with("s3s") {
            s3 += cpu;
        }
    }
    (pg, s3)
}

/// [`scrape`] of every server.
fn scrape_all(addrs: &[String]) -> Option<Vec<String>> {
    addrs.iter().map(|a| scrape(a)).collect()
}
