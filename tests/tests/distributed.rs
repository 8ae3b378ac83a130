//! Contract §5 against real processes: several `reel-server serve` of one
//! distributed deployment (PostgreSQL and s3s-fs from `reel_testsvc`):
//! - SIGKILL one process under concurrent ingest through two: every
//!   acknowledged chunk is read back, byte for byte, through the other (and
//!   through the killed one once it is started again);
//! - what one process ingests another lists and reads, a delete through one
//!   is seen by the others and leaves none of the session's bytes in the
//!   bucket, and the player's live mode on one process follows chunks
//!   ingested through another;
//! - PostgreSQL or the object store down for a while: ingest answers `503`
//!   with `Retry-After` and a JSON error, the server stays up, and once the
//!   service is back ingest works again by itself, nothing acknowledged
//!   before lost;
//! - PostgreSQL or the object store frozen (`SIGSTOP`): the same `503`s
//!   instead of hanging, and every chunk sent again lands after the thaw;
//! - the real recorder in Chromium through an object-store outage: it
//!   retries, and the session replays completely through another process.
//!
//! Every test of this binary shares one PostgreSQL and one s3s-fs (each has
//! its own database and bucket): the outage tests hold
//! [`Services::exclusive`], the others [`Services::shared`].

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::deployment::{freeze, outage, Deployment, Service, Services};
use reel_e2e::fidelity::{check_replay, mark};
use reel_e2e::recording::ManualPage;
use reel_e2e::server::random_hex;
use reel_e2e::sessions::{custom, el, meta, new_id, node, now_ms, open_player, opening};
use reel_e2e::{http, Browser, ReelServer};
use reel_shared::{encode_chunk, Event, NodeKind, SessionId, NO_NODE};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a condition may take before the test gives up: a guard against
/// hanging, not a measurement (conditions are polled every 50 ms).
const WAIT: Duration = Duration::from_secs(60);

/// Polls `check` until it returns `Some`, or fails after [`WAIT`] with the
/// last error it returned.
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = String::new();
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => last.clear(),
            Err(e) => last = format!("{e:#}"),
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{what}: not within {WAIT:?} (last error: {last})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Chunk `seq` of session `id`: the page's opening for seq 0, then a
/// custom event `c<seq>` with a little text that differs per chunk.
fn chunk(id: SessionId, seq: u32) -> Result<Vec<u8>> {
    let t0 = 1_700_000_000_000u64;
    let mut events: Vec<Event> = Vec::new();
    if seq == 0 {
        events = opening(
            t0,
            meta("https://dist.test/shop", "Shop"),
            vec![
                node(1, NO_NODE, NodeKind::Document),
                el(2, 1, "html", &[]),
                el(3, 2, "body", &[]),
            ],
        );
    }
    events.push(custom(
        t0 + 10 * u64::from(seq) + 1,
        format!("c{seq} {}", random_hex()?),
    ));
    Ok(encode_chunk(id, seq, &events)?)
}

/// The seq of a chunk as stored, from its header.
fn seq_of(raw: &[u8]) -> Result<u32> {
    let (h, _) = reel_shared::decode_header(raw, &reel_shared::Limits::default())
        .map_err(|e| anyhow::anyhow!("a stored chunk's header: {e:?}"))?;
    Ok(h.seq)
}

/// Every chunk of `want` is stored by the deployment, as posted, read
/// through `server`; and its item counts at least as many.
async fn holds(server: &ReelServer, id: &str, want: &BTreeMap<u32, Vec<u8>>) -> Result<()> {
    let stored: BTreeMap<u32, Vec<u8>> = server
        .raw_chunks(id)
        .await?
        .into_iter()
        .map(|raw| Ok((seq_of(&raw)?, raw)))
        .collect::<Result<_>>()?;
    for (seq, bytes) in want {
        match stored.get(seq) {
            None => bail!(
                "session {id}: acknowledged chunk {seq} missing through {} (stored: {:?})",
                server.origin(),
                stored.keys().collect::<Vec<_>>()
            ),
            Some(b) if b != bytes => {
                bail!("session {id}: chunk {seq} differs from what was posted")
            }
            Some(_) => {}
        }
    }
    let item = server.session(id).await?;
    let chunks = item["chunks"].as_u64().unwrap_or(0);
    ensure!(
        chunks as usize >= want.len() && chunks as usize == stored.len(),
        "session {id}: item says {chunks} chunks, {} stored, {} acknowledged",
        stored.len(),
        want.len()
    );
    Ok(())
}

