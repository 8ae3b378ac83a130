//! The audit log (contract §8): every sign-in and failed sign-in, view,
//! share, export, delete, erasure and member change, with who, when and
//! from where. Handlers call [`record`]; admins read it at
//! `GET /api/v1/audit` (`api::audit`) and on the `/admin/audit` page. The
//! store (`store::audit`) is append-only and never pruned.
//!
//! A `view` (a session's events or chunks read) is recorded once per actor,
//! address and session per [`VIEW_WINDOW`]: the player reads `/chunks` on
//! every open and poll, and one entry says as much as a hundred.
//!
//! What goes in `detail` must never hold a recorded person's identifiers
//! in clear (an erasure must leave none behind): callers name people by
//! [`pseudonym`].

use crate::api::{self, SharedState};
use crate::auth::Actor;
use crate::store::audit::AuditEntry;
use crate::store::now_ms;
use reel_shared::SessionId;
use std::time::{Duration, Instant};

/// Actions, as the log names them (others may be added: the log takes any).
pub const LOGIN: &str = "login";
pub const LOGIN_FAILED: &str = "login_failed";
pub const LOGOUT: &str = "logout";
pub const VIEW: &str = "view";
pub const SHARE: &str = "share";
pub const SHARE_REVOKE: &str = "share_revoke";
pub const EXPORT: &str = "export";
pub const DELETE: &str = "delete";
pub const MEMBER_ADD: &str = "member_add";
pub const MEMBER_ROLE: &str = "member_role";
pub const MEMBER_REMOVE: &str = "member_remove";
pub const MEMBER_PASSWORD: &str = "member_password";
pub const TOKEN_ADD: &str = "token_add";
pub const TOKEN_REVOKE: &str = "token_revoke";

/// A `view` of one session by one actor is recorded at most once in this.
pub const VIEW_WINDOW: Duration = Duration::from_secs(3600);

/// Bound on the views remembered for [`VIEW_WINDOW`]: past it the memory
/// is cleared (a few more entries are recorded, nothing is missed).
const MAX_VIEWS: usize = 65_536;

/// Appends an entry, durably (the store is flushed before this returns).
/// A failure is logged, not returned: the action it records has happened.
pub async fn record(
    state: &SharedState,
    actor: &Actor,
    action: &str,
    session: Option<&SessionId>,
    detail: &str,
) {
    let entry = AuditEntry {
        at: now_ms(),
        actor: actor.name.clone(),
        action: action.to_owned(),
        session_id: session.map(|s| s.to_string()),
        detail: detail.to_owned(),
        address: actor.address.clone(),
    };
    let store = state.store.clone();
    let appended = api::blocking(move || store.append_audit(&entry)).await;
    let result = match appended {
        Ok(Ok(())) => state.store.flush().await.map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.message),
    };
    if let Err(e) = result {
        tracing::error!(action, actor = %actor.name, "could not write the audit log: {e}");
    }
}

/// Records a `view` of `session` by `actor`, unless one was recorded in
/// the last [`VIEW_WINDOW`].
pub async fn view(state: &SharedState, actor: &Actor, session: &SessionId, detail: &str) {
    let key = (
        format!(
            "{}\u{0}{}",
            actor.name,
            actor.address.as_deref().unwrap_or("")
        ),
        *session.as_bytes(),
    );
    {
        let mut views = state.access.views.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if views
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < VIEW_WINDOW)
        {
            return;
        }
        if views.len() >= MAX_VIEWS {
            views.retain(|_, t| now.duration_since(*t) < VIEW_WINDOW);
            if views.len() >= MAX_VIEWS {
                views.clear();
            }
        }
        views.insert(key, now);
    }
    record(state, actor, VIEW, Some(session), detail).await;
}

/// How the log names a recorded person (a `Reel.identify` id) without
/// holding the id: the first 16 hex digits of a keyed SHA-256, with a key
/// kept in the data dir. The same person gets the same pseudonym, so
/// entries about them can be told apart, but the log alone does not say
/// who they were, and after an erasure nothing in it matches their id.
pub fn pseudonym(state: &SharedState, user_id: &str) -> String {
    use sha2::Digest;
    let key = state.access.pseudonym_key;
    let mut h = sha2::Sha256::new();
    h.update(key);
    h.update(user_id.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("person#{hex}")
}
