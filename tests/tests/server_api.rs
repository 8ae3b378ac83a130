//! The server's HTTP contract through the harness, with chunks built by the
//! shared encoder instead of a browser: ingest, the read API, the raw chunk
//! dump, auth, rejection of bad input, and durability across `kill -9`.
//! It needs only the release server, so it also tells a failing skeleton
//! test's "the recorder is broken" apart from "the server is broken".

use anyhow::{ensure, Context, Result};
use reel_e2e::server::random_hex;
use reel_e2e::sessions::{custom, node, opening};
use reel_e2e::{http, ReelServer};
use reel_shared::{
    encode_chunk, Event, EventData, Meta, MouseInteraction, MouseKind, NodeKind, SessionId, NO_NODE,
};

const HREF: &str = "http://example.test/shop?item=1";

fn chunks(session: SessionId) -> Result<Vec<Vec<u8>>> {
    let t0 = 1_700_000_000_000u64;
    let mut first = opening(
        t0,
        Meta {
            href: HREF.into(),
            title: "Shop".into(),
            width: 800,
            height: 600,
            user_agent: "reel-e2e".into(),
            referrer: None,
            visitor_id: None,
            new_visitor: None,
        },
        vec![node(1, NO_NODE, NodeKind::Document)],
    );
    first.push(Event {
        t: t0 + 10,
        data: EventData::Mouse(MouseInteraction {
            kind: MouseKind::Click,
            id: 1,
            x: 3,
            y: 4,
            label: None,
            selector: None,
            box_x: None,
            box_y: None,
        }),
    });
    let second = vec![custom(t0 + 250, "m1".into())];
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

fn custom_chunk(session: SessionId, seq: u32, t: u64) -> Result<Vec<u8>> {
    let ev = [custom(t, format!("c{seq}"))];
    Ok(encode_chunk(session, seq, &ev)?)
}

/// The refusal is JSON with this status and a message naming `what`.
fn refused(r: &http::HttpResponse, status: u16, what: &str) -> Result<()> {
    ensure!(r.status == status, "{r:?}");
    let msg = r.json()?["error"].as_str().unwrap_or("").to_owned();
    ensure!(msg.contains(what), "{what}: {}", r.text());
    Ok(())
}

/// Issue 20, against the real binary (which alone knows the client's
/// address): garbage spends no new-session token, one address spends only
/// its own allowance, a skippable zstd frame is refused, and the byte caps
/// answer 413 (per session) and 429 with Retry-After (per key per hour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowances_and_caps_hold_against_the_real_server() -> Result<()> {
    let t0 = 1_700_000_000_000u64;
    let one = custom_chunk(SessionId([0; 16]), 0, t0)?.len();
    let server = ReelServer::start_with_args(&[
        "--max-new-sessions-per-minute",
        "5",
        "--max-new-sessions-per-address-per-minute",
        "2",
        "--max-session-bytes",
        &(2 * one + one / 2).to_string(),
    ])
    .await?;
    // Garbage as the first chunk of new sessions: 400 every time, and no
    // token spent.
    for n in 0..40u8 {
        let id = random_hex()?;
        let body: Vec<u8> = match n % 2 {
            0 => vec![n],
            _ => custom_chunk(SessionId([n; 16]), 0, t0)?,
        };
        let r = server.post_chunk(&id, 0, &body).await?;
        refused(&r, 400, "")?;
    }
    // A skippable frame before the data frame.
    let id_text = random_hex()?;
    let id: SessionId = id_text.parse()?;
    let good = custom_chunk(id, 0, t0)?;
    let at = good.len()
        - reel_shared::decode_header(&good, &reel_shared::Limits::default())?
            .1
            .len();
    let mut skippable = good[..at].to_vec();
    skippable.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]);
    skippable.extend_from_slice(&good[at..]);
    refused(
        &server.post_chunk(&id_text, 0, &skippable).await?,
        400,
        "skippable",
    )?;
    // Two real new sessions from this address get in; the third is over
    // the address's allowance, not the key's (which garbage did not touch).
    server
        .post_chunk(&id_text, 0, &good)
        .await?
        .ensure_success("first session")?;
    let other = random_hex()?;
    let c = custom_chunk(other.parse()?, 0, t0)?;
    server
        .post_chunk(&other, 0, &c)
        .await?
        .ensure_success("second session")?;
    let third = random_hex()?;
    let r = server
        .post_chunk(&third, 0, &custom_chunk(third.parse()?, 0, t0)?)
        .await?;
    refused(&r, 429, "client address")?;
    ensure!(r.header("retry-after").is_some(), "{r:?}");
    // Bytes per session: two chunks fit, the third is 413.
    server
        .post_chunk(&id_text, 1, &custom_chunk(id, 1, t0 + 1)?)
        .await?
        .ensure_success("second chunk")?;
    let r = server
        .post_chunk(&id_text, 2, &custom_chunk(id, 2, t0 + 2)?)
        .await?;
    refused(&r, 413, "per session")?;

    // Bytes per key per hour: 429 with Retry-After once spent.
    let server = ReelServer::start_with_args(&[
        "--max-bytes-per-key-per-hour",
        &(2 * one + one / 2).to_string(),
    ])
    .await?;
    for seq in 0..2 {
        server
            .post_chunk(&id_text, seq, &custom_chunk(id, seq, t0 + u64::from(seq))?)
            .await?
            .ensure_success("within the hour's bytes")?;
    }
    let r = server
        .post_chunk(&id_text, 2, &custom_chunk(id, 2, t0 + 2)?)
        .await?;
    refused(&r, 429, "bytes for the hour")?;
    ensure!(r.header("retry-after").is_some(), "{r:?}");
    // Still up.
    ensure!(server.session(&id_text).await?["chunks"] == 2);
    Ok(())
}
