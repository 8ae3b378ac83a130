//! The PostgreSQL side of [`super::DistStorage`]: a connection pool, the
//! blocking bridge every storage method goes through, and how database
//! errors become [`StoreError`]s.
//!
//! How other modules use it (the shape every `dist/<concern>.rs` follows):
//!
//! ```ignore
//! // Blocking, one statement or a few, autocommit:
//! let n: i64 = self.pg().run(async |c| {
//!     Ok(c.query_one("SELECT count(*) FROM members", &[]).await?.get(0))
//! })?;
//! // Blocking, in one transaction (committed when the closure returns
//! // `Ok`, rolled back otherwise; run again on a deadlock):
//! self.pg().tx(async |tx| {
//!     tx.execute("INSERT INTO ...", &[&a, &b]).await?;
//!     Ok(())
//! })?;
//! ```
//!
//! `?` turns a `tokio_postgres::Error` into a [`StoreError`] (see
//! [`impl From`](#impl-From<Error>-for-StoreError)): the database out of
//! reach is [`StoreError::Unavailable`] (answered `503`, retried by the
//! client), anything else [`StoreError::Corrupt`].
//!
//! Timeouts are short, so that during an outage, or while the database is
//! frozen (a stopped process, a partition that drops packets: its sockets
//! still accept, nothing answers), a request fails in seconds instead of
//! hanging: connecting ([`CONNECT_TIMEOUT`], TLS included), waiting for a
//! pooled connection ([`POOL_WAIT`]), and above all each `run`/`tx` by its
//! [`Limit`]: a request's may wait on PostgreSQL [`PG_WAIT`] in all
//! (the time it spends on the object store, bounded by that side's own
//! limits, does not count: see [`away`]) and may take [`OP_TIMEOUT`] as a
//! whole. Long work (migrations, compaction, vacuums) runs under a longer
//! limit ([`with_limit`]). An operation cut by its limit fails with
//! [`StoreError::Unavailable`] (`503`) and its connection is closed, not
//! given back to the pool: a frozen server's connections are dropped one by
//! one and new ones made once it answers again. A transaction cut before
//! its `COMMIT` was sent is rolled back by the server; one cut after may
//! still commit when the server resumes, which is safe: nothing was
//! acknowledged, and a chunk sent again is a duplicate that stores nothing.
//!
//! TLS: `sslmode` and `sslrootcert` in the URL, see [`super::pg_tls`].

use crate::store::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;

/// A pooled connection (derefs to `tokio_postgres::Client`; has
/// `prepare_cached`).
pub(crate) type Client = deadpool_postgres::Client;
/// A transaction on a pooled connection (derefs to
/// `tokio_postgres::Transaction`; has `prepare_cached`).
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const POOL_WAIT: Duration = Duration::from_secs(5);
/// How long a request's `run` or `tx` may wait on PostgreSQL in all (its
/// statements are small; what it spends on the object store is not
/// counted): a frozen database answers `503` after this.
pub(crate) const PG_WAIT: Duration = Duration::from_secs(5);
/// A request's whole `run` or `tx`, however many statements and object
/// requests (a delete rewrites objects inside its transaction: generous,
/// but bounded).
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(60);
/// Upkeep's and migrations' operations, as a whole and on PostgreSQL:
/// compaction writes objects of up to 16 MiB inside its transactions.
/// Well under the orphan sweep's age (`compact::ORPHAN_AGE_MS`, 15 min), so
/// no object of a transaction still running is taken for an orphan.
pub(crate) const UPKEEP_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Maintenance that writes no object (a `VACUUM FULL` of a large table).
pub(crate) const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// TCP keepalive on idle connections, and how long sent data may stay
/// unacknowledged (Linux `TCP_USER_TIMEOUT`): a connection across a
/// partition is seen dead and replaced even when nothing waits on it.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections per process: three processes stay well under PostgreSQL's
/// default `max_connections` (100).
const POOL_SIZE: usize = 16;
/// Attempts of a transaction that meets a deadlock or a serialization
/// failure (both mean "run it again").
const TX_ATTEMPTS: usize = 5;

