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

mod combine;
mod figures;
mod inputs;

use crate::clock::{Clock, SystemClock};
use crate::config::StreamingConfig;
use crate::durability::CheckpointSettings;
use crate::error::{Error, Result};
use crate::listener::StreamingListener;
use crate::pipeline::Pipeline;
use crate::run::{Phase, StatusCell, StopKind};
use crate::runtime::{launch, LaunchSpec, RunHandle};
use crate::time::BatchTime;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

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

pub(crate) struct ContextInner {
    pub pipeline: Arc<Pipeline>,
    pub clock: Arc<dyn Clock>,
    /// Owned by the context until the run starts, by the run's monitor from then on.
    pub status: Arc<StatusCell>,
    pub listeners: Arc<Mutex<Vec<Arc<dyn StreamingListener>>>>,
    /// Where to checkpoint, if anywhere.
    pub checkpoint_dir: Mutex<Option<PathBuf>>,
    /// The running pipeline, once started.
    pub run: OnceLock<RunHandle>,
}

impl ContextInner {
    /// Where and how often to checkpoint, if the context has a checkpoint directory.
    fn checkpoint_settings(&self) -> Option<CheckpointSettings> {
        let dir = self
            .checkpoint_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(CheckpointSettings {
            dir,
            interval: self.pipeline.config.checkpoint_every(),
            keep: self.pipeline.config.checkpoints_kept(),
            damage: self.pipeline.config.damage_policy(),
        })
    }

    /// Asks the run to stop.
    fn request_stop(&self, kind: StopKind) {
        if let Some(run) = self.run.get() {
            run.request_stop(kind);
        }
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
                pipeline: Arc::new(Pipeline::new(config)),
                clock,
                status: Arc::new(StatusCell::default()),
                listeners: Arc::new(Mutex::new(Vec::new())),
                checkpoint_dir: Mutex::new(None),
                run: OnceLock::new(),
            }),
        })
    }

    /// Makes the context fault-tolerant: it writes a batch metadata log and checkpoints (every
    /// [`checkpoint_interval`](StreamingConfig::checkpoint_interval) batches) to `dir`, and
    /// when `dir` already holds them, `start` recovers from them: state and source positions
    /// are restored and the batches logged after the last checkpoint are replayed. Call before
    /// `start`. See [`get_or_create`](Self::get_or_create).
    pub fn checkpoint(&self, dir: impl Into<PathBuf>) -> Result<()> {
        if self.inner.status.lock().phase != Phase::Created {
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
        &self.inner.pipeline.config
    }

    /// The batch interval.
    pub fn batch_interval(&self) -> Duration {
        self.inner.pipeline.config.batch_interval()
    }

    /// Registers a listener for batch events.
    pub fn add_listener(&self, listener: Arc<dyn StreamingListener>) {
        self.inner
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    /// Whether this process is the job's driver: `true` for a job of one process, and in a
    /// cluster for process 0, which plans the batches and serves the UI, the event log and
    /// alerts. The other processes of a cluster leave those to it.
    pub fn is_driver(&self) -> bool {
        match self.inner.pipeline.config.cluster_config() {
            Ok(c) => c.is_none_or(|c| c.is_driver()),
            // `start` reports the bad settings.
            Err(_) => true,
        }
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
    /// Event-time windows still open are emitted in one last batch; processing-time windows
    /// are emitted at their slide, so a window the input fills only partly is emitted only
    /// with [`StreamingConfig::drain_windows`](crate::StreamingConfig::drain_windows).
    pub fn run_available_now(&self) -> Result<()> {
        self.launch(true)?;
        self.await_termination()
    }

    /// Starts what [`run_available_now`](Self::run_available_now) runs without waiting for it:
    /// [`await_termination`](Self::await_termination) (or its timeout form) then waits for the
    /// run to end. For callers that must stay responsive while it runs (an interpreter checking
    /// for Ctrl-C, a UI).
    pub fn start_available_now(&self) -> Result<()> {
        self.launch(true)
    }

    fn launch(&self, available_now: bool) -> Result<()> {
        let fresh = self.inner.status.update(|st| {
            let fresh = st.phase == Phase::Created;
            if fresh {
                st.phase = Phase::Running;
            }
            fresh
        });
        if !fresh {
            return Err(Error::Plan(
                "a streaming context can be started only once; build a new one".into(),
            ));
        }
        let spec = LaunchSpec {
            pipeline: Arc::clone(&self.inner.pipeline),
            clock: Arc::clone(&self.inner.clock),
            status: Arc::clone(&self.inner.status),
            listeners: Arc::clone(&self.inner.listeners),
            checkpoint: self.inner.checkpoint_settings(),
            available_now,
        };
        match launch(spec) {
            Ok(handle) => {
                let _ = self.inner.run.set(handle);
                if self.inner.pipeline.config.stops_on_ctrl_c() {
                    install_ctrl_c(&self.inner);
                }
                Ok(())
            }
            Err(e) => {
                // The run never started, so the context still owns the status.
                self.inner.status.update(|st| {
                    st.phase = Phase::Stopped;
                    st.stop_told = true;
                    st.error = Some(e.clone());
                });
                Err(e)
            }
        }
    }

    /// Blocks until the context stops; returns the error that stopped it, if any.
    pub fn await_termination(&self) -> Result<()> {
        loop {
            if let Some(st) = self
                .inner
                .status
                .wait_until(Duration::from_secs(3600), |st| {
                    st.stop_told || st.phase == Phase::Created
                })
            {
                return st.outcome();
            }
        }
    }

    /// Blocks until the context stops or `timeout` passes; returns whether it stopped.
    pub fn await_termination_or_timeout(&self, timeout: Duration) -> Result<bool> {
        match self
            .inner
            .status
            .wait_until(timeout, |st| st.stop_told || st.phase == Phase::Created)
        {
            Some(st) => st.outcome().map(|()| true),
            None => Ok(false),
        }
    }

    /// Stops the context and waits until it has stopped.
    ///
    /// With `graceful`, receiving stops, one last batch takes whatever was received and not yet
    /// assigned, and every batch completes. Without it, batches in progress are abandoned.
    /// Stopping a context that never started just marks it stopped.
    pub fn stop(&self, graceful: bool) -> Result<()> {
        let never_started = self.inner.status.update(|st| {
            let created = st.phase == Phase::Created;
            if created {
                st.phase = Phase::Stopped;
                st.stop_told = true;
            }
            created
        });
        if never_started {
            return Ok(());
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
        let done = |st: &crate::run::RunStatus| st.listened_through.is_some_and(|c| c >= time.0);
        match self
            .inner
            .status
            .wait_until(timeout, |st| done(st) || st.phase == Phase::Stopped)
        {
            Some(st) if done(&st) => Ok(()),
            Some(st) => st.outcome().and(Err(Error::Stopped)),
            None => Err(Error::Timeout(timeout)),
        }
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
                let already = ctx.run.get().is_some_and(RunHandle::stop_asked);
                tracing::info!(
                    "signal received: stopping {}",
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
