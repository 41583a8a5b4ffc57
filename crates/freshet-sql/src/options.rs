//! [`StreamOptions`]: how a registered stream is read by queries (its watermark, and an
//! optional processing-time window).

use freshet::event_time::{LatePolicy, WatermarkOptions};
use std::time::Duration;

/// How a registered stream's event time is judged by windowed queries (see
/// [`freshet::event_time`]).
#[derive(Clone, Debug, Default)]
pub struct StreamOptions {
    allowed_delay: Duration,
    idle_timeout: Option<Duration>,
    late_policy: LatePolicy,
    pub(crate) window: Option<(Duration, Duration)>,
}

impl StreamOptions {
    /// A watermark trailing the largest event time seen by nothing: each partition's records
    /// must come in event-time order, or they are late.
    pub fn new() -> StreamOptions {
        StreamOptions::default()
    }

    /// How far the watermark trails the largest event time seen (Flink's `WATERMARK FOR ts AS
    /// ts - INTERVAL ...`).
    pub fn allowed_delay(mut self, delay: Duration) -> StreamOptions {
        self.allowed_delay = delay;
        self
    }

    /// After how much batch time without records a partition stops holding the watermark
    /// back (default: 10 batch intervals).
    pub fn idle_timeout(mut self, timeout: Duration) -> StreamOptions {
        self.idle_timeout = Some(timeout);
        self
    }

    /// What happens to late records (default: dropped and counted).
    pub fn late_policy(mut self, policy: LatePolicy) -> StreamOptions {
        self.late_policy = policy;
        self
    }

    /// Queries read the stream as a sliding window of processing time: at every `slide`, the
    /// records of the last `len` (both multiples of the batch interval; Spark's
    /// `window(len, slide)`). With `slide == len` (tumbling), each record is read once. This is
    /// how two streams are joined over more than one batch.
    pub fn window(mut self, len: Duration, slide: Duration) -> StreamOptions {
        self.window = Some((len, slide));
        self
    }

    /// The watermark's allowed delay.
    pub fn delay(&self) -> Duration {
        self.allowed_delay
    }

    pub(crate) fn watermark(&self) -> WatermarkOptions {
        let w = WatermarkOptions::new(self.allowed_delay).late_policy(self.late_policy);
        match self.idle_timeout {
            Some(t) => w.idle_timeout(t),
            None => w,
        }
    }
}
