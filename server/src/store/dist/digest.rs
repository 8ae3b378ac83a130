//! The insights digest in PostgreSQL (issue 16): the records of
//! [`crate::store::digest`] as tables (migration 2 in `schema.rs`), the
//! reads [`DigestStore`] answers, and the hooks the chunk and delete
//! transactions call ([`apply_in_tx`], [`forget_in_tx`]).
//!
//! | table          | primary key                       | value                               |
//! |----------------|-----------------------------------|-------------------------------------|
//! | `digest_urls`  | `url_key`                         | `url`: the distinct-URL table       |
//! | `digest_parts` | `(url_key, session, seq, idx)`    | `part`: a [`PagePart`] (MessagePack)|
//! | `digest_steps` | `session`                         | `steps`: its merged [`Step`]s       |
//!
//! plus `digest_parts (session)`, what a delete finds its parts by. A
//! heatmap or scroll map reads one primary-key range of `digest_parts` per
//! matching URL; a funnel one row of `digest_steps` per session. URL keys
//! (u64) are stored with their top bit flipped ([`url_col`]) so that
//! `bigint` order is u64 order: URLs list in the embedded layout's order.
//!
//! Invariants:
//! 1. A session's parts and steps change only in a transaction that holds
//!    its session row locked (the chunk transaction and the delete lock it
//!    first, `dist/mod.rs`), so the read-merge-write of its steps is safe
//!    across processes.
//! 2. A delete leaves no URL row that no part names, and never removes one
//!    that a committed part names. The chunk transaction inserts the URLs
//!    its chunk saw, then locks (`FOR KEY SHARE`, shared among ingests) the
//!    URL row of every part it writes, then writes the parts; a delete,
//!    having removed its session's parts, locks its candidate URL rows
//!    `FOR UPDATE` (so it waits for any chunk transaction holding one) and
//!    only then, in a new statement whose snapshot sees what those
//!    committed, deletes the ones no part names. A chunk transaction that
//!    finds a URL row deleted meanwhile inserts it again.

use super::pg::Tx;
use super::sessions::session_id;
use super::DistStorage;
use crate::digest::{
    decode_part, decode_steps, encode_part, encode_steps, merge_steps, DigestUpdate, PagePart,
    Step, UrlKey,
};
use crate::store::digest::DigestStore;
use crate::store::StoreError;
use reel_shared::SessionId;

/// Rows a read fetches at a time: the callbacks run between pages, with
/// no query open.
const PAGE: i64 = 1000;

/// A URL key as stored: top bit flipped, so signed order is u64 order.
pub(crate) fn url_col(k: UrlKey) -> i64 {
    (k ^ (1 << 63)) as i64
}

/// [`url_col`] undone.
pub(crate) fn url_of(c: i64) -> UrlKey {
    (c as u64) ^ (1 << 63)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("digest: {what}"))
}

const INSERT_URLS: &str = "INSERT INTO digest_urls (url_key, url) \
     SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT (url_key) DO NOTHING";
const LOCK_URLS: &str = "SELECT url_key FROM digest_urls WHERE url_key = ANY($1::bigint[]) \
     ORDER BY url_key FOR KEY SHARE";
const INSERT_PARTS: &str = "INSERT INTO digest_parts (url_key, session, seq, idx, part) \
     SELECT u, $2, $3, i, p FROM unnest($1::bigint[], $4::integer[], $5::bytea[]) AS t (u, i, p) \
     ON CONFLICT (url_key, session, seq, idx) DO UPDATE SET part = EXCLUDED.part";
const GET_STEPS: &str = "SELECT steps FROM digest_steps WHERE session = $1";
const PUT_STEPS: &str = "INSERT INTO digest_steps (session, steps) VALUES ($1, $2) \
     ON CONFLICT (session) DO UPDATE SET steps = EXCLUDED.steps";

