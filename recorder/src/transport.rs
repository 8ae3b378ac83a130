//! The queue of sealed chunks waiting for the server, and the accounting of
//! what had to be dropped. The requests themselves are made by the capture
//! layer (`js/src/`, bundled into `reel.js`), with the built-ins it captured when it loaded, so a
//! page that replaces `fetch`, `setTimeout` or `Promise.prototype.then`
//! cannot stall or break the sending: this module is plain Rust, driven by
//! [`Transport::begin_send`] and [`Transport::sent`].
//!
//! Invariants:
//! - One request in flight at a time, oldest chunk first, so the server
//!   sees a session's chunks mostly in order and `flush()` only has to
//!   watch the queue's head.
//! - A chunk leaves the queue on a 2xx (durable on the server) or on a
//!   4xx that retrying cannot fix (it is dropped). Anything else (network
//!   errors, 5xx, 408, 429) keeps it at the head, to be retried.
//! - The queue is bounded: past its limit ([`MAX_QUEUED_BYTES`] unless the
//!   embedder set `maxBufferBytes`) the oldest chunks not in flight are
//!   dropped, so an unreachable server never grows the page's memory
//!   without bound.
//! - Every chunk lost (dropped from the queue, refused, or failing to seal)
//!   is reported by exactly one acknowledged `Dropped` marker. The count is
//!   carried until the server acknowledges the chunk that carries it: at
//!   most one marker is in the queue at a time ([`Carrier`]); when its chunk
//!   is acknowledged its count is settled, and when its chunk is lost
//!   instead, that count (plus the carrier itself) goes into the next
//!   marker. So the markers a replay sees add up to every chunk lost before
//!   the last one acknowledged.

use crate::batch::Sealed;

pub const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;
/// The smallest limit an embedder may set: one chunk must always fit.
pub const MIN_QUEUED_BYTES: usize = 16 * 1024;

/// The chunk that carries the last `Dropped` marker, and what it reports.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Carrier {
    seq: u32,
    chunks: u32,
    bytes: u64,
}

#[derive(Debug)]
pub struct Transport {
    /// Oldest first. A `Vec`: it holds a few chunks, and VecDeque's code
    /// would cost more bytes in every page's download than the shifts cost time.
    queue: Vec<Sealed>,
    queued_bytes: usize,
    max_queued_bytes: usize,
    /// The head is being sent: it must not be dropped.
    in_flight: bool,
    /// Chunks and bytes lost and not yet settled by an acknowledged marker.
    unreported: (u32, u64),
    carrier: Option<Carrier>,
    /// Every chunk lost by this transport (a figure for tests and warnings).
    lost_total: u32,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            queue: Vec::new(),
            queued_bytes: 0,
            max_queued_bytes: MAX_QUEUED_BYTES,
            in_flight: false,
            unreported: (0, 0),
            carrier: None,
            lost_total: 0,
        }
    }
}

impl Transport {
    /// Sets the memory bound on chunks waiting for the server.
    pub fn set_limit(&mut self, bytes: usize) {
        self.max_queued_bytes = bytes.max(MIN_QUEUED_BYTES);
    }

    /// Queues a sealed chunk, dropping the oldest waiting ones past the limit.
    pub fn enqueue(&mut self, chunk: Sealed) {
        self.queued_bytes += chunk.bytes.len();
        self.queue.push(chunk);
        let first_droppable = usize::from(self.in_flight);
        while self.queued_bytes > self.max_queued_bytes && self.queue.len() > first_droppable + 1 {
            let dropped = self.queue.remove(first_droppable);
            self.queued_bytes -= dropped.bytes.len();
            self.lost(dropped.seq, dropped.bytes.len() as u64);
        }
    }

    /// A chunk that will never reach the server: counted for the next marker.
    pub fn lost(&mut self, seq: u32, bytes: u64) {
        self.unreported.0 += 1;
        self.unreported.1 += bytes;
        self.lost_total += 1;
        if self.carrier.is_some_and(|c| c.seq == seq) {
            // Its count is still in `unreported`: the next marker carries it.
            self.carrier = None;
        }
    }

    /// The marker to put into the open chunk (whose seq is `open_seq`), if
    /// anything is unreported and no earlier marker is still on its way.
    /// The caller confirms with [`Transport::marker_placed`] once it is in.
    pub fn marker_due(&self) -> Option<(u32, u64)> {
        (self.carrier.is_none() && self.unreported.0 > 0).then_some(self.unreported)
    }

    pub fn marker_placed(&mut self, open_seq: u32, (chunks, bytes): (u32, u64)) {
        self.carrier = Some(Carrier {
            seq: open_seq,
            chunks,
            bytes,
        });
    }

