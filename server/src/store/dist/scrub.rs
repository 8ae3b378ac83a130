//! Scrubbing PostgreSQL's files after a person's erasure (contract §8,
//! "every byte") for [`DistStorage`]: the bucket needs nothing more (a
//! delete rewrites the objects it shared, invariant 3 of [`super`]), but
//! PostgreSQL keeps a deleted row's bytes
//!
//! - in its table's and indexes' pages (a dead tuple until vacuumed; plain
//!   `VACUUM` frees the space without zeroing it),
//! - in `pg_statistic`: `ANALYZE` (autovacuum runs it) keeps sampled
//!   values of each column, its most common values and histogram bounds,
//! - in the write-ahead log: the rows as inserted, and full-page images of
//!   the pages the deletes touched.
//!
//! [`DistStorage::scrub_after_erasure`] runs once per erasure, after its
//! deletes have committed:
//!
//! 1. it waits (at most [`SNAPSHOT_WAIT`]) until no other transaction of
//!    the database holds a snapshot older than the deletes, and none of
//!    any database that began before them still runs: `VACUUM FULL` copies
//!    the rows such a transaction could still see (measured: one open
//!    insert in another database keeps a deleted row in the rewrite);
//! 2. `VACUUM (FULL, ANALYZE)` on every table of session data (every table
//!    of the schema but [`DEPLOYMENT_TABLES`]): each table, its TOAST table
//!    and its indexes are written into new files, the old files truncated
//!    when the vacuum commits (and unlinked at the next checkpoint), and
//!    the statistics sampled again from the live rows;
//! 3. `VACUUM FULL pg_statistic`, whose old rows held the old samples
//!    (allowed to the database's owner), after waiting as in 1. for
//!    transactions older than the ANALYZEs;
//! 4. `pg_switch_wal()` then `CHECKPOINT`: every WAL segment written
//!    before the switch is past the checkpoint's redo point, so PostgreSQL
//!    removes it, provided its settings let it remove rather than keep
//!    (`wal_recycle = off`, `wal_keep_size = 0`, no archive, no
//!    replication slot: [`wal_keepers`] names what keeps segments).
//!
//! Each `VACUUM FULL` holds an ACCESS EXCLUSIVE lock on its table while it
//! rewrites it: ingest writing to that table waits (its transaction has
//! `pg::OP_TIMEOUT`; past it, a `503` the recorder retries: nothing is
//! lost). The lock is asked for with [`LOCK_TIMEOUT`], so that a long
//! transaction holding the table does not leave every writer queued
//! behind the vacuum for longer, and each rewrite is bounded by
//! [`STATEMENT_TIMEOUT`]. What could not be done now (a lock not granted,
//! an old snapshot still open, the database out of reach) is tried again
//! in the background, [`RETRIES`] times; what privileges or settings
//! forbid is logged, said in the erasure's audit entry, and left to the
//! admin (README, "Running more than one process").
//!
//! The retries run on threads of their own, which poll their work on the
//! store's runtime: they are stopped ([`Retries::stop`], by the store's
//! drop) before that runtime shuts down, since tokio panics ("runtime shut
//! down") when a timer or a socket of a runtime that is gone is polled. A
//! retry stopped while it waits, or cut in the middle of a scrub (its
//! connection closes; PostgreSQL rolls back or finishes the statement it
//! was running, either being safe), logs what it left undone, as one that
//! gave up does: the erasure's audit entry said it would be retried.

use super::pg::{self, Pg};
use super::schema::DEPLOYMENT_TABLES;
use super::DistStorage;
use crate::store::StoreError;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// How long a `VACUUM FULL` waits for its table's lock before giving up
/// (for now: the table is retried in the background).
pub(crate) const LOCK_TIMEOUT: &str = "2s";
/// How long one `VACUUM FULL` may take: the longest ingest waits for it.
pub(crate) const STATEMENT_TIMEOUT: &str = "30s";
/// How long the scrub waits for snapshots older than the erasure to end.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(20);
/// Background attempts when something could not be done at once, the
/// first after [`FIRST_RETRY`], each wait twice the one before.
const RETRIES: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(10);
/// How long a store's drop waits for its retries to stop (they stop at
/// once: this bounds a thread that cannot be scheduled).
const STOP_WAIT: Duration = Duration::from_secs(5);
/// What to do by hand when the retries did not scrub.
const BY_HAND: &str = "run VACUUM FULL on the session tables, VACUUM FULL pg_statistic, \
     SELECT pg_switch_wal() and CHECKPOINT by hand";

