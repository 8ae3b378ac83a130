//! The distributed layout's [`Storage`] (contract §5): chunk bytes in an
//! S3-compatible bucket ([`objects`]), everything else in PostgreSQL
//! ([`pg`], schema in [`schema`]). Any number of processes opened on the
//! same bucket and database form one deployment: they keep nothing of a
//! session in memory or on their own disk, so what one process wrote,
//! every other reads on its next query.
//!
//! Modules: [`chunks`] (ingest's group commit, reads, delete), [`sessions`]
//! (the session index: metadata, listing, retention scan, counts),
//! [`support`] (comments, share links, config); one file per supertrait
//! ([`digest`], [`team`], [`audit`], [`projects`], [`people`],
//! [`saved_segments`], [`assets`]); [`scrub`] (PostgreSQL's files after a
//! person's erasure).
//!
//! Every trait method blocks: it runs its async work on this store's own
//! runtime (two workers) through [`pg::block_on`], from whatever thread
//! called it. Storage methods are never called on async workers (handlers
//! go through `api::blocking`), so this works from the ingest writer,
//! `spawn_blocking` threads and CLI commands alike.
//!
//! Invariants (those of [`crate::store`], and how they hold here):
//!
//! 1. A group commit ([`Storage::put_chunks_digested`]) is ONE object in
//!    the bucket holding every new chunk of the group, and ONE PostgreSQL
//!    transaction that first locks the group's session rows (inserting
//!    the new ones), finds which chunks are already stored (duplicates,
//!    stored nothing), writes the object (only then, so that no byte of a
//!    duplicate is ever in the bucket), inserts the object's row and the
//!    chunk rows `(session, seq) -> (object, off, len, crc)`, folds each
//!    chunk into its session's metadata ([`crate::index::fold_chunk`], the
//!    rule every backend uses) and writes the digest records
//!    ([`digest::apply_in_tx`]). A session's metadata and its chunk rows
//!    therefore change together; the session row lock orders every
//!    writer of a session across processes.
//! 2. When `put_chunks` returns, the chunks are durable: the object's PUT
//!    returned before the transaction committed, and PostgreSQL's commit
//!    is durable (`synchronous_commit`, its default). So
//!    [`Storage::sync`] has nothing to do. A crash between the PUT and
//!    the commit leaves an object no row names (an orphan): invisible,
//!    and removed by the orphan sweep.
//! 3. Every byte of an object is a chunk some row names, or the object
//!    has no row (an orphan), or it is listed in `doomed_objects`. A
//!    delete ([`Storage::delete_session`]) locks the session row and the
//!    rows of every object holding its chunks (`FOR UPDATE`, in key
//!    order), writes for each object it shares a new object with the
//!    other sessions' chunks alone and points their rows at it, removes
//!    its own chunk rows and everything else of the session, lists every
//!    object it stopped using in `doomed_objects`, commits, and only then
//!    removes those objects from the bucket (and their `doomed_objects`
//!    rows). So when it returns no byte of the session is in the bucket;
//!    after a crash in between, `doomed_objects` says what to remove.
//!    A reader that looked a chunk up just before a rewrite and finds its
//!    object gone looks it up again.
//! 4. Comments, share links and config values are durable when their call
//!    returns (each is one committed statement). A comment or share link
//!    cannot outlive its session: their rows reference the session row
//!    (`ON DELETE CASCADE`), so one added during a delete either fails or
//!    goes with it.
//! 5. Outages: every request to PostgreSQL or the bucket is bounded by
//!    short timeouts ([`pg`], [`objects`]), whether the service is down
//!    or frozen (it accepts connections and never answers); failing to
//!    reach either is [`StoreError::Unavailable`] (`503` with
//!    `Retry-After`), and nothing was acknowledged. Pooled connections
//!    broken by an outage, or cut by a timeout, are replaced on the next
//!    checkout: the store recovers by itself. Long work (migrations at
//!    open, upkeep) runs under longer limits ([`pg::with_limit`]).

pub(crate) mod assets;
pub(crate) mod audit;
pub(crate) mod chunks;
pub(crate) mod compact;
pub(crate) mod digest;
pub(crate) mod objects;
pub(crate) mod people;
pub(crate) mod pg;
pub(crate) mod pg_tls;
pub(crate) mod projects;
pub(crate) mod saved_segments;
pub(crate) mod schema;
pub(crate) mod scrub;
pub(crate) mod sessions;
pub(crate) mod signin_limits;
pub(crate) mod support;
pub(crate) mod sweeper;
pub(crate) mod team;
#[cfg(test)]
mod tests;

use self::objects::Objects;
use self::pg::Pg;
use super::{ListRange, Page, PutOutcome, Storage, StorageStats, StoreError};
use crate::digest::ChunkFacts;
use crate::index::SessionMeta;
use crate::support::{Comment, Share};
use reel_shared::{ChunkHeader, SessionId};

pub struct DistStorage {
    /// `Some` until dropped (shut down without waiting, which is allowed
    /// from any thread, async or not).
    rt: Option<tokio::runtime::Runtime>,
    pg: Pg,
    objects: Objects,
    /// Retention's once-per-deployment lock ([`sweeper`]).
    sweeper: sweeper::SweeperLock,
    /// Erasures' scrubs tried again in the background, stopped before
    /// the runtime ([`scrub`]).
    scrubs: scrub::Retries,
}

