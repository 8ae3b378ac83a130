//! A small zstd encoder (RFC 8878) for the recorder.
//!
//! Why our own: ruzstd's encoder is weak (no repeat offsets, no Huffman
//! literals) and big in wasm. This one keeps to what pays on MessagePack
//! event data, in little code:
//!
//! * Frames: magic, Frame_Header_Descriptor without checksum or dictionary.
//!   [`FrameEncoder`] writes a Window_Descriptor for [`WINDOW`] (the content
//!   size is not known up front); [`compress`] writes a single-segment header
//!   with the content size when that is at most [`WINDOW`].
//! * Blocks hold at most [`BLOCK_MAX`] bytes of input. A block is compressed
//!   (literals + sequences) unless that is not smaller, then raw. A raw block
//!   leaves the repeat offsets as they were before it, as the decoder does.
//! * Literals: Huffman (tree described by FSE-compressed weights, or the
//!   direct 4-bit form when that is smaller and possible), 1 stream below
//!   1024 literals, else 4 streams with the jump table; RLE or raw when
//!   Huffman does not pay. No treeless (repeat) mode.
//! * Sequences: per block and per kind (literal length, offset, match
//!   length), the cheapest of predefined, RLE or a custom FSE table, by an
//!   estimate of the bits. No repeat mode.
//! * Matcher: hash table (positions of 5-byte keys) plus a chain
//!   over the last 64 Ki positions, a few candidates deep, the three repeat
//!   offsets checked first (with the literal-length-0 rule), lazy by one
//!   position, and a growing step over incompressible stretches.
//!
//! Invariants:
//! * `hist` holds the frame's latest input; the block being compressed is
//!   its tail. At least [`WINDOW`] bytes before the block stay
//!   (or all of the frame, if shorter), so every offset ≤ [`WINDOW`] and ≤
//!   the position in the frame refers to bytes we still have.
//! * `head`/`chain` hold positions relative to `hist`; when `hist` drops its
//!   front (by a multiple of the chain size, so chain slots keep their index)
//!   they are rebased, saturating at 0. Stale entries are harmless: every
//!   candidate is verified byte by byte and chains only ever go backwards.
//!
//! Memory: at most 2 × [`WINDOW`] of history (2 MiB), 512 KiB of match
//! tables, per-block scratch bounded by the block (literals ≤ 128 KiB,
//! sequences ≤ 32 Ki × 12 bytes) and ~6 KiB of FSE tables. Nothing grows
//! with the length of the frame.

/// Log2 of the window, the farthest a match reaches back.
const WINDOW_LOG: u32 = 20;
/// The window the frame header declares and the matcher keeps to.
pub const WINDOW: usize = 1 << WINDOW_LOG;
/// The largest block the format allows, and how much input one block takes.
pub const BLOCK_MAX: usize = 128 * 1024;
/// When `hist` grows beyond this it drops its front down to ~[`WINDOW`].
const HIST_CAP: usize = 2 * WINDOW;
const HASH_LOG: u32 = 16;
const CHAIN_LOG: u32 = 16;
const CHAIN_MASK: usize = (1 << CHAIN_LOG) - 1;
/// Shortest match found through the hash (repeat offsets take 4).
const MIN_MATCH: usize = 5;
/// Hash-chain candidates tried per position.
const DEPTH: u32 = 4;
/// Only matches shorter than this look for a better one a byte later.
/// Measured on chunk bodies: lazier parsing finds longer matches but loses
/// the repeat offsets that MessagePack's regular records reuse.
const LAZY_BELOW: usize = 8;
/// Of a match longer than this only the last two positions are hashed:
/// hashing all costs time and found little (2% on one sample body).
const INSERT_MAX: usize = 16;
/// The step over unmatched input grows by one every 2^SKIP bytes.
const SKIP: u32 = 7;

/// Little-endian bit writer: zstd's bitstreams are written forwards and
/// read backwards from the final marker bit.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Bits { out, acc: 0, n: 0 }
    }

    /// Appends the low `bits` (≤ 32) bits of `v`. `n` stays below 64 (a
    /// shift by 64 would overflow).
    #[inline(always)]
    fn add(&mut self, v: u32, bits: u32) {
        if self.n + bits > 63 {
            self.flush();
        }
        self.acc |= (v as u64 & ((1u64 << bits) - 1)) << self.n;
        self.n += bits;
    }

    #[inline(never)]
    fn flush(&mut self) {
        let bytes = (self.n / 8) as usize;
        let b = self.acc.to_le_bytes();
        self.out.extend_from_slice(b.get(..bytes).unwrap_or(&[]));
        self.acc = self.acc.checked_shr(bytes as u32 * 8).unwrap_or(0);
        self.n &= 7;
    }

    /// Pads to a byte (forward-read streams: table descriptions).
    fn pad(mut self) {
        self.flush();
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
    }

    /// Ends a backward-read stream: the marker bit, then padding.
    fn close(mut self) {
        self.add(1, 1);
        self.pad();
    }
}

