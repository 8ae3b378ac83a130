//! The zstd encoder's output decodes back exactly, with libzstd and with
//! ruzstd, whatever the input and however it is split into pieces.
#![cfg(feature = "encode")]

use std::io::Read;

use proptest::prelude::*;
use reel_shared::zstd::{compress, FrameEncoder, BLOCK_MAX};

fn libzstd(frame: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 1);
    zstd_safe::decompress(&mut out, frame).expect("libzstd rejects our frame");
    out
}

fn ruzstd(frame: &[u8]) -> Vec<u8> {
    let mut src = frame;
    let mut dec =
        ruzstd::decoding::StreamingDecoder::new(&mut src).expect("ruzstd rejects our header");
    let mut out = Vec::new();
    dec.read_to_end(&mut out).expect("ruzstd rejects our frame");
    out
}

fn check(data: &[u8], frame: &[u8]) {
    assert!(
        libzstd(frame, data.len()) == data,
        "libzstd: round trip differs"
    );
    assert!(ruzstd(frame) == data, "ruzstd: round trip differs");
}

/// Streams `data` in pieces cut at `cuts` (positions, any order).
fn streamed(data: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut e = FrameEncoder::new();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts.into_iter().chain([data.len()]) {
        e.block(&data[at..c.max(at)], &mut out);
        at = c.max(at);
    }
    e.finish(&mut out);
    out
}

/// MessagePack-ish records: maps with repeated keys, small and large ints,
/// strings drawn from a small vocabulary, some noise.
fn msgpack_like(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: [&[u8]; 6] = [b"type", b"node", b"attributes", b"class", b"div", b"x"];
    let mut out = Vec::new();
    while out.len() < n {
        out.push(0x84);
        for _ in 0..4 {
            let w = words[(rnd() % 6) as usize];
            out.push(0xA0 | w.len() as u8);
            out.extend_from_slice(w);
            match rnd() % 4 {
                0 => out.push((rnd() % 128) as u8),
                1 => {
                    out.push(0xCD);
                    out.extend_from_slice(&(rnd() as u16).to_be_bytes());
                }
                2 => {
                    out.push(0xCE);
                    out.extend_from_slice(&((rnd() % 5000) as u32).to_be_bytes());
                }
                _ => out.extend_from_slice(&rnd().to_le_bytes()[..(rnd() % 8) as usize]),
            }
        }
    }
    out.truncate(n);
    out
}

#[test]
fn edge_cases() {
    for data in [
        &b""[..],
        b"a",
        b"abcdefgh",
        &[0u8; 1000],
        &[7u8; BLOCK_MAX + 1],
    ] {
        check(data, &compress(data));
        check(data, &streamed(data, &[]));
    }
    // Tiny pieces: literal-only blocks, RLE literals.
    check(&[0u8; 1000], &streamed(&[0u8; 1000], &[5, 13, 20]));
    let big = msgpack_like(3, 5 * BLOCK_MAX + 17);
    check(&big, &compress(&big));
    check(&big, &streamed(&big, &[1, 2, 3, 200_000, 200_001, 400_000]));
}

/// Beyond the window: the history is trimmed and matches stay in range.
#[test]
fn longer_than_the_window() {
    let data = msgpack_like(9, 3 * reel_shared::zstd::WINDOW + 12345);
    let cuts: Vec<usize> = (1..40).map(|i| i * 100_000).collect();
    check(&data, &streamed(&data, &cuts));
    check(&data, &compress(&data));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..3000),
                       cuts in proptest::collection::vec(any::<usize>(), 0..4)) {
        check(&data, &compress(&data));
        check(&data, &streamed(&data, &cuts));
    }

    #[test]
    fn repetitive(unit in proptest::collection::vec(any::<u8>(), 1..40),
                  alphabet in 1u8..6,
                  reps in 1usize..20_000,
                  cuts in proptest::collection::vec(any::<usize>(), 0..4)) {
        let unit: Vec<u8> = unit.iter().map(|b| b % alphabet).collect();
        let data: Vec<u8> = unit.iter().copied().cycle().take(unit.len() * reps).collect();
        check(&data, &compress(&data));
        check(&data, &streamed(&data, &cuts));
    }

    #[test]
    fn msgpack(seed in any::<u64>(), n in 0usize..400_000,
               cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let data = msgpack_like(seed, n);
        check(&data, &compress(&data));
        check(&data, &streamed(&data, &cuts));
    }

    /// Skewed byte distributions: long Huffman codes, every literal mode.
    #[test]
    fn skewed(seed in any::<u64>(), n in 0usize..300_000, spread in 1u32..64) {
        let mut x = seed | 1;
        let data: Vec<u8> = (0..n).map(|_| {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let r = (x % 1_000_000) as u32;
            // ~geometric: small values common, up to 255 rare.
            (r.leading_zeros().saturating_sub(12) * spread) as u8 ^ (x >> 40) as u8 & 3
        }).collect();
        check(&data, &compress(&data));
    }
}
