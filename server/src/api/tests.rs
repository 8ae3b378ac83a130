//! HTTP-level tests against the real router and the real store: the
//! segment log and sled index in a temp dir, or, with
//! `REEL_TEST_LAYOUT=distributed` (the second run of `cargo xtask test`),
//! PostgreSQL and an S3 bucket (a fresh database and bucket per server,
//! from `reel-testsvc`). Every test below runs on both layouts; the ones
//! on the in-memory backend (`mem_server`) test the HTTP layer over a
//! backend's failures and run the same either way.

use super::*;
use crate::store::Store;
use crate::validate::IngestLimits;
use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Method, Request};
use reel_shared::{
    encode_chunk, Custom, Event, EventData, Identify, Meta, MouseInteraction, MouseKind, SessionId,
};
use serde_json::Value;
use tower::ServiceExt;

const KEY: &str = "test-ingest-key";
const KEY2: &str = "test-ingest-key-2";
const TOKEN: &str = "test-api-token";

struct Server {
    _dir: tempfile::TempDir,
    state: SharedState,
    app: Router,
}

fn server() -> Server {
    server_with(IngestLimits::default(), 0)
}

/// Whether the tests run on the distributed layout (`REEL_TEST_LAYOUT=distributed`).
fn distributed() -> bool {
    std::env::var("REEL_TEST_LAYOUT").is_ok_and(|v| v == "distributed")
}

/// A test server's store, kept in `dir`: the embedded layout there, or on
/// the distributed layout a fresh PostgreSQL database and S3 bucket whose
/// URLs are written in `dir`, so that opening `dir` again (a restart)
/// opens the same deployment.
fn open_store(dir: &std::path::Path) -> Store {
    if !distributed() {
        return Store::open(dir).unwrap();
    }
    // What a 500 was, in the failing test's output.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let file = dir.join("deployment.txt");
    let (db, bucket) = match std::fs::read_to_string(&file) {
        Ok(urls) => {
            let (db, bucket) = urls.split_once('\n').unwrap();
            (db.to_owned(), bucket.to_owned())
        }
        Err(_) => {
            let db = reel_testsvc::postgres().create_database();
            let bucket = reel_testsvc::s3().create_bucket();
            std::fs::write(&file, format!("{db}\n{bucket}")).unwrap();
            (db, bucket)
        }
    };
    let d = crate::store::dist::DistStorage::open_with_env(&bucket, &db, &reel_testsvc::s3().env())
        .unwrap();
    Store::new(Arc::new(d))
}

fn server_with(limits: IngestLimits, new_sessions_per_minute: u32) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let state = Arc::new(AppState::new(
        store,
        Auth::new(vec![KEY.into(), KEY2.into()], TOKEN.into()),
        limits,
        new_sessions_per_minute,
    ));
    Server {
        _dir: dir,
        state: state.clone(),
        app: app(state),
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: not JSON: {}", String::from_utf8_lossy(&self.body));
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The 4xx contract: a JSON body with an `error` string.
    fn assert_json_error(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.text());
        assert!(self
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json"));
        assert!(self.json()["error"].is_string(), "{}", self.text());
    }
}

impl Server {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn ingest_with(&self, path: &str, key: Option<&str>, body: Vec<u8>) -> Reply {
        let mut req = Request::post(path).header("content-type", "application/octet-stream");
        if let Some(k) = key {
            req = req.header("x-reel-key", k);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    async fn ingest(&self, id: SessionId, seq: u32, chunk: Vec<u8>) -> Reply {
        self.ingest_with(
            &format!("/api/v1/sessions/{id}/chunks/{seq}"),
            Some(KEY),
            chunk,
        )
        .await
    }

    async fn get(&self, path: &str) -> Reply {
        let req = Request::get(path).header("authorization", format!("Bearer {TOKEN}"));
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn get_anon(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }
}

fn sid(n: u8) -> SessionId {
    SessionId([n; 16])
}

fn events(t0: u64, url: &str, user: Option<&str>, clicks: usize) -> Vec<Event> {
    let mut ev = vec![Event {
        t: t0,
        data: EventData::Meta(Meta {
            href: url.into(),
            title: "t".into(),
            width: 800,
            height: 600,
            user_agent: "TestAgent/1".into(),
            referrer: None,
            visitor_id: None,
            new_visitor: None,
        }),
    }];
    for i in 0..clicks {
        ev.push(Event {
            t: t0 + 10 * (i as u64 + 1),
            data: EventData::Mouse(MouseInteraction {
                kind: MouseKind::Click,
                id: 1,
                x: 1,
                y: 2,
                label: None,
                selector: None,
                box_x: None,
                box_y: None,
            }),
        });
    }
    if let Some(u) = user {
        ev.push(Event {
            t: t0 + 500,
            data: EventData::Identify(Identify {
                user_id: u.into(),
                traits: None,
            }),
        });
    }
    ev.push(Event {
        t: t0 + 1_000,
        data: EventData::Custom(Custom {
            name: "done".into(),
            data: None,
        }),
    });
    ev
}

fn chunk(id: SessionId, seq: u32, t0: u64) -> Vec<u8> {
    encode_chunk(
        id,
        seq,
        &events(t0, "https://shop.example/cart", Some("alice"), 2),
    )
    .unwrap()
}

const T0: u64 = 1_714_564_800_000; // 2024-05-01T12:00:00Z

#[tokio::test]
async fn a_valid_chunk_is_stored_listed_and_readable() {
    let s = server();
    let id = sid(0xab);
    let c0 = chunk(id, 0, T0);
    let r = s.ingest(id, 0, c0.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"ok": true, "duplicate": false})
    );
    let r = s.ingest(id, 0, c0.clone()).await;
    assert_eq!(r.json(), serde_json::json!({"ok": true, "duplicate": true}));
    let c1 = encode_chunk(
        id,
        1,
        &events(T0 + 2_000, "https://shop.example/pay", None, 1),
    )
    .unwrap();
    assert_eq!(s.ingest(id, 1, c1.clone()).await.status, StatusCode::OK);

    let list = s.get("/api/v1/sessions").await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    assert_eq!(list["next_cursor"], Value::Null);
    let item = &list["sessions"][0];
    assert_eq!(item["id"], id.to_string());
    assert_eq!(item["started_at"], "2024-05-01T12:00:00.000Z");
    assert_eq!(item["ended_at"], "2024-05-01T12:00:03.000Z");
    assert_eq!(item["duration_ms"], 3_000);
    assert_eq!(
        item["urls"],
        serde_json::json!(["https://shop.example/cart", "https://shop.example/pay"])
    );
    assert_eq!(item["user_id"], "alice");
    assert_eq!(item["user_agent"], "TestAgent/1");
    assert_eq!(item["event_count"], 5 + 3, "the duplicate is not counted");
    assert_eq!(item["click_count"], 3);
    assert_eq!(item["error_count"], 0);
    assert_eq!(item["chunks"], 2);
    assert_eq!(item["bytes"], c0.len() + c1.len());

    let one = s.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(&one.json(), item);

