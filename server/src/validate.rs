//! Ingest-time validation of a chunk, cheaper than decoding it.
//!
//! What a stored chunk is guaranteed to be (the invariant the read path
//! relies on):
//!
//! - a valid header (magic, version, bounded size, `t_start <= t_end`,
//!   `1 <= event_count <= max_events`), decoded with `reel_shared`;
//! - followed by exactly one zstd frame, whose window and output are both
//!   bounded by `max_decompressed` *while* it is inflated: a zstd bomb is
//!   cut off at the limit, never inflated whole;
//! - which inflates to well-formed MessagePack: one array of exactly
//!   `event_count` elements, each itself an array whose first element is an
//!   unsigned integer (an event's `t`), every string valid UTF-8, and no
//!   byte after the array.
//!
//! It does not build the typed event tree (`Vec<Event>`), which costs
//! about twice the decompression in allocations alone and would halve
//! ingest throughput; the header carries everything the index needs. So a
//! chunk that is well-formed MessagePack but not a valid `Vec<Event>` can
//! be stored (only by a holder of an ingest key, and only into sessions
//! that key writes); readers that decode events (`/events`, `export
//! --json`, the player) report such a chunk as an error rather than fail.
//!
//! The walk over the MessagePack is iterative, with one counter of values
//! still to read instead of a stack, so nesting depth costs nothing, and a
//! container claiming more elements than bytes remain is refused at once.

use reel_shared::{decode_header, ChunkError, ChunkHeader, Limits};
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
use std::io::Read;

/// The limits ingest enforces; every one is a flag of `reel-server serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    /// Bytes of one request body (a chunk as sent): 413 above.
    pub max_body: usize,
    /// Bytes a chunk's body may inflate to: 413 above.
    pub max_decompressed: usize,
    /// Events in one chunk: 413 above.
    pub max_events: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_body: 8 * 1024 * 1024,
            max_decompressed: 32 * 1024 * 1024,
            max_events: 100_000,
        }
    }
}

impl IngestLimits {
    fn chunk_limits(&self) -> Limits {
        Limits {
            max_header: 64 * 1024,
            max_decompressed: self.max_decompressed,
            max_events: self.max_events,
        }
    }

    /// The limits for a full decode of a chunk these limits accepted.
    pub fn decode_limits(&self) -> Limits {
        self.chunk_limits()
    }
}

/// Validates a chunk as described in the module doc; returns its header.
pub fn validate_chunk(bytes: &[u8], limits: &IngestLimits) -> Result<ChunkHeader, ChunkError> {
    let (header, body) = decode_header(bytes, &limits.chunk_limits())?;
    if header.event_count == 0 {
        return Err(ChunkError::Empty);
    }
    let raw = inflate(body, limits.max_decompressed)?;
    check_events(&raw, header.event_count)?;
    Ok(header)
}

/// Inflates one zstd frame, never holding more than `cap` bytes of output
/// nor accepting a window larger than `cap`.
pub fn inflate(mut body: &[u8], cap: usize) -> Result<Vec<u8>, ChunkError> {
    let bad = |e: &dyn std::fmt::Display| ChunkError::BadBody(e.to_string());
    let mut frame = FrameDecoder::new();
    // A window is history the decoder keeps: bound it like the output.
    frame.set_max_window_size(cap.max(128 * 1024) as u64);
    let mut dec = StreamingDecoder::new_with_decoder(&mut body, frame).map_err(|e| bad(&e))?;
    // Real chunks inflate 3-10x; start there and grow, never past `cap`.
    let mut out: Vec<u8> = Vec::with_capacity(body_estimate(cap));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = dec.read(&mut buf).map_err(|e| bad(&e))?;
        if n == 0 {
            break;
        }
        let need = out.len() + n;
        if need > cap {
            return Err(ChunkError::BodyTooLarge(cap));
        }
        if need > out.capacity() {
            let grow = (out.capacity() * 2).clamp(need, cap);
            out.reserve_exact(grow - out.len());
        }
        out.extend_from_slice(&buf[..n]);
    }
    drop(dec);
    if !body.is_empty() {
        return Err(ChunkError::TrailingBytes);
    }
    Ok(out)
}

fn body_estimate(cap: usize) -> usize {
    (256 * 1024).min(cap)
}

/// Checks that `raw` is one MessagePack array of `count` events, each an
/// array starting with an unsigned integer, and nothing after it.
pub fn check_events(raw: &[u8], count: u32) -> Result<(), ChunkError> {
    let mut r = Reader { b: raw, pos: 0 };
    let n = match r.container()? {
        Some((Kind::Array, n)) => n,
        _ => return Err(structure("the events are not an array")),
    };
    if n != u64::from(count) {
        return Err(ChunkError::EventCountMismatch {
            header: count,
            body: usize::try_from(n).unwrap_or(usize::MAX),
        });
    }
    for _ in 0..n {
        let fields = match r.container()? {
            Some((Kind::Array, f)) if f >= 2 => f,
            _ => return Err(structure("an event is not an array of its fields")),
        };
        if !r.uint()? {
            return Err(structure("an event's time is not an unsigned integer"));
        }
        r.skip(fields - 1)?;
    }
    if r.pos != raw.len() {
        return Err(ChunkError::TrailingBytes);
    }
    Ok(())
}

