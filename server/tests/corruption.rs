//! A corrupt byte costs its own record and nothing else (issue 20, item
//! 1): a byte flipped at every record boundary (`len`, `crc`) and inside
//! records (session id, seq, chunk bytes), in a log of several segments,
//! with the sled index gone (the whole log read again), with the index
//! covering only the first part (the rest read again), and with all of it
//! indexed (the damage found when read). After each, every other chunk
//! reads back, is indexed, no segment is gone, and appends continue. And
//! the built binary, killed, with one byte flipped in the middle of its
//! segment file, comes back with every other chunk.

mod common;

use common::*;
use reel_server::store::{PutOutcome, Store, StoreError, StoreOptions};
use reel_shared::{ChunkHeader, Limits, SessionId};
use std::path::{Path, PathBuf};
use std::time::Duration;

const NOW: u64 = 1_800_000_000_000;

fn options() -> StoreOptions {
    StoreOptions {
        min_free_bytes: Some(0),
        // A few records a segment.
        segment_bytes: Some(1024),
    }
}

/// Opens `dir`, waiting out a previous instance's lock (sled releases it
/// from a background thread, moments after the instance is dropped).
fn open(dir: &Path) -> Store {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open_with(dir, options()) {
            Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => return r.unwrap(),
        }
    }
}

fn put(store: &Store, raw: &[u8]) -> PutOutcome {
    let (h, _): (ChunkHeader, _) = reel_shared::decode_header(raw, &Limits::default()).unwrap();
    store.put_chunk(&h, raw, NOW).unwrap()
}

/// sled's files: everything at the top of the data dir but the log and
/// the copy beside sled.
fn sled_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap();
            n != "segments" && n != "keep.json"
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn segment_names(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

/// One chunk and where its record is.
struct Rec {
    id: SessionId,
    seq: u32,
    raw: Vec<u8>,
    segment: PathBuf,
    off: usize,
    len: usize,
    /// Indexed by the early sled snapshot.
    early: bool,
}

struct Fixture {
    /// The data dir, every chunk in sled.
    full: tempfile::TempDir,
    /// sled's files as they were when only the first half was written.
    early_sled: tempfile::TempDir,
    recs: Vec<Rec>,
}

fn fixture() -> Fixture {
    let full = tempfile::tempdir().unwrap();
    let early_sled = tempfile::tempdir().unwrap();
    let ids = [SessionId([0x31; 16]), SessionId([0x32; 16])];
    let raws: Vec<(SessionId, u32, Vec<u8>)> = (0..16u32)
        .map(|i| {
            let id = ids[(i % 2) as usize];
            (id, i / 2, chunk(id, i / 2, 2, 60))
        })
        .collect();
    {
        let s = open(full.path());
        for (_, _, raw) in &raws[..8] {
            assert_eq!(
                put(&s, raw),
                PutOutcome::Stored { new_session: false }.max_new(raw)
            );
        }
    }
    // sled as a crash after the first half would leave it.
    let s = open(full.path());
    for p in sled_files(full.path()) {
        let to = early_sled.path().join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &to);
        } else {
            std::fs::copy(&p, &to).unwrap();
        }
    }
    for (_, _, raw) in &raws[8..] {
        put(&s, raw);
    }
    drop(s);
    let _ = open(full.path()); // the lock is free again

    // Where each record is.
    let mut recs = Vec::new();
    for name in segment_names(full.path()) {
        let segment = full.path().join("segments").join(&name);
        let bytes = std::fs::read(&segment).unwrap();
        for (off, len) in record_offsets(&bytes) {
            let payload = &bytes[off + 8..off + len];
            let id = SessionId::from_slice(&payload[..16]).unwrap();
            let seq = u32::from_le_bytes(payload[16..20].try_into().unwrap());
            let i = raws
                .iter()
                .position(|(i, s, _)| *i == id && *s == seq)
                .unwrap();
            recs.push(Rec {
                id,
                seq,
                raw: raws[i].2.clone(),
                segment: PathBuf::from("segments").join(&name),
                off,
                len,
                early: i < 8,
            });
        }
    }
    assert_eq!(recs.len(), 16);
    assert!(
        segment_names(full.path()).len() >= 4,
        "{:?}",
        segment_names(full.path())
    );
    Fixture {
        full,
        early_sled,
        recs,
    }
}

