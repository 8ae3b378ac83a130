//! The player's pages (`player/static/*.html`) share their head and their
//! header: each is written once, in `player/static/parts/`, and a page
//! names the one it wants on a line of its own:
//!
//! ```html
//! <!-- part header title="Audit log" me -->
//! ```
//!
//! `cargo xtask dist` puts the part in that line's place as it copies the
//! pages into `dist/player/`: the page the server sends is whole, so its
//! first paint is the same as when every page carried its own copy (no
//! script builds the header, nothing moves once it has run).
//!
//! What a part may hold:
//! - `{{name}}`: the marker's `name="value"` (HTML-escaped); a part naming
//!   a value the marker lacks, or a marker giving a value no line uses, is
//!   an error (a misspelt name fails the build instead of shipping).
//! - a line ending in `<!-- if flag -->`: kept (without the comment) only
//!   where the marker gives the bare word `flag`.
//! - `current="/insights"` on the marker marks the part's link to that
//!   path as the page's own (`aria-current="page"`).

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MARKER: &str = "<!-- part ";

/// `page` with every part marker replaced by its part from `parts_dir`.
pub fn expand(page: &str, parts_dir: &Path) -> Result<String> {
    let mut out = String::with_capacity(page.len() * 2);
    for line in page.split_inclusive('\n') {
        let trimmed = line.trim();
        let Some(rest) = trimmed.strip_prefix(MARKER) else {
            if line.contains(MARKER) {
                bail!("a part marker must stand alone on its line: {trimmed}");
            }
            out.push_str(line);
            continue;
        };
        let Some(spec) = rest.strip_suffix("-->") else {
            bail!("unterminated part marker: {trimmed}");
        };
        let marker = Marker::parse(spec)?;
        let file = parts_dir.join(format!("{}.html", marker.part));
        let part = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the part {}", file.display()))?;
        let indent = &line[..line.len() - line.trim_start().len()];
        let expanded = marker
            .apply(&part)
            .with_context(|| format!("expanding {trimmed}"))?;
        for l in expanded.lines() {
            out.push_str(indent);
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

/// `part name="value" flag …`, as written in a page.
#[derive(Debug)]
struct Marker {
    part: String,
    values: BTreeMap<String, String>,
    flags: BTreeSet<String>,
}

impl Marker {
    fn parse(spec: &str) -> Result<Marker> {
        let mut s = spec.trim();
        let (part, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        if part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!("a part's name is letters, digits and dashes: {part:?}");
        }
        let mut m = Marker {
            part: part.to_string(),
            values: BTreeMap::new(),
            flags: BTreeSet::new(),
        };
        s = rest.trim_start();
        while !s.is_empty() {
            let end = s
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(s.len());
            let name = &s[..end];
            if name.is_empty() {
                bail!("a name is missing before {s:?}");
            }
            s = &s[end..];
            if let Some(v) = s.strip_prefix("=\"") {
                let Some(close) = v.find('"') else {
                    bail!("{name}'s value has no closing quote");
                };
                m.values.insert(name.to_string(), v[..close].to_string());
                s = &v[close + 1..];
            } else {
                m.flags.insert(name.to_string());
            }
            s = s.trim_start();
        }
        Ok(m)
    }

    fn apply(&self, part: &str) -> Result<String> {
        let mut used = BTreeSet::new();
        let mut out = String::new();
        for line in part.lines() {
            let mut line = line.to_string();
            if let Some((kept, flag)) = line.trim_end().strip_suffix("-->").and_then(|l| {
                let (kept, cond) = l.rsplit_once("<!-- if ")?;
                Some((kept.trim_end().to_string(), cond.trim().to_string()))
            }) {
                if !self.flags.contains(&flag) {
                    continue;
                }
                used.insert(flag);
                line = kept;
            }
            let mut from = 0;
            while let Some(at) = line[from..].find("{{") {
                let start = from + at;
                let Some(len) = line[start..].find("}}") else {
                    bail!("unclosed {{{{ in {line:?}");
                };
                let name = line[start + 2..start + len].trim().to_string();
                let Some(value) = self.values.get(&name) else {
                    bail!("the part uses {{{{{name}}}}}, which the marker does not give");
                };
                let value = escape(value);
                line.replace_range(start..start + len + 2, &value);
                from = start + value.len();
                used.insert(name);
            }
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(href) = self.values.get("current") {
            let link = format!("<a href=\"{}\"", escape(href));
            if out.matches(&link).count() != 1 {
                bail!("current=\"{href}\": the part has no single link to it");
            }
            out = out.replacen(&link, &format!("{link} aria-current=\"page\""), 1);
            used.insert("current".to_string());
        }
        let unused: Vec<&String> = self
            .values
            .keys()
            .chain(&self.flags)
            .filter(|k| !used.contains(*k))
            .collect();
        if !unused.is_empty() {
            bail!("the part uses none of {unused:?}");
        }
        Ok(out)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_part(part: &str, page: &str) -> Result<String> {
        // One folder a call: the tests run at once.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("xtask-pages-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.html"), part).unwrap();
        let out = expand(page, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    const PART: &str = "<h1>{{title}}</h1>\n<nav><a href=\"/\">A</a><a href=\"/b\">B</a></nav>\n<span id=\"me\"></span> <!-- if me -->\n";

    #[test]
    fn a_marker_becomes_its_part_indented_like_it() {
        let page = "<body>\n  <!-- part p title=\"A & B\" current=\"/b\" me -->\n</body>\n";
        assert_eq!(
            with_part(PART, page).unwrap(),
            "<body>\n  <h1>A &amp; B</h1>\n  <nav><a href=\"/\">A</a><a href=\"/b\" aria-current=\"page\">B</a></nav>\n  <span id=\"me\"></span>\n</body>\n"
        );
        let page = "<!-- part p title=\"T\" -->\n";
        assert_eq!(
            with_part(PART, page).unwrap(),
            "<h1>T</h1>\n<nav><a href=\"/\">A</a><a href=\"/b\">B</a></nav>\n"
        );
    }

    /// `cargo xtask dist` would fail on a page whose markers do not
    /// expand; this says so without a wasm build.
    #[test]
    fn the_players_pages_expand() {
        let statics = Path::new(env!("CARGO_MANIFEST_DIR")).join("../player/static");
        let mut pages = 0;
        for entry in std::fs::read_dir(&statics).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "html") {
                let page = std::fs::read_to_string(&path).unwrap();
                let out = expand(&page, &statics.join("parts")).unwrap();
                assert!(!out.contains(MARKER) && !out.contains("{{"), "{path:?}");
                pages += 1;
            }
        }
        assert!(pages >= 9, "{pages} pages");
    }

    #[test]
    fn a_misspelt_or_missing_name_fails() {
        for page in [
            "<!-- part p -->\n",
            "<!-- part p title=\"T\" titel=\"T\" -->\n",
            "<!-- part p title=\"T\" mee -->\n",
            "<!-- part p title=\"T\" current=\"/c\" -->\n",
            "<!-- part q title=\"T\" -->\n",
            "<p><!-- part p title=\"T\" --></p>\n",
            "<!-- part p title=\"T -->\n",
        ] {
            assert!(with_part(PART, page).is_err(), "{page}");
        }
    }
}
