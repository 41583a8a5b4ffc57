//! The driver: starts the sources and the workers, cuts a batch at every interval, hands each
//! worker its splits, and shuts the run down.

use super::worker::{run_worker, ToWorker, WorkerSetup};
use super::{RuntimeEvent, Shared};
use crate::context::{record_completion, ContextInner, Pending, Phase, Status};
use crate::durability::{
    decode_batch, fingerprint, fingerprint_mismatch, BatchRecord, Coordinator,
};
use crate::error::{Error, Result};
use crate::listener::{CheckpointInfo, OutputOperationInfo};
use crate::plan::{SourceId, Split};
use crate::source::{Availability, SourcePlanner};
use crate::time::BatchTime;
use crossbeam_channel::{unbounded, Receiver, Sender};
use freshet_durable::{BatchEntry, PartInfo};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How a stop was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopKind {
    /// Stop receiving, finish what was received, then stop.
    Graceful,
    /// Stop now, abandoning batches in progress.
    Now,
}

/// How long the driver waits at most before it looks for a stop request again.
const POLL: Duration = Duration::from_millis(20);

/// Starts the run of `inner`'s pipeline.
pub(crate) fn launch(inner: &Arc<ContextInner>, available_now: bool) -> Result<()> {
    let (mut sources, outputs) = {
        let mut g = inner.graph.lock().unwrap_or_else(|p| p.into_inner());
        (
            std::mem::take(&mut g.sources),
            std::mem::take(&mut g.outputs),
        )
    };
    if outputs.is_empty() {
        return Err(Error::Plan(
            "the pipeline has no output operation: add foreach_batch, print, save_as_text_files or collect_batches before starting".into(),
        ));
    }
    let settings = inner.checkpoint_settings();
    if settings.is_some() && inner.config.max_in_flight() != 1 {
        return Err(Error::Config(
            "checkpointing needs max_in_flight_batches = 1 (state is snapshotted between batches)"
                .into(),
        ));
    }
    let (mut coordinator, recovery) = match settings {
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
    let shared = Arc::new(Shared::with_events(events_tx));
    for (i, s) in sources.iter_mut().enumerate() {
        shared.metrics.add_source(s.id(), s.name(), s.is_receiver());
        if let Some(c) = &coordinator {
            let name: String = s
                .name()
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            s.enable_wal(
                c.settings.dir.join("receivers").join(format!("{i}-{name}")),
                inner.config.wal_fsync_policy(),
            );
        }
    }
    for i in 0..sources.len() {
        if let Err(e) = sources[i].start(available_now, &shared) {
            for s in sources.iter_mut().take(i) {
                s.stop();
            }
            return Err(e);
        }
    }
    if let Some(checkpoint) = recovery.as_ref().and_then(|r| r.checkpoint.as_ref()) {
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(position) = checkpoint
                .manifest
                .source_positions
                .get(&source_key(i, s.name()))
            {
                if let Err(e) = s.restore(position) {
                    for s in sources.iter_mut() {
                        s.stop();
                    }
                    return Err(e);
                }
            }
        }
    }

    let workers = inner.config.worker_count();
    let interval = inner.config.batch_interval().as_millis() as u64;
    let resume_at = recovery.as_ref().and_then(|r| {
        r.replay.first().map(|e| e.time).or_else(|| {
            r.checkpoint
                .as_ref()
                .map(|c| c.manifest.batch_time + interval)
        })
    });
    let first_time = resume_at.unwrap_or_else(|| {
        inner
            .clock
            .now()
            .next_aligned(inner.config.batch_interval())
            .0
    });
    if let Some(c) = coordinator.as_mut() {
        c.origin = Some(c.origin.unwrap_or(first_time));
    }
    let (parts_tx, parts_rx) = unbounded();
    *inner.shared.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&shared));

    let mut senders = Vec::with_capacity(workers);
    let mut mailboxes = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = unbounded();
        senders.push(tx);
        mailboxes.push(Mutex::new(Some(rx)));
    }
    let (threads_tx, threads_rx) = unbounded();
    let setup = Arc::new(WorkerSetup {
        outputs,
        first_time,
        origin: coordinator
            .as_ref()
            .and_then(|c| c.origin)
            .unwrap_or(first_time),
        interval,
        shared: Arc::clone(&shared),
        mailboxes,
        threads: threads_tx,
        restored,
        checkpoints: coordinator.as_ref().map(|c| Arc::clone(&c.store)),
        parts: parts_tx,
    });
    let worker_setup = Arc::clone(&setup);
    drop(setup);
    let guards = timely::execute(timely::Config::process(workers), move |w| {
        run_worker(w, &worker_setup)
    })
    .map_err(Error::Runtime)?;

    // Ends a run that cannot go on: workers stop, sources stop, `start` returns the error.
    let abort = |mut sources: Vec<Box<dyn SourcePlanner>>,
                 senders: Vec<Sender<ToWorker>>,
                 guards: timely::communication::WorkerGuards<()>,
                 e: Error| {
        shared.stop_now();
        for s in sources.iter_mut() {
            s.stop();
        }
        drop(senders);
        drop(guards.join());
        Err(e)
    };
    let threads = match collect_threads(&threads_rx, workers, &shared) {
        Ok(t) => t,
        Err(e) => return abort(sources, senders, guards, e),
    };
    if let Some(c) = coordinator.as_mut() {
        let now = fingerprint(&shared.metrics.graph());
        match &c.fingerprint {
            Some(old) if *old != now => {
                let e = fingerprint_mismatch(&c.settings.dir, old, &now);
                return abort(sources, senders, guards, e);
            }
            _ => c.fingerprint = Some(now),
        }
    }
    inner.status().first_time = Some(first_time);

    let bus = {
        let inner = Arc::clone(inner);
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("freshet-monitor".into())
            .spawn(move || monitor(&inner, &shared, events_rx))
            .map_err(|e| Error::Runtime(format!("cannot start the monitor thread: {e}")))?
    };

    let inner = Arc::clone(inner);
    std::thread::Builder::new()
        .name("freshet-driver".into())
        .spawn(move || {
            let replay = recovery.map(|r| r.replay).unwrap_or_default();
            let mut driver = Driver {
                inner: &inner,
                shared: &shared,
                sources,
                senders,
                threads,
                interval,
                available_now,
                coordinator,
                parts: parts_rx,
                submitted: Vec::new(),
            };
            driver.run(first_time, replay);
            drop(driver);
            for (i, r) in guards.join().into_iter().enumerate() {
                if let Err(message) = r {
                    shared.fail(Error::WorkerPanicked { worker: i, message });
                }
            }
            shared.event(RuntimeEvent::Shutdown);
            let _ = bus.join();
            let error = shared.failure();
            {
                let mut st = inner.status();
                st.phase = Phase::Stopped;
                st.error = error.as_ref().map(Error::duplicate);
                st.pending.clear();
                inner.changed.notify_all();
            }
            for l in inner.listeners() {
                l.on_stopped(error.as_ref());
            }
        })
        .map_err(|e| Error::Runtime(format!("cannot start the driver thread: {e}")))?;
    Ok(())
}

