//! The last step of `cargo xtask dist`: what `reel-server` sends.
//!
//! - **Versioned URLs.** Every file under `dist/recorder/` and
//!   `dist/player/` is also served at `/{tree}/v/{version}/{path}`, where
//!   `version` is a hash of that tree's contents, with
//!   `Cache-Control: immutable`. The references to them in `reel.js`, the
//!   player's pages and the files themselves (`'/player/boot.js'`,
//!   `"/recorder/reel_recorder_bg.wasm"`, …) are rewritten to the versioned
//!   form, so a browser fetches each once per build and never revalidates.
//!   One version per tree rather than one hash per file: the recorder's glue
//!   and wasm always change together, the player's files mostly do, and
//!   relative imports (the bindgen glue's `./snippets/…`) keep working
//!   unchanged inside the versioned folder.
//! - **Compressed variants.** Every compressible file gets `FILE.br`
//!   (brotli, quality 11, 16 MiB window) and `FILE.gz` (gzip level 9)
//!   beside it, kept only when smaller; the server picks one per request by
//!   `Accept-Encoding` and compresses nothing at run time.
//! - **`dist/manifest.json`**: `{"versions": {"recorder": V, "player": V}}`,
//!   which the server reads to know which version is current (any other
//!   answers 404).

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folders of `dist/` served under versioned URLs, in the order their
/// versions are computed: a later tree's version covers the earlier ones'
/// (its files may name them), never the other way round.
pub const TREES: &[&str] = &["recorder", "player"];

/// Extensions worth compressing (text and wasm; images and fonts already are).
const COMPRESSIBLE: &[&str] = &[
    "js", "mjs", "css", "html", "htm", "wasm", "json", "map", "svg", "txt",
];

/// Files whose text may name other assets (and is rewritten).
const TEXT: &[&str] = &["js", "mjs", "css", "html", "htm"];

/// The pages and entry points whose references must have been rewritten:
/// if a refactor of `reel.js` stops naming the recorder's files literally,
/// the build fails here instead of shipping unversioned URLs.
const MUST_REFERENCE: &[(&str, &str)] = &[
    ("reel.js", "recorder/reel_recorder.js"),
    ("reel.js", "recorder/reel_recorder_bg.wasm"),
];

/// Rewrites references to versioned URLs, writes the compressed variants
/// and `dist/manifest.json`; returns tree → version.
pub fn prepare(dist: &Path) -> Result<BTreeMap<String, String>> {
    let mut versions = BTreeMap::new();
    for tree in TREES {
        let dir = dist.join(tree);
        if !dir.exists() {
            continue;
        }
        let mut h = Sha256::new();
        for (earlier, v) in &versions {
            h.update(format!("{earlier}={v}\n"));
        }
        for file in walk(&dir)? {
            let rel = rel_name(dist, &file);
            let bytes = std::fs::read(&file)?;
            h.update(format!("{rel}\n{}\n", bytes.len()));
            h.update(&bytes);
        }
        let digest = h.finalize();
        let version: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        versions.insert(tree.to_string(), version);
    }

    let all = walk(dist)?;
    let assets: Vec<String> = all
        .iter()
        .map(|f| rel_name(dist, f))
        .filter(|r| {
            TREES.iter().any(|t| r.starts_with(&format!("{t}/"))) && !has_ext(r, &["html", "htm"])
        })
        .collect();
    for file in &all {
        let rel = rel_name(dist, file);
        if !has_ext(&rel, TEXT) {
            continue;
        }
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let new = rewrite(&text, &assets, &versions);
        if new != text {
            std::fs::write(file, new)?;
        }
    }
    for (page, asset) in MUST_REFERENCE {
        let Ok(text) = std::fs::read_to_string(dist.join(page)) else {
            continue;
        };
        if !text.contains(&versioned_url(asset, &versions)) {
            bail!(
                "dist/{page} does not name /{asset} in quotes, so it was not given its versioned URL \
                 (xtask/src/delivery.rs rewrites quoted absolute paths)"
            );
        }
    }

    for file in &all {
        if has_ext(&rel_name(dist, file), COMPRESSIBLE) {
            compress(file)?;
        }
    }

    let body = versions
        .iter()
        .map(|(t, v)| format!("\"{t}\":\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(
        dist.join("manifest.json"),
        format!("{{\"versions\":{{{body}}}}}\n"),
    )?;
    eprintln!("xtask: versioned URLs {versions:?}, brotli and gzip variants written");
    Ok(versions)
}

/// `/recorder/v/{version}/reel_recorder.js` for `recorder/reel_recorder.js`.
pub fn versioned_url(asset: &str, versions: &BTreeMap<String, String>) -> String {
    match asset.split_once('/') {
        Some((tree, rest)) if versions.contains_key(tree) => {
            format!("/{tree}/v/{}/{rest}", versions[tree])
        }
        _ => format!("/{asset}"),
    }
}

/// Every quoted absolute reference to one of `assets` (`'/player/boot.js'`,
/// `"/player/player.css"`, `` `/recorder/x.wasm` ``) in its versioned form.
/// Only whole quoted strings: `/player/a.js` inside a longer string or a
/// comment is left alone.
fn rewrite(text: &str, assets: &[String], versions: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for asset in assets {
        let url = format!("/{asset}");
        if !out.contains(&url) {
            continue;
        }
        let to = versioned_url(asset, versions);
        for q in ['\'', '"', '`'] {
            out = out.replace(&format!("{q}{url}{q}"), &format!("{q}{to}{q}"));
        }
    }
    out
}

/// `FILE.br` and `FILE.gz`, each only when smaller than `FILE`.
fn compress(file: &Path) -> Result<()> {
    let raw = std::fs::read(file)?;
    let mut br = Vec::new();
    {
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 24,
            size_hint: raw.len(),
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &raw[..], &mut br, &params)
            .with_context(|| format!("brotli on {}", file.display()))?;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&raw)?;
    let gz = gz.finish()?;
    for (ext, bytes) in [("br", br), ("gz", gz)] {
        if bytes.len() < raw.len() {
            std::fs::write(with_suffix(file, ext), bytes)?;
        }
    }
    Ok(())
}

