//! Erasure by forgetting a key ("crypto-shredding"): the sled values that
//! describe what a person did are sealed (XChaCha20-Poly1305) with a key of
//! their own, kept outside sled in `keys.bin`; deleting forgets the key,
//! and overwriting its record in that small file makes the old copies
//! sled still holds unreadable noise.
//!
//! Why: sled 0.34 is log-structured and keeps overwritten or removed
//! values in its files until it happens to reuse their segment, so no
//! delete in sled reaches every byte (a session's metadata is even
//! rewritten at each checkpoint while it is live). The choices were:
//! - (a) rewriting the whole sled index into a fresh directory after an
//!   erasure and swapping it in: every erasure costs a copy of the whole
//!   index (every deployment-wide tree too) while every writer of every
//!   tree is held, and the sled handle every store keeps would have to
//!   become swappable;
//! - (b) this: a delete costs zeroing one 53-byte record where it lies in
//!   `keys.bin` and one fdatasync (a batch of deletes: one for all),
//!   whatever the size of sled, and nothing else changes shape; the price
//!   is a seal or an open per sealed value read or written, an fdatasync
//!   of this file when a group brings a new session or URL, and 53 bytes
//!   (plus a map entry) per key.
//!
//! Why in place, not a rewrite of the file (temporary file, fsync,
//! rename: what this module did first): a rewrite costs the whole file
//! per delete (100-155 ms for 100,000 keys, 5.3 MB written), and it does
//! not remove the key's bytes: the old file's blocks go back to the
//! filesystem as they are, until it reuses them. An overwrite in place
//! puts zeros in the very block that held the key (on a filesystem that
//! writes in place, as ext4 and XFS do for a file's data; a copy-on-write
//! filesystem, or ext4 with `data=journal`, may keep the old block or a
//! journal copy for a while, as any filesystem may for any file). So a
//! freed slot is zeroed, kept, and reused by the next new key; the file
//! is only shortened at open, in place too ([`Keyring::compact`]), never
//! by a rewrite. Measured by the ignored test `cost` (100,000 keys,
//! 900-byte metadata, 2 cores shared with builds at a load of 2-4, so
//! upper bounds): one delete's erasure 0.2-3.3 ms (median of 20), 1,000
//! deletes' together 1.6-30 ms, a rewrite of the file 32-49 ms; a whole
//! plain delete (`store::log`'s ignored `delete_cost`) 24-32 ms.
//!
//! What is sealed, and with which key:
//!
//! | sled tree     | key of the seal                   | holds                          |
//! |---------------|-----------------------------------|--------------------------------|
//! | `sessions`    | the session's                     | metadata: URLs, referrer, visitor id, user agent, ... (a clear header keeps its start, last activity and chunk count, for deletes and retention) |
//! | `comments`    | the session's                     | what the team wrote about it   |
//! | `digest_parts`, `digest_steps` | the session's    | click labels and selectors, ...|
//! | `digest_urls` | the URL's (deployment-wide table) | the URL; forgotten when the last part naming it goes |
//! | `assets`      | the asset's (by its hash's first 16 bytes) | a stylesheet or `data:` URL's zstd frame; forgotten when its last use goes |
//!
//! Invariants:
//! 1. A key is durable in `keys.bin` before sled may hold anything sealed
//!    with it ([`Keyring::seal`] may create the key; the writer calls
//!    [`Keyring::sync`] before its sled write).
//! 2. A key leaves `keys.bin` only when what it sealed is gone from sled
//!    durably: [`Keyring::forget`] drops it from memory after the delete,
//!    and [`Keyring::erase`] (called with the store's checkpoint lock
//!    held, which every delete holds until its sled flush, and after a
//!    flush of its own) zeroes its record and syncs, before the delete
//!    (or the batch of deletes) returns. A slot is reused only once its
//!    zeros are durable. A crash before the erasure leaves keys of deleted
//!    things in the file: the next open finishes those deletes in sled,
//!    flushes, and erases the keys of what sled no longer holds
//!    (`LogStorage`'s open).
//! 3. A sealed value whose key is gone reads as absent (a reader racing a
//!    delete). Values written before this module (plain JSON or
//!    MessagePack, never starting with [`MAGIC`]) read as they are.
//! 4. One id may have two keys in the file only after a crash between a
//!    delete and its erasure, when a new key of the same id was made
//!    meanwhile: the open keeps the one sled's value opens with
//!    ([`Keyring::settle`]) before anything is sealed again.
//!
//! File format: slots of [`RECORD`] bytes, each all zeros (free) or a
//! record: `tag` (1 session, 2 URL, 3 asset), the id (16 bytes; a URL's key
//! is 8 bytes, then zeros; an asset's is its hash's first 16 bytes), the
//! key (32), a CRC-32 of those 49 bytes. A torn or damaged record is
//! skipped (and zeroed): by invariant 1 nothing sealed with its key was
//! written. Files of the append-only version of this module read the same.

