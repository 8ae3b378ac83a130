//! Fidelity checks: canonicalise a document in the browser (`canon.js`) and
//! compare two canonical trees, reporting the first difference by path.
//!
//! Why a canonical form rather than comparing `outerHTML`: the contract lets
//! the replay differ in exactly a few ways (inert scripts, neutralised
//! handlers and `javascript:` URLs, masking, blocking, rewritten URLs), and
//! those allowances are easiest to state, review and keep honest in one
//! small serializer used on both sides. Why a path in the message: "the DOMs
//! differ" is useless in a failing end-to-end test; `html>body>ul#list>li[3]
//! @class: "a" != "b"` points at the bug.

use crate::cdp::Page;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;

/// The canonical serializer, a JavaScript function expression taking a
/// `Document`.
pub const CANON_JS: &str = include_str!("canon.js");

/// What a viewer sees (boxes and computed styles), a JavaScript function
/// expression taking a `Document`.
pub const VISUAL_JS: &str = include_str!("visual.js");

/// The player's replay iframe's document, as a JS expression.
pub const REPLAY_DOCUMENT: &str = "document.getElementById('reel-replay').contentDocument";

/// A JS expression that canonicalises the document `doc_expr` evaluates to.
pub fn canon_expr(doc_expr: &str) -> String {
    // The file is formatted as a statement (prettier ends it with `;`).
    let canon = CANON_JS.trim_end().trim_end_matches(';');
    format!("({canon})({doc_expr})")
}

/// A JS expression that lists what a viewer sees of the document `doc_expr`
/// evaluates to (see `visual.js`).
pub fn visual_expr(doc_expr: &str) -> String {
    let visual = VISUAL_JS.trim_end().trim_end_matches(';');
    format!("({visual})({doc_expr})")
}

/// Canonicalises the document `doc_expr` evaluates to in `page`.
pub async fn canon(page: &Page, doc_expr: &str) -> Result<Value> {
    let v = page.eval(&canon_expr(doc_expr)).await?;
    if v.get("type").and_then(Value::as_str) != Some("document") {
        bail!("canon({doc_expr}) returned no document: {v}");
    }
    Ok(v)
}

/// Canonicalises the page's own document.
pub async fn canon_document(page: &Page) -> Result<Value> {
    canon(page, "document").await
}

/// Canonicalises the player's replayed document (`#reel-replay`).
pub async fn canon_replay(page: &Page) -> Result<Value> {
    let present = page
        .eval("!!(document.getElementById('reel-replay') && document.getElementById('reel-replay').contentDocument)")
        .await?;
    if present != Value::Bool(true) {
        bail!("the page has no readable <iframe id=\"reel-replay\"> (missing, or not same-origin)");
    }
    canon(page, REPLAY_DOCUMENT).await
}

/// Fails with the first difference (and `what` for context) unless the two
/// canonical documents are equal.
pub fn assert_same(expected: &Value, actual: &Value, what: &str) -> Result<()> {
    match diff(expected, actual) {
        None => Ok(()),
        Some(d) => Err(anyhow!("{what}: documents differ at {d}")),
    }
}

/// The first difference between two canonical trees, as
/// `path: explanation`, or `None` when they are equal. The path names each
/// node by tag (with `#id` when it has one) or `#text`/`#comment`, and by its
/// index among its parent's child nodes (`childNodes[i]`) when the parent
/// has several children of that kind; attributes are `@name`.
pub fn diff(expected: &Value, actual: &Value) -> Option<String> {
    diff_node(expected, actual, "document")
}

fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A node's name in a path, without the index.
fn label(v: &Value) -> String {
    match kind(v) {
        "element" => {
            let tag = s(v, "tag").unwrap_or("?");
            match v
                .get("attrs")
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str)
            {
                Some(id) if !id.is_empty() => format!("{tag}#{id}"),
                _ => tag.to_string(),
            }
        }
        "text" => "#text".into(),
        "comment" => "#comment".into(),
        "doctype" => "#doctype".into(),
        "cdata" => "#cdata".into(),
        "pi" => "#pi".into(),
        "document" => "#document".into(),
        "shadow-root" => "#shadow-root".into(),
        other => format!("#{other}"),
    }
}

