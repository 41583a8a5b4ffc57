//! The driver: cuts a batch at every interval, asks every source what the batch holds, logs it,
//! hands each worker its splits, marks completions and checkpoints, and ends the run.
//!
//! The driver reads the run's status (stop requests, completed batches) and reports what it
//! does to the run's owner as events; it never changes the status itself.

use super::worker::ToWorker;
use crate::clock::Clock;
use crate::cluster::followers::Followers;
use crate::cluster::wire::{SourceRange, ToFollower};
use crate::config::StreamingConfig;
use crate::disk::retry_when_full;
use crate::durability::{decode_batch, BatchRecord, Coordinator};
use crate::error::{Error, Result};
use crate::listener::CheckpointInfo;
use crate::plan::{SourceId, Split};
use crate::run::{RunStatus, RuntimeEvent, Shared, StatusCell, StopKind};
use crate::source::planner::{Availability, SourcePlanner};
use crate::time::BatchTime;
use crossbeam_channel::{Receiver, Sender};
use freshet_durable::{BatchEntry, PartInfo};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the driver waits at most before it looks for a stop request again.
const POLL: Duration = Duration::from_millis(20);

/// How long workers may take to store a checkpoint's snapshots.
const SNAPSHOT_DEADLINE: Duration = Duration::from_secs(300);

/// The sources of a run, each with its stable id.
pub(super) struct SourceSet {
    sources: Vec<(String, Box<dyn SourcePlanner>)>,
}

impl SourceSet {
    pub fn new(sources: Vec<(String, Box<dyn SourcePlanner>)>) -> Self {
        SourceSet { sources }
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Source `i`'s id and planner.
    pub fn get_mut(&mut self, i: usize) -> (String, &mut Box<dyn SourcePlanner>) {
        let (uid, planner) = &mut self.sources[i];
        (uid.clone(), planner)
    }

    /// The stable ids, in registration order.
    pub fn uids(&self) -> Vec<String> {
        self.sources.iter().map(|(u, _)| u.clone()).collect()
    }

    pub fn any_replayable(&self) -> bool {
        self.sources.iter().any(|(_, s)| s.replayable())
    }

    /// Registers every source's figures and, when the run checkpoints, its write-ahead log
    /// directory (`<dir>/receivers/<id>`).
    pub fn register(
        &mut self,
        shared: &Shared,
        coordinator: Option<&Coordinator>,
        fsync: freshet_durable::FsyncPolicy,
    ) {
        for (uid, s) in self.sources.iter_mut() {
            let description = s.describe();
            let name = if description == s.kind() {
                uid.clone()
            } else {
                format!("{uid} ({description})")
            };
            shared.metrics.add_source(s.id(), &name, s.is_receiver());
            if let Some(c) = coordinator {
                s.enable_wal(c.settings.dir.join("receivers").join(&*uid), fsync);
            }
        }
    }

    /// Registers every source's rate limit with `shared`, with a backpressure estimator when
    /// `backpressure` is on.
    pub fn control_rates(
        &self,
        shared: &Shared,
        backpressure: &crate::rate::Backpressure,
        interval_ms: u64,
    ) {
        for (_, s) in &self.sources {
            let Some(limit) = s.rate_limit() else {
                continue;
            };
            let estimator = backpressure.is_on().then(|| {
                if let Some(rate) = backpressure.initial_rate {
                    limit.set_estimate(rate);
                }
                backpressure.estimator(interval_ms)
            });
            shared.add_rate_control(s.id(), limit, estimator);
        }
    }

    /// Stops the first `n` sources.
    pub fn stop_first(&mut self, n: usize) {
        for (_, s) in self.sources.iter_mut().take(n) {
            s.stop();
        }
    }

    pub fn stop_all(&mut self) {
        self.stop_first(self.sources.len());
    }
}

/// A planned batch: per worker of this process, its splits; and the ranges of the sources
/// that the other processes of a cluster read.
pub(super) struct Planned {
    per_worker: Vec<Vec<(SourceId, Split)>>,
    ranges: Vec<SourceRange>,
}

/// Hands each worker of this process its split of source `id` (a worker without one gets
/// nothing; splits of other processes' workers are theirs).
fn assign(per_worker: &mut [Vec<(SourceId, Split)>], id: SourceId, splits: Vec<Option<Split>>) {
    for (worker, split) in per_worker.iter_mut().zip(splits) {
        if let Some(split) = split {
            worker.push((id, split));
        }
    }
}

/// For how many workers source `s` plans a batch: every worker of the job when the other
/// processes of a cluster read it too (with where it stands before the batch, which they need),
/// else the `local` workers of this process.
fn reach(
    s: &dyn SourcePlanner,
    clustered: bool,
    local: usize,
    total: usize,
) -> Result<(usize, Option<Vec<u8>>)> {
    if clustered && s.distributed() {
        Ok((total, s.position()?))
    } else {
        Ok((local, None))
    }
}

/// The driver thread's state.
pub(super) struct Driver {
    pub config: StreamingConfig,
    pub clock: Arc<dyn Clock>,
    pub status: Arc<StatusCell>,
    pub shared: Arc<Shared>,
    pub sources: SourceSet,
    pub senders: Vec<Sender<ToWorker>>,
    pub threads: Vec<Thread>,
    pub available_now: bool,
    /// In an available-now run, how many empty batches follow the last one that read records,
    /// so that every processing-time window holding them is emitted (the longest window's
    /// length, in batches, less one).
    pub window_drain: u64,
    pub flush_at_end: bool,
    pub coordinator: Option<Coordinator>,
    pub parts: Receiver<(u64, std::result::Result<PartInfo, String>)>,
    /// Batches submitted and not yet marked completed in the batch log.
    pub submitted: Vec<u64>,
    /// Batches submitted and not yet known to be complete.
    pub in_flight: VecDeque<u64>,
    /// The other processes, when the job runs on several.
    pub cluster: Option<Followers>,
    /// The workers of the whole job (those of this process when it runs alone).
    pub total_workers: usize,
}

impl Driver {
    fn interval(&self) -> u64 {
        self.config.batch_interval().as_millis() as u64
    }