/// Writes chunk `seq`'s digest records (what `crate::digest::apply`
/// returned for it) inside the group commit's transaction (see
/// `dist/mod.rs`, invariant 1), after its chunk row is inserted, with its
/// session row locked. Called once per stored chunk, in the group's order.
/// Two round trips (statements are pipelined), one more when a URL row
/// was deleted meanwhile (invariant 2).
pub(crate) async fn apply_in_tx(
    tx: &Tx<'_>,
    session: &SessionId,
    seq: u32,
    up: &DigestUpdate,
) -> Result<(), StoreError> {
    if up.urls.is_empty() && up.parts.is_empty() && up.steps.is_empty() {
        return Ok(());
    }
    let sid: &[u8] = session.as_bytes();
    let seq_col = i64::from(seq);
    let url_keys: Vec<i64> = up.urls.iter().map(|(k, _)| url_col(*k)).collect();
    let url_texts: Vec<&str> = up.urls.iter().map(|(_, u)| u.as_str()).collect();
    let mut part_urls: Vec<i64> = up.parts.iter().map(|(u, _, _)| url_col(*u)).collect();
    let part_idx: Vec<i32> = up.parts.iter().map(|(_, i, _)| i32::from(*i)).collect();
    let part_bodies: Vec<Vec<u8>> = up.parts.iter().map(|(_, _, p)| encode_part(p)).collect();
    let (s_urls, s_lock, s_parts, s_get) = tokio::try_join!(
        tx.prepare_cached(INSERT_URLS),
        tx.prepare_cached(LOCK_URLS),
        tx.prepare_cached(INSERT_PARTS),
        tx.prepare_cached(GET_STEPS),
    )?;
    let mut locking: Vec<i64> = part_urls.clone();
    locking.sort_unstable();
    locking.dedup();
    // Sent in this order and run in it: URLs, their locks, parts, steps.
    let (_, locked, _, old) = tokio::try_join!(
        async {
            if url_keys.is_empty() {
                return Ok(0);
            }
            tx.execute(&s_urls, &[&url_keys, &url_texts]).await
        },
        async {
            if locking.is_empty() {
                return Ok(Vec::new());
            }
            tx.query(&s_lock, &[&locking]).await
        },
        async {
            if part_bodies.is_empty() {
                return Ok(0);
            }
            tx.execute(
                &s_parts,
                &[&part_urls, &sid, &seq_col, &part_idx, &part_bodies],
            )
            .await
        },
        async {
            if up.steps.is_empty() {
                return Ok(None);
            }
            tx.query_opt(&s_get, &[&sid]).await
        },
    )?;
    // URL rows a delete removed between our insert and our lock: this
    // chunk saw them, so they go back (our own insert: no one else can
    // remove it before we commit). A part whose URL this chunk did not
    // see continues a page an earlier chunk of the session named; that
    // chunk's transaction inserts its row.
    let locked: Vec<i64> = locked
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    part_urls.retain(|u| !locked.contains(u));
    let (again, again_text): (Vec<i64>, Vec<&str>) = url_keys
        .iter()
        .zip(&url_texts)
        .filter(|(k, _)| part_urls.contains(k))
        .map(|(k, u)| (*k, *u))
        .unzip();
    if !again.is_empty() {
        tx.execute(&s_urls, &[&again, &again_text]).await?;
    }
    if !up.steps.is_empty() {
        let mut all = match old {
            Some(row) => {
                decode_steps(row.try_get::<_, &[u8]>(0)?).ok_or_else(|| corrupt("a step list"))?
            }
            None => Vec::new(),
        };
        merge_steps(&mut all, seq, &up.steps);
        let s_put = tx.prepare_cached(PUT_STEPS).await?;
        tx.execute(&s_put, &[&sid, &encode_steps(&all)]).await?;
    }
    Ok(())
}