/// Overwrites `out[at..at + n]` with the first `n` of `bytes` (a header
/// whose size is known only afterwards), without a panic path.
fn put(out: &mut [u8], at: usize, bytes: &[u8], n: usize) {
    for (o, &b) in out.iter_mut().skip(at).zip(bytes).take(n) {
        *o = b;
    }
}

#[inline(always)]
fn highbit(v: u32) -> u32 {
    31 - (v | 1).leading_zeros()
}

/// log2(v) in 1/256 bits, linear between powers of two (error < 0.09 bit):
/// enough to compare encodings.
fn log2_fp(v: u32) -> u32 {
    let hb = highbit(v);
    let frac = ((v as u64) << 8 >> hb) as u32 & 0xFF;
    hb * 256 + frac
}

/// Unaligned little-endian reads. Callers stay in bounds; a read past the
/// end gives 0 rather than a panic path (code size, and no way to abort the
/// page's recorder from here).
#[inline(always)]
fn rd64(b: &[u8], i: usize) -> u64 {
    match b.get(i..).and_then(|s| s.first_chunk::<8>()) {
        Some(c) => u64::from_le_bytes(*c),
        None => 0,
    }
}

#[inline(always)]
fn rd32(b: &[u8], i: usize) -> u32 {
    match b.get(i..).and_then(|s| s.first_chunk::<4>()) {
        Some(c) => u32::from_le_bytes(*c),
        None => 0,
    }
}

