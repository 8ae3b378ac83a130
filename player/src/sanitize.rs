//! What makes a recorded document safe and faithful to show.
//!
//! The replay must never run anything the recorded page contained, whatever
//! a (possibly hostile) recording says. The iframe's sandbox already forbids
//! scripts; these rules are the second wall, and they also keep the replay
//! from *doing* things without script: no handler attributes, no
//! `javascript:` URLs, no `<meta http-equiv=refresh>` navigating the frame
//! away, no `srcdoc` documents, no script fetching its source.
//!
//! The other half is fidelity: the replay lives at the player's URL, not the
//! recorded page's, so relative URLs are made absolute against the recorded
//! page's URL, and a recorded stylesheet's text is inlined as a `data:` URL
//! so the replay does not depend on the site being up.
//!
//! Everything here is a pure function of its inputs, so the model can call
//! it whenever an element is created or changes.
//!
//! Sizes are bounded, so a small hostile recording cannot make the replay
//! build huge strings (a relative URL is as long as its base, and one URL
//! per `srcset` candidate or CSS `url()` multiplies that): the base is cut
//! to [`MAX_BASE`] (its fragment, then its query, dropped; past that,
//! relative URLs are neutralised), a URL longer than [`MAX_URL`] is
//! neutralised to [`URL_DROPPED`], rewriting stops adding once a value
//! passes [`MAX_VALUE`], and text and attribute values longer than that are
//! cut with a visible `…`.
//!
//! The replay must not change the player's own policies either: a
//! recorded `<meta http-equiv>` (CSP, refresh, cookies, referrer policy…)
//! and `<meta name=referrer>` lose what makes them act, and every
//! `referrerpolicy` attribute says `no-referrer`.

use reel_shared::{Element, Namespace};

/// What a neutralised `javascript:` URL becomes.
pub const JS_VOID: &str = "javascript:void(0)";

/// The longest page URL used as the base of relative URLs.
pub const MAX_BASE: usize = 4 * 1024;
/// The longest URL kept (a `data:` URL included).
pub const MAX_URL: usize = 64 * 1024;
/// The longest attribute value or text kept; rewriting (CSS URLs, `srcset`)
/// stops adding past it.
pub const MAX_VALUE: usize = 4 * 1024 * 1024;
/// What a URL too long to keep becomes: it loads nothing.
pub const URL_DROPPED: &str = "about:invalid#reel-url-too-long";
/// Marks text cut at [`MAX_VALUE`].
pub const ELLIPSIS: &str = "…";

/// `s` cut to at most `max` bytes (on a character boundary) with an
/// ellipsis after it when it was longer.
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let end = reel_shared::text::boundary(s, max);
    let mut out = String::with_capacity(end + ELLIPSIS.len());
    out.push_str(&s[..end]);
    out.push_str(ELLIPSIS);
    out
}

/// A text node's data as shown: at most [`MAX_VALUE`] bytes.
pub fn text(s: &str) -> String {
    cap(s, MAX_VALUE)
}

/// Attributes whose value is one URL.
const URL_ATTRS: &[&str] = &[
    "src",
    "href",
    "action",
    "formaction",
    "poster",
    "background",
    "xlink:href",
];

/// The `<meta http-equiv>` pragmas a replay may keep: they change nothing
/// in a document built by script (or only how it looks, as it did). Every
/// other one (refresh, content-security-policy, set-cookie, …) would act on
/// the player's frame, so the replay drops the attribute.
const HARMLESS_PRAGMAS: &[&str] = &[
    "content-type",
    "content-language",
    "default-style",
    "x-ua-compatible",
];

/// Attributes whose value is a `srcset` list of URLs with descriptors.
const SRCSET_ATTRS: &[&str] = &["srcset", "imagesrcset"];

/// True for the elements whose content is code: `<script>` in HTML and SVG.
/// Their children are never created in the replay.
pub fn is_script(tag: &str, ns: Namespace) -> bool {
    matches!(ns, Namespace::Html | Namespace::Svg) && tag.eq_ignore_ascii_case("script")
}

/// True for `<style>`, whose text is CSS with URLs to rewrite.
pub fn is_style(tag: &str, ns: Namespace) -> bool {
    matches!(ns, Namespace::Html | Namespace::Svg) && tag.eq_ignore_ascii_case("style")
}

