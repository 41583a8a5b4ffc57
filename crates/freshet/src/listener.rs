//! Listening to a running context: what happened to each batch.

use crate::error::Error;
use crate::time::BatchTime;
use std::time::Duration;

/// The figures of one completed batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    /// The batch time.
    pub time: BatchTime,
    /// The number of records the sources fed into the batch.
    pub records: u64,
    /// How long after its batch time the batch started processing.
    pub scheduling_delay: Duration,
    /// How long the batch took from start to completion of every output operation.
    pub processing_time: Duration,
    /// `scheduling_delay + processing_time`.
    pub total_delay: Duration,
}

/// Receives events of a running [`StreamingContext`](crate::StreamingContext).
///
/// Every method has an empty default, so an implementation overrides only what it needs. The
/// methods are called from the context's monitoring thread, in batch-time order; a slow listener
/// delays later events, not the batches themselves.
pub trait StreamingListener: Send + Sync {
    /// Batch `time` has been handed to the workers.
    fn on_batch_submitted(&self, _time: BatchTime) {}
    /// Every output operation has finished batch `info.time`.
    fn on_batch_completed(&self, _info: &BatchInfo) {}
    /// The context has stopped, with the error that stopped it, if any.
    fn on_stopped(&self, _error: Option<&Error>) {}
}