/// How long an operation may take: which limits [`Pg::run`], [`Pg::tx`]
/// and [`Pg::block_on`] apply (chosen per thread with [`with_limit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Everything a request does: [`PG_WAIT`] on PostgreSQL, [`OP_TIMEOUT`]
    /// in all.
    Request,
    /// Migrations at start, compaction and the orphan sweep:
    /// [`UPKEEP_TIMEOUT`].
    Upkeep,
    /// Maintenance that writes no object: [`MAINTENANCE_TIMEOUT`].
    Maintenance,
}

impl Limit {
    /// (time waiting on PostgreSQL, whole operation)
    fn bounds(self) -> (Duration, Duration) {
        match self {
            Limit::Request => (PG_WAIT, OP_TIMEOUT),
            Limit::Upkeep => (UPKEEP_TIMEOUT, UPKEEP_TIMEOUT),
            Limit::Maintenance => (MAINTENANCE_TIMEOUT, MAINTENANCE_TIMEOUT),
        }
    }
}

thread_local! {
    static LIMIT: std::cell::Cell<Limit> = const { std::cell::Cell::new(Limit::Request) };
}

/// Runs `f` with every store operation it makes on this thread under
/// `limit` instead of [`Limit::Request`].
pub(crate) fn with_limit<T>(limit: Limit, f: impl FnOnce() -> T) -> T {
    let before = LIMIT.with(|l| l.replace(limit));
    struct Restore(Limit);
    impl Drop for Restore {
        fn drop(&mut self) {
            LIMIT.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(before);
    f()
}

/// Cheap to clone (the pool and the runtime's handle are shared): a
/// background task takes its own (`scrub`'s retries).
#[derive(Clone)]
pub(crate) struct Pg {
    pool: Pool,
    rt: Handle,
    /// For connections of their own (the sweeper's lock).
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl Pg {
    /// A pool for `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`, with
    /// `sslmode` and `sslrootcert` as libpq's); no connection is made yet.
    pub(crate) fn new(url: &str, rt: Handle) -> Result<Self, StoreError> {
        let target = super::pg_tls::parse(url)?;
        let mut config = target.config;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(3)
            .tcp_user_timeout(TCP_USER_TIMEOUT)
            .application_name("reel-server");
        tracing::debug!(sslmode = ?target.mode, "index database");
        let manager = Manager::from_config(
            config.clone(),
            target.tls.clone(),
            ManagerConfig {
                // A connection that died with an outage is seen closed and
                // replaced; no round trip per checkout.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Corrupt(format!("index database pool: {e}")))?;
        Ok(Pg {
            pool,
            rt,
            config,
            tls: target.tls,
        })
    }

    /// A connection of its own (not pooled), with the pool's settings and
    /// TLS, named `application_name`; its connection task runs on the
    /// store's runtime. Call from inside a `block_on`.
    pub(crate) async fn connect_own(
        &self,
        application_name: &str,
    ) -> Result<tokio_postgres::Client, StoreError> {
        let mut config = self.config.clone();
        config.application_name(application_name);
        let (client, conn) =
            tokio::time::timeout(CONNECT_TIMEOUT, config.connect(self.tls.clone()))
                .await
                .map_err(|_| {
                    StoreError::Unavailable("index database: connecting timed out".into())
                })??;
        self.rt.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("a connection of its own ended: {e}");
            }
        });
        Ok(client)
    }

    /// A pooled connection, for code already inside a `run`/`tx` or async.
    pub(crate) async fn client(&self) -> Result<Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::from(e),
            e => StoreError::Unavailable(format!("index database: {e}")),
        })
    }

    /// Runs `f` with a pooled connection and blocks until it is done.
    pub(crate) fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.block_on(async {
            let mut c = Held::new(self.client().await?);
            let r = f(c.client()).await;
            c.keep();
            r
        })
    }

    /// Runs `f` in one transaction, committed when it returns `Ok` (rolled
    /// back otherwise), and blocks until it is done. A deadlock or a
    /// serialization failure ([`StoreError::Busy`]) runs it again, from the
    /// start; `f` may run more than once.
    pub(crate) fn tx<T>(
        &self,
        f: impl AsyncFn(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.block_on(async {
            let mut c = Held::new(self.client().await?);
            let mut attempt = 0;
            let r = loop {
                attempt += 1;
                let r = async {
                    let tx = c.client().transaction().await?;
                    let out = f(&tx).await?;
                    tx.commit().await?;
                    Ok(out)
                }
                .await;
                match r {
                    Err(StoreError::Busy) if attempt < TX_ATTEMPTS => continue,
                    r => break r,
                }
            };
            c.keep();
            r
        })
    }

    /// Blocks on `f` within this thread's [`Limit`], on this store's
    /// runtime.
    pub(crate) fn block_on<T>(
        &self,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let limit = LIMIT.with(|l| l.get());
        block_on(&self.rt, limited(limit, f))
    }
}

