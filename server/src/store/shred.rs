//! Erasure by forgetting a key ("crypto-shredding"): the sled values that
//! describe what a person did are sealed (XChaCha20-Poly1305) with a key of
//! their own, kept outside sled in `keys.bin`; deleting forgets the key,
//! and rewriting that small file makes the old copies sled still holds
//! unreadable noise.
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
//! - (b) this: an erasure costs rewriting one file of 53 bytes per key
//!   (written with fsync and rename, like `people.jsonl`), whatever the
//!   size of sled, and nothing else changes shape; the price is a seal or
//!   an open per sealed value read or written, an fdatasync of this file
//!   when a group brings a new session or URL, and 53 bytes (plus a map
//!   entry) per key. Measured by the ignored test `cost` (100,000
//!   sessions, 900-byte metadata, on 2 cores shared with builds at a load
//!   average of ~9, so upper bounds): 25-35 µs to open a value, 30-60 µs
//!   to seal one with a new key, 35-60 ms for one sync of 100,000 new
//!   keys, 100-155 ms for the erasure's rewrite of 5.3 MB of keys.
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
//!    and [`Keyring::purge`] (called with the store's checkpoint lock
//!    held, which every delete holds until its sled flush) rewrites the
//!    file. A crash before the purge leaves keys of deleted things in the
//!    file; the next open keeps only the keys of what sled still holds
//!    and rewrites it.
//! 3. A sealed value whose key is gone reads as absent (a reader racing a
//!    delete). Values written before this module (plain JSON or
//!    MessagePack, never starting with [`MAGIC`]) read as they are.
//!
//! File format: records of [`RECORD`] bytes, `tag` (1 session, 2 URL,
//! 3 asset), the id (16 bytes; a URL's key is 8 bytes, then zeros; an
//! asset's is its hash's first 16 bytes), the key (32), a
//! CRC-32 of those 49 bytes. A torn or damaged record is skipped: by
//! invariant 1 nothing sealed with its key was written.

use super::segments::{LogError, FILE_MODE};
use super::StoreError;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use reel_shared::SessionId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
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

#[derive(Default)]
struct Inner {
    keys: HashMap<KeyId, [u8; 32]>,
    out: Option<BufWriter<File>>,
    /// Records appended since the last sync.
    dirty: bool,
    /// Records in the file, and how many are no longer live.
    records: usize,
    dead: usize,
}

/// The keys of [`super::log::LogStorage`]'s sealed values (see the module).
pub(crate) struct Keyring {
    path: PathBuf,
    /// False for a store opened read-only on a full disk: keys then live in
    /// memory alone (its index is temporary too).
    write: bool,
    inner: Mutex<Inner>,
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
                for r in all.chunks(RECORD) {
                    match parse(r) {
                        Some((id, key)) => {
                            inner.records += 1;
                            if inner.keys.insert(id, key).is_some() {
                                inner.dead += 1;
                            }
                        }
                        None => skipped += 1,
                    }
                }
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
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `id`'s key, made (and appended, not yet durable) when it has none.
    fn key_or_new(&self, id: KeyId) -> Result<[u8; 32], StoreError> {
        let mut g = self.lock();
        if let Some(k) = g.keys.get(&id) {
            return Ok(*k);
        }
        let key = random::<32>()?;
        if self.write {
            if g.out.is_none() {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(FILE_MODE)
                    .open(&self.path)
                    .map_err(io)?;
                g.out = Some(BufWriter::new(f));
            }
            if let Some(out) = g.out.as_mut() {
                out.write_all(&record(id, &key)).map_err(io)?;
            }
            g.records += 1;
            g.dirty = true;
        }
        g.keys.insert(id, key);
        Ok(key)
    }

