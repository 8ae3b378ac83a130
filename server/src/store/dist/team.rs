//! PostgreSQL implementation of [`TeamStore`] (members, sign-ins,
//! personal tokens) for [`DistStorage`].
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::DistStorage;
use crate::store::team::{Login, Member, PersonalToken, SecretKey, TeamStore};
use crate::store::StoreError;

impl TeamStore for DistStorage {
    fn add_member(&self, m: &Member) -> Result<bool, StoreError> {
        let _ = m;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn update_member(&self, m: &Member) -> Result<bool, StoreError> {
        let _ = m;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn member(&self, email: &str) -> Result<Option<Member>, StoreError> {
        let _ = email;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn members(&self) -> Result<Vec<Member>, StoreError> {
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn remove_member(&self, email: &str) -> Result<bool, StoreError> {
        let _ = email;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn put_login(&self, key: &SecretKey, login: &Login) -> Result<(), StoreError> {
        let _ = (key, login);
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn login(&self, key: &SecretKey) -> Result<Option<Login>, StoreError> {
        let _ = key;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn delete_login(&self, key: &SecretKey) -> Result<bool, StoreError> {
        let _ = key;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn end_logins_of(&self, email: &str) -> Result<usize, StoreError> {
        let _ = email;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn prune_logins(&self, now_ms: u64) -> Result<usize, StoreError> {
        let _ = now_ms;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn put_token(&self, key: &SecretKey, token: &PersonalToken) -> Result<(), StoreError> {
        let _ = (key, token);
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn token(&self, key: &SecretKey) -> Result<Option<PersonalToken>, StoreError> {
        let _ = key;
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn tokens(&self) -> Result<Vec<PersonalToken>, StoreError> {
        Err(StoreError::Unavailable("not yet".into()))
    }
    fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        let _ = id;
        Err(StoreError::Unavailable("not yet".into()))
    }
}
