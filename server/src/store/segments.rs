//! The segment log: where chunk bodies live, appended once, never rewritten
//! (except to wipe them).
//!
//! Files: `segments/NNNNNNNN.log` in the data dir, numbered from 1 in the
//! order they are written. Each is
//!
//! ```text
//! segment := "REELSEG1" record*
//! record  := len: u32 LE   crc: u32 LE   payload (len bytes)
//! payload := session id (16 bytes)   seq: u32 LE   now_ms: u64 LE   chunk (as received)
//! ```
//!
//! `crc` is the CRC-32 (IEEE) of `payload`. A position in the log is
//! `(segment, offset)`; positions order records in the order they were
//! written.
//!
//! Invariants:
//!
//! 1. One appender at a time (the ingest writer, or a CLI import), always
//!    at the end of the newest segment: records are never moved or
//!    rewritten. A group of records is one `pwrite`; it becomes durable
//!    with one `fdatasync` of every segment it touched ([`SegmentLog::sync`]),
//!    which then drops those bytes from the page cache (reads go to disk).
//! 2. Nothing refers to a record before it is durable: the index (in sled,
//!    see [`super::log`]) learns of a record only after the sync that
//!    covers it. So only the end of the newest segment can hold a write
//!    that was never acknowledged, and a crash can tear nothing else.
//! 3. A record is *intact* when its `len` is plausible and its `crc`
//!    matches; *wiped* when it keeps its `len` and has `crc` and payload
//!    all zero (its bytes are gone; a scan steps over it); otherwise *bad*.
//!    At open a bad record is handled by where it lies:
//!    - followed, in its segment, by an intact record: it is skipped and
//!      reported ([`Damage`]), and costs itself alone. The next record is
//!      found again even when the bad record's `len` is what is damaged:
//!      every chunk starts with `REEL`, so a record may start 36 bytes
//!      before each later `REEL`, and the first such candidate whose `len`
//!      is plausible and whose `crc` matches is the next record;
//!    - in a segment that is not the newest, with nothing intact after it:
//!      skipped and reported the same way (a crash tears only the newest);
//!    - in the newest segment with nothing intact after it: a torn tail
//!      (the write a crash interrupted, never acknowledged, see 2). Only
//!      this is cut: the file is truncated there. No segment is ever
//!      removed at open.
//!
//!    Records the index already covers are not re-read at open; one found
//!    bad when read is [`LogError::Corrupt`] (the store's `Damaged`): a
//!    reader skips that record alone.
//! 4. A segment is removed only once no live record is left in it, and
//!    never the newest one (the appender's).
//! 5. Every file and directory the log creates is private to its owner
//!    (0600 and 0700): chunks are what users did on a page.

use reel_shared::SessionId;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub const SEGMENT_MAGIC: &[u8; 8] = b"REELSEG1";
const SEGMENT_HEADER: u64 = SEGMENT_MAGIC.len() as u64;
/// `len` and `crc`.
const RECORD_HEAD: u64 = 8;
/// Session id, seq and the server's clock, before the chunk.
const PAYLOAD_HEAD: usize = 16 + 4 + 8;
/// A segment is closed once it holds this much; a group never straddles
/// two segments, so one may exceed it by a group.
pub const MAX_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// No record is larger: a `len` above it is garbage, not a record.
const MAX_RECORD: u64 = 1 << 30;

/// A position in the log: records before it, records after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub seg: u32,
    pub off: u64,
}

impl Pos {
    pub const START: Pos = Pos { seg: 0, off: 0 };

    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.seg.to_be_bytes());
        b[4..].copy_from_slice(&self.off.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Pos> {
        Some(Pos {
            seg: u32::from_be_bytes(b.get(..4)?.try_into().ok()?),
            off: u64::from_be_bytes(b.get(4..12)?.try_into().ok()?),
        })
    }
}

/// Where one record is: its segment, the offset of its `len`, and the
/// length of the chunk it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub seg: u32,
    pub off: u64,
    pub chunk_len: u32,
}

impl Loc {
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&self.seg.to_be_bytes());
        b[4..12].copy_from_slice(&self.off.to_be_bytes());
        b[12..].copy_from_slice(&self.chunk_len.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Loc> {
        Some(Loc {
            seg: u32::from_be_bytes(b.get(..4)?.try_into().ok()?),
            off: u64::from_be_bytes(b.get(4..12)?.try_into().ok()?),
            chunk_len: u32::from_be_bytes(b.get(12..16)?.try_into().ok()?),
        })
    }

    fn payload_len(self) -> u64 {
        PAYLOAD_HEAD as u64 + u64::from(self.chunk_len)
    }

    /// The position right after the record.
    pub fn end(self) -> Pos {
        Pos {
            seg: self.seg,
            off: self.off + RECORD_HEAD + self.payload_len(),
        }
    }
}

/// One record as read back.
#[derive(Debug)]
pub struct Record {
    pub loc: Loc,
    pub session: SessionId,
    pub seq: u32,
    pub now_ms: u64,
    pub chunk: Vec<u8>,
}

