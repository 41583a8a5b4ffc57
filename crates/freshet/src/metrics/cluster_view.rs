//! What a process knows of the cluster it runs in: every process, its workers, whether it is
//! connected and when it was last heard from.

use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A process that has not been heard from for this long is shown as late.
pub(crate) const LATE_AFTER: Duration = Duration::from_secs(3);

/// The processes of a job, as seen by one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// The index of the process that reports.
    pub this_process: usize,
    /// Every process, by index.
    pub processes: Vec<ProcessStatus>,
}

/// One process of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessStatus {
    /// The process's index (0: the driver).
    pub process: usize,
    /// Its data address.
    pub address: String,
    /// The job-wide index of its first worker.
    pub first_worker: usize,
    /// How many workers it runs.
    pub workers: usize,
    /// Whether its control connection is up (the driver is always connected to itself).
    pub connected: bool,
    /// How long ago it was last heard from, in milliseconds (`None`: never, or this process).
    pub last_heard_ms: Option<u64>,
    /// Whether it has not been heard from for longer than 3 s while connected.
    pub late: bool,
    /// Why it disconnected or failed, if it did.
    pub error: Option<String>,
}

struct Entry {
    address: String,
    connected: bool,
    last_heard: Option<Instant>,
    error: Option<String>,
}

/// The live view behind [`ClusterStatus`], updated by the control connections.
pub(crate) struct ClusterView {
    this_process: usize,
    workers: usize,
    entries: Mutex<Vec<Entry>>,
}

impl ClusterView {
    pub fn new(this_process: usize, peers: &[String], workers: usize) -> Self {
        ClusterView {
            this_process,
            workers,
            entries: Mutex::new(
                peers
                    .iter()
                    .enumerate()
                    .map(|(i, a)| Entry {
                        address: a.clone(),
                        connected: i == this_process,
                        last_heard: None,
                        error: None,
                    })
                    .collect(),
            ),
        }
    }

    fn with(&self, process: usize, f: impl FnOnce(&mut Entry)) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(process) {
            f(e);
        }
    }

    /// Process `process` was heard from now.
    pub fn heard(&self, process: usize) {
        self.with(process, |e| {
            e.connected = true;
            e.last_heard = Some(Instant::now());
        });
    }

    /// Process `process` disconnected (with the reason, if it failed).
    pub fn disconnected(&self, process: usize, error: Option<String>) {
        self.with(process, |e| {
            e.connected = false;
            e.error = error;
        });
    }

    pub fn snapshot(&self) -> ClusterStatus {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let processes = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let age = e.last_heard.map(|t| t.elapsed());
                ProcessStatus {
                    process: i,
                    address: e.address.clone(),
                    first_worker: i * self.workers,
                    workers: self.workers,
                    connected: e.connected,
                    last_heard_ms: age.map(|a| a.as_millis() as u64),
                    late: e.connected && age.is_some_and(|a| a > LATE_AFTER),
                    error: e.error.clone(),
                }
            })
            .collect();
        ClusterStatus {
            this_process: self.this_process,
            processes,
        }
    }
}
