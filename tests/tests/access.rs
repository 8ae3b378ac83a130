//! Teams (issue 18) end to end, like an attacker would try it: members
//! sign in with their email and password in a real browser, admins manage
//! members, tokens and the audit log in the UI (screenshots taken), a
//! viewer is kept out of the admin pages, another origin on the same site
//! cannot use a signed-in browser's cookie to change anything, and signing
//! out ends the session on the server.
//!
//! Needs the release server with embedded assets:
//! `cargo xtask dist && cargo build --release -p reel-server`, then
//! `cargo test --release -p reel-e2e --test access`.

use anyhow::{ensure, Context, Result};
use reel_e2e::pages::PageServer;
use reel_e2e::sessions::{el, meta, new_id, node, now_ms, opening, post};
use reel_e2e::{http, screenshots_dir, Browser, Page, ReelServer};
use reel_shared::NodeKind;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A member added through the API with the API token: their password.
async fn add_member(server: &ReelServer, email: &str, role: &str) -> Result<String> {
    let body = json!({ "email": email, "role": role }).to_string();
    let r = server
        .api("POST", "/api/v1/members", body.as_bytes())
        .await?;
    ensure!(r.status == 201, "adding {email}: {}", r.text());
    Ok(r.json()?["password"]
        .as_str()
        .context("no password")?
        .to_owned())
}

/// A new page 1280×800 wide (the screenshots' size).
async fn desktop_page(browser: &Browser) -> Result<Page> {
    let p = browser.new_page().await?;
    p.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    Ok(p)
}

/// A page 1280×800 wide, signed in through the sign-in form.
async fn signed_in(browser: &Browser, server: &ReelServer, email: &str, pw: &str) -> Result<Page> {
    let p = desktop_page(browser).await?;
    p.goto(&server.url("/login")).await?;
    p.wait_for("!!document.getElementById('email')", WAIT)
        .await?;
    p.eval(&format!(
        "document.getElementById('email').value = {}; \
         document.getElementById('password').value = {}; \
         document.getElementById('sign-in').submit(); true",
        serde_json::to_string(email)?,
        serde_json::to_string(pw)?
    ))
    .await?;
    p.wait_for(
        "location.pathname === '/' && !!document.getElementById('reel-sessions')",
        WAIT,
    )
    .await
    .context("the sign-in did not open the sessions list")?;
    Ok(p)
}

async fn fetch_status(p: &Page, method: &str, path: &str) -> Result<u16> {
    let v = p
        .eval(&format!(
            "fetch({}, {{method: '{method}', credentials: 'same-origin'}}).then(r => r.status)",
            serde_json::to_string(path)?
        ))
        .await?;
    Ok(v.as_u64().context("status")? as u16)
}

async fn settle(p: &Page) -> Result<()> {
    p.eval("new Promise(r => requestAnimationFrame(() => setTimeout(() => r(true), 200)))")
        .await?;
    Ok(())
}

/// `p` once settled, into `target/e2e-screenshots/{name}`.
async fn shot(p: &Page, name: &str) -> Result<()> {
    settle(p).await?;
    let shots = screenshots_dir();
    std::fs::create_dir_all(&shots)?;
    p.screenshot(shots.join(name)).await?;
    Ok(())
}

/// Waits until the admin table `#{table}` lists `n` rows.
async fn rows(p: &Page, table: &str, n: usize) -> Result<()> {
    p.wait_for(
        &format!("document.querySelectorAll('#{table} tbody tr').length === {n}"),
        WAIT,
    )
    .await
    .with_context(|| format!("#{table} never had {n} rows"))?;
    Ok(())
}

/// The secret an admin page shows once (a new member's password, a new
/// token), when it shows it.
async fn shown_once(p: &Page) -> Result<String> {
    let shown = p
        .wait_for(
            "!document.getElementById('reel-secret').hidden && document.querySelector('#reel-secret code').textContent",
            WAIT,
        )
        .await?;
    Ok(shown.as_str().context("no secret shown")?.to_owned())
}