/// Removes every digest record of a session, and the URLs only it saw
/// (invariant 2), inside the delete's transaction (which holds the
/// session row locked).
pub(crate) async fn forget_in_tx(tx: &Tx<'_>, session: &SessionId) -> Result<(), StoreError> {
    let sid: &[u8] = session.as_bytes();
    let (parts, _) = tokio::try_join!(
        async {
            tx.query(
                "DELETE FROM digest_parts WHERE session = $1 RETURNING url_key",
                &[&sid],
            )
            .await
        },
        async {
            tx.execute("DELETE FROM digest_steps WHERE session = $1", &[&sid])
                .await
        },
    )?;
    let mut urls: Vec<i64> = parts
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if urls.is_empty() {
        return Ok(());
    }
    urls.sort_unstable();
    urls.dedup();
    tx.query(
        "SELECT url_key FROM digest_urls WHERE url_key = ANY($1) ORDER BY url_key FOR UPDATE",
        &[&urls],
    )
    .await?;
    // A new statement: its snapshot sees every part committed by the
    // chunk transactions the locks above waited for.
    tx.execute(
        "DELETE FROM digest_urls u WHERE u.url_key = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM digest_parts p WHERE p.url_key = u.url_key)",
        &[&urls],
    )
    .await?;
    Ok(())
}