trait MaxNew {
    fn max_new(self, raw: &[u8]) -> PutOutcome;
}

impl MaxNew for PutOutcome {
    /// The outcome the fixture's puts expect: a new session on seq 0.
    fn max_new(self, raw: &[u8]) -> PutOutcome {
        let (h, _) = reel_shared::decode_header(raw, &Limits::default()).unwrap();
        PutOutcome::Stored {
            new_session: h.seq == 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Index {
    /// sled's files removed: the whole log is read again.
    None,
    /// sled covers the first half: the rest is read again.
    Early,
    /// sled covers everything: nothing is read again.
    Full,
}

/// Flips `bit` of byte `at` of record `r` in a copy of the fixture with
/// the given index, opens it, and checks that only that record is lost.
fn flip_and_check(f: &Fixture, r: usize, at: usize, index: Index) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &f.full.path().join("segments"),
        &dir.path().join("segments"),
    );
    if f.full.path().join("keep.json").exists() {
        std::fs::copy(
            f.full.path().join("keep.json"),
            dir.path().join("keep.json"),
        )
        .unwrap();
    }
    match index {
        Index::None => {}
        Index::Early => copy_tree(f.early_sled.path(), dir.path()),
        Index::Full => {
            for p in sled_files(f.full.path()) {
                let to = dir.path().join(p.file_name().unwrap());
                if p.is_dir() {
                    copy_tree(&p, &to);
                } else {
                    std::fs::copy(&p, &to).unwrap();
                }
            }
        }
    }
    let bad = &f.recs[r];
    let path = dir.path().join(&bad.segment);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[bad.off + at] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();
    let segments = segment_names(dir.path());

    let what = format!(
        "record {r} ({}/{}), byte {at}, index {index:?}",
        bad.id, bad.seq
    );
    let s = open(dir.path());
    // Still indexed: the index named it before the flip.
    let indexed = match index {
        Index::None => false,
        Index::Early => bad.early,
        Index::Full => true,
    };
    for (i, rec) in f.recs.iter().enumerate() {
        let got = s.read_chunk(&rec.id, rec.seq);
        if i == r {
            if indexed {
                assert!(
                    matches!(got, Err(StoreError::Damaged { .. })),
                    "{what}: {got:?}"
                );
            } else {
                assert!(matches!(got, Ok(None)), "{what}: {got:?}");
            }
        } else {
            assert_eq!(
                got.unwrap().as_deref(),
                Some(&rec.raw[..]),
                "{what}: chunk {i}"
            );
        }
    }
    for id in [f.recs[0].id, f.recs[1].id] {
        let have = f.recs.iter().filter(|x| x.id == id).count() as u64;
        let lost = u64::from(bad.id == id && !indexed);
        let meta = s.session(&id).unwrap().unwrap();
        assert_eq!(meta.chunks, have - lost, "{what}");
        let seqs = s.chunk_seqs(&id, 0).unwrap();
        assert_eq!(seqs.len() as u64, have - lost, "{what}");
    }
    assert_eq!(
        segment_names(dir.path()),
        segments,
        "{what}: a segment went"
    );
    // Reported (in `/metrics`) when read again and followed by anything
    // intact; the last record of the log is a torn tail, cut.
    let reported = s.stats().unwrap().damaged_bytes > 0;
    assert_eq!(reported, !indexed && r != f.recs.len() - 1, "{what}");
    // Appends continue.
    let id = SessionId([0x33; 16]);
    let raw = chunk(id, 0, 2, 60);
    assert_eq!(
        put(&s, &raw),
        PutOutcome::Stored { new_session: true },
        "{what}"
    );
    assert_eq!(
        s.read_chunk(&id, 0).unwrap().as_deref(),
        Some(&raw[..]),
        "{what}"
    );
}

/// Bytes of a record to flip: the `len` (low and high byte), the `crc`,
/// the session id, the seq, the chunk's magic, the middle and the end of
/// the chunk.
fn offsets(len: usize) -> [usize; 8] {
    [0, 3, 5, 8, 25, 36, 36 + (len - 36) / 2, len - 1]
}

#[test]
fn a_flipped_byte_costs_one_chunk_without_the_index() {
    let f = fixture();
    for r in 0..f.recs.len() {
        for at in offsets(f.recs[r].len) {
            flip_and_check(&f, r, at, Index::None);
        }
    }
}

#[test]
fn a_flipped_byte_costs_one_chunk_with_the_index_covering_part_of_the_log() {
    let f = fixture();
    for r in 0..f.recs.len() {
        for at in offsets(f.recs[r].len) {
            flip_and_check(&f, r, at, Index::Early);
        }
    }
}

#[test]
fn a_flipped_byte_in_an_indexed_record_costs_that_chunk_when_read() {
    let f = fixture();
    for r in 0..f.recs.len() {
        for at in [0, 5, 36] {
            flip_and_check(&f, r, at, Index::Full);
        }
    }
}

/// A torn tail (a record cut short) is still cut, and nothing else.
#[test]
fn a_torn_tail_is_still_cut() {
    let f = fixture();
    for index in [Index::None, Index::Early] {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(
            &f.full.path().join("segments"),
            &dir.path().join("segments"),
        );
        if index == Index::Early {
            copy_tree(f.early_sled.path(), dir.path());
        }
        let last = f.recs.last().unwrap();
        let path = dir.path().join(&last.segment);
        let intact = std::fs::metadata(&path).unwrap().len();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut torn = 5_000u32.to_le_bytes().to_vec();
        torn.extend_from_slice(&last.raw[..40]);
        std::io::Write::write_all(&mut file, &torn).unwrap();
        drop(file);
        let s = open(dir.path());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), intact, "{index:?}");
        for rec in &f.recs {
            assert_eq!(
                s.read_chunk(&rec.id, rec.seq).unwrap().as_deref(),
                Some(&rec.raw[..])
            );
        }
    }
}

