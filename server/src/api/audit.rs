//! `GET /api/v1/audit?since=&limit=&cursor=` (admins): the audit log,
//! newest first, `{"entries": [{"at", "actor", "action", "session_id",
//! "detail", "address"}], "next_cursor"}` (see [`crate::audit`]).

use crate::api::{self, ApiError, SharedState};
use crate::auth::{Access, Role};
use crate::index::{format_ms, parse_rfc3339_ms};
use crate::store::audit::AuditKey;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use std::collections::HashMap;

/// Entries one page holds by default, and at most.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/audit", get(list))
        .method_not_allowed_fallback(api::method_not_allowed)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_cursor(s: &str) -> Option<AuditKey> {
    let mut out = [0u8; 16];
    if s.len() != 32 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(Role::Admin)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let since = match q.get("since").map(String::as_str) {
        None | Some("") => 0,
        Some(s) => parse_rfc3339_ms(s)
            .ok_or_else(|| ApiError::bad_request("`since` must be an RFC 3339 time"))?,
    };
    let limit = match q.get("limit").map(String::as_str) {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("`limit` must be from 1 to {MAX_LIMIT}"))
            })?,
    };
    let before = match q.get("cursor").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(
            parse_cursor(s)
                .ok_or_else(|| ApiError::bad_request("`cursor` is not one this API gave"))?,
        ),
    };
    let store = state.store.clone();
    // One more than asked: whether there is a next page.
    let mut page = api::blocking(move || store.audit_entries(since, before, limit + 1)).await??;
    let next = (page.len() > limit).then(|| {
        page.truncate(limit);
        page.last().map(|(k, _)| hex(k))
    });
    let entries: Vec<serde_json::Value> = page
        .iter()
        .map(|(_, e)| {
            serde_json::json!({
                "at": format_ms(e.at),
                "actor": e.actor,
                "action": e.action,
                "session_id": e.session_id,
                "detail": e.detail,
                "address": e.address,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "entries": entries,
        "next_cursor": next.flatten(),
    })))
}
