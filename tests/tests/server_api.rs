//! The server's HTTP contract through the harness, with chunks built by the
//! shared encoder instead of a browser: ingest, the read API, the raw chunk
//! dump, auth, rejection of bad input, and durability across `kill -9`.
//! It needs only the release server, so it also tells a failing skeleton
//! test's "the recorder is broken" apart from "the server is broken".

use anyhow::{ensure, Context, Result};
use reel_e2e::server::random_hex;
use reel_e2e::{http, ReelServer};
use reel_shared::{
    encode_chunk, Custom, Event, EventData, FlatNode, Meta, MouseInteraction, MouseKind, NodeKind,
    SessionId, Snapshot, NO_NODE,
};

const HREF: &str = "http://example.test/shop?item=1";

fn chunks(session: SessionId) -> Result<Vec<Vec<u8>>> {
    let t0 = 1_700_000_000_000u64;
    let first = vec![
        Event {
            t: t0,
            data: EventData::Meta(Meta {
                href: HREF.into(),
                title: "Shop".into(),
                width: 800,
                height: 600,
                user_agent: "reel-e2e".into(),
            }),
        },
        Event {
            t: t0,
            data: EventData::FullSnapshot(Snapshot {
                nodes: vec![FlatNode {
                    id: 1,
                    parent: NO_NODE,
                    kind: NodeKind::Document,
                }],
                scroll_x: 0,
                scroll_y: 0,
            }),
        },
        Event {
            t: t0 + 10,
            data: EventData::Mouse(MouseInteraction {
                kind: MouseKind::Click,
                id: 1,
                x: 3,
                y: 4,
            }),
        },
    ];
    let second = vec![Event {
        t: t0 + 250,
        data: EventData::Custom(Custom {
            name: "m1".into(),
            data: None,
        }),
    }];
    Ok(vec![
        encode_chunk(session, 0, &first)?,
        encode_chunk(session, 1, &second)?,
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_read_and_survive_kill9() -> Result<()> {
    let mut server = ReelServer::start().await?;
    let id_text = random_hex()?;
    let id: SessionId = id_text.parse()?;
    let sent = chunks(id)?;
    for (seq, c) in sent.iter().enumerate() {
        server
            .post_chunk(&id_text, seq as u32, c)
            .await?
            .ensure_success("posting a chunk")?;
    }
    // Posting the same (session, seq) again is harmless.
    server
        .post_chunk(&id_text, 0, &sent[0])
        .await?
        .ensure_success("posting a chunk again")?;

    // Bad input: a 4xx with a JSON error, and the server stays up.
    let bad = server.post_chunk(&id_text, 2, b"not a chunk").await?;
    ensure!((400..500).contains(&bad.status), "{bad:?}");
    ensure!(bad.json()?["error"].is_string(), "{}", bad.text());
    let wrong_key = http::request(
        "POST",
        &server.url(&format!("/api/v1/sessions/{id_text}/chunks/5")),
        &[("X-Reel-Key", "wrong")],
        &sent[0],
    )
    .await?;
    ensure!((400..500).contains(&wrong_key.status), "{wrong_key:?}");
    let anonymous = http::get(&server.url("/api/v1/sessions"), &[]).await?;
    ensure!(anonymous.status == 401, "{anonymous:?}");

    check(&server, &id_text, &sent)
        .await
        .context("before the crash")?;
    server.kill9();
    server.restart().await?;
    check(&server, &id_text, &sent)
        .await
        .context("after kill -9 and restart")?;

    let del = server.delete_session(&id_text).await?;
    ensure!((200..300).contains(&del.status), "{del:?}");
    let gone = server
        .api("GET", &format!("/api/v1/sessions/{id_text}"), &[])
        .await?;
    ensure!(gone.status == 404, "{gone:?}");
    Ok(())
}

/// What the read API must say about the session posted above.
async fn check(server: &ReelServer, id: &str, sent: &[Vec<u8>]) -> Result<()> {
    let info = server.session(id).await?;
    ensure!(info["id"] == id, "{info}");
    ensure!(info["chunks"] == 2, "{info}");
    ensure!(info["click_count"] == 1, "{info}");
    ensure!(info["event_count"] == 4, "{info}");
    ensure!(info["urls"] == serde_json::json!([HREF]), "{info}");
    let listed = server.list_sessions().await?;
    ensure!(listed.iter().any(|s| s["id"] == id), "{listed:?}");
    let events = server.events(id).await?;
    ensure!(events.len() == 4, "{events:?}");
    let raw = server.raw_chunks(id).await?;
    ensure!(raw == sent, "the raw chunks differ from those posted");
    Ok(())
}
