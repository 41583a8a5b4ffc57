//! Rate control: a per-source maximum rate, and backpressure that adapts the rate each source
//! admits to what the pipeline keeps up with.
//!
//! A source admits at most its limit, in records per second: the lower of its maximum
//! ([`DirectOptions::max_rate`](crate::source::DirectOptions::max_rate),
//! [`ReceiverOptions::max_rate`](crate::source::receiver::ReceiverOptions::max_rate)) and, when
//! [`Backpressure`] is on, the rate a [`PidRateEstimator`] computes after each batch from its
//! processing time and scheduling delay. A direct source's batch ends after `limit × batch
//! interval` records (the source spreads them over its partitions, by lag); a receiver's
//! `store` waits until the records fit in the limit, so it stops reading and its sender is held
//! back (TCP windows, broker credit, unacknowledged messages). The limit of every source is on
//! the UI's Sources page, in the JSON API and in `/metrics`
//! (`freshet_source_rate_limit_records_per_second`).

mod limit;
mod pid;

pub(crate) use limit::RateLimit;
pub use pid::PidRateEstimator;

use crate::error::{Error, Result};

/// The highest rate a source may be limited to, in records per second.
pub const MAX_RATE: f64 = 1e9;

/// Backpressure: whether sources adapt their rate to what the pipeline keeps up with, and how
/// ([`StreamingConfig::backpressure`](crate::StreamingConfig::backpressure)). Off by default,
/// as in Spark; the gains are Spark's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backpressure {
    pub(crate) enabled: bool,
    pub(crate) initial_rate: Option<f64>,
    pub(crate) proportional: f64,
    pub(crate) integral: f64,
    pub(crate) derivative: f64,
    pub(crate) min_rate: f64,
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure {
            enabled: false,
            initial_rate: None,
            proportional: 1.0,
            integral: 0.2,
            derivative: 0.0,
            min_rate: 100.0,
        }
    }
}

impl Backpressure {
    /// Backpressure on, with Spark's gains (proportional 1, integral 0.2, derivative 0) and a
    /// minimum rate of 100 records/s.
    pub fn on() -> Self {
        Backpressure {
            enabled: true,
            ..Backpressure::default()
        }
    }

    /// Backpressure off (the default).
    pub fn off() -> Self {
        Backpressure::default()
    }

    /// The limit before the first estimate (records/s, 1 ..= 10⁹; default: none), so the first
    /// batches of a job that starts on a backlog are not huge.
    pub fn initial_rate(mut self, rate: f64) -> Self {
        self.initial_rate = Some(rate);
        self
    }

    /// The controller's gains (each 0 ..= 100).
    pub fn gains(mut self, proportional: f64, integral: f64, derivative: f64) -> Self {
        self.proportional = proportional;
        self.integral = integral;
        self.derivative = derivative;
        self
    }

    /// The lowest rate it sets (records/s, 1 ..= 10⁹; default 100).
    pub fn min_rate(mut self, rate: f64) -> Self {
        self.min_rate = rate;
        self
    }

    /// Whether backpressure is on.
    pub fn is_on(&self) -> bool {
        self.enabled
    }

    /// Checks every setting; the error names the setting and its range.
    pub(crate) fn validate(&self) -> Result<()> {
        check_rate("backpressure initial_rate", self.initial_rate)?;
        check_rate("backpressure min_rate", Some(self.min_rate))?;
        for (name, gain) in [
            ("proportional", self.proportional),
            ("integral", self.integral),
            ("derivative", self.derivative),
        ] {
            if !(0.0..=100.0).contains(&gain) {
                return Err(Error::Config(format!(
                    "the backpressure {name} gain must be between 0 and 100, not {gain}"
                )));
            }
        }
        Ok(())
    }

    /// A new estimator for batches of `interval_ms`.
    pub(crate) fn estimator(&self, interval_ms: u64) -> PidRateEstimator {
        PidRateEstimator::new(
            interval_ms,
            self.proportional,
            self.integral,
            self.derivative,
            self.min_rate,
        )
    }
}

/// Checks a rate setting: 1 ..= [`MAX_RATE`] records/s.
pub(crate) fn check_rate(name: &str, rate: Option<f64>) -> Result<()> {
    match rate {
        Some(r) if !(1.0..=MAX_RATE).contains(&r) => Err(Error::Config(format!(
            "{name} must be between 1 and {MAX_RATE} records per second, not {r}"
        ))),
        _ => Ok(()),
    }
}
