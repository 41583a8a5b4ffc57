//! Receivers: push sources that run on their own thread and store records as they arrive.
//!
//! Implement [`Receiver`] for a custom source and pass it to
//! [`StreamingContext::receiver_stream`]. The receiver's `run` loops, calling
//! [`ReceiverContext::store`] for each record; at every batch boundary the driver assigns what
//! was stored since the previous boundary to the batch. The buffer is bounded: when it is full,
//! `store` blocks until the next batch takes its contents, so a receiver that reads from a
//! socket stops reading and TCP pushes back on the sender.
//!
//! When `run` returns an error the receiver is restarted after a short delay (as Spark
//! restarts failed receivers); when it returns `Ok`, its source has ended, unless
//! [`Receiver::restart_on_end`] asks for a restart (a socket client reconnecting).

use super::{split_evenly, Availability, SourcePlanner};
use crate::context::StreamingContext;
use crate::data::Data;
use crate::dstream::DStream;
use crate::error::Error;
use crate::error::Result;
use crate::listener::ReceiverEvent;
use crate::metrics::ReceiverState;
use crate::plan::{next_id, SourceId, Split};
use crate::runtime::{RuntimeEvent, Shared};
use crate::source::queue::records_stream;
use crate::source::receiver_wal::ReceiverWal;
use crate::source::Recorded;
use freshet_durable::FsyncPolicy;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The records a receiver may hold before `store` blocks.
pub const DEFAULT_BUFFER_RECORDS: usize = 1 << 20;

/// How long a failed receiver waits before it is restarted.
const RESTART_DELAY: Duration = Duration::from_millis(200);

/// What to do with a malformed record (for example a line that is not valid UTF-8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadRecordPolicy {
    /// Skip it, count it and log it (the default).
    #[default]
    Skip,
    /// Fail the job.
    Fail,
}

/// A push source. See the [module documentation](self).
pub trait Receiver: Send + 'static {
    /// The records it produces.
    type Item: Data;

    /// A name for messages, e.g. `socket 127.0.0.1:9999`.
    fn name(&self) -> String;

    /// Runs on the thread that calls `start()`, before `run`: bind listening sockets here, so
    /// that an address in use fails `start()` with a clear error.
    fn on_start(&mut self) -> Result<()> {
        Ok(())
    }

    /// Receives records and stores them until the source ends (`Ok`), fails (`Err`: the
    /// receiver is restarted) or [`ReceiverContext::is_stopped`] turns true. Blocking reads
    /// should time out now and then to look at `is_stopped`.
    fn run(&mut self, ctx: &ReceiverContext<Self::Item>) -> Result<()>;

    /// Whether `run` is called again after it returned `Ok` (default `false`). Never in an
    /// available-now run, where the end of the source ends the run.
    fn restart_on_end(&self) -> bool {
        false
    }
}

struct Buffer<T> {
    records: Mutex<Vec<T>>,
    not_full: Condvar,
    capacity: usize,
    /// The write-ahead log, when the context checkpoints. Locked after `records`.
    wal: Mutex<Option<ReceiverWal>>,
}

impl<T> Buffer<T> {
    fn wal(&self) -> std::sync::MutexGuard<'_, Option<ReceiverWal>> {
        self.wal.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a running receiver uses to store records.
pub struct ReceiverContext<T> {
    buffer: Arc<Buffer<T>>,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    name: String,
    available_now: bool,
}

impl<T> Clone for ReceiverContext<T> {
    fn clone(&self) -> Self {
        ReceiverContext {
            buffer: Arc::clone(&self.buffer),
            stop: Arc::clone(&self.stop),
            shared: Arc::clone(&self.shared),
            name: self.name.clone(),
            available_now: self.available_now,
        }
    }
}

impl<T: Data> ReceiverContext<T> {
    /// Stores one record. Blocks while the buffer is full (until the next batch takes it or the
    /// context stops); a stored record is never dropped. If the write-ahead log cannot be
    /// written, the job fails.
    pub fn store(&self, record: T) {
        self.store_many(&mut vec![record]);
    }

    /// Stores several records at once (cheaper than one at a time), as [`store`](Self::store).
    pub fn store_many(&self, batch: &mut Vec<T>) {
        if let Err(e) = self.store_reliably(batch) {
            self.shared.fail(e);
        }
    }

