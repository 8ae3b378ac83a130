//! Storage: one small interface, [`Storage`], between the HTTP layer and
//! whatever keeps the bytes, and [`Store`], the handle the rest of the
//! server holds, which adds the group commit on top of any backend.
//!
//! The server's backend is [`LogStorage`]: chunk bodies in an append-only
//! segment log of our own ([`segments`]), the session index in sled. A
//! second backend (object storage, say) implements [`Storage`] and nothing
//! above this module changes: the API layer never names either.
//!
//! Invariants every backend keeps:
//!
//! 1. A chunk and its session's metadata change together, atomically: a
//!    session's `chunks` equals the number of its stored chunks, counters
//!    never count a chunk twice (a duplicate `(session, seq)` is detected
//!    by the same atomic step that would store it), and a session listed
//!    by [`Storage::list_sessions`] has metadata.
//! 2. Writes are not durable until [`Storage::sync`] returns (and a
//!    backend may keep the chunks of [`Storage::put_chunks`] invisible to
//!    readers until then, as [`LogStorage`] does). Nothing in
//!    the storage layer acknowledges anything; the HTTP layer awaits
//!    [`Store::flush`] before a `2xx`, which is what makes a `2xx` mean
//!    "survives a crash" (contract §3).
//! 3. [`Storage::delete_session`] leaves no key of the session behind
//!    (and [`LogStorage`] no byte of its chunks: they are zeroed on disk),
//!    its comments and share links included.
//! 4. Comments and share links ([`crate::support`]) are durable when
//!    their call returns: they are rare, and nothing else flushes them.

pub mod assets;
mod atomic_file;
pub mod audit;
pub mod digest;
pub mod dist;
pub mod headroom;
mod keep;
mod log;
#[cfg(test)]
pub mod mem;
pub mod people;
pub mod projects;
pub mod saved_segments;
pub mod segments;
mod shred;
pub mod signin_limits;
#[cfg(test)]
mod storage_checks;
pub mod team;
#[cfg(test)]
mod test_support;

pub use self::log::LogStorage;

use crate::index::{SessionMeta, START_KEY_LEN};
use crate::support::{Comment, Share};
use axum::body::Bytes;
use reel_shared::{ChunkHeader, SessionId};
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Db(#[from] ::sled::Error),
    #[error(
        "the data directory {0} is in use by another process (a running reel-server?): \
         stop it first, or use another directory"
    )]
    Locked(String),
    #[error("corrupt session metadata: {0}")]
    Corrupt(String),
    #[error("flush failed: {0}")]
    Flush(String),
    #[error("the session kept changing while it was being deleted; try again")]
    Busy,
    #[error(transparent)]
    Log(#[from] segments::LogError),
    /// One stored chunk failed its checksum (a bad disk, a flipped byte):
    /// that chunk alone is lost; readers skip it and mark the gap.
    #[error("chunk {seq} of session {session} is damaged on disk: {detail}")]
    Damaged {
        session: SessionId,
        seq: u32,
        detail: String,
    },
    /// The disk is (nearly) full: less than the headroom is free, or a
    /// write met `ENOSPC`. Nothing was stored; retry later.
    #[error("the disk is full: {0}")]
    DiskFull(String),
    /// The index database or the object store (the distributed layout)
    /// cannot be reached or timed out: nothing was stored; retry shortly.
    #[error("a storage service is unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the data directory {0} holds a database of an earlier layout (chunks inside sled), \
         which this version does not read: export its sessions with the version that wrote it \
         and import them here, or use another directory"
    )]
    OldLayout(String),
}

fn is_enospc(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == std::io::ErrorKind::StorageFull
}

impl StoreError {
    /// Whether this is a full disk, however it surfaced: answered `507`.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull(_) => true,
            StoreError::Log(segments::LogError::Io(e)) => is_enospc(e),
            StoreError::Db(::sled::Error::Io(e)) => is_enospc(e),
            _ => false,
        }
    }
}