    /// Makes every key made so far durable (invariant 1).
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let mut g = self.lock();
        if !g.dirty {
            return Ok(());
        }
        if let Some(out) = g.out.as_mut() {
            out.flush().map_err(io)?;
            out.get_ref().sync_data().map_err(io)?;
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
        let bad = || StoreError::Corrupt("a sealed value that does not open".into());
        let hlen = usize::from(*v.get(1).ok_or_else(bad)?);
        let header = v.get(2..2 + hlen).ok_or_else(bad)?;
        let nonce = v.get(2 + hlen..2 + hlen + NONCE).ok_or_else(bad)?;
        let ct = v.get(2 + hlen + NONCE..).ok_or_else(bad)?;
        let Some(key) = self.lock().keys.get(&id).copied() else {
            return Ok(None);
        };
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key));
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: header,
                },
            )
            .map_err(|_| bad())?;
        Ok(Some(Cow::Owned(plain)))
    }

    /// Drops `id`'s key from memory (from the file at the next purge).
    pub(crate) fn forget(&self, id: KeyId) {
        let mut g = self.lock();
        if g.keys.remove(&id).is_some() {
            g.dead += 1;
        }
    }

    /// Keeps only the keys `live` accepts (at open: of what sled holds).
    pub(crate) fn retain(&self, mut live: impl FnMut(&KeyId) -> bool) {
        let ids: Vec<KeyId> = self.lock().keys.keys().copied().collect();
        let gone: Vec<KeyId> = ids.into_iter().filter(|id| !live(id)).collect();
        for id in gone {
            self.forget(id);
        }
    }

    /// How many keys are live.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Rewrites the file with the live keys only (a new file, synced,
    /// renamed over the old one), when any record is dead (`always`) or
    /// when dead records outnumber live ones. Call it with the store's
    /// checkpoint lock held (invariant 2).
    pub(crate) fn purge(&self, always: bool) -> Result<(), StoreError> {
        if !self.write {
            return Ok(());
        }
        let mut g = self.lock();
        let due = if always {
            g.dead > 0
        } else {
            g.dead > 4096 && g.dead > g.records / 2
        };
        if !due {
            return Ok(());
        }
        let tmp = self.path.with_extension("bin.tmp");
        {
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(FILE_MODE)
                .open(&tmp)
                .map_err(io)?;
            let mut w = BufWriter::new(f);
            for (id, key) in &g.keys {
                w.write_all(&record(*id, key)).map_err(io)?;
            }
            w.flush().map_err(io)?;
            w.get_ref().sync_all().map_err(io)?;
        }
        // Nothing may append to the old file after the rename.
        g.out = None;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        g.records = g.keys.len();
        g.dead = 0;
        g.dirty = false;
        Ok(())
    }
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
    /// -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn cost() {
        use std::time::Instant;
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::open(dir.path(), true).unwrap();
        let n: u32 = 100_000;
        let meta = vec![b'x'; 900];
        let t = Instant::now();
        let mut sealed = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            sealed.push(
                k.seal(KeyId::Session(SessionId(id)), &[0; 24], &meta)
                    .unwrap(),
            );
        }
        let seal = t.elapsed();
        let t = Instant::now();
        k.sync().unwrap();
        let sync = t.elapsed();
        let t = Instant::now();
        for (i, v) in sealed.iter().enumerate() {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&(i as u32).to_be_bytes());
            assert!(k
                .open_value(KeyId::Session(SessionId(id)), v)
                .unwrap()
                .is_some());
        }
        let open = t.elapsed();
        k.forget(KeyId::Session(SessionId([0; 16])));
        let t = Instant::now();
        k.purge(true).unwrap();
        let purge = t.elapsed();
        let size = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
        println!(
            "{n} sessions, 900-byte metadata: seal (new key each) {:.2} µs, open {:.2} µs, \
             one sync {:?}, erasure's purge {:?} ({size} bytes of keys)",
            seal.as_secs_f64() * 1e6 / f64::from(n),
            open.as_secs_f64() * 1e6 / f64::from(n),
            sync,
            purge
        );
    }

    #[test]
    fn seal_open_forget_purge_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
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
        k.forget(KeyId::Asset([5; 16]));
        let before = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        let key_a = before[17..49].to_vec();
        k.forget(KeyId::Session(a));
        assert!(
            k.open_value(KeyId::Session(a), &sa).unwrap().is_none(),
            "gone"
        );
        k.purge(true).unwrap();
        let after = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(after.len(), 2 * RECORD);
        assert!(!contains(&after, &key_a), "the key left the file");
        // Appends after a purge land; a torn record is skipped.
        k.seal(KeyId::Session(a), b"", b"new").unwrap();
        k.sync().unwrap();
        drop(k);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE_NAME))
            .unwrap();
        f.write_all(&[TAG_SESSION, 9, 9]).unwrap();
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
    }
}