    /// Stores `batch` as one block and returns once it is safe: with a checkpoint directory,
    /// after the block is in the receiver's write-ahead log (fsynced per the WAL policy), so a
    /// *reliable* receiver acknowledges its sender only after this returns `Ok`. On `Err`
    /// nothing was stored (`batch` keeps the records), and the sender must not be acknowledged.
    pub fn store_reliably(&self, batch: &mut Vec<T>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut records = self.wait_for_room();
        if let Some(wal) = self.buffer.wal().as_mut() {
            wal.append(batch)?;
        }
        records.append(batch);
        Ok(())
    }

    fn wait_for_room(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        let mut records = self
            .buffer
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        while records.len() >= self.buffer.capacity && !self.is_stopped() {
            records = self
                .buffer
                .not_full
                .wait_timeout(records, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        records
    }

    /// Whether the receiver should stop.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.shared.stopping_now()
    }

    /// Whether this is an available-now run (the source should end when its input ends).
    pub fn available_now(&self) -> bool {
        self.available_now
    }

    /// Reports a malformed record under `policy`: counted and logged, or failing the job.
    pub fn bad_record(&self, policy: BadRecordPolicy, what: &str) {
        match policy {
            BadRecordPolicy::Skip => self.shared.skip(&self.name, what),
            BadRecordPolicy::Fail => self.shared.fail(crate::error::Error::Source {
                source_name: self.name.clone(),
                message: what.to_string(),
            }),
        }
    }
}

struct ReceiverSource<R: Receiver> {
    id: SourceId,
    name: String,
    wal_dir: Option<(PathBuf, FsyncPolicy)>,
    receiver: Option<R>,
    buffer: Arc<Buffer<R::Item>>,
    stop: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<R: Receiver> SourcePlanner for ReceiverSource<R> {
    fn id(&self) -> SourceId {
        self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn start(&mut self, available_now: bool, shared: &Arc<Shared>) -> Result<()> {
        let Some(mut receiver) = self.receiver.take() else {
            return Ok(());
        };
        if let Some((dir, fsync)) = self.wal_dir.clone() {
            *self.buffer.wal() = Some(ReceiverWal::open(dir, fsync)?);
        }
        receiver.on_start()?;
        let ctx = ReceiverContext {
            buffer: Arc::clone(&self.buffer),
            stop: Arc::clone(&self.stop),
            shared: Arc::clone(shared),
            name: self.name.clone(),
            available_now,
        };
        let finished = Arc::clone(&self.finished);
        let name = self.name.clone();
        let id = self.id;
        let shared = Arc::clone(shared);
        let report = move |state: ReceiverState, event: ReceiverEvent| {
            let error = match &event {
                ReceiverEvent::Error(e) => Some(e.clone()),
                _ => None,
            };
            shared.metrics.set_receiver_state(id, state, error);
            shared.event(RuntimeEvent::Receiver {
                name: name.clone(),
                event,
            });
        };
        let thread = std::thread::Builder::new()
            .name(format!("freshet-receiver-{}", self.id))
                        .spawn(move || {
                                report(ReceiverState::Running, ReceiverEvent::Started);
                let mut failed = false;
                loop {
                    if failed {
                        report(ReceiverState::Running, ReceiverEvent::Started);
                        failed = false;
                    }
                    match receiver.run(&ctx) {
                        Ok(())
                            if ctx.is_stopped() || available_now || !receiver.restart_on_end() =>
                        {
                            break
                        }
                        Ok(()) => {}
                                                Err(e) => {
                            if ctx.is_stopped() {
                                break;
                            }
                            tracing::warn!(receiver = %ctx.name, "receiver failed, restarting: {e}");
                            report(ReceiverState::Restarting, ReceiverEvent::Error(e.to_string()));
                            failed = true;
                        }
                    }
                    let until = Instant::now() + RESTART_DELAY;
                    while Instant::now() < until && !ctx.is_stopped() {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    if ctx.is_stopped() {
                        break;
                    }
                }
                                report(ReceiverState::Stopped, ReceiverEvent::Stopped);
                finished.store(true, Ordering::SeqCst);
            })
            .map_err(|e| {
                crate::error::Error::Runtime(format!("cannot start receiver thread: {e}"))
            })?;
        self.thread = Some(thread);
        Ok(())
    }

    fn plan(&mut self, time: u64, workers: usize) -> Result<Vec<Option<Split>>> {
        Ok(self.plan_recorded(time, workers)?.0)
    }

    fn plan_recorded(&mut self, _time: u64, workers: usize) -> Result<Recorded> {
        let (records, record) = {
            let mut r = self
                .buffer
                .records
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let mut wal = self.buffer.wal();
            match wal.as_mut() {
                Some(wal) => {
                    // Blocks stored before a crash and never assigned come first.
                    let mut records: Vec<R::Item> = wal.take_tail()?;
                    records.append(&mut r);
                    let (from, to) = (wal.planned(), wal.written());
                    wal.set_planned(to);
                    (records, Some(super::encode_pair(from, to)))
                }
                None => (std::mem::take(&mut *r), None),
            }
        };
        self.buffer.not_full.notify_all();
        Ok((split_evenly(records, workers), record))
    }

    fn replay(&mut self, record: &[u8], workers: usize) -> Result<Vec<Option<Split>>> {
        let (from, to) = super::decode_pair(record, &self.name)?;
        let mut wal = self.buffer.wal();
        let Some(wal) = wal.as_mut() else {
            return Err(Error::Durable(format!(
                "{}: a logged batch needs the write-ahead log",
                self.name
            )));
        };
        let records: Vec<R::Item> = wal.read(from, to)?;
        wal.set_planned(to);
        Ok(split_evenly(records, workers))
    }

    fn position(&self) -> Option<Vec<u8>> {
        self.buffer
            .wal()
            .as_ref()
            .map(|w| w.planned().to_le_bytes().to_vec())
    }

    fn restore(&mut self, position: &[u8]) -> Result<()> {
        let offset = position
            .try_into()
            .map(u64::from_le_bytes)
            .map_err(|_| Error::Durable(format!("{}: undecodable position", self.name)))?;
        if let Some(wal) = self.buffer.wal().as_mut() {
            wal.restore(offset);
        }
        Ok(())
    }

    fn enable_wal(&mut self, dir: PathBuf, fsync: FsyncPolicy) {
        self.wal_dir = Some((dir, fsync));
    }

    fn checkpointed(&mut self, oldest_kept: &[u8]) {
        if let (Ok(bytes), Some(wal)) =
            (<[u8; 8]>::try_from(oldest_kept), self.buffer.wal().as_mut())
        {
            wal.truncate_before(u64::from_le_bytes(bytes));
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

    fn has_buffered(&self) -> bool {
        let records = !self
            .buffer
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        records || self.buffer.wal().as_ref().is_some_and(|w| w.has_tail())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.buffer.not_full.notify_all();
        if let Some(t) = self.thread.take() {
            // Receivers look at `is_stopped` at least every few hundred milliseconds; wait for
            // the thread so that what it stored before stopping makes the last batch.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                tracing::warn!(receiver = %self.name, "receiver did not stop within 5 s");
            }
        }
    }
}

impl StreamingContext {
    /// A stream of what a custom [`Receiver`] stores.
    pub fn receiver_stream<R: Receiver>(&self, receiver: R) -> DStream<R::Item> {
        self.receiver_stream_with_capacity(receiver, DEFAULT_BUFFER_RECORDS)
    }

    /// A receiver stream whose buffer holds at most `capacity` records.
    pub fn receiver_stream_with_capacity<R: Receiver>(
        &self,
        receiver: R,
        capacity: usize,
    ) -> DStream<R::Item> {
        let id = next_id();
        let name = receiver.name();
        self.inner.add_source(Box::new(ReceiverSource {
            id,
            name: name.clone(),
            receiver: Some(receiver),
            buffer: Arc::new(Buffer {
                records: Mutex::new(Vec::new()),
                not_full: Condvar::new(),
                capacity: capacity.max(1),
                wal: Mutex::new(None),
            }),
            wal_dir: None,
            stop: Arc::new(AtomicBool::new(false)),
            finished: Arc::new(AtomicBool::new(false)),
            thread: None,
        }));
        records_stream(self, id, &name)
    }
}
