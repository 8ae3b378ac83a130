//! Retention: with `--retention-days N`, a background sweeper deletes every
//! session whose last activity is more than N days old, once at start and
//! then every hour.
//!
//! "Last activity" is when the server last stored a chunk of the session
//! (see [`crate::index::SessionMeta::last_activity`]), on the server's own
//! clock: a page whose clock is off by years neither loses its session at
//! once nor keeps it forever.
//!
//! A sweep reads every session's metadata (not its chunks): hourly, that
//! is cheap next to ingest. Deletion goes through
//! [`crate::store::Storage::delete_session`], so it removes every key a
//! `DELETE` would.
//!
//! The sweep also prunes the audit log: its entries are kept as long as
//! the longest retention (the `--retention-days` and every project's), and
//! forever when there is no `--retention-days` (then the sessions of
//! projects without a retention of their own are kept forever). Nothing
//! else removes an entry ([`crate::store::audit`]).
//!
//! Once per deployment, not once per process: every process runs the
//! sweeper, but a sweep runs only in the process that holds the store's
//! sweeper lock ([`crate::store::Storage::hold_sweeper_lock`]): on the
//! embedded layout the one process always does; on the distributed one a
//! PostgreSQL advisory lock, held by one process for as long as it lives,
//! and taken over by another at its next sweep once that one is gone.

use crate::api::SharedState;
use crate::store::{now_ms, Store, StoreError};
use std::collections::BTreeMap;
use std::time::Duration;

/// Deletes the sessions inactive for longer than `retention` as of `now`
/// (ms); returns how many it deleted. Blocks.
pub fn sweep(store: &Store, retention: Duration, now: u64) -> Result<u64, StoreError> {
    sweep_projects(store, Some(retention), &BTreeMap::new(), now)
}

fn days_ms(days: f64) -> u64 {
    Duration::try_from_secs_f64(days * 86_400.0)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(u64::MAX)
}

