//! The chunk: the unit the recorder sends and the server stores.
//!
//! ```text
//! "REEL"  u8 version  u32-LE header length  header (MessagePack)  body (zstd)
//! ```
//!
//! The header is small and uncompressed so the server can validate and index
//! a chunk without decompressing it. The body is zstd: one frame, or several
//! concatenated (as the zstd format allows, and the zstd tool reads), whose
//! content together is the MessagePack-encoded `Vec<Event>`. The recorder
//! writes two: a tiny one for the array header (whose count is known last)
//! and the events', which it compresses a block at a time, in separate
//! tasks, instead of in one long task when it seals (see [`ChunkEncoder`]).
//! The compressor is our own ([`crate::zstd`]); decoders are ruzstd's and
//! libzstd's. The MessagePack is written by [`crate::msgpack`] and read by
//! [`crate::msgpack_read`] (the same bytes as rmp-serde's, without serde's
//! code in the wasm of the recorder or the player).
//!
//! Decoding takes untrusted bytes: it never panics, never recurses on input,
//! and never allocates more than [`Limits`] allow, whatever the bytes claim
//! (a zstd bomb is cut off at `max_decompressed`, not inflated).

use crate::event::{ConsoleLevel, Event, EventData, MouseKind};
use crate::ids::SessionId;
use serde::{Deserialize, Serialize};
use std::io::Read;

pub const MAGIC: &[u8; 4] = b"REEL";
/// Bumped on any change a decoder of the previous version cannot read.
/// 2: node ids in node lists are relative (see [`crate::node`]).
pub const FORMAT_VERSION: u8 = 2;
/// The oldest version this build still reads (1: absolute node ids).
pub const OLDEST_VERSION: u8 = 1;
const PRELUDE: usize = 4 + 1 + 4;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkHeader {
    pub session: SessionId,
    pub seq: u32,
    /// The first and last event's `t` (ms since the Unix epoch).
    pub t_start: u64,
    pub t_end: u64,
    pub event_count: u32,
    pub stats: ChunkStats,
}

/// What the session index needs from a chunk, computed by the encoder so the
/// server never decodes events to list sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkStats {
    pub clicks: u32,
    pub errors: u32,
    /// Pages loaded in this chunk, in order.
    pub urls: Vec<String>,
    pub user_id: Option<String>,
    pub user_agent: Option<String>,
}

impl ChunkStats {
    pub fn from_events(events: &[Event]) -> Self {
        let mut s = ChunkStats::default();
        events.iter().for_each(|e| s.add(e));
        s
    }

    /// Counts one more event.
    pub fn add(&mut self, e: &Event) {
        match &e.data {
            EventData::Meta(m) => {
                self.urls.push(m.href.clone());
                self.user_agent = Some(m.user_agent.clone());
            }
            EventData::Mouse(m) if m.kind == MouseKind::Click => self.clicks += 1,
            EventData::Identify(i) => self.user_id = Some(i.user_id.clone()),
            EventData::PageError(_) => self.errors += 1,
            EventData::Console(c) if c.level == ConsoleLevel::Error => self.errors += 1,
            _ => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub header: ChunkHeader,
    pub events: Vec<Event>,
}

/// Bounds on what a decoder accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_header: usize,
    pub max_decompressed: usize,
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header: 64 * 1024,
            max_decompressed: 64 * 1024 * 1024,
            max_events: 500_000,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("chunk is truncated")]
    Truncated,
    #[error("not a Reel chunk (bad magic)")]
    BadMagic,
    #[error("unsupported chunk format version {0} (this build reads {OLDEST_VERSION} to {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("chunk header is {0} bytes, over the limit of {1}")]
    HeaderTooLarge(usize, usize),
    #[error("bad chunk header: {0}")]
    BadHeader(String),
    #[error("bad chunk body: {0}")]
    BadBody(String),
    #[error("chunk body decompresses to more than {0} bytes")]
    BodyTooLarge(usize),
    #[error("chunk body has bytes after its zstd frames")]
    TrailingBytes,
    #[error("chunk holds {0} events, over the limit of {1}")]
    TooManyEvents(usize, usize),
    #[error("chunk header says {header} events, body holds {body}")]
    EventCountMismatch { header: u32, body: usize },
    #[error("chunk has no events")]
    Empty,
    #[error("could not encode chunk: {0}")]
    Encode(String),
}

