//! Ingest allowances: token buckets for new sessions (per ingest key, and
//! per client address under each key) and for bytes (per key per hour).
//!
//! Only a session's *first* chunk takes a new-session token, so a recorder
//! in a long session is never throttled by it; what is bounded is how fast
//! one key (one embedding site, or someone who copied its key out of a
//! page) can create sessions, and how much of that one client address may
//! use, so that one abuser cannot drain the whole site's allowance. Bytes
//! are counted for every stored chunk, so one key cannot fill the disk in
//! an hour whatever its sessions look like.
//!
//! Invariants:
//! - a request is admitted only when *every* bucket it needs has room, and
//!   then takes from all of them at once (under one lock): a refused
//!   request spends nothing, so an address over its allowance never spends
//!   the key's, and a new session refused for bytes keeps its token;
//! - callers admit a chunk only once it passed validation (see
//!   [`crate::api::ingest`]): garbage never spends anything;
//! - the per-address table holds at most [`MAX_ADDRESSES`] buckets: a
//!   bucket that has refilled is the same as no bucket and is dropped
//!   first, and past that the least recently used half goes.
//!
//! A bucket holds one period's worth (a minute of sessions, an hour of
//! bytes) and refills continuously, so bursts up to the period's figure
//! pass at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on the per-address table: ~64 bytes a bucket, so a few MB at most
/// however many addresses a flood comes from.
pub const MAX_ADDRESSES: usize = 65_536;

/// The allowances, each a flag of `reel-server serve`; 0 disables one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowances {
    /// New sessions each ingest key may start per minute.
    pub new_sessions_per_key_per_minute: u32,
    /// New sessions one client address may start per minute under one key.
    /// A tenth of the key's by default: users behind one NAT (an office, a
    /// mobile carrier's gateway) rarely start a session a second between
    /// them, and one client alone can never take more than a tenth of the
    /// site's allowance. Behind a reverse proxy every client has the
    /// proxy's address: raise it or set it to 0 there.
    pub new_sessions_per_address_per_minute: u32,
    /// Bytes of chunks (as sent, compressed) each key may store per hour.
    /// 8 GiB by default: recorded visitors send ~1-2 MB an hour each, so
    /// this is thousands of concurrent visitors, and it bounds what one
    /// stolen key can put on the disk to ~200 GB a day at worst.
    pub bytes_per_key_per_hour: u64,
}

impl Default for Allowances {
    fn default() -> Self {
        Allowances {
            new_sessions_per_key_per_minute: 600,
            new_sessions_per_address_per_minute: 60,
            bytes_per_key_per_hour: 8 << 30,
        }
    }
}

/// A per-key new-session figure alone (the other allowances at their
/// defaults): what `AppState::new` took before there were others.
impl From<u32> for Allowances {
    fn from(per_key_per_minute: u32) -> Self {
        Allowances {
            new_sessions_per_key_per_minute: per_key_per_minute,
            ..Allowances::default()
        }
    }
}

/// Why a chunk was not admitted; every wait is until the bucket has room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The client address started too many sessions.
    AddressSessions(Duration),
    /// The key started too many sessions.
    KeySessions(Duration),
    /// The key stored too many bytes this hour.
    KeyBytes(Duration),
    /// The chunk alone is larger than the key's hourly allowance: waiting
    /// will not help.
    LargerThanHourlyBytes,
}

pub struct RateLimiter {
    allow: Allowances,
    inner: Mutex<Buckets>,
}

struct Buckets {
    /// Per configured ingest key, by the key's index.
    key_sessions: Vec<Bucket>,
    key_bytes: Vec<Bucket>,
    /// Per (key index, address).
    addresses: HashMap<(usize, IpAddr), Bucket>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A bucket of `cap` per `period`.
#[derive(Clone, Copy)]
struct Rate {
    cap: f64,
    per_sec: f64,
}

impl Rate {
    fn new(cap: f64, period: Duration) -> Option<Rate> {
        (cap > 0.0).then(|| Rate {
            cap,
            per_sec: cap / period.as_secs_f64(),
        })
    }

