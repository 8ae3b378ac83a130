//! Insights (contract §6) over HTTP, on both backends: the session items'
//! new fields, every list filter, the heatmap, scroll map and funnel
//! numbers of a known set of sessions, and every kind of bad input.

use super::*;
use reel_shared::{Scroll, Signal, SignalKind};

const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

fn meta(
    t: u64,
    href: &str,
    ua: &str,
    referrer: Option<&str>,
    visitor: Option<(&str, bool)>,
) -> Event {
    Event {
        t,
        data: EventData::Meta(Meta {
            href: href.into(),
            title: "t".into(),
            width: 1000,
            height: 700,
            user_agent: ua.into(),
            referrer: referrer.map(Into::into),
            visitor_id: visitor.map(|v| v.0.into()),
            new_visitor: visitor.map(|v| v.1),
        }),
    }
}

fn click(t: u64, label: &str, sel: &str, bx: u16, by: u16) -> Event {
    Event {
        t,
        data: EventData::Mouse(MouseInteraction {
            kind: MouseKind::Click,
            id: 5,
            x: 100 + i32::from(bx / 10),
            y: 200,
            label: Some(label.into()),
            selector: Some(sel.into()),
            box_x: Some(bx),
            box_y: Some(by),
        }),
    }
}

fn scroll(t: u64, depth: u16) -> Event {
    Event {
        t,
        data: EventData::Scroll(Scroll {
            id: 1,
            x: 0,
            y: 10,
            depth: Some(depth),
        }),
    }
}

fn signal(t: u64, kind: SignalKind, since: u64, label: &str, sel: &str) -> Event {
    Event {
        t,
        data: EventData::Signal(Signal {
            kind,
            since,
            id: 5,
            x: 1,
            y: 2,
            count: 1,
            label: Some(label.into()),
            selector: Some(sel.into()),
        }),
    }
}

fn custom(t: u64, name: &str) -> Event {
    Event {
        t,
        data: EventData::Custom(Custom {
            name: name.into(),
            data: None,
        }),
    }
}

const HOME: &str = "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring";
const CART: &str = "https://shop.example/cart";

/// Three sessions an hour ago:
/// - A (desktop Chrome, from Google, utm news/email/spring, new visitor
///   v1): home (scrolled to 30 %), clicks Buy (a rage click), "added";
///   its second chunk clicks Buy again on home, then loads the cart
///   (scrolled to the bottom), clicks Pay, "paid".
/// - B (iPhone, returning visitor v2): home (60 %), clicks Buy (dead).
/// - C (iPad): a blog post with utm_source=ads, clicks Read, "added".
fn sessions(t0: u64) -> Vec<(SessionId, Vec<Vec<Event>>)> {
    let a = vec![
        vec![
            meta(
                t0,
                HOME,
                CHROME_MAC,
                Some("https://www.google.com/"),
                Some(("v1", true)),
            ),
            scroll(t0 + 100, 300),
            click(t0 + 1_000, "Buy", "#buy", 250, 500),
            click(t0 + 1_100, "Buy", "#buy", 260, 500),
            click(t0 + 1_200, "Buy", "#buy", 270, 500),
            signal(t0 + 1_300, SignalKind::RageClick, t0 + 1_000, "Buy", "#buy"),
            custom(t0 + 2_000, "added"),
        ],
        vec![
            click(t0 + 3_000, "Buy", "#buy", 500, 500),
            meta(
                t0 + 4_000,
                CART,
                CHROME_MAC,
                Some(HOME),
                Some(("v1", false)),
            ),
            scroll(t0 + 4_100, 1000),
            click(t0 + 5_000, "Pay", "#pay", 1000, 0),
            custom(t0 + 6_000, "paid"),
        ],
    ];
    let b = vec![vec![
        meta(
            t0 + 10,
            "https://shop.example/",
            IPHONE,
            None,
            Some(("v2", false)),
        ),
        scroll(t0 + 110, 600),
        click(t0 + 500, "Buy", "#buy", 100, 900),
        signal(t0 + 1_500, SignalKind::DeadClick, t0 + 500, "Buy", "#buy"),
    ]];
    let c = vec![vec![
        meta(
            t0 + 20,
            "https://blog.example/post?utm_source=ads",
            IPAD,
            None,
            None,
        ),
        click(t0 + 300, "Read", "#read", 0, 0),
        custom(t0 + 400, "added"),
    ]];
    vec![(sid(0xa1), a), (sid(0xb2), b), (sid(0xc3), c)]
}

