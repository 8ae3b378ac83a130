//! The read API: listing, reading and deleting sessions. Behind the API
//! token (see `auth::require_reader`, applied by the router).

use crate::api::{self, ApiError, SharedState};
use crate::audit;
use crate::auth::{Access, Role};
use crate::index::{encode_cursor, ListQuery, SessionItem};
use crate::store::{ListRange, Store, StoreError};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use reel_shared::{decode_chunk, Dropped, Event, EventData, Limits, SessionId};
use std::collections::HashMap;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions", get(list))
        .route("/api/v1/sessions/{id}", get(get_one).delete(delete))
        .route("/api/v1/sessions/{id}/events", get(events))
        .route("/api/v1/sessions/{id}/chunks", get(chunks))
        .method_not_allowed_fallback(api::method_not_allowed)
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(q: Params) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

pub(crate) fn session_id(path: Result<Path<String>, PathRejection>) -> Result<SessionId, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    id.parse().map_err(|_| {
        ApiError::bad_request("the session id must be 32 lowercase hexadecimal digits")
    })
}

pub(crate) fn no_such_session() -> ApiError {
    ApiError::not_found("no such session")
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    q: Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(Role::Viewer)?;
    let q = ListQuery::parse(&params(q)?).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    let page = api::blocking(move || {
        let range = ListRange {
            since: q.filters.since_ms.unwrap_or(0),
            until: q.filters.until_ms.unwrap_or(u64::MAX),
            before: q.cursor,
            limit: q.limit,
        };
        store.list_sessions(range, &mut |m| q.matches(m))
    })
    .await??;
    let sessions: Vec<SessionItem> = page.sessions.iter().map(SessionItem::from).collect();
    Ok(Json(serde_json::json!({
        "sessions": sessions,
        "next_cursor": page.next.map(|k| encode_cursor(&k)),
    })))
}