/// What one scrub left undone.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Scrubbed {
    /// Undone for now (a lock, a snapshot, an outage): worth trying again.
    pub again: Vec<String>,
    /// Forbidden by the database's privileges or settings: for the admin.
    pub forbidden: Vec<String>,
}

impl DistStorage {
    /// Scrubs PostgreSQL's files of what the deletes before it removed (see
    /// the module); tries again in the background what it could not do now.
    /// Returns what is not done, in words, for the erasure's audit entry.
    pub(crate) fn scrub_after_erasure(&self) -> Result<Vec<String>, StoreError> {
        let done = scrub_blocking(self.pg())?;
        for what in &done.forbidden {
            tracing::warn!("erasure: {what}");
        }
        let mut deferred = Vec::new();
        if !done.again.is_empty() {
            tracing::warn!(undone = ?done.again, "erasure: PostgreSQL not scrubbed yet; trying again in the background");
            deferred.push(format!(
                "retried in the background: {}",
                done.again.join(", ")
            ));
            self.scrubs
                .start(self.pg().clone(), FIRST_RETRY, done.again);
        }
        deferred.extend(done.forbidden);
        Ok(deferred)
    }
}

/// One scrub, blocking, under the maintenance time limit (a `VACUUM FULL`
/// is bounded by [`STATEMENT_TIMEOUT`] itself).
fn scrub_blocking(pg: &Pg) -> Result<Scrubbed, StoreError> {
    pg::with_limit(pg::Limit::Maintenance, || pg.block_on(scrub(pg)))
}

/// The background retries of one store's scrubs (see the module).
pub(crate) struct Retries {
    stop: tokio::sync::watch::Sender<bool>,
    running: Arc<(Mutex<Running>, Condvar)>,
}

#[derive(Default)]
struct Running {
    threads: usize,
    panicked: usize,
}

fn lock(m: &Mutex<Running>) -> MutexGuard<'_, Running> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts a retry thread out when it ends, however it ends.
struct Ended(Arc<(Mutex<Running>, Condvar)>);

impl Drop for Ended {
    fn drop(&mut self) {
        let (m, cv) = &*self.0;
        let mut g = lock(m);
        g.threads -= 1;
        if std::thread::panicking() {
            g.panicked += 1;
        }
        cv.notify_all();
    }
}

/// How [`Retries::stop`] found the retries.
#[derive(Debug, PartialEq)]
pub(crate) struct Stopped {
    /// Still running after [`STOP_WAIT`].
    pub running: usize,
    /// Retry threads that panicked, ever.
    pub panicked: usize,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            stop: tokio::sync::watch::Sender::new(false),
            running: Arc::default(),
        }
    }
}

impl Retries {
    /// Tries the scrub again on a thread of its own, first after `wait`,
    /// until nothing is left `undone` or [`RETRIES`] attempts were made.
    fn start(&self, pg: Pg, wait: Duration, undone: Vec<String>) {
        let mut stop = self.stop.subscribe();
        let running = self.running.clone();
        lock(&running.0).threads += 1;
        let ended = Ended(running);
        let spawned = std::thread::Builder::new()
            .name("reel-scrub".into())
            .spawn(move || {
                let _ended = ended;
                retry(&pg, &mut stop, wait, undone);
            });
        if let Err(e) = spawned {
            // (The closure, and so `ended`, is dropped: counted out.)
            tracing::error!("erasure: cannot start the scrub's retries: {e}; {BY_HAND}");
        }
    }

    /// Stops every retry and waits (at most [`STOP_WAIT`]) until they have
    /// ended; each logs what it left undone. Call it before the store's
    /// runtime shuts down.
    pub(crate) fn stop(&self) -> Stopped {
        self.stop.send_replace(true);
        let (m, cv) = &*self.running;
        let g = cv
            .wait_timeout_while(lock(m), STOP_WAIT, |r| r.threads > 0)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
        if g.threads > 0 {
            tracing::warn!(
                threads = g.threads,
                "erasure: scrub retries still running as the store stops"
            );
        }
        Stopped {
            running: g.threads,
            panicked: g.panicked,
        }
    }
}

