//! Where a deployment keeps its data (contract §5), chosen by two flags:
//!
//! - neither `--chunk-store` nor `--index-db`: the embedded layout,
//!   everything in `--data` (segment log + sled, [`crate::store::LogStorage`]);
//! - both: the distributed layout, chunk bytes in an S3-compatible bucket
//!   and everything else in PostgreSQL ([`crate::store::dist::DistStorage`]).
//!   Any number of processes started with the same two URLs form one
//!   deployment, and `--data` is not used at all: nothing is read from it
//!   or written to it (not even created), so a process keeps no session
//!   data, no secret and no state of its own.
//!
//! One flag without the other is refused: half a distributed deployment
//! would silently keep its sessions on one machine.

use crate::store::{Store, StoreError, StoreOptions};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    Embedded {
        data: PathBuf,
    },
    Distributed {
        /// `s3://BUCKET[/PREFIX]`
        chunk_store: String,
        /// `postgres://USER[:PASSWORD]@HOST:PORT/DB`
        index_db: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "--{given} (or its environment variable) was given without --{missing}: a distributed \
         deployment needs both --chunk-store s3://BUCKET[/PREFIX] and --index-db \
         postgres://USER[:PASSWORD]@HOST:PORT/DB; give neither to keep everything in --data"
    )]
    Half {
        given: &'static str,
        missing: &'static str,
    },
    #[error("--chunk-store must be s3://BUCKET[/PREFIX], not {0:?}")]
    ChunkStoreUrl(String),
    /// The URL is not repeated: it may hold a password.
    #[error("--index-db must be a postgres://USER[:PASSWORD]@HOST:PORT/DB URL")]
    IndexDbUrl,
}

/// A flag's value, or `None` when absent or empty (an empty environment
/// variable counts as not given, like `REEL_INGEST_KEYS=`).
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

impl Layout {
    /// The layout the flags ask for.
    pub fn from_flags(
        data: &Path,
        chunk_store: Option<&str>,
        index_db: Option<&str>,
    ) -> Result<Layout, LayoutError> {
        match (given(chunk_store), given(index_db)) {
            (None, None) => Ok(Layout::Embedded {
                data: data.to_path_buf(),
            }),
            (Some(_), None) => Err(LayoutError::Half {
                given: "chunk-store",
                missing: "index-db",
            }),
            (None, Some(_)) => Err(LayoutError::Half {
                given: "index-db",
                missing: "chunk-store",
            }),
            (Some(cs), Some(db)) => {
                let bucket = cs.strip_prefix("s3://").unwrap_or("");
                if bucket.split('/').next().unwrap_or("").is_empty() {
                    return Err(LayoutError::ChunkStoreUrl(cs.to_owned()));
                }
                if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
                    return Err(LayoutError::IndexDbUrl);
                }
                Ok(Layout::Distributed {
                    chunk_store: cs.to_owned(),
                    index_db: db.to_owned(),
                })
            }
        }
    }

    pub fn is_distributed(&self) -> bool {
        matches!(self, Layout::Distributed { .. })
    }

    /// Opens the deployment's store. Embedded: creates the data dir when
    /// missing. Distributed: connects, and creates or migrates the schema.
    pub fn open(&self, options: StoreOptions) -> Result<Store, StoreError> {
        match self {
            Layout::Embedded { data } => {
                std::fs::create_dir_all(data)
                    .map_err(|e| StoreError::Flush(format!("creating {}: {e}", data.display())))?;
                Store::open_with(data, options)
            }
            Layout::Distributed {
                chunk_store,
                index_db,
            } => Ok(Store::new(std::sync::Arc::new(
                crate::store::dist::DistStorage::open(chunk_store, index_db)?,
            ))),
        }
    }

    /// For logs and messages: where the data is, without any password.
    pub fn describe(&self) -> String {
        match self {
            Layout::Embedded { data } => format!("data dir {}", data.display()),
            Layout::Distributed {
                chunk_store,
                index_db,
            } => format!("chunks in {chunk_store}, index in {}", redact(index_db)),
        }
    }
}

/// A database URL without its password (in its credentials or as a
/// `password=` parameter).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a database URL)".into();
    };
    let rest = match rest.rsplit_once('?') {
        Some((before, params)) if params.split('&').any(|p| p.starts_with("password=")) => {
            let kept: Vec<&str> = params
                .split('&')
                .filter(|p| !p.starts_with("password="))
                .collect();
            format!("{before}?{}", kept.join("&"))
        }
        _ => rest.to_owned(),
    };
    let rest = rest.as_str();
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth {
        Some(a) => {
            let user = a.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => format!("{scheme}://{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_flags_or_neither() {
        let d = Path::new("/tmp/x");
        assert_eq!(
            Layout::from_flags(d, None, Some("")).unwrap(),
            Layout::Embedded { data: d.into() }
        );
        let half = Layout::from_flags(d, Some("s3://b"), None)
            .unwrap_err()
            .to_string();
        assert!(half.contains("without --index-db"), "{half}");
        let half = Layout::from_flags(d, Some(" "), Some("postgres://u@h:1/db"))
            .unwrap_err()
            .to_string();
        assert!(half.contains("--index-db") && half.contains("without --chunk-store"));
        let l = Layout::from_flags(d, Some("s3://b/p"), Some("postgres://u:pw@h:1/db")).unwrap();
        assert!(l.is_distributed());
        assert_eq!(
            l.describe(),
            "chunks in s3://b/p, index in postgres://u@h:1/db"
        );
        for bad in ["b", "s3://", "s3:///p", "gs://b"] {
            assert!(matches!(
                Layout::from_flags(d, Some(bad), Some("postgres://h/db")),
                Err(LayoutError::ChunkStoreUrl(_))
            ));
        }
        assert_eq!(
            redact("postgres://u@h/db?password=secret&sslmode=verify-full"),
            "postgres://u@h/db?sslmode=verify-full"
        );
        let e = Layout::from_flags(d, Some("s3://b"), Some("mysql://u:secret@h/db")).unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }
}
