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
//! memory (with the reverse index, and where each line is), and on disk in
//! `people.jsonl`, one JSON line `{"s": session, "u": user id}` per
//! identification, the last line of a session winning.
//!
//! Why in place, not a rewrite of the file (what this module did first):
//! a rewrite (temporary file, fsync, rename) leaves the old file's blocks,
//! every user id in them, to the filesystem as they are until it reuses
//! them, and costs the whole file per delete; an overwrite puts spaces in
//! the very block that held the id (the reasoning, and its limits on
//! copy-on-write filesystems, are `store::shred`'s for `keys.bin`, which
//! this follows). Measured by the ignored test `cost` (100,000 identified
//! sessions, a 7 MB file; 2 cores shared with builds, so upper bounds):
//! one delete's purge (spaces over one line, one fdatasync) 4.0 ms median
//! of 20 (0.6-22 ms), 1,000 deletes' together 3.3-4.0 ms; a rewrite of
//! the file 64-80 ms, and the purge that rewrote it 230-400 ms per delete.
//!
//! Invariants:
//! 1. A line is durable ([`Identities::sync`]) before the checkpoint that
//!    writes its session's metadata to sled (`LogStorage`'s checkpoint).
//! 2. A user id leaves the file by being overwritten where it lies:
//!    forgetting a session (its delete) drops it from memory, and the
//!    delete's last step ([`Identities::purge`], called by
//!    `LogStorage::purge_erased` under the checkpoint lock, after sled's
//!    flush: before a delete returns, once for a batch of deletes)
//!    overwrites each of its lines with spaces, same length, newline kept,
//!    and syncs. A line superseded by a later one of the same session is
//!    blanked the same way, once the later one is durable. Readers skip
//!    blank lines. The file is never rewritten and renamed, and nothing
//!    goes to a temporary file.
//! 3. At open, the lines of sessions the index no longer holds (a crash
//!    between a delete and its purge), superseded lines and torn or
//!    damaged ones are blanked (synced) as a purge would.
//! 4. The file is shortened only at open ([`Identities::compact`]), once
//!    every dead line is blanked and synced (so no dead line's bytes are
//!    left to the filesystem), and in place: the live lines are copied
//!    after the end (synced), then to the start (synced), the rest is
//!    blanked (synced), then cut. A crash at any step leaves every live
//!    line whole somewhere in the file, the last copy read winning; what
//!    it leaves dead is blanked by the next open.

use super::{LogStorage, StoreError};
use reel_shared::SessionId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub(crate) const FILE_NAME: &str = "people.jsonl";

/// Blank bytes past which (and past the live lines' bytes) an open
/// compacts the file.
const COMPACT_MIN: u64 = 1 << 20;

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

/// A line's bytes in the file, its newline not counted.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    at: u64,
    len: u64,
}

/// A live identification: the user id, and its line.
struct Live {
    user: String,
    line: Span,
}

#[derive(Default)]
struct Inner {
    by_session: HashMap<SessionId, Live>,
    by_user: HashMap<String, BTreeSet<SessionId>>,
    /// Opened (read and write) at the first write.
    file: Option<File>,
    /// Where the next line goes (the file's length).
    end: u64,
    /// The file does not end with a newline (a torn last line): the next
    /// line starts with one.
    needs_newline: bool,
    /// Lines written since the last sync.
    dirty: bool,
    /// Lines no longer live, to blank at the next [`Identities::purge`].
    dead: Vec<Span>,
    /// Bytes of the file that are blank.
    blank: u64,
}

impl Inner {
    fn unlink(&mut self, id: &SessionId) -> Option<Live> {
        let old = self.by_session.remove(id)?;
        if let Some(set) = self.by_user.get_mut(&old.user) {
            set.remove(id);
            if set.is_empty() {
                self.by_user.remove(&old.user);
            }
        }
        Some(old)
    }

    /// `id` identified as `user` by `line`; the line it had is dead.
    fn link(&mut self, id: SessionId, user: String, line: Span) {
        if let Some(old) = self.unlink(&id) {
            self.dead.push(old.line);
        }
        self.by_user.entry(user.clone()).or_default().insert(id);
        self.by_session.insert(id, Live { user, line });
    }

