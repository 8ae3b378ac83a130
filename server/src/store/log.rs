//! The server's [`Storage`]: chunk bodies in an append-only segment log
//! ([`super::segments`]), and in sled only what is small: the session
//! index and where each chunk is.
//!
//! Data dir layout (the dir 0700, every file in it 0600: chunks are what
//! users did, and the config holds secrets):
//!
//! | path          | what                                                            |
//! |---------------|-----------------------------------------------------------------|
//! | `db`, `conf`, `blobs/`, `snap.*` | sled's files: the index (trees below)        |
//! | `segments/`   | the log: every chunk, the record of what was acknowledged       |
//! | `keep.json`   | a copy of what the log cannot rebuild: the `config` values and the pending `wipe` entries ([`super::keep`]) |
//! | `keys.bin`    | the keys sled's sealed values open with ([`super::shred`]) |
//! | `people.jsonl` | identified sessions' user ids, kept out of sled ([`super::people`]) |
//!
//! sled trees:
//!
//! | tree        | key                                   | value                               |
//! |-------------|---------------------------------------|-------------------------------------|
//! | `chunk_loc` | session id (16 bytes) ++ seq (u32 BE) | [`Loc`]: segment, offset, length    |
//! | `sessions`  | session id (16 bytes)                 | [`SessionMeta`] as JSON             |
//! | `by_start`  | started_at ms (u64 BE) ++ session id  | empty                               |
//! | `log_meta`  | `indexed_to`                          | [`Pos`]: the log up to here is in sled |
//! | `wipe`      | [`Loc`] of a deleted chunk            | empty: bytes still to zero          |
//! | `config`    | name (UTF-8)                          | value (UTF-8)                       |
//! | `comments`  | session id ++ comment key (t u64 BE ++ 8 random bytes) | [`Comment`] as JSON |
//! | `shares`    | SHA-256 of the share token            | [`Share`] as JSON                   |
//! | `shares_by_session` | session id ++ SHA-256 of the token | empty: what a delete revokes  |
//!
//! Comments and share links are in sled alone (flushed as each is
//! written): the log cannot rebuild them, so they are lost with sled's
//! files.
//!
//! Why: sled wrote each 20 KB chunk 1.6 times over and rewrote leaves of
//! them, and a sled transaction and flush per group was half of ingest's
//! CPU. Here a group of chunks is one `pwrite` and one `fdatasync` of the
//! log; the index takes it in memory, and reaches sled about once a second
//! in one transaction (a checkpoint), which sled need not even flush: the
//! log is the record of what was acknowledged, the index is rebuilt from it.
//!
//! The index in memory (the overlay) holds what was indexed since the last
//! checkpoint: chunk locations and the sessions' whole current metadata.
//! Every read looks there first, then in sled. A checkpoint freezes the
//! overlay (readers still see it), writes it to sled, then drops it.
//!
//! How the invariants of [`crate::store`] hold:
//!
//! 1. [`Storage::put_chunks`] (the ingest writer) checks for duplicates
//!    (chunks appended but not yet indexed, the overlay, sled), appends the
//!    rest to the log, and returns. [`Storage::sync`] (the syncer) syncs
//!    the log, then indexes every chunk appended before it began into the
//!    overlay. So a chunk is visible exactly when it is durable, and no
//!    index names a record the log could lose.
//! 2. Crash recovery: sled keeps the checkpoints it was given up to some
//!    point (a checkpoint is one transaction, and `indexed_to` moves in it);
//!    the overlay is gone. At open every intact record of the log after
//!    `indexed_to` is indexed again (a torn tail is cut, see
//!    [`super::segments`]), so every acknowledged chunk is back, counted
//!    once. A damaged record there is skipped (and reported), never
//!    indexed; one the index already names is found damaged when read,
//!    and [`StoreError::Damaged`] tells the reader to skip that one alone.
//!    Without sled at all, `indexed_to` is the start: the whole log is
//!    read again, and the config values and pending wipes come from
//!    `keep.json`.
//! 3. [`Storage::delete_session`] writes the overlay to sled, then removes
//!    the session's index entries and records its chunks' locations in
//!    `wipe`, in one transaction, while ingest cannot index (so no chunk
//!    merges into metadata being deleted); flushes sled (so no index entry
//!    can come back and point at zeros); lists the locations in
//!    `keep.json` too; zeroes the records in the log and syncs; then
//!    forgets the `wipe` entries (sled's, then `keep.json`'s). A crash in
//!    between leaves `wipe` entries, which the next open zeroes first.
//!    Its last step, before it returns (once for a batch of deletes,
//!    [`Storage::delete_sessions`]), zeroes its keys in `keys.bin` and
//!    blanks its lines in `people.jsonl`, both in place
//!    ([`LogStorage::purge_erased`]);
//!    a crash before that leaves a key without metadata, and the next
//!    open finishes the delete in sled, flushes, then erases the key.
//!    Segments with no live record left (but the newest) are removed.
//! 5. Disk space: ingest is refused ([`StoreError::DiskFull`]) while the
//!    filesystem has less than the headroom free ([`super::headroom`]),
//!    so sled meets no full disk. Open writes nothing it cannot do
//!    without: when a write there (finishing wipes, writing the re-read
//!    index to sled) meets a full disk, the index stays in memory, the
//!    store serves reads, and writes wait for room.
//! 4. [`Storage::put_chunk`] (imports, tests) is a group of one followed by
//!    a sync: durable and visible on return.
//!
//! Data dirs of the earlier layout (chunks in a sled tree `chunks`) are
//! refused with [`StoreError::OldLayout`], not read.

use super::headroom::Headroom;
use super::keep::Keep;
use super::segments::{self, Loc, LogError, NewRecord, Pos, Record, SegmentLog};
use super::shred::{self, KeyId};
use super::{ListRange, Page, PutOutcome, Storage, StorageStats, StoreError, StoreOptions};
use crate::digest::ChunkFacts;
use crate::index::{self, SessionMeta, START_KEY_LEN};
use crate::support::{Comment, Share};
use reel_shared::{ChunkHeader, Limits, SessionId};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::{IVec, Tree};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Db(e),
        }
    }
}

/// sled's segment size. Databases of the earlier layout were created with
/// 8 MiB or with sled's default, and sled refuses to open one with any
/// other: both are tried, so that such a directory gets the clear
/// [`StoreError::OldLayout`] rather than sled's complaint.
const SLED_SEGMENT_SIZE: usize = 8 * 1024 * 1024;
const LEGACY_SLED_SEGMENT_SIZE: usize = 512 * 1024;

/// How often the overlay is written to sled: bounds its memory and how much
/// of the log an open after a crash reads again.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Records re-indexed per checkpoint at open.
const REINDEX_BATCH: usize = 4096;

const INDEXED_TO: &[u8] = b"indexed_to";

type Key = (SessionId, u32);

/// Appended to the log, not yet indexed.
struct Appended {
    header: ChunkHeader,
    loc: Loc,
    now_ms: u64,
    /// What insights read from it ([`crate::digest`]).
    facts: ChunkFacts,
}

#[derive(Default)]
struct Pending {
    records: Vec<Appended>,
    keys: HashSet<Key>,
    /// How many of `records` (and of those being indexed) each session has.
    sessions: HashMap<SessionId, u32>,
}

/// Index entries not yet in sled.
#[derive(Default, Clone)]
struct Gen {
    locs: BTreeMap<Key, Loc>,
    /// Each session's whole current metadata.
    metas: HashMap<SessionId, SessionMeta>,
    /// The log is indexed up to here once this generation is in sled.
    end: Option<Pos>,
}

#[derive(Default)]
struct Overlay {
    active: Gen,
    /// Being written to sled by a checkpoint; older than `active`.
    frozen: Option<Arc<Gen>>,
}

impl Overlay {
    fn gens(&self) -> impl Iterator<Item = &Gen> {
        std::iter::once(&self.active).chain(self.frozen.as_deref())
    }

    fn loc(&self, key: &Key) -> Option<Loc> {
        self.gens().find_map(|g| g.locs.get(key).copied())
    }

    fn meta(&self, id: &SessionId) -> Option<&SessionMeta> {
        self.gens().find_map(|g| g.metas.get(id))
    }

    /// Every session the overlay knows, once each, with its latest
    /// metadata (the active generation's over the frozen one's).
    fn latest_metas(&self) -> HashMap<SessionId, &SessionMeta> {
        let mut out = HashMap::new();
        for g in self.gens() {
            for (id, m) in &g.metas {
                out.entry(*id).or_insert(m);
            }
        }
        out
    }
}

/// Everything but the checkpointer thread's handle.
struct Shared {
    db: sled::Db,
    chunk_loc: Tree,
    sessions: Tree,
    by_start: Tree,
    log_meta: Tree,
    wipe: Tree,
    config: Tree,
    comments: Tree,
    shares: Tree,
    shares_by_session: Tree,
    log: SegmentLog,
    /// Sessions in sled and the overlay.
    session_count: AtomicU64,
    pending: Mutex<Pending>,
    overlay: Mutex<Overlay>,
    /// One sync at a time: a sync must not index a chunk whose segment
    /// another, unfinished sync took the duty to fdatasync.
    sync_lock: Mutex<()>,
    /// Held by a checkpoint and by a delete (which writes the overlay to
    /// sled itself): one writer of the overlay to sled at a time.
    checkpoint_lock: Mutex<()>,
    /// Live (indexed or pending) records per segment.
    live: Mutex<HashMap<u32, u64>>,
    /// Set when syncing the log failed: what the kernel had not written is
    /// lost, and a retry would succeed without it (fsync semantics). From
    /// then on every write fails until a restart reads the log again.
    failed: AtomicBool,
    /// ...and whether that failure was a full disk.
    failed_full: AtomicBool,
    keep: Keep,
    /// Sessions' user ids, kept out of sled ([`super::people`]).
    identities: super::people::Identities,
    /// The keys of what sled holds sealed ([`super::shred`]).
    keys: shred::Keyring,
    headroom: Headroom,
    /// Bad stretches of the log skipped at open, and their bytes.
    damaged_regions: u64,
    damaged_bytes: u64,
    /// Opened on a full disk, with a temporary index: no writes at all
    /// (the real index must not miss what they would change).
    read_only: bool,
}