impl DigestStore for DistStorage {
    fn digest_urls(
        &self,
        pattern: &str,
        cap: usize,
    ) -> Result<(Vec<(UrlKey, String)>, bool), StoreError> {
        let limit = i64::try_from(cap).unwrap_or(i64::MAX - 1) + 1;
        let rows = self.pg().run(async |c| {
            let s = c
                .prepare_cached(
                    "SELECT url_key, url FROM digest_urls WHERE strpos(url, $1) > 0 \
                     ORDER BY url_key LIMIT $2",
                )
                .await?;
            Ok(c.query(&s, &[&pattern, &limit]).await?)
        })?;
        let mut out = rows
            .iter()
            .map(|r| Ok((url_of(r.try_get(0)?), r.try_get::<_, String>(1)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let more = out.len() > cap;
        out.truncate(cap);
        Ok((out, more))
    }

    fn digest_parts(
        &self,
        url: UrlKey,
        each: &mut dyn FnMut(&SessionId, PagePart) -> bool,
    ) -> Result<(), StoreError> {
        let key = url_col(url);
        let mut after: (Vec<u8>, i64, i32) = (Vec::new(), -1, -1);
        loop {
            let rows = self.pg().run(async |c| {
                let s = c
                    .prepare_cached(
                        "SELECT session, seq, idx, part FROM digest_parts \
                         WHERE url_key = $1 AND (session, seq, idx) > ($2, $3, $4) \
                         ORDER BY session, seq, idx LIMIT $5",
                    )
                    .await?;
                Ok(c.query(&s, &[&key, &after.0, &after.1, &after.2, &PAGE])
                    .await?)
            })?;
            for r in &rows {
                let id = session_id(r.try_get(0)?)?;
                let part = decode_part(r.try_get(3)?).ok_or_else(|| corrupt("a page part"))?;
                if !each(&id, part) {
                    return Ok(());
                }
            }
            match rows.last() {
                Some(r) if rows.len() as i64 == PAGE => {
                    after = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                }
                _ => return Ok(()),
            }
        }
    }

    fn digest_steps(&self, id: &SessionId) -> Result<Vec<Step>, StoreError> {
        let sid: &[u8] = id.as_bytes();
        let row = self.pg().run(async |c| {
            let s = c.prepare_cached(GET_STEPS).await?;
            Ok(c.query_opt(&s, &[&sid]).await?)
        })?;
        match row {
            Some(r) => decode_steps(r.try_get(0)?).ok_or_else(|| corrupt("a step list")),
            None => Ok(Vec::new()),
        }
    }

    fn digest_all_steps(
        &self,
        each: &mut dyn FnMut(&SessionId, Vec<Step>) -> bool,
    ) -> Result<(), StoreError> {
        let mut after: Vec<u8> = Vec::new();
        loop {
            let rows = self.pg().run(async |c| {
                let s = c
                    .prepare_cached(
                        "SELECT session, steps FROM digest_steps WHERE session > $1 \
                         ORDER BY session LIMIT $2",
                    )
                    .await?;
                Ok(c.query(&s, &[&after, &PAGE]).await?)
            })?;
            for r in &rows {
                let id = session_id(r.try_get(0)?)?;
                let steps = decode_steps(r.try_get(1)?).ok_or_else(|| corrupt("a step list"))?;
                if !each(&id, steps) {
                    return Ok(());
                }
            }
            match rows.last() {
                Some(r) if rows.len() as i64 == PAGE => after = r.try_get(0)?,
                _ => return Ok(()),
            }
        }
    }
}

/// A deployment on a fresh database and bucket (`reel-testsvc`), for the
/// supertraits' tests (`store/team.rs`, `store/audit.rs`, ...).
#[cfg(test)]
pub(crate) fn fresh_for_tests() -> DistStorage {
    let s3 = reel_testsvc::s3();
    let bucket = s3.create_bucket();
    let db = reel_testsvc::postgres().create_database();
    match DistStorage::open_with_env(&bucket, &db, &s3.env()) {
        Ok(s) => s,
        Err(e) => panic!("cannot open a fresh deployment: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Click, PageSignal};
    use crate::store::mem::MemStorage;
    use crate::store::Storage;

    fn sid(n: u8) -> SessionId {
        SessionId([n; 16])
    }

    fn part(t: u64, x: i32) -> PagePart {
        PagePart {
            visit: true,
            t,
            time_ms: 5,
            depth: Some(700),
            clicks: vec![Click {
                t,
                x,
                y: 2,
                box_x: Some(1),
                box_y: None,
                label: Some("Buy".into()),
                selector: Some("#buy".into()),
            }],
            signals: vec![PageSignal {
                kind: 0,
                since: t,
                label: None,
                selector: None,
            }],
        }
    }

    fn step(seq: u32, t: u64, key: u64) -> Step {
        Step {
            seq,
            t,
            kind: crate::digest::STEP_PAGE,
            key,
        }
    }

    /// URL keys across the whole u64 range (order!), three sessions, a
    /// re-applied chunk, a continued page.
    fn updates() -> Vec<(SessionId, u32, DigestUpdate)> {
        let (a, b, c) = (5u64, u64::MAX - 3, 1u64 << 63);
        vec![
            (
                sid(1),
                0,
                DigestUpdate {
                    urls: vec![
                        (a, "https://x.org/cart".into()),
                        (b, "https://x.org/".into()),
                    ],
                    parts: vec![(a, 0, part(10, 1)), (b, 1, part(20, 2))],
                    steps: vec![step(0, 10, a), step(0, 20, b)],
                },
            ),
            (
                sid(1),
                1,
                DigestUpdate {
                    urls: vec![],
                    parts: vec![(b, 0, part(30, 3))],
                    steps: vec![step(1, 5, c)],
                },
            ),
            (
                sid(2),
                0,
                DigestUpdate {
                    urls: vec![
                        (b, "https://x.org/".into()),
                        (c, "https://y.org/cart".into()),
                    ],
                    parts: vec![(b, 0, part(40, 4)), (c, 1, part(50, 5))],
                    steps: vec![step(0, 40, b)],
                },
            ),
            (
                sid(1),
                1,
                DigestUpdate {
                    urls: vec![],
                    parts: vec![(b, 0, part(30, 3))],
                    steps: vec![step(1, 5, c)],
                },
            ),
            (
                sid(3),
                0,
                DigestUpdate {
                    urls: vec![(c, "https://y.org/cart".into())],
                    parts: vec![(c, 0, part(60, 6))],
                    steps: vec![],
                },
            ),
        ]
    }

    /// Everything the reads answer, in their order.
    type Seen = (
        Vec<(Vec<(UrlKey, String)>, bool)>,
        Vec<Vec<(SessionId, PagePart)>>,
        Vec<Vec<Step>>,
        Vec<(SessionId, Vec<Step>)>,
    );

    fn seen(s: &dyn DigestStore) -> Seen {
        let urls = ["", "cart", "x.org", "nothing"]
            .iter()
            .flat_map(|p| [s.digest_urls(p, 1).unwrap(), s.digest_urls(p, 10).unwrap()])
            .collect();
        let (all, _) = s.digest_urls("", 10).unwrap();
        let parts = all
            .iter()
            .map(|(k, _)| {
                let mut v = Vec::new();
                s.digest_parts(*k, &mut |id, p| {
                    v.push((*id, p));
                    true
                })
                .unwrap();
                v
            })
            .collect();
        let steps = (1..=4).map(|n| s.digest_steps(&sid(n)).unwrap()).collect();
        let mut every = Vec::new();
        s.digest_all_steps(&mut |id, st| {
            every.push((*id, st));
            true
        })
        .unwrap();
        every.sort_by_key(|(id, _)| *id);
        (urls, parts, steps, every)
    }

    /// The same records, the same answers as the in-memory model; a
    /// session's delete takes its records and the URLs only it saw.
    #[test]
    fn digest_agrees_with_the_model_and_forgets_a_session() {
        let (d, m) = (fresh_for_tests(), MemStorage::default());
        for (id, seq, up) in updates() {
            d.pg()
                .tx(async |tx| apply_in_tx(tx, &id, seq, &up).await)
                .unwrap();
            crate::store::digest::mem_apply(&mut m.digest(), &id, seq, &up);
        }
        let before = seen(&d);
        assert_eq!(before, seen(&m));
        assert_eq!(before.0[1].0.len(), 3, "three distinct URLs");
        // Session 2 goes: x.org/ stays (session 1's), y.org/cart stays
        // (session 3's). Then session 3: y.org/cart goes.
        for n in [2, 3] {
            d.pg()
                .tx(async |tx| forget_in_tx(tx, &sid(n)).await)
                .unwrap();
            crate::store::digest::mem_forget(&mut m.digest(), &sid(n));
            assert_eq!(seen(&d), seen(&m), "after forgetting session {n}");
        }
        assert_eq!(d.digest_urls("", 10).unwrap().0.len(), 2);
        d.pg()
            .tx(async |tx| forget_in_tx(tx, &sid(1)).await)
            .unwrap();
        assert_eq!(d.session_key_count().unwrap(), 0, "no digest row left");
    }

    /// A delete that runs while another transaction writes a part of a URL
    /// it would remove waits for it and keeps the URL.
    #[test]
    fn a_url_in_use_by_a_concurrent_chunk_stays() {
        let d = fresh_for_tests();
        let url = 77u64;
        let up = |n: u8| DigestUpdate {
            urls: vec![(url, format!("https://z.org/{}", n / 10))],
            parts: vec![(url, 0, part(1, i32::from(n)))],
            steps: vec![],
        };
        d.pg()
            .tx(async |tx| apply_in_tx(tx, &sid(1), 0, &up(1)).await)
            .unwrap();
        // Chunk of session 2 holds its URL lock while session 1 is deleted
        // on another connection; it commits, then the delete finishes.
        let (locked_s, locked_r) = std::sync::mpsc::channel();
        let (go_s, go_r) = std::sync::mpsc::channel::<()>();
        let (d, up) = (&d, &up);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                d.pg()
                    .tx(async |tx| {
                        apply_in_tx(tx, &sid(2), 0, &up(2)).await?;
                        let _ = locked_s.send(());
                        let _ = go_r.recv();
                        Ok(())
                    })
                    .unwrap();
            });
            locked_r.recv().unwrap();
            let deleter = scope.spawn(|| {
                d.pg()
                    .tx(async |tx| forget_in_tx(tx, &sid(1)).await)
                    .unwrap();
            });
            // Until the delete waits for that lock (a condition, polled).
            let waiting = || -> i64 {
                d.pg()
                    .run(async |c| {
                        Ok(c.query_one(
                            "SELECT count(*) FROM pg_stat_activity \
                             WHERE datname = current_database() AND wait_event_type = 'Lock'",
                            &[],
                        )
                        .await?
                        .try_get(0)?)
                    })
                    .unwrap()
            };
            while waiting() == 0 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            go_s.send(()).unwrap();
            deleter.join().unwrap();
        });
        let (urls, _) = d.digest_urls("z.org", 10).unwrap();
        assert_eq!(urls.len(), 1, "session 2's part names it");
        let mut parts = 0;
        d.digest_parts(url, &mut |_, _| {
            parts += 1;
            true
        })
        .unwrap();
        assert_eq!(parts, 1);
    }
}
