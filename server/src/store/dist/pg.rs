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
//! Timeouts are short, so that during an outage a request fails in seconds
//! instead of hanging: connecting ([`CONNECT_TIMEOUT`]), waiting for a
//! pooled connection ([`POOL_WAIT`]), and each `run`/`tx` as a whole
//! ([`OP_TIMEOUT`]).

use crate::store::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
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
/// A whole `run` or `tx`, however many statements (a delete rewrites
/// objects inside its transaction: generous, but bounded).
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections per process: three processes stay well under PostgreSQL's
/// default `max_connections` (100).
const POOL_SIZE: usize = 16;
/// Attempts of a transaction that meets a deadlock or a serialization
/// failure (both mean "run it again").
const TX_ATTEMPTS: usize = 5;

pub(crate) struct Pg {
    pool: Pool,
    rt: Handle,
}

impl Pg {
    /// A pool for `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`); no
    /// connection is made yet.
    pub(crate) fn new(url: &str, rt: Handle) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
            // Not repeated: the URL may hold a password.
            StoreError::Corrupt("--index-db is not a postgres://USER@HOST:PORT/DB URL".into())
        })?;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .application_name("reel-server");
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
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
        Ok(Pg { pool, rt })
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
            let mut c = self.client().await?;
            f(&mut c).await
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
            let mut c = self.client().await?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let r = async {
                    let tx = c.transaction().await?;
                    let out = f(&tx).await?;
                    tx.commit().await?;
                    Ok(out)
                }
                .await;
                match r {
                    Err(StoreError::Busy) if attempt < TX_ATTEMPTS => continue,
                    r => return r,
                }
            }
        })
    }

    /// Blocks on `f` within [`OP_TIMEOUT`], on this store's runtime.
    pub(crate) fn block_on<T>(
        &self,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        block_on(&self.rt, async {
            match tokio::time::timeout(OP_TIMEOUT, f).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Unavailable(
                    "the index database or the object store timed out".into(),
                )),
            }
        })
    }
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
            text.contains("connect") || text.contains("timed out") || text.contains("closed")
        }
    }
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
            None => format!("index database: {e}"),
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
