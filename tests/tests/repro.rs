//! From replay to reproduction, for real (issue 17): scripted sessions on
//! three test apps (`tests/pages/repro/`: a to-do list kept in
//! localStorage, a sign-up form, a multi-page shop) are recorded in
//! headless Chromium; the stored events carry the labels and selectors the
//! recorder computed (masked where the text is masked); the session is
//! exported with `GET /repro?format=steps` (checked as text) and
//! `?format=playwright`, and the spec is run by `@playwright/test` (from
//! npm, installed by `.ci/setup` into `target/tools/playwright`) on
//! `/usr/bin/chromium` against a fresh copy of the app (another origin,
//! through `REEL_BASE_URL`, in a fresh browser profile). The app must end
//! in the state the recorded user left it in: each app's `appState()`,
//! read after the recording and, by a hook appended to the spec, after
//! the spec's run.
//!
//! Also the endpoint's bad input: unknown or missing format, an unknown
//! session, no token.

use anyhow::{bail, ensure, Context, Result};
use reel_e2e::cdp::chromium_path;
use reel_e2e::{sessions, Browser, Page, PageServer, ReelServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// `target/tools/playwright`, where `.ci/setup` installs `@playwright/test`.
fn playwright_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/playwright")
}

/// Waits for the recorder of the page now loaded to have a session.
async fn recording(page: &Page, path: &str) -> Result<String> {
    let cond = format!(
        "location.pathname.endsWith({}) && document.readyState === 'complete' && window.Reel && Reel.sessionId()",
        serde_json::to_string(path)?
    );
    let sid = page.wait_for(&cond, WAIT).await?;
    Ok(sid.as_str().unwrap_or_default().to_string())
}

/// Sends what is recorded so far (before a step that leaves the page, so
/// the page's keepalive requests at unload carry little).
async fn flush(page: &Page) -> Result<()> {
    page.eval("Reel.flush().then(() => true)").await?;
    Ok(())
}

/// Chooses `value` in a `<select>` as a user does: it gets the focus, its
/// value changes, `input` and `change` fire (a native select's popup
/// cannot be driven over the DevTools protocol in headless mode).
async fn choose(page: &Page, selector: &str, value: &str) -> Result<()> {
    page.eval(&format!(
        "(() => {{ const s = document.querySelector({}); s.focus(); s.value = {};
           s.dispatchEvent(new Event('input', {{ bubbles: true }}));
           s.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()",
        serde_json::to_string(selector)?,
        serde_json::to_string(value)?
    ))
    .await?;
    Ok(())
}

async fn app_state(page: &Page) -> Result<Value> {
    page.eval("JSON.stringify(window.appState())")
        .await?
        .as_str()
        .context("appState() gave no JSON")
        .and_then(|s| Ok(serde_json::from_str(s)?))
}

