//! A second [`Storage`] backend, in memory, for tests: it shows that the
//! API layer runs on any backend, and counts syncs for the group-commit
//! test. Not durable, not for serving.

use super::{ListRange, Page, PutOutcome, Storage, StorageStats, StoreError};
use crate::index::{self, SessionMeta};
use crate::support::{Comment, Share};
use reel_shared::{ChunkHeader, SessionId};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct MemStorage {
    inner: Mutex<Inner>,
    pub syncs: AtomicU64,
    /// How long each sync takes, to make callers pile up behind it.
    pub sync_delay: Duration,
    /// Seqs whose [`Storage::read_chunk`] answers [`StoreError::Damaged`],
    /// as a chunk failing its checksum would: for the readers' tests.
    pub damaged: Mutex<Vec<u32>>,
    /// Content-addressed assets (`store::assets`).
    pub(super) assets: Mutex<super::assets::MemAssets>,
    /// The audit log (`store::audit`).
    pub(super) audit: Mutex<BTreeMap<super::audit::AuditKey, super::audit::AuditEntry>>,
    /// Members, sign-ins, personal tokens (`store::team`).
    pub(super) team: Mutex<super::team::MemTeam>,
    /// Projects and sessions' projects (`store::projects`).
    pub(super) projects: Mutex<BTreeMap<String, super::projects::Project>>,
    pub(super) session_projects: Mutex<HashMap<SessionId, String>>,
    /// Saved segments by id (`store::saved_segments`).
    pub(super) saved_segments: Mutex<BTreeMap<String, super::saved_segments::SavedSegment>>,
    /// The insights digest (`store::digest`).
    pub(super) digest: Mutex<super::digest::MemDigest>,
    /// Failed sign-ins (`store::signin_limits`).
    pub(super) signin: Mutex<HashMap<String, super::signin_limits::Counter>>,
}

#[derive(Default)]
struct Inner {
    chunks: BTreeMap<(SessionId, u32), Vec<u8>>,
    sessions: HashMap<SessionId, SessionMeta>,
    config: HashMap<String, String>,
    /// By session, then by the comment's key (time first).
    comments: BTreeMap<(SessionId, [u8; 16]), Comment>,
    shares: HashMap<[u8; 32], Share>,
}

impl MemStorage {
    pub fn with_sync_delay(sync_delay: Duration) -> Self {
        MemStorage {
            sync_delay,
            ..MemStorage::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Storage for MemStorage {
    fn put_chunk(
        &self,
        h: &ChunkHeader,
        raw: &[u8],
        now_ms: u64,
    ) -> Result<PutOutcome, StoreError> {
        let mut g = self.lock();
        if g.chunks.contains_key(&(h.session, h.seq)) {
            return Ok(PutOutcome::Duplicate);
        }
        let old = g.sessions.remove(&h.session);
        let new_session = old.is_none();
        let mut meta = index::merge(old, h, raw.len() as u64, now_ms);
        let facts = crate::digest::ChunkFacts::from_chunk(raw);
        let up = crate::digest::apply(&mut meta, h.seq, h.t_end, &facts);
        super::digest::mem_apply(&mut self.digest(), &h.session, h.seq, &up);
        g.sessions.insert(h.session, meta);
        g.chunks.insert((h.session, h.seq), raw.to_vec());
        Ok(PutOutcome::Stored { new_session })
    }

    fn has_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.lock().sessions.contains_key(id))
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionMeta>, StoreError> {
        let m = self.lock().sessions.get(id).cloned();
        Ok(m.map(|m| super::projects::mem_with_project(self, m)))
    }

    fn chunks(&self, id: &SessionId, from: u32) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        let g = self.lock();
        Ok(g.chunks
            .range((*id, from)..=(*id, u32::MAX))
            .map(|((_, seq), v)| (*seq, v.clone()))
            .collect())
    }

    fn chunk_seqs(&self, id: &SessionId, from: u32) -> Result<Vec<u32>, StoreError> {
        let g = self.lock();
        Ok(g.chunks
            .range((*id, from)..=(*id, u32::MAX))
            .map(|((_, seq), _)| *seq)
            .collect())
    }

    fn read_chunk(&self, id: &SessionId, seq: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let damaged = self.damaged.lock().unwrap_or_else(|e| e.into_inner());
        if damaged.contains(&seq) {
            return Err(StoreError::Damaged {
                session: *id,
                seq,
                detail: "made damaged by the test".into(),
            });
        }
        drop(damaged);
        Ok(self.lock().chunks.get(&(*id, seq)).cloned())
    }

    fn list_sessions(
        &self,
        range: ListRange,
        keep: &mut dyn FnMut(&SessionMeta) -> bool,
    ) -> Result<Page, StoreError> {
        let g = self.lock();
        let mut all: Vec<&SessionMeta> = g
            .sessions
            .values()
            .filter(|m| m.started_at >= range.since && m.started_at <= range.until)
            .filter(|m| range.before.is_none_or(|b| m.start_key() < b))
            .collect();
        all.sort_by_key(|m| std::cmp::Reverse(m.start_key()));
        let mut page = Page {
            sessions: Vec::new(),
            next: None,
        };
        for m in all {
            let m = super::projects::mem_with_project(self, m.clone());
            if !keep(&m) {
                continue;
            }
            if page.sessions.len() == range.limit {
                page.next = page.sessions.last().map(SessionMeta::start_key);
                break;
            }
            page.sessions.push(m);
        }
        Ok(page)
    }

    fn inactive_before(&self, cutoff_ms: u64) -> Result<Vec<SessionId>, StoreError> {
        let g = self.lock();
        Ok(g.sessions
            .values()
            .filter(|m| m.last_activity() < cutoff_ms)
            .map(|m| m.id)
            .collect())
    }

    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        let mut g = self.lock();
        if g.sessions.remove(id).is_none() {
            return Ok(false);
        }
        g.chunks.retain(|(s, _), _| s != id);
        g.comments.retain(|(s, _), _| s != id);
        g.shares.retain(|_, sh| sh.session != *id);
        drop(g);
        super::projects::mem_forget_session(self, id);
        super::digest::mem_forget(&mut self.digest(), id);
        super::assets::AssetStore::asset_forget_session(self, id)?;
        Ok(true)
    }

