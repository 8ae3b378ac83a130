//! Resolving the secrets the server runs with: given on the command line or
//! in the environment, or generated once and kept in the data dir so that
//! embedded `<script>` tags and bookmarked sign-ins keep working across
//! restarts.
//!
//! The ingest key is public (every recorded page carries it) and is kept
//! in clear. The API token is only ever compared, so only its SHA-256 is
//! kept: whoever reads the data dir cannot sign in with it. It is shown
//! once, when generated; a data dir of an earlier version that holds it
//! in clear has it replaced by its hash at the next start (shown once
//! more then).

use crate::store::{Store, StoreError};

const INGEST_KEY: &str = "ingest_key";
/// Where earlier versions kept the generated token in clear.
const API_TOKEN: &str = "api_token";
const API_TOKEN_HASH: &str = "api_token_sha256";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not generate a secret: {0}")]
    Random(String),
    #[error(
        "{0} must be printable ASCII without spaces, quotes, commas, semicolons or backslashes \
         (it travels in a header and a cookie)"
    )]
    BadSecret(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub ingest_keys: Vec<String>,
    /// The API token in clear, when this process knows it: given, or
    /// generated (or moved to a hash) by this start.
    pub api_token: Option<String>,
    /// What a presented token is checked against.
    pub api_token_hash: [u8; 32],
}

/// The SHA-256 of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The stored token's hash; generated (and returned in clear) on first use.
fn stored_or_generated_token(store: &Store) -> Result<(Option<String>, [u8; 32]), ConfigError> {
    if let Some(h) = store.config_get(API_TOKEN_HASH)?.as_deref().and_then(unhex) {
        // A clear copy left by an interrupted move: gone now.
        if store.config_get(API_TOKEN)?.is_some() {
            store.config_remove(API_TOKEN)?;
        }
        return Ok((None, h));
    }
    let token = match store.config_get(API_TOKEN)?.filter(|v| valid_secret(v)) {
        Some(old) => old,
        None => generate_secret()?,
    };
    let h = token_hash(&token);
    // Another process of the deployment may have stored its own first.
    let stored = store.config_init(API_TOKEN_HASH, &hex(&h))?;
    let known = match unhex(&stored) {
        Some(theirs) if theirs != h => (None, theirs),
        Some(_) => (Some(token), h),
        None => {
            store.config_set(API_TOKEN_HASH, &hex(&h))?;
            (Some(token), h)
        }
    };
    store.config_remove(API_TOKEN)?;
    store.flush_blocking()?;
    Ok(known)
}

/// 128 random bits as 32 lowercase hex digits.
pub fn generate_secret() -> Result<String, ConfigError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ConfigError::Random(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A secret must fit, unquoted, in an HTTP header and a cookie value
/// (RFC 6265 cookie-octet), so the UI's cookie can carry the token itself.
pub fn valid_secret(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

fn stored_or_generated(store: &Store, name: &str) -> Result<String, ConfigError> {
    if let Some(v) = store.config_get(name)?.filter(|v| valid_secret(v)) {
        return Ok(v);
    }
    let v = generate_secret()?;
    // Another process of the deployment may have stored its own first.
    let stored = store.config_init(name, &v)?;
    let v = if valid_secret(&stored) {
        stored
    } else {
        store.config_set(name, &v)?;
        v
    };
    store.flush_blocking()?;
    Ok(v)
}

/// Given values win and are not stored; missing ones come from the store,
/// generated on first use. Empty given keys (e.g. `REEL_INGEST_KEYS=`) count
/// as not given.
pub fn resolve(
    store: &Store,
    given_keys: &[String],
    given_token: Option<&str>,
) -> Result<Secrets, ConfigError> {
    let mut ingest_keys: Vec<String> = Vec::new();
    for k in given_keys
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
    {
        if !valid_secret(k) {
            return Err(ConfigError::BadSecret("an ingest key"));
        }
        if !ingest_keys.iter().any(|x| x == k) {
            ingest_keys.push(k.to_owned());
        }
    }
    if ingest_keys.is_empty() {
        ingest_keys.push(stored_or_generated(store, INGEST_KEY)?);
    }
    let (api_token, api_token_hash) = match given_token.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if valid_secret(t) => (Some(t.to_owned()), token_hash(t)),
        Some(_) => return Err(ConfigError::BadSecret("the API token")),
        None => stored_or_generated_token(store)?,
    };
    Ok(Secrets {
        ingest_keys,
        api_token,
        api_token_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_persist_and_given_ones_win() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = resolve(&store, &[], None).unwrap();
        assert_eq!(a.ingest_keys.len(), 1);
        assert_eq!(a.ingest_keys[0].len(), 32);
        let token = a.api_token.clone().unwrap();
        assert_eq!(token.len(), 32);
        assert_eq!(a.api_token_hash, token_hash(&token));
        assert_ne!(a.ingest_keys[0], token);
        // Later starts know the hash only.
        let again = resolve(&store, &[String::new()], Some("")).unwrap();
        assert_eq!(again.ingest_keys, a.ingest_keys);
        assert_eq!(again.api_token, None);
        assert_eq!(again.api_token_hash, a.api_token_hash);
        let b = resolve(
            &store,
            &["k1".into(), "k2".into(), "k1".into()],
            Some("tok"),
        )
        .unwrap();
        assert_eq!(b.ingest_keys, ["k1", "k2"]);
        assert_eq!(b.api_token.as_deref(), Some("tok"));
        assert_eq!(b.api_token_hash, token_hash("tok"));
        assert!(resolve(&store, &["bad key".into()], None).is_err());
        assert!(resolve(&store, &[], Some("a;b")).is_err());
    }

    /// A token an earlier version kept in clear is replaced by its hash:
    /// the same token still works, and its clear text is gone from the
    /// config.
    #[test]
    fn a_token_kept_in_clear_moves_to_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.config_set(API_TOKEN, "old-clear-token").unwrap();
        let a = resolve(&store, &[], None).unwrap();
        assert_eq!(a.api_token.as_deref(), Some("old-clear-token"));
        assert_eq!(a.api_token_hash, token_hash("old-clear-token"));
        assert_eq!(store.config_get(API_TOKEN).unwrap(), None);
        let b = resolve(&store, &[], None).unwrap();
        assert_eq!((b.api_token, b.api_token_hash), (None, a.api_token_hash));
    }

    #[test]
    fn secret_charset() {
        assert!(valid_secret("abcDEF-123_~.!"));
        for bad in ["", "a b", "a;b", "a,b", "a\"b", "a\\b", "é"] {
            assert!(!valid_secret(bad), "{bad}");
        }
    }
}
