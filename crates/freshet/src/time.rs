//! Batch times.
//!
//! A batch time is a point on the context's clock, in milliseconds. The context's batch interval
//! `I` cuts the clock into intervals; batch `t` holds what the sources assigned to `(t - I, t]`.
//! Batch times are aligned to multiples of `I`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The time of one batch: milliseconds on the context's clock (Unix epoch for the system clock).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct BatchTime(pub u64);

impl BatchTime {
    /// The time in milliseconds.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// The batch time `d` later, or `None` past the end of the clock (`u64::MAX` ms).
    pub fn checked_plus(self, d: Duration) -> Option<BatchTime> {
        u64::try_from(d.as_millis())
            .ok()
            .and_then(|ms| self.0.checked_add(ms))
            .map(BatchTime)
    }

    /// The batch time `d` later; the end of the clock (`u64::MAX` ms) if that is past it.
    pub fn plus(self, d: Duration) -> BatchTime {
        self.checked_plus(d).unwrap_or(BatchTime(u64::MAX))
    }

    /// The smallest multiple of `interval` that is strictly greater than `self` (the largest
    /// multiple when there is none before the end of the clock).
    pub fn next_aligned(self, interval: Duration) -> BatchTime {
        let i = millis(interval).max(1);
        match (self.0 / i + 1).checked_mul(i) {
            Some(t) => BatchTime(t),
            None => BatchTime(u64::MAX / i * i),
        }
    }
}

impl fmt::Display for BatchTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

/// `d` in whole milliseconds; `u64::MAX` for a duration longer than that (585 million years),
/// so that no setting wraps around to a small number.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

thread_local! {
    static CURRENT: std::cell::Cell<Option<BatchTime>> = const { std::cell::Cell::new(None) };
}

/// The batch time of the records that the calling operator closure is processing.
///
/// Inside any closure passed to an operator (`map`, `filter`, a `transform` body's operators,
/// `foreach_batch`, ...) this returns the time of the batch being processed, so a function written
/// for [`Dataset`](crate::Dataset)s can still see the batch time when it runs on a stream. Outside
/// operator closures it returns `None`. In a batch job every record belongs to `BatchTime(0)`.
pub fn current_batch_time() -> Option<BatchTime> {
    CURRENT.with(|c| c.get())
}

/// Runs `f` with [`current_batch_time`] set to `t`.
pub(crate) fn with_batch_time<R>(t: u64, f: impl FnOnce() -> R) -> R {
    CURRENT.with(|c| {
        let prev = c.replace(Some(BatchTime(t)));
        let r = f();
        c.set(prev);
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_at_the_end_of_the_clock_saturates() {
        let end = BatchTime(u64::MAX - 5);
        assert_eq!(end.checked_plus(Duration::from_millis(10)), None);
        assert_eq!(end.plus(Duration::from_millis(10)), BatchTime(u64::MAX));
        assert_eq!(BatchTime(1).plus(Duration::MAX), BatchTime(u64::MAX));
        let i = Duration::from_millis(100);
        assert_eq!(end.next_aligned(i), BatchTime(u64::MAX / 100 * 100));
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn alignment() {
        let i = Duration::from_millis(100);
        assert_eq!(BatchTime(0).next_aligned(i), BatchTime(100));
        assert_eq!(BatchTime(99).next_aligned(i), BatchTime(100));
        assert_eq!(BatchTime(100).next_aligned(i), BatchTime(200));
    }

    #[test]
    fn current_time_is_scoped() {
        assert_eq!(current_batch_time(), None);
        with_batch_time(7, || assert_eq!(current_batch_time(), Some(BatchTime(7))));
        assert_eq!(current_batch_time(), None);
    }
}