/// A pooled connection that is closed, not given back to the pool, unless
/// [`Held::keep`] is called: an operation cut by its limit (its future
/// dropped) may have left it waiting on a frozen server.
struct Held(Option<Client>);

impl Held {
    fn new(c: Client) -> Self {
        Held(Some(c))
    }

    fn client(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("a held connection is there until dropped")
    }

    fn keep(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            tracing::debug!("closing an index database connection cut by its time limit");
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

/// What an operation has spent away from PostgreSQL (on the object store),
/// which its [`PG_WAIT`] does not count.
struct Clock {
    state: std::sync::Mutex<ClockState>,
}

struct ClockState {
    started: Instant,
    /// Object-store requests under way (they may overlap).
    away: u32,
    away_since: Instant,
    away_total: Duration,
}

impl Clock {
    fn new() -> Self {
        let now = Instant::now();
        Clock {
            state: std::sync::Mutex::new(ClockState {
                started: now,
                away: 0,
                away_since: now,
                away_total: Duration::ZERO,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time spent waiting on PostgreSQL so far; `None` while away.
    fn on_pg(&self, now: Instant) -> Option<Duration> {
        let s = self.state();
        (s.away == 0).then(|| {
            now.saturating_duration_since(s.started)
                .saturating_sub(s.away_total)
        })
    }
}

struct Away(Arc<Clock>);

impl Away {
    fn leave(clock: Arc<Clock>) -> Self {
        {
            let mut s = clock.state();
            if s.away == 0 {
                s.away_since = Instant::now();
            }
            s.away += 1;
        }
        Away(clock)
    }
}

impl Drop for Away {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.away = s.away.saturating_sub(1);
        if s.away == 0 {
            let since = s.away_since;
            s.away_total += Instant::now().saturating_duration_since(since);
        }
    }
}

tokio::task_local! {
    static CLOCK: Arc<Clock>;
}

/// Runs `f`, a request to the object store (bounded by its own limits,
/// see [`super::objects`]), off the PostgreSQL clock of the operation it is
/// part of: a transaction that writes an object spends [`PG_WAIT`] on the
/// database only.
pub(crate) async fn away<T>(f: impl Future<Output = T>) -> T {
    let _away = CLOCK.try_with(Arc::clone).ok().map(Away::leave);
    f.await
}

fn timed_out(what: &str) -> StoreError {
    StoreError::Unavailable(format!("the index database or the object store {what}"))
}

/// `f` within `limit`: at most its PostgreSQL time (time [`away`] not
/// counted) and at most its whole time.
async fn limited<T>(
    limit: Limit,
    f: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let (pg_wait, total) = limit.bounds();
    let clock = Arc::new(Clock::new());
    let mut f = std::pin::pin!(CLOCK.scope(clock.clone(), f));
    let mut whole = std::pin::pin!(tokio::time::sleep(total));
    let mut check = std::pin::pin!(tokio::time::sleep(pg_wait));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = f.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        if whole.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(timed_out(&format!(
                "did not finish within {}s",
                total.as_secs()
            ))));
        }
        while check.as_mut().poll(cx).is_ready() {
            let now = tokio::time::Instant::now();
            match clock.on_pg(now.into_std()) {
                // On the object store: its own limits apply; look again.
                None => check.as_mut().reset(now + pg_wait),
                Some(spent) if spent >= pg_wait => {
                    return Poll::Ready(Err(StoreError::Unavailable(format!(
                        "the index database did not answer within {}s",
                        pg_wait.as_secs()
                    ))))
                }
                Some(spent) => check.as_mut().reset(now + (pg_wait - spent)),
            }
        }
        Poll::Pending
    })
    .await
}

/// Runs a future to completion on `rt`, from a thread that is not one of
/// its workers (the storage invariant: storage methods are called off the
/// async workers, see `api::blocking`).
///
/// Outside any runtime (the ingest writer, `spawn_blocking` threads, the
/// CLI) this is `rt.block_on`. Inside another runtime's context (a test's
/// `#[tokio::test]` body calling the store directly) tokio refuses
/// `block_on`; there the future is polled on this thread with `rt`'s
/// context entered, so its I/O and timers are driven by `rt`'s workers.
/// That blocks the calling thread, which is why production code never
/// calls storage from an async worker.
pub(crate) fn block_on<F: Future>(rt: &Handle, f: F) -> F::Output {
    let Ok(current) = Handle::try_current() else {
        return rt.block_on(f);
    };
    // On a worker of a multi-thread runtime (ingest looks its session up
    // inline, as sled's lookups are cheap), that runtime is told this
    // thread blocks, so its other tasks move to another thread instead of
    // waiting behind a round trip, or an outage's timeouts.
    if current.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        return tokio::task::block_in_place(|| poll_here(rt, f));
    }
    poll_here(rt, f)
}

