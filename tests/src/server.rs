//! A real `reel-server` process on a temporary data directory.
//!
//! The tests drive the release binary, not the library, because the contract
//! is about the binary: its flags, its `listening on` line, its behaviour
//! under `kill -9`. Each test gets its own port (`127.0.0.1:0`), data
//! directory and random credentials, so tests can run in parallel.

use crate::http::{self, HttpResponse};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the server may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a SIGTERM'd server may take to flush and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Output lines kept for error messages.
const LOG_TAIL: usize = 500;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the release binary is expected: `target/release/reel-server` in the
/// workspace, or `$REEL_SERVER_BIN`.
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("REEL_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("REEL_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/reel-server")
}

/// 128 random bits as hex, from the kernel: credentials must not collide
/// between tests running in parallel, and we avoid a `rand` dependency.
pub fn random_hex() -> Result<String> {
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A running (or killed) `reel-server serve`.
pub struct ReelServer {
    binary: PathBuf,
    child: Option<Child>,
    data: tempfile::TempDir,
    ingest_key: String,
    api_token: String,
    extra_args: Vec<String>,
    /// Environment variables set for the process (a deployment's `AWS_*`).
    env: Vec<(String, String)>,
    addr: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl ReelServer {
    /// Starts the server on a free port with a fresh data directory and
    /// random credentials, and waits until it accepts connections.
    pub async fn start() -> Result<Self> {
        Self::start_with_args(&[]).await
    }

    /// As [`ReelServer::start`], with extra `serve` flags (kept on restart).
    pub async fn start_with_args(extra: &[&str]) -> Result<Self> {
        Self::start_binary(&server_binary(), extra).await
    }

    /// As [`ReelServer::start_with_args`], with another binary (the
    /// harness's own tests use a stand-in script).
    pub async fn start_binary(binary: &Path, extra: &[&str]) -> Result<Self> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::launch(binary, extra, Vec::new(), random_hex()?, random_hex()?).await
    }

    /// Starts `binary` with `extra` flags and `env`, and the given
    /// credentials: what a [`crate::deployment::Deployment`]'s processes share.
    pub(crate) async fn launch(
        binary: &Path,
        extra_args: Vec<String>,
        env: Vec<(String, String)>,
        ingest_key: String,
        api_token: String,
    ) -> Result<Self> {
        let binary = binary.to_path_buf();
        if !binary.exists() {
            bail!(
                "{} does not exist: build it first with \
                 `cargo xtask dist && cargo build --release -p reel-server` \
                 (from the workspace root), or set REEL_SERVER_BIN",
                binary.display()
            );
        }
        let data = tempfile::Builder::new()
            .prefix("reel-e2e-data-")
            .tempdir()
            .context("creating the server's data directory")?;
        let mut server = ReelServer {
            binary,
            child: None,
            data,
            ingest_key,
            api_token,
            extra_args,
            env,
            addr: "127.0.0.1:0".to_string(),
            log: Arc::new(Mutex::new(VecDeque::new())),
        };
        server.spawn("127.0.0.1:0").await?;
        Ok(server)
    }

    async fn spawn(&mut self, listen: &str) -> Result<()> {
        let mut child = Command::new(&self.binary)
            .arg("serve")
            .args(["--listen", listen])
            .arg("--data")
            .arg(self.data.path())
            .args(["--ingest-key", &self.ingest_key])
            .args(["--api-token", &self.api_token])
            .args(&self.extra_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
        let mut readers = Vec::new();
        // Threads drain both pipes for the life of the process (a full pipe
        // would block the server), keeping the tail for error messages.
        for (pipe, name, tx) in [
            (
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                "stdout",
                Some(line_tx),
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                "stderr",
                None,
            ),
        ] {
            let Some(pipe) = pipe else { continue };
            let log = self.log.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(tx) = &tx {
                        let _ = tx.send(line.clone());
                    }
                    let mut l = lock(&log);
                    if l.len() >= LOG_TAIL {
                        l.pop_front();
                    }
                    l.push_back(format!("[{name}] {line}"));
                }
            }));
        }
        self.child = Some(child);
        let wait = async {
            while let Some(line) = line_rx.recv().await {
                if let Some(i) = line.find("listening on http://") {
                    return Some(line[i + "listening on http://".len()..].trim().to_string());
                }
            }
            None
        };
        match tokio::time::timeout(START_TIMEOUT, wait).await {
            Ok(Some(addr)) => {
                self.addr = addr;
                Ok(())
            }
            Ok(None) => {
                let status = self.reap();
                // The process is gone, so both pipes are at their end: wait
                // for the readers, or the message could miss its last words.
                for r in readers {
                    let _ = r.join();
                }
                bail!(
                    "reel-server exited ({status}) before printing `listening on http://ADDR`; output:\n{}",
                    self.log()
                )
            }
            Err(_) => {
                self.kill9();
                bail!(
                    "reel-server did not print `listening on http://ADDR` within {START_TIMEOUT:?}; output:\n{}",
                    self.log()
                )
            }
        }
    }

    fn reap(&mut self) -> String {
        match self.child.take() {
            Some(mut c) => {
                let _ = c.kill();
                match c.wait() {
                    Ok(s) => s.to_string(),
                    Err(e) => format!("wait failed: {e}"),
                }
            }
            None => "not running".to_string(),
        }
    }

    /// `http://127.0.0.1:PORT`, the origin of the recorder, API and player.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn ingest_key(&self) -> &str {
        &self.ingest_key
    }

    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// The sled directory (survives kill and restart; removed on drop).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines the server wrote to stdout and stderr.
    pub fn log(&self) -> String {
        lock(&self.log)
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Kills the server with SIGKILL, as a crash would: no flush, no
    /// shutdown handler. Waits for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub async fn stop(&mut self) -> Result<std::process::ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("reel-server is not running");
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().context("waiting for reel-server")? {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "reel-server did not exit within {STOP_TIMEOUT:?} of SIGTERM; output:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the server again on the same data directory with the same
    /// credentials, stopping it cleanly first if it is running. It listens
    /// on the same address when it can, so pages keep their origin;
    /// otherwise on a new port (check [`ReelServer::origin`]).
    pub async fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            self.stop().await?;
        }
        let previous = self.addr.clone();
        match self.spawn(&previous).await {
            Ok(()) => Ok(()),
            Err(first) => {
                eprintln!(
                    "reel-server could not restart on {previous} ({first:#}); trying a new port"
                );
                self.spawn("127.0.0.1:0")
                    .await
                    .with_context(|| format!("restarting on {previous} failed first: {first:#}"))
            }
        }
    }

    /// `origin + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// A request with `Authorization: Bearer TOKEN`; any status is returned.
    pub async fn api(&self, method: &str, path: &str, body: &[u8]) -> Result<HttpResponse> {
        let auth = format!("Bearer {}", self.api_token);
        http::request(method, &self.url(path), &[("Authorization", &auth)], body).await
    }

    /// `GET` on the read API, requiring 2xx and a JSON body.
    pub async fn api_json(&self, path: &str) -> Result<Value> {
        self.api("GET", path, &[])
            .await?
            .ensure_success(&format!("GET {path}"))?
            .json()
    }

    /// `GET /api/v1/sessions` (with an optional `?query`), as the list of
    /// items, whether the server wraps them in an object or not.
    pub async fn list_sessions_query(&self, query: &str) -> Result<Vec<Value>> {
        let path = if query.is_empty() {
            "/api/v1/sessions".to_string()
        } else {
            format!("/api/v1/sessions?{}", query.trim_start_matches('?'))
        };
        let v = self.api_json(&path).await?;
        items(v, &["sessions", "items", "data"]).with_context(|| format!("GET {path}"))
    }

    /// `GET /api/v1/sessions`.
    pub async fn list_sessions(&self) -> Result<Vec<Value>> {
        self.list_sessions_query("").await
    }

    /// `GET /api/v1/sessions/{id}`.
    pub async fn session(&self, id: &str) -> Result<Value> {
        self.api_json(&format!("/api/v1/sessions/{id}")).await
    }

    /// `GET /api/v1/sessions/{id}/events`: every decoded event, in order.
    pub async fn events(&self, id: &str) -> Result<Vec<Value>> {
        let path = format!("/api/v1/sessions/{id}/events");
        let v = self.api_json(&path).await?;
        items(v, &["events", "items", "data"]).with_context(|| format!("GET {path}"))
    }

    /// `GET /api/v1/sessions/{id}/chunks`: every stored chunk, raw, as the
    /// server keeps it (a sequence of u32-LE length + chunk bytes).
    pub async fn raw_chunks(&self, id: &str) -> Result<Vec<Vec<u8>>> {
        let path = format!("/api/v1/sessions/{id}/chunks");
        let r = self
            .api("GET", &path, &[])
            .await?
            .ensure_success(&format!("GET {path}"))?;
        split_length_prefixed(&r.body).with_context(|| format!("GET {path}"))
    }

    /// `DELETE /api/v1/sessions/{id}`.
    pub async fn delete_session(&self, id: &str) -> Result<HttpResponse> {
        self.api("DELETE", &format!("/api/v1/sessions/{id}"), &[])
            .await
    }

    /// Posts one chunk as the recorder would (`X-Reel-Key`); any status is
    /// returned, so tests can check rejections.
    pub async fn post_chunk(&self, session: &str, seq: u32, chunk: &[u8]) -> Result<HttpResponse> {
        http::request(
            "POST",
            &self.url(&format!("/api/v1/sessions/{session}/chunks/{seq}")),
            &[
                ("X-Reel-Key", &self.ingest_key),
                ("Content-Type", "application/octet-stream"),
            ],
            chunk,
        )
        .await
    }
}