fn collect_threads(
    rx: &Receiver<(usize, Thread)>,
    workers: usize,
    shared: &Shared,
) -> Result<Vec<Thread>> {
    let mut threads: Vec<Option<Thread>> = vec![None; workers];
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < workers {
        if let Some(e) = shared.failure() {
            return Err(e);
        }
        if Instant::now() > deadline {
            return Err(Error::Runtime("workers did not start within 60 s".into()));
        }
        if let Ok((i, t)) = rx.recv_timeout(POLL) {
            if threads[i].replace(t).is_none() {
                seen += 1;
            }
        }
    }
    Ok(threads.into_iter().flatten().collect())
}

fn monitor(inner: &ContextInner, shared: &Shared, events: Receiver<RuntimeEvent>) {
    for e in events.iter() {
        match e {
            RuntimeEvent::Progress { through, at } => record_completion(inner, shared, through, at),
            RuntimeEvent::OutputStarted { name, time } => {
                for l in inner.listeners() {
                    l.on_output_operation_started(&name, BatchTime(time));
                }
            }
            RuntimeEvent::OutputCompleted {
                name,
                time,
                duration,
            } => {
                let info = OutputOperationInfo {
                    name,
                    time: BatchTime(time),
                    duration,
                };
                for l in inner.listeners() {
                    l.on_output_operation_completed(&info);
                }
            }
            RuntimeEvent::Receiver { name, event } => {
                for l in inner.listeners() {
                    l.on_receiver_event(&name, &event);
                }
            }
            RuntimeEvent::Shutdown => break,
        }
    }
}

