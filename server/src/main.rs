//! `reel-server`: one process that ingests chunks, stores them in sled, and
//! serves the API, the recorder and the player.

mod api;
mod assets;
mod auth;
mod config;
mod index;
mod store;
mod ui;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "reel-server", version, about = "Reel's session-replay server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve ingest, the API, the recorder and the player.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        value_name = "ADDR",
        env = "REEL_LISTEN",
        default_value = "127.0.0.1:7070"
    )]
    listen: String,
    /// Directory of the sled database.
    #[arg(
        long,
        value_name = "DIR",
        env = "REEL_DATA",
        default_value = "./reel-data"
    )]
    data: PathBuf,
    /// A key recorders must send; repeat for several. Generated and kept in
    /// the data dir when none is given.
    #[arg(
        long = "ingest-key",
        value_name = "KEY",
        env = "REEL_INGEST_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    ingest_keys: Vec<String>,
    /// The token for the read API and the UI. Generated and kept in the data
    /// dir when not given.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REEL_API_TOKEN",
        hide_env_values = true
    )]
    api_token: Option<String>,
}

/// In-flight requests get this long to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Serve(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(serve(args))
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let store = store::Store::open(&args.data).with_context(|| {
        format!(
            "opening the database in {} (is another server using it?)",
            args.data.display()
        )
    })?;
    let secrets = config::resolve(&store, &args.ingest_keys, args.api_token.as_deref())?;

    let mut out = std::io::stdout().lock();
    for k in &secrets.ingest_keys {
        writeln!(out, "ingest key: {k}")?;
    }
    writeln!(out, "api token: {}", secrets.api_token)?;
    out.flush()?;
    drop(out);

    let state = Arc::new(api::AppState {
        store: store.clone(),
        auth: auth::Auth::new(secrets.ingest_keys, secrets.api_token),
    });
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    tracing::info!(%addr, data = %args.data.display(), "reel-server started");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, api::app(state)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    // Idle keep-alive connections close at once; a request that will not
    // finish must not keep the process (and the sled lock) alive forever.
    let grace = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => r.context("serving")?,
        () = grace => tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway"),
    }
    store.flush().await.context("flushing the database")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
