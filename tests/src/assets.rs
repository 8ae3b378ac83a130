//! The files `reel.js` and the player load, found as a browser finds them:
//! from `/reel.js` and the player's pages, following every quoted URL of
//! ours in what was fetched (absolute, or relative to the file, like the
//! bindgen glue's snippets). What the delivery test checks and the bench
//! weighs.

use crate::http;
use crate::ReelServer;
use anyhow::Result;

/// Quoted strings in `text` that name one of our asset paths, resolved
/// against `base` (the path of the file they appear in), each with whether
/// it was written as an absolute path.
pub fn referenced(text: &str, base: &str) -> Vec<(String, bool)> {
    let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
    let mut out = Vec::new();
    for q in ['\'', '"', '`'] {
        // Each quote that opens one of our paths, read to its closing quote
        // (not quote pairs over the whole text: comments hold apostrophes).
        for (i, _) in text.match_indices(q) {
            let rest = &text[i + 1..];
            if !["/recorder/", "/player/", "./"]
                .iter()
                .any(|p| rest.starts_with(p))
            {
                continue;
            }
            let Some(piece) = rest.split(q).next() else {
                continue;
            };
            if piece.contains(char::is_whitespace) {
                continue;
            }
            let path = if piece.starts_with("/recorder/") || piece.starts_with("/player/") {
                (piece.to_string(), true)
            } else if let Some(rel) = piece.strip_prefix("./") {
                if dir.starts_with("/recorder/") || dir.starts_with("/player/") {
                    (format!("{dir}{rel}"), false)
                } else {
                    continue;
                }
            } else {
                continue;
            };
            let looks_like_file = path
                .0
                .rsplit('/')
                .next()
                .is_some_and(|n| n.contains('.') && !n.ends_with('.'));
            if looks_like_file && !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Every asset reachable from `roots` (paths on `server`), as a browser
/// would fetch them, `roots` excluded.
pub async fn discover(server: &ReelServer, roots: &[&str], auth: &str) -> Result<Vec<String>> {
    let mut queue: Vec<(String, Vec<u8>)> = Vec::new();
    for r in roots {
        let res = http::get(&server.url(r), &[("Authorization", auth)])
            .await?
            .ensure_success(r)?;
        queue.push((r.to_string(), res.body));
    }
    let mut found: Vec<String> = Vec::new();
    while let Some((path, body)) = queue.pop() {
        let text = String::from_utf8_lossy(&body).into_owned();
        for (next, absolute) in referenced(&text, &path) {
            if found.contains(&next) {
                continue;
            }
            let res = http::get(&server.url(&next), &[]).await?;
            // A relative string may be no URL at all (the bindgen glue's
            // import object is keyed `"./reel_recorder_bg.js"`); an absolute
            // one of ours must exist (a broken import fails the delivery
            // test's browser half).
            if res.status == 404 && !absolute {
                continue;
            }
            let res = res.ensure_success(&format!("{next}, named in {path}"))?;
            found.push(next.clone());
            queue.push((next, res.body));
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_quoted_references() {
        let js = r#"import init from '/player/v/ab/reel_player.js';import {x} from "./snippets/k/inline0.js";
            const w = o+"/recorder/v/ab/reel_recorder_bg.wasm"; // '/player/not a file'"#;
        let mut found: Vec<String> = referenced(js, "/player/v/ab/boot.js")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                "/player/v/ab/reel_player.js",
                "/player/v/ab/snippets/k/inline0.js",
                "/recorder/v/ab/reel_recorder_bg.wasm",
            ]
        );
    }
}