/// One record to append.
pub struct NewRecord<'a> {
    pub session: SessionId,
    pub seq: u32,
    pub now_ms: u64,
    pub chunk: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("segment log I/O: {0}")]
    Io(#[from] io::Error),
    #[error("segment log: {0}")]
    Corrupt(String),
}

/// A stretch of a segment that held no intact record, skipped at open
/// (invariant 3): what it cost is the records it held, nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    pub seg: u32,
    /// Where the stretch starts.
    pub off: u64,
    pub bytes: u64,
}

/// What opening found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Intact records at or after the position given to [`SegmentLog::open`].
    pub records: Vec<Record>,
    /// The end of the log as kept.
    pub end: Option<Pos>,
    /// Bytes cut off a torn tail of the newest segment, if any.
    pub cut_bytes: u64,
    /// Bad stretches skipped (and kept on disk) in the part re-read.
    pub damaged: Vec<Damage>,
}

/// The appender's end of the log.
struct Tail {
    seg: u32,
    file: Arc<File>,
    end: u64,
    /// What was written since the last sync, a range per segment.
    dirty: Vec<Dirty>,
}

/// Bytes `from..to` of segment `seg` are written but not yet synced.
struct Dirty {
    seg: u32,
    file: Arc<File>,
    from: u64,
    to: u64,
}

