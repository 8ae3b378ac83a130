//! A minimal Chrome DevTools Protocol client for headless Chromium.
//!
//! Why our own: the end-to-end tests need a dozen CDP commands, and the
//! crates that wrap CDP either download a browser or pull in hundreds of
//! generated types (minutes of compile time on two cores). This speaks raw
//! JSON over one WebSocket, with flat sessions: every page is a target we
//! attach to with `flatten: true`, and its commands and events carry that
//! session's `sessionId` on the browser's single connection.
//!
//! Every wait has a timeout and fails with a message that names what was
//! awaited, because a hung end-to-end test is the most expensive kind of
//! failure to diagnose.

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// The default bound on any single CDP command and on navigation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Chromium may take to print its DevTools URL.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Page::wait_for`] re-evaluates its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Lines of Chromium's stderr kept for error messages.
const STDERR_TAIL: usize = 200;

/// Locks a std mutex, ignoring poisoning: the data behind our mutexes (maps
/// of waiters, logs) stays meaningful even if a holder panicked, and a test
/// harness must report the original failure, not a poison error.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One CDP event, as received.
#[derive(Clone, Debug)]
pub struct CdpEvent {
    pub method: String,
    pub params: Value,
}

/// Something the page reported: a console call, an uncaught exception, or a
/// browser-side log entry (failed resource loads, CSP violations...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// `"exception"`, the console call's type (`"log"`, `"error"`,
    /// `"warning"`, ...), or `"browser-<level>"` for `Log.entryAdded`.
    pub kind: String,
    pub text: String,
}

impl LogEntry {
    /// Whether this entry is an error a test should usually fail on.
    pub fn is_error(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "exception" | "error" | "assert" | "browser-error"
        )
    }
}

/// Per-page state the reader task feeds.
struct SessionSink {
    events: broadcast::Sender<CdpEvent>,
    log: Mutex<Vec<LogEntry>>,
}

type Reply = std::result::Result<Value, String>;

/// The shared connection: an outgoing queue drained by a writer task, the
/// requests awaiting replies, and the attached sessions events are routed
/// to.
struct Conn {
    out: mpsc::UnboundedSender<Message>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    sessions: Mutex<HashMap<String, Arc<SessionSink>>>,
    /// Why the connection ended, once it has.
    closed: Mutex<Option<String>>,
}

impl Conn {
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_string());
        }
        if self
            .out
            .send(Message::Text(msg.to_string().into()))
            .is_err()
        {
            lock(&self.pending).remove(&id);
            bail!("CDP {method}: {}", self.closed_reason());
        }
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => {
                lock(&self.pending).remove(&id);
                bail!("CDP {method}: no response within {timeout:?}")
            }
            Ok(Err(_)) => bail!("CDP {method}: {}", self.closed_reason()),
            Ok(Ok(Err(e))) => bail!("CDP {method} failed: {e}"),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }

    fn closed_reason(&self) -> String {
        match &*lock(&self.closed) {
            Some(r) => format!("the browser connection is closed ({r})"),
            None => "the browser connection is closed".to_string(),
        }
    }

    /// Handles one incoming message: a reply goes to its waiter, an event
    /// to its session's log and subscribers.
    fn dispatch(&self, text: &str) {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if let Some(id) = msg.get("id").and_then(Value::as_u64) {
            if let Some(tx) = lock(&self.pending).remove(&id) {
                let reply = match msg.get("error") {
                    Some(err) => Err(err.to_string()),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = tx.send(reply);
            }
            return;
        }
        let Some(method) = msg.get("method").and_then(Value::as_str) else {
            return;
        };
        let Some(session) = msg.get("sessionId").and_then(Value::as_str) else {
            return;
        };
        let Some(sink) = lock(&self.sessions).get(session).cloned() else {
            return;
        };
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        if let Some(entry) = log_entry(method, &params) {
            lock(&sink.log).push(entry);
        }
        // No subscriber is the common case; that is not an error.
        let _ = sink.events.send(CdpEvent {
            method: method.to_string(),
            params,
        });
    }

    fn close(&self, reason: String) {
        lock(&self.closed).get_or_insert(reason);
        // Dropping the senders wakes every waiter with an error.
        lock(&self.pending).clear();
    }
}

