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
//! counters live in memory: a restart forgets them, and each process of
//! a deployment counts its own.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ACCOUNT_FAILURES: usize = 10;
pub const ADDRESS_FAILURES: usize = 30;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// The account name the API token signs in as, for its limit.
pub const API_TOKEN_ACCOUNT: &str = "\u{0}api-token";
/// Bound on each table; past it, entries with nothing to remember go, then
/// the oldest half.
const MAX_ENTRIES: usize = 65_536;

#[derive(Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Entry {
    /// Seconds until sign-ins are allowed again, if locked.
    fn locked(&self, now: Instant) -> Option<u64> {
        self.locked_until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now).as_secs().max(1))
    }

    fn fail(&mut self, now: Instant, max: usize) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if self.failures.len() >= max {
            self.locked_until = Some(now + LOCKOUT);
            self.failures.clear();
        }
    }

    fn idle(&self, now: Instant) -> bool {
        self.locked(now).is_none()
            && self
                .failures
                .back()
                .is_none_or(|t| now.duration_since(*t) >= WINDOW)
    }
}

#[derive(Default)]
pub struct SignInLimits {
    accounts: Mutex<HashMap<String, Entry>>,
    addresses: Mutex<HashMap<IpAddr, Entry>>,
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

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

fn room<K: Eq + std::hash::Hash + Clone>(t: &mut HashMap<K, Entry>, now: Instant) {
    if t.len() < MAX_ENTRIES {
        return;
    }
    t.retain(|_, e| !e.idle(now));
    if t.len() >= MAX_ENTRIES {
        // Keep the half with the latest activity.
        let mut v: Vec<(K, Instant)> = t
            .iter()
            .map(|(k, e)| (k.clone(), e.failures.back().copied().unwrap_or(now)))
            .collect();
        v.sort_by_key(|(_, at)| *at);
        for (k, _) in v.into_iter().take(MAX_ENTRIES / 2) {
            t.remove(&k);
        }
    }
}

impl SignInLimits {
    /// `Err(seconds)` when a sign-in for `account` from `addr` must be
    /// refused (`429`, `Retry-After`) without looking at its password.
    pub fn check(&self, account: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        if let Some(a) = addr {
            let t = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = t.get(&client(a)).and_then(|e| e.locked(now)) {
                return Err(s);
            }
        }
        let t = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        match t.get(&account_key(account)).and_then(|e| e.locked(now)) {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }

    pub fn failed(&self, account: &str, addr: Option<IpAddr>, now: Instant) {
        if let Some(a) = addr {
            let mut t = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            room(&mut t, now);
            t.entry(client(a)).or_default().fail(now, ADDRESS_FAILURES);
        }
        let mut t = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        room(&mut t, now);
        t.entry(account_key(account))
            .or_default()
            .fail(now, ACCOUNT_FAILURES);
    }

    pub fn succeeded(&self, account: &str) {
        let mut t = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        t.remove(&account_key(account));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_lock_an_account_for_fifteen_minutes() {
        let l = SignInLimits::default();
        let t0 = Instant::now();
        let a: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        for i in 0..ACCOUNT_FAILURES {
            assert_eq!(l.check("Ann@x.org", a, t0), Ok(()), "attempt {i}");
            l.failed("ann@x.org", a, t0 + Duration::from_secs(i as u64));
        }
        let t1 = t0 + Duration::from_secs(60);
        assert!(l.check("ann@x.org", a, t1).is_err(), "locked");
        // From anywhere: it is the account that is locked.
        assert!(l.check(" ANN@x.org", None, t1).is_err());
        assert_eq!(l.check("bob@x.org", None, t1), Ok(()));
        let after = t0 + Duration::from_secs(9) + LOCKOUT;
        assert_eq!(l.check("ann@x.org", None, after), Ok(()), "unlocked after");
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let l = SignInLimits::default();
        let t0 = Instant::now();
        for i in 0..ACCOUNT_FAILURES as u64 {
            l.failed("ann", None, t0 + Duration::from_secs(i * 120));
        }
        // Ten failures, but never ten within 15 minutes.
        assert_eq!(l.check("ann", None, t0 + Duration::from_secs(1200)), Ok(()));
    }

    #[test]
    fn a_success_clears_the_account_and_addresses_have_their_own_limit() {
        let l = SignInLimits::default();
        let t0 = Instant::now();
        for _ in 0..ACCOUNT_FAILURES - 1 {
            l.failed("ann", None, t0);
        }
        l.succeeded("ann");
        l.failed("ann", None, t0);
        assert_eq!(l.check("ann", None, t0), Ok(()));

        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same64: IpAddr = "2001:db8::ffff".parse().unwrap();
        for i in 0..ADDRESS_FAILURES {
            l.failed(&format!("user{i}"), Some(a), t0);
        }
        assert!(l.check("someone-new", Some(same64), t0).is_err());
        assert_eq!(
            l.check("someone-new", Some("2001:db8:1::1".parse().unwrap()), t0),
            Ok(())
        );
    }
}
