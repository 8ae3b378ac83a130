//! Tests of the harness itself, without the recorder or the player: if these
//! fail, an end-to-end failure says nothing about Reel.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-e2e cargo test -p reel-e2e --test harness`

use anyhow::{ensure, Context, Result};
use reel_e2e::fidelity::{canon, canon_document, diff};
use reel_e2e::{http, screenshots_dir, Browser, Page, PageServer, ReelServer};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn open_plain() -> Result<(PageServer, Browser, Page)> {
    let pages = PageServer::start(&[]).await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/plain.html")).await?;
    page.wait_for("document.readyState === 'complete'", WAIT)
        .await?;
    Ok((pages, browser, page))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_and_types_with_real_input_events() -> Result<()> {
    let (_pages, _browser, page) = open_plain().await?;
    ensure!(page.eval("document.title").await? == json!("Reel harness: plain page"));

    page.click("#add").await?;
    page.wait_for("document.querySelectorAll('#list li').length === 3", WAIT)
        .await?;
    let clicks = page.eval("window.clicks").await?;
    ensure!(
        clicks[0]["trusted"] == json!(true),
        "the click should be a trusted (real input) event: {clicks}"
    );
    ensure!(
        page.eval("document.getElementById('status').textContent")
            .await?
            == json!("added")
    );

    let typed = "Hello, World 42!";
    page.click("#name").await?;
    page.type_text(typed).await?;
    ensure!(page.eval("document.getElementById('name').value").await? == json!(typed));
    ensure!(
        page.eval("window.inputEvents").await? == json!(typed.chars().count()),
        "one input event per typed character"
    );

    page.click("#notes").await?;
    page.type_text("two\nlines").await?;
    ensure!(page.eval("document.getElementById('notes').value").await? == json!("two\nlines"));

    page.move_mouse(5.0, 5.0).await?;
    ensure!(page.errors().is_empty(), "errors: {:?}", page.errors());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_waits_and_collects_console_and_exceptions() -> Result<()> {
    let (_pages, _browser, page) = open_plain().await?;
    ensure!(page.eval("1 + 2").await? == json!(3));
    ensure!(page.eval("undefined").await? == Value::Null);
    ensure!(
        page.eval("new Promise(r => setTimeout(() => r({a: [1, 'x']}), 50))")
            .await?
            == json!({"a": [1, "x"]})
    );

    let err = page
        .eval("(() => { throw new Error('kaboom-123') })()")
        .await
        .expect_err("a throw must be an error");
    ensure!(format!("{err:#}").contains("kaboom-123"), "{err:#}");
    let err = page
        .eval("Promise.reject(new TypeError('rejected-456'))")
        .await
        .expect_err("a rejection must be an error");
    ensure!(format!("{err:#}").contains("rejected-456"), "{err:#}");

    let err = page
        .wait_for("false", Duration::from_millis(300))
        .await
        .expect_err("must time out");
    ensure!(format!("{err:#}").contains("timed out"), "{err:#}");
    let err = page
        .click("#does-not-exist")
        .await
        .expect_err("no such element");
    ensure!(format!("{err:#}").contains("#does-not-exist"), "{err:#}");

    ensure!(page.exceptions().is_empty());
    page.eval("console.log('hello', 42); console.error('bad thing'); setTimeout(() => { throw new Error('uncaught-789') }, 0)")
        .await?;
    let deadline = std::time::Instant::now() + WAIT;
    while page.exceptions().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exceptions = page.exceptions();
    ensure!(
        exceptions.len() == 1 && exceptions[0].contains("uncaught-789"),
        "{exceptions:?}"
    );
    let logs = page.logs();
    ensure!(
        logs.iter().any(|l| l.kind == "log" && l.text == "hello 42"),
        "{logs:?}"
    );
    ensure!(
        logs.iter()
            .any(|l| l.kind == "error" && l.text == "bad thing"),
        "{logs:?}"
    );
    ensure!(page.errors().len() == 2, "{:?}", page.errors());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canon_and_diff_find_the_changed_node() -> Result<()> {
    let (_pages, _browser, page) = open_plain().await?;
    let a = canon_document(&page).await?;
    let b = canon_document(&page).await?;
    ensure!(diff(&a, &b).is_none(), "{:?}", diff(&a, &b));
    ensure!(a["children"][0]["type"] == json!("doctype"));
    ensure!(a["children"][1]["tag"] == json!("html"));
    // The script's text is not part of the canonical form.
    ensure!(!a.to_string().contains("inputEvents"));

    page.eval("document.getElementById('list').setAttribute('title', 'changed')")
        .await?;
    let c = canon_document(&page).await?;
    let d = diff(&a, &c).context("a changed attribute must show")?;
    ensure!(
        d.contains("ul#list@title") && d.contains("\"items\" != \"changed\""),
        "{d}"
    );

    page.eval("document.querySelector('#list li').firstChild.data = 'FIRST'")
        .await?;
    let e = canon_document(&page).await?;
    let d = diff(&c, &e).context("a changed text must show")?;
    ensure!(
        d.contains("ul#list>li[1]>#text") && d.contains("\"FIRST\""),
        "{d}"
    );

    page.click("#add").await?;
    let f = canon_document(&page).await?;
    let d = diff(&e, &f).context("an added node must show")?;
    ensure!(
        d.contains("ul#list: expected 5 child nodes, found 6"),
        "{d}"
    );

    // Whitespace-only text is compared exactly.
    page.eval("document.getElementById('list').firstChild.data += ' '")
        .await?;
    let g = canon_document(&page).await?;
    ensure!(diff(&f, &g).is_some());
    Ok(())
}

/// Parses two documents in the page with `DOMParser` (scripts do not run,
/// and their base URL is the page's) and diffs their canonical forms.
async fn diff_parsed(page: &Page, a: &str, b: &str) -> Result<Option<String>> {
    page.eval(&format!(
        "(() => {{ const p = new DOMParser();
            window.__a = p.parseFromString({}, 'text/html');
            window.__b = p.parseFromString({}, 'text/html'); return true; }})()",
        serde_json::to_string(a)?,
        serde_json::to_string(b)?
    ))
    .await?;
    Ok(diff(
        &canon(page, "window.__a").await?,
        &canon(page, "window.__b").await?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canon_normalises_only_what_the_contract_allows() -> Result<()> {
    let (pages, _browser, page) = open_plain().await?;
    let head = "<!doctype html><html><head></head><body>";
    let recorded = r#"<!doctype html><html><head>
<link rel="stylesheet" href="style.css"><script src="app.js">var x = 1;</script></head><body>
<a id="j" href=" JavaScript:alert(1)" onclick="steal()">x</a>
<img id="i" src="img.png"><a href="/a?b=c#d">rel</a>
<input id="m" value="secret"><textarea id="t">secret text</textarea>
<select id="s"><option value="v1">One</option></select>
<input id="cc" autocomplete="billing cc-number" value="4111" data-reel-unmask>
<p data-reel-mask>hidden <b>words</b></p>
<div data-reel-block class="b"><span>inner</span></div>
<div data-reel-unmask><input id="pw" type="password" value="pw1"><input id="u" value="clear"><textarea>open</textarea></div>
<svg viewBox="0 0 10 10"><linearGradient id="g"></linearGradient><a xlink:href="x.svg"></a></svg>
</body></html>"#;
    let replayed = format!(
        r#"<!doctype html><html><head>
<link rel="stylesheet" href="http://elsewhere.invalid/sheet.css"><script type="text/javascript"></script></head><body>
<a id="j" href="javascript:void(0)">x</a>
<img id="i" src="{img}"><a href="{a}">rel</a>
<input id="m" value="••••••"><textarea id="t">••••••</textarea>
<select id="s"><option>One</option></select>
<input id="cc" autocomplete="billing cc-number" data-reel-unmask>
<p data-reel-mask>****** <b>*****</b></p>
<div data-reel-block></div>
<div data-reel-unmask><input id="pw" type="password"><input id="u" value="clear"><textarea>open</textarea></div>
<svg viewBox="0 0 10 10"><linearGradient id="g"></linearGradient><a xlink:href="{svg}"></a></svg>
</body></html>"#,
        img = pages.url("/img.png"),
        a = pages.url("/a?b=c#d"),
        svg = pages.url("/x.svg"),
    );
    // The script's `type` differs above: only its src and text are ignored.
    let d = diff_parsed(&page, recorded, &replayed).await?;
    ensure!(
        d.as_deref().is_some_and(|d| d.contains("script@type")),
        "{d:?}"
    );
    let replayed = replayed.replace(r#"<script type="text/javascript">"#, "<script>");
    let d = diff_parsed(&page, recorded, &replayed).await?;
    ensure!(d.is_none(), "allowed differences must not show: {d:?}");

    // And everything else must show.
    let must_differ = [
        (
            r#"<input id="u" value="clear">"#,
            r#"<input id="u" value="other">"#,
            "input#u@value",
        ),
        (
            "<textarea>open</textarea>",
            "<textarea>shut</textarea>",
            "textarea>#text",
        ),
        (
            "<b>*****</b>",
            "<b></b>",
            "b: expected 1 child nodes, found 0",
        ),
        (
            "<div data-reel-block></div>",
            "<div></div>",
            "expected <div data-reel-block>",
        ),
        (r#"<a id="j" "#, r#"<a id="k" "#, "@id"),
        ("<option>One", "<option>Two", "option>#text"),
        (
            r#"<svg viewBox="0 0 10 10">"#,
            r#"<svg viewBox="0 0 10 11">"#,
            "svg@viewBox",
        ),
    ];
    for (from, to, expect) in must_differ {
        ensure!(replayed.contains(from), "bad case {from}");
        let changed = replayed.replace(from, to);
        let d = diff_parsed(&page, recorded, &changed).await?;
        ensure!(
            d.as_deref().is_some_and(|d| d.contains(expect)),
            "changing {from} to {to} must show a diff mentioning {expect:?}; got {d:?}"
        );
    }
    // SVG keeps its case and namespace.
    let svg = canon(&page, "window.__a").await?.to_string();
    ensure!(
        svg.contains(r#""ns":"http://www.w3.org/2000/svg","tag":"linearGradient""#)
            || svg.contains(r#""tag":"linearGradient","ns":"http://www.w3.org/2000/svg""#),
        "{svg}"
    );
    let d = diff_parsed(
        &page,
        &format!("{head}<p> a</p>"),
        &format!("{head}<p>a</p>"),
    )
    .await?;
    ensure!(
        d.as_deref() == Some(r#"html>body>p>#text: " a" != "a""#),
        "{d:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_headers_cookies_and_http() -> Result<()> {
    let (pages, browser, page) = open_plain().await?;
    let path = screenshots_dir().join("harness-plain.png");
    let size = page.screenshot(&path).await?;
    let png = std::fs::read(&path)?;
    ensure!(
        size > 1000 && png.len() == size,
        "screenshot of {size} bytes"
    );
    ensure!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    let second = browser.new_page().await?;
    second
        .set_extra_headers(&[("Authorization", "Bearer harness-token")])
        .await?;
    second
        .set_cookie("reel_test", "cookie-value", &pages.origin())
        .await?;
    second.goto(&pages.url("/plain.html?second")).await?;
    let req = pages
        .requests()
        .into_iter()
        .find(|r| r.target == "/plain.html?second")
        .context("the page server saw no request for the second page")?;
    ensure!(
        req.header("authorization") == Some("Bearer harness-token"),
        "{req:?}"
    );
    ensure!(
        req.header("cookie")
            .is_some_and(|c| c.contains("reel_test=cookie-value")),
        "{req:?}"
    );

    // The HTTP client against the page server, with substitution.
    pages.add_page(
        "/vars.txt",
        "text/plain",
        "origin={{ORIGIN}} unknown={{NOPE}}",
    );
    pages.set_var("ORIGIN", "http://x.invalid");
    let r = http::get(&pages.url("/vars.txt"), &[]).await?;
    ensure!(
        r.status == 200 && r.text() == "origin=http://x.invalid unknown={{NOPE}}",
        "{r:?}"
    );
    let r = http::get(&pages.url("/missing.html"), &[]).await?;
    ensure!(r.status == 404, "{r:?}");
    let r = http::get(&pages.url("/../Cargo.toml"), &[]).await?;
    ensure!(r.status == 400, "{r:?}");
    page.close().await?;
    Ok(())
}

/// A stand-in for `reel-server`: records its arguments in its data dir,
/// prints the `listening on` line and waits, so the process handling of
/// `ReelServer` is tested without the real server.
const FAKE_SERVER: &str = r#"#!/bin/sh
# serve --listen ADDR --data DIR --ingest-key K --api-token T
echo "$@" >> "$5/args.log"
if [ "$3" = "127.0.0.1:0" ]; then addr=127.0.0.1:45999; else addr=$3; fi
echo "some banner"
echo "listening on http://$addr"
exec sleep 60
"#;

fn write_script(dir: &std::path::Path, name: &str, body: &str) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reel_server_process_handling() -> Result<()> {
    let bin = tempfile::tempdir()?;

    let missing = bin.path().join("nope");
    let err = ReelServer::start_binary(&missing, &[])
        .await
        .err()
        .context("a missing binary must fail")?;
    ensure!(format!("{err:#}").contains("cargo xtask dist"), "{err:#}");

    let failing = write_script(
        bin.path(),
        "failing",
        "#!/bin/sh\necho 'bad flag' >&2\nexit 3\n",
    )?;
    let err = ReelServer::start_binary(&failing, &[])
        .await
        .err()
        .context("an exiting server must fail")?;
    ensure!(format!("{err:#}").contains("bad flag"), "{err:#}");

    let fake = write_script(bin.path(), "fake", FAKE_SERVER)?;
    let mut server = ReelServer::start_binary(&fake, &["--extra"]).await?;
    ensure!(server.origin() == "http://127.0.0.1:45999");
    ensure!(server.ingest_key().len() == 32 && server.api_token().len() == 32);
    let first = server.pid().context("running")?;
    server.kill9();
    ensure!(server.pid().is_none());
    server.restart().await?;
    ensure!(server.pid().is_some_and(|p| p != first));
    server.restart().await?; // stops the running one with SIGTERM first
    let args = std::fs::read_to_string(server.data_dir().join("args.log"))?;
    let lines: Vec<&str> = args.lines().collect();
    let expected_tail = format!(
        "--data {} --ingest-key {} --api-token {} --extra",
        server.data_dir().display(),
        server.ingest_key(),
        server.api_token()
    );
    ensure!(lines.len() == 3, "{args}");
    ensure!(
        lines[0] == format!("serve --listen 127.0.0.1:0 {expected_tail}"),
        "{args}"
    );
    for l in &lines[1..] {
        ensure!(
            *l == format!("serve --listen 127.0.0.1:45999 {expected_tail}"),
            "{args}"
        );
    }
    ensure!(server.log().contains("some banner"), "{}", server.log());
    Ok(())
}
