//! The status of a run, and the cell that publishes it.
//!
//! One thread owns the status at a time: the context before the run starts (and when it fails
//! to start), the run's monitor thread from then on. Everyone else reads snapshots and waits
//! for changes; they ask for changes by sending the owner a `RuntimeEvent`.

use crate::error::Error;
use crate::listener::BatchInfo;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a stop was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopKind {
    /// Stop receiving, finish what was received, then stop.
    Graceful,
    /// Stop now, abandoning batches in progress.
    Now,
}

impl StopKind {
    /// The stronger of two requests.
    pub fn max(self, other: StopKind) -> StopKind {
        if self == StopKind::Now || other == StopKind::Now {
            StopKind::Now
        } else {
            StopKind::Graceful
        }
    }
}

/// Where a context is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Created,
    Running,
    Stopped,
}

/// A batch handed to the workers and not yet complete.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlight {
    pub submitted_at: Instant,
    pub scheduling_delay: Duration,
}

/// The status of a run.
#[derive(Debug)]
pub(crate) struct RunStatus {
    pub phase: Phase,
    pub stop: Option<StopKind>,
    pub in_flight: BTreeMap<u64, InFlight>,
    pub completed_through: Option<u64>,
    /// The latest completed batch whose completion the listeners have been told about.
    pub listened_through: Option<u64>,
    pub completed: u64,
    pub recent: VecDeque<BatchInfo>,
    pub error: Option<Error>,
    pub first_time: Option<u64>,
    /// A batch planned and waiting for earlier batches, with when it was planned.
    pub waiting: Option<(u64, Instant)>,
    /// Whether the run has stopped and every listener's `on_stopped` has returned (or the run
    /// never started).
    pub stop_told: bool,
}

impl RunStatus {
    fn new() -> Self {
        RunStatus {
            phase: Phase::Created,
            stop: None,
            in_flight: BTreeMap::new(),
            completed_through: None,
            listened_through: None,
            completed: 0,
            recent: VecDeque::new(),
            error: None,
            first_time: None,
            waiting: None,
            stop_told: false,
        }
    }

    /// How the run ended (or `Ok` while it runs).
    pub fn outcome(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// Publishes a run's status: its owner changes it, others read it and wait for changes.
pub(crate) struct StatusCell {
    status: Mutex<RunStatus>,
    changed: Condvar,
}

impl Default for StatusCell {
    fn default() -> Self {
        StatusCell {
            status: Mutex::new(RunStatus::new()),
            changed: Condvar::new(),
        }
    }
}

impl StatusCell {
    /// The status, locked for reading (or for the owner to change).
    pub fn lock(&self) -> MutexGuard<'_, RunStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the status (only its owner calls this) and wakes every waiter.
    pub fn update<R>(&self, f: impl FnOnce(&mut RunStatus) -> R) -> R {
        let r = f(&mut self.lock());
        self.changed.notify_all();
        r
    }

    /// Waits until `done` holds (returning the status, locked) or `timeout` passes (`None`).
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&RunStatus) -> bool,
    ) -> Option<MutexGuard<'_, RunStatus>> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while !done(&st) {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Some(st)
    }
}
