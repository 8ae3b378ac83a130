//! New sessions per ingest key per minute: a token bucket per key.
//!
//! Only a session's *first* chunk takes a token, so a recorder in a long
//! session is never throttled; what is bounded is how fast one key (one
//! embedding site, or someone who copied its key out of a page) can create
//! sessions. A bucket holds a minute's worth and refills continuously, so
//! bursts up to the per-minute figure pass at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    per_minute: u32,
    /// One bucket per configured ingest key, by the key's index.
    buckets: Mutex<Vec<Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute == 0` disables the limit.
    pub fn new(keys: usize, per_minute: u32) -> Self {
        let now = Instant::now();
        RateLimiter {
            per_minute,
            buckets: Mutex::new(vec![
                Bucket {
                    tokens: f64::from(per_minute),
                    at: now,
                };
                keys
            ]),
        }
    }

    /// Takes a token from key `key`'s bucket, or says how long until one
    /// is there.
    pub fn take(&self, key: usize) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: usize, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = f64::from(self.per_minute);
        let per_sec = cap / 60.0;
        // A poisoned lock only means another request panicked mid-update;
        // the bucket is still a usable number.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(b) = buckets.get_mut(key) else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_burst_then_a_steady_rate() {
        let r = RateLimiter::new(2, 60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(r.take_at(0, t0).is_ok());
        }
        let wait = r.take_at(0, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // The other key has its own bucket.
        assert!(r.take_at(1, t0).is_ok());
        // One token a second comes back.
        assert!(r.take_at(0, t0 + Duration::from_millis(1_001)).is_ok());
        assert!(r.take_at(0, t0 + Duration::from_millis(1_002)).is_err());
        // Never more than a minute's worth.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..60 {
            assert!(r.take_at(0, later).is_ok());
        }
        assert!(r.take_at(0, later).is_err());
        assert!(RateLimiter::new(1, 0).take_at(0, t0).is_ok());
    }
}
