//! The streaming context: builds a pipeline, starts it, stops it.
//!
//! # Life cycle
//!
//! 1. Create a [`StreamingContext`] from a [`StreamingConfig`].
//! 2. Create input streams (`queue_stream`, `socket_text_stream`, `text_file_stream`, ...), apply
//!    operators, and register at least one output operation (`foreach_batch`, `print`,
//!    `save_as_text_files`).
//! 3. [`start`](StreamingContext::start) it. From then on a batch is cut every batch interval:
//!    the sources assign what arrived in `(t - I, t]` to batch `t`, and the workers run it.
//! 4. [`await_termination`](StreamingContext::await_termination), or
//!    [`stop`](StreamingContext::stop) it. A graceful stop stops receiving, runs one last batch
//!    for whatever was received and not yet assigned, finishes every batch, then returns.
//!
//! [`run_available_now`](StreamingContext::run_available_now) instead processes what the inputs
//! hold right now in back-to-back batches and then stops gracefully.
//!
//! A context runs once: after it has stopped, build a new one.

use crate::clock::{Clock, SystemClock};
use crate::config::StreamingConfig;
use crate::durability::CheckpointSettings;
use crate::error::{Error, Result};
use crate::listener::CheckpointInfo;
use crate::listener::{BatchInfo, StreamingListener};
use crate::metrics::{
    ActiveBatch, BatchDetail, PipelineGraph, PublishedOutput, SourceStatus, StateSize,
};
use crate::plan::SourceId;
use crate::runtime::driver::{self, StopKind};
use crate::runtime::worker::InstallOutput;
use crate::runtime::Shared;
use crate::source::SourcePlanner;
use crate::time::BatchTime;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How many completed batches a context remembers.
const RECENT_BATCHES: usize = 1000;

