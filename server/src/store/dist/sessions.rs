//! The session index in PostgreSQL: the `sessions` table (one row per
//! session: its [`SessionMeta`] as JSON, its `start_key`, its last
//! activity and user id as columns for the queries that need them), read
//! back with the session's project (`session_projects`).
//!
//! Listing walks `start_key` downwards exactly as the embedded layout walks
//! its `by_start` tree, so pages, cursors ([`START_KEY_LEN`] bytes) and
//! ties are the same on both layouts.

use super::schema::DEPLOYMENT_TABLES;
use super::DistStorage;
use crate::index::{self, SessionMeta, START_KEY_LEN};
use crate::store::{ListRange, Page, StorageStats, StoreError};
use reel_shared::SessionId;
use tokio_postgres::Row;

/// The columns [`meta_of`] reads, in its order.
pub(crate) const META_COLUMNS: &str = "s.meta, s.user_id, p.project, s.start_key";
/// Sessions with their projects; `s` and `p`.
pub(crate) const SESSIONS_FROM: &str =
    "sessions s LEFT JOIN session_projects p ON p.session = s.id";

/// u64 to `bigint` (every value this server stores fits: times end at
/// `index::MAX_TIME_MS`, counts and sizes are far below 2^63).
pub(crate) fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `bigint` back to u64 (never negative here; clamped if it were).
pub(crate) fn unbig(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn session_id(bytes: &[u8]) -> Result<SessionId, StoreError> {
    SessionId::from_slice(bytes)
        .ok_or_else(|| StoreError::Corrupt("a session id that is not 16 bytes".into()))
}

/// A session's metadata as stored in `sessions.meta`: without `user_id`
/// (its own column) and `project` (`session_projects`), each kept in one
/// place.
pub(crate) fn encode_meta(m: &SessionMeta) -> Result<String, StoreError> {
    let m = SessionMeta {
        user_id: None,
        project: None,
        ..m.clone()
    };
    serde_json::to_string(&m).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A row of [`META_COLUMNS`] back into the whole metadata.
pub(crate) fn meta_of(row: &Row) -> Result<SessionMeta, StoreError> {
    let json: &str = row.try_get(0)?;
    let mut m: SessionMeta = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("session metadata: {e}")))?;
    m.user_id = row.try_get(1)?;
    m.project = row.try_get(2)?;
    Ok(m)
}

impl DistStorage {
    pub(super) fn has_session_row(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.pg().run(async |c| {
            let st = c
                .prepare_cached("SELECT 1 FROM sessions WHERE id = $1")
                .await?;
            Ok(c.query_opt(&st, &[&&id.0[..]]).await?.is_some())
        })
    }

    pub(super) fn session_meta(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError> {
        self.pg().run(async |c| {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {META_COLUMNS} FROM {SESSIONS_FROM} WHERE s.id = $1"
                ))
                .await?;
            c.query_opt(&st, &[&&id.0[..]])
                .await?
                .map(|r| meta_of(&r))
                .transpose()
        })
    }

    pub(super) fn list(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError> {
        let lo = index::start_key(range.since, &SessionId([0; 16]));
        let hi = index::start_key(range.until, &SessionId([0xff; 16]));
        // Above every key (one byte longer than the largest): no cursor.
        let mut before: Vec<u8> = match range.before {
            Some(b) => b.to_vec(),
            None => vec![0xff; START_KEY_LEN + 1],
        };
        // Rows per query: a page and one more when most rows are kept, more
        // when a filter drops many.
        let batch = big(range.limit.saturating_add(1).clamp(64, 1000) as u64);
        self.pg().run(async |c| {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {META_COLUMNS} FROM {SESSIONS_FROM} \
                     WHERE s.start_key >= $1 AND s.start_key <= $2 AND s.start_key < $3 \
                     ORDER BY s.start_key DESC LIMIT $4"
                ))
                .await?;
            let mut page = Page {
                sessions: Vec::new(),
                next: None,
            };
            loop {
                let rows = c.query(&st, &[&&lo[..], &&hi[..], &before, &batch]).await?;
                for row in &rows {
                    before = row.try_get::<_, Vec<u8>>(3)?;
                    let meta = meta_of(row)?;
                    if !keep(&meta) {
                        continue;
                    }
                    if page.sessions.len() == range.limit {
                        page.next = page.sessions.last().map(SessionMeta::start_key);
                        return Ok(page);
                    }
                    page.sessions.push(meta);
                }
                if (rows.len() as i64) < batch {
                    return Ok(page);
                }
            }
        })
    }

    pub(super) fn inactive(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError> {
        self.pg().run(async |c| {
            c.query(
                "SELECT id FROM sessions WHERE last_activity < $1",
                &[&big(cutoff_ms)],
            )
            .await?
            .iter()
            .map(|r| session_id(r.try_get(0)?))
            .collect()
        })
    }

    /// Sessions counted exactly; the size is the bucket's objects (as the
    /// index knows them) plus the database's own size.
    pub(super) fn storage_stats(&self) -> Result<StorageStats, StoreError> {
        self.pg().run(async |c| {
            let r = c
                .query_one(
                    "SELECT (SELECT count(*) FROM sessions), \
                     (SELECT coalesce(sum(bytes), 0)::bigint FROM objects), \
                     pg_database_size(current_database())",
                    &[],
                )
                .await?;
            let (sessions, objects, db): (i64, i64, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            Ok(StorageStats {
                sessions: unbig(sessions),
                size_on_disk: unbig(objects).saturating_add(unbig(db)),
                ..StorageStats::default()
            })
        })
    }

    /// Rows in every table of the schema but the deployment's
    /// ([`DEPLOYMENT_TABLES`]), including tables later migrations add: the
    /// counterpart of the embedded layout's count of sled keys.
    pub(super) fn session_rows(&self) -> Result<usize, StoreError> {
        self.pg().run(async |c| {
            let tables: Vec<String> = c
                .query(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let mut n: i64 = 0;
            for t in tables {
                if DEPLOYMENT_TABLES.contains(&t.as_str()) {
                    continue;
                }
                let q = format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\""));
                n += c.query_one(&q, &[]).await?.try_get::<_, i64>(0)?;
            }
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}
