//! Members, their sign-ins and their personal API tokens (contract §8).
//!
//! Nothing here holds a secret in clear: a member's password is an
//! Argon2id hash (`crate::password`), and a sign-in's session id and a
//! personal token are looked up by their SHA-256 (the random values
//! themselves, 256 bits each, are only ever in the client's hands).
//!
//! Implemented for [`LogStorage`] (sled trees `members`, `logins`,
//! `api_tokens`; every write is flushed before it returns, like share
//! links) and for the in-memory [`MemStorage`].

use super::{LogStorage, StoreError};
use crate::auth::Role;
use serde::{Deserialize, Serialize};

pub(crate) const MEMBERS_TREE: &str = "members";
pub(crate) const LOGINS_TREE: &str = "logins";
pub(crate) const TOKENS_TREE: &str = "api_tokens";

/// A member of the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Lowercase, trimmed: the member's name everywhere.
    pub email: String,
    pub role: Role,
    /// The password's Argon2id hash, as a PHC string.
    pub password_hash: String,
    /// ms since the Unix epoch.
    pub created_at: u64,
}

/// One sign-in: what a session cookie (or a token from
/// `POST /api/v1/auth/login`) stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The member's email, or `admin` for a sign-in with the API token.
    pub email: String,
    pub created_at: u64,
    pub expires_at: u64,
    /// For a sign-in with the API token: which token (the first 8 bytes of
    /// its hash), so that replacing the API token ends its sign-ins.
    #[serde(default)]
    pub api_token: Option<String>,
}

/// A personal API token, for automation. It acts with its owner's role
/// at the time of use: changing the role changes the token's, removing
/// the member ends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalToken {
    /// Public: lists and revokes it (the first 8 bytes of its key, hex).
    pub id: String,
    pub name: String,
    /// The owner's email, or `admin` for a token the API token made.
    pub email: String,
    pub created_at: u64,
    /// As [`Login::api_token`].
    #[serde(default)]
    pub api_token: Option<String>,
}

/// Keys are the SHA-256 of the secret.
pub type SecretKey = [u8; 32];

/// Members, sign-ins and personal tokens. Methods block; writes are
/// durable when they return.
pub trait TeamStore {
    /// Adds a member; false (nothing changed) when the email is taken.
    fn add_member(&self, m: &Member) -> Result<bool, StoreError>;
    /// Replaces a member's record; false when there is no such member.
    fn update_member(&self, m: &Member) -> Result<bool, StoreError>;
    fn member(&self, email: &str) -> Result<Option<Member>, StoreError>;
    /// Every member, by email.
    fn members(&self) -> Result<Vec<Member>, StoreError>;
    /// Removes a member with their sign-ins and tokens; false when there
    /// was no such member.
    fn remove_member(&self, email: &str) -> Result<bool, StoreError>;

    fn put_login(&self, key: &SecretKey, login: &Login) -> Result<(), StoreError>;
    fn login(&self, key: &SecretKey) -> Result<Option<Login>, StoreError>;
    fn delete_login(&self, key: &SecretKey) -> Result<bool, StoreError>;
    /// Ends every sign-in of `email`; how many.
    fn end_logins_of(&self, email: &str) -> Result<usize, StoreError>;
    /// Drops sign-ins that expired before `now_ms`; how many.
    fn prune_logins(&self, now_ms: u64) -> Result<usize, StoreError>;

    fn put_token(&self, key: &SecretKey, token: &PersonalToken) -> Result<(), StoreError>;
    fn token(&self, key: &SecretKey) -> Result<Option<PersonalToken>, StoreError>;
    fn tokens(&self) -> Result<Vec<PersonalToken>, StoreError>;
    /// Revokes the token with this public id; false when there is none.
    fn delete_token(&self, id: &str) -> Result<bool, StoreError>;

