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
use std::cell::RefCell;
use zstd_safe::{DCtx, DParameter, InBuffer, OutBuffer, ResetDirective};

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
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { dctx, out } = scratch;
        let res = inflate_into(dctx, body, limits.max_decompressed, out)
            .and_then(|()| check_events(out, header.event_count));
        // A thread keeps what a typical chunk needs, not what a huge one took.
        if out.capacity() > KEEP_SCRATCH {
            *out = Vec::new();
        }
        res
    })?;
    Ok(header)
}

/// Per-thread decoder state: a libzstd context costs ~100 KB to set up and
/// the output buffer a page fault per 4 KiB when fresh, both more than a
/// small chunk's whole inflate.
struct Scratch {
    dctx: DCtx<'static>,
    out: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        dctx: DCtx::create(),
        out: Vec::new(),
    });
}

const KEEP_SCRATCH: usize = 1024 * 1024;

/// Inflates one zstd frame, never holding more than `cap` bytes of output
/// nor accepting a window larger than `cap`.
pub fn inflate(body: &[u8], cap: usize) -> Result<Vec<u8>, ChunkError> {
    let mut out = Vec::new();
    inflate_into(&mut DCtx::create(), body, cap, &mut out)?;
    Ok(out)
}

/// [`inflate`] into `out` (cleared first) with a reusable context.
///
/// libzstd, not ruzstd: it inflates real chunks several times faster, and
/// the server is native code anyway (the wasm recorder keeps ruzstd's
/// encoder). Streaming into a buffer that grows by doubling, never past
/// `cap + 1` bytes, is what cuts a bomb off without inflating it.
fn inflate_into(
    dctx: &mut DCtx<'_>,
    body: &[u8],
    cap: usize,
    out: &mut Vec<u8>,
) -> Result<(), ChunkError> {
    let bad = |code: usize| ChunkError::BadBody(zstd_safe::get_error_name(code).to_owned());
    out.clear();
    dctx.reset(ResetDirective::SessionOnly).map_err(bad)?;
    // A window is history the decoder keeps: bound it like the output.
    let window_log = usize::BITS - 1 - cap.max(128 * 1024).leading_zeros();
    dctx.set_parameter(DParameter::WindowLogMax(window_log))
        .map_err(bad)?;
    // One byte over `cap` tells "too large" from "exactly `cap`".
    let limit = cap.saturating_add(1);
    // Real chunks inflate 3-10x; start there and grow.
    let first = body.len().saturating_mul(8).clamp(64 * 1024, limit);
    if out.capacity() < first {
        out.reserve_exact(first);
    }
    let mut input = InBuffer::around(body);
    loop {
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return Err(ChunkError::BodyTooLarge(cap));
            }
            let grow = out.capacity().saturating_mul(2).min(limit) - out.len();
            out.reserve_exact(grow);
        }
        let (before_in, before_out) = (input.pos(), out.len());
        let pos = out.len();
        let mut output = OutBuffer::around_pos(out, pos);
        let hint = dctx
            .decompress_stream(&mut output, &mut input)
            .map_err(bad)?;
        if out.len() > cap {
            return Err(ChunkError::BodyTooLarge(cap));
        }
        if hint == 0 {
            // The frame is complete and flushed. A body may hold several
            // frames (the recorder compresses big chunks a piece at a
            // time): libzstd goes on with the next one on the next call.
            let rest = &body[input.pos()..];
            if rest.is_empty() || !rest.starts_with(&reel_shared::chunk::ZSTD_MAGIC) {
                break;
            }
            continue;
        }
        if input.pos() == before_in && out.len() == before_out && out.len() < out.capacity() {
            // No progress with room to write: the input ran out mid-frame.
            return Err(ChunkError::BadBody("the zstd frame is truncated".into()));
        }
    }
    if input.pos() != body.len() {
        return Err(ChunkError::TrailingBytes);
    }
    Ok(())
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
    ///
    /// The hot loop of ingest (a 77 KB chunk holds ~18,000 values). Its
    /// speed is the chain "read a marker, work out its length, move past
    /// it": each value's position depends on the one before. So the markers
    /// of nearly every value of real events (small ints, fixarrays and
    /// fixmaps, fixstrs: 75% and more) are told apart by comparisons the
    /// branch predictor learns, and a fixstr's length comes from its marker
    /// by a mask, instead of a lookup table whose load sat on that chain:
    /// 1.4x faster than the table on the load benchmark's chunks. A string
    /// is only run through the UTF-8 validator when it has a non-ASCII byte.
    fn skip(&mut self, mut n: u64) -> Result<(), ChunkError> {
        let b = self.b;
        let mut pos = self.pos;
        // Reads a big-endian length of `w` bytes at `pos`.
        let be = |pos: &mut usize, w: usize| -> Result<u64, ChunkError> {
            let s = b.get(*pos..*pos + w).ok_or_else(truncated)?;
            *pos += w;
            Ok(s.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
        };
        while n > 0 {
            n -= 1;
            let m = *b.get(pos).ok_or_else(truncated)?;
            pos += 1;
            if !(0x80..0xe0).contains(&m) {
                // A positive or negative fixint: nothing follows.
                continue;
            }
            if m < 0xa0 {
                // A fixmap or a fixarray: its elements join the count.
                let k = u64::from(m & 0x0f);
                n += if m < 0x90 { 2 * k } else { k };
                // Every element takes at least one byte.
                if n > (b.len() - pos) as u64 {
                    return Err(truncated());
                }
                continue;
            }
            if m < 0xc0 {
                // A fixstr, at most 31 bytes: checked in one go where 32
                // bytes can be read, not byte by byte.
                let len = usize::from(m & 0x1f);
                let end = pos + len;
                let payload = b.get(pos..end).ok_or_else(truncated)?;
                let ascii = match b
                    .get(pos..pos + 32)
                    .and_then(|w| <&[u8; 32]>::try_from(w).ok())
                {
                    Some(w) => short_is_ascii(w, len),
                    None => is_ascii(payload),
                };
                if !ascii && std::str::from_utf8(payload).is_err() {
                    return Err(ChunkError::BadBody("a string is not UTF-8".into()));
                }
                pos = end;
                continue;
            }
            // 0xc0..=0xdf: nil, booleans, and the markers whose payload or
            // length follows them.
            // (payload bytes to skip, of which UTF-8; elements to add)
            let (len, utf8, elems): (u64, bool, u64) = match m {
                0xc0 | 0xc2 | 0xc3 => continue,
                0xcc | 0xd0 => (1, false, 0),
                0xcd | 0xd1 => (2, false, 0),
                0xca | 0xce | 0xd2 => (4, false, 0),
                0xcb | 0xcf | 0xd3 => (8, false, 0),
                0xd9 => (be(&mut pos, 1)?, true, 0),
                0xda => (be(&mut pos, 2)?, true, 0),
                0xdb => (be(&mut pos, 4)?, true, 0),
                0xc4 => (be(&mut pos, 1)?, false, 0),
                0xc5 => (be(&mut pos, 2)?, false, 0),
                0xc6 => (be(&mut pos, 4)?, false, 0),
                0xc7 => (be(&mut pos, 1)? + 1, false, 0),
                0xc8 => (be(&mut pos, 2)? + 1, false, 0),
                0xc9 => (be(&mut pos, 4)? + 1, false, 0),
                0xd4 => (2, false, 0),
                0xd5 => (3, false, 0),
                0xd6 => (5, false, 0),
                0xd7 => (9, false, 0),
                0xd8 => (17, false, 0),
                0xdc => (0, false, be(&mut pos, 2)?),
                0xdd => (0, false, be(&mut pos, 4)?),
                0xde => (0, false, 2 * be(&mut pos, 2)?),
                0xdf => (0, false, 2 * be(&mut pos, 4)?),
                // 0xc1 is never used.
                _ => {
                    self.pos = pos;
                    return Err(ChunkError::BadBody(format!(
                        "bad MessagePack byte {m:#04x}"
                    )));
                }
            };
            if elems > 0 {
                n = n.checked_add(elems).ok_or_else(truncated)?;
                // Every element takes at least one byte.
                if n > (b.len() - pos) as u64 {
                    return Err(truncated());
                }
                continue;
            }
            let len = usize::try_from(len).map_err(|_| truncated())?;
            let end = pos.checked_add(len).ok_or_else(truncated)?;
            let payload = b.get(pos..end).ok_or_else(truncated)?;
            pos = end;
            if utf8 && !is_ascii(payload) && std::str::from_utf8(payload).is_err() {
                return Err(ChunkError::BadBody("a string is not UTF-8".into()));
            }
        }
        self.pos = pos;
        Ok(())
    }
}