/// Length of the common run of `b[a..]` and `b[p..end]`, `a < p`.
fn match_len(b: &[u8], a: usize, p: usize, end: usize) -> usize {
    let max = end.saturating_sub(p);
    let mut n = 0;
    while n + 8 <= max {
        let x = rd64(b, a + n) ^ rd64(b, p + n);
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && b.get(a + n) == b.get(p + n) {
        n += 1;
    }
    n
}

/// Hash of the MIN_MATCH bytes at the bottom of `v` (multiplicative, the
/// top HASH_LOG bits).
#[inline(always)]
fn hash(v: u64) -> usize {
    ((v << (64 - 8 * MIN_MATCH as u32)).wrapping_mul(0xCF1B_BCDC_B7A5_6463) >> (64 - HASH_LOG))
        as usize
}

// --- FSE -----------------------------------------------------------------

/// An FSE encoding table (FSE_buildCTable), for accuracy logs 0..=9 and up
/// to 64 symbols.
struct Fse {
    log: u32,
    states: [u16; 512],
    /// Per symbol: deltaNbBits, deltaFindState.
    syms: [(u32, i32); 64],
}

impl Fse {
    fn new() -> Self {
        Fse {
            log: 0,
            states: [0; 512],
            syms: [(0, 0); 64],
        }
    }

    /// Builds from a normalized distribution (sum 2^log, -1 = "less than
    /// one", taking one slot at the top), spreading symbols as the decoder
    /// does.
    fn build(&mut self, norm: &[i16], log: u32) {
        let size = 1usize << log;
        let mask = size - 1;
        let step = (size >> 1) + (size >> 3) + 3;
        let mut high = size - 1;
        let mut spread = [0u8; 512];
        let mut cumul = [0u16; 65];
        for (s, &n) in norm.iter().enumerate().take(64) {
            let c = cumul[s];
            cumul[s + 1] = if n == -1 {
                spread[high & 511] = s as u8;
                high = high.wrapping_sub(1);
                c + 1
            } else {
                c + n.max(0) as u16
            };
        }
        let mut pos = 0;
        for (s, &n) in norm.iter().enumerate() {
            for _ in 0..n.max(0) {
                spread[pos & 511] = s as u8;
                pos = (pos + step) & mask;
                while pos > high {
                    pos = (pos + step) & mask;
                }
            }
        }
        for (u, &s) in spread.iter().enumerate().take(size) {
            let c = &mut cumul[s as usize & 63];
            self.states[*c as usize & 511] = (size + u) as u16;
            *c += 1;
        }
        let mut total = 0i32;
        for (s, &n) in norm.iter().enumerate().take(64) {
            self.syms[s] = match n {
                0 => (0, 0),
                -1 | 1 => {
                    total += 1;
                    ((log << 16).wrapping_sub(size as u32), total - 2)
                }
                _ => {
                    let n = n as u32;
                    let max_bits = log - highbit(n - 1);
                    let d = (
                        (max_bits << 16).wrapping_sub(n << max_bits),
                        total - n as i32,
                    );
                    total += n as i32;
                    d
                }
            };
        }
        self.log = log;
    }

    /// The state after encoding `s` as the first symbol (no bits).
    fn init(&self, s: u8) -> u32 {
        let (dnb, dfs) = self.syms[s as usize & 63];
        let nb = dnb.wrapping_add(1 << 15) >> 16;
        let v = (nb << 16).wrapping_sub(dnb);
        self.states[((v >> nb) as i32 + dfs) as usize & 511] as u32
    }

    fn encode(&self, w: &mut Bits, state: &mut u32, s: u8) {
        let (dnb, dfs) = self.syms[s as usize & 63];
        let nb = state.wrapping_add(dnb) >> 16;
        w.add(*state, nb);
        *state = self.states[((*state >> nb) as i32 + dfs) as usize & 511] as u32;
    }

    fn flush(&self, w: &mut Bits, state: u32) {
        w.add(state, self.log);
    }
}

/// FSE_optimalTableLog: small inputs get small tables.
fn optimal_log(max_log: u32, n: u32, max_sym: u32) -> u32 {
    let src = highbit(n.saturating_sub(1).max(1));
    let min_bits = (src + 1).min(highbit(max_sym.max(1)) + 2);
    let mut log = max_log.min(src.saturating_sub(2));
    log = log.max(min_bits).max(5);
    log.min(max_log)
}

/// Scales `counts` (total `total`, at most 2^log symbols present) to sum
/// 2^log; rare symbols get -1. Overshoot is taken from the largest.
fn normalize(counts: &[u32], total: u32, log: u32, norm: &mut [i16]) {
    let size = 1i32 << log;
    let mut sum = 0i32;
    let mut largest = 0;
    let mut largest_c = 0;
    for (s, (&c, n)) in counts.iter().zip(norm.iter_mut()).enumerate() {
        *n = if c == 0 {
            0
        } else {
            if c > largest_c {
                largest_c = c;
                largest = s;
            }
            let p = ((c as u64 * size as u64 + total as u64 / 2) / total as u64) as i16;
            if p == 0 {
                -1
            } else {
                p
            }
        };
        sum += (*n).abs() as i32;
    }
    if sum <= size {
        if let Some(n) = norm.get_mut(largest) {
            *n += (size - sum) as i16;
        }
        return;
    }
    while sum > size {
        match norm.iter_mut().max() {
            Some(n) if *n > 1 => *n -= 1,
            _ => return, // cannot happen: at most 2^log symbols
        }
        sum -= 1;
    }
}

/// FSE_writeNCount: the table description.
fn write_ncount(norm: &[i16], log: u32, out: &mut Vec<u8>) {
    let mut w = Bits::new(out);
    w.add(log - 5, 4);
    let mut remaining = (1i32 << log) + 1;
    let mut threshold = 1i32 << log;
    let mut nb = log + 1;
    let mut s = 0;
    let mut prev0 = false;
    while s < norm.len() && remaining > 1 {
        if prev0 {
            let mut start = s;
            while norm.get(s) == Some(&0) {
                s += 1;
            }
            while s >= start + 24 {
                start += 24;
                w.add(0xFFFF, 16);
            }
            while s >= start + 3 {
                start += 3;
                w.add(3, 2);
            }
            w.add((s - start) as u32, 2);
        }
        let Some(&count) = norm.get(s) else {
            break;
        };
        let mut count = count as i32;
        s += 1;
        let max = 2 * threshold - 1 - remaining;
        remaining -= count.abs();
        count += 1;
        if count >= threshold {
            count += max;
        }
        w.add(count as u32, if count < max { nb - 1 } else { nb });
        prev0 = count == 1;
        while remaining < threshold {
            nb -= 1;
            threshold >>= 1;
        }
    }
    w.pad();
}

// --- Literals ---------------------------------------------------------------

/// Huffman code lengths (≤ 11) for `counts`, at least two symbols present.
/// Returns the longest.
fn huff_lengths(counts: &[u32; 256], len: &mut [u8; 256]) -> u32 {
    // Leaves sorted by count; internal nodes come out in order too
    // (the two-queue construction).
    let mut items = [0u32; 256];
    let mut n = 0;
    for (s, &c) in counts.iter().enumerate() {
        if c > 0 {
            items[n & 255] = (c.min(0xFF_FFFF) << 8) | s as u32;
            n += 1;
        }
    }
    let items = items.get_mut(..n).unwrap_or(&mut []);
    // Insertion sort: n ≤ 256, once per block, and no sort code in the wasm.
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && items[j - 1] > items[j] {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut w = [0u32; 512];
    let mut parent = [0u16; 512];
    for (wi, &it) in w.iter_mut().zip(items.iter()) {
        *wi = it >> 8;
    }
    let (mut l, mut q) = (0, n);
    for k in n..2 * n - 1 {
        let mut pick = || {
            if l < n && (q >= k || w[l & 511] <= w[q & 511]) {
                l += 1;
                l - 1
            } else {
                q += 1;
                q - 1
            }
        };
        let a = pick();
        let b = pick();
        w[k & 511] = w[a & 511] + w[b & 511];
        parent[a & 511] = k as u16;
        parent[b & 511] = k as u16;
    }
    // Depths, root first (reusing w).
    w[(2 * n - 2) & 511] = 0;
    for k in (0..2 * n - 2).rev() {
        w[k & 511] = w[parent[k & 511] as usize & 511] + 1;
    }
    // Limit to 11 bits, then make the code complete (the decoder derives
    // the last weight from the rest, which needs a complete code).
    let d = w.get_mut(..n).unwrap_or(&mut []);
    let mut kraft = 0u32;
    for x in d.iter_mut() {
        *x = (*x).min(11);
        kraft += 1 << (11 - *x);
    }
    while kraft > 2048 {
        // Lengths fall with the count: the first below 11 is the deepest
        // and rarest that can still grow.
        let Some(x) = d.iter_mut().find(|x| **x < 11) else {
            break;
        };
        *x += 1;
        kraft -= 1 << (11 - *x);
    }
    while kraft < 2048 {
        let deficit = 2048 - kraft;
        let Some(x) = d
            .iter_mut()
            .rev()
            .find(|x| **x > 1 && (1 << (11 - **x)) <= deficit)
        else {
            break;
        };
        kraft += 1 << (11 - *x);
        *x -= 1;
    }
    *len = [0; 256];
    let mut max = 0;
    for (&it, &x) in items.iter().zip(d.iter()) {
        len[(it & 0xFF) as usize] = x as u8;
        max = max.max(x);
    }
    max
}

/// Literals section header for raw (0) or RLE (1) literals.
fn lit_header(ty: u32, n: usize, out: &mut Vec<u8>) {
    let n = n as u32;
    if n < 32 {
        out.push((ty | n << 3) as u8);
    } else if n < 4096 {
        out.extend_from_slice(&(ty | 1 << 2 | n << 4).to_le_bytes()[..2]);
    } else {
        out.extend_from_slice(&(ty | 3 << 2 | n << 4).to_le_bytes()[..3]);
    }
}

fn encode_literals(lits: &[u8], t: &mut Scratch, out: &mut Vec<u8>) {
    let n = lits.len();
    let start = out.len();
    if n >= 32 && huffman(lits, t, out) {
        return;
    }
    out.truncate(start);
    match lits.first() {
        Some(&b) if n > 2 && lits.iter().all(|&x| x == b) => {
            lit_header(1, n, out);
            out.push(b);
        }
        _ => {
            lit_header(0, n, out);
            out.extend_from_slice(lits);
        }
    }
}

/// Huffman-compressed literals; false if raw or RLE would do as well.
fn huffman(lits: &[u8], t: &mut Scratch, out: &mut Vec<u8>) -> bool {
    let n = lits.len();
    let mut counts = [0u32; 256];
    for &b in lits {
        counts[b as usize] += 1;
    }
    let mut last = 0;
    let mut distinct = 0;
    for (s, &c) in counts.iter().enumerate() {
        if c > 0 {
            last = s;
            distinct += 1;
        }
    }
    if distinct < 2 {
        return false;
    }
    let mut len = [0u8; 256];
    let max_bits = huff_lengths(&counts, &mut len);
    let bits: u64 = counts
        .iter()
        .zip(len.iter())
        .map(|(&c, &l)| c as u64 * l as u64)
        .sum();
    if bits / 8 + 16 >= n as u64 {
        return false;
    }
    // Canonical codes as the decoder assigns them: longer codes first,
    // within a length by symbol.
    let mut rank = [0u32; 16];
    for &l in len.iter() {
        rank[l as usize & 15] += 1;
    }
    let mut next = [0u32; 16];
    let mut min = 0;
    for l in (1..=max_bits as usize & 15).rev() {
        next[l] = min;
        min = (min + rank[l]) >> 1;
    }
    let mut code = [0u16; 256];
    for (c, &l) in code.iter_mut().zip(len.iter()) {
        if l > 0 {
            let n = &mut next[l as usize & 15];
            *c = *n as u16;
            *n += 1;
        }
    }

    let hlen = if n < 1024 {
        3
    } else if n < 16384 {
        4
    } else {
        5
    };
    let start = out.len();
    out.resize(start + hlen, 0);
    if !write_tree(&len, max_bits, last, t, out) {
        return false;
    }
    if n < 1024 {
        huff_stream(out, lits, &code, &len);
    } else {
        let jump = out.len();
        out.extend_from_slice(&[0; 6]);
        let seg = n.div_ceil(4);
        let mut begin = out.len();
        for (i, part) in lits.chunks(seg).enumerate() {
            huff_stream(out, part, &code, &len);
            let size = out.len() - begin;
            begin = out.len();
            if i < 3 {
                if size > 0xFFFF {
                    return false;
                }
                put(out, jump + 2 * i, &(size as u16).to_le_bytes(), 2);
            }
        }
    }
    let comp = (out.len() - start - hlen) as u64;
    let raw_hlen = if n < 32 {
        1
    } else if n < 4096 {
        2
    } else {
        3
    };
    if comp + hlen as u64 >= (n + raw_hlen) as u64 {
        return false;
    }
    let n = n as u64;
    let h: u64 = match hlen {
        3 => 2 | n << 4 | comp << 14,
        4 => 2 | 2 << 2 | n << 4 | comp << 18,
        _ => 2 | 3 << 2 | n << 4 | comp << 22,
    };
    put(out, start, &h.to_le_bytes(), hlen);
    true
}

/// One Huffman stream, written backwards so that it decodes forwards.
fn huff_stream(out: &mut Vec<u8>, part: &[u8], code: &[u16; 256], len: &[u8; 256]) {
    let mut w = Bits::new(out);
    for &b in part.iter().rev() {
        w.add(code[b as usize] as u32, len[b as usize] as u32);
    }
    w.close();
}

/// The Huffman tree description: weights of symbols 0..last (the last one
/// is implied), FSE-compressed or 4 bits each.
fn write_tree(
    len: &[u8; 256],
    max_bits: u32,
    last: usize,
    t: &mut Scratch,
    out: &mut Vec<u8>,
) -> bool {
    let mut wt = [0u8; 256];
    let mut counts = [0u32; 13];
    for (w, &l) in wt.iter_mut().zip(len.iter()).take(last) {
        if l > 0 {
            *w = (max_bits + 1 - l as u32) as u8;
        }
        counts[*w as usize % 13] += 1;
    }
    let wt = wt.get(..last).unwrap_or(&[]);
    let nw = last as u32;
    let direct = last.div_ceil(2);
    let max_count = counts.iter().copied().max().unwrap_or(0);
    if nw > 2 && max_count < nw && max_count > 1 {
        let max_w = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
        let log = optimal_log(6, nw, max_w as u32);
        let mut norm = [0i16; 13];
        normalize(&counts[..=max_w], nw, log, &mut norm[..=max_w]);
        let at = out.len();
        out.push(0);
        write_ncount(&norm[..=max_w], log, out);
        let f = &mut t.fse[3];
        f.build(&norm[..=max_w], log);
        let mut w = Bits::new(out);
        let mut st = [0u32; 2];
        // Two interleaved states, the last two weights starting them.
        for (i, &x) in wt.iter().enumerate().rev() {
            if i + 2 >= wt.len() {
                st[i & 1] = f.init(x);
            } else {
                f.encode(&mut w, &mut st[i & 1], x);
            }
        }
        f.flush(&mut w, st[1]);
        f.flush(&mut w, st[0]);
        w.close();
        let size = out.len() - at - 1;
        if size < 128 && (last > 128 || size < direct) {
            if let Some(h) = out.get_mut(at) {
                *h = size as u8;
            }
            return true;
        }
        out.truncate(at);
    }
    if last > 128 {
        return false;
    }
    out.push((127 + last) as u8);
    for p in wt.chunks(2) {
        out.push(p[0] << 4 | p.get(1).copied().unwrap_or(0));
    }
    true
}

// --- Sequences --------------------------------------------------------------

#[derive(Clone, Copy)]
struct Seq {
    ll: u32,
    ml: u32,
    /// Offset_Value: 1..=3 repeat codes, else offset + 3.
    of: u32,
}

const LL_BASE: [u32; 36] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64,
    128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
];
const ML_BASE: [u32; 53] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    28, 29, 30, 31, 32, 33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027,
    2051, 4099, 8195, 16387, 32771, 65539,
];
const LL_PREDEF: [i16; 36] = [
    4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
    -1, -1, -1, -1,
];
const ML_PREDEF: [i16; 53] = [
    1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];