/// Encodes events into a chunk. The header's time range, count and stats are
/// derived from the events, so they cannot disagree with the body.
#[cfg(feature = "encode")]
pub fn encode_chunk(session: SessionId, seq: u32, events: &[Event]) -> Result<Vec<u8>, ChunkError> {
    let mut enc = ChunkEncoder::new(session, seq);
    for e in events {
        enc.push(e)?;
    }
    enc.finish()
}

/// A chunk built an event at a time, and compressed a piece at a time.
///
/// Events are MessagePack-encoded as they are pushed; [`compress_some`]
/// turns the oldest [`FRAME_BYTES`] of them into the next block of the
/// body's zstd frame, whenever the caller has a moment (the recorder calls
/// it from its own short tasks), so that [`finish`] only compresses what is
/// left. Matches reach back across blocks (one frame, one window). The
/// body's leading frame holds just the array header, which needs the final
/// count: frames are independent, so it can be compressed last and still
/// go first.
///
/// [`compress_some`]: ChunkEncoder::compress_some
/// [`finish`]: ChunkEncoder::finish
#[cfg(feature = "encode")]
pub struct ChunkEncoder {
    session: SessionId,
    seq: u32,
    t_start: u64,
    t_end: u64,
    count: u32,
    stats: ChunkStats,
    /// Encoded events not compressed yet.
    raw: Vec<u8>,
    /// The events before `raw`: the body frame so far, and its encoder
    /// (started by the first [`ChunkEncoder::compress_some`] that has a
    /// block's worth).
    body: Vec<u8>,
    frame: Option<crate::zstd::FrameEncoder>,
    /// Bytes of encoded events so far (compressed or not).
    encoded: usize,
}

/// How much encoded data one block holds: zstd's largest block, so
/// compressing it is a short task (a few ms in the browser).
#[cfg(feature = "encode")]
pub const FRAME_BYTES: usize = crate::zstd::BLOCK_MAX;

