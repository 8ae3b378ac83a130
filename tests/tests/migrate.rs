//! `reel-server migrate` and the distributed layout's flags (contract §5)
//! against the real binary:
//! - an embedded server records sessions and a comment; stopped, its data
//!   dir is copied into a distributed deployment (a fresh PostgreSQL
//!   database and s3s-fs bucket from `reel_testsvc`), verified; run again,
//!   it copies nothing; a process of the deployment then lists and serves
//!   every session under its id, byte for byte, with its comment, and
//!   writes nothing into its own `--data`;
//! - one of `--chunk-store` / `--index-db` without the other is refused
//!   at start, saying which is missing.

use anyhow::{ensure, Context, Result};
use reel_e2e::deployment::Deployment;
use reel_e2e::server::server_binary;
use reel_e2e::sessions::{custom, meta, new_id, node, now_ms, opening, post};
use reel_e2e::ReelServer;
use reel_shared::{NodeKind, NO_NODE};
use std::path::Path;

/// Runs `reel-server migrate` from `data` into `d`; its stdout.
async fn migrate(data: &Path, d: &Deployment) -> Result<String> {
    let out = tokio::process::Command::new(server_binary())
        .arg("migrate")
        .arg("--data")
        .arg(data)
        .args(["--chunk-store", d.chunk_store(), "--index-db", d.index_db()])
        .envs(d.env().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .context("running reel-server migrate")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "migrate failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

/// The report's row for `what`: `[source, copied, were there]`.
fn row(report: &str, what: &str) -> Result<Vec<u64>> {
    // The table's row, after the progress lines.
    let line = report
        .lines()
        .rfind(|l| l.starts_with(what))
        .with_context(|| format!("no {what} row in\n{report}"))?;
    line[what.len()..]
        .split_whitespace()
        .map(|n| n.parse().context("a count"))
        .collect()
}

#[tokio::test]
async fn an_embedded_deployment_moves_onto_postgres_and_s3() -> Result<()> {
    let mut embedded = ReelServer::start().await?;
    let t0 = now_ms() - 60_000;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = new_id()?;
        let mut events = opening(
            0,
            meta(&format!("https://shop.example/p{n}"), "shop"),
            vec![node(1, NO_NODE, NodeKind::Document)],
        );
        events.extend((0..7u64).map(|i| custom(100 * (i + 1), format!("step {i}"))));
        post(&embedded, id, t0, 0, &events, 3).await?;
        ids.push(id.to_string());
    }
    let r = embedded
        .api(
            "POST",
            &format!("/api/v1/sessions/{}/comments", ids[0]),
            br#"{"t": 150, "text": "the second step"}"#,
        )
        .await?;
    ensure!(r.status < 300, "comment: {}", r.text());
    let mut chunks = Vec::new();
    for id in &ids {
        chunks.push(embedded.raw_chunks(id).await?);
    }
    embedded.stop().await?;

    let d = Deployment::new().await?;
    let first = migrate(embedded.data_dir(), &d).await?;
    eprintln!("{first}");
    ensure!(first.contains("everything matches"), "{first}");
    ensure!(row(&first, "sessions")? == [3, 3, 0], "{first}");
    ensure!(row(&first, "chunks")? == [9, 9, 0], "{first}");
    ensure!(row(&first, "comments")? == [1, 1, 0], "{first}");
    // Again: everything is there already.
    let again = migrate(embedded.data_dir(), &d).await?;
    ensure!(again.contains("everything matches"), "{again}");
    ensure!(row(&again, "chunks")? == [9, 0, 9], "{again}");
    ensure!(row(&again, "comments")? == [1, 0, 1], "{again}");

    let p = d.start_process().await?;
    let listed = p.list_sessions().await?;
    ensure!(listed.len() == 3, "{listed:?}");
    for (id, mine) in ids.iter().zip(&chunks) {
        ensure!(
            &p.raw_chunks(id).await? == mine,
            "session {id} differs after the move"
        );
        ensure!(p.session(id).await?["chunks"] == 3);
    }
    let c = p
        .api_json(&format!("/api/v1/sessions/{}/comments", ids[0]))
        .await?;
    ensure!(c["comments"][0]["text"] == "the second step", "{c}");
    // The process keeps nothing in its own --data.
    let written: Vec<_> = std::fs::read_dir(p.data_dir())?.collect();
    ensure!(written.is_empty(), "--data holds {written:?}");
    Ok(())
}

#[tokio::test]
async fn one_flag_without_the_other_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    for (flag, value, missing) in [
        ("--chunk-store", "s3://bucket", "--index-db"),
        (
            "--index-db",
            "postgres://reel@127.0.0.1:1/reel",
            "--chunk-store",
        ),
    ] {
        let out = tokio::process::Command::new(server_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path())
            .args([flag, value])
            .env_remove("REEL_CHUNK_STORE")
            .env_remove("REEL_INDEX_DB")
            .output()
            .await?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "{flag} alone was accepted");
        ensure!(err.contains(&format!("without {missing}")), "{err}");
    }
    // Nothing was created for the refused starts.
    ensure!(std::fs::read_dir(dir.path())?.next().is_none());
    Ok(())
}
