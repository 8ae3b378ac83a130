//! Saved segments (issue 16): a name for a set of session filters
//! (contract §6), shared by everyone on the deployment, so the sessions
//! list and the insights page can apply it again. They name no session,
//! so a session's delete has nothing to remove here.
//!
//! Implemented for [`LogStorage`] (the sled tree `saved_segments`, keyed
//! by the segment's id, the value its JSON) and for the in-memory
//! [`super::mem::MemStorage`]. Durable when a call returns: they are rare,
//! and nothing else flushes them.

use super::{LogStorage, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The sled tree segments live in.
pub(crate) const SAVED_SEGMENTS_TREE: &str = "saved_segments";

/// One saved segment, as stored and as the API answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSegment {
    /// 16 hex digits, random.
    pub id: String,
    pub name: String,
    /// The filters, as `GET /api/v1/sessions` takes them (`device` →
    /// `mobile`, `has_rage_clicks` → `true`, ...).
    pub filters: BTreeMap<String, String>,
    /// When it was saved, ms since the Unix epoch.
    pub created_at: u64,
    /// Who saved it (a member's email, `admin` for the API token).
    pub created_by: String,
}

/// Saved segments. Methods block (call them off the async workers).
pub trait SavedSegments {
    /// Stores (or replaces) a segment, durably.
    fn put_saved_segment(&self, segment: &SavedSegment) -> Result<(), StoreError>;

    /// Every saved segment, by name (then id).
    fn saved_segments(&self) -> Result<Vec<SavedSegment>, StoreError>;

    /// Removes a segment, durably. False when there was none.
    fn delete_saved_segment(&self, id: &str) -> Result<bool, StoreError>;
}

fn encode(s: &SavedSegment) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(v: &[u8]) -> Result<SavedSegment, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(format!("saved segment: {e}")))
}

/// The order segments are listed in (every backend sorts with this).
pub(crate) fn by_name(mut all: Vec<SavedSegment>) -> Vec<SavedSegment> {
    all.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.id.cmp(&b.id))
    });
    all
}

impl SavedSegments for LogStorage {
    fn put_saved_segment(&self, segment: &SavedSegment) -> Result<(), StoreError> {
        let tree = self.db().open_tree(SAVED_SEGMENTS_TREE)?;
        tree.insert(segment.id.as_bytes(), encode(segment)?)?;
        tree.flush()?;
        Ok(())
    }

    fn saved_segments(&self) -> Result<Vec<SavedSegment>, StoreError> {
        let tree = self.db().open_tree(SAVED_SEGMENTS_TREE)?;
        let all = tree
            .iter()
            .values()
            .map(|v| decode(&v?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(by_name(all))
    }

    fn delete_saved_segment(&self, id: &str) -> Result<bool, StoreError> {
        let tree = self.db().open_tree(SAVED_SEGMENTS_TREE)?;
        let gone = tree.remove(id.as_bytes())?.is_some();
        tree.flush()?;
        Ok(gone)
    }
}

#[cfg(test)]
impl SavedSegments for super::mem::MemStorage {
    fn put_saved_segment(&self, segment: &SavedSegment) -> Result<(), StoreError> {
        let mut all = self
            .saved_segments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        all.insert(segment.id.clone(), segment.clone());
        Ok(())
    }

    fn saved_segments(&self) -> Result<Vec<SavedSegment>, StoreError> {
        let all = self
            .saved_segments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(by_name(all.values().cloned().collect()))
    }

    fn delete_saved_segment(&self, id: &str) -> Result<bool, StoreError> {
        let mut all = self
            .saved_segments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Ok(all.remove(id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;

    fn segment(id: &str, name: &str) -> SavedSegment {
        SavedSegment {
            id: id.into(),
            name: name.into(),
            filters: [("device".to_string(), "mobile".to_string())].into(),
            created_at: 1,
            created_by: "admin".into(),
        }
    }

    fn check(s: &dyn SavedSegments) {
        assert!(s.saved_segments().unwrap().is_empty());
        s.put_saved_segment(&segment("b", "mobile")).unwrap();
        s.put_saved_segment(&segment("a", "Checkout")).unwrap();
        let names: Vec<String> = s
            .saved_segments()
            .unwrap()
            .into_iter()
            .map(|x| x.name)
            .collect();
        assert_eq!(names, ["Checkout", "mobile"], "by name, case aside");
        assert!(s.delete_saved_segment("a").unwrap());
        assert!(!s.delete_saved_segment("a").unwrap(), "gone already");
        assert_eq!(s.saved_segments().unwrap(), [segment("b", "mobile")]);
    }

    #[test]
    fn saved_listed_by_name_and_deleted_on_both_backends() {
        check(&MemStorage::default());
        let dir = tempfile::tempdir().unwrap();
        let s = LogStorage::open(dir.path()).unwrap();
        check(&s);
        drop(s);
        // Durable, and no session's key.
        let s = LogStorage::open(dir.path()).unwrap();
        assert_eq!(s.saved_segments().unwrap().len(), 1);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0);
    }

    #[test]
    fn saved_listed_by_name_and_deleted_on_the_distributed_layout() {
        let s = crate::store::dist::digest::fresh_for_tests();
        check(&s);
        use crate::store::Storage;
        assert_eq!(s.session_key_count().unwrap(), 0);
    }
}
