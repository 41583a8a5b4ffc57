//! Starting a streaming run, phase by phase. Each phase returns what the next needs; a phase
//! that fails undoes what the earlier ones started (sources stop, workers end) and `start()`
//! returns its error.

use super::driver::{Driver, SourceSet};
use super::handle::RunHandle;
use super::monitor::{run_monitor, Listeners};
use super::worker::{run_worker, ToWorker, WorkerSetup};
use crate::clock::Clock;
use crate::cluster::followers::{Expected, Followers};
use crate::cluster::wire::ToFollower;
use crate::cluster::{ClusterConfig, ClusterView};
use crate::durability::{
    fingerprint, fingerprint_mismatch, CheckpointSettings, Coordinator, Recovery,
};
use crate::error::{Error, Result};
use crate::pipeline::{OutputEntry, Pipeline, Resolved};
use crate::run::{RuntimeEvent, Shared, StatusCell};
use crate::source::planner::StartInfo;
use crossbeam_channel::{unbounded, Sender};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the workers may take to install the dataflow.
const WORKER_START: Duration = Duration::from_secs(60);

/// What a run is started from.
pub(crate) struct LaunchSpec {
    pub pipeline: Arc<Pipeline>,
    pub clock: Arc<dyn Clock>,
    pub status: Arc<StatusCell>,
    pub listeners: Listeners,
    pub checkpoint: Option<CheckpointSettings>,
    pub available_now: bool,
}

/// The workers of this process, as the driver talks to them.
pub(super) struct Workers {
    pub senders: Vec<Sender<ToWorker>>,
    pub threads: Vec<Thread>,
    pub guards: timely::communication::WorkerGuards<()>,
}

impl Workers {
    /// Ends the workers now and waits for them.
    pub fn abandon(self, shared: &Shared) {
        shared.stop_now();
        drop(self.senders);
        join_workers(self.guards, shared, 0);
    }
}

/// Waits for this process's workers (the first one job-wide number `first`) and records a
/// panic as the run's failure. In a cluster whose peer died, timely's network threads end
/// with a panic when their connection breaks; that is reported already, and is caught here.
pub(super) fn join_workers(
    guards: timely::communication::WorkerGuards<()>,
    shared: &Shared,
    first: usize,
) {
    let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guards.join()));
    match joined {
        Ok(results) => {
            for (i, r) in results.into_iter().enumerate() {
                if let Err(message) = r {
                    shared.fail(Error::WorkerPanicked {
                        worker: first + i,
                        message,
                    });
                }
            }
        }
        Err(payload) => {
            if shared.failure().is_none() && !shared.stopping_now() {
                shared.fail(Error::Cluster(super::panic_message(&*payload)));
            }
        }
    }
}

/// How timely connects this process's workers: threads of one process, or a cluster.
pub(super) fn communication(
    cluster: Option<&ClusterConfig>,
    workers: usize,
) -> timely::CommunicationConfig {
    match cluster {
        Some(c) => timely::CommunicationConfig::Cluster {
            threads: workers,
            process: c.process(),
            addresses: c.peers().to_vec(),
            report: false,
            zerocopy: false,
        },
        None => timely::CommunicationConfig::Process(workers),
    }
}

/// Waits for every other process of the cluster to connect and say who it is.
fn accept_followers(
    cluster: &ClusterConfig,
    sources: &SourceSet,
    config: &crate::config::StreamingConfig,
    shared: &Arc<Shared>,
    view: &Arc<ClusterView>,
) -> Result<Followers> {
    let uids = sources.uids();
    let expected = Expected {
        workers: config.worker_count(),
        sources: &uids,
    };
    Followers::accept(cluster, &expected, shared, Arc::clone(view))
}

