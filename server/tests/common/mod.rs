//! What the tests that drive the built binary share: start it on a data
//! dir, speak HTTP/1.1 to it, build real chunks.

#![allow(dead_code)]

use reel_shared::{encode_chunk, Custom, Event, EventData, SessionId};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Running {
    pub child: Child,
    pub addr: String,
    /// Every stdout line before `listening on`.
    pub banner: Vec<String>,
}

impl Drop for Running {
    /// SIGKILL: no graceful anything.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// SIGTERM, then waits for the process to exit: a graceful shutdown
    /// lets background work in progress (a retention sweep's delete)
    /// finish, which a SIGKILL would cut between its index transaction and
    /// the removal of the session's other keys.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = self.child.wait();
    }
}

pub fn start(data: &Path, extra: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_reel-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env_remove("REEL_INGEST_KEYS")
        .env_remove("REEL_API_TOKEN")
        .env_remove("REEL_LISTEN")
        .env_remove("REEL_DATA")
        .env_remove("REEL_MIN_FREE_BYTES")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start reel-server");
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
            std::thread::spawn(move || lines.for_each(drop));
            return running;
        }
        running.banner.push(line);
    }
}

pub fn value_of<'a>(banner: &'a [String], prefix: &str) -> &'a str {
    banner
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in {banner:?}"))
}

/// One request per connection: status, lower-case head, body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
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
    // The server may answer before reading the whole body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end")
        + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, raw[split..].to_vec())
}

pub fn post_chunk(
    addr: &str,
    key: &str,
    id: SessionId,
    seq: u32,
    c: &[u8],
) -> (u16, String, Vec<u8>) {
    http(
        addr,
        "POST",
        &format!("/api/v1/sessions/{id}/chunks/{seq}"),
        &[("X-Reel-Key", key)],
        c,
    )
}

pub fn get_json(addr: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let (status, _, body) = http(addr, "GET", path, &[("Authorization", &auth)], b"");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A real chunk of `events` events, each with `text_bytes` of text that
/// compresses poorly (so chunks take room on disk).
pub fn chunk(id: SessionId, seq: u32, events: usize, text_bytes: usize) -> Vec<u8> {
    let mut x = u64::from(seq) * 2_654_435_761 + u64::from(id.0[0]) + 1;
    let events: Vec<Event> = (0..events)
        .map(|i| {
            let name: String = (0..text_bytes)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect();
            Event {
                t: 1_700_000_000_000 + u64::from(seq) * 1_000 + i as u64,
                data: EventData::Custom(Custom { name, data: None }),
            }
        })
        .collect();
    encode_chunk(id, seq, &events).unwrap()
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// The record offsets in a segment file (every record intact).
pub fn record_offsets(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut p = 8;
    while p + 8 <= segment.len() {
        let len = u32::from_le_bytes(segment[p..p + 4].try_into().unwrap()) as usize;
        out.push((p, 8 + len));
        p += 8 + len;
    }
    out
}
