//! The privacy rules for the page's requests (issue 17, contract §7).
//!
//! The capture layer (`js/src/network.js`) decides what the embedder's
//! options allow (which URLs get headers and bodies, which headers are
//! named in `networkRedactHeaders`) and hands the rest over raw; the rules
//! that depend only on the content are applied here, before anything is
//! encoded:
//! - query-string values are masked unless their parameter is allowed
//!   (`networkQueryAllow`); the fragment is dropped (it is never sent, and
//!   OAuth puts tokens there);
//! - credential headers (`Authorization`, `Cookie`, `Set-Cookie`,
//!   `Proxy-Authorization`) never pass, whatever the capture layer sent;
//! - JSON and form body fields whose names suggest a secret are masked, in
//!   any nesting and in a body cut short;
//! - every string is cut to [`reel_shared::limits`].
//!
//! Every rule here reads ASCII only (names, separators, JSON punctuation),
//! so the code works on bytes: no substring search, string slicing that
//! can panic, or lossy UTF-8 decoding from `core`, whose machinery (and
//! its panic messages' formatting) would otherwise ride along in every
//! recording page's download (see BENCHMARKS.md, "Recorder size").

use crate::mask::TEXT_MASK;
use reel_shared::limits;
use reel_shared::text::cut;

/// Headers never recorded.
pub const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// Whether a header may be recorded (the embedder's own list was applied
/// by the capture layer).
pub fn header_allowed(name: &str) -> bool {
    !CREDENTIAL_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// Names (lowercase, letters and digits only) containing one of these are
/// secrets.
const SECRET_PARTS: [&[u8]; 15] = [
    b"password",
    b"passwd",
    b"passphrase",
    b"secret",
    b"token",
    b"apikey",
    b"credential",
    b"cvv",
    b"cvc",
    b"creditcard",
    b"cardnumber",
    b"privatekey",
    b"accesskey",
    b"sessionid",
    b"authorization",
];

/// Words of a name (split at separators and camelCase) equal to one of
/// these are secrets: too short to be matched inside other words.
const SECRET_WORDS: [&[u8]; 11] = [
    b"pass",
    b"pwd",
    b"pin",
    b"otp",
    b"ssn",
    b"csc",
    b"cc",
    b"card",
    b"auth",
    b"sig",
    b"signature",
];

/// Whether `needle` (ASCII) occurs in `hay`, ignoring ASCII case.
fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether a field or parameter name suggests a secret: `password`,
/// `user[password]`, `api_key`, `accessToken`, `card_number`, `cvc`...
pub fn secret_name(name: &str) -> bool {
    secret_bytes(name.as_bytes())
}

/// [`secret_name`] of a name as bytes (a percent-decoded form name need
/// not be UTF-8; only its ASCII letters and digits count).
fn secret_bytes(name: &[u8]) -> bool {
    let squashed: Vec<u8> = name
        .iter()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    if SECRET_PARTS.iter().any(|p| has(&squashed, p)) {
        return true;
    }
    // `auth...` is a secret (authToken, authkey), `author` is not.
    if has(&squashed, b"auth") && !has(&squashed, b"author") {
        return true;
    }
    has_secret_word(name)
}

/// Whether a word of a name, lowercase, is one of [`SECRET_WORDS`]:
/// `cardNumber` has `card`, `number`; `user[pin]` has `user`, `pin`. Any
/// byte but an ASCII letter or digit separates words.
fn has_secret_word(name: &[u8]) -> bool {
    let mut cur = Vec::new();
    let mut prev_lower = false;
    // A trailing separator ends the last word.
    for &c in name.iter().chain([b' '].iter()) {
        let ends = if c.is_ascii_alphanumeric() {
            c.is_ascii_uppercase() && prev_lower
        } else {
            true
        };
        if ends && !cur.is_empty() {
            if SECRET_WORDS.contains(&cur.as_slice()) {
                return true;
            }
            cur.clear();
        }
        if c.is_ascii_alphanumeric() {
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            cur.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
        }
    }
    false
}

/// `url` with every query value masked but those of `allow`ed parameters,
/// and without its fragment; cut to [`limits::MAX_URL`].
pub fn mask_url(url: &str, allow: &[String]) -> String {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let Some((base, query)) = url.split_once('?') else {
        return cut(url.to_owned(), limits::MAX_URL);
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    out.push('?');
    out.push_str(&mask_pairs(query, &|name| {
        allow.iter().any(|a| a.as_bytes() == name)
    }));
    cut(out, limits::MAX_URL)
}

/// `a=1&b=2` with the values of names `keep` refuses masked (`keep` sees
/// the name percent-decoded). A part with no `=` is a value without a
/// name: masked unless kept by that text.
fn mask_pairs(s: &str, keep: &dyn Fn(&[u8]) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let (raw_name, value) = match part.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (part, None),
        };
        let name = percent_decode(raw_name);
        match value {
            _ if part.is_empty() => {}
            Some(v) if v.is_empty() || keep(&name) => out.push_str(part),
            Some(_) => {
                out.push_str(raw_name);
                out.push('=');
                out.push_str(TEXT_MASK);
            }
            None if keep(&name) => out.push_str(part),
            None => out.push_str(TEXT_MASK),
        }
    }
    out
}