/// Polls `f` on this thread with `rt`'s context entered (its I/O and
/// timers driven by `rt`'s workers), parking between wake-ups.
fn poll_here<F: Future>(rt: &Handle, f: F) -> F::Output {
    let _entered = rt.enter();
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Whether a database error means "could not talk to the database" rather
/// than "the statement is wrong".
fn unreachable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            // 08: connection exception; 57P0x: shutting down / starting
            // up; 53: insufficient resources (too many connections, disk
            // full, out of memory).
            c.starts_with("08") || c.starts_with("57P0") || c.starts_with("53")
        }
        // No server error: I/O, connecting, a timeout.
        None => {
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                if s.is::<std::io::Error>() {
                    return true;
                }
                source = s.source();
            }
            let text = e.to_string();
            text.contains("connect")
                || text.contains("timed out")
                || text.contains("closed")
                || text.contains("TLS")
        }
    }
}

/// An error and its causes, `a: b: c` (tokio-postgres's Display leaves
/// the cause out: "error performing TLS handshake", but not why).
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if matches!(
            e.code(),
            Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        ) {
            tracing::debug!("index database: {e}; running the transaction again");
            return StoreError::Busy;
        }
        // A server error's Display is just "db error": its message is
        // what says what went wrong.
        let text = match e.as_db_error() {
            Some(db) => format!("index database: {}: {}", db.code().code(), db.message()),
            None => format!("index database: {}", with_causes(&e)),
        };
        if unreachable(&e) {
            StoreError::Unavailable(text)
        } else {
            StoreError::Corrupt(text)
        }
    }
}

/// A foreign-key violation: what inserting a row for a session that is not
/// (or no longer) there meets.
pub(crate) fn is_missing_parent(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}
