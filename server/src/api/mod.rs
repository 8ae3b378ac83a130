//! The HTTP surface: the router that joins every route, and the JSON error
//! that every API failure becomes.

pub mod ingest;
pub mod sessions;

use crate::auth::{self, Auth};
use crate::store::{Store, StoreError};
use crate::{assets, ui};
use axum::http::header::WWW_AUTHENTICATE;
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
}

pub type SharedState = Arc<AppState>;

/// Every route of the server.
pub fn app(state: SharedState) -> Router {
    // route_layer, not layer: an unknown path is a 404, not a 401.
    let read_api =
        sessions::routes().route_layer(from_fn_with_state(state.clone(), auth::require_reader));
    Router::new()
        .merge(ingest::routes())
        .merge(read_api)
        .merge(assets::routes())
        .merge(ui::routes())
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// An API failure, answered as `{"error": "..."}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
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
