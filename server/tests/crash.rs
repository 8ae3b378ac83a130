//! The built binary, for real: a `2xx` from ingest must survive `kill -9`,
//! also while several recorders are writing (contract §3); generated
//! secrets must survive a restart (the API token kept as its hash,
//! printed once); SIGTERM must let requests in flight finish and stop the
//! server cleanly; zstd bombs must not inflate; the
//! retention sweeper must delete what is old and nothing else; and
//! `export` / `import` must round-trip a session, refusing a data dir that
//! a running server holds.

mod common;

use common::{start, value_of};
use reel_shared::{encode_chunk, Custom, Event, EventData, SessionId};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `common::http`, with a chunked body (`/events` and `/chunks` stream)
/// decoded.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (status, head, body) = common::http(addr, method, path, headers, body);
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    (status, body)
}

/// A chunked transfer-encoded body, decoded (no trailers, no extensions).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n", "chunk end");
        rest = &rest[size + 2..];
    }
}

fn chunk(id: SessionId, seq: u32) -> Vec<u8> {
    let events: Vec<Event> = (0..50)
        .map(|i| Event {
            t: 1_700_000_000_000 + u64::from(seq) * 1_000 + i,
            data: EventData::Custom(Custom {
                name: format!("e{seq}-{i}"),
                data: None,
            }),
        })
        .collect();
    encode_chunk(id, seq, &events).unwrap()
}

#[test]
fn acknowledged_chunks_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let id = SessionId([0x5a; 16]);
    let chunks: Vec<Vec<u8>> = (0..5).map(|seq| chunk(id, seq)).collect();

    let server = start(dir.path(), &[]);
    let key = value_of(&server.banner, "ingest key: ").to_owned();
    let token = value_of(&server.banner, "api token: ").to_owned();
    assert_eq!(key.len(), 32);
    assert_eq!(token.len(), 32);
    for (seq, c) in chunks.iter().enumerate() {
        let path = format!("/api/v1/sessions/{id}/chunks/{seq}");
        let (status, body) = http(&server.addr, "POST", &path, &[("X-Reel-Key", &key)], c);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    // No graceful anything: SIGKILL right after the last acknowledgement.
    drop(server);

    let server = start(dir.path(), &[]);
    assert_eq!(
        value_of(&server.banner, "ingest key: "),
        key,
        "the generated key is kept"
    );
    // The generated token is kept, as its hash: not shown again, and
    // still the one that signs in (the reads below).
    assert!(
        value_of(&server.banner, "api token: ").contains("hashed"),
        "{:?}",
        server.banner
    );
    let auth = format!("Bearer {token}");
    let (status, body) = http(
        &server.addr,
        "GET",
        &format!("/api/v1/sessions/{id}/chunks"),
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200);
    let mut expect = Vec::new();
    for c in &chunks {
        expect.extend_from_slice(&(c.len() as u32).to_le_bytes());
        expect.extend_from_slice(c);
    }
    assert!(body == expect, "stored chunks differ after the crash");
    let (status, body) = http(
        &server.addr,
        "GET",
        &format!("/api/v1/sessions/{id}"),
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("\"chunks\":5") && text.contains("\"event_count\":250"),
        "{text}"
    );
}

#[test]
fn sigterm_stops_cleanly_and_given_secrets_win() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(
        dir.path(),
        &[
            "--ingest-key",
            "k-one",
            "--ingest-key",
            "k-two",
            "--api-token",
            "tok",
        ],
    );
    assert_eq!(
        server.banner,
        ["ingest key: k-one", "ingest key: k-two", "api token: tok"]
    );
    let id = SessionId([0x11; 16]);
    let (status, _) = http(
        &server.addr,
        "POST",
        &format!("/api/v1/sessions/{id}/chunks/0"),
        &[("X-Reel-Key", "k-two")],
        &chunk(id, 0),
    );
    assert_eq!(status, 200);
    let (status, body) = http(
        &server.addr,
        "POST",
        &format!("/api/v1/sessions/{id}/chunks/1"),
        &[],
        b"garbage",
    );
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let (status, body) = http(&server.addr, "GET", "/healthz", &[], b"");
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));

    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");

    // The data dir is free again (sled's lock released) and intact.
    let server = start(dir.path(), &["--api-token", "tok"]);
    let (status, body) = http(
        &server.addr,
        "GET",
        &format!("/api/v1/sessions/{id}"),
        &[("Authorization", "Bearer tok")],
        b"",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

fn post_chunk(addr: &str, key: &str, id: SessionId, seq: u32, c: &[u8]) -> std::io::Result<u16> {
    // Like `http`, but every failure is an error rather than a panic: the
    // server may die under it.
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST /api/v1/sessions/{id}/chunks/{seq} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         X-Reel-Key: {key}\r\nContent-Length: {}\r\n\r\n",
        c.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(c)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let line = String::from_utf8_lossy(&raw);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))
}

