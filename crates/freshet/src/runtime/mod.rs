//! The runtime: worker threads running the timely dataflow, the driver that cuts batches, and
//! the one-shot executor of batch jobs.

pub(crate) mod batch_job;
pub(crate) mod driver;
pub(crate) mod worker;

use crate::error::Error;
use crate::listener::ReceiverEvent;
use crate::metrics::MetricsStore;
use crossbeam_channel::Sender;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the monitor thread hears about.
pub(crate) enum RuntimeEvent {
    /// Every batch before `through` is complete (from worker 0).
    Progress { through: u64, at: Instant },
    /// An output operation started its work for batch `time`.
    OutputStarted { name: String, time: u64 },
    /// An output operation finished batch `time`.
    OutputCompleted {
        name: String,
        time: u64,
        duration: Duration,
    },
    /// A receiver started, failed or stopped.
    Receiver { name: String, event: ReceiverEvent },
    /// The run is over: the monitor stops.
    Shutdown,
}

/// State shared by the driver and every worker of one run.
#[derive(Default)]
pub(crate) struct Shared {
    /// The run's figures.
    pub metrics: MetricsStore,
    /// Where events for the monitor go (none in batch jobs).
    events: Option<Sender<RuntimeEvent>>,
    /// Set when the run must end now (a failure, or a stop that does not wait).
    hard_stop: AtomicBool,
    failure: Mutex<Option<Error>>,
    batch_records: Mutex<BTreeMap<u64, u64>>,
    skipped: AtomicU64,
    /// One more than the time of the batch that ends the input (0: not known).
    final_batch: AtomicU64,
}

impl Shared {
    /// Shared state whose events go to `events`.
    pub fn with_events(events: Sender<RuntimeEvent>) -> Self {
        Shared {
            events: Some(events),
            ..Shared::default()
        }
    }

    /// Sends an event to the monitor, if there is one.
    pub fn event(&self, e: RuntimeEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Records a failure (the first one wins) and ends the run.
    pub fn fail(&self, e: Error) {
        tracing::error!("{e}");
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
            .as_ref()
            .map(Error::duplicate)
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

    /// Counts a malformed or unreadable input that was skipped.
    pub fn skip(&self, source: &str, what: &str) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(source, "skipped: {what}");
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

    /// How many inputs were skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Drops every dataflow of `worker` once the run has failed or must stop now.
///
/// When the closure given to timely returns, timely keeps stepping the worker until its
/// dataflows complete. After a failure they never do (a peer that stopped no longer sends
/// progress), and an operator whose closure panicked would run, and panic, again.
pub(crate) fn abandon_dataflows(worker: &mut timely::worker::Worker) {
    for id in worker.installed_dataflows() {
        worker.drop_dataflow(id);
    }
}
