//! Chunks in the distributed layout: the group commit (one object, one
//! transaction), reads (ranged GETs, checked against each chunk's CRC-32),
//! and a session's delete (rewriting the objects it shares). The module
//! invariants are in `dist/mod.rs` (1 to 3).

use super::pg::Tx;
use super::sessions::{big, encode_meta, session_id, unbig};
use super::DistStorage;
use crate::digest::ChunkFacts;
use crate::index::{self, SessionMeta};
use crate::store::{PutOutcome, StoreError};
use reel_shared::{ChunkHeader, SessionId};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;

/// Where one chunk is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChunkLoc {
    pub seq: u32,
    pub object: String,
    pub off: u64,
    pub len: u64,
    pub crc: u32,
}

impl ChunkLoc {
    fn range(&self) -> Range<u64> {
        self.off..self.off.saturating_add(self.len)
    }
}

fn seq_of(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("a chunk seq out of range: {v}")))
}

fn loc_of(row: &tokio_postgres::Row) -> Result<ChunkLoc, StoreError> {
    Ok(ChunkLoc {
        seq: seq_of(row.try_get("seq")?)?,
        object: row.try_get("object")?,
        off: unbig(row.try_get("off")?),
        len: unbig(row.try_get("len")?),
        crc: u32::try_from(row.try_get::<_, i64>("crc")?).unwrap_or(0),
    })
}

/// The bytes read for `loc`, or [`StoreError::Damaged`] when they are not
/// the bytes stored.
fn checked(id: &SessionId, loc: &ChunkLoc, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if bytes.len() as u64 != loc.len || crc32fast::hash(&bytes) != loc.crc {
        return Err(StoreError::Damaged {
            session: *id,
            seq: loc.seq,
            detail: format!(
                "its bytes in object {} fail their checksum (or length)",
                loc.object
            ),
        });
    }
    Ok(bytes)
}