    fn sync(&self) -> Result<(), StoreError> {
        std::thread::sleep(self.sync_delay);
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn config_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().config.get(name).cloned())
    }

    fn config_set(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.lock().config.insert(name.into(), value.into());
        Ok(())
    }

    fn config_remove(&self, name: &str) -> Result<(), StoreError> {
        self.lock().config.remove(name);
        Ok(())
    }

    fn stats(&self) -> Result<StorageStats, StoreError> {
        Ok(StorageStats {
            sessions: self.lock().sessions.len() as u64,
            size_on_disk: 0,
            ..Default::default()
        })
    }

    fn session_key_count(&self) -> Result<usize, StoreError> {
        let g = self.lock();
        Ok(g.chunks.len()
            + g.sessions.len()
            + g.comments.len()
            + g.shares.len()
            + self.digest().key_count())
    }

    fn add_comment(&self, c: &Comment) -> Result<bool, StoreError> {
        let mut g = self.lock();
        if !g.sessions.contains_key(&c.session) {
            return Ok(false);
        }
        g.comments.insert((c.session, c.key()), c.clone());
        Ok(true)
    }

    fn comments(&self, id: &SessionId) -> Result<Vec<Comment>, StoreError> {
        let g = self.lock();
        Ok(g.comments
            .range((*id, [0; 16])..=(*id, [0xff; 16]))
            .map(|(_, c)| c.clone())
            .collect())
    }

    fn put_share(&self, key: &[u8; 32], share: &Share) -> Result<bool, StoreError> {
        let mut g = self.lock();
        if !g.sessions.contains_key(&share.session) {
            return Ok(false);
        }
        g.shares.insert(*key, share.clone());
        Ok(true)
    }

    fn share(&self, key: &[u8; 32]) -> Result<Option<Share>, StoreError> {
        Ok(self.lock().shares.get(key).cloned())
    }

    fn shares_of(&self, id: &SessionId) -> Result<Vec<([u8; 32], Share)>, StoreError> {
        Ok(self
            .lock()
            .shares
            .iter()
            .filter(|(_, s)| s.session == *id)
            .map(|(k, s)| (*k, s.clone()))
            .collect())
    }

    fn delete_share(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.lock().shares.remove(key).is_some())
    }
}

/// The contract's checks that hold for every backend hold here too: the
/// API tests and `backends_agree` take this backend as the reference.
#[cfg(test)]
mod tests {
    use super::super::storage_checks;
    use super::MemStorage;

    #[test]
    fn duplicates_are_not_counted_twice() {
        storage_checks::duplicates_are_not_counted_twice(&MemStorage::default());
    }

    #[test]
    fn an_earlier_chunk_moves_the_start_key() {
        storage_checks::an_earlier_chunk_moves_the_start_key(&MemStorage::default());
    }

    #[test]
    fn chunks_come_back_in_seq_order_from_a_seq() {
        storage_checks::chunks_come_back_in_seq_order_from_a_seq(&MemStorage::default());
    }

    #[test]
    fn listing_is_newest_first_and_paginates() {
        storage_checks::listing_is_newest_first_and_paginates(&MemStorage::default());
    }

    #[test]
    fn retention_scan_and_stats() {
        storage_checks::retention_scan_and_stats(&MemStorage::default());
    }
}
