//! The session index: what the list API shows about a session, kept up to
//! date chunk by chunk from the chunk headers alone, so listing sessions
//! never decodes an event.

use crate::filters::Filters;
use reel_shared::{ChunkHeader, SessionId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A session's page list stops growing here: the list API has to stay cheap
/// for a single-page app that rewrites its URL on every keystroke.
pub const MAX_URLS: usize = 100;
/// Header strings come from the page, so their size is the page's choice;
/// these caps keep one session's metadata, and a page of 500, bounded.
pub const MAX_URL_LEN: usize = 4096;
pub const MAX_FIELD_LEN: usize = 1024;
/// 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write. Chunks
/// claiming later times are refused at ingest, so formatting never fails.
pub const MAX_TIME_MS: u64 = 253_402_300_799_999;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// Length of a `by_start` key: started_at (u64 BE) ++ session id.
pub const START_KEY_LEN: usize = 8 + 16;

/// What the store keeps per session. Every field is derivable from the
/// headers of the stored chunks, which is what makes re-posting a chunk
/// harmless: a duplicate is detected before it is merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub id: SessionId,
    /// ms since the Unix epoch.
    pub started_at: u64,
    pub ended_at: u64,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    pub event_count: u64,
    pub click_count: u64,
    pub error_count: u64,
    pub chunks: u64,
    pub bytes: u64,
    /// The server's clock (ms) when it last stored a chunk of this session:
    /// what retention measures, since the page's clock may be anything.
    /// 0 in metadata written before the field existed.
    #[serde(default)]
    pub received_at: u64,
    /// The highest seq stored, which bounds the next one's (see
    /// [`crate::validate::check_session`]). 0 in metadata written before
    /// the field existed.
    #[serde(default)]
    pub max_seq: u32,
    /// The project whose ingest key recorded the session (`default` for the
    /// `--ingest-key` keys; `None` before projects existed). Not derived
    /// from the headers: the storage keeps it beside the metadata (see
    /// `store::projects`).
    #[serde(default)]
    pub project: Option<String>,
    /// What insights add (device, source, signal counts...), kept up to
    /// date by [`crate::digest::apply`] in the same step as `merge`.
    #[serde(default)]
    pub insights: crate::digest::SessionInsights,
}

impl SessionMeta {
    /// When the session was last active, for retention: when the server
    /// last heard from it, or (for old metadata) its last event's time.
    pub fn last_activity(&self) -> u64 {
        if self.received_at > 0 {
            self.received_at
        } else {
            self.ended_at
        }
    }

    /// The key in the `by_start` tree: big-endian so that byte order is
    /// time order, and the id appended so that equal start times coexist.
    pub fn start_key(&self) -> [u8; START_KEY_LEN] {
        start_key(self.started_at, &self.id)
    }

    pub fn duration_ms(&self) -> u64 {
        self.ended_at.saturating_sub(self.started_at)
    }
}

pub fn start_key(started_at: u64, id: &SessionId) -> [u8; START_KEY_LEN] {
    let mut k = [0u8; START_KEY_LEN];
    k[..8].copy_from_slice(&started_at.to_be_bytes());
    k[8..].copy_from_slice(id.as_bytes());
    k
}

/// `s` cut to at most `max` bytes, at a character boundary: how every
/// text the index and the digest keep is held to [`MAX_URL_LEN`] and
/// [`MAX_FIELD_LEN`].
pub(crate) fn truncate(s: &str, max: usize) -> String {
    s[..reel_shared::text::boundary(s, max)].to_owned()
}

/// Folds one newly stored chunk into its session's metadata (`None` for the
/// session's first chunk), received at `now_ms` on the server's clock. The
/// caller guarantees the chunk was not already stored; this function cannot
/// tell.
pub fn merge(
    old: Option<SessionMeta>,
    h: &ChunkHeader,
    chunk_bytes: u64,
    now_ms: u64,
) -> SessionMeta {
    let mut m = old.unwrap_or_else(|| SessionMeta {
        id: h.session,
        started_at: h.t_start,
        ended_at: h.t_end,
        urls: Vec::new(),
        user_id: None,
        user_agent: None,
        event_count: 0,
        click_count: 0,
        error_count: 0,
        chunks: 0,
        bytes: 0,
        received_at: 0,
        max_seq: 0,
        project: None,
        insights: Default::default(),
    });
    m.started_at = m.started_at.min(h.t_start);
    m.ended_at = m.ended_at.max(h.t_end);
    for url in &h.stats.urls {
        if m.urls.len() >= MAX_URLS {
            break;
        }
        let url = truncate(url, MAX_URL_LEN);
        if !m.urls.contains(&url) {
            m.urls.push(url);
        }
    }
    if let Some(u) = h.stats.user_id.as_deref().filter(|u| !u.is_empty()) {
        m.user_id = Some(truncate(u, MAX_FIELD_LEN));
    }
    if m.user_agent.is_none() {
        if let Some(ua) = h.stats.user_agent.as_deref().filter(|u| !u.is_empty()) {
            m.user_agent = Some(truncate(ua, MAX_FIELD_LEN));
        }
    }
    m.event_count = m.event_count.saturating_add(u64::from(h.event_count));
    m.click_count = m.click_count.saturating_add(u64::from(h.stats.clicks));
    m.error_count = m.error_count.saturating_add(u64::from(h.stats.errors));
    m.chunks = m.chunks.saturating_add(1);
    m.bytes = m.bytes.saturating_add(chunk_bytes);
    m.received_at = m.received_at.max(now_ms);
    m.max_seq = m.max_seq.max(h.seq);
    m
}

