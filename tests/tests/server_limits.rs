//! What slow, stalled and greedy clients can hold of the real server
//! (issue 20, items 4 and 7), over raw TCP where a well-behaved client
//! cannot misbehave enough:
//!
//! - a request head that stalls is dropped after `--stall-timeout-secs`;
//! - a request body that stalls is answered `408` and dropped;
//! - an upload that is slow but keeps moving is stored;
//! - request bodies in flight never pass `--max-inflight-body-bytes`: a
//!   request past it gets `503` with `Retry-After` before its body is read,
//!   and the budget comes back when the stalled ones are dropped;
//! - `/events` of a session streams it: the server's peak memory while
//!   several clients read a big session grows by far less than the session.
//!
//! No assertion here depends on how fast the machine is: the stalls are
//! stalls (the client sends nothing more), the slow upload pauses far less
//! than the timeout, and the budget is counted in declared bytes. The
//! durations printed are for the record (the time to refuse a stalled
//! request).

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::server::random_hex;
use reel_e2e::ReelServer;
use reel_shared::{encode_chunk, Custom, Event, EventData, Meta};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a test waits for the server before calling it hung: far above
/// the stall timeouts used here, so only a server that never drops a
/// stalled request hits it.
const HUNG: Duration = Duration::from_secs(30);

fn connect(server: &ReelServer) -> Result<TcpStream> {
    let s = TcpStream::connect(server.addr()).context("connecting")?;
    s.set_read_timeout(Some(HUNG))?;
    Ok(s)
}

/// Reads until the server closes the connection; an error that is not the
/// `HUNG` timeout (a reset) also counts as closed.
fn read_until_closed(s: &mut TcpStream) -> Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("the server kept a stalled connection open for {HUNG:?}")
            }
            Err(_) => return Ok(got),
        }
    }
}

/// Reads one response head (up to the blank line).
fn read_head(s: &mut TcpStream) -> Result<String> {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) => bail!(
                "closed before a response: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(_) => got.push(b[0]),
            Err(e) => return Err(e).context("reading a response head"),
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

fn ingest_head(server: &ReelServer, session: &str, len: usize, extra: &str) -> String {
    format!(
        "POST /api/v1/sessions/{session}/chunks/0 HTTP/1.1\r\nHost: {}\r\n\
         X-Reel-Key: {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {len}\r\n{extra}\r\n",
        server.addr(),
        server.ingest_key()
    )
}

/// A chunk of `events` events each carrying `bytes` bytes of text that
/// does not compress (so stored size ≈ `events * bytes`).
fn big_chunk(session: &str, seq: u32, events: usize, bytes: usize, salt: u64) -> Result<Vec<u8>> {
    let t0 = 1_700_000_000_000u64 + u64::from(seq) * 1_000;
    let mut ev = vec![Event {
        t: t0,
        data: EventData::Meta(Meta {
            href: "http://example.test/big".into(),
            title: "big".into(),
            width: 800,
            height: 600,
            user_agent: "reel-e2e".into(),
            referrer: None,
            visitor_id: None,
            new_visitor: None,
        }),
    }];
    // xorshift: incompressible enough, and no dependency.
    let mut x = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for i in 0..events {
        let mut text = String::with_capacity(bytes + 2);
        text.push('"');
        for _ in 0..bytes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push(ALPHABET[(x & 63) as usize] as char);
        }
        text.push('"');
        ev.push(Event {
            t: t0 + 1 + i as u64,
            data: EventData::Custom(Custom {
                name: "blob".into(),
                data: Some(text),
            }),
        });
    }
    Ok(encode_chunk(session.parse()?, seq, &ev)?)
}