use super::segments::{LogError, FILE_MODE};
use super::StoreError;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use reel_shared::SessionId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub(crate) const FILE_NAME: &str = "keys.bin";
/// A sealed value's first byte: never the first of JSON, of UTF-8 text,
/// or of the MessagePack arrays the digest writes.
pub(crate) const MAGIC: u8 = 0xFF;
const NONCE: usize = 24;
const TAG_SESSION: u8 = 1;
const TAG_URL: u8 = 2;
const TAG_ASSET: u8 = 3;
const RECORD: usize = 1 + 16 + 32 + 4;

/// What a key seals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyId {
    Session(SessionId),
    /// A distinct-URL table entry, by its URL key.
    Url(u64),
    /// A content-addressed asset, by its hash's first 16 bytes (assets
    /// that share them share the key: `store::assets` forgets it with the
    /// last of them).
    Asset([u8; 16]),
}

impl KeyId {
    fn to_bytes(self) -> (u8, [u8; 16]) {
        match self {
            KeyId::Session(s) => (TAG_SESSION, s.0),
            KeyId::Url(u) => {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&u.to_be_bytes());
                (TAG_URL, b)
            }
            KeyId::Asset(a) => (TAG_ASSET, a),
        }
    }

    fn from_bytes(tag: u8, b: &[u8; 16]) -> Option<Self> {
        match tag {
            TAG_SESSION => Some(KeyId::Session(SessionId(*b))),
            TAG_URL => {
                let u = <[u8; 8]>::try_from(&b[..8]).ok()?;
                Some(KeyId::Url(u64::from_be_bytes(u)))
            }
            TAG_ASSET => Some(KeyId::Asset(*b)),
            _ => None,
        }
    }
}

fn record(id: KeyId, key: &[u8; 32]) -> [u8; RECORD] {
    let (tag, idb) = id.to_bytes();
    let mut r = [0u8; RECORD];
    r[0] = tag;
    r[1..17].copy_from_slice(&idb);
    r[17..49].copy_from_slice(key);
    let crc = crc32fast::hash(&r[..49]);
    r[49..].copy_from_slice(&crc.to_le_bytes());
    r
}

fn parse(r: &[u8]) -> Option<(KeyId, [u8; 32])> {
    let crc = u32::from_le_bytes(r.get(49..RECORD)?.try_into().ok()?);
    if crc32fast::hash(r.get(..49)?) != crc {
        return None;
    }
    let id = KeyId::from_bytes(r[0], r.get(1..17)?.try_into().ok()?)?;
    Some((id, r.get(17..49)?.try_into().ok()?))
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Log(LogError::Io(e))
}

fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    Ok(b)
}

/// Opens a file whose bytes are overwritten where they lie (this
/// module's `keys.bin`, `store::people`'s `people.jsonl`): read and write,
/// created private, never truncated, and not `O_APPEND` (on Linux a
/// positioned write to a file opened so appends, whatever its offset).
pub(super) fn open_in_place(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io)
}

#[derive(Default)]
struct Inner {
    /// Each live key and its slot in the file.
    keys: HashMap<KeyId, ([u8; 32], u64)>,
    /// Opened (read and write) at the first write.
    file: Option<File>,
    /// Records written since the last sync.
    dirty: bool,
    /// Slots in the file (its length over [`RECORD`], a torn tail counted).
    slots: u64,
    /// Zeroed slots (durably), for new keys.
    free: Vec<u64>,
    /// Slots of forgotten keys, to zero at the next [`Keyring::erase`].
    forgotten: Vec<u64>,
    /// Keys found twice at open (a crash between a delete and its erasure,
    /// with a new key of the same id made meanwhile): every candidate, to
    /// be settled by [`Keyring::settle`].
    doubles: HashMap<KeyId, Vec<([u8; 32], u64)>>,
}

