//! Comments on a moment of a session (contract §7):
//! `POST /api/v1/sessions/{id}/comments` `{"t": MS, "text": "..."}` and
//! `GET` the list, ordered by `t`. Readers may post; a share link may read
//! the list (see `api::shares::share_may_read`), never post.

use crate::api::{self, ApiError, SharedState};
use crate::auth::{Access, Role};
use crate::index::format_ms;
use crate::store::now_ms;
use crate::support::{comment_text, Comment, MAX_COMMENTS_PER_SESSION};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/sessions/{id}/comments", get(list).post(add))
        .method_not_allowed_fallback(api::method_not_allowed)
}

/// A comment as the API shows it.
#[derive(Debug, Serialize)]
pub struct CommentItem {
    pub id: String,
    pub t: u64,
    pub text: String,
    pub author: String,
    /// When it was written, RFC 3339.
    pub at: String,
}

impl From<&Comment> for CommentItem {
    fn from(c: &Comment) -> Self {
        CommentItem {
            id: c.id.clone(),
            t: c.t,
            text: c.text.clone(),
            author: c.author.clone(),
            at: format_ms(c.at),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    t: u64,
    text: String,
}

async fn list(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = api::sessions::session_id(path)?;
    access.read_session(&id)?;
    let store = state.store.clone();
    let comments = api::blocking(move || -> Result<_, ApiError> {
        if !store.has_session(&id)? {
            return Err(api::sessions::no_such_session());
        }
        Ok(store.comments(&id)?)
    })
    .await??;
    let items: Vec<CommentItem> = comments.iter().map(CommentItem::from).collect();
    Ok(Json(serde_json::json!({ "comments": items })))
}

async fn add(
    State(state): State<SharedState>,
    Extension(access): Extension<Access>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<CommentItem>), ApiError> {
    let author = access.require(Role::Viewer)?.name;
    let id = api::sessions::session_id(path)?;
    let new: NewComment = json_body(&body, r#"{"t": MS, "text": "..."}"#)?;
    let text = comment_text(&new.text).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    let comment = api::blocking(move || -> Result<Comment, ApiError> {
        let meta = store
            .session(&id)?
            .ok_or_else(api::sessions::no_such_session)?;
        if new.t > meta.duration_ms() {
            return Err(ApiError::bad_request(format!(
                "`t` must be within the session: 0 to {} ms",
                meta.duration_ms()
            )));
        }
        if store.comments(&id)?.len() >= MAX_COMMENTS_PER_SESSION {
            return Err(ApiError::bad_request(format!(
                "a session holds at most {MAX_COMMENTS_PER_SESSION} comments"
            )));
        }
        let c = Comment::new(id, new.t, text, author, now_ms()).map_err(ApiError::internal)?;
        if !store.add_comment(&c)? {
            return Err(api::sessions::no_such_session());
        }
        Ok(c)
    })
    .await??;
    tracing::info!(session = %comment.session, t = comment.t, "comment added");
    Ok((StatusCode::CREATED, Json(CommentItem::from(&comment))))
}

/// A JSON request body of the shape `shape` (named in the error), whatever
/// its `Content-Type` says: a `400` with the reason when it is not one.
pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body must be JSON {shape}: {e}")))
}