/// The entry point of a streaming job.
///
/// ```
/// use std::time::Duration;
/// use freshet::{StreamingConfig, StreamingContext};
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(10)).workers(2))?;
/// let totals = ctx
///     .queue_stream(vec![vec!["a b".to_string(), "b".to_string()], vec!["c".to_string()]])
///     .flat_map(|line: String| line.split(' ').map(String::from).collect::<Vec<_>>())
///     .map(|w| (w, 1u64))
///     .reduce_by_key(|a, b| a + b)
///     .collect_batches();
/// ctx.run_available_now()?;
/// let mut first = totals.batches()[0].1.clone();
/// first.sort();
/// assert_eq!(first, vec![("a".to_string(), 1), ("b".to_string(), 2)]);
/// # Ok::<(), freshet::Error>(())
/// ```
#[derive(Clone)]
pub struct StreamingContext {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct Graph {
    pub sources: Vec<Box<dyn SourcePlanner>>,
    pub outputs: Vec<InstallOutput>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Created,
    Running,
    Stopped,
}

/// A batch handed to the workers and not yet complete.
pub(crate) struct Pending {
    pub submitted_at: Instant,
    pub scheduling_delay: Duration,
}

pub(crate) struct Status {
    pub phase: Phase,
    pub stop: Option<StopKind>,
    pub pending: BTreeMap<u64, Pending>,
    pub completed_through: Option<u64>,
    /// The latest completed batch whose completion the listeners have been told about.
    pub listened_through: Option<u64>,
    pub completed: u64,
    pub recent: VecDeque<BatchInfo>,
    pub error: Option<Error>,
    pub first_time: Option<u64>,
    /// A batch planned and waiting for earlier batches, with when it was planned.
    pub waiting: Option<(u64, Instant)>,
}

pub(crate) struct ContextInner {
    pub config: StreamingConfig,
    pub clock: Arc<dyn Clock>,
    pub graph: Mutex<Graph>,
    pub status: Mutex<Status>,
    pub changed: Condvar,
    pub listeners: Mutex<Vec<Arc<dyn StreamingListener>>>,
    pub shared: Mutex<Option<Arc<Shared>>>,
    /// Whether a graceful end runs one last batch in which open event-time windows are emitted.
    pub flush_at_end: AtomicBool,
    /// Where to checkpoint, if anywhere.
    pub checkpoint_dir: Mutex<Option<PathBuf>>,
}

impl ContextInner {
    /// Where and how often to checkpoint, if the context has a checkpoint directory.
    pub fn checkpoint_settings(&self) -> Option<CheckpointSettings> {
        let dir = self
            .checkpoint_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(CheckpointSettings {
            dir,
            interval: self.config.checkpoint_every(),
            keep: self.config.checkpoints_kept(),
        })
    }

    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn listeners(&self) -> Vec<Arc<dyn StreamingListener>> {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Registers a streaming source; fails once the context has started.
    pub fn add_source(&self, source: Box<dyn SourcePlanner>) -> SourceId {
        let id = source.id();
        self.graph
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sources
            .push(source);
        id
    }

    /// Registers an output operation.
    pub fn add_output(&self, output: InstallOutput) {
        self.graph
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .outputs
            .push(output);
    }

    /// Asks the run to stop.
    pub fn request_stop(&self, kind: StopKind) {
        let mut st = self.status();
        st.stop = Some(match (st.stop, kind) {
            (Some(StopKind::Now), _) | (_, StopKind::Now) => StopKind::Now,
            _ => StopKind::Graceful,
        });
        if kind == StopKind::Now {
            if let Some(shared) = self
                .shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                shared.stop_now();
            }
        }
        self.changed.notify_all();
    }
}

impl StreamingContext {
    /// A context on the system clock.
    pub fn new(config: StreamingConfig) -> Result<Self> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A context on the given clock (tests pass a [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(config: StreamingConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        config.validate()?;
        Ok(StreamingContext {
            inner: Arc::new(ContextInner {
                config,
                clock,
                graph: Mutex::new(Graph {
                    sources: Vec::new(),
                    outputs: Vec::new(),
                }),
                status: Mutex::new(Status {
                    phase: Phase::Created,
                    stop: None,
                    pending: BTreeMap::new(),
                    completed_through: None,
                    listened_through: None,
                    completed: 0,
                    recent: VecDeque::new(),
                    error: None,
                    first_time: None,
                    waiting: None,
                }),
                changed: Condvar::new(),
                listeners: Mutex::new(Vec::new()),
                shared: Mutex::new(None),
                flush_at_end: AtomicBool::new(false),
                checkpoint_dir: Mutex::new(None),
            }),
        })
    }

    /// Makes the context fault-tolerant: it writes a batch metadata log and checkpoints (every
    /// [`checkpoint_interval`](StreamingConfig::checkpoint_interval) batches) to `dir`, and
    /// when `dir` already holds them, `start` recovers from them: state and source positions
    /// are restored and the batches logged after the last checkpoint are replayed. Call before
    /// `start`. See [`get_or_create`](Self::get_or_create).
    pub fn checkpoint(&self, dir: impl Into<PathBuf>) -> Result<()> {
        if self.inner.status().phase != Phase::Created {
            return Err(Error::Plan(
                "checkpoint() must be called before start()".into(),
            ));
        }
        *self
            .inner
            .checkpoint_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(dir.into());
        Ok(())
    }

    /// Spark's `getOrCreate`: builds the context with `build` and attaches the checkpoint
    /// directory `dir`. On a fresh directory the context starts anew; on a directory with a
    /// checkpoint, `start` restores the state and source positions it holds and replays the
    /// batches logged after it, then continues. The pipeline must be built by the same code:
    /// if its fingerprint (operators and edges) differs, `start` fails and says what changed.
    pub fn get_or_create<F>(dir: impl Into<PathBuf>, build: F) -> Result<StreamingContext>
    where
        F: FnOnce() -> Result<StreamingContext>,
    {
        let ctx = build()?;
        ctx.checkpoint(dir)?;
        Ok(ctx)
    }

    /// The configuration.
    pub fn config(&self) -> &StreamingConfig {
        &self.inner.config
    }

    /// The batch interval.
    pub fn batch_interval(&self) -> Duration {
        self.inner.config.batch_interval()
    }

    /// Registers a listener for batch events.
    pub fn add_listener(&self, listener: Arc<dyn StreamingListener>) {
        self.inner
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    /// Starts processing: a batch is cut every batch interval until the context is stopped.
    ///
    /// Fails if the context has already started, has no output operation, or a source cannot
    /// start (an address in use, a directory that does not exist).
    pub fn start(&self) -> Result<()> {
        self.launch(false)
    }

    /// Processes everything the inputs hold now, in back-to-back batches of bounded size, then
    /// stops gracefully and returns (Structured Streaming's `Trigger.AvailableNow`).
    ///
    /// A queue is drained, a file stream takes the files present (at most its per-batch cap in
    /// each batch), a socket is read until the peer closes it, and a generator emits until its
    /// limit. Batch times advance one interval per batch without waiting for the clock.
    pub fn run_available_now(&self) -> Result<()> {
        self.launch(true)?;
        self.await_termination()
    }

    fn launch(&self, available_now: bool) -> Result<()> {
        {
            let mut st = self.inner.status();
            if st.phase != Phase::Created {
                return Err(Error::Plan(
                    "a streaming context can be started only once; build a new one".into(),
                ));
            }
            st.phase = Phase::Running;
        }
        let result = driver::launch(&self.inner, available_now);
        if let Err(e) = &result {
            let mut st = self.inner.status();
            st.phase = Phase::Stopped;
            st.error = Some(e.duplicate());
            self.inner.changed.notify_all();
        } else if self.inner.config.stops_on_ctrl_c() {
            install_ctrl_c(&self.inner);
        }
        result
    }

    /// Blocks until the context stops; returns the error that stopped it, if any.
    pub fn await_termination(&self) -> Result<()> {
        let mut st = self.inner.status();
        while st.phase == Phase::Running {
            st = self
                .inner
                .changed
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
        match &st.error {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }

    /// Blocks until the context stops or `timeout` passes; returns whether it stopped.
    pub fn await_termination_or_timeout(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut st = self.inner.status();
        while st.phase == Phase::Running {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            st = self
                .inner
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        match &st.error {
            Some(e) => Err(e.duplicate()),
            None => Ok(true),
        }
    }

    /// Stops the context and waits until it has stopped.
    ///
    /// With `graceful`, receiving stops, one last batch takes whatever was received and not yet
    /// assigned, and every batch completes. Without it, batches in progress are abandoned.
    /// Stopping a context that never started just marks it stopped.
    pub fn stop(&self, graceful: bool) -> Result<()> {
        {
            let mut st = self.inner.status();
            if st.phase == Phase::Created {
                st.phase = Phase::Stopped;
                self.inner.changed.notify_all();
                return Ok(());
            }
        }
        self.inner.request_stop(if graceful {
            StopKind::Graceful
        } else {
            StopKind::Now
        });
        self.await_termination()
    }

    /// Blocks until batch `time` has completed (every output operation finished it) and the
    /// listeners have been told.
    ///
    /// Fails with [`Error::Timeout`] after `timeout`, or with the run's error (or
    /// [`Error::Stopped`]) if the context stops first.
    pub fn await_batch(&self, time: BatchTime, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut st = self.inner.status();
        loop {
            if st.listened_through.is_some_and(|c| c >= time.0) {
                return Ok(());
            }
            if st.phase == Phase::Stopped {
                return Err(st
                    .error
                    .as_ref()
                    .map(Error::duplicate)
                    .unwrap_or(Error::Stopped));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout(timeout));
            }
            st = self
                .inner
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The time of the first batch, once the context has started.
    pub fn first_batch_time(&self) -> Option<BatchTime> {
        self.inner.status().first_time.map(BatchTime)
    }

    /// The number of batches completed so far.
    pub fn batches_completed(&self) -> u64 {
        self.inner.status().completed
    }

    /// The figures of the most recent completed batches (up to 1000), oldest first.
    pub fn recent_batches(&self) -> Vec<BatchInfo> {
        self.inner.status().recent.iter().cloned().collect()
    }

    fn shared(&self) -> Option<Arc<Shared>> {
        self.inner
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the context is running (started and not yet stopped).
    pub fn is_running(&self) -> bool {
        self.inner.status().phase == Phase::Running
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
            .status()
            .recent
            .iter()
            .find(|b| b.time == time)
            .cloned()?;
        let shared = self.shared()?;
        Some(BatchDetail {
            info,
            operators: shared.metrics.operators(time.0),
            sources: shared.metrics.source_records(time.0),
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
            .map(|s| s.metrics.checkpoints())
            .unwrap_or((None, 0))
    }

    /// The latest batch of every output that publishes (`publish`, `print`).
    pub fn published_outputs(&self) -> Vec<PublishedOutput> {
        self.shared()
            .map(|s| s.metrics.outputs())
            .unwrap_or_default()
    }

    /// The batches planned and not yet completed, oldest first.
    pub fn active_batches(&self) -> Vec<ActiveBatch> {
        let st = self.inner.status();
        let now = Instant::now();
        let mut active: Vec<ActiveBatch> = st
            .pending
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

    /// How many malformed or unreadable inputs the sources skipped (each is logged).
    pub fn skipped_records(&self) -> u64 {
        self.inner
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |s| s.skipped())
    }
}

pub(crate) fn record_completion(inner: &ContextInner, shared: &Shared, through: u64, at: Instant) {
    let mut done = Vec::new();
    {
        let mut st = inner.status();
        let times: Vec<u64> = st.pending.range(..through).map(|(t, _)| *t).collect();
        for t in times {
            let Some(p) = st.pending.remove(&t) else {
                continue;
            };
            let processing_time = at.saturating_duration_since(p.submitted_at);
            let info = BatchInfo {
                time: BatchTime(t),
                records: shared.take_records(t),
                scheduling_delay: p.scheduling_delay,
                processing_time,
                total_delay: p.scheduling_delay + processing_time,
            };
            shared.metrics.batch_completed(t);
            st.completed_through = Some(st.completed_through.map_or(t, |c| c.max(t)));
            st.completed += 1;
            if st.recent.len() == RECENT_BATCHES {
                st.recent.pop_front();
            }
            st.recent.push_back(info.clone());
            done.push(info);
        }
        inner.changed.notify_all();
    }
    if let Some(last) = done.last() {
        let listeners = inner.listeners();
        for info in &done {
            for l in &listeners {
                l.on_batch_completed(info);
            }
        }
        // Waiters in `await_batch` resume only now, so they see what the listeners did.
        let mut st = inner.status();
        st.listened_through = Some(
            st.listened_through
                .map_or(last.time.0, |c| c.max(last.time.0)),
        );
        inner.changed.notify_all();
    }
}

static RUNNING: Mutex<Vec<Weak<ContextInner>>> = Mutex::new(Vec::new());
static CTRL_C: OnceLock<bool> = OnceLock::new();

fn install_ctrl_c(inner: &Arc<ContextInner>) {
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    running.retain(|w| w.strong_count() > 0);
    running.push(Arc::downgrade(inner));
    drop(running);
    CTRL_C.get_or_init(|| {
        ctrlc::set_handler(|| {
            let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
            for ctx in running.iter().filter_map(Weak::upgrade) {
                let already = ctx.status().stop.is_some();
                tracing::info!(
                    "interrupted: stopping {}",
                    if already { "now" } else { "gracefully" }
                );
                ctx.request_stop(if already {
                    StopKind::Now
                } else {
                    StopKind::Graceful
                });
            }
        })
        .is_ok()
    });
}
