//! The HTTP server around the router: hyper's HTTP/1 connections driven
//! here rather than by `axum::serve`, which has no header-read timeout, and
//! the request guard that bounds what slow or stalled clients can hold.
//!
//! Invariants:
//!
//! 1. A connection that has not sent a complete request head within
//!    `stall_timeout` of being ready for one (accepted, or done with its
//!    previous request) is closed, without a response: hyper's
//!    `header_read_timeout`. That is also the idle keep-alive timeout.
//! 2. A request body that delivers no byte for `stall_timeout` fails; the
//!    request is answered `408` and its connection closed (hyper never
//!    keeps alive a connection whose request body was not read to its end).
//! 3. The request bodies being received at once are at most
//!    `body_budget` bytes, counted by their declared length (a body of
//!    unknown length counts as the largest body a route accepts): a request
//!    that would pass it is answered `503` with `Retry-After` before any of
//!    its body is read. Its share returns when its response is ready.
//! 4. Every request carries `ConnectInfo<SocketAddr>`, the peer's address.
//! 5. On shutdown, no new connection is accepted, idle connections close at
//!    once, and [`run`] returns when every request in flight has finished.

use crate::api::ApiError;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one connection or request may hold, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// How long a request head or body may go without a byte.
    pub stall_timeout: Duration,
    /// Request-body bytes being received at once, all requests together.
    pub body_budget: usize,
    /// The largest body any route accepts: what a body of unknown length
    /// counts for.
    pub max_body: usize,
}

impl ConnLimits {
    pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_BODY_BUDGET: usize = 256 * 1024 * 1024;
}

/// The budget is counted in KiB: a semaphore hands out at most `u32`
/// permits at a time.
const UNIT: usize = 1024;

struct Guard {
    limits: ConnLimits,
    budget: Arc<Semaphore>,
    /// The whole budget in units, what no single request may exceed.
    budget_units: u32,
}

/// `app` with invariants 2 and 3 applied to every request.
pub fn guard(app: Router, limits: ConnLimits) -> Router {
    let units = u32::try_from(limits.body_budget.div_ceil(UNIT)).unwrap_or(u32::MAX);
    let units = units.min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
    let guard = Arc::new(Guard {
        limits,
        budget: Arc::new(Semaphore::new(units as usize)),
        budget_units: units,
    });
    app.layer(from_fn_with_state(guard, guard_request))
}

/// The share of the budget a request's body takes, in units.
fn body_units(req: &Request, max_body: usize) -> u32 {
    let h = req.headers();
    let declared = h
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = match declared {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(max_body),
        None if h.contains_key(TRANSFER_ENCODING) => max_body,
        None => 0,
    };
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

async fn guard_request(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let units = body_units(&req, g.limits.max_body);
    let _share = if units == 0 {
        None
    } else {
        match g
            .budget
            .clone()
            .try_acquire_many_owned(units.min(g.budget_units))
        {
            Ok(p) => Some(p),
            Err(_) => {
                tracing::warn!(
                    "request refused: request bodies in flight are at the budget of {} bytes",
                    g.limits.body_budget
                );
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is receiving too many request bodies at once; retry shortly",
                );
                e.retry_after = Some(1);
                return close(e.into_response());
            }
        }
    };
    let stalled = Arc::new(AtomicBool::new(false));
    let flag = stalled.clone();
    let (parts, body) = req.into_parts();
    let body = tower_http::timeout::TimeoutBody::new(g.limits.stall_timeout, body).map_err(
        move |e: Box<dyn std::error::Error + Send + Sync>| {
            if e.is::<tower_http::timeout::TimeoutError>() {
                flag.store(true, Ordering::Relaxed);
            }
            e
        },
    );
    let res = next.run(Request::from_parts(parts, Body::new(body))).await;
    if stalled.load(Ordering::Relaxed) {
        tracing::warn!(
            "request body stalled for {:?}: answered 408",
            g.limits.stall_timeout
        );
        return close(
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body stalled: no byte for {} s",
                    g.limits.stall_timeout.as_secs_f64()
                ),
            )
            .into_response(),
        );
    }
    res
}

fn close(mut res: Response) -> Response {
    res.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Serves `app` on `listener` (with [`guard`] applied by the caller) until
/// `shutdown` completes, then lets in-flight requests finish (invariants 1,
/// 4 and 5).
pub async fn run(
    listener: TcpListener,
    app: Router,
    stall_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(stall_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(Body::new))
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
