//! `reel-server migrate`: copies an embedded deployment (a data dir) into a
//! distributed one (contract §5), sessions keeping their ids.
//!
//! Everything goes through the storage traits, so the destination indexes
//! what it receives exactly as ingest would have: each chunk is put with
//! the facts read from its bytes ([`ChunkFacts::from_chunk`]), which
//! rebuilds the session's metadata, its insights digest and its person
//! (the user id) on the other side, with the session's last activity as
//! the clock, so retention sees the same age. The rest is copied as it
//! is: the config (ingest key, the API token's hash, the pseudonym key),
//! projects and each session's project, members, sign-ins, personal
//! tokens, saved segments, the audit log, comments, share links and
//! assets.
//!
//! Invariants:
//!
//! 1. Resumable: nothing is copied that the destination already holds
//!    (chunks by `(session, seq)`, comments by id, share links by key,
//!    audit entries by content, counted), and every other write is an
//!    overwrite with the same value. A run cut short anywhere (a crash,
//!    Ctrl-C) is completed by running it again; running it twice copies
//!    nothing the second time.
//! 2. A session's chunks are put in seq order and synced before its
//!    comments, shares and assets are copied: the destination never holds
//!    a comment for a session it lacks.
//! 3. Verified: the end compares the two sides, every session's metadata
//!    and every chunk's bytes (SHA-256 of each side), and every other
//!    item; [`Report::verified`] says whether all matched. A chunk the
//!    source cannot read (damaged on disk) is reported, not copied.
//! 4. The source is only read. Its directory lock keeps a server off it
//!    while the copy runs; the destination may be serving already.

use crate::digest::ChunkFacts;
use crate::index::SessionMeta;
use crate::store::{ListRange, Store, StoreError};
use reel_shared::{ChunkHeader, SessionId};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chunk {seq} of session {session} has no valid header: {detail}")]
    BadChunk {
        session: SessionId,
        seq: u32,
        detail: String,
    },
}

/// A group of chunks put at once: at most this many...
const GROUP_CHUNKS: usize = 64;
/// ...or this many bytes.
const GROUP_BYTES: usize = 8 << 20;
/// Sessions per page of the source's listing.
const PAGE: usize = 500;
/// Problems listed one by one in the report; the rest are counted.
const MAX_LISTED: usize = 50;

/// How many of one kind of item the source holds, how many this run
/// copied, and how many the destination had already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub source: u64,
    pub copied: u64,
    pub present: u64,
}

impl Tally {
    fn add(&mut self, copied: bool) {
        self.source += 1;
        if copied {
            self.copied += 1;
        } else {
            self.present += 1;
        }
    }
}

/// What a run did and what its verification found.
#[derive(Debug, Default)]
pub struct Report {
    pub sessions: Tally,
    pub chunks: Tally,
    pub chunk_bytes_copied: u64,
    /// Chunks the source could not read (damaged on disk): not copied.
    pub damaged: Vec<(SessionId, u32)>,
    pub comments: Tally,
    pub shares: Tally,
    pub assets: Tally,
    pub config: Tally,
    pub projects: Tally,
    pub members: Tally,
    pub logins: Tally,
    pub tokens: Tally,
    pub saved_segments: Tally,
    pub audit: Tally,
    /// Verification: sessions and chunks compared.
    pub sessions_checked: u64,
    pub chunks_checked: u64,
    /// Every difference found, one line each.
    pub problems: Vec<String>,
}

