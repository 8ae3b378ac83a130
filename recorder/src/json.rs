//! A small pull parser for the JSON the capture layer hands over.
//!
//! Why not serde_json: the batches have a fixed shape that `raw.rs` reads
//! field by field, and serde's derive for it (an internally tagged enum,
//! which serde buffers into a generic tree before reading it again) was the
//! largest part of the recorder's wasm and a good share of its time. This
//! parser reads straight into the raw structs, with no tree in between.
//!
//! Invariants: it never panics on any input (the batch is built by our own
//! script, but from page content), nesting is bounded by [`MAX_DEPTH`], and
//! strings come out as valid UTF-8 (a lone surrogate escape becomes U+FFFD).

use std::fmt;

/// Deeper than any batch the capture layer builds (a few levels).
const MAX_DEPTH: u32 = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the input.
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for JsonError {}

pub type Result<T> = std::result::Result<T, JsonError>;

pub struct Parser<'a> {
    s: &'a str,
    i: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    pub fn new(s: &'a str) -> Self {
        Parser { s, i: 0, depth: 0 }
    }

    pub fn error<T>(&self, what: &'static str) -> Result<T> {
        Err(JsonError { at: self.i, what })
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn ws(&mut self) {
        let b = self.bytes();
        while let Some(c) = b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// The next value's first byte (after whitespace), to choose how to
    /// read it.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.error(what)
        }
    }

    fn literal(&mut self, word: &str) -> bool {
        self.ws();
        if self.bytes()[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    /// Consumes a `null` if one is next.
    pub fn null(&mut self) -> bool {
        self.literal("null")
    }

    /// The whole input is done (only whitespace left).
    pub fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.error("trailing characters"),
        }
    }

    /// Where the parser is, for errors reported later.
    pub fn position(&self) -> usize {
        self.i
    }

    /// Calls `item` once per element of an array.
    ///
    /// The callbacks are `dyn`: one copy of the loop serves every caller,
    /// where a generic one was compiled again for each (a third of the
    /// parser's wasm).
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.array_dyn(&mut item)
    }

    // `array_dyn` and `object_dyn` keep a loop each: one shared loop, with
    // a closure for the object's keys, measured 210 bytes more of gzipped
    // wasm, in a download with little room under its target.
    fn array_dyn(&mut self, item: &mut dyn FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.expect(b'[', "expected an array")?;
        self.enter()?;
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.error("expected , or ] in an array"),
            }
        }
    }

    /// Calls `field` once per member of an object with its key; `field`
    /// must consume the value (with [`Parser::skip`] for keys it ignores).
    pub fn object(&mut self, mut field: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        self.object_dyn(&mut field)
    }

    fn object_dyn(&mut self, field: &mut dyn FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        self.expect(b'{', "expected an object")?;
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return self.error("expected a key");
            }
            match self.raw_str()? {
                Str::Borrowed(k) => {
                    self.expect(b':', "expected :")?;
                    field(self, k)?;
                }
                Str::Owned(k) => {
                    self.expect(b':', "expected :")?;
                    field(self, &k)?;
                }
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.error("expected , or } in an object"),
            }
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error("nested too deeply");
        }
        Ok(())
    }

    pub fn string(&mut self) -> Result<String> {
        if self.peek() != Some(b'"') {
            return self.error("expected a string");
        }
        Ok(match self.raw_str()? {
            Str::Borrowed(s) => s.to_owned(),
            Str::Owned(s) => s,
        })
    }

    /// `None` for `null`, else what `read` reads.
    pub fn opt<T>(&mut self, read: fn(&mut Self) -> Result<T>) -> Result<Option<T>> {
        if self.null() {
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    pub fn opt_string(&mut self) -> Result<Option<String>> {
        self.opt(Self::string)
    }

    pub fn bool(&mut self) -> Result<bool> {
        if self.literal("true") {
            Ok(true)
        } else if self.literal("false") {
            Ok(false)
        } else {
            self.error("expected true or false")
        }
    }

    pub fn opt_bool(&mut self) -> Result<Option<bool>> {
        self.opt(Self::bool)
    }

    /// A number; `null` reads as 0, because that is what JSON.stringify
    /// writes for NaN and the infinities.
    pub fn f64(&mut self) -> Result<f64> {
        if self.null() {
            return Ok(0.0);
        }
        self.number()
    }

    /// A whole number that fits a `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        match whole_u32(self.number()?) {
            Some(v) => Ok(v),
            None => self.error("expected a whole number (u32)"),
        }
    }

    pub fn u32s(&mut self) -> Result<Vec<u32>> {
        let mut v = Vec::new();
        self.array(|p| {
            v.push(p.u32()?);
            Ok(())
        })?;
        Ok(v)
    }

    /// Reads a number token.
    ///
    /// Not `str::parse`: core's exact float parser and its tables are ~18 KB
    /// of wasm. This computes `digits × 10^exp`, which is exact (one
    /// rounding) whenever the digits fit in 53 bits and `|exp| <= 22`: every
    /// integer and every short decimal JSON.stringify writes for coordinates,
    /// times and media state. Longer ones, and far exponents (each power of
    /// ten beyond 10^22 is itself rounded), land a few units in the last
    /// place away (at most 9 over 10 million random doubles, see
    /// `tests/json_props.rs`), far below anything the recorder keeps
    /// (pixels, milliseconds).
    fn number(&mut self) -> Result<f64> {
        self.ws();
        let b = self.bytes();
        let mut i = self.i;
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let mut mant: u64 = 0;
        let mut exp: i32 = 0;
        let mut digits = 0;
        let mut any = false;
        while let Some(c @ b'0'..=b'9') = b.get(i) {
            any = true;
            if digits < 19 {
                mant = mant * 10 + (c - b'0') as u64;
                if mant != 0 {
                    digits += 1;
                }
            } else {
                exp += 1;
            }
            i += 1;
        }
        if !any {
            return self.error("expected a number");
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            while let Some(c @ b'0'..=b'9') = b.get(i) {
                if digits < 19 {
                    mant = mant * 10 + (c - b'0') as u64;
                    exp -= 1;
                    if mant != 0 {
                        digits += 1;
                    }
                }
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let eneg = b.get(i) == Some(&b'-');
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let mut e: i32 = 0;
            let start = i;
            while let Some(c @ b'0'..=b'9') = b.get(i) {
                e = e.saturating_mul(10).saturating_add((c - b'0') as i32);
                i += 1;
            }
            if i == start {
                self.i = i;
                return self.error("bad exponent");
            }
            exp = exp.saturating_add(if eneg { -e } else { e });
        }
        self.i = i;
        let m = mant as f64;
        let v = if exp == 0 || mant == 0 {
            m
        } else if (0..=22).contains(&exp) {
            m * 10f64.powi(exp)
        } else if (-22..0).contains(&exp) {
            m / 10f64.powi(-exp)
        } else if exp > 0 {
            m * 10f64.powi(exp.min(400))
        } else {
            // Two steps, so that 10^-exp does not overflow before dividing.
            m / 10f64.powi((-exp).min(400) / 2) / 10f64.powi((-exp).min(400) - (-exp).min(400) / 2)
        };
        Ok(if neg { -v } else { v })
    }

    /// Skips one value of any kind.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'{') => self.object(|p, _| p.skip()),
            Some(b'[') => self.array(|p| p.skip()),
            Some(b'"') => self.raw_str().map(drop),
            Some(b't' | b'f') => self.bool().map(drop),
            Some(b'n') if self.null() => Ok(()),
            _ => self.number().map(drop),
        }
    }

    /// Reads a string at the current position (which is a `"`): borrowed
    /// from the input when it has no escapes, which is nearly always.
    fn raw_str(&mut self) -> Result<Str<'a>> {
        let b = self.bytes();
        let start = self.i + 1;
        let mut i = start;
        loop {
            match b.get(i) {
                None => {
                    self.i = i;
                    return self.error("unterminated string");
                }
                Some(b'"') => {
                    self.i = i + 1;
                    // Both ends are ASCII quotes, so char boundaries;
                    // `get`, not indexing, keeps the panic path (and its
                    // formatting code) out of the wasm.
                    return match self.s.get(start..i) {
                        Some(s) => Ok(Str::Borrowed(s)),
                        None => self.error("bad string"),
                    };
                }
                Some(b'\\') => break,
                Some(_) => i += 1,
            }
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(self.s.get(start..i).unwrap_or_default());
        loop {
            match b.get(i) {
                None => {
                    self.i = i;
                    return self.error("unterminated string");
                }
                Some(b'"') => {
                    self.i = i + 1;
                    return Ok(Str::Owned(out));
                }
                Some(b'\\') => {
                    let esc = b.get(i + 1).copied();
                    i += 2;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let Some(hi) = hex4(b, i) else {
                                self.i = i;
                                return self.error("bad \\u escape");
                            };
                            i += 4;
                            let c = if (0xd800..0xdc00).contains(&hi)
                                && b.get(i) == Some(&b'\\')
                                && b.get(i + 1) == Some(&b'u')
                            {
                                match hex4(b, i + 2) {
                                    Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                                        i += 6;
                                        char::from_u32(
                                            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00),
                                        )
                                    }
                                    _ => None,
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.i = i;
                            return self.error("bad escape");
                        }
                    }
                }
                Some(_) => {
                    // Copy the run up to the next quote or backslash whole.
                    let run = b[i..]
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')
                        .map_or(b.len(), |n| i + n);
                    out.push_str(self.s.get(i..run).unwrap_or_default());
                    i = run;
                }
            }
        }
    }
}

