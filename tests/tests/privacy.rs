//! Privacy, end to end: known secrets are typed (and set by script) into
//! every kind of field and masked text, then every stored byte is searched
//! for them: the raw sled files (UTF-8 and UTF-16LE), every decompressed
//! chunk, and the events API. Zero hits, with positive controls proving
//! the search finds what is recorded in clear.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::{privacy, Browser, PageServer, ReelServer};

/// (field selector, secret typed into it).
const TYPED: &[(&str, &str)] = &[
    ("#text", "TYPED-secret-text-01"),
    ("#email", "TYPED-secret-email-02"),
    ("#password", "TYPED-secret-password-03"),
    ("#textarea", "TYPED-secret-textarea-04"),
    ("#cc", "4111111111111111"),
    ("#otp", "TYPED-secret-otp-05"),
    ("#sensitive", "TYPED-secret-sensitive-06"),
    ("#editable", "TYPED-secret-editable-07"),
];

/// Secrets present in the page's markup under masking or blocking.
const IN_MARKUP: &[&str] = &[
    "ALT-secret-mask-1",
    "TITLE-secret-mask-2",
    "PLACEHOLDER-secret-mask-3",
    "TEXT-secret-mask-4",
    "TEXT-secret-selector-5",
    "TEXT-secret-block-6",
    "TEXT-secret-block-7",
    "SHADOW-secret-mask-16",
];

/// Changed by script after the recorder started.
const SCRIPTED: &str = r#"(() => {
  document.getElementById('scripted').value = 'SCRIPT-secret-value-08';
  document.querySelector('[data-reel-mask] p').textContent = 'TEXT-secret-mask-09';
  document.querySelector('[data-reel-mask] img').setAttribute('title', 'TITLE-secret-mask-10');
  document.querySelector('.by-selector').firstChild.data = 'TEXT-secret-selector-11';
  document.querySelector('.blocked-by-selector p').textContent = 'TEXT-secret-block-12';
  const p = document.createElement('p');
  p.textContent = 'TEXT-secret-mask-13';
  document.querySelector('[data-reel-mask]').appendChild(p);
  document.getElementById('mhost').shadowRoot.firstChild.textContent = 'SHADOW-secret-mask-17';
  const fd = document.getElementById('mframe').contentDocument;
  if (fd && fd.body) fd.body.textContent = 'FRAME-secret-mask-18';
  return true;
})()"#;

const SCRIPTED_SECRETS: &[&str] = &[
    "SCRIPT-secret-value-08",
    "TEXT-secret-mask-09",
    "TITLE-secret-mask-10",
    "TEXT-secret-selector-11",
    "TEXT-secret-block-12",
    "TEXT-secret-mask-13",
    "SHADOW-secret-mask-17",
    "FRAME-secret-mask-18",
];

/// Options chosen in selects: masked ones (single, multiple), a sensitive
/// one in an unmasked region, and an unmasked multiple select (the positive
/// control: its choice is recorded).
const CHOOSE: &str = r#"(() => {
  const pick = (id, f) => {
    const s = document.getElementById(id);
    f(s);
    s.dispatchEvent(new Event('input', { bubbles: true }));
    s.dispatchEvent(new Event('change', { bubbles: true }));
  };
  pick('sel', (s) => { s.value = 'opt-b'; });
  pick('msel', (s) => { s.options[0].selected = true; s.options[2].selected = true; });
  pick('ccsel', (s) => { s.options[0].selected = true; });
  pick('usel', (s) => { s.options[1].selected = true; });
  return true;
})()"#;

/// Typed into a password field after it was switched to `type=text`.
const TOGGLED: &str = "TYPED-secret-toggled-14";
/// Typed into a `data-reel-unmask` field: must be found (positive control).
const CLEAR: &str = "CLEAR-visible-15";

/// Records one session of the privacy page; returns its id.
async fn record(browser: &Browser, pages: &PageServer, mask_all: bool) -> Result<String> {
    let page = browser.new_page().await?;
    page.goto(&pages.url("/corpus/privacy.html")).await?;
    ensure!(
        page.eval(&format!("startReel({mask_all})")).await? == true,
        "Reel.start failed"
    );
    let sid = page
        .eval("Reel.sessionId()")
        .await?
        .as_str()
        .context("no session id")?
        .to_string();
    for (sel, secret) in TYPED {
        page.click(sel).await?;
        page.type_text(secret).await?;
    }
    page.click("#toggled").await?;
    page.type_text("pw").await?;
    page.eval("document.getElementById('toggled').type = 'text'")
        .await?;
    page.type_text(TOGGLED).await?;
    page.click("#clear").await?;
    page.type_text(CLEAR).await?;
    page.eval(SCRIPTED).await?;
    page.eval(CHOOSE).await?;
    let typed = page
        .eval("['text','password','cc','toggled','clear'].map(id => document.getElementById(id).value)")
        .await?;
    ensure!(
        typed[0] == TYPED[0].1 && typed[4] == CLEAR,
        "typing did not land: {typed}"
    );
    page.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
        .await?;
    let _ = page.close().await;
    Ok(sid)
}