    fn stop_request(&self) -> Option<StopKind> {
        if self.shared.stopping_now() {
            return Some(StopKind::Now);
        }
        self.status.lock().stop
    }

    /// Runs batches from `first_time` (after replaying `replay`) until the run ends.
    pub fn run(mut self, first_time: u64, replay: Vec<BatchEntry>) {
        let mut t = first_time;
        if self.coordinator.as_ref().is_some_and(|c| c.fresh) {
            // A fresh directory: record where the sources start, before the first batch.
            self.checkpoint(first_time.saturating_sub(self.interval()));
        }
        for entry in replay {
            if self.stop_request() == Some(StopKind::Now) {
                break;
            }
            let Some(splits) = self.replay_splits(&entry) else {
                break;
            };
            tracing::info!("replaying batch {} from the batch log", entry.time);
            self.shared.event(RuntimeEvent::Waiting {
                time: entry.time,
                announce: false,
            });
            if !self.submit(entry.time, splits, Instant::now(), Duration::ZERO) {
                break;
            }
            self.maintain(false);
            t = entry.time + self.interval();
        }
        loop {
            if !self.wait_for(t) {
                break;
            }
            let tick = Instant::now();
            if self.available_now {
                match self.availability() {
                    Availability::Exhausted if self.window_drain == 0 => break,
                    Availability::Exhausted => self.window_drain -= 1,
                    Availability::Pending => {
                        std::thread::sleep(Duration::from_millis(self.interval().clamp(1, 5)));
                        continue;
                    }
                    Availability::Ready => {}
                }
            }
            let Some(splits) = self.plan(t) else { break };
            if self.shared.stopping_now() {
                break;
            }
            self.shared.event(RuntimeEvent::Waiting {
                time: t,
                announce: true,
            });
            let late = if self.available_now {
                0
            } else {
                self.clock.now().0.saturating_sub(t)
            };
            if !self.submit(t, splits, tick, Duration::from_millis(late)) {
                break;
            }
            self.maintain(false);
            t += self.interval();
        }
        if self.stop_request() != Some(StopKind::Now) {
            self.finish_gracefully(t);
        }
        self.sources.stop_all();
        for tx in &self.senders {
            let _ = tx.send(ToWorker::End);
        }
        if let Some(c) = &self.cluster {
            match self.shared.failure() {
                Some(e) => c.abort(&e.to_string()),
                None if self.stop_request() == Some(StopKind::Now) => c.stop_now(),
                None => c.end(),
            }
        }
        self.wake_workers();
    }

