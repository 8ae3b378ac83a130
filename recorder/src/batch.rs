//! Batching events into chunks: when to seal, and the sequence numbers.
//!
//! A chunk is sealed when it is old enough (so a replay is never far
//! behind), large enough (so one request stays cheap to retry), or when the
//! page asks (`Reel.flush()`, the page going away). Sequence numbers are
//! dense and never reused within a session: the server deduplicates on
//! `(session, seq)`, so a resent chunk is harmless and a lost one is visible.

use reel_shared::{ChunkEncoder, ChunkError, Event, SessionId};

/// Seal after this much time since the chunk's first event.
pub const MAX_AGE_MS: u64 = 5_000;
/// Seal once the events' encoded size passes this.
pub const MAX_BYTES: usize = 512 * 1024;

/// Invariant: `open` is `Some` exactly while the open chunk has events, and
/// `opened_at` with it.
pub struct Batcher {
    session: SessionId,
    next_seq: u32,
    open: Option<ChunkEncoder>,
    opened_at: Option<u64>,
}

/// A sealed chunk, ready to send.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub seq: u32,
    pub bytes: Vec<u8>,
}

impl Batcher {
    pub fn new(session: SessionId, next_seq: u32) -> Self {
        Batcher {
            session,
            next_seq,
            open: None,
            opened_at: None,
        }
    }

    pub fn session(&self) -> SessionId {
        self.session
    }

    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_none()
    }

    /// Adds events, encoding them now (the cost is spread over the pushes,
    /// which the capture layer makes in short tasks).
    pub fn push(
        &mut self,
        events: impl IntoIterator<Item = Event>,
        now: u64,
    ) -> Result<(), ChunkError> {
        for e in events {
            let (session, seq) = (self.session, self.next_seq);
            self.open
                .get_or_insert_with(|| ChunkEncoder::new(session, seq))
                .push(&e)?;
            self.opened_at.get_or_insert(now);
        }
        Ok(())
    }

    /// Compresses a frame's worth of the open chunk ahead of its seal;
    /// returns whether more is waiting.
    pub fn work(&mut self) -> bool {
        self.open.as_mut().is_some_and(ChunkEncoder::compress_some)
    }

    /// Whether the open chunk should be sealed now.
    pub fn due(&self, now: u64) -> bool {
        match (&self.open, self.opened_at) {
            (Some(enc), Some(opened)) => {
                enc.encoded_bytes() >= MAX_BYTES || now.saturating_sub(opened) >= MAX_AGE_MS
            }
            _ => false,
        }
    }

    /// Seals the open chunk, if any.
    pub fn seal(&mut self) -> Result<Option<Sealed>, ChunkError> {
        let Some(enc) = self.open.take() else {
            return Ok(None);
        };
        self.opened_at = None;
        let seq = self.next_seq;
        self.next_seq += 1;
        let bytes = enc.finish()?;
        Ok(Some(Sealed { seq, bytes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{decode_chunk, Custom, EventData, Limits};

    fn ev(t: u64) -> Event {
        Event {
            t,
            data: EventData::Custom(Custom {
                name: format!("e{t}"),
                data: None,
            }),
        }
    }

    #[test]
    fn seals_by_age_and_size_with_dense_seqs() {
        let mut b = Batcher::new(SessionId([7; 16]), 3);
        assert!(!b.due(0));
        b.push([ev(10)], 100).unwrap();
        assert!(!b.due(100 + MAX_AGE_MS - 1));
        assert!(b.due(100 + MAX_AGE_MS));
        let s = b.seal().unwrap().unwrap();
        assert_eq!(s.seq, 3);
        let chunk = decode_chunk(&s.bytes, &Limits::default()).unwrap();
        assert_eq!(chunk.header.seq, 3);
        assert_eq!(chunk.events, vec![ev(10)]);
        assert!(b.seal().unwrap().is_none());
        b.push([ev(11)], 200).unwrap();
        assert!(!b.due(200));
        let big = Event {
            t: 12,
            data: EventData::Custom(Custom {
                name: "x".repeat(MAX_BYTES),
                data: None,
            }),
        };
        b.push([big], 200).unwrap();
        assert!(b.due(200));
        assert_eq!(b.seal().unwrap().unwrap().seq, 4);
        assert_eq!(b.next_seq(), 5);
    }

    #[test]
    fn pushing_nothing_opens_nothing() {
        let mut b = Batcher::new(SessionId([1; 16]), 0);
        b.push([], 5).unwrap();
        assert!(b.is_empty());
        assert!(!b.due(u64::MAX));
    }
}