    let ev = s.get(&format!("/api/v1/sessions/{id}/events")).await;
    assert_eq!(ev.status, StatusCode::OK);
    let ev = ev.json();
    let ev = ev.as_array().unwrap();
    assert_eq!(ev.len(), 8);
    assert_eq!(ev[0]["t"], T0);
    assert_eq!(ev[0]["data"]["Meta"]["href"], "https://shop.example/cart");
    assert_eq!(ev[7]["data"]["Custom"]["name"], "done");
    assert_eq!(ev[7]["t"], T0 + 3_000);

    let raw = s.get(&format!("/api/v1/sessions/{id}/chunks")).await;
    assert_eq!(raw.header("content-type"), Some("application/octet-stream"));
    let mut expect = Vec::new();
    for c in [&c0, &c1] {
        expect.extend_from_slice(&(c.len() as u32).to_le_bytes());
        expect.extend_from_slice(c);
    }
    assert_eq!(raw.body, expect);
    let from1 = s.get(&format!("/api/v1/sessions/{id}/chunks?from=1")).await;
    assert_eq!(from1.body, expect[4 + c0.len()..]);
    s.get(&format!("/api/v1/sessions/{id}/chunks?from=x"))
        .await
        .assert_json_error(StatusCode::BAD_REQUEST);
}

/// The recorder compresses a big chunk a frame at a time: a body of several
/// zstd frames is ingested and read back whole; bytes after the frames that
/// are not a frame are still refused.
#[tokio::test]
async fn a_chunk_of_several_frames_is_accepted() {
    let s = server();
    let id = sid(0xcd);
    let mut enc = reel_shared::ChunkEncoder::new(id, 0);
    let mut evs = events(T0, "https://shop.example/big", None, 1);
    for i in 0..40u64 {
        evs.push(Event {
            t: T0 + 10 + i,
            data: EventData::Custom(Custom {
                name: format!("{i} {}", "filler text ".repeat(1_000)),
                data: None,
            }),
        });
    }
    for e in &evs {
        enc.push(e).unwrap();
        while enc.compress_some() {}
    }
    let bytes = enc.finish().unwrap();
    let frames = |b: &[u8]| {
        b.windows(4)
            .filter(|w| *w == reel_shared::chunk::ZSTD_MAGIC)
            .count()
    };
    // The recorder's encoder writes two: the array header's, then the
    // events' (compressed a block at a time).
    assert!(frames(&bytes) >= 2, "{} frames", frames(&bytes));
    let r = s.ingest(id, 0, bytes.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ev = s.get(&format!("/api/v1/sessions/{id}/events")).await.json();
    assert_eq!(ev.as_array().map(Vec::len), Some(evs.len()));
    assert_eq!(
        ev[evs.len() - 1]["data"]["Custom"]["name"]
            .as_str()
            .map(|n| n.starts_with("39 ")),
        Some(true)
    );
    // Any split is valid zstd: the same content in four frames, cut
    // mid-event, as another encoder might write it.
    let id2 = sid(0xce);
    let whole = reel_shared::encode_chunk(id2, 0, &evs).unwrap();
    let limits = reel_shared::Limits::default();
    let (_, body) = reel_shared::decode_header(&whole, &limits).unwrap();
    let plain = reel_shared::chunk::decompress_body(body, &limits).unwrap();
    let mut split = whole[..whole.len() - body.len()].to_vec();
    let cuts = [0, 1, plain.len() / 3, plain.len() / 2 + 7, plain.len()];
    for w in cuts.windows(2) {
        split.extend_from_slice(&reel_shared::zstd::compress(&plain[w[0]..w[1]]));
    }
    assert_eq!(frames(&split), 4);
    let r = s.ingest(id2, 0, split).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ev = s
        .get(&format!("/api/v1/sessions/{id2}/events"))
        .await
        .json();
    assert_eq!(ev.as_array().map(Vec::len), Some(evs.len()));
    let mut trailing = bytes;
    trailing.extend_from_slice(b"junk");
    s.ingest(id, 1, trailing)
        .await
        .assert_json_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_ingest_gets_json_4xx_and_the_server_keeps_going() {
    let s = server();
    let id = sid(1);
    let good = chunk(id, 0, T0);
    let path = format!("/api/v1/sessions/{id}/chunks/0");

    let mut wrong_version = good.clone();
    wrong_version[4] = 99;
    let mut bad_zstd = good.clone();
    let n = bad_zstd.len();
    bad_zstd[n - 6..].copy_from_slice(&[0xff; 6]);
    let mut huge_header = good.clone();
    huge_header[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("empty", vec![], StatusCode::BAD_REQUEST),
        (
            "garbage",
            b"definitely not a chunk".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("magic only", b"REEL".to_vec(), StatusCode::BAD_REQUEST),
        ("wrong version", wrong_version, StatusCode::BAD_REQUEST),
        ("corrupt body", bad_zstd, StatusCode::BAD_REQUEST),
        ("huge header length", huge_header, StatusCode::BAD_REQUEST),
        (
            "other session",
            chunk(sid(2), 0, T0),
            StatusCode::BAD_REQUEST,
        ),
        ("other seq", chunk(id, 1, T0), StatusCode::BAD_REQUEST),
        (
            "oversized",
            vec![0u8; 8 * 1024 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, body, status) in cases {
        let r = s.ingest_with(&path, Some(KEY), body).await;
        assert_eq!(r.status, status, "{name}: {}", r.text());
        r.assert_json_error(status);
    }
    for bad_path in [
        "/api/v1/sessions/nothex/chunks/0".to_string(),
        format!("/api/v1/sessions/{}/chunks/0", "AB".repeat(16)),
        format!("/api/v1/sessions/{id}/chunks/-1"),
        format!("/api/v1/sessions/{id}/chunks/10000000"),
        format!("/api/v1/sessions/{id}/chunks/99999999999"),
    ] {
        s.ingest_with(&bad_path, Some(KEY), good.clone())
            .await
            .assert_json_error(StatusCode::BAD_REQUEST);
    }
    s.ingest_with(&path, None, good.clone())
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    s.ingest_with(&path, Some("wrong"), good.clone())
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    s.ingest_with(&path, Some(TOKEN), good.clone())
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    let r = s.get(&path).await;
    r.assert_json_error(StatusCode::METHOD_NOT_ALLOWED);

    // Nothing was stored by any of that...
    assert_eq!(
        s.get("/api/v1/sessions").await.json()["sessions"],
        serde_json::json!([])
    );
    // ...and the server still works, the key also accepted as a query param.
    let r = s
        .ingest_with(&format!("{path}?key={KEY}"), None, good)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(s.get_anon("/healthz").await.text(), "ok");
}

#[tokio::test]
async fn the_read_api_needs_the_token() {
    let s = server();
    let id = sid(3);
    assert_eq!(
        s.ingest(id, 0, chunk(id, 0, T0)).await.status,
        StatusCode::OK
    );
    let session = s.sign_in_cookie().await;
    for path in [
        "/api/v1/sessions".to_string(),
        format!("/api/v1/sessions/{id}"),
        format!("/api/v1/sessions/{id}/events"),
        format!("/api/v1/sessions/{id}/chunks"),
    ] {
        let r = s.get_anon(&path).await;
        r.assert_json_error(StatusCode::UNAUTHORIZED);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        let wrong = Request::get(&path).header("authorization", format!("Bearer {KEY}"));
        s.send(wrong.body(Body::empty()).unwrap())
            .await
            .assert_json_error(StatusCode::UNAUTHORIZED);
        let cookie = Request::get(&path).header("cookie", format!("theme=dark; {session}"));
        assert_eq!(
            s.send(cookie.body(Body::empty()).unwrap()).await.status,
            StatusCode::OK,
            "{path}"
        );
        // The cookie of earlier versions (the API token itself) opens
        // nothing any more.
        let legacy = Request::get(&path).header("cookie", format!("reel_token={TOKEN}"));
        s.send(legacy.body(Body::empty()).unwrap())
            .await
            .assert_json_error(StatusCode::UNAUTHORIZED);
        assert_eq!(s.get(&path).await.status, StatusCode::OK, "{path}");
    }
    let del = Request::delete(format!("/api/v1/sessions/{id}"))
        .body(Body::empty())
        .unwrap();
    s.send(del)
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.get(&format!("/api/v1/sessions/{id}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ingest_cors_preflight_and_headers() {
    let s = server();
    let path = format!("/api/v1/sessions/{}/chunks/0", sid(4));
    let pre = Request::builder()
        .method(Method::OPTIONS)
        .uri(&path)
        .header("origin", "https://site.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-reel-key")
        .body(Body::empty())
        .unwrap();
    let r = s.send(pre).await;
    assert!(r.status.is_success(), "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-max-age"), Some("7200"));
    let methods = r
        .header("access-control-allow-methods")
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("x-reel-key") && headers.contains("content-type"),
        "{headers}"
    );

    // Errors carry CORS headers too, or the recorder could not read them.
    let req = Request::post(&path)
        .header("origin", "https://site.example")
        .body(Body::empty())
        .unwrap();
    let r = s.send(req).await;
    r.assert_json_error(StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // The read API is not open to other origins.
    let req = Request::get("/api/v1/sessions").header("origin", "https://site.example");
    let req = req
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        s.send(req).await.header("access-control-allow-origin"),
        None
    );
}

#[tokio::test]
async fn list_filters_and_pagination() {
    let s = server();
    // Session n starts at T0 + n minutes; odd ones have a /checkout page and
    // user "bob"; session 5 lasts 60 s.
    for n in 1..=7u8 {
        let id = sid(n);
        let t0 = T0 + u64::from(n) * 60_000;
        let url = if n % 2 == 1 {
            "https://shop.example/checkout"
        } else {
            "https://shop.example/"
        };
        let user = (n % 2 == 1).then_some("bob");
        let c = encode_chunk(id, 0, &events(t0, url, user, 0)).unwrap();
        assert_eq!(s.ingest(id, 0, c).await.status, StatusCode::OK);
        if n == 5 {
            let c = encode_chunk(id, 1, &events(t0 + 59_000, url, None, 0)).unwrap();
            assert_eq!(s.ingest(id, 1, c).await.status, StatusCode::OK);
        }
    }
    let ids = |r: &Reply| -> Vec<String> {
        let v = r.json();
        v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap()[..2].to_owned())
            .collect()
    };
    let all = s.get("/api/v1/sessions").await;
    assert_eq!(ids(&all), ["07", "06", "05", "04", "03", "02", "01"]);

    // Pages of 3 walk the whole list exactly once.
    let mut seen = Vec::new();
    let mut url = "/api/v1/sessions?limit=3".to_string();
    loop {
        let r = s.get(&url).await;
        assert_eq!(r.status, StatusCode::OK);
        seen.extend(ids(&r));
        match r.json()["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/sessions?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all));

    assert_eq!(
        ids(&s.get("/api/v1/sessions?url=checkout").await),
        ["07", "05", "03", "01"]
    );
    assert_eq!(
        ids(&s.get("/api/v1/sessions?user=bob&limit=2").await),
        ["07", "05"]
    );
    assert_eq!(
        ids(&s.get("/api/v1/sessions?user=bo").await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&s.get("/api/v1/sessions?min_duration_ms=30000").await),
        ["05"]
    );
    assert_eq!(
        ids(&s.get("/api/v1/sessions?has_errors=true").await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&s.get("/api/v1/sessions?has_errors=false&limit=1").await),
        ["07"]
    );
    let range = "/api/v1/sessions?since=2024-05-01T12:02:00Z&until=2024-05-01T14:04:00%2B02:00";
    assert_eq!(ids(&s.get(range).await), ["04", "03", "02"]);
    for bad in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "since=yesterday",
        "until=2024-13-01T00:00:00Z",
        "min_duration_ms=-5",
        "has_errors=maybe",
        "cursor=notacursor",
    ] {
        s.get(&format!("/api/v1/sessions?{bad}"))
            .await
            .assert_json_error(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn delete_removes_the_session() {
    let s = server();
    let id = sid(9);
    for seq in 0..3 {
        assert_eq!(
            s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq) * 5_000))
                .await
                .status,
            StatusCode::OK
        );
    }
    let del = || {
        let req = Request::delete(format!("/api/v1/sessions/{id}"));
        req.header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap()
    };
    let r = s.send(del()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), serde_json::json!({"deleted": true}));
    s.send(del()).await.assert_json_error(StatusCode::NOT_FOUND);
    s.get(&format!("/api/v1/sessions/{id}"))
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    s.get(&format!("/api/v1/sessions/{id}/events"))
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    s.get(&format!("/api/v1/sessions/{id}/chunks"))
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    assert_eq!(
        s.get("/api/v1/sessions").await.json()["sessions"],
        serde_json::json!([])
    );
    s.get("/api/v1/sessions/xyz")
        .await
        .assert_json_error(StatusCode::BAD_REQUEST);
    // The same chunks can be ingested again afterwards, from scratch.
    assert_eq!(
        s.ingest(id, 0, chunk(id, 0, T0)).await.json()["duplicate"],
        false
    );
    assert_eq!(
        s.get(&format!("/api/v1/sessions/{id}")).await.json()["chunks"],
        1
    );
}

#[tokio::test]
async fn sign_in_sets_a_cookie_that_opens_the_ui() {
    let s = server();
    for path in ["/", &format!("/sessions/{}", sid(1))] {
        let r = s.get_anon(path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.text().contains("<form method=\"post\" action=\"/login\""),
            "{}",
            r.text()
        );
        assert!(r.text().contains("type=\"password\""));
        assert!(r
            .text()
            .contains(&format!("name=\"next\" value=\"{path}\"")));
        assert!(r
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'self'"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
    assert_eq!(
        s.get_anon("/sessions/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );

    let login = |body: String| {
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let r = s
        .send(login("token=nope&next=%2Fsessions%2Fab".into()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("not the API token"));
    assert!(r.headers.get("set-cookie").is_none());

    let r = s
        .send(login(format!(
            "token={TOKEN}&next=%2Fsessions%2F{}",
            sid(1)
        )))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        Some(format!("/sessions/{}", sid(1)).as_str())
    );
    let cookie = r.header("set-cookie").unwrap().to_owned();
    // A random session id, not the token.
    assert!(cookie.starts_with("reel_session=rs_"), "{cookie}");
    assert!(!cookie.contains(TOKEN));
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP from no trusted proxy"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let r = s
        .send(login(format!(
            "token={TOKEN}&next=https%3A%2F%2Fevil.example"
        )))
        .await;
    assert_eq!(r.header("location"), Some("/"));
    let r = s
        .send(login(format!("token={TOKEN}&next=%2F%2Fevil.example")))
        .await;
    assert_eq!(r.header("location"), Some("/"));

    // With the cookie, the pages are the player's (or a 503 when this
    // build has no player embedded), never the sign-in form.
    let cookie = cookie.split(';').next().unwrap().to_owned();
    for path in ["/".to_string(), format!("/sessions/{}", sid(1))] {
        let r = s
            .send(
                Request::get(&path)
                    .header("cookie", &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            r.status
        );
        assert!(!r.text().contains("action=\"/login\""));
        assert!(r.header("content-security-policy").is_some());
        if r.status == StatusCode::OK {
            assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        }
    }

    let r = s
        .send(Request::post("/logout").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn assets_and_misc_routes() {
    let s = server();
    let r = s.get_anon("/reel.js").await;
    assert!(
        r.status == StatusCode::OK || r.status == StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        r.status
    );
    if r.status == StatusCode::OK {
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        let etag = r.header("etag").unwrap().to_owned();
        let again = Request::get("/reel.js")
            .header("if-none-match", etag)
            .body(Body::empty())
            .unwrap();
        assert_eq!(s.send(again).await.status, StatusCode::NOT_MODIFIED);
    } else {
        assert!(r.text().contains("cargo xtask dist"));
    }
    let req = Request::get("/reel.js")
        .header("origin", "https://site.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        s.send(req).await.header("access-control-allow-origin"),
        Some("*")
    );
    assert_eq!(
        s.get_anon("/recorder/no-such-file.js").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get_anon("/player/no-such-file.js").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get_anon("/player/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get_anon("/player/%2e%2e/%2e%2e/server/Cargo.toml")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    s.get_anon("/nope")
        .await
        .assert_json_error(StatusCode::NOT_FOUND);
    let r = s.get_anon("/healthz").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ok"));
}

/// Many ingests, duplicates, listings and deletes at once on one store:
/// guards against lost updates and against the sled flush deadlock that
/// `Store::flush` works around.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingest_counts_each_chunk_once() {
    let s = Arc::new(server());
    let mut tasks = Vec::new();
    for i in 0..96u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = sid(0x40 + (i % 6) as u8);
            let seq = (i / 6) % 8;
            match i % 16 {
                0 => s.get("/api/v1/sessions?limit=3").await.status,
                1 => {
                    let req = Request::delete("/api/v1/sessions/".to_string() + &"ff".repeat(16));
                    let req = req
                        .header("authorization", format!("Bearer {TOKEN}"))
                        .body(Body::empty())
                        .unwrap();
                    s.send(req).await.status
                }
                _ => {
                    s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq) * 1_000))
                        .await
                        .status
                }
            }
        }));
    }
    for t in tasks {
        let st = t.await.unwrap();
        assert!(st == StatusCode::OK || st == StatusCode::NOT_FOUND, "{st}");
    }
    // Then every (session, seq) once more: all duplicates.
    for n in 0..6u8 {
        let id = sid(0x40 + n);
        for seq in 0..8 {
            s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq) * 1_000))
                .await;
        }
        let item = s.get(&format!("/api/v1/sessions/{id}")).await.json();
        assert_eq!(item["chunks"], 8);
        assert_eq!(item["event_count"], 8 * 5);
        assert_eq!(item["click_count"], 8 * 2);
        assert_eq!(
            item["bytes"],
            (0..8)
                .map(|q| chunk(id, q, T0 + u64::from(q) * 1_000).len())
                .sum::<usize>()
        );
    }
    assert_eq!(
        s.get("/api/v1/sessions").await.json()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

fn bearer(req: axum::http::request::Builder) -> axum::http::request::Builder {
    req.header("authorization", format!("Bearer {TOKEN}"))
}

/// A chunk whose header is real and whose body is the given zstd frame.
fn chunk_with_body(id: SessionId, seq: u32, body: &[u8]) -> Vec<u8> {
    let good = chunk(id, seq, T0);
    let (_, old_body) = reel_shared::decode_header(&good, &reel_shared::Limits::default()).unwrap();
    let mut c = good[..good.len() - old_body.len()].to_vec();
    c.extend_from_slice(body);
    c
}

#[tokio::test]
async fn limits_answer_413_with_a_reason() {
    let limits = IngestLimits {
        max_body: 64 * 1024,
        max_decompressed: 1024 * 1024,
        max_events: 5,
        ..IngestLimits::default()
    };
    let s = server_with(limits, 0);
    let id = sid(0x21);
    // Events per chunk: 6 > 5.
    let many = encode_chunk(id, 0, &events(T0, "https://a.example/", None, 4)).unwrap();
    let r = s.ingest(id, 0, many).await;
    r.assert_json_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.json()["error"].as_str().unwrap().contains("events"),
        "{}",
        r.text()
    );
    // Body size.
    let r = s.ingest(id, 0, vec![7u8; 64 * 1024 + 1]).await;
    r.assert_json_error(StatusCode::PAYLOAD_TOO_LARGE);
    // A real zstd bomb: 1 GiB of zeros in 32 KiB, refused at 1 MiB.
    let bomb = chunk_with_body(id, 0, &crate::validate::tests::zstd_bomb(8192));
    assert!(bomb.len() < limits.max_body);
    let r = s.ingest(id, 0, bomb).await;
    r.assert_json_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("decompresses to more than"));
    // Within every limit: fine.
    let ok = encode_chunk(id, 0, &events(T0, "https://a.example/", None, 1)).unwrap();
    assert_eq!(s.ingest(id, 0, ok).await.status, StatusCode::OK);
}

#[tokio::test]
async fn new_sessions_are_rate_limited_per_key() {
    let s = server_with(IngestLimits::default(), 3);
    for n in 0..3 {
        let id = sid(0x30 + n);
        assert_eq!(
            s.ingest(id, 0, chunk(id, 0, T0)).await.status,
            StatusCode::OK
        );
    }
    let id = sid(0x3f);
    let r = s.ingest(id, 0, chunk(id, 0, T0)).await;
    r.assert_json_error(StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    // More chunks of a session already started are not new sessions.
    let old = sid(0x30);
    assert_eq!(
        s.ingest(old, 1, chunk(old, 1, T0)).await.status,
        StatusCode::OK
    );
    // The other key has its own allowance.
    let path = format!("/api/v1/sessions/{id}/chunks/0");
    let r = s.ingest_with(&path, Some(KEY2), chunk(id, 0, T0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The browser can read Retry-After across origins.
    let req = Request::post(format!("/api/v1/sessions/{}/chunks/0", sid(0x3e)))
        .header("origin", "https://site.example")
        .header("x-reel-key", KEY)
        .body(Body::from(chunk(sid(0x3e), 0, T0)))
        .unwrap();
    let r = s.send(req).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r
        .header("access-control-expose-headers")
        .unwrap_or("")
        .to_ascii_lowercase()
        .contains("retry-after"));
}

#[tokio::test]
async fn metrics_count_ingest_and_need_the_token() {
    let s = server();
    let id = sid(0x50);
    let c = chunk(id, 0, T0);
    s.ingest(id, 0, c.clone()).await;
    s.ingest(id, 0, c.clone()).await;
    s.ingest(id, 1, b"junk".to_vec()).await;
    s.get_anon("/metrics")
        .await
        .assert_json_error(StatusCode::UNAUTHORIZED);
    let r = s.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text();
    for line in [
        "reel_ingest_requests_total{status=\"200\"} 2".to_string(),
        "reel_ingest_requests_total{status=\"400\"} 1".to_string(),
        "reel_ingest_errors_total 1".to_string(),
        "reel_ingest_chunks_total{outcome=\"stored\"} 1".to_string(),
        "reel_ingest_chunks_total{outcome=\"duplicate\"} 1".to_string(),
        format!("reel_ingest_bytes_total {}", c.len()),
        "reel_ingest_duration_seconds_count 3".to_string(),
        "reel_sessions 1".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    let flushes = text
        .lines()
        .find_map(|l| l.strip_prefix("reel_store_flushes_total "))
        .unwrap();
    assert!(flushes.parse::<u64>().unwrap() >= 1);
    assert!(text.contains("reel_store_size_bytes "));
}

/// Listing never decodes a chunk: sessions whose stored chunks are not
/// even chunks are listed, filtered and paginated all the same.
#[tokio::test]
async fn listing_reads_the_index_only() {
    let s = server();
    for n in 1..=3u8 {
        let h = reel_shared::ChunkHeader {
            session: sid(n),
            seq: 0,
            t_start: T0 + u64::from(n),
            t_end: T0 + 10_000,
            event_count: 1,
            stats: reel_shared::ChunkStats {
                urls: vec![format!("https://x.example/{n}")],
                errors: u32::from(n == 2),
                ..Default::default()
            },
        };
        s.state
            .store
            .put_chunk(&h, b"not a chunk at all", 1)
            .unwrap();
    }
    let ids = |r: Reply| -> Vec<String> {
        r.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap()[..2].to_owned())
            .collect()
    };
    assert_eq!(ids(s.get("/api/v1/sessions").await), ["03", "02", "01"]);
    assert_eq!(ids(s.get("/api/v1/sessions?url=/2").await), ["02"]);
    assert_eq!(
        ids(s.get("/api/v1/sessions?has_errors=false&limit=1").await),
        ["03"]
    );
    assert_eq!(
        s.get(&format!("/api/v1/sessions/{}", sid(1))).await.status,
        StatusCode::OK
    );
    // Decoding is for /events, which serves what cannot be decoded as a
    // gap (its stored size, at the session's start) rather than failing.
    let ev = s.get(&format!("/api/v1/sessions/{}/events", sid(1))).await;
    assert_eq!(ev.status, StatusCode::OK, "{}", ev.text());
    assert_eq!(
        ev.json(),
        serde_json::json!([{"t": T0 + 1, "data": {"Dropped": {
            "chunks": 1, "bytes": b"not a chunk at all".len()}}}])
    );
}

#[tokio::test]
async fn delete_leaves_no_key_in_any_tree() {
    let s = server();
    for n in 0..3u8 {
        let id = sid(0x60 + n);
        for seq in 0..4 {
            s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq))).await;
        }
    }
    // Chunks, metadata and start keys, plus the insights digest's keys
    // (store/digest.rs), which the delete must take too.
    assert!(s.state.store.session_key_count().unwrap() > 3 * (4 + 2));
    for n in 0..3u8 {
        let r = s
            .send(
                bearer(Request::delete(format!(
                    "/api/v1/sessions/{}",
                    sid(0x60 + n)
                )))
                .body(Body::empty())
                .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(s.state.store.session_key_count().unwrap(), 0);
    assert_eq!(s.state.store.stats().unwrap().sessions, 0);
}

/// Every route, every method it has, with every kind of bad body: each
/// gets an answer below 500, and the server keeps serving.
#[tokio::test]
async fn every_endpoint_survives_bad_bodies() {
    let s = server_with(
        IngestLimits {
            max_body: 1024 * 1024,
            ..IngestLimits::default()
        },
        0,
    );
    let id = sid(0x70);
    let good = chunk(id, 0, T0);
    assert_eq!(s.ingest(id, 0, good.clone()).await.status, StatusCode::OK);
    let mut wrong_version = good.clone();
    wrong_version[4] = 2;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("garbage", b"\xff\xfe{not json, not a chunk".to_vec()),
        ("truncated", good[..good.len() - 7].to_vec()),
        ("oversized", vec![b'a'; 1024 * 1024 + 1]),
        ("wrong version", wrong_version),
        ("form", b"token=%ZZ&next=%00".to_vec()),
        ("json", br#"{"token": [1,2,3]}"#.to_vec()),
    ];
    let routes = [
        "/api/v1/sessions".to_string(),
        format!("/api/v1/sessions/{id}"),
        format!("/api/v1/sessions/{id}/events"),
        format!("/api/v1/sessions/{id}/chunks"),
        format!("/api/v1/sessions/{id}/chunks/1"),
        "/api/v1/sessions/zz/chunks/x".to_string(),
        "/metrics".to_string(),
        "/healthz".to_string(),
        "/".to_string(),
        format!("/sessions/{id}"),
        "/login".to_string(),
        "/logout".to_string(),
        "/reel.js".to_string(),
        "/player/x.js".to_string(),
        "/nope".to_string(),
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    for path in &routes {
        for method in &methods {
            for (name, body) in &bodies {
                for (auth, content_type) in [
                    (None, "application/octet-stream"),
                    (
                        Some(("x-reel-key", KEY.to_string())),
                        "application/octet-stream",
                    ),
                    (
                        Some(("authorization", format!("Bearer {TOKEN}"))),
                        "application/x-www-form-urlencoded",
                    ),
                ] {
                    if *method == Method::DELETE && path.ends_with(&id.to_string()) {
                        continue; // keep the session for the other cases
                    }
                    let mut req = Request::builder()
                        .method(method.clone())
                        .uri(path)
                        .header("content-type", content_type);
                    if let Some((k, v)) = &auth {
                        req = req.header(*k, v);
                    }
                    let r = s.send(req.body(Body::from(body.clone())).unwrap()).await;
                    assert!(
                        r.status.as_u16() < 500 || r.status == StatusCode::SERVICE_UNAVAILABLE,
                        "{method} {path} with {name}: {} {}",
                        r.status,
                        r.text()
                    );
                }
            }
        }
    }
    assert_eq!(s.get_anon("/healthz").await.text(), "ok");
    let item = s.get(&format!("/api/v1/sessions/{id}")).await.json();
    assert_eq!(item["chunks"], 1, "nothing bad was stored");
    assert_eq!(
        s.ingest(id, 1, chunk(id, 1, T0)).await.status,
        StatusCode::OK
    );
}

mod props {
    //! Random and mutated bodies thrown at the real ingest endpoint.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Truncate(usize),
        Insert(usize, Vec<u8>),
        Remove(usize, usize),
        HeaderLen(u32),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
            any::<usize>().prop_map(Mutation::Truncate),
            (
                any::<usize>(),
                proptest::collection::vec(any::<u8>(), 1..16)
            )
                .prop_map(|(i, b)| Mutation::Insert(i, b)),
            (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
            any::<u32>().prop_map(Mutation::HeaderLen),
        ]
    }

    fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
        for m in muts {
            let len = b.len().max(1);
            match m {
                Mutation::Flip(i, x) => {
                    if !b.is_empty() {
                        b[i % len] ^= x;
                    }
                }
                Mutation::Truncate(i) => b.truncate(i % len),
                Mutation::Insert(i, bytes) => {
                    let at = i % (b.len() + 1);
                    b.splice(at..at, bytes.iter().copied());
                }
                Mutation::Remove(i, n) => {
                    let at = i % len;
                    let end = (at + n).min(b.len());
                    if at < end {
                        b.drain(at..end);
                    }
                }
                Mutation::HeaderLen(v) => {
                    if b.len() >= 9 {
                        b[5..9].copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
        b
    }

    /// What the endpoint may answer to anything at all: success (a
    /// mutation can leave a valid chunk), or a JSON 4xx. Never a 5xx.
    async fn check(
        s: &Server,
        id: SessionId,
        seq: u32,
        body: Vec<u8>,
    ) -> Result<(), TestCaseError> {
        let r = s.ingest(id, seq, body).await;
        prop_assert!(
            matches!(r.status.as_u16(), 200 | 400 | 413),
            "{} {}",
            r.status,
            r.text()
        );
        if r.status == StatusCode::OK {
            // Whatever was accepted can be read back: listed, downloaded,
            // and its events answered (what only the typed decode objects
            // to is served as a gap).
            let item = s.get(&format!("/api/v1/sessions/{id}")).await;
            prop_assert_eq!(item.status, StatusCode::OK);
            let ev = s.get(&format!("/api/v1/sessions/{id}/events")).await;
            prop_assert_eq!(ev.status, StatusCode::OK);
            prop_assert!(ev.json().is_array());
        } else {
            r.assert_json_error(r.status);
        }
        Ok(())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn mutated_chunks_get_answers(muts in proptest::collection::vec(mutation(), 1..4), seq in 0u32..4) {
            let rt = runtime();
            let s = server();
            let id = sid(0x77);
            let good = chunk(id, seq, T0 + u64::from(seq));
            rt.block_on(async {
                check(&s, id, seq, apply(good.clone(), &muts)).await?;
                // And the server is still itself.
                let r = s.ingest(id, seq, good).await;
                prop_assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                Ok(())
            })?;
        }

        #[test]
        fn random_bytes_get_answers(body in proptest::collection::vec(any::<u8>(), 0..2048), prefix in any::<bool>()) {
            let rt = runtime();
            let s = server();
            let mut b = body;
            if prefix {
                // Past the magic and version, into the header parser.
                let mut p = b"REEL\x01".to_vec();
                p.extend_from_slice(&b);
                b = p;
            }
            rt.block_on(check(&s, sid(0x78), 0, b))?;
        }
    }
}

/// The API layer knows only the `Storage` trait: the same requests work on
/// the in-memory backend.
#[tokio::test]
async fn the_api_runs_on_another_backend() {
    let (s, mem) = mem_server();
    let id = sid(0x88);
    for seq in 0..3 {
        let r = s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq))).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert!(mem.syncs.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let list = s.get("/api/v1/sessions?url=cart").await.json();
    assert_eq!(list["sessions"][0]["chunks"], 3);
    let ev = s.get(&format!("/api/v1/sessions/{id}/events")).await;
    assert_eq!(ev.json().as_array().unwrap().len(), 15);
    let del = bearer(Request::delete(format!("/api/v1/sessions/{id}")));
    assert_eq!(
        s.send(del.body(Body::empty()).unwrap()).await.status,
        StatusCode::OK
    );
    assert_eq!(crate::store::Storage::session_key_count(&*mem).unwrap(), 0);
}

/// A server on the in-memory backend (whose `damaged` knob makes chunks
/// read back as a bad disk would, `StoreError::Damaged`).
fn mem_server() -> (Server, Arc<crate::store::mem::MemStorage>) {
    let mem = Arc::new(crate::store::mem::MemStorage::default());
    let state = Arc::new(AppState::new(
        Store::new(mem.clone()),
        Auth::new(vec![KEY.into()], TOKEN.into()),
        IngestLimits::default(),
        0,
    ));
    let s = Server {
        _dir: tempfile::tempdir().unwrap(),
        state: state.clone(),
        app: app(state),
    };
    (s, mem)
}

/// One bad chunk costs that chunk alone: `/chunks` serves every other
/// chunk (the seq jumps), `/events` every other event plus one `Dropped`
/// marker where the lost chunks were (consecutive ones share it), timed
/// so that times never decrease.
#[tokio::test]
async fn a_damaged_chunk_costs_only_itself() {
    let (s, mem) = mem_server();
    let id = sid(0x5d);
    let mut sent = Vec::new();
    for seq in 0..6u32 {
        let c = chunk(id, seq, T0 + 10_000 * u64::from(seq));
        assert_eq!(s.ingest(id, seq, c.clone()).await.status, StatusCode::OK);
        sent.push(c);
    }
    let frames = |seqs: &[usize]| -> Vec<u8> {
        let mut v = Vec::new();
        for &i in seqs {
            v.extend_from_slice(&(sent[i].len() as u32).to_le_bytes());
            v.extend_from_slice(&sent[i]);
        }
        v
    };
    let gaps = |ev: &[Value]| -> Vec<(usize, u64, Value)> {
        ev.iter()
            .enumerate()
            .filter(|(_, e)| e["data"]["Dropped"].is_object())
            .map(|(i, e)| (i, e["t"].as_u64().unwrap(), e["data"]["Dropped"].clone()))
            .collect()
    };
    let get_events = || async {
        let r = s.get(&format!("/api/v1/sessions/{id}/events")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json().as_array().unwrap().clone()
    };
    // Each chunk holds 5 events, from t0 to t0 + 1000.
    let one = serde_json::json!({"chunks": 1, "bytes": 0});

    *mem.damaged.lock().unwrap() = vec![2];
    let r = s.get(&format!("/api/v1/sessions/{id}/chunks")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, frames(&[0, 1, 3, 4, 5]));
    let r = s.get(&format!("/api/v1/sessions/{id}/chunks?from=2")).await;
    assert_eq!(r.body, frames(&[3, 4, 5]));
    let ev = get_events().await;
    assert_eq!(ev.len(), 5 * 5 + 1);
    assert_eq!(gaps(&ev), [(10, T0 + 10_000 + 1_000, one.clone())]);
    assert_eq!(ev[11]["t"], T0 + 30_000);

    // At the start: timed as the first event that could be read.
    *mem.damaged.lock().unwrap() = vec![0];
    let ev = get_events().await;
    assert_eq!(gaps(&ev), [(0, T0 + 10_000, one.clone())]);
    // At the end, two in a row: one marker for both.
    *mem.damaged.lock().unwrap() = vec![4, 5];
    let ev = get_events().await;
    assert_eq!(ev.len(), 4 * 5 + 1);
    assert_eq!(
        gaps(&ev),
        [(
            20,
            T0 + 31_000,
            serde_json::json!({"chunks": 2, "bytes": 0})
        )]
    );
    // All of them: the session's start.
    *mem.damaged.lock().unwrap() = (0..6).collect();
    let ev = get_events().await;
    assert_eq!(
        gaps(&ev),
        [(0, T0, serde_json::json!({"chunks": 6, "bytes": 0}))]
    );
    assert_eq!(
        s.get(&format!("/api/v1/sessions/{id}/chunks")).await.body,
        b""
    );
    // What is not there is still a 404, before any byte.
    for what in ["events", "chunks"] {
        s.get(&format!("/api/v1/sessions/{}/{what}", sid(0x5e)))
            .await
            .assert_json_error(StatusCode::NOT_FOUND);
    }
}

/// `/events` of a session far bigger than the stream's pieces comes back
/// whole and in order (it is written a chunk at a time).
#[tokio::test]
async fn events_of_many_chunks_stream_in_order() {
    let s = server();
    let id = sid(0x5f);
    for seq in 0..40u32 {
        let c = chunk(id, seq, T0 + 10_000 * u64::from(seq));
        assert_eq!(s.ingest(id, seq, c).await.status, StatusCode::OK);
    }
    let ev = s.get(&format!("/api/v1/sessions/{id}/events")).await.json();
    let ts: Vec<u64> = ev
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["t"].as_u64().unwrap())
        .collect();
    assert_eq!(ts.len(), 40 * 5);
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(ts[ts.len() - 1], T0 + 390_000 + 1_000);

    // With a chunk of 3,000 events (JSON of ~1 MB): the same bytes as the
    // export writes.
    let big: Vec<Event> = (0..3_000u64)
        .map(|i| Event {
            t: T0 + 400_000 + i,
            data: EventData::Custom(Custom {
                name: format!("e{i}"),
                data: Some(format!("\"{}\"", "x".repeat(300))),
            }),
        })
        .collect();
    let c = encode_chunk(id, 40, &big).unwrap();
    assert_eq!(s.ingest(id, 40, c).await.status, StatusCode::OK);
    let streamed = s.get(&format!("/api/v1/sessions/{id}/events")).await;
    let mut whole = Vec::new();
    sessions::write_events_json(
        &s.state.store,
        &id,
        &s.state.limits.decode_limits(),
        &mut whole,
    )
    .unwrap();
    assert!(whole.len() > 3 * 256 * 1024);
    assert!(
        streamed.body == whole,
        "streamed /events differs from the export"
    );
    assert_eq!(streamed.json().as_array().unwrap().len(), 40 * 5 + 3_000);
}

// Issue 20: allowances, caps, and what ingest checks before it takes them.

fn server_allowing(limits: IngestLimits, allow: crate::ratelimit::Allowances) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let state = Arc::new(AppState::new(
        store,
        Auth::new(vec![KEY.into(), KEY2.into()], TOKEN.into()),
        limits,
        allow,
    ));
    Server {
        _dir: dir,
        state: state.clone(),
        app: app(state),
    }
}

fn allow(per_key: u32, per_address: u32, bytes_per_hour: u64) -> crate::ratelimit::Allowances {
    crate::ratelimit::Allowances {
        new_sessions_per_key_per_minute: per_key,
        new_sessions_per_address_per_minute: per_address,
        bytes_per_key_per_hour: bytes_per_hour,
    }
}

impl Server {
    /// A chunk posted from `addr`, as `into_make_service_with_connect_info`
    /// would tell the handler.
    async fn ingest_from(&self, addr: &str, id: SessionId, seq: u32, chunk: Vec<u8>) -> Reply {
        let peer = std::net::SocketAddr::new(addr.parse().unwrap(), 5000);
        let mut req = Request::post(format!("/api/v1/sessions/{id}/chunks/{seq}"))
            .header("x-reel-key", KEY)
            .body(Body::from(chunk))
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        self.send(req).await
    }

    fn error(r: &Reply) -> String {
        r.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

/// Garbage posted as the first chunk of new sessions, from one address
/// or many, never takes a token: the real sessions after it all get in.
#[tokio::test]
async fn garbage_never_spends_the_new_session_allowance() {
    let s = server_allowing(IngestLimits::default(), allow(3, 2, 0));
    let liar =
        crate::validate::tests::with_header(&chunk(sid(0x01), 0, T0), |h| h.stats.clicks += 5);
    for n in 0..200u32 {
        let id = SessionId([0x01; 16]);
        let (body, seq) = match n % 5 {
            0 => (vec![n as u8], 0),
            1 => (b"REEL\x02garbage".to_vec(), 0),
            2 => (liar.clone(), 0),
            // Another session's chunk.
            3 => (chunk(sid(0x02), 0, T0), 0),
            // The chunk of another seq.
            _ => (chunk(id, 1, T0), 0),
        };
        let r = s
            .ingest_from(&format!("192.0.2.{}", n % 3), id, seq, body)
            .await;
        r.assert_json_error(StatusCode::BAD_REQUEST);
    }
    for n in 0..3 {
        let id = sid(0x10 + n);
        let r = s.ingest_from("192.0.2.0", id, 0, chunk(id, 0, T0)).await;
        if n < 2 {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        } else {
            // The address's own allowance (2), not the key's, ran out.
            r.assert_json_error(StatusCode::TOO_MANY_REQUESTS);
            assert!(Server::error(&r).contains("client address"), "{}", r.text());
        }
    }
    let id = sid(0x1f);
    let r = s.ingest_from("192.0.2.1", id, 0, chunk(id, 0, T0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// One address exhausting its allowance spends only its own and the
/// key's: another address still gets in, until the key's runs out.
#[tokio::test]
async fn one_address_cannot_drain_the_key() {
    let s = server_allowing(IngestLimits::default(), allow(6, 2, 0));
    let n = std::cell::Cell::new(0u8);
    let new_session = |addr: &'static str| {
        n.set(n.get() + 1);
        let id = sid(0x40 + n.get());
        s.ingest_from(addr, id, 0, chunk(id, 0, T0))
    };
    for _ in 0..2 {
        assert_eq!(new_session("198.51.100.1").await.status, StatusCode::OK);
    }
    for _ in 0..20 {
        let r = new_session("198.51.100.1").await;
        r.assert_json_error(StatusCode::TOO_MANY_REQUESTS);
        assert!(r.header("retry-after").is_some());
        assert!(Server::error(&r).contains("client address"), "{}", r.text());
    }
    // Another address: its own two, and the key has four left for it and
    // a third one, the address's refusals having spent none.
    for _ in 0..2 {
        assert_eq!(new_session("198.51.100.2").await.status, StatusCode::OK);
    }
    for _ in 0..2 {
        assert_eq!(new_session("2001:db8::1").await.status, StatusCode::OK);
    }
    let r = new_session("203.0.113.9").await;
    r.assert_json_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(
        Server::error(&r).contains("for this ingest key"),
        "{}",
        r.text()
    );
    // More chunks of started sessions are not new sessions.
    let id = sid(0x41);
    let r = s
        .ingest_from("198.51.100.1", id, 1, chunk(id, 1, T0 + 2_000))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn bytes_per_session_are_capped_with_413() {
    let one = chunk(sid(0x50), 0, T0).len() as u64;
    let limits = IngestLimits {
        max_session_bytes: 3 * one + one / 2,
        ..IngestLimits::default()
    };
    let s = server_with(limits, 0);
    let id = sid(0x50);
    for seq in 0..3 {
        let r = s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = s.ingest(id, 3, chunk(id, 3, T0 + 3)).await;
    r.assert_json_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(Server::error(&r).contains("per session"), "{}", r.text());
    // Reposting a stored chunk is still harmless.
    let r = s.ingest(id, 2, chunk(id, 2, T0 + 2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["duplicate"], true);
    assert_eq!(
        s.get(&format!("/api/v1/sessions/{id}")).await.json()["chunks"],
        3
    );
    // Another session has its own.
    let other = sid(0x51);
    let r = s.ingest(other, 0, chunk(other, 0, T0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn bytes_per_key_per_hour_are_capped_with_429() {
    let one = chunk(sid(0x60), 0, T0).len() as u64;
    let s = server_allowing(IngestLimits::default(), allow(0, 0, 3 * one + one / 2));
    let id = sid(0x60);
    for seq in 0..2 {
        let r = s.ingest(id, seq, chunk(id, seq, T0 + u64::from(seq))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // A retry of a stored chunk stores nothing and costs nothing.
    for _ in 0..5 {
        let r = s.ingest(id, 1, chunk(id, 1, T0 + 1)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["duplicate"], true);
    }
    let r = s.ingest(id, 2, chunk(id, 2, T0 + 2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = s.ingest(id, 3, chunk(id, 3, T0 + 3)).await;
    r.assert_json_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(
        Server::error(&r).contains("bytes for the hour"),
        "{}",
        r.text()
    );
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    // Reposting a stored chunk is still harmless, with no bytes left.
    let r = s.ingest(id, 0, chunk(id, 0, T0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["duplicate"], true);
    // The other key has its own.
    let path = format!("/api/v1/sessions/{id}/chunks/3");
    let r = s.ingest_with(&path, Some(KEY2), chunk(id, 3, T0 + 3)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A chunk larger than an hour's allowance can never pass: 413.
    let tiny = server_allowing(IngestLimits::default(), allow(0, 0, one - 1));
    let r = tiny.ingest(id, 0, chunk(id, 0, T0)).await;
    r.assert_json_error(StatusCode::PAYLOAD_TOO_LARGE);
}

/// A skippable frame before, between or after the data frames: libzstd
/// would skip it, the readers would not; 400, and nothing stored.
#[tokio::test]
async fn a_skippable_frame_gets_400() {
    use crate::validate::tests::{with_frame_at, SKIPPABLE};
    let s = server();
    let id = sid(0x70);
    let (c, second) = crate::validate::tests::two_frame_chunk(id, T0);
    let (_, body) = reel_shared::decode_header(&c, &reel_shared::Limits::default()).unwrap();
    for at in [0, second, body.len()] {
        let r = s.ingest(id, 0, with_frame_at(&c, at, &SKIPPABLE)).await;
        r.assert_json_error(StatusCode::BAD_REQUEST);
        assert!(Server::error(&r).contains("skippable"), "{}", r.text());
    }
    assert_eq!(
        s.get(&format!("/api/v1/sessions/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.ingest(id, 0, c).await.status, StatusCode::OK);
}

/// The header's stats are what the index shows: a chunk whose header
/// claims other counts than its events is refused.
#[tokio::test]
async fn header_stats_are_checked_against_the_events() {
    use crate::validate::tests::with_header;
    let s = server();
    let id = sid(0x71);
    let c = chunk(id, 0, T0);
    type Lie = fn(&mut reel_shared::ChunkHeader);
    let lies: [(&str, Lie); 6] = [
        ("click count", |h| h.stats.clicks = 1_000_000),
        ("error count", |h| h.stats.errors = 3),
        ("list of URLs", |h| {
            h.stats.urls = vec!["https://evil.example/".into()]
        }),
        ("user id", |h| h.stats.user_id = Some("ceo".into())),
        ("user agent", |h| h.stats.user_agent = None),
        ("time range", |h| h.t_end += 3_600_000),
    ];
    for (what, lie) in lies {
        let r = s.ingest(id, 0, with_header(&c, lie)).await;
        r.assert_json_error(StatusCode::BAD_REQUEST);
        assert!(Server::error(&r).contains(what), "{what}: {}", r.text());
    }
    assert_eq!(s.ingest(id, 0, c).await.status, StatusCode::OK);
    let m = s.get(&format!("/api/v1/sessions/{id}")).await.json();
    assert_eq!(
        (m["click_count"].as_u64(), m["user_id"].as_str()),
        (Some(2), Some("alice"))
    );
}

/// A key holder cannot stretch a known session over time or seqs, nor
/// date one in the future to pin it to the top of the list.
#[tokio::test]
async fn session_span_seq_growth_and_future_times_are_bounded() {
    use crate::validate::{MAX_FUTURE_MS, MAX_SEQ_JUMP, MAX_SPAN_MS};
    let s = server();
    let id = sid(0x72);
    assert_eq!(
        s.ingest(id, 0, chunk(id, 0, T0)).await.status,
        StatusCode::OK
    );
    // Past the session's span, either way.
    for t in [T0 + MAX_SPAN_MS, T0 - MAX_SPAN_MS + 500] {
        let r = s.ingest(id, 1, chunk(id, 1, t)).await;
        r.assert_json_error(StatusCode::BAD_REQUEST);
        assert!(
            Server::error(&r).contains("hours from the rest"),
            "{}",
            r.text()
        );
    }
    // Within it: fine.
    let r = s.ingest(id, 1, chunk(id, 1, T0 + 3_600_000)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Seq growth: up to MAX_SEQ_JUMP past the highest seq, no further.
    let far = 1 + MAX_SEQ_JUMP + 1;
    let r = s.ingest(id, far, chunk(id, far, T0 + 5)).await;
    r.assert_json_error(StatusCode::BAD_REQUEST);
    assert!(
        Server::error(&r).contains("past the highest"),
        "{}",
        r.text()
    );
    let near = 1 + MAX_SEQ_JUMP;
    let r = s.ingest(id, near, chunk(id, near, T0 + 5)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let next = near + MAX_SEQ_JUMP;
    let r = s.ingest(id, next, chunk(id, next, T0 + 6)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Times more than a day ahead of the server's clock, new session or not.
    let now = crate::store::now_ms();
    let fresh = sid(0x73);
    let r = s
        .ingest(fresh, 0, chunk(fresh, 0, now + MAX_FUTURE_MS))
        .await;
    r.assert_json_error(StatusCode::BAD_REQUEST);
    assert!(
        Server::error(&r).contains("ahead of the server's clock"),
        "{}",
        r.text()
    );
    let r = s.ingest(fresh, 0, chunk(fresh, 0, now)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = s
        .ingest(fresh, 1, chunk(fresh, 1, now + MAX_FUTURE_MS))
        .await;
    r.assert_json_error(StatusCode::BAD_REQUEST);
    // The list is unchanged by the refusals: the fresh session ends now.
    let m = s.get(&format!("/api/v1/sessions/{fresh}")).await.json();
    assert_eq!(m["chunks"], 1);
}

mod access;
mod support;

mod insights;
