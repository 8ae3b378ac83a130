//! People (contract §8, issue 18): a person recorded by the real recorder
//! in Chromium (`Reel.identify`, an email typed into an unmasked field,
//! their own text on the page), in two sessions, next to someone else's:
//! - `GET /api/v1/people/{id}/sessions` lists exactly theirs;
//! - `GET /api/v1/people/{id}/export` is a portable archive of it all
//!   (audited as `export`);
//! - `DELETE /api/v1/people/{id}` deletes both, `{"deleted_sessions": 2}`,
//!   audited as `people_delete` without their id; afterwards none of
//!   their strings (id, email, page text, the page's unique URL, its
//!   referrer, their visitor id, the label of the button they clicked)
//!   nor any window of their stored chunks is found in any file under
//!   `--data`, and still none after a crash (`kill -9`) and a restart;
//!   the other person's session is untouched, listed, and its insights
//!   (their clicks) still answer;
//! - the people admin page, screenshotted.
//!
//! The same erasure on the distributed layout (a process on PostgreSQL and
//! s3s-fs, `reel_testsvc`): none of the person's strings (id, page URL,
//! referrer, visitor id, click label, a comment on their session) nor any
//! window of their chunks in any file of PostgreSQL's data directory (its
//! tables, statistics, WAL) nor of the bucket, once statistics were
//! sampled and a checkpoint wrote everything to the files; the other
//! person's session listed and replaying; the erasure audited with nothing
//! left undone.

use anyhow::{ensure, Context, Result};
use reel_e2e::deployment::Deployment;
use reel_e2e::{Browser, Page, PageServer, ReelServer};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\
<script src=\"{{REEL_ORIGIN}}/reel.js\"></script></head><body>\
<h1>Account</h1><p id=\"note\">{{NOTE}}</p>\
<label>Email <input id=\"email\" type=\"text\" data-reel-unmask autocomplete=\"off\"></label>\
<button id=\"pay\">{{LABEL}}</button>\
</body></html>";

/// The other person's page: the same, with its own button label.
const BOB_LABEL: &str = "Bob keeps paying";

/// Records one session of `user` on the page at `path`, reached by a link
/// from `from` (its referrer), who clicks `#pay` and types `email`: its
/// id, and the tab (still recording). `new_visitor`: the browser forgets
/// the visitor id it keeps first.
async fn record(
    browser: &Browser,
    server: &ReelServer,
    pages: &PageServer,
    (from, path): (&str, &str),
    user: &str,
    email: &str,
    new_visitor: bool,
) -> Result<(String, Page)> {
    let page = browser.new_page().await?;
    page.goto(&pages.url(from)).await?;
    if new_visitor {
        page.eval("localStorage.clear(); true").await?;
    }
    let to = serde_json::to_string(&pages.url(path))?;
    page.eval(&format!(
        "setTimeout(() => {{ location.href = {to}; }}, 0); true"
    ))
    .await?;
    page.wait_for(
        &format!(
            "location.pathname === {} && document.readyState === 'complete' && typeof Reel !== 'undefined'",
            serde_json::to_string(path)?
        ),
        WAIT,
    )
    .await?;
    let sid = page
        .eval(&format!(
            "Reel.start({{ endpoint: '{}', ingestKey: '{}' }}).then(() => {{ Reel.identify('{user}'); return Reel.sessionId(); }})",
            server.origin(),
            server.ingest_key()
        ))
        .await?;
    let sid = sid.as_str().unwrap_or_default().to_string();
    ensure!(sid.len() == 32, "no session: {sid}");
    page.click("#pay").await?;
    page.click("#email").await?;
    page.type_text(email).await?;
    page.eval("Reel.flush().then(() => true)").await?;
    Ok((sid, page))
}

/// The pages of one person, `who` (their page at a URL of their own, with
/// their note, reached by a link from a referrer of their own, with a
/// button label of their own), and bob's, served for `server`.
struct Pages {
    pages: PageServer,
    /// (referrer, page) of the person.
    from: String,
    page: String,
    label: String,
}

