//! The chunk: the unit the recorder sends and the server stores.
//!
//! ```text
//! "REEL"  u8 version  u32-LE header length  header (MessagePack)  body (zstd)
//! ```
//!
//! The header is small and uncompressed so the server can validate and index
//! a chunk without decompressing it. The body is one zstd frame holding the
//! MessagePack-encoded `Vec<Event>`.
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
pub const FORMAT_VERSION: u8 = 1;
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
        for e in events {
            match &e.data {
                EventData::Meta(m) => {
                    s.urls.push(m.href.clone());
                    s.user_agent = Some(m.user_agent.clone());
                }
                EventData::Mouse(m) if m.kind == MouseKind::Click => s.clicks += 1,
                EventData::Identify(i) => s.user_id = Some(i.user_id.clone()),
                EventData::PageError(_) => s.errors += 1,
                EventData::Console(c) if c.level == ConsoleLevel::Error => s.errors += 1,
                _ => {}
            }
        }
        s
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
    #[error("unsupported chunk format version {0} (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("chunk header is {0} bytes, over the limit of {1}")]
    HeaderTooLarge(usize, usize),
    #[error("bad chunk header: {0}")]
    BadHeader(String),
    #[error("bad chunk body: {0}")]
    BadBody(String),
    #[error("chunk body decompresses to more than {0} bytes")]
    BodyTooLarge(usize),
    #[error("chunk body has bytes after its zstd frame")]
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
    if events.is_empty() {
        return Err(ChunkError::Empty);
    }
    let header = ChunkHeader {
        session,
        seq,
        t_start: events.iter().map(|e| e.t).min().unwrap_or(0),
        t_end: events.iter().map(|e| e.t).max().unwrap_or(0),
        event_count: u32::try_from(events.len()).map_err(|e| ChunkError::Encode(e.to_string()))?,
        stats: ChunkStats::from_events(events),
    };
    let header_bytes = rmp_serde::to_vec(&header).map_err(|e| ChunkError::Encode(e.to_string()))?;
    let body = rmp_serde::to_vec(events).map_err(|e| ChunkError::Encode(e.to_string()))?;
    // Fastest is the level ruzstd's encoder implements fully; it is also
    // what a recorder on the page's main thread can afford.
    let compressed =
        ruzstd::encoding::compress_to_vec(&body[..], ruzstd::encoding::CompressionLevel::Fastest);
    let mut out = Vec::with_capacity(PRELUDE + header_bytes.len() + compressed.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&(header_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(&compressed);
    Ok(out)
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
    if version != FORMAT_VERSION {
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
    let header: ChunkHeader =
        rmp_serde::from_slice(header_bytes).map_err(|e| ChunkError::BadHeader(e.to_string()))?;
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
    let decoder = ruzstd::decoding::StreamingDecoder::new(&mut body)
        .map_err(|e| ChunkError::BadBody(e.to_string()))?;
    let mut out = Vec::new();
    decoder
        .take(limits.max_decompressed as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ChunkError::BadBody(e.to_string()))?;
    if out.len() > limits.max_decompressed {
        return Err(ChunkError::BodyTooLarge(limits.max_decompressed));
    }
    if !body.is_empty() {
        return Err(ChunkError::TrailingBytes);
    }
    Ok(out)
}

/// Decodes a whole chunk: header, body, events, and their agreement.
pub fn decode_chunk(bytes: &[u8], limits: &Limits) -> Result<Chunk, ChunkError> {
    let (header, body) = decode_header(bytes, limits)?;
    let raw = decompress_body(body, limits)?;
    let events: Vec<Event> =
        rmp_serde::from_slice(&raw).map_err(|e| ChunkError::BadBody(e.to_string()))?;
    if events.len() > limits.max_events {
        return Err(ChunkError::TooManyEvents(events.len(), limits.max_events));
    }
    if events.len() != header.event_count as usize {
        return Err(ChunkError::EventCountMismatch {
            header: header.event_count,
            body: events.len(),
        });
    }
    Ok(Chunk { header, events })
}
