//! People (contract §8): the sessions identified with one user id
//! (`Reel.identify`), found through an index rather than a scan, and kept
//! so that erasing a person leaves no byte of their id on disk.
//!
//! Why the ids are not in sled: sled is log-structured, and an overwritten
//! or removed value stays in its files until sled happens to reuse that
//! part of its log (sled 0.34 zeroes the segments it finds free only when
//! it opens, and a segment that still holds one live page is never free).
//! A session's metadata is rewritten to sled at every checkpoint while the
//! session is live, so a user id kept in it would be copied many times into
//! files no delete can reach. So [`LogStorage`] writes session metadata to
//! sled without `user_id`, and keeps `session → user id` here instead: in
//! memory (with the reverse index), and on disk in `people.jsonl`, one
//! JSON line `{"s": session, "u": user id}` per identification, appended
//! and synced before the checkpoint that writes the session's metadata to
//! sled. Forgetting a session (its delete) drops it from memory; the file
//! is rewritten without it ([`super::atomic_file`]) by the delete's last
//! step (`LogStorage::purge_erased`: before a delete returns, once for a
//! batch of deletes), when the deleted session was identified.
//! At open the file is read back and rewritten with the live sessions only.

use super::{LogStorage, StoreError};
use reel_shared::SessionId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub(crate) const FILE_NAME: &str = "people.jsonl";

/// People's sessions. Methods block (call them off the async workers).
pub trait PeopleStore {
    /// The sessions identified with `user_id`, in no particular order.
    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionId>, StoreError>;
    /// Makes the identities of deleted sessions gone from the disk too.
    fn purge_forgotten(&self) -> Result<(), StoreError>;
    /// After a person's erasure (once, after [`PeopleStore::purge_forgotten`]):
    /// whatever else the backend must do so that no byte of the deleted
    /// sessions stays in its files (the distributed layout rewrites
    /// PostgreSQL's, `store::dist::scrub`). Returns what is not done yet, in
    /// words, for the erasure's audit entry (empty: nothing).
    fn scrub_erased(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    s: SessionId,
    u: String,
}

#[derive(Default)]
struct Inner {
    by_session: HashMap<SessionId, String>,
    by_user: HashMap<String, BTreeSet<SessionId>>,
    out: Option<BufWriter<File>>,
    /// Lines written since the last sync.
    dirty: bool,
    /// Lines in the file, and how many of them are no longer live.
    lines: usize,
    dead: usize,
}

impl Inner {
    fn unlink(&mut self, id: &SessionId) -> Option<String> {
        let old = self.by_session.remove(id)?;
        if let Some(set) = self.by_user.get_mut(&old) {
            set.remove(id);
            if set.is_empty() {
                self.by_user.remove(&old);
            }
        }
        Some(old)
    }
}

/// `session → user id`, in memory and in `people.jsonl` (see the module).
pub(crate) struct Identities {
    path: PathBuf,
    inner: Mutex<Inner>,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Log(super::segments::LogError::Io(e))
}

fn open_append(path: &Path) -> std::io::Result<BufWriter<File>> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(super::segments::FILE_MODE)
        .open(path)?;
    Ok(BufWriter::new(f))
}