fn quote(text: &str) -> String {
    let q = serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"));
    crate::http::truncate(&q, 160)
}

/// A one-line description of a node, for messages.
fn summary(v: &Value) -> String {
    match kind(v) {
        "element" => {
            let mut out = format!("<{}", s(v, "tag").unwrap_or("?"));
            if v.get("blocked").is_some() {
                out.push_str(" data-reel-block");
            }
            if let Some(attrs) = v.get("attrs").and_then(Value::as_object) {
                for (k, val) in attrs {
                    out.push_str(&format!(" {k}={}", quote(val.as_str().unwrap_or(""))));
                }
            }
            out.push('>');
            crate::http::truncate(&out, 200)
        }
        "text" if v.get("masked").is_some() => "#text (masked)".into(),
        "text" | "comment" | "cdata" => {
            format!("{} {}", label(v), quote(s(v, "data").unwrap_or("")))
        }
        "" => crate::http::truncate(&v.to_string(), 200),
        _ => label(v),
    }
}

fn diff_node(e: &Value, a: &Value, path: &str) -> Option<String> {
    if e == a {
        return None;
    }
    if !e.is_object() || !a.is_object() || kind(e).is_empty() {
        return Some(format!(
            "{path}: {} != {}",
            crate::http::truncate(&e.to_string(), 200),
            crate::http::truncate(&a.to_string(), 200)
        ));
    }
    if kind(e) != kind(a)
        || s(e, "tag") != s(a, "tag")
        || s(e, "ns") != s(a, "ns")
        || e.get("blocked") != a.get("blocked")
    {
        return Some(format!(
            "{path}: expected {}, found {}",
            summary(e),
            summary(a)
        ));
    }
    match kind(e) {
        "text" | "comment" | "cdata" | "pi" | "doctype" => {
            if e.get("masked") != a.get("masked") {
                return Some(format!(
                    "{path}: expected {}, found {}",
                    summary(e),
                    summary(a)
                ));
            }
            for key in ["data", "name", "publicId", "systemId", "target"] {
                if e.get(key) != a.get(key) {
                    let show = |v: &Value| match v.get(key) {
                        Some(Value::String(t)) => quote(t),
                        Some(other) => other.to_string(),
                        None => "(none)".into(),
                    };
                    let what = if key == "data" {
                        String::new()
                    } else {
                        format!(" {key}")
                    };
                    return Some(format!("{path}{what}: {} != {}", show(e), show(a)));
                }
            }
        }
        "element" => {
            if let Some(d) = diff_attrs(e, a, path) {
                return Some(d);
            }
        }
        _ => {}
    }
    // Stylesheet rules (CSSOM edits), adopted sheets, a document's mode.
    for key in ["rules", "adopted", "mode"] {
        if e.get(key) != a.get(key) {
            let show = |v: &Value| {
                crate::http::truncate(&v.get(key).unwrap_or(&Value::Null).to_string(), 300)
            };
            return Some(format!("{path} {key}: {} != {}", show(e), show(a)));
        }
    }
    if e.get("childrenIgnored") != a.get("childrenIgnored") {
        return Some(format!(
            "{path}: children ignored as {} in expected, {} in actual",
            e.get("childrenIgnored").unwrap_or(&Value::Null),
            a.get("childrenIgnored").unwrap_or(&Value::Null)
        ));
    }
    let empty = Vec::new();
    let ec = e
        .get("children")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let ac = a
        .get("children")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let first = ec.iter().zip(ac).position(|(x, y)| x != y);
    let child_path = |i: usize, v: &Value| {
        let l = label(v);
        let same = ec.iter().filter(|c| label(c) == l).count();
        let seg = if same > 1 { format!("{l}[{i}]") } else { l };
        if path == "document" {
            seg
        } else {
            format!("{path}>{seg}")
        }
    };
    if ec.len() != ac.len() {
        let i = first.unwrap_or(ec.len().min(ac.len()));
        let at = |list: &Vec<Value>| list.get(i).map(summary).unwrap_or_else(|| "nothing".into());
        return Some(format!(
            "{path}: expected {} child nodes, found {}; first difference at childNodes[{i}]: expected {}, found {}",
            ec.len(),
            ac.len(),
            at(ec),
            at(ac)
        ));
    }
    if let Some(i) = first {
        return diff_node(&ec[i], &ac[i], &child_path(i, &ec[i]));
    }
    // Equal by every key we know yet unequal: report the raw difference.
    Some(format!(
        "{path}: {} != {}",
        crate::http::truncate(&e.to_string(), 200),
        crate::http::truncate(&a.to_string(), 200)
    ))
}

