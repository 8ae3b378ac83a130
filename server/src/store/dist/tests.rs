//! [`DistStorage`] against a real PostgreSQL and S3-compatible server
//! (`reel-testsvc`): a fresh database and bucket per test. The embedded
//! layout's own tests (`store/log.rs`) have their counterparts here (those
//! that hold for every backend are in `store/storage_checks.rs`), and
//! [`backends_agree`] runs one sequence of operations on this backend and
//! on `MemStorage`, comparing every answer.

use super::DistStorage;
use crate::index::SessionMeta;
use crate::store::mem::MemStorage;
use crate::store::storage_checks;
use crate::store::test_support::{files_containing, header, list, visit_chunk, NOW};
use crate::store::{PutOutcome, Storage, StoreError};
use crate::support::{Comment, Share};
use reel_shared::{ChunkHeader, SessionId};
use std::path::PathBuf;

/// A deployment on a fresh database and bucket: the store, its bucket's
/// folder, and what a second process would open it with.
struct Fresh {
    s: DistStorage,
    bucket_dir: PathBuf,
    chunk_store: String,
    index_db: String,
}

fn fresh() -> Fresh {
    let index_db = reel_testsvc::postgres().create_database();
    let s3 = reel_testsvc::s3();
    let chunk_store = s3.create_bucket();
    let s = DistStorage::open_with_env(&chunk_store, &index_db, &s3.env()).unwrap();
    Fresh {
        s,
        bucket_dir: s3.bucket_dir(&chunk_store),
        chunk_store,
        index_db,
    }
}

impl Fresh {
    /// Another process of the same deployment.
    fn another(&self) -> DistStorage {
        DistStorage::open_with_env(&self.chunk_store, &self.index_db, &reel_testsvc::s3().env())
            .unwrap()
    }

    fn objects(&self) -> Vec<(String, u64)> {
        self.s
            .pg()
            .block_on(self.s.objects().list_chunk_objects())
            .unwrap()
    }
}

#[test]
fn duplicates_are_not_counted_twice() {
    let f = fresh();
    storage_checks::duplicates_are_not_counted_twice(&f.s);
    // Two groups stored something: two objects; the duplicate, none.
    assert_eq!(f.objects().len(), 2);
    // sessions + chunks + objects.
    assert_eq!(f.s.session_key_count().unwrap(), 1 + 2 + 2);
}

/// A group is one object; duplicates inside it and of stored chunks are
/// spotted; its chunks are visible (and durable) when it returns.
#[test]
fn a_group_is_one_object_and_spots_duplicates() {
    let f = fresh();
    let s = &f.s;
    let (a, b, c) = (header(1, 1, 2_000), header(1, 0, 1_000), header(2, 0, 5));
    let out = s
        .put_chunks(&[(&a, b"aa"), (&b, b"b"), (&a, b"aa"), (&c, b"c")], NOW)
        .unwrap();
    assert_eq!(
        out,
        [
            PutOutcome::Stored { new_session: true },
            PutOutcome::Stored { new_session: false },
            PutOutcome::Duplicate,
            PutOutcome::Stored { new_session: true },
        ]
    );
    let objects = f.objects();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0].1, 4, "aa + b + c, the duplicate left out");
    let m = s.session(&a.session).unwrap().unwrap();
    assert_eq!((m.chunks, m.bytes, m.started_at), (2, 3, 1_000));
    assert_eq!(s.stats().unwrap().sessions, 2);
    assert_eq!(
        s.put_chunks(&[(&b, b"b")], NOW).unwrap(),
        [PutOutcome::Duplicate]
    );
    assert_eq!(f.objects().len(), 1, "a group of duplicates writes nothing");
    // Another process reads what this one wrote.
    let other = f.another();
    assert_eq!(other.read_chunk(&a.session, 1).unwrap().unwrap(), b"aa");
    assert_eq!(other.session(&c.session).unwrap().unwrap().chunks, 1);
}