async fn get_one(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionItem>, ApiError> {
    let id = session_id(path)?;
    access.read_session(&id)?;
    let store = state.store.clone();
    let meta = api::blocking(move || store.session(&id))
        .await??
        .ok_or_else(no_such_session)?;
    Ok(Json(SessionItem::from(&meta)))
}

async fn delete(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = access.require(Role::Admin)?;
    let id = session_id(path)?;
    let store = state.store.clone();
    if !api::blocking(move || store.delete_session(&id)).await?? {
        return Err(no_such_session());
    }
    state.store.flush().await?;
    tracing::info!(session = %id, "session deleted");
    audit::record(&state, &actor, audit::DELETE, Some(&id), "").await;
    Ok(Json(serde_json::json!({ "deleted": true })))
}

/// Why a session's events or chunks cannot be written out.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("could not write: {0}")]
    Write(#[from] std::io::Error),
}

/// Every event of a session as one JSON array, written to `out`: what
/// `reel-server export --json` writes, and byte for byte what `/events`
/// streams (both walk [`EventsArray`]), one chunk in memory at a time.
pub fn write_events_json(
    store: &Store,
    id: &SessionId,
    limits: &Limits,
    out: &mut impl std::io::Write,
) -> Result<(), EventsError> {
    let meta = store.session(id)?.ok_or(EventsError::NotFound)?;
    let mut arr = EventsArray::new(meta.started_at);
    for seq in store.chunk_seqs(id, 0)? {
        arr.chunk(store, id, seq, limits, out)?;
    }
    arr.finish(out)
}

/// A JSON array of a session's events being written one chunk at a time:
/// whether the `[` and a comma are due, the last event's time, and a gap
/// not yet written.
///
/// A chunk that cannot be read back (damaged on disk: it failed its
/// checksum) or decoded (ingest checks a chunk's structure, not every
/// event's type, see `validate`) is skipped, and the gap is marked where
/// it was with an [`EventData::Dropped`] event: the marker the recorder
/// writes when it had to drop chunks, which the player already shows as a
/// recording gap and API users already know, so no new event kind (or
/// field) is needed. `chunks` counts the lost chunks (consecutive ones
/// share one marker), `bytes` their stored size where it is known (0 for
/// a chunk damaged on disk, whose stored length is not to be trusted), and
/// `t` is the previous event's time (the next event's when nothing came
/// before, the session's start when nothing at all was readable), so times
/// never decrease. Any other storage error stops the array unfinished: the
/// caller must not present it as complete.
struct EventsArray {
    opened: bool,
    any: bool,
    last_t: Option<u64>,
    started_at: u64,
    gap: Option<Dropped>,
}

impl EventsArray {
    fn new(started_at: u64) -> Self {
        EventsArray {
            opened: false,
            any: false,
            last_t: None,
            started_at,
            gap: None,
        }
    }

    /// Reads, decodes and writes chunk `seq`'s events (or notes its gap).
    fn chunk(
        &mut self,
        store: &Store,
        id: &SessionId,
        seq: u32,
        limits: &Limits,
        out: &mut impl std::io::Write,
    ) -> Result<(), EventsError> {
        self.open(out)?;
        let raw = match store.read_chunk(id, seq) {
            Ok(Some(raw)) => raw,
            // Deleted while being read: what is left is the session.
            Ok(None) => return Ok(()),
            Err(e @ StoreError::Damaged { .. }) => {
                tracing::warn!(session = %id, seq, "{e}; served as a gap");
                self.lost(0);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let mut chunk = match decode_chunk(&raw, limits) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(session = %id, seq, "chunk cannot be decoded: {e}; served as a gap");
                self.lost(raw.len() as u64);
                return Ok(());
            }
        };
        drop(raw);
        // Cross-origin frames' events in place, as the player sees them.
        let skipped = reel_shared::frames::expand(&mut chunk.events);
        if skipped > 0 {
            tracing::warn!(session = %id, seq, skipped, "frame events that cannot be decoded left out");
        }
        for e in &chunk.events {
            self.flush_gap(e.t, out)?;
            self.write(e, out)?;
        }
        Ok(())
    }

    /// Writes any gap still pending and closes the array.
    fn finish(&mut self, out: &mut impl std::io::Write) -> Result<(), EventsError> {
        self.open(out)?;
        self.flush_gap(self.started_at, out)?;
        out.write_all(b"]")?;
        Ok(())
    }

    fn open(&mut self, out: &mut impl std::io::Write) -> Result<(), EventsError> {
        if !self.opened {
            out.write_all(b"[")?;
            self.opened = true;
        }
        Ok(())
    }

    fn lost(&mut self, bytes: u64) {
        let g = self.gap.get_or_insert(Dropped {
            chunks: 0,
            bytes: 0,
        });
        g.chunks += 1;
        g.bytes += bytes;
    }

    fn flush_gap(&mut self, t_next: u64, out: &mut impl std::io::Write) -> Result<(), EventsError> {
        if let Some(g) = self.gap.take() {
            let e = Event {
                t: self.last_t.unwrap_or(t_next),
                data: EventData::Dropped(g),
            };
            self.write(&e, out)?;
        }
        Ok(())
    }

    fn write(&mut self, e: &Event, out: &mut impl std::io::Write) -> Result<(), EventsError> {
        if self.any {
            out.write_all(b",")?;
        }
        self.any = true;
        self.last_t = Some(e.t);
        serde_json::to_writer(&mut *out, e)?;
        Ok(())
    }
}

/// A response body made one chunk at a time: `step` runs off the async
/// workers for each seq in turn and then once with `None` (to close), each
/// time appending to the piece it is given; the body asks for the next
/// piece only when the client has taken the last, so a response holds one
/// chunk's worth of memory whatever the session's size and however slow
/// the client. A failed step ends the body early (the client sees a
/// truncated response) and is logged; a client that goes away drops the
/// body, and no further chunk is read.
fn chunk_by_chunk<S>(what: &'static str, id: SessionId, seqs: Vec<u32>, state: S) -> Body
where
    S: FnMut(Option<u32>, &mut Vec<u8>) -> Result<(), EventsError> + Send + 'static,
{
    let start = (Some(state), seqs.into_iter());
    let pieces = futures_util::stream::try_unfold(start, move |(step, mut seqs)| async move {
        let Some(mut step) = step else {
            return Ok::<_, std::io::Error>(None);
        };
        loop {
            let seq = seqs.next();
            let (back, piece) = api::blocking(move || {
                let mut piece = Vec::new();
                let r = step(seq, &mut piece);
                (step, r.map(|()| piece))
            })
            .await
            .map_err(|e| std::io::Error::other(e.message))?;
            let piece = piece.map_err(|e| {
                tracing::error!(session = %id, "{what} ended early: {e}");
                std::io::Error::other(e)
            })?;
            match (seq, piece.is_empty()) {
                (None, true) => return Ok(None),
                (None, false) => return Ok(Some((Bytes::from(piece), (None, seqs)))),
                (Some(_), false) => return Ok(Some((Bytes::from(piece), (Some(back), seqs)))),
                (Some(_), true) => step = back,
            }
        }
    });
    Body::from_stream(pieces)
}

/// Every event as a JSON array, streamed one chunk at a time (see
/// [`EventsArray`] for what a damaged chunk becomes). A missing session is
/// a 404 before anything is sent.
async fn events(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = session_id(path)?;
    let actor = access.read_session(&id)?;
    let store = state.store.clone();
    let (meta, seqs) = api::blocking(move || -> Result<_, ApiError> {
        let meta = store.session(&id)?.ok_or_else(no_such_session)?;
        Ok((meta, store.chunk_seqs(&id, 0)?))
    })
    .await??;
    audit::view(&state, &actor, &id, "events").await;
    let store = state.store.clone();
    let limits = state.limits.decode_limits();
    let mut arr = EventsArray::new(meta.started_at);
    let body = chunk_by_chunk("/events", id, seqs, move |seq, out| match seq {
        Some(seq) => arr.chunk(&store, &id, seq, &limits, out),
        None => arr.finish(out),
    });
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// The stored chunks, each framed as a u32 little-endian length and the
/// chunk's bytes: the player decodes them itself, so the server sends
/// compressed bytes and does no decoding work. Streamed a chunk at a time.
/// A chunk damaged on disk is left out and logged: the framing has no way
/// to mark it, and the player sees the jump in seqs, which it shows as a
/// gap. (Which chunks are damaged is only known by reading them, so no
/// header can list them before the body starts.)
async fn chunks(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Response, ApiError> {
    let id = session_id(path)?;
    let actor = access.read_session(&id)?;
    let from = match params(q)?.get("from").map(String::as_str) {
        None | Some("") => 0,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request("`from` must be a chunk sequence number"))?,
    };
    let store = state.store.clone();
    let seqs = api::blocking(move || -> Result<Vec<u32>, ApiError> {
        if !store.has_session(&id)? {
            return Err(no_such_session());
        }
        Ok(store.chunk_seqs(&id, from)?)
    })
    .await??;
    audit::view(&state, &actor, &id, "chunks").await;
    let store = state.store.clone();
    let body = chunk_by_chunk("/chunks", id, seqs, move |seq, out| {
        let Some(seq) = seq else { return Ok(()) };
        let raw = match store.read_chunk(&id, seq) {
            Ok(Some(raw)) => raw,
            Ok(None) => return Ok(()),
            Err(e @ StoreError::Damaged { .. }) => {
                tracing::warn!(session = %id, seq, "{e}; left out of /chunks");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let len = u32::try_from(raw.len()).map_err(std::io::Error::other)?;
        out.reserve_exact(4 + raw.len());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&raw);
        Ok(())
    });
    Ok(([(CONTENT_TYPE, "application/octet-stream")], body).into_response())
}