    /// A graceful end: stop receiving, run one last batch for what was received (and for open
    /// event-time windows), then the last checkpoint.
    fn finish_gracefully(&mut self, t: u64) {
        self.sources.stop_all();
        let buffered = self.sources.sources.iter().any(|(_, s)| s.has_buffered());
        if self.flush_at_end || buffered {
            if let Some(splits) = self.plan(t) {
                if self.flush_at_end {
                    self.shared.set_final_batch(t);
                }
                self.submit(t, splits, Instant::now(), Duration::ZERO);
            }
        }
        self.maintain(true);
    }

    /// Waits until batch `t` is due; `false` if the run should end instead.
    fn wait_for(&self, t: u64) -> bool {
        loop {
            if self.stop_request().is_some() {
                return false;
            }
            if self.available_now || self.clock.wait_until(BatchTime(t), POLL) {
                return true;
            }
        }
    }

    fn availability(&mut self) -> Availability {
        let mut all = Availability::Exhausted;
        for (_, s) in self.sources.sources.iter_mut() {
            match s.availability() {
                Availability::Ready => return Availability::Ready,
                Availability::Pending => all = Availability::Pending,
                Availability::Exhausted => {}
            }
        }
        all
    }

    /// Plans batch `t` on every source: per worker, the splits of every source. With a
    /// checkpoint directory, what the batch consists of is logged before it is returned.
    fn plan(&mut self, t: u64) -> Option<Planned> {
        let workers = self.senders.len();
        let mut per_worker: Vec<Vec<(SourceId, Split)>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut ranges = Vec::new();
        let mut record: BatchRecord = Vec::new();
        let (clustered, total) = (self.cluster.is_some(), self.total_workers);
        for (uid, s) in self.sources.sources.iter_mut() {
            let (n, from) = match reach(s.as_ref(), clustered, workers, total) {
                Ok(r) => r,
                Err(e) => {
                    self.shared.fail(e);
                    return None;
                }
            };
            match s.plan(t, n) {
                Ok((splits, r)) => {
                    if let (Some(from), Some(record)) = (from, &r) {
                        ranges.push(SourceRange {
                            uid: uid.clone(),
                            from,
                            record: record.clone(),
                        });
                    }
                    record.push((uid.clone(), r));
                    self.shared
                        .metrics
                        .set_lag(s.id(), s.lag(), s.lag_by_partition());
                    assign(&mut per_worker, s.id(), splits);
                }
                Err(e) => {
                    tracing::error!(source = %uid, "cannot plan batch {t}");
                    self.shared.fail(e);
                    return None;
                }
            }
        }
        let policy = self.config.disk_full_policy();
        if let Some(c) = self.coordinator.as_mut() {
            let logged = retry_when_full(policy, &self.shared, "the batch log", || {
                c.log_batch(t, &record)
            });
            if let Err(e) = logged {
                self.shared.fail(e);
                return None;
            }
        }
        Some(Planned { per_worker, ranges })
    }

    /// The splits of a logged batch, rebuilt by its sources.
    fn replay_splits(&mut self, entry: &BatchEntry) -> Option<Planned> {
        let record = match decode_batch(entry) {
            Ok(r) => r,
            Err(e) => {
                self.shared.fail(e);
                return None;
            }
        };
        let workers = self.senders.len();
        let mut per_worker: Vec<Vec<(SourceId, Split)>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut ranges = Vec::new();
        let (clustered, total) = (self.cluster.is_some(), self.total_workers);
        for (uid, s) in self.sources.sources.iter_mut() {
            let logged = record
                .iter()
                .find(|(k, _)| k == uid)
                .and_then(|(_, r)| r.as_ref());
            let Some(bytes) = logged else {
                tracing::warn!(
                    "batch {}: source `{uid}` cannot replay its records (only replayable sources give exactly-once results)",
                    entry.time
                );
                continue;
            };
            let (n, from) = match reach(s.as_ref(), clustered, workers, total) {
                Ok(r) => r,
                Err(e) => {
                    self.shared.fail(e);
                    return None;
                }
            };
            match s.replay(bytes, n) {
                Ok(splits) => {
                    if let Some(from) = from {
                        ranges.push(SourceRange {
                            uid: uid.clone(),
                            from,
                            record: bytes.clone(),
                        });
                    }
                    assign(&mut per_worker, s.id(), splits)
                }
                Err(e) => {
                    self.shared.fail(e);
                    return None;
                }
            }
        }
        Some(Planned { per_worker, ranges })
    }