/// The attributes to create on a recorded element, sanitised, in recorded
/// order. `base` is the recorded page's URL.
pub fn element_attrs(el: &Element, base: &str) -> Vec<(String, String)> {
    let tag = el.tag.to_ascii_lowercase();
    let html = el.ns == Namespace::Html;
    let script = is_script(&el.tag, el.ns);
    let inline_sheet = match (
        &el.stylesheet,
        html && tag == "link" && rel_has(&el.attrs, "stylesheet"),
    ) {
        (Some(css), true) => Some(css.as_str()),
        _ => None,
    };
    let referrer_meta = html
        && tag == "meta"
        && el.attrs.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("name") && v.trim().eq_ignore_ascii_case("referrer")
        });
    let mut out = Vec::with_capacity(el.attrs.len());
    for (name, value) in &el.attrs {
        let lname = name.to_ascii_lowercase();
        if lname.starts_with("on") {
            continue;
        }
        if script && matches!(lname.as_str(), "src" | "href" | "xlink:href") {
            continue;
        }
        // A frame's recorded document is rebuilt by the player inside it
        // (when it was same-origin); loading its URL would show today's
        // page, or a cross-origin one the player cannot reach, racing the
        // rebuilt document. So a replayed frame loads nothing.
        if html && (tag == "iframe" || tag == "frame") && matches!(lname.as_str(), "srcdoc" | "src")
        {
            continue;
        }
        // A recorded `<meta http-equiv>` would act on the player's document
        // (refresh it away, set a CSP or cookies, change its referrer
        // policy), and `<meta name=referrer>` would undo the player's
        // `no-referrer`: the replay keeps the element but not what makes
        // it act.
        if html
            && tag == "meta"
            && lname == "http-equiv"
            && !HARMLESS_PRAGMAS.contains(&value.trim().to_ascii_lowercase().as_str())
        {
            continue;
        }
        if referrer_meta && lname == "content" {
            out.push((name.clone(), "no-referrer".to_string()));
            continue;
        }
        if lname == "referrerpolicy" {
            out.push((name.clone(), "no-referrer".to_string()));
            continue;
        }
        if let Some(css) = inline_sheet {
            if lname == "integrity" {
                // The hash was of the recorded response; a data: URL of the
                // same text would fail it and the sheet would not load.
                continue;
            }
            if lname == "href" {
                let sheet_url = resolve_url(base, value);
                let inlined = css_data_url(&rewrite_css_urls(css, &sheet_url));
                out.push((
                    name.clone(),
                    if inlined.len() > MAX_VALUE {
                        URL_DROPPED.to_string()
                    } else {
                        inlined
                    },
                ));
                continue;
            }
        }
        out.push((name.clone(), attr_value(&lname, value, base, html)));
    }
    out
}

/// One attribute's sanitised value, context-free rules only.
fn attr_value(lname: &str, value: &str, base: &str, html: bool) -> String {
    if is_javascript_url(value) {
        return JS_VOID.to_string();
    }
    let out = if URL_ATTRS.contains(&lname) {
        // In SVG, `href="#icon"` (a <use> of a sprite, a gradient's
        // template) points into this very document, and must keep doing so
        // in the replay, which has the same ids.
        if !html && value.trim_start().starts_with('#') {
            return cap_url(value);
        }
        resolve_url(base, value)
    } else if SRCSET_ATTRS.contains(&lname) {
        rewrite_srcset(value, base)
    } else if lname == "style" {
        cap(&rewrite_css_urls(value, base), MAX_VALUE)
    } else {
        return cap(value, MAX_VALUE);
    };
    if is_javascript_url(&out) {
        JS_VOID.to_string()
    } else {
        out
    }
}

/// The attributes of the empty box that stands for a blocked element: it
/// keeps `data-reel-block` (the contract says so) and the recorded size.
pub fn blocked_attrs(tag: &str, width: u32, height: u32) -> Vec<(String, String)> {
    // Width and height do nothing on an inline box; make the usual inline
    // elements inline-block so the box keeps its size without changing the
    // flow of block elements.
    const INLINE: &[&str] = &[
        "a", "abbr", "b", "button", "canvas", "code", "em", "embed", "i", "iframe", "img", "input",
        "label", "object", "select", "small", "span", "strong", "svg", "textarea", "video",
        "audio",
    ];
    let display = if INLINE.contains(&tag.to_ascii_lowercase().as_str()) {
        "display:inline-block;"
    } else {
        ""
    };
    let mut attrs = vec![
        ("data-reel-block".to_string(), String::new()),
        (
            "style".to_string(),
            format!(
                "{display}box-sizing:border-box;width:{width}px;height:{height}px;\
                 background:repeating-linear-gradient(45deg,#e4e4e4 0 8px,#f2f2f2 8px 16px)"
            ),
        ),
    ];
    // A blocked frame says so inside its box (a cross-origin one is an
    // element of its own, `Model::new_node`).
    if matches!(tag.to_ascii_lowercase().as_str(), "iframe" | "frame") {
        attrs.push(("srcdoc".to_string(), FRAME_PLACEHOLDER.to_string()));
    }
    attrs
}