/// Starts the run of `spec`'s pipeline and returns its handle: as the driver, or, in a
/// process of a cluster other than the first, as one that follows the driver.
pub(crate) fn launch(spec: LaunchSpec) -> Result<RunHandle> {
    let cluster = spec.pipeline.config.cluster_config()?;
    if let Some(c) = cluster.as_ref().filter(|c| !c.is_driver()) {
        return super::follower::launch_follower(spec, c.clone());
    }
    let config = spec.pipeline.config.clone();
    let config_workers = config.worker_count();
    let Resolved { sources, outputs } = prepare(&spec)?;
    let (mut coordinator, recovery) = match spec.checkpoint.clone() {
        Some(s) => {
            let (c, r) = Coordinator::open(s)?;
            (Some(c), Some(r))
        }
        None => (None, None),
    };
    let restored = match &recovery {
        Some(r) => r.restored_state()?,
        None => None,
    };
    let (events_tx, events_rx) = unbounded::<RuntimeEvent>();
    let shared = Arc::new(Shared::with_events(events_tx.clone()));
    shared.dead_letters.set_dir(
        config
            .dead_letter_directory()
            .map(Path::to_path_buf)
            .or_else(|| spec.checkpoint.as_ref().map(|c| c.dir.join("dead-letters"))),
    );
    for o in &outputs {
        if let Some(label) = o.label.clone().or_else(|| o.uid.clone()) {
            shared.metrics.set_label(o.node, label);
        }
    }
    if let Some(lost) = recovery.as_ref().map(|r| r.lost).filter(|n| *n > 0) {
        shared.lose("records of the batch log are lost to damage", lost);
    }
    let view = cluster
        .as_ref()
        .map(|c| Arc::new(ClusterView::new(0, c.peers(), config.worker_count())));
    if let Some(v) = &view {
        let _ = shared.cluster.set(Arc::clone(v));
    }
    let mut sources = SourceSet::new(sources);
    sources.register(&shared, coordinator.as_ref(), config.wal_fsync_policy());
    sources.control_rates(
        &shared,
        &config.backpressure_settings(),
        config.batch_interval().as_millis() as u64,
    );
    start_sources(&mut sources, &spec, &shared)?;
    if let Err(e) = restore_positions(&mut sources, recovery.as_ref()) {
        sources.stop_all();
        return Err(e);
    }
    warn_at_least_once(&sources, &outputs, coordinator.is_some());

    // In a cluster, the others first: the first batch time is chosen once they are all there.
    let followers = match (&cluster, &view) {
        (Some(c), Some(v)) => match accept_followers(c, &sources, &config, &shared, v) {
            Ok(f) => Some(f),
            Err(e) => {
                sources.stop_all();
                return Err(e);
            }
        },
        _ => None,
    };
    let interval = config.batch_interval().as_millis() as u64;
    let resume_at = recovery.as_ref().and_then(|r| {
        r.replay.first().map(|e| e.time).or_else(|| {
            r.checkpoint
                .as_ref()
                .map(|c| c.manifest.batch_time + interval)
        })
    });
    let first_time =
        resume_at.unwrap_or_else(|| spec.clock.now().next_aligned(config.batch_interval()).0);
    if let Some(c) = coordinator.as_mut() {
        c.origin = Some(c.origin.unwrap_or(first_time));
    }
    let origin = coordinator
        .as_ref()
        .and_then(|c| c.origin)
        .unwrap_or(first_time);
    let (parts_tx, parts_rx) = unbounded();
    let start = ToFollower::Start {
        first_time,
        origin,
        restore: recovery
            .as_ref()
            .and_then(|r| r.checkpoint.as_ref())
            .map(|c| c.manifest.id.0),
    };
    // Once this process's workers listen for the others' connections, the others may start.
    let start_followers = || match &followers {
        Some(f) => f.start(&start, &shared, &parts_tx),
        None => Ok(()),
    };
    let setup = WorkerSetup {
        outputs: outputs.iter().map(|o| Arc::clone(&o.install)).collect(),
        first_time,
        origin,
        interval,
        shared: Arc::clone(&shared),
        mailboxes: Vec::new(),
        first_local: 0,
        threads: unbounded().0,
        restored,
        checkpoints: coordinator.as_ref().map(|c| Arc::clone(&c.store)),
        disk_full: config.disk_full_policy(),
        parts: parts_tx.clone(),
    };
    let communication = communication(cluster.as_ref(), config.worker_count());
    let spawned = spawn_workers(
        setup,
        config.worker_count(),
        communication,
        &shared,
        start_followers,
    );
    let workers = match spawned {
        Ok(w) => w,
        Err(e) => {
            sources.stop_all();
            if let Some(f) = &followers {
                f.abort(&e.to_string());
            }
            return Err(e);
        }
    };
    if let Some(c) = coordinator.as_mut() {
        let mut ids = sources.uids();
        ids.extend(
            outputs
                .iter()
                .map(|o| format!("output:{}", o.resolved.get().map_or("", String::as_str))),
        );
        let now = fingerprint(&shared.metrics.graph(), &ids);
        match &c.fingerprint {
            Some(old) if *old != now => {
                let e = fingerprint_mismatch(&c.settings.dir, old, &now);
                sources.stop_all();
                if let Some(f) = &followers {
                    f.abort(&e.to_string());
                }
                workers.abandon(&shared);
                return Err(e);
            }
            _ => c.fingerprint = Some(now),
        }
    }
    // The context owns the status until the monitor starts.
    spec.status.update(|st| st.first_time = Some(first_time));

    let monitor = match spawn_monitor(&spec, &shared, events_rx) {
        Ok(m) => m,
        Err(e) => {
            sources.stop_all();
            if let Some(f) = &followers {
                f.abort(&e.to_string());
            }
            workers.abandon(&shared);
            return Err(e);
        }
    };
    let replay = recovery.map(|r| r.replay).unwrap_or_default();
    let driver = Driver {
        config,
        clock: spec.clock,
        status: spec.status,
        shared: Arc::clone(&shared),
        sources,
        senders: workers.senders,
        threads: workers.threads,
        available_now: spec.available_now,
        window_drain: window_drain(&spec.pipeline, &spec.pipeline.config),
        flush_at_end: spec
            .pipeline
            .flush_at_end
            .load(std::sync::atomic::Ordering::SeqCst),
        coordinator,
        parts: parts_rx,
        submitted: Vec::new(),
        in_flight: std::collections::VecDeque::new(),
        total_workers: config_workers * cluster.as_ref().map_or(1, |c| c.processes()),
        cluster: followers,
    };
    let guards = workers.guards;
    let driver_shared = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("freshet-driver".into())
        .spawn(move || {
            driver.run(first_time, replay);
            join_workers(guards, &driver_shared, 0);
            driver_shared.event(RuntimeEvent::Finished(driver_shared.failure()));
            let _ = monitor.join();
        })
        .map_err(|error| Error::spawn("driver", error))?;
    Ok(RunHandle::new(shared, events_tx))
}

