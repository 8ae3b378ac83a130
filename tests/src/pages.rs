//! A static server for the test page corpus (`tests/pages/`).
//!
//! The pages must come from an origin other than the Reel server's, because
//! that is how the recorder is deployed: embedded cross-origin with
//! `<script src="{{REEL_ORIGIN}}/reel.js" data-ingest-key="{{INGEST_KEY}}">`.
//! The placeholders are filled in per test, since every test's server has
//! its own port and key. It also logs the requests it receives, so tests
//! can check what the browser sent.

use anyhow::{anyhow, Context, Result};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tests/pages/`.
pub fn pages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pages")
}

/// Where `.ci/setup` installs the npm packages the library-based corpus
/// pages use (`REEL_E2E_NPM` overrides it); served under `/npm/`.
pub fn npm_dir() -> PathBuf {
    match std::env::var_os("REEL_E2E_NPM") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-npm/node_modules"),
    }
}

/// The Rust toolchain's own HTML docs (rustdoc pages and mdBook books),
/// from the `rust-docs` component `.ci/setup` installs; served under
/// `/rustdoc/` as real pages no one here wrote (and under `/rustdoc-rec/`
/// with the recorder's tag in each HTML page).
pub fn rust_docs_dir() -> Result<PathBuf> {
    let out = std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc --print sysroot")?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = Path::new(&sysroot).join("share/doc/rust/html");
    if !dir.join("std/index.html").is_file() {
        return Err(anyhow!(
            "{} has no std docs: run .ci/setup (rustup component add rust-docs)",
            dir.display()
        ));
    }
    Ok(dir)
}

/// Where tests put files they build (e.g. an esbuild bundle), served under
/// `/built/`.
pub fn built_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-built")
}

/// The recorder's tag, as the README tells a site to add it (first in
/// `<head>`, no `defer`), put into a real page served under
/// `/rustdoc-rec/` (a path, not a query: rustdoc's script rewrites its
/// page's query).
const REAL_PAGE_TAG: &str =
    r#"<script src="{{REEL_ORIGIN}}/reel.js" data-ingest-key="{{INGEST_KEY}}"></script>"#;

fn with_tag(html: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(html);
    let lower = text.to_ascii_lowercase();
    let at = lower
        .find("<meta charset")
        .and_then(|i| lower[i..].find('>').map(|j| i + j + 1))
        .or_else(|| lower.find("<head>").map(|i| i + "<head>".len()))
        .unwrap_or(0);
    format!("{}{REAL_PAGE_TAG}{}", &text[..at], &text[at..]).into_bytes()
}

/// One request the page server received.
#[derive(Clone, Debug)]
pub struct RequestLog {
    pub method: String,
    /// Path and query, as requested.
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
}

impl RequestLog {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    root: PathBuf,
    vars: Mutex<Vec<(String, String)>>,
    extra: Mutex<HashMap<String, (String, Vec<u8>)>>,
    requests: Mutex<Vec<RequestLog>>,
}

/// Serves `tests/pages/` (plus pages added in memory) on `127.0.0.1:0`,
/// replacing `{{NAME}}` placeholders in text files. Stops on drop.
pub struct PageServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl PageServer {
    /// Serves `tests/pages/` with the given placeholder values.
    pub async fn start(vars: &[(&str, &str)]) -> Result<Self> {
        Self::start_in(&pages_dir(), vars).await
    }

    /// Serves `tests/pages/` with `{{REEL_ORIGIN}}` and `{{INGEST_KEY}}` set
    /// for `server`, so the pages embed that server's recorder.
    pub async fn for_reel(server: &crate::server::ReelServer) -> Result<Self> {
        Self::start(&[
            ("REEL_ORIGIN", &server.origin()),
            ("INGEST_KEY", server.ingest_key()),
        ])
        .await
    }

    /// Serves another directory.
    pub async fn start_in(root: &Path, vars: &[(&str, &str)]) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the page server")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            root: root.to_path_buf(),
            vars: Mutex::new(
                vars.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            extra: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
        });
        let task = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move {
                        // A broken connection only concerns that request.
                        let _ = tokio::time::timeout(
                            Duration::from_secs(30),
                            serve_one(stream, &state),
                        )
                        .await;
                    });
                }
            })
        };
        Ok(PageServer { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `origin + path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// Sets (or adds) a placeholder value, for files served from now on.
    pub fn set_var(&self, name: &str, value: &str) {
        let mut vars = lock(&self.state.vars);
        match vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => vars.push((name.to_string(), value.to_string())),
        }
    }

    /// Serves `body` at `path` (placeholders are substituted in text
    /// types), for pages generated by a test.
    pub fn add_page(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        lock(&self.state.extra).insert(path.to_string(), (content_type.to_string(), body.into()));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RequestLog> {
        lock(&self.state.requests).clone()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        _ => "application/octet-stream",
    }
}

