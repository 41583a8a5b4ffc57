//! Clocks that decide when a batch is due.
//!
//! The [`SystemClock`] follows wall time. The [`ManualClock`] only moves when a test moves it, so
//! a test decides exactly when each batch is cut: advance the clock by one batch interval, then
//! wait for that batch to complete ([`StreamingContext::await_batch`](crate::StreamingContext::await_batch)).

use crate::time::BatchTime;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of batch times.
pub trait Clock: Send + Sync + 'static {
    /// The current time in milliseconds.
    fn now(&self) -> BatchTime;

    /// Blocks until the clock reaches `t` or `max_wait` has passed, whichever comes first.
    /// Returns `true` if the clock has reached `t`.
    fn wait_until(&self, t: BatchTime, max_wait: Duration) -> bool;
}

/// Wall-clock time (milliseconds since the Unix epoch).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Clock for SystemClock {
    fn now(&self) -> BatchTime {
        BatchTime(now_micros() / 1000)
    }

    fn wait_until(&self, t: BatchTime, max_wait: Duration) -> bool {
        let target = t.0.saturating_mul(1000);
        let now = now_micros();
        if now >= target {
            return true;
        }
        let remaining = Duration::from_micros(target - now);
        std::thread::sleep(remaining.min(max_wait));
        now_micros() >= target
    }
}

/// A clock that moves only when told to: the way tests drive batches deterministically.
///
/// Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<(Mutex<u64>, Condvar)>,
}

impl ManualClock {
    /// A manual clock starting at `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        ManualClock {
            inner: Arc::new((Mutex::new(start_ms), Condvar::new())),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let (lock, cvar) = &*self.inner;
        let mut now = lock.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(crate::time::millis(d));
        cvar.notify_all();
    }

    /// Sets the clock to `t` if `t` is later than the current time.
    pub fn set(&self, t: BatchTime) {
        let (lock, cvar) = &*self.inner;
        let mut now = lock.lock().unwrap_or_else(|e| e.into_inner());
        *now = (*now).max(t.0);
        cvar.notify_all();
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new(0)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> BatchTime {
        BatchTime(*self.inner.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn wait_until(&self, t: BatchTime, max_wait: Duration) -> bool {
        let (lock, cvar) = &*self.inner;
        let now = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (now, _) = cvar
            .wait_timeout_while(now, max_wait, |now| *now < t.0)
            .unwrap_or_else(|e| e.into_inner());
        *now >= t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_waits_for_advance() {
        let c = ManualClock::new(0);
        assert!(!c.wait_until(BatchTime(100), Duration::from_millis(1)));
        let c2 = c.clone();
        let h = std::thread::spawn(move || c2.wait_until(BatchTime(100), Duration::from_secs(10)));
        c.advance(Duration::from_millis(100));
        assert!(h.join().unwrap());
        assert_eq!(c.now(), BatchTime(100));
    }
}