impl Drop for ReelServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A JSON array, or the array under one of `keys` of an object.
fn items(v: Value, keys: &[&str]) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(mut o) => {
            for k in keys {
                if let Some(Value::Array(a)) = o.remove(*k) {
                    return Ok(a);
                }
            }
            Err(anyhow!(
                "expected an array (or an object with one of {keys:?}), got an object with keys {:?}",
                o.keys().collect::<Vec<_>>()
            ))
        }
        other => Err(anyhow!("expected an array, got {other}")),
    }
}

/// Splits `u32-LE length, bytes` records.
pub fn split_length_prefixed(mut body: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let Some(len_bytes) = body.get(..4) else {
            bail!("{} trailing bytes, too few for a length", body.len());
        };
        let len =
            u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        let Some(chunk) = body.get(4..4 + len) else {
            bail!(
                "record {} claims {len} bytes, only {} left",
                out.len(),
                body.len() - 4
            );
        };
        out.push(chunk.to_vec());
        body = &body[4 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records() {
        let mut b = Vec::new();
        for rec in [&b"abc"[..], b"", b"z"] {
            b.extend_from_slice(&(rec.len() as u32).to_le_bytes());
            b.extend_from_slice(rec);
        }
        assert_eq!(
            split_length_prefixed(&b).unwrap(),
            vec![b"abc".to_vec(), vec![], b"z".to_vec()]
        );
        assert!(split_length_prefixed(&b[..b.len() - 1]).is_err());
        assert!(split_length_prefixed(&[1, 0]).is_err());
    }

    #[test]
    fn random_hex_is_random() {
        let (a, b) = (random_hex().unwrap(), random_hex().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