/// The status of `GET path` sent with one header (a bearer token, a cookie).
async fn status_with(server: &ReelServer, path: &str, header: (&str, &str)) -> Result<u16> {
    Ok(http::get(&server.url(path), &[header]).await?.status)
}

/// A session, so that the list and the audit have something to show.
async fn post_session(server: &ReelServer) -> Result<String> {
    let id = new_id()?;
    let nodes = vec![
        node(1, 0, NodeKind::Document),
        el(2, 1, "html", &[]),
        el(3, 2, "body", &[]),
        node(4, 3, NodeKind::Text("Checkout".into())),
    ];
    let ev = opening(0, meta("https://shop.test/checkout", "Checkout"), nodes);
    post(server, id, now_ms(), 0, &ev, 10).await?;
    Ok(id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_the_team_in_the_ui_and_viewers_are_kept_out() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = post_session(&server).await?;
    let admin_pw = add_member(&server, "ada@example.org", "admin").await?;
    let viewer_pw = add_member(&server, "vic@example.org", "viewer").await?;

    // The sign-in page: email and password, or the API token.
    let login = desktop_page(&browser).await?;
    login.goto(&server.url("/login")).await?;
    login
        .eval("document.querySelector('details').open = true; true")
        .await?;
    shot(&login, "access-sign-in.png").await?;

    let p = signed_in(&browser, &server, "ada@example.org", &admin_pw).await?;
    // The cookie holds a random id, not a secret that lasts: HttpOnly.
    ensure!(
        p.eval("document.cookie").await? == json!(""),
        "the session cookie is readable by script"
    );
    // The nav gains the admin pages, for an admin.
    p.wait_for(
        "[...document.querySelectorAll('.reel-nav a')].some(a => a.getAttribute('href') === '/admin/members')",
        WAIT,
    )
    .await
    .context("no admin links in the list's nav")?;
    p.wait_for(
        &format!("!!document.querySelector('a[href=\"/sessions/{id}\"]')"),
        WAIT,
    )
    .await?;
    shot(&p, "access-list-admin.png").await?;

    // Members: add one; the password is shown once.
    p.click(".reel-nav a[href='/admin/members']").await?;
    rows(&p, "reel-members", 2).await?;
    p.eval(
        "document.getElementById('m-email').value = 'new@example.org'; \
         document.getElementById('m-role').value = 'member'; \
         document.getElementById('reel-member-form').requestSubmit(); true",
    )
    .await?;
    let new_pw = shown_once(&p).await?;
    rows(&p, "reel-members", 3).await?;
    shot(&p, "access-members.png").await?;
    // That password signs in (through the API here).
    let signed = api_login(&server, "new@example.org", &new_pw).await?;
    ensure!(signed.is_ok(), "the shown password: {signed:?}");

    // Tokens: make one, shown once; it works as a bearer token.
    p.goto(&server.url("/admin/tokens")).await?;
    p.wait_for("!!document.getElementById('reel-token-form')", WAIT)
        .await?;
    p.eval(
        "document.getElementById('t-name').value = 'nightly export'; \
         document.getElementById('reel-token-form').requestSubmit(); true",
    )
    .await?;
    let token = shown_once(&p).await?;
    rows(&p, "reel-tokens", 1).await?;
    shot(&p, "access-tokens.png").await?;
    let bearer = format!("Bearer {token}");
    let bearer = ("Authorization", bearer.as_str());
    let s = status_with(&server, "/api/v1/audit", bearer).await?;
    ensure!(s == 200, "an admin's token reads the audit: {s}");
    // Revoked in the page: dead at once.
    p.eval("window.confirm = () => true; document.querySelector('#reel-tokens tbody tr button').click(); true")
        .await?;
    rows(&p, "reel-tokens", 0).await?;
    let s = status_with(&server, "/api/v1/sessions", bearer).await?;
    ensure!(s == 401, "a revoked token still works: {s}");

    // Watching a session is in the audit log, with the sign-ins.
    ensure!(fetch_status(&p, "GET", &format!("/api/v1/sessions/{id}/events")).await? == 200);
    p.goto(&server.url("/admin/audit")).await?;
    p.wait_for(
        "['login', 'view', 'member_add', 'token_add', 'token_revoke'].every(a => \
           !!document.querySelector(`#reel-audit tbody tr[data-action=\"${a}\"]`))",
        WAIT,
    )
    .await
    .context("the audit page lacks entries")?;
    shot(&p, "access-audit.png").await?;

    // A viewer: no admin links, the admin pages refused, the API too.
    let fresh = Browser::launch().await?;
    let v = signed_in(&fresh, &server, "vic@example.org", &viewer_pw).await?;
    v.wait_for(
        "document.documentElement.dataset.reelRole === 'viewer'",
        WAIT,
    )
    .await?;
    ensure!(
        v.eval("!!document.querySelector('.reel-nav a[href^=\"/admin/\"]')")
            .await?
            == json!(false),
        "a viewer sees admin links"
    );
    for page in ["/admin/members", "/admin/tokens", "/admin/audit"] {
        let r = v
            .eval(&format!("fetch('{page}').then(r => r.status)"))
            .await?;
        ensure!(r == json!(403), "{page} for a viewer: {r}");
    }
    for (method, path) in [
        ("GET", "/api/v1/members".to_string()),
        ("GET", "/api/v1/audit".to_string()),
        ("DELETE", format!("/api/v1/sessions/{id}")),
        ("POST", format!("/api/v1/sessions/{id}/shares")),
    ] {
        ensure!(
            fetch_status(&v, method, &path).await? == 403,
            "{method} {path} as a viewer"
        );
    }
    v.goto(&server.url("/admin/members")).await?;
    shot(&v, "access-viewer-refused.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_origin_cannot_use_the_cookie_and_sign_out_ends_it() -> Result<()> {
    let server = ReelServer::start().await?;
    let browser = Browser::launch().await?;
    let id = post_session(&server).await?;
    let pw = add_member(&server, "ada@example.org", "admin").await?;
    let p = signed_in(&browser, &server, "ada@example.org", &pw).await?;

    // A page on another origin of the same site (127.0.0.1, another port:
    // SameSite does not stop the cookie between them) tries, with the
    // signed-in browser's cookie, to make a share link and comment (simple
    // requests, which a browser sends cross-origin without asking), and to
    // sign the admin out (a form). A DELETE would need a CORS preflight,
    // which the API never grants.
    let pages = PageServer::start(&[]).await?;
    let reel = server.origin();
    pages.add_page(
        "/evil.html",
        "text/html",
        format!(
            "<!doctype html><body><script>\
             window.done = Promise.all([\
               fetch('{reel}/api/v1/sessions/{id}/shares', {{method: 'POST', credentials: 'include', mode: 'no-cors',\
                 headers: {{'content-type': 'text/plain'}}, body: JSON.stringify({{expires_in_s: 600}})}}),\
               fetch('{reel}/api/v1/sessions/{id}/comments', {{method: 'POST', credentials: 'include', mode: 'no-cors',\
                 headers: {{'content-type': 'text/plain'}}, body: JSON.stringify({{t: 0, text: 'pwned'}})}}),\
             ]).then(() => true, () => true);\
             </script></body>"
        ),
    );
    let evil = browser.new_page().await?;
    evil.goto(&pages.url("/evil.html")).await?;
    evil.eval("window.done").await?;
    // And a form that posts the sign-out from there.
    pages.add_page(
        "/evil-logout.html",
        "text/html",
        format!("<!doctype html><form id=f method=post action='{reel}/logout'></form><script>f.submit()</script>"),
    );
    evil.goto(&pages.url("/evil-logout.html")).await?;
    evil.wait_for(
        "document.readyState === 'complete' && location.href.includes('/logout')",
        WAIT,
    )
    .await
    .context("the cross-origin sign-out form did not post")?;
    let item = server
        .api("GET", &format!("/api/v1/sessions/{id}"), b"")
        .await?;
    ensure!(
        item.status == 200,
        "another origin deleted the session: {}",
        item.status
    );
    let comments = server
        .api_json(&format!("/api/v1/sessions/{id}/comments"))
        .await?;
    ensure!(
        comments["comments"] == json!([]),
        "another origin commented: {comments}"
    );
    ensure!(
        fetch_status(&p, "GET", "/api/v1/sessions").await? == 200,
        "another origin signed the admin out"
    );
    // From the server's own page, the same cookie may change things.
    let r = p
        .eval(&format!(
            "fetch('/api/v1/sessions/{id}/comments', {{method: 'POST', headers: {{'content-type': 'application/json'}}, \
               body: JSON.stringify({{t: 0, text: 'looked at it'}})}}).then(r => r.status)"
        ))
        .await?;
    ensure!(r == json!(201), "a comment from the app itself: {r}");

    // Signing out ends the session on the server: its cookie, copied out
    // before, opens nothing afterwards.
    let cookies = p
        .call("Network.getCookies", json!({ "urls": [reel] }))
        .await?;
    let cookie: Vec<&Value> = cookies["cookies"]
        .as_array()
        .context("cookies")?
        .iter()
        .filter(|c| c["name"] == "reel_session")
        .collect();
    ensure!(cookie.len() == 1, "{cookies}");
    let c = cookie[0];
    ensure!(
        c["httpOnly"] == json!(true) && c["sameSite"] == "Strict",
        "{c}"
    );
    let stolen = format!("reel_session={}", c["value"].as_str().context("value")?);
    let stolen = ("Cookie", stolen.as_str());
    let s = status_with(&server, "/api/v1/sessions", stolen).await?;
    ensure!(s == 200, "the cookie works before sign-out: {s}");
    p.click("form.reel-logout button").await?;
    p.wait_for("!!document.querySelector('form[action=\"/login\"]')", WAIT)
        .await?;
    let s = status_with(&server, "/api/v1/sessions", stolen).await?;
    ensure!(s == 401, "a signed-out cookie still opens the API: {s}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_limited_and_the_api_token_still_signs_in() -> Result<()> {
    let server = ReelServer::start().await?;
    let pw = add_member(&server, "bo@example.org", "viewer").await?;
    let login = |email: &str, password: &str| {
        let body = json!({ "email": email, "password": password }).to_string();
        let url = server.url("/api/v1/auth/login");
        async move {
            http::request(
                "POST",
                &url,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await
        }
    };
    for _ in 0..10 {
        let r = login("bo@example.org", "guess").await?;
        ensure!(r.status == 401, "{}", r.status);
    }
    let r = login("bo@example.org", &pw).await?;
    ensure!(
        r.status == 429,
        "the 11th sign-in, with the right password: {}",
        r.status
    );
    ensure!(r.header("retry-after").is_some());

    // The API token still signs in at /login (a form post), and is no cookie.
    let form = format!("token={}&next=%2F", server.api_token());
    let r = http::request(
        "POST",
        &server.url("/login"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await?;
    ensure!(r.status == 303, "{}", r.status);
    let set = r.header("set-cookie").context("no cookie")?;
    ensure!(set.starts_with("reel_session=rs_"), "{set}");
    ensure!(
        !set.contains(server.api_token()),
        "the cookie holds the API token"
    );
    Ok(())
}

/// `POST /api/v1/account/password` with `body`, as `bearer`: the status.
async fn change_password(
    server: &ReelServer,
    bearer: &str,
    body: &Value,
) -> Result<http::HttpResponse> {
    let auth = format!("Bearer {bearer}");
    http::request(
        "POST",
        &server.url("/api/v1/account/password"),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

/// Signs in through the API: the sign-in's token, or the status.
async fn api_login(
    server: &ReelServer,
    email: &str,
    pw: &str,
) -> Result<std::result::Result<String, u16>> {
    let body = json!({ "email": email, "password": pw }).to_string();
    let r = http::request(
        "POST",
        &server.url("/api/v1/auth/login"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await?;
    if r.status != 200 {
        return Ok(Err(r.status));
    }
    Ok(Ok(r.json()?["token"].as_str().context("token")?.to_owned()))
}

/// A member (a viewer) changes their own password on the account page: the
/// current one is required (a wrong one is refused and audited), their
/// other sign-ins end while the page's own stays, the old password no
/// longer signs in and the new one does; the API token has no password to
/// change; too short a password is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_change_their_own_password_and_other_sign_ins_end() -> Result<()> {
    let server = ReelServer::start().await?;
    let email = "pat@example.org";
    let old = add_member(&server, email, "viewer").await?;
    let new = "correct horse battery staple 42";
    let elsewhere = api_login(&server, email, &old)
        .await?
        .map_err(|s| anyhow::anyhow!("sign-in: {s}"))?;

    let browser = Browser::launch().await?;
    let p = signed_in(&browser, &server, email, &old).await?;
    p.goto(&server.url("/account")).await?;
    p.wait_for("!!document.getElementById('reel-password-form')", WAIT)
        .await?;
    // The name in the header links here (from the admin pages too).
    p.wait_for(
        "!!document.querySelector('#reel-me a[href=\"/account\"]')",
        WAIT,
    )
    .await?;
    let fill = |current: &str| {
        format!(
            "document.getElementById('p-current').value = {}; \
             document.getElementById('p-new').value = {new:?}; \
             document.getElementById('p-again').value = {new:?}; \
             document.querySelector('#reel-password-form button').click(); true",
            serde_json::to_string(current).unwrap_or_default()
        )
    };
    // A wrong current password changes nothing.
    p.eval(&fill("not my password at all")).await?;
    p.wait_for(
        "document.getElementById('reel-status').textContent.includes('current password is wrong')",
        WAIT,
    )
    .await?;
    p.eval(&fill(&old)).await?;
    p.wait_for(
        "document.getElementById('reel-status').textContent.includes('Password changed. 1 other sign-in ended')",
        WAIT,
    )
    .await?;
    shot(&p, "account-password.png").await?;

    // This sign-in stays; the other one is over.
    ensure!(fetch_status(&p, "GET", "/api/v1/auth/me").await? == 200);
    let other = format!("Bearer {elsewhere}");
    let s = status_with(&server, "/api/v1/auth/me", ("Authorization", &other)).await?;
    ensure!(s == 401, "the other sign-in still works: {s}");
    // The old password no longer signs in; the new one does.
    ensure!(api_login(&server, email, &old).await? == Err(401));
    let token = api_login(&server, email, new)
        .await?
        .map_err(|s| anyhow::anyhow!("the new password: {s}"))?;

    // Bad requests: too short, the same again, a wrong shape, the API
    // token (it has no password): each a 400 saying why.
    for (bearer, body) in [
        (
            &token[..],
            json!({"current_password": new, "new_password": "short"}),
        ),
        (
            &token[..],
            json!({"current_password": new, "new_password": new}),
        ),
        (&token[..], json!({"current": new})),
        (
            server.api_token(),
            json!({"current_password": "x", "new_password": "a long enough password"}),
        ),
    ] {
        let r = change_password(&server, bearer, &body).await?;
        ensure!(
            r.status == 400 && r.json()?["error"].is_string(),
            "{body}: {}",
            r.text()
        );
    }

    // Audited, both the change and the wrong attempt, as pat.
    let audit = server.api_json("/api/v1/audit?limit=100").await?;
    let entries = audit["entries"].as_array().context("entries")?;
    for action in ["password_change", "password_failed"] {
        ensure!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["actor"] == email),
            "no {action} entry: {audit}"
        );
    }
    ensure!(
        !audit.to_string().contains(new),
        "the audit holds the password"
    );
    Ok(())
}
