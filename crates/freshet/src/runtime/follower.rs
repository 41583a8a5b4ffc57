//! A process of a cluster other than the driver: it connects to the driver, starts its
//! workers as part of the job's dataflow, and for every batch the driver plans rebuilds its
//! own workers' splits of the distributed sources from the batch's ranges. It stores its
//! workers' checkpoint snapshots and reports them, and ends when the driver ends the run.

use super::driver::SourceSet;
use super::handle::RunHandle;
use super::launch::{
    communication, join_workers, prepare, spawn_monitor, spawn_workers, LaunchSpec, Workers,
};
use super::worker::{ToWorker, WorkerSetup};
use crate::cluster::to_driver::{DriverLink, Started};
use crate::cluster::wire::{SourceRange, ToDriver, ToFollower};
use crate::cluster::{ClusterConfig, ClusterView};
use crate::durability::RestoredState;
use crate::error::{Error, Result};
use crate::pipeline::Resolved;
use crate::plan::{SourceId, Split};
use crate::run::{RuntimeEvent, Shared, StatusCell, StopKind};
use crate::source::planner::StartInfo;
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use freshet_durable::{CheckpointId, FsCheckpointStore, PartInfo};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the loop waits for a message before it looks at the run again.
const POLL: Duration = Duration::from_millis(20);

/// Starts this process's part of the job.
pub(super) fn launch_follower(spec: LaunchSpec, cluster: ClusterConfig) -> Result<RunHandle> {
    let config = spec.pipeline.config.clone();
    let workers = config.worker_count();
    let process = cluster.process();
    let Resolved { sources, outputs } = prepare(&spec)?;
    let (events_tx, events_rx) = unbounded::<RuntimeEvent>();
    let shared = Arc::new(Shared::with_events(events_tx.clone()));
    let view = Arc::new(ClusterView::new(process, cluster.peers(), workers));
    let _ = shared.cluster.set(Arc::clone(&view));
    shared.dead_letters.set_dir(
        config
            .dead_letter_directory()
            .map(Path::to_path_buf)
            .or_else(|| spec.checkpoint.as_ref().map(|c| c.dir.join("dead-letters")))
            .map(|d| d.join(format!("process-{process}"))),
    );
    let mut sources = SourceSet::new(sources);
    sources.register(&shared, None, config.wal_fsync_policy());
    let started_sources = start_distributed(&mut sources, &spec, &shared)?;
    let hello = ToDriver::Hello {
        process,
        processes: cluster.processes(),
        workers,
        sources: sources.uids(),
    };
    let stop = |sources: &mut SourceSet| {
        for &i in &started_sources {
            sources.get_mut(i).1.stop();
        }
    };
    let (link, started) = match DriverLink::connect(&cluster, &hello, &shared) {
        Ok(l) => l,
        Err(e) => {
            stop(&mut sources);
            return Err(e);
        }
    };
    let store = match open_store(&spec) {
        Ok(s) => s,
        Err(e) => {
            stop(&mut sources);
            return Err(e);
        }
    };
    let restored = match restore(&started, store.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            stop(&mut sources);
            return Err(e);
        }
    };
    let (parts_tx, parts_rx) = unbounded();
    let setup = WorkerSetup {
        outputs: outputs.iter().map(|o| Arc::clone(&o.install)).collect(),
        first_time: started.first_time,
        origin: started.origin,
        interval: config.batch_interval().as_millis() as u64,
        shared: Arc::clone(&shared),
        mailboxes: Vec::new(),
        first_local: process * workers,
        threads: unbounded().0,
        restored,
        checkpoints: store,
        disk_full: config.disk_full_policy(),
        parts: parts_tx,
    };
    let (up_tx, up_rx) = unbounded();
    let (figures_tx, figures_rx) = unbounded();
    let messages = match link.run(&shared, Arc::clone(&view), up_rx, figures_rx) {
        Ok(m) => m,
        Err(e) => {
            stop(&mut sources);
            return Err(e);
        }
    };
    let spawned = spawn_workers(
        setup,
        workers,
        communication(Some(&cluster), workers),
        &shared,
        || Ok(()),
    );
    let workers_started = match spawned {
        Ok(w) => w,
        Err(e) => {
            stop(&mut sources);
            let _ = up_tx.send(ToDriver::Failed {
                reason: e.to_string(),
            });
            return Err(e);
        }
    };
    shared.metrics.forward_to(Some(figures_tx));
    spec.status
        .update(|st| st.first_time = Some(started.first_time));
    let monitor = match spawn_monitor(&spec, &shared, events_rx) {
        Ok(m) => m,
        Err(e) => {
            stop(&mut sources);
            workers_started.abandon(&shared);
            return Err(e);
        }
    };
    let Workers {
        senders,
        threads,
        guards,
    } = workers_started;
    let mut follower = Follower {
        status: Arc::clone(&spec.status),
        shared: Arc::clone(&shared),
        sources,
        started_sources,
        senders,
        threads,
        total_workers: workers * cluster.processes(),
        first_local: process * workers,
        messages,
        parts: parts_rx,
        up: up_tx,
        stop_forwarded: false,
    };
    let run_shared = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("freshet-follower".into())
        .spawn(move || {
            follower.run();
            join_workers(guards, &run_shared, process * workers);
            run_shared.metrics.forward_to(None);
            if let Some(e) = run_shared.failure() {
                let _ = follower.up.send(ToDriver::Failed {
                    reason: e.to_string(),
                });
            }
            drop(follower);
            run_shared.event(RuntimeEvent::Finished(run_shared.failure()));
            let _ = monitor.join();
        })
        .map_err(|error| Error::spawn("follower", error))?;
    Ok(RunHandle::new(shared, events_tx))
}

