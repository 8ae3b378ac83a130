//! Comments, share links ([`crate::support`]) and config values in
//! PostgreSQL. Each call is one committed statement: durable on return
//! (invariant 4 of `dist/mod.rs`). Comments and share links reference
//! their session's row, so none is stored for a session that is not
//! there, and a delete takes them along.

use super::pg::is_missing_parent;
use super::DistStorage;
use crate::store::StoreError;
use crate::support::{Comment, Share};
use reel_shared::SessionId;

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn share_key(v: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(v)
        .map_err(|_| StoreError::Corrupt("a share key that is not 32 bytes".into()))
}

impl DistStorage {
    pub(super) fn insert_comment(&self, c: &Comment) -> Result<bool, StoreError> {
        let body = json(c)?;
        self.pg().run(async |db| {
            match db
                .execute(
                    "INSERT INTO comments (session, key, body) VALUES ($1, $2, $3)",
                    &[&&c.session.0[..], &&c.key()[..], &body],
                )
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if is_missing_parent(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
    }

    pub(super) fn comments_of(&self, id: &SessionId) -> Result<Vec<Comment>, StoreError> {
        self.pg().run(async |db| {
            db.query(
                "SELECT body FROM comments WHERE session = $1 ORDER BY key",
                &[&&id.0[..]],
            )
            .await?
            .iter()
            .map(|r| parse(r.try_get(0)?))
            .collect()
        })
    }

    pub(super) fn insert_share(&self, key: &[u8; 32], share: &Share) -> Result<bool, StoreError> {
        let body = json(share)?;
        self.pg().run(async |db| {
            match db
                .execute(
                    "INSERT INTO shares (key, session, body) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET session = EXCLUDED.session, body = EXCLUDED.body",
                    &[&&key[..], &&share.session.0[..], &body],
                )
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if is_missing_parent(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
    }

    pub(super) fn share_by_key(&self, key: &[u8; 32]) -> Result<Option<Share>, StoreError> {
        self.pg().run(async |db| {
            db.query_opt("SELECT body FROM shares WHERE key = $1", &[&&key[..]])
                .await?
                .map(|r| parse(r.try_get(0)?))
                .transpose()
        })
    }

    pub(super) fn shares_of_session(
        &self,
        id: &SessionId,
    ) -> Result<Vec<([u8; 32], Share)>, StoreError> {
        self.pg().run(async |db| {
            db.query(
                "SELECT key, body FROM shares WHERE session = $1 ORDER BY key",
                &[&&id.0[..]],
            )
            .await?
            .iter()
            .map(|r| Ok((share_key(r.try_get(0)?)?, parse(r.try_get(1)?)?)))
            .collect()
        })
    }

    pub(super) fn remove_share(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        self.pg().run(async |db| {
            Ok(db
                .execute("DELETE FROM shares WHERE key = $1", &[&&key[..]])
                .await?
                > 0)
        })
    }

    pub(super) fn get_config(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.pg().run(async |db| {
            Ok(db
                .query_opt("SELECT value FROM config WHERE name = $1", &[&name])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?)
        })
    }

    /// Sets (`Some`) or removes (`None`) a config value.
    pub(super) fn set_config(&self, name: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.pg().run(async |db| {
            match value {
                Some(v) => {
                    db.execute(
                        "INSERT INTO config (name, value) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                        &[&name, &v],
                    )
                    .await?
                }
                None => {
                    db.execute("DELETE FROM config WHERE name = $1", &[&name])
                        .await?
                }
            };
            Ok(())
        })
    }

    /// Sets `name` unless it is set, atomically across processes; the value
    /// it holds afterwards. (A concurrent insert of the same name makes
    /// this one wait, then do nothing; the read that follows sees it.)
    pub(super) fn init_config(&self, name: &str, value: &str) -> Result<String, StoreError> {
        self.pg().run(async |db| {
            db.execute(
                "INSERT INTO config (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &value],
            )
            .await?;
            Ok(db
                .query_one("SELECT value FROM config WHERE name = $1", &[&name])
                .await?
                .try_get(0)?)
        })
    }
}
