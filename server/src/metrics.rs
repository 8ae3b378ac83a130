//! `/metrics`: counters kept in atomics and written out in the Prometheus
//! text exposition format (version 0.0.4) by hand, which is a few lines
//! here against a dependency tree there.

use crate::store::Store;
use axum::http::StatusCode;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the ingest latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The statuses ingest answers, in the order they are written out; any
/// other is counted as `other`.
const STATUSES: [u16; 10] = [200, 400, 401, 404, 405, 413, 415, 429, 500, 503];

#[derive(Default)]
pub struct Metrics {
    ingest_by_status: [AtomicU64; STATUSES.len() + 1],
    chunks_stored: AtomicU64,
    chunks_duplicate: AtomicU64,
    bytes_stored: AtomicU64,
    sessions_created: AtomicU64,
    rate_limited: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
    retention_deleted: AtomicU64,
    /// Content-addressed assets uploaded (new to the deployment), and
    /// their bytes as stored.
    asset_uploads: AtomicU64,
    asset_upload_bytes: AtomicU64,
}

/// What one ingest request came to.
#[derive(Clone, Copy, Debug)]
pub enum Stored {
    New { bytes: u64, new_session: bool },
    Duplicate,
}

impl Metrics {
    pub fn ingest(&self, status: StatusCode, took: Duration, stored: Option<Stored>) {
        let i = STATUSES
            .iter()
            .position(|s| *s == status.as_u16())
            .unwrap_or(STATUSES.len());
        self.ingest_by_status[i].fetch_add(1, Ordering::Relaxed);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        match stored {
            Some(Stored::New { bytes, new_session }) => {
                self.chunks_stored.fetch_add(1, Ordering::Relaxed);
                self.bytes_stored.fetch_add(bytes, Ordering::Relaxed);
                if new_session {
                    self.sessions_created.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Stored::Duplicate) => {
                self.chunks_duplicate.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
        let secs = took.as_secs_f64();
        // Buckets are cumulative in the exposition; here each request
        // counts in its own bucket and the sums are taken when writing.
        if let Some(b) = LATENCY_BUCKETS.iter().position(|le| secs <= *le) {
            self.latency_buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn retention_deleted(&self, n: u64) {
        self.retention_deleted.fetch_add(n, Ordering::Relaxed);
    }

    pub fn asset_uploaded(&self, bytes: u64) {
        self.asset_uploads.fetch_add(1, Ordering::Relaxed);
        self.asset_upload_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The exposition. Storage numbers are read now, which is why this
    /// blocks (run it off the async workers).
    pub fn render(&self, store: &Store) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut o = String::with_capacity(4096);
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };

        head(
            &mut o,
            "reel_ingest_requests_total",
            "counter",
            "Ingest requests answered, by HTTP status.",
        );
        for (i, s) in STATUSES.iter().enumerate() {
            let _ = writeln!(
                o,
                "reel_ingest_requests_total{{status=\"{s}\"}} {}",
                get(&self.ingest_by_status[i])
            );
        }
        let _ = writeln!(
            o,
            "reel_ingest_requests_total{{status=\"other\"}} {}",
            get(&self.ingest_by_status[STATUSES.len()])
        );

        let errors: u64 = STATUSES
            .iter()
            .enumerate()
            .filter(|(_, s)| **s >= 400)
            .map(|(i, _)| get(&self.ingest_by_status[i]))
            .sum::<u64>()
            + get(&self.ingest_by_status[STATUSES.len()]);
        head(
            &mut o,
            "reel_ingest_errors_total",
            "counter",
            "Ingest requests refused or failed (any status but 200).",
        );
        let _ = writeln!(o, "reel_ingest_errors_total {errors}");

        head(
            &mut o,
            "reel_ingest_chunks_total",
            "counter",
            "Chunks acknowledged: newly stored, or duplicates of stored ones.",
        );
        let _ = writeln!(
            o,
            "reel_ingest_chunks_total{{outcome=\"stored\"}} {}\nreel_ingest_chunks_total{{outcome=\"duplicate\"}} {}",
            get(&self.chunks_stored),
            get(&self.chunks_duplicate)
        );
        head(
            &mut o,
            "reel_ingest_bytes_total",
            "counter",
            "Bytes of newly stored chunks, as received (compressed).",
        );
        let _ = writeln!(o, "reel_ingest_bytes_total {}", get(&self.bytes_stored));
        head(
            &mut o,
            "reel_sessions_created_total",
            "counter",
            "Sessions whose first chunk was stored.",
        );
        let _ = writeln!(
            o,
            "reel_sessions_created_total {}",
            get(&self.sessions_created)
        );
        head(
            &mut o,
            "reel_ingest_rate_limited_total",
            "counter",
            "New sessions refused by the per-key rate limit.",
        );
        let _ = writeln!(
            o,
            "reel_ingest_rate_limited_total {}",
            get(&self.rate_limited)
        );

        head(
            &mut o,
            "reel_ingest_duration_seconds",
            "histogram",
            "Ingest latency, from the request's start to its answer (durable).",
        );
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += get(&self.latency_buckets[i]);
            let _ = writeln!(
                o,
                "reel_ingest_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            o,
            "reel_ingest_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             reel_ingest_duration_seconds_sum {}\nreel_ingest_duration_seconds_count {count}",
            get(&self.latency_micros) as f64 / 1e6
        );

        let commits = store.commit_stats();
        head(
            &mut o,
            "reel_store_flushes_total",
            "counter",
            "Disk syncs (group commits); each acknowledges every write before it.",
        );
        let _ = writeln!(o, "reel_store_flushes_total {}", commits.syncs);
        head(
            &mut o,
            "reel_store_flush_seconds_total",
            "counter",
            "Time spent in disk syncs.",
        );
        let _ = writeln!(o, "reel_store_flush_seconds_total {}", commits.sync_seconds);
        head(
            &mut o,
            "reel_retention_deleted_sessions_total",
            "counter",
            "Sessions deleted by the retention sweeper.",
        );
        let _ = writeln!(
            o,
            "reel_retention_deleted_sessions_total {}",
            get(&self.retention_deleted)
        );
        head(
            &mut o,
            "reel_asset_uploads_total",
            "counter",
            "Content-addressed assets uploaded by recorders (stored once per deployment).",
        );
        let _ = writeln!(o, "reel_asset_uploads_total {}", get(&self.asset_uploads));
        head(
            &mut o,
            "reel_asset_upload_bytes_total",
            "counter",
            "Bytes of those uploads (compressed, as stored).",
        );
        let _ = writeln!(
            o,
            "reel_asset_upload_bytes_total {}",
            get(&self.asset_upload_bytes)
        );

        match store.stats() {
            Ok(s) => {
                head(
                    &mut o,
                    "reel_store_size_bytes",
                    "gauge",
                    "Size of the database on disk.",
                );
                let _ = writeln!(o, "reel_store_size_bytes {}", s.size_on_disk);
                head(&mut o, "reel_sessions", "gauge", "Sessions stored.");
                let _ = writeln!(o, "reel_sessions {}", s.sessions);
                head(
                    &mut o,
                    "reel_store_damaged_bytes",
                    "gauge",
                    "Bytes of the segment log found damaged (failing their checksum) and skipped at start.",
                );
                let _ = writeln!(o, "reel_store_damaged_bytes {}", s.damaged_bytes);
            }
            Err(e) => tracing::warn!("metrics: storage stats: {e}"),
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let m = Metrics::default();
        m.ingest(
            StatusCode::OK,
            Duration::from_millis(3),
            Some(Stored::New {
                bytes: 100,
                new_session: true,
            }),
        );
        m.ingest(
            StatusCode::OK,
            Duration::from_millis(30),
            Some(Stored::Duplicate),
        );
        m.ingest(StatusCode::BAD_REQUEST, Duration::from_secs(60), None);
        m.ingest(StatusCode::IM_A_TEAPOT, Duration::from_micros(10), None);
        let text = m.render(&store);
        for line in [
            "reel_ingest_requests_total{status=\"200\"} 2",
            "reel_ingest_requests_total{status=\"400\"} 1",
            "reel_ingest_requests_total{status=\"other\"} 1",
            "reel_ingest_errors_total 2",
            "reel_ingest_chunks_total{outcome=\"stored\"} 1",
            "reel_ingest_chunks_total{outcome=\"duplicate\"} 1",
            "reel_ingest_bytes_total 100",
            "reel_sessions_created_total 1",
            "reel_ingest_duration_seconds_bucket{le=\"0.001\"} 1",
            "reel_ingest_duration_seconds_bucket{le=\"0.005\"} 2",
            "reel_ingest_duration_seconds_bucket{le=\"0.05\"} 3",
            "reel_ingest_duration_seconds_bucket{le=\"5\"} 3",
            "reel_ingest_duration_seconds_bucket{le=\"+Inf\"} 4",
            "reel_ingest_duration_seconds_count 4",
            "reel_sessions 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        // Every sample line is `name{labels} number`, and every family has
        // HELP and TYPE before its samples.
        let mut typed = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_owned());
                continue;
            }
            if l.starts_with('#') {
                continue;
            }
            let (name, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
            let family = name.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| family.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(family);
            assert!(typed.contains(family), "{l}");
        }
    }
}
