//! The object-store side of [`super::DistStorage`]: chunk bytes in an
//! S3-compatible bucket through the `object_store` crate.
//!
//! Objects are immutable and never overwritten: each group commit writes a
//! new one under a fresh random key ([`new_key`]), and a rewrite (a delete
//! that shares an object, compaction) writes another and drops the old.
//! Keys in PostgreSQL are relative to the chunk store's prefix
//! (`s3://BUCKET/PREFIX`), so the same rows work under any prefix.
//!
//! Endpoint, region and credentials come from the standard `AWS_*`
//! variables (contract §5); `AWS_ALLOW_HTTP=true` for a plain-http
//! endpoint. Requests are path-style (`ENDPOINT/BUCKET/KEY`), which every
//! S3-compatible server answers. Retries and timeouts are short: during an
//! outage a request fails in seconds ([`StoreError::Unavailable`]), and the
//! client (the recorder) retries later. A frozen store (it accepts
//! connections and never answers) is cut the same way: connecting within
//! [`CONNECT_TIMEOUT`], no byte for [`STALL_TIMEOUT`], and each request
//! within [`REQUEST_TIMEOUT`] plus its bytes at [`MIN_RATE`]. Requests run
//! [`super::pg::away`] from the database's clock: a transaction that writes
//! an object is not cut for the time the object store takes.

use crate::store::StoreError;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use std::future::Future;
use std::ops::Range;
use std::time::Duration;

/// Connecting to the store.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A request that receives no byte for this long is cut (and not retried:
/// its retry budget, [`RETRY_TIMEOUT`], is spent).
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// A GET, PUT or DELETE as a whole, plus its bytes at [`MIN_RATE`].
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes per second a transfer is allowed at least (a group object is a
/// few kB to 16 MiB).
pub(crate) const MIN_RATE: u64 = 1024 * 1024;
/// Retries of a failed request stop this long after its first attempt.
const RETRY_TIMEOUT: Duration = Duration::from_secs(5);
/// The HTTP client's own bound on any request (listings included).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// `f`, a request moving `bytes`, within [`REQUEST_TIMEOUT`] plus its
/// bytes at [`MIN_RATE`], off the database's clock.
async fn bounded<T>(
    what: &str,
    bytes: u64,
    f: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let limit = REQUEST_TIMEOUT + Duration::from_millis(bytes.saturating_mul(1000) / MIN_RATE);
    super::pg::away(async {
        tokio::time::timeout(limit, f).await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "object store: no answer to a {what} within {:.1}s",
                limit.as_secs_f64()
            )))
        })
    })
    .await
}

pub(crate) struct Objects {
    s3: AmazonS3,
    /// Without slashes at either end; empty for none.
    prefix: String,
}

/// Where a group's chunks go: `chunks/<ms since the epoch, 13 digits>-<16
/// random hex>`, so that keys sort by age (what an orphan sweep reads).
pub(crate) fn new_key(now_ms: u64) -> Result<String, StoreError> {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r)
        .map_err(|e| StoreError::Unavailable(format!("no randomness for an object key: {e}")))?;
    Ok(format!(
        "chunks/{now_ms:013}-{:016x}",
        u64::from_be_bytes(r)
    ))
}

/// `s3://BUCKET[/PREFIX]` into the bucket and the prefix.
pub(crate) fn parse_url(url: &str) -> Result<(String, String), StoreError> {
    let bad = || {
        StoreError::Corrupt(format!(
            "--chunk-store must be s3://BUCKET[/PREFIX], not {url:?}"
        ))
    };
    let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

/// The error with its causes (the client's own message is often just
/// "builder error" or "error sending request").
fn unavailable(e: object_store::Error) -> StoreError {
    let mut text = format!("object store: {e}");
    let mut root: Option<&dyn std::error::Error> = None;
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        root = Some(s);
        source = s.source();
    }
    if let Some(root) = root.map(ToString::to_string) {
        if !text.contains(&root) {
            text.push_str(": ");
            text.push_str(&root);
        }
    }
    StoreError::Unavailable(text)
}

