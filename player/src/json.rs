//! JSON text for what the player hands to JavaScript (DOM op batches,
//! markers, panel rows), written by hand.
//!
//! Why not serde_json: the player's wasm is downloaded by everyone who
//! watches a replay, and serde's serializer, instantiated for each type,
//! plus serde_json's number formatting cost it tens of kilobytes, for a
//! handful of flat types whose JSON is a few lines each. A type says how
//! it is written by implementing [`ToJson`], usually with an [`Object`].

/// A value that can be written as JSON.
pub trait ToJson {
    fn write_json(&self, out: &mut String);
}

/// `v` as JSON text.
pub fn to_string<T: ToJson + ?Sized>(v: &T) -> String {
    let mut out = String::new();
    v.write_json(&mut out);
    out
}

/// A JSON object being written: `{"key":value,...}`.
pub struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    /// Adds a member (keys are the caller's constants: written unescaped).
    pub fn field<T: ToJson + ?Sized>(&mut self, key: &str, v: &T) -> &mut Self {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        v.write_json(self.out);
        self
    }

    pub fn end(&mut self) {
        self.out.push('}');
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        out.reserve(self.len() + 2);
        out.push('"');
        let mut plain = 0;
        for (i, b) in self.bytes().enumerate() {
            let esc = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            out.push_str(&self[plain..i]);
            plain = i + 1;
            if esc.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            } else {
                out.push_str(esc);
            }
        }
        out.push_str(&self[plain..]);
        out.push('"');
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out)
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
integers!(u32, u64, i32, i64, usize);

/// Finite numbers as Rust prints them (the shortest form that reads back
/// the same, never an exponent: valid JSON); NaN and infinities, which
/// JSON cannot hold, as `null`.
impl ToJson for f64 {
    fn write_json(&self, out: &mut String) {
        if self.is_finite() {
            use std::fmt::Write;
            let _ = write!(out, "{self}");
        } else {
            out.push_str("null");
        }
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out)
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write_json(out);
        }
        out.push(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out)
    }
}

/// A pair as a two-element array, as serde writes a tuple.
impl<A: ToJson, B: ToJson> ToJson for (A, B) {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        self.0.write_json(out);
        out.push(',');
        self.1.write_json(out);
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let s = "a\"b\\c\nd\u{1}é•";
        let json = to_string(s);
        assert_eq!(json, r#""a\"b\\c\nd\u0001é•""#);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), s);
    }

    #[test]
    fn values_read_back_as_serde_json_reads_them() {
        let v: Vec<(String, Option<f64>)> = vec![
            ("x".into(), Some(0.1 + 0.2)),
            ("y".into(), Some(1e300)),
            ("z".into(), Some(-0.0)),
            ("w".into(), None),
            ("n".into(), Some(f64::NAN)),
        ];
        let json = to_string(&v);
        let back: Vec<(String, Option<f64>)> = serde_json::from_str(&json).unwrap();
        assert_eq!(back[..3], v[..3]);
        assert_eq!(back[3].1, None);
        assert_eq!(back[4].1, None, "NaN is written as null");
        let mut out = String::new();
        Object::new(&mut out)
            .field("a", &1u64)
            .field("b", &true)
            .field("c", &[1u32, 2][..])
            .end();
        assert_eq!(out, r#"{"a":1,"b":true,"c":[1,2]}"#);
    }
}
