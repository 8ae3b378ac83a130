//! The benchmark's own loopback server: the workload pages, rrweb's files
//! from npm, and the sink rrweb's batches are POSTed to.
//!
//! Why not `reel_e2e::PageServer`: it never reads a request body, and the
//! sink must read every byte of one to count it (and to answer only after
//! the whole request arrived, as a real ingest endpoint would).

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Bodies larger than this are refused (the biggest rrweb batch of the
/// workloads is a few MB).
const MAX_BODY: usize = 256 << 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the sink received for one run: body bytes and requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct SinkCount {
    pub bytes: u64,
    pub requests: u64,
}

struct State {
    pages: PathBuf,
    npm: PathBuf,
    /// Extra files by URL path.
    extra: Mutex<HashMap<String, PathBuf>>,
    sink: Mutex<HashMap<String, SinkCount>>,
}

pub struct BenchServer {
    origin: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl BenchServer {
    /// Serves `pages` at `/` and `npm` (a `node_modules/@rrweb`) at `/npm/`.
    pub async fn start(pages: &Path, npm: &Path) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the bench page server")?;
        let origin = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State {
            pages: pages.to_path_buf(),
            npm: npm.to_path_buf(),
            extra: Mutex::new(HashMap::new()),
            sink: Mutex::new(HashMap::new()),
        });
        let task = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(60), serve(stream, &state))
                                .await;
                    });
                }
            })
        };
        Ok(BenchServer {
            origin,
            state,
            task,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Serves `file` at `path` too.
    pub fn add_file(&self, path: &str, file: &Path) {
        lock(&self.state.extra).insert(path.to_string(), file.to_path_buf());
    }

    /// What the sink received for `run`.
    pub fn sink(&self, run: &str) -> SinkCount {
        lock(&self.state.sink).get(run).copied().unwrap_or_default()
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        _ => "application/octet-stream",
    }
}

async fn serve(mut stream: TcpStream, state: &State) -> Result<()> {
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            bail!("request head too large");
        }
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            bail!("connection closed mid-request");
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or("/").to_string();
    let content_length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if content_length > MAX_BODY {
        return respond(&mut stream, 413, "text/plain", b"too large").await;
    }
    // Read the whole body before answering.
    let mut body_len = buf.len() - (head_end + 4);
    while body_len < content_length {
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            bail!("connection closed mid-body");
        }
        body_len += n;
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path == "/sink" {
        if method != "POST" {
            return respond(&mut stream, 405, "text/plain", b"POST only").await;
        }
        let run = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("run="))
            .unwrap_or_default()
            .to_string();
        {
            let mut sink = lock(&state.sink);
            let c = sink.entry(run).or_default();
            c.bytes += content_length as u64;
            c.requests += 1;
        }
        return respond(&mut stream, 204, "text/plain", b"").await;
    }
    match lookup(state, path).await {
        Ok((ct, body)) => respond(&mut stream, 200, ct, &body).await,
        Err(e) => {
            // Browsers ask for it unprompted.
            let status = if path == "/favicon.ico" { 204 } else { 404 };
            respond(&mut stream, status, "text/plain", e.to_string().as_bytes()).await
        }
    }
}

async fn lookup(state: &State, path: &str) -> Result<(&'static str, Vec<u8>)> {
    if path.contains("..") || path.contains('\\') || !path.starts_with('/') {
        return Err(anyhow!("bad path {path}"));
    }
    let extra = lock(&state.extra).get(path).cloned();
    let file = match (extra, path.strip_prefix("/npm/")) {
        (Some(f), _) => f,
        (None, Some(rel)) => state.npm.join(rel),
        (None, None) => state.pages.join(path.trim_start_matches('/')),
    };
    let body = tokio::fs::read(&file)
        .await
        .with_context(|| format!("no such file: {path}"))?;
    Ok((content_type(path), body))
}

async fn respond(stream: &mut TcpStream, status: u16, ct: &str, body: &[u8]) -> Result<()> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}
