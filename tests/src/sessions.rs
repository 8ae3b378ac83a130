//! Sessions built from events instead of a browser, and the player opened
//! on them: the helpers the player and API tests share.
//!
//! Events are written with times relative to the session's start and
//! shifted to a real start time when posted ([`post`]), so a test says
//! exactly when each click, error or idle stretch happens.

use crate::{Browser, Page, ReelServer};
use anyhow::{anyhow, ensure, Context, Result};
use reel_shared::{
    encode_chunk, Custom, Element, Event, EventData, FlatNode, Meta, Namespace, NodeKind,
    SessionId, Snapshot,
};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn node(id: u32, parent: u32, kind: NodeKind) -> FlatNode {
    FlatNode { id, parent, kind }
}

/// An HTML element with these attributes.
pub fn el(id: u32, parent: u32, tag: &str, attrs: &[(&str, &str)]) -> FlatNode {
    node(
        id,
        parent,
        NodeKind::Element(Element {
            tag: tag.into(),
            ns: Namespace::Html,
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }),
    )
}

/// A page's first two events at `t`: where it is (`meta`), and its
/// document.
pub fn opening(t: u64, meta: Meta, nodes: Vec<FlatNode>) -> Vec<Event> {
    vec![
        Event {
            t,
            data: EventData::Meta(meta),
        },
        Event {
            t,
            data: EventData::FullSnapshot(Snapshot {
                nodes,
                scroll_x: 0,
                scroll_y: 0,
            }),
        },
    ]
}

/// The `Meta` of a 1024×640 page at `href` titled `title`.
pub fn meta(href: &str, title: &str) -> Meta {
    Meta {
        href: href.into(),
        title: title.into(),
        width: 1024,
        height: 640,
        user_agent: "test".into(),
        referrer: None,
        visitor_id: None,
        new_visitor: None,
    }
}

/// A custom event `name` (no data) at `t`.
pub fn custom(t: u64, name: String) -> Event {
    Event {
        t,
        data: EventData::Custom(Custom { name, data: None }),
    }
}

/// Posts `events` (times relative, shifted to `t0`) as chunks of `per`,
/// numbered from `first_seq`; returns the bytes of each chunk posted.
pub async fn post(
    server: &ReelServer,
    id: SessionId,
    t0: u64,
    first_seq: u32,
    events: &[Event],
    per: usize,
) -> Result<Vec<usize>> {
    let mut sizes = Vec::new();
    for (i, part) in events.chunks(per).enumerate() {
        let part: Vec<Event> = part
            .iter()
            .map(|e| Event {
                t: t0 + e.t,
                data: e.data.clone(),
            })
            .collect();
        let seq = first_seq + i as u32;
        let bytes = encode_chunk(id, seq, &part)?;
        let resp = server.post_chunk(&id.to_string(), seq, &bytes).await?;
        ensure!(resp.status < 300, "chunk {seq}: {}", resp.text());
        sizes.push(bytes.len());
    }
    Ok(sizes)
}

/// A fresh random session id.
pub fn new_id() -> Result<SessionId> {
    crate::server::random_hex()?
        .parse()
        .map_err(|e| anyhow!("{e:?}"))
}

/// Opens the player at `path` (e.g. `/sessions/<id>`) in a new authorised
/// page of 1400×860, waiting `wait` for `window.reelPlayer` but not for
/// the session to load.
pub async fn goto_player(
    browser: &Browser,
    server: &ReelServer,
    path: &str,
    wait: Duration,
) -> Result<Page> {
    let p = crate::fidelity::authorised_page(browser, server).await?;
    p.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1400, "height": 860, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await?;
    p.goto(&server.url(path)).await?;
    p.wait_for("!!window.reelPlayer", wait).await?;
    Ok(p)
}

/// [`goto_player`], then waits until `reelPlayer.ready`.
pub async fn open_player(
    browser: &Browser,
    server: &ReelServer,
    path: &str,
    wait: Duration,
) -> Result<Page> {
    let p = goto_player(browser, server, path, wait).await?;
    p.eval("window.reelPlayer.ready.then(() => true)")
        .await
        .context("reelPlayer.ready")?;
    Ok(p)
}

/// The number `js` evaluates to on `p`.
pub async fn num(p: &Page, js: &str) -> Result<f64> {
    p.eval(js)
        .await?
        .as_f64()
        .with_context(|| format!("{js} is not a number"))
}

/// A `fetch` of the page that took `duration_ms`, as the recorder writes
/// it (no sizes, headers or bodies: add them to the result); its event's
/// `t` is when it settled.
pub fn network(method: &str, url: &str, status: u16, duration_ms: u32) -> reel_shared::Network {
    reel_shared::Network {
        kind: reel_shared::NetworkKind::Fetch,
        method: method.into(),
        url: url.into(),
        status,
        duration_ms,
        request_bytes: None,
        response_bytes: None,
        failure: (status == 0).then(|| "network error".into()),
        request_headers: Vec::new(),
        response_headers: Vec::new(),
        request_body: None,
        response_body: None,
    }
}

/// A click at `t` on node `id` at `(x, y)`, labelled `label`.
pub fn labelled_click(t: u64, id: u32, x: i32, y: i32, label: &str) -> Event {
    Event {
        t,
        data: EventData::Mouse(reel_shared::MouseInteraction {
            kind: reel_shared::MouseKind::Click,
            id,
            x,
            y,
            label: Some(label.into()),
            selector: None,
            box_x: None,
            box_y: None,
        }),
    }
}

/// Typing `value` at `t` into field `id`, labelled `label`.
pub fn labelled_input(t: u64, id: u32, value: &str, label: &str) -> Event {
    Event {
        t,
        data: EventData::Input(reel_shared::Input {
            id,
            value: Some(reel_shared::FieldValue::Text(value.into())),
            checked: None,
            label: Some(label.into()),
            selector: None,
        }),
    }
}

/// The named key `key` (`Enter`, `Escape`...) pressed at `t` in node `id`,
/// labelled `label`.
pub fn key_press(t: u64, id: u32, key: &str, label: &str) -> Event {
    Event {
        t,
        data: EventData::Key(reel_shared::Key {
            id,
            key: key.into(),
            label: Some(label.into()),
            selector: None,
        }),
    }
}