/// Percent-decoding of a form name (`+` is a space); bad escapes are kept.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The value of a hex digit.
fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A request or response body as it may be recorded: secret-looking
/// fields of JSON and form bodies masked, cut to [`limits::MAX_BODY`].
/// `content_type` is the body's, as sent or received (may be empty).
pub fn mask_body(body: String, content_type: &str) -> String {
    let ct = content_type.as_bytes();
    let head = body.trim_start();
    let masked = if has(ct, b"json") || head.starts_with('{') || head.starts_with('[') {
        mask_json(&body)
    } else if has(ct, b"x-www-form-urlencoded") || looks_like_form(&body) {
        mask_pairs(&body, &|name| !secret_bytes(name))
    } else {
        body
    };
    cut(masked, limits::MAX_BODY)
}

/// `a=1&b=x%20y`: a form body (or a query string) sent as text.
fn looks_like_form(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 1 << 20
        && !s.contains(char::is_whitespace)
        && s.split('&').all(|p| match p.split_once('=') {
            Some((n, _)) => !n.is_empty(),
            None => false,
        })
}

/// JSON text with the value of every member whose name suggests a secret
/// replaced by `"•••"`, whatever the value (a string, a number, an object
/// or an array, which is masked whole).
///
/// A scanner rather than a parser: it needs no valid or complete JSON (a
/// body cut short is masked the same), keeps numbers and layout byte for
/// byte, and does not recurse, so no nesting depth can overflow the stack.
/// A member name is a string followed by `:`. It cuts the text only next
/// to ASCII punctuation or whitespace, which never sits inside a UTF-8
/// sequence, so every piece it copies is whole text.
pub fn mask_json(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    // Start of the text not yet copied.
    let mut from = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = string_end(b, i);
        let mut j = end;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        // `end` is just past the name's closing quote when `:` follows.
        let name = b.get(i + 1..end.saturating_sub(1)).unwrap_or_default();
        if j >= b.len() || b[j] != b':' || !secret_bytes(&unescape(name)) {
            i = end;
            continue;
        }
        // A secret member: copy through the colon, then mask its value.
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        out.push_str(s.get(from..j).unwrap_or_default());
        out.push('"');
        out.push_str(TEXT_MASK);
        out.push('"');
        i = value_end(b, j);
        from = i;
    }
    out.push_str(s.get(from..).unwrap_or_default());
    out
}

/// The index just past the string starting at `b[start] == '"'` (or the
/// end of the text, for a string cut short).
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The index just past the JSON value starting at `b[start]`: a string, a
/// balanced object or array (to the end of the text when cut short), or a
/// scalar up to the next `,`, `}` or `]`.
fn value_end(b: &[u8], start: usize) -> usize {
    match b.get(start) {
        None => b.len(),
        Some(b'"') => string_end(b, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            b.len()
        }
        Some(_) => {
            let mut i = start;
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') {
                i += 1;
            }
            // Trailing whitespace stays outside the mask.
            while i > start && b[i - 1].is_ascii_whitespace() {
                i -= 1;
            }
            i
        }
    }
}