fn with_suffix(file: &Path, ext: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn has_ext(name: &str, exts: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// `dist/player/boot.js` → `player/boot.js`, with `/` on every platform.
fn rel_name(dist: &Path, file: &Path) -> String {
    file.strip_prefix(dist)
        .unwrap_or(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `dir`, sorted, without compressed variants or the manifest.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if !has_ext(&path.to_string_lossy(), &["br", "gz"])
                && path.file_name().is_some_and(|n| n != "manifest.json")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The files a browser fetches starting from `entry` (a path in `dist/`):
/// every asset whose URL (versioned or not, absolute or relative to the
/// referring file) appears quoted in a fetched file, transitively.
pub fn closure(dist: &Path, entry: &str) -> Result<Vec<String>> {
    let versions = read_versions(dist);
    let assets: Vec<String> = walk(dist)?.iter().map(|f| rel_name(dist, f)).collect();
    let mut seen = vec![entry.to_string()];
    let mut i = 0;
    while i < seen.len() {
        let cur = seen[i].clone();
        i += 1;
        if !has_ext(&cur, TEXT) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dist.join(&cur)) else {
            continue;
        };
        let dir = cur.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for asset in &assets {
            if seen.contains(asset) {
                continue;
            }
            let mut forms = vec![format!("/{asset}"), versioned_url(asset, &versions)];
            if let Some(rel) = asset.strip_prefix(&format!("{dir}/")) {
                forms.push(format!("./{rel}"));
            }
            let named = forms.iter().any(|f| {
                ['\'', '"', '`']
                    .iter()
                    .any(|q| text.contains(&format!("{q}{f}{q}")))
            });
            if named {
                seen.push(asset.clone());
            }
        }
    }
    Ok(seen)
}

/// The versions `prepare` wrote (empty before the first `dist`).
fn read_versions(dist: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dist.join("manifest.json")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for tree in TREES {
        let key = format!("\"{tree}\":\"");
        if let Some(start) = text.find(&key) {
            let rest = &text[start + key.len()..];
            if let Some(end) = rest.find('"') {
                out.insert(tree.to_string(), rest[..end].to_string());
            }
        }
    }
    out
}

/// One file's sizes: raw, gzip -9, brotli -q 11, and what the server sends
/// to a browser asking `Accept-Encoding: br, gzip` (the `.br` variant when
/// `prepare` kept one, else `.gz`, else the file itself).
pub struct Sizes {
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
    pub served: u64,
}

pub fn sizes_of(dist: &Path, rel: &str) -> Result<Sizes> {
    let file = dist.join(rel);
    let raw = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let variant = |ext: &str| {
        std::fs::metadata(with_suffix(&file, ext))
            .ok()
            .map(|m| m.len())
    };
    let (br, gz) = (variant("br"), variant("gz"));
    let gzip = match gz {
        Some(n) => n,
        None => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&raw)?;
            e.finish()?.len() as u64
        }
    };
    let brotli = match br {
        Some(n) => n,
        None => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 11,
                lgwin: 24,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &raw[..], &mut out, &params)?;
            out.len() as u64
        }
    };
    Ok(Sizes {
        raw: raw.len() as u64,
        gzip,
        brotli,
        served: br.or(gz).unwrap_or(raw.len() as u64),
    })
}