/// A stalled request head is dropped; a stalled body is answered 408 and
/// dropped; a slow upload that keeps moving is stored. The three run at
/// once against one server with a 2 s stall timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_requests_are_dropped_and_slow_ones_are_not() -> Result<()> {
    let server = ReelServer::start_with_args(&["--stall-timeout-secs", "2"]).await?;
    let server = std::sync::Arc::new(server);

    let s = server.clone();
    let head = tokio::task::spawn_blocking(move || -> Result<Duration> {
        let mut c = connect(&s)?;
        let head = ingest_head(&s, &random_hex()?, 10, "");
        // Half the head, then nothing.
        c.write_all(&head.as_bytes()[..head.len() / 2])?;
        let t = Instant::now();
        let got = read_until_closed(&mut c)?;
        ensure!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "a stalled head got {:?}",
            String::from_utf8_lossy(&got)
        );
        Ok(t.elapsed())
    });

    let s = server.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Duration> {
        let mut c = connect(&s)?;
        c.write_all(ingest_head(&s, &random_hex()?, 1000, "").as_bytes())?;
        c.write_all(&[0u8; 500])?;
        let t = Instant::now();
        let got = read_until_closed(&mut c)?;
        let text = String::from_utf8_lossy(&got);
        ensure!(
            text.starts_with("HTTP/1.1 408"),
            "a stalled body got {text:?}"
        );
        ensure!(text.contains(r#"{"error":"#), "not a JSON error: {text:?}");
        Ok(t.elapsed())
    });

    let s = server.clone();
    let id = random_hex()?;
    let chunk = big_chunk(&id, 0, 4, 4_000, 1)?;
    let slow_id = id.clone();
    let slow = tokio::task::spawn_blocking(move || -> Result<Duration> {
        let mut c = connect(&s)?;
        let t = Instant::now();
        c.write_all(ingest_head(&s, &slow_id, chunk.len(), "Connection: close\r\n").as_bytes())?;
        // 16 pieces, 250 ms apart: 4 s in all, twice the timeout, while no
        // pause comes near it.
        for piece in chunk.chunks(chunk.len().div_ceil(16)) {
            std::thread::sleep(Duration::from_millis(250));
            c.write_all(piece)?;
        }
        let got = read_until_closed(&mut c)?;
        let text = String::from_utf8_lossy(&got);
        ensure!(
            text.starts_with("HTTP/1.1 200"),
            "a slow upload got {text:?}"
        );
        Ok(t.elapsed())
    });

    let head = head.await??;
    let body = body.await??;
    let slow = slow.await??;
    eprintln!(
        "stall timeout 2 s: stalled head dropped after {head:?}, stalled body answered 408 after {body:?}; \
         a slow upload stored after {slow:?}"
    );
    let stored = server.session(&id).await?;
    ensure!(stored["chunks"] == 1, "{stored}");
    Ok(())
}

/// Request bodies in flight stay within the budget: with room for two
/// bodies of 1 MiB, two stalled uploads are let in (`100 Continue`) and
/// every further one is refused with 503 + `Retry-After` before its body
/// is read, however many come; once the stalled ones are dropped (408),
/// the budget is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_in_flight_stay_within_the_budget() -> Result<()> {
    let server = ReelServer::start_with_args(&[
        "--stall-timeout-secs",
        "2",
        "--max-inflight-body-bytes",
        "2097152",
    ])
    .await?;
    let server = std::sync::Arc::new(server);
    const LEN: usize = 1024 * 1024;
    let s = server.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let mut admitted = Vec::new();
        let mut refused = 0;
        for _ in 0..12 {
            let mut c = connect(&s)?;
            let head = ingest_head(&s, &random_hex()?, LEN, "Expect: 100-continue\r\n");
            c.write_all(head.as_bytes())?;
            let answer = read_head(&mut c)?;
            if answer.starts_with("HTTP/1.1 100") {
                // All of the body but its last byte, then a stall.
                c.write_all(&vec![b'x'; LEN - 1])?;
                admitted.push(c);
            } else {
                ensure!(answer.starts_with("HTTP/1.1 503"), "{answer}");
                ensure!(
                    answer.to_ascii_lowercase().contains("retry-after: 1"),
                    "{answer}"
                );
                refused += 1;
            }
        }
        ensure!(
            (admitted.len(), refused) == (2, 10),
            "admitted {}, refused {refused}",
            admitted.len()
        );
        for mut c in admitted {
            let got = read_until_closed(&mut c)?;
            let text = String::from_utf8_lossy(&got);
            ensure!(text.starts_with("HTTP/1.1 408"), "{text}");
        }
        // The budget is back.
        let mut c = connect(&s)?;
        let head = ingest_head(&s, &random_hex()?, LEN, "Expect: 100-continue\r\n");
        c.write_all(head.as_bytes())?;
        let answer = read_head(&mut c)?;
        ensure!(answer.starts_with("HTTP/1.1 100"), "{answer}");
        Ok(())
    })
    .await??;
    Ok(())
}