    /// Marks completed batches in the batch log, and checkpoints when one is due (`last`: the
    /// final checkpoint of a graceful stop), once every submitted batch has completed.
    fn maintain(&mut self, last: bool) {
        let Some(due) = self
            .coordinator
            .as_ref()
            .map(|c| c.due_after(self.submitted.len()))
        else {
            return;
        };
        if !(due || last) {
            self.mark_completed();
            return;
        }
        let Some(&newest) = self.submitted.last() else {
            return;
        };
        let done = |st: &RunStatus| st.completed_through.is_some_and(|c| c >= newest);
        if !self.wait_status(done, |_| false) {
            return;
        }
        self.mark_completed();
        self.checkpoint(newest);
    }

    fn mark_completed(&mut self) {
        let Some(c) = self.coordinator.as_mut() else {
            return;
        };
        let through = self.status.lock().completed_through;
        while let Some(&t) = self.submitted.first() {
            if through.is_none_or(|c| c < t) {
                break;
            }
            self.submitted.remove(0);
            let policy = self.config.disk_full_policy();
            let marked = retry_when_full(policy, &self.shared, "the batch log", || c.completed(t));
            if let Err(e) = marked {
                self.shared.fail(e);
                return;
            }
        }
    }

    /// Writes a checkpoint of batch `time`: every worker stores its state snapshot, then the
    /// manifest with the source positions is committed.
    fn checkpoint(&mut self, time: u64) {
        let Some(mut c) = self.coordinator.take() else {
            return;
        };
        if let Err(e) = self.write_checkpoint(&mut c, time) {
            self.checkpoint_failed(&c, time, e);
        }
        self.coordinator = Some(c);
    }

    /// Counts a failed checkpoint; fails the job when too many failed in a row.
    fn checkpoint_failed(&self, c: &Coordinator, time: u64, e: Error) {
        if self.shared.stopping_now() {
            return;
        }
        let directory = c.settings.dir.display().to_string();
        let in_a_row =
            self.shared
                .metrics
                .health
                .checkpoint_failed(time, &e.to_string(), &directory);
        let tolerated = u64::from(self.config.checkpoint_failures_tolerated());
        self.shared.event(RuntimeEvent::CheckpointFailed {
            time,
            error: e.to_string(),
        });
        if in_a_row > tolerated {
            self.shared.fail(e);
        } else {
            tracing::warn!(
                "checkpoint of batch {time} failed ({in_a_row} in a row, {tolerated} tolerated): {e}"
            );
        }
    }

