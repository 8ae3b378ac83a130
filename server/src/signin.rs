//! Limits on failed sign-ins (contract §8), so that neither a password nor
//! the API token can be guessed at speed:
//!
//! - per account: after [`ACCOUNT_FAILURES`] failures for one account
//!   within [`WINDOW`], its sign-ins answer `429` for [`LOCKOUT`], right
//!   password or not. The API token signing in at `/login` is one account
//!   of its own ([`API_TOKEN_ACCOUNT`]), so it takes at most 10 guesses
//!   per 15 minutes from the whole world. Accounts that do not exist are
//!   counted like those that do: a lockout says nothing about which
//!   emails are members.
//! - per client address (IPv6: per /64): after [`ADDRESS_FAILURES`]
//!   failures within [`WINDOW`], every sign-in from it answers `429` for
//!   [`LOCKOUT`]: one client cannot try a password on every account.
//!
//! A success clears its account's failures (not its address's). The
//! counters live in the store ([`crate::store::signin_limits`]): every
//! process of a deployment shares them.

use crate::store::signin_limits::{Rule, SignInCounters};
use crate::store::StoreError;
use std::net::IpAddr;
use std::time::Duration;

pub const ACCOUNT_FAILURES: usize = 10;
pub const ADDRESS_FAILURES: usize = 30;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// The account name the API token signs in as, for its limit.
pub const API_TOKEN_ACCOUNT: &str = "\u{0}api-token";

/// The rules; the counts themselves are in the store, which each method
/// takes (they block: call them off the async workers).
pub struct SignInLimits {
    account: Rule,
    address: Rule,
}

impl Default for SignInLimits {
    fn default() -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let rule = |max| Rule {
            max,
            window_ms: ms(WINDOW),
            lockout_ms: ms(LOCKOUT),
        };
        SignInLimits {
            account: rule(ACCOUNT_FAILURES),
            address: rule(ADDRESS_FAILURES),
        }
    }
}

/// The address an allowance is kept for: IPv6 clients by their /64.
fn client(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Counter keys: accounts and addresses apart.
fn account_key(account: &str) -> String {
    format!("account:{}", account.trim().to_lowercase())
}

fn address_key(addr: IpAddr) -> String {
    format!("address:{}", client(addr))
}

impl SignInLimits {
    /// `Some(seconds)` when a sign-in for `account` from `addr` must be
    /// refused (`429`, `Retry-After`) without looking at its password.
    pub fn check<S: SignInCounters + ?Sized>(
        &self,
        store: &S,
        account: &str,
        addr: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let keys = addr.map(address_key).into_iter();
        for key in keys.chain([account_key(account)]) {
            if let Some(until) = store.signin_locked_until(&key)?.filter(|u| *u > now_ms) {
                return Ok(Some(((until - now_ms) / 1000).max(1)));
            }
        }
        Ok(None)
    }

    pub fn failed<S: SignInCounters + ?Sized>(
        &self,
        store: &S,
        account: &str,
        addr: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        if let Some(a) = addr {
            store.signin_failed(&address_key(a), now_ms, &self.address)?;
        }
        store.signin_failed(&account_key(account), now_ms, &self.account)
    }

    pub fn succeeded<S: SignInCounters + ?Sized>(
        &self,
        store: &S,
        account: &str,
    ) -> Result<(), StoreError> {
        store.signin_clear(&account_key(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStorage;

    /// ms, `secs` after a start.
    fn at(secs: u64) -> u64 {
        1_700_000_000_000 + secs * 1000
    }

    #[test]
    fn ten_failures_lock_an_account_for_fifteen_minutes() {
        let (l, s) = (SignInLimits::default(), MemStorage::default());
        let a: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        for i in 0..ACCOUNT_FAILURES {
            let ok = l.check(&s, "Ann@x.org", a, at(0)).unwrap();
            assert_eq!(ok, None, "attempt {i}");
            l.failed(&s, "ann@x.org", a, at(i as u64)).unwrap();
        }
        assert!(
            l.check(&s, "ann@x.org", a, at(60)).unwrap().is_some(),
            "locked"
        );
        // From anywhere: it is the account that is locked.
        assert!(l.check(&s, " ANN@x.org", None, at(60)).unwrap().is_some());
        assert_eq!(l.check(&s, "bob@x.org", None, at(60)).unwrap(), None);
        let after = at(9 + LOCKOUT.as_secs());
        let ok = l.check(&s, "ann@x.org", None, after).unwrap();
        assert_eq!(ok, None, "unlocked after");
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let (l, s) = (SignInLimits::default(), MemStorage::default());
        for i in 0..ACCOUNT_FAILURES as u64 {
            l.failed(&s, "ann", None, at(i * 120)).unwrap();
        }
        // Ten failures, but never ten within 15 minutes.
        assert_eq!(l.check(&s, "ann", None, at(1200)).unwrap(), None);
    }

    #[test]
    fn a_success_clears_the_account_and_addresses_have_their_own_limit() {
        let (l, s) = (SignInLimits::default(), MemStorage::default());
        for _ in 0..ACCOUNT_FAILURES - 1 {
            l.failed(&s, "ann", None, at(0)).unwrap();
        }
        l.succeeded(&s, "ann").unwrap();
        l.failed(&s, "ann", None, at(0)).unwrap();
        assert_eq!(l.check(&s, "ann", None, at(0)).unwrap(), None);

        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same64: IpAddr = "2001:db8::ffff".parse().unwrap();
        for i in 0..ADDRESS_FAILURES {
            l.failed(&s, &format!("user{i}"), Some(a), at(0)).unwrap();
        }
        let locked = l.check(&s, "someone-new", Some(same64), at(0)).unwrap();
        assert!(locked.is_some());
        let other64: IpAddr = "2001:db8:1::1".parse().unwrap();
        assert_eq!(
            l.check(&s, "someone-new", Some(other64), at(0)).unwrap(),
            None
        );
    }
}