const OF_PREDEF: [i16; 29] = [
    1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
];

fn ll_code(ll: u32) -> u32 {
    match ll {
        0..=15 => ll,
        16..=23 => 16 + (ll - 16) / 2,
        24..=31 => 20 + (ll - 24) / 4,
        32..=47 => 22 + (ll - 32) / 8,
        48..=63 => 24,
        _ => (highbit(ll) + 19).min(35),
    }
}

fn ml_code(ml: u32) -> u32 {
    let b = ml - 3;
    match b {
        0..=31 => b,
        32..=39 => 32 + (b - 32) / 2,
        40..=47 => 36 + (b - 40) / 4,
        48..=63 => 38 + (b - 48) / 8,
        64..=95 => 40 + (b - 64) / 16,
        96..=127 => 42,
        _ => (highbit(b) + 36).min(52),
    }
}

fn seq_count(n: usize, out: &mut Vec<u8>) {
    if n < 128 {
        out.push(n as u8);
    } else if n < 0x7F00 {
        out.extend_from_slice(&[(n >> 8) as u8 + 128, n as u8]);
    } else {
        let r = (n - 0x7F00) as u16;
        out.push(0xFF);
        out.extend_from_slice(&r.to_le_bytes());
    }
}

/// Picks predefined (0), RLE (1) or a custom table (2) for one kind of
/// code, builds it into `f` and writes its description to `out`.
fn choose_table(
    hist: &[u32],
    nb: u32,
    max_log: u32,
    predef: &[i16],
    pre_log: u32,
    f: &mut Fse,
    out: &mut Vec<u8>,
) -> u32 {
    let mut norm = [0i16; 64];
    let max_sym = hist.iter().rposition(|&c| c > 0).unwrap_or(0);
    if hist.iter().filter(|&&c| c > 0).count() == 1 {
        norm[max_sym] = 1;
        f.build(&norm[..=max_sym], 0);
        out.push(max_sym as u8);
        return 1;
    }
    // Bits in 1/256: predefined (accuracy log 6 or 5) ...
    let mut pre = 0u64;
    for (s, &c) in hist.iter().enumerate() {
        if c > 0 {
            match predef.get(s) {
                Some(&p) if p != 0 => {
                    pre += c as u64 * (pre_log * 256 - log2_fp(p.max(1) as u32)) as u64;
                }
                _ => pre = u64::MAX / 2,
            }
        }
    }
    // ... against a table of our own, description included.
    let log = optimal_log(max_log, nb, max_sym as u32);
    let norm = &mut norm[..=max_sym];
    normalize(&hist[..=max_sym], nb, log, norm);
    let at = out.len();
    write_ncount(norm, log, out);
    let mut own = (out.len() - at) as u64 * 8 * 256;
    for (&c, &p) in hist.iter().zip(norm.iter()) {
        if c > 0 {
            own += c as u64 * (log * 256 - log2_fp(p.max(1) as u32)) as u64;
        }
    }
    if own < pre {
        f.build(norm, log);
        2
    } else {
        out.truncate(at);
        f.build(predef, pre_log);
        0
    }
}