/// One newly stored chunk folded into its session's metadata: its header
/// ([`merge`]), then its insights facts ([`crate::digest::apply`]), which
/// returns the digest records the chunk adds. The step every backend's
/// atomic store of a chunk takes, in this order (the distributed backend
/// calls this; the embedded ones make the same two calls).
pub fn fold_chunk(
    old: Option<SessionMeta>,
    h: &ChunkHeader,
    chunk_bytes: u64,
    now_ms: u64,
    facts: &crate::digest::ChunkFacts,
) -> (SessionMeta, crate::digest::DigestUpdate) {
    let mut meta = merge(old, h, chunk_bytes, now_ms);
    let up = crate::digest::apply(&mut meta, h.seq, h.t_end, facts);
    (meta, up)
}

/// A session as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionItem {
    pub id: String,
    pub started_at: String,
    pub ended_at: String,
    pub duration_ms: u64,
    pub urls: Vec<String>,
    pub user_id: Option<String>,
    pub user_agent: Option<String>,
    pub event_count: u64,
    pub click_count: u64,
    pub error_count: u64,
    pub chunks: u64,
    pub bytes: u64,
    /// The project's id (contract §8).
    pub project: Option<String>,
    /// Contract §6: device, browser, os, source, visitor, counts.
    #[serde(flatten)]
    pub insights: crate::digest::InsightsItem,
}