/// [`sweep`] with each project's own retention (days, by project id)
/// where it sets one, and `retention` (the `--retention-days`; `None`:
/// keep) for the sessions of the others.
pub fn sweep_projects(
    store: &Store,
    retention: Option<Duration>,
    projects: &BTreeMap<String, f64>,
    now: u64,
) -> Result<u64, StoreError> {
    let default_ms = retention.map(|r| u64::try_from(r.as_millis()).unwrap_or(u64::MAX));
    let keep_ms = |project: Option<&str>| {
        project
            .and_then(|p| projects.get(p))
            .map(|d| days_ms(*d))
            .or(default_ms)
    };
    // Every session older than the shortest retention is a candidate.
    let Some(shortest) = projects
        .values()
        .map(|d| days_ms(*d))
        .chain(default_ms)
        .min()
    else {
        return Ok(0);
    };
    let mut deleted = 0;
    let candidates = store.inactive_before(now.saturating_sub(shortest))?;
    // One batch: the deleted sessions' keys leave the disk together.
    store.delete_sessions(&mut |delete| {
        for id in &candidates {
            // Look again right before deleting: a chunk may have arrived
            // since the scan, and then the session is active after all.
            match store.session(id)? {
                Some(m) => match keep_ms(m.project.as_deref()) {
                    Some(k) if m.last_activity() < now.saturating_sub(k) => {}
                    _ => continue,
                },
                _ => continue,
            }
            match delete(id) {
                Ok(true) => deleted += 1,
                Ok(false) => {}
                // Ingest keeps writing to it: it is not inactive.
                Err(StoreError::Busy) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })?;
    if deleted > 0 {
        store.flush_blocking()?;
        // The deleted sessions' user ids, off the disk too.
        store.purge_forgotten()?;
    }
    // The audit log is kept as long as the longest retention: entries
    // older than it go, unless something keeps sessions forever (no
    // `--retention-days`: the sessions of projects without their own).
    if let Some(longest) =
        default_ms.map(|d| projects.values().map(|v| days_ms(*v)).fold(d, u64::max))
    {
        let pruned = store.prune_audit(now.saturating_sub(longest))?;
        if pruned > 0 {
            store.flush_blocking()?;
            tracing::info!(
                entries = pruned,
                "audit log: entries older than the longest retention removed"
            );
        }
    }
    Ok(deleted)
}

/// [`sweep_projects`] if this process holds the deployment's sweeper
/// lock; `None` (nothing done) when another process does.
pub fn sweep_if_holder(
    store: &Store,
    retention: Option<Duration>,
    projects: &BTreeMap<String, f64>,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    if !store.hold_sweeper_lock()? {
        return Ok(None);
    }
    let deleted = sweep_projects(store, retention, projects, now)?;
    // The backend's own upkeep (compaction, orphans), once per deployment
    // too; its failure does not undo the sweep.
    if let Err(e) = store.upkeep(now) {
        tracing::warn!("storage upkeep: {e}");
    }
    Ok(Some(deleted))
}

/// The sweeper: runs [`sweep_if_holder`] at once and then every `every`,
/// forever, with `retention` (the `--retention-days`, if any) and the
/// projects' retentions as they are at each sweep.
pub async fn run(state: SharedState, retention: Option<Duration>, every: Duration) {
    loop {
        let s = state.store.clone();
        let projects = state.projects.retentions();
        match tokio::task::spawn_blocking(move || {
            sweep_if_holder(&s, retention, &projects, now_ms())
        })
        .await
        {
            Ok(Ok(None)) => {
                tracing::debug!("retention sweep: another process of the deployment sweeps")
            }
            Ok(Ok(Some(n))) => {
                state.metrics.retention_deleted(n);
                if n > 0 {
                    tracing::info!(deleted = n, "retention sweep");
                } else {
                    tracing::debug!("retention sweep: nothing to delete");
                }
            }
            Ok(Err(e)) => tracing::error!("retention sweep failed: {e}"),
            Err(e) => tracing::error!("retention sweep panicked: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_shared::{ChunkHeader, ChunkStats, SessionId};

    fn header(id: u8, seq: u32) -> ChunkHeader {
        ChunkHeader {
            session: SessionId([id; 16]),
            seq,
            t_start: 1_000,
            t_end: 2_000,
            event_count: 1,
            stats: ChunkStats::default(),
        }
    }

    #[test]
    fn old_sessions_go_and_every_key_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let day = 86_400_000;
        let now = 100 * day;
        // Session 1: last heard from 40 days ago. Session 2: started 40
        // days ago, active an hour ago. Session 3: just now.
        store
            .put_chunk(&header(1, 0), b"a", now - 41 * day)
            .unwrap();
        store
            .put_chunk(&header(1, 1), b"b", now - 40 * day)
            .unwrap();
        store
            .put_chunk(&header(2, 0), b"c", now - 40 * day)
            .unwrap();
        store
            .put_chunk(&header(2, 1), b"d", now - 3_600_000)
            .unwrap();
        store.put_chunk(&header(3, 0), b"e", now).unwrap();
        let month = Duration::from_secs(30 * 86_400);
        assert_eq!(sweep(&store, month, now).unwrap(), 1);
        assert!(!store.has_session(&SessionId([1; 16])).unwrap());
        assert!(store.chunks(&SessionId([1; 16]), 0).unwrap().is_empty());
        assert!(store.has_session(&SessionId([2; 16])).unwrap());
        assert_eq!(
            store.session_key_count().unwrap(),
            (2 + 1 + 1) + (1 + 1 + 1)
        );
        // Again: nothing more to do. The one process always sweeps.
        assert_eq!(sweep(&store, month, now).unwrap(), 0);
        assert_eq!(
            sweep_if_holder(&store, Some(month), &BTreeMap::new(), now).unwrap(),
            Some(0)
        );
        // A tiny retention takes everything older than it.
        assert_eq!(sweep(&store, Duration::from_millis(1), now).unwrap(), 1);
        assert_eq!(sweep(&store, Duration::ZERO, now + 1).unwrap(), 1);
        assert_eq!(store.session_key_count().unwrap(), 0);
        assert_eq!(store.stats().unwrap().sessions, 0);
    }

    /// The audit log is kept as long as the longest retention, the
    /// server's or a project's, and forever when sessions may be.
    fn audit_kept_as_long_as_the_longest_retention(store: &Store) {
        use crate::store::audit::AuditEntry;
        let day = 86_400_000;
        let now = 100 * day;
        for (i, at) in [now - 50 * day, now - 35 * day, now - 20 * day, now]
            .into_iter()
            .enumerate()
        {
            let e = AuditEntry {
                at,
                actor: "admin".into(),
                action: format!("a{i}"),
                session_id: None,
                detail: String::new(),
                address: None,
            };
            store.append_audit(&e).unwrap();
        }
        let ats = || -> Vec<u64> {
            let all = store.audit_entries(0, None, 100).unwrap();
            all.iter().map(|(_, e)| e.at).collect()
        };
        let month = Some(Duration::from_secs(30 * 86_400));
        // No --retention-days: the sessions of projects without their own
        // retention are kept forever, and so is the log.
        let short = BTreeMap::from([("p".to_owned(), 10.0)]);
        sweep_projects(store, None, &short, now).unwrap();
        assert_eq!(ats().len(), 4);
        // 30 days, a project keeping 40: what is older than 40 days goes.
        let long = BTreeMap::from([("p".to_owned(), 40.0)]);
        assert_eq!(sweep_if_holder(store, month, &long, now).unwrap(), Some(0));
        assert_eq!(ats(), [now, now - 20 * day, now - 35 * day]);
        // 30 days, a project keeping 10: the 30 days.
        sweep_projects(store, month, &short, now).unwrap();
        assert_eq!(ats(), [now, now - 20 * day]);
    }

    #[test]
    fn the_audit_log_is_pruned_by_retention_on_the_embedded_layout() {
        let dir = tempfile::tempdir().unwrap();
        audit_kept_as_long_as_the_longest_retention(&Store::open(dir.path()).unwrap());
    }

    #[test]
    fn the_audit_log_is_pruned_by_retention_on_the_distributed_layout() {
        let db = reel_testsvc::postgres().create_database();
        let s3 = reel_testsvc::s3();
        let bucket = s3.create_bucket();
        let d = crate::store::dist::DistStorage::open_with_env(&bucket, &db, &s3.env()).unwrap();
        audit_kept_as_long_as_the_longest_retention(&Store::new(std::sync::Arc::new(d)));
    }

    /// Two processes of one distributed deployment: the first to try
    /// sweeps, the other does not, until the first is gone; then the
    /// other takes over.
    #[test]
    fn one_process_of_a_deployment_sweeps() {
        let db = reel_testsvc::postgres().create_database();
        let s3 = reel_testsvc::s3();
        let bucket = s3.create_bucket();
        let open = || {
            let d =
                crate::store::dist::DistStorage::open_with_env(&bucket, &db, &s3.env()).unwrap();
            Store::new(std::sync::Arc::new(d))
        };
        let (a, b) = (open(), open());
        let day = 86_400_000;
        let now = 100 * day;
        a.put_chunk(&header(1, 0), b"a", now - 41 * day).unwrap();
        a.put_chunk(&header(2, 0), b"b", now).unwrap();
        let month = Some(Duration::from_secs(30 * 86_400));
        let none = BTreeMap::new();
        assert_eq!(sweep_if_holder(&a, month, &none, now).unwrap(), Some(1));
        assert_eq!(sweep_if_holder(&b, month, &none, now).unwrap(), None);
        // Kept between sweeps.
        assert_eq!(sweep_if_holder(&a, month, &none, now).unwrap(), Some(0));
        assert_eq!(sweep_if_holder(&b, month, &none, now).unwrap(), None);
        b.put_chunk(&header(3, 0), b"c", now - 41 * day).unwrap();
        drop(a);
        // PostgreSQL frees the lock once it sees the connection closed:
        // wait for that (bounded), then b sweeps.
        let mut swept = None;
        for _ in 0..400 {
            swept = sweep_if_holder(&b, month, &none, now).unwrap();
            if swept.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert_eq!(swept, Some(1), "the lock never passed to the other process");
        assert!(!b.has_session(&SessionId([3; 16])).unwrap());
        assert!(b.has_session(&SessionId([2; 16])).unwrap());
    }
}