impl Identities {
    /// Reads `people.jsonl` in `dir` (a torn or unreadable line is
    /// skipped: the log re-indexes what was not checkpointed).
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let mut inner = Inner::default();
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).split(b'\n') {
                    let line = line.map_err(io)?;
                    if let Ok(l) = serde_json::from_slice::<Line>(&line) {
                        inner.lines += 1;
                        if inner.unlink(&l.s).is_some() {
                            inner.dead += 1;
                        }
                        inner.by_user.entry(l.u.clone()).or_default().insert(l.s);
                        inner.by_session.insert(l.s, l.u);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        Ok(Identities {
            path,
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user id of a session, if identified.
    pub(crate) fn get(&self, id: &SessionId) -> Option<String> {
        self.lock().by_session.get(id).cloned()
    }

    /// Notes that `id` is identified as `user` (not durable until
    /// [`Identities::sync`]).
    pub(crate) fn set(&self, id: &SessionId, user: &str) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.by_session.get(id).map(String::as_str) == Some(user) {
            return Ok(());
        }
        if g.unlink(id).is_some() {
            g.dead += 1;
        }
        g.by_user.entry(user.to_owned()).or_default().insert(*id);
        g.by_session.insert(*id, user.to_owned());
        let line = serde_json::to_vec(&Line {
            s: *id,
            u: user.to_owned(),
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if g.out.is_none() {
            g.out = Some(open_append(&self.path).map_err(io)?);
        }
        if let Some(out) = g.out.as_mut() {
            out.write_all(&line).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
        }
        g.lines += 1;
        g.dirty = true;
        Ok(())
    }

    /// Makes every [`Identities::set`] so far durable.
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

    /// Drops a deleted session from memory (and, at the next purge, from
    /// the file).
    pub(crate) fn forget(&self, id: &SessionId) {
        let mut g = self.lock();
        if g.unlink(id).is_some() {
            g.dead += 1;
        }
    }

    /// Keeps only the sessions `live` accepts (at open: the sessions the
    /// index holds).
    pub(crate) fn retain(&self, live: impl Fn(&SessionId) -> bool) {
        let ids: Vec<SessionId> = self.lock().by_session.keys().copied().collect();
        let gone: Vec<SessionId> = ids.into_iter().filter(|id| !live(id)).collect();
        let mut g = self.lock();
        for id in gone {
            g.unlink(&id);
            g.dead += 1;
        }
    }

    pub(crate) fn sessions_of(&self, user: &str) -> Vec<SessionId> {
        self.lock()
            .by_user
            .get(user)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Rewrites the file with the live identities only, when any line is
    /// dead (`always`) or when dead lines outnumber live ones.
    pub(crate) fn purge(&self, always: bool) -> Result<(), StoreError> {
        let mut g = self.lock();
        let due = if always {
            g.dead > 0
        } else {
            g.dead > 1024 && g.dead > g.lines / 2
        };
        if !due {
            return Ok(());
        }
        let lines = &g.by_session;
        super::atomic_file::replace(&self.path, |w| {
            for (s, u) in lines {
                let line = serde_json::to_vec(&Line {
                    s: *s,
                    u: u.clone(),
                })
                .map_err(std::io::Error::other)?;
                w.write_all(&line)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        })
        .map_err(io)?;
        // The old file's handle goes: nothing may append to it after the
        // rename.
        g.out = None;
        g.lines = g.by_session.len();
        g.dead = 0;
        g.dirty = false;
        Ok(())
    }
}

impl PeopleStore for LogStorage {
    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionId>, StoreError> {
        Ok(self.identities().sessions_of(user_id))
    }

    fn purge_forgotten(&self) -> Result<(), StoreError> {
        // With the keys of deleted sessions (`store::shred`).
        self.purge_erased()
    }
}

/// The in-memory backend keeps user ids in its metadata: a scan is enough
/// for tests.
#[cfg(test)]
impl PeopleStore for super::mem::MemStorage {
    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionId>, StoreError> {
        use super::{ListRange, Storage};
        let range = ListRange {
            since: 0,
            until: u64::MAX,
            before: None,
            limit: usize::MAX,
        };
        let page = self.list_sessions(range, &mut |m| m.user_id.as_deref() == Some(user_id))?;
        Ok(page.sessions.iter().map(|m| m.id).collect())
    }

    fn purge_forgotten(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_index_purge_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (SessionId([1; 16]), SessionId([2; 16]));
        {
            let ids = Identities::open(dir.path()).unwrap();
            ids.set(&a, "alice@example.com").unwrap();
            ids.set(&b, "alice@example.com").unwrap();
            ids.set(&b, "bob").unwrap();
            ids.sync().unwrap();
            assert_eq!(ids.sessions_of("alice@example.com"), [a]);
            assert_eq!(ids.sessions_of("bob"), [b]);
            assert_eq!(ids.get(&b).as_deref(), Some("bob"));
        }
        let ids = Identities::open(dir.path()).unwrap();
        assert_eq!(ids.sessions_of("bob"), [b], "read back, last line wins");
        assert_eq!(ids.sessions_of("alice@example.com"), [a]);
        ids.forget(&a);
        assert!(ids.sessions_of("alice@example.com").is_empty());
        ids.purge(true).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!text.contains("alice"), "{text}");
        assert!(text.contains("bob"));
        ids.set(&a, "carol").unwrap();
        ids.sync().unwrap();
        drop(ids);
        let ids = Identities::open(dir.path()).unwrap();
        assert_eq!(ids.sessions_of("carol"), [a], "appends after a purge land");
    }
}