/// `v` as a `u32`, if it is one exactly.
pub fn whole_u32(v: f64) -> Option<u32> {
    (v >= 0.0 && v <= u32::MAX as f64 && v.fract() == 0.0).then_some(v as u32)
}

enum Str<'a> {
    Borrowed(&'a str),
    Owned(String),
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    let mut v = 0;
    for &d in digits {
        v = v * 16 + (d as char).to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(json: &str) -> Result<Vec<String>> {
        let mut p = Parser::new(json);
        let mut v = Vec::new();
        p.array(|p| {
            v.push(p.string()?);
            Ok(())
        })?;
        p.end()?;
        Ok(v)
    }

    #[test]
    fn strings_decode_every_escape() {
        assert_eq!(
            strings(r#"["plain", "a\"b\\c\/d\n\t\r\b\f", "\u00e9\ud83d\ude00x", "é😀"]"#).unwrap(),
            vec![
                "plain".to_string(),
                "a\"b\\c/d\n\t\r\u{8}\u{c}".into(),
                "é😀x".into(),
                "é😀".into()
            ]
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            strings(r#"["\ud800", "a\udc00b", "\ud800\u0041"]"#).unwrap(),
            vec![
                "\u{fffd}".to_string(),
                "a\u{fffd}b".into(),
                "\u{fffd}A".into()
            ]
        );
    }

    #[test]
    fn numbers_read_as_json_stringify_writes_them() {
        let mut p = Parser::new("[0, 12, -3.5, 1e21, 1.5e-7, null, 4294967295]");
        let mut v = Vec::new();
        p.array(|p| {
            v.push(p.f64()?);
            Ok(())
        })
        .unwrap();
        assert_eq!(v, vec![0.0, 12.0, -3.5, 1e21, 1.5e-7, 0.0, 4294967295.0]);
        for bad in ["-1", "1.5", "4294967296", "x", ""] {
            assert!(Parser::new(bad).u32().is_err(), "{bad}");
        }
        assert_eq!(Parser::new("7.0").u32(), Ok(7));
    }

    #[test]
    fn objects_visit_every_key_and_skip_the_rest() {
        let mut p =
            Parser::new(r#"{"a": 1, "b": {"x": [1, {"y": null}], "z": true}, "c\u0041": "s"}"#);
        let mut seen = Vec::new();
        p.object(|p, k| {
            seen.push(k.to_string());
            p.skip()
        })
        .unwrap();
        assert_eq!(seen, ["a", "b", "cA"]);
    }

    #[test]
    fn broken_input_is_an_error_not_a_panic() {
        for bad in [
            "[",
            "[1,",
            "[\"abc",
            "[\"\\u12\"]",
            "{\"a\" 1}",
            "[1 2]",
            "{\"a\":}",
            "[\"\\x\"]",
            "nul",
            "[tru]",
            "]",
            "{",
            "[-]",
            "[\"\\",
        ] {
            let mut p = Parser::new(bad);
            assert!(p.skip().and_then(|_| p.end()).is_err(), "{bad}");
        }
        let deep = "[".repeat(10_000);
        assert!(Parser::new(&deep).skip().is_err());
    }
}
