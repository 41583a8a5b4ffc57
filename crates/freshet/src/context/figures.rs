//! What a running context reports about itself: batches, the pipeline graph, sources, outputs,
//! state, checkpoints, backlog and problems. Every figure is a snapshot, read without stopping
//! the workers.

use super::StreamingContext;
use crate::listener::{BatchInfo, CheckpointInfo};
use crate::metrics::{
    ActiveBatch, Backlog, BatchDetail, CheckpointHistory, EventTimeStatus, Incident, OutputStatus,
    PipelineGraph, PublishedOutput, SourceStatus, StateSize,
};
use crate::run::Phase;
use crate::time::BatchTime;
use std::time::{Duration, Instant};

impl StreamingContext {
    /// The time of the first batch, once the context has started.
    pub fn first_batch_time(&self) -> Option<BatchTime> {
        self.inner.status.lock().first_time.map(BatchTime)
    }

    /// The number of batches completed so far.
    pub fn batches_completed(&self) -> u64 {
        self.inner.status.lock().completed
    }

    /// The figures of the most recent completed batches (up to 1000), oldest first.
    pub fn recent_batches(&self) -> Vec<BatchInfo> {
        self.inner.status.lock().recent.iter().cloned().collect()
    }

    fn shared(&self) -> Option<&crate::run::Shared> {
        self.inner.run.get().map(|r| &*r.shared)
    }

    /// Whether the context is running (started and not yet stopped).
    pub fn is_running(&self) -> bool {
        self.inner.status.lock().phase == Phase::Running
    }

    /// The operators of the running pipeline, how records flow between them, and how many
    /// records each emitted (empty before `start`).
    pub fn pipeline_graph(&self) -> PipelineGraph {
        self.shared().map(|s| s.metrics.graph()).unwrap_or_default()
    }

    /// The figures of completed batch `time` with each operator's figures, while the batch is
    /// among the most recent 1000.
    pub fn batch_detail(&self, time: BatchTime) -> Option<BatchDetail> {
        let info = self
            .inner
            .status
            .lock()
            .recent
            .iter()
            .find(|b| b.time == time)
            .cloned()?;
        let shared = self.shared()?;
        Some(BatchDetail {
            info,
            operators: shared.metrics.operators(time.0),
            sources: shared.metrics.source_records(time.0),
            workers: shared.metrics.worker_busy(time.0),
        })
    }

    /// The figures of every source: records, rate, lag, receiver state.
    pub fn sources_status(&self) -> Vec<SourceStatus> {
        self.shared()
            .map(|s| s.metrics.sources(self.batch_interval()))
            .unwrap_or_default()
    }

    /// The keys held by each stateful operator (`update_state_by_key`, `map_with_state`),
    /// summed over the workers, as of the latest batch.
    pub fn state_sizes(&self) -> Vec<StateSize> {
        self.shared()
            .map(|s| s.metrics.state_sizes())
            .unwrap_or_default()
    }

    /// The last checkpoint written in this run, and how many were written.
    pub fn checkpoints_written(&self) -> (Option<CheckpointInfo>, u64) {
        self.shared()
            .map(|s| s.metrics.health.last_checkpoint())
            .unwrap_or((None, 0))
    }

    /// The latest batch of every output that publishes (`publish`, `print`).
    pub fn published_outputs(&self) -> Vec<PublishedOutput> {
        self.shared()
            .map(|s| s.metrics.outputs())
            .unwrap_or_default()
    }

