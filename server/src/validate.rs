//! Ingest-time validation of a chunk, cheaper than decoding it.
//!
//! What a stored chunk is guaranteed to be (the invariant the read path
//! relies on):
//!
//! - a valid header (magic, version, bounded size, `t_start <= t_end`,
//!   `1 <= event_count <= max_events`), decoded with `reel_shared`;
//! - followed by zstd frames (one or more, each starting with the zstd
//!   magic: a *skippable* frame, which libzstd would skip, is refused,
//!   since the shared decoder that serves chunks does not skip it), whose
//!   window and output are both bounded by `max_decompressed` *while* they
//!   are inflated: a zstd bomb is cut off at the limit, never inflated
//!   whole;
//! - which inflate to well-formed MessagePack: one array of exactly
//!   `event_count` elements, each itself an array whose first element is an
//!   unsigned integer (an event's `t`) and whose second is a one-entry map
//!   keyed by a string (the event's kind, as the recorder writes it),
//!   every string valid UTF-8, and no byte after the array;
//! - whose header agrees with the events (see [`check_events`]): the time
//!   range, the clicks, the errors, the pages' URLs, the user agent and the
//!   user id that the index shows are those of the body, not the client's
//!   say-so.
//!
//! [`check_chunk`] adds what ingest and `import` check beyond the chunk
//! itself (one function, so the two cannot drift apart): the URL's or the
//! archive's session and seq, the body's size, and times the index can
//! show (not past 9999, not far ahead of the server's clock, not spanning
//! more than a session may). [`check_session`] checks a chunk against what
//! its session already holds (bytes, time span, seq growth).
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

use crate::digest::{ChunkFacts, Fact};
use crate::index::{SessionMeta, MAX_TIME_MS};
use reel_shared::{decode_header, limits, ChunkError, ChunkHeader, Limits, SessionId, SignalKind};
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
    /// Bytes one session may store in all (its chunks as sent): 413 above,
    /// since retrying will not make the chunk fit. 512 MiB by default: the
    /// recorder ends a session after 4 hours (`maxSessionMs`), and four
    /// hours of a heavy page (a big DOM rewritten often, canvas frames) is
    /// a few hundred MB compressed at most, while one client posting 8 MiB
    /// chunks into one session without end stops here.
    pub max_session_bytes: u64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_body: 8 * 1024 * 1024,
            max_decompressed: 32 * 1024 * 1024,
            max_events: 100_000,
            max_session_bytes: 512 << 20,
        }
    }
}

/// Far above any real session (a chunk every second for four months), low
/// enough that a garbage seq is caught as such.
pub const MAX_SEQ: u32 = 10_000_000;

/// How far a chunk's seq may run past the highest seq its session holds.
/// A recorder numbers its chunks one by one; gaps come only from chunks it
/// dropped, far fewer than this. Without a bound, a key holder could push
/// a known session's seq anywhere.
pub const MAX_SEQ_JUMP: u32 = 10_000;

/// How far a session's events may span, first to last: the recorder's
/// `maxSessionMs` (4 h by default) with a wide margin for an embedder
/// that raised it and for clock corrections. A chunk outside it is
/// refused, so a known session cannot be stretched over years.
pub const MAX_SPAN_MS: u64 = 48 * 3600 * 1000;

/// How far ahead of the server's clock a chunk's times may be. A page's
/// clock may be wrong, but not by days; without this bound a session
/// dated in the future would stay at the top of the newest-first list.
pub const MAX_FUTURE_MS: u64 = 24 * 3600 * 1000;

/// A refusal of [`check_chunk`] or [`check_session`]: the HTTP status it
/// maps to is [`Refusal::too_large`]'s.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("bad chunk: {0}")]
    Chunk(#[from] ChunkError),
    /// 400: the chunk is well-formed but not acceptable.
    #[error("{0}")]
    Bad(String),
    /// 413: over a size limit.
    #[error("{0}")]
    TooLarge(String),
}

impl Refusal {
    /// Whether this is a size limit (413) rather than a bad request (400).
    pub fn too_large(&self) -> bool {
        match self {
            Refusal::Chunk(e) => matches!(
                e,
                ChunkError::BodyTooLarge(_) | ChunkError::TooManyEvents(..)
            ),
            Refusal::Bad(_) => false,
            Refusal::TooLarge(_) => true,
        }
    }
}

/// Everything ingest and `import` check about one chunk on its own, posted
/// as chunk `seq` of session `id`, at `now_ms` on the server's clock.
/// Returns its header. The cheap checks (size, seq, the header) come
/// before the body is inflated.
pub fn check_chunk(
    bytes: &[u8],
    id: &SessionId,
    seq: u32,
    limits: &IngestLimits,
    now_ms: u64,
) -> Result<ChunkHeader, Refusal> {
    checked(bytes, id, seq, limits, now_ms, false).map(|(h, _)| h)
}

/// [`check_chunk`], and the chunk's insights facts ([`ChunkFacts`]),
/// read in the same walk over its events: what ingest stores with it.
pub fn check_chunk_facts(
    bytes: &[u8],
    id: &SessionId,
    seq: u32,
    limits: &IngestLimits,
    now_ms: u64,
) -> Result<(ChunkHeader, ChunkFacts), Refusal> {
    checked(bytes, id, seq, limits, now_ms, true).map(|(h, f)| (h, f.unwrap_or_default()))
}

