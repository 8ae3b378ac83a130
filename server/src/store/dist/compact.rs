//! Upkeep of the bucket, once per deployment (run with the retention sweep,
//! under its lock, see [`crate::retention`]): compaction of cold sessions
//! and the orphan sweep.
//!
//! Compaction. A group commit writes one object holding the chunks of
//! every session that was recording at that moment, so a session ends up
//! spread over many objects, each shared with others: reading it back
//! costs one ranged GET per object. Once a session has been inactive for
//! [`COLD_AFTER_MS`], its chunks are copied into objects of its own (one,
//! unless it is larger than [`PART_BYTES`]) and its rows pointed at them,
//! in one transaction; the objects it left lose its bytes from their
//! `live_bytes`, and one with no live byte left is removed.
//!
//! Orphans. A process that dies between a group's PUT and its commit
//! leaves an object no row names. The sweep removes objects under
//! `chunks/` that no row names and that are older than [`ORPHAN_AGE_MS`]
//! (by the key's time and by the store's own date), which is far longer
//! than any transaction may run (`pg::UPKEEP_TIMEOUT`), so an object whose
//! commit is still on its way is never taken.
//!
//! Invariants (with those of `dist/mod.rs`):
//!
//! 1. `objects.live_bytes` is the sum of the lengths of the chunk rows
//!    that point into the object; an object whose `live_bytes` reaches 0
//!    has no chunk row, and is removed (its row first, then, through
//!    `doomed_objects`, from the bucket).
//! 2. An object still holding bytes of a session that compaction moved
//!    out (dead bytes) is listed in `moved_ranges (session, object)`. A
//!    delete of that session rewrites those objects too (`chunks.rs`,
//!    `objects_of`), so that none of its bytes stays in the bucket; the
//!    rows go with the object's row (`ON DELETE CASCADE`).
//! 3. Compaction locks the session row first and then its objects' rows
//!    (`FOR UPDATE`, in key order), as a delete does, so the two serialize
//!    without deadlock; it reads the session's chunk rows again once the
//!    objects are locked, and starts over when another transaction moved
//!    them in between. Ingest locks the session row too, so no chunk of
//!    the session arrives during its compaction.

use super::objects::new_key;
use super::pg::Tx;
use super::sessions::{big, unbig};
use super::DistStorage;
use crate::store::StoreError;
use reel_shared::SessionId;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Range;
use std::time::{Duration, Instant};

/// A session inactive this long is cold: it is compacted. The recorder
/// starts a new session after 30 minutes without activity.
pub(crate) const COLD_AFTER_MS: u64 = 60 * 60 * 1000;
/// The largest object compaction writes: a bigger session gets several.
pub(crate) const PART_BYTES: u64 = 16 * 1024 * 1024;
/// An object no row names is removed once it is this old.
pub(crate) const ORPHAN_AGE_MS: u64 = 15 * 60 * 1000;
/// Sessions looked at per query.
const BATCH: i64 = 200;
/// One upkeep run stops starting new work after this long (the rest waits
/// for the next run).
const BUDGET: Duration = Duration::from_secs(600);
/// Where compaction's scan of cold sessions has got to (`config`):
/// `last_activity:session hex`. A session that records again moves past
/// it, and is looked at again once cold.
const CURSOR: &str = "upkeep.compaction_cursor";
/// Object keys below this one are not listed again by the orphan sweep.
const SWEEP_FROM: &str = "upkeep.orphan_sweep_from";

/// What one upkeep run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Upkeep {
    /// Sessions rewritten into objects of their own.
    pub compacted: usize,
    /// Objects written by compaction.
    pub written: usize,
    /// Objects removed because no chunk row used them any more.
    pub emptied: usize,
    /// Orphaned objects removed.
    pub orphans: usize,
}

/// One chunk row of the session being compacted.
struct Loc {
    seq: i64,
    object: String,
    off: u64,
    len: u64,
}

impl Loc {
    fn range(&self) -> Range<u64> {
        self.off..self.off.saturating_add(self.len)
    }
}

impl DistStorage {
    /// Compacts the sessions cold at `now_ms`, then sweeps orphans; stops
    /// starting new work after [`BUDGET`].
    pub(crate) fn compact_and_sweep(&self, now_ms: u64) -> Result<Upkeep, StoreError> {
        let started = Instant::now();
        let mut done = self.compact_cold(now_ms, started)?;
        done.orphans = self.sweep_orphans(now_ms)?;
        Ok(done)
    }