impl Report {
    /// Whether the destination matched the source in everything compared.
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: [(&str, &Tally); 12] = [
            ("sessions", &self.sessions),
            ("chunks", &self.chunks),
            ("comments", &self.comments),
            ("share links", &self.shares),
            ("assets", &self.assets),
            ("config values", &self.config),
            ("projects", &self.projects),
            ("members", &self.members),
            ("sign-ins", &self.logins),
            ("personal tokens", &self.tokens),
            ("saved segments", &self.saved_segments),
            ("audit entries", &self.audit),
        ];
        writeln!(
            f,
            "{:<16} {:>10} {:>10} {:>10}",
            "", "source", "copied", "were there"
        )?;
        for (name, t) in rows {
            writeln!(
                f,
                "{name:<16} {:>10} {:>10} {:>10}",
                t.source, t.copied, t.present
            )?;
        }
        writeln!(f, "chunk bytes copied: {}", self.chunk_bytes_copied)?;
        for (s, seq) in &self.damaged {
            writeln!(
                f,
                "not copied: chunk {seq} of session {s} is damaged in the source"
            )?;
        }
        writeln!(
            f,
            "verified: {} sessions (metadata) and {} chunks (SHA-256 of both copies) compared",
            self.sessions_checked, self.chunks_checked
        )?;
        if self.verified() {
            writeln!(f, "everything matches")
        } else {
            for p in self.problems.iter().take(MAX_LISTED) {
                writeln!(f, "MISMATCH: {p}")?;
            }
            if self.problems.len() > MAX_LISTED {
                writeln!(f, "... and {} more", self.problems.len() - MAX_LISTED)?;
            }
            writeln!(f, "{} differences", self.problems.len())
        }
    }
}

/// Copies `from` into `to`, then verifies; `progress` gets a line now and
/// then. Blocks (call it off any async worker).
pub fn run(
    from: &Store,
    to: &Store,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, MigrateError> {
    let mut r = Report::default();
    // Deployment-wide things first: the projects sessions refer to, the
    // keys recorders send.
    copy_config(from, to, &mut r)?;
    copy_deployment(from, to, &mut r)?;
    progress("config, projects, members, tokens, saved segments and audit log copied");
    let ids = all_sessions(from)?;
    let total = ids.len();
    for (i, id) in ids.iter().enumerate() {
        copy_session(from, to, id, &mut r)?;
        if (i + 1) % 100 == 0 || i + 1 == total {
            progress(&format!(
                "sessions: {}/{total} ({} chunks copied)",
                i + 1,
                r.chunks.copied
            ));
        }
    }
    to.flush_blocking()?;
    progress("verifying");
    verify(from, to, &ids, &mut r)?;
    Ok(r)
}

/// Every session of `store`, newest first.
fn all_sessions(store: &Store) -> Result<Vec<SessionId>, StoreError> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = store.list_sessions(
            ListRange {
                since: 0,
                until: u64::MAX,
                before,
                limit: PAGE,
            },
            &mut |_| true,
        )?;
        out.extend(page.sessions.iter().map(|m| m.id));
        match page.next {
            Some(n) => before = Some(n),
            None => return Ok(out),
        }
    }
}