/// The attributes of a frame recorded as its box (recordings made before
/// cross-origin frames were recorded as elements) whose own recorder sent
/// its document (`reel_shared::frames`): the recorded box (border
/// included, as measured), with the document inside instead of the
/// placeholder.
pub fn frame_attrs(width: u32, height: u32) -> Vec<(String, String)> {
    vec![
        ("data-reel-frame".to_string(), String::new()),
        (
            "style".to_string(),
            format!("box-sizing:border-box;width:{width}px;height:{height}px"),
        ),
    ]
}

/// What a frame that was not recorded shows in the replay.
pub const FRAME_PLACEHOLDER: &str = "<p style=\"font:13px sans-serif;color:#555;margin:8px\">\
     frame not recorded (another origin, or blocked)</p>";

/// The text to show for a text node whose parent is a `<style>`: its CSS
/// with URLs made absolute.
pub fn style_text(css: &str, base: &str) -> String {
    cap(&rewrite_css_urls(css, base), MAX_VALUE)
}

/// `url` itself, or [`URL_DROPPED`] when it is longer than [`MAX_URL`].
fn cap_url(url: &str) -> String {
    if url.len() > MAX_URL {
        URL_DROPPED.to_string()
    } else {
        url.to_string()
    }
}

/// The part of the recorded page's URL that relative URLs resolve
/// against, at most [`MAX_BASE`] bytes: its fragment never matters, its
/// query only for a reference that is empty or only a fragment. `None`
/// when even its path is longer.
fn usable_base(base: &str) -> Option<&str> {
    let mut b = base;
    for cut in ['#', '?'] {
        if b.len() <= MAX_BASE {
            return Some(b);
        }
        b = b.find(cut).map_or(b, |i| &b[..i]);
    }
    (b.len() <= MAX_BASE).then_some(b)
}

/// True when `rel` (a whitespace-separated token list) holds `token`.
fn rel_has(attrs: &[(String, String)], token: &str) -> bool {
    attrs
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("rel"))
        .any(|(_, v)| {
            v.split_ascii_whitespace()
                .any(|t| t.eq_ignore_ascii_case(token))
        })
}

/// Is this value a `javascript:` URL as a browser would see it? Browsers
/// strip leading and trailing C0 controls and spaces and ignore tabs and
/// newlines anywhere, so `" java\tscript:..."` counts.
pub fn is_javascript_url(value: &str) -> bool {
    let trimmed = value.trim_matches(|c: char| c <= ' ');
    let mut cleaned = trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r'));
    "javascript:".chars().all(|want| {
        cleaned
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(&want))
    })
}

/// A `data:` URL holding a stylesheet's text.
pub fn css_data_url(css: &str) -> String {
    let mut out = String::with_capacity(css.len() + 32);
    out.push_str("data:text/css;charset=utf-8,");
    percent_encode_into(css, &mut out);
    out
}

fn percent_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

// ---------------------------------------------------------------------------
// URLs