/// The server's peak (`VmHWM`) and current (`VmRSS`) resident memory, in
/// bytes.
fn rss(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name}"))?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .context(name.to_owned())?
            .parse()?;
        Ok(kb * 1024)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

fn env_or(name: &str, default: u32) -> Result<u32> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

/// `GET /events` of a session over raw TCP, counting the bytes instead of
/// keeping them (the test must not hold what it proves the server does
/// not): the response's size, head and chunked framing included.
fn read_discarding(server: &ReelServer, id: &str) -> Result<usize> {
    let mut c = connect(server)?;
    write!(
        c,
        "GET /api/v1/sessions/{id}/events HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.addr(),
        server.api_token()
    )?;
    let head = read_head(&mut c)?;
    ensure!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut total = 0;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = c.read(&mut buf).context("reading /events")?;
        if n == 0 {
            break;
        }
        total += n;
        tail.extend_from_slice(&buf[..n]);
        let cut = tail.len().saturating_sub(16);
        tail.drain(..cut);
    }
    ensure!(
        tail.ends_with(b"]\r\n0\r\n\r\n") || tail.ends_with(b"]"),
        "/events did not end with a whole array: {:?}",
        String::from_utf8_lossy(&tail)
    );
    Ok(total)
}

/// `/events` streams: four clients reading a ~125 MB session at once raise
/// the server's peak memory by far less than the session's size (built
/// whole in memory, each response alone took more than the session). The
/// growth depends on the size of a chunk and the number of readers, not
/// on the session's size. `REEL_MEASURE_CHUNKS`, `REEL_MEASURE_READERS` and
/// `REEL_MEASURE_EVENTS_PER_CHUNK` (of 32 KiB each, 8: a chunk of ~0.2 MB
/// stored) change the sizes, to measure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_big_session_stream_in_bounded_memory() -> Result<()> {
    let chunks = env_or("REEL_MEASURE_CHUNKS", 640)?;
    let readers = env_or("REEL_MEASURE_READERS", 4)?;
    let events_per_chunk = env_or("REEL_MEASURE_EVENTS_PER_CHUNK", 8)?;
    let server = ReelServer::start_with_args(&[
        "--max-session-bytes",
        "100000000000",
        "--max-bytes-per-key-per-hour",
        "0",
    ])
    .await?;
    let pid = server.pid().context("no pid")?;
    let id = random_hex()?;
    let mut session_bytes = 0;
    for seq in 0..chunks {
        let c = big_chunk(
            &id,
            seq,
            events_per_chunk as usize,
            32 * 1024,
            u64::from(seq) + 7,
        )?;
        session_bytes += c.len();
        server
            .post_chunk(&id, seq, &c)
            .await?
            .ensure_success("posting a big chunk")?;
    }
    let (before, _) = rss(pid)?;
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for _ in 0..readers {
        let s = server.clone();
        let id = id.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            read_discarding(&s, &id)
        }));
    }
    let mut json_bytes = 0;
    for t in tasks {
        json_bytes = t.await??;
    }
    let (after, kept) = rss(pid)?;
    let growth = after.saturating_sub(before);
    eprintln!(
        "session {session_bytes} B stored, /events {json_bytes} B each, {readers} readers: \
         server peak RSS {before} -> {after} B (+{growth} B), {kept} B resident afterwards"
    );
    ensure!(json_bytes > session_bytes, "the events were all read");
    ensure!(
        growth < session_bytes as u64 / 2,
        "{readers} readers of a {session_bytes} B session grew the server's peak memory by {growth} B"
    );
    Ok(())
}