impl Pages {
    async fn serve(server: &ReelServer, who: &str, tag: &str, note: &str) -> Result<Self> {
        let page = format!("/account-{tag}-{who}.html");
        let from = format!("/search-{tag}-{who}.html");
        let label = format!("Pay {tag} {who}");
        let pages = PageServer::for_reel(server).await?;
        pages.set_var("NOTE", note);
        pages.set_var("LABEL", &label);
        pages.add_page(&page, "text/html", PAGE);
        pages.add_page(&from, "text/html", "<!doctype html><p>results</p>");
        pages.add_page(
            "/bob.html",
            "text/html",
            PAGE.replace("{{LABEL}}", BOB_LABEL)
                .replace("{{NOTE}}", "Bob's page"),
        );
        pages.add_page("/bob-from.html", "text/html", "<!doctype html><p>bob</p>");
        Ok(Pages {
            pages,
            from,
            page,
            label,
        })
    }

    /// One session of the person ([`record`]).
    async fn record_person(
        &self,
        browser: &Browser,
        server: &ReelServer,
        user: &str,
        email: &str,
    ) -> Result<(String, Page)> {
        let at = (self.from.as_str(), self.page.as_str());
        record(browser, server, &self.pages, at, user, email, false).await
    }

    /// Bob's session (`bob-keeps`, another visitor).
    async fn record_bob(&self, browser: &Browser, server: &ReelServer) -> Result<(String, Page)> {
        let at = ("/bob-from.html", "/bob.html");
        let email = "bob@example.com";
        record(browser, server, &self.pages, at, "bob-keeps", email, true).await
    }
}

/// Ends the recordings in `tabs`: a chunk a recorder sends later (a signal
/// it notes some seconds after a click) would record the person anew.
async fn stop_recording(tabs: &[&Page]) -> Result<()> {
    for tab in tabs {
        tab.eval("Reel.flush().then(() => Reel.stop()).then(() => true)")
            .await?;
    }
    Ok(())
}

/// A window of each stored chunk of `sid` (the page text and the email sit
/// compressed in them), named for [`found`].
async fn chunk_windows(server: &ReelServer, sid: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (i, c) in server.raw_chunks(sid).await?.iter().enumerate() {
        let mid = c.len() / 2;
        let w = c[mid.saturating_sub(24)..(mid + 24).min(c.len())].to_vec();
        out.push((format!("chunk {i} of {sid}"), w));
    }
    Ok(out)
}

/// Erases `user` through the API: `deleted` sessions.
async fn erase(server: &ReelServer, user: &str, deleted: u64) -> Result<()> {
    let r = server
        .api("DELETE", &format!("/api/v1/people/{user}"), &[])
        .await?
        .ensure_success("erase")?;
    ensure!(
        r.json()? == json!({ "deleted_sessions": deleted }),
        "{}",
        r.text()
    );
    Ok(())
}

/// `sid` is gone, and bob's session is the only one listed.
async fn gone_and_only_bob_listed(server: &ReelServer, sid: &str, bob: &str) -> Result<()> {
    let r = server
        .api("GET", &format!("/api/v1/sessions/{sid}"), &[])
        .await?;
    ensure!(r.status == 404, "{}", r.status);
    let listed = server.list_sessions().await?;
    ensure!(
        listed.len() == 1 && listed[0]["id"] == bob,
        "only bob is listed: {listed:?}"
    );
    Ok(())
}