fn encode_sequences(seqs: &[Seq], t: &mut Scratch, out: &mut Vec<u8>) {
    let nb = seqs.len();
    seq_count(nb, out);
    if nb == 0 {
        return;
    }
    let codes = &mut t.codes;
    codes.clear();
    let mut hll = [0u32; 36];
    let mut hml = [0u32; 53];
    let mut hof = [0u32; 32];
    for s in seqs {
        let (l, m, o) = (ll_code(s.ll), ml_code(s.ml), highbit(s.of));
        hll[l as usize % 36] += 1;
        hml[m as usize % 53] += 1;
        hof[o as usize % 32] += 1;
        codes.push([l as u8, m as u8, o as u8]);
    }
    let modes_at = out.len();
    out.push(0);
    let [fll, fof, fml, _] = &mut t.fse;
    let mll = choose_table(&hll, nb as u32, 9, &LL_PREDEF, 6, fll, out);
    let mof = choose_table(&hof, nb as u32, 8, &OF_PREDEF, 5, fof, out);
    let mml = choose_table(&hml, nb as u32, 9, &ML_PREDEF, 6, fml, out);
    if let Some(m) = out.get_mut(modes_at) {
        *m = (mll << 6 | mof << 4 | mml << 2) as u8;
    }

    let mut w = Bits::new(out);
    let extra = |w: &mut Bits, s: &Seq, c: &[u8; 3]| {
        let l = c[0] as usize % 36;
        let m = c[1] as usize % 53;
        w.add(s.ll - LL_BASE[l], ll_bits(l));
        w.add(s.ml - ML_BASE[m], ml_bits(m));
        w.add(s.of, c[2] as u32);
    };
    let (Some(s), Some(c)) = (seqs.last(), codes.last()) else {
        return;
    };
    let mut sml = fml.init(c[1]);
    let mut sof = fof.init(c[2]);
    let mut sll = fll.init(c[0]);
    extra(&mut w, s, c);
    for (s, c) in seqs.iter().zip(codes.iter()).rev().skip(1) {
        fof.encode(&mut w, &mut sof, c[2]);
        fml.encode(&mut w, &mut sml, c[1]);
        fll.encode(&mut w, &mut sll, c[0]);
        extra(&mut w, s, c);
    }
    fml.flush(&mut w, sml);
    fof.flush(&mut w, sof);
    fll.flush(&mut w, sll);
    w.close();
}

