//! The wasm-bindgen surface that `js/src/` (bundled into `reel.js`) drives. Every entry point
//! returns errors as values: nothing here may throw into the host page
//! (reel.js wraps each call in try/catch as a second guard). Nothing here
//! calls back into JavaScript either: the capture layer makes the requests
//! and keeps the time with the built-ins it captured at load (see
//! [`crate::transport`]), so a page that replaces globals cannot reach in.

use crate::assets::Assets;
use crate::batch::Batcher;
use crate::convert;
use crate::raw::RawEvent;
use crate::transport::Transport;
use reel_shared::signals::Detector;
use reel_shared::{ChunkError, Dropped, Event, EventData, FlatNode, FrameEvents, SessionId};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Recorder {
    batcher: RefCell<Batcher>,
    transport: RefCell<Transport>,
    /// Nodes of a snapshot whose `snap` has not arrived yet.
    snapshot_head: RefCell<Vec<FlatNode>>,
    /// Frustration signals, found as the session's events pass.
    signals: RefCell<Detector>,
    /// Large assets taken out of the events, waiting to be offered.
    assets: RefCell<Assets>,
}

#[wasm_bindgen]
impl Recorder {
    /// `next_seq` continues a session that an earlier page of this tab
    /// started.
    #[wasm_bindgen(constructor)]
    pub fn new(session_id: &str, next_seq: u32) -> Result<Recorder, JsError> {
        let session: SessionId = session_id.parse().map_err(|_| JsError::new(ID_ERROR))?;
        Ok(Recorder {
            batcher: RefCell::new(Batcher::new(session, next_seq)),
            transport: RefCell::new(Transport::default()),
            snapshot_head: RefCell::new(Vec::new()),
            signals: RefCell::new(Detector::new()),
            assets: RefCell::new(Assets::default()),
        })
    }

    /// The page's side: a chunk a cross-origin frame's recorder sealed (and
    /// masked), kept as one opaque event (`reel_shared::frames`).
    pub fn frame(&self, frame: u32, base: u32, t: f64, chunk: &[u8]) -> Result<(), JsError> {
        let ev = Event {
            t: t as u64,
            data: EventData::FrameEvents(FrameEvents {
                frame,
                base,
                chunk: chunk.to_vec(),
            }),
        };
        self.batcher
            .borrow_mut()
            .push([ev], t as u64)
            .map_err(encode_error)
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
        let raws = crate::raw::parse_batch(raw_json).map_err(|e| JsError::new(&bad_batch(e)))?;
        let mut events = Vec::with_capacity(raws.len());
        let mut signals = self.signals.borrow_mut();
        for raw in raws {
            match &raw {
                RawEvent::SnapshotPart { .. } => {
                    if let RawEvent::SnapshotPart { nodes } = raw {
                        let mut head = self.snapshot_head.borrow_mut();
                        head.extend(nodes.into_iter().filter_map(convert::node));
                    }
                    continue;
                }
                RawEvent::Changed { t } => {
                    signals.changed(*t as u64, &mut events);
                    continue;
                }
                RawEvent::Meta {
                    before, before_t, ..
                } => {
                    let last = before.len().saturating_sub(1);
                    signals.previous_pages(
                        before.iter().enumerate().map(|(i, u)| {
                            (u.as_str(), if i == last { *before_t as u64 } else { 0 })
                        }),
                    );
                }
                _ => {}
            }
            let dead_ok = matches!(raw, RawEvent::Mouse { inert: false, .. });
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
            // A page's Meta stays first; a u-turn it completes follows it.
            let at = events.len();
            let meta = matches!(event.data, EventData::Meta(_));
            signals.observe(&event, dead_ok, &mut events);
            if meta {
                events.insert(at, event);
            } else {
                events.push(event);
            }
        }
        drop(signals);
        self.assets.borrow_mut().extract(&mut events);
        self.batcher
            .borrow_mut()
            .push(events, now as u64)
            .map_err(encode_error)
    }

    /// Compresses a piece of the open chunk ahead of its seal, so sealing
    /// a big chunk is never one long task; returns whether more is waiting
    /// (the capture layer then calls again from a later task).
    pub fn work(&self) -> bool {
        self.batcher.borrow_mut().work()
    }

    /// Puts a `Dropped` marker into the open chunk if one is due, and
    /// seals the open chunk if it is due; the capture layer then sends.
    /// Also decides the signals that waited for time to pass (a dead
    /// click is one a second after the click): the capture layer ticks
    /// about a second after each click, with `now` no later than any
    /// event it has not handed over yet.
    pub fn tick(&self, now: f64) -> Result<(), JsError> {
        let mut found = Vec::new();
        self.signals.borrow_mut().tick(now as u64, &mut found);
        if !found.is_empty() {
            self.batcher
                .borrow_mut()
                .push(found, now as u64)
                .map_err(encode_error)?;
        }
        let due = self.transport.borrow().marker_due();
        if let Some((chunks, bytes)) = due {
            let ev = Event {
                t: now as u64,
                data: EventData::Dropped(Dropped { chunks, bytes }),
            };
            let mut b = self.batcher.borrow_mut();
            b.push([ev], now as u64).map_err(encode_error)?;
            // The open chunk will be sealed with this seq.
            self.transport
                .borrow_mut()
                .marker_placed(b.next_seq(), (chunks, bytes));
        }
        if self.batcher.borrow().due(now as u64) {
            self.seal()?;
        }
        Ok(())
    }

