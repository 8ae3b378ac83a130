//! `reel-server export` / `import`: one session as a portable archive.
//!
//! The archive is JSON, so any tool can read it:
//!
//! ```json
//! {"reel_archive": 1,
//!  "session": "<32 hex digits>",
//!  "meta": { ...what GET /api/v1/sessions/{id} answers... },
//!  "chunks": [{"seq": 0, "data": "<the chunk's bytes, standard base64>"}]}
//! ```
//!
//! The chunks are the stored bytes, unchanged. `meta` is informative:
//! import rebuilds the session's metadata from the chunks themselves, each
//! re-validated exactly as ingest validates it (the same two functions,
//! [`check_chunk`] and [`check_session`], in archive order, against the
//! session as it would stand after the chunks before it), so an archive can
//! never put into a store anything the HTTP API would have refused. The
//! HTTP API's allowances (sessions per minute, bytes per hour) are not
//! applied: import is the operator's own command.

use crate::index::{self, SessionItem};
use crate::store::{now_ms, PutOutcome, Store, StoreError};
use crate::validate::{check_chunk, check_session, IngestLimits};
use reel_shared::SessionId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub const ARCHIVE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such session: {0}")]
    NoSuchSession(SessionId),
    #[error("not a Reel session archive: {0}")]
    Format(String),
    #[error("unsupported archive version {0} (this build reads {ARCHIVE_VERSION})")]
    Version(u32),
    #[error("chunk {seq} of the archive is invalid: {reason}")]
    BadChunk { seq: u32, reason: String },
}

#[derive(Serialize, Deserialize)]
struct Archive {
    reel_archive: u32,
    session: SessionId,
    #[serde(default)]
    meta: Option<serde_json::Value>,
    chunks: Vec<ArchivedChunk>,
}

#[derive(Serialize, Deserialize)]
struct ArchivedChunk {
    seq: u32,
    data: String,
}

/// Writes the archive of session `id` to `out`.
pub fn export(store: &Store, id: &SessionId, out: impl std::io::Write) -> Result<(), ArchiveError> {
    let meta = store.session(id)?.ok_or(ArchiveError::NoSuchSession(*id))?;
    let chunks = store
        .chunks(id, 0)?
        .into_iter()
        .map(|(seq, raw)| ArchivedChunk {
            seq,
            data: base64::encode(&raw),
        })
        .collect();
    let archive = Archive {
        reel_archive: ARCHIVE_VERSION,
        session: *id,
        meta: serde_json::to_value(SessionItem::from(&meta)).ok(),
        chunks,
    };
    serde_json::to_writer(out, &archive).map_err(|e| ArchiveError::Format(e.to_string()))
}

/// What an import did.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    pub session: SessionId,
    pub stored: usize,
    pub duplicates: usize,
}

/// Reads an archive into `store`, validating every chunk first: either
/// every chunk is valid and stored, or nothing is. Importing the same
/// archive twice is harmless (the second time every chunk is a duplicate).
pub fn import(
    store: &Store,
    archive: &[u8],
    limits: &IngestLimits,
) -> Result<Imported, ArchiveError> {
    let a: Archive =
        serde_json::from_slice(archive).map_err(|e| ArchiveError::Format(e.to_string()))?;
    if a.reel_archive != ARCHIVE_VERSION {
        return Err(ArchiveError::Version(a.reel_archive));
    }
    let now = now_ms();
    // The session as it stands, and as it will after each chunk: what
    // ingest would check the next chunk against. A chunk already stored
    // (or twice in the archive) is a duplicate and changes nothing.
    let mut meta = store.session(&a.session)?;
    let mut stored: BTreeSet<u32> = store.chunk_seqs(&a.session, 0)?.into_iter().collect();
    let mut valid = Vec::with_capacity(a.chunks.len());
    for c in &a.chunks {
        let bad = |reason: String| ArchiveError::BadChunk { seq: c.seq, reason };
        let raw = base64::decode(&c.data).map_err(|e| bad(e.to_string()))?;
        let h =
            check_chunk(&raw, &a.session, c.seq, limits, now).map_err(|e| bad(e.to_string()))?;
        let len = raw.len() as u64;
        if stored.insert(h.seq) {
            check_session(&h, len, meta.as_ref(), limits).map_err(|e| bad(e.to_string()))?;
            meta = Some(index::merge(meta, &h, len, now));
        }
        valid.push((h, raw));
    }
    let mut done = Imported {
        session: a.session,
        stored: 0,
        duplicates: 0,
    };
    for (h, raw) in &valid {
        match store.put_chunk(h, raw, now)? {
            PutOutcome::Stored { .. } => done.stored += 1,
            PutOutcome::Duplicate => done.duplicates += 1,
        }
    }
    store.flush_blocking()?;
    Ok(done)
}