#[inline(always)]
fn ll_bits(code: usize) -> u32 {
    match code {
        0..=15 => 0,
        16..=19 => 1,
        20 | 21 => 2,
        22 | 23 => 3,
        24 => 4,
        _ => code as u32 - 19,
    }
}

#[inline(always)]
fn ml_bits(code: usize) -> u32 {
    match code {
        0..=31 => 0,
        32..=35 => 1,
        36 | 37 => 2,
        38 | 39 => 3,
        40 | 41 => 4,
        42 => 5,
        _ => code as u32 - 36,
    }
}

// --- The encoder ------------------------------------------------------------

/// Per-block scratch, reused.
struct Scratch {
    /// Literal length, offset, match length, Huffman weights.
    fse: [Fse; 4],
    codes: Vec<[u8; 3]>,
}

/// Compresses one frame piece by piece; matches reach back across pieces
/// (up to [`WINDOW`] bytes).
///
/// Memory: 512 KiB of match tables from [`FrameEncoder::new`], history
/// growing with the input up to 2 × [`WINDOW`] (2 MiB), and per-block
/// scratch (≤ 128 KiB of literals, ≤ 384 KiB of sequences, ~6 KiB of
/// tables). It does not grow further however long the frame.
pub struct FrameEncoder {
    hist: Vec<u8>,
    head: Vec<u32>,
    chain: Vec<u32>,
    /// First position of `hist` not in the hash table yet.
    next_ins: usize,
    reps: [u32; 3],
    /// Whether the frame header is out.
    started: bool,
    /// Content size for a single-segment header ([`compress`], up to
    /// [`WINDOW`]: a larger single-segment window could exceed what
    /// decoders accept, libzstd's default limit being 128 MiB).
    size: Option<u32>,
    lits: Vec<u8>,
    seqs: Vec<Seq>,
    t: Box<Scratch>,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameEncoder {
    pub fn new() -> Self {
        FrameEncoder {
            hist: Vec::new(),
            head: vec![0; 1 << HASH_LOG],
            chain: vec![0; 1 << CHAIN_LOG],
            next_ins: 0,
            reps: [1, 4, 8],
            started: false,
            size: None,
            lits: Vec::new(),
            seqs: Vec::new(),
            t: Box::new(Scratch {
                fse: [Fse::new(), Fse::new(), Fse::new(), Fse::new()],
                codes: Vec::new(),
            }),
        }
    }

    /// Compresses `data` (normally ≤ [`BLOCK_MAX`]; more is split) as the
    /// next block(s) of the frame, appending to `out` (the frame header
    /// before the first block). Keeps what it needs of `data` as history.
    pub fn block(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.blocks(data, false, out);
    }

    /// Ends the frame (an empty last block).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.blocks(&[], true, out);
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        // Magic, then either no content size and a window of 2^WINDOW_LOG
        // (exponent, mantissa 0), or single segment: the window is the
        // content, whose size follows in 1, 2 (less 256) or 4 bytes.
        let mut h = [
            0x28,
            0xB5,
            0x2F,
            0xFD,
            0,
            ((WINDOW_LOG - 10) << 3) as u8,
            0,
            0,
            0,
        ];
        let len = match self.size {
            None => 6,
            Some(n) if n < 256 => {
                h[4] = 0x20;
                h[5] = n as u8;
                6
            }
            Some(n) if n < 65536 + 256 => {
                h[4] = 0x60;
                put(&mut h, 5, &(n - 256).to_le_bytes(), 2);
                7
            }
            Some(n) => {
                h[4] = 0xA0;
                put(&mut h, 5, &n.to_le_bytes(), 4);
                9
            }
        };
        out.extend_from_slice(h.get(..len).unwrap_or(&h));
    }