impl Inner {
    fn file(&mut self, path: &Path) -> Result<&File, StoreError> {
        if self.file.is_none() {
            self.file = Some(open_in_place(path)?);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io(std::io::Error::other("keys.bin is not open")))
    }
}

/// The keys of [`super::log::LogStorage`]'s sealed values (see the module).
pub(crate) struct Keyring {
    path: PathBuf,
    /// False for a store opened read-only on a full disk: keys then live in
    /// memory alone (its index is temporary too).
    write: bool,
    inner: Mutex<Inner>,
    /// Tests: [`Keyring::erase`] does nothing, as if the process died first.
    #[cfg(test)]
    pub(crate) crash_before_erase: std::sync::atomic::AtomicBool,
}

impl Keyring {
    pub(crate) fn open(dir: &Path, write: bool) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let mut inner = Inner::default();
        match File::open(&path) {
            Ok(mut f) => {
                let mut all = Vec::new();
                f.read_to_end(&mut all).map_err(io)?;
                let mut skipped = 0;
                for (slot, r) in (0u64..).zip(all.chunks(RECORD)) {
                    inner.slots = slot + 1;
                    match parse(r) {
                        Some((id, key)) => {
                            if let Some(old) = inner.keys.insert(id, (key, slot)) {
                                let cands = inner.doubles.entry(id).or_insert_with(|| vec![old]);
                                if cands.iter().all(|(k, _)| *k != key) {
                                    cands.push((key, slot));
                                } else {
                                    // The same key twice (a compaction cut
                                    // short): the copy is dead.
                                    inner.keys.insert(id, old);
                                    inner.forgotten.push(slot);
                                }
                            }
                        }
                        None if r.iter().all(|b| *b == 0) => inner.free.push(slot),
                        None => {
                            skipped += 1;
                            inner.forgotten.push(slot);
                        }
                    }
                }
                inner.doubles.retain(|_, all| all.len() > 1);
                if skipped > 0 {
                    tracing::warn!(
                        records = skipped,
                        "torn or damaged records in {FILE_NAME}: skipped"
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        Ok(Keyring {
            path,
            write,
            inner: Mutex::new(inner),
            #[cfg(test)]
            crash_before_erase: Default::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `id`'s key, made (and written in a free slot, not yet durable) when
    /// it has none.
    fn key_or_new(&self, id: KeyId) -> Result<[u8; 32], StoreError> {
        let mut g = self.lock();
        if let Some((k, _)) = g.keys.get(&id) {
            return Ok(*k);
        }
        let key = random::<32>()?;
        let mut slot = u64::MAX;
        if self.write {
            let (s, reused) = match g.free.pop() {
                Some(s) => (s, true),
                None => (g.slots, false),
            };
            let written = g.file(&self.path).and_then(|f| {
                f.write_all_at(&record(id, &key), s * RECORD as u64)
                    .map_err(io)
            });
            if let Err(e) = written {
                if reused {
                    g.free.push(s);
                }
                return Err(e);
            }
            if !reused {
                g.slots += 1;
            }
            g.dirty = true;
            slot = s;
        }
        g.keys.insert(id, (key, slot));
        Ok(key)
    }

    /// Makes every key made so far durable (invariant 1).
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let mut g = self.lock();
        if !g.dirty {
            return Ok(());
        }
        if let Some(f) = g.file.as_ref() {
            f.sync_data().map_err(io)?;
        }
        g.dirty = false;
        Ok(())
    }

    /// Makes `id`'s key now (durable at the next [`Keyring::sync`]).
    pub(crate) fn ensure(&self, id: KeyId) -> Result<(), StoreError> {
        self.key_or_new(id).map(drop)
    }

    /// `plain` sealed with `id`'s key (made if need be: sync before the
    /// value reaches sled), after a clear `header` (authenticated too):
    /// `MAGIC, header length, header, nonce, ciphertext and tag`.
    pub(crate) fn seal(
        &self,
        id: KeyId,
        header: &[u8],
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let key = self.key_or_new(id)?;
        let nonce = random::<NONCE>()?;
        let hlen = u8::try_from(header.len())
            .map_err(|_| StoreError::Corrupt("a sealed value's header is too long".into()))?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key));
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: header,
                },
            )
            .map_err(|_| StoreError::Corrupt("cannot seal a value".into()))?;
        let mut out = Vec::with_capacity(2 + header.len() + NONCE + ct.len());
        out.push(MAGIC);
        out.push(hlen);
        out.extend_from_slice(header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// What `v` holds: as it is when it was never sealed, `None` when its
    /// key is gone (the thing was deleted).
    pub(crate) fn open_value<'a>(
        &self,
        id: KeyId,
        v: &'a [u8],
    ) -> Result<Option<Cow<'a, [u8]>>, StoreError> {
        if !is_sealed(v) {
            return Ok(Some(Cow::Borrowed(v)));
        }
        let Some((key, _)) = self.lock().keys.get(&id).copied() else {
            return Ok(None);
        };
        unseal(&key, v)
            .map(|p| Some(Cow::Owned(p)))
            .ok_or_else(|| StoreError::Corrupt("a sealed value that does not open".into()))
    }

    /// Drops `id`'s key from memory; its bytes leave the file at the next
    /// [`Keyring::erase`].
    pub(crate) fn forget(&self, id: KeyId) {
        let mut g = self.lock();
        if let Some((_, slot)) = g.keys.remove(&id) {
            if self.write {
                g.forgotten.push(slot);
            }
        }
    }

    /// Keeps only the keys `live` accepts (at open: of what sled holds).
    pub(crate) fn retain(&self, mut live: impl FnMut(&KeyId) -> bool) {
        for id in self.ids() {
            if !live(&id) {
                self.forget(id);
            }
        }
    }

    /// Every live key's id.
    pub(crate) fn ids(&self) -> Vec<KeyId> {
        self.lock().keys.keys().copied().collect()
    }

    /// At open, for each id found with more than one key: keeps the one
    /// `opens` accepts (the key sled's value of it opens with), or the
    /// last found when none does (then nothing sled holds is sealed with
    /// either); the others are forgotten.
    pub(crate) fn settle(&self, mut opens: impl FnMut(&KeyId, &dyn Fn(&[u8]) -> bool) -> bool) {
        let doubles = std::mem::take(&mut self.lock().doubles);
        for (id, all) in doubles {
            let chosen = all
                .iter()
                .position(|(key, _)| opens(&id, &|v: &[u8]| unseal(key, v).is_some()))
                .unwrap_or(all.len() - 1);
            let mut g = self.lock();
            for (i, (key, slot)) in all.iter().enumerate() {
                if i == chosen {
                    g.keys.insert(id, (*key, *slot));
                } else if self.write {
                    g.forgotten.push(*slot);
                }
            }
            tracing::warn!(
                "{FILE_NAME} held {} keys for one id (a crash during a delete): kept one",
                all.len()
            );
        }
    }

    /// How many keys are live.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Zeroes the forgotten keys' records where they are in the file, and
    /// syncs: their bytes are overwritten, not left in a file's freed
    /// blocks. Call it with the store's checkpoint lock held, after sled's
    /// flush (invariant 2). One sync for every key forgotten since the
    /// last call: a batch of deletes erases once.
    pub(crate) fn erase(&self) -> Result<(), StoreError> {
        #[cfg(test)]
        if self
            .crash_before_erase
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let mut g = self.lock();
        if !self.write || g.forgotten.is_empty() {
            return Ok(());
        }
        let mut slots = std::mem::take(&mut g.forgotten);
        slots.sort_unstable();
        slots.dedup();
        let written = (|| {
            let f = g.file(&self.path)?;
            for s in &slots {
                f.write_all_at(&[0; RECORD], s * RECORD as u64)
                    .map_err(io)?;
            }
            f.try_clone().map_err(io)
        })();
        // Synced without the lock (readers take it for every open): the
        // slots are free for new keys only once their zeros are durable.
        drop(g);
        let zeroed = written.and_then(|f| f.sync_data().map_err(io));
        let mut g = self.lock();
        match zeroed {
            Ok(()) => {
                g.free.extend(slots);
                Ok(())
            }
            Err(e) => {
                // Tried again at the next erase.
                g.forgotten.extend(slots);
                Err(e)
            }
        }
    }

    /// At open, after [`Keyring::erase`]: makes the file as long as its
    /// live keys, in place: the last records move into the free slots
    /// before them (synced), then the tail is zeroed (synced) and cut. A
    /// crash in between leaves copies of live keys, read back as one; no
    /// freed block of the file ever held a key (a rewrite and rename would
    /// leave the old file's blocks, with every key, to the filesystem).
    pub(crate) fn compact(&self) -> Result<(), StoreError> {
        let mut g = self.lock();
        let live = g.keys.len() as u64;
        if !self.write || g.slots == live || !g.forgotten.is_empty() {
            return Ok(());
        }
        let mut holes: Vec<u64> = {
            let used: std::collections::HashSet<u64> = g.keys.values().map(|(_, s)| *s).collect();
            (0..live).filter(|s| !used.contains(s)).collect()
        };
        let mut movers: Vec<(KeyId, [u8; 32])> = g
            .keys
            .iter()
            .filter(|(_, (_, s))| *s >= live)
            .map(|(id, (k, _))| (*id, *k))
            .collect();
        movers.sort_unstable_by_key(|(id, _)| g.keys[id].1);
        holes.truncate(movers.len());
        let tail = g.slots - live;
        let f = g.file(&self.path)?.try_clone().map_err(io)?;
        for (hole, (id, key)) in holes.iter().zip(&movers) {
            f.write_all_at(&record(*id, key), hole * RECORD as u64)
                .map_err(io)?;
        }
        f.sync_data().map_err(io)?;
        for (hole, (id, _)) in holes.iter().zip(&movers) {
            if let Some(e) = g.keys.get_mut(id) {
                e.1 = *hole;
            }
        }
        let zeros = vec![0u8; usize::try_from(tail).unwrap_or(0) * RECORD];
        f.write_all_at(&zeros, live * RECORD as u64).map_err(io)?;
        f.sync_data().map_err(io)?;
        f.set_len(live * RECORD as u64).map_err(io)?;
        f.sync_all().map_err(io)?;
        g.slots = live;
        g.free.clear();
        g.dirty = false;
        Ok(())
    }
}

/// `v` (sealed) opened with `key`; `None` when it does not open.
fn unseal(key: &[u8; 32], v: &[u8]) -> Option<Vec<u8>> {
    let hlen = usize::from(*v.get(1)?);
    let header = v.get(2..2 + hlen)?;
    let nonce = v.get(2 + hlen..2 + hlen + NONCE)?;
    let ct = v.get(2 + hlen + NONCE..)?;
    XChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: header,
            },
        )
        .ok()
}

