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

/// An output operation finished a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputOperationInfo {
    /// The output operation (`foreach_batch`, `print`, ...).
    pub name: String,
    /// The output's stable id (see [`Output::uid`](crate::Output::uid)).
    pub id: String,
    /// The batch.
    pub time: BatchTime,
    /// How long the output operation's own work took.
    pub duration: Duration,
}

/// A checkpoint was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The checkpoint's number.
    pub id: u64,
    /// The batch whose state it holds.
    pub time: BatchTime,
    /// How long writing it took (snapshots and manifest).
    pub duration: Duration,
    /// The bytes of its state snapshots (all workers).
    pub bytes: u64,
    /// The checkpoint directory.
    pub directory: std::path::PathBuf,
}

/// Something that happened to a receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiverEvent {
    /// The receiver started.
    Started,
    /// The receiver failed (it is restarted after a short delay).
    Error(String),
    /// The receiver stopped.
    Stopped,
}

/// Receives events of a running [`StreamingContext`](crate::StreamingContext).
///
/// Every method has an empty default, so an implementation overrides only what it needs. The
/// methods are called from the context's monitoring thread, in batch-time order; a slow listener
/// delays later events, not the batches themselves.
pub trait StreamingListener: Send + Sync {
    /// Batch `time` has been cut: its inputs are decided.
    fn on_batch_submitted(&self, _time: BatchTime) {}
    /// Batch `time` has started processing (earlier batches no longer hold it back).
    fn on_batch_started(&self, _time: BatchTime) {}
    /// An output operation is about to do its work for batch `time`.
    fn on_output_operation_started(&self, _name: &str, _time: BatchTime) {}
    /// An output operation has finished its work for a batch.
    fn on_output_operation_completed(&self, _info: &OutputOperationInfo) {}
    /// A receiver started, failed or stopped.
    fn on_receiver_event(&self, _receiver: &str, _event: &ReceiverEvent) {}
    /// A checkpoint was written.
    fn on_checkpoint_written(&self, _info: &CheckpointInfo) {}
    /// The checkpoint of batch `time` could not be written (see
    /// [`StreamingConfig::tolerable_checkpoint_failures`](crate::StreamingConfig::tolerable_checkpoint_failures)).
    fn on_checkpoint_failed(&self, _time: BatchTime, _error: &str) {}
    /// Every output operation has finished batch `info.time`.
    fn on_batch_completed(&self, _info: &BatchInfo) {}
    /// The context has stopped, with the error that stopped it, if any.
    /// [`stop`](crate::StreamingContext::stop) and
    /// [`await_termination`](crate::StreamingContext::await_termination) return once every
    /// listener's `on_stopped` has returned, so it must not call them.
    fn on_stopped(&self, _error: Option<&Error>) {}
}
