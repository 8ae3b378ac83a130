//! PostgreSQL implementation of [`SavedSegments`] for [`DistStorage`].
//!
//! Stub from the skeleton: helper P2 fills this file (and appends its
//! migrations to `schema.rs`).

use super::DistStorage;
use crate::store::saved_segments::{SavedSegment, SavedSegments};
use crate::store::StoreError;

impl SavedSegments for DistStorage {
    fn put_saved_segment(&self, segment: &SavedSegment) -> Result<(), StoreError> {
        let _ = segment;
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn saved_segments(&self) -> Result<Vec<SavedSegment>, StoreError> {
        Err(StoreError::Unavailable("not yet".into()))
    }

    fn delete_saved_segment(&self, id: &str) -> Result<bool, StoreError> {
        let _ = id;
        Err(StoreError::Unavailable("not yet".into()))
    }
}
