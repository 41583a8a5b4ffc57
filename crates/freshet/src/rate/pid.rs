//! The PID rate estimator: how many records per second a source should admit, from how the
//! last batches went.

/// Estimates the rate a pipeline keeps up with, as Spark Streaming's backpressure does: a PID
/// controller whose error is the difference between the rate admitted and the rate processed.
///
/// After batch `t` completes, with `records` records processed in `processing` ms and a
/// scheduling delay of `delay` ms (the time the batch waited for its predecessors):
///
/// - processing rate `p = records / processing` (records/s);
/// - error `e = latest rate − p` (admitting more than the pipeline processes is positive);
/// - historical error `h = delay × p / batch interval`: the records the backlog holds, spread
///   over a batch;
/// - derivative `d = (e − previous e) / (seconds since the previous update)`;
/// - new rate `max(latest rate − kp·e − ki·h − kd·d, min rate)`.
///
/// The first completed batch only sets the latest rate to its processing rate and returns
/// `None` (a first batch often warms caches and connections up). A batch without records or
/// without processing time changes nothing.
///
/// ```
/// use freshet::rate::PidRateEstimator;
///
/// let mut pid = PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0);
/// // 1000 records in 500 ms, no delay: 2000 records/s is what the pipeline keeps up with.
/// assert_eq!(pid.compute(1_000, 1000, 500, 0), None);
/// assert_eq!(pid.latest_rate(), Some(2000.0));
/// // Now 2000 records take 1500 ms and the batch waited 500 ms: the rate goes down.
/// let lower = pid.compute(2_000, 2000, 1500, 500).unwrap();
/// assert!(lower < 2000.0 && lower >= 100.0, "{lower}");
/// ```
#[derive(Clone, Debug)]
pub struct PidRateEstimator {
    batch_interval_ms: u64,
    proportional: f64,
    integral: f64,
    derivative: f64,
    min_rate: f64,
    first_run: bool,
    latest_time: u64,
    latest_rate: f64,
    latest_error: f64,
}

impl PidRateEstimator {
    /// An estimator for batches of `batch_interval_ms` with the controller's gains and the
    /// lowest rate it ever returns (records/s). Gains are at least 0; the interval and the
    /// minimum rate more than 0 (checked by [`Backpressure`](super::Backpressure)).
    pub fn new(
        batch_interval_ms: u64,
        proportional: f64,
        integral: f64,
        derivative: f64,
        min_rate: f64,
    ) -> Self {
        PidRateEstimator {
            batch_interval_ms: batch_interval_ms.max(1),
            proportional,
            integral,
            derivative,
            min_rate,
            first_run: true,
            latest_time: 0,
            latest_rate: -1.0,
            latest_error: -1.0,
        }
    }

    /// Takes the figures of the batch of time `time_ms` (ms) and returns the new rate in
    /// records per second, or `None` when the batch tells nothing new (an older or equal
    /// time, no records, no processing time).
    pub fn compute(
        &mut self,
        time_ms: u64,
        records: u64,
        processing_ms: u64,
        scheduling_delay_ms: u64,
    ) -> Option<f64> {
        if time_ms <= self.latest_time || records == 0 || processing_ms == 0 {
            return None;
        }
        let since_update = (time_ms - self.latest_time) as f64 / 1000.0;
        let processing_rate = records as f64 / processing_ms as f64 * 1000.0;
        let error = self.latest_rate - processing_rate;
        let historical_error =
            scheduling_delay_ms as f64 * processing_rate / self.batch_interval_ms as f64;
        let d_error = (error - self.latest_error) / since_update;
        let new_rate = (self.latest_rate
            - self.proportional * error
            - self.integral * historical_error
            - self.derivative * d_error)
            .max(self.min_rate);
        self.latest_time = time_ms;
        if self.first_run {
            self.latest_rate = processing_rate;
            self.latest_error = 0.0;
            self.first_run = false;
            None
        } else {
            self.latest_rate = new_rate;
            self.latest_error = error;
            Some(new_rate)
        }
    }

    /// The latest estimate: after the first batch, its processing rate (`None` before it).
    pub fn latest_rate(&self) -> Option<f64> {
        (!self.first_run).then_some(self.latest_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid() -> PidRateEstimator {
        PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 10.0)
    }

    #[test]
    fn the_first_batch_gives_its_processing_rate() {
        let mut p = pid();
        assert_eq!(p.latest_rate(), None);
        assert_eq!(p.compute(1000, 100, 100, 0), None);
        assert_eq!(p.latest_rate(), Some(1000.0));
    }

    #[test]
    fn batches_that_tell_nothing_change_nothing() {
        let mut p = pid();
        assert_eq!(p.compute(1000, 0, 100, 0), None);
        assert_eq!(p.compute(1000, 100, 0, 0), None);
        assert_eq!(p.compute(1000, 100, 100, 0), None);
        assert_eq!(p.latest_rate(), Some(1000.0));
        assert_eq!(p.compute(1000, 100, 100, 0), None, "the same time again");
        assert_eq!(p.compute(500, 100, 100, 0), None, "an older time");
    }

    #[test]
    fn a_steady_pipeline_keeps_its_rate() {
        let mut p = pid();
        p.compute(1000, 1000, 1000, 0);
        for i in 2..10 {
            assert_eq!(p.compute(i * 1000, 1000, 1000, 0), Some(1000.0));
        }
    }

    #[test]
    fn a_pipeline_falling_behind_gets_a_lower_rate_and_one_catching_up_a_higher() {
        let mut p = pid();
        p.compute(1000, 1000, 1000, 0);
        // Processing slows to 500 records/s and batches start to wait.
        let mut rate = 1000.0;
        for i in 2..6 {
            let r = p.compute(i * 1000, 1000, 2000, 1000 * (i - 1)).unwrap();
            assert!(r < rate, "batch {i}: {r} is not below {rate}");
            rate = r;
        }
        assert!(rate >= 10.0);
        // Then it processes 4000 records/s with no delay: the rate rises.
        let up = p.compute(10_000, 1000, 250, 0).unwrap();
        assert!(up > rate, "{up} is not above {rate}");
    }

    #[test]
    fn the_rate_never_falls_below_the_minimum() {
        let mut p = pid();
        p.compute(1000, 1000, 1000, 0);
        let r = p.compute(2000, 1, 100_000, 1_000_000).unwrap();
        assert_eq!(r, 10.0);
    }
}