/// Whether `v` was sealed by a [`Keyring`].
pub(crate) fn is_sealed(v: &[u8]) -> bool {
    v.first() == Some(&MAGIC)
}

/// The clear header of a sealed value (no key needed).
pub(crate) fn header(v: &[u8]) -> Option<&[u8]> {
    if !is_sealed(v) {
        return None;
    }
    let hlen = usize::from(*v.get(1)?);
    v.get(2..2 + hlen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// The cost figures of the module doc (run by hand:
    /// `cargo test --release -p reel-server --lib store::shred::tests::cost
    /// -- --ignored --nocapture`): with 100,000 keys, one delete's erasure
    /// (zero one record, fdatasync) against a rewrite of the whole file
    /// (what an erasure cost before, [`super::super::atomic_file`]).
    #[test]
    #[ignore]
    fn cost() {
        use std::time::Instant;
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::open(dir.path(), true).unwrap();
        let n: u32 = 100_000;
        let meta = vec![b'x'; 900];
        let id = |i: u32| {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            KeyId::Session(SessionId(id))
        };
        let t = Instant::now();
        let mut sealed = Vec::with_capacity(n as usize);
        for i in 0..n {
            sealed.push(k.seal(id(i), &[0; 24], &meta).unwrap());
        }
        let seal = t.elapsed();
        let t = Instant::now();
        k.sync().unwrap();
        let sync = t.elapsed();
        let t = Instant::now();
        for (i, v) in (0..n).zip(&sealed) {
            assert!(k.open_value(id(i), v).unwrap().is_some());
        }
        let open = t.elapsed();
        let mut erase = Vec::new();
        for i in 0..20 {
            k.forget(id(i * 997));
            let t = Instant::now();
            k.erase().unwrap();
            erase.push(t.elapsed());
        }
        erase.sort();
        let t = Instant::now();
        for i in 0..1000 {
            k.forget(id(50_000 + i));
        }
        k.erase().unwrap();
        let batch = t.elapsed();
        let size = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
        let keys: Vec<[u8; RECORD]> = {
            let g = k.lock();
            g.keys
                .iter()
                .map(|(id, (key, _))| record(*id, key))
                .collect()
        };
        let mut rewrite = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            super::super::atomic_file::replace(&dir.path().join("rewrite.bin"), |w| {
                for r in &keys {
                    w.write_all(r)?;
                }
                Ok(())
            })
            .unwrap();
            rewrite.push(t.elapsed());
        }
        rewrite.sort();
        println!(
            "{n} sessions, 900-byte metadata: seal (new key each) {:.2} µs, open {:.2} µs, \
             one sync {sync:?}; one delete's erasure: median {:?} (min {:?}, max {:?}); \
             1,000 deletes' erasure {batch:?}; a rewrite of the file instead: median {:?} \
             ({size} bytes of keys)",
            seal.as_secs_f64() * 1e6 / f64::from(n),
            open.as_secs_f64() * 1e6 / f64::from(n),
            erase[erase.len() / 2],
            erase[0],
            erase[erase.len() - 1],
            rewrite[rewrite.len() / 2],
        );
    }

    fn record_of(file: &[u8], tag: u8, id: &[u8; 16]) -> Option<Vec<u8>> {
        file.chunks(RECORD)
            .find(|r| r[0] == tag && r[1..17] == id[..])
            .map(|r| r[17..49].to_vec())
    }

    #[test]
    fn seal_open_forget_erase_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let (a, b) = (SessionId([1; 16]), SessionId([2; 16]));
        let (sa, sb, su);
        {
            let k = Keyring::open(dir.path(), true).unwrap();
            sa = k
                .seal(KeyId::Session(a), b"head", b"https://a.example/secret")
                .unwrap();
            sb = k.seal(KeyId::Session(b), b"", b"bob's").unwrap();
            su = k.seal(KeyId::Url(7), b"", b"https://u.example/").unwrap();
            k.seal(KeyId::Asset([5; 16]), b"", b"an avatar").unwrap();
            k.sync().unwrap();
            assert!(!contains(&sa, b"secret"));
            assert_eq!(header(&sa), Some(&b"head"[..]));
            let open = k.open_value(KeyId::Session(a), &sa).unwrap().unwrap();
            assert_eq!(&open[..], b"https://a.example/secret");
            // The wrong key is an error, not garbage.
            assert!(k.open_value(KeyId::Session(b), &sa).is_err());
            // A value written before sealing existed reads as it is.
            let plain = k
                .open_value(KeyId::Session(a), b"{\"x\":1}")
                .unwrap()
                .unwrap();
            assert_eq!(&plain[..], b"{\"x\":1}");
        }
        let k = Keyring::open(dir.path(), true).unwrap();
        assert_eq!(k.len(), 4, "read back");
        assert!(k.open_value(KeyId::Url(7), &su).unwrap().is_some());
        let before = std::fs::read(&path).unwrap();
        let key_a = record_of(&before, TAG_SESSION, &[1; 16]).unwrap();
        let key_x = record_of(&before, TAG_ASSET, &[5; 16]).unwrap();
        k.forget(KeyId::Asset([5; 16]));
        k.forget(KeyId::Session(a));
        assert!(
            k.open_value(KeyId::Session(a), &sa).unwrap().is_none(),
            "gone"
        );
        assert!(
            contains(&std::fs::read(&path).unwrap(), &key_a),
            "until erased"
        );
        k.erase().unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), before.len(), "zeroed in place");
        assert!(!contains(&after, &key_a), "the key left the file");
        assert!(!contains(&after, &key_x));
        assert_eq!(
            after
                .chunks(RECORD)
                .filter(|r| r.iter().all(|b| *b == 0))
                .count(),
            2
        );
        // A new key takes a zeroed slot; a torn record is skipped.
        k.seal(KeyId::Session(a), b"", b"new").unwrap();
        k.sync().unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), before.len(), "reused");
        drop(k);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, &[TAG_SESSION, 9, 9]).unwrap();
        drop(f);
        let k = Keyring::open(dir.path(), true).unwrap();
        assert_eq!(k.len(), 3);
        assert!(k.open_value(KeyId::Session(a), &sa).is_err(), "a new key");
        assert_eq!(
            &k.open_value(KeyId::Session(b), &sb).unwrap().unwrap()[..],
            b"bob's"
        );
        k.retain(|id| *id != KeyId::Url(7));
        assert!(k.open_value(KeyId::Url(7), &su).unwrap().is_none());
        k.erase().unwrap();
        k.compact().unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(
            file.len(),
            2 * RECORD,
            "the free slots and the torn tail cut"
        );
        drop(k);
        let k = Keyring::open(dir.path(), true).unwrap();
        assert_eq!(k.len(), 2);
        assert_eq!(
            &k.open_value(KeyId::Session(b), &sb).unwrap().unwrap()[..],
            b"bob's"
        );
    }

    /// Compaction moves the last records into the holes before them, and
    /// a copy it leaves (a crash before the tail is zeroed) reads as one.
    #[test]
    fn compaction_in_place_and_copies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let id = |i: u8| KeyId::Session(SessionId([i; 16]));
        let k = Keyring::open(dir.path(), true).unwrap();
        let sealed: Vec<Vec<u8>> = (0..10).map(|i| k.seal(id(i), b"", &[i]).unwrap()).collect();
        k.sync().unwrap();
        for i in 0..7 {
            k.forget(id(i));
        }
        k.erase().unwrap();
        k.compact().unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(file.len(), 3 * RECORD);
        drop(k);
        // A copy of a record past the end, as a cut-short compaction leaves.
        std::fs::write(&path, [&file[..], &file[..RECORD]].concat()).unwrap();
        let k = Keyring::open(dir.path(), true).unwrap();
        assert_eq!(k.len(), 3);
        for i in 7..10 {
            assert_eq!(
                &k.open_value(id(i), &sealed[usize::from(i)])
                    .unwrap()
                    .unwrap()[..],
                &[i]
            );
        }
        k.erase().unwrap();
        k.compact().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), file);
    }

    /// Two keys for one id (a crash between a delete and its erasure, a
    /// new key made meanwhile): the one the value opens with is kept.
    #[test]
    fn two_keys_for_one_id_are_settled_by_what_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let s = KeyId::Session(SessionId([3; 16]));
        let k = Keyring::open(dir.path(), true).unwrap();
        let old = k.seal(s, b"", b"old").unwrap();
        k.sync().unwrap();
        k.forget(s);
        let new = k.seal(s, b"", b"new").unwrap();
        k.sync().unwrap();
        drop(k);
        assert_eq!(std::fs::read(&path).unwrap().len(), 2 * RECORD);
        for (value, plain) in [(&old, b"old"), (&new, b"new")] {
            let k = Keyring::open(dir.path(), true).unwrap();
            k.settle(|id, opens| *id == s && opens(value));
            assert_eq!(&k.open_value(s, value).unwrap().unwrap()[..], plain);
            assert_eq!(k.len(), 1);
        }
        let k = Keyring::open(dir.path(), true).unwrap();
        k.settle(|_, opens| opens(&new));
        k.erase().unwrap();
        k.compact().unwrap();
        drop(k);
        assert_eq!(std::fs::read(&path).unwrap().len(), RECORD);
        let k = Keyring::open(dir.path(), true).unwrap();
        assert_eq!(&k.open_value(s, &new).unwrap().unwrap()[..], b"new");
    }
}