fn checked(
    bytes: &[u8],
    id: &SessionId,
    seq: u32,
    limits: &IngestLimits,
    now_ms: u64,
    facts: bool,
) -> Result<(ChunkHeader, Option<ChunkFacts>), Refusal> {
    if bytes.len() > limits.max_body {
        return Err(Refusal::TooLarge(format!(
            "the chunk is {} bytes, over the limit of {}",
            bytes.len(),
            limits.max_body
        )));
    }
    if seq >= MAX_SEQ {
        return Err(Refusal::Bad(format!(
            "the sequence number must be an integer from 0 to {}",
            MAX_SEQ - 1
        )));
    }
    let (header, body) = decode_header(bytes, &limits.chunk_limits())?;
    if header.session != *id {
        return Err(Refusal::Bad(
            "the chunk's session id differs from the URL's (the archive's, on import)".into(),
        ));
    }
    if header.seq != seq {
        return Err(Refusal::Bad(
            "the chunk's seq differs from the URL's (the archive's, on import)".into(),
        ));
    }
    if header.t_end > MAX_TIME_MS {
        return Err(Refusal::Bad(
            "the chunk's timestamps are past the year 9999".into(),
        ));
    }
    if header.t_end > now_ms.saturating_add(MAX_FUTURE_MS) {
        return Err(Refusal::Bad(format!(
            "the chunk's timestamps are more than {} hours ahead of the server's clock",
            MAX_FUTURE_MS / 3_600_000
        )));
    }
    if header.t_end - header.t_start > MAX_SPAN_MS {
        return Err(Refusal::Bad(format!(
            "the chunk's events span more than the {} hours a session may",
            MAX_SPAN_MS / 3_600_000
        )));
    }
    let facts = validate_body(&header, body, limits, facts)?;
    Ok((header, facts))
}