/// Every place a secret could be stored, searched for `secret`.
async fn leaks(server: &ReelServer, sid: &str, secret: &str) -> Result<Vec<String>> {
    privacy::stored_leaks(server, sid, secret).await
}

/// A choice in a select is no string a byte search can find (the options'
/// texts are in the page for anyone to see): what must not be stored is
/// which one was chosen. So the events are read: no field value in clear
/// but the unmasked text field's and the unmasked select's, no option state
/// but the unmasked multiple select's (u1, u2), and that one must be there.
fn choice_leaks(events: &[serde_json::Value]) -> Vec<String> {
    use serde_json::Value;
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => {
                out.push(v);
                o.values().for_each(|x| walk(x, out));
            }
            _ => {}
        }
    }
    let mut objects = Vec::new();
    for e in events {
        walk(e, &mut objects);
    }
    // Option node ids, with their text (the option's only child).
    let mut option_text = std::collections::HashMap::new();
    let mut text_of_parent = std::collections::HashMap::new();
    for o in &objects {
        let (Some(id), Some(kind)) = (o.get("id").and_then(Value::as_u64), o.get("kind")) else {
            continue;
        };
        if kind.pointer("/Element/tag").and_then(Value::as_str) == Some("option") {
            option_text.entry(id).or_insert_with(String::new);
        }
        if let (Some(t), Some(p)) = (
            kind.get("Text").and_then(Value::as_str),
            o.get("parent").and_then(Value::as_u64),
        ) {
            text_of_parent.insert(p, t.to_string());
        }
    }
    for (id, text) in option_text.iter_mut() {
        *text = text_of_parent.get(id).cloned().unwrap_or_default();
    }
    let mut out = Vec::new();
    let mut control = 0;
    for o in &objects {
        let Some(id) = o.get("id").and_then(Value::as_u64) else {
            continue;
        };
        // Snapshot elements carry `value`/`checked` inside `kind.Element`;
        // input events carry them at the top.
        let state = o.pointer("/kind/Element").unwrap_or(o);
        if let Some(t) = state.pointer("/value/Text").and_then(Value::as_str) {
            let allowed = t.is_empty() || CLEAR.starts_with(t) || t == "u2";
            if !allowed {
                out.push(format!("a field value in clear: {t:?} (node {id})"));
            }
        }
        if let (Some(text), Some(c)) = (option_text.get(&id), state.get("checked")) {
            if c.is_null() {
                continue;
            }
            if text == "u1" || text == "u2" {
                control += 1;
            } else {
                out.push(format!("the state of option {text:?} (node {id}): {c}"));
            }
        }
    }
    if control == 0 {
        out.push("positive control: the unmasked multiple select's options have no state".into());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_stored_anywhere() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let mut failures = Vec::new();

    let sid = record(&browser, &pages, false).await?;
    let raw = server.raw_chunks(&sid).await?;
    ensure!(!raw.is_empty(), "no chunks stored");
    // Positive controls: what is recorded in clear is found by the search.
    for visible in [CLEAR, "plain-text-visible"] {
        ensure!(
            !privacy::chunk_leaks(&raw, visible)?.is_empty(),
            "positive control {visible:?} not found in the chunks"
        );
    }
    let secrets = TYPED
        .iter()
        .map(|(_, s)| *s)
        .chain(IN_MARKUP.iter().copied())
        .chain(SCRIPTED_SECRETS.iter().copied())
        .chain([TOGGLED]);
    for secret in secrets {
        failures.extend(leaks(&server, &sid, secret).await?);
    }
    failures.extend(choice_leaks(&server.events(&sid).await?));

    // maskAllText: the page's ordinary text is masked too.
    let sid2 = record(&browser, &pages, true).await?;
    let raw2 = server.raw_chunks(&sid2).await?;
    ensure!(
        !privacy::chunk_leaks(&raw2, "by-selector")?.is_empty(),
        "positive control (a class name) not found under maskAllText"
    );
    for secret in ["plain-text-visible", "TEXT-secret-mask-4", TYPED[0].1] {
        failures.extend(leaks(&server, &sid2, secret).await?);
    }

    if !failures.is_empty() {
        bail!("{} leak(s):\n  {}", failures.len(), failures.join("\n  "));
    }
    Ok(())
}