/// Every file under `dir` holding `needle`, with the needle's name (a
/// file or folder that vanishes meanwhile is skipped: PostgreSQL removes
/// its own).
fn found(dir: &Path, needles: &[(String, Vec<u8>)]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", d.display())),
        };
        for e in entries {
            let e = e?;
            let path = e.path();
            if e.file_type()?.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            for (name, n) in needles {
                if !n.is_empty() && bytes.windows(n.len()).any(|w| w == &n[..]) {
                    out.push(format!("{name} in {}", path.display()));
                }
            }
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_list_export_and_erase_every_byte() -> Result<()> {
    let mut server = ReelServer::start().await?;
    let tag = &reel_e2e::server::random_hex()?[..8];
    let user = format!("erin-{tag}-user");
    let email = format!("erin.{tag}@example.com");
    let note = format!("Erin {tag} private note");
    // Their page's URL and referrer are theirs alone, and so is the label
    // of the button they click.
    let pages = Pages::serve(&server, "erin", tag, &note).await?;
    let (erin_page, erin_from, label) = (&pages.page, &pages.from, &pages.label);
    let browser = Browser::launch().await?;

    let (a, a_tab) = pages
        .record_person(&browser, &server, &user, &email)
        .await?;
    let (b, b_tab) = pages
        .record_person(&browser, &server, &user, &email)
        .await?;
    let (bob, bob_tab) = pages.record_bob(&browser, &server).await?;
    let events = serde_json::to_string(&server.events(&a).await?)?;
    ensure!(
        events.contains(&email) && events.contains(&note),
        "the recording holds what this test erases"
    );
    // The index and the digest hold their URL, referrer, visitor id and
    // click label (what sled keeps copies of).
    let item = server.session(&a).await?;
    let visitor = item["visitor_id"].as_str().unwrap_or_default().to_string();
    ensure!(
        item["urls"].to_string().contains(erin_page.as_str())
            && item["referrer"]
                .as_str()
                .is_some_and(|r| r.contains(erin_from.as_str()))
            && !visitor.is_empty(),
        "{item}"
    );
    let bob_item = server.session(&bob).await?;
    let bob_visitor = bob_item["visitor_id"].clone();
    ensure!(
        bob_visitor.is_string() && bob_visitor != visitor.as_str(),
        "bob is another visitor: {bob_item}"
    );
    let clicks = server
        .api_json(&format!(
            "/api/v1/insights/clicks?url={}",
            erin_page.trim_start_matches('/')
        ))
        .await?;
    ensure!(
        clicks["targets"].to_string().contains(label.as_str()) && clicks["sessions"] == 2,
        "{clicks}"
    );

    // The person's sessions, and no one else's.
    let list = server
        .api_json(&format!("/api/v1/people/{user}/sessions"))
        .await?;
    let mut ids: Vec<&str> = list["sessions"]
        .as_array()
        .context("sessions")?
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    ensure!(ids == want, "{ids:?} != {want:?}");

    // The people page, before the erasure.
    {
        let page = reel_e2e::fidelity::authorised_page(&browser, &server).await?;
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 640, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await?;
        page.goto(&server.url(&format!("/admin/people?user={user}")))
            .await?;
        page.wait_for(
            "document.querySelectorAll('#reel-person-sessions tbody tr').length === 2",
            WAIT,
        )
        .await?;
        let dir = reel_e2e::screenshots_dir();
        std::fs::create_dir_all(&dir)?;
        page.screenshot(dir.join("admin-people.png")).await?;
    }

    // The export: both sessions, importable archives, readable events.
    let r = server
        .api("GET", &format!("/api/v1/people/{user}/export"), &[])
        .await?
        .ensure_success("export")?;
    ensure!(r
        .header("content-disposition")
        .is_some_and(|d| d.contains("attachment")));
    let export: Value = r.json()?;
    ensure!(export["reel_people_export"] == 1 && export["user_id"] == user.as_str());
    let sessions = export["sessions"].as_array().context("sessions")?;
    ensure!(sessions.len() == 2, "{} sessions exported", sessions.len());
    for s in sessions {
        ensure!(s["archive"]["reel_archive"] == 1);
        ensure!(!s["archive"]["chunks"]
            .as_array()
            .context("chunks")?
            .is_empty());
        ensure!(s["events"].to_string().contains(&email));
    }

    // What the erasure must leave nowhere: the strings, and windows of
    // every stored chunk (the page text and the email sit compressed in
    // them). The id and the chunks are on disk before.
    let mut needles = vec![
        ("user id".to_string(), user.clone().into_bytes()),
        ("email".to_string(), email.clone().into_bytes()),
        ("page text".to_string(), note.clone().into_bytes()),
        ("page URL".to_string(), erin_page.clone().into_bytes()),
        ("referrer".to_string(), erin_from.clone().into_bytes()),
        ("visitor id".to_string(), visitor.clone().into_bytes()),
        ("click label".to_string(), label.clone().into_bytes()),
    ];
    for sid in [&a, &b] {
        needles.extend(chunk_windows(&server, sid).await?);
    }
    let before = found(server.data_dir(), &needles)?;
    ensure!(
        before.iter().any(|f| f.starts_with("user id"))
            && before.iter().any(|f| f.starts_with("chunk")),
        "the search cannot see the data: {before:?}"
    );

    // Every recording ends here.
    stop_recording(&[&a_tab, &b_tab, &bob_tab]).await?;
    erase(&server, &user, 2).await?;

    let left = found(server.data_dir(), &needles)?;
    ensure!(left.is_empty(), "after the erasure: {left:?}");
    let list = server
        .api_json(&format!("/api/v1/people/{user}/sessions"))
        .await?;
    ensure!(list["sessions"] == json!([]));
    for sid in [&a, &b] {
        let r = server
            .api("GET", &format!("/api/v1/sessions/{sid}"), &[])
            .await?;
        ensure!(r.status == 404);
    }
    ensure!(server.session(&bob).await?["user_id"] == "bob-keeps");

    // The audit names the person by a pseudonym only.
    let audit = server.api_json("/api/v1/audit?limit=100").await?;
    let entries = audit["entries"].as_array().context("entries")?;
    ensure!(entries.iter().any(|e| e["action"] == "people_delete"));
    ensure!(entries.iter().any(|e| e["action"] == "export"));
    ensure!(!audit.to_string().contains(&user), "the audit holds the id");

    // Still nothing after a crash and a restart (sled reopening as the
    // erasure left it, the log re-read), and the other person is still
    // known, listed, and in the insights.
    server.kill9();
    server.restart().await?;
    let left = found(server.data_dir(), &needles)?;
    ensure!(left.is_empty(), "after a restart: {left:?}");
    let bob_item = server.session(&bob).await?;
    ensure!(bob_item["user_id"] == "bob-keeps", "{bob_item}");
    ensure!(bob_item["visitor_id"] == bob_visitor, "{bob_item}");
    ensure!(
        bob_item["urls"].to_string().contains("/bob.html"),
        "{bob_item}"
    );
    let bobs = server.api_json("/api/v1/people/bob-keeps/sessions").await?;
    ensure!(bobs["sessions"].as_array().map(Vec::len) == Some(1));
    gone_and_only_bob_listed(&server, &a, &bob).await?;
    let clicks = server
        .api_json("/api/v1/insights/clicks?url=bob.html")
        .await?;
    ensure!(
        clicks["sessions"] == 1 && clicks["targets"].to_string().contains(BOB_LABEL),
        "{clicks}"
    );
    let clicks = server
        .api_json(&format!(
            "/api/v1/insights/clicks?url={}",
            erin_page.trim_start_matches('/')
        ))
        .await?;
    ensure!(clicks["sessions"] == 0, "{clicks}");

    // Bad input.
    let long = "x".repeat(2000);
    let r = server
        .api("GET", &format!("/api/v1/people/{long}/sessions"), &[])
        .await?;
    ensure!(r.status == 400, "{}", r.status);
    let r = server
        .api("DELETE", "/api/v1/people/nobody-at-all", &[])
        .await?
        .ensure_success("erasing no one")?;
    ensure!(r.json()? == json!({"deleted_sessions": 0}));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_erasure_on_the_distributed_layout_leaves_no_byte_in_postgresql_or_the_bucket(
) -> Result<()> {
    let dep = Deployment::new().await?;
    let server = dep.start_process().await?;
    let db = dep
        .index_db()
        .rsplit('/')
        .next()
        .context("the database's name")?
        .to_string();
    let tag = &reel_e2e::server::random_hex()?[..8];
    let user = format!("dana-{tag}-user");
    let email = format!("dana.{tag}@example.com");
    let comment = format!("Dana {tag} called support");
    let pages = Pages::serve(&server, "dana", tag, &format!("Dana {tag} note")).await?;
    let browser = Browser::launch().await?;
    let (a, a_tab) = pages
        .record_person(&browser, &server, &user, &email)
        .await?;
    let (bob, bob_tab) = pages.record_bob(&browser, &server).await?;
    let r = server
        .api(
            "POST",
            &format!("/api/v1/sessions/{a}/comments"),
            &serde_json::to_vec(&json!({"t": 1, "text": comment}))?,
        )
        .await?;
    ensure!(r.status < 300, "comment: {}", r.text());
    // Both recordings end here.
    stop_recording(&[&a_tab, &bob_tab]).await?;
    let item = server.session(&a).await?;
    let visitor = item["visitor_id"].as_str().unwrap_or_default().to_string();
    ensure!(!visitor.is_empty(), "{item}");

    // What autovacuum would do sooner or later (sample the columns into
    // pg_statistic), and a checkpoint: the files hold it all before.
    let pg = reel_testsvc::postgres();
    let (pg_dir, bucket_dir) = (pg.data_dir(), dep.bucket_dir());
    {
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            let pg = reel_testsvc::postgres();
            pg.psql(&db, "ANALYZE");
            pg.psql(&db, "CHECKPOINT");
        })
        .await?;
    }
    let strings = vec![
        ("user id".to_string(), user.clone().into_bytes()),
        ("page URL".to_string(), pages.page.clone().into_bytes()),
        ("referrer".to_string(), pages.from.clone().into_bytes()),
        ("visitor id".to_string(), visitor.clone().into_bytes()),
        ("click label".to_string(), pages.label.clone().into_bytes()),
        ("comment".to_string(), comment.clone().into_bytes()),
    ];
    let in_pg = found(&pg_dir, &strings)?;
    for (name, _) in &strings {
        ensure!(
            in_pg.iter().any(|f| f.starts_with(name.as_str())),
            "PostgreSQL's files do not hold the {name} before: the search cannot see it ({in_pg:?})"
        );
    }
    ensure!(in_pg.iter().any(|f| f.contains("pg_wal")), "{in_pg:?}");
    let mut needles = strings;
    needles.extend(chunk_windows(&server, &a).await?);
    let in_bucket = found(&bucket_dir, &needles)?;
    ensure!(
        in_bucket.iter().any(|f| f.starts_with("chunk")),
        "the bucket does not hold the chunks: {in_bucket:?}"
    );

    erase(&server, &user, 1).await?;
    let mut left = found(&pg_dir, &needles)?;
    left.extend(found(&bucket_dir, &needles)?);
    ensure!(left.is_empty(), "after the erasure: {left:?}");

    // Audited, nothing left for later.
    let audit = server.api_json("/api/v1/audit?limit=100").await?;
    let entries = audit["entries"].as_array().context("entries")?;
    let erased = entries
        .iter()
        .find(|e| e["action"] == "people_delete")
        .context("no people_delete entry")?;
    let detail = erased["detail"].as_str().unwrap_or_default();
    ensure!(
        detail.ends_with(": 1 sessions") && !audit.to_string().contains(&user),
        "{erased}"
    );

    // The other person: listed, known, and replaying.
    gone_and_only_bob_listed(&server, &a, &bob).await?;
    ensure!(server.session(&bob).await?["user_id"] == "bob-keeps");
    let player = reel_e2e::fidelity::open_player(&browser, &server, &bob).await?;
    player
        .eval("reelPlayer.seek(reelPlayer.duration()).then(() => true)")
        .await?;
    player
        .wait_for(
            &format!(
                "(() => {{ const d = document.getElementById('reel-replay').contentDocument; \
                 return !!d && !!d.body && d.body.textContent.includes(\"Bob's page\") \
                 && d.body.textContent.includes({}); }})()",
                serde_json::to_string(BOB_LABEL)?
            ),
            WAIT,
        )
        .await?;
    Ok(())
}
