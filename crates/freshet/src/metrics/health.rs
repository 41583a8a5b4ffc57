//! What an operator looks at when something is wrong: checkpoints and their failures, problems
//! the run met, output operations, event-time progress and per-worker load.

use crate::listener::CheckpointInfo;
use crate::time::BatchTime;
use std::time::{Duration, SystemTime};

/// A checkpoint that could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointFailure {
    /// The batch whose state it was to hold.
    pub time: BatchTime,
    /// Why it failed.
    pub error: String,
    /// When it failed (wall clock).
    pub at: SystemTime,
}

/// The checkpoints of the current run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointHistory {
    /// Checkpoints written since the start.
    pub written: u64,
    /// Checkpoints that failed since the start.
    pub failed: u64,
    /// Failures since the last checkpoint written (the job stops when they exceed
    /// [`StreamingConfig::tolerable_checkpoint_failures`](crate::StreamingConfig::tolerable_checkpoint_failures)).
    pub consecutive_failures: u64,
    /// The most recent checkpoints written, oldest first (at most 100).
    pub recent: Vec<CheckpointInfo>,
    /// The most recent failures, oldest first (at most 100).
    pub failures: Vec<CheckpointFailure>,
}

/// What kind of problem an [`Incident`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// A receiver failed (it is restarted if the error is retryable).
    ReceiverError,
    /// A receiver was restarted after a failure.
    ReceiverRestart,
    /// A checkpoint could not be written.
    CheckpointFailure,
    /// A sink's open, write or commit failed and is retried.
    SinkRetry,
    /// The job stopped on an error.
    JobFailure,
}

impl IncidentKind {
    /// A lower-case name: `receiver_error`, `receiver_restart`, `checkpoint_failure`,
    /// `sink_retry` or `job_failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::ReceiverError => "receiver_error",
            IncidentKind::ReceiverRestart => "receiver_restart",
            IncidentKind::CheckpointFailure => "checkpoint_failure",
            IncidentKind::SinkRetry => "sink_retry",
            IncidentKind::JobFailure => "job_failure",
        }
    }
}

/// A problem the run met: an error it recovered from, or the one that stopped it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// When it happened (wall clock).
    pub at: SystemTime,
    /// What kind of problem it is.
    pub kind: IncidentKind,
    /// Where: the source, output or checkpoint directory concerned.
    pub subject: String,
    /// The error.
    pub message: String,
}

/// The figures of one output operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputStatus {
    /// The output's stable id (see [`Output::uid`](crate::Output::uid)).
    pub id: String,
    /// The output's kind (`foreach_batch`, `print`, `publish`, `sink`, ...).
    pub kind: String,
    /// Batches it finished since the start.
    pub batches: u64,
    /// The most recent batch it finished.
    pub last_batch: Option<BatchTime>,
    /// How long its own work took for the most recent batch (for outputs that write on every
    /// worker, such as sinks: the slowest worker's time).
    pub last_duration: Duration,
    /// The longest it took for one batch.
    pub max_duration: Duration,
    /// Its time summed over every batch (and every worker).
    pub total_duration: Duration,
}

/// The progress of one event-time window operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventTimeStatus {
    /// The operator's node id.
    pub node: u64,
    /// The operator's name (with the label the user gave, if any).
    pub name: String,
    /// The current watermark, in milliseconds of event time (none before the first records).
    pub watermark: Option<u64>,
    /// The batch the watermark was computed in.
    pub batch: Option<BatchTime>,
    /// Records that arrived below the watermark since the start.
    pub late_records: u64,
}
