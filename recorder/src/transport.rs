//! Sending sealed chunks to the server, in order, until each is
//! acknowledged.
//!
//! Invariants:
//! - One request in flight at a time, oldest chunk first, so the server
//!   sees a session's chunks mostly in order and `flush()` only has to
//!   watch the queue's head.
//! - A chunk leaves the queue on a 2xx (durable on the server) or on a
//!   4xx that retrying cannot fix (it is dropped with a warning). Network
//!   errors, 5xx and 429 are retried with exponential backoff and jitter.
//! - The queue is bounded: past its limit ([`MAX_QUEUED_BYTES`] unless the
//!   embedder set `maxBufferBytes`) the oldest waiting
//!   chunks are dropped, so an unreachable server never grows the page's
//!   memory without bound.

use crate::batch::Sealed;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

pub const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;
/// The smallest limit an embedder may set: one chunk must always fit.
pub const MIN_QUEUED_BYTES: usize = 16 * 1024;
/// Browsers refuse keepalive requests over 64 KiB in flight in total.
const KEEPALIVE_BUDGET: usize = 60 * 1024;

#[wasm_bindgen(inline_js = r#"
export function post(url, key, bytes, keepalive) {
  try {
    return fetch(url, {
      method: 'POST', body: new Uint8Array(bytes), keepalive, mode: 'cors', credentials: 'omit',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Reel-Key': key },
    }).then(r => r.status, () => 0);
  } catch (e) { return Promise.resolve(0); }
}
export function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }
export function warn(msg) { try { console.warn('[reel] ' + msg); } catch (e) {} }
"#)]
extern "C" {
    fn post(url: &str, key: &str, bytes: &[u8], keepalive: bool) -> js_sys::Promise;
    pub fn sleep(ms: f64) -> js_sys::Promise;
    pub fn warn(msg: &str);
}

pub struct Transport {
    base: String,
    key: String,
    /// Oldest first. A `Vec`: it holds a few chunks, and VecDeque's code
    /// would cost more bytes in every page's download than the shifts cost time.
    queue: Vec<Sealed>,
    queued_bytes: usize,
    max_queued_bytes: usize,
    sending: bool,
    failures: u32,
    /// Chunks and bytes dropped since the last [`Transport::take_dropped`]:
    /// reported in the recording as a `Dropped` event, so a replay shows
    /// its gap instead of silently skipping it.
    dropped: (u32, u64),
}

pub type Shared = Rc<RefCell<Transport>>;

impl Transport {
    pub fn new(endpoint: &str, session: &str, key: String) -> Shared {
        let base = format!(
            "{}/api/v1/sessions/{session}/chunks/",
            endpoint.trim_end_matches('/')
        );
        Rc::new(RefCell::new(Transport {
            base,
            key,
            queue: Vec::new(),
            queued_bytes: 0,
            max_queued_bytes: MAX_QUEUED_BYTES,
            sending: false,
            failures: 0,
            dropped: (0, 0),
        }))
    }

    /// Sets the memory bound on chunks waiting for the server.
    pub fn set_limit(&mut self, bytes: usize) {
        self.max_queued_bytes = bytes.max(MIN_QUEUED_BYTES);
    }

    pub fn enqueue(&mut self, chunk: Sealed) {
        self.queued_bytes += chunk.bytes.len();
        self.queue.push(chunk);
        // Drop the oldest chunks that are not in flight.
        let first_droppable = usize::from(self.sending);
        while self.queued_bytes > self.max_queued_bytes && self.queue.len() > first_droppable + 1 {
            let dropped = self.queue.remove(first_droppable);
            self.queued_bytes -= dropped.bytes.len();
            self.dropped.0 += 1;
            self.dropped.1 += dropped.bytes.len() as u64;
            warn(&format!(
                "server unreachable; dropped chunk {} to bound memory",
                dropped.seq
            ));
        }
    }

    /// Whether every chunk up to and including `seq` has left the queue.
    pub fn done_through(&self, seq: u32) -> bool {
        self.queue.first().is_none_or(|c| c.seq > seq)
    }

    /// What was dropped since the last call, if anything.
    pub fn take_dropped(&mut self) -> Option<(u32, u64)> {
        let d = std::mem::take(&mut self.dropped);
        (d.0 > 0).then_some(d)
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }
}

fn backoff_ms(failures: u32) -> f64 {
    let base = (500.0 * 2f64.powi(failures.min(6) as i32)).min(30_000.0);
    base * (0.5 + js_sys::Math::random() * 0.5)
}

/// Sends queued chunks until the queue is empty. Re-entrant calls return at
/// once: one pump runs at a time.
pub async fn pump(t: Shared) {
    {
        let mut tr = t.borrow_mut();
        if tr.sending {
            return;
        }
        tr.sending = true;
    }
    loop {
        let (url, key, bytes, seq) = {
            let tr = t.borrow();
            match tr.queue.first() {
                None => break,
                Some(c) => (
                    format!("{}{}", tr.base, c.seq),
                    tr.key.clone(),
                    c.bytes.clone(),
                    c.seq,
                ),
            }
        };
        let status = JsFuture::from(post(&url, &key, &bytes, false))
            .await
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u16;
        let retry = {
            let mut tr = t.borrow_mut();
            match status {
                200..=299 => {
                    tr.failures = 0;
                    pop_front(&mut tr, seq);
                    None
                }
                400..=499 if status != 408 && status != 429 => {
                    warn(&format!(
                        "server refused chunk {seq} with status {status}; dropping it"
                    ));
                    pop_front(&mut tr, seq);
                    None
                }
                _ => {
                    tr.failures += 1;
                    Some(backoff_ms(tr.failures))
                }
            }
        };
        if let Some(ms) = retry {
            let _ = JsFuture::from(sleep(ms)).await;
        }
    }
    t.borrow_mut().sending = false;
}

fn pop_front(tr: &mut Transport, seq: u32) {
    if tr.queue.first().is_some_and(|c| c.seq == seq) {
        let c = tr.queue.remove(0);
        tr.queued_bytes -= c.bytes.len();
    }
}

/// The page is going away: hand what fits to keepalive requests, which
/// outlive the page. The normal pump keeps going too; if both deliver a
/// chunk, the server's deduplication makes the second harmless.
pub fn send_keepalive(t: &Shared) {
    let tr = t.borrow();
    let mut budget = KEEPALIVE_BUDGET;
    for c in tr.queue.iter() {
        if c.bytes.len() > budget {
            break;
        }
        budget -= c.bytes.len();
        let _ = post(&format!("{}{}", tr.base, c.seq), &tr.key, &c.bytes, true);
    }
}
