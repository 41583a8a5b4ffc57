//! The engine side of a receiver: a supervisor thread that runs it and restarts it by the
//! class of its errors, and the driver side that assigns what it stored to batches (through
//! the write-ahead log when the context checkpoints).

use super::planner::{split_evenly, Availability, Recorded, SourcePlanner, StartInfo};
use super::receiver::{Buffer, Receiver, ReceiverContext, ReceiverOptions};
use super::receiver_wal::ReceiverWal;
use crate::codec;
use crate::error::{Error, Result, SourceError};
use crate::listener::ReceiverEvent;
use crate::metrics::{IncidentKind, ReceiverState};
use crate::plan::{SourceId, Split};
use crate::run::RuntimeEvent;
use freshet_durable::FsyncPolicy;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a stopping receiver may take before the run goes on without it.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// The driver side of a receiver.
pub(crate) struct ReceiverSource<R: Receiver> {
    id: SourceId,
    uid: String,
    kind: &'static str,
    name: String,
    options: ReceiverOptions,
    wal_dir: Option<(PathBuf, FsyncPolicy)>,
    receiver: Option<R>,
    buffer: Arc<Buffer<R::Item>>,
    stop: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    rate: Arc<crate::rate::RateLimit>,
}

impl<R: Receiver> ReceiverSource<R> {
    pub fn new(id: SourceId, receiver: R, options: ReceiverOptions) -> Self {
        ReceiverSource {
            id,
            uid: String::new(),
            kind: receiver.kind(),
            name: receiver.name(),
            options,
            wal_dir: None,
            receiver: Some(receiver),
            buffer: Arc::new(Buffer::new(options.capacity)),
            stop: Arc::new(AtomicBool::new(false)),
            finished: Arc::new(AtomicBool::new(false)),
            thread: None,
            rate: Arc::new(crate::rate::RateLimit::new(options.max_rate)),
        }
    }

    fn what(&self, thing: &str) -> String {
        format!("receiver `{}`: {thing}", self.uid)
    }
}

/// Runs `receiver` until it ends, the run stops, or it fails with an error that is not worth
/// retrying (which fails the job); retryable failures restart it after a growing back-off.
fn supervise<R: Receiver>(
    mut receiver: R,
    ctx: ReceiverContext<R::Item>,
    options: ReceiverOptions,
    report: impl Fn(ReceiverState, ReceiverEvent),
) {
    report(ReceiverState::Running, ReceiverEvent::Started);
    let mut failures = 0u32;
    loop {
        ctx.stored.store(false, Ordering::Relaxed);
        let outcome = receiver.run(&ctx);
        if ctx.is_stopped() {
            break;
        }
        if ctx.stored.load(Ordering::Relaxed) {
            failures = 0;
        }
        match outcome {
            Ok(()) if ctx.available_now || !receiver.restart_on_end() => break,
            Ok(()) => failures = 0,
            Err(e) if e.is_retryable() => {
                failures += 1;
                let delay = options.backoff.delay(failures);
                tracing::warn!(receiver = %ctx.uid, "receiver failed, restarting in {delay:?}: {e}");
                report(
                    ReceiverState::Restarting,
                    ReceiverEvent::Error(e.to_string()),
                );
                let until = Instant::now() + delay;
                while Instant::now() < until && !ctx.is_stopped() {
                    std::thread::sleep(Duration::from_millis(10).min(delay));
                }
                if ctx.is_stopped() {
                    break;
                }
                report(ReceiverState::Running, ReceiverEvent::Started);
                continue;
            }
            Err(error) => {
                report(
                    ReceiverState::Stopped,
                    ReceiverEvent::Error(error.to_string()),
                );
                ctx.shared.fail(Error::Source {
                    id: ctx.uid.clone(),
                    error,
                });
                return;
            }
        }
        // A source that ended and asks for a restart (a client reconnecting): a short pause.
        let until = Instant::now() + options.backoff.initial;
        while Instant::now() < until && !ctx.is_stopped() {
            std::thread::sleep(Duration::from_millis(10));
        }
        if ctx.is_stopped() {
            break;
        }
    }
    report(ReceiverState::Stopped, ReceiverEvent::Stopped);
}

impl<R: Receiver> SourcePlanner for ReceiverSource<R> {
    fn id(&self) -> SourceId {
        self.id
    }

