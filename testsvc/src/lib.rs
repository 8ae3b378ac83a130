//! Real services for Reel's tests: a PostgreSQL server ([`postgres`]) and an
//! S3-compatible object store ([`s3`], `s3s-fs`: objects are files, so tests
//! can search every stored byte), as the distributed layout (contract §5)
//! runs against in production.
//!
//! Invariants:
//!
//! 1. One server of each kind per test process, started on first use on its
//!    own free port with its data in a temporary directory; tests isolate
//!    themselves with a fresh database ([`Postgres::create_database`]) or
//!    bucket ([`S3::create_bucket`]), never by sharing names.
//! 2. The servers die with the test process, however it ends (a panic, a
//!    `SIGKILL`): each is spawned by one long-lived thread with
//!    `PR_SET_PDEATHSIG`, so no test leaves a server running on the machine.
//! 3. [`Postgres::stop`]/[`S3::stop`] and their `start` simulate an outage:
//!    the data survives (PostgreSQL shuts down cleanly; s3s-fs keeps its
//!    files), and the server comes back on the same port.
//!    [`Postgres::freeze`]/[`S3::freeze`] and their `thaw` simulate a
//!    frozen service instead (`SIGSTOP`/`SIGCONT` to the server and, for
//!    PostgreSQL, every backend: it accepts connections and never answers,
//!    as across a partition that drops packets); `stop` thaws first.
//! 4. [`postgres_tls`] is a second PostgreSQL server that takes TLS
//!    connections only (`hostssl` in `pg_hba.conf`), with a certificate for
//!    `localhost` and `127.0.0.1` signed by a CA made for the test process
//!    with the `openssl` command ([`TlsFiles`]).
//!
//! Found through `REEL_PG_BIN` (else the newest `/usr/lib/postgresql/*/bin`)
//! and `REEL_S3S_FS` (else `target/tools/bin/s3s-fs`, which `.ci/setup`
//! installs, else `s3s-fs` on the `PATH`). Running as root, PostgreSQL runs
//! as the `postgres` user, which it requires.

use std::ffi::CString;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server gets to accept connections after it is started.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The test process's PostgreSQL server, started on first use.
pub fn postgres() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(Postgres::boot)
}

/// The test process's PostgreSQL server that takes TLS connections only,
/// started on first use (see [`Postgres::tls`]).
pub fn postgres_tls() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(Postgres::boot_tls)
}

/// The test process's S3-compatible server, started on first use.
pub fn s3() -> &'static S3 {
    static S3_: OnceLock<S3> = OnceLock::new();
    S3_.get_or_init(S3::boot)
}

/// A PostgreSQL server of our own: `initdb` into a temporary folder, its own
/// port, user `reel` with trust authentication on 127.0.0.1.
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
    next_db: AtomicU32,
    tls: Option<TlsFiles>,
}

/// The certificates of [`postgres_tls`], as PEM files.
pub struct TlsFiles {
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
    /// Another CA, which signed nothing the server has.
    pub other_ca: PathBuf,
}

impl Postgres {
    fn boot() -> Postgres {
        Self::boot_with(false)
    }

    fn boot_tls() -> Postgres {
        Self::boot_with(true)
    }

    fn boot_with(tls: bool) -> Postgres {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("reel-pg-")
            .tempdir()
            .expect("a temporary folder for PostgreSQL");
        let user = service_user();
        if let Some((uid, gid)) = user {
            chown(dir.path(), uid, gid);
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "reel", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut initdb, user);
        let out = initdb.output().expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Postgres {
            bin,
            dir,
            port: free_port(),
            child: Mutex::new(None),
            next_db: AtomicU32::new(0),
            tls: None,
        };
        let pg = if tls {
            let files = make_tls_files(pg.dir.path(), &data, user);
            Postgres {
                tls: Some(files),
                ..pg
            }
        } else {
            pg
        };
        pg.start();
        pg
    }

