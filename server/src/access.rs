//! The access side's own state, one field of `AppState`: which proxies are
//! believed, what the audit log has seen recently, and (see
//! [`crate::signin`]) the sign-in limits.

use crate::client::TrustedProxies;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct AccessState {
    pub trusted_proxies: TrustedProxies,
    /// When each (actor, session) last had a `view` recorded.
    pub(crate) views: Mutex<HashMap<(String, [u8; 16]), Instant>>,
    pub signin: crate::signin::SignInLimits,
    /// Password hashes computed at once: each takes
    /// [`crate::password::MEMORY_KIB`] of memory and a core.
    pub(crate) hashing: tokio::sync::Semaphore,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// The key of [`crate::audit::pseudonym`], kept in the data dir.
    pub pseudonym_key: [u8; 32],
}

/// A sign-in lasts this long (the cookie and the login token alike).
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

impl Default for AccessState {
    fn default() -> Self {
        AccessState {
            trusted_proxies: TrustedProxies::default(),
            views: Mutex::default(),
            signin: crate::signin::SignInLimits::default(),
            hashing: tokio::sync::Semaphore::new(2),
            session_ttl: DEFAULT_SESSION_TTL,
            pseudonym_key: random_key(),
        }
    }
}

fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut k) {
        tracing::error!("no randomness for the audit's pseudonym key: {e}");
    }
    k
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

const PSEUDONYM_KEY: &str = "audit_pseudonym_key";

impl AccessState {
    /// The state for a server on `store`: the pseudonym key read from the
    /// data dir, or generated and kept there.
    pub fn for_store(
        store: &crate::store::Store,
        trusted_proxies: TrustedProxies,
    ) -> Result<Self, crate::store::StoreError> {
        let key = match store.config_get(PSEUDONYM_KEY)?.and_then(|h| unhex32(&h)) {
            Some(k) => k,
            None => {
                let k = random_key();
                let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
                // Every process of a deployment must use one key: the
                // first stored wins.
                match unhex32(&store.config_init(PSEUDONYM_KEY, &hex)?) {
                    Some(theirs) => theirs,
                    None => {
                        store.config_set(PSEUDONYM_KEY, &hex)?;
                        k
                    }
                }
            }
        };
        Ok(AccessState {
            trusted_proxies,
            pseudonym_key: key,
            ..AccessState::default()
        })
    }
}