fn structure(what: &str) -> ChunkError {
    ChunkError::BadBody(format!("not a list of events: {what}"))
}

fn truncated() -> ChunkError {
    ChunkError::BadBody("MessagePack is truncated".into())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Map,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, ChunkError> {
        let v = *self.b.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(v)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], ChunkError> {
        let n = usize::try_from(n).map_err(|_| truncated())?;
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        let s = self.b.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, ChunkError> {
        let b = self.b.get(self.pos..self.pos + n).ok_or_else(truncated)?;
        self.pos += n;
        Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn remaining(&self) -> u64 {
        (self.b.len() - self.pos) as u64
    }

    /// If the next value is an array or a map, consumes its marker and
    /// returns its element count (a map's counts keys and values); other
    /// values are left in place.
    fn container(&mut self) -> Result<Option<(Kind, u64)>, ChunkError> {
        let m = *self.b.get(self.pos).ok_or_else(truncated)?;
        let (kind, len_bytes, n) = match m {
            0x90..=0x9f => (Kind::Array, 0, u64::from(m & 0x0f)),
            0x80..=0x8f => (Kind::Map, 0, u64::from(m & 0x0f)),
            0xdc => (Kind::Array, 2, 0),
            0xdd => (Kind::Array, 4, 0),
            0xde => (Kind::Map, 2, 0),
            0xdf => (Kind::Map, 4, 0),
            _ => return Ok(None),
        };
        self.pos += 1;
        let n = if len_bytes > 0 {
            self.be(len_bytes)?
        } else {
            n
        };
        let n = if kind == Kind::Map { n * 2 } else { n };
        // Every element takes at least one byte.
        if n > self.remaining() {
            return Err(truncated());
        }
        Ok(Some((kind, n)))
    }

    /// Consumes an unsigned integer; false (and nothing consumed) when the
    /// next value is something else.
    fn uint(&mut self) -> Result<bool, ChunkError> {
        let m = *self.b.get(self.pos).ok_or_else(truncated)?;
        let len = match m {
            0x00..=0x7f => 0,
            0xcc => 1,
            0xcd => 2,
            0xce => 4,
            0xcf => 8,
            _ => return Ok(false),
        };
        self.pos += 1;
        self.take(len)?;
        Ok(true)
    }

    /// Consumes `n` whole values, containers included, without recursion:
    /// a container adds its elements to the count still to read.
    fn skip(&mut self, mut n: u64) -> Result<(), ChunkError> {
        while n > 0 {
            n -= 1;
            let m = self.byte()?;
            // (payload bytes to skip, of which UTF-8; elements to add)
            let (len, utf8, elems): (u64, bool, u64) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => continue,
                0xa0..=0xbf => (u64::from(m & 0x1f), true, 0),
                0x90..=0x9f => (0, false, u64::from(m & 0x0f)),
                0x80..=0x8f => (0, false, 2 * u64::from(m & 0x0f)),
                0xd9 => (self.be(1)?, true, 0),
                0xda => (self.be(2)?, true, 0),
                0xdb => (self.be(4)?, true, 0),
                0xc4 => (self.be(1)?, false, 0),
                0xc5 => (self.be(2)?, false, 0),
                0xc6 => (self.be(4)?, false, 0),
                0xc7 => (self.be(1)? + 1, false, 0),
                0xc8 => (self.be(2)? + 1, false, 0),
                0xc9 => (self.be(4)? + 1, false, 0),
                0xca | 0xce | 0xd2 => (4, false, 0),
                0xcb | 0xcf | 0xd3 => (8, false, 0),
                0xcc | 0xd0 => (1, false, 0),
                0xcd | 0xd1 => (2, false, 0),
                0xd4 => (2, false, 0),
                0xd5 => (3, false, 0),
                0xd6 => (5, false, 0),
                0xd7 => (9, false, 0),
                0xd8 => (17, false, 0),
                0xdc => (0, false, self.be(2)?),
                0xdd => (0, false, self.be(4)?),
                0xde => (0, false, 2 * self.be(2)?),
                0xdf => (0, false, 2 * self.be(4)?),
                // 0xc1 is never used.
                _ => {
                    return Err(ChunkError::BadBody(format!(
                        "bad MessagePack byte {m:#04x}"
                    )))
                }
            };
            if elems > 0 {
                n = n.checked_add(elems).ok_or_else(truncated)?;
                // Every element takes at least one byte.
                if n > self.remaining() {
                    return Err(truncated());
                }
            } else if utf8 {
                self.str(len)?;
            } else {
                self.take(len)?;
            }
        }
        Ok(())
    }

    fn str(&mut self, len: u64) -> Result<(), ChunkError> {
        let s = self.take(len)?;
        std::str::from_utf8(s)
            .map(drop)
            .map_err(|_| ChunkError::BadBody("a string is not UTF-8".into()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use reel_shared::{encode_chunk, Custom, Event, EventData, SessionId};

    fn events(n: u64) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                t: 1_700_000_000_000 + i,
                data: EventData::Custom(Custom {
                    name: format!("é{i}"),
                    data: Some("{\"a\":[1,2.5,null,true]}".into()),
                }),
            })
            .collect()
    }

    fn body(ev: &[Event]) -> Vec<u8> {
        rmp_serde::to_vec(ev).unwrap()
    }

    #[test]
    fn real_chunks_pass() {
        let c = encode_chunk(SessionId([1; 16]), 3, &events(40)).unwrap();
        let h = validate_chunk(&c, &IngestLimits::default()).unwrap();
        assert_eq!((h.seq, h.event_count), (3, 40));
    }

    #[test]
    fn structure_is_checked() {
        let ev = events(3);
        let good = body(&ev);
        assert!(check_events(&good, 3).is_ok());
        assert!(matches!(
            check_events(&good, 2),
            Err(ChunkError::EventCountMismatch { header: 2, body: 3 })
        ));
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert_eq!(check_events(&trailing, 3), Err(ChunkError::TrailingBytes));
        for cut in 0..good.len() {
            assert!(check_events(&good[..cut], 3).is_err(), "cut at {cut}");
        }
        // Not UTF-8 inside a string.
        let mut bad_utf8 = good.clone();
        let at = bad_utf8
            .windows(2)
            .position(|w| w == "é".as_bytes())
            .unwrap();
        bad_utf8[at] = 0xff;
        assert!(check_events(&bad_utf8, 3).is_err());
        // A top-level map, a bare integer, an event whose time is a string.
        assert!(check_events(&[0x81, 0x01, 0x02], 1).is_err());
        assert!(check_events(&[0x05], 1).is_err());
        assert!(check_events(&[0x91, 0x92, 0xa1, b'x', 0xc0], 1).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0xc1], 1).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0xc0], 1).is_ok());
        // An array claiming four billion elements in a few bytes.
        assert!(check_events(&[0x91, 0x92, 0x05, 0xdd, 0xff, 0xff, 0xff, 0xff], 1).is_err());
        assert!(check_events(&[0xdd, 0xff, 0xff, 0xff, 0xff], u32::MAX).is_err());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 1_000_000;
        let mut b = vec![0x91, 0x92, 0x01];
        b.extend(std::iter::repeat_n(0x91, depth));
        b.push(0xc0);
        assert!(check_events(&b, 1).is_ok());
        b.pop();
        assert!(check_events(&b, 1).is_err());
    }

    /// A zstd frame of RLE blocks: `blocks` × 128 KiB of zeros in
    /// 4 bytes per block.
    pub(crate) fn zstd_bomb(blocks: usize) -> Vec<u8> {
        let mut f = vec![0x28, 0xb5, 0x2f, 0xfd];
        // No content size, no checksum; window descriptor: 2^(10+7) = 128 KiB.
        f.push(0x00);
        f.push(7 << 3);
        for i in 0..blocks {
            let last = u32::from(i + 1 == blocks);
            let h = (128 * 1024u32) << 3 | 1 << 1 | last;
            f.extend_from_slice(&h.to_le_bytes()[..3]);
            f.push(0);
        }
        f
    }

    #[test]
    fn a_bomb_is_cut_off_at_the_limit() {
        let small = zstd_bomb(4);
        assert_eq!(inflate(&small, 1 << 20).unwrap().len(), 512 * 1024);
        // 1 GiB of zeros in 32 KiB, against a 1 MiB limit.
        let bomb = zstd_bomb(8192);
        assert!(bomb.len() < 40_000);
        assert_eq!(
            inflate(&bomb, 1 << 20),
            Err(ChunkError::BodyTooLarge(1 << 20))
        );
        // A window larger than the limit is refused before anything inflates.
        let mut wide = zstd_bomb(1);
        wide[5] = 20 << 3; // 1 GiB window
        assert!(matches!(
            inflate(&wide, 1 << 20),
            Err(ChunkError::BadBody(_))
        ));
        let mut trailing = zstd_bomb(1);
        trailing.push(0);
        assert_eq!(inflate(&trailing, 1 << 20), Err(ChunkError::TrailingBytes));
    }
}
