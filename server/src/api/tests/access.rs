//! Access control tested like an attacker (issue 18): every API route
//! with every role, with a share link and with nothing; sign-in limits;
//! cookie-borne changes from another origin; sign-out and token
//! revocation ending access server-side; the audit log.
//!
//! [`ROUTES`] is the table of every API route and the least it needs. The
//! test reads the server's source for every `.route("/api/…", …)` and
//! `/metrics`, and fails when one is missing from the table: a new route
//! must say who may use it.

use super::*;
use crate::auth::Role;
use axum::extract::ConnectInfo;
use std::net::SocketAddr;

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Anyone (its own limits guard it): not checked here.
    Open,
    /// An ingest key: not checked here (see the ingest tests).
    Ingest,
    /// This role or more; a share link is refused.
    Role(Role),
    /// A viewer or more, or a share link of that session.
    ShareOrViewer,
}

use Need::*;

/// Every API route: method, path as routed, what it needs. Keep sorted by
/// path; add a line for every new route.
const ROUTES: &[(&str, &str, Need)] = &[
    ("POST", "/api/v1/account/password", Role(Role::Viewer)),
    ("GET", "/api/v1/audit", Role(Role::Admin)),
    ("POST", "/api/v1/auth/login", Open),
    ("POST", "/api/v1/auth/logout", Role(Role::Viewer)),
    ("GET", "/api/v1/auth/me", Role(Role::Viewer)),
    ("GET", "/api/v1/config", Open),
    ("POST", "/api/v1/insights/funnel", Role(Role::Viewer)),
    ("GET", "/api/v1/insights/clicks", Role(Role::Viewer)),
    ("GET", "/api/v1/insights/scroll", Role(Role::Viewer)),
    ("GET", "/api/v1/members", Role(Role::Admin)),
    ("POST", "/api/v1/members", Role(Role::Admin)),
    ("PATCH", "/api/v1/members/{email}", Role(Role::Admin)),
    ("DELETE", "/api/v1/members/{email}", Role(Role::Admin)),
    (
        "POST",
        "/api/v1/members/{email}/password",
        Role(Role::Admin),
    ),
    ("DELETE", "/api/v1/people/{user_id}", Role(Role::Admin)),
    ("GET", "/api/v1/people/{user_id}/export", Role(Role::Member)),
    (
        "GET",
        "/api/v1/people/{user_id}/sessions",
        Role(Role::Viewer),
    ),
    // The list names projects for the sessions filter (T2's choice).
    ("GET", "/api/v1/projects", Role(Role::Viewer)),
    ("POST", "/api/v1/projects", Role(Role::Admin)),
    ("PATCH", "/api/v1/projects/{id}", Role(Role::Admin)),
    ("POST", "/api/v1/projects/{id}/keys", Role(Role::Admin)),
    (
        "DELETE",
        "/api/v1/projects/{id}/keys/{key}",
        Role(Role::Admin),
    ),
    ("GET", "/api/v1/segments", Role(Role::Viewer)),
    ("POST", "/api/v1/segments", Role(Role::Member)),
    ("DELETE", "/api/v1/segments/{id}", Role(Role::Member)),
    ("GET", "/api/v1/sessions", Role(Role::Viewer)),
    ("GET", "/api/v1/sessions/{id}", ShareOrViewer),
    ("DELETE", "/api/v1/sessions/{id}", Role(Role::Admin)),
    ("POST", "/api/v1/sessions/{id}/asset-uploads/{hash}", Ingest),
    ("POST", "/api/v1/sessions/{id}/assets", Ingest),
    ("GET", "/api/v1/sessions/{id}/assets/{hash}", ShareOrViewer),
    ("GET", "/api/v1/sessions/{id}/chunks", ShareOrViewer),
    ("POST", "/api/v1/sessions/{id}/chunks/{seq}", Ingest),
    ("GET", "/api/v1/sessions/{id}/comments", ShareOrViewer),
    ("POST", "/api/v1/sessions/{id}/comments", Role(Role::Viewer)),
    ("GET", "/api/v1/sessions/{id}/events", ShareOrViewer),
    ("GET", "/api/v1/sessions/{id}/repro", Role(Role::Member)),
    ("GET", "/api/v1/sessions/{id}/shares", Role(Role::Member)),
    ("POST", "/api/v1/sessions/{id}/shares", Role(Role::Member)),
    ("DELETE", "/api/v1/shares/{token}", Role(Role::Member)),
    ("GET", "/api/v1/tokens", Role(Role::Viewer)),
    ("POST", "/api/v1/tokens", Role(Role::Viewer)),
    ("DELETE", "/api/v1/tokens/{id}", Role(Role::Viewer)),
    ("GET", "/metrics", Role(Role::Admin)),
];

