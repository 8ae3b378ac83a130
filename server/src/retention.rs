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

use crate::api::SharedState;
use crate::store::{now_ms, Store, StoreError};
use std::time::Duration;

/// Deletes the sessions inactive for longer than `retention` as of `now`
/// (ms); returns how many it deleted. Blocks.
pub fn sweep(store: &Store, retention: Duration, now: u64) -> Result<u64, StoreError> {
    let keep_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    let cutoff = now.saturating_sub(keep_ms);
    let mut deleted = 0;
    for id in store.inactive_before(cutoff)? {
        // Look again right before deleting: a chunk may have arrived since
        // the scan, and then the session is active after all.
        match store.session(&id)? {
            Some(m) if m.last_activity() < cutoff => {}
            _ => continue,
        }
        match store.delete_session(&id) {
            Ok(true) => deleted += 1,
            Ok(false) => {}
            // Ingest keeps writing to it: it is not inactive.
            Err(StoreError::Busy) => {}
            Err(e) => return Err(e),
        }
    }
    if deleted > 0 {
        store.flush_blocking()?;
    }
    Ok(deleted)
}

/// The sweeper: runs [`sweep`] at once and then every `every`, forever.
pub async fn run(state: SharedState, retention: Duration, every: Duration) {
    loop {
        let s = state.store.clone();
        match tokio::task::spawn_blocking(move || sweep(&s, retention, now_ms())).await {
            Ok(Ok(n)) => {
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
        // Again: nothing more to do.
        assert_eq!(sweep(&store, month, now).unwrap(), 0);
        // A tiny retention takes everything older than it.
        assert_eq!(sweep(&store, Duration::from_millis(1), now).unwrap(), 1);
        assert_eq!(sweep(&store, Duration::ZERO, now + 1).unwrap(), 1);
        assert_eq!(store.session_key_count().unwrap(), 0);
        assert_eq!(store.stats().unwrap().sessions, 0);
    }
}