fn get_json(addr: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let (status, body) = http(addr, "GET", path, &[("Authorization", &auth)], b"");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// Splits a `/chunks` download into its chunks.
fn split_chunks(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while body.len() >= 4 {
        let n = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
        out.push(body[4..4 + n].to_vec());
        body = &body[4 + n..];
    }
    assert!(body.is_empty());
    out
}

/// The newest file of the data dir's segment log.
fn newest_segment(data: &Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(data.join("segments"))
        .expect("a segments dir in the data dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment file")
}

/// Several recorders post chunks in a loop; the server is SIGKILLed while
/// they are at it, three times over on the same data dir (the last two
/// times with a torn write added at the end of the segment log). After
/// each restart every acknowledged chunk is there byte for byte, every
/// session is readable and counts exactly the chunks it holds, and the
/// torn bytes are gone.
#[test]
fn acknowledged_chunks_survive_kill_9_under_concurrent_writers() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--ingest-key",
        "k",
        "--api-token",
        "t",
        "--max-new-sessions-per-minute",
        "0",
    ];
    const WRITERS: u8 = 6;
    // (session, seq) -> bytes, for every 2xx.
    type Acked = BTreeMap<(SessionId, u32), Vec<u8>>;
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let mut next_seq = [0u32; WRITERS as usize];
    for round in 0..3 {
        let server = start(dir.path(), &args);
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (addr, acked, stop) = (server.addr.clone(), acked.clone(), stop.clone());
            let first = next_seq[w as usize];
            writers.push(std::thread::spawn(move || {
                let id = SessionId([0xc0 + w; 16]);
                let mut seq = first;
                while !stop.load(Ordering::Relaxed) {
                    let c = chunk(id, seq);
                    match post_chunk(&addr, "k", id, seq, &c) {
                        Ok(200) => {
                            acked.lock().unwrap().insert((id, seq), c);
                            seq += 1;
                        }
                        Ok(status) => panic!("status {status}"),
                        // The server is gone: whatever was in flight may
                        // or may not have been stored.
                        Err(_) => return seq + 1,
                    }
                }
                seq
            }));
        }
        // Let them write a while (at least some acknowledgements, however
        // slow the machine), then kill mid-stream.
        let start_count = acked.lock().unwrap().len();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().len() < start_count + 60 * (round as usize + 1)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50 * round));
        let before = acked.lock().unwrap().len() - start_count;
        drop(server); // SIGKILL, writers still writing
        stop.store(true, Ordering::Relaxed);
        for (w, t) in writers.into_iter().enumerate() {
            next_seq[w] = t.join().unwrap();
        }
        assert!(before > 0, "round {round}: nothing was acknowledged");
        // The chunks are in the segment log; from the second round on, its
        // end also holds a torn write (a crash mid-`pwrite` of a group, or
        // a power cut before its sync): recovery must cut it off and keep
        // everything acknowledged.
        let newest = newest_segment(dir.path());
        let len_at_kill = std::fs::metadata(&newest).unwrap().len();
        if round > 0 {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&newest)
                .unwrap();
            let mut torn = 5_000u32.to_le_bytes().to_vec();
            torn.extend_from_slice(&[0xa5; 700]);
            f.write_all(&torn).unwrap();
        }

        let server = start(dir.path(), &args);
        if round > 0 {
            // At most `len_at_kill`, not exactly: the kill can itself leave
            // a torn group. Linux stops a `pwrite` to a file at a page
            // boundary once a fatal signal is pending, so a group being
            // written at the SIGKILL may end mid-record (on a page
            // boundary) before the bytes appended above; recovery cuts
            // that part too (it was never acknowledged: the chunks below
            // show that nothing acknowledged went with it).
            let len = std::fs::metadata(&newest).unwrap().len();
            assert!(
                len <= len_at_kill,
                "round {round}: the torn write was not cut ({len} bytes, {len_at_kill} at the kill)"
            );
            if len < len_at_kill {
                eprintln!(
                    "round {round}: the kill left {} bytes of a torn group (ending at {len_at_kill}), cut too",
                    len_at_kill - len
                );
            }
        }
        let acked = acked.lock().unwrap();
        for w in 0..WRITERS {
            let id = SessionId([0xc0 + w; 16]);
            let (status, body) = http(
                &server.addr,
                "GET",
                &format!("/api/v1/sessions/{id}/chunks"),
                &[("Authorization", "Bearer t")],
                b"",
            );
            assert_eq!(status, 200);
            let stored = split_chunks(&body);
            let stored_set: std::collections::HashSet<&[u8]> =
                stored.iter().map(Vec::as_slice).collect();
            for ((_, seq), c) in acked.range((id, 0)..=(id, u32::MAX)) {
                assert!(
                    stored_set.contains(c.as_slice()),
                    "round {round}: acknowledged chunk {id}/{seq} lost"
                );
            }
            let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
            assert_eq!(status, 200);
            assert_eq!(meta["chunks"], stored.len(), "round {round}: {meta}");
            assert_eq!(meta["event_count"], 50 * stored.len());
            let (status, events) =
                get_json(&server.addr, &format!("/api/v1/sessions/{id}/events"), "t");
            assert_eq!(status, 200);
            assert_eq!(events.as_array().unwrap().len(), 50 * stored.len());
        }
        eprintln!("round {round}: {} chunks acknowledged so far", acked.len());
    }
}