/// Turns the events we collect into log entries.
fn log_entry(method: &str, params: &Value) -> Option<LogEntry> {
    match method {
        "Runtime.consoleAPICalled" => {
            let kind = params
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("log")
                .to_string();
            let text = params
                .get("args")
                .and_then(Value::as_array)
                .map(|args| {
                    args.iter()
                        .map(remote_object_text)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            Some(LogEntry { kind, text })
        }
        "Runtime.exceptionThrown" => Some(LogEntry {
            kind: "exception".to_string(),
            text: exception_text(params.get("exceptionDetails").unwrap_or(&Value::Null)),
        }),
        "Log.entryAdded" => {
            let entry = params.get("entry")?;
            let level = entry.get("level").and_then(Value::as_str).unwrap_or("info");
            let mut text = entry
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(url) = entry.get("url").and_then(Value::as_str) {
                text.push_str(&format!(" ({url})"));
            }
            Some(LogEntry {
                kind: format!("browser-{level}"),
                text,
            })
        }
        _ => None,
    }
}

/// A readable rendering of a `Runtime.RemoteObject`.
fn remote_object_text(o: &Value) -> String {
    if let Some(v) = o.get("value") {
        return match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    for key in ["unserializableValue", "description"] {
        if let Some(s) = o.get(key).and_then(Value::as_str) {
            return s.to_string();
        }
    }
    o.get("type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// A readable rendering of `Runtime.ExceptionDetails`: the thrown value's
/// description (message and stack) when there is one.
fn exception_text(d: &Value) -> String {
    let text = d.get("text").and_then(Value::as_str).unwrap_or("exception");
    match d.get("exception") {
        Some(ex) => format!("{text}: {}", remote_object_text(ex)),
        None => {
            let url = d.get("url").and_then(Value::as_str).unwrap_or_default();
            let line = d.get("lineNumber").and_then(Value::as_u64).unwrap_or(0);
            format!("{text} at {url}:{line}")
        }
    }
}

/// Where to find Chromium: `$REEL_CHROMIUM`, else `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("REEL_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// A headless Chromium process and the CDP connection to it.
///
/// Dropping it kills the whole process group (Chromium's renderers and
/// helpers included, so nothing outlives a test) and removes the profile
/// directory.
pub struct Browser {
    conn: Arc<Conn>,
    child: Option<Child>,
    profile: Option<tempfile::TempDir>,
    tasks: Vec<JoinHandle<()>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    ws_url: String,
}

impl Browser {
    /// Launches Chromium headless with a fresh profile and connects to it.
    pub async fn launch() -> Result<Self> {
        Self::launch_with_args(&[]).await
    }

    /// As [`Browser::launch`], with extra command-line flags.
    pub async fn launch_with_args(extra: &[&str]) -> Result<Self> {
        let exe = chromium_path();
        if !exe.exists() {
            bail!(
                "Chromium not found at {} (set REEL_CHROMIUM to its path)",
                exe.display()
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("reel-e2e-chromium-")
            .tempdir()
            .context("creating a Chromium profile directory")?;
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--mute-audio",
            "--window-size=1280,800",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so Drop can kill the helpers too.
        .process_group(0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (url_tx, mut url_rx) = mpsc::unbounded_channel::<String>();
        let Some(stderr) = child.stderr.take() else {
            kill_group(&mut child);
            bail!("Chromium's stderr was not captured");
        };
        {
            let tail = stderr_tail.clone();
            // A thread, not a task: it blocks on the pipe for the whole life
            // of the browser, which must keep being drained or Chromium
            // stalls on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(i) = line.find("DevTools listening on ") {
                        let _ = url_tx.send(
                            line[i + "DevTools listening on ".len()..]
                                .trim()
                                .to_string(),
                        );
                    }
                    let mut t = lock(&tail);
                    if t.len() >= STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        let tail_text = |tail: &Arc<Mutex<VecDeque<String>>>| {
            lock(tail).iter().cloned().collect::<Vec<_>>().join("\n")
        };
        let ws_url = match tokio::time::timeout(LAUNCH_TIMEOUT, url_rx.recv()).await {
            Ok(Some(url)) => url,
            Ok(None) => {
                kill_group(&mut child);
                bail!(
                    "Chromium exited before printing its DevTools URL; stderr:\n{}",
                    tail_text(&stderr_tail)
                );
            }
            Err(_) => {
                kill_group(&mut child);
                bail!(
                    "Chromium did not print its DevTools URL within {LAUNCH_TIMEOUT:?}; stderr:\n{}",
                    tail_text(&stderr_tail)
                );
            }
        };
        // Screenshots come back as one base64 message of a few MB.
        let config = WebSocketConfig::default()
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let ws =
            match tokio_tungstenite::connect_async_with_config(&ws_url, Some(config), true).await {
                Ok((ws, _)) => ws,
                Err(e) => {
                    kill_group(&mut child);
                    bail!("connecting to Chromium's DevTools at {ws_url}: {e}");
                }
            };
        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let conn = Arc::new(Conn {
            out: out_tx,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            closed: Mutex::new(None),
        });
        let writer = {
            let conn = conn.clone();
            tokio::spawn(async move {
                while let Some(msg) = out_rx.recv().await {
                    if let Err(e) = sink.send(msg).await {
                        conn.close(format!("sending failed: {e}"));
                        break;
                    }
                }
            })
        };
        let reader = {
            let conn = conn.clone();
            tokio::spawn(async move {
                let reason = loop {
                    match stream.next().await {
                        Some(Ok(Message::Text(t))) => conn.dispatch(t.as_str()),
                        Some(Ok(Message::Binary(b))) => {
                            if let Ok(t) = std::str::from_utf8(&b) {
                                conn.dispatch(t);
                            }
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            break "closed by Chromium".to_string()
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break format!("read error: {e}"),
                    }
                };
                conn.close(reason);
            })
        };
        Ok(Browser {
            conn,
            child: Some(child),
            profile: Some(profile),
            tasks: vec![writer, reader],
            stderr_tail,
            ws_url,
        })
    }

    /// The browser's DevTools WebSocket URL.
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The last lines Chromium wrote to stderr, for diagnosing crashes.
    pub fn stderr_tail(&self) -> String {
        lock(&self.stderr_tail)
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A browser-level CDP command (no session).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(None, method, params, DEFAULT_TIMEOUT).await
    }

    /// Opens a new tab on `about:blank`, attached with a flat session and
    /// with the Page, Runtime, Network and Log domains enabled (so console
    /// messages and exceptions are collected from the start).
    pub async fn new_page(&self) -> Result<Page> {
        let created = self
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = created
            .get("targetId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("Target.createTarget returned no targetId: {created}"))?
            .to_string();
        let attached = self
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session_id = attached
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("Target.attachToTarget returned no sessionId: {attached}"))?
            .to_string();
        let (events, _) = broadcast::channel(4096);
        let sink = Arc::new(SessionSink {
            events,
            log: Mutex::new(Vec::new()),
        });
        lock(&self.conn.sessions).insert(session_id.clone(), sink.clone());
        let page = Page {
            conn: self.conn.clone(),
            session_id,
            target_id,
            sink,
            timeout: DEFAULT_TIMEOUT,
        };
        for domain in ["Page", "Runtime", "Network", "Log"] {
            page.call(&format!("{domain}.enable"), json!({})).await?;
        }
        Ok(page)
    }
}

/// SIGKILLs a child's whole process group (it leads one: see
/// `process_group(0)`) and reaps it.
fn kill_group(child: &mut Child) {
    let pid = child.id();
    // Only our own child's group, by id.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
        if let Some(profile) = self.profile.take() {
            // Helpers may still be exiting and writing for a few ms after
            // the kill; retry rather than leave a profile behind.
            let path = profile.keep();
            for _ in 0..40 {
                match std::fs::remove_dir_all(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => break,
                }
            }
        }
    }
}

/// One tab, attached through a flat session.
pub struct Page {
    conn: Arc<Conn>,
    session_id: String,
    target_id: String,
    sink: Arc<SessionSink>,
    timeout: Duration,
}

impl Page {
    /// The CDP session id (for diagnostics).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The CDP target id.
    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    /// Changes the bound on each command and on navigation.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Any CDP command on this page's session: the escape hatch for what
    /// the helpers below do not cover.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn
            .call(Some(&self.session_id), method, params, self.timeout)
            .await
    }

    /// A receiver of this page's events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CdpEvent> {
        self.sink.events.subscribe()
    }

    /// Waits for the next event named `method` on a receiver obtained with
    /// [`Page::subscribe`] (subscribe *before* triggering the event).
    pub async fn wait_event(
        &self,
        rx: &mut broadcast::Receiver<CdpEvent>,
        method: &str,
        timeout: Duration,
    ) -> Result<CdpEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => bail!("no {method} event within {timeout:?}"),
                Ok(Ok(ev)) if ev.method == method => return Ok(ev),
                Ok(Ok(ev)) if ev.method == "Inspector.targetCrashed" => {
                    bail!("the page crashed while waiting for {method}")
                }
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    bail!("waiting for {method}: {}", self.conn.closed_reason())
                }
            }
        }
    }

    /// Navigates and waits for the main frame's `load` event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        let mut rx = self.subscribe();
        let nav = self
            .call("Page.navigate", json!({ "url": url }))
            .await
            .with_context(|| format!("navigating to {url}"))?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            if !err.is_empty() {
                bail!("navigating to {url} failed: {err}");
            }
        }
        self.wait_event(&mut rx, "Page.loadEventFired", self.timeout)
            .await
            .with_context(|| format!("loading {url}"))?;
        Ok(())
    }

    /// Evaluates a JavaScript *expression* in the page's main frame and
    /// returns its value as JSON. A returned Promise is awaited, so use
    /// `(async () => { ... })()` for statements and `await`. A thrown
    /// exception or a rejected Promise becomes an error carrying the
    /// exception's message and stack. `undefined` comes back as `null`.
    pub async fn eval(&self, js: &str) -> Result<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
            )
            .await
            .with_context(|| format!("evaluating {}", crate::http::truncate(js, 200)))?;
        if let Some(details) = r.get("exceptionDetails") {
            bail!(
                "JavaScript threw: {}\n  while evaluating: {}",
                exception_text(details),
                crate::http::truncate(js, 300)
            );
        }
        Ok(r.get("result")
            .and_then(|o| o.get("value"))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Re-evaluates `condition` (an expression) until it is truthy and
    /// returns that value. Errors while evaluating (say, during a
    /// navigation) are retried; the last one is reported on timeout.
    pub async fn wait_for(&self, condition: &str, timeout: Duration) -> Result<Value> {
        let start = Instant::now();
        loop {
            let last = match self.eval(condition).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => format!("last value: {v}"),
                Err(e) => format!("last error: {e:#}"),
            };
            if start.elapsed() >= timeout {
                bail!(
                    "timed out after {timeout:?} waiting for `{}` ({last})",
                    crate::http::truncate(condition, 300)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Clicks the centre of the first element matching `selector` with real
    /// mouse events (moved, pressed, released), after scrolling it into
    /// view. Real input, not `el.click()`, so the page sees the same event
    /// sequence as from a user (and a recorder records a genuine click).
    pub async fn click(&self, selector: &str) -> Result<()> {
        let (x, y) = self.element_center(selector).await?;
        self.move_mouse(x, y).await?;
        self.mouse("mousePressed", x, y, 1).await?;
        self.mouse("mouseReleased", x, y, 0).await?;
        Ok(())
    }

    /// Scrolls the element into view and returns its centre in viewport
    /// coordinates (CSS pixels).
    pub async fn element_center(&self, selector: &str) -> Result<(f64, f64)> {
        let sel = serde_json::to_string(selector)?;
        let r = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({sel});
                   if (!el) return null;
                   el.scrollIntoView({{ block: 'center', inline: 'center' }});
                   const r = el.getBoundingClientRect();
                   return {{ x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height }};
                }})()"
            ))
            .await?;
        if r.is_null() {
            bail!("no element matches {selector:?}");
        }
        let get = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        if get("w") <= 0.0 || get("h") <= 0.0 {
            bail!("element {selector:?} has no size ({r}); is it visible?");
        }
        Ok((get("x"), get("y")))
    }

    /// Moves the mouse pointer to viewport coordinates.
    pub async fn move_mouse(&self, x: f64, y: f64) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y, "button": "none", "buttons": 0 }),
        )
        .await?;
        Ok(())
    }

    async fn mouse(&self, kind: &str, x: f64, y: f64, buttons: u32) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left",
                    "buttons": buttons, "clickCount": 1 }),
        )
        .await?;
        Ok(())
    }

    /// Types into the focused element, one key at a time (keyDown carrying
    /// the text, then keyUp), so the page gets `keydown`, `beforeinput`,
    /// `input` and `keyup` per character, as from a keyboard. `\n` presses
    /// Enter.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        for c in text.chars() {
            let (key, code, vk, txt) = key_for(c);
            let mut down = json!({ "type": "keyDown", "key": key, "code": code,
                                   "windowsVirtualKeyCode": vk });
            if !txt.is_empty() {
                down["text"] = json!(txt);
                down["unmodifiedText"] = json!(txt);
            }
            self.call("Input.dispatchKeyEvent", down).await?;
            self.call(
                "Input.dispatchKeyEvent",
                json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk }),
            )
            .await?;
        }
        Ok(())
    }

    /// Headers added to every request this page makes from now on (the
    /// player's `Authorization: Bearer` in particular).
    pub async fn set_extra_headers(&self, headers: &[(&str, &str)]) -> Result<()> {
        let map: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        self.call("Network.setExtraHTTPHeaders", json!({ "headers": map }))
            .await?;
        Ok(())
    }

    /// Sets a cookie for `url`'s origin.
    pub async fn set_cookie(&self, name: &str, value: &str, url: &str) -> Result<()> {
        let r = self
            .call(
                "Network.setCookie",
                json!({ "name": name, "value": value, "url": url }),
            )
            .await?;
        if r.get("success").and_then(Value::as_bool) == Some(false) {
            bail!("Chromium refused the cookie {name} for {url}");
        }
        Ok(())
    }

    /// Captures the viewport as a PNG, writes it to `path` (creating parent
    /// directories) and returns its size in bytes.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = r
            .get("data")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("Page.captureScreenshot returned no data"))?;
        let png = base64_decode(data).context("decoding the screenshot")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, &png).with_context(|| format!("writing {}", path.display()))?;
        Ok(png.len())
    }

    /// Everything collected so far: console calls, uncaught exceptions and
    /// browser log entries, in arrival order.
    pub fn logs(&self) -> Vec<LogEntry> {
        lock(&self.sink.log).clone()
    }

    /// The uncaught exceptions (and unhandled rejections) so far.
    pub fn exceptions(&self) -> Vec<String> {
        lock(&self.sink.log)
            .iter()
            .filter(|e| e.kind == "exception")
            .map(|e| e.text.clone())
            .collect()
    }

    /// Exceptions, `console.error`s, failed assertions and browser errors.
    pub fn errors(&self) -> Vec<LogEntry> {
        lock(&self.sink.log)
            .iter()
            .filter(|e| e.is_error())
            .cloned()
            .collect()
    }

    /// Forgets the collected log entries.
    pub fn clear_logs(&self) {
        lock(&self.sink.log).clear();
    }

    /// Closes the tab.
    pub async fn close(self) -> Result<()> {
        self.conn
            .call(
                None,
                "Target.closeTarget",
                json!({ "targetId": self.target_id }),
                self.timeout,
            )
            .await?;
        Ok(())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        lock(&self.conn.sessions).remove(&self.session_id);
    }
}