    fn kind(&self) -> &str {
        self.kind
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn start(&mut self, info: &StartInfo<'_>) -> Result<()> {
        self.uid = info.uid.to_string();
        let Some(mut receiver) = self.receiver.take() else {
            return Ok(());
        };
        if let Some((dir, fsync)) = self.wal_dir.clone() {
            *self.buffer.wal() = Some(ReceiverWal::open(
                dir,
                fsync,
                info.damage,
                info.disk_full,
                Arc::clone(info.shared),
                self.uid.clone(),
            )?);
        }
        receiver.on_start().map_err(|error| Error::Source {
            id: self.uid.clone(),
            error,
        })?;
        let ctx = ReceiverContext {
            buffer: Arc::clone(&self.buffer),
            stop: Arc::clone(&self.stop),
            shared: Arc::clone(info.shared),
            uid: self.uid.clone(),
            available_now: info.available_now,
            stored: Arc::new(AtomicBool::new(false)),
            rate: Arc::clone(&self.rate),
        };
        let finished = Arc::clone(&self.finished);
        let name = self.uid.clone();
        let id = self.id;
        let shared = Arc::clone(info.shared);
        let report = move |state: ReceiverState, event: ReceiverEvent| {
            let error = match &event {
                ReceiverEvent::Error(e) => Some(e.clone()),
                _ => None,
            };
            if let Some(e) = &error {
                shared
                    .metrics
                    .health
                    .incident(IncidentKind::ReceiverError, &name, e);
            }
            if shared.metrics.set_receiver_state(id, state, error) {
                shared.metrics.health.incident(
                    IncidentKind::ReceiverRestart,
                    &name,
                    "restarted after a failure",
                );
            }
            shared.event(RuntimeEvent::Receiver {
                name: name.clone(),
                event,
            });
        };
        let options = self.options;
        let thread = std::thread::Builder::new()
            .name(format!("freshet-receiver-{}", self.id))
            .spawn(move || {
                supervise(receiver, ctx, options, report);
                finished.store(true, Ordering::SeqCst);
            })
            .map_err(|error| Error::spawn(format!("receiver `{}`", self.uid), error))?;
        self.thread = Some(thread);
        Ok(())
    }

    fn plan(&mut self, _time: u64, workers: usize) -> Result<Recorded> {
        let (records, record) = {
            let mut r = self.buffer.records();
            let mut wal = self.buffer.wal();
            match wal.as_mut() {
                Some(wal) => {
                    // Blocks stored before a crash and never assigned come first.
                    let mut records: Vec<R::Item> = wal.take_tail()?;
                    records.append(&mut r);
                    let range = (wal.planned(), wal.written());
                    wal.set_planned(range.1);
                    (
                        records,
                        Some(codec::encode(&self.what("block range"), &range)?),
                    )
                }
                None => (std::mem::take(&mut *r), None),
            }
        };
        self.buffer.not_full.notify_all();
        Ok((split_evenly(records, workers), record))
    }

    fn replay(&mut self, record: &[u8], workers: usize) -> Result<Vec<Option<Split>>> {
        let (from, to): (u64, u64) = codec::decode(&self.what("logged block range"), record)?;
        let mut wal = self.buffer.wal();
        let Some(wal) = wal.as_mut() else {
            return Err(Error::Source {
                id: self.uid.clone(),
                error: SourceError::internal("a logged batch needs the write-ahead log"),
            });
        };
        let records: Vec<R::Item> = wal.read(from, to)?;
        wal.set_planned(to);
        Ok(split_evenly(records, workers))
    }

    fn position(&self) -> Result<Option<Vec<u8>>> {
        match self.buffer.wal().as_ref() {
            Some(w) => Ok(Some(codec::encode(&self.what("position"), &w.planned())?)),
            None => Ok(None),
        }
    }

    fn restore(&mut self, position: &[u8]) -> Result<()> {
        let offset: u64 = codec::decode(&self.what("checkpointed position"), position)?;
        if let Some(wal) = self.buffer.wal().as_mut() {
            wal.restore(offset);
        }
        Ok(())
    }

    fn enable_wal(&mut self, dir: PathBuf, fsync: FsyncPolicy) {
        self.wal_dir = Some((dir, fsync));
    }

    fn checkpointed(&mut self, oldest_kept: &[u8]) {
        match codec::decode::<u64>(&self.what("checkpointed position"), oldest_kept) {
            Ok(offset) => {
                if let Some(wal) = self.buffer.wal().as_mut() {
                    wal.truncate_before(offset);
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    fn availability(&mut self) -> Availability {
        if self.has_buffered() {
            Availability::Ready
        } else if self.finished.load(Ordering::SeqCst) {
            // The thread may have stored a last record just before finishing.
            if self.has_buffered() {
                Availability::Ready
            } else {
                Availability::Exhausted
            }
        } else {
            Availability::Pending
        }
    }

    fn is_receiver(&self) -> bool {
        true
    }

    fn replayable(&self) -> bool {
        self.wal_dir.is_some()
    }

    fn rate_limit(&self) -> Option<Arc<crate::rate::RateLimit>> {
        Some(Arc::clone(&self.rate))
    }

    fn has_buffered(&self) -> bool {
        let records = !self.buffer.records().is_empty();
        records || self.buffer.wal().as_ref().is_some_and(|w| w.has_tail())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.buffer.not_full.notify_all();
        if let Some(t) = self.thread.take() {
            // Receivers look at `is_stopped` at least every few hundred milliseconds; wait for
            // the thread so that what it stored before stopping makes the last batch.
            let deadline = Instant::now() + STOP_DEADLINE;
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                tracing::warn!(receiver = %self.uid, "receiver did not stop within {STOP_DEADLINE:?}");
            }
        }
    }
}
