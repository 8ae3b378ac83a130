//! `keep.json`: a copy, beside sled, of what the index cannot be rebuilt
//! without. The log rebuilds every chunk's location and every session's
//! metadata, but not:
//!
//! - the `config` values (the generated ingest key, the API token's hash):
//!   lost with sled, every embedding page's key would change;
//! - the pending wipes of deletes interrupted by a crash: lost with sled,
//!   a rebuild would bring the deleted chunks back.
//!
//! So both are also kept here, and read when sled lacks them. The file is
//! small, rewritten whole (a temporary file, fsync, rename, fsync of the
//! directory: it is the old or the new version, never a mix), and private
//! (0600).
//!
//! A delete lists its chunks here after its sled transaction is durable
//! and before any byte is zeroed, and forgets them once zeroed: the only
//! window where sled alone knows of them is between the two, milliseconds
//! in which sled itself would also have to be lost.

use super::segments::{Loc, FILE_MODE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub const FILE_NAME: &str = "keep.json";

#[derive(Default, Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
struct Data {
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// Locations (segment, offset, chunk length) still to zero.
    #[serde(default)]
    wipe: Vec<(u32, u64, u32)>,
}

pub struct Keep {
    path: PathBuf,
    data: Mutex<Data>,
}

impl Keep {
    /// Reads `keep.json` in `dir`; a missing or unreadable file is empty
    /// (sled then has everything, and the next write replaces it).
    pub fn open(dir: &Path) -> Keep {
        let path = dir.join(FILE_NAME);
        let data = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), "unreadable, ignored: {e}");
                Data::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), "unreadable, ignored: {e}");
                Data::default()
            }
        };
        if path.exists() {
            if let Err(e) = super::segments::make_private(&path, FILE_MODE) {
                tracing::warn!(path = %path.display(), "cannot make private: {e}");
            }
        }
        Keep {
            path,
            data: Mutex::new(data),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self, name: &str) -> Option<String> {
        self.lock().config.get(name).cloned()
    }

    /// Every config name kept here.
    pub fn config_names(&self) -> Vec<String> {
        self.lock().config.keys().cloned().collect()
    }

    /// Sets (`Some`) or removes (`None`) a config value, durably.
    pub fn set_config(&self, name: &str, value: Option<&str>) -> std::io::Result<()> {
        self.update(|d| match value {
            Some(v) => d.config.insert(name.to_owned(), v.to_owned()).as_deref() != Some(v),
            None => d.config.remove(name).is_some(),
        })
    }

    /// Copies in the values sled holds that this file lacks (a data dir
    /// from before this file existed).
    pub fn adopt_config(&self, values: Vec<(String, String)>) -> std::io::Result<()> {
        self.update(|d| {
            let mut changed = false;
            for (k, v) in values {
                if let std::collections::btree_map::Entry::Vacant(e) = d.config.entry(k) {
                    e.insert(v);
                    changed = true;
                }
            }
            changed
        })
    }

    pub fn wipes(&self) -> Vec<Loc> {
        self.lock()
            .wipe
            .iter()
            .map(|&(seg, off, chunk_len)| Loc {
                seg,
                off,
                chunk_len,
            })
            .collect()
    }

    pub fn add_wipes(&self, locs: &[Loc]) -> std::io::Result<()> {
        self.update(|d| {
            d.wipe
                .extend(locs.iter().map(|l| (l.seg, l.off, l.chunk_len)));
            !locs.is_empty()
        })
    }

    pub fn forget_wipes(&self, locs: &[Loc]) -> std::io::Result<()> {
        let gone: std::collections::HashSet<(u32, u64)> =
            locs.iter().map(|l| (l.seg, l.off)).collect();
        self.update(|d| {
            let before = d.wipe.len();
            d.wipe.retain(|(s, o, _)| !gone.contains(&(*s, *o)));
            d.wipe.len() != before
        })
    }

    /// Applies `change` and, when it says it changed something, writes
    /// the file; on a failed write the change is undone in memory too.
    fn update(&self, change: impl FnOnce(&mut Data) -> bool) -> std::io::Result<()> {
        let mut d = self.lock();
        let before = d.clone();
        if !change(&mut d) {
            return Ok(());
        }
        let written = self.write(&d);
        if written.is_err() {
            *d = before;
        }
        written
    }

    fn write(&self, d: &Data) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(d).map_err(std::io::Error::other)?;
        super::atomic_file::replace(&self.path, |w| w.write_all(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn values_and_wipes_persist_privately() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keep::open(dir.path());
        assert_eq!(k.config("a"), None);
        k.set_config("a", Some("1")).unwrap();
        k.adopt_config(vec![("a".into(), "2".into()), ("b".into(), "3".into())])
            .unwrap();
        let l = |off| Loc {
            seg: 1,
            off,
            chunk_len: 9,
        };
        k.add_wipes(&[l(8), l(100)]).unwrap();
        k.forget_wipes(&[l(8)]).unwrap();
        let k = Keep::open(dir.path());
        assert_eq!(k.config("a").as_deref(), Some("1"));
        assert_eq!(k.config("b").as_deref(), Some("3"));
        assert_eq!(k.wipes(), [l(100)]);
        k.set_config("a", None).unwrap();
        assert_eq!(Keep::open(dir.path()).config("a"), None);
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join("keep.json.tmp").exists());
    }
}
