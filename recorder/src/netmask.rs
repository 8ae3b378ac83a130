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

use crate::convert::clip;
use crate::mask::TEXT_MASK;
use reel_shared::limits;

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
const SECRET_PARTS: [&str; 15] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "cvv",
    "cvc",
    "creditcard",
    "cardnumber",
    "privatekey",
    "accesskey",
    "sessionid",
    "authorization",
];

/// Words of a name (split at separators and camelCase) equal to one of
/// these are secrets: too short to be matched inside other words.
const SECRET_WORDS: [&str; 11] = [
    "pass",
    "pwd",
    "pin",
    "otp",
    "ssn",
    "csc",
    "cc",
    "card",
    "auth",
    "sig",
    "signature",
];

/// Whether a field or parameter name suggests a secret: `password`,
/// `user[password]`, `api_key`, `accessToken`, `card_number`, `cvc`...
pub fn secret_name(name: &str) -> bool {
    let squashed: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if SECRET_PARTS.iter().any(|p| squashed.contains(p)) {
        return true;
    }
    // `auth...` is a secret (authToken, authkey), `author` is not.
    if squashed.contains("auth") && !squashed.contains("author") {
        return true;
    }
    words(name).any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// The words of a name, lowercase: `cardNumber` -> `card`, `number`;
/// `user[pin]` -> `user`, `pin`.
fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
}

/// `url` with every query value masked but those of `allow`ed parameters,
/// and without its fragment; cut to [`limits::MAX_URL`].
pub fn mask_url(url: &str, allow: &[String]) -> String {
    let url = url.split('#').next().unwrap_or("");
    let Some((base, query)) = url.split_once('?') else {
        return clip(url.to_owned(), limits::MAX_URL);
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    out.push('?');
    out.push_str(&mask_pairs(query, |name| allow.iter().any(|a| a == name)));
    clip(out, limits::MAX_URL)
}

/// `a=1&b=2` with the values of names `keep` refuses masked. A part with
/// no `=` is a value without a name: masked unless kept by that text.
fn mask_pairs(s: &str, keep: impl Fn(&str) -> bool) -> String {
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
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request or response body as it may be recorded: secret-looking
/// fields of JSON and form bodies masked, cut to [`limits::MAX_BODY`].
/// `content_type` is the body's, as sent or received (may be empty).
pub fn mask_body(body: String, content_type: &str) -> String {
    let ct = content_type.to_ascii_lowercase();
    let head = body.trim_start();
    let masked = if ct.contains("json") || head.starts_with('{') || head.starts_with('[') {
        mask_json(&body)
    } else if ct.contains("x-www-form-urlencoded") || looks_like_form(&body) {
        mask_pairs(&body, |name| !secret_name(name))
    } else {
        body
    };
    clip(masked, limits::MAX_BODY)
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
/// A member name is a string followed by `:`.
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
        if j >= b.len()
            || b[j] != b':'
            || !secret_name(&unescape(&s[i + 1..end.saturating_sub(1).max(i + 1)]))
        {
            i = end;
            continue;
        }
        // A secret member: copy through the colon, then mask its value.
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        out.push_str(&s[from..j]);
        out.push('"');
        out.push_str(TEXT_MASK);
        out.push('"');
        i = value_end(b, j);
        from = i;
    }
    out.push_str(&s[from..]);
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

/// A JSON string's content with its simple escapes resolved (enough to
/// read a member name written as `"pass\u0077ord"`).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
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
