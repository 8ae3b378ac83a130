//! The wasm-bindgen surface that `js/reel.js` drives. Every entry point
//! returns errors as values or logs them: nothing here may throw into the
//! host page (reel.js wraps each call in try/catch as a second guard).

use crate::batch::Batcher;
use crate::convert;
use crate::raw::RawEvent;
use crate::transport::{self, Shared, Transport};
use reel_shared::{ChunkError, Dropped, Event, EventData, FlatNode, SessionId};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Recorder {
    batcher: Rc<RefCell<Batcher>>,
    transport: Shared,
    /// Nodes of a snapshot whose `snap` has not arrived yet.
    snapshot_head: RefCell<Vec<FlatNode>>,
}

#[wasm_bindgen]
impl Recorder {
    /// `next_seq` continues a session that an earlier page of this tab
    /// started.
    #[wasm_bindgen(constructor)]
    pub fn new(
        endpoint: &str,
        ingest_key: String,
        session_id: &str,
        next_seq: u32,
    ) -> Result<Recorder, JsError> {
        let session: SessionId = session_id
            .parse()
            .map_err(|e| JsError::new(&format!("{e}")))?;
        Ok(Recorder {
            batcher: Rc::new(RefCell::new(Batcher::new(session, next_seq))),
            transport: Transport::new(endpoint, session_id, ingest_key),
            snapshot_head: RefCell::new(Vec::new()),
        })
    }

    /// The embedder's `maxBufferBytes`: how much sealed data may wait for
    /// an unreachable server before the oldest is dropped.
    pub fn set_buffer_limit(&self, bytes: f64) {
        if bytes.is_finite() && bytes > 0.0 {
            self.transport.borrow_mut().set_limit(bytes as usize);
        }
    }

    /// Takes a JSON array of raw events from the capture layer, converts
    /// (and so masks) them and encodes them into the open chunk.
    pub fn push(&self, raw_json: &str, now: f64) -> Result<(), JsError> {
        let raws = crate::raw::parse_batch(raw_json)
            .map_err(|e| JsError::new(&format!("reel: bad batch: {e}")))?;
        let mut events = Vec::with_capacity(raws.len());
        for raw in raws {
            if let RawEvent::SnapshotPart { nodes } = raw {
                let mut head = self.snapshot_head.borrow_mut();
                head.extend(nodes.into_iter().filter_map(convert::node));
                continue;
            }
            let Some(mut event) = convert::event(raw) else {
                continue;
            };
            if let EventData::FullSnapshot(s) = &mut event.data {
                let mut head = std::mem::take(&mut *self.snapshot_head.borrow_mut());
                if !head.is_empty() {
                    head.append(&mut s.nodes);
                    s.nodes = head;
                }
            }
            events.push(event);
        }
        self.batcher
            .borrow_mut()
            .push(events, now as u64)
            .map_err(|e| JsError::new(&format!("reel: could not encode: {}", why(&e))))
    }

    /// Compresses a piece of the open chunk ahead of its seal, so sealing
    /// a big chunk is never one long task; returns whether more is waiting
    /// (the capture layer then calls again from a later task).
    pub fn work(&self) -> bool {
        self.batcher.borrow_mut().work()
    }

    /// Seals the open chunk if it is due, and makes sure the transport runs.
    pub fn tick(&self, now: f64) {
        let dropped = self.transport.borrow_mut().take_dropped();
        if let Some((chunks, bytes)) = dropped {
            let ev = Event {
                t: now as u64,
                data: EventData::Dropped(Dropped { chunks, bytes }),
            };
            if let Err(e) = self.batcher.borrow_mut().push([ev], now as u64) {
                transport::warn(&format!("could not encode: {}", why(&e)));
            }
        }
        if self.batcher.borrow().due(now as u64) {
            self.seal();
        }
        self.pump();
    }

    /// Resolves once every event pushed so far is acknowledged by the
    /// server (durable).
    pub fn flush(&self) -> js_sys::Promise {
        let target = self.seal();
        // Not left to the next tick: a recorder retired by a session
        // rotation gets no more ticks, only this flush.
        self.pump();
        let t = self.transport.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if let Some(seq) = target {
                wait_until(&t, |tr| tr.done_through(seq)).await;
            }
            Ok(JsValue::TRUE)
        })
    }

    /// The page is being hidden or unloaded.
    pub fn page_hidden(&self) {
        self.seal();
        transport::send_keepalive(&self.transport);
        self.pump();
    }

    #[wasm_bindgen(getter)]
    pub fn next_seq(&self) -> u32 {
        self.batcher.borrow().next_seq()
    }

    #[wasm_bindgen(getter)]
    pub fn idle(&self) -> bool {
        self.batcher.borrow().is_empty() && self.transport.borrow().is_idle()
    }
}

impl Recorder {
    /// Seals the open chunk and queues it; returns the last sealed seq, if
    /// any chunk was sealed in this session.
    fn seal(&self) -> Option<u32> {
        let mut b = self.batcher.borrow_mut();
        match b.seal() {
            Ok(Some(sealed)) => self.transport.borrow_mut().enqueue(sealed),
            Ok(None) => {}
            Err(e) => transport::warn(&format!("could not encode a chunk: {}", why(&e))),
        }
        b.next_seq().checked_sub(1)
    }

    fn pump(&self) {
        let t = self.transport.clone();
        wasm_bindgen_futures::spawn_local(transport::pump(t));
    }
}

async fn wait_until(t: &Shared, done: impl Fn(&Transport) -> bool) {
    loop {
        if done(&t.borrow()) {
            return;
        }
        let _ = wasm_bindgen_futures::JsFuture::from(transport::sleep(20.0)).await;
    }
}

/// What went wrong in the encoder, which only fails in these two ways.
/// Not `ChunkError`'s `Display`: that formats every decoder error too, and
/// its code would ride along in every page's download.
fn why(e: &ChunkError) -> &str {
    match e {
        ChunkError::Encode(why) => why,
        _ => "the chunk is empty",
    }
}
