//! Disk headroom: ingest stops (`507`) while the data dir's filesystem has
//! less than a configured amount free, so that neither the segment log nor
//! sled ever meets a full disk in the middle of a write (sled, once it has
//! hit one, needed tens of MB free to open again).
//!
//! Asking the filesystem (`statvfs`) costs a system call, so the figure is
//! cached: between two asks the bytes appended meanwhile are subtracted
//! from it, and it is asked again at most every [`RECHECK_EVERY`], or
//! sooner once [`RECHECK_BYTES`] were appended since.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default headroom: this much, or [`DEFAULT_FRACTION`] of the
/// filesystem if that is less (a small disk keeps most of its room).
pub const DEFAULT_MIN_FREE: u64 = 256 * 1024 * 1024;
pub const DEFAULT_FRACTION: u64 = 20; // 1/20 = 5%

const RECHECK_EVERY: Duration = Duration::from_millis(100);
const RECHECK_BYTES: u64 = 8 * 1024 * 1024;

/// Free and total bytes of the filesystem holding `path`, as an
/// unprivileged user sees them.
// The fields' types differ between platforms (u64 here).
#[allow(clippy::useless_conversion)]
pub fn space(path: &Path) -> std::io::Result<(u64, u64)> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(std::io::Error::other)?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a NUL-terminated path and a buffer of the struct's size.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let st = unsafe { st.assume_init() };
    let unit = u64::from(st.f_frsize);
    Ok((
        u64::from(st.f_bavail).saturating_mul(unit),
        u64::from(st.f_blocks).saturating_mul(unit),
    ))
}

struct Cached {
    at: Instant,
    free: u64,
    appended: u64,
}

pub struct Headroom {
    dir: PathBuf,
    min_free: u64,
    cached: Mutex<Option<Cached>>,
}

/// Why a write was refused.
#[derive(Debug)]
pub struct Short {
    pub free: u64,
    pub min_free: u64,
}

impl Headroom {
    /// `min_free`: the headroom, or the default for this filesystem.
    pub fn new(dir: &Path, min_free: Option<u64>) -> Self {
        let min_free = min_free.unwrap_or_else(|| match space(dir) {
            Ok((_, total)) => DEFAULT_MIN_FREE.min(total / DEFAULT_FRACTION),
            Err(_) => DEFAULT_MIN_FREE,
        });
        Headroom {
            dir: dir.to_path_buf(),
            min_free,
            cached: Mutex::new(None),
        }
    }

    pub fn min_free(&self) -> u64 {
        self.min_free
    }

    /// Whether `bytes` more may be written and still leave the headroom.
    pub fn check(&self, bytes: u64) -> Result<(), Short> {
        if self.min_free == 0 {
            return Ok(());
        }
        let mut c = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        let stale = c
            .as_ref()
            .is_none_or(|c| c.at.elapsed() >= RECHECK_EVERY || c.appended >= RECHECK_BYTES);
        if stale {
            match space(&self.dir) {
                Ok((free, _)) => {
                    *c = Some(Cached {
                        at: Instant::now(),
                        free,
                        appended: 0,
                    })
                }
                // Cannot tell: let the write meet the disk (a real ENOSPC
                // is answered 507 as well).
                Err(e) => {
                    tracing::debug!("statvfs on the data dir failed: {e}");
                    return Ok(());
                }
            }
        }
        let Some(c) = c.as_ref() else { return Ok(()) };
        let free = c.free.saturating_sub(c.appended);
        if free.saturating_sub(bytes) < self.min_free {
            return Err(Short {
                free,
                min_free: self.min_free,
            });
        }
        Ok(())
    }

    /// Counts `bytes` written since the last ask.
    pub fn appended(&self, bytes: u64) {
        let mut c = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = c.as_mut() {
            c.appended = c.appended.saturating_add(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_headroom_and_counts_appends() {
        let dir = tempfile::tempdir().unwrap();
        let (free, _) = space(dir.path()).unwrap();
        assert!(Headroom::new(dir.path(), Some(0)).check(u64::MAX).is_ok());
        let h = Headroom::new(dir.path(), Some(free + (1 << 30)));
        assert!(h.check(0).is_err());
        let h = Headroom::new(dir.path(), Some(1));
        assert!(h.check(1024).is_ok());
        assert!(h.check(u64::MAX).is_err(), "the write itself counts");
    }
}