async fn record(s: &Server, t0: u64) {
    for (id, chunks) in sessions(t0) {
        for (seq, ev) in chunks.iter().enumerate() {
            let r = s
                .ingest(id, seq as u32, encode_chunk(id, seq as u32, ev).unwrap())
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        }
    }
}

fn now() -> u64 {
    crate::store::now_ms()
}

impl Server {
    async fn ids(&self, query: &str) -> Vec<String> {
        let r = self.get(&format!("/api/v1/sessions?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
        let mut ids: Vec<String> = r.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap()[..2].to_owned())
            .collect();
        ids.sort();
        ids
    }

    async fn ok_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        r.json()
    }

    async fn post_funnel(&self, body: &str) -> Reply {
        let req = Request::post("/api/v1/insights/funnel")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"));
        self.send(req.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    async fn funnel(&self, body: &Value) -> Reply {
        self.post_funnel(&body.to_string()).await
    }
}

async fn check_everything(s: &Server) {
    let t0 = now() - 3_600_000;
    record(s, t0).await;
    // Reposting a chunk counts nothing twice.
    let (id, chunks) = &sessions(t0)[0];
    let r = s
        .ingest(*id, 0, encode_chunk(*id, 0, &chunks[0]).unwrap())
        .await;
    assert_eq!(r.json()["duplicate"], true);

    // The items.
    let a = s.ok_json(&format!("/api/v1/sessions/{}", sid(0xa1))).await;
    for (k, v) in [
        ("device", serde_json::json!("desktop")),
        ("browser", "Chrome".into()),
        ("os", "Mac OSX".into()),
        ("referrer", "https://www.google.com/".into()),
        ("utm_source", "news".into()),
        ("utm_medium", "email".into()),
        ("utm_campaign", "spring".into()),
        ("visitor_id", "v1".into()),
        ("new_visitor", true.into()),
        ("page_count", 2.into()),
        ("rage_click_count", 1.into()),
        ("dead_click_count", 0.into()),
        ("error_click_count", 0.into()),
        ("thrashed_cursor_count", 0.into()),
        ("u_turn_count", 0.into()),
        ("click_count", 5.into()),
    ] {
        assert_eq!(a[k], v, "{k} of A: {a}");
    }
    let b = s.ok_json(&format!("/api/v1/sessions/{}", sid(0xb2))).await;
    assert_eq!(
        (
            &b["device"],
            &b["os"],
            &b["new_visitor"],
            &b["referrer"],
            &b["dead_click_count"]
        ),
        (
            &"mobile".into(),
            &"iPhone".into(),
            &false.into(),
            &Value::Null,
            &1.into()
        )
    );
    let c = s.ok_json(&format!("/api/v1/sessions/{}", sid(0xc3))).await;
    assert_eq!(
        (
            &c["device"],
            &c["utm_source"],
            &c["visitor_id"],
            &c["page_count"]
        ),
        (&"tablet".into(), &"ads".into(), &Value::Null, &1.into())
    );
    let list = s.ok_json("/api/v1/sessions").await;
    assert_eq!(
        list["sessions"][0]["device"], "tablet",
        "items in the list too"
    );

    // Every new filter of the list.
    for (q, want) in [
        ("", vec!["a1", "b2", "c3"]),
        ("device=desktop", vec!["a1"]),
        ("device=mobile", vec!["b2"]),
        ("device=tablet", vec!["c3"]),
        ("browser=safari", vec!["b2", "c3"]),
        ("os=iPhone", vec!["b2"]),
        ("referrer=google", vec!["a1"]),
        ("utm_source=news", vec!["a1"]),
        ("utm_source=ads", vec!["c3"]),
        ("visited=/cart", vec!["a1"]),
        ("visited=shop.example", vec!["a1", "b2"]),
        ("event=added", vec!["a1", "c3"]),
        ("event=paid", vec!["a1"]),
        ("new_visitor=true", vec!["a1"]),
        ("new_visitor=false", vec!["b2"]),
        ("has_rage_clicks=true", vec!["a1"]),
        ("has_rage_clicks=false", vec!["b2", "c3"]),
        ("has_dead_clicks=true", vec!["b2"]),
        ("has_error_clicks=true", vec![]),
        ("visitor=v2", vec!["b2"]),
        ("device=mobile&has_dead_clicks=true", vec!["b2"]),
        (
            "ids=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1,c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3",
            vec!["a1", "c3"],
        ),
    ] {
        assert_eq!(s.ids(q).await, want, "{q}");
    }

    // The heatmap of the shop's pages: A (home twice, cart) and B.
    let h = s.ok_json("/api/v1/insights/clicks?url=shop.example").await;
    assert_eq!(h["sessions"], 2, "{h}");
    let targets = h["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{h}");
    assert_eq!(
        targets[0],
        serde_json::json!({"selector": "#buy", "label": "Buy", "clicks": 5, "sessions": 2,
            "rage_clicks": 1, "dead_clicks": 1, "error_clicks": 0})
    );
    assert_eq!(
        targets[1],
        serde_json::json!({"selector": "#pay", "label": "Pay", "clicks": 1, "sessions": 1,
            "rage_clicks": 0, "dead_clicks": 0, "error_clicks": 0})
    );
    let points = h["points"].as_array().unwrap();
    assert_eq!(points.len(), 6);
    let flagged = |k: &str| points.iter().filter(|p| p[k] == true).count();
    assert_eq!(
        (flagged("rage"), flagged("dead"), flagged("error")),
        (1, 1, 0)
    );
    assert!(points
        .iter()
        .any(|p| p["selector"] == "#pay" && p["x"] == 1.0 && p["y"] == 0.0));
    assert!(points
        .iter()
        .any(|p| p["selector"] == "#buy" && p["x"] == 0.25 && p["y"] == 0.5 && p["rage"] == true));
    // One page; a segment of it.
    let cart = s.ok_json("/api/v1/insights/clicks?url=/cart").await;
    assert_eq!(
        (&cart["sessions"], cart["targets"].as_array().unwrap().len()),
        (&1.into(), 1)
    );
    let mobile = s
        .ok_json("/api/v1/insights/clicks?url=shop.example&device=mobile")
        .await;
    assert_eq!(mobile["sessions"], 1);
    assert_eq!(mobile["targets"][0]["clicks"], 1);
    let none = s
        .ok_json("/api/v1/insights/clicks?url=nowhere.example")
        .await;
    assert_eq!(
        none,
        serde_json::json!({"sessions": 0, "targets": [], "points": [], "truncated": false})
    );

    // The scroll map: A reached 100 %, B 60 %.
    let sc = s.ok_json("/api/v1/insights/scroll?url=shop.example").await;
    assert_eq!(sc["sessions"], 2, "{sc}");
    let rows: Vec<(u64, u64)> = sc["depth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["percent"].as_u64().unwrap(),
                r["sessions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (0, 2),
            (10, 2),
            (20, 2),
            (30, 2),
            (40, 2),
            (50, 2),
            (60, 2),
            (70, 1),
            (80, 1),
            (90, 1),
            (100, 1)
        ]
    );
    let home_only = s
        .ok_json("/api/v1/insights/scroll?url=shop.example/%3Futm")
        .await;
    assert_eq!(home_only["sessions"], 1);
    assert_eq!(
        home_only["depth"][3]["sessions"], 1,
        "A reached 30 % of home"
    );
    assert_eq!(home_only["depth"][4]["sessions"], 0);

    // The funnel: shop, Buy, cart, paid.
    let f = s
        .funnel(&serde_json::json!({"steps": [
            {"url": "shop.example"}, {"click": "Buy"}, {"url": "/cart"}, {"event": "paid"}
        ]}))
        .await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text());
    let f = f.json();
    let counts: Vec<u64> = f["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessions"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 2, 1, 1], "{f}");
    assert_eq!(
        f["steps"][2]["dropped_ids"],
        serde_json::json!([sid(0xb2).to_string()])
    );
    assert_eq!(
        f["steps"][2]["session_ids"],
        serde_json::json!([sid(0xa1).to_string()])
    );
    assert_eq!(f["steps"][0]["dropped_ids"], serde_json::json!([]));
    assert_eq!(f["steps"][3]["dropped_ids"], serde_json::json!([]));
    // Order matters: paid before added never happens.
    let f = s
        .funnel(&serde_json::json!({"steps": [{"event": "paid"}, {"event": "added"}]}))
        .await
        .json();
    assert_eq!(f["steps"][0]["sessions"], 1);
    assert_eq!(f["steps"][1]["sessions"], 0);
    // Within a window: added to paid took 4 s in A.
    let body = |w: u64| serde_json::json!({"steps": [{"event": "added"}, {"event": "paid"}], "within_ms": w});
    assert_eq!(
        s.funnel(&body(4_000)).await.json()["steps"][1]["sessions"],
        1
    );
    assert_eq!(
        s.funnel(&body(3_999)).await.json()["steps"][1]["sessions"],
        0
    );
    // Filters: the tablet alone.
    let f = s
        .funnel(
            &serde_json::json!({"steps": [{"event": "added"}], "filters": {"device": "tablet"}}),
        )
        .await
        .json();
    assert_eq!(
        f["steps"][0]["session_ids"],
        serde_json::json!([sid(0xc3).to_string()])
    );
    // A range that ends before the sessions began.
    let until = crate::index::format_ms(t0 - 60_000);
    let f = s
        .funnel(&serde_json::json!({"steps": [{"event": "added"}], "filters": {"until": until}}))
        .await
        .json();
    assert_eq!(f["steps"][0]["sessions"], 0);
}

