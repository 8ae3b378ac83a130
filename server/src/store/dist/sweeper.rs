//! The retention sweeper's lock (see [`crate::retention`]): retention runs
//! once per deployment, in the process that holds a PostgreSQL
//! session-level advisory lock.
//!
//! The lock is taken on a connection of its own, not a pooled one: an
//! advisory lock belongs to the connection that took it, and a pooled
//! connection serves every other query too. The process keeps that
//! connection (and so the lock) for as long as it lives; when it dies, or
//! loses the database, its connection closes and PostgreSQL frees the
//! lock, and the next process to try at its own next sweep takes it over.
//! A process that has it checks the connection is still alive before
//! each sweep (one round trip), so it never sweeps on a lock it lost.

use super::pg::Pg;
use crate::store::StoreError;

/// The lock's key, in the database of the deployment ("reelswep").
const KEY: i64 = 0x7265_656c_7377_6570;

pub(crate) struct SweeperLock {
    /// The connection that holds the lock, while this process has it.
    held: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
}

impl SweeperLock {
    pub(crate) fn new() -> Self {
        SweeperLock {
            held: tokio::sync::Mutex::new(None),
        }
    }

    /// Whether this process holds the lock: kept if it had it and its
    /// connection still answers, else tried once (without waiting).
    pub(crate) fn hold(&self, pg: &Pg) -> Result<bool, StoreError> {
        pg.block_on(async {
            let mut held = self.held.lock().await;
            if let Some(c) = held.as_ref() {
                if !c.is_closed() && c.simple_query("SELECT 1").await.is_ok() {
                    return Ok(true);
                }
                // Lost with its connection: PostgreSQL freed it.
                *held = None;
            }
            // With the pool's settings and TLS.
            let client = pg.connect_own("reel-server retention").await?;
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&KEY])
                .await?
                .get(0);
            if got {
                tracing::info!("this process runs the deployment's retention sweeps");
                *held = Some(client);
            }
            Ok(got)
        })
    }
}
