//! `reel-server`: one process that ingests chunks, stores them (a segment
//! log for the chunks, sled for the session index; or, with
//! `--chunk-store` and `--index-db`, an S3 bucket and PostgreSQL shared by
//! every process of a deployment), and serves the API, the recorder and
//! the player.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use reel_server::layout::Layout;
use reel_server::ratelimit::Allowances;
use reel_server::validate::IngestLimits;
use reel_server::{api, archive, auth, config, migrate, retention, serve, store};
use reel_shared::SessionId;
use std::io::Write;
use std::path::{Path, PathBuf};
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
    /// Write one session as a portable archive (JSON with the chunks in
    /// base64), or with --json its decoded events.
    Export(ExportArgs),
    /// Read an archive written by `export` into a data dir, re-validating
    /// every chunk.
    Import(ImportArgs),
    /// Copy an embedded deployment (a data dir) into a distributed one
    /// (--chunk-store and --index-db): sessions keep their ids, and
    /// everything else in the data dir comes along. Resumable: running it
    /// again copies only what is missing. Verified: ends comparing both
    /// sides, chunk by chunk.
    Migrate(MigrateArgs),
}

/// The distributed layout (contract §5): both or neither.
#[derive(Args)]
struct DistArgs {
    /// s3://BUCKET[/PREFIX]: chunk bytes in an S3-compatible object store.
    /// Endpoint, region and credentials come from AWS_ENDPOINT_URL,
    /// AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    /// (AWS_ALLOW_HTTP=true for a plain-http endpoint). Needs --index-db;
    /// with both, --data is not used.
    #[arg(long, value_name = "URL", env = "REEL_CHUNK_STORE")]
    chunk_store: Option<String>,
    /// postgres://USER[:PASSWORD]@HOST:PORT/DB: the session index and
    /// everything else that is not chunk bytes (keys, members, comments,
    /// audit, insights...); the schema is created or migrated on start.
    /// Needs --chunk-store.
    #[arg(
        long,
        value_name = "URL",
        env = "REEL_INDEX_DB",
        hide_env_values = true
    )]
    index_db: Option<String>,
}

impl DistArgs {
    fn layout(&self, data: &Path) -> anyhow::Result<Layout> {
        Ok(Layout::from_flags(
            data,
            self.chunk_store.as_deref(),
            self.index_db.as_deref(),
        )?)
    }
}

#[derive(Args)]
struct DataArg {
    /// The data directory (sled index, segment log, generated secrets).
    /// Not used with --chunk-store and --index-db.
    #[arg(
        long,
        value_name = "DIR",
        env = "REEL_DATA",
        default_value = "./reel-data"
    )]
    data: PathBuf,
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
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    dist: DistArgs,
    /// A key recorders must send; repeat for several. Generated and kept in
    /// the data dir (or the index database) when none is given.
    #[arg(
        long = "ingest-key",
        value_name = "KEY",
        env = "REEL_INGEST_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    ingest_keys: Vec<String>,
    /// The token for the read API and the UI. Generated and kept in the data
    /// dir (or the index database) when not given.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REEL_API_TOKEN",
        hide_env_values = true
    )]
    api_token: Option<String>,
    /// Delete sessions inactive for longer than this many days (fractions
    /// allowed), checked at start and hourly. Default: keep forever.
    #[arg(long, value_name = "DAYS", env = "REEL_RETENTION_DAYS", value_parser = parse_days)]
    retention_days: Option<f64>,
    /// New sessions each ingest key may start per minute (0: no limit).
    #[arg(
        long,
        value_name = "N",
        env = "REEL_MAX_NEW_SESSIONS_PER_MINUTE",
        default_value_t = 600
    )]
    max_new_sessions_per_minute: u32,
    /// New sessions one client address may start per minute under each
    /// ingest key (0: no limit). Behind a reverse proxy every client has
    /// the proxy's address: raise this or set it to 0 there.
    #[arg(
        long,
        value_name = "N",
        env = "REEL_MAX_NEW_SESSIONS_PER_ADDRESS_PER_MINUTE",
        default_value_t = Allowances::default().new_sessions_per_address_per_minute
    )]
    max_new_sessions_per_address_per_minute: u32,
    /// Bytes of chunks each ingest key may store per hour (0: no limit).
    #[arg(
        long,
        value_name = "BYTES",
        env = "REEL_MAX_BYTES_PER_KEY_PER_HOUR",
        default_value_t = Allowances::default().bytes_per_key_per_hour
    )]
    max_bytes_per_key_per_hour: u64,
    /// Bytes one session may store in all.
    #[arg(long, value_name = "BYTES", env = "REEL_MAX_SESSION_BYTES", default_value_t = IngestLimits::default().max_session_bytes)]
    max_session_bytes: u64,
    /// Largest request body ingest accepts, in bytes.
    #[arg(long, value_name = "BYTES", env = "REEL_MAX_BODY_BYTES", default_value_t = IngestLimits::default().max_body)]
    max_body_bytes: usize,
    /// Largest size a chunk may decompress to, in bytes.
    #[arg(long, value_name = "BYTES", env = "REEL_MAX_CHUNK_BYTES", default_value_t = IngestLimits::default().max_decompressed)]
    max_chunk_bytes: usize,
    /// Most events one chunk may hold.
    #[arg(long, value_name = "N", env = "REEL_MAX_EVENTS_PER_CHUNK", default_value_t = IngestLimits::default().max_events)]
    max_events_per_chunk: usize,
    /// Seconds a request's head or body may go without a byte before the
    /// connection is dropped (a stalled body is answered 408).
    #[arg(
        long,
        value_name = "SECS",
        env = "REEL_STALL_TIMEOUT_SECS",
        default_value_t = serve::ConnLimits::DEFAULT_STALL_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    stall_timeout_secs: u64,
    /// Request-body bytes received at once, all requests together; a
    /// request past it is answered 503 with Retry-After.
    #[arg(
        long,
        value_name = "BYTES",
        env = "REEL_MAX_INFLIGHT_BODY_BYTES",
        default_value_t = serve::ConnLimits::DEFAULT_BODY_BUDGET
    )]
    max_inflight_body_bytes: usize,
    /// Bytes kept free on the data dir's disk: below it ingest answers 507
    /// (0: none). Default: 256 MiB or 5% of the disk, whichever is less.
    #[arg(long, value_name = "BYTES", env = "REEL_MIN_FREE_BYTES")]
    min_free_bytes: Option<u64>,
    /// Seconds between retention sweeps (for tests).
    #[arg(long, hide = true, default_value_t = 3600)]
    sweep_interval_secs: u64,
    /// A reverse proxy (an address or a CIDR network; repeatable) whose
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed: for the
    /// client's address (sign-in limits, audit) and for marking the
    /// session cookie `Secure` behind TLS. From anyone else they are
    /// ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "ADDR[/BITS]",
        env = "REEL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<reel_server::client::ProxyNet>,
}