/// What one retry thread does (see [`Retries::start`]).
fn retry(
    pg: &Pg,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    mut wait: Duration,
    mut undone: Vec<String>,
) {
    for attempt in 1..=RETRIES {
        // The wait and the scrub both on the store's runtime, each ended
        // at once by a stop (the sender gone counts as one).
        let tried = pg::with_limit(pg::Limit::Maintenance, || {
            pg.block_on(async {
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => Ok(None),
                    done = async {
                        tokio::time::sleep(wait).await;
                        scrub(pg).await
                    } => done.map(Some),
                }
            })
        });
        match tried {
            Ok(None) => {
                tracing::error!(
                    attempt,
                    ?undone,
                    "erasure: the server stopped before PostgreSQL was scrubbed: {BY_HAND}"
                );
                return;
            }
            Ok(Some(s)) if s.again.is_empty() => {
                tracing::info!(attempt, "erasure: PostgreSQL scrubbed");
                return;
            }
            Ok(Some(s)) => {
                tracing::warn!(attempt, undone = ?s.again, "erasure: PostgreSQL still not scrubbed");
                undone = s.again;
            }
            Err(e) => tracing::warn!(attempt, "erasure: scrubbing PostgreSQL: {e}"),
        }
        wait *= 2;
    }
    tracing::error!(
        ?undone,
        "erasure: PostgreSQL not scrubbed after {RETRIES} attempts: {BY_HAND}"
    );
}