/// Starts the sources this process reads (the distributed ones) and returns their indexes.
fn start_distributed(
    sources: &mut SourceSet,
    spec: &LaunchSpec,
    shared: &Arc<Shared>,
) -> Result<Vec<usize>> {
    let mut started = Vec::new();
    for i in 0..sources.len() {
        let (uid, planner) = sources.get_mut(i);
        if !planner.distributed() {
            continue;
        }
        let info = StartInfo {
            uid: &uid,
            available_now: spec.available_now,
            shared,
            batch_interval: spec.pipeline.config.batch_interval(),
            damage: spec.pipeline.config.damage_policy(),
            disk_full: spec.pipeline.config.disk_full_policy(),
        };
        if let Err(e) = planner.start(&info) {
            for &j in &started {
                sources.get_mut(j).1.stop();
            }
            return Err(e);
        }
        started.push(i);
    }
    Ok(started)
}

/// The checkpoint store (shared with the driver), when the job checkpoints.
fn open_store(spec: &LaunchSpec) -> Result<Option<Arc<FsCheckpointStore>>> {
    let Some(settings) = &spec.checkpoint else {
        return Ok(None);
    };
    let store = FsCheckpointStore::open(settings.dir.join("checkpoints"), settings.keep)
        .map_err(|e| Error::durable("the checkpoint store", e))?;
    Ok(Some(Arc::new(store)))
}

/// The operator state of the checkpoint the driver recovers from.
fn restore(
    started: &Started,
    store: Option<&FsCheckpointStore>,
) -> Result<Option<Arc<RestoredState>>> {
    let Some(id) = started.restore else {
        return Ok(None);
    };
    let store = store.ok_or_else(|| {
        Error::Cluster(format!(
            "the driver recovers from checkpoint {id}, but this process has no checkpoint directory"
        ))
    })?;
    let loaded = store.load(CheckpointId(id)).map_err(|e| {
        Error::durable(
            format!(
                "checkpoint {id} (the checkpoint directory must be storage every process shares)"
            ),
            e,
        )
    })?;
    Ok(Some(Arc::new(RestoredState::from_parts(&loaded.parts)?)))
}