pub struct LogStorage {
    s: Arc<Shared>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn chunk_key(id: &SessionId, seq: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(id.as_bytes());
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn decode_meta(bytes: &[u8]) -> Result<SessionMeta, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What deletes and retention read of a session's metadata without its
/// key: the clear header of the sealed value ([`super::shred`]).
struct MetaHead {
    started_at: u64,
    last_activity: u64,
    chunks: u64,
}

const META_HEAD_LEN: usize = 24;

fn meta_head(v: &[u8]) -> Result<MetaHead, StoreError> {
    if !shred::is_sealed(v) {
        let m = decode_meta(v)?;
        return Ok(MetaHead {
            started_at: m.started_at,
            last_activity: m.last_activity(),
            chunks: m.chunks,
        });
    }
    let h = shred::header(v)
        .filter(|h| h.len() == META_HEAD_LEN)
        .ok_or_else(|| StoreError::Corrupt("a sealed metadata header".into()))?;
    let n = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[i..i + 8]);
        u64::from_be_bytes(b)
    };
    Ok(MetaHead {
        started_at: n(0),
        last_activity: n(8),
        chunks: n(16),
    })
}

fn decode_loc(v: &[u8]) -> Result<Loc, StoreError> {
    Loc::from_bytes(v).ok_or_else(|| StoreError::Corrupt("short chunk location".into()))
}

fn seq_of(k: &[u8]) -> Result<u32, StoreError> {
    let b: [u8; 4] = k
        .get(16..20)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("short chunk key".into()))?;
    Ok(u32::from_be_bytes(b))
}

/// sled's files (it creates them with the process's umask): made private
/// like the rest (invariant 5 of [`super::segments`]). Files sled creates
/// later stay inside the 0700 dir.
fn make_files_private(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        let r = if t.is_dir() {
            if e.file_name() != "segments" {
                make_files_private(&path);
            }
            segments::make_private(&path, segments::DIR_MODE)
        } else if t.is_file() {
            segments::make_private(&path, segments::FILE_MODE)
        } else {
            Ok(())
        };
        if let Err(err) = r {
            tracing::warn!(path = %path.display(), "cannot make private: {err}");
        }
    }
}

/// A write at open that met a full disk is put off, not fatal (invariant
/// 5): the store comes up and serves reads.
fn tolerate_full(r: Result<(), StoreError>, what: &str) -> Result<(), StoreError> {
    match r {
        Err(e) if e.is_disk_full() => {
            tracing::warn!("{what}: the disk is full ({e}); put off until there is room");
            Ok(())
        }
        r => r,
    }
}

/// A delete retries this often when its listing and its transaction
/// disagree (which the locks should make impossible).
const DELETE_ATTEMPTS: usize = 16;

enum DeleteOutcome {
    Deleted,
    NotFound,
    Raced,
}

impl LogStorage {
    /// The sled database, for the stores of other concerns that keep
    /// their own trees in it (`store::audit`, `store::team`, ...).
    pub(crate) fn db(&self) -> &sled::Db {
        &self.s.db
    }

    /// Sessions' user ids (`store::people`).
    pub(crate) fn identities(&self) -> &super::people::Identities {
        &self.s.identities
    }

    /// The keys of sealed values (`store::shred`).
    pub(crate) fn keys(&self) -> &shred::Keyring {
        &self.s.keys
    }

    /// Takes what deletes forgot off the disk: their user ids blanked in
    /// the people file, their keys zeroed in `keys.bin`. The last
    /// step of every delete (of a batch of them, once), under the
    /// checkpoint lock and after a sled flush: no key leaves the disk
    /// while sled may still lose the delete (shred invariant 2).
    pub(crate) fn purge_erased(&self) -> Result<(), StoreError> {
        let _c = lock(&self.s.checkpoint_lock);
        self.s.finish_forgetting()
    }

    /// One delete without its last step ([`LogStorage::purge_erased`]).
    fn delete_unfinished(&self, id: &SessionId) -> Result<bool, StoreError> {
        for _ in 0..DELETE_ATTEMPTS {
            match self.s.try_delete(id)? {
                DeleteOutcome::Deleted => return Ok(true),
                DeleteOutcome::NotFound => return Ok(false),
                DeleteOutcome::Raced => continue,
            }
        }
        Err(StoreError::Busy)
    }

    /// [`super::assets::AssetStore::asset_forget_session`] outside a
    /// delete: under the checkpoint lock until the sled flush, as a delete
    /// (shred invariant 2: the keys it forgets wait for the flush).
    pub(crate) fn forget_assets(&self, session: &SessionId) -> Result<(), StoreError> {
        let _c = lock(&self.s.checkpoint_lock);
        super::assets::forget(&self.s.db, &self.s.keys, session)?;
        self.s.db.flush()?;
        self.s.keys.erase()
    }

    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        let s = Arc::new(Shared::open(dir, options)?);
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (s2, stop2) = (s.clone(), stop.clone());
        let checkpointer = std::thread::Builder::new()
            .name("reel-index".into())
            .spawn(move || loop {
                {
                    let (m, cv) = &*stop2;
                    let g = lock(m);
                    let (g, _) = cv
                        .wait_timeout_while(g, CHECKPOINT_EVERY, |stopped| !*stopped)
                        .unwrap_or_else(|e| e.into_inner());
                    if *g {
                        return;
                    }
                }
                if let Err(e) = s2.checkpoint(false) {
                    tracing::error!("writing the index to sled failed: {e}");
                }
            })
            .map_err(|e| StoreError::Flush(format!("cannot start the index thread: {e}")))?;
        Ok(LogStorage {
            s,
            stop,
            checkpointer: Some(checkpointer),
        })
    }
}

impl Drop for LogStorage {
    fn drop(&mut self) {
        {
            let (m, cv) = &*self.stop;
            *lock(m) = true;
            cv.notify_all();
        }
        if let Some(t) = self.checkpointer.take() {
            let _ = t.join();
        }
        // A clean stop leaves nothing for the next open to re-index.
        if self.s.sync().is_ok() && self.s.checkpoint(true).is_ok() {
            let _ = self.s.db.flush();
        }
    }
}

/// Removes sled's snapshot files (`snap.*`) from `dir`; whether any was
/// there.
fn remove_sled_snapshots(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut any = false;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with("snap.") {
            any |= std::fs::remove_file(e.path()).is_ok();
        }
    }
    any
}