    /// The head chunk, now in flight, if any.
    pub fn begin_send(&mut self) -> Option<&Sealed> {
        let head = self.queue.first();
        self.in_flight = head.is_some();
        head
    }

    /// The server answered `status` (0: no answer) for `seq`, the chunk
    /// that was in flight. Returns whether to go on with the next chunk now
    /// (`false`: retry this one after a backoff).
    pub fn sent(&mut self, seq: u32, status: u16) -> bool {
        self.in_flight = false;
        let acked = (200..300).contains(&status);
        let refused = (400..500).contains(&status) && status != 408 && status != 429;
        if !acked && !refused {
            return false;
        }
        if self.queue.first().is_some_and(|c| c.seq == seq) {
            let c = self.queue.remove(0);
            self.queued_bytes -= c.bytes.len();
            if refused {
                self.lost(seq, c.bytes.len() as u64);
            } else if let Some(c) = self.carrier.filter(|c| c.seq == seq) {
                self.unreported.0 -= c.chunks;
                self.unreported.1 -= c.bytes;
                self.carrier = None;
            }
        }
        true
    }

    /// Whether every chunk up to and including `seq` has left the queue.
    pub fn done_through(&self, seq: u32) -> bool {
        self.queue.first().is_none_or(|c| c.seq > seq)
    }

    /// The `i`th waiting chunk, oldest first.
    pub fn get(&self, i: usize) -> Option<&Sealed> {
        self.queue.get(i)
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn lost_total(&self) -> u32 {
        self.lost_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u32, len: usize) -> Sealed {
        Sealed {
            seq,
            bytes: vec![0; len],
        }
    }

    /// Plays a scenario: `reported` sums the markers the server acknowledged.
    struct Sim {
        t: Transport,
        seq: u32,
        reported: u32,
        /// The marker in the open chunk, if any.
        open: Option<u32>,
    }

    impl Sim {
        fn new() -> Self {
            let mut t = Transport::default();
            t.set_limit(MIN_QUEUED_BYTES);
            Sim {
                t,
                seq: 0,
                reported: 0,
                open: None,
            }
        }
        /// A tick: place a marker if due, then seal the open chunk.
        fn seal(&mut self, len: usize) {
            if self.open.is_none() {
                if let Some(d) = self.t.marker_due() {
                    self.t.marker_placed(self.seq, d);
                    self.open = Some(d.0);
                }
            }
            let c = Sealed {
                seq: self.seq,
                bytes: vec![self.open.map_or(0, |n| n as u8); len],
            };
            self.open = None;
            self.seq += 1;
            self.t.enqueue(c);
        }
        /// The server answers `status` to the head.
        fn send(&mut self, status: u16) -> bool {
            let Some(c) = self.t.begin_send().cloned() else {
                return false;
            };
            self.t.sent(c.seq, status);
            if (200..300).contains(&status) {
                self.reported += u32::from(c.bytes[0]);
            }
            true
        }
    }

    #[test]
    fn a_lost_marker_is_carried_into_the_next() {
        let mut s = Sim::new();
        // Outage: 40 chunks of 6 KB into a 16 KB buffer, every one failing.
        for _ in 0..40 {
            s.seal(6000);
            s.send(0);
        }
        assert!(s.t.lost_total() > 30, "{}", s.t.lost_total());
        // Back up: everything waiting is acknowledged, then markers settle.
        for _ in 0..10 {
            s.seal(100);
            while s.send(200) {}
        }
        assert_eq!(s.reported, s.t.lost_total());
        assert_eq!(s.t.marker_due(), None);
    }

    #[test]
    fn refused_chunks_count_and_an_unacked_marker_is_not_repeated() {
        let mut s = Sim::new();
        s.seal(100);
        s.send(413); // refused: lost
        s.seal(100); // carries the marker (1)
        s.seal(100); // no second marker while the first is on its way
        assert_eq!(s.t.marker_due(), None);
        while s.send(200) {}
        assert_eq!(s.reported, 1);
        s.seal(100);
        while s.send(200) {}
        assert_eq!(s.reported, 1);
        assert_eq!(s.t.lost_total(), 1);
    }

    #[test]
    fn the_chunk_in_flight_is_never_dropped() {
        let mut t = Transport::default();
        t.set_limit(MIN_QUEUED_BYTES);
        t.enqueue(chunk(0, 10_000));
        assert_eq!(t.begin_send().map(|c| c.seq), Some(0));
        t.enqueue(chunk(1, 10_000));
        t.enqueue(chunk(2, 10_000));
        assert_eq!(t.get(0).map(|c| c.seq), Some(0));
        assert_eq!(t.get(1).map(|c| c.seq), Some(2));
        assert!(!t.sent(0, 503));
        assert!(t.sent(0, 200));
        assert!(t.done_through(0) && !t.done_through(2));
    }
}
