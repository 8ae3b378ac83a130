//! The JavaScript side of the build: the recorder's ES modules
//! (`recorder/js/src/`) bundled and minified into `dist/reel.js` by
//! esbuild, pinned and installed by `.ci/setup` into `target/tools`.

use anyhow::{bail, Result};
use std::path::Path;
use std::process::Command;

/// esbuild from npm, pinned in `.ci/setup`.
pub const ESBUILD: &str = "target/tools/node_modules/.bin/esbuild";

/// The recorder's entry module: the tag's boot, which defines `window.Reel`.
const RECORDER_ENTRY: &str = "recorder/js/src/boot.js";

/// What the bundle may use: every browser the recorder supports runs
/// ES2020 (the wasm glue is imported with a dynamic `import()`).
const TARGET: &str = "es2020";

fn tool(root: &Path, rel: &str) -> Result<std::path::PathBuf> {
    let path = root.join(rel);
    if !path.exists() {
        bail!("{rel} not found: run `bash .ci/setup` (it installs the pinned JavaScript tools)");
    }
    Ok(path)
}

/// Bundles the recorder's modules into one minified IIFE at `out` (what
/// the one-tag embed loads: it sets `window.Reel` and honours the tag).
/// esbuild bundles; terser minifies, since it compresses this code about
/// 3 % smaller than esbuild's minifier does (brotli'd), and every page
/// that records downloads it.
pub fn bundle_recorder(root: &Path, out: &Path) -> Result<()> {
    let bundled = out.with_extension("bundle.js");
    let mut cmd = Command::new(tool(root, ESBUILD)?);
    cmd.current_dir(root)
        .arg(RECORDER_ENTRY)
        .args([
            "--bundle",
            "--format=iife",
            "--legal-comments=none",
            "--log-level=warning",
        ])
        .arg(format!("--target={TARGET}"))
        .arg(format!("--outfile={}", bundled.display()));
    crate::run(cmd)?;
    let mut terser = Command::new(tool(root, crate::TERSER)?);
    terser
        .arg(&bundled)
        .args(["--compress", "passes=2", "--mangle"])
        .args(["--ecma", "2020", "--output"])
        .arg(out);
    crate::run(terser)?;
    std::fs::remove_file(&bundled)?;
    Ok(())
}

/// What `reel.js` takes from the recorder's wasm-bindgen glue
/// (`js/src/wasm.js`): the glue's other export, its asynchronous
/// initialiser with its fetch fallbacks and their warnings, never runs,
/// and was a quarter of the glue every recording page downloads.
pub const GLUE_EXPORTS: &[&str] = &["initSync", "Recorder"];

/// Rewrites the glue at `glue` with only `exports` (esbuild drops the
/// rest). Its `inline_js` snippets stay modules of their own.
pub fn prune_glue(root: &Path, glue: &Path, exports: &[&str]) -> Result<()> {
    let (Some(dir), Some(name)) = (glue.parent(), glue.file_name()) else {
        bail!("{} is not a file path", glue.display());
    };
    let entry = dir.join("glue-entry.mjs");
    let pruned = glue.with_extension("pruned.js");
    std::fs::write(
        &entry,
        format!(
            "export {{ {} }} from './{}';\n",
            exports.join(", "),
            name.to_string_lossy()
        ),
    )?;
    let mut cmd = Command::new(tool(root, ESBUILD)?);
    cmd.arg(&entry)
        .args([
            "--bundle",
            "--format=esm",
            "--external:./snippets/*",
            "--legal-comments=none",
            "--log-level=warning",
        ])
        .arg(format!("--target={TARGET}"))
        .arg(format!("--outfile={}", pruned.display()));
    let built = crate::run(cmd);
    std::fs::remove_file(&entry)?;
    built?;
    std::fs::rename(&pruned, glue)?;
    Ok(())
}

/// eslint and prettier from npm, pinned in `.ci/setup`.
pub const ESLINT: &str = "target/tools/node_modules/.bin/eslint";
pub const PRETTIER: &str = "target/tools/node_modules/.bin/prettier";

/// Every JavaScript file of the project: the recorder's modules, the
/// player's pages and its executor, the scripts tests and the bench put
/// into pages, and the build's own scripts. Rules: `eslint.config.mjs`;
/// format: `.prettierrc.json`.
const JS_FILES: &[&str] = &[
    "recorder/js/**/*.js",
    "recorder/js/**/*.mjs",
    "player/static/*.js",
    "player/js/*.js",
    "tests/src/*.js",
    "bench/pages/*.js",
    "*.mjs",
];

/// `cargo xtask lint`'s JavaScript half: eslint with no warnings allowed,
/// and prettier's check (`prettier --write` with the same files fixes it).
pub fn lint(root: &Path) -> Result<()> {
    let mut eslint = Command::new(tool(root, ESLINT)?);
    eslint
        .current_dir(root)
        .args(["--max-warnings", "0", "--no-error-on-unmatched-pattern"])
        .args(JS_FILES);
    crate::run(eslint)?;
    let mut prettier = Command::new(tool(root, PRETTIER)?);
    prettier
        .current_dir(root)
        .args([
            "--check",
            "--log-level",
            "warn",
            "--no-error-on-unmatched-pattern",
        ])
        .args(JS_FILES);
    crate::run(prettier)
}

/// The npm package's sources: its entry and the script that writes
/// package.json, the TypeScript types and its README.
const NPM_ENTRY: &str = "recorder/js/npm/index.js";
const NPM_SCRIPT: &str = "recorder/js/npm/package.mjs";

/// Writes `target/npm/reel-recorder-VERSION.tgz`: the recorder as an ES
/// module for application bundles (named exports: `window.Reel`'s members),
/// with TypeScript types generated from the options table. The package
/// directory is `target/npm/package/`.
pub fn npm_package(root: &Path, target: &Path) -> Result<()> {
    let npm = target.join("npm");
    let pkg = npm.join("package");
    if npm.exists() {
        std::fs::remove_dir_all(&npm)?;
    }
    std::fs::create_dir_all(&pkg)?;
    // Not minified: the application's bundler minifies (and keeps the
    // names readable in its source maps).
    let mut bundle = Command::new(tool(root, ESBUILD)?);
    bundle
        .current_dir(root)
        .arg(NPM_ENTRY)
        .args(["--bundle", "--format=esm", "--log-level=warning"])
        .arg(format!("--target={TARGET}"))
        .arg(format!("--outfile={}", pkg.join("index.js").display()));
    crate::run(bundle)?;
    let mut write = Command::new("node");
    write
        .current_dir(root)
        .arg(NPM_SCRIPT)
        .arg(&pkg)
        .arg(env!("CARGO_PKG_VERSION"))
        .arg(root.join("README.md"));
    crate::run(write)?;
    let mut pack = Command::new("npm");
    pack.current_dir(&pkg)
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&npm);
    crate::run(pack)
}