    /// Compacts every cold session not compacted since it was last active.
    pub(crate) fn compact_cold(&self, now_ms: u64, started: Instant) -> Result<Upkeep, StoreError> {
        let cutoff = big(now_ms.saturating_sub(COLD_AFTER_MS));
        let mut done = Upkeep::default();
        let (mut at, mut after) = self.cursor()?;
        while started.elapsed() < BUDGET {
            let batch: Vec<(i64, Vec<u8>)> = self.pg().run(async |c| {
                c.query(
                    "SELECT last_activity, id FROM sessions \
                     WHERE (last_activity, id) > ($1, $2) AND last_activity < $3 \
                     ORDER BY last_activity, id LIMIT $4",
                    &[&at, &after, &cutoff, &BATCH],
                )
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
            })?;
            let Some(last) = batch.last().cloned() else {
                break;
            };
            for (_, id) in &batch {
                let Some(id) = SessionId::from_slice(id) else {
                    continue;
                };
                match self.compact_session(&id, cutoff, now_ms) {
                    Ok(Some((written, emptied))) => {
                        done.compacted += 1;
                        done.written += written;
                        done.emptied += emptied;
                    }
                    Ok(None) => {}
                    // A damaged or vanished object: that session stays as
                    // it is (its reads report the damage); the rest goes on.
                    Err(StoreError::Corrupt(e)) | Err(StoreError::Damaged { detail: e, .. }) => {
                        tracing::warn!(session = %id, "compaction skipped a session: {e}");
                    }
                    Err(e) => return Err(e),
                }
            }
            (at, after) = last;
            self.set_config(CURSOR, Some(&format!("{at}:{}", hex(&after))))?;
        }
        if done.emptied > 0 {
            self.remove_doomed()?;
        }
        Ok(done)
    }

    fn cursor(&self) -> Result<(i64, Vec<u8>), StoreError> {
        let parsed = self.get_config(CURSOR)?.and_then(|v| {
            let (at, id) = v.split_once(':')?;
            Some((at.parse().ok()?, unhex(id)?))
        });
        Ok(parsed.unwrap_or((-1, Vec::new())))
    }

    /// Rewrites one session's chunks into objects of its own when they
    /// are spread over more objects than that needs; `Some((objects
    /// written, objects emptied))` when it did.
    pub(crate) fn compact_session(
        &self,
        id: &SessionId,
        cutoff: i64,
        now_ms: u64,
    ) -> Result<Option<(usize, usize)>, StoreError> {
        let sid = &id.0[..];
        self.pg().tx(async |tx| {
            let Some(row) = tx
                .query_opt(
                    "SELECT last_activity FROM sessions WHERE id = $1 FOR UPDATE",
                    &[&sid],
                )
                .await?
            else {
                return Ok(None); // deleted meanwhile
            };
            if row.try_get::<_, i64>(0)? >= cutoff {
                return Ok(None); // recording again
            }
            let Some(locs) = self.locked_locs(tx, id).await? else {
                return Ok(None);
            };
            let total: u64 = locs.iter().map(|l| l.len).sum();
            let objects: BTreeSet<&str> = locs.iter().map(|l| l.object.as_str()).collect();
            let parts = total.div_ceil(PART_BYTES).max(1) as usize;
            if objects.len() <= parts {
                return Ok(None); // as compact as it gets
            }
            // Parts of at most PART_BYTES (a chunk larger than that alone).
            let mut cut: Vec<&[Loc]> = Vec::new();
            let (mut from, mut size) = (0, 0u64);
            for (i, l) in locs.iter().enumerate() {
                if i > from && size + l.len > PART_BYTES {
                    cut.push(&locs[from..i]);
                    (from, size) = (i, 0);
                }
                size += l.len;
            }
            cut.push(&locs[from..]);
            let now = big(now_ms);
            for part in &cut {
                let body = self.read_part(part).await?;
                let key = new_key(now_ms)?;
                let size = big(body.len() as u64);
                self.objects().put(&key, body).await?;
                tx.execute(
                    "INSERT INTO objects (key, bytes, live_bytes, created_ms) VALUES ($1, $2, $2, $3)",
                    &[&key, &size, &now],
                )
                .await?;
                let mut off = 0u64;
                let (mut seqs, mut offs) = (Vec::new(), Vec::new());
                for l in part.iter() {
                    seqs.push(l.seq);
                    offs.push(big(off));
                    off += l.len;
                }
                tx.execute(
                    "UPDATE chunks SET object = $2, off = u.o \
                     FROM unnest($3::bigint[], $4::bigint[]) AS u(q, o) \
                     WHERE chunks.session = $1 AND chunks.seq = u.q",
                    &[&sid, &key, &seqs, &offs],
                )
                .await?;
            }
            // The objects left behind lose the moved bytes.
            let mut moved: BTreeMap<&str, u64> = BTreeMap::new();
            for l in &locs {
                *moved.entry(l.object.as_str()).or_default() += l.len;
            }
            let mut emptied = 0;
            for (key, bytes) in moved {
                let live: i64 = tx
                    .query_one(
                        "UPDATE objects SET live_bytes = live_bytes - $2 WHERE key = $1 \
                         RETURNING live_bytes",
                        &[&key, &big(bytes)],
                    )
                    .await?
                    .try_get(0)?;
                if live <= 0 {
                    // No chunk row points into it (invariant 1): the row's
                    // delete fails on the foreign key if one still did.
                    tx.execute("DELETE FROM objects WHERE key = $1", &[&key])
                        .await?;
                    tx.execute(
                        "INSERT INTO doomed_objects (key, since_ms) VALUES ($1, $2) \
                         ON CONFLICT (key) DO NOTHING",
                        &[&key, &now],
                    )
                    .await?;
                    emptied += 1;
                } else {
                    tx.execute(
                        "INSERT INTO moved_ranges (session, object) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                        &[&sid, &key],
                    )
                    .await?;
                }
            }
            Ok(Some((cut.len(), emptied)))
        })
    }

