//! Content-addressed assets (`reel_shared::asset`): large stylesheet texts
//! and `data:` URLs kept once per deployment, whatever the number of
//! sessions that use them.
//!
//! Rule (privacy first): an asset lives exactly as long as a session uses
//! it. A session records its use when its recorder offers the asset
//! ([`AssetStore::asset_use`]) or uploads it ([`AssetStore::asset_put`]);
//! deleting the session ([`AssetStore::asset_forget_session`], called by
//! the backend's `delete_session`) drops its uses, and an asset no session
//! uses any more is deleted with it. So a delete removes every byte only
//! that session held, and a session can read only the assets it uses. What
//! the recorder turns into an asset was masked first (masked text is a few
//! bytes, never an asset).
//!
//! Stored as uploaded: one zstd frame, verified against its hash at upload.
//!
//! For [`LogStorage`], three sled trees: `assets` (hash → the frame,
//! sealed, see below), `asset_refs` (hash → how many sessions use it, u64
//! big-endian) and `session_assets` (session id ++ hash → nothing). One
//! lock orders every change, so a use is never recorded for an asset being
//! deleted.
//!
//! Sealed ([`super::shred`]): sled keeps removed values in its files, so
//! an asset only an erased person's sessions used (an inlined avatar, say)
//! would stay readable there. Each frame is sealed with a key of its own,
//! [`KeyId::Asset`] (the hash's first 16 bytes), made durable before the
//! frame reaches sled and forgotten when the last asset under it is
//! deleted, like a distinct URL's key (`store::digest`); the erasure's
//! purge then takes it out of `keys.bin`. Frames stored before sealing
//! (zstd, never starting with [`super::shred::MAGIC`]) read as they are.

use super::shred::{KeyId, Keyring};
use super::{LogStorage, StoreError};
use reel_shared::SessionId;
#[cfg(test)]
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

/// An asset's SHA-256.
pub type AssetHash = [u8; 32];

const BODIES: &str = "assets";
const REFS: &str = "asset_refs";
const BY_SESSION: &str = "session_assets";

/// Where a deployment keeps its assets. Methods block.
pub trait AssetStore {
    /// Records that `session` uses `hash`, if the asset is stored; false
    /// (nothing recorded) when it is not.
    fn asset_use(&self, session: &SessionId, hash: &AssetHash) -> Result<bool, StoreError>;

    /// Stores an asset (the caller verified `body` against `hash`) unless
    /// it is already there, and records that `session` uses it. Durable
    /// on return.
    fn asset_put(
        &self,
        session: &SessionId,
        hash: &AssetHash,
        body: &[u8],
    ) -> Result<(), StoreError>;