/// The five components of RFC 3986, appendix B.
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn parse(s: &str) -> Parts<'_> {
    let (rest, fragment) = match s.find('#') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (rest, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (scheme, rest) = match rest.find(':') {
        Some(i) if i > 0 && !rest[..i].contains('/') && valid_scheme(&rest[..i]) => {
            (Some(&rest[..i]), &rest[i + 1..])
        }
        _ => (None, rest),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    Parts {
        scheme,
        authority,
        path,
        query,
        fragment,
    }
}

fn valid_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn is_special(scheme: &str) -> bool {
    ["http", "https", "ws", "wss", "ftp", "file"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
}

/// Resolves `reference` against `base` (RFC 3986 §5.2, with the browser's
/// leniencies that matter here: surrounding whitespace and control
/// characters are trimmed, tabs and newlines dropped, and `\` read as `/` in
/// http(s) URLs).
///
/// An empty reference is the base without its fragment, as in a browser
/// (so `href=""` and `href="#top"` point at the recorded page, as they did).
/// Left as they are: a reference that already has a scheme, and anything
/// when the base is not a hierarchical URL.
pub fn resolve_url(base: &str, reference: &str) -> String {
    let trimmed = reference.trim_matches(|c: char| c <= ' ');
    // A `data:` URL is its own content (an inlined image, a font), and
    // never grows here: it is bounded like any value, not like a URL.
    let limit = if trimmed
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
    {
        MAX_VALUE
    } else {
        MAX_URL
    };
    if reference.len() > limit {
        return URL_DROPPED.to_string();
    }
    let resolved = match usable_base(base) {
        Some(base) => resolve_within(base, reference),
        // No base to resolve against: an absolute reference is kept, a
        // relative one must not resolve against the player's own URL.
        None if parse(trimmed).scheme.is_some() => reference.to_string(),
        None => URL_DROPPED.to_string(),
    };
    if resolved.len() > limit {
        URL_DROPPED.to_string()
    } else {
        resolved
    }
}

/// [`resolve_url`] without the size bounds.
fn resolve_within(base: &str, reference: &str) -> String {
    let trimmed = reference.trim_matches(|c: char| c <= ' ');
    let cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let b = parse(base);
    let (Some(b_scheme), Some(b_auth)) = (b.scheme, b.authority) else {
        return reference.to_string();
    };
    let special = is_special(b_scheme);
    let cleaned = if special {
        // Only the part before the query and fragment: a `\` there is data.
        let end = cleaned.find(['?', '#']).unwrap_or(cleaned.len());
        let mut s = cleaned[..end].replace('\\', "/");
        s.push_str(&cleaned[end..]);
        s
    } else {
        cleaned
    };
    let r = parse(&cleaned);
    if r.scheme.is_some() {
        return cleaned;
    }
    let (authority, path, query) = if let Some(auth) = r.authority {
        (auth, remove_dot_segments(r.path), r.query)
    } else if r.path.is_empty() {
        (b_auth, b.path.to_string(), r.query.or(b.query))
    } else if r.path.starts_with('/') {
        (b_auth, remove_dot_segments(r.path), r.query)
    } else {
        let merged = if b.path.is_empty() {
            format!("/{}", r.path)
        } else {
            let dir = b.path.rfind('/').map_or("", |i| &b.path[..=i]);
            format!("{dir}{}", r.path)
        };
        (b_auth, remove_dot_segments(&merged), r.query)
    };
    let mut out = String::with_capacity(base.len() + cleaned.len());
    out.push_str(b_scheme);
    out.push_str("://");
    out.push_str(authority);
    if path.is_empty() && special {
        out.push('/');
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = r.fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    fn pop(out: &mut String) {
        let cut = out.rfind('/').unwrap_or(0);
        out.truncate(cut);
    }
    let mut input = path;
    let mut out = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop(&mut out);
        } else if input == "/.." {
            input = "/";
            pop(&mut out);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    out
}

/// Makes every URL of a `srcset` absolute, keeping the descriptors.
pub fn rewrite_srcset(value: &str, base: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut total = 0usize;
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let url_end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let mut url = &rest[..url_end];
        rest = &rest[url_end..];
        let mut descriptor = "";
        if url.ends_with(',') {
            url = url.trim_end_matches(',');
        } else {
            // The descriptor runs to the next comma outside parentheses.
            let mut depth = 0usize;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            descriptor = rest[..end].trim();
            rest = &rest[end..];
        }
        let resolved = if is_javascript_url(url) {
            JS_VOID.to_string()
        } else {
            resolve_url(base, url)
        };
        let candidate = if descriptor.is_empty() {
            resolved
        } else {
            format!("{resolved} {descriptor}")
        };
        // Each candidate can be as long as the base: past the bound, the
        // rest is left out (a browser picks one candidate anyway).
        total += candidate.len() + 2;
        if total > MAX_VALUE {
            break;
        }
        out.push(candidate);
    }
    out.join(", ")
}

/// Makes the URLs of `url(...)` and `@import "..."` in a stylesheet
/// absolute against `base`. A token it cannot read with confidence (an
/// unterminated one, or one with CSS escapes) is left as it was.
pub fn rewrite_css_urls(css: &str, base: &str) -> String {
    let bytes = css.as_bytes();
    let mut out = String::with_capacity(css.len() + 64);
    let mut copied = 0; // css[..copied] is in `out`
    let mut i = 0;
    while i < bytes.len() {
        // Each rewritten URL can be as long as the base: past the bound,
        // the rest is copied as it is (and cut by the caller).
        if out.len() > MAX_VALUE {
            break;
        }
        let b = bytes[i];
        let starts_token = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'-' | b'_'));
        if (b == b'u' || b == b'U') && starts_token && css_has_ci(bytes, i, b"url(") {
            if let Some((url, end)) = read_url_token(css, i + 4) {
                out.push_str(&css[copied..i]);
                out.push_str("url(\"");
                out.push_str(&css_quote(&resolve_url(base, url)));
                out.push_str("\")");
                copied = end;
                i = end;
                continue;
            }
        } else if b == b'@' && css_has_ci(bytes, i, b"@import") {
            let mut j = i + 7;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
                if let Some((url, end)) = read_css_string(css, j) {
                    out.push_str(&css[copied..j]);
                    out.push('"');
                    out.push_str(&css_quote(&resolve_url(base, url)));
                    out.push('"');
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&css[copied..]);
    out
}

fn css_has_ci(bytes: &[u8], at: usize, word: &[u8]) -> bool {
    bytes
        .get(at..at + word.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(word))
}

/// Reads the inside of `url(` starting at `start` (just after the
/// parenthesis); returns the URL and the index just past `)`.
/// A fragment-only `url(#id)` is a same-document reference whatever the
/// base (CSS Values §4.5.1), so it is left alone (`None`).
fn read_url_token(css: &str, start: usize) -> Option<(&str, usize)> {
    let bytes = css.as_bytes();
    let mut j = start;
    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
        j += 1;
    }
    let (url, mut k) = if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
        read_css_string(css, j)?
    } else {
        let end = j + css[j..].find(')')?;
        (css[j..end].trim_end(), end)
    };
    if url.starts_with('#')
        || url.contains('\\')
        || url.contains(['"', '\'', '(']) && !url.starts_with("data:")
    {
        return None;
    }
    while k < bytes.len() && bytes[k].is_ascii_whitespace() {
        k += 1;
    }
    (bytes.get(k) == Some(&b')')).then_some((url, k + 1))
}