    /// The session's chunk rows in seq order, with every object they
    /// point into locked (invariant 3); `None` when they kept moving.
    async fn locked_locs(
        &self,
        tx: &Tx<'_>,
        id: &SessionId,
    ) -> Result<Option<Vec<Loc>>, StoreError> {
        let read = async || -> Result<Vec<Loc>, StoreError> {
            tx.query(
                "SELECT seq, object, off, len FROM chunks WHERE session = $1 ORDER BY seq",
                &[&&id.0[..]],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Loc {
                    seq: r.try_get(0)?,
                    object: r.try_get(1)?,
                    off: unbig(r.try_get(2)?),
                    len: unbig(r.try_get(3)?),
                })
            })
            .collect()
        };
        let mut locs = read().await?;
        for _ in 0..3 {
            let keys: Vec<String> = locs
                .iter()
                .map(|l| l.object.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            tx.query(
                "SELECT key FROM objects WHERE key = ANY($1) ORDER BY key FOR UPDATE",
                &[&keys],
            )
            .await?;
            let again = read().await?;
            let same = again.len() == locs.len()
                && again
                    .iter()
                    .zip(&locs)
                    .all(|(a, b)| a.object == b.object && a.off == b.off);
            locs = again;
            if same {
                return Ok(Some(locs));
            }
        }
        Ok(None)
    }

    /// The bytes of `part`'s chunks, back to back: one ranged request per
    /// object (nearby ranges together).
    async fn read_part(&self, part: &[Loc]) -> Result<Vec<u8>, StoreError> {
        let mut by_object: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, l) in part.iter().enumerate() {
            by_object.entry(l.object.as_str()).or_default().push(i);
        }
        let mut pieces: Vec<Option<Vec<u8>>> = vec![None; part.len()];
        for (object, idx) in by_object {
            let ranges: Vec<Range<u64>> = idx.iter().map(|&i| part[i].range()).collect();
            let got = self
                .objects()
                .get_ranges(object, &ranges)
                .await?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "object {object} is named by chunks but is not in the bucket"
                    ))
                })?;
            for (i, bytes) in idx.into_iter().zip(got) {
                pieces[i] = Some(bytes);
            }
        }
        let mut body = Vec::with_capacity(part.iter().map(|l| l.len as usize).sum());
        for p in pieces {
            body.extend_from_slice(&p.unwrap_or_default());
        }
        Ok(body)
    }

    /// Removes objects under `chunks/` that no row names and that are
    /// older than [`ORPHAN_AGE_MS`]; how many. Lists only keys from the
    /// previous sweep's horizon on (keys sort by their time).
    pub(crate) fn sweep_orphans(&self, now_ms: u64) -> Result<usize, StoreError> {
        // What an interrupted delete or compaction left to remove first.
        self.remove_doomed()?;
        let from = self.get_config(SWEEP_FROM)?.unwrap_or_default();
        let horizon = now_ms.saturating_sub(ORPHAN_AGE_MS);
        let listed = self
            .pg()
            .block_on(self.objects().list_chunk_objects_after(&from))?;
        let old: Vec<String> = listed
            .into_iter()
            .filter(|(key, modified_ms)| {
                *modified_ms < horizon && key_ms(key).is_some_and(|t| t < horizon)
            })
            .map(|(key, _)| key)
            .collect();
        let mut removed = 0;
        for batch in old.chunks(1000) {
            let batch = batch.to_vec();
            let named: HashSet<String> = self.pg().run(async |c| {
                c.query(
                    "SELECT key FROM objects WHERE key = ANY($1) \
                     UNION SELECT key FROM doomed_objects WHERE key = ANY($1)",
                    &[&batch],
                )
                .await?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
            })?;
            for key in batch.iter().filter(|k| !named.contains(*k)) {
                self.pg().block_on(self.objects().delete(key))?;
                tracing::info!(object = %key, "removed an orphaned object");
                removed += 1;
            }
        }
        // Keys named before this are all settled (committed, or orphans
        // removed now): the next sweep lists from a little before here.
        let next = format!("chunks/{:013}", horizon.saturating_sub(ORPHAN_AGE_MS));
        if next > from {
            self.set_config(SWEEP_FROM, Some(&next))?;
        }
        Ok(removed)
    }
}

