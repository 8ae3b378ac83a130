//! Projects (contract §8, issue 18):
//! - `POST /api/v1/projects` makes a project with an ingest key that works
//!   at once (no restart), `GET` lists it (keys for admins), `PATCH`
//!   changes it, keys are added and revoked, and all of it survives a
//!   restart; bad input gets `400`/`404` with `{"error"}`;
//! - origin enforcement: a project that lists origins takes its key from
//!   those origins only (another `Origin`, or none, is `403`); the
//!   `--ingest-key` keys belong to the `default` project, which checks no
//!   origin; a session stays with the project that started it;
//! - sessions carry `project`, and the list filters by it;
//! - `GET /api/v1/config?key=` is public, CORS-open, cached (max-age and
//!   ETag, `304` on a match);
//! - the real recorder in Chromium fetches it and applies it: a project's
//!   sample rate 0 records nothing, its `maskAllText` masks the page's
//!   text, and the tag's own `data-mask-all-text="false"` wins over it;
//! - the projects admin page, screenshotted.

use anyhow::{ensure, Context, Result};
use reel_e2e::http::{self, HttpResponse};
use reel_e2e::sessions::{meta, new_id, node, now_ms, opening};
use reel_e2e::{Browser, PageServer, ReelServer};
use reel_shared::{encode_chunk, NodeKind, SessionId, NO_NODE};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn chunk(id: SessionId, seq: u32) -> Result<Vec<u8>> {
    let t = now_ms();
    let ev = opening(
        t,
        meta("http://shop.example/", "shop"),
        vec![node(1, NO_NODE, NodeKind::Document)],
    );
    Ok(encode_chunk(id, seq, &ev)?)
}

/// Posts a chunk with `key` and, if given, an `Origin`.
async fn post(
    server: &ReelServer,
    key: &str,
    origin: Option<&str>,
    id: SessionId,
    seq: u32,
) -> Result<HttpResponse> {
    let mut headers = vec![
        ("X-Reel-Key", key),
        ("Content-Type", "application/octet-stream"),
    ];
    if let Some(o) = origin {
        headers.push(("Origin", o));
    }
    http::request(
        "POST",
        &server.url(&format!("/api/v1/sessions/{id}/chunks/{seq}")),
        &headers,
        &chunk(id, seq)?,
    )
    .await
}

async fn api_json(server: &ReelServer, method: &str, path: &str, body: Value) -> Result<Value> {
    let r = server
        .api(method, path, body.to_string().as_bytes())
        .await?
        .ensure_success(&format!("{method} {path}"))?;
    r.json()
}

