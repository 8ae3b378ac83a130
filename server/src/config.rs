//! Resolving the secrets the server runs with: given on the command line or
//! in the environment, or generated once and kept in the data dir so that
//! embedded `<script>` tags and bookmarked sign-ins keep working across
//! restarts.

use crate::store::{Store, StoreError};

const INGEST_KEY: &str = "ingest_key";
const API_TOKEN: &str = "api_token";

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
    pub api_token: String,
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
    store.config_set(name, &v)?;
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
    let api_token = match given_token.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if valid_secret(t) => t.to_owned(),
        Some(_) => return Err(ConfigError::BadSecret("the API token")),
        None => stored_or_generated(store, API_TOKEN)?,
    };
    Ok(Secrets {
        ingest_keys,
        api_token,
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
        assert_eq!(a.api_token.len(), 32);
        assert_ne!(a.ingest_keys[0], a.api_token);
        assert_eq!(resolve(&store, &[String::new()], Some("")).unwrap(), a);
        let b = resolve(
            &store,
            &["k1".into(), "k2".into(), "k1".into()],
            Some("tok"),
        )
        .unwrap();
        assert_eq!(b.ingest_keys, ["k1", "k2"]);
        assert_eq!(b.api_token, "tok");
        assert!(resolve(&store, &["bad key".into()], None).is_err());
        assert!(resolve(&store, &[], Some("a;b")).is_err());
    }

    #[test]
    fn secret_charset() {
        assert!(valid_secret("abcDEF-123_~.!"));
        for bad in ["", "a b", "a;b", "a,b", "a\"b", "a\\b", "é"] {
            assert!(!valid_secret(bad), "{bad}");
        }
    }
}
