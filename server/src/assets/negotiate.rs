//! Which stored variant of an asset to send, by `Accept-Encoding`
//! (RFC 9110 §12.5.3). The variants are compressed at build time
//! (`xtask/src/delivery.rs`), so this only chooses among them.
//!
//! Why not tower-http: its `CompressionLayer` compresses every response
//! at run time (costly for a 1 MB wasm at brotli's best quality, and the
//! bytes we serve are static), its `ServeDir` reads precompressed files
//! from the file system (our assets are embedded, contract §1), and its
//! `Accept-Encoding` parser is private.

use axum::http::header::ACCEPT_ENCODING;
use axum::http::HeaderMap;

/// A content coding we store variants in, in order of preference at equal
/// weight (brotli is the smallest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Br,
    Gzip,
    Identity,
}

impl Coding {
    /// The variant's file name suffix in `dist/` (`FILE.br`, `FILE.gz`).
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }

    /// The `Content-Encoding` value, `None` for identity.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Coding::Br => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// The best acceptable coding among `available` (identity is always
/// available). Without an `Accept-Encoding` header: identity (a client that
/// sends none may not decode anything). Weights are honoured, `q=0` excludes
/// a coding, `*` covers the codings not named, and identity competes only
/// where it is named (or covered by `*`): otherwise it is what is sent when
/// nothing else fits. That includes `identity;q=0`: RFC 9110 allows sending
/// it rather than a 406, and every client reads it.
pub fn choose(headers: &HeaderMap, available: &[Coding]) -> Coding {
    let entries: Vec<(String, f32)> = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_entry)
        .collect();
    if headers.get(ACCEPT_ENCODING).is_none() {
        return Coding::Identity;
    }
    let weight = |names: &[&str], default: f32| -> f32 {
        entries
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .or_else(|| entries.iter().find(|(n, _)| n == "*"))
            .map_or(default, |(_, q)| *q)
    };
    let mut best = (Coding::Identity, 0.0f32);
    for coding in [Coding::Br, Coding::Gzip, Coding::Identity] {
        if coding != Coding::Identity && !available.contains(&coding) {
            continue;
        }
        let q = match coding {
            Coding::Br => weight(&["br"], 0.0),
            Coding::Gzip => weight(&["gzip", "x-gzip"], 0.0),
            // Unnamed, identity comes last: a client that lists codings
            // prefers them (and is sent identity anyway if none fits).
            Coding::Identity => weight(&["identity"], 0.0),
        };
        if q > best.1 {
            best = (coding, q);
        }
    }
    best.0
}

/// `gzip;q=0.5` → `("gzip", 0.5)`; an entry with a malformed weight is
/// ignored (as if absent) rather than guessed at.
fn parse_entry(item: &str) -> Option<(String, f32)> {
    let mut parts = item.split(';');
    let name = parts.next()?.trim().to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    let mut q = 1.0f32;
    for param in parts {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("q") {
            q = v
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some((name, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const ALL: &[Coding] = &[Coding::Br, Coding::Gzip];

    fn pick(accept: Option<&str>, available: &[Coding]) -> Coding {
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert(ACCEPT_ENCODING, HeaderValue::from_str(a).expect("ascii"));
        }
        choose(&h, available)
    }

    #[test]
    fn prefers_brotli_then_gzip_then_identity() {
        assert_eq!(pick(Some("gzip, deflate, br, zstd"), ALL), Coding::Br);
        assert_eq!(
            pick(Some("gzip, deflate, br"), &[Coding::Gzip]),
            Coding::Gzip
        );
        assert_eq!(pick(Some("gzip"), ALL), Coding::Gzip);
        assert_eq!(pick(Some("x-gzip"), ALL), Coding::Gzip);
        assert_eq!(pick(Some("br"), &[]), Coding::Identity);
        assert_eq!(pick(None, ALL), Coding::Identity);
        assert_eq!(pick(Some(""), ALL), Coding::Identity);
        assert_eq!(pick(Some("deflate, zstd"), ALL), Coding::Identity);
    }

    #[test]
    fn honours_weights() {
        assert_eq!(pick(Some("br;q=0.5, gzip;q=0.8"), ALL), Coding::Gzip);
        assert_eq!(pick(Some("BR;Q=1, gzip;q=0.8"), ALL), Coding::Br);
        assert_eq!(pick(Some("gzip;q=0, br;q=0"), ALL), Coding::Identity);
        assert_eq!(pick(Some("br;q=0, *"), ALL), Coding::Gzip);
        assert_eq!(pick(Some("*"), ALL), Coding::Br);
        assert_eq!(
            pick(Some("identity;q=0.5, gzip;q=0.1"), ALL),
            Coding::Identity
        );
        assert_eq!(pick(Some("identity;q=0, gzip;q=0.1"), ALL), Coding::Gzip);
        assert_eq!(pick(Some("*;q=0, gzip;q=0.1"), ALL), Coding::Gzip);
        // A malformed weight drops its entry, not the header.
        assert_eq!(pick(Some("br;q=high, gzip"), ALL), Coding::Gzip);
        assert_eq!(pick(Some("br;q=2, gzip"), ALL), Coding::Gzip);
    }
}