/// A JSON string's content with its simple escapes resolved, enough to
/// read a member name written as `"pass\u0077ord"`. Only its ASCII counts
/// (see [`secret_bytes`]): a `\u` escape of any other character becomes a
/// byte that is not ASCII, one of a surrogate half nothing.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match s.get(i) {
            Some(b'u') => {
                let digits = s.get(i + 1..).unwrap_or_default();
                let digits = &digits[..digits.len().min(4)];
                i += 1 + digits.len();
                let code = digits
                    .iter()
                    .try_fold(0u32, |v, &d| Some(v << 4 | u32::from(hex(d)?)))
                    .filter(|_| !digits.is_empty());
                match code {
                    Some(c @ 0..=0x7f) => out.push(c as u8),
                    Some(0xd800..=0xdfff) | None => {}
                    Some(_) => out.push(0x80),
                }
            }
            Some(&other) => {
                out.push(other);
                i += 1;
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "password",
            "Password",
            "user[password]",
            "new_passwd",
            "pwd",
            "api_key",
            "apiKey",
            "X-Api-Key",
            "accessToken",
            "refresh_token",
            "client_secret",
            "card",
            "cardNumber",
            "card_number",
            "cvv",
            "cvc",
            "ssn",
            "pin",
            "otp",
            "auth",
            "authToken",
            "Authorization",
            "sessionId",
            "credentials",
        ] {
            assert!(secret_name(n), "{n}");
        }
        for n in [
            "q",
            "page",
            "email",
            "name",
            "author",
            "authors",
            "title",
            "shipping",
            "items",
            "classname",
            "business_name",
            "mapping",
            "id",
        ] {
            assert!(!secret_name(n), "{n}");
        }
    }

    #[test]
    fn query_values_are_masked_unless_allowed() {
        let allow = vec!["page".to_string(), "sort".to_string()];
        assert_eq!(
            mask_url(
                "https://a.example/s?q=shoes&page=2&token=abc&sort=&flag#access_token=x",
                &allow
            ),
            "https://a.example/s?q=•••&page=2&token=•••&sort=&•••"
        );
        assert_eq!(
            mask_url("https://a.example/p", &allow),
            "https://a.example/p"
        );
        assert_eq!(
            mask_url("https://a.example/p#x", &[]),
            "https://a.example/p"
        );
        // Names are compared decoded.
        assert_eq!(
            mask_url("/s?pa%67e=3&a+b=1", &["page".into(), "a b".into()]),
            "/s?pa%67e=3&a+b=1"
        );
        assert_eq!(
            mask_url(&format!("/{}", "x".repeat(20_000)), &[]).len(),
            limits::MAX_URL
        );
    }

    #[test]
    fn credential_headers_never_pass() {
        for h in [
            "Authorization",
            "cookie",
            "Set-Cookie",
            "PROXY-AUTHORIZATION",
            " cookie ",
        ] {
            assert!(!header_allowed(h), "{h}");
        }
        assert!(header_allowed("content-type"));
    }

    #[test]
    fn json_bodies_mask_secret_members_whatever_their_value() {
        let body = r#"{"user":"ann","password":"hunter2","n":12345678901234567890,
            "card":{"number":"4111","cvc":"123"},"pin": 1234 ,"list":[{"token":[1,{"a":"]"}]},2],
            "pass\u0077ord":"x","note":"password"}"#;
        let m = mask_json(body);
        for secret in ["hunter2", "4111", "123\"", " 1234", "[1,{", "\"x\""] {
            assert!(!m.contains(secret), "{secret} in {m}");
        }
        assert!(m.contains(r#""user":"ann""#), "{m}");
        assert!(m.contains("12345678901234567890"), "{m}");
        assert!(m.contains(r#""pin": "•••" ,"list""#), "{m}");
        assert!(m.contains(r#""note":"password""#), "{m}");
        assert!(m.contains(r#"{"token":"•••"},2]"#), "{m}");
    }

    #[test]
    fn json_cut_short_is_masked_too() {
        let m = mask_json(r#"{"a":1,"token":"abcdef"#);
        assert_eq!(m, r#"{"a":1,"token":"•••""#);
        let m = mask_json(r#"{"secret":{"k":["v"#);
        assert_eq!(m, r#"{"secret":"•••""#);
        // Deep nesting costs no stack.
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(mask_json(&deep), deep);
    }

    #[test]
    fn form_bodies_mask_secret_fields() {
        assert_eq!(
            mask_body(
                "email=a%40b.example&card=4111111111111111&cvc=123&x=1".into(),
                ""
            ),
            "email=a%40b.example&card=•••&cvc=•••&x=1"
        );
        assert_eq!(
            mask_body(
                "user%5Bpassword%5D=pw&keep=1".into(),
                "application/x-www-form-urlencoded; charset=UTF-8"
            ),
            "user%5Bpassword%5D=•••&keep=1"
        );
        // Plain text is kept as it is (bodies are recorded only for URLs
        // the embedder allowed).
        assert_eq!(mask_body("hello world".into(), "text/plain"), "hello world");
    }

    #[test]
    fn bodies_are_cut_at_64_kib() {
        let big = format!("{{\"a\":\"{}\"}}", "é".repeat(50_000));
        let m = mask_body(big, "application/json");
        assert!(m.len() <= limits::MAX_BODY && m.len() > limits::MAX_BODY - 4);
    }

    /// The whole path from the capture layer's record to the event.
    #[test]
    fn a_raw_request_becomes_a_masked_event() {
        use crate::raw::{RawEvent, RawNetwork};
        use reel_shared::{EventData, NetworkKind};
        let raw = RawNetwork {
            t: 1_700_000_000_000.0,
            kind: "fetch".into(),
            method: "post".into(),
            url: "https://api.example/login?next=/home&sid=s3cr3t".into(),
            status: 401.0,
            dur: 12.6,
            req_bytes: Some(40.0),
            res_bytes: Some(f64::NAN),
            failure: None,
            query_allow: vec!["next".into()],
            req_headers: vec![
                ("Authorization".into(), "Bearer abc".into()),
                ("Content-Type".into(), "application/json".into()),
                ("Cookie".into(), "a=b".into()),
            ],
            res_headers: vec![("set-cookie".into(), "x".into())],
            req_body: Some(r#"{"user":"ann","password":"hunter2"}"#.into()),
            res_body: Some("token=t0k&ok=1".into()),
            req_type: "application/json".into(),
            res_type: String::new(),
        };
        let e = crate::convert::event(RawEvent::Network(Box::new(raw))).unwrap();
        let EventData::Network(n) = e.data else {
            panic!("{e:?}")
        };
        assert_eq!(e.t, 1_700_000_000_000);
        assert_eq!(
            (n.kind, n.method.as_str(), n.status, n.duration_ms),
            (NetworkKind::Fetch, "POST", 401, 13)
        );
        assert_eq!(n.url, "https://api.example/login?next=/home&sid=•••");
        assert_eq!((n.request_bytes, n.response_bytes), (Some(40), None));
        assert_eq!(
            n.request_headers,
            vec![("Content-Type".into(), "application/json".into())]
        );
        assert!(n.response_headers.is_empty());
        assert_eq!(
            n.request_body.as_deref(),
            Some(r#"{"user":"ann","password":"•••"}"#)
        );
        assert_eq!(n.response_body.as_deref(), Some("token=•••&ok=1"));
        let unknown = RawNetwork {
            kind: "ws".into(),
            ..RawNetwork::default()
        };
        assert!(crate::convert::event(RawEvent::Network(Box::new(unknown))).is_none());
    }

    /// Names are read as bytes: escapes resolved, bytes that are not
    /// UTF-8 (a percent-decoded form name) and other characters separate
    /// words and never hide a secret.
    #[test]
    fn escaped_and_non_ascii_names() {
        let m = mask_json(
            r#"{"tok\u0065n":"x","caf\u00e9":"y","pass\ud800word":"z","\u":"w","é_pin":"v"}"#,
        );
        assert_eq!(
            m,
            r#"{"tok\u0065n":"•••","caf\u00e9":"y","pass\ud800word":"•••","\u":"w","é_pin":"•••"}"#
        );
        assert_eq!(
            mask_body("pass%FFword=1&a%FF=2&%E2%80%A2pin=3".into(), ""),
            "pass%FFword=•••&a%FF=2&%E2%80%A2pin=•••"
        );
        assert_eq!(
            mask_url("/s?%FF=1&page=2", &["page".into()]),
            "/s?%FF=•••&page=2"
        );
        assert!(mask_body("a=1".into(), "Application/X-WWW-Form-Urlencoded").contains('a'));
        assert_eq!(
            mask_body("{\"pin\":1}".into(), "APPLICATION/JSON"),
            "{\"pin\":\"•••\"}"
        );
    }

    #[test]
    fn no_prefix_of_a_body_panics() {
        let body = r#"{"password":"p\"w","x":[{"token":{"a":"\u00e9"}}],"s":"é"}"#;
        for end in 0..=body.len() {
            if body.is_char_boundary(end) {
                let _ = mask_json(&body[..end]);
                let _ = mask_body(body[..end].to_owned(), "");
                let _ = mask_url(&body[..end], &[]);
            }
        }
        let _ = mask_url("?%", &[]);
        let _ = mask_url("?%4", &[]);
        let _ = mask_url("?a%zz=1", &[]);
    }
}