/// `POST` of a chunk to `origin` with `key`, as the recorder does.
async fn post_to(
    origin: &str,
    key: &str,
    id: &str,
    seq: u32,
    c: &[u8],
) -> Result<http::HttpResponse> {
    http::request(
        "POST",
        &format!("{origin}/api/v1/sessions/{id}/chunks/{seq}"),
        &[
            ("X-Reel-Key", key),
            ("Content-Type", "application/octet-stream"),
        ],
        c,
    )
    .await
}

type Acked = Arc<Mutex<BTreeMap<String, BTreeMap<u32, Vec<u8>>>>>;

/// One recorder posting its session's chunks back to back, alternating
/// between the two processes; a chunk whose process does not answer goes
/// to the other. Every `2xx` is noted in `acked`.
async fn recorder(
    origins: [String; 2],
    key: String,
    first: usize,
    acked: Acked,
    total: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let id = new_id()?;
    let id_text = id.to_string();
    let mut seq = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let c = chunk(id, seq)?;
        let mut via = (first + seq as usize) % 2;
        let mut answered = None;
        for _ in 0..2 {
            match post_to(&origins[via], &key, &id_text, seq, &c).await {
                Ok(r) => {
                    answered = Some(r);
                    break;
                }
                // Killed under us (or refused): the other process.
                Err(_) => via = 1 - via,
            }
        }
        let Some(r) = answered else {
            bail!("chunk {seq} of {id_text}: neither process answered");
        };
        ensure!(
            (200..300).contains(&r.status),
            "chunk {seq} of {id_text} through {}: {} {}",
            origins[via],
            r.status,
            r.text()
        );
        acked
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .entry(id_text.clone())
            .or_default()
            .insert(seq, c);
        total.fetch_add(1, Ordering::SeqCst);
        seq += 1;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_concurrent_ingest_loses_nothing_acknowledged() -> Result<()> {
    let _services = Services::shared().await;
    let dep = Deployment::new().await?;
    let mut procs = dep.start_processes(2).await?;
    let (mut a, b) = {
        let b = procs.pop().context("two processes")?;
        (procs.pop().context("two processes")?, b)
    };
    let origins = [a.origin(), b.origin()];
    let acked: Acked = Arc::default();
    let total = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            tokio::spawn(recorder(
                origins.clone(),
                a.ingest_key().to_string(),
                i,
                acked.clone(),
                total.clone(),
                stop.clone(),
            ))
        })
        .collect();
    // Kill A while chunks are in flight through both.
    wait_until("40 chunks acknowledged", || {
        let n = total.load(Ordering::SeqCst);
        async move { Ok((n >= 40).then_some(())) }
    })
    .await?;
    a.kill9();
    let at_kill = total.load(Ordering::SeqCst);
    // Ingest goes on through B.
    wait_until("40 more chunks acknowledged after the kill", || {
        let n = total.load(Ordering::SeqCst);
        async move { Ok((n >= at_kill + 40).then_some(())) }
    })
    .await?;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.context("recorder task")??;
    }
    let acked = acked
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    ensure!(acked.len() == 6, "{} sessions", acked.len());
    for (id, want) in &acked {
        holds(&b, id, want)
            .await
            .context("through the process that stayed up")?;
    }
    // The killed process, started again, reads the same.
    a.restart().await?;
    for (id, want) in &acked {
        holds(&a, id, want)
            .await
            .context("through the killed process, restarted")?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_reads_and_deletes_what_another_ingested() -> Result<()> {
    let _services = Services::shared().await;
    let dep = Deployment::new().await?;
    let procs = dep.start_processes(2).await?;
    let (a, b) = (&procs[0], &procs[1]);

    // Two sessions posted concurrently through A, so that group commits
    // may hold chunks of both in one object (a delete then rewrites it).
    let (x, y) = (new_id()?, new_id()?);
    let mut sent: BTreeMap<String, BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    let mut posts = Vec::new();
    for seq in 0..12u32 {
        for id in [x, y] {
            let c = chunk(id, seq)?;
            sent.entry(id.to_string())
                .or_default()
                .insert(seq, c.clone());
            let (origin, key) = (a.origin(), a.ingest_key().to_string());
            posts.push(tokio::spawn(async move {
                post_to(&origin, &key, &id.to_string(), seq, &c)
                    .await?
                    .ensure_success("posting through A")
            }));
        }
    }
    for p in posts {
        if let Err(e) = p.await.context("post task")? {
            bail!("{e:#}\nA's log:\n{}", a.log());
        }
    }
    let (xs, ys) = (x.to_string(), y.to_string());
    // Listed and read through B (contract: within 5 s; here it is awaited).
    let started = std::time::Instant::now();
    wait_until("B lists both sessions with all their chunks", || async {
        let listed = b.list_sessions().await?;
        let all = [&xs, &ys].iter().all(|id| {
            listed
                .iter()
                .any(|s| s["id"] == id.as_str() && s["chunks"] == 12)
        });
        Ok(all.then_some(()))
    })
    .await?;
    eprintln!("B listed what A ingested after {:?}", started.elapsed());
    for (id, want) in &sent {
        holds(b, id, want).await?;
        let events = b.events(id).await?;
        ensure!(events.len() == 14, "{id}: {} events", events.len());
    }
    // The bytes are in the bucket, verbatim; none in a process's --data.
    for c in sent[&xs].values() {
        ensure!(
            !dep.objects_holding(c)?.is_empty(),
            "a chunk of X is not in the bucket: this check would prove nothing"
        );
    }
    for p in &procs {
        ensure!(
            !dir_holds(p.data_dir(), &sent[&xs][&1])?,
            "a process keeps session data in its --data"
        );
    }

    // Deleted through B: gone through A, and from the bucket.
    let del = b.delete_session(&xs).await?;
    ensure!((200..300).contains(&del.status), "{del:?}");
    wait_until("A no longer has X", || async {
        let item = a.api("GET", &format!("/api/v1/sessions/{xs}"), &[]).await?;
        let listed = a.list_sessions().await?;
        Ok((item.status == 404 && !listed.iter().any(|s| s["id"] == xs.as_str())).then_some(()))
    })
    .await?;
    let raw = a
        .api("GET", &format!("/api/v1/sessions/{xs}/chunks"), &[])
        .await?;
    ensure!(
        raw.status == 404 || split_is_empty(&raw.body),
        "X's chunks still readable through A: {raw:?}"
    );
    let left: Vec<String> = sent[&xs]
        .values()
        .map(|c| dep.objects_holding(c))
        .collect::<Result<Vec<_>>>()?
        .concat();
    ensure!(
        left.is_empty(),
        "X's bytes are still in the bucket after its delete: {left:?}"
    );
    // Y is whole, through both.
    holds(a, &ys, &sent[&ys]).await?;
    holds(b, &ys, &sent[&ys]).await?;
    Ok(())
}

fn split_is_empty(body: &[u8]) -> bool {
    reel_e2e::server::split_length_prefixed(body).is_ok_and(|v| v.is_empty())
}

/// Whether any file under `dir` contains `needle`.
fn dir_holds(dir: &std::path::Path, needle: &[u8]) -> Result<bool> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(false);
    };
    for e in entries {
        let e = e?;
        let path = e.path();
        if e.file_type()?.is_dir() {
            if dir_holds(&path, needle)? {
                return Ok(true);
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_follows_chunks_ingested_through_another_process() -> Result<()> {
    let _services = Services::shared().await;
    let dep = Deployment::new().await?;
    let procs = dep.start_processes(2).await?;
    let (a, b) = (&procs[0], &procs[1]);
    let browser = Browser::launch().await?;
    let id = new_id()?;
    let t0 = now_ms();
    let first = opening(
        t0,
        meta("https://live.test/", "live"),
        vec![
            node(1, NO_NODE, NodeKind::Document),
            el(2, 1, "html", &[]),
            el(3, 2, "body", &[]),
        ],
    );
    b.post_chunk(&id.to_string(), 0, &encode_chunk(id, 0, &first)?)
        .await?
        .ensure_success("first chunk through B")?;
    // The player on A.
    let p = open_player(&browser, a, &format!("/sessions/{id}"), WAIT).await?;
    ensure!(
        p.eval("reelPlayer.live()").await? == serde_json::json!(true),
        "a session recorded a moment ago should open live"
    );
    // The recording goes on through B.
    for s in 1..=3u32 {
        let ev = [custom(t0 + 1000 * u64::from(s), format!("live-{s}"))];
        b.post_chunk(&id.to_string(), s, &encode_chunk(id, s, &ev)?)
            .await?
            .ensure_success("a live chunk through B")?;
    }
    p.wait_for("reelPlayer.markers().some(m => m.name === 'live-3')", WAIT)
        .await
        .context("the player on A never saw the chunks ingested through B")?;
    ensure!(p.exceptions().is_empty(), "{:#?}", p.exceptions());
    Ok(())
}

/// An ingest refused for an outage: `503`, `Retry-After`, a JSON error.
fn unavailable(r: &http::HttpResponse, what: &str) -> Result<()> {
    ensure!(r.status == 503, "{what}: {} {}", r.status, r.text());
    ensure!(
        r.header("retry-after")
            .is_some_and(|v| v.trim().parse::<u64>().is_ok()),
        "{what}: no Retry-After in {r:?}"
    );
    ensure!(r.json()?["error"].is_string(), "{what}: {}", r.text());
    Ok(())
}

/// Chunks `seqs` of session `id` posted through `server`, each
/// acknowledged: what was sent, by sequence number.
async fn post_acked(
    server: &ReelServer,
    id: SessionId,
    seqs: std::ops::Range<u32>,
    what: &str,
) -> Result<BTreeMap<u32, Vec<u8>>> {
    let mut acked = BTreeMap::new();
    for seq in seqs {
        let c = chunk(id, seq)?;
        server
            .post_chunk(&id.to_string(), seq, &c)
            .await?
            .ensure_success(what)?;
        acked.insert(seq, c);
    }
    Ok(acked)
}

/// For an outage: a fresh deployment of two processes, its services to
/// this test alone (it stops them), and a session whose chunks `0..n`
/// were acknowledged through the first process.
struct BeforeOutage {
    procs: Vec<ReelServer>,
    id: SessionId,
    acked: BTreeMap<u32, Vec<u8>>,
    _dep: Deployment,
    _services: tokio::sync::RwLockWriteGuard<'static, ()>,
}

impl BeforeOutage {
    async fn start(n: u32, what: &str) -> Result<Self> {
        let services = Services::exclusive().await;
        let dep = Deployment::new().await?;
        let procs = dep.start_processes(2).await?;
        let id = new_id()?;
        let acked = post_acked(&procs[0], id, 0..n, what).await?;
        Ok(BeforeOutage {
            procs,
            id,
            acked,
            _dep: dep,
            _services: services,
        })
    }
}

/// Every process answers `/healthz`.
async fn all_healthy(procs: &[ReelServer], what: &str) -> Result<()> {
    for p in procs {
        http::get(&p.url("/healthz"), &[])
            .await?
            .ensure_success(what)?;
    }
    Ok(())
}

/// Sends chunk `seq` of `sid` through `server` until it is acknowledged,
/// as the recorder's retries would, once a service is back; until then
/// every answer is `503` ([`unavailable`]), never another error.
async fn resend_until_acked(server: &ReelServer, sid: &str, seq: u32, c: &[u8]) -> Result<()> {
    wait_until(
        "a refused chunk to be acknowledged once the service is back",
        || async {
            let r = server.post_chunk(sid, seq, c).await?;
            if (200..300).contains(&r.status) {
                return Ok(Some(()));
            }
            unavailable(&r, "once the service is back, before recovering")?;
            Ok(None)
        },
    )
    .await
}

/// Ingest through `server` during an outage of `service`, then after it.
async fn outage_then_recovery(service: Service) -> Result<()> {
    let mut before = BeforeOutage::start(4, "before the outage").await?;
    let mut acked = std::mem::take(&mut before.acked);
    let (procs, id) = (&before.procs, before.id);
    let (a, b) = (&procs[0], &procs[1]);
    let id_text = id.to_string();

    let down = outage(service).await?;
    // The next chunk of a session, and the first of a new one: 503.
    let next = chunk(id, 4)?;
    unavailable(
        &a.post_chunk(&id_text, 4, &next).await?,
        "the next chunk during the outage",
    )?;
    let fresh = new_id()?;
    let fresh_first = chunk(fresh, 0)?;
    unavailable(
        &a.post_chunk(&fresh.to_string(), 0, &fresh_first).await?,
        "a new session's first chunk during the outage",
    )?;
    // Again: still answered, not hanging, and the process is up.
    unavailable(
        &b.post_chunk(&id_text, 4, &next).await?,
        "through the other process",
    )?;
    all_healthy(procs, "healthz during the outage").await?;
    down.end().await?;

    // Nobody restarts anything: ingest recovers by itself.
    resend_until_acked(a, &id_text, 4, &next).await?;
    resend_until_acked(b, &fresh.to_string(), 0, &fresh_first).await?;
    acked.insert(4, next);
    for p in procs {
        holds(p, &id_text, &acked).await?;
        holds(
            p,
            &fresh.to_string(),
            &BTreeMap::from([(0, fresh_first.clone())]),
        )
        .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_by_itself() -> Result<()> {
    outage_then_recovery(Service::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_outage_answers_503_and_recovers_by_itself() -> Result<()> {
    outage_then_recovery(Service::ObjectStore).await
}

/// A frozen `service` (`SIGSTOP`: its sockets accept, nothing answers, as
/// across a partition that drops packets): ingest through both processes
/// answers `503` with `Retry-After` (cut by the store's own limits, not
/// after the 60 s a whole operation may take), so does a list when the
/// database is the frozen one (a list needs no object: served when the
/// bucket is), the processes stay up; once the service goes on, the
/// chunks sent again land, every one of them, nobody restarting anything.
/// (The store's limits, 5 s, are what answers; a request left to hang
/// would fail this test on the harness's own request timeout, 30 s.)
async fn frozen_then_thawed(service: Service) -> Result<()> {
    let mut before = BeforeOutage::start(3, "before the freeze").await?;
    let mut acked = std::mem::take(&mut before.acked);
    let (procs, id) = (&before.procs, before.id);
    let (a, b) = (&procs[0], &procs[1]);
    let id_text = id.to_string();

    let frozen = freeze(service).await?;
    let list = a.api("GET", "/api/v1/sessions", &[]).await?;
    match service {
        Service::Postgres => unavailable(&list, "a list while the database is frozen")?,
        Service::ObjectStore => {
            list.ensure_success("a list while the bucket is frozen")?;
        }
    }
    // What a recorder sends meanwhile: refused, never acknowledged.
    let mut refused = BTreeMap::new();
    for (seq, server) in [(3u32, a), (4, b), (5, a)] {
        let c = chunk(id, seq)?;
        unavailable(
            &server.post_chunk(&id_text, seq, &c).await?,
            &format!("chunk {seq} while {service:?} is frozen"),
        )?;
        refused.insert(seq, c);
    }
    all_healthy(procs, "healthz during the freeze").await?;
    frozen.end().await?;

    // The recorder's retries, until each chunk is acknowledged.
    for (i, (seq, c)) in refused.iter().enumerate() {
        resend_until_acked(&procs[i % 2], &id_text, *seq, c).await?;
    }
    acked.extend(refused);
    ensure!(acked.len() == 6, "{} chunks", acked.len());
    for p in procs {
        holds(p, &id_text, &acked).await?;
    }
    let list = a.api("GET", "/api/v1/sessions", &[]).await?;
    list.ensure_success("a list after the thaw")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_postgres_answers_503_and_recovers_by_itself() -> Result<()> {
    frozen_then_thawed(Service::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_object_store_answers_503_and_recovers_by_itself() -> Result<()> {
    frozen_then_thawed(Service::ObjectStore).await
}

/// `reel_ingest_requests_total{status="503"}` of `server`.
async fn refused_503(server: &ReelServer) -> Result<u64> {
    let r = server.api("GET", "/metrics", &[]).await?;
    let text = r.ensure_success("GET /metrics")?.text();
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("reel_ingest_requests_total{status=\"503\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorder_retries_through_an_object_store_outage() -> Result<()> {
    let _services = Services::exclusive().await;
    let dep = Deployment::new().await?;
    let procs = dep.start_processes(2).await?;
    let (a, b) = (&procs[0], &procs[1]);
    let m = ManualPage::open(a).await?;
    let (page, browser) = (&m.page, &m.browser);
    let sid = m.start("{}").await?;
    let mut expected = vec![("before".to_string(), mark(page, "before").await?)];
    page.eval("Reel.flush().then(() => true)").await?;

    let down = outage(Service::ObjectStore).await?;
    for i in 0..3 {
        page.eval(&format!("addItem('during outage {i}')")).await?;
        let name = format!("down{i}");
        expected.push((name.clone(), mark(page, &name).await?));
    }
    // The recorder seals and sends; A refuses with 503 (it does not hang).
    page.eval("Reel.flush(); true").await?;
    wait_until("the recorder to be refused with 503", || async {
        Ok((refused_503(a).await? > 0).then_some(()))
    })
    .await?;
    down.end().await?;
    page.eval("addItem('after the outage')").await?;
    expected.push(("after".to_string(), mark(page, "after").await?));
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await
        .context("flush after the object store came back")?;

    // Complete, replayed through the other process.
    let (diffs, _player) = check_replay(browser, b, &sid, &expected).await?;
    if !diffs.is_empty() {
        bail!("after an object-store outage:\n  {}", diffs.join("\n  "));
    }
    let kinds: Vec<String> = b
        .events(&sid)
        .await?
        .iter()
        .filter_map(|e| e["data"].as_object().and_then(|o| o.keys().next().cloned()))
        .collect();
    ensure!(
        !kinds.iter().any(|k| k == "Dropped"),
        "the recorder dropped data during a short outage"
    );
    Ok(())
}
