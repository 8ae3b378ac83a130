//! Replacing a small file whole, so that after a crash it is the old
//! version or the new one, never a mix: the new content goes to
//! `NAME.tmp` (created private, [`super::segments::FILE_MODE`]), is synced,
//! renamed over `NAME`, and the directory is synced (so the rename
//! outlives a crash too). A `NAME.tmp` a crash left is removed by the
//! next replacement, never read.
//!
//! Used for `keep.json` ([`super::keep`]). Not for forgetting a secret:
//! the old file's blocks go back to the filesystem with their bytes (see
//! `store::shred`, which zeroes keys in place instead, and
//! `store::people`, which blanks user ids in place).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `path` with `.tmp` appended to its name.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Replaces `path` with what `write` writes (see the module).
pub(crate) fn replace(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temporary(path);
    // One a crash left may have any mode: created afresh, private.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    {
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(super::segments::FILE_MODE)
            .open(&tmp)?;
        let mut w = BufWriter::new(f);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_and_private_and_a_failed_write_leaves_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(temporary(&path), b"left by a crash").unwrap();
        replace(&path, |w| w.write_all(b"one")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert!(!temporary(&path).exists());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = replace(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("no"))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one", "the old version");
    }
}