/// Standard base64 (RFC 4648, with padding): a few lines here rather than
/// a dependency.
pub mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for c in bytes.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    #[error("invalid base64")]
    pub struct DecodeError;

    pub fn decode(s: &str) -> Result<Vec<u8>, DecodeError> {
        let b = s.as_bytes();
        if !b.len().is_multiple_of(4) {
            return Err(DecodeError);
        }
        let val = |c: u8| -> Result<u32, DecodeError> {
            Ok(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(DecodeError),
            }
            .into())
        };
        let mut out = Vec::with_capacity(b.len() / 4 * 3);
        let quads = b.len() / 4;
        for (i, q) in b.chunks_exact(4).enumerate() {
            let pad = if i + 1 == quads {
                q.iter().rev().take_while(|c| **c == b'=').count()
            } else {
                0
            };
            if pad > 2 {
                return Err(DecodeError);
            }
            let mut n = 0u32;
            for (j, &c) in q.iter().enumerate() {
                n = (n << 6) | if j < 4 - pad { val(c)? } else { 0 };
            }
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - pad]);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{encode_chunk, Custom, Event, EventData};

    #[test]
    fn base64_round_trips() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xff, 0xfe, 0x00, 0x3e][..], "//4APg=="),
        ] {
            assert_eq!(base64::encode(raw), enc);
            assert_eq!(base64::decode(enc).unwrap(), raw);
        }
        for bad in ["Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zm9v"] {
            assert!(base64::decode(bad).is_err(), "{bad}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64::decode(&base64::encode(&all)).unwrap(), all);
    }

    fn chunk(id: SessionId, seq: u32) -> Vec<u8> {
        let ev = vec![Event {
            t: 1_700_000_000_000 + u64::from(seq),
            data: EventData::Custom(Custom {
                name: format!("n{seq}"),
                data: None,
            }),
        }];
        encode_chunk(id, seq, &ev).unwrap()
    }

    #[test]
    fn export_import_round_trip() {
        let id = SessionId([7; 16]);
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Store::open(d1.path()).unwrap();
        let limits = IngestLimits::default();
        for seq in [0, 1, 5] {
            let c = chunk(id, seq);
            let h = crate::validate::validate_chunk(&c, &limits).unwrap();
            a.put_chunk(&h, &c, 1).unwrap();
        }
        let mut archive = Vec::new();
        export(&a, &id, &mut archive).unwrap();
        let b = Store::open(d2.path()).unwrap();
        let done = import(&b, &archive, &limits).unwrap();
        assert_eq!((done.stored, done.duplicates), (3, 0));
        assert_eq!(a.chunks(&id, 0).unwrap(), b.chunks(&id, 0).unwrap());
        let (ma, mb) = (
            a.session(&id).unwrap().unwrap(),
            b.session(&id).unwrap().unwrap(),
        );
        assert_eq!(SessionItem::from(&ma), SessionItem::from(&mb));
        assert_eq!(import(&b, &archive, &limits).unwrap().duplicates, 3);
        assert!(matches!(
            export(&a, &SessionId([8; 16]), Vec::new()),
            Err(ArchiveError::NoSuchSession(_))
        ));

        // A damaged chunk, or one of another session, stores nothing.
        let d3 = tempfile::tempdir().unwrap();
        let c = Store::open(d3.path()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&archive).unwrap();
        v["chunks"][1]["data"] = base64::encode(&chunk(SessionId([9; 16]), 1)).into();
        let e = import(&c, &serde_json::to_vec(&v).unwrap(), &limits).unwrap_err();
        assert!(matches!(e, ArchiveError::BadChunk { seq: 1, .. }), "{e}");
        v["chunks"][1]["data"] = base64::encode(b"REEL\x01garbage").into();
        assert!(import(&c, &serde_json::to_vec(&v).unwrap(), &limits).is_err());
        v["reel_archive"] = 2.into();
        assert!(matches!(
            import(&c, &serde_json::to_vec(&v).unwrap(), &limits),
            Err(ArchiveError::Version(2))
        ));
        assert!(import(&c, b"{}", &limits).is_err());
        assert_eq!(c.session_key_count().unwrap(), 0);
    }

    fn archive_of(id: SessionId, chunks: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let chunks: Vec<serde_json::Value> = chunks
            .iter()
            .map(|(seq, c)| serde_json::json!({"seq": seq, "data": base64::encode(c)}))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "reel_archive": 1,
            "session": id.to_string(),
            "chunks": chunks,
        }))
        .unwrap()
    }

    fn at(id: SessionId, seq: u32, times: &[u64]) -> Vec<u8> {
        let ev: Vec<Event> = times
            .iter()
            .map(|&t| Event {
                t,
                data: EventData::Custom(Custom {
                    name: "x".into(),
                    data: None,
                }),
            })
            .collect();
        encode_chunk(id, seq, &ev).unwrap()
    }

    /// Import runs ingest's checks, every one: each archive below holds
    /// one chunk ingest would refuse, and stores nothing.
    #[test]
    fn import_refuses_what_ingest_refuses() {
        use crate::validate::tests::{with_frame_at, with_header, SKIPPABLE};
        use crate::validate::{MAX_FUTURE_MS, MAX_SEQ_JUMP, MAX_SPAN_MS};
        let id = SessionId([3; 16]);
        let t0 = 1_700_000_000_000u64;
        let limits = IngestLimits::default();
        let good = chunk(id, 0);
        let far = u32::MAX;
        // (what the refusal says, the archive's chunks, the limits)
        type Case = (&'static str, Vec<(u32, Vec<u8>)>, IngestLimits);
        let cases: Vec<Case> = vec![
            ("sequence number", vec![(far, at(id, far, &[t0]))], limits),
            (
                "year 9999",
                vec![(0, at(id, 0, &[253_402_300_800_000]))],
                limits,
            ),
            (
                "ahead of the server's clock",
                vec![(0, at(id, 0, &[now_ms() + MAX_FUTURE_MS + 60_000]))],
                limits,
            ),
            (
                "span more than",
                vec![(0, at(id, 0, &[t0, t0 + MAX_SPAN_MS + 1]))],
                limits,
            ),
            (
                "from the rest of its session",
                vec![
                    (0, at(id, 0, &[t0])),
                    (1, at(id, 1, &[t0 + MAX_SPAN_MS + 1])),
                ],
                limits,
            ),
            (
                "past the highest",
                vec![
                    (0, good.clone()),
                    (MAX_SEQ_JUMP + 1, chunk(id, MAX_SEQ_JUMP + 1)),
                ],
                limits,
            ),
            (
                "over the limit",
                vec![(0, good.clone())],
                IngestLimits {
                    max_body: good.len() - 1,
                    ..limits
                },
            ),
            (
                "per session",
                vec![(0, good.clone()), (1, chunk(id, 1))],
                IngestLimits {
                    max_session_bytes: good.len() as u64 + 1,
                    ..limits
                },
            ),
            (
                "click count",
                vec![(0, with_header(&good, |h| h.stats.clicks = 9))],
                limits,
            ),
            (
                "skippable",
                vec![(0, with_frame_at(&good, 0, &SKIPPABLE))],
                limits,
            ),
            ("differs from the URL", vec![(1, good.clone())], limits),
        ];
        for (what, chunks, limits) in cases {
            let d = tempfile::tempdir().unwrap();
            let store = Store::open(d.path()).unwrap();
            let e = import(&store, &archive_of(id, &chunks), &limits).unwrap_err();
            assert!(
                matches!(&e, ArchiveError::BadChunk { .. }) && e.to_string().contains(what),
                "{what}: {e}"
            );
            assert_eq!(store.session_key_count().unwrap(), 0, "{what}");
        }
        // The same chunks, each one acceptable, in one archive: fine; and
        // again (every one a duplicate, counted once against the caps).
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let ok = archive_of(
            id,
            &[(0, good.clone()), (1, chunk(id, 1)), (1, chunk(id, 1))],
        );
        let tight = IngestLimits {
            max_session_bytes: 2 * good.len() as u64 + 2,
            ..limits
        };
        assert_eq!(import(&store, &ok, &tight).unwrap().stored, 2);
        assert_eq!(import(&store, &ok, &tight).unwrap().duplicates, 3);
    }
}