/// The session's events once every one of `labels` is among the labels of
/// its clicks, inputs and keys (chunks sent at unload may land late).
async fn events_with(server: &ReelServer, sid: &str, labels: &[&str]) -> Result<Vec<Value>> {
    let start = std::time::Instant::now();
    loop {
        let events = server.events(sid).await?;
        let have: Vec<String> = events.iter().filter_map(|e| label_of(e).0).collect();
        let missing: Vec<&&str> = labels
            .iter()
            .filter(|l| !have.iter().any(|h| h == **l))
            .collect();
        if missing.is_empty() {
            return Ok(events);
        }
        if start.elapsed() > WAIT {
            bail!("labels {missing:?} never stored; labels: {have:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(label, selector, kind)` of a click, input or key event.
fn label_of(e: &Value) -> (Option<String>, Option<String>, &'static str) {
    let d = &e["data"];
    let (v, kind) = if d["Mouse"].is_object() {
        (&d["Mouse"], "mouse")
    } else if d["Input"].is_object() {
        (&d["Input"], "input")
    } else if d["Key"].is_object() {
        (&d["Key"], "key")
    } else {
        return (None, None, "");
    };
    let s = |k: &str| v[k].as_str().map(str::to_string);
    (s("label"), s("selector"), kind)
}

/// The first event of `kind` labelled `label`: its selector.
fn selector_for(events: &[Value], kind: &str, label: &str) -> Option<String> {
    events.iter().find_map(|e| match label_of(e) {
        (Some(l), sel, k) if k == kind && l == label => sel,
        _ => None,
    })
}

async fn export(server: &ReelServer, sid: &str, format: &str) -> Result<String> {
    let r = server
        .api(
            "GET",
            &format!("/api/v1/sessions/{sid}/repro?format={format}"),
            b"",
        )
        .await?
        .ensure_success("repro")?;
    let ct = r.header("content-type").unwrap_or_default().to_string();
    let want = if format == "steps" {
        "text/plain"
    } else {
        "text/javascript"
    };
    ensure!(ct.starts_with(want), "content type {ct} for {format}");
    Ok(r.text())
}

/// Runs `spec` with `@playwright/test` against `base` (the spec's
/// `REEL_BASE_URL`) with `env`; returns the app's state at the end.
async fn run_spec(name: &str, spec: &str, base: &str, env: &[(&str, &str)]) -> Result<Value> {
    let pw = playwright_dir();
    let bin = pw.join("node_modules/.bin/playwright");
    ensure!(
        bin.exists(),
        "{} is missing: run `bash .ci/setup` (it installs @playwright/test)",
        bin.display()
    );
    let dir = tempfile::tempdir()?;
    let config = format!(
        "module.exports = {{\n  testDir: __dirname,\n  testMatch: /.*\\.spec\\.js$/,\n  outputDir: {out},\n  \
         reporter: 'line',\n  workers: 1,\n  retries: 0,\n  timeout: 60000,\n  \
         use: {{ launchOptions: {{ executablePath: {chromium}, args: ['--headless', '--no-sandbox', '--disable-gpu'] }} }},\n}};\n",
        out = serde_json::to_string(&dir.path().join("results"))?,
        chromium = serde_json::to_string(&chromium_path())?,
    );
    std::fs::write(dir.path().join("playwright.config.js"), config)?;
    // The state the spec leaves the app in, read by a hook of ours.
    let state_file = dir.path().join("state.json");
    let hook = "\n// Added by the test: the app's state once the spec has run.\n\
        test.afterEach(async ({ page }) => {\n  \
        const fs = await import('node:fs');\n  \
        fs.writeFileSync(process.env.REEL_STATE_OUT, await page.evaluate(() => JSON.stringify(window.appState())));\n});\n";
    std::fs::write(
        dir.path().join(format!("{name}.spec.js")),
        format!("{spec}{hook}"),
    )?;
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("test")
        .arg("-c")
        .arg(dir.path().join("playwright.config.js"))
        .current_dir(dir.path())
        .env("NODE_PATH", pw.join("node_modules"))
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("REEL_BASE_URL", base)
        .env("REEL_STATE_OUT", &state_file)
        .env("CI", "1")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .context("the playwright run took more than 3 minutes")??;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "the exported spec failed:\n{log}\n--- spec ---\n{spec}"
    );
    let state = std::fs::read_to_string(&state_file)
        .with_context(|| format!("the spec's run left no state:\n{log}"))?;
    Ok(serde_json::from_str(&state)?)
}

/// A fresh copy of the test apps, without the recorder: another origin,
/// so the spec must go through `REEL_BASE_URL`.
async fn fresh_copy() -> Result<PageServer> {
    PageServer::start(&[
        ("REEL_ORIGIN", "http://127.0.0.1:9"),
        ("INGEST_KEY", "none"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_todo_session_becomes_steps_and_a_spec_that_ends_in_the_same_state() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/repro/todo.html")).await?;
    let sid = recording(&page, "/todo.html").await?;
    ensure!(sid.len() == 32, "no session: {sid}");

    page.click("#new").await?;
    page.type_text("Buy milk\n").await?;
    page.type_text("fix bug 42").await?;
    page.click("[data-testid=add]").await?;
    page.click("#new").await?;
    page.type_text("Walk dog\n").await?;
    // The label's text toggles the box.
    page.click("#items li:nth-child(1) span").await?;
    page.click("#items li:nth-child(3) button").await?;
    // A button whose text is masked (data-reel-mask).
    page.click("#secret-action").await?;
    page.wait_for("document.querySelectorAll('#items li').length === 2", WAIT)
        .await?;
    let expected = app_state(&page).await?;
    ensure!(
        expected
            == serde_json::json!([{"text": "Buy milk", "done": true}, {"text": "fix bug 42", "done": false}]),
        "the scripted session did not do what it should: {expected}"
    );
    flush(&page).await?;

    // Labels and selectors as the recorder stored them.
    let events = events_with(
        &server,
        &sid,
        &["Add", "New task", "Buy milk", "Delete Walk dog"],
    )
    .await?;
    let add = selector_for(&events, "mouse", "Add");
    ensure!(
        add.as_deref() == Some("[data-testid=\"add\"]"),
        "Add: {add:?}"
    );
    let del = selector_for(&events, "mouse", "Delete Walk dog");
    ensure!(
        del.as_deref() == Some("role=button[name=\"Delete Walk dog\"]"),
        "delete: {del:?}"
    );
    let check = selector_for(&events, "input", "Buy milk");
    ensure!(
        check.as_deref() == Some("role=checkbox[name=\"Buy milk\"]"),
        "checkbox: {check:?}"
    );
    let typed = selector_for(&events, "input", "New task");
    ensure!(typed.as_deref() == Some("#new"), "field: {typed:?}");
    let enter = events.iter().find(|e| e["data"]["Key"]["key"] == "Enter");
    ensure!(
        enter.is_some_and(|e| e["data"]["Key"]["label"] == "New task"),
        "no Enter key press on “New task”: {enter:?}"
    );
    let keys: Vec<&str> = events
        .iter()
        .filter_map(|e| e["data"]["Key"]["key"].as_str())
        .collect();
    ensure!(
        keys.iter().all(|k| k.chars().count() > 1),
        "a printable key was recorded: {keys:?}"
    );
    // The masked button's click: a masked label, and nothing of its text
    // anywhere in the stored events.
    let secret = events
        .iter()
        .rev()
        .find(|e| e["data"]["Mouse"]["kind"] == "Click")
        .context("no click")?;
    ensure!(
        secret["data"]["Mouse"]["label"] == "•••",
        "the masked button's label: {secret}"
    );
    let all = serde_json::to_string(&events)?;
    ensure!(
        !all.contains("Narwhal"),
        "masked text leaked into the events"
    );

    let steps = export(&server, &sid, "steps").await?;
    let want = "1. Go to /repro/todo.html\n\
                2. Type “Buy milk” into “New task”\n\
                3. Press Enter in “New task”\n\
                4. Type “fix bug 42” into “New task”\n\
                5. Click the button “Add”\n\
                6. Type “Walk dog” into “New task”\n\
                7. Press Enter in “New task”\n\
                8. Check “Buy milk”\n\
                9. Click the button “Delete Walk dog”\n";
    ensure!(steps.starts_with(want), "steps:\n{steps}\nwanted:\n{want}");
    ensure!(
        steps.contains("(label masked)")
            && steps.ends_with("Ends on /repro/todo.html, showing “My tasks”.\n"),
        "steps:\n{steps}"
    );

    let spec = export(&server, &sid, "playwright").await?;
    let copy = fresh_copy().await?;
    let got = run_spec("todo", &spec, &copy.origin(), &[]).await?;
    ensure!(
        got == expected,
        "the spec left {got}, the user left {expected}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_session_with_masked_values_is_reproduced_from_named_variables() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/repro/form.html")).await?;
    let sid = recording(&page, "/form.html").await?;

    page.click("#name").await?;
    page.type_text("Ada Lovelace\t").await?;
    page.wait_for("document.activeElement.name === 'email'", WAIT)
        .await?;
    page.type_text("ada@example.com").await?;
    page.click("#pw").await?;
    page.type_text("hunter2!").await?;
    choose(&page, "#country", "jp").await?;
    page.click("input[value=pro]").await?;
    page.click("input[name=news]").await?;
    page.click("#notes").await?;
    page.type_text("Call after 5pm").await?;
    flush(&page).await?;
    page.click("[data-testid=create]").await?;
    recording(&page, "/form-done.html").await?;
    let expected = app_state(&page).await?;
    ensure!(
        expected["email"] == "ada@example.com" && expected["plan"] == "pro",
        "the scripted session did not submit what it should: {expected}"
    );
    flush(&page).await?;
    let events = events_with(&server, &sid, &["Create account", "Notes", "Pro"]).await?;
    let all = serde_json::to_string(&events)?;
    for secret in ["hunter2", "ada@example.com"] {
        ensure!(!all.contains(secret), "{secret} was stored");
    }

    let steps = export(&server, &sid, "steps").await?;
    for line in [
        "1. Go to /repro/form.html\n",
        "2. Type “Ada Lovelace” into “Full name”\n",
        "3. Press Tab in “Full name”\n",
        "4. Type a masked value (REEL_VALUE_1 in the spec) into “Email”\n",
        "5. Type a masked value (REEL_VALUE_2 in the spec) into “Password”\n",
        "6. Choose “jp” in “Country”\n",
        "7. Check “Pro”\n",
        "8. Check “Send me news”\n",
        "9. Type “Call after 5pm” into “Notes”\n",
        "10. Click the button “Create account” (the page goes to /repro/form-done.html)\n",
    ] {
        ensure!(steps.contains(line), "no {line:?} in the steps:\n{steps}");
    }
    ensure!(
        steps.ends_with("Ends on /repro/form-done.html, showing “Account created”.\n"),
        "{steps}"
    );

    let spec = export(&server, &sid, "playwright").await?;
    ensure!(
        spec.contains("REEL_VALUE_1: typed into “Email”")
            && spec.contains("REEL_VALUE_2: typed into “Password”"),
        "the spec does not name its variables:\n{spec}"
    );
    let copy = fresh_copy().await?;
    let got = run_spec(
        "form",
        &spec,
        &copy.origin(),
        &[
            ("REEL_VALUE_1", "ada@example.com"),
            ("REEL_VALUE_2", "hunter2!"),
        ],
    )
    .await?;
    ensure!(
        got == expected,
        "the spec submitted {got}, the user {expected}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_page_flow_is_reproduced_page_by_page() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/repro/shop/index.html")).await?;
    let sid = recording(&page, "/shop/index.html").await?;

    flush(&page).await?;
    page.click("a[href='product.html?item=mug']").await?;
    recording(&page, "/shop/product.html").await?;
    choose(&page, "#qty", "3").await?;
    page.click("#gift").await?;
    flush(&page).await?;
    page.click("#add-to-cart").await?;
    recording(&page, "/shop/cart.html").await?;
    page.click("#address").await?;
    page.type_text("1 Main St").await?;
    flush(&page).await?;
    page.click("button[type=submit]").await?;
    recording(&page, "/shop/done.html").await?;
    let expected = app_state(&page).await?;
    ensure!(
        expected
            == serde_json::json!({"cart": [{"item": "mug", "qty": 3, "gift": true}], "address": "1 Main St"}),
        "the scripted session did not order what it should: {expected}"
    );
    flush(&page).await?;
    events_with(&server, &sid, &["Mug", "Add to cart", "Place order"]).await?;

    let steps = export(&server, &sid, "steps").await?;
    let want = "1. Go to /repro/shop/index.html\n\
                2. Click the link “Mug” (the page goes to /repro/shop/product.html?item=mug)\n\
                3. Choose “3” in “Quantity”\n\
                4. Check “Gift wrap”\n\
                5. Click the button “Add to cart” (the page goes to /repro/shop/cart.html)\n\
                6. Type “1 Main St” into “Delivery address”\n\
                7. Click the button “Place order” (the page goes to /repro/shop/done.html?address=1+Main+St)\n\
                Ends on /repro/shop/done.html?address=1+Main+St, showing “Thank you for your order”.\n";
    ensure!(steps == want, "steps:\n{steps}\nwanted:\n{want}");

    let spec = export(&server, &sid, "playwright").await?;
    ensure!(
        spec.contains("await page.waitForURL(at(\"/repro/shop/cart.html\"));"),
        "{spec}"
    );
    let copy = fresh_copy().await?;
    let got = run_spec("shop", &spec, &copy.origin(), &[]).await?;
    ensure!(
        got == expected,
        "the spec ordered {got}, the user {expected}"
    );
    Ok(())
}

/// Presses a named key over the DevTools protocol (`modifiers`: 8 is Shift).
async fn press(page: &Page, key: &str, code: &str, vk: u32, modifiers: u32) -> Result<()> {
    for kind in ["rawKeyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            serde_json::json!({ "type": kind, "key": key, "code": code,
                                "windowsVirtualKeyCode": vk, "modifiers": modifiers }),
        )
        .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_inputs_and_keys_carry_labels_and_selectors_by_the_rules() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/repro/labels.html")).await?;
    let sid = recording(&page, "/labels.html").await?;
    // (what is clicked, the label stored, the selector stored); `None`
    // for the selector: a CSS path, checked to find the clicked element.
    let long = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor…";
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("#save-text", Some("Save"), Some("[data-testid=\"save\"]")),
        ("#home-img", Some("Home"), Some("[data-cy=\"home\"]")),
        (
            "[id=':r1:']",
            Some("Close"),
            Some("role=button[name=\"Close\"]"),
        ),
        ("#rows li:nth-child(2) button", Some("Edit"), None),
        ("#qty", Some("Quantity wanted"), Some("#qty")),
        ("#search", Some("Search the site"), Some("#search")),
        (
            "#city-field-2931",
            Some("Your city"),
            Some("role=textbox[name=\"Your city\"]"),
        ),
        ("#bio", Some("Biography"), Some("#bio")),
        (".box", Some("Tooltip here"), None),
        ("#pay", Some("•••"), Some("#pay")),
        ("#secret", Some("•••"), Some("#secret")),
        ("#card-btn", Some("•••"), Some("#card-btn")),
        ("#long", Some(long), Some("#long")),
        (
            "input[name=send]",
            Some("Send form"),
            Some("role=button[name=\"Send form\"]"),
        ),
        ("#blocked", None, Some("")),
    ];
    for (css, _, _) in cases {
        page.click(css).await?;
    }
    // Typed into a field: its label, never its value.
    page.click("#city-field-2931").await?;
    page.type_text("Paris").await?;
    // Named keys (with a modifier too); a printable one is not recorded.
    page.click("#search").await?;
    press(&page, "Escape", "Escape", 27, 0).await?;
    page.type_text("q").await?;
    press(&page, "Tab", "Tab", 9, 8).await?;
    flush(&page).await?;
    let events = events_with(&server, &sid, &["Your city", "Send form"]).await?;
    let clicks: Vec<(Option<String>, Option<String>)> = events
        .iter()
        .filter(|e| e["data"]["Mouse"]["kind"] == "Click")
        .map(|e| {
            let (l, s, _) = label_of(e);
            (l, s)
        })
        .collect();
    ensure!(clicks.len() >= cases.len(), "clicks: {clicks:?}");
    for ((css, label, sel), (got_label, got_sel)) in cases.iter().zip(&clicks) {
        ensure!(
            got_label.as_deref() == *label,
            "{css}: label {got_label:?}, wanted {label:?}"
        );
        match sel {
            Some("") => ensure!(
                got_sel.is_none(),
                "{css}: a selector {got_sel:?} for a blocked element"
            ),
            Some(s) => ensure!(
                got_sel.as_deref() == Some(*s),
                "{css}: selector {got_sel:?}, wanted {s}"
            ),
            None => {
                let s = got_sel.clone().context("no selector")?;
                let same = page
                    .eval(&format!(
                        "(() => {{ const all = document.querySelectorAll({}); return all.length === 1 && all[0] === document.querySelector({}); }})()",
                        serde_json::to_string(&s)?,
                        serde_json::to_string(css)?
                    ))
                    .await?;
                ensure!(
                    same == Value::Bool(true),
                    "{css}: the path {s} does not find it alone"
                );
            }
        }
    }
    let inputs: Vec<_> = events
        .iter()
        .filter(|e| e["data"]["Input"].is_object())
        .map(label_of)
        .collect();
    ensure!(
        inputs
            .iter()
            .any(|(l, s, _)| l.as_deref() == Some("Your city")
                && s.as_deref() == Some("role=textbox[name=\"Your city\"]")),
        "inputs: {inputs:?}"
    );
    let keys: Vec<(String, Option<String>)> = events
        .iter()
        .filter(|e| e["data"]["Key"].is_object())
        .map(|e| {
            (
                e["data"]["Key"]["key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                label_of(e).0,
            )
        })
        .collect();
    ensure!(
        keys == [
            ("Escape".to_string(), Some("Search the site".to_string())),
            ("Shift+Tab".to_string(), Some("Search the site".to_string()))
        ],
        "keys: {keys:?}"
    );
    let all = serde_json::to_string(&events)?;
    for secret in [
        "Paris",
        "Default bio text",
        "Zanzibar",
        "Quokka",
        "Wombat",
        "Xylophone",
    ] {
        ensure!(!all.contains(secret), "{secret} was stored");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repro_refuses_bad_input_with_json_errors() -> Result<()> {
    let server = ReelServer::start().await?;
    let id = "0123456789abcdef0123456789abcdef";
    for (path, status) in [
        (format!("/api/v1/sessions/{id}/repro?format=steps"), 404),
        (format!("/api/v1/sessions/{id}/repro?format=pdf"), 400),
        (format!("/api/v1/sessions/{id}/repro"), 400),
        ("/api/v1/sessions/nope/repro?format=steps".to_string(), 400),
    ] {
        let r = server.api("GET", &path, b"").await?;
        ensure!(r.status == status, "{path}: {} {}", r.status, r.text());
        let j = r.json()?;
        ensure!(j["error"].is_string(), "{path}: {j}");
    }
    // A session of 2,001 clicks: too long to turn into a spec.
    let long = sessions::new_id()?;
    let mut events = sessions::opening(
        0,
        sessions::meta("http://app.test/a.html", "A"),
        vec![sessions::el(1, 0, "html", &[])],
    );
    events.extend((0..2001u64).map(|i| reel_shared::Event {
        t: 1000 + i * 500,
        data: reel_shared::EventData::Mouse(reel_shared::MouseInteraction {
            kind: reel_shared::MouseKind::Click,
            id: 1,
            x: 1,
            y: 1,
            label: Some("Next".into()),
            selector: Some("#next".into()),
            box_x: None,
            box_y: None,
        }),
    }));
    sessions::post(&server, long, sessions::now_ms(), 0, &events, 1000).await?;
    for format in ["steps", "playwright"] {
        let r = server
            .api(
                "GET",
                &format!("/api/v1/sessions/{long}/repro?format={format}"),
                b"",
            )
            .await?;
        ensure!(
            r.status == 400,
            "a 2,001-step session: {} {}",
            r.status,
            r.text()
        );
        ensure!(
            r.json()?["error"]
                .as_str()
                .is_some_and(|e| e.contains("2000 steps")),
            "{}",
            r.text()
        );
    }
    let r = reel_e2e::http::get(
        &server.url(&format!("/api/v1/sessions/{id}/repro?format=steps")),
        &[],
    )
    .await?;
    ensure!(r.status == 401, "no token: {}", r.status);
    Ok(())
}
