//! Reel's build tasks. `cargo xtask help` lists them.
//!
//! The server embeds the recorder's and the player's assets, so they must be
//! built (wasm, bindgen, wasm-opt) before the server is. This is the one
//! place that knows how; the README and `.ci/run` only call it.

mod delivery;
mod js;
mod pages;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const WASM_PROFILE: &str = "wasm-release";
/// The recorder's profile (Cargo.toml): "z" for all of its wasm.
const RECORDER_PROFILE: &str = "wasm-recorder";

/// Binaryen from npm, pinned: Debian's (108) corrupts the externref table
/// that wasm-bindgen emits for current rustc. `.ci/setup` installs it here.
const WASM_OPT: &str = "target/tools/node_modules/.bin/wasm-opt";
/// terser from npm, pinned in `.ci/setup` too.
const TERSER: &str = "target/tools/node_modules/.bin/terser";

/// The features rustc's wasm32 output uses, named so that wasm-opt neither
/// rejects them nor introduces newer ones (`--all-features` lets it emit
/// encodings browsers do not read yet).
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
    "--enable-mutable-globals",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dist") => dist(),
        Some("test") => test(&args[1..]),
        Some("sizes") => sizes(),
        Some("lint") => lint(),
        Some("bench") => bench(),
        _ => {
            eprintln!(
                "cargo xtask dist    build the recorder and player wasm into dist/ (embedded by reel-server)\n\
                 cargo xtask test    dist, build reel-server, run every test (unit, property, end-to-end; the API tests twice: embedded and distributed layouts)\n\
                 cargo xtask sizes   print what a recording page and the player download: raw, gzip, brotli, as served\n\
                 cargo xtask lint    cargo fmt --check, clippy -D warnings on native and wasm targets, eslint and prettier --check on the JavaScript\n\
                 cargo xtask bench   dist, build reel-server and reel-bench, run the benchmarks against rrweb (BENCHMARKS.md)"
            );
            Ok(())
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut cmd: Command) -> Result<()> {
    eprintln!("xtask: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Builds both wasm crates, runs wasm-bindgen and wasm-opt, and lays out
/// `dist/` as the server serves it.
fn dist() -> Result<()> {
    let root = root();
    let dist = root.join("dist");
    // The recorder has a profile of its own (every crate in it at "z":
    // it is on every recording page); the player keeps "s".
    for (krate, profile) in [
        ("reel-recorder", RECORDER_PROFILE),
        ("reel-player", WASM_PROFILE),
    ] {
        let mut build = cargo();
        build.args([
            "build",
            "--profile",
            profile,
            "--target",
            WASM_TARGET,
            "-p",
            krate,
        ]);
        // The zstd-free build needs no C compiler, but keep wasm builds from
        // picking up host flags meant for native code.
        build.env_remove("RUSTFLAGS");
        run(build)?;
    }

    if dist.exists() {
        std::fs::remove_dir_all(&dist).context("clearing dist/")?;
    }
    for (krate, out, profile) in [
        ("reel_recorder", "recorder", RECORDER_PROFILE),
        ("reel_player", "player", WASM_PROFILE),
    ] {
        let wasm_dir = target_dir().join(WASM_TARGET).join(profile);
        let out_dir = dist.join(out);
        std::fs::create_dir_all(&out_dir)?;
        wasm_bindgen_cli_support::Bindgen::new()
            .input_path(wasm_dir.join(format!("{krate}.wasm")))
            .web(true)?
            .typescript(false)
            .out_name(krate)
            .generate(&out_dir)
            .with_context(|| format!("wasm-bindgen on {krate}"))?;
        wasm_opt(&out_dir.join(format!("{krate}_bg.wasm")), out == "recorder")?;
    }
    // What every embedding page downloads is minified; the player's glue
    // is left readable (it is not on anyone's page).
    js::bundle_recorder(&root, &dist.join("reel.js"))?;
    js::npm_package(&root, &target_dir())?;
    let glue = dist.join("recorder/reel_recorder.js");
    js::prune_glue(&root, &glue, js::GLUE_EXPORTS)?;
    minify(&glue, &glue, true)?;
    // The glue imports the crate's `inline_js` snippets as modules of their own.
    for snippet in snippets(&dist)? {
        minify(&snippet, &snippet, true)?;
    }
    // The pages with their shared head and header put in (pages.rs); the
    // parts themselves (`parts/`, a folder) are not served.
    let statics = root.join("player/static");
    for entry in std::fs::read_dir(&statics)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let (from, to) = (entry.path(), dist.join("player").join(entry.file_name()));
        if from.extension().is_some_and(|e| e == "html") {
            let page = std::fs::read_to_string(&from)
                .with_context(|| format!("reading {}", from.display()))?;
            let page = pages::expand(&page, &statics.join("parts"))
                .with_context(|| format!("in {}", from.display()))?;
            std::fs::write(&to, page).with_context(|| format!("writing {}", to.display()))?;
        } else {
            copy(&from, &to)?;
        }
    }
    delivery::prepare(&dist)?;
    sizes()
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// wasm-opt is an optimisation, not a requirement: without it the assets
/// are larger but correct, and the build says so.
fn wasm_opt(file: &Path, recorder: bool) -> Result<()> {
    let wasm_opt = root().join(WASM_OPT);
    if !wasm_opt.exists() {
        eprintln!(
            "xtask: {WASM_OPT} not found (bash .ci/setup installs it); {} left unoptimised",
            file.display()
        );
        return Ok(());
    }
    let tmp = file.with_extension("opt.wasm");
    let mut cmd = Command::new(wasm_opt);
    // `--converge` repeats the passes while they still shrink the module.
    cmd.arg("-Oz").arg("--converge").args(WASM_OPT_FEATURES);
    // The recorder's module never touches its first 1024 bytes: rustc
    // lays the stack out first (it grows down from 1 MiB towards 0, the
    // data follows it, the heap comes after), so only a stack a whole MiB
    // deep would reach them. Told so, wasm-opt folds constant offsets
    // into loads and stores.
    if recorder {
        cmd.arg("--low-memory-unused");
        // wasm-opt inlines every function with one caller, however large,
        // into it; rustc has already inlined what pays. Inlining only the
        // small ones takes ~0.6 KB off the brotli'd module (its giant
        // functions compressed worse); 30-45 did best of 0-1000 tried.
        cmd.arg("--one-caller-inline-max-function-size=40");
    }
    // `REEL_WASM_NAMES=1 cargo xtask dist`: keep the function names, for
    // attributing the bundle's bytes to code (the shipped build drops them).
    if std::env::var_os("REEL_WASM_NAMES").is_some() {
        cmd.arg("-g");
    }
    // The `producers` and `target_features` sections are metadata no
    // browser reads (~260 bytes of every page's download).
    cmd.arg("--strip-producers").arg("--strip-target-features");
    cmd.arg(file).arg("-o").arg(&tmp);
    run(cmd)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

/// terser, like wasm-opt, is an optimisation: without it the file is
/// copied as it is, and the build says so.
fn minify(from: &Path, to: &Path, module: bool) -> Result<()> {
    let terser = root().join(TERSER);
    if !terser.exists() {
        eprintln!(
            "xtask: {TERSER} not found (bash .ci/setup installs it); {} left unminified",
            to.display()
        );
        if from != to {
            copy(from, to)?;
        }
        return Ok(());
    }
    let tmp = to.with_extension("min.js");
    let mut cmd = Command::new(terser);
    cmd.arg(from)
        .args(["--compress", "--mangle", "--ecma", "2017", "--output"])
        .arg(&tmp);
    if module {
        cmd.arg("--module");
    }
    run(cmd)?;
    std::fs::rename(&tmp, to)?;
    Ok(())
}

/// The recorder's `inline_js` modules, which wasm-bindgen writes under
/// `snippets/` and the glue imports: part of what a page downloads.
fn snippets(dist: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let dir = dist.join("recorder/snippets");
    if !dir.exists() {
        return Ok(out);
    }
    for krate in std::fs::read_dir(&dir)? {
        for f in std::fs::read_dir(krate?.path())? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "js") {
                out.push(f);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a recording page and the player download, raw, gzipped, brotli'd
/// and as served (see `delivery.rs`).
fn sizes() -> Result<()> {
    delivery::print_sizes(&root().join("dist"))
}

/// The whole suite, in the order the pieces depend on each other.
fn test(extra: &[String]) -> Result<()> {
    dist()?;
    let mut build = cargo();
    build.args(["build", "--release", "-p", "reel-server"]);
    run(build)?;
    let mut test = cargo();
    test.args(["test", "--release", "--workspace"]).args(extra);
    run(test)?;
    // Every API test again on the distributed layout (contract §5: every
    // endpoint behaves the same on both): a fresh PostgreSQL database and
    // S3 bucket per server, from `reel-testsvc`.
    let mut distributed = cargo();
    distributed
        .args(["test", "--release", "-p", "reel-server", "--lib", "api::"])
        .env("REEL_TEST_LAYOUT", "distributed");
    run(distributed)
}

/// The code rules every change keeps: formatted, and clippy-clean on both
/// the native and the wasm targets (the wasm-only glue is only seen there);
/// the JavaScript linted by eslint and formatted by prettier (js.rs).
fn lint() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut native = cargo();
    native.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run(native)?;
    let mut wasm = cargo();
    wasm.args([
        "clippy",
        "--target",
        WASM_TARGET,
        "-p",
        "reel-recorder",
        "-p",
        "reel-player",
        "--",
        "-D",
        "warnings",
    ]);
    run(wasm)?;
    js::lint(&root())
}

/// The benchmarks against rrweb (not part of `test`): see BENCHMARKS.md.
fn bench() -> Result<()> {
    dist()?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "reel-server",
        "-p",
        "reel-bench",
    ]);
    run(build)?;
    let mut bench = Command::new(target_dir().join("release/reel-bench"));
    bench
        .current_dir(root())
        .env("REEL_TARGET_DIR", target_dir());
    run(bench)
}