/// The objects holding a session's chunks, in key order (the order their
/// rows are locked in), and those still holding bytes compaction moved
/// out of them (`dist/compact.rs`, invariant 2).
async fn objects_of(tx: &Tx<'_>, sid: &[u8]) -> Result<Vec<String>, StoreError> {
    let objects: BTreeSet<String> = tx
        .query(
            "SELECT object FROM chunks WHERE session = $1 \
             UNION SELECT object FROM moved_ranges WHERE session = $1",
            &[&sid],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(objects.into_iter().collect())
}

/// How often a reader looks a chunk up again when its object is gone (a
/// delete or compaction rewrote it between the lookup and the GET).
const READ_ATTEMPTS: usize = 3;

impl DistStorage {
    /// The group commit (invariant 1 of `dist/mod.rs`).
    pub(super) fn put_group(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        facts: &[&ChunkFacts],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if facts.len() != batch.len() {
            return Err(StoreError::Corrupt(
                "a group's facts do not match its chunks".into(),
            ));
        }
        let mut ids: Vec<SessionId> = batch.iter().map(|(h, _)| h.session).collect();
        ids.sort();
        ids.dedup();
        let id_bytes: Vec<&[u8]> = ids.iter().map(|i| &i.0[..]).collect();
        let key_sessions: Vec<&[u8]> = batch.iter().map(|(h, _)| &h.session.0[..]).collect();
        let key_seqs: Vec<i64> = batch.iter().map(|(h, _)| i64::from(h.seq)).collect();
        self.pg().tx(async |tx| {
            // Lock every session of the group, in id order (new ones by
            // inserting their row, which the fold below fills in).
            tx.execute(
                "INSERT INTO sessions (id) SELECT unnest($1::bytea[]) ON CONFLICT (id) DO NOTHING",
                &[&id_bytes],
            )
            .await?;
            let st = tx
                .prepare_cached(
                    "SELECT id, meta, user_id FROM sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                )
                .await?;
            let mut metas: HashMap<SessionId, Option<SessionMeta>> = HashMap::new();
            let rows = tx.query(&st, &[&id_bytes]).await?;
            if rows.len() != ids.len() {
                // A delete committed while this waited for a row's lock:
                // the row is gone. From the start, with that session new.
                return Err(StoreError::Busy);
            }
            for r in rows {
                let id = session_id(r.try_get(0)?)?;
                let json: &str = r.try_get(1)?;
                let meta = if json.is_empty() {
                    None
                } else {
                    let mut m: SessionMeta = serde_json::from_str(json)
                        .map_err(|e| StoreError::Corrupt(format!("session metadata: {e}")))?;
                    m.user_id = r.try_get(2)?;
                    Some(m)
                };
                metas.insert(id, meta);
            }
            // With the sessions locked, what is stored is settled.
            let st = tx
                .prepare_cached(
                    "SELECT session, seq FROM chunks WHERE (session, seq) IN \
                     (SELECT * FROM unnest($1::bytea[], $2::bigint[]))",
                )
                .await?;
            let mut stored: HashSet<(SessionId, u32)> = HashSet::new();
            for r in tx.query(&st, &[&key_sessions, &key_seqs]).await? {
                stored.insert((session_id(r.try_get(0)?)?, seq_of(r.try_get(1)?)?));
            }
            let mut outcomes = vec![PutOutcome::Duplicate; batch.len()];
            let mut fresh: Vec<usize> = Vec::with_capacity(batch.len());
            for (i, (h, _)) in batch.iter().enumerate() {
                if stored.insert((h.session, h.seq)) {
                    fresh.push(i);
                }
            }
            if fresh.is_empty() {
                return Ok(outcomes);
            }
            // The one object: every new chunk, back to back.
            let size: usize = fresh.iter().map(|&i| batch[i].1.len()).sum();
            let mut body = Vec::with_capacity(size);
            let (mut f_sessions, mut f_seqs, mut f_offs, mut f_lens, mut f_crcs) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for &i in &fresh {
                let (h, raw) = batch[i];
                f_sessions.push(&h.session.0[..]);
                f_seqs.push(i64::from(h.seq));
                f_offs.push(big(body.len() as u64));
                f_lens.push(big(raw.len() as u64));
                f_crcs.push(i64::from(crc32fast::hash(raw)));
                body.extend_from_slice(raw);
            }
            let key = super::objects::new_key(now_ms)?;
            self.objects().put(&key, body).await?;
            let st = tx
                .prepare_cached(
                    "INSERT INTO objects (key, bytes, live_bytes, created_ms) VALUES ($1, $2, $2, $3)",
                )
                .await?;
            tx.execute(&st, &[&key, &big(size as u64), &big(now_ms)])
                .await?;
            let st = tx
                .prepare_cached(
                    "INSERT INTO chunks (session, seq, object, off, len, crc) \
                     SELECT u.s, u.q, $3, u.o, u.l, u.c \
                     FROM unnest($1::bytea[], $2::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) \
                     AS u(s, q, o, l, c)",
                )
                .await?;
            tx.execute(
                &st,
                &[&f_sessions, &f_seqs, &key, &f_offs, &f_lens, &f_crcs],
            )
            .await?;
            // Fold each chunk into its session, in the group's order.
            for &i in &fresh {
                let (h, raw) = batch[i];
                let old = metas.remove(&h.session).flatten();
                outcomes[i] = PutOutcome::Stored {
                    new_session: old.is_none(),
                };
                let (meta, up) =
                    index::fold_chunk(old, h, raw.len() as u64, now_ms, facts[i]);
                super::digest::apply_in_tx(tx, &h.session, h.seq, &up).await?;
                metas.insert(h.session, Some(meta));
            }
            let (mut u_ids, mut u_keys, mut u_activity, mut u_users, mut u_metas) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (id, meta) in &metas {
                let Some(m) = meta else { continue };
                u_ids.push(&id.0[..]);
                u_keys.push(m.start_key().to_vec());
                u_activity.push(big(m.last_activity()));
                u_users.push(m.user_id.clone());
                u_metas.push(encode_meta(m)?);
            }
            let st = tx
                .prepare_cached(
                    "UPDATE sessions SET start_key = u.k, last_activity = u.a, user_id = u.u, meta = u.m \
                     FROM unnest($1::bytea[], $2::bytea[], $3::bigint[], $4::text[], $5::text[]) \
                     AS u(id, k, a, u, m) WHERE sessions.id = u.id",
                )
                .await?;
            tx.execute(&st, &[&u_ids, &u_keys, &u_activity, &u_users, &u_metas])
                .await?;
            Ok(outcomes)
        })
    }

    pub(super) fn seqs(&self, id: &SessionId, from: u32) -> Result<Vec<u32>, StoreError> {
        self.pg().run(async |c| {
            let st = c
                .prepare_cached(
                    "SELECT seq FROM chunks WHERE session = $1 AND seq >= $2 ORDER BY seq",
                )
                .await?;
            c.query(&st, &[&&id.0[..], &i64::from(from)])
                .await?
                .iter()
                .map(|r| seq_of(r.try_get(0)?))
                .collect()
        })
    }

    /// Where chunks of `id` with `from <= seq <= to` are, in seq order.
    async fn locs(
        &self,
        c: &super::pg::Client,
        id: &SessionId,
        from: u32,
        to: u32,
    ) -> Result<Vec<ChunkLoc>, StoreError> {
        let st = c
            .prepare_cached(
                "SELECT seq, object, off, len, crc FROM chunks \
                 WHERE session = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
            )
            .await?;
        c.query(&st, &[&&id.0[..], &i64::from(from), &i64::from(to)])
            .await?
            .iter()
            .map(loc_of)
            .collect()
    }

    /// One chunk, looked up again when its object went meanwhile.
    async fn fetch_one(
        &self,
        c: &super::pg::Client,
        id: &SessionId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut last: Option<ChunkLoc> = None;
        for _ in 0..READ_ATTEMPTS {
            let Some(loc) = self.locs(c, id, seq, seq).await?.pop() else {
                return Ok(None);
            };
            if last.as_ref().is_some_and(|l| l.object == loc.object) {
                break;
            }
            if let Some(bytes) = self.objects().get_range(&loc.object, loc.range()).await? {
                return checked(id, &loc, bytes).map(Some);
            }
            last = Some(loc);
        }
        let object = last.map(|l| l.object).unwrap_or_default();
        Err(StoreError::Damaged {
            session: *id,
            seq,
            detail: format!("its object {object} is missing from the bucket"),
        })
    }

    pub(super) fn read_one(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.pg().run(async |c| self.fetch_one(c, id, seq).await)
    }

    /// Chunks from `from` on: one request per run of chunks in the same
    /// object (nearby ranges fetched together).
    pub(super) fn read_chunks(
        &self,
        id: &SessionId,
        from: u32,
    ) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        self.pg().run(async |c| {
            let locs = self.locs(c, id, from, u32::MAX).await?;
            let mut out = Vec::with_capacity(locs.len());
            let mut i = 0;
            while i < locs.len() {
                let object = &locs[i].object;
                let end = locs[i..]
                    .iter()
                    .position(|l| l.object != *object)
                    .map_or(locs.len(), |n| i + n);
                let run = &locs[i..end];
                let ranges: Vec<Range<u64>> = run.iter().map(ChunkLoc::range).collect();
                match self.objects().get_ranges(object, &ranges).await? {
                    Some(parts) => {
                        for (loc, bytes) in run.iter().zip(parts) {
                            out.push((loc.seq, checked(id, loc, bytes)?));
                        }
                    }
                    // Rewritten meanwhile: chunk by chunk, looked up again.
                    None => {
                        for loc in run {
                            if let Some(b) = self.fetch_one(c, id, loc.seq).await? {
                                out.push((loc.seq, b));
                            }
                        }
                    }
                }
                i = end;
            }
            Ok(out)
        })
    }

    /// A session's delete (invariant 3 of `dist/mod.rs`). False when there
    /// was no such session.
    pub(super) fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        // What an earlier delete could not remove from the bucket first.
        self.remove_doomed()?;
        let doomed = self.pg().tx(async |tx| self.delete_in_tx(tx, id).await)?;
        let Some(doomed) = doomed else {
            return Ok(false);
        };
        self.pg()
            .run(async |c| self.remove_objects(c, &doomed).await)?;
        Ok(true)
    }

    /// The transaction of a delete: the object keys it stopped using (to
    /// remove from the bucket once committed), or `None` when there is no
    /// such session.
    async fn delete_in_tx(
        &self,
        tx: &Tx<'_>,
        id: &SessionId,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let sid = &id.0[..];
        if tx
            .query_opt("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", &[&sid])
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let objects = objects_of(tx, sid).await?;
        // Whoever else rewrites these (another delete, compaction) waits.
        tx.query(
            "SELECT key FROM objects WHERE key = ANY($1) ORDER BY key FOR UPDATE",
            &[&objects],
        )
        .await?;
        // Another delete may have moved some of these chunks to a new
        // object while this waited for its lock: then it would miss that
        // one. With the locks held, nobody else can move them.
        if objects_of(tx, sid).await? != objects {
            return Err(StoreError::Busy);
        }
        tx.execute("DELETE FROM chunks WHERE session = $1", &[&sid])
            .await?;
        let now = big(crate::store::now_ms());
        for key in &objects {
            let others: Vec<(SessionId, ChunkLoc)> = tx
                .query(
                    "SELECT session, seq, object, off, len, crc FROM chunks \
                     WHERE object = $1 ORDER BY off",
                    &[key],
                )
                .await?
                .iter()
                .map(|r| Ok((session_id(r.try_get("session")?)?, loc_of(r)?)))
                .collect::<Result<_, StoreError>>()?;
            if !others.is_empty() {
                self.rewrite(tx, key, &others, now).await?;
            }
            tx.execute("DELETE FROM objects WHERE key = $1", &[key])
                .await?;
        }
        tx.execute(
            "INSERT INTO doomed_objects (key, since_ms) SELECT unnest($1::text[]), $2 \
             ON CONFLICT (key) DO NOTHING",
            &[&objects, &now],
        )
        .await?;
        super::digest::forget_in_tx(tx, id).await?;
        super::assets::forget_in_tx(tx, id).await?;
        tx.execute("DELETE FROM session_projects WHERE session = $1", &[&sid])
            .await?;
        // Comments and share links go with it (ON DELETE CASCADE).
        tx.execute("DELETE FROM sessions WHERE id = $1", &[&sid])
            .await?;
        Ok(Some(objects))
    }

    /// Writes the chunks `others` of object `old` (the ones that stay) to a
    /// new object and points their rows at it. Their bytes are copied as
    /// they are (a damaged chunk stays damaged, and is reported on read).
    async fn rewrite(
        &self,
        tx: &Tx<'_>,
        old: &str,
        others: &[(SessionId, ChunkLoc)],
        now: i64,
    ) -> Result<(), StoreError> {
        let ranges: Vec<Range<u64>> = others.iter().map(|(_, l)| l.range()).collect();
        let parts = self
            .objects()
            .get_ranges(old, &ranges)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "object {old} is named by chunks but is not in the bucket"
                ))
            })?;
        let mut body = Vec::with_capacity(ranges.iter().map(|r| (r.end - r.start) as usize).sum());
        let (mut s, mut q, mut o) = (Vec::new(), Vec::new(), Vec::new());
        for ((session, loc), bytes) in others.iter().zip(parts) {
            s.push(&session.0[..]);
            q.push(i64::from(loc.seq));
            o.push(big(body.len() as u64));
            body.extend_from_slice(&bytes);
        }
        let size = big(body.len() as u64);
        let key = super::objects::new_key(unbig(now))?;
        self.objects().put(&key, body).await?;
        tx.execute(
            "INSERT INTO objects (key, bytes, live_bytes, created_ms) VALUES ($1, $2, $2, $3)",
            &[&key, &size, &now],
        )
        .await?;
        tx.execute(
            "UPDATE chunks SET object = $4, off = u.o \
             FROM unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS u(s, q, o) \
             WHERE chunks.session = u.s AND chunks.seq = u.q",
            &[&s, &q, &o, &key],
        )
        .await?;
        Ok(())
    }

    /// Removes `keys` from the bucket, then their `doomed_objects` rows.
    async fn remove_objects(
        &self,
        c: &super::pg::Client,
        keys: &[String],
    ) -> Result<(), StoreError> {
        for k in keys {
            self.objects().delete(k).await?;
        }
        c.execute("DELETE FROM doomed_objects WHERE key = ANY($1)", &[&keys])
            .await?;
        Ok(())
    }

    /// Removes from the bucket every object listed in `doomed_objects`
    /// (left by a delete interrupted after its commit); how many. Every
    /// delete calls it first; the orphan sweep may too.
    pub(crate) fn remove_doomed(&self) -> Result<usize, StoreError> {
        self.pg().run(async |c| {
            let keys: Vec<String> = c
                .query(
                    "SELECT key FROM doomed_objects ORDER BY key LIMIT 1000",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            if !keys.is_empty() {
                self.remove_objects(c, &keys).await?;
            }
            Ok(keys.len())
        })
    }
}
