//! The sled backend of [`Storage`].
//!
//! Layout (one sled tree each):
//!
//! | tree       | key                                   | value                          |
//! |------------|---------------------------------------|--------------------------------|
//! | `chunks`   | session id (16 bytes) ++ seq (u32 BE) | the chunk's bytes, as received |
//! | `sessions` | session id (16 bytes)                 | [`SessionMeta`] as JSON        |
//! | `by_start` | started_at ms (u64 BE) ++ session id  | empty                          |
//! | `config`   | name (UTF-8)                          | value (UTF-8)                  |
//!
//! How the module-level invariants of [`crate::store`] hold here:
//!
//! 1. A chunk, its session's metadata and its `by_start` entry change
//!    together, in one multi-tree transaction, which also checks for a
//!    duplicate. `by_start` holds exactly one key per session, the one
//!    matching its current `started_at`.
//! 2. Big-endian integers in keys make byte order equal numeric order: a
//!    session's chunks iterate in seq order, `by_start` in start-time order.
//! 3. [`Storage::sync`] is sled's blocking `flush` (write and fsync the
//!    log). The background flusher is off (`flush_every_ms(None)`): every
//!    acknowledged write is synced explicitly anyway, and a second flusher
//!    would only compete with the group commit for the log.

use super::{ListRange, Page, PutOutcome, Storage, StorageStats, StoreError};
use crate::index::{self, SessionMeta};
use reel_shared::{ChunkHeader, SessionId};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};
use sled::{IVec, Tree};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Db(e),
        }
    }
}

pub struct SledStorage {
    db: sled::Db,
    chunks: Tree,
    sessions: Tree,
    by_start: Tree,
    config: Tree,
    /// `sessions.len()` walks the tree; this is kept instead.
    session_count: AtomicU64,
}

fn chunk_key(id: &SessionId, seq: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(id.as_bytes());
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn decode_meta(bytes: &[u8]) -> Result<SessionMeta, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode_meta(m: &SessionMeta) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(m).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// sled writes a log record larger than a quarter segment as a file of
/// its own ("blob"), and a leaf holds up to 17 values: with the default
/// 512 KiB segments, any leaf of six 20 KB chunks became a new file (create,
/// write, sync) at every rewrite, which cost a fifth of ingest's CPU. With
/// 8 MiB segments a leaf of real chunks stays in the log.
const SEGMENT_SIZE: usize = 8 * 1024 * 1024;
/// sled's default, which databases created before `SEGMENT_SIZE` keep.
const LEGACY_SEGMENT_SIZE: usize = 512 * 1024;

/// One chunk's part of a put transaction. Reads see the transaction's own
/// earlier writes, so a group holding several chunks of one session (or
/// the same chunk twice) merges them one after the other.
fn put_one(
    chunks: &TransactionalTree,
    sessions: &TransactionalTree,
    by_start: &TransactionalTree,
    header: &ChunkHeader,
    raw: &[u8],
    now_ms: u64,
) -> Result<PutOutcome, ConflictableTransactionError<StoreError>> {
    let ckey = chunk_key(&header.session, header.seq);
    let skey = header.session.as_bytes();
    if chunks.get(ckey)?.is_some() {
        return Ok(PutOutcome::Duplicate);
    }
    let old = match sessions.get(skey)? {
        Some(v) => Some(decode_meta(&v).map_err(ConflictableTransactionError::Abort)?),
        None => None,
    };
    let new_session = old.is_none();
    let old_start = old.as_ref().map(SessionMeta::start_key);
    let meta = index::merge(old, header, raw.len() as u64, now_ms);
    let new_start = meta.start_key();
    if old_start != Some(new_start) {
        if let Some(k) = old_start {
            by_start.remove(&k[..])?;
        }
        by_start.insert(&new_start[..], &[][..])?;
    }
    chunks.insert(&ckey[..], raw)?;
    let bytes = encode_meta(&meta).map_err(ConflictableTransactionError::Abort)?;
    sessions.insert(&skey[..], bytes)?;
    Ok(PutOutcome::Stored { new_session })
}

/// A delete retries this often when ingest keeps adding chunks under it.
const DELETE_ATTEMPTS: usize = 16;

enum DeleteOutcome {
    Deleted,
    NotFound,
    /// A chunk arrived between listing the chunks and the transaction.
    Raced,
}

impl SledStorage {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = match Self::open_db(dir, SEGMENT_SIZE) {
            // A database created before the segment size changed keeps
            // its own: sled refuses to change it across restarts.
            Err(StoreError::Db(sled::Error::Unsupported(ref m)))
                if m.contains("io buffer size") =>
            {
                Self::open_db(dir, LEGACY_SEGMENT_SIZE)?
            }
            r => r?,
        };
        let sessions = db.open_tree("sessions")?;
        Ok(SledStorage {
            chunks: db.open_tree("chunks")?,
            by_start: db.open_tree("by_start")?,
            config: db.open_tree("config")?,
            session_count: AtomicU64::new(sessions.len() as u64),
            sessions,
            db,
        })
    }

    fn open_db(dir: &Path, segment_size: usize) -> Result<sled::Db, StoreError> {
        sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .segment_size(segment_size)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Locked(dir.display().to_string())
                }
                e => StoreError::Db(e),
            })
    }

    /// One delete attempt; see [`Storage::delete_session`].
    fn try_delete(&self, id: &SessionId) -> Result<DeleteOutcome, StoreError> {
        let skey = id.as_bytes();
        // A transaction can only touch keys it names, so the chunk keys
        // are listed first and the transaction checks, through the chunk
        // count in the metadata, that the list is still complete.
        let keys: Vec<IVec> = self
            .chunks
            .scan_prefix(skey)
            .keys()
            .collect::<Result<_, _>>()?;
        let outcome = (&self.chunks, &self.sessions, &self.by_start).transaction(
            |(chunks, sessions, by_start)| {
                let Some(v) = sessions.get(skey)? else {
                    return Ok(DeleteOutcome::NotFound);
                };
                let meta = decode_meta(&v).map_err(ConflictableTransactionError::Abort)?;
                if meta.chunks != keys.len() as u64 {
                    return Ok(DeleteOutcome::Raced);
                }
                for k in &keys {
                    chunks.remove(k)?;
                }
                sessions.remove(&skey[..])?;
                by_start.remove(&meta.start_key()[..])?;
                Ok(DeleteOutcome::Deleted)
            },
        )?;
        Ok(outcome)
    }
}