/// Whether the first `len` (at most 32) bytes of `w` are below 0x80:
/// two masked 16-byte words, no loop whose length varies string by string.
#[inline]
fn short_is_ascii(w: &[u8; 32], len: usize) -> bool {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    lo.copy_from_slice(&w[..16]);
    hi.copy_from_slice(&w[16..]);
    let (lo, hi) = (u128::from_le_bytes(lo), u128::from_le_bytes(hi));
    let mask = |n: usize| -> u128 {
        if n >= 16 {
            u128::MAX
        } else {
            (1u128 << (n * 8)) - 1
        }
    };
    let high_bits = u128::from_le_bytes([0x80; 16]);
    ((lo & mask(len)) | (hi & mask(len.saturating_sub(16)))) & high_bits == 0
}

/// Whether every byte is below 0x80; branch-free, so it vectorises.
#[inline]
fn is_ascii(s: &[u8]) -> bool {
    s.iter().fold(0u8, |acc, &c| acc | c) < 0x80
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use reel_shared::{encode_chunk, Custom, Event, EventData, SessionId};

    /// The fixstr check agrees with the plain one for every length and
    /// every place of a non-ASCII byte, inside the string or just past it.
    #[test]
    fn short_ascii_check_matches_the_plain_one() {
        for len in 0..=31usize {
            for bad in 0..32usize {
                let mut w = [b'a'; 32];
                w[bad] = 0xc3;
                assert_eq!(
                    short_is_ascii(&w, len),
                    is_ascii(&w[..len]),
                    "len {len}, non-ASCII byte at {bad}"
                );
            }
            assert!(short_is_ascii(&[b'z'; 32], len));
        }
    }

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

    /// One MessagePack value of any kind, every marker width included,
    /// written by hand so that the walk is checked against the format, not
    /// against another implementation's choice of markers.
    fn any_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        fn with_len(short: u8, short_max: usize, wide: &[u8], n: usize) -> Vec<u8> {
            if n <= short_max && short != 0 {
                vec![short | n as u8]
            } else {
                let (m, w) = match n {
                    0..=0xff if wide.len() > 2 => (wide[0], 1),
                    0..=0xffff => (wide[wide.len() - 2], 2),
                    _ => (wide[wide.len() - 1], 4),
                };
                let mut v = vec![m];
                v.extend_from_slice(&(n as u32).to_be_bytes()[4 - w..]);
                v
            }
        }
        let scalar = prop_oneof![
            Just(vec![0xc0]),
            any::<bool>().prop_map(|b| vec![0xc2 | u8::from(b)]),
            (0u8..0x80).prop_map(|x| vec![x]),
            (0xe0u8..=0xff).prop_map(|x| vec![x]),
            (
                prop::sample::select(vec![
                    0xccu8, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb
                ]),
                any::<u64>()
            )
                .prop_map(|(m, x)| {
                    let w = match m {
                        0xcc | 0xd0 => 1,
                        0xcd | 0xd1 => 2,
                        0xce | 0xd2 | 0xca => 4,
                        _ => 8,
                    };
                    let mut v = vec![m];
                    v.extend_from_slice(&x.to_be_bytes()[8 - w..]);
                    v
                }),
            ("\\PC{0,12}", 0usize..3).prop_map(|(s, pad)| {
                // Wide strings as well: repeated past the fixstr and str8
                // sizes.
                let s = s.repeat(1 + pad * 24);
                let mut v = with_len(0xa0, 31, &[0xd9, 0xda, 0xdb], s.len());
                v.extend_from_slice(s.as_bytes());
                v
            }),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| {
                let mut v = with_len(0, 0, &[0xc4, 0xc5, 0xc6], b.len());
                v.extend_from_slice(&b);
                v
            }),
            (
                prop::sample::select(vec![1usize, 2, 4, 8, 16, 0, 3, 300]),
                any::<i8>()
            )
                .prop_map(|(n, ty)| {
                    let mut v = match n {
                        1 => vec![0xd4],
                        2 => vec![0xd5],
                        4 => vec![0xd6],
                        8 => vec![0xd7],
                        16 => vec![0xd8],
                        _ => with_len(0, 0, &[0xc7, 0xc8, 0xc9], n),
                    };
                    v.push(ty as u8);
                    v.extend(std::iter::repeat_n(0xc1, n));
                    v
                }),
        ];
        scalar.prop_recursive(4, 64, 20, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..20).prop_map(|items| {
                    let mut v = with_len(0x90, 15, &[0xdc, 0xdd], items.len());
                    v.extend(items.concat());
                    v
                }),
                proptest::collection::vec((inner.clone(), inner), 0..10).prop_map(|pairs| {
                    let mut v = with_len(0x80, 15, &[0xde, 0xdf], pairs.len());
                    for (k, x) in pairs {
                        v.extend(k);
                        v.extend(x);
                    }
                    v
                }),
            ]
        })
    }

    proptest::proptest! {
        /// Any well-formed events pass, whatever their fields hold, and
        /// every cut of them is refused (none passes by stopping early).
        #[test]
        fn any_well_formed_events_pass_and_any_cut_fails(
            events in proptest::collection::vec(
                (any_value_time(), proptest::collection::vec(any_value(), 1..4)),
                1..6,
            )
        ) {
            let mut b = vec![0x90 | events.len() as u8];
            for (t, fields) in &events {
                b.push(0x90 | (1 + fields.len()) as u8);
                b.extend(t);
                b.extend(fields.concat());
            }
            proptest::prop_assert_eq!(check_events(&b, events.len() as u32), Ok(()));
            // Every cut near the end, and a few hundred spread over the rest.
            let step = (b.len() / 300).max(1);
            for cut in (0..b.len()).step_by(step).chain(b.len().saturating_sub(64)..b.len()) {
                proptest::prop_assert!(check_events(&b[..cut], events.len() as u32).is_err());
            }
        }
    }

    /// An event's time: any unsigned integer marker.
    fn any_value_time() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..0x80).prop_map(|x| vec![x]),
            any::<u64>().prop_map(|x| {
                let mut v = vec![0xcf];
                v.extend_from_slice(&x.to_be_bytes());
                v
            }),
            any::<u16>().prop_map(|x| {
                let mut v = vec![0xcd];
                v.extend_from_slice(&x.to_be_bytes());
                v
            }),
        ]
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