fn diff_attrs(e: &Value, a: &Value, path: &str) -> Option<String> {
    let empty = serde_json::Map::new();
    let ea = e.get("attrs").and_then(Value::as_object).unwrap_or(&empty);
    let aa = a.get("attrs").and_then(Value::as_object).unwrap_or(&empty);
    let mut names: Vec<&String> = ea.keys().chain(aa.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let text = |v: &Value| quote(v.as_str().unwrap_or(""));
        match (ea.get(name), aa.get(name)) {
            (Some(x), Some(y)) if x != y => {
                return Some(format!("{path}@{name}: {} != {}", text(x), text(y)))
            }
            (Some(x), None) => {
                return Some(format!(
                    "{path}@{name}: attribute missing (expected {})",
                    text(x)
                ))
            }
            (None, Some(y)) => {
                return Some(format!("{path}@{name}: unexpected attribute {}", text(y)))
            }
            _ => {}
        }
    }
    None
}

/// Records the custom event `name` and, in the same JavaScript task (so
/// nothing can change in between), captures the canonical document it
/// marks: the expected replay at that marker.
pub async fn mark(page: &Page, name: &str) -> Result<Value> {
    page.eval(&format!(
        "(() => {{ Reel.event({}); return {}; }})()",
        serde_json::to_string(name)?,
        canon_expr("document")
    ))
    .await
    .map_err(|e| anyhow!("marking {name}: {e:#}"))
}

/// Like [`mark`], and also captures what a viewer sees there (boxes and
/// computed styles, `visual.js`) in the same task: `{"canon": ..,
/// "visual": ..}`, which [`check_replay`] compares both ways.
pub async fn mark_seen(page: &Page, name: &str) -> Result<Value> {
    page.eval(&format!(
        "(() => {{ Reel.event({}); return {{ canon: {}, visual: {} }}; }})()",
        serde_json::to_string(name)?,
        canon_expr("document"),
        visual_expr("document")
    ))
    .await
    .map_err(|e| anyhow!("marking {name}: {e:#}"))
}

/// True once the replayed document and its frame documents have every
/// stylesheet, font and image loaded (a failed one counts as settled; a
/// disabled stylesheet never loads).
const REPLAY_LOADED: &str = r#"(() => {
  const docs = [document.getElementById('reel-replay').contentDocument];
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    if (!d) continue;
    if (d.fonts && d.fonts.status !== 'loaded') return false;
    for (const l of d.querySelectorAll('link[rel~=stylesheet]:not([disabled])')) if (!l.sheet && !l.reelFailed) {
      if (!l.reelWatched) { l.reelWatched = true; l.addEventListener('error', () => { l.reelFailed = true; }); }
      return false;
    }
    for (const img of d.images) if (!img.complete) return false;
    for (const f of d.querySelectorAll('iframe, frame')) { try { docs.push(f.contentDocument); } catch (_) {} }
  }
  return true;
})()"#;

/// At most this many visual differences are listed per marker (the count
/// says how many there were).
const VISUAL_SHOWN: usize = 12;

/// Box coordinates may differ by this much (CSS px): subpixel layout.
const BOX_SLACK: f64 = 1.0;