    fn file(&mut self, path: &Path) -> Result<&File, StoreError> {
        if self.file.is_none() {
            self.file = Some(super::shred::open_in_place(path)?);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io(std::io::Error::other("people.jsonl is not open")))
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

fn encode(s: &SessionId, u: &str) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Line {
        s: *s,
        u: u.to_owned(),
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Overwrites each span with spaces (not synced).
fn blank(f: &File, spans: &[Span]) -> std::io::Result<()> {
    let longest = spans.iter().map(|s| s.len).max().unwrap_or(0);
    let spaces = vec![b' '; usize::try_from(longest).map_err(std::io::Error::other)?];
    for s in spans {
        // (`len` fits: at most `longest`.)
        f.write_all_at(&spaces[..s.len as usize], s.at)?;
    }
    Ok(())
}

impl Identities {
    /// Reads `people.jsonl` in `dir`: blank lines are skipped; a torn or
    /// unreadable line is skipped too, and blanked at the next purge (the
    /// log re-indexes what was not checkpointed).
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        Ok(Identities {
            inner: Mutex::new(Self::read(&path)?),
            path,
        })
    }

    fn read(path: &Path) -> Result<Inner, StoreError> {
        let mut inner = Inner::default();
        let all = match std::fs::read(path) {
            Ok(all) => all,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let mut damaged = 0;
        let mut at = 0;
        while at < all.len() {
            let (line, next) = match all[at..].iter().position(|b| *b == b'\n') {
                Some(n) => (&all[at..at + n], at + n + 1),
                None => {
                    inner.needs_newline = true;
                    (&all[at..], all.len())
                }
            };
            let span = Span {
                at: at as u64,
                len: line.len() as u64,
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                inner.blank += span.len;
            } else if let Ok(l) = serde_json::from_slice::<Line>(line) {
                inner.link(l.s, l.u, span);
            } else {
                damaged += 1;
                inner.dead.push(span);
            }
            at = next;
        }
        inner.end = all.len() as u64;
        if damaged > 0 {
            tracing::warn!(
                lines = damaged,
                "torn or damaged lines in {FILE_NAME}: skipped"
            );
        }
        Ok(inner)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user id of a session, if identified.
    pub(crate) fn get(&self, id: &SessionId) -> Option<String> {
        self.lock().by_session.get(id).map(|l| l.user.clone())
    }

    /// Notes that `id` is identified as `user` (not durable until
    /// [`Identities::sync`]).
    pub(crate) fn set(&self, id: &SessionId, user: &str) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.by_session.get(id).map(|l| l.user.as_str()) == Some(user) {
            return Ok(());
        }
        let line = encode(id, user)?;
        let mut bytes = Vec::with_capacity(line.len() + 2);
        if g.needs_newline {
            bytes.push(b'\n');
        }
        let start = g.end + bytes.len() as u64;
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
        let end = g.end;
        g.file(&self.path)?.write_all_at(&bytes, end).map_err(io)?;
        g.end += bytes.len() as u64;
        g.needs_newline = false;
        g.dirty = true;
        g.link(
            *id,
            user.to_owned(),
            Span {
                at: start,
                len: line.len() as u64,
            },
        );
        Ok(())
    }

    /// Makes every [`Identities::set`] so far durable.
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

    /// Drops a deleted session from memory (and, at the next purge, its
    /// lines from the file).
    pub(crate) fn forget(&self, id: &SessionId) {
        let mut g = self.lock();
        if let Some(old) = g.unlink(id) {
            g.dead.push(old.line);
        }
    }

    /// Keeps only the sessions `live` accepts (at open: the sessions the
    /// index holds).
    pub(crate) fn retain(&self, live: impl Fn(&SessionId) -> bool) {
        let ids: Vec<SessionId> = self.lock().by_session.keys().copied().collect();
        for id in ids.into_iter().filter(|id| !live(id)) {
            self.forget(&id);
        }
    }

    pub(crate) fn sessions_of(&self, user: &str) -> Vec<SessionId> {
        self.lock()
            .by_user
            .get(user)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Overwrites the dead lines with spaces where they are in the file,
    /// and syncs (invariant 2). One sync for every line dead since the last
    /// call (two when lines were written since the last sync).
    pub(crate) fn purge(&self) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.dead.is_empty() {
            return Ok(());
        }
        // The lines that superseded dead ones durable first: a crash must
        // not leave a session's old line blanked and its new one lost.
        if g.dirty {
            g.file(&self.path)?.sync_data().map_err(io)?;
            g.dirty = false;
        }
        let mut spans = std::mem::take(&mut g.dead);
        spans.sort_unstable_by_key(|s| s.at);
        spans.dedup();
        let written = (|| {
            let f = g.file(&self.path)?;
            blank(f, &spans).map_err(io)?;
            f.try_clone().map_err(io)
        })();
        // Synced without the lock (every session read asks for a user id).
        drop(g);
        let blanked = written.and_then(|f| f.sync_data().map_err(io));
        let mut g = self.lock();
        match blanked {
            Ok(()) => {
                g.blank += spans.iter().map(|s| s.len).sum::<u64>();
                Ok(())
            }
            Err(e) => {
                // Blanked at the next purge.
                g.dead.extend(spans);
                Err(e)
            }
        }
    }

    /// At open, after [`Identities::purge`]: when the blank bytes are more
    /// than the live lines' and than [`COMPACT_MIN`], makes the file as
    /// long as its live lines, in place (invariant 4).
    pub(crate) fn compact(&self) -> Result<(), StoreError> {
        self.compact_past(COMPACT_MIN)
    }

    fn compact_past(&self, min_blank: u64) -> Result<(), StoreError> {
        let mut g = self.lock();
        let live_bytes = g.end.saturating_sub(g.blank);
        if !g.dead.is_empty() || g.blank < min_blank || g.blank <= live_bytes {
            return Ok(());
        }
        if g.dirty {
            g.file(&self.path)?.sync_data().map_err(io)?;
            g.dirty = false;
        }
        // The live lines, in the file's order, one after the other.
        let mut live: Vec<(SessionId, u64)> =
            g.by_session.iter().map(|(s, l)| (*s, l.line.at)).collect();
        live.sort_unstable_by_key(|(_, at)| *at);
        let mut lines = Vec::new();
        let mut spans = Vec::with_capacity(live.len());
        for (s, _) in &live {
            let line = encode(s, &g.by_session[s].user)?;
            spans.push((
                *s,
                Span {
                    at: lines.len() as u64,
                    len: line.len() as u64,
                },
            ));
            lines.extend_from_slice(&line);
            lines.push(b'\n');
        }
        let (old, len) = (g.end, lines.len() as u64);
        let f = g.file(&self.path)?.try_clone().map_err(io)?;
        let done = (|| {
            // The copy after the end, then at the start (a crash
            // meanwhile: the one after, read last, wins).
            f.write_all_at(&lines, old)?;
            f.sync_data()?;
            f.write_all_at(&lines, 0)?;
            f.sync_data()?;
            // The rest blanked, synced (no block the cut frees holds a
            // line), then cut.
            blank(&f, &[Span { at: len, len: old }])?;
            f.sync_data()?;
            f.set_len(len)?;
            f.sync_all()
        })();
        if let Err(e) = done {
            // As after a crash: what the file holds is read again, and
            // what is dead in it blanked at the next purge.
            *g = Self::read(&self.path)?;
            return Err(io(e));
        }
        for (s, span) in spans {
            if let Some(l) = g.by_session.get_mut(&s) {
                l.line = span;
            }
        }
        g.end = len;
        g.blank = 0;
        g.needs_newline = false;
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
        ids.purge().unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!text.contains("alice"), "{text}");
        assert!(text.contains("bob"));
        ids.set(&a, "carol").unwrap();
        ids.sync().unwrap();
        drop(ids);
        let ids = Identities::open(dir.path()).unwrap();
        assert_eq!(ids.sessions_of("carol"), [a], "appends after a purge land");
    }
    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn sorted_lines(file: &[u8]) -> Vec<&[u8]> {
        let mut lines: Vec<&[u8]> = file.split(|b| *b == b'\n').collect();
        lines.sort();
        lines
    }

    fn id(i: u32) -> SessionId {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        SessionId(id)
    }

    /// Forgetting blanks the session's lines (its superseded one too)
    /// where they are: the file keeps its length and its other lines, no
    /// byte of the id stays, and it reads back the same after a reopen.
    #[test]
    fn forget_and_purge_blank_the_lines_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let gone = "gone-person@example.com";
        let ids = Identities::open(dir.path()).unwrap();
        ids.set(&id(1), gone).unwrap();
        ids.set(&id(2), "kim").unwrap();
        ids.set(&id(3), gone).unwrap();
        ids.set(&id(3), "lee").unwrap();
        ids.sync().unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(contains(&before, gone.as_bytes()));
        ids.forget(&id(1));
        assert!(contains(&std::fs::read(&path).unwrap(), gone.as_bytes()));
        ids.purge().unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), before.len(), "in place");
        assert!(
            !contains(&after, gone.as_bytes()),
            "{}",
            String::from_utf8_lossy(&after)
        );
        assert_eq!(
            after.iter().filter(|b| **b == b'\n').count(),
            4,
            "newlines kept"
        );
        let lines: Vec<&[u8]> = after.split(|b| *b == b'\n').collect();
        let blank = lines
            .iter()
            .filter(|l| !l.is_empty() && l.iter().all(|b| *b == b' '))
            .count();
        assert_eq!(blank, 2, "the forgotten line and the superseded one");
        for (b, a) in before.split(|b| *b == b'\n').zip(&lines) {
            assert!(
                a == &b || a.iter().all(|c| *c == b' '),
                "untouched or blank"
            );
        }
        ids.set(&id(4), "max").unwrap();
        ids.sync().unwrap();
        drop(ids);
        let ids = Identities::open(dir.path()).unwrap();
        assert!(ids.sessions_of(gone).is_empty());
        assert_eq!(ids.sessions_of("kim"), [id(2)]);
        assert_eq!(ids.sessions_of("lee"), [id(3)]);
        assert_eq!(ids.sessions_of("max"), [id(4)]);
        ids.purge().unwrap();
        let added = encode(&id(4), "max").unwrap().len() + 1;
        assert_eq!(std::fs::read(&path).unwrap().len(), before.len() + added);
    }

    /// What a crash leaves: lines of sessions deleted before their purge
    /// (blanked at open, as `LogStorage`'s open does with the sessions its
    /// index holds) and a torn last line (skipped, blanked; the next line
    /// starts on a line of its own).
    #[test]
    fn a_reopen_blanks_what_a_crash_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let ids = Identities::open(dir.path()).unwrap();
            ids.set(&id(1), "deleted-before-its-purge").unwrap();
            ids.set(&id(2), "kim").unwrap();
            ids.sync().unwrap();
            ids.forget(&id(1));
            // The process dies here, before the purge.
        }
        let mut torn = std::fs::read(&path).unwrap();
        let line = encode(&id(3), "torn-person").unwrap();
        torn.extend_from_slice(&line[..line.len() - 5]);
        std::fs::write(&path, &torn).unwrap();
        let ids = Identities::open(dir.path()).unwrap();
        assert_eq!(ids.sessions_of("deleted-before-its-purge"), [id(1)]);
        assert!(ids.sessions_of("torn-person").is_empty());
        ids.retain(|s| *s != id(1));
        ids.purge().unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(file.len(), torn.len());
        assert!(!contains(&file, b"deleted-before-its-purge"));
        assert!(!contains(&file, b"torn-person"));
        ids.set(&id(4), "max").unwrap();
        ids.sync().unwrap();
        drop(ids);
        let ids = Identities::open(dir.path()).unwrap();
        assert_eq!(ids.sessions_of("kim"), [id(2)]);
        assert_eq!(ids.sessions_of("max"), [id(4)], "on a line of its own");
        assert!(ids.sessions_of("deleted-before-its-purge").is_empty());
    }

    /// Compaction (at open, every dead line blanked first) leaves the live
    /// lines alone in the file, in place; each state a crash could leave
    /// it in reads back the same identities.
    #[test]
    fn compaction_in_place_and_its_crash_states() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let ids = Identities::open(dir.path()).unwrap();
        for i in 0..40 {
            ids.set(&id(i), &format!("user-{i}")).unwrap();
        }
        ids.sync().unwrap();
        for i in (0..40).filter(|i| i % 4 != 0) {
            ids.forget(&id(i));
        }
        ids.compact_past(0).unwrap();
        assert!(
            contains(&std::fs::read(&path).unwrap(), b"user-1\""),
            "not before the dead lines are blanked"
        );
        ids.purge().unwrap();
        let blanked = std::fs::read(&path).unwrap();
        ids.compact_past(0).unwrap();
        let compacted = std::fs::read(&path).unwrap();
        let live: Vec<u32> = (0..40).filter(|i| i % 4 == 0).collect();
        let expected: Vec<u8> = live
            .iter()
            .flat_map(|i| {
                let mut l = encode(&id(*i), &format!("user-{i}")).unwrap();
                l.push(b'\n');
                l
            })
            .collect();
        assert_eq!(compacted, expected);
        // Lines after a compaction land, and forgetting still blanks the
        // right bytes.
        ids.set(&id(100), "new").unwrap();
        ids.forget(&id(8));
        ids.purge().unwrap();
        drop(ids);
        let check = |file: &[u8], what: &str| {
            std::fs::write(&path, file).unwrap();
            let ids = Identities::open(dir.path()).unwrap();
            // (As `LogStorage`'s open: a line a torn copy made up names
            // no session of the index.)
            ids.retain(|s| live.iter().any(|i| id(*i) == *s));
            for i in 0..40 {
                let want: &[SessionId] = if live.contains(&i) { &[id(i)] } else { &[] };
                assert_eq!(ids.sessions_of(&format!("user-{i}")), want, "{what}: {i}");
            }
            ids.purge().unwrap();
            ids.compact_past(0).unwrap();
            drop(ids);
            assert_eq!(
                sorted_lines(&std::fs::read(&path).unwrap()),
                sorted_lines(&expected),
                "{what}"
            );
        };
        let after = std::fs::read(&path).unwrap();
        assert!(!contains(&after, b"user-8\""));
        let ids = Identities::open(dir.path()).unwrap();
        assert_eq!(ids.sessions_of("new"), [id(100)]);
        assert!(ids.sessions_of("user-8").is_empty());
        drop(ids);
        // The states of a compaction cut short, from the blanked file.
        let n = blanked.len();
        let mut copied = blanked.clone();
        copied.extend_from_slice(&expected);
        check(&copied, "the copy after the end written");
        let mut half = blanked.clone();
        half.extend_from_slice(&expected[..expected.len() / 2]);
        check(&half, "the copy after the end torn");
        let mut front = copied.clone();
        front[..expected.len() / 2].copy_from_slice(&expected[..expected.len() / 2]);
        check(&front, "the copy at the start torn");
        let mut both = copied.clone();
        both[..expected.len()].copy_from_slice(&expected);
        check(&both, "both copies written");
        let mut rest = both.clone();
        rest[expected.len()..n + expected.len() / 2].fill(b' ');
        check(&rest, "the rest half blanked");
    }

    /// The cost of a purge with many identified sessions (run by hand:
    /// `cargo test --release -p reel-server --lib store::people::tests::cost
    /// -- --ignored --nocapture`): one delete's, 1,000 deletes' together,
    /// and a rewrite of the whole file (what a purge did before).
    #[test]
    #[ignore]
    fn cost() {
        use std::time::Instant;
        let dir = tempfile::tempdir().unwrap();
        let ids = Identities::open(dir.path()).unwrap();
        let n: u32 = 100_000;
        for i in 0..n {
            ids.set(&id(i), &format!("user-{i}@example.com")).unwrap();
        }
        ids.sync().unwrap();
        let mut one = Vec::new();
        for i in 0..20 {
            ids.forget(&id(i * 997));
            let t = Instant::now();
            ids.purge().unwrap();
            one.push(t.elapsed());
        }
        one.sort();
        let t = Instant::now();
        for i in 0..1000 {
            ids.forget(&id(50_000 + i));
        }
        ids.purge().unwrap();
        let batch = t.elapsed();
        let size = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
        let lines: Vec<Vec<u8>> = {
            let g = ids.lock();
            g.by_session
                .iter()
                .map(|(s, l)| encode(s, &l.user).unwrap())
                .collect()
        };
        let mut rewrite = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            super::super::atomic_file::replace(&dir.path().join("rewrite.jsonl"), |w| {
                for l in &lines {
                    w.write_all(l)?;
                    w.write_all(b"\n")?;
                }
                Ok(())
            })
            .unwrap();
            rewrite.push(t.elapsed());
        }
        rewrite.sort();
        println!(
            "{n} identified sessions ({size} bytes): one delete's purge median {:?} \
             (min {:?}, max {:?}); 1,000 deletes' purge {batch:?}; a rewrite of the \
             file instead: median {:?}",
            one[one.len() / 2],
            one[0],
            one[one.len() - 1],
            rewrite[rewrite.len() / 2],
        );
    }
}