/// Starts the thread that owns the run's status and tells the listeners.
pub(super) fn spawn_monitor(
    spec: &LaunchSpec,
    shared: &Arc<Shared>,
    events: crossbeam_channel::Receiver<RuntimeEvent>,
) -> Result<std::thread::JoinHandle<()>> {
    let status = Arc::clone(&spec.status);
    let shared = Arc::clone(shared);
    let listeners = Arc::clone(&spec.listeners);
    std::thread::Builder::new()
        .name("freshet-monitor".into())
        .spawn(move || run_monitor(&status, &shared, &listeners, events))
        .map_err(|error| Error::spawn("monitor", error))
}

/// Checks the pipeline and takes its sources and outputs.
pub(super) fn prepare(spec: &LaunchSpec) -> Result<Resolved> {
    let resolved = spec.pipeline.take()?;
    if resolved.outputs.is_empty() {
        return Err(Error::Plan(
            "the pipeline has no output operation: add foreach_batch, print, sink, save_as_text_files or collect_batches before starting".into(),
        ));
    }
    if spec.checkpoint.is_some() && spec.pipeline.config.max_in_flight() != 1 {
        return Err(Error::Config(
            "checkpointing needs max_in_flight_batches = 1 (state is snapshotted between batches)"
                .into(),
        ));
    }
    Ok(resolved)
}

/// Starts every source; if one fails, those started stop again.
pub(super) fn start_sources(
    sources: &mut SourceSet,
    spec: &LaunchSpec,
    shared: &Arc<Shared>,
) -> Result<()> {
    let interval = spec.pipeline.config.batch_interval();
    for i in 0..sources.len() {
        let (uid, planner) = sources.get_mut(i);
        let info = StartInfo {
            uid: &uid,
            available_now: spec.available_now,
            shared,
            batch_interval: interval,
            damage: spec.pipeline.config.damage_policy(),
            disk_full: spec.pipeline.config.disk_full_policy(),
        };
        if let Err(e) = planner.start(&info) {
            sources.stop_first(i);
            return Err(e);
        }
    }
    Ok(())
}