/// The time in a key `chunks/<ms, 13 digits>-<random>`.
fn key_ms(key: &str) -> Option<u64> {
    key.strip_prefix("chunks/")?.get(..13)?.parse().ok()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{encoded, files_under};
    use crate::store::Storage;
    use reel_shared::{ChunkHeader, Custom, Event, EventData};
    use std::path::Path;

    /// A deployment on a fresh database and bucket, and its bucket's folder.
    fn fresh() -> (DistStorage, std::path::PathBuf) {
        let index_db = reel_testsvc::postgres().create_database();
        let s3 = reel_testsvc::s3();
        let bucket = s3.create_bucket();
        let s = DistStorage::open_with_env(&bucket, &index_db, &s3.env()).unwrap();
        (s, s3.bucket_dir(&bucket))
    }

    fn chunk(id: u8, seq: u32) -> (ChunkHeader, Vec<u8>) {
        let events = [Event {
            t: 1_700_000_000_000 + u64::from(seq),
            data: EventData::Custom(Custom {
                name: format!(
                    "session {id} chunk {seq} {}",
                    "x".repeat(usize::from(id) * 7)
                ),
                data: None,
            }),
        }];
        encoded(id, seq, &events)
    }

    /// One group commit of these `(session, seq)` at `now`.
    fn put(s: &DistStorage, chunks: &[(u8, u32)], now: u64) -> Vec<Vec<u8>> {
        let built: Vec<(ChunkHeader, Vec<u8>)> =
            chunks.iter().map(|(i, q)| chunk(*i, *q)).collect();
        let batch: Vec<(&ChunkHeader, &[u8])> = built.iter().map(|(h, r)| (h, &r[..])).collect();
        s.put_chunks(&batch, now).unwrap();
        built.into_iter().map(|(_, r)| r).collect()
    }

    fn objects_of(s: &DistStorage, id: u8) -> i64 {
        let sid = vec![id; 16];
        s.pg()
            .run(async |c| {
                Ok(c.query_one(
                    "SELECT count(DISTINCT object) FROM chunks WHERE session = $1",
                    &[&sid],
                )
                .await?
                .get(0))
            })
            .unwrap()
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        files_under(dir)
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                let bytes = std::fs::read(&p).unwrap();
                (name, bytes)
            })
            .collect()
    }

    fn in_bucket(dir: &Path, needle: &[u8]) -> bool {
        files(dir)
            .iter()
            .any(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
    }

    /// Live bytes per object: what the rows say, and what they should.
    fn accounts_agree(s: &DistStorage) {
        let bad: i64 = s
            .pg()
            .run(async |c| {
                Ok(c.query_one(
                    "SELECT count(*) FROM objects o WHERE o.live_bytes <> \
                     (SELECT coalesce(sum(len), 0) FROM chunks WHERE object = o.key)",
                    &[],
                )
                .await?
                .get(0))
            })
            .unwrap();
        assert_eq!(bad, 0, "objects whose live_bytes is not their chunks' sum");
    }

    #[test]
    fn cold_sessions_move_to_objects_of_their_own_and_deletes_still_remove_every_byte() {
        let (s, dir) = fresh();
        let t0 = 1_800_000_000_000u64;
        // Sessions 1 and 2 recorded together (four shared objects), 1 and
        // 3 share a fifth; 3 records again later, so it is not cold.
        let mut sent: BTreeMap<u8, Vec<Vec<u8>>> = BTreeMap::new();
        for seq in 0..4 {
            let raws = put(&s, &[(1, seq), (2, seq)], t0);
            sent.entry(1).or_default().push(raws[0].clone());
            sent.entry(2).or_default().push(raws[1].clone());
        }
        let raws = put(&s, &[(1, 4), (3, 0)], t0);
        sent.entry(1).or_default().push(raws[0].clone());
        sent.entry(3).or_default().push(raws[1].clone());
        let later = t0 + COLD_AFTER_MS + 10;
        sent.entry(3).or_default().extend(put(&s, &[(3, 1)], later));
        assert_eq!(objects_of(&s, 1), 5);
        assert_eq!(files(&dir).len(), 6);

        let done = s.compact_cold(later, Instant::now()).unwrap();
        assert_eq!(
            done,
            Upkeep {
                compacted: 2,
                written: 2,
                emptied: 4,
                orphans: 0
            }
        );
        assert_eq!(objects_of(&s, 1), 1);
        assert_eq!(objects_of(&s, 2), 1);
        assert_eq!(
            objects_of(&s, 3),
            2,
            "a session still recording is left alone"
        );
        accounts_agree(&s);
        // The four objects 1 and 2 shared are gone; the fifth keeps 3's
        // chunk (and 1's bytes, no longer used).
        assert_eq!(
            files(&dir).len(),
            4,
            "{:?}",
            files(&dir).iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for (id, raws) in &sent {
            let got: Vec<Vec<u8>> = s
                .chunks(&SessionId([*id; 16]), 0)
                .unwrap()
                .into_iter()
                .map(|(_, b)| b)
                .collect();
            assert_eq!(&got, raws, "session {id} reads back as it was sent");
        }
        // Nothing left to do, however often it runs.
        assert_eq!(
            s.compact_cold(later, Instant::now()).unwrap(),
            Upkeep::default()
        );
        assert_eq!(
            s.compact_session(&SessionId([1; 16]), big(later), later)
                .unwrap(),
            None
        );

        // Deleting 1 removes its bytes from the object it left for its own
        // too (the one 3 still uses is rewritten).
        assert!(sent[&1].iter().all(|c| in_bucket(&dir, c)));
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        for c in &sent[&1] {
            assert!(
                !in_bucket(&dir, c),
                "a byte of the deleted session is in the bucket"
            );
        }
        accounts_agree(&s);
        let three: Vec<Vec<u8>> = s
            .chunks(&SessionId([3; 16]), 0)
            .unwrap()
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(three, sent[&3]);

        // 3 goes cold in its turn: compacted, and the last shared object
        // goes with it.
        let much_later = later + COLD_AFTER_MS + 10;
        let done = s.compact_cold(much_later, Instant::now()).unwrap();
        assert_eq!(done.compacted, 1);
        assert_eq!(objects_of(&s, 3), 1);
        accounts_agree(&s);
        assert_eq!(files(&dir).len(), 2, "2's object and 3's");
    }

    #[test]
    fn orphans_are_removed_once_old_and_named_objects_never() {
        let (s, dir) = fresh();
        let now = crate::store::now_ms();
        let kept = put(&s, &[(1, 0)], now);
        // Left by a process that died between its PUT and its commit.
        let old = new_key(now - 2 * ORPHAN_AGE_MS).unwrap();
        // Written just now: its commit may still be on its way.
        let young = new_key(now + 2 * ORPHAN_AGE_MS).unwrap();
        for k in [&old, &young] {
            s.pg()
                .block_on(s.objects().put(k, b"orphan bytes".to_vec()))
                .unwrap();
        }
        assert_eq!(files(&dir).len(), 3);
        // As if the sweep ran ORPHAN_AGE_MS from now (the store dates the
        // objects by its own clock).
        let at = now + ORPHAN_AGE_MS + 60_000;
        assert_eq!(s.sweep_orphans(at).unwrap(), 1);
        let left: Vec<String> = files(&dir).into_iter().map(|f| f.0).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left
            .iter()
            .any(|f| f.ends_with(young.trim_start_matches("chunks/"))));
        assert_eq!(s.chunks(&SessionId([1; 16]), 0).unwrap()[0].1, kept[0]);
        // Again: nothing more.
        assert_eq!(s.sweep_orphans(at).unwrap(), 0);
        assert_eq!(files(&dir).len(), 2);
    }
}