#[derive(Args)]
struct ExportArgs {
    /// The session's id (32 hex digits).
    session: String,
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    dist: DistArgs,
    /// Write here instead of to stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the session's decoded events as a JSON array instead of an
    /// archive.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ImportArgs {
    /// An archive written by `reel-server export`.
    file: PathBuf,
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    dist: DistArgs,
}

#[derive(Args)]
struct MigrateArgs {
    // The embedded deployment's data dir: the copy's source, only read.
    #[command(flatten)]
    data: DataArg,
    // The distributed deployment, the copy's destination: both needed.
    #[command(flatten)]
    dist: DistArgs,
}

fn parse_days(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 && d < 1e6 => Ok(d),
        _ => Err("a number of days above 0".into()),
    }
}

/// Keeps freed memory in the process instead of handing it back to the
/// kernel: sled allocates and frees a node buffer of hundreds of KB at
/// every rewrite of a leaf of chunks, which glibc serves with mmap and
/// munmap by default, so every one of them page-faulted its memory in
/// afresh. Costs at most a few tens of MB of resident memory.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called once,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024 * 1024);
    }
}

/// In-flight requests get this long to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    tune_malloc();
    // Everything Reel creates (sled's later files too) is its owner's
    // alone: the data dir holds what users did and the server's secrets.
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
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
        Command::Serve(args) => serve(args),
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
        Command::Migrate(args) => migrate(args),
    }
}

/// Opens an existing database for the CLI commands: they must not create
/// an empty one by mistake, and must say so clearly when a server holds it.
fn open_existing(dir: &Path) -> anyhow::Result<store::Store> {
    if !dir.join("db").is_file() {
        anyhow::bail!("no Reel database in {}", dir.display());
    }
    Ok(store::Store::open(dir)?)
}