/// The visual differences between two `visual.js` results, each as `path
/// property: page != replay` (at most [`VISUAL_SHOWN`], then a count), or
/// an empty list when the replay looks like the page.
pub fn visual_diff(page: &Value, replay: &Value) -> Vec<String> {
    let props: Vec<&str> = page["props"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Vec::new();
    let rows = |v: &Value| -> Vec<Value> { v["rows"].as_array().unwrap_or(&empty).clone() };
    let (want, got) = (rows(page), rows(replay));
    let key = |r: &Value| r[0].as_str().unwrap_or("?").to_string();
    let got_by: std::collections::HashMap<String, &Value> =
        got.iter().map(|r| (key(r), r)).collect();
    let want_keys: std::collections::HashSet<String> = want.iter().map(key).collect();
    let mut out = Vec::new();
    for w in &want {
        let path = key(w);
        let Some(g) = got_by.get(&path) else {
            out.push(format!("{path}: on the page, not in the replay"));
            continue;
        };
        let mut boxed = Vec::new();
        for (i, what) in ["x", "y", "width", "height"].iter().enumerate() {
            if let (Some(a), Some(b)) = (w[i + 1].as_f64(), g[i + 1].as_f64()) {
                if (a - b).abs() > BOX_SLACK {
                    boxed.push(format!("{what} {a} != {b}"));
                }
            }
        }
        if !boxed.is_empty() {
            out.push(format!("{path} box: {} (page != replay)", boxed.join(", ")));
        }
        let ws = w[5].as_str().unwrap_or("");
        let gs = g[5].as_str().unwrap_or("");
        if ws != gs {
            for ((p, a), b) in props.iter().zip(ws.split('|')).zip(gs.split('|')) {
                if a != b {
                    out.push(format!("{path} {p}: {} != {}", quote(a), quote(b)));
                }
            }
        }
    }
    for g in &got {
        if !want_keys.contains(&key(g)) {
            out.push(format!("{}: in the replay, not on the page", key(g)));
        }
    }
    if out.len() > VISUAL_SHOWN {
        let n = out.len();
        out.truncate(VISUAL_SHOWN);
        out.push(format!(
            "... {} more visual difference(s)",
            n - VISUAL_SHOWN
        ));
    }
    out
}

/// A new page of `browser` that sends `server`'s API token with every
/// request (the player and the sessions list need it).
pub async fn authorised_page(browser: &crate::Browser, server: &crate::ReelServer) -> Result<Page> {
    let page = browser.new_page().await?;
    let auth = format!("Bearer {}", server.api_token());
    page.set_extra_headers(&[("Authorization", auth.as_str())])
        .await?;
    Ok(page)
}

/// Opens the player page for `session_id` in a new page of `browser`,
/// authorised by the API token, and waits until `reelPlayer.ready`.
pub async fn open_player(
    browser: &crate::Browser,
    server: &crate::ReelServer,
    session_id: &str,
) -> Result<Page> {
    let player = authorised_page(browser, server).await?;
    player
        .goto(&server.url(&format!("/sessions/{session_id}")))
        .await?;
    player
        .wait_for("!!window.reelPlayer", std::time::Duration::from_secs(20))
        .await?;
    player
        .eval("window.reelPlayer.ready.then(() => true)")
        .await
        .map_err(|e| anyhow!("reelPlayer.ready: {e:#}"))?;
    Ok(player)
}

/// Opens the player for `session_id` in a new page of `browser`, seeks to
/// each custom marker in `expected` and diffs the replay with what was
/// captured there: the canonical document ([`mark`]), and also what a
/// viewer sees where the marker was taken by [`mark_seen`]. Returns the differences (empty: faithful) and the
/// player page (for further checks).
pub async fn check_replay(
    browser: &crate::Browser,
    server: &crate::ReelServer,
    session_id: &str,
    expected: &[(String, Value)],
) -> Result<(Vec<String>, Page)> {
    let player = open_player(browser, server, session_id).await?;
    let markers = player.eval("reelPlayer.markers()").await?;
    let markers = markers.as_array().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    for (name, want) in expected {
        let Some(t) = markers
            .iter()
            .find(|m| m["kind"] == "custom" && m["name"] == name.as_str())
            .and_then(|m| m["t"].as_f64())
        else {
            failures.push(format!("no custom marker {name} among {markers:?}"));
            continue;
        };
        player
            .eval(&format!("reelPlayer.seek({t}).then(() => true)"))
            .await?;
        let (want_canon, want_visual) = match want.get("canon") {
            Some(c) => (c, want.get("visual")),
            None => (want, None),
        };
        let got = canon_replay(&player).await?;
        if let Some(d) = diff(want_canon, &got) {
            failures.push(format!("at {name} (t = {t} ms): {d}"));
        }
        if let Some(want_visual) = want_visual {
            // What the page had loaded when it was marked (the steps wait
            // for their fonts), the replay loads after the seek.
            player
                .wait_for(REPLAY_LOADED, std::time::Duration::from_secs(20))
                .await
                .map_err(|e| anyhow!("at {name}: the replay's stylesheets, fonts and images never all loaded: {e:#}"))?;
            let got = player.eval(&visual_expr(REPLAY_DOCUMENT)).await?;
            for d in visual_diff(want_visual, &got) {
                failures.push(format!("at {name} (t = {t} ms), visually: {d}"));
            }
        }
    }
    Ok((failures, player))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn el(tag: &str, attrs: Value, children: Vec<Value>) -> Value {
        json!({ "type": "element", "tag": tag, "attrs": attrs, "children": children })
    }
    fn text(t: &str) -> Value {
        json!({ "type": "text", "data": t })
    }
    fn doc(body: Vec<Value>) -> Value {
        json!({ "type": "document", "children": [
            { "type": "doctype", "name": "html", "publicId": "", "systemId": "" },
            el("html", json!({}), vec![el("head", json!({}), vec![]), el("body", json!({}), body)]),
        ]})
    }

    #[test]
    fn equal_trees_have_no_diff() {
        let d = doc(vec![el("p", json!({"class": "x"}), vec![text("hi")])]);
        assert_eq!(diff(&d, &d.clone()), None);
    }

    #[test]
    fn reports_text_with_path() {
        let e = doc(vec![
            text("\n"),
            el("div", json!({}), vec![]),
            el("div", json!({}), vec![text("a")]),
        ]);
        let a = doc(vec![
            text("\n"),
            el("div", json!({}), vec![]),
            el("div", json!({}), vec![text("b")]),
        ]);
        assert_eq!(
            diff(&e, &a).unwrap(),
            r##"html>body>div[2]>#text: "a" != "b""##
        );
    }

    #[test]
    fn reports_attributes() {
        let e = doc(vec![el("p", json!({"id": "p", "title": "a"}), vec![])]);
        let changed = doc(vec![el("p", json!({"id": "p", "title": "b"}), vec![])]);
        let missing = doc(vec![el("p", json!({"id": "p"}), vec![])]);
        assert_eq!(
            diff(&e, &changed).unwrap(),
            r#"html>body>p#p@title: "a" != "b""#
        );
        assert!(diff(&e, &missing)
            .unwrap()
            .contains("@title: attribute missing"));
        assert!(diff(&missing, &e)
            .unwrap()
            .contains("@title: unexpected attribute"));
    }

    #[test]
    fn reports_child_counts_and_kinds() {
        let e = doc(vec![el("p", json!({}), vec![]), el("p", json!({}), vec![])]);
        let a = doc(vec![el("p", json!({}), vec![])]);
        let d = diff(&e, &a).unwrap();
        assert!(
            d.starts_with("html>body: expected 2 child nodes, found 1"),
            "{d}"
        );
        let a = doc(vec![el("p", json!({}), vec![]), text("x")]);
        let d = diff(&e, &a).unwrap();
        assert!(
            d.starts_with("html>body>p[1]: expected <p>, found #text"),
            "{d}"
        );
    }
}