/// How the server's backend is set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOptions {
    /// Bytes kept free on the data dir's disk: ingest is refused below
    /// it. `None`: [`headroom::DEFAULT_MIN_FREE`] or 5% of the disk,
    /// whichever is less; `Some(0)`: no headroom.
    pub min_free_bytes: Option<u64>,
    /// The size at which the log starts a new segment (tests make it
    /// small); `None`: [`segments::MAX_SEGMENT_BYTES`].
    pub segment_bytes: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; `new_session` when it is the first chunk of its session.
    Stored { new_session: bool },
    /// That `(session, seq)` was already stored; nothing changed.
    Duplicate,
}

/// A page of sessions, newest first.
#[derive(Debug)]
pub struct Page {
    pub sessions: Vec<SessionMeta>,
    /// Where the next page starts, when there is one.
    pub next: Option<[u8; START_KEY_LEN]>,
}

/// Which slice of the start-time index a listing walks.
#[derive(Clone, Copy, Debug)]
pub struct ListRange {
    /// Sessions that started in `[since, until]` (ms)...
    pub since: u64,
    pub until: u64,
    /// ...and strictly before this `by_start` key (the pagination cursor).
    pub before: Option<[u8; START_KEY_LEN]>,
    pub limit: usize,
}

/// Cheap numbers for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageStats {
    pub sessions: u64,
    pub size_on_disk: u64,
    /// Stretches of the log found damaged (and skipped) at open, and
    /// their bytes.
    pub damaged_regions: u64,
    pub damaged_bytes: u64,
}

