//! What support staff add to a session (contract §7): comments on a moment
//! and share links. The types every storage backend keeps, and the rules
//! for them in one place; the HTTP side is `api::comments` and
//! `api::shares`.

use reel_shared::SessionId;
use serde::{Deserialize, Serialize};

/// A comment's text, trimmed, is 1 to this many characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;
/// A session holds at most this many comments: the list is answered whole.
pub const MAX_COMMENTS_PER_SESSION: usize = 1_000;
/// A share link lives from a minute...
pub const MIN_SHARE_SECS: u64 = 60;
/// ...to 30 days.
pub const MAX_SHARE_SECS: u64 = 30 * 24 * 3600;
/// Random bytes in a share token (256 bits; the contract asks for 128).
const SHARE_TOKEN_BYTES: usize = 32;

/// A comment on a moment of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// 32 hex digits: `t` (u64 BE) then 8 random bytes, so a backend can
    /// key comments by it and have them in time order.
    pub id: String,
    pub session: SessionId,
    /// Ms from the session's start.
    pub t: u64,
    pub text: String,
    /// Who wrote it: `admin` for the API token; a member's email once
    /// members exist.
    pub author: String,
    /// When it was written, ms since the Unix epoch (server clock).
    pub at: u64,
}

impl Comment {
    /// A new comment with a fresh id. `text` must have passed
    /// [`comment_text`].
    pub fn new(
        session: SessionId,
        t: u64,
        text: String,
        author: String,
        at: u64,
    ) -> Result<Comment, getrandom::Error> {
        let mut rand = [0u8; 8];
        getrandom::fill(&mut rand)?;
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&t.to_be_bytes());
        key[8..].copy_from_slice(&rand);
        Ok(Comment {
            id: hex(&key),
            session,
            t,
            text,
            author,
            at,
        })
    }

    /// The id's 16 bytes (time first): the sort key after the session.
    pub fn key(&self) -> [u8; 16] {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = self
                .id
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or(0);
        }
        k
    }
}

/// The comment's text, trimmed, if it is acceptable.
pub fn comment_text(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    let n = text.chars().count();
    if n == 0 {
        return Err("`text` must not be empty".into());
    }
    if n > MAX_COMMENT_CHARS {
        return Err(format!(
            "`text` is {n} characters; at most {MAX_COMMENT_CHARS} are allowed"
        ));
    }
    Ok(text.to_owned())
}

/// A share link, stored under the SHA-256 of its token (the token itself
/// is shown once, when the link is made, and kept nowhere).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub session: SessionId,
    /// Ms since the Unix epoch (server clock).
    pub created_at: u64,
    pub expires_at: u64,
    pub created_by: String,
}

impl Share {
    pub fn live(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at
    }
}

/// Checks a requested lifetime in seconds.
pub fn share_lifetime(expires_in_s: u64) -> Result<u64, String> {
    if (MIN_SHARE_SECS..=MAX_SHARE_SECS).contains(&expires_in_s) {
        Ok(expires_in_s)
    } else {
        Err(format!(
            "`expires_in_s` must be from {MIN_SHARE_SECS} (a minute) to {MAX_SHARE_SECS} (30 days)"
        ))
    }
}

/// A fresh share token: 256 random bits as 64 hex digits.
pub fn new_share_token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; SHARE_TOKEN_BYTES];
    getrandom::fill(&mut b)?;
    Ok(hex(&b))
}

/// What a share token is stored (and looked up) as.
pub fn share_key(token: &str) -> [u8; 32] {
    crate::config::token_hash(token)
}

/// Whether `s` looks like a token [`new_share_token`] made: anything else
/// is refused before any lookup.
pub fn share_token_shape(s: &str) -> bool {
    s.len() == 2 * SHARE_TOKEN_BYTES && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A share link's public id: the hex of its key (the token's SHA-256),
/// which lists and revokes it but opens nothing.
pub fn share_id(key: &[u8; 32]) -> String {
    hex(key)
}

/// The key a [`share_id`] names.
pub fn parse_share_id(s: &str) -> Option<[u8; 32]> {
    if !share_token_shape(s) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_text_is_trimmed_and_bounded() {
        assert_eq!(comment_text("  hi \n").unwrap(), "hi");
        assert!(comment_text("   \n\t").is_err());
        assert!(comment_text("").is_err());
        let max = "é".repeat(MAX_COMMENT_CHARS);
        assert_eq!(comment_text(&format!(" {max} ")).unwrap(), max);
        assert!(comment_text(&format!("{max}x")).is_err());
    }

    #[test]
    fn comment_ids_sort_by_time() {
        let s = SessionId([1; 16]);
        let a = Comment::new(s, 5, "a".into(), "admin".into(), 0).unwrap();
        let b = Comment::new(s, 300, "b".into(), "admin".into(), 0).unwrap();
        assert_eq!(a.id.len(), 32);
        assert!(a.key() < b.key());
        assert_eq!(&a.key()[..8], &5u64.to_be_bytes());
    }

    #[test]
    fn share_rules() {
        assert!(share_lifetime(59).is_err());
        assert!(share_lifetime(60).is_ok());
        assert!(share_lifetime(MAX_SHARE_SECS).is_ok());
        assert!(share_lifetime(MAX_SHARE_SECS + 1).is_err());
        let t = new_share_token().unwrap();
        assert!(share_token_shape(&t));
        assert_ne!(t, new_share_token().unwrap());
        assert!(!share_token_shape(&t[1..]));
        assert!(!share_token_shape(&t.to_uppercase()));
        let key = share_key(&t);
        assert_eq!(parse_share_id(&share_id(&key)), Some(key));
        assert_eq!(parse_share_id("ab"), None);
        let s = Share {
            session: SessionId([0; 16]),
            created_at: 0,
            expires_at: 10,
            created_by: "admin".into(),
        };
        assert!(s.live(9) && !s.live(10));
    }
}
