//! People's sessions in PostgreSQL (contract §8) for [`DistStorage`].
//!
//! A session's user id is the column `sessions.user_id` (indexed where not
//! null), kept by the chunk transaction from the session's metadata; a
//! session's delete removes its row, so erasing a person deletes every row
//! naming them. What PostgreSQL keeps of deleted rows (dead tuples until
//! vacuumed, sampled statistics, its write-ahead log) a person's erasure
//! scrubs once its deletes are done ([`PeopleStore::scrub_erased`],
//! `dist/scrub.rs`); after other deletes (retention),
//! [`PeopleStore::purge_forgotten`] vacuums `sessions` so that the dead
//! rows' space is reclaimed now rather than when autovacuum gets to it.

use super::sessions::session_id;
use super::DistStorage;
use crate::store::people::PeopleStore;
use crate::store::StoreError;
use reel_shared::SessionId;

impl PeopleStore for DistStorage {
    fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionId>, StoreError> {
        let rows = self.pg().run(async |c| {
            let s = c
                .prepare_cached("SELECT id FROM sessions WHERE user_id = $1")
                .await?;
            Ok(c.query(&s, &[&user_id]).await?)
        })?;
        rows.iter().map(|r| session_id(r.try_get(0)?)).collect()
    }

    /// Best effort: `VACUUM` cannot run inside a transaction, and skips the
    /// table when another vacuum holds it (that one does the same work).
    fn purge_forgotten(&self) -> Result<(), StoreError> {
        self.pg().run(async |c| {
            c.batch_execute("VACUUM (SKIP_LOCKED) sessions").await?;
            Ok(())
        })
    }

    /// `VACUUM FULL` of the session tables and `pg_statistic`, then the
    /// WAL switched and checkpointed (`dist/scrub.rs`).
    fn scrub_erased(&self) -> Result<Vec<String>, StoreError> {
        self.scrub_after_erasure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::identified;
    use crate::store::Storage;

    /// Identified sessions are found by their user id, and gone with their
    /// delete.
    #[test]
    fn sessions_of_a_user_and_their_erasure() {
        let s = super::super::digest::fresh_for_tests();
        for (n, user) in [(1, "ann"), (2, "ann"), (3, "bob")] {
            s.put_chunk(&identified(n, 0, user), b"c", 5).unwrap();
        }
        let mut ann = s.sessions_of_user("ann").unwrap();
        ann.sort();
        assert_eq!(ann, [SessionId([1; 16]), SessionId([2; 16])]);
        assert!(s.sessions_of_user("carol").unwrap().is_empty());
        for id in ann {
            assert!(s.delete_session(&id).unwrap());
        }
        s.purge_forgotten().unwrap();
        assert!(s.sessions_of_user("ann").unwrap().is_empty());
        assert_eq!(s.sessions_of_user("bob").unwrap(), [SessionId([3; 16])]);
    }
}