/// The admin pages (`ui::ADMIN_PAGES`) and the pages for viewers.
const PAGES: &[(&str, Role)] = &[
    ("/", Role::Viewer),
    ("/insights", Role::Viewer),
    ("/account", Role::Viewer),
];

/// Every `.route("PATH", get(..).post(..))` in the server's source whose
/// path is an API route: `(METHOD, PATH)`.
fn routes_in_source() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = Vec::new();
    for f in files {
        if f.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let src = std::fs::read_to_string(&f).unwrap();
        let mut rest = src.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let args = rest.trim_start();
            let Some(args) = args.strip_prefix('"') else {
                continue;
            };
            let Some(end) = args.find('"') else { continue };
            let path = &args[..end];
            // The call's arguments: up to the matching parenthesis.
            let mut depth = 1;
            let mut call_end = args.len();
            for (j, c) in args.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            call_end = j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let call = &args[end + 1..call_end];
            if !(path.starts_with("/api/") || path == "/metrics") {
                continue;
            }
            for m in ["get", "post", "put", "patch", "delete"] {
                let mut from = 0;
                while let Some(k) = call[from..].find(&format!("{m}(")) {
                    let at = from + k;
                    let before = call[..at].chars().last();
                    if before.is_none_or(|b| !(b.is_alphanumeric() || b == '_')) {
                        found.push((m.to_uppercase(), path.to_owned()));
                    }
                    from = at + m.len();
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_api_route_is_in_the_table() {
    let mut table: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    table.sort();
    let source = routes_in_source();
    let missing: Vec<_> = source.iter().filter(|r| !table.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "routes with no line in access::ROUTES (say who may use them): {missing:?}"
    );
}

/// A request from `addr` (what the server's connection loop attaches).
fn from(mut req: Request<Body>, addr: &str) -> Request<Body> {
    let a: SocketAddr = addr.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(a));
    req
}

impl Server {
    /// A request with a bearer token and a JSON body.
    async fn call(&self, method: &str, path: &str, bearer: Option<&str>, body: &str) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "reel.test")
            .header("content-type", "application/json");
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.send(req.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    /// A request with the sign-in cookie, from `site` (`Sec-Fetch-Site`).
    async fn with_cookie(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        extra: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "reel.test")
            .header("cookie", cookie)
            .header("content-type", "application/json");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    /// Signs in with the API token at `/login`: the cookie to send back.
    pub(super) async fn sign_in_cookie(&self) -> String {
        let r = self
            .login_form(&format!("token={TOKEN}"), "127.0.0.1:1")
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        cookie_of(&r)
    }

    async fn login_form(&self, form: &str, addr: &str) -> Reply {
        let req = Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "reel.test")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(from(req, addr)).await
    }

    async fn login_api(&self, email: &str, password: &str, addr: &str) -> Reply {
        let body = serde_json::json!({ "email": email, "password": password }).to_string();
        let req = Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        self.send(from(req, addr)).await
    }

    /// A new member: their password.
    async fn add_member(&self, email: &str, role: &str) -> String {
        let body = serde_json::json!({ "email": email, "role": role }).to_string();
        let r = self
            .call("POST", "/api/v1/members", Some(TOKEN), &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.json()["role"], role);
        r.json()["password"].as_str().unwrap().to_owned()
    }

    /// A new member, signed in through the API: their sign-in's token.
    async fn member_session(&self, email: &str, role: &str) -> String {
        let pw = self.add_member(email, role).await;
        let r = self.login_api(email, &pw, "127.0.0.1:2").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_owned()
    }

    async fn personal_token(&self, bearer: &str) -> (String, String) {
        let r = self
            .call("POST", "/api/v1/tokens", Some(bearer), r#"{"name": "ci"}"#)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let j = r.json();
        (
            j["token"].as_str().unwrap().to_owned(),
            j["id"].as_str().unwrap().to_owned(),
        )
    }

    async fn audit(&self) -> Vec<Value> {
        let r = self
            .call("GET", "/api/v1/audit?limit=1000", Some(TOKEN), "")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["entries"].as_array().unwrap().clone()
    }
}

/// `name=value` of the response's sign-in cookie.
fn cookie_of(r: &Reply) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("reel_session="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers))
}