fn copy_config(from: &Store, to: &Store, r: &mut Report) -> Result<(), StoreError> {
    for name in from.config_names()? {
        let Some(v) = from.config_get(&name)? else {
            continue;
        };
        // The source's values win: its recorders' key, its token.
        let same = to.config_get(&name)?.as_deref() == Some(v.as_str());
        if !same {
            to.config_set(&name, &v)?;
        }
        r.config.add(!same);
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Puts each of `items` the destination does not hold as it is (`same`),
/// counting in `tally` what was copied and what was there already.
fn copy_each<T>(
    items: Vec<T>,
    tally: &mut Tally,
    mut same: impl FnMut(&T) -> Result<bool, StoreError>,
    mut put: impl FnMut(&T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for item in items {
        let same = same(&item)?;
        if !same {
            put(&item)?;
        }
        tally.add(!same);
    }
    Ok(())
}

fn copy_deployment(from: &Store, to: &Store, r: &mut Report) -> Result<(), StoreError> {
    let theirs: BTreeMap<String, String> = to
        .projects()?
        .iter()
        .map(|p| (p.id.clone(), json(p)))
        .collect();
    copy_each(
        from.projects()?,
        &mut r.projects,
        |p| Ok(theirs.get(&p.id) == Some(&json(p))),
        |p| to.put_project(p),
    )?;
    copy_each(
        from.members()?,
        &mut r.members,
        |m| Ok(to.member(&m.email)?.as_ref() == Some(m)),
        |m| {
            if !to.add_member(m)? {
                to.update_member(m)?;
            }
            Ok(())
        },
    )?;
    copy_each(
        from.login_entries()?,
        &mut r.logins,
        |(key, login)| Ok(to.login(key)?.as_ref() == Some(login)),
        |(key, login)| to.put_login(key, login),
    )?;
    copy_each(
        from.token_entries()?,
        &mut r.tokens,
        |(key, token)| Ok(to.token(key)?.as_ref() == Some(token)),
        |(key, token)| to.put_token(key, token),
    )?;
    let theirs: BTreeMap<String, String> = to
        .saved_segments()?
        .iter()
        .map(|s| (s.id.clone(), json(s)))
        .collect();
    copy_each(
        from.saved_segments()?,
        &mut r.saved_segments,
        |s| Ok(theirs.get(&s.id) == Some(&json(s))),
        |s| to.put_saved_segment(s),
    )?;
    // The audit log is append-only and its entries have no id: an entry
    // counts as there when the destination holds as many equal entries.
    let mut theirs: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in all_audit(to)? {
        *theirs.entry(json(&e)).or_default() += 1;
    }
    let mut appended = false;
    // Oldest first, so that entries of one millisecond keep their order.
    for (_, e) in all_audit(from)?.into_iter().rev() {
        let there = match theirs.get_mut(&json(&e)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        if !there {
            to.append_audit(&e)?;
            appended = true;
        }
        r.audit.add(!there);
    }
    if appended {
        to.flush_blocking()?;
    }
    Ok(())
}

/// The whole audit log, newest first.
fn all_audit(
    store: &Store,
) -> Result<
    Vec<(
        crate::store::audit::AuditKey,
        crate::store::audit::AuditEntry,
    )>,
    StoreError,
> {
    let mut out: Vec<(
        crate::store::audit::AuditKey,
        crate::store::audit::AuditEntry,
    )> = Vec::new();
    loop {
        let before = out.last().map(|(k, _)| *k);
        let page = store.audit_entries(0, before, 1_000)?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page);
    }
}

/// Generous limits: the chunk was accepted once; only its header is read.
fn header_of(raw: &[u8]) -> Result<ChunkHeader, reel_shared::ChunkError> {
    let limits = reel_shared::Limits {
        max_header: 1 << 20,
        max_decompressed: 1 << 30,
        max_events: 1 << 24,
    };
    reel_shared::decode_header(raw, &limits).map(|(h, _)| h)
}

fn copy_session(
    from: &Store,
    to: &Store,
    id: &SessionId,
    r: &mut Report,
) -> Result<(), MigrateError> {
    // Deleted since the listing: nothing to copy.
    let Some(meta) = from.session(id)? else {
        return Ok(());
    };
    let now = meta.last_activity();
    if let Some(p) = from.session_project(id)? {
        if to.session_project(id)?.as_deref() != Some(p.as_str()) {
            to.set_session_project(id, &p)?;
        }
    }
    let there: BTreeSet<u32> = to.chunk_seqs(id, 0)?.into_iter().collect();
    let mut copied_any = false;
    let mut group: Vec<(ChunkHeader, Vec<u8>, ChunkFacts)> = Vec::new();
    let mut group_bytes = 0;
    for seq in from.chunk_seqs(id, 0)? {
        if there.contains(&seq) {
            r.chunks.add(false);
            continue;
        }
        let raw = match from.read_chunk(id, seq) {
            Ok(Some(raw)) => raw,
            // Gone since the listing (a delete raced the copy).
            Ok(None) => continue,
            Err(StoreError::Damaged { .. }) => {
                r.damaged.push((*id, seq));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let h = header_of(&raw).map_err(|e| MigrateError::BadChunk {
            session: *id,
            seq,
            detail: e.to_string(),
        })?;
        let facts = ChunkFacts::from_chunk(&raw);
        group_bytes += raw.len();
        group.push((h, raw, facts));
        if group.len() >= GROUP_CHUNKS || group_bytes >= GROUP_BYTES {
            put_group(to, &group, now, r)?;
            copied_any = true;
            group.clear();
            group_bytes = 0;
        }
    }
    if !group.is_empty() {
        put_group(to, &group, now, r)?;
        copied_any = true;
    }
    if copied_any {
        // Durable before anything that hangs off the session.
        to.flush_blocking()?;
    }
    r.sessions.add(copied_any);

    let theirs: BTreeSet<String> = to.comments(id)?.into_iter().map(|c| c.id).collect();
    for c in from.comments(id)? {
        let there = theirs.contains(&c.id);
        if !there {
            to.add_comment(&c)?;
        }
        r.comments.add(!there);
    }
    let theirs: BTreeSet<[u8; 32]> = to.shares_of(id)?.into_iter().map(|(k, _)| k).collect();
    for (key, share) in from.shares_of(id)? {
        let there = theirs.contains(&key);
        if !there {
            to.put_share(&key, &share)?;
        }
        r.shares.add(!there);
    }
    for hash in from.assets_of(id)? {
        let there = to.asset_get(id, &hash)?.is_some();
        if !there {
            if let Some(body) = from.asset_get(id, &hash)? {
                to.asset_put(id, &hash, &body)?;
            }
        }
        r.assets.add(!there);
    }
    Ok(())
}

fn put_group(
    to: &Store,
    group: &[(ChunkHeader, Vec<u8>, ChunkFacts)],
    now: u64,
    r: &mut Report,
) -> Result<(), StoreError> {
    let batch: Vec<(&ChunkHeader, &[u8])> = group.iter().map(|(h, raw, _)| (h, &raw[..])).collect();
    let facts: Vec<&ChunkFacts> = group.iter().map(|(_, _, f)| f).collect();
    to.put_chunks_digested(&batch, &facts, now)?;
    for (_, raw, _) in group {
        r.chunks.add(true);
        r.chunk_bytes_copied += raw.len() as u64;
    }
    Ok(())
}

/// The metadata both sides must agree on. `received_at` is compared as
/// the last activity (an old session without it gets its end time).
fn meta_view(m: &SessionMeta, chunk_counts: bool) -> serde_json::Value {
    serde_json::json!({
        "started_at": m.started_at,
        "ended_at": m.ended_at,
        "urls": m.urls,
        "user_id": m.user_id,
        "user_agent": m.user_agent,
        "event_count": if chunk_counts { Some(m.event_count) } else { None },
        "click_count": if chunk_counts { Some(m.click_count) } else { None },
        "error_count": if chunk_counts { Some(m.error_count) } else { None },
        "chunks": if chunk_counts { Some(m.chunks) } else { None },
        "bytes": if chunk_counts { Some(m.bytes) } else { None },
        "max_seq": if chunk_counts { Some(m.max_seq) } else { None },
        "last_activity": m.last_activity(),
        "project": m.project,
    })
}

fn sha(b: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(b).into()
}

fn verify(from: &Store, to: &Store, ids: &[SessionId], r: &mut Report) -> Result<(), StoreError> {
    let damaged: BTreeSet<SessionId> = r.damaged.iter().map(|(s, _)| *s).collect();
    for id in ids {
        let Some(mine) = from.session(id)? else {
            continue;
        };
        r.sessions_checked += 1;
        let Some(theirs) = to.session(id)? else {
            r.problem(format!("session {id} is missing"));
            continue;
        };
        // A session with a damaged chunk has fewer chunks on the other
        // side: its counters differ by that chunk.
        let whole = !damaged.contains(id);
        if meta_view(&mine, whole) != meta_view(&theirs, whole) {
            r.problem(format!(
                "session {id}: metadata {} != {}",
                meta_view(&mine, whole),
                meta_view(&theirs, whole)
            ));
        }
        let mut seqs: BTreeSet<u32> = to.chunk_seqs(id, 0)?.into_iter().collect();
        for seq in from.chunk_seqs(id, 0)? {
            let mine = match from.read_chunk(id, seq) {
                Ok(c) => c,
                Err(StoreError::Damaged { .. }) => {
                    seqs.remove(&seq);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(mine) = mine else { continue };
            r.chunks_checked += 1;
            if !seqs.remove(&seq) {
                r.problem(format!("chunk {seq} of session {id} is missing"));
                continue;
            }
            match to.read_chunk(id, seq) {
                Ok(Some(theirs)) if sha(&theirs) == sha(&mine) => {}
                Ok(Some(_)) => r.problem(format!("chunk {seq} of session {id} differs")),
                Ok(None) => r.problem(format!("chunk {seq} of session {id} is missing")),
                Err(e) => r.problem(format!("chunk {seq} of session {id} unreadable: {e}")),
            }
        }
        for seq in seqs {
            r.problem(format!(
                "chunk {seq} of session {id} is in the destination only"
            ));
        }
        let theirs: BTreeMap<String, String> = to
            .comments(id)?
            .iter()
            .map(|c| (c.id.clone(), json(c)))
            .collect();
        for c in from.comments(id)? {
            if theirs.get(&c.id) != Some(&json(&c)) {
                r.problem(format!(
                    "comment {} of session {id} is missing or differs",
                    c.id
                ));
            }
        }
        for (key, share) in from.shares_of(id)? {
            if to.share(&key)?.map(|s| json(&s)) != Some(json(&share)) {
                r.problem(format!(
                    "a share link of session {id} is missing or differs"
                ));
            }
        }
        for hash in from.assets_of(id)? {
            let mine = from.asset_get(id, &hash)?.map(|b| sha(&b));
            if to.asset_get(id, &hash)?.map(|b| sha(&b)) != mine {
                r.problem(format!("an asset of session {id} is missing or differs"));
            }
        }
    }
    for name in from.config_names()? {
        if to.config_get(&name)? != from.config_get(&name)? {
            r.problem(format!("config value {name} differs"));
        }
    }
    let theirs: BTreeMap<String, String> = to
        .projects()?
        .iter()
        .map(|p| (p.id.clone(), json(p)))
        .collect();
    for p in from.projects()? {
        if theirs.get(&p.id) != Some(&json(&p)) {
            r.problem(format!("project {} is missing or differs", p.id));
        }
    }
    for m in from.members()? {
        if to.member(&m.email)?.as_ref() != Some(&m) {
            r.problem(format!("member {} is missing or differs", m.email));
        }
    }
    for (key, login) in from.login_entries()? {
        if to.login(&key)?.as_ref() != Some(&login) {
            r.problem(format!(
                "a sign-in of {} is missing or differs",
                login.email
            ));
        }
    }
    for (key, token) in from.token_entries()? {
        if to.token(&key)?.as_ref() != Some(&token) {
            r.problem(format!("personal token {} is missing or differs", token.id));
        }
    }
    let theirs: BTreeMap<String, String> = to
        .saved_segments()?
        .iter()
        .map(|s| (s.id.clone(), json(s)))
        .collect();
    for s in from.saved_segments()? {
        if theirs.get(&s.id) != Some(&json(&s)) {
            r.problem(format!("saved segment {} is missing or differs", s.id));
        }
    }
    let mut theirs: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in all_audit(to)? {
        *theirs.entry(json(&e)).or_default() += 1;
    }
    let mut missing = 0;
    for (_, e) in all_audit(from)? {
        match theirs.get_mut(&json(&e)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing += 1,
        }
    }
    if missing > 0 {
        r.problem(format!("{missing} audit entries are missing"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