impl Objects {
    /// The bucket of `url`, with the `AWS_*` environment, then `vars`
    /// (`AWS_*` names, for tests that run several stores in one process)
    /// over it. Makes no request.
    pub(crate) fn open(url: &str, vars: &[(&str, String)]) -> Result<Self, StoreError> {
        let (bucket, prefix) = parse_url(url)?;
        // Client options first: setting them replaces what the variables
        // set (AWS_ALLOW_HTTP is one).
        let mut b = AmazonS3Builder::new()
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_read_timeout(STALL_TIMEOUT)
                    .with_timeout(CLIENT_TIMEOUT),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                },
                max_retries: 2,
                retry_timeout: RETRY_TIMEOUT,
            });
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("AWS_"))
            .collect();
        let given = vars.iter().map(|(k, v)| (k.to_string(), v.clone()));
        for (k, v) in env.into_iter().chain(given) {
            if let Ok(key) = k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                b = b.with_config(key, v);
            }
        }
        let s3 = b
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| StoreError::Corrupt(format!("--chunk-store: {e}")))?;
        Ok(Objects { s3, prefix })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Writes a new object (durable in the store when this returns).
    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let len = bytes.len() as u64;
        bounded("PUT", len, async {
            self.s3
                .put(&self.path(key), PutPayload::from(bytes))
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Bytes `range` of an object; `None` when the object is not there.
    pub(crate) async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let len = range.end.saturating_sub(range.start);
        bounded("GET", len, async {
            match self.s3.get_range(&self.path(key), range).await {
                Ok(b) => Ok(Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(unavailable(e)),
            }
        })
        .await
    }

    /// Several ranges of one object (nearby ones fetched together);
    /// `None` when the object is not there.
    pub(crate) async fn get_ranges(
        &self,
        key: &str,
        ranges: &[Range<u64>],
    ) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
        let len = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        bounded("GET", len, async {
            match self.s3.get_ranges(&self.path(key), ranges).await {
                Ok(v) => Ok(Some(v.into_iter().map(|b| b.to_vec()).collect())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(unavailable(e)),
            }
        })
        .await
    }

    /// One request that proves the bucket answers and the credentials
    /// work (at open: a wrong bucket or key fails the start, clearly).
    pub(crate) async fn check(&self) -> Result<(), StoreError> {
        bounded("LIST", 0, async {
            self.s3
                .list_with_delimiter(Some(&self.path("chunks")))
                .await
                .map(drop)
                .map_err(|e| match unavailable(e) {
                    StoreError::Unavailable(m) => {
                        StoreError::Unavailable(format!("cannot list the bucket: {m}"))
                    }
                    e => e,
                })
        })
        .await
    }

    /// Removes an object; one already gone is fine.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        bounded("DELETE", 0, async {
            match self.s3.delete(&self.path(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(unavailable(e)),
            }
        })
        .await
    }

    /// Every object key under `chunks/` (relative, like the rows'), with
    /// its size: for the orphan sweep and the tests.
    #[allow(dead_code)] // the orphan sweep is yet to come
    pub(crate) async fn list_chunk_objects(&self) -> Result<Vec<(String, u64)>, StoreError> {
        use futures_util::TryStreamExt;
        let base = self.path("chunks");
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        // A listing may be long: cut by STALL_TIMEOUT, not by its length.
        let metas: Vec<object_store::ObjectMeta> =
            super::pg::away(self.s3.list(Some(&base)).try_collect())
                .await
                .map_err(unavailable)?;
        Ok(metas
            .into_iter()
            .map(|m| {
                let full = m.location.to_string();
                let key = full.strip_prefix(&strip).unwrap_or(&full).to_owned();
                (key, m.size)
            })
            .collect())
    }

    /// The object keys under `chunks/` that sort after `after` (relative,
    /// like the rows'; empty: all), each with its last-modified time in ms
    /// on the store's clock: what the orphan sweep reads.
    pub(crate) async fn list_chunk_objects_after(
        &self,
        after: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        use futures_util::TryStreamExt;
        let base = self.path("chunks");
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let offset = self.path(if after.is_empty() { "chunks/" } else { after });
        // A listing may be long: cut by STALL_TIMEOUT, not by its length.
        let metas: Vec<object_store::ObjectMeta> =
            super::pg::away(self.s3.list_with_offset(Some(&base), &offset).try_collect())
                .await
                .map_err(unavailable)?;
        Ok(metas
            .into_iter()
            .map(|m| {
                let full = m.location.to_string();
                let key = full.strip_prefix(&strip).unwrap_or(&full).to_owned();
                let ms = u64::try_from(m.last_modified.timestamp_millis()).unwrap_or(0);
                (key, ms)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_store_urls() {
        assert_eq!(parse_url("s3://b").unwrap(), ("b".into(), "".into()));
        assert_eq!(
            parse_url("s3://b/some/prefix/").unwrap(),
            ("b".into(), "some/prefix".into())
        );
        for bad in ["b", "s3://", "s3:///x", "http://b", "s3://b?x"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let k = new_key(1_700_000_000_000).unwrap();
        assert!(k.starts_with("chunks/1700000000000-"), "{k}");
        assert_eq!(k.len(), "chunks/".len() + 13 + 1 + 16);
    }
}