fn error_of(r: &HttpResponse) -> String {
    r.json()
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_keys_origins_and_config() -> Result<()> {
    let mut server = ReelServer::start().await?;
    let shop = api_json(
        &server,
        "POST",
        "/api/v1/projects",
        json!({"name": "Shop", "origins": ["https://Shop.example/"], "sample_rate": 0.5,
               "privacy": {"mask_all_text": true}}),
    )
    .await?;
    let pid = shop["id"].as_str().context("id")?.to_string();
    let key = shop["ingest_key"]
        .as_str()
        .context("ingest_key")?
        .to_string();
    ensure!(shop["name"] == "Shop" && shop["origins"] == json!(["https://shop.example"]));

    // Listed, with the default project first.
    let list = server.api_json("/api/v1/projects").await?;
    let ids: Vec<&str> = list["projects"]
        .as_array()
        .context("projects")?
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    ensure!(ids == ["default", pid.as_str()], "{ids:?}");

    // Origin enforcement, with the project's key that works at once.
    let right = new_id()?;
    let r = post(&server, &key, Some("https://shop.example"), right, 0).await?;
    ensure!(r.status == 200, "right origin: {} {}", r.status, r.text());
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let r = post(&server, &key, origin, new_id()?, 0).await?;
        ensure!(
            r.status == 403,
            "origin {origin:?}: {} {}",
            r.status,
            r.text()
        );
        ensure!(error_of(&r).contains("origin"), "{}", r.text());
    }
    // The flag key: the default project, no origin check.
    let flagged = new_id()?;
    let k = server.ingest_key().to_string();
    let r = post(&server, &k, Some("https://anywhere.example"), flagged, 0).await?;
    ensure!(r.status == 200, "flag key: {} {}", r.status, r.text());
    ensure!(post(&server, &k, None, new_id()?, 0).await?.status == 200);
    // A session stays with its project.
    let r = post(&server, &k, None, right, 1).await?;
    ensure!(
        r.status == 403,
        "another project's key on a session: {}",
        r.status
    );

    // `project` on items and as a filter.
    ensure!(server.session(&right.to_string()).await?["project"] == pid.as_str());
    ensure!(server.session(&flagged.to_string()).await?["project"] == "default");
    let of_shop = server
        .list_sessions_query(&format!("project={pid}"))
        .await?;
    ensure!(
        of_shop.len() == 1 && of_shop[0]["id"] == right.to_string().as_str(),
        "{of_shop:?}"
    );
    ensure!(server.list_sessions_query("project=default").await?.len() == 2);

    // The config endpoint: public, any origin, cached.
    let url = server.url(&format!("/api/v1/config?key={key}"));
    let r = http::get(&url, &[("Origin", "https://shop.example")]).await?;
    ensure!(r.status == 200, "config: {} {}", r.status, r.text());
    let cfg = r.json()?;
    ensure!(
        cfg["sampleRate"] == 0.5 && cfg["maskAllText"] == true && cfg["project"] == pid.as_str(),
        "{cfg}"
    );
    ensure!(r.header("access-control-allow-origin") == Some("*"));
    ensure!(r
        .header("cache-control")
        .is_some_and(|c| c.contains("max-age=")));
    let etag = r.header("etag").context("etag")?.to_string();
    let again = http::get(&url, &[("If-None-Match", &etag)]).await?;
    ensure!(again.status == 304, "revalidation: {}", again.status);
    let d = http::get(&server.url(&format!("/api/v1/config?key={k}")), &[]).await?;
    ensure!(d.status == 200 && d.json()?["project"] == "default");
    ensure!(
        http::get(&server.url("/api/v1/config?key=nope"), &[])
            .await?
            .status
            == 404
    );
    let missing = http::get(&server.url("/api/v1/config"), &[]).await?;
    ensure!(missing.status == 400 && !error_of(&missing).is_empty());

    // A change is in the next config (a new ETag).
    let changed = api_json(
        &server,
        "PATCH",
        &format!("/api/v1/projects/{pid}"),
        json!({"sample_rate": 1, "retention_days": 30}),
    )
    .await?;
    ensure!(changed["sample_rate"] == 1.0 && changed["retention_days"] == 30.0);
    let r = http::get(&url, &[("If-None-Match", &etag)]).await?;
    ensure!(r.status == 200 && r.json()?["sampleRate"] == 1.0);

    // A second key, then the first revoked: without a restart.
    let with2 = api_json(
        &server,
        "POST",
        &format!("/api/v1/projects/{pid}/keys"),
        json!({}),
    )
    .await?;
    let key2 = with2["ingest_key"].as_str().context("new key")?.to_string();
    ensure!(key2 != key);
    let r = server
        .api("DELETE", &format!("/api/v1/projects/{pid}/keys/{key}"), &[])
        .await?;
    ensure!(r.status == 200, "revoke: {}", r.text());
    let r = post(&server, &key, Some("https://shop.example"), new_id()?, 0).await?;
    ensure!(r.status == 401, "a revoked key: {}", r.status);
    ensure!(http::get(&url, &[]).await?.status == 404);
    let r = post(&server, &key2, Some("https://shop.example"), new_id()?, 0).await?;
    ensure!(r.status == 200, "the new key: {} {}", r.status, r.text());

    // Bad input.
    for (method, path, body, status) in [
        ("POST", "/api/v1/projects".to_string(), "{", 400),
        ("POST", "/api/v1/projects".into(), r#"{"origins":[]}"#, 400),
        (
            "POST",
            "/api/v1/projects".into(),
            r#"{"name":"x","origins":["nope"]}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/projects".into(),
            r#"{"name":"x","sample_rate":2}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/projects".into(),
            r#"{"name":"x","bogus":1}"#,
            400,
        ),
        (
            "PATCH",
            "/api/v1/projects/ffffffffffffffff".into(),
            r#"{"name":"x"}"#,
            404,
        ),
        (
            "PATCH",
            "/api/v1/projects/default".into(),
            r#"{"origins":["https://a.example"]}"#,
            400,
        ),
        ("POST", "/api/v1/projects/default/keys".into(), "", 400),
        (
            "DELETE",
            format!("/api/v1/projects/{pid}/keys/nokey"),
            "",
            404,
        ),
    ] {
        let r = server.api(method, &path, body.as_bytes()).await?;
        ensure!(
            r.status == status && !error_of(&r).is_empty(),
            "{method} {path} {body}: {} {}",
            r.status,
            r.text()
        );
    }
    // Without credentials.
    let r = http::request("GET", &server.url("/api/v1/projects"), &[], &[]).await?;
    ensure!(r.status == 401);

    // Everything survives a restart.
    server.restart().await?;
    let r = post(&server, &key2, Some("https://shop.example"), new_id()?, 0).await?;
    ensure!(
        r.status == 200,
        "after a restart: {} {}",
        r.status,
        r.text()
    );
    ensure!(
        post(&server, &key, Some("https://shop.example"), new_id()?, 0)
            .await?
            .status
            == 401
    );
    ensure!(server.session(&right.to_string()).await?["project"] == pid.as_str());
    Ok(())
}

/// A page embedding the recorder with `key` and `attrs` on the tag (the
/// tag starts the recorder), with some text to mask.
fn tag_page(key: &str, attrs: &str) -> String {
    format!(
        "<!doctype html><html><head><script src=\"{{{{REEL_ORIGIN}}}}/reel.js\" \
         data-ingest-key=\"{key}\" {attrs}></script></head>\
         <body><p id=\"t\">plainly readable words</p></body></html>"
    )
}

/// Opens `path`, waits for the tag's recording and flushes it: the
/// session's id.
async fn record_tag(browser: &Browser, pages: &PageServer, path: &str) -> Result<String> {
    let page = browser.new_page().await?;
    page.goto(&pages.url(path)).await?;
    page.wait_for("!!(window.Reel && Reel.sessionId())", WAIT)
        .await
        .context("the tag's recording")?;
    page.eval("Reel.flush().then(() => true)").await?;
    let sid = page.eval("Reel.sessionId()").await?;
    Ok(sid.as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorder_applies_its_projects_config() -> Result<()> {
    let server = ReelServer::start().await?;
    let pages = PageServer::for_reel(&server).await?;
    let make = |body: Value| {
        let server = &server;
        async move {
            let p = api_json(server, "POST", "/api/v1/projects", body).await?;
            Ok::<_, anyhow::Error>((
                p["id"].as_str().unwrap_or_default().to_string(),
                p["ingest_key"].as_str().unwrap_or_default().to_string(),
            ))
        }
    };
    let (unsampled, unsampled_key) =
        make(json!({"name": "nobody", "origins": [pages.origin()], "sample_rate": 0})).await?;
    let (masked, masked_key) = make(json!({"name": "masked", "origins": [pages.origin()],
        "privacy": {"mask_all_text": true}}))
    .await?;
    let browser = Browser::launch().await?;

    // Sample rate 0: `Reel.start` resolves without recording, nothing sent.
    let page = browser.new_page().await?;
    page.goto(&pages.url("/corpus/manual.html")).await?;
    let r = page
        .eval(&format!(
            "Reel.start({{ endpoint: '{}', ingestKey: '{unsampled_key}' }}).then(s => s === null && Reel.sessionId() === null)",
            server.origin()
        ))
        .await?;
    ensure!(r == json!(true), "a project sampled at 0 recorded: {r}");
    ensure!(server
        .list_sessions_query(&format!("project={unsampled}"))
        .await?
        .is_empty());

    // The project's masking applies...
    pages.add_page("/masked.html", "text/html", tag_page(&masked_key, ""));
    let sid = record_tag(&browser, &pages, "/masked.html").await?;
    let events = serde_json::to_string(&server.events(&sid).await?)?;
    ensure!(
        !events.contains("plainly readable words"),
        "the project's maskAllText was not applied"
    );
    ensure!(server.session(&sid).await?["project"] == masked.as_str());
    // ...unless the tag says otherwise.
    pages.add_page(
        "/unmasked.html",
        "text/html",
        tag_page(&masked_key, "data-mask-all-text=\"false\""),
    );
    let sid = record_tag(&browser, &pages, "/unmasked.html").await?;
    let events = serde_json::to_string(&server.events(&sid).await?)?;
    ensure!(
        events.contains("plainly readable words"),
        "the tag's data-mask-all-text=\"false\" did not win over the project's"
    );

    // A page whose origin the project does not list is not recorded.
    let (_, elsewhere_key) =
        make(json!({"name": "elsewhere", "origins": ["https://elsewhere.example"]})).await?;
    let page = browser.new_page().await?;
    page.goto(&pages.url("/corpus/manual.html")).await?;
    let status = page
        .eval(&format!(
            "Reel.start({{ endpoint: '{}', ingestKey: '{elsewhere_key}' }}).then(() => \
             fetch('{}/api/v1/sessions/' + '0'.repeat(32) + '/chunks/0', {{ method: 'POST', \
             headers: {{ 'X-Reel-Key': '{elsewhere_key}' }}, body: 'x' }})).then(r => r.status)",
            server.origin(),
            server.origin()
        ))
        .await?;
    ensure!(
        status == json!(403),
        "ingest from an unlisted origin: {status}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_admin_page_screenshot() -> Result<()> {
    let server = ReelServer::start().await?;
    api_json(
        &server,
        "POST",
        "/api/v1/projects",
        json!({"name": "Shop", "origins": ["https://shop.example", "https://www.shop.example"],
               "sample_rate": 0.25, "retention_days": 30,
               "privacy": {"mask_all_text": true, "block_selector": ".ads"}}),
    )
    .await?;
    let browser = Browser::launch().await?;
    let page = reel_e2e::fidelity::authorised_page(&browser, &server).await?;
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    page.goto(&server.url("/admin/projects")).await?;
    page.wait_for(
        "document.querySelectorAll('#reel-projects tbody tr').length === 2",
        WAIT,
    )
    .await?;
    // Edit mode fills the form from the row.
    page.eval("document.querySelectorAll('#reel-projects tbody tr')[1].querySelector('td.actions button').click(), true")
        .await?;
    page.wait_for("document.getElementById('p-name').value === 'Shop'", WAIT)
        .await?;
    let dir = reel_e2e::screenshots_dir();
    std::fs::create_dir_all(&dir)?;
    page.screenshot(dir.join("admin-projects.png")).await?;
    // Saving from the page changes the project.
    page.eval("document.getElementById('p-sample').value = '0.5'; document.getElementById('p-submit').click(), true")
        .await?;
    page.wait_for(
        "[...document.querySelectorAll('#reel-projects td')].some(td => td.textContent === '50%')",
        WAIT,
    )
    .await?;
    Ok(())
}
