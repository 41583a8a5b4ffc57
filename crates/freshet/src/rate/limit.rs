//! The rate limit of one source: a static maximum and the backpressure estimate, read by the
//! driver when it plans a batch and by receivers when they store records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much unused allowance a receiver may spend at once: 100 ms of its rate.
const BURST: Duration = Duration::from_millis(100);
/// The longest single sleep of a limited receiver (it looks for a stop in between).
const SLEEP_STEP: Duration = Duration::from_millis(50);

/// A source's limit in records per second (none while neither is set).
#[derive(Debug)]
pub(crate) struct RateLimit {
    /// The user's maximum (`f64` bits; 0: none).
    max: AtomicU64,
    /// The backpressure estimate (`f64` bits; 0: none yet).
    estimate: AtomicU64,
    /// When the next record may be stored, for receivers.
    next_free: Mutex<Option<Instant>>,
}

fn load(a: &AtomicU64) -> Option<f64> {
    let v = f64::from_bits(a.load(Ordering::Relaxed));
    (v > 0.0).then_some(v)
}

impl RateLimit {
    /// A limit with the user's maximum, if any.
    pub fn new(max: Option<f64>) -> Self {
        RateLimit {
            max: AtomicU64::new(max.unwrap_or(0.0).to_bits()),
            estimate: AtomicU64::new(0f64.to_bits()),
            next_free: Mutex::new(None),
        }
    }

    /// Sets the backpressure estimate.
    pub fn set_estimate(&self, rate: f64) {
        self.estimate
            .store(rate.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// The limit now: the lower of the maximum and the estimate.
    pub fn current(&self) -> Option<f64> {
        match (load(&self.max), load(&self.estimate)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The records a batch of `interval` may take (at least 1), or `None` without a limit.
    pub fn per_batch(&self, interval: Duration) -> Option<u64> {
        self.current()
            .map(|rate| ((rate * interval.as_secs_f64()).floor() as u64).max(1))
    }

    /// Reserves `n` records at `rate` from `now` on; returns when they may be stored.
    fn reserve(&self, n: usize, rate: f64, now: Instant) -> Instant {
        let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = now.checked_sub(BURST).unwrap_or(now);
        let start = next.map_or(earliest, |t| t.max(earliest));
        *next = Some(start + Duration::from_secs_f64(n as f64 / rate));
        start.max(now)
    }

    /// Waits until `n` more records fit in the limit, or `stopped()` turns true.
    pub fn admit(&self, n: usize, stopped: impl Fn() -> bool) {
        let Some(rate) = self.current() else {
            return;
        };
        let at = self.reserve(n, rate, Instant::now());
        loop {
            let now = Instant::now();
            if now >= at || stopped() {
                return;
            }
            std::thread::sleep((at - now).min(SLEEP_STEP));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_lower_of_the_maximum_and_the_estimate() {
        let none = RateLimit::new(None);
        assert_eq!(none.current(), None);
        assert_eq!(none.per_batch(Duration::from_secs(1)), None);
        none.set_estimate(250.0);
        assert_eq!(none.current(), Some(250.0));
        let capped = RateLimit::new(Some(100.0));
        assert_eq!(capped.per_batch(Duration::from_millis(500)), Some(50));
        capped.set_estimate(40.0);
        assert_eq!(capped.current(), Some(40.0));
        capped.set_estimate(400.0);
        assert_eq!(capped.current(), Some(100.0));
        assert_eq!(
            capped.per_batch(Duration::from_millis(1)),
            Some(1),
            "at least one"
        );
    }

    #[test]
    fn reservations_are_spaced_by_the_rate_with_a_short_burst() {
        let limit = RateLimit::new(Some(1000.0));
        let t0 = Instant::now() + Duration::from_secs(10);
        // An idle limiter lets a reservation start up to 100 ms in the past: the first two go
        // at once (100 records of saved time, then 100 starting now).
        assert_eq!(limit.reserve(100, 1000.0, t0), t0);
        assert_eq!(limit.reserve(100, 1000.0, t0), t0);
        // Then each waits for the time its predecessor's records take at 1000/s.
        assert_eq!(
            limit.reserve(50, 1000.0, t0),
            t0 + Duration::from_millis(100)
        );
        assert_eq!(
            limit.reserve(1, 1000.0, t0),
            t0 + Duration::from_millis(150)
        );
        // Much later, no more than 100 ms of unused time is saved.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(limit.reserve(100, 1000.0, later), later);
        assert_eq!(limit.reserve(200, 1000.0, later), later);
        assert_eq!(
            limit.reserve(1, 1000.0, later),
            later + Duration::from_millis(200)
        );
    }
}
