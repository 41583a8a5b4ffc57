//! The state every thread of one run reads and the events they send to the run's owner.

use crate::error::Error;
use crate::listener::{CheckpointInfo, ReceiverEvent};
use crate::metrics::MetricsStore;
use crossbeam_channel::Sender;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the run's owner (the monitor thread) hears about. It is the only thread that changes
/// the run's status; everyone else sends it one of these.
pub(crate) enum RuntimeEvent {
    /// A stop was asked for.
    Stop(super::StopKind),
    /// The driver planned batch `time` and waits to hand it over (`announce`: tell the
    /// listeners it was submitted; replayed batches are not announced).
    Waiting { time: u64, announce: bool },
    /// The driver handed batch `time` to the workers.
    Submitted {
        time: u64,
        at: Instant,
        scheduling_delay: Duration,
    },
    /// Every batch before `through` is complete (from worker 0).
    Progress { through: u64, at: Instant },
    /// An output operation started its work for batch `time`.
    OutputStarted { name: String, time: u64 },
    /// An output operation finished batch `time`.
    OutputCompleted {
        name: String,
        id: String,
        time: u64,
        duration: Duration,
    },
    /// A receiver started, failed or stopped.
    Receiver { name: String, event: ReceiverEvent },
    /// A checkpoint was committed.
    CheckpointWritten(CheckpointInfo),
    /// The checkpoint of batch `time` failed.
    CheckpointFailed { time: u64, error: String },
    /// The run is over (with the error that ended it): the owner records it and stops.
    Finished(Option<Error>),
}

/// How many skipped inputs are logged one by one.
const SKIPS_LOGGED: u64 = 10;

/// State shared by the driver and every worker of one run.
#[derive(Default)]
pub(crate) struct Shared {
    /// The run's figures.
    pub metrics: MetricsStore,
    /// Where events for the run's owner go (none in batch jobs).
    events: Option<Sender<RuntimeEvent>>,
    /// Set when the run must end now (a failure, or a stop that does not wait).
    hard_stop: AtomicBool,
    failure: Mutex<Option<Error>>,
    batch_records: Mutex<BTreeMap<u64, u64>>,
    skipped: AtomicU64,
    lost: AtomicU64,
    disk_full_waits: AtomicU64,
    /// One more than the time of the batch that ends the input (0: not known).
    final_batch: AtomicU64,
    /// Where malformed records go under [`BadRecordPolicy::DeadLetter`](crate::source::BadRecordPolicy).
    pub dead_letters: super::dead_letters::DeadLetters,
    /// Every source's rate limit, with its backpressure estimator when backpressure is on.
    rates: Mutex<Vec<RateControl>>,
    /// The processes of the job, when it runs on several.
    pub cluster: std::sync::OnceLock<Arc<crate::metrics::ClusterView>>,
}

/// The rate limit of one source and what adjusts it.
struct RateControl {
    source: u64,
    limit: Arc<crate::rate::RateLimit>,
    estimator: Option<crate::rate::PidRateEstimator>,
}

impl Shared {
    /// Shared state whose events go to `events`.
    pub fn with_events(events: Sender<RuntimeEvent>) -> Self {
        Shared {
            events: Some(events),
            ..Shared::default()
        }
    }

    /// Sends an event to the run's owner, if there is one.
    pub fn event(&self, e: RuntimeEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Records a failure (the first one wins) and ends the run. It is not logged here: the
    /// caller of `start`, `await_termination` or the batch job's action receives it.
    pub fn fail(&self, e: Error) {
        tracing::debug!("the run fails: {e}");
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(e);
        }
        self.hard_stop.store(true, Ordering::SeqCst);
    }

    /// The failure that ended the run, if any.
    pub fn failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Ends the run now.
    pub fn stop_now(&self) {
        self.hard_stop.store(true, Ordering::SeqCst);
    }

    /// Whether the run must end now.
    pub fn stopping_now(&self) -> bool {
        self.hard_stop.load(Ordering::SeqCst)
    }

