//! Which batch times a stream has batches at: every batch, or for a windowed stream only the
//! batches where a window ends (Spark's windowed DStreams generate RDDs only then, and output
//! operations run only then).

use crate::plan::WorkerEnv;

/// When a stream's output operations run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cadence {
    origin: u64,
    interval: u64,
    every: u64,
}

impl Cadence {
    /// Batches every `every` ms (0: every batch), aligned as windows are: on the pipeline's
    /// first batch time, which survives recoveries.
    pub fn new(env: &WorkerEnv, every: u64) -> Self {
        Cadence {
            origin: env.origin,
            interval: env.interval,
            every,
        }
    }

    /// Whether the stream has a batch at batch time `t`.
    pub fn fires(&self, t: u64) -> bool {
        if self.every <= self.interval {
            return true;
        }
        let since_zero = t.saturating_add(self.interval).saturating_sub(self.origin);
        since_zero.is_multiple_of(self.every)
    }
}
