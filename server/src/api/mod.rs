//! The HTTP surface: the router that joins every route, and the JSON error
//! that every API failure becomes.

pub mod account;
pub mod audit;
pub mod comments;
pub mod ingest;
pub mod insights;
pub mod members;
pub mod own_password;
pub mod people;
pub mod projects;
pub mod repro;
pub mod segments;
pub mod sessions;
pub mod shared_assets;
pub mod shares;
pub mod tokens;

use crate::auth::{self, Auth};
use crate::metrics::Metrics;
use crate::ratelimit::{Allowances, RateLimiter};
use crate::store::{Store, StoreError};
use crate::validate::IngestLimits;
use crate::{assets, ui};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::fmt::Display;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

pub struct AppState {
    pub store: Store,
    pub auth: Auth,
    pub limits: IngestLimits,
    pub rate: RateLimiter,
    pub metrics: Metrics,
    /// Chunks inflated at once. Each may hold up to `max_decompressed`
    /// bytes, so this bounds ingest's memory whatever clients send; and the
    /// work is CPU-bound, so more at once would not finish sooner.
    pub inflate_permits: tokio::sync::Semaphore,
    /// Projects: which project each ingest key belongs to, and its
    /// settings (`crate::projects`).
    pub projects: crate::projects::Projects,
    /// Sign-ins, trusted proxies, the audit's memory (`crate::access`).
    pub access: crate::access::AccessState,
}

impl AppState {
    /// `allowances`: an [`Allowances`], or a number of new sessions per
    /// key per minute alone (the other allowances at their defaults).
    pub fn new(
        store: Store,
        auth: Auth,
        limits: IngestLimits,
        allowances: impl Into<Allowances>,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let projects = crate::projects::Projects::load(&store, auth.ingest_key_count())
            .unwrap_or_else(|e| {
                tracing::error!("cannot read the projects: {e}; their keys are refused");
                crate::projects::Projects::empty(auth.ingest_key_count())
            });
        AppState {
            store,
            rate: RateLimiter::new(projects.key_count(), allowances),
            projects,
            auth,
            limits,
            metrics: Metrics::default(),
            inflate_permits: tokio::sync::Semaphore::new(2 * cores),
            access: crate::access::AccessState::default(),
        }
    }
}

pub type SharedState = Arc<AppState>;

/// Every route of the server.
pub fn app(state: SharedState) -> Router {
    // route_layer, not layer: an unknown path is a 404, not a 401.
    let read_api = sessions::routes()
        .merge(comments::routes())
        .merge(shares::routes())
        .merge(repro::routes())
        .merge(audit::routes())
        .merge(account::routes())
        .merge(own_password::routes())
        .merge(members::routes())
        .merge(tokens::routes())
        .merge(segments::routes())
        .merge(projects::routes())
        .merge(people::routes())
        .merge(insights::routes())
        .merge(shared_assets::read_routes())
        .route("/metrics", get(metrics))
        .route_layer(from_fn_with_state(state.clone(), auth::require_reader));
    Router::new()
        .merge(ingest::routes(state.limits.max_body))
        .merge(projects::config_routes())
        .merge(shared_assets::ingest_routes(state.limits.max_body))
        .merge(account::public_routes())
        .merge(read_api)
        .merge(assets::routes())
        .merge(ui::routes())
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        // Outside the routes' own layers: every handler and middleware
        // finds the request's `client::Client`.
        .layer(from_fn_with_state(state.clone(), crate::client::tag))
        .layer(
            // The path only: a query string may carry an ingest key.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Prometheus text exposition, for admins (the API token: scrape with
/// `authorization: {credentials: TOKEN}`).
async fn metrics(
    State(state): State<SharedState>,
    axum::Extension(access): axum::Extension<auth::Access>,
) -> Result<Response, ApiError> {
    access.require(auth::Role::Admin)?;
    let s = state.clone();
    let text = blocking(move || s.metrics.render(&s.store)).await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}

/// An API failure, answered as `{"error": "..."}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds, sent as `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The details go to the log, not to the client.
    pub fn internal(e: impl Display) -> Self {
        tracing::error!("internal error: {e}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

/// Seconds a client waits before retrying when a storage service of the
/// distributed layout is out of reach (`503`).
pub const UNAVAILABLE_RETRY_AFTER: u64 = 2;

/// Seconds a client waits before retrying on a full disk (`507`).
pub const DISK_FULL_RETRY_AFTER: u64 = 30;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => ApiError {
                retry_after: Some(1),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            },
            // The distributed layout's database or bucket is out of reach:
            // nothing was stored, and the client retries shortly.
            StoreError::Unavailable(detail) => {
                tracing::warn!("a storage service is unavailable: {detail}");
                ApiError {
                    retry_after: Some(UNAVAILABLE_RETRY_AFTER),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage is unavailable; try again shortly",
                    )
                }
            }
            // Nothing was stored: the recorder keeps the chunk and retries.
            e if e.is_disk_full() => {
                tracing::warn!("refusing a write: {e}");
                ApiError {
                    retry_after: Some(DISK_FULL_RETRY_AFTER),
                    ..Self::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        "the server's disk is full; try again later",
                    )
                }
            }
            e => Self::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Runs storage or decoding work off the async workers: sled may block on
/// disk and a chunk can take tens of milliseconds to decompress.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

#[cfg(test)]
mod tests;
