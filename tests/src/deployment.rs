//! One distributed deployment (contract §5): a fresh PostgreSQL database and
//! a fresh bucket, both from `reel_testsvc` (one PostgreSQL and one s3s-fs
//! server per test process), and any number of `reel-server serve`
//! processes started with the same `--chunk-store` and `--index-db`, each
//! with its own `--data` and port, all with the same ingest key and API
//! token.
//!
//! The services are shared by every test of a test binary: a test that
//! stops one ([`outage`]) must not overlap a test that needs it, which is
//! what [`Services`] is for.

use crate::server::{random_hex, server_binary, ReelServer};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A database and a bucket, and the flags, environment and credentials
/// every process of the deployment is started with.
pub struct Deployment {
    index_db: String,
    chunk_store: String,
    bucket: String,
    env: Vec<(String, String)>,
    ingest_key: String,
    api_token: String,
    extra_args: Vec<String>,
}

impl Deployment {
    /// A fresh database and bucket (starting the test process's PostgreSQL
    /// and s3s-fs on first use).
    pub async fn new() -> Result<Self> {
        Self::with_args(&[]).await
    }

    /// As [`Deployment::new`]; every process also gets `extra` flags.
    pub async fn with_args(extra: &[&str]) -> Result<Self> {
        let (index_db, chunk_store, env) = tokio::task::spawn_blocking(|| {
            let db = reel_testsvc::postgres().create_database();
            let s3 = reel_testsvc::s3();
            let bucket = s3.create_bucket();
            let env: Vec<(String, String)> = s3
                .env()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            (db, bucket, env)
        })
        .await
        .context("starting PostgreSQL and s3s-fs")?;
        let bucket = chunk_store
            .strip_prefix("s3://")
            .unwrap_or(&chunk_store)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(Deployment {
            index_db,
            chunk_store,
            bucket,
            env,
            ingest_key: random_hex()?,
            api_token: random_hex()?,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Starts one more process of the deployment.
    pub async fn start_process(&self) -> Result<ReelServer> {
        let mut args = vec![
            "--chunk-store".to_string(),
            self.chunk_store.clone(),
            "--index-db".to_string(),
            self.index_db.clone(),
        ];
        args.extend(self.extra_args.iter().cloned());
        ReelServer::launch(
            &server_binary(),
            args,
            self.env.clone(),
            self.ingest_key.clone(),
            self.api_token.clone(),
        )
        .await
    }

    /// Starts `n` processes, one after the other.
    pub async fn start_processes(&self, n: usize) -> Result<Vec<ReelServer>> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(
                self.start_process()
                    .await
                    .with_context(|| format!("starting process {i} of the deployment"))?,
            );
        }
        Ok(out)
    }

    /// `postgres://…` of the deployment's database.
    pub fn index_db(&self) -> &str {
        &self.index_db
    }

    /// `s3://BUCKET`.
    pub fn chunk_store(&self) -> &str {
        &self.chunk_store
    }

    /// The `AWS_*` variables of the object store.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Where s3s-fs keeps the bucket's objects, as files.
    pub fn bucket_dir(&self) -> PathBuf {
        reel_testsvc::s3().bucket_dir(&self.bucket)
    }

    /// The bucket's objects: `(key relative to the bucket, bytes)`.
    pub fn objects(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let root = self.bucket_dir();
        let mut out = Vec::new();
        walk(&root, &root, &mut out)?;
        Ok(out)
    }

    /// The keys of the objects holding `needle` (say, a chunk as posted:
    /// objects hold chunks verbatim).
    pub fn objects_holding(&self, needle: &[u8]) -> Result<Vec<String>> {
        Ok(self
            .objects()?
            .into_iter()
            .filter(|(_, bytes)| crate::http::find(bytes, needle).is_some())
            .map(|(k, _)| k)
            .collect())
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else {
            // An object being written may vanish under us: skip it.
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((key, bytes));
        }
    }
    Ok(())
}

/// Which service an outage takes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Postgres,
    ObjectStore,
}

/// Stops `service` (the test process's one instance; data kept).
pub async fn stop(service: Service) -> Result<()> {
    tokio::task::spawn_blocking(move || match service {
        Service::Postgres => reel_testsvc::postgres().stop(),
        Service::ObjectStore => reel_testsvc::s3().stop(),
    })
    .await
    .with_context(|| format!("stopping {service:?}"))
}

/// Starts `service` again after [`stop`].
pub async fn start(service: Service) -> Result<()> {
    tokio::task::spawn_blocking(move || match service {
        Service::Postgres => reel_testsvc::postgres().start(),
        Service::ObjectStore => reel_testsvc::s3().start(),
    })
    .await
    .with_context(|| format!("starting {service:?}"))
}

/// Keeps tests that stop a shared service apart from the tests that need
/// it: every test of a binary shares one PostgreSQL and one s3s-fs. A test
/// that uses them holds [`Services::shared`]; one that stops them holds
/// [`Services::exclusive`], so it runs alone.
pub struct Services;

static SERVICES: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

impl Services {
    pub async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
        SERVICES.read().await
    }

    pub async fn exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
        SERVICES.write().await
    }
}

/// While alive, `service` is down; dropping it (even on a failed test)
/// starts it again, so the next test finds it up.
pub struct Outage {
    service: Service,
    up: bool,
}

/// Stops `service` until the returned guard is ended or dropped.
pub async fn outage(service: Service) -> Result<Outage> {
    stop(service).await?;
    Ok(Outage { service, up: false })
}

impl Outage {
    /// Starts the service again.
    pub async fn end(mut self) -> Result<()> {
        self.up = true;
        start(self.service).await
    }
}

/// While alive, `service` is frozen (`SIGSTOP`: it accepts connections and
/// never answers); ending or dropping it thaws it (`SIGCONT`).
pub struct Freeze {
    service: Service,
    thawed: bool,
}

fn set_frozen(service: Service, frozen: bool) {
    match (service, frozen) {
        (Service::Postgres, true) => reel_testsvc::postgres().freeze(),
        (Service::Postgres, false) => reel_testsvc::postgres().thaw(),
        (Service::ObjectStore, true) => reel_testsvc::s3().freeze(),
        (Service::ObjectStore, false) => reel_testsvc::s3().thaw(),
    }
}

/// Freezes `service` until the returned guard is ended or dropped.
pub async fn freeze(service: Service) -> Result<Freeze> {
    tokio::task::spawn_blocking(move || set_frozen(service, true))
        .await
        .with_context(|| format!("freezing {service:?}"))?;
    Ok(Freeze {
        service,
        thawed: false,
    })
}

impl Freeze {
    /// Lets the service go on.
    pub async fn end(mut self) -> Result<()> {
        self.thawed = true;
        let service = self.service;
        tokio::task::spawn_blocking(move || set_frozen(service, false))
            .await
            .with_context(|| format!("thawing {service:?}"))
    }
}

impl Drop for Freeze {
    fn drop(&mut self) {
        if !self.thawed {
            set_frozen(self.service, false);
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.up {
            // Blocking is fine here: a test is ending with an error.
            match self.service {
                Service::Postgres => reel_testsvc::postgres().start(),
                Service::ObjectStore => reel_testsvc::s3().start(),
            }
        }
    }
}