/// The built binary: N chunks acknowledged, SIGKILL, one byte flipped in
/// the middle of the segment file; the restarted server is up and serves
/// the N-1 others (and takes new chunks). Again with sled's files
/// removed (the whole log read again): exactly N-1.
#[test]
fn the_server_comes_back_with_every_other_chunk_after_a_flip() {
    const N: u32 = 30;
    let dir = tempfile::tempdir().unwrap();
    let args = ["--ingest-key", "k", "--api-token", "t"];
    let id = SessionId([0x5b; 16]);
    let server = start(dir.path(), &args);
    for seq in 0..N {
        let (status, _, body) = post_chunk(&server.addr, "k", id, seq, &chunk(id, seq, 20, 40));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    drop(server); // SIGKILL

    let segments = segment_names(dir.path());
    assert_eq!(segments.len(), 1);
    let path = dir.path().join("segments").join(&segments[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let recs = record_offsets(&bytes);
    assert_eq!(recs.len(), N as usize);
    let (off, len) = recs[N as usize / 2];
    bytes[off + len / 2] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();

    let server = start(dir.path(), &args);
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    assert_eq!(status, 200, "{meta}");
    // N when the index had named the damaged chunk before the kill (its
    // read is what fails then), N-1 when it was re-read from the log.
    let chunks = meta["chunks"].as_u64().unwrap();
    assert!(
        chunks == u64::from(N) || chunks == u64::from(N - 1),
        "{meta}"
    );
    let (status, _, _) = post_chunk(&server.addr, "k", id, N, &chunk(id, N, 20, 40));
    assert_eq!(status, 200, "appends continue");
    drop(server);

    // Without the index: the log alone.
    for p in sled_files(dir.path()) {
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let server = start(dir.path(), &args);
    let (status, body) = {
        let (s, _, b) = http(&server.addr, "GET", "/healthz", &[], b"");
        (s, b)
    };
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    let (status, meta) = get_json(&server.addr, &format!("/api/v1/sessions/{id}"), "t");
    assert_eq!(status, 200, "{meta}");
    assert_eq!(
        meta["chunks"],
        u64::from(N),
        "N-1 of the first N, and the one after: {meta}"
    );
    assert_eq!(segment_names(dir.path()), segments);
}
