//! What a running pipeline measures: per batch, per operator, per source, per output.
//!
//! Operators record the records they emit and the time they spend, per batch, into a
//! worker-local buffer (`local`) that the worker loop moves into the run's `MetricsStore`
//! after every step, so the hot path takes no lock. The store keeps figures for the most recent
//! batches; [`StreamingContext`](crate::StreamingContext) exposes them as plain snapshots
//! (`pipeline_graph`, `batch_detail`, `sources_status`, `published_outputs`) for the web UI,
//! the JSON API and Prometheus.

mod cluster_view;
mod health;
mod health_log;
pub(crate) mod local;
mod store;

pub use health::{
    CheckpointFailure, CheckpointHistory, EventTimeStatus, Incident, IncidentKind, OutputStatus,
};

pub(crate) use cluster_view::ClusterView;
pub use cluster_view::{ClusterStatus, ProcessStatus};
pub(crate) use store::{FigureUpdate, MetricsStore};

use crate::listener::BatchInfo;
use crate::time::BatchTime;
use std::time::Duration;

/// What a node of the pipeline graph is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    /// A stream source or a static dataset.
    Source,
    /// A transformation.
    Operator,
    /// An output operation.
    Output,
}

impl NodeKind {
    /// A lower-case name: `source`, `operator` or `output`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Source => "source",
            NodeKind::Operator => "operator",
            NodeKind::Output => "output",
        }
    }
}

/// One node of the pipeline graph with its record counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// The node's id (unique in the process).
    pub id: u64,
    /// The operator's name (`map`, `reduce_by_key`, `queue_stream`, ...).
    pub name: String,
    /// The name the user gave the node ([`DStream::name`](crate::DStream::name), a source's or
    /// output's [`uid`](crate::DStream::uid), a [`publish`](crate::DStream::publish) name).
    pub label: Option<String>,
    /// What the node is.
    pub kind: NodeKind,
    /// Records the node has emitted since the start.
    pub records_total: u64,
    /// Records the node emitted in the most recent completed batch.
    pub records_last_batch: u64,
}

/// An edge of the pipeline graph: records flow from `from` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphEdge {
    /// The upstream node.
    pub from: u64,
    /// The downstream node.
    pub to: u64,
}

/// The operators of a running pipeline and how records flow between them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineGraph {
    /// The nodes, sources first.
    pub nodes: Vec<GraphNode>,
    /// The edges.
    pub edges: Vec<GraphEdge>,
}

/// What one operator did in one batch, summed over the workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorFigures {
    /// The node's id.
    pub node: u64,
    /// The operator's name.
    pub name: String,
    /// Records the operator received for the batch (what its inputs emitted).
    pub records_in: u64,
    /// Records the operator emitted for the batch.
    pub records_out: u64,
    /// Time the operator's code ran for the batch, summed over the workers.
    pub busy: Duration,
}

/// The figures of one completed batch, with the figures of each operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchDetail {
    /// The batch's figures.
    pub info: BatchInfo,
    /// Each operator's figures for the batch, in pipeline order.
    pub operators: Vec<OperatorFigures>,
    /// The records each source fed into the batch: `(source name, records)`.
    pub sources: Vec<(String, u64)>,
    /// The time each worker's operators ran for the batch, by worker index.
    pub workers: Vec<Duration>,
}

/// The state of a source's receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiverState {
    /// The source has no receiver thread (queue, files, generator).
    NotAReceiver,
    /// Receiving.
    Running,
    /// Failed and waiting to be restarted.
    Restarting,
    /// Stopped.
    Stopped,
}

/// The figures of one source.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceStatus {
    /// The source's id.
    pub id: u64,
    /// The source's name.
    pub name: String,
    /// Records fed since the start.
    pub records_total: u64,
    /// Records fed into the most recent batch.
    pub last_batch_records: u64,
    /// Records per second of batch time over the last 10 batches.
    pub rate_per_sec: f64,
    /// How far the source is behind its input, in records, where the source knows it.
    pub lag: Option<u64>,
    /// Per partition, how far the source is behind its input, in records: `(partition name,
    /// records)` with names like `"topic/3"`, as the source reported them at the latest batch.
    /// Empty for sources without partitions or that do not know.
    pub partition_lag: Vec<(String, u64)>,
    /// The most records per second the source admits now (its maximum, or the backpressure
    /// estimate when lower); `None` without a limit.
    pub rate_limit: Option<f64>,
    /// The receiver's state.
    pub state: ReceiverState,
    /// The receiver's last error, if any.
    pub last_error: Option<String>,
    /// How often the receiver failed since the start.
    pub errors: u64,
    /// How often the receiver was restarted after a failure.
    pub restarts: u64,
}

/// The latest batch an output operation published (see
/// [`DStream::publish`](crate::DStream::publish)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedOutput {
    /// The output's name.
    pub name: String,
    /// The batch.
    pub time: BatchTime,
    /// The first records of the batch, formatted with `Debug`.
    pub records: Vec<String>,
    /// The number of records in the batch.
    pub total: u64,
}

/// How much state a stateful operator holds, summed over the workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSize {
    /// The operator's node id.
    pub node: u64,
    /// The operator's name.
    pub name: String,
    /// The keys it holds.
    pub keys: u64,
}

/// How far a running job is behind its clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Batches whose time has come and that have not completed (the one processing included).
    pub batches: u64,
    /// The oldest of them, if any.
    pub oldest: Option<BatchTime>,
    /// Whether batches wait that could not even start: processing takes longer than the batch
    /// interval, and the delay grows.
    pub falling_behind: bool,
}

/// A batch that has been planned and not completed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveBatch {
    /// The batch time.
    pub time: BatchTime,
    /// Whether it is processing (`false`: waiting for earlier batches).
    pub processing: bool,
    /// How long it has been processing.
    pub elapsed: Duration,
}
