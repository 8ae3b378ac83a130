//! What the store's tests build their data with, whatever the backend
//! (`log.rs`, `mem.rs`, `dist/tests.rs`, `dist/compact.rs`): chunk headers
//! and real chunks, a listing call, and the search of a folder for bytes
//! that must be gone. One copy, so that the backends are tested on the
//! same data.

use super::{ListRange, Page, Storage};
use crate::index::{SessionMeta, START_KEY_LEN};
use reel_shared::{encode_chunk, ChunkHeader, ChunkStats, Custom, Event, EventData, Limits};
use reel_shared::{Meta, SessionId};
use std::path::{Path, PathBuf};

/// The server's clock in the tests ("now", in ms since the epoch).
pub const NOW: u64 = 1_800_000_000_000;

/// A header of session `[id; 16]` (odd ids have an error, every chunk a
/// click, three events) for a chunk whose bytes do not matter.
pub fn header(id: u8, seq: u32, t: u64) -> ChunkHeader {
    ChunkHeader {
        session: SessionId([id; 16]),
        seq,
        t_start: t,
        t_end: t + 100,
        event_count: 3,
        stats: ChunkStats {
            clicks: 1,
            errors: u32::from(id % 2),
            ..Default::default()
        },
    }
}

/// A header of session `[id; 16]` identified as `user` (`Reel.identify`),
/// one event at t 1-2, for the people and erasure tests.
pub fn identified(id: u8, seq: u32, user: &str) -> ChunkHeader {
    ChunkHeader {
        session: SessionId([id; 16]),
        seq,
        t_start: 1,
        t_end: 2,
        event_count: 1,
        stats: ChunkStats {
            user_id: Some(user.into()),
            ..ChunkStats::default()
        },
    }
}

/// A real chunk of session `[id; 16]`: one custom event named `text` (a
/// backend that reads headers back from its chunks, or searches its files
/// for them, needs real ones).
pub fn real_chunk(id: u8, seq: u32, text: &str) -> (ChunkHeader, Vec<u8>) {
    encoded(id, seq, &[custom(seq, text)])
}

/// [`real_chunk`], after a page load in the session's first chunk (so
/// insights have something to fold).
pub fn visit_chunk(id: u8, seq: u32, text: &str) -> (ChunkHeader, Vec<u8>) {
    let mut events = Vec::new();
    if seq == 0 {
        events.push(Event {
            t: chunk_time(seq),
            data: EventData::Meta(Meta {
                href: format!("https://shop.example/{id}?utm_source=news"),
                title: "Shop".into(),
                width: 1280,
                height: 800,
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36".into(),
                referrer: Some("https://www.google.com/".into()),
                visitor_id: Some(format!("v{id}")),
                new_visitor: Some(true),
            }),
        });
    }
    events.push(custom(seq, text));
    encoded(id, seq, &events)
}

fn chunk_time(seq: u32) -> u64 {
    1_700_000_000_000 + u64::from(seq) * 1_000
}

fn custom(seq: u32, text: &str) -> Event {
    Event {
        t: chunk_time(seq) + 1,
        data: EventData::Custom(Custom {
            name: text.to_owned(),
            data: None,
        }),
    }
}

/// `events` as session `[id; 16]`'s chunk `seq`, with its header.
pub fn encoded(id: u8, seq: u32, events: &[Event]) -> (ChunkHeader, Vec<u8>) {
    let raw = encode_chunk(SessionId([id; 16]), seq, events).unwrap();
    let (h, _) = reel_shared::decode_header(&raw, &Limits::default()).unwrap();
    (h, raw)
}

/// One page of `s`'s sessions started in `since..=until`, before `before`.
pub fn list(
    s: &dyn Storage,
    since: u64,
    until: u64,
    before: Option<[u8; START_KEY_LEN]>,
    limit: usize,
    mut keep: impl FnMut(&SessionMeta) -> bool,
) -> Page {
    let range = ListRange {
        since,
        until,
        before,
        limit,
    };
    s.list_sessions(range, &mut keep).unwrap()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                found.push(e.path());
            }
        }
    }
    found
}

/// The files under `dir` holding `needle` somewhere.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}