    /// The certificates, for the server of [`postgres_tls`]; `None` for
    /// the plain one.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory: every byte it stores (tables, WAL).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://reel@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh, empty database and returns its URL.
    pub fn create_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{n}");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs one SQL statement with `psql` (test set-up and inspection);
    /// returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "reel"])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", db, "-c", sql])
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the server (again) on its port; returns once it accepts
    /// connections. Does nothing when it runs.
    pub fn start(&self) {
        let mut child = lock(&self.child);
        if child.is_some() {
            return;
        }
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "max_connections=300"])
            .args([
                "-c",
                if self.tls.is_some() {
                    "ssl=on"
                } else {
                    "ssl=off"
                },
            ])
            // Old WAL segments removed, not renamed for reuse with their
            // bytes: a person's erasure leaves nothing of them in pg_wal
            // once checkpointed (README, "Projects and people").
            .args(["-c", "wal_recycle=off"])
            // A crash of the machine is not what tests simulate; a killed
            // server process keeps what reached the OS.
            .args(["-c", fsync_setting()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("postgres.log"))
                    .expect("the PostgreSQL log file"),
            ));
        as_user(&mut cmd, service_user());
        *child = Some(spawn_kept(cmd));
        drop(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            if let Some(c) = lock(&self.child).as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("PostgreSQL exited ({status}) at start: {}", self.log_tail());
                }
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "PostgreSQL did not accept connections: {}",
                self.log_tail()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.dir.path().join("postgres.log"))
    }

    /// Stops the server (a fast shutdown: connections are cut, the data
    /// kept) and waits until it has exited.
    pub fn stop(&self) {
        if let Some(mut c) = lock(&self.child).take() {
            signal_children(&c, libc::SIGCONT);
            signal(&c, libc::SIGCONT);
            signal(&c, libc::SIGINT);
            let _ = c.wait();
        }
    }

    /// Freezes the server and every backend (`SIGSTOP`): connections are
    /// still accepted by the kernel, nothing answers, until [`Self::thaw`].
    /// (Each backend is a session of its own, `setsid`: they are found as
    /// the postmaster's children, once it is stopped and forks no more.)
    pub fn freeze(&self) {
        if let Some(c) = lock(&self.child).as_ref() {
            signal(c, libc::SIGSTOP);
            signal_children(c, libc::SIGSTOP);
        }
    }

    /// Lets a frozen server go on (`SIGCONT`).
    pub fn thaw(&self) {
        if let Some(c) = lock(&self.child).as_ref() {
            signal_children(c, libc::SIGCONT);
            signal(c, libc::SIGCONT);
        }
    }
}

/// Makes a CA, a second CA and the server's key and certificate (for
/// `localhost` and `127.0.0.1`) with the `openssl` command (which Debian's
/// PostgreSQL packages depend on), puts the server's files in the data
/// folder, and lets only TLS connections in (`pg_hba.conf`).
fn make_tls_files(dir: &Path, data: &Path, user: Option<(libc::uid_t, libc::gid_t)>) -> TlsFiles {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("a folder for the test certificates");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&tls)
            .output()
            .expect("running openssl (the `openssl` package)");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, cn) in [("ca", "Reel test CA"), ("other-ca", "Reel other test CA")] {
        let subj = format!("/CN={cn}");
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem, "-days", "30", "-subj", &subj]);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(&args);
    }
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&args);
    std::fs::write(
        tls.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("writing the certificate's extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "30",
        "-extfile",
        "server.ext",
    ]);
    for f in ["server.crt", "server.key"] {
        let to = data.join(f);
        std::fs::copy(tls.join(f), &to).expect("copying the server's certificate");
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("the server key's permissions");
        if let Some((uid, gid)) = user {
            chown(&to, uid, gid);
        }
    }
    // TLS connections only, from 127.0.0.1; psql's socket stays open.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
    )
    .expect("writing pg_hba.conf");
    TlsFiles {
        ca: tls.join("ca.pem"),
        other_ca: tls.join("other-ca.pem"),
    }
}

/// An S3-compatible server of our own: `s3s-fs`, one folder per bucket,
/// one file per object.
pub struct S3 {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
    next_bucket: AtomicU32,
}

/// The credentials the server accepts (and [`S3::env`] hands out).
pub const S3_ACCESS_KEY: &str = "reel-test";
pub const S3_SECRET_KEY: &str = "reel-test-secret";
pub const S3_REGION: &str = "us-east-1";

impl S3 {
    fn boot() -> S3 {
        let dir = tempfile::Builder::new()
            .prefix("reel-s3-")
            .tempdir()
            .expect("a temporary folder for the object store");
        let s3 = S3 {
            bin: s3s_fs_bin(),
            dir,
            port: free_port(),
            child: Mutex::new(None),
            next_bucket: AtomicU32::new(0),
        };
        s3.start();
        s3
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a fresh, empty bucket and returns its `s3://BUCKET` URL.
    pub fn create_bucket(&self) -> String {
        let n = self.next_bucket.fetch_add(1, Ordering::Relaxed);
        let name = format!("reel-test-{n}");
        std::fs::create_dir(self.bucket_dir(&name)).expect("creating the bucket's folder");
        format!("s3://{name}")
    }

    /// The folder that holds a bucket's objects: every stored byte.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        let name = bucket.strip_prefix("s3://").unwrap_or(bucket);
        let name = name.split('/').next().unwrap_or(name);
        self.dir.path().join("root").join(name)
    }

    /// The variables a client reads to reach this server (contract §5).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", S3_REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.to_string()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }

    /// Starts the server (again) on its port; returns once it accepts
    /// connections. Does nothing when it runs.
    pub fn start(&self) {
        let mut child = lock(&self.child);
        if child.is_some() {
            return;
        }
        let root = self.dir.path().join("root");
        std::fs::create_dir_all(&root).expect("the object store's root folder");
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(&root)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("s3s-fs.log"))
                    .expect("the object store's log file"),
            ));
        *child = Some(spawn_kept(cmd));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = child.as_mut().map(|c| c.try_wait()) {
                panic!("s3s-fs exited ({status}) at start: {}", self.log_tail());
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "s3s-fs did not accept connections: {}",
                self.log_tail()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.dir.path().join("s3s-fs.log"))
    }

    /// Stops the server (its files stay) and waits until it has exited.
    pub fn stop(&self) {
        if let Some(mut c) = lock(&self.child).take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the server (`SIGSTOP`): connections are still accepted by
    /// the kernel, nothing answers, until [`Self::thaw`].
    pub fn freeze(&self) {
        if let Some(c) = lock(&self.child).as_ref() {
            signal(c, libc::SIGSTOP);
        }
    }

    /// Lets a frozen server go on (`SIGCONT`).
    pub fn thaw(&self) {
        if let Some(c) = lock(&self.child).as_ref() {
            signal(c, libc::SIGCONT);
        }
    }
}

/// The last 2,000 bytes of a service's log file, for failure messages.
fn tail(log: &Path) -> String {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let start = log.len().saturating_sub(2000);
    log.get(start..).unwrap_or("").to_string()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal(child: &Child, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// `sig` to every process whose parent is `child` (from `/proc`).
fn signal_children(child: &Child, sig: libc::c_int) {
    let parent = child.id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces, not `)`.
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(parent.as_str()) {
            // SAFETY: kill(2) on a child of our child; no memory touched.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

/// `fsync=off` unless `REEL_TESTSVC_FSYNC=1` (the benchmarks' choice).
fn fsync_setting() -> &'static str {
    if std::env::var("REEL_TESTSVC_FSYNC").is_ok_and(|v| v == "1") {
        "fsync=on"
    } else {
        "fsync=off"
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("REEL_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin \
             (Debian's `postgresql` package; .ci/setup installs it) and REEL_PG_BIN is unset"
        )
    })
}

fn s3s_fs_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("REEL_S3S_FS") {
        return PathBuf::from(p);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tools = workspace.join("target/tools/bin/s3s-fs");
    if tools.is_file() {
        return tools;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no s3s-fs: .ci/setup installs it into target/tools/bin \
                 (cargo install s3s-fs --features binary); or set REEL_S3S_FS"
            )
        })
}

/// The `postgres` user's ids when we run as root (PostgreSQL refuses to
/// run as root); `None` otherwise.
fn service_user() -> Option<(libc::uid_t, libc::gid_t)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = CString::new("postgres").ok()?;
    // SAFETY: getpwnam with a valid C string; the record is read at once,
    // before any other call could reuse its static buffer (tests start the
    // server once, under the OnceLock).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        panic!("running as root, PostgreSQL needs a `postgres` user: none exists");
    }
    // SAFETY: pw is non-null and points at getpwnam's record.
    Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn chown(path: &Path, uid: libc::uid_t, gid: libc::gid_t) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to the postgres user");
}

fn as_user(cmd: &mut Command, user: Option<(libc::uid_t, libc::gid_t)>) {
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
        // The postgres user cannot read root's working directory.
        cmd.current_dir("/");
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` so that it is killed when this process dies: with
/// `PR_SET_PDEATHSIG`, which fires when the *thread* that spawned the child
/// exits, so every child is spawned by one thread that lives as long as the
/// process.
fn spawn_kept(mut cmd: Command) -> Child {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("reel-testsvc-keeper".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The channel's sender lives in a static: never reached.
                loop {
                    thread::park();
                }
            })
            .expect("the testsvc keeper thread");
        Mutex::new(tx)
    });
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl and getppid, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("the test process is gone"));
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    lock(keeper)
        .send((cmd, tx))
        .expect("the testsvc keeper thread is gone");
    rx.recv()
        .expect("the testsvc keeper thread is gone")
        .expect("spawning a test service")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_databases_are_fresh_and_survive_a_restart() {
        let pg = postgres();
        let url = pg.create_database();
        let db = url.rsplit('/').next().unwrap().to_string();
        pg.psql(&db, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
        pg.stop();
        pg.start();
        assert_eq!(pg.psql(&db, "SELECT x FROM t").trim(), "7");
        assert_ne!(pg.create_database(), url);
    }

    #[test]
    fn s3_buckets_are_folders_that_survive_a_restart() {
        let s3 = s3();
        let b = s3.create_bucket();
        assert!(s3.bucket_dir(&b).is_dir());
        s3.stop();
        assert!(TcpStream::connect(("127.0.0.1", s3.port)).is_err());
        s3.start();
        assert!(s3.bucket_dir(&b).is_dir());
        assert_ne!(s3.create_bucket(), b);
    }
}
