//! rust-embed refuses to compile when its folder is missing, and `dist/` only
//! exists after `cargo xtask dist`; an empty one lets the server build (and
//! answer 503 for the assets) before the wasm crates are built.

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    if let Err(e) = std::fs::create_dir_all(&dist) {
        println!("cargo:warning=could not create {}: {e}", dist.display());
    }
    // A directory is scanned recursively, so a new `cargo xtask dist` is
    // picked up and re-embedded.
    println!("cargo:rerun-if-changed=../dist");
}