pub struct SegmentLog {
    dir: PathBuf,
    max_segment: u64,
    files: RwLock<BTreeMap<u32, Arc<File>>>,
    tail: Mutex<Tail>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asks the kernel to forget bytes `from..to` of a synced segment (and the
/// whole page `from` falls in, which the previous group left half
/// written), which it does for pages that are clean.
///
/// Why: the log is written once and read seldom (a replay, an export), so
/// its pages would only crowd out what is read often (sled's files), and
/// the kernel would spend CPU reclaiming them later. A page freed here is
/// also the next one the kernel hands out for the log's next write. Left
/// to grow, the page cache kept taking memory the guest had never touched
/// (or had handed back to the host), which on the virtual machine Reel is
/// benchmarked on costs a fault in the host per page: writing 22 KB pieces
/// ran at ~300 MB/s into such memory and at ~1,450 MB/s into recycled
/// pages, and on a freshly booted machine the copy into the page cache was
/// 18% of the server's CPU under load (1% with this). Advice only: a
/// failure changes nothing but the cache.
fn drop_cached(file: &File, from: u64, to: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        const PAGE: u64 = 4096;
        let start = from / PAGE * PAGE;
        let (Ok(off), Ok(len)) = (
            libc::off_t::try_from(start),
            libc::off_t::try_from(to.saturating_sub(start)),
        ) else {
            return;
        };
        // SAFETY: the descriptor is open for as long as `file` lives, and
        // posix_fadvise reads nothing from memory.
        let err =
            unsafe { libc::posix_fadvise(file.as_raw_fd(), off, len, libc::POSIX_FADV_DONTNEED) };
        if err != 0 {
            tracing::debug!(err, "posix_fadvise(DONTNEED) on the segment log failed");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, from, to);
}

fn segment_name(seg: u32) -> String {
    format!("{seg:08}.log")
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Owner only (invariant 5).
pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Makes `path` private to its owner if it is not already.
pub fn make_private(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// What the bytes at one position are.
enum Found {
    /// An intact record of this payload length.
    Intact(usize),
    /// A wiped record of this payload length.
    Wiped(usize),
    Bad,
}

/// Where a chunk (and its magic) starts within a record.
const CHUNK_AT: usize = RECORD_HEAD as usize + PAYLOAD_HEAD;

/// What `buf[p..]` starts with.
fn check_at(buf: &[u8], p: usize) -> Found {
    let Some(head) = buf.get(p..p + RECORD_HEAD as usize) else {
        return Found::Bad;
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len < PAYLOAD_HEAD || len as u64 > MAX_RECORD {
        return Found::Bad;
    }
    let start = p + RECORD_HEAD as usize;
    let Some(payload) = buf.get(start..start + len) else {
        return Found::Bad;
    };
    if crc == 0 && payload.iter().all(|b| *b == 0) {
        return Found::Wiped(len);
    }
    if crc32fast::hash(payload) == crc {
        Found::Intact(len)
    } else {
        Found::Bad
    }
}

/// The record whose intact bytes start at `buf[p..]`, of payload length
/// `len` (see [`check_at`]).
fn record_at(seg: u32, base: u64, buf: &[u8], p: usize, len: usize) -> Option<Record> {
    let payload = buf.get(p + RECORD_HEAD as usize..p + RECORD_HEAD as usize + len)?;
    let session = SessionId::from_slice(payload.get(..16)?)?;
    let seq = u32::from_le_bytes(payload.get(16..20)?.try_into().ok()?);
    let now_ms = u64::from_le_bytes(payload.get(20..28)?.try_into().ok()?);
    Some(Record {
        loc: Loc {
            seg,
            off: base + p as u64,
            chunk_len: u32::try_from(len - PAYLOAD_HEAD).ok()?,
        },
        session,
        seq,
        now_ms,
        chunk: payload[PAYLOAD_HEAD..].to_vec(),
    })
}

/// The first intact record after a bad one at `p` (invariant 3): a
/// candidate start 36 bytes before each later `REEL`, the chunk magic.
fn resync(buf: &[u8], p: usize) -> Option<usize> {
    let from = p + 1 + CHUNK_AT;
    let rest = buf.get(from..)?;
    memchr::memmem::find_iter(rest, reel_shared::chunk::MAGIC)
        .map(|r| from + r - CHUNK_AT)
        .find(|&q| matches!(check_at(buf, q), Found::Intact(_)))
}

/// How a scan of one segment's bytes (from `base`) ended.
enum ScanEnd {
    Clean,
    /// Bad from this byte (relative to the scanned buffer) on, with no
    /// intact record after it.
    BadToEnd(usize),
}

/// Parses records from `buf`, which starts at offset `base` of segment
/// `seg`: intact ones are pushed to `out`, wiped ones skipped, bad
/// stretches followed by an intact record skipped and pushed to `damaged`.
fn scan(
    seg: u32,
    base: u64,
    buf: &[u8],
    out: &mut Vec<Record>,
    damaged: &mut Vec<Damage>,
) -> ScanEnd {
    let mut p = 0usize;
    while p < buf.len() {
        match check_at(buf, p) {
            Found::Intact(len) => {
                match record_at(seg, base, buf, p, len) {
                    Some(r) => out.push(r),
                    // A checksum that matches a payload too short to parse
                    // cannot happen (`len` is checked): count it as damage.
                    None => damaged.push(Damage {
                        seg,
                        off: base + p as u64,
                        bytes: (RECORD_HEAD as usize + len) as u64,
                    }),
                }
                p += RECORD_HEAD as usize + len;
            }
            Found::Wiped(len) => p += RECORD_HEAD as usize + len,
            Found::Bad => match resync(buf, p) {
                Some(q) => {
                    damaged.push(Damage {
                        seg,
                        off: base + p as u64,
                        bytes: (q - p) as u64,
                    });
                    p = q;
                }
                None => return ScanEnd::BadToEnd(p),
            },
        }
    }
    ScanEnd::Clean
}

impl SegmentLog {
    /// Opens (or creates) the log in `dir`, returning every intact record
    /// at or after `from` (the index already holds those before), and
    /// cutting a torn tail (invariant 3).
    pub fn open(dir: &Path, from: Pos) -> Result<(SegmentLog, Recovered), LogError> {
        Self::open_with(dir, from, MAX_SEGMENT_BYTES)
    }

    pub fn open_with(
        dir: &Path,
        from: Pos,
        max_segment: u64,
    ) -> Result<(SegmentLog, Recovered), LogError> {
        std::fs::create_dir_all(dir)?;
        make_private(dir, DIR_MODE)?;
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .filter(|n| n.len() == 8)
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            numbers.push(n);
        }
        numbers.sort_unstable();
        let newest = numbers.last().copied();

        let mut files = BTreeMap::new();
        let mut rec = Recovered::default();
        let mut cut = false;
        for seg in numbers {
            let path = dir.join(segment_name(seg));
            make_private(&path, FILE_MODE)?;
            let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
            if seg < from.seg {
                // Wholly indexed: nothing to read.
                files.insert(seg, Arc::new(file));
                continue;
            }
            let is_newest = Some(seg) == newest;
            let len = file.metadata()?.len();
            let mut magic = [0u8; SEGMENT_MAGIC.len()];
            let header_ok = len >= SEGMENT_HEADER
                && file.read_exact_at(&mut magic, 0).is_ok()
                && &magic == SEGMENT_MAGIC;
            let start = if seg == from.seg {
                from.off.max(SEGMENT_HEADER)
            } else {
                SEGMENT_HEADER
            };
            if start > len {
                if is_newest && !header_ok {
                    files.insert(seg, Self::reset_unlanded(file, seg, len, &mut rec)?);
                    cut = true;
                    continue;
                }
                return Err(LogError::Corrupt(format!(
                    "the index covers {start} bytes of segment {seg}, which holds {len}"
                )));
            }
            let mut buf = Vec::with_capacity((len - start) as usize);
            file.seek(SeekFrom::Start(start))?;
            (&mut file).take(len - start).read_to_end(&mut buf)?;
            let found_before = rec.records.len();
            let ended = scan(seg, start, &buf, &mut rec.records, &mut rec.damaged);
            let found_any = rec.records.len() > found_before;
            if !header_ok && start == SEGMENT_HEADER {
                if is_newest && !found_any && rec.damaged.last().is_none_or(|d| d.seg != seg) {
                    files.insert(seg, Self::reset_unlanded(file, seg, len, &mut rec)?);
                    cut = true;
                    continue;
                }
                rec.damaged.push(Damage {
                    seg,
                    off: 0,
                    bytes: SEGMENT_HEADER,
                });
            }
            match ended {
                ScanEnd::Clean => rec.end = Some(Pos { seg, off: len }),
                ScanEnd::BadToEnd(p) if is_newest => {
                    // A torn tail: the only thing ever cut.
                    let at = start + p as u64;
                    rec.cut_bytes += len - at;
                    file.set_len(at)?;
                    file.sync_all()?;
                    rec.end = Some(Pos { seg, off: at });
                    cut = true;
                }
                ScanEnd::BadToEnd(p) => {
                    let at = start + p as u64;
                    rec.damaged.push(Damage {
                        seg,
                        off: at,
                        bytes: len - at,
                    });
                    rec.end = Some(Pos { seg, off: len });
                }
            }
            files.insert(seg, Arc::new(file));
        }
        if cut {
            sync_dir(dir)?;
        }
        rec.damaged.sort_by_key(|d| (d.seg, d.off));

        // The appender continues the newest segment, or starts one.
        let tail = match files.iter().next_back() {
            Some((&seg, file)) if seg >= from.seg => {
                let end = file.metadata()?.len();
                Tail {
                    seg,
                    file: file.clone(),
                    end,
                    dirty: Vec::new(),
                }
            }
            last => {
                let seg = last.map_or(0, |(s, _)| *s).max(from.seg) + 1;
                let file = Arc::new(Self::create_segment(dir, seg)?);
                files.insert(seg, file.clone());
                rec.end = Some(Pos {
                    seg,
                    off: SEGMENT_HEADER,
                });
                Tail {
                    seg,
                    file,
                    end: SEGMENT_HEADER,
                    dirty: Vec::new(),
                }
            }
        };
        if rec.end.is_none() {
            rec.end = Some(Pos {
                seg: tail.seg,
                off: tail.end,
            });
        }
        Ok((
            SegmentLog {
                dir: dir.to_path_buf(),
                max_segment,
                files: RwLock::new(files),
                tail: Mutex::new(tail),
            },
            rec,
        ))
    }

    /// Empties a segment down to its header.
    /// The newest segment, `len` bytes long, was created but its header
    /// never made it: nothing in it was ever synced (a group is synced
    /// after the header), so it goes back to a bare header.
    fn reset_unlanded(
        file: File,
        seg: u32,
        len: u64,
        rec: &mut Recovered,
    ) -> io::Result<Arc<File>> {
        rec.cut_bytes += len;
        Self::reset(&file)?;
        rec.end = Some(Pos {
            seg,
            off: SEGMENT_HEADER,
        });
        Ok(Arc::new(file))
    }

    fn reset(file: &File) -> io::Result<()> {
        file.set_len(0)?;
        file.write_all_at(SEGMENT_MAGIC, 0)?;
        file.sync_all()
    }

    /// A new, empty segment whose name is durable in the directory.
    fn create_segment(dir: &Path, seg: u32) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(dir.join(segment_name(seg)))?;
        file.write_all_at(SEGMENT_MAGIC, 0)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(file)
    }

    /// Appends `records` as one write at the end of the log (starting a
    /// new segment first when the current one is full). Not durable until
    /// [`SegmentLog::sync`].
    pub fn append(&self, records: &[NewRecord<'_>]) -> Result<Vec<Loc>, LogError> {
        let total: u64 = records
            .iter()
            .map(|r| RECORD_HEAD + PAYLOAD_HEAD as u64 + r.chunk.len() as u64)
            .sum();
        let mut tail = lock(&self.tail);
        if tail.end > SEGMENT_HEADER && tail.end + total > self.max_segment {
            let seg = tail.seg + 1;
            let file = Arc::new(Self::create_segment(&self.dir, seg)?);
            self.files
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(seg, file.clone());
            tail.seg = seg;
            tail.file = file;
            tail.end = SEGMENT_HEADER;
        }
        let mut buf = Vec::with_capacity(total as usize);
        let mut locs = Vec::with_capacity(records.len());
        for r in records {
            let chunk_len = u32::try_from(r.chunk.len())
                .ok()
                .filter(|l| u64::from(*l) + (PAYLOAD_HEAD as u64) <= MAX_RECORD)
                .ok_or_else(|| LogError::Corrupt("a chunk too large for a record".into()))?;
            let off = tail.end + buf.len() as u64;
            let len = PAYLOAD_HEAD as u32 + chunk_len;
            buf.extend_from_slice(&len.to_le_bytes());
            let crc_at = buf.len();
            buf.extend_from_slice(&[0; 4]);
            let payload_at = buf.len();
            buf.extend_from_slice(r.session.as_bytes());
            buf.extend_from_slice(&r.seq.to_le_bytes());
            buf.extend_from_slice(&r.now_ms.to_le_bytes());
            buf.extend_from_slice(r.chunk);
            let crc = crc32fast::hash(&buf[payload_at..]);
            buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
            locs.push(Loc {
                seg: tail.seg,
                off,
                chunk_len,
            });
        }
        let at = tail.end;
        tail.file.write_all_at(&buf, at)?;
        tail.end += buf.len() as u64;
        let (seg, to) = (tail.seg, tail.end);
        match tail.dirty.last_mut() {
            Some(d) if d.seg == seg => d.to = to,
            _ => {
                let file = tail.file.clone();
                tail.dirty.push(Dirty {
                    seg,
                    file,
                    from: at,
                    to,
                });
            }
        }
        Ok(locs)
    }

    /// Makes every append that returned before the call durable: one
    /// `fdatasync` per segment written since the last sync. Then the
    /// synced bytes leave the page cache (see [`drop_cached`]).
    pub fn sync(&self) -> Result<(), LogError> {
        let dirty = std::mem::take(&mut lock(&self.tail).dirty);
        for d in &dirty {
            d.file.sync_data()?;
            drop_cached(&d.file, d.from, d.to);
        }
        Ok(())
    }

    fn file(&self, seg: u32) -> Option<Arc<File>> {
        self.files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&seg)
            .cloned()
    }

    /// Reads the record at `loc` back, checking its checksum:
    /// [`LogError::Corrupt`] when the bytes there are not that record
    /// intact (damaged, wiped, cut off or gone), the I/O error otherwise.
    pub fn read(&self, loc: Loc) -> Result<Record, LogError> {
        let file = self
            .file(loc.seg)
            .ok_or_else(|| LogError::Corrupt(format!("segment {} is missing", loc.seg)))?;
        let mut buf = vec![0u8; (RECORD_HEAD + loc.payload_len()) as usize];
        match file.read_exact_at(&mut buf, loc.off) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(LogError::Corrupt(format!(
                    "segment {} ends before the record at offset {}",
                    loc.seg, loc.off
                )))
            }
            r => r?,
        }
        match check_at(&buf, 0) {
            Found::Intact(len) if len as u64 == loc.payload_len() => {
                record_at(loc.seg, loc.off, &buf, 0, len)
                    .ok_or_else(|| LogError::Corrupt("no record".into()))
            }
            _ => Err(LogError::Corrupt(format!(
                "no intact record at segment {} offset {}",
                loc.seg, loc.off
            ))),
        }
    }

    /// Overwrites the records at `locs` with zeros (all but their `len`)
    /// and syncs: their bytes are gone from the disk when this returns.
    /// A location in a segment already removed, or past the end of one
    /// (a damaged tail cut at open), is skipped.
    pub fn wipe(&self, locs: &[Loc]) -> Result<(), LogError> {
        let mut touched: BTreeMap<u32, Arc<File>> = BTreeMap::new();
        let zeros = vec![0u8; 64 * 1024];
        for loc in locs {
            let Some(file) = self.file(loc.seg) else {
                continue;
            };
            let from = loc.off + 4;
            let to = loc.end().off.min(file.metadata()?.len());
            let mut at = from;
            while at < to {
                let n = (to - at).min(zeros.len() as u64) as usize;
                file.write_all_at(&zeros[..n], at)?;
                at += n as u64;
            }
            touched.insert(loc.seg, file);
        }
        for f in touched.values() {
            f.sync_data()?;
        }
        Ok(())
    }

    /// The segment being appended to.
    pub fn current(&self) -> u32 {
        lock(&self.tail).seg
    }

    /// Every segment's number, oldest first.
    pub fn segments(&self) -> Vec<u32> {
        self.files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Removes a segment (invariant 4: the caller knows nothing in it is
    /// live). The current one is never removed. Readers that already hold
    /// the file keep reading it.
    pub fn remove_segment(&self, seg: u32) -> Result<bool, LogError> {
        let tail = lock(&self.tail);
        if seg == tail.seg {
            return Ok(false);
        }
        let removed = self
            .files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seg)
            .is_some();
        drop(tail);
        if removed {
            std::fs::remove_file(self.dir.join(segment_name(seg)))?;
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// The bytes all segments occupy.
    pub fn size(&self) -> Result<u64, LogError> {
        let files: Vec<Arc<File>> = self
            .files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut n = 0;
        for f in files {
            n += f.metadata()?.len();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(id: u8, seq: u32, chunk: &[u8]) -> NewRecord<'_> {
        NewRecord {
            session: SessionId([id; 16]),
            seq,
            now_ms: 42 + u64::from(seq),
            chunk,
        }
    }

    fn seg_path(dir: &Path, seg: u32) -> PathBuf {
        dir.join(segment_name(seg))
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn appends_read_back_and_reopen_from_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let (log, rec0) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        assert!(rec0.records.is_empty());
        let locs = log
            .append(&[new(1, 0, b"alpha"), new(1, 1, b"beta")])
            .unwrap();
        let more = log.append(&[new(2, 7, b"gamma")]).unwrap();
        log.sync().unwrap();
        let r = log.read(locs[1]).unwrap();
        assert_eq!((r.session, r.seq, r.now_ms), (SessionId([1; 16]), 1, 43));
        assert_eq!(r.chunk, b"beta");
        assert_eq!(log.read(more[0]).unwrap().chunk, b"gamma");
        drop(log);

        // From the end of the first record: the two after it.
        let (log, rec) = SegmentLog::open(dir.path(), locs[0].end()).unwrap();
        let seqs: Vec<u32> = rec.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 7]);
        assert_eq!(rec.records[1].loc, more[0]);
        assert_eq!(rec.end, Some(more[0].end()));
        assert_eq!(rec.cut_bytes, 0);
        // Appends continue after what is there.
        let next = log.append(&[new(3, 0, b"delta")]).unwrap();
        assert_eq!(next[0].off, more[0].end().off);
    }

    /// How many of a file's pages are in the page cache (mincore on a
    /// mapping of it).
    #[cfg(target_os = "linux")]
    fn cached_pages(file: &File) -> usize {
        use std::os::fd::AsRawFd;
        let len = file.metadata().unwrap().len() as usize;
        let pages = len.div_ceil(4096);
        let mut resident = vec![0u8; pages];
        // SAFETY: a read-only shared mapping of an open file, of its
        // length, unmapped before return; mincore writes one byte per page
        // into a buffer of that many.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(addr, libc::MAP_FAILED);
            assert_eq!(libc::mincore(addr, len, resident.as_mut_ptr()), 0);
            libc::munmap(addr, len);
        }
        resident.iter().filter(|b| **b & 1 == 1).count()
    }

    /// A synced group leaves the page cache: the log does not grow it.
    #[cfg(target_os = "linux")]
    #[test]
    fn synced_records_leave_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        let chunk = vec![7u8; 100_000];
        let path = seg_path(dir.path(), log.current());
        let file = File::open(&path).unwrap();
        // tmpfs pages are the file itself: there is no disk to drop them to.
        let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
        let c_dir = std::ffi::CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path and a buffer of the struct's size.
        assert_eq!(unsafe { libc::statfs(c_dir.as_ptr(), fs.as_mut_ptr()) }, 0);
        // SAFETY: statfs returned 0, so it filled the struct.
        if unsafe { fs.assume_init() }.f_type == libc::TMPFS_MAGIC {
            eprintln!("the temp dir is on tmpfs, which has no page cache to leave: skipped");
            return;
        }
        for round in 0..3 {
            let records: Vec<_> = (0..5).map(|i| new(1, round * 5 + i, &chunk)).collect();
            log.append(&records).unwrap();
            let written = cached_pages(&file);
            log.sync().unwrap();
            // What may stay: the page the next group continues.
            let left = cached_pages(&file);
            assert!(
                left <= 1,
                "{left} of {written} pages still cached after round {round}"
            );
        }
        // And the records still read back, from the disk.
        let all = SegmentLog::open(dir.path(), Pos::START).unwrap().1.records;
        assert_eq!(all.len(), 15);
        assert!(all.iter().all(|r| r.chunk == chunk));
    }

    #[test]
    fn a_torn_tail_is_cut_and_appends_continue_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        let locs = log
            .append(&[new(1, 0, b"one"), new(1, 1, b"two"), new(1, 2, b"three")])
            .unwrap();
        log.sync().unwrap();
        drop(log);
        // The last record half written.
        let path = seg_path(dir.path(), locs[2].seg);
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(locs[2].off + 10).unwrap();
        let (log, rec) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        assert_eq!(rec.records.len(), 2);
        assert_eq!(rec.end, Some(locs[1].end()));
        assert_eq!(rec.cut_bytes, 10);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), locs[1].end().off);
        let again = log.append(&[new(1, 2, b"three")]).unwrap();
        assert_eq!(again[0].off, locs[2].off);
        log.sync().unwrap();
        assert_eq!(log.read(again[0]).unwrap().chunk, b"three");
        // Only a few bytes of a header.
        drop(log);
        f.set_len(locs[2].end().off + 3).unwrap();
        let (_, rec) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        assert_eq!(rec.records.len(), 3);
        assert_eq!(rec.cut_bytes, 3);
    }

    /// A chunk as the log sees one: it starts with the chunk magic.
    fn chunk_of(seq: u32) -> Vec<u8> {
        let mut c = b"REEL".to_vec();
        c.extend((0..20 + (seq % 10) * 7).map(|i| (i * 31 + seq) as u8));
        c
    }

    /// A log of several segments (each a few records), written and
    /// closed; the records' locations, in order.
    fn several_segments(dir: &Path) -> Vec<Loc> {
        let (log, _) = SegmentLog::open_with(dir, Pos::START, 300).unwrap();
        let mut locs = Vec::new();
        for seq in 0..14u32 {
            let c = chunk_of(seq);
            // Some groups of two records, some of one.
            if seq % 3 == 1 {
                let c2 = chunk_of(seq + 100);
                let l = log
                    .append(&[new(1, seq, &c), new(1, seq + 100, &c2)])
                    .unwrap();
                locs.extend(l);
            } else {
                locs.extend(log.append(&[new(1, seq, &c)]).unwrap());
            }
        }
        log.sync().unwrap();
        assert!(log.segments().len() >= 4, "{:?}", log.segments());
        locs
    }

    fn copy_dir(from: &Path, to: &Path) {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    /// One byte flipped at every record boundary (`len`, `crc`) and inside
    /// every record (session id, seq, clock, chunk magic, chunk bytes),
    /// in every segment: at open, every other record is there, no segment
    /// is gone, and appends continue. The damaged record is reported
    /// when something intact follows it, or cut as a torn tail when it
    /// ends the newest segment.
    #[test]
    fn a_flipped_byte_costs_its_own_record_alone() {
        let pristine = tempfile::tempdir().unwrap();
        let locs = several_segments(pristine.path());
        let newest = locs.last().unwrap().seg;
        let segs: Vec<u32> = {
            let mut s: Vec<u32> = locs.iter().map(|l| l.seg).collect();
            s.dedup();
            s
        };
        // Offsets within a record: len (first and last byte), crc, session,
        // seq, clock, the chunk's magic, its middle, its last byte.
        let within = |l: &Loc| {
            let n = RECORD_HEAD + l.payload_len();
            [0, 3, 4, 7, 8, 23, 24, 28, 36, 38, n - 1]
        };
        let mut cases = 0;
        for (i, loc) in locs.iter().enumerate() {
            for d in within(loc) {
                for bit in [0x01u8, 0x80] {
                    let dir = tempfile::tempdir().unwrap();
                    copy_dir(pristine.path(), dir.path());
                    let path = seg_path(dir.path(), loc.seg);
                    let mut bytes = std::fs::read(&path).unwrap();
                    bytes[(loc.off + d) as usize] ^= bit;
                    std::fs::write(&path, &bytes).unwrap();

                    let (log, rec) = SegmentLog::open_with(dir.path(), Pos::START, 300).unwrap();
                    let what = format!("record {i} ({loc:?}), byte {d}, bit {bit:#x}");
                    let got: Vec<Loc> = rec.records.iter().map(|r| r.loc).collect();
                    let want: Vec<Loc> = locs.iter().copied().filter(|l| l != loc).collect();
                    assert_eq!(got, want, "{what}");
                    for r in &rec.records {
                        assert_eq!(r.chunk, chunk_of(r.seq), "{what}");
                    }
                    assert_eq!(log.segments(), segs, "{what}: a segment went");
                    let last_of_newest = i == locs.len() - 1;
                    if last_of_newest {
                        assert!(rec.damaged.is_empty(), "{what}");
                        assert_eq!(rec.cut_bytes, RECORD_HEAD + loc.payload_len(), "{what}");
                    } else {
                        assert_eq!(rec.cut_bytes, 0, "{what}");
                        assert_eq!(rec.damaged.len(), 1, "{what}");
                        let dmg = rec.damaged[0];
                        assert_eq!((dmg.seg, dmg.off), (loc.seg, loc.off), "{what}");
                        assert!(log.read(*loc).is_err(), "{what}");
                    }
                    for l in &want {
                        assert_eq!(
                            log.read(*l).unwrap().chunk,
                            chunk_of(log.read(*l).unwrap().seq)
                        );
                    }
                    // Appends continue, at the end of the newest segment.
                    let c = chunk_of(999);
                    let next = log.append(&[new(1, 999, &c)]).unwrap();
                    log.sync().unwrap();
                    assert_eq!(next[0].seg, newest, "{what}");
                    assert_eq!(log.read(next[0]).unwrap().chunk, c, "{what}");
                    drop(log);
                    // And a second open finds the same, plus the new one.
                    let (_, again) = SegmentLog::open_with(dir.path(), Pos::START, 300).unwrap();
                    assert_eq!(again.records.len(), want.len() + 1, "{what}");
                    cases += 1;
                }
            }
        }
        assert!(cases > 300, "{cases}");
    }

    /// The same from a position (the index covers what is before it): a
    /// flip after it is skipped as above; one before it is not read at
    /// open, and reading that record says it is damaged.
    #[test]
    fn a_flip_before_or_after_the_indexed_position() {
        let pristine = tempfile::tempdir().unwrap();
        let locs = several_segments(pristine.path());
        let from = locs[locs.len() / 2].end();
        for (i, loc) in locs.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            copy_dir(pristine.path(), dir.path());
            let path = seg_path(dir.path(), loc.seg);
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[(loc.off + 1) as usize] ^= 0x10; // the len field
            std::fs::write(&path, &bytes).unwrap();
            let (log, rec) = SegmentLog::open_with(dir.path(), from, 300).unwrap();
            let got: Vec<Loc> = rec.records.iter().map(|r| r.loc).collect();
            let want: Vec<Loc> = locs
                .iter()
                .copied()
                .filter(|l| l.end() > from && l != loc)
                .collect();
            assert_eq!(got, want, "record {i}");
            assert!(
                matches!(log.read(*loc), Err(LogError::Corrupt(_))),
                "record {i}"
            );
            for l in locs.iter().filter(|l| *l != loc) {
                assert!(log.read(*l).is_ok(), "record {i}: {l:?}");
            }
        }
    }

    /// A damaged segment header costs nothing; several damaged records
    /// in a row cost only themselves; a wiped record after a damaged one
    /// is stepped over.
    #[test]
    fn damaged_headers_runs_and_wiped_neighbours() {
        let pristine = tempfile::tempdir().unwrap();
        let locs = several_segments(pristine.path());
        let dir = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), dir.path());
        // The header of the second segment, and records 1 and 2 (one
        // group, back to back) of the first.
        assert!(locs[..4].iter().all(|l| l.seg == 1), "{locs:?}");
        assert_ne!(locs[4].seg, 1, "record 3 ends segment 1: {locs:?}");
        let seg2 = locs.iter().find(|l| l.seg == 2).unwrap().seg;
        let p2 = seg_path(dir.path(), seg2);
        let mut b = std::fs::read(&p2).unwrap();
        b[2] ^= 0xff;
        std::fs::write(&p2, &b).unwrap();
        let p1 = seg_path(dir.path(), 1);
        let mut b = std::fs::read(&p1).unwrap();
        b[locs[1].off as usize + 2] ^= 0x01;
        b[locs[2].off as usize + 30] ^= 0x01;
        std::fs::write(&p1, &b).unwrap();
        {
            let (log, _) = SegmentLog::open_with(dir.path(), Pos::START, 300).unwrap();
            log.wipe(&[locs[3]]).unwrap();
        }
        let (_, rec) = SegmentLog::open_with(dir.path(), Pos::START, 300).unwrap();
        let got: Vec<Loc> = rec.records.iter().map(|r| r.loc).collect();
        let want: Vec<Loc> = locs
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| ![1, 2, 3].contains(i))
            .map(|(_, l)| l)
            .collect();
        assert_eq!(got, want);
        assert_eq!(rec.cut_bytes, 0);
        assert!(rec.damaged.iter().any(|d| (d.seg, d.off) == (seg2, 0)));
    }

    #[test]
    fn wipe_zeroes_the_bytes_and_scans_step_over_them() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        let secret = b"SECRET-do-not-keep-me";
        let locs = log
            .append(&[new(1, 0, b"before"), new(2, 0, secret), new(1, 1, b"after")])
            .unwrap();
        log.sync().unwrap();
        let path = seg_path(dir.path(), locs[1].seg);
        assert!(contains(&std::fs::read(&path).unwrap(), secret));
        log.wipe(&[locs[1]]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, secret));
        assert!(!contains(&bytes, &[2u8; 16]), "the session id is gone too");
        assert!(log.read(locs[1]).is_err());
        assert_eq!(log.read(locs[2]).unwrap().chunk, b"after");
        drop(log);
        let (_, rec) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        let chunks: Vec<&[u8]> = rec.records.iter().map(|r| &r.chunk[..]).collect();
        assert_eq!(chunks, [&b"before"[..], &b"after"[..]]);
        assert_eq!(rec.cut_bytes, 0);
    }

    #[test]
    fn segments_rotate_and_dead_ones_can_go_but_never_the_current() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SegmentLog::open_with(dir.path(), Pos::START, 100).unwrap();
        let mut locs = Vec::new();
        for seq in 0..6 {
            locs.extend(log.append(&[new(1, seq, &[7u8; 40])]).unwrap());
        }
        log.sync().unwrap();
        assert_eq!(log.segments(), [1, 2, 3, 4, 5, 6]);
        assert!(log.remove_segment(2).unwrap());
        assert!(!log.remove_segment(6).unwrap(), "the current segment stays");
        assert!(!seg_path(dir.path(), 2).exists());
        assert!(log.read(locs[1]).is_err());
        assert_eq!(log.read(locs[2]).unwrap().seq, 2);
        log.wipe(&[locs[1]]).unwrap(); // already gone: skipped
        drop(log);
        // An index that covers up to a removed segment reads on from there.
        let (_, rec) = SegmentLog::open_with(dir.path(), locs[1].end(), 100).unwrap();
        let seqs: Vec<u32> = rec.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [2, 3, 4, 5]);
    }

    #[test]
    fn a_segment_whose_header_never_landed_is_reset() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        log.append(&[new(1, 0, b"kept")]).unwrap();
        log.sync().unwrap();
        drop(log);
        std::fs::write(seg_path(dir.path(), 2), b"REE").unwrap();
        let (log, rec) = SegmentLog::open(dir.path(), Pos::START).unwrap();
        assert_eq!(rec.records.len(), 1);
        assert_eq!(log.current(), 2);
        let l = log.append(&[new(1, 1, b"next")]).unwrap();
        assert_eq!((l[0].seg, l[0].off), (2, SEGMENT_HEADER));
    }
}