    fn blocks(&mut self, data: &[u8], last: bool, out: &mut Vec<u8>) {
        self.header(out);
        if data.is_empty() {
            if last {
                out.extend_from_slice(&[1, 0, 0]);
            }
            return;
        }
        let mut chunks = data.chunks(BLOCK_MAX).peekable();
        while let Some(c) = chunks.next() {
            self.one_block(c, last && chunks.peek().is_none(), out);
        }
    }

    fn one_block(&mut self, data: &[u8], last: bool, out: &mut Vec<u8>) {
        if self.hist.len() + data.len() > HIST_CAP {
            let shift = (self.hist.len() - WINDOW) & !CHAIN_MASK;
            self.hist.drain(..shift.min(self.hist.len()));
            for p in self.head.iter_mut().chain(self.chain.iter_mut()) {
                *p = p.saturating_sub(shift as u32);
            }
            self.next_ins = self.next_ins.saturating_sub(shift);
        }
        let start = self.hist.len();
        // Grow by doubling, but never past HIST_CAP (Vec's own doubling
        // could reach twice that).
        let need = start + data.len();
        if need > self.hist.capacity() {
            self.hist
                .reserve_exact((2 * need).min(HIST_CAP).max(need) - start);
        }
        self.hist.extend_from_slice(data);
        let end = self.hist.len();
        let saved = self.reps;
        self.parse(start, end);

        let at = out.len();
        out.extend_from_slice(&[0; 3]);
        encode_literals(&self.lits, &mut self.t, out);
        encode_sequences(&self.seqs, &mut self.t, out);
        let mut size = out.len() - at - 3;
        let mut ty = 2;
        if size >= data.len() {
            out.truncate(at + 3);
            out.extend_from_slice(data);
            self.reps = saved;
            size = data.len();
            ty = 0;
        }
        let h = last as u32 | ty << 1 | (size as u32) << 3;
        put(out, at, &h.to_le_bytes(), 3);
    }