#[test]
fn an_earlier_chunk_moves_the_start_key() {
    storage_checks::an_earlier_chunk_moves_the_start_key(&fresh().s);
}

#[test]
fn chunks_come_back_in_seq_order_from_a_seq() {
    storage_checks::chunks_come_back_in_seq_order_from_a_seq(&fresh().s);
}

#[test]
fn listing_is_newest_first_and_paginates() {
    storage_checks::listing_is_newest_first_and_paginates(&fresh().s);
}

/// Listing walks past a filter that drops more rows than one query reads.
#[test]
fn listing_pages_through_many_filtered_rows() {
    let f = fresh();
    let s = &f.s;
    let hs: Vec<ChunkHeader> = (0..150u32)
        .map(|i| ChunkHeader {
            session: SessionId([(i % 250) as u8 + 1; 16]),
            ..header(0, 0, u64::from(i) * 10)
        })
        .collect();
    let batch: Vec<(&ChunkHeader, &[u8])> = hs.iter().map(|h| (h, &b"c"[..])).collect();
    s.put_chunks(&batch, NOW).unwrap();
    // Only the oldest two pass: the walk reads past 148 others.
    let keep = |m: &SessionMeta| m.started_at < 20;
    let p = list(s, 0, u64::MAX, None, 1, keep);
    assert_eq!(p.sessions[0].started_at, 10);
    let p = list(s, 0, u64::MAX, p.next, 1, keep);
    assert_eq!(p.sessions[0].started_at, 0);
    assert!(p.next.is_none());
}

#[test]
fn delete_removes_every_row() {
    let f = fresh();
    let s = &f.s;
    for seq in 0..5 {
        s.put_chunk(&header(1, seq, 1_000), b"c", NOW).unwrap();
    }
    s.put_chunk(&header(2, 0, 1_000), b"c", NOW).unwrap();
    let c = Comment::new(SessionId([1; 16]), 5, "hi".into(), "admin".into(), NOW).unwrap();
    assert!(s.add_comment(&c).unwrap());
    assert!(s.delete_session(&SessionId([1; 16])).unwrap());
    // The other session: its row, its chunk, its object.
    assert_eq!(s.session_key_count().unwrap(), 3);
    assert!(!s.delete_session(&SessionId([1; 16])).unwrap());
    assert!(s.session(&SessionId([1; 16])).unwrap().is_none());
    assert!(s.chunks(&SessionId([1; 16]), 0).unwrap().is_empty());
    assert!(s.comments(&SessionId([1; 16])).unwrap().is_empty());
    assert!(s.delete_session(&SessionId([2; 16])).unwrap());
    assert_eq!(s.session_key_count().unwrap(), 0, "no row in any table");
    assert!(f.objects().is_empty(), "no object in the bucket");
}