/// [`open_existing`] for either layout: a distributed deployment is
/// always there to open (its schema is created on first use).
fn open_layout(layout: &Layout) -> anyhow::Result<store::Store> {
    match layout {
        Layout::Embedded { data } => open_existing(data),
        Layout::Distributed { .. } => Ok(layout
            .open(store::StoreOptions::default())
            .with_context(|| format!("opening {}", layout.describe()))?),
    }
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let id: SessionId = args
        .session
        .parse()
        .context("the session id must be 32 lowercase hexadecimal digits")?;
    let store = open_layout(&args.dist.layout(&args.data.data)?)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if args.json {
        let limits = IngestLimits::default().decode_limits();
        api::sessions::write_events_json(&store, &id, &limits, &mut out)?;
    } else {
        archive::export(&store, &id, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let layout = args.dist.layout(&args.data.data)?;
    let store = layout
        .open(store::StoreOptions::default())
        .with_context(|| format!("opening {}", layout.describe()))?;
    let done = archive::import(&store, &bytes, &IngestLimits::default())?;
    println!(
        "imported session {}: {} chunks stored, {} already there",
        done.session, done.stored, done.duplicates
    );
    Ok(())
}

fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let layout = args.dist.layout(&args.data.data)?;
    if !layout.is_distributed() {
        anyhow::bail!(
            "migrate copies into a distributed deployment: give --chunk-store s3://BUCKET[/PREFIX] \
             and --index-db postgres://USER[:PASSWORD]@HOST:PORT/DB (or REEL_CHUNK_STORE and \
             REEL_INDEX_DB)"
        );
    }
    let from = open_existing(&args.data.data)?;
    let to = open_layout(&layout)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "migrating {} into {}",
        args.data.data.display(),
        layout.describe()
    )?;
    let report = migrate::run(&from, &to, &mut |line: &str| {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    })?;
    write!(out, "{report}")?;
    out.flush()?;
    if !report.verified() {
        anyhow::bail!("the copy does not match its source (see above); run migrate again");
    }
    Ok(())
}

/// Opens the store and resolves everything that reads it before the async
/// runtime starts: a distributed store bridges its blocking methods with
/// a runtime of its own, which must not be entered from an async worker.
fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let layout = args.dist.layout(&args.data.data)?;
    let options = store::StoreOptions {
        min_free_bytes: args.min_free_bytes,
        ..Default::default()
    };
    let store = layout
        .open(options)
        .with_context(|| format!("opening {}", layout.describe()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = serve_with(args, &layout, store.clone(), &rt);
    // Every clone inside the runtime goes with it; the store's last one
    // is dropped here, outside any async context.
    drop(rt);
    drop(store);
    result
}

fn serve_with(
    args: ServeArgs,
    layout: &Layout,
    store: store::Store,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let secrets = config::resolve(&store, &args.ingest_keys, args.api_token.as_deref())?;
    let kept = if layout.is_distributed() {
        "the index database"
    } else {
        "the data dir"
    };

    let mut out = std::io::stdout().lock();
    for k in &secrets.ingest_keys {
        writeln!(out, "ingest key: {k}")?;
    }
    match &secrets.api_token {
        Some(t) => writeln!(out, "api token: {t}")?,
        None => writeln!(
            out,
            "api token: (kept hashed in {kept}, shown only when generated; \
             to replace it, start with --api-token TOKEN or REEL_API_TOKEN)"
        )?,
    }
    out.flush()?;
    drop(out);

    let limits = IngestLimits {
        max_body: args.max_body_bytes,
        max_decompressed: args.max_chunk_bytes,
        max_events: args.max_events_per_chunk,
        max_session_bytes: args.max_session_bytes,
    };
    let mut state = api::AppState::new(
        store.clone(),
        auth::Auth::with_token_hash(secrets.ingest_keys, secrets.api_token_hash),
        limits,
        Allowances {
            new_sessions_per_key_per_minute: args.max_new_sessions_per_minute,
            new_sessions_per_address_per_minute: args.max_new_sessions_per_address_per_minute,
            bytes_per_key_per_hour: args.max_bytes_per_key_per_hour,
        },
    );
    state.access = reel_server::access::AccessState::for_store(
        &store,
        reel_server::client::TrustedProxies(args.trusted_proxies.clone()),
    )
    .context("reading the access settings")?;
    let state = Arc::new(state);
    rt.block_on(run_server(args, layout, store, state))
}

async fn run_server(
    args: ServeArgs,
    layout: &Layout,
    store: store::Store,
    state: Arc<api::AppState>,
) -> anyhow::Result<()> {
    // Always on: projects may set their own retention at any time.
    let keep = args
        .retention_days
        .map(|days| Duration::from_secs_f64(days * 86_400.0));
    let every = Duration::from_secs(args.sweep_interval_secs.max(1));
    tokio::spawn(retention::run(state.clone(), keep, every));
    if let Some(days) = args.retention_days {
        tracing::info!(days, "retention on");
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    tracing::info!(%addr, store = %layout.describe(), "reel-server started");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    // Requests carry the peer's address (`ConnectInfo`), for the
    // per-address allowance.
    let conn_limits = serve::ConnLimits {
        stall_timeout: Duration::from_secs(args.stall_timeout_secs),
        body_budget: args.max_inflight_body_bytes,
        max_body: args.max_body_bytes,
    };
    let app = serve::guard(api::app(state), conn_limits);
    let server = serve::run(listener, app, conn_limits.stall_timeout, async move {
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
        () = server => {}
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