/// `cargo xtask sizes`: what a recording page and the player download,
/// found the way a browser finds them (from `reel.js` and the player's
/// pages), raw, gzip, brotli and as served.
pub fn print_sizes(dist: &Path) -> Result<()> {
    for (title, entry) in [
        ("what a recording page downloads", "reel.js"),
        ("what the player downloads", "player/player.html"),
    ] {
        if !dist.join(entry).exists() {
            println!("{entry}: not built (cargo xtask dist)");
            continue;
        }
        println!(
            "{:<56} {:>9} {:>9} {:>9} {:>9}",
            title, "raw", "gzip -9", "br -q11", "served"
        );
        let mut total = [0u64; 4];
        for rel in closure(dist, entry)? {
            let s = sizes_of(dist, &rel)?;
            println!(
                "  {:<54} {:>9} {:>9} {:>9} {:>9}",
                rel, s.raw, s.gzip, s.brotli, s.served
            );
            for (t, v) in total.iter_mut().zip([s.raw, s.gzip, s.brotli, s.served]) {
                *t += v;
            }
        }
        println!(
            "  {:<54} {:>9} {:>9} {:>9} {:>9}\n",
            "total", total[0], total[1], total[2], total[3]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions() -> BTreeMap<String, String> {
        [("recorder", "aa"), ("player", "bb")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn rewrites_quoted_absolute_references_only() {
        let assets = vec![
            "recorder/reel_recorder.js".to_string(),
            "player/boot.js".to_string(),
        ];
        let text = "import('/recorder/reel_recorder.js');src=\"/player/boot.js\";\
                    `/player/boot.js`;'/player/boot.js.map';// /player/boot.js";
        assert_eq!(
            rewrite(text, &assets, &versions()),
            "import('/recorder/v/aa/reel_recorder.js');src=\"/player/v/bb/boot.js\";\
             `/player/v/bb/boot.js`;'/player/boot.js.map';// /player/boot.js"
        );
    }

    #[test]
    fn finds_what_a_browser_fetches_and_versions_it() -> Result<()> {
        let dir = tempdir()?;
        let dist = dir.as_path();
        let write = |p: &str, s: &str| -> Result<()> {
            let f = dist.join(p);
            std::fs::create_dir_all(f.parent().expect("has a parent"))?;
            std::fs::write(f, s)?;
            Ok(())
        };
        write(
            "reel.js",
            "import(o+'/recorder/reel_recorder.js');f(o+'/recorder/reel_recorder_bg.wasm')",
        )?;
        write(
            "recorder/reel_recorder.js",
            "import {x} from './snippets/k/inline0.js';",
        )?;
        write(
            "recorder/snippets/k/inline0.js",
            &"export const x = 1;".repeat(20),
        )?;
        write("recorder/reel_recorder_bg.wasm", &"\0asm".repeat(100))?;
        write("player/unrelated.js", "")?;
        let versions = prepare(dist)?;
        let reel = std::fs::read_to_string(dist.join("reel.js"))?;
        let v = &versions["recorder"];
        assert!(reel.contains(&format!("'/recorder/v/{v}/reel_recorder.js'")));
        assert!(dist.join("recorder/reel_recorder_bg.wasm.br").exists());
        assert!(dist.join("recorder/reel_recorder_bg.wasm.gz").exists());
        assert_eq!(
            closure(dist, "reel.js")?,
            [
                "reel.js",
                "recorder/reel_recorder.js",
                "recorder/reel_recorder_bg.wasm",
                "recorder/snippets/k/inline0.js"
            ]
        );
        std::fs::remove_dir_all(dist)?;
        Ok(())
    }

    /// A fresh folder under the target dir (xtask has no tempfile).
    fn tempdir() -> Result<PathBuf> {
        let d = std::env::temp_dir().join(format!("xtask-delivery-{}", std::process::id()));
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
        Ok(d)
    }
}