    fn write_checkpoint(&mut self, c: &mut Coordinator, time: u64) -> Result<()> {
        let started = Instant::now();
        let id = c.next_checkpoint();
        for tx in &self.senders {
            let _ = tx.send(ToWorker::Checkpoint { id });
        }
        self.wake_workers();
        if let Some(cluster) = &self.cluster {
            cluster.broadcast(&ToFollower::Checkpoint { id: id.0 })?;
        }
        let mut parts = Vec::with_capacity(self.total_workers);
        let deadline = Instant::now() + SNAPSHOT_DEADLINE;
        while parts.len() < self.total_workers {
            if self.shared.stopping_now() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Runtime(format!(
                    "the workers did not store their snapshots of checkpoint {} within {SNAPSHOT_DEADLINE:?}",
                    id.0
                )));
            }
            match self.parts.recv_timeout(POLL) {
                // A part of an earlier checkpoint that failed.
                Ok((of, _)) if of != id.0 => {}
                Ok((_, Ok(part))) => parts.push(part),
                Ok((_, Err(e))) => {
                    return Err(Error::Runtime(format!(
                        "a worker could not store its snapshot of checkpoint {}: {e}",
                        id.0
                    )))
                }
                Err(_) => {}
            }
        }
        let mut positions = BTreeMap::new();
        for (uid, s) in self.sources.sources.iter() {
            if let Some(p) = s.position()? {
                positions.insert(uid.clone(), p);
            }
        }
        let mut config = BTreeMap::new();
        config.insert("batch_interval_ms".to_string(), self.interval().to_string());
        config.insert("workers".to_string(), self.total_workers.to_string());
        if self.cluster.is_some() {
            config.insert(
                "processes".to_string(),
                (self.total_workers / self.senders.len().max(1)).to_string(),
            );
        }
        let bytes = parts.iter().map(|p| p.len).sum();
        retry_when_full(
            self.config.disk_full_policy(),
            &self.shared,
            "a checkpoint manifest",
            || c.commit(id, time, config.clone(), positions.clone(), parts.clone()),
        )?;
        if let Some(oldest) = c.oldest_positions() {
            for (uid, s) in self.sources.sources.iter_mut() {
                if let Some(p) = oldest.get(uid) {
                    s.checkpointed(p);
                }
            }
        }
        let info = CheckpointInfo {
            id: id.0,
            time: BatchTime(time),
            duration: started.elapsed(),
            bytes,
            directory: c.settings.dir.clone(),
        };
        self.shared.metrics.health.checkpoint_written(&info);
        self.shared.event(RuntimeEvent::CheckpointWritten(info));
        Ok(())
    }

    /// Hands batch `t` to the workers once fewer than the allowed number of batches are in
    /// flight; `false` if the run ended while waiting.
    fn submit(&mut self, t: u64, planned: Planned, tick: Instant, late: Duration) -> bool {
        let max = self.config.max_in_flight();
        self.forget_completed();
        if self.in_flight.len() >= max {
            let oldest_needed = self.in_flight[self.in_flight.len() - max];
            let room = |st: &RunStatus| st.completed_through.is_some_and(|c| c >= oldest_needed);
            let stop_now = |st: &RunStatus| st.stop == Some(StopKind::Now);
            if !self.wait_status(room, stop_now) {
                return false;
            }
            self.forget_completed();
        }
        let now = Instant::now();
        self.shared.event(RuntimeEvent::Submitted {
            time: t,
            at: now,
            scheduling_delay: late + now.saturating_duration_since(tick),
        });
        let next = t + self.interval();
        for (tx, splits) in self.senders.iter().zip(planned.per_worker) {
            let _ = tx.send(ToWorker::Batch {
                time: t,
                next,
                splits,
            });
        }
        self.wake_workers();
        if let Some(c) = &self.cluster {
            let batch = ToFollower::Batch {
                time: t,
                next,
                sources: planned.ranges,
            };
            if let Err(e) = c.broadcast(&batch) {
                self.shared.fail(e);
                return false;
            }
        }
        self.in_flight.push_back(t);
        if self.coordinator.is_some() {
            self.submitted.push(t);
        }
        true
    }

    /// Drops the batches known to be complete from `in_flight`.
    fn forget_completed(&mut self) {
        let through = self.status.lock().completed_through;
        while self
            .in_flight
            .front()
            .is_some_and(|&f| through.is_some_and(|c| c >= f))
        {
            self.in_flight.pop_front();
        }
    }

    /// Waits until `done` holds for the run's status; `false` if `abort` holds first or the
    /// run must end now.
    fn wait_status(
        &self,
        done: impl Fn(&RunStatus) -> bool,
        abort: impl Fn(&RunStatus) -> bool,
    ) -> bool {
        loop {
            if self.shared.stopping_now() {
                return false;
            }
            if let Some(st) = self.status.wait_until(POLL, |st| done(st) || abort(st)) {
                return done(&st);
            }
        }
    }

    fn wake_workers(&self) {
        for t in &self.threads {
            t.unpark();
        }
    }
}