/// SIGTERM lets a request that is already in flight finish (and be
/// stored) before the process exits.
#[test]
fn sigterm_drains_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--ingest-key", "k", "--api-token", "t"];
    let mut server = start(dir.path(), &args);
    let id = SessionId([0x44; 16]);
    let c = chunk(id, 0);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // A first request on the same connection proves the server is serving
    // it (not leaving it in the accept queue) before the signal.
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = Vec::new();
    let mut buf = [0u8; 512];
    while !first.ends_with(b"\r\n\r\nok") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&first));
        first.extend_from_slice(&buf[..n]);
    }
    assert!(first.starts_with(b"HTTP/1.1 200"));
    let head = format!(
        "POST /api/v1/sessions/{id}/chunks/0 HTTP/1.1\r\nHost: x\r\nX-Reel-Key: k\r\n\
         Content-Length: {}\r\n\r\n",
        c.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&c[..c.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    s.write_all(&c[c.len() / 2..]).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    drop(server);
    let server = start(dir.path(), &args);
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    assert_eq!((status, meta["chunks"].as_u64()), (200, Some(1)));
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A zstd frame of RLE blocks: `blocks` × 128 KiB of zeros, 4 bytes each.
fn zstd_bomb(blocks: usize) -> Vec<u8> {
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3];
    for i in 0..blocks {
        let h = ((128 * 1024u32) << 3) | (1 << 1) | u32::from(i + 1 == blocks);
        f.extend_from_slice(&h.to_le_bytes()[..3]);
        f.push(0);
    }
    f
}

/// Eight 4 GiB zstd bombs at once against the real binary: each is
/// refused with a 413, and the process never holds more than a few
/// hundred MB (the inflation is capped, and so is how many run at once).
#[test]
fn zstd_bombs_are_refused_without_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--ingest-key", "k", "--api-token", "t"]);
    let id = SessionId([0x99; 16]);
    let good = chunk(id, 0);
    let (_, body) = reel_shared::decode_header(&good, &reel_shared::Limits::default()).unwrap();
    let mut bomb = good[..good.len() - body.len()].to_vec();
    bomb.extend_from_slice(&zstd_bomb(32 * 1024)); // 4 GiB
    assert!(bomb.len() < 200 * 1024);
    let bomb = std::sync::Arc::new(bomb);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (addr, bomb) = (server.addr.clone(), bomb.clone());
            std::thread::spawn(move || post_chunk(&addr, "k", id, 0, &bomb).unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 413);
    }
    let peak_mib = peak_rss_kib(server.child.id()) / 1024;
    eprintln!("peak RSS after 8 bombs: {peak_mib} MiB");
    assert!(peak_mib < 400, "peak RSS {peak_mib} MiB");
    assert_eq!(post_chunk(&server.addr, "k", id, 0, &good).unwrap(), 200);
}

