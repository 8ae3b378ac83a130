//! Searching for a secret everywhere it must not be: raw and decompressed
//! chunks, API responses, every file of the server's data directory.
//!
//! Why bytes and not just strings: sled stores values raw and the body is
//! zstd-compressed MessagePack, so a leak can hide in binary data; and a
//! careless recorder could ship a value as UTF-16 (a JS string's native
//! form). We search each encoding we know a leak could take.

use anyhow::{Context, Result};
use reel_shared::chunk::{decode_header, decompress_body};
use reel_shared::{decode_chunk, Limits};
use std::path::{Path, PathBuf};

/// The encodings of `secret` to look for: UTF-8 and UTF-16LE.
pub fn needles(secret: &str) -> Vec<(&'static str, Vec<u8>)> {
    let utf16: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    vec![("utf-8", secret.as_bytes().to_vec()), ("utf-16le", utf16)]
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    crate::http::find(haystack, needle).is_some()
}

/// Every file under `dir` (recursively) that holds `secret` in any of the
/// [`needles`] encodings, as `(path, encoding)`.
pub fn files_containing(dir: &Path, secret: &str) -> Result<Vec<(PathBuf, &'static str)>> {
    let needles = needles(secret);
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                for (enc, n) in &needles {
                    if contains(&bytes, n) {
                        found.push((path.clone(), *enc));
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The total size of the files under `dir`, recursively: a sanity check
/// that a directory searched for leaks holds anything at all.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry?;
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}

/// Decodes every chunk (failing on any that does not decode) and reports
/// where `secret` appears: in the raw bytes, the decompressed body, or the
/// decoded events. Returns the places, empty when clean.
pub fn chunk_leaks(chunks: &[Vec<u8>], secret: &str) -> Result<Vec<String>> {
    let limits = Limits::default();
    let needles = needles(secret);
    let mut leaks = Vec::new();
    for (i, raw) in chunks.iter().enumerate() {
        let chunk = decode_chunk(raw, &limits).with_context(|| format!("decoding chunk #{i}"))?;
        let (_, body) =
            decode_header(raw, &limits).with_context(|| format!("chunk #{i} header"))?;
        let plain = decompress_body(body, &limits).with_context(|| format!("chunk #{i} body"))?;
        let events = format!("{:?}", chunk.events);
        for (enc, n) in &needles {
            if contains(raw, n) {
                leaks.push(format!(
                    "chunk #{i} (seq {}) raw bytes, {enc}",
                    chunk.header.seq
                ));
            }
            if contains(&plain, n) {
                leaks.push(format!(
                    "chunk #{i} (seq {}) decompressed body, {enc}",
                    chunk.header.seq
                ));
            }
        }
        if events.contains(secret) {
            leaks.push(format!(
                "chunk #{i} (seq {}) decoded events",
                chunk.header.seq
            ));
        }
    }
    Ok(leaks)
}

/// Every place a stored session could hold `secret`: the events API, the
/// raw and decompressed chunks and their decoded events, every file of the
/// server's data directory (UTF-8 and UTF-16LE), and the sessions list.
/// Returns the places, empty when clean.
pub async fn stored_leaks(
    server: &crate::ReelServer,
    sid: &str,
    secret: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let events = serde_json::to_string(&server.events(sid).await?)?;
    if events.contains(secret) {
        out.push(format!("{secret:?} in the events API"));
    }
    let raw = server.raw_chunks(sid).await?;
    for l in chunk_leaks(&raw, secret)? {
        out.push(format!("{secret:?} in {l}"));
    }
    for (file, enc) in files_containing(server.data_dir(), secret)? {
        out.push(format!("{secret:?} ({enc}) in {}", file.display()));
    }
    let listing = serde_json::to_string(&server.list_sessions().await?)?;
    if listing.contains(secret) {
        out.push(format!("{secret:?} in the sessions list"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_secrets_in_files_in_both_encodings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), b"xx hunter2 yy").unwrap();
        let utf16: Vec<u8> = "hunter2"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        std::fs::write(dir.path().join("sub/b"), utf16).unwrap();
        std::fs::write(dir.path().join("c"), b"nothing").unwrap();
        let mut found = files_containing(dir.path(), "hunter2").unwrap();
        found.sort();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, "utf-8");
        assert_eq!(found[1].1, "utf-16le");
    }
}