/// Reads a quoted CSS string starting at its opening quote; returns its
/// content and the index just past the closing quote. Strings with escapes
/// are refused (left unrewritten).
fn read_css_string(css: &str, open: usize) -> Option<(&str, usize)> {
    let quote = css.as_bytes()[open] as char;
    let rest = &css[open + 1..];
    let close = rest.find([quote, '\\', '\n'])?;
    if !rest[close..].starts_with(quote) {
        return None;
    }
    Some((&rest[..close], open + 1 + close + 1))
}

fn css_quote(url: &str) -> String {
    url.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\a ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(tag: &str, attrs: &[(&str, &str)]) -> Element {
        Element {
            tag: tag.into(),
            ns: Namespace::Html,
            attrs: attrs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn attrs(e: &Element) -> Vec<(String, String)> {
        element_attrs(e, "https://site.test/app/page.html?x=1")
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rfc3986_normal_examples() {
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("g#s", "http://a/b/c/g#s"),
            ("g?y#s", "http://a/b/c/g?y#s"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
        ] {
            assert_eq!(resolve_url(base, r), want, "{r}");
        }
    }

    #[test]
    fn rfc3986_abnormal_examples() {
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g#s/../x", "http://a/b/c/g#s/../x"),
        ] {
            assert_eq!(resolve_url(base, r), want, "{r}");
        }
    }

    #[test]
    fn browser_leniencies_and_kept_references() {
        let base = "https://site.test/app/page.html";
        assert_eq!(
            resolve_url(base, "  img/a.png \n"),
            "https://site.test/app/img/a.png"
        );
        assert_eq!(
            resolve_url(base, "im\tg/a.png"),
            "https://site.test/app/img/a.png"
        );
        assert_eq!(
            resolve_url(base, "\\x\\y.png?a\\b"),
            "https://site.test/x/y.png?a\\b"
        );
        assert_eq!(resolve_url(base, ""), base);
        assert_eq!(
            resolve_url(base, "#top"),
            "https://site.test/app/page.html#top"
        );
        assert_eq!(
            resolve_url("https://h.test/p?q#f", ""),
            "https://h.test/p?q"
        );
        assert_eq!(
            resolve_url(base, "data:image/png;base64,AAAA"),
            "data:image/png;base64,AAAA"
        );
        assert_eq!(resolve_url(base, "mailto:a@b.c"), "mailto:a@b.c");
        assert_eq!(resolve_url("https://h.test", "x"), "https://h.test/x");
        assert_eq!(resolve_url("https://h.test", "?q"), "https://h.test/?q");
        assert_eq!(resolve_url("about:blank", "x.png"), "x.png");
        assert_eq!(resolve_url("", "x.png"), "x.png");
        assert_eq!(
            resolve_url(base, "//cdn.test/a.js"),
            "https://cdn.test/a.js"
        );
        assert_eq!(
            resolve_url("https://h.test:8080/a/b?q#f", "c"),
            "https://h.test:8080/a/c"
        );
    }

    #[test]
    fn handler_attributes_are_dropped() {
        let e = el(
            "div",
            &[
                ("onclick", "x()"),
                ("ONLOAD", "y()"),
                ("OnMouseOver", "z"),
                ("class", "a"),
            ],
        );
        assert_eq!(attrs(&e), pairs(&[("class", "a")]));
    }

    #[test]
    fn javascript_urls_are_neutralised_everywhere() {
        for v in [
            "javascript:alert(1)",
            "  JavaScript:alert(1)",
            "\x01java\tscript:x",
            "java\nscript:x",
            "jAvAsCrIpT:",
        ] {
            assert!(is_javascript_url(v), "{v:?}");
            let e = el("a", &[("href", v), ("data-x", v)]);
            assert_eq!(attrs(&e), pairs(&[("href", JS_VOID), ("data-x", JS_VOID)]));
        }
        for v in ["javascrip:x", "https://javascript:x", "x javascript:", ""] {
            assert!(!is_javascript_url(v), "{v:?}");
        }
        let e = el("img", &[("srcset", "a.png 1x, javascript:x 2x")]);
        assert_eq!(
            attrs(&e),
            pairs(&[(
                "srcset",
                "https://site.test/app/a.png 1x, javascript:void(0) 2x"
            )])
        );
    }

    #[test]
    fn scripts_keep_no_source() {
        let e = el(
            "script",
            &[("src", "/app.js"), ("type", "module"), ("nonce", "n")],
        );
        assert_eq!(attrs(&e), pairs(&[("type", "module"), ("nonce", "n")]));
        let mut svg = el("script", &[("href", "a.js"), ("xlink:href", "b.js")]);
        svg.ns = Namespace::Svg;
        assert!(attrs(&svg).is_empty());
        assert!(is_script("SCRIPT", Namespace::Html) && is_script("script", Namespace::Svg));
        assert!(!is_script("script", Namespace::MathMl) && !is_script("noscript", Namespace::Html));
    }

    #[test]
    fn srcdoc_and_meta_refresh_are_dropped() {
        let e = el(
            "iframe",
            &[("srcdoc", "<script>x</script>"), ("src", "f.html")],
        );
        assert!(attrs(&e).is_empty(), "a replayed frame loads nothing");
        let e = el(
            "meta",
            &[
                ("http-equiv", " Refresh "),
                ("content", "0;url=https://evil.test"),
            ],
        );
        assert_eq!(attrs(&e), pairs(&[("content", "0;url=https://evil.test")]));
        let e = el(
            "meta",
            &[("http-equiv", "content-type"), ("content", "text/html")],
        );
        assert_eq!(attrs(&e).len(), 2);
    }

    #[test]
    fn the_replay_cannot_change_the_players_policies() {
        for pragma in [
            "Content-Security-Policy",
            "set-cookie",
            "referrer-policy",
            "x-dns-prefetch-control",
        ] {
            let e = el("meta", &[("http-equiv", pragma), ("content", "x")]);
            assert_eq!(attrs(&e), pairs(&[("content", "x")]), "{pragma}");
        }
        let e = el("meta", &[("NAME", " Referrer "), ("content", "unsafe-url")]);
        assert_eq!(
            attrs(&e),
            pairs(&[("NAME", " Referrer "), ("content", "no-referrer")])
        );
        let e = el(
            "meta",
            &[("name", "description"), ("content", "unsafe-url")],
        );
        assert_eq!(attrs(&e)[1].1, "unsafe-url");
        for tag in ["a", "img", "link", "iframe", "script", "area"] {
            let e = el(tag, &[("ReferrerPolicy", "unsafe-url")]);
            assert_eq!(
                attrs(&e),
                pairs(&[("ReferrerPolicy", "no-referrer")]),
                "{tag}"
            );
        }
    }

    #[test]
    fn sizes_are_bounded() {
        let base = "https://site.test/app/page.html";
        // A URL bomb: a huge base multiplied by many relative references.
        let huge_path = format!("https://site.test/{}", "a/".repeat(MAX_BASE));
        assert_eq!(resolve_url(&huge_path, "x.png"), URL_DROPPED);
        assert_eq!(
            resolve_url(&huge_path, "https://cdn.test/x.png"),
            "https://cdn.test/x.png"
        );
        // A long query or fragment is dropped from the base, not the page.
        let long_query = format!("{base}?q={}#{}", "x".repeat(MAX_BASE), "f".repeat(MAX_BASE));
        assert_eq!(
            resolve_url(&long_query, "x.png"),
            "https://site.test/app/x.png"
        );
        assert_eq!(resolve_url(&long_query, ""), base);
        // Long references, relative or not, are neutralised; data: URLs
        // are bounded by the value cap instead.
        let long = "../".repeat(MAX_URL);
        assert_eq!(resolve_url(base, &long), URL_DROPPED);
        assert_eq!(
            resolve_url(base, &format!("/{}", "b".repeat(MAX_URL))),
            URL_DROPPED
        );
        let data = format!("data:image/png;base64,{}", "A".repeat(MAX_URL));
        assert_eq!(resolve_url(base, &data), data);
        // srcset and CSS: every candidate / url() can be as long as the
        // base, so the output is bounded, not the number of references.
        let b = format!("https://site.test/{}", "p".repeat(MAX_BASE - 20));
        let srcset = " x,".repeat(1_000_000);
        assert!(rewrite_srcset(&srcset, &b).len() <= MAX_VALUE);
        let css = "a{b:url(x)}".repeat(100_000);
        assert!(style_text(&css, &b).len() <= MAX_VALUE + ELLIPSIS.len());
        let e = el(
            "div",
            &[("style", &css), ("title", &"t".repeat(MAX_VALUE + 1))],
        );
        let got = attrs(&e);
        assert!(got[0].1.len() <= MAX_VALUE + ELLIPSIS.len());
        assert!(got[1].1.ends_with(ELLIPSIS) && got[1].1.len() == MAX_VALUE + ELLIPSIS.len());
        assert_eq!(cap("ééé", 3), "é…");
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(
            text(&"z".repeat(MAX_VALUE + 5)).len(),
            MAX_VALUE + ELLIPSIS.len()
        );
    }

    #[test]
    fn url_attributes_become_absolute() {
        let e = el(
            "form",
            &[
                ("action", "/submit"),
                ("href", "../up"),
                ("src", "x.png"),
                ("poster", "p.jpg"),
                ("background", "bg.gif"),
                ("formaction", "?go"),
                ("xlink:href", "#icon"),
                ("title", "rel/not/a/url"),
            ],
        );
        assert_eq!(
            attrs(&e),
            pairs(&[
                ("action", "https://site.test/submit"),
                ("href", "https://site.test/up"),
                ("src", "https://site.test/app/x.png"),
                ("poster", "https://site.test/app/p.jpg"),
                ("background", "https://site.test/app/bg.gif"),
                ("formaction", "https://site.test/app/page.html?go"),
                ("xlink:href", "https://site.test/app/page.html?x=1#icon"),
                ("title", "rel/not/a/url"),
            ])
        );
        let mut svg_use = el("use", &[("href", "#icon"), ("xlink:href", " #icon2")]);
        svg_use.ns = Namespace::Svg;
        assert_eq!(
            attrs(&svg_use),
            pairs(&[("href", "#icon"), ("xlink:href", " #icon2")])
        );
    }

    #[test]
    fn srcset_urls_become_absolute() {
        let base = "https://site.test/a/b.html";
        assert_eq!(rewrite_srcset("x.png", base), "https://site.test/a/x.png");
        assert_eq!(
            rewrite_srcset(" x.png 1x,y.png  2x , /z.png 100w", base),
            "https://site.test/a/x.png 1x, https://site.test/a/y.png 2x, https://site.test/z.png 100w"
        );
        // A comma inside a URL belongs to it (only trailing commas split).
        assert_eq!(
            rewrite_srcset("a.png,b.png 2x", base),
            "https://site.test/a/a.png,b.png 2x"
        );
        assert_eq!(
            rewrite_srcset("a.png, b.png 2x", base),
            "https://site.test/a/a.png, https://site.test/a/b.png 2x"
        );
        assert_eq!(
            rewrite_srcset("data:image/png;base64,AA== 1x", base),
            "data:image/png;base64,AA== 1x"
        );
        assert_eq!(rewrite_srcset("", base), "");
    }

    #[test]
    fn css_urls_become_absolute() {
        let base = "https://site.test/css/main.css";
        assert_eq!(
            rewrite_css_urls("a{background:url(img/a.png)} b{background: URL( '../b.png' )}", base),
            "a{background:url(\"https://site.test/css/img/a.png\")} b{background: url(\"https://site.test/b.png\")}"
        );
        assert_eq!(
            rewrite_css_urls("@import \"x.css\";", base),
            "@import \"https://site.test/css/x.css\";"
        );
        assert_eq!(
            rewrite_css_urls("@import url(x.css);", base),
            "@import url(\"https://site.test/css/x.css\");"
        );
        // Left alone: data URLs keep their meaning, escapes are not guessed.
        assert_eq!(
            rewrite_css_urls("a{b:url(data:x)}", base),
            "a{b:url(\"data:x\")}"
        );
        assert_eq!(
            rewrite_css_urls("a{b:url(\"a\\\"b\")}", base),
            "a{b:url(\"a\\\"b\")}"
        );
        assert_eq!(rewrite_css_urls("a{b:url(x", base), "a{b:url(x");
        assert_eq!(rewrite_css_urls("a{b:myurl(x)}", base), "a{b:myurl(x)}");
        assert_eq!(rewrite_css_urls("p{fill:url(#g)}", base), "p{fill:url(#g)}");
        assert_eq!(rewrite_css_urls("", base), "");
        let e = el("div", &[("style", "background:url(p.png)")]);
        assert_eq!(
            attrs(&e),
            pairs(&[("style", "background:url(\"https://site.test/app/p.png\")")])
        );
    }

    #[test]
    fn recorded_stylesheets_are_inlined() {
        let mut e = el(
            "link",
            &[
                ("rel", "Preload Stylesheet"),
                ("href", "css/s.css"),
                ("integrity", "sha384-x"),
            ],
        );
        e.stylesheet = Some("a { color: red; background: url(i.png) } /* 100% # */".into());
        let got = attrs(&e);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "rel");
        assert_eq!(
            got[1],
            (
                "href".to_string(),
                "data:text/css;charset=utf-8,a%20%7B%20color:%20red;%20background:%20url(%22https://site.test/app/css/i.png%22)%20%7D%20/*%20100%25%20%23%20*/".to_string()
            )
        );
        // Without recorded text, or when not a stylesheet, the href is only
        // made absolute.
        let e = el(
            "link",
            &[("rel", "stylesheet"), ("href", "s.css"), ("integrity", "h")],
        );
        assert_eq!(
            attrs(&e),
            pairs(&[
                ("rel", "stylesheet"),
                ("href", "https://site.test/app/s.css"),
                ("integrity", "h")
            ])
        );
        let mut e = el("link", &[("rel", "icon"), ("href", "f.ico")]);
        e.stylesheet = Some("x".into());
        assert_eq!(attrs(&e)[1].1, "https://site.test/app/f.ico");
    }

    #[test]
    fn blocked_boxes_keep_their_size_and_marker() {
        let a = blocked_attrs("div", 300, 150);
        assert_eq!(a[0], ("data-reel-block".to_string(), String::new()));
        assert!(a[1].1.contains("width:300px;height:150px"));
        assert!(!a[1].1.contains("inline-block"));
        assert!(blocked_attrs("SPAN", 1, 2)[1]
            .1
            .starts_with("display:inline-block;"));
    }

    #[test]
    fn non_utf8_boundaries_are_safe() {
        // Multibyte text around the tokens must not split a character.
        let base = "https://é.test/ü/";
        assert_eq!(
            rewrite_css_urls("é{b:url(ü.png)}ü", base),
            "é{b:url(\"https://é.test/ü/ü.png\")}ü"
        );
        assert_eq!(
            rewrite_srcset("ü.png 1x,é.png", base),
            "https://é.test/ü/ü.png 1x, https://é.test/ü/é.png"
        );
    }
}
