//! Turning the server's chunks response into events.
//!
//! `GET /api/v1/sessions/{id}/chunks` answers with every stored chunk of the
//! session, in sequence order, each framed as a little-endian `u32` length
//! followed by that many bytes. A chunk that does not decode is skipped
//! (with a warning): one bad chunk should cost its own events, not the
//! whole replay.

use reel_shared::{decode_chunk, Chunk, Event, Limits};

/// Splits the framed chunks response as its bytes arrive, so a long
/// session's first chunks can be decoded (and its first frame shown) while
/// the rest is still downloading.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// How many chunks were split off so far (for warnings).
    index: usize,
}

/// One framed chunk, decoded or not.
pub type Framed = Result<Chunk, String>;

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the response; returns every chunk they
    /// complete, decoded.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Framed> {
        self.split(bytes)
            .into_iter()
            .map(|(i, c)| decode(i, &c))
            .collect()
    }

    /// Takes the next bytes of the response; returns every frame they
    /// complete, undecoded, with its index: decoding can then be spread
    /// over time (the first chunk decoded and shown before the rest).
    pub fn split(&mut self, bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut at = 0usize;
        while let Some(len_bytes) = self.buf.get(at..at + 4) {
            let mut le = [0u8; 4];
            le.copy_from_slice(len_bytes);
            let len = u32::from_le_bytes(le) as usize;
            let Some(bytes) = self.buf.get(at + 4..at + 4 + len) else {
                break;
            };
            out.push((self.index, bytes.to_vec()));
            self.index += 1;
            at += 4 + len;
        }
        self.buf.drain(..at);
        out
    }

    /// A warning if the response ended in the middle of a frame.
    pub fn finish(&self) -> Option<String> {
        match self.buf.len() {
            0 => None,
            n if n < 4 => Some(format!(
                "chunk {}: truncated length prefix; ignoring {n} trailing bytes",
                self.index
            )),
            n => Some(format!(
                "chunk {}: says {} bytes but only {} remain; ignoring it",
                self.index,
                u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]),
                n - 4
            )),
        }
    }
}

/// The events of every chunk that decodes, and a warning for each problem.
pub fn decode_session(body: &[u8]) -> (Vec<Event>, Vec<String>) {
    let mut framer = Framer::new();
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    for c in framer.push(body) {
        match c {
            Ok(chunk) => events.extend(chunk.events),
            Err(w) => warnings.push(w),
        }
    }
    warnings.extend(framer.finish());
    (events, warnings)
}

/// Decodes the `index`th frame of a response.
pub fn decode(index: usize, bytes: &[u8]) -> Framed {
    decode_chunk(bytes, &Limits::default()).map_err(|e| format!("chunk {index}: skipped: {e}"))
}

/// Which chunks of a session have arrived, so live polling asks only for
/// what is missing (`?from=`) and ignores chunks it already has.
#[derive(Debug, Default)]
pub struct Seen {
    seqs: std::collections::BTreeSet<u32>,
    /// Every seq below this has arrived.
    contiguous: u32,
}

impl Seen {
    /// Records `seq`; false if it had arrived before.
    pub fn add(&mut self, seq: u32) -> bool {
        if seq < self.contiguous || !self.seqs.insert(seq) {
            return false;
        }
        while self.seqs.remove(&self.contiguous) {
            self.contiguous = self.contiguous.saturating_add(1);
        }
        true
    }

    /// The `from` to poll with: the first seq not yet seen.
    pub fn from(&self) -> u32 {
        self.contiguous
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{encode_chunk, Custom, EventData, SessionId};

    fn chunk(seq: u32, t: u64) -> Vec<u8> {
        let events = vec![Event {
            t,
            data: EventData::Custom(Custom {
                name: format!("e{seq}"),
                data: None,
            }),
        }];
        encode_chunk(SessionId([1; 16]), seq, &events).expect("encodes")
    }

    fn frame(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(c);
        }
        out
    }

    #[test]
    fn decodes_every_chunk_in_order() {
        let (events, warnings) = decode_session(&frame(&[&chunk(0, 10), &chunk(1, 20)]));
        assert!(warnings.is_empty());
        assert_eq!(events.iter().map(|e| e.t).collect::<Vec<_>>(), vec![10, 20]);
        assert_eq!(decode_session(&[]), (vec![], vec![]));
    }

    #[test]
    fn bad_chunks_are_skipped_not_fatal() {
        let mut body = frame(&[&chunk(0, 10), b"garbage", &chunk(2, 30)]);
        body.extend_from_slice(&[5, 0]);
        let (events, warnings) = decode_session(&body);
        assert_eq!(events.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut body = frame(&[&chunk(0, 10)]);
        body.extend_from_slice(&100u32.to_le_bytes());
        body.extend_from_slice(b"short");
        let (events, warnings) = decode_session(&body);
        assert_eq!((events.len(), warnings.len()), (1, 1));
    }

    #[test]
    fn framer_decodes_whatever_way_the_bytes_arrive() {
        let body = frame(&[&chunk(0, 10), &chunk(1, 20), &chunk(2, 30)]);
        for step in [1, 3, 7, 100, body.len()] {
            let mut f = Framer::new();
            let mut seqs = Vec::new();
            for piece in body.chunks(step) {
                for c in f.push(piece) {
                    seqs.push(c.expect("decodes").header.seq);
                }
            }
            assert_eq!(seqs, vec![0, 1, 2], "step {step}");
            assert_eq!(f.finish(), None);
        }
        let mut f = Framer::new();
        assert!(f.push(&body[..body.len() - 1]).len() == 2);
        assert!(f.finish().is_some());
    }

    #[test]
    fn seen_polls_from_the_first_gap() {
        let mut s = Seen::default();
        assert_eq!(s.from(), 0);
        assert!(s.add(0));
        assert!(s.add(2));
        assert_eq!(s.from(), 1);
        assert!(!s.add(2));
        assert!(s.add(1));
        assert_eq!(s.from(), 3);
        assert!(!s.add(0));
    }
}