/// Retention, on the real binary: sessions last heard from long ago (made
/// with the library, with a synthetic clock) go at start; with a tiny
/// retention, a live session goes once it falls silent.
#[test]
fn retention_sweeps_old_sessions() {
    use reel_server::store::Store;
    use reel_server::validate::{validate_chunk, IngestLimits};

    let dir = tempfile::tempdir().unwrap();
    let (old, fresh) = (SessionId([0x01; 16]), SessionId([0x02; 16]));
    {
        let store = Store::open(dir.path()).unwrap();
        let now = reel_server::store::now_ms();
        for (id, at) in [(old, now - 10 * 86_400_000), (fresh, now - 3_600_000)] {
            for seq in 0..3 {
                let c = chunk(id, seq);
                let h = validate_chunk(&c, &IngestLimits::default()).unwrap();
                store.put_chunk(&h, &c, at).unwrap();
            }
        }
        store.flush_blocking().unwrap();
    }
    let args = [
        "--ingest-key",
        "k",
        "--api-token",
        "t",
        "--retention-days",
        "7",
    ];
    let server = start(dir.path(), &args);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get_json(&server.addr, &format!("/api/v1/sessions/{old}"), "t").0 != 404 {
        assert!(std::time::Instant::now() < deadline, "old session kept");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        get_json(&server.addr, &format!("/api/v1/sessions/{fresh}"), "t").0,
        200
    );
    drop(server);

    // About 2.6 s of retention, swept every second.
    let args = [
        "--ingest-key",
        "k",
        "--api-token",
        "t",
        "--retention-days",
        "0.00003",
        "--sweep-interval-secs",
        "1",
    ];
    let server = start(dir.path(), &args);
    let live = SessionId([0x03; 16]);
    assert_eq!(
        post_chunk(&server.addr, "k", live, 0, &chunk(live, 0)).unwrap(),
        200
    );
    assert_eq!(
        get_json(&server.addr, &format!("/api/v1/sessions/{live}"), "t").0,
        200
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while get_json(&server.addr, "/api/v1/sessions", "t").1["sessions"]
        .as_array()
        .is_none_or(|a| !a.is_empty())
    {
        assert!(std::time::Instant::now() < deadline, "sessions kept");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = http(
        &server.addr,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer t")],
        b"",
    );
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("reel_sessions 0"), "{text}");
    // The listing is empty as soon as a delete's index transaction commits;
    // its other keys (digest, assets, project) go just after. A graceful
    // stop lets that sweep finish (a SIGKILL here could cut it).
    server.stop();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.session_key_count().unwrap(), 0, "every key swept");
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reel-server"))
        .args(args)
        .env_remove("REEL_DATA")
        .output()
        .unwrap()
}

/// `export` then `import` into another data dir gives back the same
/// session; `--json` writes its events; a data dir a server holds is
/// refused with a clear message.
#[test]
fn export_import_round_trip_through_the_cli() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--ingest-key", "k", "--api-token", "t"];
    let id = SessionId([0x3c; 16]);
    let chunks: Vec<Vec<u8>> = (0..3).map(|seq| chunk(id, seq)).collect();
    let server = start(a.path(), &args);
    for (seq, c) in chunks.iter().enumerate() {
        assert_eq!(
            post_chunk(&server.addr, "k", id, seq as u32, c).unwrap(),
            200
        );
    }
    let (_, original) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    let a_dir = a.path().to_str().unwrap();
    let held = cli(&["export", &id.to_string(), "--data", a_dir]);
    assert!(!held.status.success());
    let err = String::from_utf8_lossy(&held.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    drop(server);

    let archive = a.path().join("session.json");
    let out = cli(&[
        "export",
        &id.to_string(),
        "--data",
        a_dir,
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = cli(&["export", &id.to_string(), "--data", a_dir, "--json"]);
    assert!(json.status.success());
    let events: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 150);
    assert_eq!(events[0]["data"]["Custom"]["name"], "e0-0");
    let missing = cli(&["export", &"ab".repeat(16), "--data", a_dir]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such session"));
    let nodb = cli(&[
        "export",
        &id.to_string(),
        "--data",
        b.path().join("x").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&nodb.stderr).contains("no Reel database"));

    let b_dir = b.path().to_str().unwrap();
    let imp = cli(&["import", archive.to_str().unwrap(), "--data", b_dir]);
    assert!(
        imp.status.success(),
        "{}",
        String::from_utf8_lossy(&imp.stderr)
    );
    assert!(String::from_utf8_lossy(&imp.stdout).contains("3 chunks stored"));
    let server = start(b.path(), &args);
    let (status, body) = http(
        &server.addr,
        "GET",
        &format!("/api/v1/sessions/{id}/chunks"),
        &[("Authorization", "Bearer t")],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(split_chunks(&body), chunks);
    let (_, imported) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    for field in [
        "id",
        "started_at",
        "ended_at",
        "event_count",
        "chunks",
        "bytes",
        "urls",
    ] {
        assert_eq!(imported[field], original[field], "{field}");
    }
}