/// The bytes of a deleted session are in no file under the bucket's
/// folder; another session whose chunks shared its objects reads back
/// intact, also through another process.
#[test]
fn delete_removes_the_sessions_bytes_from_the_bucket() {
    let f = fresh();
    let s = &f.s;
    let secret = |seq: u32| format!("SECRET-chunk-bytes-{seq}-of-the-deleted-one");
    let kept = |seq: u32| format!("KEPT-chunk-bytes-{seq}-of-the-neighbour");
    // Three groups, each holding chunks of both sessions: every object is
    // shared.
    for seq in 0..3u32 {
        let (h1, r1) = visit_chunk(1, seq, &secret(seq));
        let (h2, r2) = visit_chunk(2, seq, &kept(seq));
        s.put_chunks(&[(&h1, &r1), (&h2, &r2)], NOW).unwrap();
    }
    // And one object of the deleted session's alone.
    let (h1, r1) = visit_chunk(1, 3, &secret(3));
    s.put_chunk(&h1, &r1, NOW).unwrap();
    assert_eq!(f.objects().len(), 4);
    let expect: Vec<(u32, Vec<u8>)> = (0..3u32)
        .map(|seq| (seq, visit_chunk(2, seq, &kept(seq)).1))
        .collect();
    // The chunks are compressed: what is searched for is their bytes.
    let needles: Vec<Vec<u8>> = (0..4u32)
        .map(|seq| visit_chunk(1, seq, &secret(seq)).1)
        .collect();
    for n in &needles {
        assert_eq!(files_containing(&f.bucket_dir, n).len(), 1);
    }
    assert!(s.delete_session(&SessionId([1; 16])).unwrap());
    for n in &needles {
        assert!(
            files_containing(&f.bucket_dir, n).is_empty(),
            "a deleted chunk's bytes are still in the bucket"
        );
    }
    for (_, bytes) in &expect {
        assert_eq!(files_containing(&f.bucket_dir, bytes).len(), 1);
    }
    assert_eq!(
        f.objects().len(),
        3,
        "the shared ones rewritten, the own one gone"
    );
    assert_eq!(s.chunks(&SessionId([2; 16]), 0).unwrap(), expect);
    let other = f.another();
    assert_eq!(other.chunks(&SessionId([2; 16]), 0).unwrap(), expect);
    assert_eq!(
        other.read_chunk(&SessionId([2; 16]), 2).unwrap().unwrap(),
        expect[2].1
    );
    let m = other.session(&SessionId([2; 16])).unwrap().unwrap();
    assert_eq!(m.chunks, 3);
    assert!(s.delete_session(&SessionId([2; 16])).unwrap());
    assert_eq!(s.session_key_count().unwrap(), 0, "no row left");
    assert!(f.objects().is_empty(), "no object left");
}

