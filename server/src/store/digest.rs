//! The digest's storage (issue 16): the records [`crate::digest::apply`]
//! derives from each chunk at ingest, and the reads insights answer from.
//!
//! Layout (sled trees for [`LogStorage`]; a PostgreSQL backend keeps the
//! same as tables with these primary keys):
//!
//! | tree                  | key                                        | value                       |
//! |-----------------------|--------------------------------------------|-----------------------------|
//! | `digest_urls`         | URL key (u64 BE)                           | the URL: the distinct-URL table |
//! | `digest_parts`        | URL key ++ session ++ seq ++ part (BE)     | [`PagePart`] (MessagePack)  |
//! | `digest_part_index`   | session ++ the part's key                  | empty: what a delete removes |
//! | `digest_steps`        | session id                                 | its [`Step`]s (MessagePack) |
//!
//! A heatmap or scroll map of a URL pattern scans the distinct URLs (far
//! fewer than sessions), then reads the parts of the matching URLs alone:
//! one key range each, only sessions that saw them. A funnel reads one
//! compact step list per session in its time range.
//!
//! Writes: the backend's step that indexes a chunk calls
//! [`sled_apply`] / [`mem_apply`] with what `apply` returned, after the
//! chunk is durable; every key includes the chunk's seq (the step list is
//! replaced seq by seq), so writing the same chunk's records again changes
//! nothing (see `store/log.rs`, where a crash can make that happen).
//! Deletes: [`sled_forget`] / [`mem_forget`], called by the backend's
//! `delete_session`; a URL no part names any more leaves the URL table
//! too, so a deleted session leaves no key (invariant 3).
//!
//! In sled the values are sealed ([`super::shred`]): parts and steps with
//! their session's key, a URL with its own (forgotten with its entry), so
//! that what sled's files keep of deleted values cannot be read. A value
//! whose key is gone reads as absent (deleted meanwhile).

use super::shred::{KeyId, Keyring};
use super::{LogStorage, StoreError};
use crate::digest::{
    decode_part, decode_steps, encode_part, encode_steps, merge_steps, part_key, DigestUpdate,
    PagePart, Step, UrlKey,
};
use reel_shared::SessionId;

pub(crate) const URLS_TREE: &str = "digest_urls";
pub(crate) const PARTS_TREE: &str = "digest_parts";
pub(crate) const PART_INDEX_TREE: &str = "digest_part_index";
pub(crate) const STEPS_TREE: &str = "digest_steps";

/// Reads of the digest. Methods block (call them off the async workers).
pub trait DigestStore {
    /// Distinct page URLs that contain `pattern`, at most `cap`; and
    /// whether there were more.
    fn digest_urls(
        &self,
        pattern: &str,
        cap: usize,
    ) -> Result<(Vec<(UrlKey, String)>, bool), StoreError>;

    /// Every stored part of pages at `url`, in (session, seq, part) order;
    /// `each` returns false to stop.
    fn digest_parts(
        &self,
        url: UrlKey,
        each: &mut dyn FnMut(&SessionId, PagePart) -> bool,
    ) -> Result<(), StoreError>;

    /// A session's steps, in time order.
    fn digest_steps(&self, id: &SessionId) -> Result<Vec<Step>, StoreError>;

    /// Every session's steps (sessions with none are left out), in no
    /// particular order; `each` returns false to stop. One scan: what an
    /// unfiltered funnel reads instead of the session index.
    fn digest_all_steps(
        &self,
        each: &mut dyn FnMut(&SessionId, Vec<Step>) -> bool,
    ) -> Result<(), StoreError>;
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("digest: {what}"))
}

