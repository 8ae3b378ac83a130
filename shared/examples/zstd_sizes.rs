//! Sizes and speed of `reel_shared::zstd` against ruzstd's Fastest and
//! libzstd level 1, on the files given (e.g. decompressed chunk bodies):
//!
//! ```text
//! cargo run --release -p reel-shared --example zstd_sizes -- FILES...
//! ```
//!
//! Ours is run as the recorder would: one [`FrameEncoder`] per file, fed
//! 128 KiB pieces. Every output of ours is checked to decode with libzstd and
//! ruzstd.

use std::time::Instant;

use reel_shared::zstd::{FrameEncoder, BLOCK_MAX};

/// Runs `f` a few times (for ~0.5 s, at least 3); returns the result and
/// MB/s over `len` bytes for the fastest run (the machine may be shared:
/// the best run is the one least disturbed).
fn timed<T>(len: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let start = Instant::now();
    let mut best = f64::MAX;
    let mut runs = 0u32;
    loop {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
        if runs >= 3 && start.elapsed().as_secs_f64() > 0.5 {
            return (r, len as f64 / best / 1e6);
        }
    }
}

fn ours(data: &[u8]) -> Vec<u8> {
    let mut e = FrameEncoder::new();
    let mut out = Vec::new();
    for piece in data.chunks(BLOCK_MAX) {
        e.block(piece, &mut out);
    }
    e.finish(&mut out);
    out
}

fn main() {
    println!(
        "{:<32} {:>10} {:>10} {:>8} {:>10} {:>8} {:>10}",
        "file", "input", "ours", "MB/s", "ruzstd", "MB/s", "zstd -1"
    );
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read");
        let (mine, mine_speed) = timed(data.len(), || ours(&data));
        let mut back = Vec::with_capacity(data.len());
        zstd_safe::decompress(&mut back, &mine).expect("libzstd decodes ours");
        assert!(back == data, "{path}: round trip differs (libzstd)");
        let mut src = &mine[..];
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src).expect("ruzstd header");
        back.clear();
        std::io::Read::read_to_end(&mut dec, &mut back).expect("ruzstd decodes ours");
        assert!(back == data, "{path}: round trip differs (ruzstd)");
        let (theirs, theirs_speed) = timed(data.len(), || {
            ruzstd::encoding::compress_to_vec(
                &data[..],
                ruzstd::encoding::CompressionLevel::Fastest,
            )
        });
        let mut lib = vec![0u8; zstd_safe::compress_bound(data.len())];
        let n = zstd_safe::compress(&mut lib[..], &data, 1).expect("libzstd");
        let name = path.rsplit('/').next().unwrap_or(&path);
        println!(
            "{:<32} {:>10} {:>10} {:>8.1} {:>10} {:>8.1} {:>10}",
            name,
            data.len(),
            mine.len(),
            mine_speed,
            theirs.len(),
            theirs_speed,
            n
        );
    }
}