    /// Every sign-in with its key: what `reel-server migrate` copies (its
    /// source is an embedded data dir; other backends keep this default).
    fn login_entries(&self) -> Result<Vec<(SecretKey, Login)>, StoreError> {
        Err(super::not_a_migration_source("sign-ins"))
    }

    /// Every personal token with its key, as [`TeamStore::login_entries`].
    fn token_entries(&self) -> Result<Vec<(SecretKey, PersonalToken)>, StoreError> {
        Err(super::not_a_migration_source("personal tokens"))
    }
}

/// Every `key → value` of a tree keyed by [`SecretKey`].
fn keyed<T: for<'de> Deserialize<'de>>(t: &sled::Tree) -> Result<Vec<(SecretKey, T)>, StoreError> {
    t.iter()
        .map(|kv| {
            let (k, v) = kv?;
            let key = SecretKey::try_from(k.as_ref())
                .map_err(|_| StoreError::Corrupt("a team key is not 32 bytes".into()))?;
            Ok((key, dec(&v)?))
        })
        .collect()
}

/// A token's public id from its key.
pub fn token_id(key: &SecretKey) -> String {
    key[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: for<'de> Deserialize<'de>>(v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl LogStorage {
    fn team_tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db().open_tree(name)?)
    }

    fn team_flush(&self) -> Result<(), StoreError> {
        self.db().flush()?;
        Ok(())
    }
}

impl TeamStore for LogStorage {
    fn add_member(&self, m: &Member) -> Result<bool, StoreError> {
        let t = self.team_tree(MEMBERS_TREE)?;
        let added = t
            .compare_and_swap(m.email.as_bytes(), None as Option<&[u8]>, Some(enc(m)?))?
            .is_ok();
        self.team_flush()?;
        Ok(added)
    }

    fn update_member(&self, m: &Member) -> Result<bool, StoreError> {
        let t = self.team_tree(MEMBERS_TREE)?;
        let Some(old) = t.get(m.email.as_bytes())? else {
            return Ok(false);
        };
        let done = t
            .compare_and_swap(m.email.as_bytes(), Some(old), Some(enc(m)?))?
            .is_ok();
        self.team_flush()?;
        Ok(done)
    }

    fn member(&self, email: &str) -> Result<Option<Member>, StoreError> {
        self.team_tree(MEMBERS_TREE)?
            .get(email.as_bytes())?
            .map(|v| dec(&v))
            .transpose()
    }

    fn members(&self) -> Result<Vec<Member>, StoreError> {
        self.team_tree(MEMBERS_TREE)?
            .iter()
            .values()
            .map(|v| dec(&v?))
            .collect()
    }

    fn remove_member(&self, email: &str) -> Result<bool, StoreError> {
        let removed = self
            .team_tree(MEMBERS_TREE)?
            .remove(email.as_bytes())?
            .is_some();
        for name in [LOGINS_TREE, TOKENS_TREE] {
            let t = self.team_tree(name)?;
            for kv in t.iter() {
                let (k, v) = kv?;
                let owner: OwnerOnly = dec(&v)?;
                if owner.email == email {
                    t.remove(k)?;
                }
            }
        }
        self.team_flush()?;
        Ok(removed)
    }

    fn put_login(&self, key: &SecretKey, login: &Login) -> Result<(), StoreError> {
        self.team_tree(LOGINS_TREE)?.insert(key, enc(login)?)?;
        self.team_flush()
    }

    fn login(&self, key: &SecretKey) -> Result<Option<Login>, StoreError> {
        self.team_tree(LOGINS_TREE)?
            .get(key)?
            .map(|v| dec(&v))
            .transpose()
    }

    fn delete_login(&self, key: &SecretKey) -> Result<bool, StoreError> {
        let gone = self.team_tree(LOGINS_TREE)?.remove(key)?.is_some();
        self.team_flush()?;
        Ok(gone)
    }

    fn end_logins_of(&self, email: &str) -> Result<usize, StoreError> {
        let t = self.team_tree(LOGINS_TREE)?;
        let mut n = 0;
        for kv in t.iter() {
            let (k, v) = kv?;
            let l: Login = dec(&v)?;
            if l.email == email {
                t.remove(k)?;
                n += 1;
            }
        }
        self.team_flush()?;
        Ok(n)
    }

    fn prune_logins(&self, now_ms: u64) -> Result<usize, StoreError> {
        let t = self.team_tree(LOGINS_TREE)?;
        let mut n = 0;
        for kv in t.iter() {
            let (k, v) = kv?;
            let l: Login = dec(&v)?;
            if l.expires_at <= now_ms {
                t.remove(k)?;
                n += 1;
            }
        }
        if n > 0 {
            self.team_flush()?;
        }
        Ok(n)
    }

    fn put_token(&self, key: &SecretKey, token: &PersonalToken) -> Result<(), StoreError> {
        self.team_tree(TOKENS_TREE)?.insert(key, enc(token)?)?;
        self.team_flush()
    }

    fn token(&self, key: &SecretKey) -> Result<Option<PersonalToken>, StoreError> {
        self.team_tree(TOKENS_TREE)?
            .get(key)?
            .map(|v| dec(&v))
            .transpose()
    }

    fn tokens(&self) -> Result<Vec<PersonalToken>, StoreError> {
        self.team_tree(TOKENS_TREE)?
            .iter()
            .values()
            .map(|v| dec(&v?))
            .collect()
    }

    fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        let t = self.team_tree(TOKENS_TREE)?;
        let mut gone = false;
        for k in t.iter().keys() {
            let k = k?;
            if let Ok(key) = <SecretKey>::try_from(k.as_ref()) {
                if token_id(&key) == id {
                    gone |= t.remove(k)?.is_some();
                }
            }
        }
        self.team_flush()?;
        Ok(gone)
    }

    fn login_entries(&self) -> Result<Vec<(SecretKey, Login)>, StoreError> {
        keyed(&self.team_tree(LOGINS_TREE)?)
    }

    fn token_entries(&self) -> Result<Vec<(SecretKey, PersonalToken)>, StoreError> {
        keyed(&self.team_tree(TOKENS_TREE)?)
    }
}