/// Writes one chunk's digest records (see the module doc), sealed with
/// `keys` (whose keys for this session and these URLs the caller made
/// durable already; a URL whose entry a delete just removed gets a new
/// key here, synced before it is used).
pub(crate) fn sled_apply(
    db: &sled::Db,
    keys: &Keyring,
    id: &SessionId,
    seq: u32,
    up: &DigestUpdate,
) -> Result<(), StoreError> {
    if up.urls.is_empty() && up.parts.is_empty() && up.steps.is_empty() {
        return Ok(());
    }
    let sealed_urls = up
        .urls
        .iter()
        .map(|(k, url)| Ok((*k, keys.seal(KeyId::Url(*k), b"", url.as_bytes())?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    keys.sync()?;
    let urls = db.open_tree(URLS_TREE)?;
    for (k, url) in sealed_urls {
        urls.insert(k.to_be_bytes(), url)?;
    }
    let parts = db.open_tree(PARTS_TREE)?;
    let index = db.open_tree(PART_INDEX_TREE)?;
    let skey = KeyId::Session(*id);
    for (url, idx, part) in &up.parts {
        let key = part_key(*url, id, seq, *idx);
        parts.insert(key, keys.seal(skey, b"", &encode_part(part))?)?;
        let mut ik = [0u8; 46];
        ik[..16].copy_from_slice(id.as_bytes());
        ik[16..].copy_from_slice(&key);
        index.insert(ik, &[][..])?;
    }
    if !up.steps.is_empty() {
        let steps = db.open_tree(STEPS_TREE)?;
        let old = match steps.get(id.as_bytes())? {
            Some(v) => keys.open_value(skey, &v)?.map(|v| v.into_owned()),
            None => None,
        };
        let mut all = match old {
            Some(v) => decode_steps(&v).ok_or_else(|| corrupt("a step list"))?,
            None => Vec::new(),
        };
        merge_steps(&mut all, seq, &up.steps);
        steps.insert(id.as_bytes(), keys.seal(skey, b"", &encode_steps(&all))?)?;
    }
    Ok(())
}

/// Removes every digest record of a session (and the URLs only it saw,
/// with their keys).
pub(crate) fn sled_forget(db: &sled::Db, keys: &Keyring, id: &SessionId) -> Result<(), StoreError> {
    let parts = db.open_tree(PARTS_TREE)?;
    let index = db.open_tree(PART_INDEX_TREE)?;
    let mut urls_seen: Vec<[u8; 8]> = Vec::new();
    for k in index.scan_prefix(id.as_bytes()).keys() {
        let k = k?;
        if let Some(pk) = k.get(16..) {
            parts.remove(pk)?;
            if let Some(u) = pk.get(..8).and_then(|u| <[u8; 8]>::try_from(u).ok()) {
                if !urls_seen.contains(&u) {
                    urls_seen.push(u);
                }
            }
        }
        index.remove(k)?;
    }
    let urls = db.open_tree(URLS_TREE)?;
    for u in urls_seen {
        if parts.scan_prefix(u).next().is_none() {
            urls.remove(u)?;
            keys.forget(KeyId::Url(u64::from_be_bytes(u)));
        }
    }
    db.open_tree(STEPS_TREE)?.remove(id.as_bytes())?;
    Ok(())
}

impl DigestStore for LogStorage {
    fn digest_urls(
        &self,
        pattern: &str,
        cap: usize,
    ) -> Result<(Vec<(UrlKey, String)>, bool), StoreError> {
        let mut out = Vec::new();
        for kv in self.db().open_tree(URLS_TREE)?.iter() {
            let (k, v) = kv?;
            let key = <[u8; 8]>::try_from(&k[..]).map_err(|_| corrupt("a URL key"))?;
            let key = u64::from_be_bytes(key);
            let Some(v) = self.keys().open_value(KeyId::Url(key), &v)? else {
                continue;
            };
            // The pattern is matched on the bytes.
            if !contains(&v, pattern.as_bytes()) {
                continue;
            }
            if out.len() == cap {
                return Ok((out, true));
            }
            out.push((key, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok((out, false))
    }

    fn digest_parts(
        &self,
        url: UrlKey,
        each: &mut dyn FnMut(&SessionId, PagePart) -> bool,
    ) -> Result<(), StoreError> {
        for kv in self
            .db()
            .open_tree(PARTS_TREE)?
            .scan_prefix(url.to_be_bytes())
        {
            let (k, v) = kv?;
            let id = k
                .get(8..24)
                .and_then(SessionId::from_slice)
                .ok_or_else(|| corrupt("a part key"))?;
            let Some(v) = self.keys().open_value(KeyId::Session(id), &v)? else {
                continue;
            };
            let part = decode_part(&v).ok_or_else(|| corrupt("a page part"))?;
            if !each(&id, part) {
                break;
            }
        }
        Ok(())
    }

    fn digest_steps(&self, id: &SessionId) -> Result<Vec<Step>, StoreError> {
        let Some(v) = self.db().open_tree(STEPS_TREE)?.get(id.as_bytes())? else {
            return Ok(Vec::new());
        };
        match self.keys().open_value(KeyId::Session(*id), &v)? {
            Some(v) => decode_steps(&v).ok_or_else(|| corrupt("a step list")),
            None => Ok(Vec::new()),
        }
    }

    fn digest_all_steps(
        &self,
        each: &mut dyn FnMut(&SessionId, Vec<Step>) -> bool,
    ) -> Result<(), StoreError> {
        for kv in self.db().open_tree(STEPS_TREE)?.iter() {
            let (k, v) = kv?;
            let id = SessionId::from_slice(&k).ok_or_else(|| corrupt("a step key"))?;
            let Some(v) = self.keys().open_value(KeyId::Session(id), &v)? else {
                continue;
            };
            let steps = decode_steps(&v).ok_or_else(|| corrupt("a step list"))?;
            if !each(&id, steps) {
                break;
            }
        }
        Ok(())
    }
}

/// Whether `needle` occurs in `hay` (an empty needle does).
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || memchr::memmem::find(hay, needle).is_some()
}

/// The in-memory backend's digest (for model tests): the same records in
/// ordered maps.
#[cfg(test)]
#[derive(Default)]
pub struct MemDigest {
    urls: std::collections::BTreeMap<UrlKey, String>,
    parts: std::collections::BTreeMap<[u8; 30], PagePart>,
    steps: std::collections::HashMap<SessionId, Vec<Step>>,
}

#[cfg(test)]
pub(crate) fn mem_apply(d: &mut MemDigest, id: &SessionId, seq: u32, up: &DigestUpdate) {
    for (k, url) in &up.urls {
        d.urls.insert(*k, url.clone());
    }
    for (url, idx, part) in &up.parts {
        d.parts.insert(part_key(*url, id, seq, *idx), part.clone());
    }
    if !up.steps.is_empty() {
        merge_steps(d.steps.entry(*id).or_default(), seq, &up.steps);
    }
}

#[cfg(test)]
pub(crate) fn mem_forget(d: &mut MemDigest, id: &SessionId) {
    d.parts.retain(|k, _| &k[8..24] != id.as_bytes());
    let parts = &d.parts;
    d.urls
        .retain(|u, _| parts.keys().any(|k| k[..8] == u.to_be_bytes()));
    d.steps.remove(id);
}

#[cfg(test)]
impl super::mem::MemStorage {
    pub(crate) fn digest(&self) -> std::sync::MutexGuard<'_, MemDigest> {
        self.digest.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
impl MemDigest {
    pub(crate) fn key_count(&self) -> usize {
        // The part index of sled is implicit here; count it as sled would.
        self.urls.len() + 2 * self.parts.len() + self.steps.len()
    }
}

#[cfg(test)]
impl DigestStore for super::mem::MemStorage {
    fn digest_urls(
        &self,
        pattern: &str,
        cap: usize,
    ) -> Result<(Vec<(UrlKey, String)>, bool), StoreError> {
        let d = self.digest();
        let mut out = Vec::new();
        for (k, u) in &d.urls {
            if u.contains(pattern) {
                if out.len() == cap {
                    return Ok((out, true));
                }
                out.push((*k, u.clone()));
            }
        }
        Ok((out, false))
    }

    fn digest_parts(
        &self,
        url: UrlKey,
        each: &mut dyn FnMut(&SessionId, PagePart) -> bool,
    ) -> Result<(), StoreError> {
        let parts: Vec<(SessionId, PagePart)> = {
            let d = self.digest();
            let lo = part_key(url, &SessionId([0; 16]), 0, 0);
            let hi = part_key(url, &SessionId([0xff; 16]), u32::MAX, u16::MAX);
            d.parts
                .range(lo..=hi)
                .filter_map(|(k, p)| Some((SessionId::from_slice(&k[8..24])?, p.clone())))
                .collect()
        };
        for (id, p) in parts {
            if !each(&id, p) {
                break;
            }
        }
        Ok(())
    }

    fn digest_steps(&self, id: &SessionId) -> Result<Vec<Step>, StoreError> {
        Ok(self.digest().steps.get(id).cloned().unwrap_or_default())
    }

    fn digest_all_steps(
        &self,
        each: &mut dyn FnMut(&SessionId, Vec<Step>) -> bool,
    ) -> Result<(), StoreError> {
        let all: Vec<(SessionId, Vec<Step>)> = self
            .digest()
            .steps
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, steps) in all {
            if !each(&id, steps) {
                break;
            }
        }
        Ok(())
    }
}
