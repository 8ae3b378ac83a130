//! Comments and share links (contract §7) over HTTP, on both backends (the
//! segment log with sled, and the in-memory one).

use super::*;

/// A session 1 000 ms long (see `chunk`).
async fn one_session(s: &Server, id: SessionId) {
    let r = s.ingest(id, 0, chunk(id, 0, T0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

impl Server {
    async fn send_json(&self, method: Method, path: &str, auth: Option<&str>, body: &str) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("host", "reel.test:7070");
        if let Some(a) = auth {
            req = req.header("authorization", format!("Bearer {a}"));
        }
        self.send(req.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    async fn comment(&self, id: SessionId, body: &str) -> Reply {
        self.send_json(
            Method::POST,
            &format!("/api/v1/sessions/{id}/comments"),
            Some(TOKEN),
            body,
        )
        .await
    }

    async fn share(&self, id: SessionId, body: &str) -> Reply {
        self.send_json(
            Method::POST,
            &format!("/api/v1/sessions/{id}/shares"),
            Some(TOKEN),
            body,
        )
        .await
    }

    /// A request carrying a share token as a bearer token.
    async fn with_share(&self, method: Method, path: &str, token: &str) -> Reply {
        self.send_json(method, path, Some(token), "{}").await
    }
}

async fn comments_round_trip(s: &Server) {
    let id = sid(0x41);
    one_session(s, id).await;
    let path = format!("/api/v1/sessions/{id}/comments");
    assert_eq!(
        s.get(&path).await.json(),
        serde_json::json!({"comments": []})
    );

    let r = s
        .comment(
            id,
            r#"{"t": 500, "text": "  checkout button does nothing \n"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let c = r.json();
    assert_eq!(c["t"], 500);
    assert_eq!(c["text"], "checkout button does nothing");
    assert_eq!(c["author"], "admin");
    assert_eq!(c["id"].as_str().unwrap().len(), 32);
    assert!(c["at"].as_str().unwrap().ends_with('Z'), "{c}");
    for (t, text) in [
        (100, "first"),
        (1_000, "at the very end"),
        (0, "at the start"),
    ] {
        let r = s
            .comment(id, &serde_json::json!({"t": t, "text": text}).to_string())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let list = s.get(&path).await.json();
    let got: Vec<(u64, &str)> = list["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["t"].as_u64().unwrap(), c["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (0, "at the start"),
            (100, "first"),
            (500, "checkout button does nothing"),
            (1_000, "at the very end"),
        ]
    );
    for c in list["comments"].as_array().unwrap() {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{c}");
        for k in ["id", "t", "text", "author", "at"] {
            assert!(c.get(k).is_some(), "{k} in {c}");
        }
    }

    // Bad input: 400 with a JSON error, and nothing stored.
    let long = "x".repeat(2_001);
    let at_max = "é".repeat(2_000);
    for bad in [
        r#"{"t": 1001, "text": "after the end"}"#.to_string(),
        r#"{"t": -1, "text": "before the start"}"#.to_string(),
        r#"{"t": 1.5, "text": "half"}"#.to_string(),
        r#"{"t": 10, "text": "   "}"#.to_string(),
        r#"{"t": 10, "text": ""}"#.to_string(),
        format!(r#"{{"t": 10, "text": "{long}"}}"#),
        r#"{"t": 10}"#.to_string(),
        r#"{"text": "no time"}"#.to_string(),
        r#"{"t": 10, "text": "x", "extra": 1}"#.to_string(),
        "not json".to_string(),
        "[]".to_string(),
    ] {
        s.comment(id, &bad)
            .await
            .assert_json_error(StatusCode::BAD_REQUEST);
    }
    let r = s
        .comment(id, &serde_json::json!({"t": 1, "text": at_max}).to_string())
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "2 000 characters are allowed"
    );
    assert_eq!(
        s.get(&path).await.json()["comments"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    s.comment(sid(0x42), r#"{"t": 1, "text": "x"}"#)
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    s.get(&format!("/api/v1/sessions/{}/comments", sid(0x42)))
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    s.get("/api/v1/sessions/nope/comments")
        .await
        .assert_json_error(StatusCode::BAD_REQUEST);
    s.get_anon(&path)
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    s.send_json(Method::POST, &path, None, r#"{"t": 1, "text": "x"}"#)
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn comments_are_added_listed_in_time_order_and_validated() {
    comments_round_trip(&server()).await;
}

#[tokio::test]
async fn comments_work_on_the_other_backend() {
    comments_round_trip(&mem_server().0).await;
}

/// Every way to use a share token beyond reading its own session's replay
/// is refused, whether it comes as a bearer token or as the cookie.
async fn assert_share_opens_only(s: &Server, token: &str, own: SessionId, other: SessionId) {
    let ok = [
        format!("/api/v1/sessions/{own}"),
        format!("/api/v1/sessions/{own}/events"),
        format!("/api/v1/sessions/{own}/chunks"),
        format!("/api/v1/sessions/{own}/comments"),
    ];
    for path in &ok {
        let r = s.with_share(Method::GET, path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        let cookie = Request::get(path.as_str())
            .header("cookie", format!("theme=x; reel_share={token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(s.send(cookie).await.status, StatusCode::OK, "{path}");
    }
    let refused = [
        (Method::GET, "/api/v1/sessions".to_string()),
        (Method::GET, "/api/v1/sessions?url=cart".to_string()),
        (Method::GET, format!("/api/v1/sessions/{other}")),
        (Method::GET, format!("/api/v1/sessions/{other}/events")),
        (Method::GET, format!("/api/v1/sessions/{other}/chunks")),
        (Method::GET, format!("/api/v1/sessions/{other}/comments")),
        (Method::DELETE, format!("/api/v1/sessions/{own}")),
        (Method::POST, format!("/api/v1/sessions/{own}/comments")),
        (Method::POST, format!("/api/v1/sessions/{own}/shares")),
        (Method::DELETE, format!("/api/v1/shares/{token}")),
        (Method::GET, "/metrics".to_string()),
    ];
    for (method, path) in &refused {
        let r = s.with_share(method.clone(), path, token).await;
        assert!(
            r.status == StatusCode::FORBIDDEN || r.status == StatusCode::UNAUTHORIZED,
            "{method} {path} with a share token: {} {}",
            r.status,
            r.text()
        );
        assert!(r.json()["error"].is_string());
        let cookie = Request::builder()
            .method(method.clone())
            .uri(path.as_str())
            .header("cookie", format!("reel_share={token}"))
            .body(Body::empty())
            .unwrap();
        let r = s.send(cookie).await;
        assert!(
            r.status == StatusCode::FORBIDDEN || r.status == StatusCode::UNAUTHORIZED,
            "{method} {path} with the share cookie: {}",
            r.status
        );
    }
    // Pages: the list and other sessions' players stay closed.
    let list = s
        .send(
            Request::get(format!("/?share={token}"))
                .header("cookie", format!("reel_share={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(list.text().contains("action=\"/login\""), "the list opened");
    let other_page = s
        .get_anon(&format!("/sessions/{other}?share={token}"))
        .await;
    assert_eq!(other_page.status, StatusCode::FORBIDDEN);
    assert!(other_page.header("set-cookie").is_none());
    // Its own player page opens, and sets the cookie for its API alone.
    let page = s.get_anon(&format!("/sessions/{own}?share={token}")).await;
    assert_ne!(page.status, StatusCode::FORBIDDEN);
    let cookie = page.header("set-cookie").expect("a share cookie");
    assert!(
        cookie.starts_with(&format!("reel_share={token};")),
        "{cookie}"
    );
    assert!(
        cookie.contains(&format!("Path=/api/v1/sessions/{own};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age="),
        "{cookie}"
    );
}

async fn shares_round_trip(s: &Server) {
    let (own, other) = (sid(0x51), sid(0x52));
    one_session(s, own).await;
    one_session(s, other).await;
    for bad in [
        r#"{"expires_in_s": 59}"#,
        r#"{"expires_in_s": 2592001}"#,
        r#"{"expires_in_s": -60}"#,
        r#"{"expires_in_s": 1e9}"#,
        r#"{"expires_in_s": "3600"}"#,
        r#"{}"#,
        "nope",
    ] {
        s.share(own, bad)
            .await
            .assert_json_error(StatusCode::BAD_REQUEST);
    }
    s.share(sid(0x53), r#"{"expires_in_s": 3600}"#)
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    s.send_json(
        Method::POST,
        &format!("/api/v1/sessions/{own}/shares"),
        None,
        r#"{"expires_in_s": 3600}"#,
    )
    .await
    .assert_json_error(StatusCode::UNAUTHORIZED);

    let r = s.share(own, r#"{"expires_in_s": 2592000}"#).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let made = r.json();
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert_eq!(
        made["id"],
        crate::support::share_id(&crate::support::share_key(&token))
    );
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        made["url"],
        format!("http://reel.test:7070/sessions/{own}?share={token}")
    );
    let expires = crate::index::parse_rfc3339_ms(made["expires_at"].as_str().unwrap()).unwrap();
    let in_30_days = crate::store::now_ms() + 30 * 86_400_000;
    assert!(expires <= in_30_days && expires + 60_000 > in_30_days);
    // Kept as its hash only.
    let key = crate::support::share_key(&token);
    assert!(s.state.store.share(&key).unwrap().is_some());

    assert_share_opens_only(s, &token, own, other).await;

    // A second link for the same session; revoking one leaves the other.
    let second = s.share(own, r#"{"expires_in_s": 60}"#).await.json();
    let second = second["token"].as_str().unwrap().to_string();
    // Both are listed, newest first, by id (never by token).
    let listed = s.get(&format!("/api/v1/sessions/{own}/shares")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let listed = listed.json();
    let ids: Vec<&str> = listed["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(!listed.to_string().contains(&token) && !listed.to_string().contains(&second));
    assert!(ids.contains(&crate::support::share_id(&key).as_str()));
    assert_eq!(listed["shares"][0]["created_by"], "admin");
    s.get(&format!("/api/v1/sessions/{}/shares", sid(0x53)))
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    s.with_share(
        Method::GET,
        &format!("/api/v1/sessions/{own}/shares"),
        &token,
    )
    .await
    .assert_json_error(StatusCode::FORBIDDEN);
    // A third, revoked by its id.
    let third = s.share(own, r#"{"expires_in_s": 60}"#).await.json();
    let third = third["token"].as_str().unwrap().to_string();
    let third_id = crate::support::share_id(&crate::support::share_key(&third));
    let r = s
        .send_json(
            Method::DELETE,
            &format!("/api/v1/shares/{third_id}"),
            Some(TOKEN),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    s.with_share(Method::GET, &format!("/api/v1/sessions/{own}"), &third)
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    let del = |t: &str| {
        let t = t.to_string();
        async move {
            s.send_json(
                Method::DELETE,
                &format!("/api/v1/shares/{t}"),
                Some(TOKEN),
                "",
            )
            .await
        }
    };
    let r = del(&token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"revoked": true}));
    del(&token).await.assert_json_error(StatusCode::NOT_FOUND);
    del("short")
        .await
        .assert_json_error(StatusCode::BAD_REQUEST);
    s.with_share(Method::GET, &format!("/api/v1/sessions/{own}"), &token)
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.get_anon(&format!("/sessions/{own}?share={token}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.with_share(Method::GET, &format!("/api/v1/sessions/{own}"), &second)
            .await
            .status,
        StatusCode::OK
    );

    // An expired link opens nothing (made directly in the store: the
    // shortest link the API makes lives a minute).
    let expired = crate::support::new_share_token().unwrap();
    let now = crate::store::now_ms();
    let share = crate::support::Share {
        session: own,
        created_at: now - 120_000,
        expires_at: now - 1,
        created_by: "admin".into(),
    };
    assert!(s
        .state
        .store
        .put_share(&crate::support::share_key(&expired), &share)
        .unwrap());
    for path in [
        format!("/api/v1/sessions/{own}"),
        format!("/api/v1/sessions/{own}/chunks"),
    ] {
        s.with_share(Method::GET, &path, &expired)
            .await
            .assert_json_error(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        s.get_anon(&format!("/sessions/{own}?share={expired}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_share_link_opens_one_session_until_revoked_or_expired() {
    shares_round_trip(&server()).await;
}

#[tokio::test]
async fn share_links_work_on_the_other_backend() {
    shares_round_trip(&mem_server().0).await;
}

/// Deleting a session deletes its comments and share links: no key is
/// left, and the link opens nothing.
async fn delete_takes_comments_and_shares(s: &Server) {
    let (id, kept) = (sid(0x61), sid(0x62));
    one_session(s, id).await;
    one_session(s, kept).await;
    let before = s.state.store.session_key_count().unwrap();
    for sess in [id, kept] {
        for t in [1, 2] {
            let r = s
                .comment(sess, &serde_json::json!({"t": t, "text": "c"}).to_string())
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
    }
    let token = s.share(id, r#"{"expires_in_s": 600}"#).await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let kept_token = s.share(kept, r#"{"expires_in_s": 600}"#).await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(s.state.store.session_key_count().unwrap() > before);
    let r = s
        .send(
            bearer(Request::delete(format!("/api/v1/sessions/{id}")))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(s.state.store.comments(&id).unwrap().is_empty());
    assert!(s
        .state
        .store
        .share(&crate::support::share_key(&token))
        .unwrap()
        .is_none());
    s.with_share(Method::GET, &format!("/api/v1/sessions/{id}"), &token)
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    // The other session keeps its own.
    assert_eq!(s.state.store.comments(&kept).unwrap().len(), 2);
    assert_eq!(
        s.with_share(
            Method::GET,
            &format!("/api/v1/sessions/{kept}"),
            &kept_token
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = s
        .send(
            bearer(Request::delete(format!("/api/v1/sessions/{kept}")))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.state.store.session_key_count().unwrap(), 0);
}

#[tokio::test]
async fn deleting_a_session_deletes_its_comments_and_shares() {
    delete_takes_comments_and_shares(&server()).await;
}

#[tokio::test]
async fn deleting_takes_comments_and_shares_on_the_other_backend() {
    delete_takes_comments_and_shares(&mem_server().0).await;
}