/// The concrete path for a routed one.
fn concrete(pattern: &str, session: SessionId) -> String {
    let mut p = pattern.to_owned();
    let id = if pattern.starts_with("/api/v1/sessions/") {
        session.to_string()
    } else if pattern.starts_with("/api/v1/tokens/") {
        "0123456789abcdef".to_owned()
    } else {
        "nosuch".to_owned()
    };
    for (k, v) in [
        ("{id}", id.as_str()),
        ("{token}", &"0".repeat(64)),
        ("{hash}", &"0".repeat(64)),
        ("{email}", "target@example.org"),
        ("{user_id}", "nobody"),
        ("{key}", "nokey"),
        ("{seq}", "0"),
    ] {
        p = p.replace(k, v);
    }
    p
}

/// Routes whose success would end what the rest of the run uses: last.
fn runs_last(method: &str, path: &str) -> u8 {
    match (method, path) {
        ("POST", "/api/v1/auth/logout") => 2,
        ("DELETE", "/api/v1/sessions/{id}") => 1,
        _ => 0,
    }
}

#[tokio::test]
async fn every_route_with_every_role_and_with_none() {
    let s = server();
    let id = sid(40);
    let r = s.ingest(id, 0, chunk(id, 0, T0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    s.add_member("target@example.org", "viewer").await;
    let share = s
        .call(
            "POST",
            &format!("/api/v1/sessions/{id}/shares"),
            Some(TOKEN),
            r#"{"expires_in_s": 600}"#,
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Who asks: (label, bearer, role). Sign-ins and personal tokens of
    // each role, the API token last (it may delete what others use).
    let mut who: Vec<(String, String, Role)> = Vec::new();
    for role in Role::ALL {
        let session = s
            .member_session(&format!("{role}@example.org"), role.as_str())
            .await;
        let (pat, _) = s.personal_token(&session).await;
        who.push((format!("{role} sign-in"), session, role));
        who.push((format!("{role} personal token"), pat, role));
    }
    who.push(("the API token".into(), TOKEN.into(), Role::Admin));

    // Lines for routes this build does not have yet (another change's)
    // are skipped.
    let source = routes_in_source();
    let mut rows: Vec<&(&str, &str, Need)> = ROUTES
        .iter()
        .filter(|(m, p, _)| source.contains(&(m.to_string(), p.to_string())))
        .collect();
    rows.sort_by_key(|(m, p, _)| runs_last(m, p));
    let mut failures = Vec::new();
    for &&(method, pattern, need) in &rows {
        if matches!(need, Open | Ingest) {
            continue;
        }
        let path = concrete(pattern, id);
        // Nobody: 401.
        let r = s.call(method, &path, None, "{}").await;
        if r.status != StatusCode::UNAUTHORIZED {
            failures.push(format!("{method} {path} with nothing: {}", r.status));
        }
        // A wrong token: 401.
        let r = s.call(method, &path, Some("rp_0000"), "{}").await;
        if r.status != StatusCode::UNAUTHORIZED {
            failures.push(format!("{method} {path} with a wrong token: {}", r.status));
        }
        // A share link: its own session's replay, nothing else.
        let r = s.call(method, &path, Some(&share), "{}").await;
        let share_ok = need == ShareOrViewer;
        if share_ok == (r.status == StatusCode::FORBIDDEN || r.status == StatusCode::UNAUTHORIZED) {
            failures.push(format!("{method} {path} with a share link: {}", r.status));
        }
        for (label, bearer, role) in &who {
            let r = s.call(method, &path, Some(bearer), "{}").await;
            let least = match need {
                Role(r) => r,
                _ => Role::Viewer,
            };
            let refused = r.status == StatusCode::FORBIDDEN || r.status == StatusCode::UNAUTHORIZED;
            if *role >= least && refused {
                failures.push(format!(
                    "{method} {path} as {label}: {} {}",
                    r.status,
                    r.text()
                ));
            }
            if *role < least && r.status != StatusCode::FORBIDDEN {
                failures.push(format!(
                    "{method} {path} as {label}: {} (want 403)",
                    r.status
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn pages_by_role() {
    let s = server();
    let viewer = s.member_session("v@example.org", "viewer").await;
    let admin = s.member_session("a@example.org", "admin").await;
    let page = |path: &str, bearer: Option<&str>| {
        let mut req = Request::get(path);
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        s.send(req.body(Body::empty()).unwrap())
    };
    let mut all: Vec<(&str, Role)> = PAGES.to_vec();
    all.extend(
        crate::ui::ADMIN_PAGES
            .iter()
            .map(|(p, _, _)| (*p, Role::Admin)),
    );
    for (path, least) in all {
        let r = page(path, None).await;
        assert!(
            r.text().contains("action=\"/login\""),
            "{path} without a sign-in"
        );
        for (bearer, role) in [(&viewer, Role::Viewer), (&admin, Role::Admin)] {
            let r = page(path, Some(bearer)).await;
            if role < least {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} as {role}");
            } else {
                assert!(!r.text().contains("action=\"/login\""), "{path} as {role}");
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{path} as {role}");
            }
        }
    }
    // The nav lists the admin pages for admins only.
    let me = s
        .call("GET", "/api/v1/auth/me", Some(&admin), "")
        .await
        .json();
    assert_eq!(me["role"], "admin");
    assert_eq!(
        me["admin_pages"].as_array().unwrap().len(),
        crate::ui::ADMIN_PAGES.len()
    );
    let me = s
        .call("GET", "/api/v1/auth/me", Some(&viewer), "")
        .await
        .json();
    assert_eq!(me["admin_pages"], serde_json::json!([]));
}

#[tokio::test]
async fn members_sign_in_with_their_password_and_get_their_role() {
    let s = server();
    let pw = s.add_member(" Ann@Example.org ", "member").await;
    assert_eq!(pw.len(), 24);
    // Emails are kept lowercase; a second add is a conflict.
    let r = s
        .call(
            "POST",
            "/api/v1/members",
            Some(TOKEN),
            r#"{"email": "ann@example.org", "role": "viewer"}"#,
        )
        .await;
    r.assert_json_error(StatusCode::CONFLICT);
    for bad in [
        r#"{"email": "nope", "role": "viewer"}"#,
        r#"{"email": "a@b.org", "role": "root"}"#,
        r#"{"email": "a@b.org"}"#,
        "garbage",
    ] {
        s.call("POST", "/api/v1/members", Some(TOKEN), bad)
            .await
            .assert_json_error(StatusCode::BAD_REQUEST);
    }
    let r = s.login_api("ANN@example.org", &pw, "127.0.0.1:3").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert!(r.json()["expires_at"].is_string());
    let me = s
        .call("GET", "/api/v1/auth/me", Some(&token), "")
        .await
        .json();
    assert_eq!(me["name"], "ann@example.org");
    assert_eq!(me["role"], "member");
    s.login_api("ann@example.org", "wrong", "127.0.0.1:3")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    s.login_api("nobody@example.org", &pw, "127.0.0.1:3")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    // The password is kept hashed, never in clear.
    let m = s.state.store.member("ann@example.org").unwrap().unwrap();
    assert!(m.password_hash.starts_with("$argon2id$"));
    assert!(!m.password_hash.contains(&pw));

    // A role change applies at once; a new password ends old sign-ins.
    let r = s
        .call(
            "PATCH",
            "/api/v1/members/ann@example.org",
            Some(TOKEN),
            r#"{"role": "viewer"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let me = s
        .call("GET", "/api/v1/auth/me", Some(&token), "")
        .await
        .json();
    assert_eq!(me["role"], "viewer");
    let r = s
        .call(
            "POST",
            "/api/v1/members/ann@example.org/password",
            Some(TOKEN),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let pw2 = r.json()["password"].as_str().unwrap().to_owned();
    s.call("GET", "/api/v1/auth/me", Some(&token), "")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    s.login_api("ann@example.org", &pw, "127.0.0.1:3")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.login_api("ann@example.org", &pw2, "127.0.0.1:3")
            .await
            .status,
        StatusCode::OK
    );
    let list = s
        .call("GET", "/api/v1/members", Some(TOKEN), "")
        .await
        .json();
    assert_eq!(list["members"][0]["email"], "ann@example.org");
    assert!(list["members"][0].get("password_hash").is_none());
    assert!(!String::from_utf8_lossy(
        &s.call("GET", "/api/v1/members", Some(TOKEN), "").await.body
    )
    .contains("argon2"));
}

#[tokio::test]
async fn ten_failures_lock_an_account_right_password_or_not() {
    let s = server();
    let pw = s.add_member("bob@example.org", "viewer").await;
    for i in 0..crate::signin::ACCOUNT_FAILURES {
        // From different addresses: it is the account that is locked.
        let r = s
            .login_api("bob@example.org", "guess", &format!("10.0.0.{i}:1"))
            .await;
        r.assert_json_error(StatusCode::UNAUTHORIZED);
    }
    let r = s.login_api("bob@example.org", &pw, "10.0.1.1:1").await;
    r.assert_json_error(StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 14 * 60 && wait <= 15 * 60, "{wait}");
    // The sign-in page says the same.
    let r = s
        .login_form(
            &format!("email=bob%40example.org&password={pw}"),
            "10.0.1.2:1",
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("set-cookie").is_none());
    // Another account is not locked.
    let pw2 = s.add_member("carol@example.org", "viewer").await;
    assert_eq!(
        s.login_api("carol@example.org", &pw2, "10.0.1.1:1")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_cannot_try_every_account() {
    let s = server();
    let pw = s.add_member("dan@example.org", "viewer").await;
    for i in 0..crate::signin::ADDRESS_FAILURES {
        s.login_api(&format!("user{i}@example.org"), "guess", "192.0.2.7:1")
            .await
            .assert_json_error(StatusCode::UNAUTHORIZED);
    }
    s.login_api("dan@example.org", &pw, "192.0.2.7:9")
        .await
        .assert_json_error(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        s.login_api("dan@example.org", &pw, "192.0.2.8:1")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_api_token_at_login_takes_ten_guesses() {
    let s = server();
    for i in 0..crate::signin::ACCOUNT_FAILURES {
        let r = s
            .login_form(&format!("token=guess{i}"), &format!("10.1.0.{i}:1"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = s.login_form(&format!("token={TOKEN}"), "10.1.1.1:1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
    // The bearer token is not a sign-in: it still works.
    assert_eq!(s.get("/api/v1/sessions").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cookie_changes_must_come_from_this_origin() {
    let s = server();
    let id = sid(41);
    assert_eq!(
        s.ingest(id, 0, chunk(id, 0, T0)).await.status,
        StatusCode::OK
    );
    let cookie = s.sign_in_cookie().await;
    let path = format!("/api/v1/sessions/{id}/comments");
    let body = r#"{"t": 0, "text": "hi"}"#;
    for (what, extra) in [
        ("another site", vec![("sec-fetch-site", "cross-site")]),
        ("a sibling subdomain", vec![("sec-fetch-site", "same-site")]),
        ("another origin", vec![("origin", "http://evil.example")]),
        ("no origin at all", vec![]),
    ] {
        let r = s.with_cookie("POST", &path, &cookie, &extra, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
        let r = s
            .with_cookie(
                "DELETE",
                &format!("/api/v1/sessions/{id}"),
                &cookie,
                &extra,
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: delete");
    }
    let comments = s.get(&path).await.json();
    assert_eq!(
        comments["comments"],
        serde_json::json!([]),
        "nothing was posted"
    );
    // From the server's own pages: fine.
    for extra in [
        vec![("sec-fetch-site", "same-origin")],
        vec![("origin", "http://reel.test")],
    ] {
        let r = s.with_cookie("POST", &path, &cookie, &extra, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // Reads need no proof.
    let r = s
        .with_cookie(
            "GET",
            &path,
            &cookie,
            &[("sec-fetch-site", "cross-site")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A bearer token is not cookie-borne: no origin needed.
    let r = s.call("POST", &path, Some(TOKEN), body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Nor can another site sign a visitor in.
    let req = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(format!("token={TOKEN}")))
        .unwrap();
    let r = s.send(from(req, "127.0.0.1:5")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.header("set-cookie").is_none());
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let s = server();
    let cookie = s.sign_in_cookie().await;
    let r = s
        .with_cookie("GET", "/api/v1/sessions", &cookie, &[], "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Another origin cannot sign anyone out.
    let r = s
        .with_cookie(
            "POST",
            "/logout",
            &cookie,
            &[("sec-fetch-site", "cross-site")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .with_cookie(
            "POST",
            "/logout",
            &cookie,
            &[("sec-fetch-site", "same-origin")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The same cookie, kept by an attacker, opens nothing now.
    let r = s
        .with_cookie("GET", "/api/v1/sessions", &cookie, &[], "")
        .await;
    r.assert_json_error(StatusCode::UNAUTHORIZED);
    let r = s.with_cookie("GET", "/", &cookie, &[], "").await;
    assert!(r.text().contains("action=\"/login\""));

    // The API's sign-in token too.
    let token = s.member_session("eve@example.org", "viewer").await;
    let r = s
        .call("POST", "/api/v1/auth/logout", Some(&token), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    s.call("GET", "/api/v1/sessions", Some(&token), "")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn personal_tokens_are_scoped_shown_once_and_revocable() {
    let s = server();
    let viewer = s.member_session("fay@example.org", "viewer").await;
    let (pat, pat_id) = s.personal_token(&viewer).await;
    assert!(pat.starts_with("rp_") && pat.len() == 67);
    // Scoped to the owner's role.
    assert_eq!(
        s.call("GET", "/api/v1/sessions", Some(&pat), "")
            .await
            .status,
        StatusCode::OK
    );
    s.call(
        "DELETE",
        &format!("/api/v1/sessions/{}", sid(1)),
        Some(&pat),
        "",
    )
    .await
    .assert_json_error(StatusCode::FORBIDDEN);
    // Listed without the secret; another member cannot see or revoke it.
    let list = s.call("GET", "/api/v1/tokens", Some(&viewer), "").await;
    assert!(!list.text().contains(&pat[3..]), "the token is shown once");
    assert_eq!(list.json()["tokens"][0]["id"], pat_id.as_str());
    let other = s.member_session("gus@example.org", "member").await;
    let list = s
        .call("GET", "/api/v1/tokens", Some(&other), "")
        .await
        .json();
    assert_eq!(list["tokens"], serde_json::json!([]));
    s.call(
        "DELETE",
        &format!("/api/v1/tokens/{pat_id}"),
        Some(&other),
        "",
    )
    .await
    .assert_json_error(StatusCode::NOT_FOUND);
    // Stored as its hash only.
    let key = crate::config::token_hash(&pat);
    assert!(s.state.store.token(&key).unwrap().is_some());
    // Revoked: dead at once.
    let r = s
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{pat_id}"),
            Some(&viewer),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    s.call("GET", "/api/v1/sessions", Some(&pat), "")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    // Removing a member ends their tokens and sign-ins.
    let (pat2, _) = s.personal_token(&viewer).await;
    let r = s
        .call("DELETE", "/api/v1/members/fay@example.org", Some(TOKEN), "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for t in [&pat2, &viewer] {
        s.call("GET", "/api/v1/sessions", Some(t), "")
            .await
            .assert_json_error(StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_audit_log_says_who_did_what_when_and_from_where() {
    let s = server();
    let id = sid(42);
    assert_eq!(
        s.ingest(id, 0, chunk(id, 0, T0)).await.status,
        StatusCode::OK
    );
    let pw = s.add_member("hal@example.org", "member").await;
    s.login_api("hal@example.org", "wrong", "198.51.100.4:1")
        .await;
    let token = s
        .login_api("hal@example.org", &pw, "198.51.100.4:1")
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two reads of the chunks are one view.
    for _ in 0..2 {
        let req = Request::get(format!("/api/v1/sessions/{id}/chunks"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            s.send(from(req, "198.51.100.4:1")).await.status,
            StatusCode::OK
        );
    }
    let r = s
        .call(
            "POST",
            &format!("/api/v1/sessions/{id}/shares"),
            Some(&token),
            r#"{"expires_in_s": 60}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s
        .call("DELETE", &format!("/api/v1/sessions/{id}"), Some(TOKEN), "")
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let entries = s.audit().await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "delete",
            "share",
            "view",
            "login",
            "login_failed",
            "member_add"
        ],
        "newest first: {entries:#?}"
    );
    let by = |a: &str| entries.iter().find(|e| e["action"] == a).unwrap().clone();
    assert_eq!(by("view")["actor"], "hal@example.org");
    assert_eq!(by("view")["session_id"], id.to_string());
    assert_eq!(by("view")["address"], "198.51.100.4");
    assert_eq!(by("login_failed")["actor"], "hal@example.org");
    assert_eq!(by("delete")["actor"], "admin");
    assert_eq!(by("member_add")["detail"], "hal@example.org as member");
    assert!(by("share")["at"].as_str().unwrap().ends_with('Z'));
    // Admins only; `since` and `limit` bound it.
    s.call("GET", "/api/v1/audit", Some(&token), "")
        .await
        .assert_json_error(StatusCode::FORBIDDEN);
    let r = s
        .call("GET", "/api/v1/audit?limit=2", Some(TOKEN), "")
        .await
        .json();
    assert_eq!(r["entries"].as_array().unwrap().len(), 2);
    let next = r["next_cursor"].as_str().unwrap().to_owned();
    let r = s
        .call(
            "GET",
            &format!("/api/v1/audit?limit=10&cursor={next}"),
            Some(TOKEN),
            "",
        )
        .await
        .json();
    assert_eq!(r["entries"][0]["action"], "view");
    let r = s
        .call(
            "GET",
            "/api/v1/audit?since=2999-01-01T00:00:00Z",
            Some(TOKEN),
            "",
        )
        .await
        .json();
    assert_eq!(r["entries"], serde_json::json!([]));
    for bad in ["limit=0", "limit=x", "since=yesterday", "cursor=zz"] {
        s.call("GET", &format!("/api/v1/audit?{bad}"), Some(TOKEN), "")
            .await
            .assert_json_error(StatusCode::BAD_REQUEST);
    }
    // The session is gone, its audit entries stay (append-only).
    assert_eq!(s.state.store.session_key_count().unwrap(), 0);
}

#[tokio::test]
async fn secure_cookies_behind_a_trusted_proxy_only() {
    let mut s = server();
    let mut st = AppState::new(
        s.state.store.clone(),
        Auth::new(vec![KEY.into()], TOKEN.into()),
        IngestLimits::default(),
        0,
    );
    st.access.trusted_proxies = crate::client::TrustedProxies(vec!["10.9.0.0/16".parse().unwrap()]);
    s.state = Arc::new(st);
    s.app = app(s.state.clone());
    let login = |addr: &'static str| {
        let req = Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-for", "203.0.113.50")
            .body(Body::from(format!("token={TOKEN}")))
            .unwrap();
        s.send(from(req, addr))
    };
    let r = login("10.9.0.1:1").await;
    let c = r.header("set-cookie").unwrap().to_owned();
    assert!(c.contains("; Secure"), "{c}");
    let r = login("198.51.100.1:1").await;
    let c = r.header("set-cookie").unwrap().to_owned();
    assert!(!c.contains("Secure"), "a stranger's X-Forwarded-Proto: {c}");
    // The audit names the client the proxy forwarded, not the proxy.
    let entries = s.audit().await;
    assert_eq!(entries[1]["action"], "login");
    assert_eq!(entries[1]["address"], "203.0.113.50");
    assert_eq!(entries[0]["address"], "198.51.100.1");
}