/// Two processes deleting two sessions whose chunks share objects (with a
/// third session's) at once: neither leaves a byte behind, whichever
/// rewrites first, and the third reads back intact.
#[test]
fn concurrent_deletes_of_neighbours_leave_no_byte() {
    let f = fresh();
    let other = f.another();
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for seq in 0..6u32 {
        let group: Vec<(ChunkHeader, Vec<u8>)> = (1..=3u8)
            .map(|id| visit_chunk(id, seq, &format!("chunk {seq} of {id}")))
            .collect();
        let batch: Vec<(&ChunkHeader, &[u8])> = group.iter().map(|(h, r)| (h, &r[..])).collect();
        f.s.put_chunks(&batch, NOW).unwrap();
        gone.push(group[0].1.clone());
        gone.push(group[1].1.clone());
        kept.push((seq, group[2].1.clone()));
    }
    let (a, b) = std::thread::scope(|t| {
        let a = t.spawn(|| f.s.delete_session(&SessionId([1; 16])));
        let b = t.spawn(|| other.delete_session(&SessionId([2; 16])));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.unwrap() && b.unwrap());
    for bytes in &gone {
        assert!(files_containing(&f.bucket_dir, bytes).is_empty());
    }
    assert_eq!(f.s.chunks(&SessionId([3; 16]), 0).unwrap(), kept);
    let objects = f.objects().len();
    assert!((1..=6).contains(&objects), "{objects}");
    assert!(other.delete_session(&SessionId([3; 16])).unwrap());
    assert_eq!(f.s.session_key_count().unwrap(), 0, "no row left");
    assert!(f.objects().is_empty(), "no object left");
}

/// A chunk whose bytes in the bucket changed is reported damaged, alone.
#[test]
fn a_damaged_chunk_is_reported() {
    let f = fresh();
    let s = &f.s;
    s.put_chunks(
        &[
            (&header(1, 0, 1), &b"first-chunk-bytes"[..]),
            (&header(1, 1, 2), &b"second-chunk-bytes"[..]),
        ],
        NOW,
    )
    .unwrap();
    let files = files_containing(&f.bucket_dir, b"second-chunk-bytes");
    assert_eq!(files.len(), 1);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let at = bytes.windows(6).position(|w| w == b"second").unwrap();
    bytes[at] = b'S';
    std::fs::write(&files[0], bytes).unwrap();
    let e = s.read_chunk(&SessionId([1; 16]), 1).unwrap_err();
    assert!(matches!(e, StoreError::Damaged { seq: 1, .. }), "{e:?}");
    assert_eq!(
        s.read_chunk(&SessionId([1; 16]), 0).unwrap().unwrap(),
        b"first-chunk-bytes"
    );
}

#[test]
fn retention_scan_and_stats() {
    let f = fresh();
    let s = &f.s;
    storage_checks::retention_scan_and_stats(s);
    assert!(s.stats().unwrap().size_on_disk > 0);
    assert_eq!(s.session_key_count().unwrap(), 2 * 3);
    s.sync().unwrap();
}

#[test]
fn config_round_trips_across_processes() {
    let f = fresh();
    let s = &f.s;
    assert_eq!(s.config_get("k").unwrap(), None);
    s.config_set("k", "v").unwrap();
    s.config_set("k", "w").unwrap();
    let other = f.another();
    assert_eq!(other.config_get("k").unwrap().as_deref(), Some("w"));
    assert_eq!(other.config_init("k", "x").unwrap(), "w");
    assert_eq!(other.config_init("fresh", "1").unwrap(), "1");
    assert_eq!(
        s.config_init("fresh", "2").unwrap(),
        "1",
        "the first value wins"
    );
    s.config_remove("k").unwrap();
    assert_eq!(other.config_get("k").unwrap(), None);
    assert_eq!(
        s.session_key_count().unwrap(),
        0,
        "config is not session data"
    );
}

#[test]
fn comments_and_shares() {
    let f = fresh();
    let s = &f.s;
    let id = SessionId([1; 16]);
    let ghost = SessionId([2; 16]);
    s.put_chunk(&header(1, 0, 1_000), b"c", NOW).unwrap();
    let late = Comment::new(id, 900, "late".into(), "a".into(), NOW).unwrap();
    let early = Comment::new(id, 100, "early".into(), "b".into(), NOW).unwrap();
    assert!(s.add_comment(&late).unwrap());
    assert!(s.add_comment(&early).unwrap());
    let nobody = Comment::new(ghost, 1, "x".into(), "a".into(), NOW).unwrap();
    assert!(!s.add_comment(&nobody).unwrap(), "no such session");
    assert_eq!(s.comments(&id).unwrap(), [early, late]);
    let share = Share {
        session: id,
        created_at: NOW,
        expires_at: NOW + 1_000,
        created_by: "a".into(),
    };
    assert!(s.put_share(&[7; 32], &share).unwrap());
    assert!(!s
        .put_share(
            &[8; 32],
            &Share {
                session: ghost,
                ..share.clone()
            }
        )
        .unwrap());
    assert_eq!(s.share(&[7; 32]).unwrap(), Some(share.clone()));
    assert_eq!(s.shares_of(&id).unwrap(), [([7; 32], share.clone())]);
    assert!(s.delete_share(&[7; 32]).unwrap());
    assert!(!s.delete_share(&[7; 32]).unwrap());
    assert!(s.put_share(&[9; 32], &share).unwrap());
    assert!(s.delete_session(&id).unwrap());
    assert_eq!(s.share(&[9; 32]).unwrap(), None, "revoked with its session");
    assert!(s.comments(&id).unwrap().is_empty());
    assert_eq!(s.session_key_count().unwrap(), 0);
}

/// Two processes storing the same chunks at once: each stored once,
/// counted once.
#[test]
fn concurrent_processes_store_each_chunk_once() {
    let f = fresh();
    let other = f.another();
    let chunks: Vec<(ChunkHeader, Vec<u8>)> =
        (0..20u32).map(|seq| visit_chunk(5, seq, "same")).collect();
    let put_all = |s: &DistStorage| {
        let mut stored = 0;
        for group in chunks.chunks(4) {
            let batch: Vec<(&ChunkHeader, &[u8])> =
                group.iter().map(|(h, r)| (h, &r[..])).collect();
            for o in s.put_chunks(&batch, NOW).unwrap() {
                if o != PutOutcome::Duplicate {
                    stored += 1;
                }
            }
        }
        stored
    };
    let (a, b) = std::thread::scope(|t| {
        let a = t.spawn(|| put_all(&f.s));
        let b = t.spawn(|| put_all(&other));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a + b, 20);
    let m = f.s.session(&SessionId([5; 16])).unwrap().unwrap();
    assert_eq!((m.chunks, m.event_count), (20, 21));
    assert_eq!(
        f.s.chunk_seqs(&m.id, 0).unwrap(),
        (0..20).collect::<Vec<_>>()
    );
}

/// One sequence of groups, deletes and reads on `MemStorage` and on
/// `DistStorage`: every answer the same (metadata with its insights,
/// listings, chunks, counts).
#[test]
fn backends_agree() {
    let f = fresh();
    let dist = &f.s;
    let mem = MemStorage::default();
    let backends: [&dyn Storage; 2] = [&mem, dist];
    // A small deterministic generator (xorshift).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut next_seq = [0u32; 6];
    for round in 0..40 {
        if round % 9 == 8 {
            let id = SessionId([next(6) as u8 + 1; 16]);
            let r: Vec<bool> = backends
                .iter()
                .map(|b| b.delete_session(&id).unwrap())
                .collect();
            assert_eq!(r[0], r[1], "delete of {id}");
            continue;
        }
        // A group of 1 to 5 chunks of random sessions, some resent.
        let mut group = Vec::new();
        for _ in 0..next(5) + 1 {
            let s = next(6) as usize;
            let seq = if next_seq[s] > 0 && next(4) == 0 {
                next(u64::from(next_seq[s])) as u32
            } else {
                next_seq[s] += 1;
                next_seq[s] - 1
            };
            group.push(visit_chunk(s as u8 + 1, seq, &format!("r{round}")));
        }
        let batch: Vec<(&ChunkHeader, &[u8])> = group.iter().map(|(h, r)| (h, &r[..])).collect();
        let now = NOW + round;
        // MemStorage has no group step: one by one is what it does.
        let m: Vec<PutOutcome> = batch
            .iter()
            .map(|(h, r)| mem.put_chunk(h, r, now).unwrap())
            .collect();
        let d = dist.put_chunks(&batch, now).unwrap();
        assert_eq!(m, d, "round {round}");
    }
    for id in 1..=6u8 {
        let id = SessionId([id; 16]);
        let [m, d] = backends.map(|b| b.session(&id).unwrap());
        assert_eq!(m, d, "{id}");
        let [m, d] = backends.map(|b| b.chunks(&id, 0).unwrap());
        assert_eq!(m, d, "{id}");
        let [m, d] = backends.map(|b| b.chunk_seqs(&id, 2).unwrap());
        assert_eq!(m, d, "{id}");
    }
    let mut pages = backends.map(|b| list(b, 0, u64::MAX, None, 2, |_| true));
    loop {
        assert_eq!(pages[0].sessions, pages[1].sessions);
        assert_eq!(pages[0].next, pages[1].next);
        let Some(next) = pages[0].next else { break };
        pages = backends.map(|b| list(b, 0, u64::MAX, Some(next), 2, |_| true));
    }
    let [mut m, mut d] = backends.map(|b| b.inactive_before(NOW + 20).unwrap());
    m.sort();
    d.sort();
    assert_eq!(m, d);
    let [m, d] = backends.map(|b| b.stats().unwrap().sessions);
    assert_eq!(m, d);
}
