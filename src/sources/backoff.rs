//! Waiting between retries, for every work source: the delay before retry
//! number `n` (doubling up to a cap, with or without jitter) and a sleep
//! that a stop request cuts short.
//!
//! A pool that drops every miner at once would see them all come back in
//! step without jitter, so pools get it; a node is one user's own, so solo
//! retries on a plain doubling schedule.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// A retry schedule: `min` doubling per failure up to `max`, then (with
/// `jitter`) a random 50..100 % of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
    pub jitter: bool,
}

impl Backoff {
    /// The wait before retry number `failures` (0-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let full = self
            .min
            .saturating_mul(1u32 << failures.min(16))
            .min(self.max);
        if self.jitter {
            full.mul_f64(0.5 + 0.5 * random_unit())
        } else {
            full
        }
    }
}

/// A random fraction in [0, 1) for jitter (std's per-process random keys).
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Sleep `d` in steps of at most `step`, calling `each` before every step,
/// and return early (`true`) as soon as `stop` says so. Returns `stop()`
/// at the end, so a caller can tell a stop from a full wait.
pub fn sleep_unless(
    d: Duration,
    step: Duration,
    stop: &dyn Fn() -> bool,
    mut each: impl FnMut(),
) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop() {
            return true;
        }
        each();
        std::thread::sleep(step.min(end.saturating_duration_since(Instant::now())));
    }
    stop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let (min, max) = (Duration::from_millis(250), Duration::from_secs(30));
        let b = Backoff {
            min,
            max,
            jitter: true,
        };
        for failures in 0..40 {
            let full = min.saturating_mul(1 << failures.min(16)).min(max);
            let d = b.delay(failures);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?} vs {full:?}");
        }
        assert!(b.delay(100) <= max);
        // Jitter: not every wait is the same.
        let waits: std::collections::HashSet<Duration> = (0..20).map(|_| b.delay(5)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn backoff_without_jitter_is_the_plain_doubling() {
        let b = Backoff {
            min: Duration::from_millis(500),
            max: Duration::from_secs(10),
            jitter: false,
        };
        let ms: Vec<u128> = (0..8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn a_stop_cuts_the_sleep_short() {
        let stopped = || true;
        let mut calls = 0;
        assert!(sleep_unless(
            Duration::from_secs(3600),
            Duration::from_millis(10),
            &stopped,
            || calls += 1
        ));
        assert_eq!(calls, 0);
        let mut calls = 0;
        assert!(!sleep_unless(
            Duration::from_millis(30),
            Duration::from_millis(10),
            &|| false,
            || calls += 1
        ));
        assert!(calls >= 1);
    }
}