impl DistStorage {
    /// The deployment at `chunk_store` (`s3://BUCKET[/PREFIX]`; endpoint,
    /// region and credentials from the `AWS_*` environment variables) and
    /// `index_db` (`postgres://...`): checks that both answer, and
    /// migrates the schema.
    pub fn open(chunk_store: &str, index_db: &str) -> Result<Self, StoreError> {
        Self::open_with_env(chunk_store, index_db, &[])
    }

    /// [`DistStorage::open`] with `AWS_*` variables given here over the
    /// environment's (tests run several deployments in one process).
    pub fn open_with_env(
        chunk_store: &str,
        index_db: &str,
        aws_vars: &[(&str, String)],
    ) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("reel-dist")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Flush(format!("cannot start the store's runtime: {e}")))?;
        let (pg, objects) = {
            let _in_rt = rt.enter();
            (
                Pg::new(index_db, rt.handle().clone())?,
                Objects::open(chunk_store, aws_vars)?,
            )
        };
        let s = DistStorage {
            rt: Some(rt),
            pg,
            objects,
            sweeper: sweeper::SweeperLock::new(),
            scrubs: scrub::Retries::default(),
        };
        pg::with_limit(pg::Limit::Upkeep, || {
            s.pg.run(async |c| schema::migrate(c).await)
        })?;
        s.pg.block_on(s.objects.check())?;
        Ok(s)
    }

    /// The index database (for the concerns' files: `self.pg().run(...)`,
    /// `self.pg().tx(...)`).
    pub(crate) fn pg(&self) -> &Pg {
        &self.pg
    }

    /// The bucket.
    pub(crate) fn objects(&self) -> &Objects {
        &self.objects
    }
}

impl Drop for DistStorage {
    fn drop(&mut self) {
        self.scrubs.stop();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Storage for DistStorage {
    fn put_chunk(
        &self,
        header: &ChunkHeader,
        raw: &[u8],
        now_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let facts = ChunkFacts::from_chunk(raw);
        self.put_group(&[(header, raw)], &[&facts], now_ms)?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("no outcome for a chunk".into()))
    }

    fn put_chunks(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        let facts: Vec<ChunkFacts> = batch
            .iter()
            .map(|(_, raw)| ChunkFacts::from_chunk(raw))
            .collect();
        let facts: Vec<&ChunkFacts> = facts.iter().collect();
        self.put_group(batch, &facts, now_ms)
    }

    fn put_chunks_digested(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        facts: &[&ChunkFacts],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        self.put_group(batch, facts, now_ms)
    }

    fn has_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.has_session_row(id)
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError> {
        self.session_meta(id)
    }

    fn chunks(&self, id: &SessionId, from: u32) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        self.read_chunks(id, from)
    }

    fn chunk_seqs(&self, id: &SessionId, from: u32) -> Result<Vec<u32>, StoreError> {
        self.seqs(id, from)
    }

    fn read_chunk(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_one(id, seq)
    }

    fn list_sessions(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError> {
        self.list(range, keep)
    }

    fn inactive_before(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError> {
        self.inactive(cutoff_ms)
    }

    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.delete(id)
    }

    /// Nothing to do: writes are durable when they return (invariant 2).
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn config_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.get_config(name)
    }

    fn config_set(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.set_config(name, Some(value))
    }

    fn config_remove(&self, name: &str) -> Result<(), StoreError> {
        self.set_config(name, None)
    }

    /// One value wins however many processes start at once.
    fn config_init(&self, name: &str, value: &str) -> Result<String, StoreError> {
        self.init_config(name, value)
    }

    /// A PostgreSQL advisory lock: retention runs once per deployment.
    fn hold_sweeper_lock(&self) -> Result<bool, StoreError> {
        self.sweeper.hold(&self.pg)
    }

    /// Compaction of cold sessions and the orphan sweep (`compact.rs`).
    fn upkeep(&self, now_ms: u64) -> Result<(), StoreError> {
        let done = pg::with_limit(pg::Limit::Upkeep, || self.compact_and_sweep(now_ms))?;
        if done != compact::Upkeep::default() {
            tracing::info!(
                compacted = done.compacted,
                written = done.written,
                emptied = done.emptied,
                orphans = done.orphans,
                "bucket upkeep"
            );
        }
        Ok(())
    }

    fn stats(&self) -> Result<StorageStats, StoreError> {
        self.storage_stats()
    }

    fn session_key_count(&self) -> Result<usize, StoreError> {
        self.session_rows()
    }

    fn add_comment(&self, comment: &Comment) -> Result<bool, StoreError> {
        self.insert_comment(comment)
    }

    fn comments(&self, id: &SessionId) -> Result<Vec<Comment>, StoreError> {
        self.comments_of(id)
    }

    fn put_share(&self, key: &[u8; 32], share: &Share) -> Result<bool, StoreError> {
        self.insert_share(key, share)
    }

    fn share(&self, key: &[u8; 32]) -> Result<Option<Share>, StoreError> {
        self.share_by_key(key)
    }

    fn shares_of(&self, id: &SessionId) -> Result<Vec<([u8; 32], Share)>, StoreError> {
        self.shares_of_session(id)
    }

    fn delete_share(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        self.remove_share(key)
    }
}
