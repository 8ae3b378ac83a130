//! The distributed layout's PostgreSQL schema: an ordered list of
//! migrations, applied when a process opens the store.
//!
//! Rules:
//! - [`MIGRATIONS`] only grows: a migration, once released, is never edited
//!   or reordered (a deployment that applied it would not apply the edit).
//!   A change is a new entry at the end; `id`s are 1, 2, 3, ... in order.
//! - Every process runs [`migrate`] at open, in one transaction holding the
//!   advisory lock [`MIGRATION_LOCK`]: the first process applies what is
//!   missing, the others wait for it and then find nothing to do. A
//!   migration that fails rolls back whole (PostgreSQL's DDL is
//!   transactional) and the process does not start.
//! - What was applied is recorded in `reel_migrations` (id, name, when).
//!   A database that has a migration this binary does not know (a newer
//!   version ran on it) is refused, rather than written with an older idea
//!   of the schema.
//! - A table that belongs to the deployment, not to any session (members,
//!   audit, ...), is named in [`DEPLOYMENT_TABLES`]: every other table
//!   holds session data, and `session_key_count` counts its rows.
//!
//! Binary ids (session ids, key hashes) are `bytea`; u32/u64 numbers are
//! `bigint`; structured values this server alone reads are JSON in `text`.

use super::pg::Client;
use crate::store::StoreError;