    /// Counts `n` input records for batch `t`.
    pub fn add_records(&self, t: u64, n: u64) {
        if n > 0 {
            *self
                .batch_records
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(t)
                .or_default() += n;
        }
    }

    /// The input records counted for batch `t` (forgetting them).
    pub fn take_records(&self, t: u64) -> u64 {
        self.batch_records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&t)
            .unwrap_or(0)
    }

    /// Keeps a malformed record of `source` in its dead-letter file, counted with the skipped
    /// inputs; fails the job when the file cannot be written (or there is no directory for it).
    pub fn dead_letter(&self, source: &str, what: &str, raw: &[u8]) {
        match self.dead_letters.write(source, what, raw) {
            Ok(path) => self.skip(source, &format!("{what} (kept in {})", path.display())),
            Err(why) => self.fail(Error::Source {
                id: source.to_string(),
                error: crate::error::SourceError::user(why),
            }),
        }
    }

    /// Counts a malformed or unreadable input that was skipped. The first ten are logged one
    /// by one, then one line in a thousand, with the count (a binary file would otherwise log a
    /// line per line).
    /// Registers the rate limit of `source`; with `estimator`, backpressure adjusts it after
    /// every batch.
    pub fn add_rate_control(
        &self,
        source: u64,
        limit: Arc<crate::rate::RateLimit>,
        estimator: Option<crate::rate::PidRateEstimator>,
    ) {
        self.metrics.set_rate_limit(source, limit.current());
        self.rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(RateControl {
                source,
                limit,
                estimator,
            });
    }

    /// Feeds the figures of completed batch `time` to every source's estimator and publishes
    /// the limits.
    pub fn adapt_rates(&self, time: u64, processing: Duration, scheduling_delay: Duration) {
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        for r in rates.iter_mut() {
            if let Some(estimator) = r.estimator.as_mut() {
                let records = self.metrics.records_of(r.source, time).unwrap_or(0);
                let estimate = estimator.compute(
                    time,
                    records,
                    processing.as_millis() as u64,
                    scheduling_delay.as_millis() as u64,
                );
                if let Some(rate) = estimate {
                    r.limit.set_estimate(rate);
                }
            }
            self.metrics.set_rate_limit(r.source, r.limit.current());
        }
    }

    pub fn skip(&self, source: &str, what: &str) {
        let n = self.skipped.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= SKIPS_LOGGED {
            tracing::warn!(source, "skipped: {what}");
        } else if n == SKIPS_LOGGED + 1 || n.is_multiple_of(1000) {
            tracing::warn!(
                source,
                "{n} inputs skipped so far (only some are logged); the latest: {what}"
            );
        }
    }

    /// Marks batch `t` as the last one of a graceful end of the input (set before the batch is
    /// handed to the workers), so operators that hold open windows emit them in it.
    pub fn set_final_batch(&self, t: u64) {
        self.final_batch.store(t + 1, Ordering::SeqCst);
    }

    /// Whether batch `t` ends the input (see [`set_final_batch`](Self::set_final_batch)).
    pub fn is_final_batch(&self, t: u64) -> bool {
        self.final_batch.load(Ordering::SeqCst) == t + 1
    }

    /// Counts `n` records lost to damage in a log, under `DamagePolicy::SkipLost`.
    pub fn lose(&self, what: &str, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
        tracing::error!("{what}: continuing without them (DamagePolicy::SkipLost)");
    }

    /// Counts `n` records of source `source` that its system removed before they were read,
    /// under `DataLossPolicy::Continue`.
    pub fn lose_input(&self, source: &str, what: &str, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
        tracing::error!(
            source,
            "{what}: continuing without them (DataLossPolicy::Continue)"
        );
    }

    /// Counts one wait for disk space (logged as a warning).
    pub fn disk_full_wait(&self, what: &str, error: &Error) {
        let n = self.disk_full_waits.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(25) {
            tracing::warn!("{what}: the disk is full, waiting for space ({error})");
        }
    }

    /// How many times a write waited for disk space.
    pub fn disk_full_waits(&self) -> u64 {
        self.disk_full_waits.load(Ordering::Relaxed)
    }

    /// How many records were lost to damage.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// How many inputs were skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}
