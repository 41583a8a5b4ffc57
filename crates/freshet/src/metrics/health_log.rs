//! The run's record of checkpoints, problems, output operations and event-time progress.

use super::{
    CheckpointFailure, CheckpointHistory, EventTimeStatus, Incident, IncidentKind, OutputStatus,
};
use crate::listener::CheckpointInfo;
use crate::time::BatchTime;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How many checkpoints, and how many checkpoint failures, are kept.
const KEPT_CHECKPOINTS: usize = 100;
/// How many incidents are kept.
const KEPT_INCIDENTS: usize = 200;

struct EventTimeEntry {
    late: Arc<AtomicU64>,
    watermark: Option<u64>,
    batch: Option<u64>,
}

#[derive(Default)]
struct Inner {
    checkpoints: VecDeque<CheckpointInfo>,
    written: u64,
    failures: VecDeque<CheckpointFailure>,
    failed: u64,
    consecutive_failures: u64,
    incidents: VecDeque<Incident>,
    outputs: BTreeMap<String, OutputStatus>,
    event_time: BTreeMap<u64, EventTimeEntry>,
}

/// Checkpoints, incidents, output durations and watermarks of one run.
#[derive(Default)]
pub(crate) struct HealthLog {
    inner: Mutex<Inner>,
}

fn push_bounded<T>(q: &mut VecDeque<T>, item: T, keep: usize) {
    if q.len() == keep {
        q.pop_front();
    }
    q.push_back(item);
}

impl HealthLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a problem.
    pub fn incident(&self, kind: IncidentKind, subject: &str, message: &str) {
        let incident = Incident {
            at: SystemTime::now(),
            kind,
            subject: subject.to_string(),
            message: message.to_string(),
        };
        push_bounded(&mut self.lock().incidents, incident, KEPT_INCIDENTS);
    }

    /// The most recent incidents, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        self.lock().incidents.iter().cloned().collect()
    }

    /// Records a written checkpoint.
    pub fn checkpoint_written(&self, info: &CheckpointInfo) {
        let mut inner = self.lock();
        inner.written += 1;
        inner.consecutive_failures = 0;
        push_bounded(&mut inner.checkpoints, info.clone(), KEPT_CHECKPOINTS);
    }

    /// Records a failed checkpoint of batch `time`; returns the failures since the last
    /// checkpoint written.
    pub fn checkpoint_failed(&self, time: u64, error: &str, directory: &str) -> u64 {
        self.incident(IncidentKind::CheckpointFailure, directory, error);
        let mut inner = self.lock();
        inner.failed += 1;
        inner.consecutive_failures += 1;
        let failure = CheckpointFailure {
            time: BatchTime(time),
            error: error.to_string(),
            at: SystemTime::now(),
        };
        push_bounded(&mut inner.failures, failure, KEPT_CHECKPOINTS);
        inner.consecutive_failures
    }

    /// The checkpoints of the run.
    pub fn checkpoints(&self) -> CheckpointHistory {
        let inner = self.lock();
        CheckpointHistory {
            written: inner.written,
            failed: inner.failed,
            consecutive_failures: inner.consecutive_failures,
            recent: inner.checkpoints.iter().cloned().collect(),
            failures: inner.failures.iter().cloned().collect(),
        }
    }

    /// The last checkpoint written and how many were written.
    pub fn last_checkpoint(&self) -> (Option<CheckpointInfo>, u64) {
        let inner = self.lock();
        (inner.checkpoints.back().cloned(), inner.written)
    }

    /// Records that output `id` (of kind `kind`) finished its work for batch `time` in
    /// `duration`, on one worker or on all of them.
    pub fn output_completed(&self, id: &str, kind: &str, time: u64, duration: Duration) {
        let mut inner = self.lock();
        let o = inner
            .outputs
            .entry(id.to_string())
            .or_insert_with(|| OutputStatus {
                id: id.to_string(),
                kind: kind.to_string(),
                batches: 0,
                last_batch: None,
                last_duration: Duration::ZERO,
                max_duration: Duration::ZERO,
                total_duration: Duration::ZERO,
            });
        if o.last_batch == Some(BatchTime(time)) {
            // Another worker's part of the same batch: the batch took as long as the slowest.
            o.last_duration = o.last_duration.max(duration);
        } else if o.last_batch.is_none_or(|b| b.0 < time) {
            o.batches += 1;
            o.last_batch = Some(BatchTime(time));
            o.last_duration = duration;
        }
        o.max_duration = o.max_duration.max(o.last_duration);
        o.total_duration = o.total_duration.saturating_add(duration);
    }

    /// Every output operation's figures.
    pub fn outputs(&self) -> Vec<OutputStatus> {
        self.lock().outputs.values().cloned().collect()
    }

    /// Registers event-time operator `node`, whose late records `late` counts.
    pub fn add_event_time(&self, node: u64, late: Arc<AtomicU64>) {
        self.lock()
            .event_time
            .entry(node)
            .or_insert(EventTimeEntry {
                late,
                watermark: None,
                batch: None,
            });
    }

    /// Sets the watermark of event-time operator `node` after batch `time`.
    pub fn set_watermark(&self, node: u64, time: u64, watermark: Option<u64>) {
        if let Some(e) = self.lock().event_time.get_mut(&node) {
            e.watermark = watermark;
            e.batch = Some(time);
        }
    }

    /// Every event-time operator's progress; `name` gives a node's display name.
    pub fn event_time(&self, name: impl Fn(u64) -> String) -> Vec<EventTimeStatus> {
        self.lock()
            .event_time
            .iter()
            .map(|(node, e)| EventTimeStatus {
                node: *node,
                name: name(*node),
                watermark: e.watermark,
                batch: e.batch.map(BatchTime),
                late_records: e.late.load(Ordering::Relaxed),
            })
            .collect()
    }
}
