//! The insights endpoints (contract §6): `GET /api/v1/insights/clicks`,
//! `GET /api/v1/insights/scroll`, `POST /api/v1/insights/funnel`, for a
//! viewer or more. The queries themselves are in [`crate::insights`].
//!
//! They run on the blocking pool, at most [`CONCURRENT_QUERIES`] at once
//! (the others wait their turn): a burst of expensive queries takes two
//! threads, never the async workers that accept chunks, and ingest's
//! writer thread shares no lock with them for longer than one index read.

use crate::api::{self, ApiError, SharedState};
use crate::auth::{Access, Role};
use crate::filters::Filters;
use crate::insights::{self, bound_range, check_pattern, FunnelQuery, QueryError};
use crate::store::now_ms;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use std::collections::HashMap;
use tokio::sync::Semaphore;

/// Insights queries running at once.
pub const CONCURRENT_QUERIES: usize = 2;
static QUERIES: Semaphore = Semaphore::const_new(CONCURRENT_QUERIES);

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/insights/clicks", get(clicks))
        .route("/api/v1/insights/scroll", get(scroll))
        .route("/api/v1/insights/funnel", post(funnel))
        .method_not_allowed_fallback(api::method_not_allowed)
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Bad(m) => ApiError::bad_request(m),
            QueryError::Store(e) => e.into(),
        }
    }
}

/// The page pattern and the filters of a heatmap or scroll map query.
fn page_query(q: Params) -> Result<(String, Filters), ApiError> {
    let Query(params) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let pattern = check_pattern("url", params.get("url").map(String::as_str))
        .map_err(ApiError::bad_request)?;
    let mut filters = Filters::parse(&params, &[]).map_err(ApiError::bad_request)?;
    bound_range(&mut filters, now_ms()).map_err(ApiError::bad_request)?;
    Ok((pattern, filters))
}

/// Runs a query on the blocking pool, behind the query permits.
async fn run<T: Send + 'static>(
    state: &SharedState,
    f: impl FnOnce(&crate::store::Store) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = QUERIES.acquire().await.map_err(ApiError::internal)?;
    let store = state.store.clone();
    Ok(api::blocking(move || f(&store)).await??)
}

async fn clicks(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    q: Params,
) -> Result<Json<insights::ClicksAnswer>, ApiError> {
    access.require(Role::Viewer)?;
    let (pattern, filters) = page_query(q)?;
    let answer = run(&state, move |s| insights::clicks(&**s, &pattern, &filters)).await?;
    Ok(Json(answer))
}

async fn scroll(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    q: Params,
) -> Result<Json<insights::ScrollAnswer>, ApiError> {
    access.require(Role::Viewer)?;
    let (pattern, filters) = page_query(q)?;
    let answer = run(&state, move |s| insights::scroll(&**s, &pattern, &filters)).await?;
    Ok(Json(answer))
}

async fn funnel(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    body: Bytes,
) -> Result<Json<insights::FunnelAnswer>, ApiError> {
    access.require(Role::Viewer)?;
    let mut q = FunnelQuery::parse(&body).map_err(ApiError::bad_request)?;
    bound_range(&mut q.filters, now_ms()).map_err(ApiError::bad_request)?;
    let answer = run(&state, move |s| insights::funnel(&**s, &q)).await?;
    Ok(Json(answer))
}