#[cfg(feature = "encode")]
impl ChunkEncoder {
    pub fn new(session: SessionId, seq: u32) -> Self {
        ChunkEncoder {
            session,
            seq,
            t_start: u64::MAX,
            t_end: 0,
            count: 0,
            stats: ChunkStats::default(),
            raw: Vec::new(),
            body: Vec::new(),
            frame: None,
            encoded: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size of the events so far, before compression.
    pub fn encoded_bytes(&self) -> usize {
        self.encoded
    }

    pub fn push(&mut self, e: &Event) -> Result<(), ChunkError> {
        let before = self.raw.len();
        crate::msgpack::write_event(&mut self.raw, e);
        self.encoded += self.raw.len() - before;
        self.count = self
            .count
            .checked_add(1)
            .ok_or_else(|| ChunkError::Encode("too many events".into()))?;
        self.t_start = self.t_start.min(e.t);
        self.t_end = self.t_end.max(e.t);
        self.stats.add(e);
        Ok(())
    }

    /// Compresses one frame's worth of the pending events, if there is that
    /// much; returns whether another full frame is still pending.
    pub fn compress_some(&mut self) -> bool {
        if self.raw.len() >= FRAME_BYTES {
            let frame = self
                .frame
                .get_or_insert_with(crate::zstd::FrameEncoder::new);
            frame.block(&self.raw[..FRAME_BYTES], &mut self.body);
            self.raw.drain(..FRAME_BYTES);
        }
        self.raw.len() >= FRAME_BYTES
    }

    /// The finished chunk.
    pub fn finish(self) -> Result<Vec<u8>, ChunkError> {
        if self.count == 0 {
            return Err(ChunkError::Empty);
        }
        let header = ChunkHeader {
            session: self.session,
            seq: self.seq,
            t_start: self.t_start,
            t_end: self.t_end,
            event_count: self.count,
            stats: self.stats,
        };
        let mut header_bytes = Vec::with_capacity(128);
        crate::msgpack::write_header(&mut header_bytes, &header);
        // The body's outer array, as rmp-serde writes a `Vec`.
        let mut array = Vec::with_capacity(5);
        crate::msgpack::array_header(&mut array, self.count as usize);
        let mut out =
            Vec::with_capacity(PRELUDE + header_bytes.len() + self.body.len() + self.raw.len() / 3);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&(header_bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&header_bytes);
        match self.frame {
            None => {
                // A small chunk: one frame.
                array.extend_from_slice(&self.raw);
                out.extend_from_slice(&crate::zstd::compress(&array));
            }
            Some(mut frame) => {
                let mut body = self.body;
                for block in self.raw.chunks(FRAME_BYTES) {
                    frame.block(block, &mut body);
                }
                frame.finish(&mut body);
                out.extend_from_slice(&crate::zstd::compress(&array));
                out.extend_from_slice(&body);
            }
        }
        Ok(out)
    }
}

/// Reads a chunk's header without touching its body; returns the header and
/// the compressed body.
pub fn decode_header<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<(ChunkHeader, &'a [u8]), ChunkError> {
    if bytes.len() < 4 {
        return Err(ChunkError::Truncated);
    }
    if &bytes[..4] != MAGIC {
        return Err(ChunkError::BadMagic);
    }
    let version = *bytes.get(4).ok_or(ChunkError::Truncated)?;
    if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(ChunkError::UnsupportedVersion(version));
    }
    let len_bytes: [u8; 4] = bytes
        .get(5..9)
        .ok_or(ChunkError::Truncated)?
        .try_into()
        .map_err(|_| ChunkError::Truncated)?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len > limits.max_header {
        return Err(ChunkError::HeaderTooLarge(len, limits.max_header));
    }
    let end = PRELUDE.checked_add(len).ok_or(ChunkError::Truncated)?;
    let header_bytes = bytes.get(PRELUDE..end).ok_or(ChunkError::Truncated)?;
    let header = crate::msgpack_read::Reader::new(header_bytes)
        .header()
        .map_err(|e| ChunkError::BadHeader(e.to_string()))?;
    if header.event_count as usize > limits.max_events {
        return Err(ChunkError::TooManyEvents(
            header.event_count as usize,
            limits.max_events,
        ));
    }
    if header.t_start > header.t_end {
        return Err(ChunkError::BadHeader("t_start is after t_end".into()));
    }
    Ok((header, &bytes[end..]))
}

/// Decompresses a chunk body, refusing to produce more than
/// `limits.max_decompressed` bytes.
pub fn decompress_body(mut body: &[u8], limits: &Limits) -> Result<Vec<u8>, ChunkError> {
    let mut out = Vec::new();
    loop {
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut body)
            .map_err(|e| ChunkError::BadBody(e.to_string()))?;
        // The limit is on the whole body, across its frames.
        let room = (limits.max_decompressed - out.len()) as u64 + 1;
        decoder
            .take(room)
            .read_to_end(&mut out)
            .map_err(|e| ChunkError::BadBody(e.to_string()))?;
        if out.len() > limits.max_decompressed {
            return Err(ChunkError::BodyTooLarge(limits.max_decompressed));
        }
        if body.is_empty() {
            return Ok(out);
        }
        if !body.starts_with(&ZSTD_MAGIC) {
            return Err(ChunkError::TrailingBytes);
        }
    }
}

/// The first bytes of every zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Decodes a whole chunk: header, body, events, and their agreement.
pub fn decode_chunk(bytes: &[u8], limits: &Limits) -> Result<Chunk, ChunkError> {
    let (header, body) = decode_header(bytes, limits)?;
    let raw = decompress_body(body, limits)?;
    let bad = |e: crate::msgpack_read::ReadError| ChunkError::BadBody(e.to_string());
    let mut r = crate::msgpack_read::Reader::new(&raw);
    // The count is checked before any event is decoded.
    let n = r.array().map_err(bad)?;
    if n > limits.max_events {
        return Err(ChunkError::TooManyEvents(n, limits.max_events));
    }
    if n != header.event_count as usize {
        return Err(ChunkError::EventCountMismatch {
            header: header.event_count,
            body: n,
        });
    }
    // decode_header checked the version byte.
    let relative = bytes.get(4).is_some_and(|&v| v >= 2);
    let mut events = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let mut e = r.event().map_err(bad)?;
        if relative {
            crate::node::each_node_list(&mut e.data, crate::node::ids_from_wire);
        }
        events.push(e);
    }
    if !r.at_end() {
        return Err(ChunkError::BadBody(format!(
            "{} bytes after the events",
            raw.len() - r.position()
        )));
    }
    Ok(Chunk { header, events })
}