/// Checks a chunk of `len` bytes, already through [`check_chunk`], against
/// what its session holds (`None`: a new session). Concurrent chunks of
/// one session are checked against the same metadata, so a cap may be
/// overshot by the chunks in flight at once, never more.
pub fn check_session(
    h: &ChunkHeader,
    len: u64,
    meta: Option<&SessionMeta>,
    limits: &IngestLimits,
) -> Result<(), Refusal> {
    let Some(m) = meta else {
        return Ok(());
    };
    if m.bytes.saturating_add(len) > limits.max_session_bytes {
        return Err(Refusal::TooLarge(format!(
            "the session holds {} bytes; this chunk would take it over the limit of {} bytes per session",
            m.bytes, limits.max_session_bytes
        )));
    }
    let start = m.started_at.min(h.t_start);
    let end = m.ended_at.max(h.t_end);
    if end.saturating_sub(start) > MAX_SPAN_MS {
        return Err(Refusal::Bad(format!(
            "the chunk's timestamps are more than {} hours from the rest of its session's",
            MAX_SPAN_MS / 3_600_000
        )));
    }
    // Metadata written before `max_seq` existed has 0 there; a session of
    // n chunks has seen a seq of n - 1 at least.
    let at_least = u32::try_from(m.chunks.saturating_sub(1)).unwrap_or(u32::MAX);
    let highest = m.max_seq.max(at_least);
    if h.seq > highest.saturating_add(MAX_SEQ_JUMP) {
        return Err(Refusal::Bad(format!(
            "the chunk's seq is more than {MAX_SEQ_JUMP} past the highest its session holds ({highest})"
        )));
    }
    Ok(())
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
/// (The chunk alone: [`check_chunk`] is what ingest and import run.)
pub fn validate_chunk(bytes: &[u8], limits: &IngestLimits) -> Result<ChunkHeader, ChunkError> {
    let (header, body) = decode_header(bytes, &limits.chunk_limits())?;
    validate_body(&header, body, limits, false)?;
    Ok(header)
}

fn validate_body(
    header: &ChunkHeader,
    body: &[u8],
    limits: &IngestLimits,
    facts: bool,
) -> Result<Option<ChunkFacts>, ChunkError> {
    if header.event_count == 0 {
        return Err(ChunkError::Empty);
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { dctx, out } = scratch;
        let res = inflate_into(dctx, body, limits.max_decompressed, out)
            .and_then(|()| walk_events(out, header, facts));
        // A thread keeps what a typical chunk needs, not what a huge one took.
        if out.capacity() > KEEP_SCRATCH {
            *out = Vec::new();
        }
        res
    })
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
    // libzstd would skip a skippable frame; the shared decoder, which
    // serves the chunk to readers, refuses one. So every frame must be a
    // data frame, checked before libzstd sees it.
    if !body.starts_with(&reel_shared::chunk::ZSTD_MAGIC) {
        return Err(not_a_data_frame(body));
    }
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
            if rest.is_empty() {
                break;
            }
            if !rest.starts_with(&reel_shared::chunk::ZSTD_MAGIC) {
                return Err(not_a_data_frame(rest));
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

/// What follows a zstd frame (or starts a body) that is not a data frame.
fn not_a_data_frame(rest: &[u8]) -> ChunkError {
    let magic = rest
        .get(..4)
        .and_then(|m| <[u8; 4]>::try_from(m).ok())
        .map(u32::from_le_bytes);
    match magic {
        // 0x184D2A50 to 0x184D2A5F: skippable frames.
        Some(m) if m & 0xffff_fff0 == 0x184d_2a50 => ChunkError::BadBody(
            "a zstd skippable frame (readers of the chunk would not skip it)".into(),
        ),
        _ if rest.len() < 4
            && reel_shared::chunk::ZSTD_MAGIC.starts_with(rest)
            && !rest.is_empty() =>
        {
            ChunkError::BadBody("the zstd frame is truncated".into())
        }
        _ => ChunkError::TrailingBytes,
    }
}

/// What the events of a chunk add up to, for [`check_events`] to compare
/// with the header.
struct Seen<'a> {
    t_min: u64,
    t_max: u64,
    clicks: u32,
    errors: u32,
    /// Meta events so far (each one's URL is compared as it comes).
    urls: usize,
    user_agent: Option<&'a [u8]>,
    user_id: Option<&'a [u8]>,
    /// The current event's time, and the insights facts when collected.
    t: u64,
    facts: Option<ChunkFacts>,
}

/// A string the walk has checked to be UTF-8, owned.
fn owned(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Checks that `raw` is one MessagePack array of the header's
/// `event_count` events, each an array of an unsigned integer (its time)
/// and its data (a one-entry map keyed by its kind's name), and nothing
/// after it; and that the header's time range and stats are those of the
/// events (as [`reel_shared::ChunkStats::from_events`] counts them), since
/// the session index is built from headers alone.
///
/// The stats come out of the same walk, at the cost of a look at each
/// event's kind: only the kinds that count (`Meta`, `Mouse`, `Console`,
/// `PageError`, `Identify`) are read further, each in the one shape the
/// recorder writes; any other shape of those is refused, since the stats
/// of a shape this walk cannot read could not be checked.
///
/// Cost: ~3% of the walk and ~1.5% of `validate_chunk` on the load
/// benchmark's chunks (walk 93 -> 96 µs, validate 217 -> 220 µs per
/// 20 KB chunk, best of eight alternating runs of `reel-load
/// --validate-only`).
pub fn check_events(raw: &[u8], header: &ChunkHeader) -> Result<(), ChunkError> {
    walk_events(raw, header, false).map(drop)
}

/// [`check_events`], collecting the insights facts on the way when
/// `facts` (see [`crate::digest`]): only the kinds insights read (page
/// loads, clicks, scroll depths, signals, custom events) are read further,
/// in the shapes the recorder writes; a shape this walk does not expect
/// for `Scroll` or `Custom` is skipped as before, never refused.
fn walk_events(
    raw: &[u8],
    header: &ChunkHeader,
    facts: bool,
) -> Result<Option<ChunkFacts>, ChunkError> {
    let count = header.event_count;
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
    let mut seen = Seen {
        t_min: u64::MAX,
        t_max: 0,
        clicks: 0,
        errors: 0,
        urls: 0,
        user_agent: None,
        user_id: None,
        t: 0,
        facts: facts.then(ChunkFacts::default),
    };
    let urls = &header.stats.urls;
    for _ in 0..n {
        let fields = match r.container()? {
            Some((Kind::Array, f)) if f >= 2 => f,
            _ => return Err(structure("an event is not an array of its fields")),
        };
        let Some(t) = r.uint()? else {
            return Err(structure("an event's time is not an unsigned integer"));
        };
        seen.t_min = seen.t_min.min(t);
        seen.t_max = seen.t_max.max(t);
        seen.t = t;
        let rest = r.event_data(&mut seen, urls)?;
        r.skip(fields - 2 + rest)?;
    }
    if r.pos != raw.len() {
        return Err(ChunkError::TrailingBytes);
    }
    let differs =
        |what: &str| ChunkError::BadHeader(format!("the header's {what} differs from the events'"));
    if seen.t_min != header.t_start || seen.t_max != header.t_end {
        return Err(differs("time range"));
    }
    if seen.clicks != header.stats.clicks {
        return Err(differs("click count"));
    }
    if seen.errors != header.stats.errors {
        return Err(differs("error count"));
    }
    if seen.urls != urls.len() {
        return Err(differs("list of URLs"));
    }
    if seen.user_agent != header.stats.user_agent.as_deref().map(str::as_bytes) {
        return Err(differs("user agent"));
    }
    if seen.user_id != header.stats.user_id.as_deref().map(str::as_bytes) {
        return Err(differs("user id"));
    }
    Ok(seen.facts)
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

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], ChunkError> {
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

    /// Consumes an unsigned integer and returns it; `None` (and nothing
    /// consumed) when the next value is something else.
    fn uint(&mut self) -> Result<Option<u64>, ChunkError> {
        let m = *self.b.get(self.pos).ok_or_else(truncated)?;
        let len = match m {
            0x00..=0x7f => {
                self.pos += 1;
                return Ok(Some(u64::from(m)));
            }
            0xcc => 1,
            0xcd => 2,
            0xce => 4,
            0xcf => 8,
            _ => return Ok(None),
        };
        self.pos += 1;
        self.be(len).map(Some)
    }

    /// Consumes a string (any width), checked to be UTF-8.
    fn str(&mut self) -> Result<&'a [u8], ChunkError> {
        let m = *self.b.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        let len = match m {
            0xa0..=0xbf => u64::from(m & 0x1f),
            0xd9 => self.be(1)?,
            0xda => self.be(2)?,
            0xdb => self.be(4)?,
            _ => return Err(structure("a field the index reads is not a string")),
        };
        let s = self.take(len)?;
        if !is_ascii(s) && std::str::from_utf8(s).is_err() {
            return Err(ChunkError::BadBody("a string is not UTF-8".into()));
        }
        Ok(s)
    }

    /// Consumes an event's data as far as the stats need, adding to
    /// `seen`; returns how many values of it are left to skip (1 when only
    /// its kind was read, 0 when it was read whole or skipped here).
    ///
    /// Every kind is written as a fixmap of one entry keyed by a fixstr
    /// (names are short); the kinds that count are fixarrays of their
    /// fields, the field the stats need first or last. The kinds added for
    /// support (`Network`, `Key`, and the label and selector of `Mouse` and
    /// `Input`) and for insights (`Signal`, the referrer and visitor id of
    /// `Meta`, the box position of `Mouse`) are read whole, each string and
    /// list checked against [`reel_shared::limits`], since the recorder is
    /// not trusted to cut.
    #[inline]
    fn event_data(&mut self, seen: &mut Seen<'a>, urls: &[String]) -> Result<u64, ChunkError> {
        let b = self.b;
        let p = self.pos;
        let (Some(&0x81), Some(&k)) = (b.get(p), b.get(p + 1)) else {
            return Err(structure("an event's data is not a one-entry map"));
        };
        if !(0xa0..0xc0).contains(&k) {
            return Err(structure("an event's kind is not a short string"));
        }
        let end = p + 2 + usize::from(k & 0x1f);
        let name = b.get(p + 2..end).ok_or_else(truncated)?;
        self.pos = end;
        let fields = |r: &mut Self, n: u8, kind: &str| -> Result<(), ChunkError> {
            if b.get(r.pos) != Some(&(0x90 | n)) {
                return Err(ChunkError::BadBody(format!(
                    "not a list of events: a {kind} event is not written as the recorder writes it"
                )));
            }
            r.pos += 1;
            Ok(())
        };
        // Kinds that gained appended fields: any of their shapes (older
        // recorders still send the shorter ones); the field count read.
        let fields_any = |r: &mut Self, n: &[u8], kind: &str| -> Result<u8, ChunkError> {
            match b.get(r.pos) {
                Some(&m) if n.iter().any(|&k| m == 0x90 | k) => {
                    r.pos += 1;
                    Ok(m & 0x0f)
                }
                _ => fields(r, n[0], kind).map(|()| n[0]),
            }
        };
        match name {
            b"Mouse" => {
                let n = fields_any(self, &[4, 6, 8], "Mouse")?;
                let click = self.str()? == b"Click";
                if click {
                    seen.clicks = seen.clicks.saturating_add(1);
                }
                // id, x, y
                self.skip(1)?;
                let (x, y) = (self.lenient_int()?, self.lenient_int()?);
                let (label, selector) = if n >= 6 {
                    self.label_and_selector()?
                } else {
                    (None, None)
                };
                let (box_x, box_y) = if n == 8 {
                    (self.opt_uint()?, self.opt_uint()?)
                } else {
                    (None, None)
                };
                if let (true, Some(f)) = (click, seen.facts.as_mut()) {
                    let pos = |v: i64| i32::try_from(v).unwrap_or(0);
                    let thousandths = |v: Option<u64>| v.map(|v| v.min(1000) as u16);
                    f.items.push((
                        seen.t,
                        Fact::Click {
                            x: pos(x),
                            y: pos(y),
                            box_x: thousandths(box_x),
                            box_y: thousandths(box_y),
                            label: label.map(owned),
                            selector: selector.map(owned),
                        },
                    ));
                }
            }
            b"Input" => {
                if fields_any(self, &[3, 5], "Input")? == 5 {
                    self.skip(3)?;
                    self.label_and_selector()?;
                } else {
                    self.skip(3)?;
                }
            }
            b"Signal" => {
                fields(self, 8, "Signal")?;
                let kind = self.bounded("signal kind", 16)?;
                let since = self.lenient_uint()?;
                // id, x, y, count
                self.skip(4)?;
                let (label, selector) = self.label_and_selector()?;
                let kind = match kind {
                    b"RageClick" => Some(SignalKind::RageClick),
                    b"DeadClick" => Some(SignalKind::DeadClick),
                    b"ErrorClick" => Some(SignalKind::ErrorClick),
                    b"ThrashedCursor" => Some(SignalKind::ThrashedCursor),
                    b"UTurn" => Some(SignalKind::UTurn),
                    _ => None,
                };
                if let (Some(kind), Some(f)) = (kind, seen.facts.as_mut()) {
                    f.items.push((
                        seen.t,
                        Fact::Signal {
                            kind,
                            since: since.unwrap_or(0),
                            label: label.map(owned),
                            selector: selector.map(owned),
                        },
                    ));
                }
            }
            b"Scroll" if seen.facts.is_some() => {
                // id, x, y, depth: only the recorder's shape with a depth.
                if b.get(self.pos) != Some(&0x94) {
                    return Ok(1);
                }
                self.pos += 1;
                self.skip(3)?;
                if let (Some(d), Some(f)) = (self.lenient_uint()?, seen.facts.as_mut()) {
                    let depth = u16::try_from(d).unwrap_or(u16::MAX);
                    f.items.push((seen.t, Fact::Scroll { depth }));
                }
            }
            b"Custom" if seen.facts.is_some() => {
                // name, data
                let str_next = matches!(b.get(self.pos + 1), Some(0xa0..=0xbf | 0xd9..=0xdb));
                if b.get(self.pos) != Some(&0x92) || !str_next {
                    return Ok(1);
                }
                self.pos += 1;
                let name = owned(self.str()?);
                self.skip(1)?;
                if let Some(f) = seen.facts.as_mut() {
                    f.items.push((seen.t, Fact::Custom { name }));
                }
            }
            b"Key" => {
                fields(self, 4, "Key")?;
                self.skip(1)?;
                self.bounded("key", limits::MAX_KEY)?;
                self.label_and_selector()?;
            }
            b"Network" => {
                fields(self, 12, "Network")?;
                self.network()?;
            }
            b"Meta" => {
                let n = fields_any(self, &[5, 8], "Meta")?;
                let href = self.str()?;
                match urls.get(seen.urls) {
                    Some(u) if u.as_bytes() == href => seen.urls += 1,
                    _ => {
                        return Err(ChunkError::BadHeader(
                            "the header's list of URLs differs from the events'".into(),
                        ))
                    }
                }
                self.skip(3)?;
                let user_agent = self.str()?;
                seen.user_agent = Some(user_agent);
                let (referrer, visitor_id, new_visitor) = if n == 8 {
                    (
                        self.opt_bounded("referrer", limits::MAX_URL)?,
                        self.opt_bounded("visitor id", limits::MAX_VISITOR_ID)?,
                        self.lenient_bool()?,
                    )
                } else {
                    (None, None, None)
                };
                if let Some(f) = seen.facts.as_mut() {
                    f.items.push((
                        seen.t,
                        Fact::Page {
                            href: owned(href),
                            user_agent: owned(user_agent),
                            referrer: referrer.map(owned),
                            visitor_id: visitor_id.map(owned),
                            new_visitor,
                        },
                    ));
                }
            }
            b"Console" => {
                fields(self, 2, "Console")?;
                if self.str()? == b"Error" {
                    seen.errors = seen.errors.saturating_add(1);
                }
                self.skip(1)?;
            }
            b"PageError" => {
                seen.errors = seen.errors.saturating_add(1);
                return Ok(1);
            }
            b"Identify" => {
                fields(self, 2, "Identify")?;
                seen.user_id = Some(self.str()?);
                self.skip(1)?;
            }
            _ => {
                if !is_ascii(name) && std::str::from_utf8(name).is_err() {
                    return Err(ChunkError::BadBody("a string is not UTF-8".into()));
                }
                return Ok(1);
            }
        }
        Ok(0)
    }

    /// Consumes a string of at most `max` bytes.
    fn bounded(&mut self, what: &str, max: usize) -> Result<&'a [u8], ChunkError> {
        let s = self.str()?;
        if s.len() > max {
            return Err(ChunkError::BadBody(format!(
                "a {what} is longer than {max} bytes"
            )));
        }
        Ok(s)
    }

    /// Consumes nil or a string of at most `max` bytes.
    fn opt_bounded(&mut self, what: &str, max: usize) -> Result<Option<&'a [u8]>, ChunkError> {
        if self.b.get(self.pos) == Some(&0xc0) {
            self.pos += 1;
            return Ok(None);
        }
        self.bounded(what, max).map(Some)
    }

    /// Consumes nil or an unsigned integer.
    fn opt_uint(&mut self) -> Result<Option<u64>, ChunkError> {
        if self.b.get(self.pos) == Some(&0xc0) {
            self.pos += 1;
            return Ok(None);
        }
        match self.uint()? {
            Some(v) => Ok(Some(v)),
            None => Err(structure("a size is not an unsigned integer")),
        }
    }

    /// Consumes one value: an unsigned integer's value, `None` for
    /// anything else (which this walk never refused, so does not now).
    fn lenient_uint(&mut self) -> Result<Option<u64>, ChunkError> {
        match self.uint()? {
            Some(v) => Ok(Some(v)),
            None => self.skip(1).map(|()| None),
        }
    }

    /// Consumes one value: an integer's value (0 for anything else).
    fn lenient_int(&mut self) -> Result<i64, ChunkError> {
        let m = *self.b.get(self.pos).ok_or_else(truncated)?;
        let len = match m {
            0xe0..=0xff => {
                self.pos += 1;
                return Ok(i64::from(m as i8));
            }
            0xd0 => 1,
            0xd1 => 2,
            0xd2 => 4,
            0xd3 => 8,
            _ => {
                return match self.uint()? {
                    Some(v) => Ok(i64::try_from(v).unwrap_or(0)),
                    None => self.skip(1).map(|()| 0),
                }
            }
        };
        self.pos += 1;
        let v = self.be(len)?;
        // Sign-extended from its width.
        let shift = 64 - 8 * len as u32;
        Ok(((v << shift) as i64) >> shift)
    }

    /// Consumes one value: a boolean's value, `None` for anything else.
    fn lenient_bool(&mut self) -> Result<Option<bool>, ChunkError> {
        match self.b.get(self.pos) {
            Some(&0xc2) => {
                self.pos += 1;
                Ok(Some(false))
            }
            Some(&0xc3) => {
                self.pos += 1;
                Ok(Some(true))
            }
            _ => self.skip(1).map(|()| None),
        }
    }

    /// An element's label and selector, each nil or a bounded string.
    #[allow(clippy::type_complexity)]
    fn label_and_selector(&mut self) -> Result<(Option<&'a [u8]>, Option<&'a [u8]>), ChunkError> {
        Ok((
            self.opt_bounded("label", limits::MAX_LABEL)?,
            self.opt_bounded("selector", limits::MAX_SELECTOR)?,
        ))
    }

    /// The fields of a `Network` event after its array marker, every
    /// string and list bounded (see [`reel_shared::limits`]).
    fn network(&mut self) -> Result<(), ChunkError> {
        self.bounded("request kind", 16)?;
        self.bounded("method", limits::MAX_METHOD)?;
        self.bounded("URL", limits::MAX_URL)?;
        for _ in 0..2 {
            // status, duration_ms
            if self.uint()?.is_none() {
                return Err(structure("a request's status or duration is not a number"));
            }
        }
        self.opt_uint()?;
        self.opt_uint()?;
        self.opt_bounded("failure", limits::MAX_FAILURE)?;
        for _ in 0..2 {
            let n = match self.container()? {
                Some((Kind::Array, n)) => n,
                _ => return Err(structure("a header list is not an array")),
            };
            if n > limits::MAX_HEADERS as u64 {
                return Err(ChunkError::BadBody(format!(
                    "more than {} headers in a list",
                    limits::MAX_HEADERS
                )));
            }
            for _ in 0..n {
                if self.b.get(self.pos) != Some(&0x92) {
                    return Err(structure("a header is not a (name, value) pair"));
                }
                self.pos += 1;
                self.bounded("header", limits::MAX_HEADER)?;
                self.bounded("header", limits::MAX_HEADER)?;
            }
        }
        self.opt_bounded("body", limits::MAX_BODY)?;
        self.opt_bounded("body", limits::MAX_BODY).map(drop)
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

    /// The header the encoder would write for `ev`.
    fn header_of(ev: &[Event]) -> ChunkHeader {
        ChunkHeader {
            session: SessionId([1; 16]),
            seq: 0,
            t_start: ev.iter().map(|e| e.t).min().unwrap_or(0),
            t_end: ev.iter().map(|e| e.t).max().unwrap_or(0),
            event_count: ev.len() as u32,
            stats: reel_shared::ChunkStats::from_events(ev),
        }
    }

    /// A header of `count` events all at time `t`, with no stats.
    fn plain(count: u32, t: u64) -> ChunkHeader {
        ChunkHeader {
            session: SessionId([1; 16]),
            seq: 0,
            t_start: t,
            t_end: t,
            event_count: count,
            stats: Default::default(),
        }
    }

    #[test]
    fn real_chunks_pass() {
        let c = encode_chunk(SessionId([1; 16]), 3, &events(40)).unwrap();
        let h = validate_chunk(&c, &IngestLimits::default()).unwrap();
        assert_eq!((h.seq, h.event_count), (3, 40));
    }

    /// `chunk` with its header changed by `f` (the body untouched).
    pub(crate) fn with_header(chunk: &[u8], f: impl FnOnce(&mut ChunkHeader)) -> Vec<u8> {
        let (mut h, body) = decode_header(chunk, &Limits::default()).unwrap();
        f(&mut h);
        let hb = rmp_serde::to_vec(&h).unwrap();
        let mut out = chunk[..5].to_vec();
        out.extend_from_slice(&(hb.len() as u32).to_le_bytes());
        out.extend_from_slice(&hb);
        out.extend_from_slice(body);
        out
    }

    /// `chunk` with `frame` inserted into its body at `at` bytes in.
    pub(crate) fn with_frame_at(chunk: &[u8], at: usize, frame: &[u8]) -> Vec<u8> {
        let (_, body) = decode_header(chunk, &Limits::default()).unwrap();
        let start = chunk.len() - body.len();
        let mut out = chunk[..start + at].to_vec();
        out.extend_from_slice(frame);
        out.extend_from_slice(&chunk[start + at..]);
        out
    }

    /// A chunk whose body is two zstd frames (the array header's, then the
    /// events', as the recorder writes a big chunk), and where the second
    /// starts in the body.
    pub(crate) fn two_frame_chunk(id: SessionId, t0: u64) -> (Vec<u8>, usize) {
        let mut enc = reel_shared::ChunkEncoder::new(id, 0);
        for i in 0..4000u64 {
            enc.push(&Event {
                t: t0 + i,
                data: EventData::Custom(Custom {
                    name: format!("{i:>40}"),
                    data: None,
                }),
            })
            .unwrap();
        }
        while enc.compress_some() {}
        let c = enc.finish().unwrap();
        let (_, body) = decode_header(&c, &Limits::default()).unwrap();
        let second = body[4..]
            .windows(4)
            .position(|w| w == reel_shared::chunk::ZSTD_MAGIC)
            .expect("a second frame")
            + 4;
        (c, second)
    }

    /// A skippable frame of 3 bytes (magic 0x184D2A53).
    pub(crate) const SKIPPABLE: [u8; 11] = [0x53, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];

    /// Events of every kind the stats count, and some they do not.
    pub(crate) fn rich_events(t0: u64) -> Vec<Event> {
        use reel_shared::*;
        let meta = |href: &str, ua: &str| {
            EventData::Meta(Meta {
                href: href.into(),
                title: "t".into(),
                width: 1,
                height: 2,
                user_agent: ua.into(),
                referrer: None,
                visitor_id: None,
                new_visitor: None,
            })
        };
        let mouse = |kind| {
            EventData::Mouse(MouseInteraction {
                kind,
                id: 1,
                x: 2,
                y: 3,
                label: None,
                selector: None,
                box_x: None,
                box_y: None,
            })
        };
        let console = |level| {
            EventData::Console(Console {
                level,
                text: "x".into(),
            })
        };
        let data = vec![
            meta("https://a.example/", "UA/1"),
            mouse(MouseKind::Click),
            mouse(MouseKind::Down),
            console(ConsoleLevel::Error),
            console(ConsoleLevel::Warn),
            EventData::PageError(PageError {
                kind: PageErrorKind::Uncaught,
                message: "boom".into(),
                source: None,
                stack: Some("s".into()),
            }),
            EventData::Identify(Identify {
                user_id: "u-1".into(),
                traits: None,
            }),
            EventData::Custom(Custom {
                name: "Meta".into(),
                data: None,
            }),
            meta("https://a.example/two", "UA/2"),
            mouse(MouseKind::Click),
            EventData::Identify(Identify {
                user_id: "u-2".into(),
                traits: Some("{}".into()),
            }),
        ];
        data.into_iter()
            .enumerate()
            .map(|(i, data)| Event {
                t: t0 + 7 * i as u64 % 40,
                data,
            })
            .collect()
    }

    #[test]
    fn header_stats_must_match_the_events() {
        let limits = IngestLimits::default();
        let c = encode_chunk(SessionId([1; 16]), 0, &rich_events(1_000)).unwrap();
        let h = validate_chunk(&c, &limits).unwrap();
        assert_eq!(
            (h.stats.clicks, h.stats.errors, h.stats.urls.len()),
            (2, 2, 2)
        );
        type Lie = fn(&mut ChunkHeader);
        let lies: [(&str, Lie); 12] = [
            ("time range", |h| h.t_start -= 1),
            ("time range", |h| h.t_end += 1),
            ("click count", |h| h.stats.clicks += 1),
            ("click count", |h| h.stats.clicks = 0),
            ("error count", |h| h.stats.errors = 1),
            ("list of URLs", |h| {
                h.stats.urls.pop().map(drop).unwrap_or(())
            }),
            ("list of URLs", |h| {
                h.stats.urls.push("https://b.example/".into())
            }),
            ("list of URLs", |h| h.stats.urls.swap(0, 1)),
            ("list of URLs", |h| {
                h.stats.urls[1] = "https://a.example/twO".into()
            }),
            ("user agent", |h| h.stats.user_agent = Some("UA/1".into())),
            ("user id", |h| h.stats.user_id = None),
            ("user id", |h| h.stats.user_id = Some("admin".into())),
        ];
        for (what, lie) in lies {
            let e = validate_chunk(&with_header(&c, lie), &limits).unwrap_err();
            assert!(
                matches!(&e, ChunkError::BadHeader(m) if m.contains(what)),
                "{what}: {e}"
            );
        }
        // Nothing counted, nothing claimed: fine.
        let plain_events = events(5);
        let c = encode_chunk(SessionId([1; 16]), 0, &plain_events).unwrap();
        assert!(validate_chunk(&c, &limits).is_ok());
        let e = validate_chunk(
            &with_header(&c, |h| h.stats.user_agent = Some("x".into())),
            &limits,
        );
        assert!(matches!(e, Err(ChunkError::BadHeader(_))), "{e:?}");
    }

    #[test]
    fn a_counted_kind_in_another_shape_is_refused() {
        // Mouse as a map of its fields, which serde would read but the walk
        // cannot count.
        let mut b = vec![0x91, 0x92, 0x05, 0x81, 0xa5];
        b.extend(b"Mouse");
        b.extend([0x81, 0xa4]);
        b.extend(b"kind");
        b.extend([0xa5]);
        b.extend(b"Click");
        let e = check_events(&b, &plain(1, 5)).unwrap_err();
        assert!(e.to_string().contains("as the recorder writes it"), "{e}");
        // A kind keyed by its index.
        assert!(check_events(&[0x91, 0x92, 0x05, 0x81, 0x04, 0x94, 0xa5], &plain(1, 5)).is_err());
    }

    /// The kinds added for support (requests, keys, labels) pass in both
    /// shapes, and each of their strings and lists is bounded.
    #[test]
    fn support_fields_are_bounded() {
        use reel_shared::*;
        let net = |f: &dyn Fn(&mut Network)| {
            let mut n = Network {
                kind: NetworkKind::Fetch,
                method: "POST".into(),
                url: "https://a.example/api?q=*".into(),
                status: 200,
                duration_ms: 12,
                request_bytes: Some(10),
                response_bytes: None,
                failure: None,
                request_headers: vec![("content-type".into(), "application/json".into())],
                response_headers: vec![],
                request_body: Some("{}".into()),
                response_body: None,
            };
            f(&mut n);
            EventData::Network(n)
        };
        let check = |data: EventData| {
            let ev = [Event { t: 1_000, data }];
            check_events(&body(&ev), &header_of(&ev))
        };
        let ok = [
            net(&|_| {}),
            net(&|n| {
                n.url = "u".repeat(limits::MAX_URL);
                n.request_headers = vec![("a".into(), "b".into()); limits::MAX_HEADERS];
                n.response_body = Some("b".repeat(limits::MAX_BODY));
                n.failure = Some("abort".into());
                n.status = 0;
                n.response_bytes = Some(u64::MAX);
            }),
            EventData::Key(Key {
                id: 4,
                key: "Enter".into(),
                label: Some("Send".into()),
                selector: Some("#send".into()),
            }),
            EventData::Mouse(MouseInteraction {
                kind: MouseKind::Click,
                id: 1,
                x: 2,
                y: 3,
                label: Some("l".repeat(limits::MAX_LABEL)),
                selector: None,
                box_x: None,
                box_y: None,
            }),
            EventData::Input(Input {
                id: 1,
                value: None,
                checked: Some(true),
                label: None,
                selector: Some("s".repeat(limits::MAX_SELECTOR)),
            }),
        ];
        for data in ok {
            assert_eq!(check(data.clone()), Ok(()), "{data:?}");
        }
        let too_big = [
            net(&|n| n.url = "u".repeat(limits::MAX_URL + 1)),
            net(&|n| n.method = "M".repeat(limits::MAX_METHOD + 1)),
            net(&|n| n.request_headers = vec![("a".into(), "b".into()); limits::MAX_HEADERS + 1]),
            net(&|n| n.response_headers = vec![("a".into(), "b".repeat(limits::MAX_HEADER + 1))]),
            net(&|n| n.request_body = Some("b".repeat(limits::MAX_BODY + 1))),
            net(&|n| n.response_body = Some("b".repeat(limits::MAX_BODY + 1))),
            net(&|n| n.failure = Some("f".repeat(limits::MAX_FAILURE + 1))),
            EventData::Key(Key {
                id: 4,
                key: "k".repeat(limits::MAX_KEY + 1),
                label: None,
                selector: None,
            }),
            EventData::Mouse(MouseInteraction {
                kind: MouseKind::Click,
                id: 1,
                x: 2,
                y: 3,
                label: Some("l".repeat(limits::MAX_LABEL + 1)),
                selector: None,
                box_x: None,
                box_y: None,
            }),
            EventData::Input(Input {
                id: 1,
                value: None,
                checked: None,
                label: None,
                selector: Some("s".repeat(limits::MAX_SELECTOR + 1)),
            }),
        ];
        for data in too_big {
            let e = check(data).unwrap_err();
            assert!(
                e.to_string().contains("longer than") || e.to_string().contains("more than"),
                "{e}"
            );
        }
        // A Mouse of four fields (recorders before labels) still counts.
        let mut b = vec![0x91, 0x92, 0x05, 0x81, 0xa5];
        b.extend(b"Mouse");
        b.extend([0x94, 0xa5]);
        b.extend(b"Click");
        b.extend([0x01, 0x02, 0x03]);
        let mut h = plain(1, 5);
        h.stats.clicks = 1;
        assert_eq!(check_events(&b, &h), Ok(()));
        // A Network whose status is a string is refused.
        let mut b = vec![0x91, 0x92, 0x05, 0x81, 0xa7];
        b.extend(b"Network");
        b.extend([0x9c, 0xa5]);
        b.extend(b"Fetch");
        b.extend([0xa3]);
        b.extend(b"GET");
        b.extend([0xa1, b'u', 0xa1, b'x']);
        b.extend([0x01, 0xc0, 0xc0, 0xc0, 0x90, 0x90, 0xc0, 0xc0]);
        assert!(check_events(&b, &plain(1, 5)).is_err());
    }

    /// libzstd skips skippable frames, the shared decoder (what serves the
    /// chunk) refuses them: ingest refuses them wherever they are.
    #[test]
    fn skippable_frames_are_refused_wherever_they_are() {
        let limits = IngestLimits::default();
        let (c, second) = two_frame_chunk(SessionId([1; 16]), 1_000);
        assert!(validate_chunk(&c, &limits).is_ok());
        assert!(reel_shared::decode_chunk(&c, &Limits::default()).is_ok());
        let (_, body) = decode_header(&c, &Limits::default()).unwrap();
        for at in [0, second, body.len()] {
            let bad = with_frame_at(&c, at, &SKIPPABLE);
            // The shared decoder refuses it...
            assert!(
                reel_shared::decode_chunk(&bad, &Limits::default()).is_err(),
                "at {at}"
            );
            // ...and so does ingest.
            let e = validate_chunk(&bad, &limits).unwrap_err();
            assert!(e.to_string().contains("skippable"), "at {at}: {e}");
        }
    }

    #[test]
    fn chunk_and_session_checks() {
        let limits = IngestLimits::default();
        let id = SessionId([1; 16]);
        let now = 1_800_000_000_000;
        let c = encode_chunk(id, 4, &events(3)).unwrap();
        assert!(check_chunk(&c, &id, 4, &limits, now).is_ok());
        let bad = |r: Result<ChunkHeader, Refusal>, what: &str| {
            let e = r.unwrap_err();
            assert!(!e.too_large(), "{e}");
            assert!(e.to_string().contains(what), "{what}: {e}");
        };
        bad(
            check_chunk(&c, &SessionId([2; 16]), 4, &limits, now),
            "session id differs",
        );
        bad(check_chunk(&c, &id, 5, &limits, now), "seq differs");
        let c_max = encode_chunk(id, u32::MAX, &events(3)).unwrap();
        bad(
            check_chunk(&c_max, &id, u32::MAX, &limits, now),
            "sequence number",
        );
        // Times: past 9999, a day ahead of the clock, a span of years.
        let at = |t0: u64, t1: u64| {
            let ev = [t0, t1].map(|t| Event {
                t,
                data: EventData::Custom(Custom {
                    name: "x".into(),
                    data: None,
                }),
            });
            encode_chunk(id, 4, &ev).unwrap()
        };
        bad(
            check_chunk(&at(1, MAX_TIME_MS + 1), &id, 4, &limits, u64::MAX),
            "9999",
        );
        bad(
            check_chunk(&at(now, now + MAX_FUTURE_MS + 1), &id, 4, &limits, now),
            "ahead",
        );
        assert!(check_chunk(&at(now, now + MAX_FUTURE_MS), &id, 4, &limits, now).is_ok());
        bad(
            check_chunk(&at(now - MAX_SPAN_MS - 1, now), &id, 4, &limits, now),
            "span",
        );
        // Size.
        let small = IngestLimits {
            max_body: c.len() - 1,
            ..limits
        };
        assert!(check_chunk(&c, &id, 4, &small, now)
            .unwrap_err()
            .too_large());

        // Against the session.
        let h = check_chunk(&c, &id, 4, &limits, now).unwrap();
        let meta = crate::index::merge(None, &h, 100, now);
        assert!(check_session(&h, 10, None, &limits).is_ok());
        assert!(check_session(&h, 10, Some(&meta), &limits).is_ok());
        let tight = IngestLimits {
            max_session_bytes: 150,
            ..limits
        };
        assert!(check_session(&h, 50, Some(&meta), &tight).is_ok());
        let e = check_session(&h, 51, Some(&meta), &tight).unwrap_err();
        assert!(
            e.too_large() && e.to_string().contains("per session"),
            "{e}"
        );
        let far = ChunkHeader {
            seq: 4 + MAX_SEQ_JUMP + 1,
            ..h.clone()
        };
        let e = check_session(&far, 1, Some(&meta), &limits).unwrap_err();
        assert!(!e.too_large() && e.to_string().contains("highest"), "{e}");
        let near = ChunkHeader {
            seq: 4 + MAX_SEQ_JUMP,
            ..h.clone()
        };
        assert!(check_session(&near, 1, Some(&meta), &limits).is_ok());
        let later = ChunkHeader {
            t_start: h.t_end + MAX_SPAN_MS,
            t_end: h.t_end + MAX_SPAN_MS,
            ..h.clone()
        };
        let e = check_session(&later, 1, Some(&meta), &limits).unwrap_err();
        assert!(
            e.to_string().contains("from the rest of its session"),
            "{e}"
        );
        let earlier = ChunkHeader {
            t_start: h.t_end - MAX_SPAN_MS - 1,
            t_end: h.t_end - MAX_SPAN_MS - 1,
            ..h.clone()
        };
        assert!(check_session(&earlier, 1, Some(&meta), &limits).is_err());
    }

    #[test]
    fn structure_is_checked() {
        let ev = events(3);
        let good = body(&ev);
        let h = header_of(&ev);
        assert!(check_events(&good, &h).is_ok());
        let two = ChunkHeader {
            event_count: 2,
            ..h.clone()
        };
        assert!(matches!(
            check_events(&good, &two),
            Err(ChunkError::EventCountMismatch { header: 2, body: 3 })
        ));
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert_eq!(check_events(&trailing, &h), Err(ChunkError::TrailingBytes));
        for cut in 0..good.len() {
            assert!(check_events(&good[..cut], &h).is_err(), "cut at {cut}");
        }
        // Not UTF-8 inside a string.
        let mut bad_utf8 = good.clone();
        let at = bad_utf8
            .windows(2)
            .position(|w| w == "é".as_bytes())
            .unwrap();
        bad_utf8[at] = 0xff;
        assert!(check_events(&bad_utf8, &h).is_err());
        // A top-level map, a bare integer, an event whose time is a string.
        let one = plain(1, 5);
        assert!(check_events(&[0x81, 0x01, 0x02], &one).is_err());
        assert!(check_events(&[0x05], &one).is_err());
        assert!(check_events(&[0x91, 0x92, 0xa1, b'x', 0xc0], &one).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0xc1], &one).is_err());
        // An event's data: a one-entry map keyed by a short string.
        assert!(check_events(&[0x91, 0x92, 0x05, 0xc0], &one).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0x81, 0x01, 0xc0], &one).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0x82, 0xa1, b'X', 0xc0], &one).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0x81, 0xa1, 0xff, 0xc0], &one).is_err());
        assert!(check_events(&[0x91, 0x92, 0x05, 0x81, 0xa1, b'X', 0xc0], &one).is_ok());
        // An array claiming four billion elements in a few bytes.
        let huge = [
            0x91, 0x92, 0x05, 0x81, 0xa1, b'X', 0xdd, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(check_events(&huge, &one).is_err());
        assert!(check_events(&[0xdd, 0xff, 0xff, 0xff, 0xff], &plain(u32::MAX, 0)).is_err());
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
            let (mut t_min, mut t_max) = (u64::MAX, 0);
            for ((t, tv), fields) in &events {
                // [t, {"Custom": any}, any...]
                b.push(0x90 | (1 + fields.len()) as u8);
                b.extend(t);
                b.extend([0x81, 0xa6]);
                b.extend(b"Custom");
                b.extend(fields.concat());
                t_min = t_min.min(*tv);
                t_max = t_max.max(*tv);
            }
            let h = ChunkHeader {
                t_start: t_min,
                t_end: t_max,
                ..plain(events.len() as u32, 0)
            };
            proptest::prop_assert_eq!(check_events(&b, &h), Ok(()));
            // Every cut near the end, and a few hundred spread over the rest.
            let step = (b.len() / 300).max(1);
            for cut in (0..b.len()).step_by(step).chain(b.len().saturating_sub(64)..b.len()) {
                proptest::prop_assert!(check_events(&b[..cut], &h).is_err());
            }
        }
    }

    /// An event's time: any unsigned integer marker, and its value.
    fn any_value_time() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, u64)> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..0x80).prop_map(|x| (vec![x], u64::from(x))),
            any::<u64>().prop_map(|x| {
                let mut v = vec![0xcf];
                v.extend_from_slice(&x.to_be_bytes());
                (v, x)
            }),
            any::<u16>().prop_map(|x| {
                let mut v = vec![0xcd];
                v.extend_from_slice(&x.to_be_bytes());
                (v, u64::from(x))
            }),
            any::<u8>().prop_map(|x| (vec![0xcc, x], u64::from(x))),
            any::<u32>().prop_map(|x| {
                let mut v = vec![0xce];
                v.extend_from_slice(&x.to_be_bytes());
                (v, u64::from(x))
            }),
        ]
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 1_000_000;
        let mut b = vec![0x91, 0x92, 0x01, 0x81, 0xa1, b'X'];
        b.extend(std::iter::repeat_n(0x91, depth));
        b.push(0xc0);
        assert!(check_events(&b, &plain(1, 1)).is_ok());
        b.pop();
        assert!(check_events(&b, &plain(1, 1)).is_err());
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