/// The loop of a process that follows the driver.
struct Follower {
    status: Arc<StatusCell>,
    shared: Arc<Shared>,
    sources: SourceSet,
    started_sources: Vec<usize>,
    senders: Vec<Sender<ToWorker>>,
    threads: Vec<std::thread::Thread>,
    total_workers: usize,
    first_local: usize,
    messages: Receiver<ToFollower>,
    parts: Receiver<(u64, std::result::Result<PartInfo, String>)>,
    up: Sender<ToDriver>,
    stop_forwarded: bool,
}

impl Follower {
    fn run(&mut self) {
        loop {
            if self.shared.failure().is_some() {
                break;
            }
            self.forward_stop_request();
            if self.shared.stopping_now() {
                break;
            }
            match self.messages.recv_timeout(POLL) {
                Ok(ToFollower::Batch {
                    time,
                    next,
                    sources,
                }) => {
                    if !self.batch(time, next, &sources) {
                        break;
                    }
                }
                Ok(ToFollower::Checkpoint { id }) => {
                    for tx in &self.senders {
                        let _ = tx.send(ToWorker::Checkpoint {
                            id: CheckpointId(id),
                        });
                    }
                    self.wake_workers();
                }
                Ok(ToFollower::End) => break,
                Ok(ToFollower::StopNow) => {
                    self.shared.stop_now();
                    break;
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                // The driver's connection ended; its reader has recorded why.
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.forward_parts();
        }
        self.forward_parts();
        for &i in &self.started_sources {
            self.sources.get_mut(i).1.stop();
        }
        for tx in &self.senders {
            let _ = tx.send(ToWorker::End);
        }
        self.wake_workers();
    }

    /// Hands this process's workers their splits of batch `time`.
    fn batch(&mut self, time: u64, next: u64, ranges: &[SourceRange]) -> bool {
        let local = self.senders.len();
        let mut per_worker: Vec<Vec<(SourceId, Split)>> = (0..local).map(|_| Vec::new()).collect();
        for range in ranges {
            let Some(i) = (0..self.sources.len()).find(|&i| self.sources.get_mut(i).0 == range.uid)
            else {
                self.shared.fail(Error::Cluster(format!(
                    "the driver planned source `{}`, which this process does not have",
                    range.uid
                )));
                return false;
            };
            let (_, planner) = self.sources.get_mut(i);
            let splits = planner
                .restore(&range.from)
                .and_then(|()| planner.replay(&range.record, self.total_workers));
            match splits {
                Ok(splits) => {
                    let id = planner.id();
                    let mine = splits.into_iter().skip(self.first_local).take(local);
                    for (worker, split) in per_worker.iter_mut().zip(mine) {
                        if let Some(split) = split {
                            worker.push((id, split));
                        }
                    }
                }
                Err(e) => {
                    self.shared.fail(e);
                    return false;
                }
            }
        }
        self.shared.event(RuntimeEvent::Waiting {
            time,
            announce: false,
        });
        self.shared.event(RuntimeEvent::Submitted {
            time,
            at: Instant::now(),
            scheduling_delay: Duration::ZERO,
        });
        for (tx, splits) in self.senders.iter().zip(per_worker) {
            let _ = tx.send(ToWorker::Batch { time, next, splits });
        }
        self.wake_workers();
        true
    }

    /// Sends the snapshots the workers stored to the driver.
    fn forward_parts(&self) {
        while let Ok((checkpoint, part)) = self.parts.try_recv() {
            let _ = self.up.send(ToDriver::Part { checkpoint, part });
        }
    }

    /// Passes a stop asked of this process's context on to the driver, which stops the job.
    fn forward_stop_request(&mut self) {
        if self.stop_forwarded {
            return;
        }
        if let Some(kind) = self.status.lock().stop {
            self.stop_forwarded = true;
            let _ = self.up.send(ToDriver::StopRequested {
                now: kind == StopKind::Now,
            });
        }
    }

    fn wake_workers(&self) {
        for t in &self.threads {
            t.unpark();
        }
    }
}