    fn full(self, now: Instant) -> Bucket {
        Bucket {
            tokens: self.cap,
            at: now,
        }
    }

    /// Brings `b` up to `now`; then how long until it holds `n`.
    fn refill(self, b: &mut Bucket, now: Instant, n: f64) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.cap);
        b.at = now;
        (b.tokens < n).then(|| Duration::from_secs_f64((n - b.tokens) / self.per_sec))
    }

    fn is_full(self, b: &Bucket, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens + elapsed * self.per_sec >= self.cap
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

impl RateLimiter {
    pub fn new(keys: usize, allow: impl Into<Allowances>) -> Self {
        let allow = allow.into();
        let now = Instant::now();
        // A disabled allowance's buckets are never read.
        let full = |cap: f64| Bucket {
            tokens: cap,
            at: now,
        };
        RateLimiter {
            allow,
            inner: Mutex::new(Buckets {
                key_sessions: vec![full(f64::from(allow.new_sessions_per_key_per_minute)); keys],
                key_bytes: vec![full(allow.bytes_per_key_per_hour as f64); keys],
                addresses: HashMap::new(),
            }),
        }
    }

    pub fn allowances(&self) -> Allowances {
        self.allow
    }

    fn key_sessions(&self) -> Option<Rate> {
        Rate::new(
            f64::from(self.allow.new_sessions_per_key_per_minute),
            MINUTE,
        )
    }

    fn address_sessions(&self) -> Option<Rate> {
        Rate::new(
            f64::from(self.allow.new_sessions_per_address_per_minute),
            MINUTE,
        )
    }

    fn key_bytes(&self) -> Option<Rate> {
        Rate::new(self.allow.bytes_per_key_per_hour as f64, HOUR)
    }

    /// Admits a valid chunk of `bytes` bytes for key `key` from `addr`
    /// (`None` when the transport gives no peer address), starting a new
    /// session or not: takes from every bucket it needs, or from none.
    pub fn admit(
        &self,
        key: usize,
        addr: Option<IpAddr>,
        new_session: bool,
        bytes: u64,
    ) -> Result<(), Refused> {
        self.admit_at(key, addr.map(client), new_session, bytes, Instant::now())
    }

    fn admit_at(
        &self,
        key: usize,
        addr: Option<IpAddr>,
        new_session: bool,
        bytes: u64,
        now: Instant,
    ) -> Result<(), Refused> {
        // A poisoned lock only means another request panicked mid-update;
        // the buckets are still usable numbers.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let b = &mut *guard;
        // A key made since start (a project's, `crate::projects`) gets
        // its buckets, full, on first use.
        if key >= b.key_sessions.len() {
            let sessions = f64::from(self.allow.new_sessions_per_key_per_minute);
            let bytes = self.allow.bytes_per_key_per_hour as f64;
            b.key_sessions.resize(
                key + 1,
                Bucket {
                    tokens: sessions,
                    at: now,
                },
            );
            b.key_bytes.resize(
                key + 1,
                Bucket {
                    tokens: bytes,
                    at: now,
                },
            );
        }
        let byte_rate = self.key_bytes();
        if let Some(rate) = byte_rate {
            if bytes as f64 > rate.cap {
                return Err(Refused::LargerThanHourlyBytes);
            }
            if let Some(bucket) = b.key_bytes.get_mut(key) {
                if let Some(wait) = rate.refill(bucket, now, bytes as f64) {
                    return Err(Refused::KeyBytes(wait));
                }
            }
        }
        let addr_rate = self.address_sessions().filter(|_| new_session);
        let addr = addr.filter(|_| addr_rate.is_some());
        let key_rate = self.key_sessions().filter(|_| new_session);
        if let (Some(rate), Some(a)) = (addr_rate, addr) {
            if !b.addresses.contains_key(&(key, a)) {
                make_room(&mut b.addresses, rate, now);
            }
            let bucket = b.addresses.entry((key, a)).or_insert(rate.full(now));
            if let Some(wait) = rate.refill(bucket, now, 1.0) {
                return Err(Refused::AddressSessions(wait));
            }
        }
        if let Some(rate) = key_rate {
            if let Some(bucket) = b.key_sessions.get_mut(key) {
                if let Some(wait) = rate.refill(bucket, now, 1.0) {
                    return Err(Refused::KeySessions(wait));
                }
            }
        }
        // Every bucket has room (and was brought up to `now`): take.
        if byte_rate.is_some() {
            if let Some(bucket) = b.key_bytes.get_mut(key) {
                bucket.tokens -= bytes as f64;
            }
        }
        if let (Some(_), Some(a)) = (addr_rate, addr) {
            if let Some(bucket) = b.addresses.get_mut(&(key, a)) {
                bucket.tokens -= 1.0;
            }
        }
        if key_rate.is_some() {
            if let Some(bucket) = b.key_sessions.get_mut(key) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// Gives back the bytes of a chunk that turned out to be stored
    /// already (a recorder's retry): a duplicate stores nothing.
    pub fn refund_bytes(&self, key: usize, bytes: u64) {
        let Some(rate) = self.key_bytes() else {
            return;
        };
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = b.key_bytes.get_mut(key) {
            bucket.tokens = (bucket.tokens + bytes as f64).min(rate.cap);
        }
    }

    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .addresses
            .len()
    }
}

/// Keeps the address table under [`MAX_ADDRESSES`] before one more is
/// added: buckets that have refilled go (they are the same as none), then,
/// if that was not enough, the least recently used half.
fn make_room(table: &mut HashMap<(usize, IpAddr), Bucket>, rate: Rate, now: Instant) {
    if table.len() < MAX_ADDRESSES {
        return;
    }
    table.retain(|_, b| !rate.is_full(b, now));
    if table.len() < MAX_ADDRESSES {
        return;
    }
    let mut ats: Vec<Instant> = table.values().map(|b| b.at).collect();
    let mid = ats.len() / 2;
    let (_, &mut cut, _) = ats.select_nth_unstable(mid);
    table.retain(|_, b| b.at > cut);
}

/// The unit one allowance is counted for: an IPv4 address, or an IPv6
/// /64 (one subscriber's usual allocation: a client picks any address in
/// it at will). An IPv4-mapped IPv6 address counts as its IPv4 address.
fn client(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(per_key: u32, per_address: u32) -> RateLimiter {
        RateLimiter::new(
            2,
            Allowances {
                new_sessions_per_key_per_minute: per_key,
                new_sessions_per_address_per_minute: per_address,
                bytes_per_key_per_hour: 0,
            },
        )
    }

    #[test]
    fn a_minute_of_burst_then_a_steady_rate() {
        let r = sessions(60, 0);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(r.admit_at(0, None, true, 10, t0).is_ok());
        }
        let Err(Refused::KeySessions(wait)) = r.admit_at(0, None, true, 10, t0) else {
            panic!("not refused");
        };
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // A chunk of a session already started passes.
        assert!(r.admit_at(0, None, false, 10, t0).is_ok());
        // The other key has its own bucket.
        assert!(r.admit_at(1, None, true, 10, t0).is_ok());
        // One token a second comes back.
        assert!(r
            .admit_at(0, None, true, 10, t0 + Duration::from_millis(1_001))
            .is_ok());
        assert!(r
            .admit_at(0, None, true, 10, t0 + Duration::from_millis(1_002))
            .is_err());
        // Never more than a minute's worth.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..60 {
            assert!(r.admit_at(0, None, true, 10, later).is_ok());
        }
        assert!(r.admit_at(0, None, true, 10, later).is_err());
        assert!(sessions(0, 0).admit_at(0, None, true, 10, t0).is_ok());
    }

    #[test]
    fn an_address_spends_its_own_allowance_and_the_keys_only() {
        let r = sessions(10, 4);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..4 {
            assert!(r.admit_at(0, Some(a), true, 1, t0).is_ok());
        }
        // Refused for the address: the key's tokens are not spent.
        for _ in 0..100 {
            assert!(matches!(
                r.admit_at(0, Some(a), true, 1, t0),
                Err(Refused::AddressSessions(_))
            ));
        }
        // Another address gets the key's remaining six.
        for _ in 0..4 {
            assert!(r.admit_at(0, Some(b), true, 1, t0).is_ok());
        }
        assert!(matches!(
            r.admit_at(0, Some(b), true, 1, t0),
            Err(Refused::AddressSessions(_))
        ));
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        assert!(r.admit_at(0, Some(c), true, 1, t0).is_ok());
        assert!(r.admit_at(0, Some(c), true, 1, t0).is_ok());
        assert!(matches!(
            r.admit_at(0, Some(c), true, 1, t0),
            Err(Refused::KeySessions(_))
        ));
        // The same address under the other key has its own allowance.
        assert!(r.admit_at(1, Some(a), true, 1, t0).is_ok());
    }

    #[test]
    fn bytes_per_key_per_hour() {
        let r = RateLimiter::new(
            1,
            Allowances {
                new_sessions_per_key_per_minute: 1,
                new_sessions_per_address_per_minute: 0,
                bytes_per_key_per_hour: 3600,
            },
        );
        let t0 = Instant::now();
        assert_eq!(
            r.admit_at(0, None, false, 3601, t0),
            Err(Refused::LargerThanHourlyBytes)
        );
        assert!(r.admit_at(0, None, false, 3000, t0).is_ok());
        // Refused for bytes: the new-session token is kept.
        let Err(Refused::KeyBytes(wait)) = r.admit_at(0, None, true, 1000, t0) else {
            panic!("not refused");
        };
        assert_eq!(wait.as_secs(), 400);
        assert!(r.admit_at(0, None, true, 600, t0).is_ok());
        assert!(r.admit_at(0, None, false, 1, t0).is_err());
        r.refund_bytes(0, 500);
        assert!(r.admit_at(0, None, false, 500, t0).is_ok());
        assert!(r
            .admit_at(0, None, false, 10, t0 + Duration::from_secs(10))
            .is_ok());
    }

    #[test]
    fn the_address_table_stays_bounded() {
        let r = sessions(0, 2);
        let t0 = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 10) {
            let a = IpAddr::V4(i.into());
            assert!(r.admit_at(0, Some(a), true, 1, t0).is_ok());
        }
        assert!(r.addresses() <= MAX_ADDRESSES);
        // A minute later every bucket has refilled and is dropped first.
        let later = t0 + Duration::from_secs(61);
        r.admit_at(0, Some(IpAddr::V4(u32::MAX.into())), true, 1, later)
            .unwrap();
        assert!(r.addresses() < 16, "{}", r.addresses());
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let r = sessions(0, 1);
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(r.admit(0, Some(a), true, 1).is_ok());
        assert!(r.admit(0, Some(b), true, 1).is_err());
        assert!(r.admit(0, Some(c), true, 1).is_ok());
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert!(r.admit_at(0, Some(client(v4)), true, 1, t0).is_ok());
        assert!(r.admit_at(0, Some(client(mapped)), true, 1, t0).is_err());
    }

    #[test]
    fn keys_made_after_start_get_their_own_buckets() {
        let r = RateLimiter::new(
            1,
            Allowances {
                new_sessions_per_key_per_minute: 1,
                new_sessions_per_address_per_minute: 0,
                bytes_per_key_per_hour: 0,
            },
        );
        assert!(r.admit(3, None, true, 1).is_ok());
        assert!(matches!(
            r.admit(3, None, true, 1),
            Err(Refused::KeySessions(_))
        ));
        assert!(
            r.admit(2, None, true, 1).is_ok(),
            "its neighbour is not charged"
        );
    }
}