    /// The asset, if `session` uses it (another session's assets are
    /// none of its business).
    fn asset_get(
        &self,
        session: &SessionId,
        hash: &AssetHash,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Drops the session's uses; deletes the assets no session uses any
    /// more. Not flushed (the caller's delete flushes).
    fn asset_forget_session(&self, session: &SessionId) -> Result<(), StoreError>;

    /// How many assets are stored (tests, `/metrics`).
    fn asset_count(&self) -> Result<usize, StoreError>;

    /// The hashes of the assets `session` uses: what `reel-server migrate`
    /// copies (its source is an embedded data dir; other backends keep
    /// this default).
    fn assets_of(&self, session: &SessionId) -> Result<Vec<AssetHash>, StoreError> {
        let _ = session;
        Err(super::not_a_migration_source("assets"))
    }
}

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn use_key(session: &SessionId, hash: &AssetHash) -> [u8; 48] {
    let mut k = [0u8; 48];
    k[..16].copy_from_slice(session.as_bytes());
    k[16..].copy_from_slice(hash);
    k
}

/// The key an asset's frame is sealed with.
pub(crate) fn key_id(hash: &[u8]) -> Option<KeyId> {
    hash.get(..16)
        .and_then(|p| <[u8; 16]>::try_from(p).ok())
        .map(KeyId::Asset)
}

/// Whether sled holds a frame sealed with `id` (at open: which asset keys
/// to keep).
pub(crate) fn key_is_live(db: &sled::Db, id: &[u8; 16]) -> Result<bool, StoreError> {
    Ok(db.open_tree(BODIES)?.scan_prefix(id).next().is_some())
}

/// One body sealed with key `id` (shred's `settle` tries keys on it).
pub(crate) fn a_sealed_body(
    db: &sled::Db,
    id: &[u8; 16],
) -> Result<Option<sled::IVec>, StoreError> {
    Ok(db
        .open_tree(BODIES)?
        .scan_prefix(id)
        .next()
        .transpose()?
        .map(|(_, v)| v))
}

fn count(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
        .map_or(0, u64::from_be_bytes)
}

struct Trees {
    bodies: sled::Tree,
    refs: sled::Tree,
    by_session: sled::Tree,
}

fn trees(db: &sled::Db) -> Result<Trees, StoreError> {
    Ok(Trees {
        bodies: db.open_tree(BODIES)?,
        refs: db.open_tree(REFS)?,
        by_session: db.open_tree(BY_SESSION)?,
    })
}

impl LogStorage {
    fn asset_trees(&self) -> Result<Trees, StoreError> {
        trees(self.db())
    }
}

/// [`AssetStore::asset_forget_session`] for the log's sled database:
/// what `delete_session` calls, with the store's checkpoint lock held
/// until its sled flush (the key of an asset deleted here is zeroed in
/// `keys.bin` after it, shred invariant 2).
pub(crate) fn forget(db: &sled::Db, keys: &Keyring, session: &SessionId) -> Result<(), StoreError> {
    let t = trees(db)?;
    let _g = lock();
    let uses: Vec<sled::IVec> = t
        .by_session
        .scan_prefix(session.as_bytes())
        .keys()
        .collect::<Result<_, _>>()?;
    for k in uses {
        let Ok(hash) = <AssetHash>::try_from(&k[16..]) else {
            continue;
        };
        t.by_session.remove(&k)?;
        match count(t.refs.get(hash)?) {
            0 | 1 => {
                t.refs.remove(hash)?;
                t.bodies.remove(hash)?;
                // The key, unless another asset shares it.
                if t.bodies.scan_prefix(&hash[..16]).next().is_none() {
                    if let Some(id) = key_id(&hash) {
                        keys.forget(id);
                    }
                }
            }
            n => {
                t.refs.insert(hash, &(n - 1).to_be_bytes())?;
            }
        }
    }
    Ok(())
}

impl Trees {
    /// Records the use (the asset is stored); the caller holds the lock.
    fn add_use(&self, session: &SessionId, hash: &AssetHash) -> Result<(), StoreError> {
        if self
            .by_session
            .insert(use_key(session, hash), &[][..])?
            .is_none()
        {
            let n = count(self.refs.get(hash)?) + 1;
            self.refs.insert(hash, &n.to_be_bytes())?;
        }
        Ok(())
    }
}

impl AssetStore for LogStorage {
    fn asset_use(&self, session: &SessionId, hash: &AssetHash) -> Result<bool, StoreError> {
        let t = self.asset_trees()?;
        {
            let _g = lock();
            if !t.bodies.contains_key(hash)? {
                return Ok(false);
            }
            t.add_use(session, hash)?;
        }
        // A use that a crash forgot would keep the asset past its
        // session's delete.
        self.db().flush()?;
        Ok(true)
    }

    fn asset_put(
        &self,
        session: &SessionId,
        hash: &AssetHash,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let t = self.asset_trees()?;
        {
            let _g = lock();
            if !t.bodies.contains_key(hash)? {
                let id = key_id(hash).ok_or_else(|| StoreError::Corrupt("an asset hash".into()))?;
                // Under the lock: a delete cannot forget the key between
                // the seal and the insert. Durable first (invariant 1).
                let sealed = self.keys().seal(id, b"", body)?;
                self.keys().sync()?;
                t.bodies.insert(hash, sealed)?;
            }
            t.add_use(session, hash)?;
        }
        self.db().flush()?;
        Ok(())
    }

    fn asset_get(
        &self,
        session: &SessionId,
        hash: &AssetHash,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.asset_trees()?;
        if !t.by_session.contains_key(use_key(session, hash))? {
            return Ok(None);
        }
        let (Some(v), Some(id)) = (t.bodies.get(hash)?, key_id(hash)) else {
            return Ok(None);
        };
        // No key: deleted meanwhile.
        Ok(self.keys().open_value(id, &v)?.map(|v| v.into_owned()))
    }

    fn asset_forget_session(&self, session: &SessionId) -> Result<(), StoreError> {
        self.forget_assets(session)
    }

    fn asset_count(&self) -> Result<usize, StoreError> {
        Ok(self.asset_trees()?.bodies.len())
    }

    fn assets_of(&self, session: &SessionId) -> Result<Vec<AssetHash>, StoreError> {
        self.asset_trees()?
            .by_session
            .scan_prefix(session.as_bytes())
            .keys()
            .map(|k| {
                let k = k?;
                k.get(16..)
                    .and_then(|h| AssetHash::try_from(h).ok())
                    .ok_or_else(|| StoreError::Corrupt("an asset use key is not 48 bytes".into()))
            })
            .collect()
    }
}

/// The in-memory backend's assets.
#[cfg(test)]
#[derive(Default)]
pub struct MemAssets {
    bodies: HashMap<AssetHash, Vec<u8>>,
    uses: BTreeSet<(SessionId, AssetHash)>,
}

#[cfg(test)]
impl super::mem::MemStorage {
    fn mem_assets(&self) -> MutexGuard<'_, MemAssets> {
        self.assets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
impl AssetStore for super::mem::MemStorage {
    fn asset_use(&self, session: &SessionId, hash: &AssetHash) -> Result<bool, StoreError> {
        let mut a = self.mem_assets();
        if !a.bodies.contains_key(hash) {
            return Ok(false);
        }
        a.uses.insert((*session, *hash));
        Ok(true)
    }