#[tokio::test]
async fn insights_numbers_on_the_log_backend() {
    check_everything(&server()).await;
}

#[tokio::test]
async fn insights_numbers_on_the_mem_backend() {
    let (s, _) = mem_server();
    check_everything(&s).await;
}

/// The digest survives a restart (it is in sled, and its fields in the
/// session's metadata; or in PostgreSQL), and a delete leaves no key of it.
#[tokio::test]
async fn the_digest_persists_and_goes_with_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = now() - 3_600_000;
    {
        let state = Arc::new(AppState::new(
            open_store(dir.path()),
            Auth::new(vec![KEY.into()], TOKEN.into()),
            IngestLimits::default(),
            0,
        ));
        let s = Server {
            _dir: tempfile::tempdir().unwrap(),
            state: state.clone(),
            app: app(state),
        };
        record(&s, t0).await;
    }
    let state = Arc::new(AppState::new(
        open_store(dir.path()),
        Auth::new(vec![KEY.into()], TOKEN.into()),
        IngestLimits::default(),
        0,
    ));
    let s = Server {
        _dir: dir,
        state: state.clone(),
        app: app(state),
    };
    let h = s.ok_json("/api/v1/insights/clicks?url=shop.example").await;
    assert_eq!(
        (&h["sessions"], &h["targets"][0]["clicks"]),
        (&2.into(), &5.into())
    );
    assert_eq!(s.ids("has_rage_clicks=true").await, ["a1"]);
    for n in [0xa1, 0xb2, 0xc3] {
        let del = Request::delete(format!("/api/v1/sessions/{}", sid(n)))
            .header("authorization", format!("Bearer {TOKEN}"));
        assert_eq!(
            s.send(del.body(Body::empty()).unwrap()).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(s.state.store.session_key_count().unwrap(), 0);
    let h = s.ok_json("/api/v1/insights/clicks?url=shop.example").await;
    assert_eq!(h["sessions"], 0);
}

#[tokio::test]
async fn bad_insights_queries_are_400_with_a_reason() {
    let s = server();
    let long = "x".repeat(10 * 1024);
    for (path, says) in [
        ("/api/v1/insights/clicks".to_owned(), "`url`"),
        ("/api/v1/insights/scroll?url=".to_owned(), "`url`"),
        (
            format!("/api/v1/insights/clicks?url={long}"),
            "over the limit",
        ),
        (
            format!("/api/v1/insights/scroll?url={long}"),
            "over the limit",
        ),
        (
            "/api/v1/insights/clicks?url=a&colour=red".to_owned(),
            "unknown filter `colour`",
        ),
        (
            "/api/v1/insights/clicks?url=a&device=tv".to_owned(),
            "`device`",
        ),
        (
            "/api/v1/insights/clicks?url=a&since=yesterday".to_owned(),
            "`since`",
        ),
        (
            "/api/v1/insights/clicks?url=a&since=2000-01-01T00:00:00Z".to_owned(),
            "366 days",
        ),
        (
            "/api/v1/insights/scroll?url=a&since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z"
                .to_owned(),
            "after",
        ),
        (
            "/api/v1/insights/scroll?url=a&until=99999-01-01T00:00:00Z".to_owned(),
            "`until`",
        ),
        ("/api/v1/sessions?colour=red".to_owned(), "unknown filter"),
        (
            "/api/v1/sessions?has_dead_clicks=maybe".to_owned(),
            "`has_dead_clicks`",
        ),
    ] {
        let r = s.get(&path).await;
        r.assert_json_error(StatusCode::BAD_REQUEST);
        let e = r.json()["error"].as_str().unwrap().to_owned();
        assert!(e.contains(says), "{}: {e}", &path[..path.len().min(80)]);
    }
    let step = serde_json::json!({"url": "/"});
    for (body, says) in [
        ("not json".to_owned(), "not JSON"),
        (
            serde_json::json!({"steps": vec![step.clone(); 50]}).to_string(),
            "at most 20 steps",
        ),
        (
            serde_json::json!({"steps": [{"url": long}]}).to_string(),
            "over the limit",
        ),
        (
            serde_json::json!({"steps": [{"nope": "x"}]}).to_string(),
            "step 1",
        ),
        (
            serde_json::json!({"steps": [step, {"click": ""}]}).to_string(),
            "step 2",
        ),
        (
            serde_json::json!({"steps": [step], "filters": {"since": "2000-01-01T00:00:00Z"}})
                .to_string(),
            "366 days",
        ),
        (
            serde_json::json!({"steps": [step], "filters": {"colour": "red"}}).to_string(),
            "unknown filter",
        ),
        (
            serde_json::json!({"steps": [step], "within_ms": "soon"}).to_string(),
            "`within_ms`",
        ),
    ] {
        let r = s.post_funnel(&body).await;
        r.assert_json_error(StatusCode::BAD_REQUEST);
        let e = r.json()["error"].as_str().unwrap().to_owned();
        assert!(e.contains(says), "{}: {e}", &body[..body.len().min(80)]);
    }
    // Without a token: 401, as every read.
    let r = s.get_anon("/api/v1/insights/clicks?url=a").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The wrong method.
    let r = s.get("/api/v1/insights/funnel").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
