//! The checks of the [`Storage`] contract that every backend passes the
//! same way (invariant 1 of [`super`]: duplicates, counters, the start
//! key; listing order and pages; chunk order; retention's scan). Each
//! backend's tests (`log.rs`, `mem.rs`, `dist/tests.rs`) run them on a
//! fresh store of theirs, then check what only that backend keeps (its
//! keys, rows, objects, files).

use super::test_support::{header, list, NOW};
use super::{Page, PutOutcome, Storage};
use crate::index::SessionMeta;
use reel_shared::SessionId;

/// A chunk stored twice counts once; a second one counts.
pub fn duplicates_are_not_counted_twice(s: &dyn Storage) {
    let h = header(1, 0, 1_000);
    assert_eq!(
        s.put_chunk(&h, b"abc", NOW).unwrap(),
        PutOutcome::Stored { new_session: true }
    );
    assert_eq!(s.put_chunk(&h, b"abc", NOW).unwrap(), PutOutcome::Duplicate);
    assert_eq!(
        s.put_chunk(&header(1, 1, 1_200), b"de", NOW).unwrap(),
        PutOutcome::Stored { new_session: false }
    );
    let m = s.session(&h.session).unwrap().unwrap();
    assert_eq!(
        (m.chunks, m.bytes, m.event_count, m.click_count),
        (2, 5, 6, 2)
    );
}

/// A chunk earlier than the session's first moves where it is listed.
pub fn an_earlier_chunk_moves_the_start_key(s: &dyn Storage) {
    s.put_chunk(&header(1, 5, 5_000), b"x", NOW).unwrap();
    s.put_chunk(&header(1, 0, 1_000), b"y", NOW).unwrap();
    let m = s.session(&SessionId([1; 16])).unwrap().unwrap();
    assert_eq!((m.started_at, m.ended_at), (1_000, 5_100));
    let page = list(s, 0, u64::MAX, None, 10, |_| true);
    assert_eq!(page.sessions, vec![m]);
    assert!(list(s, 2_000, u64::MAX, None, 10, |_| true)
        .sessions
        .is_empty());
}

/// Chunks (and their seqs) come back in seq order, from a seq on.
pub fn chunks_come_back_in_seq_order_from_a_seq(s: &dyn Storage) {
    for seq in [3u32, 1, 256, 0, 2] {
        s.put_chunk(
            &header(1, seq, 1_000 + u64::from(seq)),
            &seq.to_le_bytes(),
            NOW,
        )
        .unwrap();
    }
    s.put_chunk(&header(2, 0, 1), b"other", NOW).unwrap();
    let id = SessionId([1; 16]);
    let seqs_from = |from: u32| -> Vec<u32> {
        let chunks = s.chunks(&id, from).unwrap();
        for (seq, bytes) in &chunks {
            assert_eq!(bytes, &seq.to_le_bytes());
        }
        chunks.iter().map(|c| c.0).collect()
    };
    assert_eq!(seqs_from(0), [0, 1, 2, 3, 256]);
    assert_eq!(seqs_from(3), [3, 256]);
    assert_eq!(s.chunk_seqs(&id, 2).unwrap(), [2, 3, 256]);
    assert_eq!(
        s.read_chunk(&id, 256).unwrap().unwrap(),
        &256u32.to_le_bytes()[..]
    );
    assert!(s.read_chunk(&id, 4).unwrap().is_none());
    assert!(s.chunks(&SessionId([9; 16]), 0).unwrap().is_empty());
}

/// Newest first; pages follow each other whatever the filter drops; the
/// time range bounds the start.
pub fn listing_is_newest_first_and_paginates(s: &dyn Storage) {
    for id in 1..=9u8 {
        s.put_chunk(&header(id, 0, u64::from(id) * 1_000), b"c", NOW)
            .unwrap();
    }
    let ids = |p: &Page| p.sessions.iter().map(|m| m.id.0[0]).collect::<Vec<_>>();
    let p1 = list(s, 0, u64::MAX, None, 4, |_| true);
    assert_eq!(ids(&p1), [9, 8, 7, 6]);
    let p2 = list(s, 0, u64::MAX, p1.next, 4, |_| true);
    assert_eq!(ids(&p2), [5, 4, 3, 2]);
    let p3 = list(s, 0, u64::MAX, p2.next, 4, |_| true);
    assert_eq!(ids(&p3), [1]);
    assert!(p3.next.is_none());
    assert!(list(s, 0, u64::MAX, None, 9, |_| true).next.is_none());
    let odd = |m: &SessionMeta| m.error_count > 0;
    let o1 = list(s, 0, u64::MAX, None, 2, odd);
    assert_eq!(ids(&o1), [9, 7]);
    let o2 = list(s, 0, u64::MAX, o1.next, 2, odd);
    assert_eq!(ids(&o2), [5, 3]);
    let o3 = list(s, 0, u64::MAX, o2.next, 2, odd);
    assert_eq!(ids(&o3), [1]);
    assert_eq!(ids(&list(s, 3_000, 5_000, None, 10, |_| true)), [5, 4, 3]);
    assert!(list(s, 5_000, 3_000, None, 10, |_| true)
        .sessions
        .is_empty());
}

/// Retention finds the sessions inactive since a time (by their last
/// chunk's arrival, not their events' times); the count follows deletes.
pub fn retention_scan_and_stats(s: &dyn Storage) {
    s.put_chunk(&header(1, 0, 1_000), b"a", NOW - 10_000)
        .unwrap();
    s.put_chunk(&header(2, 0, NOW + 50_000), b"b", NOW - 10_000)
        .unwrap();
    s.put_chunk(&header(3, 0, 1_000), b"c", NOW - 10_000)
        .unwrap();
    s.put_chunk(&header(3, 1, 1_000), b"d", NOW).unwrap();
    let mut old = s.inactive_before(NOW - 1).unwrap();
    old.sort();
    assert_eq!(old, [SessionId([1; 16]), SessionId([2; 16])]);
    assert!(s.inactive_before(NOW - 10_000).unwrap().is_empty());
    assert_eq!(s.stats().unwrap().sessions, 3);
    assert!(s.delete_session(&SessionId([3; 16])).unwrap());
    assert_eq!(s.stats().unwrap().sessions, 2);
}