/// The owner of a sign-in or a token, whichever it is.
#[derive(Deserialize)]
struct OwnerOnly {
    email: String,
}

#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemTeam {
    members: std::collections::BTreeMap<String, Member>,
    logins: std::collections::HashMap<SecretKey, Login>,
    tokens: std::collections::HashMap<SecretKey, PersonalToken>,
}

#[cfg(test)]
impl TeamStore for super::mem::MemStorage {
    fn add_member(&self, m: &Member) -> Result<bool, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        if t.members.contains_key(&m.email) {
            return Ok(false);
        }
        t.members.insert(m.email.clone(), m.clone());
        Ok(true)
    }

    fn update_member(&self, m: &Member) -> Result<bool, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        match t.members.get_mut(&m.email) {
            Some(old) => {
                *old = m.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn member(&self, email: &str) -> Result<Option<Member>, StoreError> {
        let t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        Ok(t.members.get(email).cloned())
    }

    fn members(&self) -> Result<Vec<Member>, StoreError> {
        let t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        Ok(t.members.values().cloned().collect())
    }

    fn remove_member(&self, email: &str) -> Result<bool, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        t.logins.retain(|_, l| l.email != email);
        t.tokens.retain(|_, p| p.email != email);
        Ok(t.members.remove(email).is_some())
    }

    fn put_login(&self, key: &SecretKey, login: &Login) -> Result<(), StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        t.logins.insert(*key, login.clone());
        Ok(())
    }

    fn login(&self, key: &SecretKey) -> Result<Option<Login>, StoreError> {
        let t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        Ok(t.logins.get(key).cloned())
    }

    fn delete_login(&self, key: &SecretKey) -> Result<bool, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        Ok(t.logins.remove(key).is_some())
    }

    fn end_logins_of(&self, email: &str) -> Result<usize, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        let before = t.logins.len();
        t.logins.retain(|_, l| l.email != email);
        Ok(before - t.logins.len())
    }

    fn prune_logins(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        let before = t.logins.len();
        t.logins.retain(|_, l| l.expires_at > now_ms);
        Ok(before - t.logins.len())
    }

    fn put_token(&self, key: &SecretKey, token: &PersonalToken) -> Result<(), StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        t.tokens.insert(*key, token.clone());
        Ok(())
    }

    fn token(&self, key: &SecretKey) -> Result<Option<PersonalToken>, StoreError> {
        let t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        Ok(t.tokens.get(key).cloned())
    }

    fn tokens(&self) -> Result<Vec<PersonalToken>, StoreError> {
        let t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        Ok(t.tokens.values().cloned().collect())
    }

    fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        let mut t = self.team.lock().unwrap_or_else(|e| e.into_inner());
        let before = t.tokens.len();
        t.tokens.retain(|k, _| token_id(k) != id);
        Ok(t.tokens.len() < before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;

    fn check(s: &dyn TeamStore) {
        let ann = Member {
            email: "ann@x.org".into(),
            role: Role::Viewer,
            password_hash: "$argon2id$...".into(),
            created_at: 1,
        };
        assert!(s.add_member(&ann).unwrap());
        assert!(!s.add_member(&ann).unwrap(), "an email is taken once");
        let mut promoted = ann.clone();
        promoted.role = Role::Admin;
        assert!(s.update_member(&promoted).unwrap());
        assert_eq!(s.member("ann@x.org").unwrap().unwrap().role, Role::Admin);
        let login = Login {
            email: ann.email.clone(),
            created_at: 1,
            expires_at: 100,
            api_token: None,
        };
        s.put_login(&[1; 32], &login).unwrap();
        s.put_login(
            &[2; 32],
            &Login {
                expires_at: 10,
                ..login.clone()
            },
        )
        .unwrap();
        assert_eq!(s.prune_logins(50).unwrap(), 1);
        assert_eq!(s.login(&[1; 32]).unwrap(), Some(login));
        let tok = PersonalToken {
            id: token_id(&[3; 32]),
            name: "ci".into(),
            email: ann.email.clone(),
            created_at: 1,
            api_token: None,
        };
        s.put_token(&[3; 32], &tok).unwrap();
        assert_eq!(s.token(&[3; 32]).unwrap(), Some(tok.clone()));
        assert_eq!(s.tokens().unwrap().len(), 1);
        // Removing the member ends their sign-ins and tokens.
        assert!(s.remove_member("ann@x.org").unwrap());
        assert_eq!(s.login(&[1; 32]).unwrap(), None);
        assert_eq!(s.token(&[3; 32]).unwrap(), None);
        assert!(s.members().unwrap().is_empty());
        s.put_token(&[3; 32], &tok).unwrap();
        assert!(s.delete_token(&tok.id).unwrap());
        assert!(!s.delete_token(&tok.id).unwrap());
        s.put_login(
            &[4; 32],
            &Login {
                expires_at: 1000,
                ..s_login()
            },
        )
        .unwrap();
        assert!(s.delete_login(&[4; 32]).unwrap());
        assert!(!s.delete_login(&[4; 32]).unwrap());
    }

    fn s_login() -> Login {
        Login {
            email: "admin".into(),
            created_at: 0,
            expires_at: 0,
            api_token: Some("00".into()),
        }
    }

    #[test]
    fn members_logins_and_tokens_on_both_backends() {
        check(&MemStorage::default());
        let dir = tempfile::tempdir().unwrap();
        let s = LogStorage::open(dir.path()).unwrap();
        check(&s);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0, "not a session's keys");
    }

    #[test]
    fn members_logins_and_tokens_on_the_distributed_layout() {
        let s = crate::store::dist::digest::fresh_for_tests();
        check(&s);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0, "not a session's rows");
    }
}