/// Everything the server needs from a storage backend. Methods block (call
/// them off the async workers); all but [`Storage::sync`] may return before
/// their writes are durable.
pub trait Storage:
    Send
    + Sync
    + 'static
    + audit::AuditLog
    + assets::AssetStore
    + people::PeopleStore
    + projects::ProjectStore
    + saved_segments::SavedSegments
    + team::TeamStore
    + digest::DigestStore
    + signin_limits::SignInCounters
{
    /// Stores a chunk whose header the caller has validated against its
    /// body, and folds it into its session's metadata. `now_ms` is the
    /// server's clock: the session's last activity, for retention.
    fn put_chunk(
        &self,
        header: &ChunkHeader,
        raw: &[u8],
        now_ms: u64,
    ) -> Result<PutOutcome, StoreError>;

    /// [`Storage::put_chunk`] for several chunks at once, in order, as one
    /// atomic step where the backend can (one transaction, one log write):
    /// what the ingest writer calls with every chunk that queued while the
    /// previous group was being written. On an error nothing may be
    /// assumed stored; the caller retries one by one.
    fn put_chunks(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        batch
            .iter()
            .map(|(h, raw)| self.put_chunk(h, raw, now_ms))
            .collect()
    }

    /// [`Storage::put_chunks`] with each chunk's insights facts, which
    /// ingest read while validating it (`facts[i]` is `batch[i]`'s): a
    /// backend that takes them need not read them from the chunk again.
    fn put_chunks_digested(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        facts: &[&crate::digest::ChunkFacts],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        let _ = facts;
        self.put_chunks(batch, now_ms)
    }

    /// Whether a session has anything stored.
    fn has_session(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// One session's metadata (the index entry).
    fn session(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError>;

    /// A session's chunks with `seq >= from`, in seq order, as stored.
    fn chunks(&self, id: &SessionId, from: u32) -> Result<Vec<(u32, Vec<u8>)>, StoreError>;

    /// The seqs of a session's chunks with `seq >= from`, in order: what a
    /// reader walks to stream a session one chunk at a time with
    /// [`Storage::read_chunk`], whatever the session's size.
    fn chunk_seqs(&self, id: &SessionId, from: u32) -> Result<Vec<u32>, StoreError>;

    /// One chunk, as stored; [`StoreError::Damaged`] when its bytes on disk
    /// fail their checksum.
    fn read_chunk(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sessions in `range`, newest first, that `keep` accepts; at most
    /// `range.limit`. Answered from the metadata alone: no chunk is read.
    fn list_sessions(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError>;

    /// Sessions whose last activity is before `cutoff_ms`.
    fn inactive_before(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError>;

    /// Removes a session's metadata, its index entries and every chunk,
    /// and (the embedded layout) erases its key before returning. False
    /// when there was no such session.
    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// Several deletes as one batch (a retention sweep, a person's
    /// erasure): `run` deletes through the function it is given (as
    /// [`Storage::delete_session`], whose answer it returns), and what
    /// ends every delete is done once for all of them when `run` returns,
    /// whether it succeeded or not: the embedded layout zeroes every
    /// deleted session's key in `keys.bin` with one sync.
    fn delete_sessions(
        &self,
        run: &mut dyn FnMut(&DeleteFn<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        run(&|id| self.delete_session(id))
    }

    /// Makes every write that completed before the call durable.
    fn sync(&self) -> Result<(), StoreError>;

    fn config_get(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn config_set(&self, name: &str, value: &str) -> Result<(), StoreError>;
    fn config_remove(&self, name: &str) -> Result<(), StoreError>;

    /// Sets `name` to `value` unless it has a value already; returns the
    /// value it holds now. For values generated on first start: when
    /// several processes of one deployment start at once, one value wins
    /// and all of them use it (a shared backend makes this one atomic
    /// statement).
    fn config_init(&self, name: &str, value: &str) -> Result<String, StoreError> {
        if let Some(v) = self.config_get(name)? {
            return Ok(v);
        }
        self.config_set(name, value)?;
        Ok(value.to_owned())
    }

    /// Every config name: what `reel-server migrate` copies. Its source is
    /// always an embedded data dir; other backends keep this default.
    fn config_names(&self) -> Result<Vec<String>, StoreError> {
        Err(not_a_migration_source("config"))
    }

    /// Whether this process is the one that runs the retention sweep now
    /// (see [`crate::retention`]). A backend one process opens (sled locks
    /// its directory) always is; a shared one holds a deployment-wide lock
    /// for the process that sweeps, so retention runs once per deployment.
    fn hold_sweeper_lock(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Upkeep of the backend's own storage, run with each retention sweep
    /// by the process that holds the sweeper lock (once per deployment):
    /// the distributed layout compacts cold sessions and removes orphaned
    /// objects (`dist/compact.rs`). Nothing to do by default.
    fn upkeep(&self, now_ms: u64) -> Result<(), StoreError> {
        let _ = now_ms;
        Ok(())
    }

    fn stats(&self) -> Result<StorageStats, StoreError>;

    /// How many keys the session data occupies, all trees together: lets
    /// tests prove that a delete leaves nothing behind.
    fn session_key_count(&self) -> Result<usize, StoreError>;

    /// Adds a comment to its session, durably. False, and nothing stored,
    /// when there is no such session.
    fn add_comment(&self, comment: &Comment) -> Result<bool, StoreError>;

    /// A session's comments, ordered by `t` (then by id).
    fn comments(&self, id: &SessionId) -> Result<Vec<Comment>, StoreError>;

    /// Stores a share link under `key` (the SHA-256 of its token), durably.
    /// False, and nothing stored, when its session does not exist.
    fn put_share(&self, key: &[u8; 32], share: &Share) -> Result<bool, StoreError>;

    /// The share link stored under `key`, expired or not.
    fn share(&self, key: &[u8; 32]) -> Result<Option<Share>, StoreError>;

    /// A session's share links with their keys, expired or not.
    fn shares_of(&self, id: &SessionId) -> Result<Vec<([u8; 32], Share)>, StoreError>;

    /// Revokes a share link, durably. False when there was none.
    fn delete_share(&self, key: &[u8; 32]) -> Result<bool, StoreError>;
}

/// One delete within [`Storage::delete_sessions`].
pub type DeleteFn<'a> = dyn Fn(&SessionId) -> Result<bool, StoreError> + 'a;

/// What a bulk read that only `reel-server migrate`'s source needs (see
/// [`crate::migrate`]) answers on a backend that is never a source.
pub(crate) fn not_a_migration_source(what: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "this backend cannot list its {what}: migrate copies from an embedded data dir only"
    ))
}

/// sled trees that belong to the deployment, not to any session (the
/// audit log, members, ...): [`Storage::session_key_count`] leaves them
/// out. A module that adds such a tree names it here.
pub(crate) const DEPLOYMENT_TREES: &[&str] = &[
    projects::PROJECTS_TREE,
    audit::AUDIT_TREE,
    team::MEMBERS_TREE,
    team::LOGINS_TREE,
    team::TOKENS_TREE,
    saved_segments::SAVED_SEGMENTS_TREE,
    signin_limits::SIGNIN_TREE,
];

/// The handle the server holds: a backend plus the group commit. Cheap to
/// clone; dereferences to the backend for everything but flushing.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Storage>,
    commit: Arc<GroupCommit>,
    writer: Arc<Writer>,
}

/// A validated chunk on its way to the writer, and where its answer goes.
struct Pending {
    header: ChunkHeader,
    raw: Bytes,
    facts: crate::digest::ChunkFacts,
    now_ms: u64,
    reply: oneshot::Sender<Result<PutOutcome, StoreError>>,
}

/// The ingest pipeline: one thread that takes whatever queued, writes it as
/// one group, syncs, and answers.
///
/// Each request used to run its own transaction on the blocking pool and
/// then wait for a shared sync: two thread hand-offs and a transaction per
/// chunk. Then a writer thread and a syncer thread overlapped a group's
/// write with the previous group's sync, which paid while a write was a
/// sled transaction; with the segment log a write is one `pwrite`, and the
/// writer, idle between chunks, was woken once per chunk (a futex wake and
/// a context switch each, on this virtual machine ~10 µs). One thread that
/// spends most of its time in `fdatasync` is seldom idle, so a request
/// rarely wakes it: whatever queued during a sync is the next group. Each
/// request is answered once the sync that covers its chunk has returned
/// (the contract's "2xx means durable").
///
/// Started on first use; dropping the last [`Store`] clone stops the
/// thread after it drains its queue.
struct Writer {
    tx: std::sync::Mutex<Option<mpsc::Sender<Pending>>>,
    threads: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// A group is cut at this many chunks or bytes, so that one slow group
/// does not hold every waiting request behind it.
const MAX_GROUP_CHUNKS: usize = 512;
const MAX_GROUP_BYTES: usize = 16 * 1024 * 1024;

impl Writer {
    fn new() -> Self {
        Writer {
            tx: std::sync::Mutex::new(None),
            threads: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn sender(
        &self,
        backend: &Arc<dyn Storage>,
        commit: &Arc<GroupCommit>,
    ) -> Result<mpsc::Sender<Pending>, StoreError> {
        let mut tx = self
            .tx
            .lock()
            .map_err(|_| StoreError::Flush("the writer panicked".into()))?;
        if let Some(tx) = &*tx {
            return Ok(tx.clone());
        }
        let (pending_tx, pending_rx) = mpsc::channel::<Pending>();
        let (b, gc) = (backend.clone(), commit.clone());
        let commit = std::thread::Builder::new()
            .name("reel-writer".into())
            .spawn(move || commit_groups(&*b, &gc, &pending_rx))
            .map_err(|e| StoreError::Flush(format!("cannot start the writer: {e}")))?;
        if let Ok(mut t) = self.threads.lock() {
            t.push(commit);
        }
        *tx = Some(pending_tx.clone());
        Ok(pending_tx)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has drained it.
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut threads) = self.threads.lock() {
            for t in threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

/// The writer thread: takes everything queued, writes it as one group,
/// syncs, answers.
fn commit_groups(backend: &dyn Storage, gc: &GroupCommit, pending: &mpsc::Receiver<Pending>) {
    while let Ok(first) = pending.recv() {
        let mut bytes = first.raw.len();
        let mut group = vec![first];
        while group.len() < MAX_GROUP_CHUNKS && bytes < MAX_GROUP_BYTES {
            match pending.try_recv() {
                Ok(p) => {
                    bytes += p.raw.len();
                    group.push(p);
                }
                Err(_) => break,
            }
        }
        // One clock reading per group: the chunks arrived together.
        let now = group.iter().map(|p| p.now_ms).max().unwrap_or(0);
        let batch: Vec<(&ChunkHeader, &[u8])> =
            group.iter().map(|p| (&p.header, &p.raw[..])).collect();
        let facts: Vec<&crate::digest::ChunkFacts> = group.iter().map(|p| &p.facts).collect();
        let outcomes: Vec<Result<PutOutcome, StoreError>> =
            match backend.put_chunks_digested(&batch, &facts, now) {
                Ok(o) if o.len() == group.len() => o.into_iter().map(Ok).collect(),
                // A storage service out of reach fails every chunk alike:
                // retrying them one by one would only wait out its
                // timeouts once per chunk while requests queue behind.
                Err(StoreError::Unavailable(why)) => group
                    .iter()
                    .map(|_| Err(StoreError::Unavailable(why.clone())))
                    .collect(),
                // One bad chunk must not fail its neighbours: one by one,
                // each gets its own answer (a chunk the group did store
                // comes back as a duplicate, which is harmless).
                _ => batch
                    .iter()
                    .map(|(h, raw)| backend.put_chunk(h, raw, now))
                    .collect(),
            };
        drop(batch);
        drop(facts);
        let started = Instant::now();
        let synced = backend.sync();
        if synced.is_ok() {
            gc.syncs.fetch_add(1, Ordering::Relaxed);
            gc.sync_micros.fetch_add(
                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
        for (p, outcome) in group.into_iter().zip(outcomes) {
            let answer = match (&synced, outcome) {
                (Ok(()), outcome) => outcome,
                (Err(e), _) if e.is_disk_full() => Err(StoreError::DiskFull(e.to_string())),
                (Err(e), _) => Err(StoreError::Flush(e.to_string())),
            };
            // The request may have gone (client hung up): nothing to do.
            let _ = p.reply.send(answer);
        }
    }
}

/// Group commit. `requested` counts calls to [`Store::flush`]; each caller
/// takes a ticket after its writes are done. `durable` holds the highest
/// ticket known durable: every ticket taken before a sync began.
///
/// One caller at a time (whoever holds `leader`) runs a sync, covering
/// every ticket taken so far; the others wait on `durable` and wake all at
/// once when it moves, instead of passing a lock along one by one. A caller
/// not covered by the sync that just ended becomes the next leader, so a
/// sync runs back to back with the previous one for as long as writes keep
/// arriving, and each covers everything that arrived during the last.
struct GroupCommit {
    requested: AtomicU64,
    durable: tokio::sync::watch::Sender<u64>,
    leader: tokio::sync::Mutex<()>,
    syncs: AtomicU64,
    sync_micros: AtomicU64,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            requested: AtomicU64::new(0),
            durable: tokio::sync::watch::Sender::new(0),
            leader: tokio::sync::Mutex::new(()),
            syncs: AtomicU64::new(0),
            sync_micros: AtomicU64::new(0),
        }
    }
}

/// How many syncs the store did and how long they took, for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommitStats {
    pub syncs: u64,
    pub sync_seconds: f64,
}

impl Deref for Store {
    type Target = dyn Storage;
    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl Store {
    pub fn new(backend: Arc<dyn Storage>) -> Self {
        Store {
            backend,
            commit: Arc::default(),
            writer: Arc::new(Writer::new()),
        }
    }

    /// Stores a validated chunk (see [`Storage::put_chunk`]) and returns
    /// once it is durable, through the ingest writer: concurrent calls share
    /// one group (one log write) and one sync.
    pub async fn put_durable(
        &self,
        header: ChunkHeader,
        raw: Bytes,
        facts: crate::digest::ChunkFacts,
        now_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let tx = self.writer.sender(&self.backend, &self.commit)?;
        tx.send(Pending {
            header,
            raw,
            facts,
            now_ms,
            reply,
        })
        .map_err(|_| StoreError::Flush("the store is closing".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Flush("the writer stopped".into()))?
    }

    /// The server's backend (segment log and sled index) in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        Ok(Self::new(Arc::new(LogStorage::open_with(dir, options)?)))
    }

    /// Makes every write that completed before this call durable, sharing
    /// one sync with every caller that arrives while another sync runs.
    ///
    /// The sync runs on tokio's blocking pool: sled 0.34's own
    /// `flush_async` deadlocks under concurrent transactions (sled #1308).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let gc = &*self.commit;
        let ticket = gc.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut durable = gc.durable.subscribe();
        loop {
            // Marks the value seen: a change after this wakes `changed`.
            if *durable.borrow_and_update() >= ticket {
                return Ok(());
            }
            let Ok(guard) = gc.leader.try_lock() else {
                // Another sync is running; it may not cover this ticket,
                // but its end is when to look again.
                if durable.changed().await.is_err() {
                    return Err(StoreError::Flush("the store is closing".into()));
                }
                continue;
            };
            if *gc.durable.borrow() >= ticket {
                return Ok(());
            }
            // Every ticket up to here was taken after its writes
            // completed, so this sync covers them all.
            let covers = gc.requested.load(Ordering::SeqCst);
            let backend = self.backend.clone();
            let started = Instant::now();
            let result = tokio::task::spawn_blocking(move || backend.sync())
                .await
                .map_err(|e| StoreError::Flush(e.to_string()))
                .and_then(|r| r);
            if result.is_ok() {
                gc.syncs.fetch_add(1, Ordering::Relaxed);
                gc.sync_micros.fetch_add(
                    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
            }
            // Unlock before waking the waiters, so that one of them can
            // lead the next sync; wake them even after a failure, so that
            // they try (and report) for themselves.
            drop(guard);
            gc.durable.send_modify(|d| {
                if result.is_ok() {
                    *d = (*d).max(covers);
                }
            });
            return result;
        }
    }

    /// [`Store::flush`] for code outside the async runtime (the CLI).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.backend.sync()
    }

    pub fn commit_stats(&self) -> CommitStats {
        CommitStats {
            syncs: self.commit.syncs.load(Ordering::Relaxed),
            sync_seconds: self.commit.sync_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// The server's clock in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::mem::MemStorage;
    use super::*;

    /// 200 callers flushing at once share a handful of syncs, and every
    /// one of them returns only after a sync that started after its call.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_share_syncs() {
        let mem = Arc::new(MemStorage::with_sync_delay(
            std::time::Duration::from_millis(20),
        ));
        let store = Store::new(mem.clone());
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.flush().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let syncs = mem.syncs.load(Ordering::SeqCst);
        assert!((1..=10).contains(&syncs), "{syncs} syncs for 200 flushes");
        assert_eq!(store.commit_stats().syncs, syncs);
        // A flush after all that still syncs: nothing covers it yet.
        store.flush().await.unwrap();
        assert_eq!(mem.syncs.load(Ordering::SeqCst), syncs + 1);
    }

    /// Concurrent ingests share groups and syncs, each is answered with its
    /// own outcome, and only after a sync.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn durable_puts_share_groups_and_syncs() {
        let mem = Arc::new(MemStorage::with_sync_delay(
            std::time::Duration::from_millis(20),
        ));
        let store = Store::new(mem.clone());
        let header = |id: u8, seq: u32| ChunkHeader {
            session: SessionId([id; 16]),
            seq,
            t_start: 1,
            t_end: 2,
            event_count: 1,
            stats: Default::default(),
        };
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let s = store.clone();
                // 50 sessions of 4 chunks.
                let h = header((i % 50) as u8, (i / 50) % 2 + 2 * (i / 100));
                tokio::spawn(async move {
                    s.put_durable(h, Bytes::from_static(b"c"), Default::default(), 5)
                        .await
                })
            })
            .collect();
        let mut stored = 0;
        for t in tasks {
            if let PutOutcome::Stored { .. } = t.await.unwrap().unwrap() {
                stored += 1;
            }
        }
        assert_eq!(stored, 200);
        let syncs = mem.syncs.load(Ordering::SeqCst);
        assert!((1..=20).contains(&syncs), "{syncs} syncs for 200 chunks");
        assert_eq!(store.commit_stats().syncs, syncs);
        let again = store
            .put_durable(
                header(0, 0),
                Bytes::from_static(b"c"),
                Default::default(),
                5,
            )
            .await
            .unwrap();
        assert_eq!(again, PutOutcome::Duplicate);
        assert_eq!(mem.syncs.load(Ordering::SeqCst), syncs + 1);
    }
}