fn is_text(ct: &str) -> bool {
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("svg")
        || ct.contains("javascript")
}

/// Replaces every `{{NAME}}` whose NAME is known; leaves others as written.
pub fn substitute(text: &str, vars: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

async fn serve_one(mut stream: TcpStream, state: &State) -> Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = crate::http::find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Err(anyhow!("request head too large"));
        }
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Err(anyhow!("connection closed mid-request"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // A request body is read (and dropped) before answering: closing a
    // socket with unread data resets the connection, which the browser may
    // report as a network error instead of the answer.
    let declared = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(16 << 20);
    let mut have = buf.len() - (head_end + 4);
    while have < declared {
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    lock(&state.requests).push(RequestLog {
        method: method.clone(),
        target: target.clone(),
        headers,
    });

    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    let (status, ct, mut body) = lookup(state, &path).await;
    if status == 200 && path.starts_with("/rustdoc-rec/") && ct.starts_with("text/html") {
        body = with_tag(&body);
    }
    let body = if is_text(&ct) {
        let vars = lock(&state.vars).clone();
        substitute(&String::from_utf8_lossy(&body), &vars).into_bytes()
    } else {
        body
    };
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        _ => "Not Found",
    };
    // Fonts are fetched in CORS mode, and the replay lives at the player's
    // origin: served as font hosts and CDNs serve them (fontsource on
    // jsDelivr, Google Fonts), readable from any origin. A site serving
    // its fonts without this shows fallback fonts in the replay.
    // The player pages of the tests send the API token on every request
    // (`fidelity::authorised_page`), which makes a font request from the
    // replay preflighted: allowed too (a viewer's browser sends a cookie,
    // no such header).
    let preflight = method == "OPTIONS";
    let cors = if ct.starts_with("font/") || preflight {
        "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: authorization\r\n"
    } else {
        ""
    };
    let (status, reason, body) = if preflight {
        (204, "No Content", Vec::new())
    } else {
        (status, reason, body)
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\n{cors}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(&body).await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

async fn lookup(state: &State, path: &str) -> (u16, String, Vec<u8>) {
    if let Some((ct, body)) = lock(&state.extra).get(path).cloned() {
        return (200, ct, body);
    }
    if path.contains("..") || path.contains('\\') || !path.starts_with('/') {
        return (400, "text/plain".into(), b"bad path".to_vec());
    }
    let mut rel = path.trim_start_matches('/').to_string();
    if rel.is_empty() || rel.ends_with('/') {
        rel.push_str("index.html");
    }
    if let Some(doc) = rel
        .strip_prefix("rustdoc/")
        .or_else(|| rel.strip_prefix("rustdoc-rec/"))
    {
        let dir = match rust_docs_dir() {
            Ok(d) => d,
            Err(e) => {
                return (
                    404,
                    "text/plain; charset=utf-8".into(),
                    format!("{e:#}").into_bytes(),
                )
            }
        };
        let file = dir.join(doc);
        return match tokio::fs::read(&file).await {
            Ok(body) => (200, content_type(&rel).to_string(), body),
            Err(_) => (
                404,
                "text/plain; charset=utf-8".into(),
                format!("no such page: {path}").into_bytes(),
            ),
        };
    }
    if let Some(built) = rel.strip_prefix("built/") {
        return match tokio::fs::read(built_dir().join(built)).await {
            Ok(body) => (200, content_type(&rel).to_string(), body),
            Err(_) => (
                404,
                "text/plain; charset=utf-8".into(),
                format!("not built: {path}").into_bytes(),
            ),
        };
    }
    let file = match rel.strip_prefix("npm/") {
        Some(module) => {
            let file = npm_dir().join(module);
            if !file.is_file() && !npm_dir().is_dir() {
                return (
                    404,
                    "text/plain; charset=utf-8".into(),
                    format!("{} is missing: run .ci/setup", npm_dir().display()).into_bytes(),
                );
            }
            file
        }
        None => state.root.join(&rel),
    };
    match tokio::fs::read(&file).await {
        Ok(body) => (200, content_type(&rel).to_string(), body),
        // Browsers ask for it unprompted; a 404 would be logged as an error.
        Err(_) if rel == "favicon.ico" => (204, "image/x-icon".into(), Vec::new()),
        Err(_) => (
            404,
            "text/plain; charset=utf-8".into(),
            format!("no such page: {path}").into_bytes(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_placeholders_only() {
        let vars = vec![("A".to_string(), "1".to_string())];
        assert_eq!(substitute("x{{A}}y{{B}}{{A}}", &vars), "x1y{{B}}1");
    }
}