struct Driver<'a> {
    inner: &'a Arc<ContextInner>,
    shared: &'a Arc<Shared>,
    sources: Vec<Box<dyn SourcePlanner>>,
    senders: Vec<Sender<ToWorker>>,
    threads: Vec<Thread>,
    interval: u64,
    available_now: bool,
    coordinator: Option<Coordinator>,
    parts: Receiver<std::result::Result<PartInfo, String>>,
    /// Batches submitted and not yet marked completed in the batch log.
    submitted: Vec<u64>,
}

/// Hands each worker its split of source `id` (a worker without one gets nothing).
fn assign(per_worker: &mut [Vec<(SourceId, Split)>], id: SourceId, splits: Vec<Option<Split>>) {
    for (worker, split) in per_worker.iter_mut().zip(splits) {
        if let Some(split) = split {
            worker.push((id, split));
        }
    }
}

/// How a source is named in the batch log and in checkpoints: its registration order and name,
/// the same whenever the same pipeline code builds the context.
fn source_key(index: usize, name: &str) -> String {
    format!("{index}:{name}")
}

impl Driver<'_> {
    fn stop_request(&self) -> Option<StopKind> {
        if self.shared.stopping_now() {
            return Some(StopKind::Now);
        }
        self.inner.status().stop
    }

    fn run(&mut self, first_time: u64, replay: Vec<BatchEntry>) {
        let mut t = first_time;
        if self.coordinator.as_ref().is_some_and(|c| c.fresh) {
            // A fresh directory: record where the sources start, before the first batch.
            self.checkpoint(first_time.saturating_sub(self.interval));
        }
        for entry in replay {
            if self.stop_request() == Some(StopKind::Now) {
                break;
            }
            let Some(splits) = self.replay_splits(&entry) else {
                break;
            };
            tracing::info!("replaying batch {} from the batch log", entry.time);
            self.inner.status().waiting = Some((entry.time, Instant::now()));
            if !self.submit(entry.time, splits, Instant::now(), Duration::ZERO) {
                break;
            }
            self.submitted.push(entry.time);
            self.maintain(false);
            t = entry.time + self.interval;
        }
        loop {
            if !self.wait_for(t) {
                break;
            }
            let tick = Instant::now();
            if self.available_now {
                match self.availability() {
                    Availability::Exhausted => break,
                    Availability::Pending => {
                        std::thread::sleep(Duration::from_millis(self.interval.clamp(1, 5)));
                        continue;
                    }
                    Availability::Ready => {}
                }
            }
            let Some(splits) = self.plan(t) else { break };
            if self.shared.stopping_now() {
                break;
            }
            self.inner.status().waiting = Some((t, Instant::now()));
            for l in self.inner.listeners() {
                l.on_batch_submitted(BatchTime(t));
            }
            let late = self.inner.clock.now().0.saturating_sub(t);
            if !self.submit(
                t,
                splits,
                tick,
                Duration::from_millis(if self.available_now { 0 } else { late }),
            ) {
                break;
            }
            self.submitted.push(t);
            self.maintain(false);
            t += self.interval;
        }
        if self.stop_request() != Some(StopKind::Now) {
            // A graceful end: stop receiving, then one last batch for what was received.
            for s in self.sources.iter_mut() {
                s.stop();
            }
            // Operators with open event-time windows need one last batch to emit them in.
            let flush = self.inner.flush_at_end.load(Ordering::SeqCst);
            if flush || self.sources.iter().any(|s| s.has_buffered()) {
                if let Some(splits) = self.plan(t) {
                    if flush {
                        self.shared.set_final_batch(t);
                    }
                    if self.submit(t, splits, Instant::now(), Duration::ZERO) {
                        self.submitted.push(t);
                    }
                }
            }
            // The last checkpoint of a graceful stop.
            self.maintain(true);
        }
        for s in self.sources.iter_mut() {
            s.stop();
        }
        for tx in &self.senders {
            let _ = tx.send(ToWorker::End);
        }
        self.wake_workers();
    }

    /// Waits until batch `t` is due; `false` if the run should end instead.
    fn wait_for(&self, t: u64) -> bool {
        loop {
            if self.stop_request().is_some() {
                return false;
            }
            if self.available_now || self.inner.clock.wait_until(BatchTime(t), POLL) {
                return true;
            }
        }
    }

    fn availability(&mut self) -> Availability {
        let mut all = Availability::Exhausted;
        for s in self.sources.iter_mut() {
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
    fn plan(&mut self, t: u64) -> Option<Vec<Vec<(SourceId, Split)>>> {
        let workers = self.senders.len();
        let mut per_worker: Vec<Vec<(SourceId, Split)>> =
            (0..workers).map(|_| Vec::new()).collect();
        let logging = self.coordinator.is_some();
        let mut record: BatchRecord = Vec::new();
        for (i, s) in self.sources.iter_mut().enumerate() {
            let planned = if logging {
                s.plan_recorded(t, workers).map(|(splits, r)| {
                    record.push((source_key(i, s.name()), r));
                    splits
                })
            } else {
                s.plan(t, workers)
            };
            match planned {
                Ok(splits) => {
                    self.shared.metrics.set_lag(s.id(), s.lag());
                    assign(&mut per_worker, s.id(), splits);
                }
                Err(e) => {
                    tracing::error!(source = s.name(), "cannot plan batch {t}");
                    self.shared.fail(e);
                    return None;
                }
            }
        }
        if let Some(c) = self.coordinator.as_mut() {
            if let Err(e) = c.log_batch(t, &record) {
                self.shared.fail(e);
                return None;
            }
        }
        Some(per_worker)
    }

    /// The splits of a logged batch, rebuilt by its sources.
    fn replay_splits(&mut self, entry: &BatchEntry) -> Option<Vec<Vec<(SourceId, Split)>>> {
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
        for (i, s) in self.sources.iter_mut().enumerate() {
            let key = source_key(i, s.name());
            let logged = record
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, r)| r.as_ref());
            let Some(bytes) = logged else {
                tracing::warn!(
                    "batch {}: source {key} cannot replay its records (only replayable sources give exactly-once results)",
                    entry.time
                );
                continue;
            };
            match s.replay(bytes, workers) {
                Ok(splits) => {
                    assign(&mut per_worker, s.id(), splits);
                }
                Err(e) => {
                    self.shared.fail(e);
                    return None;
                }
            }
        }
        Some(per_worker)
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
        {
            let done = |st: &Status| st.completed_through.is_some_and(|c| c >= newest);
            let abort = |st: &Status| st.phase == Phase::Stopped;
            if self.wait_status(done, abort).is_none() {
                return;
            }
        }
        self.mark_completed();
        self.checkpoint(newest);
    }

    fn mark_completed(&mut self) {
        let Some(c) = self.coordinator.as_mut() else {
            return;
        };
        let through = self.inner.status().completed_through;
        while let Some(&t) = self.submitted.first() {
            if through.is_none_or(|c| c < t) {
                break;
            }
            self.submitted.remove(0);
            if let Err(e) = c.completed(t) {
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
        let started = Instant::now();
        let id = c.next_checkpoint();
        for tx in &self.senders {
            let _ = tx.send(ToWorker::Checkpoint { id });
        }
        self.wake_workers();
        let mut parts = Vec::with_capacity(self.senders.len());
        let deadline = Instant::now() + Duration::from_secs(300);
        while parts.len() < self.senders.len() {
            if self.shared.stopping_now() || Instant::now() > deadline {
                self.coordinator = Some(c);
                return;
            }
            match self.parts.recv_timeout(POLL) {
                Ok(Ok(part)) => parts.push(part),
                Ok(Err(e)) => {
                    self.shared.fail(Error::Durable(format!(
                        "a worker could not store its snapshot: {e}"
                    )));
                    self.coordinator = Some(c);
                    return;
                }
                Err(_) => {}
            }
        }
        let mut positions = BTreeMap::new();
        for (i, s) in self.sources.iter().enumerate() {
            if let Some(p) = s.position() {
                positions.insert(source_key(i, s.name()), p);
            }
        }
        let mut config = BTreeMap::new();
        config.insert("batch_interval_ms".to_string(), self.interval.to_string());
        config.insert("workers".to_string(), self.senders.len().to_string());
        let bytes = parts.iter().map(|p| p.len).sum();
        match c.commit(id, time, config, positions, parts) {
            Ok(()) => {
                if let Some(oldest) = c.oldest_positions() {
                    for (i, s) in self.sources.iter_mut().enumerate() {
                        if let Some(p) = oldest.get(&source_key(i, s.name())) {
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
                self.shared.metrics.checkpoint_written(&info);
                for l in self.inner.listeners() {
                    l.on_checkpoint_written(&info);
                }
            }
            Err(e) => self.shared.fail(e),
        }
        self.coordinator = Some(c);
    }

    /// Hands batch `t` to the workers once fewer than the allowed number of batches are in
    /// flight; `false` if the run ended while waiting.
    fn submit(
        &mut self,
        t: u64,
        splits: Vec<Vec<(SourceId, Split)>>,
        tick: Instant,
        late: Duration,
    ) -> bool {
        let max = self.inner.config.max_in_flight();
        {
            let has_room = |st: &Status| st.pending.len() < max;
            let abort = |st: &Status| st.stop == Some(StopKind::Now);
            let Some(mut st) = self.wait_status(has_room, abort) else {
                return false;
            };
            let now = Instant::now();
            st.waiting = None;
            st.pending.insert(
                t,
                Pending {
                    submitted_at: now,
                    scheduling_delay: late + now.saturating_duration_since(tick),
                },
            );
        }
        let next = t + self.interval;
        for (tx, splits) in self.senders.iter().zip(splits) {
            let _ = tx.send(ToWorker::Batch {
                time: t,
                next,
                splits,
            });
        }
        self.wake_workers();
        for l in self.inner.listeners() {
            l.on_batch_started(BatchTime(t));
        }
        true
    }

    /// Waits until `done` holds for the context's status (and returns it locked), or `None` if
    /// `abort` holds first or the run must end now.
    fn wait_status(
        &self,
        done: impl Fn(&Status) -> bool,
        abort: impl Fn(&Status) -> bool,
    ) -> Option<std::sync::MutexGuard<'_, Status>> {
        let mut st = self.inner.status();
        while !done(&st) {
            if self.shared.stopping_now() || abort(&st) {
                return None;
            }
            st = self
                .inner
                .changed
                .wait_timeout(st, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Some(st)
    }

    fn wake_workers(&self) {
        for t in &self.threads {
            t.unpark();
        }
    }
}