impl Storage for SledStorage {
    fn put_chunk(
        &self,
        header: &ChunkHeader,
        raw: &[u8],
        now_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let outcomes = self.put_chunks(&[(header, raw)], now_ms)?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("no outcome for a chunk".into()))
    }

    fn put_chunks(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        let outcomes = (&self.chunks, &self.sessions, &self.by_start).transaction(
            |(chunks, sessions, by_start)| {
                // Rebuilt on every attempt: sled reruns a conflicting
                // transaction from the start.
                let mut outcomes = Vec::with_capacity(batch.len());
                for (header, raw) in batch {
                    outcomes.push(put_one(chunks, sessions, by_start, header, raw, now_ms)?);
                }
                Ok(outcomes)
            },
        )?;
        let new = outcomes
            .iter()
            .filter(|o| **o == (PutOutcome::Stored { new_session: true }))
            .count();
        self.session_count.fetch_add(new as u64, Ordering::Relaxed);
        Ok(outcomes)
    }

    fn has_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.sessions.contains_key(id.as_bytes())?)
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError> {
        self.sessions
            .get(id.as_bytes())?
            .map(|v| decode_meta(&v))
            .transpose()
    }

    fn chunks(&self, id: &SessionId, from: u32) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        let lo = chunk_key(id, from);
        let hi = chunk_key(id, u32::MAX);
        self.chunks
            .range(lo..=hi)
            .map(|kv| {
                let (k, v) = kv?;
                let seq_bytes: [u8; 4] = k
                    .get(16..20)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| StoreError::Corrupt("short chunk key".into()))?;
                Ok((u32::from_be_bytes(seq_bytes), v.to_vec()))
            })
            .collect()
    }

    fn read_chunk(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.chunks.get(chunk_key(id, seq))?.map(|v| v.to_vec()))
    }

    fn list_sessions(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError> {
        let lo = index::start_key(range.since, &SessionId([0; 16])).to_vec();
        let hi_incl = index::start_key(range.until, &SessionId([0xff; 16]));
        let hi = match range.before {
            Some(c) if c <= hi_incl => Bound::Excluded(c.to_vec()),
            _ => Bound::Included(hi_incl.to_vec()),
        };
        let empty = match &hi {
            Bound::Excluded(h) => *h <= lo,
            Bound::Included(h) => *h < lo,
            Bound::Unbounded => false,
        };
        let mut page = Page {
            sessions: Vec::new(),
            next: None,
        };
        if empty {
            return Ok(page);
        }
        for key in self.by_start.range((Bound::Included(lo), hi)).keys().rev() {
            let key = key?;
            let Some(id) = key.get(8..).and_then(SessionId::from_slice) else {
                continue;
            };
            // A session deleted between the two reads: skip it.
            let Some(meta) = self.session(&id)? else {
                continue;
            };
            if !keep(&meta) {
                continue;
            }
            if page.sessions.len() == range.limit {
                page.next = page.sessions.last().map(SessionMeta::start_key);
                break;
            }
            page.sessions.push(meta);
        }
        Ok(page)
    }

    fn inactive_before(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError> {
        let mut out = Vec::new();
        for v in self.sessions.iter().values() {
            let meta = decode_meta(&v?)?;
            if meta.last_activity() < cutoff_ms {
                out.push(meta.id);
            }
        }
        Ok(out)
    }

    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        for _ in 0..DELETE_ATTEMPTS {
            match self.try_delete(id)? {
                DeleteOutcome::Deleted => {
                    self.session_count.fetch_sub(1, Ordering::Relaxed);
                    return Ok(true);
                }
                DeleteOutcome::NotFound => return Ok(false),
                DeleteOutcome::Raced => continue,
            }
        }
        Err(StoreError::Busy)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn config_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.config
            .get(name.as_bytes())?
            .map(|v| String::from_utf8(v.to_vec()).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    fn config_set(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.config.insert(name.as_bytes(), value.as_bytes())?;
        Ok(())
    }

    fn stats(&self) -> Result<StorageStats, StoreError> {
        Ok(StorageStats {
            sessions: self.session_count.load(Ordering::Relaxed),
            size_on_disk: self.db.size_on_disk()?,
        })
    }

    fn session_key_count(&self) -> Result<usize, StoreError> {
        // Every tree but `config`, including any a later version adds.
        let mut n = 0;
        for name in self.db.tree_names() {
            if name == b"config" || name == b"__sled__default" {
                continue;
            }
            n += self.db.open_tree(name)?.len();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::ChunkStats;

    const NOW: u64 = 1_800_000_000_000;

    fn open() -> (tempfile::TempDir, SledStorage) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStorage::open(dir.path()).unwrap();
        (dir, store)
    }

    impl SledStorage {
        fn key_counts(&self) -> (usize, usize, usize) {
            (self.chunks.len(), self.sessions.len(), self.by_start.len())
        }

        fn list(
            &self,
            since: u64,
            until: u64,
            before: Option<[u8; crate::index::START_KEY_LEN]>,
            limit: usize,
            mut keep: impl FnMut(&SessionMeta) -> bool,
        ) -> Result<Page, StoreError> {
            let range = ListRange {
                since,
                until,
                before,
                limit,
            };
            self.list_sessions(range, &mut keep)
        }
    }

    fn header(id: u8, seq: u32, t: u64) -> ChunkHeader {
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

    #[test]
    fn duplicates_are_not_counted_twice() {
        let (_d, s) = open();
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
        assert_eq!(s.key_counts(), (2, 1, 1));
    }

    #[test]
    fn a_group_merges_chunks_of_one_session_and_spots_duplicates() {
        let (_d, s) = open();
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
        let m = s.session(&a.session).unwrap().unwrap();
        assert_eq!((m.chunks, m.bytes, m.started_at), (2, 3, 1_000));
        assert_eq!(s.key_counts(), (3, 2, 2));
        assert_eq!(s.stats().unwrap().sessions, 2);
    }

    #[test]
    fn an_earlier_chunk_moves_the_start_key() {
        let (_d, s) = open();
        s.put_chunk(&header(1, 5, 5_000), b"x", NOW).unwrap();
        s.put_chunk(&header(1, 0, 1_000), b"y", NOW).unwrap();
        let m = s.session(&SessionId([1; 16])).unwrap().unwrap();
        assert_eq!((m.started_at, m.ended_at), (1_000, 5_100));
        assert_eq!(s.key_counts(), (2, 1, 1), "one by_start key per session");
        let page = s.list(0, u64::MAX, None, 10, |_| true).unwrap();
        assert_eq!(page.sessions, vec![m]);
    }

    #[test]
    fn chunks_come_back_in_seq_order_from_a_seq() {
        let (_d, s) = open();
        for seq in [3u32, 1, 256, 0, 2] {
            s.put_chunk(
                &header(1, seq, 1_000 + u64::from(seq)),
                &seq.to_le_bytes(),
                NOW,
            )
            .unwrap();
        }
        s.put_chunk(&header(2, 0, 1), b"other", NOW).unwrap();
        let seqs: Vec<u32> = s
            .chunks(&SessionId([1; 16]), 0)
            .unwrap()
            .iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 256]);
        let from: Vec<u32> = s
            .chunks(&SessionId([1; 16]), 3)
            .unwrap()
            .iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(from, [3, 256]);
        assert_eq!(
            s.read_chunk(&SessionId([1; 16]), 256).unwrap().unwrap(),
            &256u32.to_le_bytes()[..]
        );
        assert!(s.read_chunk(&SessionId([1; 16]), 4).unwrap().is_none());
    }

    #[test]
    fn listing_is_newest_first_and_paginates() {
        let (_d, s) = open();
        for id in 1..=9u8 {
            s.put_chunk(&header(id, 0, u64::from(id) * 1_000), b"c", NOW)
                .unwrap();
        }
        let ids = |p: &Page| p.sessions.iter().map(|m| m.id.0[0]).collect::<Vec<_>>();
        let p1 = s.list(0, u64::MAX, None, 4, |_| true).unwrap();
        assert_eq!(ids(&p1), [9, 8, 7, 6]);
        let p2 = s.list(0, u64::MAX, p1.next, 4, |_| true).unwrap();
        assert_eq!(ids(&p2), [5, 4, 3, 2]);
        let p3 = s.list(0, u64::MAX, p2.next, 4, |_| true).unwrap();
        assert_eq!(ids(&p3), [1]);
        assert!(p3.next.is_none());
        // An exact fit has no next page.
        let all = s.list(0, u64::MAX, None, 9, |_| true).unwrap();
        assert!(all.next.is_none());
        // Filters, with pagination over the filtered set.
        let odd = |m: &SessionMeta| m.error_count > 0;
        let o1 = s.list(0, u64::MAX, None, 2, odd).unwrap();
        assert_eq!(ids(&o1), [9, 7]);
        let o2 = s.list(0, u64::MAX, o1.next, 2, odd).unwrap();
        assert_eq!(ids(&o2), [5, 3]);
        let o3 = s.list(0, u64::MAX, o2.next, 2, odd).unwrap();
        assert_eq!(ids(&o3), [1]);
        // The time range, inclusive at both ends.
        assert_eq!(
            ids(&s.list(3_000, 5_000, None, 10, |_| true).unwrap()),
            [5, 4, 3]
        );
        assert!(s
            .list(5_000, 3_000, None, 10, |_| true)
            .unwrap()
            .sessions
            .is_empty());
    }

    #[test]
    fn delete_removes_every_key() {
        let (_d, s) = open();
        for seq in 0..5 {
            s.put_chunk(&header(1, seq, 1_000), b"c", NOW).unwrap();
        }
        s.put_chunk(&header(2, 0, 1_000), b"c", NOW).unwrap();
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        assert_eq!(s.key_counts(), (1, 1, 1), "only the other session is left");
        assert!(!s.delete_session(&SessionId([1; 16])).unwrap());
        assert!(s.session(&SessionId([1; 16])).unwrap().is_none());
        assert!(s.chunks(&SessionId([1; 16]), 0).unwrap().is_empty());
        assert!(s.delete_session(&SessionId([2; 16])).unwrap());
        assert_eq!(s.key_counts(), (0, 0, 0));
        assert_eq!(s.session_key_count().unwrap(), 0, "no key in any tree");
    }

    #[test]
    fn retention_scan_and_stats() {
        let (_d, s) = open();
        // Last activity is when the server last stored a chunk, whatever
        // the page's clock said.
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
        assert!(s.stats().unwrap().size_on_disk > 0);
        assert_eq!(s.session_key_count().unwrap(), 2 * 3);
    }

    #[test]
    fn a_second_open_of_the_same_dir_is_refused_clearly() {
        let (d, _s) = open();
        let e = SledStorage::open(d.path()).err().unwrap();
        assert!(matches!(e, StoreError::Locked(_)), "{e:?}");
        assert!(e.to_string().contains("in use by another process"), "{e}");
    }

    #[test]
    fn a_database_with_the_old_segment_size_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path())
                .segment_size(LEGACY_SEGMENT_SIZE)
                .open()
                .unwrap();
            db.open_tree("config").unwrap().insert("k", "v").unwrap();
            db.flush().unwrap();
        }
        let s = SledStorage::open(dir.path()).unwrap();
        assert_eq!(s.config_get("k").unwrap().as_deref(), Some("v"));
        s.put_chunk(&header(1, 0, 1), b"c", NOW).unwrap();
    }

    #[test]
    fn config_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStorage::open(dir.path()).unwrap();
            assert_eq!(s.config_get("k").unwrap(), None);
            s.config_set("k", "v").unwrap();
            s.put_chunk(&header(1, 0, 1), b"c", NOW).unwrap();
            s.sync().unwrap();
        }
        let s = SledStorage::open(dir.path()).unwrap();
        assert_eq!(s.config_get("k").unwrap().as_deref(), Some("v"));
        assert_eq!(s.session(&SessionId([1; 16])).unwrap().unwrap().chunks, 1);
    }
}
