//! Members, sign-ins and personal API tokens in PostgreSQL (contract §8)
//! for [`DistStorage`]: tables `members`, `logins` and `api_tokens`
//! (migration 3 in `schema.rs`), each record as JSON in `body` (the
//! structs of [`crate::store::team`], so a field added there needs no
//! migration), with the columns its queries select on beside it: a
//! member's email, a sign-in's hashed key, owner and expiry, a token's
//! hashed key, owner and public id. Every write is one committed statement
//! (or one transaction): durable when it returns, seen by every process.

use super::sessions::big;
use super::DistStorage;
use crate::store::team::{token_id, Login, Member, PersonalToken, SecretKey, TeamStore};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

fn enc<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: for<'de> Deserialize<'de>>(v: &str) -> Result<T, StoreError> {
    serde_json::from_str(v).map_err(|e| StoreError::Corrupt(format!("team: {e}")))
}

impl DistStorage {
    /// The `body` of each row `sql` selects, decoded.
    fn team_bodies<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        key: Option<&[u8]>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.pg().run(async |c| {
            let s = c.prepare_cached(sql).await?;
            Ok(match key {
                Some(k) => c.query(&s, &[&k]).await?,
                None => c.query(&s, &[]).await?,
            })
        })?;
        rows.iter().map(|r| dec(r.try_get(0)?)).collect()
    }

    /// Rows `sql` changed.
    fn team_execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.pg().run(async |c| {
            let s = c.prepare_cached(sql).await?;
            Ok(c.execute(&s, params).await?)
        })
    }
}

impl TeamStore for DistStorage {
    fn add_member(&self, m: &Member) -> Result<bool, StoreError> {
        let n = self.team_execute(
            "INSERT INTO members (email, body) VALUES ($1, $2) ON CONFLICT (email) DO NOTHING",
            &[&m.email, &enc(m)?],
        )?;
        Ok(n == 1)
    }

    fn update_member(&self, m: &Member) -> Result<bool, StoreError> {
        let n = self.team_execute(
            "UPDATE members SET body = $2 WHERE email = $1",
            &[&m.email, &enc(m)?],
        )?;
        Ok(n == 1)
    }

    fn member(&self, email: &str) -> Result<Option<Member>, StoreError> {
        let row = self.pg().run(async |c| {
            let s = c
                .prepare_cached("SELECT body FROM members WHERE email = $1")
                .await?;
            Ok(c.query_opt(&s, &[&email]).await?)
        })?;
        row.map(|r| dec(r.try_get(0)?)).transpose()
    }

    fn members(&self) -> Result<Vec<Member>, StoreError> {
        self.team_bodies("SELECT body FROM members ORDER BY email", None)
    }

    fn remove_member(&self, email: &str) -> Result<bool, StoreError> {
        self.pg().tx(async |tx| {
            let gone = async |table: &str| {
                let sql = format!("DELETE FROM {table} WHERE email = $1");
                tx.execute(&sql, &[&email]).await
            };
            let (n, _, _) = tokio::try_join!(gone("members"), gone("logins"), gone("api_tokens"))?;
            Ok(n > 0)
        })
    }

    fn put_login(&self, key: &SecretKey, login: &Login) -> Result<(), StoreError> {
        let k: &[u8] = key;
        self.team_execute(
            "INSERT INTO logins (key, email, expires_at, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET email = EXCLUDED.email, \
             expires_at = EXCLUDED.expires_at, body = EXCLUDED.body",
            &[&k, &login.email, &big(login.expires_at), &enc(login)?],
        )?;
        Ok(())
    }

    fn login(&self, key: &SecretKey) -> Result<Option<Login>, StoreError> {
        let mut v = self.team_bodies("SELECT body FROM logins WHERE key = $1", Some(key))?;
        Ok(v.pop())
    }

    fn delete_login(&self, key: &SecretKey) -> Result<bool, StoreError> {
        let k: &[u8] = key;
        Ok(self.team_execute("DELETE FROM logins WHERE key = $1", &[&k])? > 0)
    }

    fn end_logins_of(&self, email: &str) -> Result<usize, StoreError> {
        let n = self.team_execute("DELETE FROM logins WHERE email = $1", &[&email])?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn prune_logins(&self, now_ms: u64) -> Result<usize, StoreError> {
        let n = self.team_execute("DELETE FROM logins WHERE expires_at <= $1", &[&big(now_ms)])?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn put_token(&self, key: &SecretKey, token: &PersonalToken) -> Result<(), StoreError> {
        let k: &[u8] = key;
        self.team_execute(
            "INSERT INTO api_tokens (key, id, email, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET email = EXCLUDED.email, body = EXCLUDED.body",
            &[&k, &token_id(key), &token.email, &enc(token)?],
        )?;
        Ok(())
    }

    fn token(&self, key: &SecretKey) -> Result<Option<PersonalToken>, StoreError> {
        let mut v = self.team_bodies("SELECT body FROM api_tokens WHERE key = $1", Some(key))?;
        Ok(v.pop())
    }

    fn tokens(&self) -> Result<Vec<PersonalToken>, StoreError> {
        self.team_bodies("SELECT body FROM api_tokens ORDER BY key", None)
    }

    /// By the key's public id ([`token_id`]), as the embedded layout.
    fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.team_execute("DELETE FROM api_tokens WHERE id = $1", &[&id])? > 0)
    }
}