/// JavaScript truthiness of a JSON value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `key`, `code`, virtual key code and text for one typed character.
fn key_for(c: char) -> (String, String, u32, String) {
    match c {
        '\n' | '\r' => ("Enter".into(), "Enter".into(), 13, "\r".into()),
        '\t' => ("Tab".into(), "Tab".into(), 9, String::new()),
        ' ' => (" ".into(), "Space".into(), 32, " ".into()),
        c if c.is_ascii_alphabetic() => (
            c.to_string(),
            format!("Key{}", c.to_ascii_uppercase()),
            c.to_ascii_uppercase() as u32,
            c.to_string(),
        ),
        c if c.is_ascii_digit() => (c.to_string(), format!("Digit{c}"), c as u32, c.to_string()),
        c => (c.to_string(), String::new(), 0, c.to_string()),
    }
}

/// Standard base64 (with or without padding), for screenshots.
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.as_bytes() {
        if c == b'=' || c.is_ascii_whitespace() {
            continue;
        }
        let v = val(c).ok_or_else(|| anyhow!("invalid base64 byte {c:#04x}"))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Collects the events of a page whose method `keep` accepts, from its
/// creation until it is dropped: what a benchmark reads after a run
/// (trace data, network requests).
pub struct Collector {
    events: Arc<Mutex<Vec<CdpEvent>>>,
    task: JoinHandle<()>,
}

impl Collector {
    pub fn start(page: &Page, keep: fn(&str) -> bool) -> Self {
        let mut rx = page.subscribe();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let task = tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(ev) if keep(&ev.method) => lock(&sink).push(ev),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("cdp: warning: {n} events lost by a collector");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Collector { events, task }
    }

    /// What was collected so far.
    pub fn snapshot(&self) -> Vec<CdpEvent> {
        lock(&self.events).clone()
    }

    /// Whether an event named `method` was collected.
    pub fn has(&self, method: &str) -> bool {
        lock(&self.events).iter().any(|e| e.method == method)
    }

    /// Waits until an event named `method` is collected.
    pub async fn wait_for(&self, method: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.has(method) {
            if Instant::now() > deadline {
                bail!("no {method} within {timeout:?}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Ok(())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8hIQ==").unwrap(), b"hello!!");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a*b").is_err());
    }

    #[test]
    fn truthiness() {
        assert!(!truthy(&json!(0)) && !truthy(&json!("")) && !truthy(&Value::Null));
        assert!(truthy(&json!("x")) && truthy(&json!({})) && truthy(&json!(2)));
    }
}