    /// How far the job is behind its clock: the batches that are due and not completed, and
    /// whether some of them could not even start (more than `max_in_flight_batches`), which
    /// means processing takes longer than the batch interval. Zero when not running.
    pub fn backlog(&self) -> Backlog {
        let st = self.inner.status.lock();
        let (Some(first), true) = (st.first_time, st.phase == Phase::Running) else {
            return Backlog::default();
        };
        let interval = (self.batch_interval().as_millis() as u64).max(1);
        let next = st
            .completed_through
            .map_or(first, |c| c.saturating_add(interval));
        let now = self.inner.clock.now().0;
        if now < next {
            return Backlog::default();
        }
        let batches = (now - next) / interval + 1;
        Backlog {
            batches,
            oldest: Some(BatchTime(next)),
            falling_behind: batches > self.inner.pipeline.config.max_in_flight() as u64,
        }
    }

    /// The batches planned and not yet completed, oldest first.
    pub fn active_batches(&self) -> Vec<ActiveBatch> {
        let st = self.inner.status.lock();
        let now = Instant::now();
        let mut active: Vec<ActiveBatch> = st
            .in_flight
            .iter()
            .map(|(t, p)| ActiveBatch {
                time: BatchTime(*t),
                processing: true,
                elapsed: now.saturating_duration_since(p.submitted_at),
            })
            .collect();
        if let Some((t, _)) = st.waiting {
            active.push(ActiveBatch {
                time: BatchTime(t),
                processing: false,
                elapsed: Duration::ZERO,
            });
        }
        active
    }

    /// How many records of the write-ahead or batch log were lost to damage and skipped under
    /// [`DamagePolicy::SkipLost`](crate::DamagePolicy::SkipLost) (each is logged): for a
    /// receiver, the blocks it stored (one `store`/`store_reliably` call each); for the batch
    /// log, its records.
    pub fn lost_records(&self) -> u64 {
        self.shared().map_or(0, |s| s.lost())
    }

    /// How many times a write to the checkpoint directory waited for disk space under
    /// [`DiskFullPolicy::Wait`](crate::DiskFullPolicy::Wait).
    pub fn disk_full_waits(&self) -> u64 {
        self.shared().map_or(0, |s| s.disk_full_waits())
    }

    /// How many malformed or unreadable inputs the sources skipped (each is logged).
    pub fn skipped_records(&self) -> u64 {
        self.shared().map_or(0, |s| s.skipped())
    }

    /// The checkpoints of this run: how many were written and failed, the most recent ones
    /// with their durations and sizes, and the most recent failures.
    pub fn checkpoint_history(&self) -> CheckpointHistory {
        self.shared()
            .map(|s| s.metrics.health.checkpoints())
            .unwrap_or_default()
    }

    /// The problems this run met, oldest first (at most 200): receiver errors and restarts,
    /// checkpoint failures, sink retries, and the error that stopped the job.
    pub fn incidents(&self) -> Vec<Incident> {
        self.shared()
            .map(|s| s.metrics.health.incidents())
            .unwrap_or_default()
    }

    /// Every output operation's figures: batches finished and how long they took.
    pub fn outputs_status(&self) -> Vec<OutputStatus> {
        self.shared()
            .map(|s| s.metrics.health.outputs())
            .unwrap_or_default()
    }

    /// Every event-time window operator's watermark and late records.
    pub fn event_time_status(&self) -> Vec<EventTimeStatus> {
        self.shared()
            .map(|s| {
                s.metrics
                    .health
                    .event_time(|node| s.metrics.display_name(node))
            })
            .unwrap_or_default()
    }

    /// How long each worker's operators ran since the start, by worker index. Their spread
    /// shows skew: a worker much busier than the others holds hot keys.
    pub fn worker_busy(&self) -> Vec<Duration> {
        self.shared()
            .map(|s| s.metrics.worker_busy_total())
            .unwrap_or_default()
    }

    /// The processes of the job and how each is doing, when it runs on several (`None` in a
    /// job of one process, or before it starts). Worker indexes in the other figures are
    /// job-wide: process `p`'s workers are `p × workers ..`.
    pub fn cluster_status(&self) -> Option<crate::cluster::ClusterStatus> {
        self.shared()
            .and_then(|s| s.cluster.get().map(|c| c.snapshot()))
    }
}
