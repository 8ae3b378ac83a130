//! The built binary, for real: a `2xx` from ingest must survive `kill -9`
//! (contract §3), generated secrets must survive a restart, and SIGTERM
//! must stop the server cleanly.

use reel_shared::{encode_chunk, Custom, Event, EventData, SessionId};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running {
    child: Child,
    addr: String,
    /// Every stdout line before `listening on`.
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, extra: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_reel-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env_remove("REEL_INGEST_KEYS")
        .env_remove("REEL_API_TOKEN")
        .env_remove("REEL_LISTEN")
        .env_remove("REEL_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start reel-server");
    // Owned by the guard from here on, so a failed start is still reaped.
    let mut running = Running {
        child,
        addr: String::new(),
        banner: Vec::new(),
    };
    let mut lines = BufReader::new(running.child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("reel-server exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on http://") {
            running.addr = addr.to_owned();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return running;
        }
        running.banner.push(line);
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end")
        + 4;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "unexpected chunked reply"
    );
    (status, raw[split..].to_vec())
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

fn value_of<'a>(banner: &'a [String], prefix: &str) -> &'a str {
    banner
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in {banner:?}"))
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
    assert_eq!(
        value_of(&server.banner, "api token: "),
        token,
        "the generated token is kept"
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