pub(crate) struct Migration {
    pub id: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// `pg_advisory_xact_lock` key for migrations ("reel" in ASCII).
pub(crate) const MIGRATION_LOCK: i64 = 0x7265_656c;

/// Tables that are not session data (see the module doc).
pub(crate) const DEPLOYMENT_TABLES: &[&str] = &[
    "reel_migrations",
    "config",
    // Deployment tables of migrations 3 to 8: members, sign-ins, tokens, audit, projects,
    // saved segments, sign-in counters.
    "members",
    "logins",
    "api_tokens",
    "audit",
    "projects",
    "saved_segments",
    "signin_counters",
];

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        id: 1,
        name: "sessions, chunks, objects, comments, shares, config",
        sql: r#"
-- One row per session. `meta` is its `SessionMeta` as JSON without
-- `user_id` (kept in its own column, for people's lookups) and without
-- `project` (in `session_projects`, which a session may have before its
-- first chunk). `start_key` is `index::start_key` (started_at u64 BE ++ id):
-- the listing's order and cursor, byte for byte as the embedded layout.
CREATE TABLE sessions (
    id bytea PRIMARY KEY,
    start_key bytea NOT NULL DEFAULT '\x',
    last_activity bigint NOT NULL DEFAULT 0,
    user_id text,
    meta text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_start ON sessions (start_key);
CREATE INDEX sessions_by_activity ON sessions (last_activity);
CREATE INDEX sessions_by_user ON sessions (user_id) WHERE user_id IS NOT NULL;

-- The project whose key recorded a session (`store::projects`).
CREATE TABLE session_projects (
    session bytea PRIMARY KEY,
    project text NOT NULL
);

-- Objects in the bucket that chunk rows point into: `key` is relative to
-- the chunk store's prefix. `bytes` is the object's size, `live_bytes`
-- what chunk rows still use of it.
CREATE TABLE objects (
    key text PRIMARY KEY,
    bytes bigint NOT NULL,
    live_bytes bigint NOT NULL,
    created_ms bigint NOT NULL
);

-- Where each chunk is: bytes [off, off + len) of `object`, whose CRC-32
-- is `crc` (checked on every read: a bad byte is `StoreError::Damaged`).
CREATE TABLE chunks (
    session bytea NOT NULL,
    seq bigint NOT NULL,
    object text NOT NULL REFERENCES objects (key),
    off bigint NOT NULL,
    len bigint NOT NULL,
    crc bigint NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE INDEX chunks_by_object ON chunks (object);

-- Objects to remove from the bucket: written in the transaction that
-- stops using them, removed once the bucket's object is gone.
CREATE TABLE doomed_objects (
    key text PRIMARY KEY,
    since_ms bigint NOT NULL
);

-- `key`: the comment's key (t u64 BE ++ 8 random bytes); `body`: JSON.
CREATE TABLE comments (
    session bytea NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key bytea NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (session, key)
);

-- `key`: the SHA-256 of the share token; `body`: JSON.
CREATE TABLE shares (
    key bytea PRIMARY KEY,
    session bytea NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    body text NOT NULL
);
CREATE INDEX shares_by_session ON shares (session);

CREATE TABLE config (
    name text PRIMARY KEY,
    value text NOT NULL
);
"#,
    },
    Migration {
        id: 2,
        name: "insights digest: urls, page parts, steps",
        sql: r#"
-- `store::digest`'s records (`dist/digest.rs`). URL keys are u64 with the
-- top bit flipped (`dist::digest::url_col`): bigint order is u64 order.
CREATE TABLE digest_urls (
    url_key bigint PRIMARY KEY,
    url text NOT NULL
);
-- `part`: `digest::encode_part` (MessagePack). A URL's parts are one range
-- of the primary key; a session's are found by the second index.
CREATE TABLE digest_parts (
    url_key bigint NOT NULL,
    session bytea NOT NULL,
    seq bigint NOT NULL,
    idx integer NOT NULL,
    part bytea NOT NULL,
    PRIMARY KEY (url_key, session, seq, idx)
);
CREATE INDEX digest_parts_by_session ON digest_parts (session);
-- A session's steps, merged (`digest::merge_steps`), `digest::encode_steps`.
CREATE TABLE digest_steps (
    session bytea PRIMARY KEY,
    steps bytea NOT NULL
);
"#,
    },
    Migration {
        id: 3,
        name: "members, sign-ins, personal tokens",
        sql: r#"
-- `store::team`'s records as JSON in `body` (`dist/team.rs`); keys are the
-- SHA-256 of the secret. Emails compare as bytes, as in the embedded layout.
CREATE TABLE members (
    email text COLLATE "C" PRIMARY KEY,
    body text NOT NULL
);
CREATE TABLE logins (
    key bytea PRIMARY KEY,
    email text NOT NULL,
    expires_at bigint NOT NULL,
    body text NOT NULL
);
CREATE INDEX logins_by_email ON logins (email);
CREATE INDEX logins_by_expiry ON logins (expires_at);
-- `id`: the token's public id (`team::token_id` of its key).
CREATE TABLE api_tokens (
    key bytea PRIMARY KEY,
    id text NOT NULL,
    email text NOT NULL,
    body text NOT NULL
);
CREATE INDEX api_tokens_by_id ON api_tokens (id);
CREATE INDEX api_tokens_by_email ON api_tokens (email);
"#,
    },
    Migration {
        id: 4,
        name: "audit log",
        sql: r#"
-- `store::audit` (`dist/audit.rs`): keyed by time and a sequence number,
-- the entry as JSON. Append-only: the trigger refuses any other change.
CREATE TABLE audit (
    at bigint NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    entry text NOT NULL,
    PRIMARY KEY (at, seq)
);
CREATE FUNCTION reel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION reel_audit_append_only();
"#,
    },
    Migration {
        id: 5,
        name: "projects",
        sql: r#"
-- `store::projects` (`dist/projects.rs`): the project as JSON.
CREATE TABLE projects (
    id text COLLATE "C" PRIMARY KEY,
    body text NOT NULL
);
"#,
    },
    Migration {
        id: 6,
        name: "saved segments",
        sql: r#"
-- `store::saved_segments` (`dist/saved_segments.rs`): the segment as JSON.
CREATE TABLE saved_segments (
    id text COLLATE "C" PRIMARY KEY,
    body text NOT NULL
);
"#,
    },
    Migration {
        id: 7,
        name: "content-addressed assets",
        sql: r#"
-- `store::assets` (`dist/assets.rs`): bodies (zstd frames, not compressed
-- again) by SHA-256, and which sessions use them.
CREATE TABLE assets (
    hash bytea PRIMARY KEY,
    body bytea NOT NULL
);
ALTER TABLE assets ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE session_assets (
    session bytea NOT NULL,
    hash bytea NOT NULL REFERENCES assets (hash),
    PRIMARY KEY (session, hash)
);
CREATE INDEX session_assets_by_hash ON session_assets (hash);
"#,
    },
    Migration {
        id: 8,
        name: "sign-in failure counters",
        sql: r#"
-- `store::signin_limits` (`dist/signin_limits.rs`): times in ms. Keys are
-- bytes: `signin::API_TOKEN_ACCOUNT` holds a NUL, which text cannot.
CREATE TABLE signin_counters (
    key bytea PRIMARY KEY,
    failures bigint[] NOT NULL,
    locked_until bigint NOT NULL,
    idle_after bigint NOT NULL
);
CREATE INDEX signin_counters_by_idle ON signin_counters (idle_after);
"#,
    },
    Migration {
        id: 9,
        name: "compaction: objects holding a session's moved bytes",
        sql: r#"
-- `dist/compact.rs`: an object that still holds bytes of a session whose
-- chunks compaction moved out. A delete of the session rewrites it too, so
-- that none of the session's bytes stay in the bucket.
CREATE TABLE moved_ranges (
    session bytea NOT NULL,
    object text NOT NULL REFERENCES objects (key) ON DELETE CASCADE,
    PRIMARY KEY (session, object)
);
CREATE INDEX moved_ranges_by_object ON moved_ranges (object);
"#,
    },
    Migration {
        id: 10,
        name: "audit log pruned by retention",
        sql: r#"
-- `store::audit`: the retention sweep removes entries older than the
-- longest retention. A DELETE is let through only in a transaction that
-- named its bound (`SELECT set_config('reel.audit_prune_before', ms,
-- true)`), and only of rows before it; UPDATE and TRUNCATE stay refused.
DROP TRIGGER audit_append_only ON audit;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION reel_audit_append_only();
CREATE FUNCTION reel_audit_prune_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.at < nullif(current_setting('reel.audit_prune_before', true), '')::bigint THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only (only retention prunes it)';
END
$$;
CREATE TRIGGER audit_prune_only BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION reel_audit_prune_only();
"#,
    },
];

/// Applies what [`MIGRATIONS`] has and the database lacks (see the module).
pub(crate) async fn migrate(c: &mut Client) -> Result<(), StoreError> {
    let tx = c.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS reel_migrations (
            id integer PRIMARY KEY,
            name text NOT NULL,
            applied_ms bigint NOT NULL
        )",
    )
    .await?;
    let applied: Vec<i32> = tx
        .query("SELECT id FROM reel_migrations ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.id);
    if let Some(newer) = applied.iter().find(|id| **id > known) {
        return Err(StoreError::Corrupt(format!(
            "the index database has schema migration {newer}, which this reel-server \
             does not know (it knows 1 to {known}): a newer version runs on it; upgrade"
        )));
    }
    let now = i64::try_from(crate::store::now_ms()).unwrap_or(i64::MAX);
    for m in MIGRATIONS {
        if applied.contains(&m.id) {
            continue;
        }
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO reel_migrations (id, name, applied_ms) VALUES ($1, $2, $3)",
            &[&m.id, &m.name, &now],
        )
        .await?;
        tracing::info!(id = m.id, name = m.name, "applied a schema migration");
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.id, i as i32 + 1, "{}", m.name);
        }
    }
}