impl Shared {
    fn open(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(LogError::Io)?;
        segments::make_private(dir, segments::DIR_MODE).map_err(LogError::Io)?;
        let opened = match Self::open_db(dir, SLED_SEGMENT_SIZE) {
            Err(StoreError::Db(sled::Error::Unsupported(ref m)))
                if m.contains("io buffer size") =>
            {
                Self::open_db(dir, LEGACY_SLED_SEGMENT_SIZE)
            }
            // A snapshot torn by a full disk (sled 0.34 writes one as it
            // opens): it is only a summary of sled's own log, which sled
            // scans again without it. Anything else corrupt stays an error.
            Err(StoreError::Db(sled::Error::Corruption { .. })) if remove_sled_snapshots(dir) => {
                tracing::warn!("sled's snapshot was damaged: removed, sled rescans its log");
                Self::open_db(dir, SLED_SEGMENT_SIZE)
            }
            r => r,
        };
        let (db, read_only) = match opened {
            // sled writes as it opens: on a full disk the index is built
            // again from the log in a temporary sled (in memory, or in the
            // temp dir), and the store serves reads only (invariant 5).
            Err(e) if e.is_disk_full() => {
                tracing::warn!(
                    "the disk is full ({e}): the index is rebuilt from the log in memory, \
                     and this process serves reads only; free some space and restart"
                );
                let db = sled::Config::new()
                    .temporary(true)
                    .flush_every_ms(None)
                    .segment_size(SLED_SEGMENT_SIZE)
                    .open()?;
                (db, true)
            }
            r => (r?, false),
        };
        if db.tree_names().iter().any(|n| n == b"chunks") {
            return Err(StoreError::OldLayout(dir.display().to_string()));
        }
        make_files_private(dir);
        let log_meta = db.open_tree("log_meta")?;
        let from = match log_meta.get(INDEXED_TO)? {
            Some(v) => {
                Pos::from_bytes(&v).ok_or_else(|| StoreError::Corrupt("short indexed_to".into()))?
            }
            None => Pos::START,
        };
        let sessions = db.open_tree("sessions")?;
        let config = db.open_tree("config")?;
        let keep = Keep::open(dir);
        let in_sled: Vec<(String, String)> = config
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(k, v)| {
                Some((
                    String::from_utf8(k.to_vec()).ok()?,
                    String::from_utf8(v.to_vec()).ok()?,
                ))
            })
            .collect();
        if let Err(e) = keep.adopt_config(in_sled) {
            tracing::warn!("cannot copy the config to {}: {e}", super::keep::FILE_NAME);
        }
        let (log, recovered) = SegmentLog::open_with(
            &dir.join("segments"),
            from,
            options.segment_bytes.unwrap_or(segments::MAX_SEGMENT_BYTES),
        )?;
        for d in &recovered.damaged {
            tracing::warn!(
                segment = d.seg,
                offset = d.off,
                bytes = d.bytes,
                "damaged bytes in the segment log (failing their checksum): skipped; \
                 the chunks they held are lost, every other one is kept"
            );
        }
        let s = Shared {
            chunk_loc: db.open_tree("chunk_loc")?,
            by_start: db.open_tree("by_start")?,
            config,
            wipe: db.open_tree("wipe")?,
            comments: db.open_tree("comments")?,
            shares: db.open_tree("shares")?,
            shares_by_session: db.open_tree("shares_by_session")?,
            session_count: AtomicU64::new(sessions.len() as u64),
            sessions,
            log_meta,
            log,
            db,
            pending: Mutex::default(),
            overlay: Mutex::default(),
            sync_lock: Mutex::new(()),
            checkpoint_lock: Mutex::new(()),
            live: Mutex::default(),
            failed: AtomicBool::new(false),
            failed_full: AtomicBool::new(false),
            keep,
            identities: super::people::Identities::open(dir)?,
            keys: shred::Keyring::open(dir, !read_only)?,
            headroom: Headroom::new(dir, options.min_free_bytes),
            damaged_regions: recovered.damaged.len() as u64,
            damaged_bytes: recovered.damaged.iter().map(|d| d.bytes).sum(),
            read_only,
        };
        // Two keys for one id (a crash during a delete, a new key of the
        // same id made meanwhile): the one sled's value opens with stays.
        {
            let urls = s.db.open_tree(super::digest::URLS_TREE)?;
            s.keys.settle(|id, opens| {
                let v = match id {
                    KeyId::Session(sid) => s.sessions.get(sid.as_bytes()).ok().flatten(),
                    KeyId::Url(u) => urls.get(u.to_be_bytes()).ok().flatten(),
                    KeyId::Asset(a) => super::assets::a_sealed_body(&s.db, a).ok().flatten(),
                };
                v.is_some_and(|v| shred::is_sealed(&v) && opens(&v))
            });
        }
        // Records of deletes not yet finished were read before they are
        // zeroed (in a rebuild without sled): never indexed, whatever
        // finishing the deletes meets.
        let mut records = recovered.records;
        let pending: HashSet<(u32, u64)> = s.keep.wipes().iter().map(|l| (l.seg, l.off)).collect();
        records.retain(|r| !pending.contains(&(r.loc.seg, r.loc.off)));
        tolerate_full(s.finish_wipes(), "finishing interrupted deletes")?;
        s.reindex(records, recovered.end)?;
        if recovered.cut_bytes > 0 {
            tracing::warn!(
                bytes = recovered.cut_bytes,
                "cut a torn tail off the segment log (writes never acknowledged)"
            );
        }
        s.count_live_and_reclaim()?;
        // Orphan keys: a session's key with no metadata in sled, now that
        // the log is indexed again (so every session that has a chunk has
        // metadata). Either its delete was cut short by a crash after its
        // transaction (its comments, digest, assets may be left: finished
        // here, flushed, before the key goes, so that no key leaves while
        // sled holds something sealed with it), or its first chunk's
        // record was lost to damage (nothing of it to reach).
        if !s.read_only {
            tolerate_full(s.finish_orphans(), "finishing interrupted deletes' keys")?;
        }
        // Identities of sessions deleted before a purge: gone for good
        // (blanked in place, and only then may the file be compacted).
        s.identities.retain(|id| s.has_session(id).unwrap_or(true));
        tolerate_full(s.identities.purge(), "blanking lines of the people file")?;
        if !s.read_only {
            tolerate_full(s.identities.compact(), "compacting the people file")?;
        }
        // Keys of what sled no longer holds (a crash came between a delete
        // and its erasure, shred invariant 2): gone for good.
        let urls = s.db.open_tree(super::digest::URLS_TREE)?;
        s.keys.retain(|id| match id {
            KeyId::Session(sid) => s.has_session(sid).unwrap_or(true),
            KeyId::Url(u) => urls.contains_key(u.to_be_bytes()).unwrap_or(true),
            KeyId::Asset(a) => super::assets::key_is_live(&s.db, a).unwrap_or(true),
        });
        tolerate_full(s.keys.erase(), "erasing keys in the key file")?;
        tolerate_full(s.keys.compact(), "compacting the key file")?;
        Ok(s)
    }

    fn open_db(dir: &Path, segment_size: usize) -> Result<sled::Db, StoreError> {
        sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .segment_size(segment_size)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Locked(dir.display().to_string())
                }
                e => StoreError::Db(e),
            })
    }

    /// [`LogStorage::purge_erased`]'s work; the caller holds the
    /// checkpoint lock.
    fn finish_forgetting(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.identities.purge()?;
        self.keys.erase()
    }

    /// At open: finishes the deletes of the sessions whose key outlived
    /// their metadata (see the call), then flushes sled; their keys go
    /// after, with the others [`Shared::open`] finds dead.
    fn finish_orphans(&self) -> Result<(), StoreError> {
        let mut orphans = 0;
        for id in self.keys.ids() {
            let KeyId::Session(sid) = id else { continue };
            if self.has_session(&sid)? {
                continue;
            }
            self.forget_rest(&sid)?;
            orphans += 1;
        }
        if orphans > 0 {
            self.db.flush()?;
            tracing::info!(
                sessions = orphans,
                "finished deletes cut short: their keys leave the key file"
            );
        }
        Ok(())
    }

    /// Zeroes what a delete interrupted by a crash left to zero (listed
    /// in sled, or in `keep.json` when sled was lost).
    fn finish_wipes(&self) -> Result<(), StoreError> {
        let keys: Vec<IVec> = self.wipe.iter().keys().collect::<Result<_, _>>()?;
        let mut locs: Vec<Loc> = keys
            .iter()
            .map(|k| decode_loc(k))
            .collect::<Result<_, _>>()?;
        let kept = self.keep.wipes();
        if locs.is_empty() && kept.is_empty() {
            return Ok(());
        }
        locs.extend(kept.iter().copied());
        self.log.wipe(&locs)?;
        for k in keys {
            self.wipe.remove(k)?;
        }
        self.db.flush()?;
        self.keep.forget_wipes(&kept).map_err(LogError::Io)?;
        tracing::info!(chunks = locs.len(), "finished wiping deleted chunks");
        Ok(())
    }

    /// Indexes the records the log holds past `indexed_to` (invariant 2).
    fn reindex(&self, records: Vec<Record>, end: Option<Pos>) -> Result<(), StoreError> {
        // What ingest accepted, whatever the limits were then: the header
        // was validated against the body before the record was written,
        // and the checksum says these are the same bytes.
        let limits = Limits {
            max_header: usize::MAX,
            max_decompressed: usize::MAX,
            max_events: usize::MAX,
        };
        let count = records.len();
        let mut batch = Vec::with_capacity(REINDEX_BATCH.min(count));
        for r in records {
            match reel_shared::decode_header(&r.chunk, &limits) {
                Ok((header, _)) if header.session == r.session && header.seq == r.seq => {
                    batch.push(Appended {
                        header,
                        loc: r.loc,
                        now_ms: r.now_ms,
                        facts: ChunkFacts::from_chunk(&r.chunk),
                    });
                }
                // Cannot happen short of a bug: the chunk was validated
                // before it was written.
                _ => tracing::error!(
                    seg = r.loc.seg,
                    off = r.loc.off,
                    "a log record whose chunk header does not match; not indexed"
                ),
            }
            if batch.len() == REINDEX_BATCH {
                self.index(&batch, None)?;
                tolerate_full(self.checkpoint(true), "writing the re-read index to sled")?;
                batch.clear();
            }
        }
        self.index(&batch, end)?;
        tolerate_full(self.checkpoint(true), "writing the re-read index to sled")?;
        tolerate_full(
            self.db.flush().map(drop).map_err(StoreError::from),
            "flushing the index",
        )?;
        if count > 0 {
            tracing::info!(chunks = count, "re-indexed the end of the segment log");
        }
        Ok(())
    }

    /// Indexes synced records into the overlay, and notes that the log is
    /// indexed up to `end` (or past the last record).
    fn index(&self, records: &[Appended], end: Option<Pos>) -> Result<(), StoreError> {
        let Some(end) = end.or_else(|| records.last().map(|a| a.loc.end())) else {
            return Ok(());
        };
        let mut dups = Vec::new();
        let mut new = 0;
        let mut digests = Vec::new();
        let mut ov = lock(&self.overlay);
        for a in records {
            let h = &a.header;
            let key = (h.session, h.seq);
            if ov.loc(&key).is_some()
                || self.chunk_loc.contains_key(chunk_key(&h.session, h.seq))?
            {
                dups.push(a.loc.seg);
                continue;
            }
            let old = match ov.meta(&h.session) {
                Some(m) => Some(m.clone()),
                None => match self.sessions.get(h.session.as_bytes())? {
                    Some(v) => self
                        .open_meta(&h.session, &v)?
                        .map(|m| self.fill(m))
                        .transpose()?,
                    None => None,
                },
            };
            let had_user = old.as_ref().and_then(|m| m.user_id.clone());
            if old.is_none() {
                new += 1;
            }
            let mut meta = index::merge(old, h, u64::from(a.loc.chunk_len), a.now_ms);
            // The digest: the session's insights fields change with its
            // metadata (in the overlay, checkpointed together); the
            // records, keyed by seq, go to sled now (a crash before the
            // checkpoint makes the re-read write the same ones again).
            let digest = crate::digest::apply(&mut meta, h.seq, h.t_end, &a.facts);
            self.keys.ensure(KeyId::Session(h.session))?;
            for (u, _) in &digest.urls {
                self.keys.ensure(KeyId::Url(*u))?;
            }
            digests.push((h.session, h.seq, digest));
            if let Some(u) = meta
                .user_id
                .as_deref()
                .filter(|u| had_user.as_deref() != Some(u))
            {
                self.identities.set(&h.session, u)?;
            }
            ov.active.metas.insert(h.session, meta);
            ov.active.locs.insert(key, a.loc);
        }
        // The keys of the sessions and URLs new in this batch, durable
        // before anything sealed with them reaches sled (shred invariant 1).
        self.keys.sync()?;
        for (id, seq, digest) in &digests {
            super::digest::sled_apply(&self.db, &self.keys, id, *seq, digest)?;
        }
        ov.active.end = Some(end);
        drop(ov);
        self.session_count.fetch_add(new, Ordering::Relaxed);
        if !dups.is_empty() {
            let mut live = lock(&self.live);
            for seg in dups {
                if let Some(n) = live.get_mut(&seg) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        Ok(())
    }

    /// Writes one generation of the overlay to sled, in one transaction.
    fn write_gen(&self, g: &Gen) -> Result<(), StoreError> {
        if g.end.is_none() && g.locs.is_empty() && g.metas.is_empty() {
            return Ok(());
        }
        // The user ids of the metadata written below, durable first.
        self.identities.sync()?;
        let metas: Vec<(&SessionId, Vec<u8>, [u8; START_KEY_LEN])> = g
            .metas
            .iter()
            .map(|(id, m)| Ok((id, self.encode_meta(m)?, m.start_key())))
            .collect::<Result<_, StoreError>>()?;
        // And the keys they are sealed with.
        self.keys.sync()?;
        (
            &self.chunk_loc,
            &self.sessions,
            &self.by_start,
            &self.log_meta,
        )
            .transaction(|(chunk_loc, sessions, by_start, log_meta)| {
                for ((id, seq), loc) in &g.locs {
                    chunk_loc.insert(&chunk_key(id, *seq)[..], &loc.to_bytes()[..])?;
                }
                for (id, bytes, start) in &metas {
                    let old = sessions.insert(&id.as_bytes()[..], bytes.as_slice())?;
                    let old_start = match old {
                        Some(v) => Some(index::start_key(
                            meta_head(&v)
                                .map_err(ConflictableTransactionError::Abort)?
                                .started_at,
                            id,
                        )),
                        None => None,
                    };
                    if old_start != Some(*start) {
                        if let Some(k) = old_start {
                            by_start.remove(&k[..])?;
                        }
                        by_start.insert(&start[..], &[][..])?;
                    }
                }
                if let Some(end) = g.end {
                    log_meta.insert(INDEXED_TO, &end.to_bytes()[..])?;
                }
                Ok(())
            })?;
        Ok(())
    }

    /// Writes the overlay to sled. `wait`: also when a delete is at it
    /// (which writes it itself; the periodic checkpoint just skips a turn).
    fn checkpoint(&self, wait: bool) -> Result<(), StoreError> {
        let _c = if wait {
            lock(&self.checkpoint_lock)
        } else {
            match self.checkpoint_lock.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
            }
        };
        let g = {
            let mut ov = lock(&self.overlay);
            if ov.active.end.is_none() {
                return Ok(());
            }
            let g = Arc::new(std::mem::take(&mut ov.active));
            ov.frozen = Some(g.clone());
            g
        };
        let written = self.write_gen(&g);
        let mut ov = lock(&self.overlay);
        let frozen = ov.frozen.take();
        if written.is_err() {
            // Back under the newer entries, for the next checkpoint.
            if let Some(f) = frozen {
                let f = Arc::unwrap_or_clone(f);
                for (k, v) in f.locs {
                    ov.active.locs.entry(k).or_insert(v);
                }
                for (k, v) in f.metas {
                    ov.active.metas.entry(k).or_insert(v);
                }
                ov.active.end = ov.active.end.or(f.end);
            }
        }
        drop(ov);
        written
    }

    /// Counts live records per segment, and removes the segments with none
    /// (a crash may have come between a delete and its reclaiming).
    fn count_live_and_reclaim(&self) -> Result<(), StoreError> {
        let mut live: HashMap<u32, u64> = HashMap::new();
        for v in self.chunk_loc.iter().values() {
            *live.entry(decode_loc(&v?)?.seg).or_default() += 1;
        }
        let dead: Vec<u32> = self
            .log
            .segments()
            .into_iter()
            .filter(|s| !live.contains_key(s) && !self.read_only)
            .collect();
        *lock(&self.live) = live;
        for seg in dead {
            self.log.remove_segment(seg)?;
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::DiskFull(
                "the server started on a full disk and serves reads only; \
                 free some space and restart it"
                    .into(),
            ));
        }
        Ok(())
    }

    fn check_failed(&self) -> Result<(), StoreError> {
        self.check_writable()?;
        if self.failed_full.load(Ordering::Relaxed) {
            return Err(StoreError::DiskFull(
                "the disk filled up while the segment log was being synced; \
                 free some space and restart the server"
                    .into(),
            ));
        }
        if self.failed.load(Ordering::Relaxed) {
            return Err(StoreError::Flush(
                "an earlier sync of the segment log failed; restart the server".into(),
            ));
        }
        Ok(())
    }

    /// Whether `(id, seq)` is indexed (overlay or sled).
    fn indexed(&self, id: &SessionId, seq: u32) -> Result<bool, StoreError> {
        if lock(&self.overlay).loc(&(*id, seq)).is_some() {
            return Ok(true);
        }
        Ok(self.chunk_loc.contains_key(chunk_key(id, seq))?)
    }

    fn loc(&self, id: &SessionId, seq: u32) -> Result<Option<Loc>, StoreError> {
        if let Some(l) = lock(&self.overlay).loc(&(*id, seq)) {
            return Ok(Some(l));
        }
        self.chunk_loc
            .get(chunk_key(id, seq))?
            .map(|v| decode_loc(&v))
            .transpose()
    }

    fn read_loc(&self, id: &SessionId, seq: u32, loc: Loc) -> Result<Vec<u8>, StoreError> {
        let r = self.log.read(loc).map_err(|e| match e {
            LogError::Corrupt(detail) => StoreError::Damaged {
                session: *id,
                seq,
                detail,
            },
            e => StoreError::Log(e),
        })?;
        if r.session != *id || r.seq != seq {
            return Err(StoreError::Damaged {
                session: *id,
                seq,
                detail: format!("its place in the log holds {}/{}", r.session, r.seq),
            });
        }
        Ok(r.chunk)
    }

    /// One delete attempt; see [`Storage::delete_session`] and invariant 3.
    fn try_delete(&self, id: &SessionId) -> Result<DeleteOutcome, StoreError> {
        self.check_writable()?;
        let _c = lock(&self.checkpoint_lock);
        let skey = id.as_bytes();
        let (outcome, entries) = {
            // Ingest cannot index while this is held.
            let mut ov = lock(&self.overlay);
            let g = std::mem::take(&mut ov.active);
            if let Err(e) = self.write_gen(&g) {
                ov.active = g;
                return Err(e);
            }
            // A transaction can only touch keys it names: the chunk keys
            // are listed first, and checked against the metadata's count.
            let entries: Vec<(IVec, IVec)> =
                self.chunk_loc.scan_prefix(skey).collect::<Result<_, _>>()?;
            let outcome = (&self.chunk_loc, &self.sessions, &self.by_start, &self.wipe)
                .transaction(|(chunk_loc, sessions, by_start, wipe)| {
                    let Some(v) = sessions.get(skey)? else {
                        return Ok(DeleteOutcome::NotFound);
                    };
                    let head = meta_head(&v).map_err(ConflictableTransactionError::Abort)?;
                    if head.chunks != entries.len() as u64 {
                        return Ok(DeleteOutcome::Raced);
                    }
                    for (k, loc) in &entries {
                        chunk_loc.remove(k)?;
                        wipe.insert(loc, &[][..])?;
                    }
                    sessions.remove(&skey[..])?;
                    by_start.remove(&index::start_key(head.started_at, id)[..])?;
                    Ok(DeleteOutcome::Deleted)
                })?;
            if let DeleteOutcome::Deleted = outcome {
                // Before ingest may index again: a chunk of the same id
                // after this makes a new session, with a key of its own.
                // Zeroed in the file by the delete's last step
                // ([`LogStorage::purge_erased`]), after this delete's flush
                // (shred invariant 2).
                self.keys.forget(KeyId::Session(*id));
            }
            (outcome, entries)
        };
        if let DeleteOutcome::Deleted = outcome {
            self.session_count.fetch_sub(1, Ordering::Relaxed);
            self.forget_rest(id)?;
            // Durable before a byte is zeroed: no index entry may survive
            // a crash and point at zeros.
            self.db.flush()?;
            let locs: Vec<Loc> = entries
                .iter()
                .map(|(_, v)| decode_loc(v))
                .collect::<Result<_, _>>()?;
            // Best effort: sled has them durably already.
            if let Err(e) = self.keep.add_wipes(&locs) {
                tracing::warn!("cannot list a delete in {}: {e}", super::keep::FILE_NAME);
            }
            self.log.wipe(&locs)?;
            let mut batch = sled::Batch::default();
            for (_, loc) in &entries {
                batch.remove(loc);
            }
            self.wipe.apply_batch(batch)?;
            if let Err(e) = self.keep.forget_wipes(&locs) {
                tracing::warn!("cannot update {}: {e}", super::keep::FILE_NAME);
            }
            self.reclaim(&locs)?;
        }
        Ok(outcome)
    }

    /// What a delete removes after its transaction (not flushed): the
    /// session's comments and share links (under the same lock as their
    /// writes, so none can be added in between), the assets only it used,
    /// its user id, project and digest.
    fn forget_rest(&self, id: &SessionId) -> Result<(), StoreError> {
        self.forget_support(id)?;
        super::assets::forget(&self.db, &self.keys, id)?;
        self.identities.forget(id);
        super::projects::forget_session(&self.db, id)?;
        super::digest::sled_forget(&self.db, &self.keys, id)
    }

    /// Removes a session's comments and share links (not flushed).
    fn forget_support(&self, id: &SessionId) -> Result<(), StoreError> {
        let skey = id.as_bytes();
        let mut comments = sled::Batch::default();
        for k in self.comments.scan_prefix(skey).keys() {
            comments.remove(k?);
        }
        self.comments.apply_batch(comments)?;
        let mut shares = sled::Batch::default();
        let mut by_session = sled::Batch::default();
        for k in self.shares_by_session.scan_prefix(skey).keys() {
            let k = k?;
            if let Some(hash) = k.get(16..) {
                shares.remove(hash);
            }
            by_session.remove(k);
        }
        self.shares.apply_batch(shares)?;
        self.shares_by_session.apply_batch(by_session)?;
        Ok(())
    }

    /// Removes the segments `locs` were the last live records of.
    fn reclaim(&self, locs: &[Loc]) -> Result<(), StoreError> {
        let mut dead = Vec::new();
        {
            let mut live = lock(&self.live);
            for loc in locs {
                if let Some(n) = live.get_mut(&loc.seg) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        live.remove(&loc.seg);
                        dead.push(loc.seg);
                    }
                }
            }
        }
        for seg in dead {
            // The current segment stays (and is simply empty of live data).
            self.log.remove_segment(seg)?;
        }
        Ok(())
    }

    /// `facts`: each chunk's (as `batch`), when ingest read them already;
    /// otherwise they are read from the chunk here.
    fn put_chunks(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        facts: Option<&[&ChunkFacts]>,
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        self.check_failed()?;
        // Held throughout: the syncer removes keys from `pending` only
        // after indexing them, so a key is always in one or the other.
        let mut pending = lock(&self.pending);
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut fresh: Vec<usize> = Vec::with_capacity(batch.len());
        let mut seen: HashSet<Key> = HashSet::new();
        let mut group_sessions: HashSet<SessionId> = HashSet::new();
        for (i, (h, _)) in batch.iter().enumerate() {
            let key = (h.session, h.seq);
            if seen.contains(&key)
                || pending.keys.contains(&key)
                || self.indexed(&h.session, h.seq)?
            {
                outcomes.push(PutOutcome::Duplicate);
                continue;
            }
            seen.insert(key);
            let new_session = !group_sessions.contains(&h.session)
                && !pending.sessions.contains_key(&h.session)
                && !self.has_session(&h.session)?;
            group_sessions.insert(h.session);
            outcomes.push(PutOutcome::Stored { new_session });
            fresh.push(i);
        }
        if fresh.is_empty() {
            return Ok(outcomes);
        }
        let bytes: u64 = fresh.iter().map(|&i| batch[i].1.len() as u64 + 64).sum();
        if let Err(short) = self.headroom.check(bytes) {
            return Err(StoreError::DiskFull(format!(
                "{} bytes free on the data dir's disk, {} kept free",
                short.free, short.min_free
            )));
        }
        let records: Vec<NewRecord<'_>> = fresh
            .iter()
            .map(|&i| NewRecord {
                session: batch[i].0.session,
                seq: batch[i].0.seq,
                now_ms,
                chunk: batch[i].1,
            })
            .collect();
        let locs = self.log.append(&records)?;
        self.headroom.appended(bytes);
        {
            let mut live = lock(&self.live);
            for loc in &locs {
                *live.entry(loc.seg).or_default() += 1;
            }
        }
        for (&i, loc) in fresh.iter().zip(locs) {
            let h = batch[i].0;
            pending.keys.insert((h.session, h.seq));
            *pending.sessions.entry(h.session).or_default() += 1;
            pending.records.push(Appended {
                header: h.clone(),
                loc,
                now_ms,
                facts: match facts.and_then(|f| f.get(i)) {
                    Some(f) => (*f).clone(),
                    None => ChunkFacts::from_chunk(batch[i].1),
                },
            });
        }
        Ok(outcomes)
    }

    fn has_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        if lock(&self.overlay).meta(id).is_some() {
            return Ok(true);
        }
        Ok(self.sessions.contains_key(id.as_bytes())?)
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError> {
        let in_overlay = lock(&self.overlay).meta(id).cloned();
        if let Some(m) = in_overlay {
            return self.fill(m).map(Some);
        }
        match self.sessions.get(id.as_bytes())? {
            Some(v) => self.open_meta(id, &v)?.map(|m| self.fill(m)).transpose(),
            None => Ok(None),
        }
    }

    /// Sealed with the session's key (see [`super::shred`]), without
    /// `user_id` and `project`: those live in [`super::people`] (which
    /// explains why) and in [`super::projects`]' tree, and are filled back
    /// in by [`Shared::fill`].
    fn encode_meta(&self, m: &SessionMeta) -> Result<Vec<u8>, StoreError> {
        let m = SessionMeta {
            user_id: None,
            project: None,
            ..m.clone()
        };
        let json = serde_json::to_vec(&m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut head = [0u8; META_HEAD_LEN];
        head[..8].copy_from_slice(&m.started_at.to_be_bytes());
        head[8..16].copy_from_slice(&m.last_activity().to_be_bytes());
        head[16..].copy_from_slice(&m.chunks.to_be_bytes());
        self.keys.seal(KeyId::Session(m.id), &head, &json)
    }

    /// A session's metadata as sled holds it; `None` when its key is gone
    /// (deleted meanwhile).
    fn open_meta(&self, id: &SessionId, v: &[u8]) -> Result<Option<SessionMeta>, StoreError> {
        match self.keys.open_value(KeyId::Session(*id), v)? {
            Some(json) => decode_meta(&json).map(Some),
            None => Ok(None),
        }
    }

    /// Puts back what [`encode_meta`] leaves out of sled: the user id
    /// ([`super::people`]) and the project ([`super::projects`]).
    fn fill(&self, mut m: SessionMeta) -> Result<SessionMeta, StoreError> {
        if let Some(u) = self.identities.get(&m.id) {
            m.user_id = Some(u);
        }
        if m.project.is_none() {
            m.project = super::projects::project_of(&self.db, &m.id)?;
        }
        Ok(m)
    }

    fn chunks(&self, id: &SessionId, from: u32) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        self.chunk_locs(id, from)?
            .into_iter()
            .map(|(seq, loc)| Ok((seq, self.read_loc(id, seq, loc)?)))
            .collect()
    }

    fn chunk_locs(&self, id: &SessionId, from: u32) -> Result<BTreeMap<u32, Loc>, StoreError> {
        // Sled first, then the overlay: a checkpoint moves entries from the
        // overlay to sled, never back, so read in this order nothing is
        // missed (and a duplicate is the same location).
        let mut locs: BTreeMap<u32, Loc> = BTreeMap::new();
        for kv in self
            .chunk_loc
            .range(chunk_key(id, from)..=chunk_key(id, u32::MAX))
        {
            let (k, v) = kv?;
            locs.insert(seq_of(&k)?, decode_loc(&v)?);
        }
        {
            let ov = lock(&self.overlay);
            for g in ov.gens() {
                for ((_, seq), loc) in g.locs.range((*id, from)..=(*id, u32::MAX)) {
                    locs.insert(*seq, *loc);
                }
            }
        }
        Ok(locs)
    }

    fn read_chunk(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.loc(id, seq)?
            .map(|loc| self.read_loc(id, seq, loc))
            .transpose()
    }

    fn list_sessions(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError> {
        let lo_key = index::start_key(range.since, &SessionId([0; 16]));
        let hi_incl = index::start_key(range.until, &SessionId([0xff; 16]));
        let in_range = |k: &[u8; START_KEY_LEN]| {
            *k >= lo_key && *k <= hi_incl && range.before.is_none_or(|b| *k < b)
        };
        let lo = lo_key.to_vec();
        let hi = match range.before {
            Some(c) if c <= hi_incl => Bound::Excluded(c.to_vec()),
            _ => Bound::Included(hi_incl.to_vec()),
        };
        let empty = match &hi {
            Bound::Excluded(h) => *h <= lo,
            Bound::Included(h) => *h < lo,
            Bound::Unbounded => false,
        };
        let mut page = Page {
            sessions: Vec::new(),
            next: None,
        };
        if empty {
            return Ok(page);
        }
        // The overlay's sessions are listed from its metadata, and sled's
        // entries for them skipped: their start may have moved.
        let (mine, ids) = {
            let ov = lock(&self.overlay);
            let latest = ov.latest_metas();
            let mine: Vec<SessionMeta> = latest
                .values()
                .filter(|m| in_range(&m.start_key()))
                .map(|m| (*m).clone())
                .collect();
            (mine, latest.into_keys().collect::<HashSet<_>>())
        };
        let mut mine = mine
            .into_iter()
            .map(|m| self.fill(m))
            .collect::<Result<Vec<_>, _>>()?;
        mine.sort_by_key(|m| std::cmp::Reverse(m.start_key()));
        let mut mine = mine.into_iter().peekable();
        let mut stored = self
            .by_start
            .range((Bound::Included(lo), hi))
            .keys()
            .rev()
            .peekable();
        loop {
            let take_mine = match (mine.peek(), stored.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(m), Some(Ok(k))) => m.start_key()[..] > k[..],
                (Some(_), Some(Err(_))) => false,
            };
            let meta = if take_mine {
                mine.next()
            } else {
                let key = stored.next().transpose()?;
                let Some(id) = key
                    .as_ref()
                    .and_then(|k| k.get(8..))
                    .and_then(SessionId::from_slice)
                else {
                    continue;
                };
                if ids.contains(&id) {
                    continue;
                }
                // A session deleted (or moved) between the two reads: skip it.
                match self.session(&id)? {
                    Some(m) if key.is_some_and(|k| k[..] == m.start_key()[..]) => Some(m),
                    _ => continue,
                }
            };
            let Some(meta) = meta else { continue };
            if !keep(&meta) {
                continue;
            }
            if page.sessions.len() == range.limit {
                page.next = page.sessions.last().map(SessionMeta::start_key);
                break;
            }
            page.sessions.push(meta);
        }
        Ok(page)
    }

    fn inactive_before(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError> {
        let (mut out, ids) = {
            let ov = lock(&self.overlay);
            let latest = ov.latest_metas();
            let out: Vec<SessionId> = latest
                .iter()
                .filter(|(_, m)| m.last_activity() < cutoff_ms)
                .map(|(id, _)| *id)
                .collect();
            (out, latest.into_keys().collect::<HashSet<_>>())
        };
        for kv in self.sessions.iter() {
            let (k, v) = kv?;
            let id = SessionId::from_slice(&k)
                .ok_or_else(|| StoreError::Corrupt("a session key".into()))?;
            if !ids.contains(&id) && meta_head(&v)?.last_activity < cutoff_ms {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.check_failed()?;
        let _s = lock(&self.sync_lock);
        let records = std::mem::take(&mut lock(&self.pending).records);
        if let Err(e) = self.log.sync() {
            let e = StoreError::from(e);
            if e.is_disk_full() {
                self.failed_full.store(true, Ordering::Relaxed);
            }
            self.failed.store(true, Ordering::Relaxed);
            tracing::error!("syncing the segment log failed: {e}; refusing writes from now on");
            return Err(e);
        }
        if records.is_empty() {
            return Ok(());
        }
        let indexed = self.index(&records, None);
        if let Err(e) = &indexed {
            // Durable in the log, so the next open indexes them; this
            // process cannot tell which are in the index.
            self.failed.store(true, Ordering::Relaxed);
            tracing::error!("indexing synced chunks failed: {e}; refusing writes from now on");
        }
        let mut pending = lock(&self.pending);
        for a in &records {
            let h = &a.header;
            pending.keys.remove(&(h.session, h.seq));
            if let Some(n) = pending.sessions.get_mut(&h.session) {
                *n -= 1;
                if *n == 0 {
                    pending.sessions.remove(&h.session);
                }
            }
        }
        indexed
    }
}

impl Storage for LogStorage {
    fn put_chunk(
        &self,
        header: &ChunkHeader,
        raw: &[u8],
        now_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let outcomes = self.s.put_chunks(&[(header, raw)], None, now_ms)?;
        self.s.sync()?;
        outcomes
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("no outcome for a chunk".into()))
    }

    fn put_chunks(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        self.s.put_chunks(batch, None, now_ms)
    }

    fn put_chunks_digested(
        &self,
        batch: &[(&ChunkHeader, &[u8])],
        facts: &[&ChunkFacts],
        now_ms: u64,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        self.s.put_chunks(batch, Some(facts), now_ms)
    }

    fn has_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.s.has_session(id)
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError> {
        self.s.session(id)
    }

    fn chunks(&self, id: &SessionId, from: u32) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        self.s.chunks(id, from)
    }

    fn chunk_seqs(&self, id: &SessionId, from: u32) -> Result<Vec<u32>, StoreError> {
        Ok(self.s.chunk_locs(id, from)?.into_keys().collect())
    }

    fn read_chunk(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.s.read_chunk(id, seq)
    }

    fn list_sessions(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError> {
        self.s.list_sessions(range, keep)
    }

    fn inactive_before(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError> {
        self.s.inactive_before(cutoff_ms)
    }

    /// The session's key (and user id) are off the disk on return.
    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        let deleted = self.delete_unfinished(id);
        let finished = self.purge_erased();
        let deleted = deleted?;
        finished?;
        Ok(deleted)
    }

    /// The keys of all the sessions deleted are zeroed with one sync, their
    /// lines in the people file blanked with one, when `run` is done.
    fn delete_sessions(
        &self,
        run: &mut dyn FnMut(&super::DeleteFn<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let ran = run(&|id| self.delete_unfinished(id));
        let finished = self.purge_erased();
        ran?;
        finished
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.s.sync()
    }

    fn config_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.s.config.get(name.as_bytes())? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|e| StoreError::Corrupt(e.to_string())),
            // sled lost (or never had) it: the copy beside it.
            None => Ok(self.s.keep.config(name)),
        }
    }

    fn config_set(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.s
            .keep
            .set_config(name, Some(value))
            .map_err(LogError::Io)?;
        self.s.config.insert(name.as_bytes(), value.as_bytes())?;
        // Rare, and nothing else flushes sled every time.
        self.s.db.flush()?;
        Ok(())
    }

    fn config_names(&self) -> Result<Vec<String>, StoreError> {
        // sled's, and the copy beside it (which has them all unless sled
        // lost some).
        let mut names: std::collections::BTreeSet<String> =
            self.s.keep.config_names().into_iter().collect();
        for k in self.s.config.iter().keys() {
            names.insert(String::from_utf8_lossy(&k?).into_owned());
        }
        Ok(names.into_iter().collect())
    }

    fn config_remove(&self, name: &str) -> Result<(), StoreError> {
        self.s.keep.set_config(name, None).map_err(LogError::Io)?;
        self.s.config.remove(name.as_bytes())?;
        self.s.db.flush()?;
        Ok(())
    }

    fn stats(&self) -> Result<StorageStats, StoreError> {
        Ok(StorageStats {
            sessions: self.s.session_count.load(Ordering::Relaxed),
            size_on_disk: self.s.db.size_on_disk()? + self.s.log.size()?,
            damaged_regions: self.s.damaged_regions,
            damaged_bytes: self.s.damaged_bytes,
        })
    }

    fn session_key_count(&self) -> Result<usize, StoreError> {
        self.s.checkpoint(true)?;
        // Every tree but `config` and the log's bookkeeping, including any
        // a later version adds.
        let mut n = 0;
        for name in self.s.db.tree_names() {
            if name == b"config"
                || name == b"__sled__default"
                || name == b"log_meta"
                || super::DEPLOYMENT_TREES.iter().any(|t| name == t.as_bytes())
            {
                continue;
            }
            n += self.s.db.open_tree(name)?.len();
        }
        Ok(n)
    }

    fn add_comment(&self, c: &Comment) -> Result<bool, StoreError> {
        self.s.check_writable()?;
        // A delete holds this lock throughout: the session cannot go
        // between the check and the write.
        let _c = lock(&self.s.checkpoint_lock);
        if !self.s.has_session(&c.session)? {
            return Ok(false);
        }
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(c.session.as_bytes());
        key[16..].copy_from_slice(&c.key());
        let v = serde_json::to_vec(c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Sealed with the session's key (a session indexed before keys
        // existed gets one now, durable first).
        let v = self.s.keys.seal(KeyId::Session(c.session), b"", &v)?;
        self.s.keys.sync()?;
        self.s.comments.insert(key, v)?;
        self.s.db.flush()?;
        Ok(true)
    }

    fn comments(&self, id: &SessionId) -> Result<Vec<Comment>, StoreError> {
        let mut out = Vec::new();
        for v in self.s.comments.scan_prefix(id.as_bytes()).values() {
            let v = v?;
            // No key: the session was deleted meanwhile.
            let Some(json) = self.s.keys.open_value(KeyId::Session(*id), &v)? else {
                continue;
            };
            out.push(
                serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        Ok(out)
    }

    fn put_share(&self, key: &[u8; 32], share: &Share) -> Result<bool, StoreError> {
        self.s.check_writable()?;
        let _c = lock(&self.s.checkpoint_lock);
        if !self.s.has_session(&share.session)? {
            return Ok(false);
        }
        let v = serde_json::to_vec(share).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut by = [0u8; 48];
        by[..16].copy_from_slice(share.session.as_bytes());
        by[16..].copy_from_slice(key);
        (&self.s.shares, &self.s.shares_by_session).transaction(|(shares, by_session)| {
            shares.insert(&key[..], v.as_slice())?;
            by_session.insert(&by[..], &[][..])?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
        self.s.db.flush()?;
        Ok(true)
    }

    fn share(&self, key: &[u8; 32]) -> Result<Option<Share>, StoreError> {
        self.s
            .shares
            .get(key)?
            .map(|v| serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    fn shares_of(&self, id: &SessionId) -> Result<Vec<([u8; 32], Share)>, StoreError> {
        let mut out = Vec::new();
        for k in self.s.shares_by_session.scan_prefix(id.as_bytes()).keys() {
            let k = k?;
            let Some(key) = k.get(16..).and_then(|h| <[u8; 32]>::try_from(h).ok()) else {
                continue;
            };
            if let Some(share) = self.share(&key)? {
                out.push((key, share));
            }
        }
        Ok(out)
    }

    fn delete_share(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        self.s.check_writable()?;
        let _c = lock(&self.s.checkpoint_lock);
        let Some(share) = self.share(key)? else {
            return Ok(false);
        };
        let mut by = [0u8; 48];
        by[..16].copy_from_slice(share.session.as_bytes());
        by[16..].copy_from_slice(key);
        (&self.s.shares, &self.s.shares_by_session).transaction(|(shares, by_session)| {
            shares.remove(&key[..])?;
            by_session.remove(&by[..])?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
        self.s.db.flush()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage_checks;
    use super::super::test_support::{files_containing, header, list, real_chunk, NOW};
    use super::*;

    /// Opens `dir`, waiting out a previous instance's lock: sled releases
    /// it from a background thread, moments after the instance is dropped.
    fn open_dir(dir: &Path) -> LogStorage {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match LogStorage::open(dir) {
                Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => return r.unwrap(),
            }
        }
    }

    fn open() -> (tempfile::TempDir, LogStorage) {
        let dir = tempfile::tempdir().unwrap();
        let store = open_dir(dir.path());
        (dir, store)
    }

    impl LogStorage {
        fn key_counts(&self) -> (usize, usize, usize) {
            self.s.checkpoint(true).unwrap();
            (
                self.s.chunk_loc.len(),
                self.s.sessions.len(),
                self.s.by_start.len(),
            )
        }
    }

    #[test]
    fn duplicates_are_not_counted_twice() {
        let (_d, s) = open();
        storage_checks::duplicates_are_not_counted_twice(&s);
        assert_eq!(s.key_counts(), (2, 1, 1));
    }

    #[test]
    fn a_group_merges_chunks_of_one_session_and_spots_duplicates() {
        let (_d, s) = open();
        let (a, b, c) = (header(1, 1, 2_000), header(1, 0, 1_000), header(2, 0, 5));
        let out = s
            .put_chunks(&[(&a, b"aa"), (&b, b"b"), (&a, b"aa"), (&c, b"c")], NOW)
            .unwrap();
        assert_eq!(
            out,
            [
                PutOutcome::Stored { new_session: true },
                PutOutcome::Stored { new_session: false },
                PutOutcome::Duplicate,
                PutOutcome::Stored { new_session: true },
            ]
        );
        // Appended, not yet synced: not visible, but already a duplicate.
        assert!(s.session(&a.session).unwrap().is_none());
        assert_eq!(
            s.put_chunks(&[(&b, b"b")], NOW).unwrap(),
            [PutOutcome::Duplicate]
        );
        s.sync().unwrap();
        let m = s.session(&a.session).unwrap().unwrap();
        assert_eq!((m.chunks, m.bytes, m.started_at), (2, 3, 1_000));
        assert_eq!(s.key_counts(), (3, 2, 2));
        assert_eq!(s.stats().unwrap().sessions, 2);
        assert_eq!(
            s.put_chunks(&[(&b, b"b")], NOW).unwrap(),
            [PutOutcome::Duplicate]
        );
    }

    #[test]
    fn an_earlier_chunk_moves_the_start_key() {
        let (_d, s) = open();
        storage_checks::an_earlier_chunk_moves_the_start_key(&s);
        assert_eq!(s.key_counts(), (2, 1, 1), "one by_start key per session");
    }

    #[test]
    fn chunks_come_back_in_seq_order_from_a_seq() {
        let (_d, s) = open();
        storage_checks::chunks_come_back_in_seq_order_from_a_seq(&s);
    }

    #[test]
    fn listing_is_newest_first_and_paginates() {
        let (_d, s) = open();
        storage_checks::listing_is_newest_first_and_paginates(&s);
    }

    #[test]
    fn delete_removes_every_key() {
        let (_d, s) = open();
        for seq in 0..5 {
            s.put_chunk(&header(1, seq, 1_000), b"c", NOW).unwrap();
        }
        s.put_chunk(&header(2, 0, 1_000), b"c", NOW).unwrap();
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        assert_eq!(s.key_counts(), (1, 1, 1), "only the other session is left");
        assert!(!s.delete_session(&SessionId([1; 16])).unwrap());
        assert!(s.session(&SessionId([1; 16])).unwrap().is_none());
        assert!(s.chunks(&SessionId([1; 16]), 0).unwrap().is_empty());
        assert!(s.delete_session(&SessionId([2; 16])).unwrap());
        assert_eq!(s.key_counts(), (0, 0, 0));
        assert_eq!(s.session_key_count().unwrap(), 0, "no key in any tree");
    }

    /// The bytes of a deleted session are in no file of the data dir; the
    /// other session's are, and still read back, also after a reopen.
    #[test]
    fn delete_zeroes_the_chunks_bytes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, kept) = (b"SECRET-chunk-bytes-1234", b"KEPT-chunk-bytes-5678");
        {
            let s = open_dir(dir.path());
            s.put_chunk(&header(1, 0, 1_000), b"first", NOW).unwrap();
            s.put_chunk(&header(2, 0, 1_000), kept, NOW).unwrap();
            s.put_chunk(&header(1, 1, 1_000), secret, NOW).unwrap();
            assert_eq!(files_containing(dir.path(), secret).len(), 1);
            assert!(s.delete_session(&SessionId([1; 16])).unwrap());
            assert!(files_containing(dir.path(), secret).is_empty());
            assert_eq!(files_containing(dir.path(), kept).len(), 1);
            assert_eq!(s.read_chunk(&SessionId([2; 16]), 0).unwrap().unwrap(), kept);
            assert_eq!(s.session_key_count().unwrap(), 3, "no wipe entry left");
        }
        let s = open_dir(dir.path());
        assert!(s.session(&SessionId([1; 16])).unwrap().is_none());
        assert_eq!(s.read_chunk(&SessionId([2; 16]), 0).unwrap().unwrap(), kept);
        assert!(files_containing(dir.path(), secret).is_empty());
    }

    /// Erasure reaches what sled keeps of overwritten values: a session's
    /// metadata (its URLs), rewritten at every checkpoint, is sealed, so
    /// no file holds the URL; a plain delete takes its key off the disk
    /// before it returns, and a crash before that step (here: a stop
    /// without it) leaves a store that opens, drops the key from the file,
    /// and keeps the other session whole. A temporary file a crash left is
    /// harmless too. Assets likewise: never in clear on disk, served while
    /// a session uses them, their keys gone with their last session.
    #[test]
    fn a_deleted_sessions_key_leaves_the_disk_and_its_metadata_is_noise() {
        use super::super::assets::AssetStore;
        let dir = tempfile::tempdir().unwrap();
        // An inlined avatar only session 1 uses, a stylesheet both use.
        let (avatar, sheet) = ([0xA7u8; 32], [0x5Bu8; 32]);
        let avatar_body = b"data:image/png;base64,AVATAR-SECRET-only-erin-9d1c".repeat(100);
        let sheet_body = b".SHEET-SECRET-shared { color: red }".repeat(100);
        let asset_key = |b: u8| -> Vec<u8> {
            let file = std::fs::read(dir.path().join(shred::FILE_NAME)).unwrap();
            file.chunks(53)
                .find(|r| r[0] == 3 && r[1..17] == [b; 16])
                .map(|r| r[17..49].to_vec())
                .unwrap_or_default()
        };
        let in_clear = || {
            let mut f = files_containing(dir.path(), b"AVATAR-SECRET");
            f.extend(files_containing(dir.path(), b"SHEET-SECRET"));
            f
        };
        let secret = "https://shop.example/orders/SECRET-url-7341";
        let kept = "https://shop.example/KEPT-url-2288";
        let with_url = |id: u8, seq: u32, url: &str| {
            let mut h = header(id, seq, 1_000);
            h.stats.urls = vec![url.to_owned(), format!("{url}?{seq}")];
            h
        };
        let key_of = |id: u8| -> Vec<u8> {
            let file = std::fs::read(dir.path().join(shred::FILE_NAME)).unwrap();
            file.chunks(53)
                .find(|r| r[0] == 1 && r[1..17] == [id; 16])
                .map(|r| r[17..49].to_vec())
                .unwrap_or_default()
        };
        let (one, two) = (SessionId([1; 16]), SessionId([2; 16]));
        let (k1, ka);
        let k3 = {
            let s = open_dir(dir.path());
            for seq in 0..3 {
                s.put_chunk(&with_url(1, seq, secret), b"c", NOW).unwrap();
                s.s.checkpoint(true).unwrap();
                s.s.db.flush().unwrap();
            }
            s.put_chunk(&with_url(2, 0, kept), b"c", NOW).unwrap();
            s.s.checkpoint(true).unwrap();
            s.s.db.flush().unwrap();
            assert!(files_containing(dir.path(), secret.as_bytes()).is_empty());
            assert_eq!(s.session(&one).unwrap().unwrap().urls[0], secret);
            s.asset_put(&one, &avatar, &avatar_body).unwrap();
            s.asset_put(&one, &sheet, &sheet_body).unwrap();
            assert!(s.asset_use(&two, &sheet).unwrap());
            s.s.db.flush().unwrap();
            assert!(in_clear().is_empty(), "assets are sealed");
            assert_eq!(s.asset_get(&one, &avatar).unwrap().unwrap(), avatar_body);
            assert_eq!(s.asset_get(&two, &sheet).unwrap().unwrap(), sheet_body);
            ka = asset_key(0xA7);
            assert_eq!(ka.len(), 32);
            assert_eq!(asset_key(0x5B).len(), 32);
            k1 = key_of(1);
            assert_eq!(k1.len(), 32);
            assert_eq!(files_containing(dir.path(), &k1).len(), 1);
            let c = Comment::new(one, 0, "Erin SECRET-comment".into(), "ops".into(), NOW);
            assert!(s.add_comment(&c.unwrap()).unwrap());
            assert!(files_containing(dir.path(), b"SECRET-comment").is_empty());
            let keys_file = dir.path().join(shred::FILE_NAME);
            let size = std::fs::metadata(&keys_file).unwrap().len();
            assert!(s.delete_session(&one).unwrap());
            assert!(s.session(&one).unwrap().is_none());
            assert_eq!(s.asset_count().unwrap(), 1, "the avatar went with it");
            // Off the disk before the delete answered, in place.
            assert!(files_containing(dir.path(), &k1).is_empty());
            assert!(files_containing(dir.path(), &ka).is_empty());
            assert_eq!(std::fs::metadata(&keys_file).unwrap().len(), size);
            // A third session, deleted by a process killed before the
            // erasure: its key stays in the file...
            s.put_chunk(&with_url(3, 0, secret), b"c", NOW).unwrap();
            s.s.checkpoint(true).unwrap();
            let k3 = key_of(3);
            assert_eq!(k3.len(), 32);
            s.s.keys.crash_before_erase.store(true, Ordering::Relaxed);
            assert!(s.delete_session(&SessionId([3; 16])).unwrap());
            assert_eq!(files_containing(dir.path(), &k3).len(), 1);
            k3
        };
        std::fs::write(dir.path().join("keys.bin.tmp"), b"half a rewrite").unwrap();
        let s = open_dir(dir.path());
        // ...until the next open.
        assert!(
            files_containing(dir.path(), &k3).is_empty(),
            "erased at open"
        );
        assert!(files_containing(dir.path(), &k1).is_empty());
        assert!(files_containing(dir.path(), &ka).is_empty());
        assert_eq!(s.asset_get(&two, &sheet).unwrap().unwrap(), sheet_body);
        let ks = asset_key(0x5B);
        assert_eq!(ks.len(), 32);
        let m = s.session(&two).unwrap().unwrap();
        assert_eq!(m.urls[0], kept);
        assert_eq!(list(&s, 0, u64::MAX, None, 10, |_| true).sessions, [m]);
        let k2 = key_of(2);
        assert!(s.delete_session(&two).unwrap());
        assert!(
            files_containing(dir.path(), &k2).is_empty(),
            "erased by the delete"
        );
        assert!(
            files_containing(dir.path(), &ks).is_empty(),
            "the shared asset's key went with its last session"
        );
        assert_eq!(s.asset_count().unwrap(), 0);
        assert!(in_clear().is_empty());
        assert_eq!(s.session_key_count().unwrap(), 0);
    }

    /// What one plain delete costs with 100,000 keys in `keys.bin` (run by
    /// hand: `cargo test --release -p reel-server --lib
    /// store::log::tests::delete_cost -- --ignored --nocapture`): the whole
    /// delete, and its key erasure alone (`store::shred`).
    #[test]
    #[ignore]
    fn delete_cost() {
        use std::time::Instant;
        let (_d, s) = open();
        for i in 0..100_000u32 {
            let mut id = [0xEEu8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            s.s.keys.ensure(KeyId::Session(SessionId(id))).unwrap();
        }
        s.s.keys.sync().unwrap();
        let mut whole = Vec::new();
        for i in 0..20u8 {
            s.put_chunk(&header(i, 0, 1_000), b"c", NOW).unwrap();
            s.s.checkpoint(true).unwrap();
            s.s.db.flush().unwrap();
            let t = Instant::now();
            assert!(s.delete_session(&SessionId([i; 16])).unwrap());
            whole.push(t.elapsed());
        }
        whole.sort();
        println!(
            "one delete with 100,000 keys in keys.bin: median {:?} (min {:?}, max {:?})",
            whole[whole.len() / 2],
            whole[0],
            whole[whole.len() - 1]
        );
    }

    /// A process killed right after a delete's sled transaction (its
    /// comments, digest, asset uses, user id, key all left): the next open
    /// finishes the delete and erases the key, and keeps the other
    /// session, its key and everything of it.
    #[test]
    fn a_delete_cut_short_after_its_transaction_is_finished_at_open() {
        use super::super::assets::AssetStore;
        use super::super::people::PeopleStore;
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (SessionId([1; 16]), SessionId([2; 16]));
        let with_url = |id: u8, url: &str, user: &str| {
            let mut h = header(id, 0, 1_000);
            h.stats.urls = vec![url.to_owned()];
            h.stats.user_id = Some(user.to_owned());
            h
        };
        let key_of = |id: u8| -> Vec<u8> {
            let file = std::fs::read(dir.path().join(shred::FILE_NAME)).unwrap();
            file.chunks(53)
                .find(|r| r[0] == 1 && r[1..17] == [id; 16])
                .map(|r| r[17..49].to_vec())
                .unwrap_or_default()
        };
        let (kept_count, k1, k2) = {
            let s = open_dir(dir.path());
            s.put_chunk(&with_url(2, "https://kept.example/", "kim"), b"c", NOW)
                .unwrap();
            let kept_count = s.session_key_count().unwrap();
            s.put_chunk(
                &with_url(1, "https://gone.example/SECRET", "erin"),
                b"c",
                NOW,
            )
            .unwrap();
            let c = Comment::new(one, 0, "a comment".into(), "ops".into(), NOW).unwrap();
            assert!(s.add_comment(&c).unwrap());
            s.asset_put(&one, &[0xA7; 32], b"an avatar").unwrap();
            let meta = s.session(&one).unwrap().unwrap();
            s.s.checkpoint(true).unwrap();
            // The delete's transaction alone, made durable.
            let skey = one.as_bytes();
            for kv in s.s.chunk_loc.scan_prefix(skey) {
                let (k, v) = kv.unwrap();
                s.s.chunk_loc.remove(k).unwrap();
                s.s.wipe.insert(v, &[][..]).unwrap();
            }
            s.s.sessions.remove(skey).unwrap();
            s.s.by_start
                .remove(&index::start_key(meta.started_at, &one)[..])
                .unwrap();
            s.s.db.flush().unwrap();
            (kept_count, key_of(1), key_of(2))
        };
        assert_eq!((k1.len(), k2.len()), (32, 32));
        assert_eq!(files_containing(dir.path(), &k1).len(), 1);
        let s = open_dir(dir.path());
        assert!(
            files_containing(dir.path(), &k1).is_empty(),
            "the orphan key"
        );
        assert_eq!(files_containing(dir.path(), &k2).len(), 1, "the live one");
        assert!(s.session(&one).unwrap().is_none());
        assert!(s.comments(&one).unwrap().is_empty());
        assert_eq!(s.asset_count().unwrap(), 0);
        assert!(s.sessions_of_user("erin").unwrap().is_empty());
        assert_eq!(s.sessions_of_user("kim").unwrap(), [two]);
        assert_eq!(s.session_key_count().unwrap(), kept_count);
        assert_eq!(
            s.session(&two).unwrap().unwrap().urls[0],
            "https://kept.example/"
        );
        assert!(files_containing(dir.path(), b"erin").is_empty());
    }

    /// A delete interrupted after its transaction: the next open zeroes
    /// what the `wipe` tree lists.
    #[test]
    fn an_interrupted_wipe_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let secret = b"SECRET-left-by-a-crash";
        {
            let s = open_dir(dir.path());
            s.put_chunk(&header(1, 0, 1_000), secret, NOW).unwrap();
            s.put_chunk(&header(2, 0, 1_000), b"other", NOW).unwrap();
            // The transaction's part of a delete, then "crash".
            s.s.checkpoint(true).unwrap();
            let (k, v) = s.s.chunk_loc.iter().next().unwrap().unwrap();
            s.s.chunk_loc.remove(k).unwrap();
            s.s.wipe.insert(v, &[][..]).unwrap();
            s.s.sessions.remove(SessionId([1; 16]).as_bytes()).unwrap();
            s.s.db.flush().unwrap();
        }
        assert_eq!(files_containing(dir.path(), secret).len(), 1);
        let s = open_dir(dir.path());
        assert!(files_containing(dir.path(), secret).is_empty());
        assert!(s.s.wipe.is_empty());
        assert_eq!(
            s.read_chunk(&SessionId([2; 16]), 0).unwrap().unwrap(),
            b"other"
        );
    }

    /// Chunks synced to the log but never indexed (a crash between the two,
    /// or sled losing its unflushed transactions) are indexed at open, once.
    #[test]
    fn recovery_reindexes_what_the_log_holds_past_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let chunks: Vec<(ChunkHeader, Vec<u8>)> =
            (0..4).map(|seq| real_chunk(7, seq, "ev")).collect();
        {
            let s = open_dir(dir.path());
            s.put_chunk(&chunks[0].0, &chunks[0].1, NOW).unwrap();
            s.s.db.flush().unwrap();
            // Straight into the log, synced, as if the index step had not
            // run before the crash.
            let recs: Vec<NewRecord<'_>> = chunks[1..]
                .iter()
                .map(|(h, raw)| NewRecord {
                    session: h.session,
                    seq: h.seq,
                    now_ms: NOW + 5,
                    chunk: raw,
                })
                .collect();
            s.s.log.append(&recs).unwrap();
            s.s.log.sync().unwrap();
        }
        let s = open_dir(dir.path());
        let id = SessionId([7; 16]);
        let m = s.session(&id).unwrap().unwrap();
        assert_eq!((m.chunks, m.event_count), (4, 4));
        assert_eq!(m.last_activity(), NOW + 5);
        let stored: Vec<Vec<u8>> = s.chunks(&id, 0).unwrap().into_iter().map(|c| c.1).collect();
        let sent: Vec<Vec<u8>> = chunks.iter().map(|c| c.1.clone()).collect();
        assert_eq!(stored, sent);
        assert_eq!(s.stats().unwrap().sessions, 1);
        drop(s);
        // Indexed once: a second open finds nothing more to do.
        let s = open_dir(dir.path());
        assert_eq!(s.session(&id).unwrap().unwrap().chunks, 4);
        assert_eq!(
            s.put_chunk(&chunks[2].0, &chunks[2].1, NOW).unwrap(),
            PutOutcome::Duplicate
        );
    }

    /// Garbage after the last record (a torn write) is cut at open; what
    /// was synced before is all there.
    #[test]
    fn a_torn_tail_is_cut_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (h, raw) = real_chunk(3, 0, "kept");
        {
            let s = open_dir(dir.path());
            s.put_chunk(&h, &raw, NOW).unwrap();
        }
        let seg = dir.path().join("segments/00000001.log");
        let len = std::fs::metadata(&seg).unwrap().len();
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        std::io::Write::write_all(&mut f, &[0x55; 100]).unwrap();
        drop(f);
        let s = open_dir(dir.path());
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), len);
        assert_eq!(s.read_chunk(&h.session, 0).unwrap().unwrap(), raw);
        let (h1, raw1) = real_chunk(3, 1, "next");
        s.put_chunk(&h1, &raw1, NOW).unwrap();
        assert_eq!(s.session(&h.session).unwrap().unwrap().chunks, 2);
    }

    #[test]
    fn dead_segments_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = open_dir(dir.path());
        let big = vec![9u8; 1024 * 1024];
        // 70 MiB of one session (a whole 64 MiB segment and more), then a
        // little of another.
        for seq in 0..70 {
            s.put_chunk(&header(1, seq, 1_000), &big, NOW).unwrap();
        }
        for seq in 0..5 {
            s.put_chunk(&header(2, seq, 1_000), &big, NOW).unwrap();
        }
        let before = s.s.log.segments();
        assert_eq!(before.len(), 2, "{before:?}");
        assert!(s.delete_session(&SessionId([1; 16])).unwrap());
        assert_eq!(s.s.log.segments(), [before[1]], "the dead segment went");
        assert!(s.stats().unwrap().size_on_disk < 40 * 1024 * 1024);
        assert_eq!(s.chunks(&SessionId([2; 16]), 0).unwrap().len(), 5);
        assert!(s.delete_session(&SessionId([2; 16])).unwrap());
        assert_eq!(
            s.s.log.segments(),
            [s.s.log.current()],
            "the current one stays"
        );
    }

    #[test]
    fn retention_scan_and_stats() {
        let (_d, s) = open();
        storage_checks::retention_scan_and_stats(&s);
        assert!(s.stats().unwrap().size_on_disk > 0);
        assert_eq!(s.session_key_count().unwrap(), 2 * 3);
    }

    #[test]
    fn a_second_open_of_the_same_dir_is_refused_clearly() {
        let (d, _s) = open();
        let e = LogStorage::open(d.path()).err().unwrap();
        assert!(matches!(e, StoreError::Locked(_)), "{e:?}");
        assert!(e.to_string().contains("in use by another process"), "{e}");
    }

    #[test]
    fn a_data_dir_of_the_sled_only_layout_is_refused_clearly() {
        for segment_size in [LEGACY_SLED_SEGMENT_SIZE, SLED_SEGMENT_SIZE] {
            let dir = tempfile::tempdir().unwrap();
            {
                let db = sled::Config::new()
                    .path(dir.path())
                    .segment_size(segment_size)
                    .open()
                    .unwrap();
                db.open_tree("chunks").unwrap().insert("k", "v").unwrap();
                db.flush().unwrap();
            }
            let e = LogStorage::open(dir.path()).err().unwrap();
            assert!(matches!(e, StoreError::OldLayout(_)), "{e:?}");
            assert!(e.to_string().contains("earlier layout"), "{e}");
        }
    }

    /// Removes sled's files (the index lost), keeping the log and
    /// `keep.json`.
    fn lose_sled(dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == "segments" || name == super::super::keep::FILE_NAME {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                std::fs::remove_dir_all(e.path()).unwrap();
            } else {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }

    /// The config values and a delete's pending wipes outlive sled: the
    /// rebuilt index has the same keys and no trace of the deleted session.
    #[test]
    fn config_and_pending_wipes_outlive_the_loss_of_sled() {
        let dir = tempfile::tempdir().unwrap();
        let secret = b"SECRET-deleted-before-sled-was-lost";
        let (h2, raw2) = real_chunk(2, 0, "kept");
        {
            let s = open_dir(dir.path());
            s.config_set("ingest_key", "k-123").unwrap();
            let (h1, raw1) = real_chunk(1, 0, std::str::from_utf8(secret).unwrap());
            s.put_chunk(&h1, &raw1, NOW).unwrap();
            s.put_chunk(&h2, &raw2, NOW).unwrap();
            // A delete whose sled transaction was durable, then a crash
            // before any byte was zeroed: its locations are listed.
            let loc = s.s.loc(&h1.session, 0).unwrap().unwrap();
            s.s.keep.add_wipes(&[loc]).unwrap();
        }
        lose_sled(dir.path());
        let s = open_dir(dir.path());
        assert_eq!(
            s.config_get("ingest_key").unwrap().as_deref(),
            Some("k-123")
        );
        assert!(
            s.session(&SessionId([1; 16])).unwrap().is_none(),
            "resurrected"
        );
        assert!(files_containing(dir.path(), secret).is_empty());
        assert_eq!(s.read_chunk(&h2.session, 0).unwrap().unwrap(), raw2);
        assert!(s.s.keep.wipes().is_empty());
    }

    #[test]
    fn config_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = open_dir(dir.path());
            assert_eq!(s.config_get("k").unwrap(), None);
            s.config_set("k", "v").unwrap();
            s.put_chunk(&header(1, 0, 1), b"c", NOW).unwrap();
        }
        let s = open_dir(dir.path());
        assert_eq!(s.config_get("k").unwrap().as_deref(), Some("v"));
        assert_eq!(s.session(&SessionId([1; 16])).unwrap().unwrap().chunks, 1);
    }
}