/// Restores every source's position from the checkpoint being recovered, if any.
fn restore_positions(sources: &mut SourceSet, recovery: Option<&Recovery>) -> Result<()> {
    let Some(checkpoint) = recovery.and_then(|r| r.checkpoint.as_ref()) else {
        return Ok(());
    };
    for i in 0..sources.len() {
        let (uid, planner) = sources.get_mut(i);
        if let Some(position) = checkpoint.manifest.source_positions.get(&uid) {
            planner.restore(position)?;
        }
    }
    Ok(())
}

/// Warns when a checkpointed pipeline writes the batches of a replayable source to an
/// at-least-once sink: a replay after a crash writes them again.
fn warn_at_least_once(sources: &SourceSet, outputs: &[OutputEntry], checkpointed: bool) {
    if !checkpointed || !sources.any_replayable() {
        return;
    }
    for o in outputs.iter().filter(|o| o.at_least_once) {
        tracing::warn!(
            "output `{}` is at-least-once: batches replayed after a crash are written to it again (use an idempotent or transactional sink for exactly-once output)",
            o.resolved.get().map_or(o.kind, String::as_str)
        );
    }
}

/// Starts this process's worker threads and waits until each has installed the dataflow (in a
/// cluster, once every process's workers are connected). `started` runs once the workers are
/// being started (the driver then lets the other processes start theirs).
pub(super) fn spawn_workers(
    mut setup: WorkerSetup,
    workers: usize,
    communication: timely::CommunicationConfig,
    shared: &Shared,
    started: impl FnOnce() -> Result<()>,
) -> Result<Workers> {
    let (threads_tx, threads_rx) = unbounded();
    let mut senders = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = unbounded();
        senders.push(tx);
        setup.mailboxes.push(Mutex::new(Some(rx)));
    }
    setup.threads = threads_tx;
    let setup = Arc::new(setup);
    let config = timely::Config {
        communication,
        worker: timely::WorkerConfig::default(),
    };
    let guards = execute(config, setup, shared, started)?;
    let mut threads: Vec<Option<Thread>> = vec![None; workers];
    let mut seen = 0;
    let deadline = Instant::now() + WORKER_START;
    while seen < workers {
        let failed = shared.failure().or_else(|| {
            (Instant::now() > deadline)
                .then(|| Error::Runtime(format!("workers did not start within {WORKER_START:?}")))
        });
        if let Some(e) = failed {
            Workers {
                senders,
                threads: Vec::new(),
                guards,
            }
            .abandon(shared);
            return Err(e);
        }
        if let Ok((i, t)) = threads_rx.recv_timeout(Duration::from_millis(20)) {
            if threads[i].replace(t).is_none() {
                seen += 1;
            }
        }
    }
    Ok(Workers {
        senders,
        threads: threads.into_iter().flatten().collect(),
        guards,
    })
}

/// Starts timely's workers. In a cluster this waits until every process has connected, on a
/// thread of its own, so that a failure meanwhile (a process that died) ends the wait.
fn execute(
    config: timely::Config,
    setup: Arc<WorkerSetup>,
    shared: &Shared,
    started: impl FnOnce() -> Result<()>,
) -> Result<timely::communication::WorkerGuards<()>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("freshet-connect".into())
        .spawn(move || {
            let started = timely::execute(config, move |w| run_worker(w, &setup));
            let _ = tx.send(started);
        })
        .map_err(|error| Error::spawn("connect", error))?;
    if let Err(e) = started() {
        shared.fail(e);
    }
    let deadline = Instant::now() + WORKER_START;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(started) => return started.map_err(Error::Runtime),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(Error::Runtime("the workers could not be started".into()))
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Some(e) = shared.failure() {
                    return Err(e);
                }
                if Instant::now() > deadline {
                    return Err(Error::Cluster(format!(
                        "the processes did not connect their workers within {WORKER_START:?}"
                    )));
                }
            }
        }
    }
}

/// The empty batches an available-now run adds after its input is exhausted, when the
/// configuration asks for it: enough for the longest processing-time window to slide past the
/// last batch that read records.
fn window_drain(pipeline: &crate::pipeline::Pipeline, config: &crate::StreamingConfig) -> u64 {
    if !config.drains_windows() {
        return 0;
    }
    let interval = crate::time::millis(config.batch_interval()).max(1);
    let windows = pipeline
        .remember
        .windows
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    windows
        .values()
        .map(|(len, _)| len.div_ceil(interval).saturating_sub(1))
        .max()
        .unwrap_or(0)
}