    /// Seals the open chunk and queues it; returns the last sealed seq
    /// (what a flush waits for), or -1 if this session sealed none.
    pub fn seal(&self) -> Result<f64, JsError> {
        let mut b = self.batcher.borrow_mut();
        let seq = b.next_seq();
        let sealed = b.seal();
        let last = b.next_seq().checked_sub(1).map_or(-1.0, f64::from);
        match sealed {
            Ok(Some(chunk)) => self.transport.borrow_mut().enqueue(chunk),
            Ok(None) => {}
            Err(e) => {
                // The chunk is lost: the next marker says so.
                self.transport.borrow_mut().lost(seq, 0);
                return Err(encode_error(e));
            }
        }
        Ok(last)
    }

    /// The seq of the chunk to send now (it is in flight until [`Self::sent`]),
    /// or -1 when none waits.
    pub fn begin_send(&self) -> f64 {
        self.transport
            .borrow_mut()
            .begin_send()
            .map_or(-1.0, |c| f64::from(c.seq))
    }

    /// The `i`th waiting chunk's bytes (0: the head), if any.
    pub fn chunk(&self, i: usize) -> Option<Vec<u8>> {
        self.transport.borrow().get(i).map(|c| c.bytes.clone())
    }

    /// The `i`th waiting chunk's seq, or -1.
    pub fn chunk_seq(&self, i: usize) -> f64 {
        self.transport
            .borrow()
            .get(i)
            .map_or(-1.0, |c| f64::from(c.seq))
    }

    /// The server answered `status` (0: no answer) for chunk `seq`; returns
    /// whether to go on at once (`false`: retry it after a backoff).
    pub fn sent(&self, seq: u32, status: u16) -> bool {
        self.transport.borrow_mut().sent(seq, status)
    }

    /// Whether every chunk up to and including `seq` is acknowledged (or
    /// lost); a negative `seq` is always done.
    pub fn done_through(&self, seq: f64) -> bool {
        seq < 0.0 || self.transport.borrow().done_through(seq as u32)
    }

    /// The hash of the oldest asset waiting to be offered, if any: the
    /// capture layer uploads it (when the server lacks it) before sending
    /// any chunk, so no chunk refers to an asset the server never gets.
    pub fn asset_hash(&self) -> Option<String> {
        self.assets.borrow().queue.front().map(|p| p.hash.clone())
    }

    /// That asset's content, compressed (one zstd frame).
    pub fn asset_body(&self) -> Option<Vec<u8>> {
        self.assets.borrow().queue.front().map(|p| p.body.clone())
    }

    /// The oldest asset is on the server (or refused for good).
    pub fn asset_done(&self) {
        self.assets.borrow_mut().queue.pop_front();
    }

    #[wasm_bindgen(getter)]
    pub fn next_seq(&self) -> u32 {
        self.batcher.borrow().next_seq()
    }

    /// Every chunk this recorder lost (dropped, refused, failed to seal).
    #[wasm_bindgen(getter)]
    pub fn lost(&self) -> u32 {
        self.transport.borrow().lost_total()
    }
}

// The error messages are put together by hand: `format!` would bring
// `core::fmt`'s machinery into every page's download.

/// `SessionIdError`'s message.
const ID_ERROR: &str = "a session id is 32 lowercase hexadecimal digits";

fn encode_error(e: ChunkError) -> JsError {
    // Not `[..].concat()`: its generic join is a kilobyte of wasm.
    let mut s = String::from("reel: could not encode: ");
    s.push_str(why(&e));
    JsError::new(&s)
}

/// `"reel: bad batch: {what}"`: what `JsonError`'s `Display` says but
/// the byte offset, whose digits cost more of every page's download than
/// they help (the capture layer writes every batch; one it cannot read
/// is a bug found by its tests).
fn bad_batch(e: crate::json::JsonError) -> String {
    let mut s = String::from("reel: bad batch: ");
    s.push_str(e.what);
    s
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::JsonError;

    #[test]
    fn hand_made_messages_read_as_their_display() {
        for at in [0, 7, 10, 1234567] {
            let e = JsonError {
                at,
                what: "expected a number",
            };
            assert_eq!(bad_batch(e), "reel: bad batch: expected a number");
        }
        let e = "x".parse::<SessionId>().unwrap_err();
        assert_eq!(ID_ERROR, e.to_string());
    }
}