impl From<&SessionMeta> for SessionItem {
    fn from(m: &SessionMeta) -> Self {
        SessionItem {
            id: m.id.to_string(),
            started_at: format_ms(m.started_at),
            ended_at: format_ms(m.ended_at),
            duration_ms: m.duration_ms(),
            urls: m.urls.clone(),
            user_id: m.user_id.clone(),
            user_agent: m.user_agent.clone(),
            event_count: m.event_count,
            click_count: m.click_count,
            error_count: m.error_count,
            chunks: m.chunks,
            bytes: m.bytes,
            project: m.project.clone(),
            insights: crate::digest::InsightsItem::from(&m.insights),
        }
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2024-05-01T12:00:00.123Z`:
/// fixed width, so the strings sort like the times.
pub fn format_ms(ms: u64) -> String {
    let ms = ms.min(MAX_TIME_MS);
    let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

/// Parses RFC 3339 into ms since the epoch (times before it clamp to 0).
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    // An unencoded `+` in a query string arrives as a space; accept it back
    // rather than make people percent-encode their offsets.
    let dt = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&s.replace(' ', "+"), &Rfc3339))
        .ok()?;
    let ms = dt.unix_timestamp_nanos().div_euclid(1_000_000);
    Some(u64::try_from(ms.max(0)).unwrap_or(u64::MAX))
}

/// The list API's query: the filters ([`crate::filters`], shared with the
/// insights endpoints) and the page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub filters: Filters,
    pub limit: usize,
    /// Exclusive upper bound in the `by_start` tree: where the previous page
    /// stopped.
    pub cursor: Option<[u8; START_KEY_LEN]>,
}

impl ListQuery {
    /// Empty values count as absent, so a search form can submit every
    /// field; an unknown parameter is an error.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, String> {
        let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(format!("`limit` must be an integer from 1 to {MAX_LIMIT}")),
            },
        };
        let cursor = get("cursor")
            .map(|c| {
                decode_cursor(c)
                    .ok_or_else(|| "`cursor` is not one this server gave out".to_owned())
            })
            .transpose()?;
        Ok(ListQuery {
            filters: Filters::parse(params, &["limit", "cursor"])?,
            limit,
            cursor,
        })
    }

    /// The filters that the `by_start` range cannot express. (`since` and
    /// `until` are checked too, so a caller may skip the range.)
    pub fn matches(&self, m: &SessionMeta) -> bool {
        self.filters.matches(m)
    }
}

/// Cursors are the hex of a `by_start` key: opaque to clients, and
/// self-contained, so the server keeps no pagination state.
pub fn encode_cursor(key: &[u8; START_KEY_LEN]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_cursor(s: &str) -> Option<[u8; START_KEY_LEN]> {
    let b = s.as_bytes();
    if b.len() != START_KEY_LEN * 2 {
        return None;
    }
    let mut out = [0u8; START_KEY_LEN];
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::ChunkStats;

    fn header(seq: u32, t_start: u64, t_end: u64, stats: ChunkStats) -> ChunkHeader {
        ChunkHeader {
            session: SessionId([7; 16]),
            seq,
            t_start,
            t_end,
            event_count: 10,
            stats,
        }
    }

    #[test]
    fn merge_folds_headers() {
        let a = header(
            1,
            2_000,
            3_000,
            ChunkStats {
                clicks: 2,
                errors: 1,
                urls: vec!["https://a/1".into(), "https://a/2".into()],
                user_id: Some("u1".into()),
                user_agent: Some("UA1".into()),
            },
        );
        let b = header(
            0,
            1_000,
            1_500,
            ChunkStats {
                clicks: 1,
                errors: 0,
                urls: vec!["https://a/2".into(), "https://a/3".into()],
                user_id: Some(String::new()),
                user_agent: Some("UA2".into()),
            },
        );
        let m = merge(None, &a, 100, 5);
        let m = merge(Some(m), &b, 50, 7);
        assert_eq!(m.started_at, 1_000);
        assert_eq!(m.ended_at, 3_000);
        assert_eq!(m.duration_ms(), 2_000);
        assert_eq!(m.urls, ["https://a/1", "https://a/2", "https://a/3"]);
        assert_eq!(
            m.user_id.as_deref(),
            Some("u1"),
            "an empty user id does not erase one"
        );
        assert_eq!(
            m.user_agent.as_deref(),
            Some("UA1"),
            "the first user agent wins"
        );
        assert_eq!((m.event_count, m.click_count, m.error_count), (20, 3, 1));
        assert_eq!((m.chunks, m.bytes), (2, 150));
        assert_eq!(m.received_at, 7);
        assert_eq!(m.last_activity(), 7);
        let c = header(
            2,
            4_000,
            4_000,
            ChunkStats {
                user_id: Some("u2".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            merge(Some(m), &c, 1, 8).user_id.as_deref(),
            Some("u2"),
            "the last user id wins"
        );
    }

    #[test]
    fn merge_caps_urls_and_strings() {
        let urls: Vec<String> = (0..150).map(|i| format!("https://x/{i}")).collect();
        let long = "é".repeat(5000);
        let h = header(
            0,
            0,
            0,
            ChunkStats {
                urls: [vec![long.clone()], urls].concat(),
                user_agent: Some(long),
                ..Default::default()
            },
        );
        let m = merge(None, &h, 1, 1);
        assert_eq!(m.urls.len(), MAX_URLS);
        assert!(m.urls[0].len() <= MAX_URL_LEN);
        assert!(m.user_agent.unwrap().len() <= MAX_FIELD_LEN);
    }

    #[test]
    fn times_format_and_parse() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(format_ms(u64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00.123Z"),
            Some(1_714_564_800_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T14:00:00 02:00"),
            Some(1_714_564_800_000)
        );
        assert_eq!(parse_rfc3339_ms("1960-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn query_parsing_validates() {
        let q = |pairs: &[(&str, &str)]| {
            ListQuery::parse(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let d = q(&[]).unwrap();
        assert_eq!(d.limit, DEFAULT_LIMIT);
        assert_eq!(q(&[("url", ""), ("limit", "")]).unwrap(), d);
        for bad in [
            ("limit", "0"),
            ("limit", "501"),
            ("limit", "x"),
            ("since", "nope"),
            ("until", "2024"),
            ("min_duration_ms", "-1"),
            ("has_errors", "yes"),
            ("cursor", "abc"),
            ("colour", "red"),
        ] {
            assert!(q(&[bad]).is_err(), "{bad:?}");
        }
        let ok = q(&[
            ("has_errors", "false"),
            ("limit", "500"),
            ("min_duration_ms", "5"),
        ])
        .unwrap();
        assert_eq!(
            (ok.filters.has_errors, ok.limit, ok.filters.min_duration_ms),
            (Some(false), 500, Some(5))
        );
    }

    #[test]
    fn cursors_round_trip() {
        let k = start_key(123, &SessionId([0xab; 16]));
        assert_eq!(decode_cursor(&encode_cursor(&k)), Some(k));
        assert_eq!(decode_cursor(&"zz".repeat(START_KEY_LEN)), None);
        assert_eq!(decode_cursor("+a".repeat(START_KEY_LEN).as_str()), None);
    }
}
