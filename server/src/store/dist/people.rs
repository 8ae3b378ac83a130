//! PostgreSQL implementation of [`PeopleStore`] for [`DistStorage`].
//!
//! A session's user id is the column `sessions.user_id` (indexed where not
//! null), kept by the chunk transaction from the session's metadata.
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::DistStorage;
use crate::store::people::PeopleStore;
use crate::store::StoreError;
use reel_shared::SessionId;

impl PeopleStore for DistStorage {
    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionId>, StoreError> {
        let _ = user_id;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn purge_forgotten(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("not yet".into()))
    }
}
