//! Content-addressed assets: large stylesheet texts and `data:` URLs kept
//! once per deployment instead of once per session.
//!
//! Real pages inline big assets (a theme's stylesheet with hundreds of KB
//! of base64 fonts) that every session of the site would otherwise carry
//! again. The recorder replaces such a string, after masking, by a
//! reference (`"\0reel-asset:" + the SHA-256 of its UTF-8 bytes in hex`)
//! and uploads the content only when the server lacks it; the player puts
//! the content back before it replays. Which strings may become assets is
//! decided here, once, for both ends ([`each_slot`]): stylesheet texts (a
//! `<link>`'s recorded sheet, a `<style>`'s text, a sheet's `replace`) and
//! `data:` attribute values. Masked text never qualifies: the mask is a few
//! bytes, far below [`MIN_BYTES`].

use crate::event::{EventData, SheetOp};
use crate::node::{FlatNode, NodeKind};

/// Strings shorter than this stay inline: a reference costs ~80 bytes
/// and a request, and small texts compress well in their chunk.
pub const MIN_BYTES: usize = 4096;

/// The largest asset the server accepts (decompressed).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// What a reference starts with. The NUL keeps it apart from any text a
/// page would show.
pub const PREFIX: &str = "\0reel-asset:";

/// The reference to the asset whose SHA-256 is `hex` (64 lowercase hex
/// digits).
pub fn reference(hex: &str) -> String {
    let mut s = String::with_capacity(PREFIX.len() + hex.len());
    s.push_str(PREFIX);
    s.push_str(hex);
    s
}

/// The hash a reference names, if `s` is one.
pub fn parse_ref(s: &str) -> Option<&str> {
    let hex = s.strip_prefix(PREFIX)?;
    is_hash(hex).then_some(hex)
}

/// Whether `s` is a SHA-256 in lowercase hex.
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256 of `data`: the recorder's own, rolled compactly (a loop per
/// round, no unrolling: ~1 KB of wasm where the `sha2` crate cost ~5 KB of
/// the page's 60 KB budget). Checked against `sha2` in the tests, and by
/// the server, which verifies every upload with `sha2`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    // The message, then 0x80, zeros and its length in bits, in whole
    // blocks: each block is filled here, so the compression function has
    // one call site (it is inlined there).
    let bits = (data.len() as u64).wrapping_mul(8).to_be_bytes();
    let count = (data.len() + 8) / 64 + 1;
    let mut block = [0u8; 64];
    for n in 0..count {
        let start = n * 64;
        match data.get(start..start + 64) {
            Some(whole) => block.copy_from_slice(whole),
            None => {
                for (j, x) in block.iter_mut().enumerate() {
                    let i = start + j;
                    *x = match data.get(i) {
                        Some(b) => *b,
                        None if i == data.len() => 0x80,
                        None => 0,
                    };
                }
                if n + 1 == count {
                    block[56..].copy_from_slice(&bits);
                }
            }
        }
        sha256_block(&mut h, &block);
    }
    let mut out = [0u8; 32];
    for (o, v) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&v.to_be_bytes());
    }
    out
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

fn sha256_block(h: &mut [u32; 8], b: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (i, c) in b.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    for i in 16..64 {
        let (x, y) = (w[i - 15], w[i - 2]);
        let s0 = x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3);
        let s1 = y.rotate_right(17) ^ y.rotate_right(19) ^ (y >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let mut v = *h;
    for i in 0..64 {
        let [a, b, c, d, e, f, g, hh] = v;
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let t2 = s0.wrapping_add((a & b) ^ (a & c) ^ (b & c));
        v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (x, y) in h.iter_mut().zip(v) {
        *x = x.wrapping_add(y);
    }
}

/// Calls `f` on every string of `data` that may be an asset: the one rule
/// the recorder (which replaces) and the player (which resolves) share.
pub fn each_slot(data: &mut EventData, f: &mut dyn FnMut(&mut String)) {
    match data {
        EventData::FullSnapshot(s) => nodes(&mut s.nodes, f),
        EventData::Mutation(m) => m.adds.iter_mut().for_each(|a| nodes(&mut a.nodes, f)),
        EventData::StyleSheet(c) => {
            if let SheetOp::Replace { text } = &mut c.op {
                f(text)
            }
        }
        _ => {}
    }
}

fn nodes(list: &mut [FlatNode], f: &mut dyn FnMut(&mut String)) {
    // `<style>` elements of this list: a text's parent comes before it.
    let mut styles = Vec::new();
    for n in list {
        match &mut n.kind {
            NodeKind::Element(e) => {
                if e.tag == "style" {
                    styles.push(n.id);
                }
                if let Some(css) = &mut e.stylesheet {
                    f(css);
                }
                for (_, v) in &mut e.attrs {
                    if v.len() >= MIN_BYTES && v.starts_with("data:") || parse_ref(v).is_some() {
                        f(v);
                    }
                }
            }
            NodeKind::Text(t) if styles.contains(&n.parent) => f(t),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{SheetRef, Snapshot, StyleSheetChange};
    use crate::node::{Element, FlatNode};

    fn el(id: u32, parent: u32, tag: &str, attrs: &[(&str, &str)]) -> FlatNode {
        FlatNode {
            id,
            parent,
            kind: NodeKind::Element(Element {
                tag: tag.into(),
                attrs: attrs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn slots_are_stylesheets_style_texts_and_data_urls() {
        let big = format!("data:font/woff2;base64,{}", "A".repeat(MIN_BYTES));
        let mut d = EventData::FullSnapshot(Snapshot {
            nodes: vec![
                el(1, 0, "style", &[]),
                FlatNode {
                    id: 2,
                    parent: 1,
                    kind: NodeKind::Text("a{}".into()),
                },
                el(
                    3,
                    0,
                    "p",
                    &[("title", &"x".repeat(MIN_BYTES)), ("src", &big)],
                ),
                FlatNode {
                    id: 4,
                    parent: 3,
                    kind: NodeKind::Text("not a sheet".into()),
                },
            ],
            scroll_x: 0,
            scroll_y: 0,
        });
        let mut seen = Vec::new();
        each_slot(&mut d, &mut |s| seen.push(s.clone()));
        assert_eq!(seen, vec!["a{}".to_string(), big]);
        let mut d = EventData::StyleSheet(StyleSheetChange {
            sheet: SheetRef::Constructed(1),
            op: SheetOp::Replace { text: "b{}".into() },
        });
        let mut n = 0;
        each_slot(&mut d, &mut |_| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn sha256_agrees_with_the_sha2_crate() {
        use sha2::Digest;
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Every padding case: empty, 55/56/63/64 bytes, several blocks.
        for n in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(
                sha256(&data)[..],
                sha2::Sha256::digest(&data)[..],
                "{n} bytes"
            );
        }
    }

    #[test]
    fn references_round_trip() {
        let h = hex(&[0xab; 32]);
        assert!(is_hash(&h));
        assert_eq!(parse_ref(&reference(&h)), Some(h.as_str()));
        assert_eq!(parse_ref("reel-asset:00"), None);
        assert_eq!(parse_ref(&reference("ABC")), None);
    }
}