    /// Finds this block's sequences and literals.
    fn parse(&mut self, start: usize, end: usize) {
        self.lits.clear();
        self.seqs.clear();
        let limit = end.saturating_sub(8);
        let mut ip = start;
        let mut anchor = start;
        self.next_ins = self.next_ins.max(start.saturating_sub(8));
        while ip < limit {
            let (mut len, mut off, mut gain) = self.search(ip, anchor, end);
            if len == 0 {
                ip += 1 + ((ip - anchor) >> SKIP);
                continue;
            }
            // Lazy: a better match one byte on wins.
            while ip + 1 < limit && len < LAZY_BELOW {
                let (l2, o2, g2) = self.search(ip + 1, anchor, end);
                if l2 == 0 || g2 <= gain + 4 {
                    break;
                }
                (len, off, gain) = (l2, o2, g2);
                ip += 1;
            }
            // Extend backwards over literals.
            let o = off as usize;
            while ip > anchor && ip > o && self.hist.get(ip - 1) == self.hist.get(ip - 1 - o) {
                ip -= 1;
                len += 1;
            }
            let ll = (ip - anchor) as u32;
            let of = self.off_code(off, ll == 0);
            self.lits
                .extend_from_slice(self.hist.get(anchor..ip).unwrap_or(&[]));
            self.seqs.push(Seq {
                ll,
                ml: len as u32,
                of,
            });
            ip += len;
            anchor = ip;
            let stop = ip.min(limit);
            if stop.saturating_sub(self.next_ins) > INSERT_MAX {
                self.next_ins = stop - 2;
            }
            while self.next_ins < stop {
                self.insert(self.next_ins);
                self.next_ins += 1;
            }
        }
        self.lits
            .extend_from_slice(self.hist.get(anchor..end).unwrap_or(&[]));
    }

    /// The best match at `ip` (length 0 if none): length, offset, gain
    /// (4 per byte less the offset's bits). Inserts `ip` into the table.
    fn search(&mut self, ip: usize, anchor: usize, end: usize) -> (usize, u32, i32) {
        let b = &self.hist[..];
        let (mut best, mut best_off, mut best_gain) = (0usize, 0u32, 0i32);
        let cur = rd32(b, ip);
        let r = self.reps;
        let cands = if ip == anchor {
            [r[1], r[2], r[0].wrapping_sub(1)]
        } else {
            r
        };
        for (i, &o) in cands.iter().enumerate() {
            let o = o as usize;
            if o == 0 || o > ip || o > WINDOW {
                continue;
            }
            if rd32(b, ip - o) == cur {
                let len = 4 + match_len(b, ip - o + 4, ip + 4, end);
                let gain = 4 * len as i32 - (i > 0) as i32;
                if gain > best_gain {
                    (best, best_off, best_gain) = (len, o as u32, gain);
                }
            }
        }
        let mut c = self.insert(ip);
        self.next_ins = ip + 1;
        let b = &self.hist[..];
        let max = end - ip;
        for _ in 0..DEPTH {
            if c >= ip || ip - c > WINDOW {
                break;
            }
            if rd32(b, c) == cur && b.get(c + best) == b.get(ip + best) {
                let len = match_len(b, c, ip, end);
                if len >= MIN_MATCH {
                    let gain = 4 * len as i32 - highbit((ip - c + 3) as u32) as i32;
                    if gain > best_gain {
                        (best, best_off, best_gain) = (len, (ip - c) as u32, gain);
                        if len == max {
                            break;
                        }
                    }
                }
            }
            if ip - c > CHAIN_MASK {
                break;
            }
            let next = self.chain.get(c & CHAIN_MASK).copied().unwrap_or(0) as usize;
            if next >= c {
                break;
            }
            c = next;
        }
        (best, best_off, best_gain)
    }

    /// Hashes position `p` (which has 8 bytes after it) into the table;
    /// returns the previous position with its hash.
    #[inline(always)]
    fn insert(&mut self, p: usize) -> usize {
        let h = hash(rd64(&self.hist, p));
        let mut prev = 0;
        if let Some(x) = self.head.get_mut(h) {
            prev = *x;
            *x = p as u32;
        }
        if let Some(x) = self.chain.get_mut(p & CHAIN_MASK) {
            *x = prev;
        }
        prev as usize
    }

    /// Offset_Value for a match at `off` and the repeat offsets after it.
    fn off_code(&mut self, off: u32, ll0: bool) -> u32 {
        let r = self.reps;
        let code = if ll0 {
            if off == r[1] {
                1
            } else if off == r[2] {
                2
            } else if off == r[0].wrapping_sub(1) {
                3
            } else {
                0
            }
        } else if off == r[0] {
            1
        } else if off == r[1] {
            2
        } else if off == r[2] {
            3
        } else {
            0
        };
        // zstd's repCode is code - 1 + ll0: 0 keeps the history, 1 swaps
        // the first two, 2 and 3 (and a new offset) push to the front.
        match if code == 0 { 3 } else { code + ll0 as u32 } {
            2 => self.reps = [off, r[0], r[2]],
            3 | 4 => self.reps = [off, r[0], r[1]],
            _ => {}
        }
        if code == 0 {
            off + 3
        } else {
            code
        }
    }
}

/// Compresses `data` as one whole frame (with its content size).
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut e = FrameEncoder::new();
    e.size = (data.len() <= WINDOW).then_some(data.len() as u32);
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    e.blocks(data, true, &mut out);
    out
}