    fn asset_put(
        &self,
        session: &SessionId,
        hash: &AssetHash,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut a = self.mem_assets();
        a.bodies.entry(*hash).or_insert_with(|| body.to_vec());
        a.uses.insert((*session, *hash));
        Ok(())
    }

    fn asset_get(
        &self,
        session: &SessionId,
        hash: &AssetHash,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let a = self.mem_assets();
        if !a.uses.contains(&(*session, *hash)) {
            return Ok(None);
        }
        Ok(a.bodies.get(hash).cloned())
    }

    fn asset_forget_session(&self, session: &SessionId) -> Result<(), StoreError> {
        let mut a = self.mem_assets();
        a.uses.retain(|(s, _)| s != session);
        let used: BTreeSet<AssetHash> = a.uses.iter().map(|(_, h)| *h).collect();
        a.bodies.retain(|h, _| used.contains(h));
        Ok(())
    }

    fn asset_count(&self) -> Result<usize, StoreError> {
        Ok(self.mem_assets().bodies.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;
    use crate::store::Storage;

    fn sid(n: u8) -> SessionId {
        format!("{:032x}", n).parse().unwrap()
    }

    /// Dedup and the delete rule, on any backend.
    fn check(s: &impl Storage) {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        // Unknown: nothing recorded.
        assert!(!s.asset_use(&sid(1), &a).unwrap());
        assert_eq!(s.asset_get(&sid(1), &a).unwrap(), None);
        s.asset_put(&sid(1), &a, b"frame-a").unwrap();
        // A second session offers it: stored once, used by both.
        assert!(s.asset_use(&sid(2), &a).unwrap());
        s.asset_put(&sid(2), &a, b"ignored: already stored")
            .unwrap();
        s.asset_put(&sid(2), &b, b"frame-b").unwrap();
        assert_eq!(s.asset_count().unwrap(), 2);
        assert_eq!(
            s.asset_get(&sid(2), &a).unwrap().as_deref(),
            Some(&b"frame-a"[..])
        );
        // A session reads only the assets it uses.
        assert_eq!(s.asset_get(&sid(1), &b).unwrap(), None);
        assert_eq!(s.asset_get(&sid(3), &a).unwrap(), None);
        // Forgetting session 2 deletes what only it used (b), keeps a.
        s.asset_forget_session(&sid(2)).unwrap();
        assert_eq!(s.asset_count().unwrap(), 1);
        assert_eq!(s.asset_get(&sid(2), &a).unwrap(), None);
        assert_eq!(
            s.asset_get(&sid(1), &a).unwrap().as_deref(),
            Some(&b"frame-a"[..])
        );
        // Forgetting twice is harmless; the last user takes a with it.
        s.asset_forget_session(&sid(2)).unwrap();
        s.asset_forget_session(&sid(1)).unwrap();
        assert_eq!(s.asset_count().unwrap(), 0);
        assert!(!s.asset_use(&sid(1), &a).unwrap());
    }

    #[test]
    fn assets_are_kept_once_and_live_as_long_as_a_session_uses_them() {
        check(&MemStorage::default());
        let dir = tempfile::tempdir().unwrap();
        let log = LogStorage::open(dir.path()).unwrap();
        check(&log);
        assert_eq!(log.session_key_count().unwrap(), 0);
        assert_eq!(log.keys().len(), 0, "each asset's key went with it");
    }

    /// A frame stored before sealing (in clear) is served as it is, and
    /// deleted with its last use.
    #[test]
    fn frames_stored_before_sealing_read_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogStorage::open(dir.path()).unwrap();
        let (h, frame) = ([3u8; 32], b"\x28\xb5\x2f\xfd an old frame");
        log.db()
            .open_tree(BODIES)
            .unwrap()
            .insert(h, &frame[..])
            .unwrap();
        assert!(log.asset_use(&sid(1), &h).unwrap());
        assert_eq!(
            log.asset_get(&sid(1), &h).unwrap().as_deref(),
            Some(&frame[..])
        );
        log.asset_forget_session(&sid(1)).unwrap();
        assert_eq!(log.asset_count().unwrap(), 0);
    }

    #[test]
    fn assets_on_the_distributed_layout() {
        let s = crate::store::dist::digest::fresh_for_tests();
        check(&s);
        assert_eq!(s.session_key_count().unwrap(), 0, "no use or body left");
    }
}