/// Whether an error means "not now" (a lock not granted in time, a
/// rewrite cut by the statement timeout, a deadlock, an outage).
fn not_now(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::LOCK_NOT_AVAILABLE)
            | Some(&SqlState::QUERY_CANCELED)
            | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    ) || e.is_closed()
        || match e.code() {
            // No server error: I/O, connecting, a timeout.
            None => true,
            // Connection exceptions, shutting down or starting up.
            Some(code) => code.code().starts_with("08") || code.code().starts_with("57P0"),
        }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One scrub, on a connection of its own (its timeouts are set for the
/// whole connection, which is therefore not one of the pool's).
pub(crate) async fn scrub(pg: &Pg) -> Result<Scrubbed, StoreError> {
    let mut out = Scrubbed::default();
    let c = match pg.connect_own("reel-server erasure scrub").await {
        Ok(c) => c,
        Err(StoreError::Unavailable(e)) => {
            out.again.push(format!("the index database: {e}"));
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    match scrub_on(&c, &mut out).await {
        Ok(()) => Ok(out),
        Err(e) if not_now(&e) => {
            out.again.push(format!("{}", StoreError::from(e)));
            Ok(out)
        }
        Err(e) => Err(e.into()),
    }
}

async fn scrub_on(
    c: &tokio_postgres::Client,
    out: &mut Scrubbed,
) -> Result<(), tokio_postgres::Error> {
    c.batch_execute(&format!(
        "SET lock_timeout = '{LOCK_TIMEOUT}'; SET statement_timeout = '{STATEMENT_TIMEOUT}'"
    ))
    .await?;
    if !old_snapshots_ended(c).await? {
        out.again
            .push("a transaction older than the erasure was still open".into());
    }
    let tables = c
        .query(
            "SELECT c.relname::text, pg_has_role(c.relowner, 'USAGE') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1",
            &[],
        )
        .await?;
    for row in tables {
        let (table, owned): (String, bool) = (row.try_get(0)?, row.try_get(1)?);
        if DEPLOYMENT_TABLES.contains(&table.as_str()) {
            continue;
        }
        if !owned {
            out.forbidden.push(format!(
                "table {table} not rewritten: Reel's user does not own it"
            ));
            continue;
        }
        vacuum(
            c,
            &format!("VACUUM (FULL, ANALYZE) {}", quoted(&table)),
            &table,
            out,
        )
        .await?;
    }
    let db_owner: bool = c
        .query_one(
            "SELECT pg_has_role(datdba, 'USAGE') FROM pg_database \
             WHERE datname = current_database()",
            &[],
        )
        .await?
        .try_get(0)?;
    if db_owner {
        // The ANALYZEs' replaced rows, like the deletes' rows: kept by the
        // rewrite while a transaction older than them runs.
        if !old_snapshots_ended(c).await? {
            out.again
                .push("a transaction older than the statistics was still open".into());
        }
        vacuum(
            c,
            "VACUUM FULL pg_catalog.pg_statistic",
            "pg_statistic",
            out,
        )
        .await?;
    } else {
        out.forbidden
            .push("pg_statistic not rewritten: Reel's user does not own the database".into());
    }
    let r = c
        .query_one(
            "SELECT has_function_privilege('pg_catalog.pg_switch_wal()', 'EXECUTE'), \
             pg_has_role('pg_checkpoint', 'USAGE')",
            &[],
        )
        .await?;
    let (may_switch, may_checkpoint): (bool, bool) = (r.try_get(0)?, r.try_get(1)?);
    if may_switch && may_checkpoint {
        c.batch_execute("SELECT pg_catalog.pg_switch_wal(); CHECKPOINT")
            .await?;
    } else {
        out.forbidden.push(
            "WAL not switched and checkpointed: grant Reel's user pg_checkpoint and \
             EXECUTE on pg_switch_wal()"
                .into(),
        );
    }
    out.forbidden.extend(wal_keepers(c).await?);
    Ok(())
}

/// Runs one `VACUUM`; a lock not granted or a rewrite cut short is noted
/// in `out.again` rather than failing the scrub.
async fn vacuum(
    c: &tokio_postgres::Client,
    sql: &str,
    table: &str,
    out: &mut Scrubbed,
) -> Result<(), tokio_postgres::Error> {
    match c.batch_execute(sql).await {
        Ok(()) => Ok(()),
        Err(e) if not_now(&e) && !c.is_closed() => {
            out.again.push(format!("table {table}"));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Waits until nothing still running could make `VACUUM FULL` keep the
/// erased rows (false if something still does after [`SNAPSHOT_WAIT`]):
/// no other session of this database holds a snapshot taken before the
/// erasure's deletes committed, and no transaction of any database that
/// started before is still running (the vacuum's own snapshot would hold
/// its xid as running, and so the deletes as perhaps not yet seen by all).
async fn old_snapshots_ended(c: &tokio_postgres::Client) -> Result<bool, tokio_postgres::Error> {
    // An xid of its own: above every xid assigned before, the deletes'
    // included (a snapshot's xmax is not: it is the latest completed + 1).
    let horizon: String = c
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await?
        .try_get(0)?;
    let started = tokio::time::Instant::now();
    loop {
        let ended: bool = c
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8 \
                 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                 AND backend_xmin IS NOT NULL \
                 AND age(backend_xmin) > age($1::text::xid8::xid))",
                &[&horizon],
            )
            .await?
            .try_get(0)?;
        if ended {
            return Ok(true);
        }
        if started.elapsed() >= SNAPSHOT_WAIT {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What in the server's settings keeps old WAL segments (and so the
/// erased rows in them) on disk, in words.
pub(crate) async fn wal_keepers(
    c: &tokio_postgres::Client,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let r = c
        .query_one(
            "SELECT current_setting('wal_recycle'), current_setting('wal_keep_size'), \
             current_setting('archive_mode'), (SELECT count(*) FROM pg_replication_slots)",
            &[],
        )
        .await?;
    let (recycle, keep, archive, slots): (String, String, String, i64) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    let mut out = Vec::new();
    if recycle != "off" {
        out.push("wal_recycle is on: old WAL segments are reused with their bytes".into());
    }
    if keep != "0" && keep != "0kB" {
        out.push(format!("wal_keep_size is {keep}: WAL segments are kept"));
    }
    if archive != "off" {
        out.push(format!(
            "archive_mode is {archive}: archived WAL holds the rows"
        ));
    }
    if slots > 0 {
        out.push(format!("{slots} replication slot(s) may keep WAL segments"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::people::PeopleStore;
    use crate::store::test_support::identified;
    use crate::store::Storage;
    use reel_shared::SessionId;
    use std::path::Path;

    /// Files under `dir` holding `needle` (files PostgreSQL removes meanwhile
    /// are skipped).
    fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    if bytes.windows(needle.len()).any(|w| w == needle) {
                        out.push(path.display().to_string());
                    }
                }
            }
        }
        out
    }

    fn db_name(url: &str) -> &str {
        url.rsplit('/').next().unwrap_or(url)
    }

    /// An erased session's user id is in the table, its index, the
    /// statistics and the WAL before; in no file of PostgreSQL's after the
    /// scrub; the other person's session stays.
    #[test]
    fn no_byte_of_an_erased_session_stays_in_postgresql_files() {
        let pg = reel_testsvc::postgres();
        let s3 = reel_testsvc::s3();
        let url = pg.create_database();
        let s = DistStorage::open_with_env(&s3.create_bucket(), &url, &s3.env()).unwrap();
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).unwrap();
        let gone = format!("scrubbed-{}-person", u64::from_le_bytes(tag));
        for seq in 0..3 {
            s.put_chunk(&identified(1, seq, &gone), b"chunk", 5)
                .unwrap();
            s.put_chunk(&identified(2, seq, "stays"), b"chunk", 5)
                .unwrap();
        }
        pg.psql(db_name(&url), "ANALYZE");
        pg.psql(db_name(&url), "CHECKPOINT");
        let before = files_holding(&pg.data_dir(), gone.as_bytes());
        // (Not asserted in pg_wal: another test's scrub may remove the
        // segments meanwhile; the e2e test checks the WAL.)
        assert!(
            before.iter().any(|f| f.contains("base")),
            "the search cannot see it: {before:?}"
        );
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        s.purge_forgotten().unwrap();
        pg.psql(db_name(&url), "CHECKPOINT");
        assert!(
            !files_holding(&pg.data_dir(), gone.as_bytes()).is_empty(),
            "a delete and a plain VACUUM leave it (the scrub's reason to be)"
        );
        assert_eq!(s.scrub_erased().unwrap(), Vec::<String>::new());
        let left = files_holding(&pg.data_dir(), gone.as_bytes());
        let names: Vec<String> = left
            .iter()
            .filter_map(|f| f.rsplit('/').next())
            .map(|node| {
                pg.psql(
                    db_name(&url),
                    &format!("SELECT relname FROM pg_class WHERE relfilenode = '{node}'::oid"),
                )
            })
            .collect();
        assert!(left.is_empty(), "{left:?}: {names:?}");
        assert_eq!(s.sessions_of_user("stays").unwrap(), [SessionId([2; 16])]);
        assert_eq!(s.chunk_seqs(&SessionId([2; 16]), 0).unwrap(), [0, 1, 2]);
    }

    /// Retries stopped while one waits and one is in the middle of a scrub
    /// (connecting to a server that never answers) end at once, without a
    /// panic, before their runtime shuts down.
    #[test]
    fn retries_stop_at_once_and_quietly() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Takes connections (into its backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "postgres://reel@127.0.0.1:{}/reel",
            silent.local_addr().unwrap().port()
        );
        let pg = {
            let _in_rt = rt.enter();
            Pg::new(&url, rt.handle().clone()).unwrap()
        };
        let retries = Retries::default();
        let undone = vec!["table sessions".to_string()];
        retries.start(pg.clone(), FIRST_RETRY, undone.clone());
        retries.start(pg, Duration::ZERO, undone);
        // The second one is scrubbing: connecting.
        let (_held, _) = silent.accept().unwrap();
        assert_eq!(
            retries.stop(),
            Stopped {
                running: 0,
                panicked: 0
            }
        );
        rt.shutdown_background();
    }

    /// A user that may not checkpoint nor switch the WAL: the erasure's
    /// scrub does the rest and says what it could not do.
    #[test]
    fn without_the_privileges_the_scrub_says_what_it_left() {
        let pg = reel_testsvc::postgres();
        let s3 = reel_testsvc::s3();
        pg.psql("postgres", "CREATE ROLE reel_unprivileged LOGIN");
        pg.psql(
            "postgres",
            "CREATE DATABASE unprivileged OWNER reel_unprivileged",
        );
        let url = format!(
            "postgres://reel_unprivileged@127.0.0.1:{}/unprivileged",
            pg.port()
        );
        let s = DistStorage::open_with_env(&s3.create_bucket(), &url, &s3.env()).unwrap();
        s.put_chunk(&identified(1, 0, "someone"), b"chunk", 5)
            .unwrap();
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        let left = s.scrub_erased().unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].contains("pg_checkpoint"), "{left:?}");
    }

    /// What an erasure's scrub costs beside 5,000 other sessions (rows of
    /// a typical size, written by SQL; `REEL_SCRUB_SESSIONS=N` for another
    /// number), and what ingest meanwhile sees:
    /// `cargo test --release -p reel-server --lib scrub_cost -- --ignored --nocapture`
    /// (BENCHMARKS.md).
    #[test]
    #[ignore = "a measurement"]
    fn scrub_cost() {
        let pg = reel_testsvc::postgres();
        let s3 = reel_testsvc::s3();
        let url = pg.create_database();
        let s = DistStorage::open_with_env(&s3.create_bucket(), &url, &s3.env()).unwrap();
        let db = db_name(&url);
        let id = "decode(lpad(to_hex(g), 32, '0'), 'hex')";
        let others: u64 = std::env::var("REEL_SCRUB_SESSIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000);
        let last = 99 + others;
        pg.psql(
            db,
            &format!(
                "INSERT INTO objects SELECT 'chunks/o' || g, 4000000, 4000000, 0 \
                 FROM generate_series(1, 500) g; \
                 INSERT INTO sessions SELECT {id}, {id}, g, 'user-' || (g % 2000), \
                 '{{\"urls\":[\"https://shop.example/p/' || g || '\"],\"ua\":\"' || repeat('m', 600) || '\"}}' \
                 FROM generate_series(100, {last}) g; \
                 INSERT INTO session_projects SELECT {id}, 'default' FROM generate_series(100, {last}) g; \
                 INSERT INTO chunks SELECT {id}, q, 'chunks/o' || (g % 500 + 1), q * 8000, 8000, q \
                 FROM generate_series(100, {last}) g, generate_series(0, 29) q; \
                 INSERT INTO digest_urls SELECT g, 'https://shop.example/p/' || g \
                 FROM generate_series(1, {last}) g; \
                 INSERT INTO digest_parts SELECT g, {id}, q, 0, decode(repeat('ab', 400), 'hex') \
                 FROM generate_series(100, {last}) g, generate_series(0, 5) q; \
                 INSERT INTO digest_steps SELECT {id}, decode(repeat('cd', 300), 'hex') \
                 FROM generate_series(100, {last}) g; \
                 INSERT INTO comments SELECT {id}, '\\x01', '{{\"text\":\"' || repeat('c', 100) || '\"}}' \
                 FROM generate_series(100, {last}) g WHERE g % 10 = 0; \
                 ANALYZE"
            ),
        );
        for seq in 0..30 {
            s.put_chunk(&identified(1, seq, "the-person"), &[7; 8000], 5)
                .unwrap();
        }
        let size = pg.psql(
            db,
            "SELECT pg_size_pretty(pg_database_size(current_database()))",
        );
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (took, ingest) = std::thread::scope(|scope| {
            let ingest = scope.spawn(|| {
                // New sessions' chunks, one at a time, as the ingest writer's
                // groups would, until the scrub is done.
                let (mut n, mut failed, mut slowest) = (0u32, 0u32, Duration::ZERO);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let mut h = identified(2, n, "someone else");
                    h.session = SessionId([(n % 200) as u8 + 2; 16]);
                    let t = std::time::Instant::now();
                    if s.put_chunk(&h, &[9; 2000], 5).is_err() {
                        failed += 1;
                    }
                    slowest = slowest.max(t.elapsed());
                    n += 1;
                }
                (n, failed, slowest)
            });
            let t = std::time::Instant::now();
            let left = s.scrub_erased().unwrap();
            let took = t.elapsed();
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(left, Vec::<String>::new());
            (took, ingest.join().unwrap())
        });
        println!(
            "database {}: scrub {took:?}; meanwhile {} chunks ingested, {} failed, slowest {:?}",
            size.trim(),
            ingest.0,
            ingest.1,
            ingest.2
        );
    }
}
