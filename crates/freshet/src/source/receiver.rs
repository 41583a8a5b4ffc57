//! Receivers: push sources that run on their own thread and store records as they arrive.
//!
//! Implement [`Receiver`] for a custom source and pass it to
//! [`StreamingContext::receiver_stream`](crate::StreamingContext::receiver_stream). The
//! receiver's `run` loops, calling [`ReceiverContext::store`] for each record; at every batch
//! boundary the driver assigns what was stored since the previous boundary to the batch. The
//! buffer is bounded: when it is full, `store` blocks until the next batch takes its contents,
//! so a receiver that reads from a socket stops reading and TCP pushes back on the sender.
//!
//! # Failures and restarts
//!
//! A supervisor runs the receiver. When `run` returns an error, the error's class decides: a
//! retryable error ([`RetryHint::WithBackoff`](crate::RetryHint)) restarts the receiver after
//! a back-off that doubles with every consecutive failure, up to a cap ([`Backoff`]); any other
//! error fails the job. When `run` returns `Ok`, its source has ended, unless
//! [`Receiver::restart_on_end`] asks for a restart (a socket client reconnecting).
//!
//! # Reliable receivers
//!
//! With a checkpoint directory, [`ReceiverContext::store_reliably`] returns only after the
//! records are in the receiver's write-ahead log, so a receiver that acknowledges its sender
//! after it returns loses nothing that was acknowledged. On failure it hands the records back
//! ([`StoreError`]) so the receiver can refuse to acknowledge them.

pub use super::direct::BadRecordPolicy;
use crate::data::Data;
use crate::error::{Error, SourceError};
use crate::run::Shared;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The records a receiver may hold before `store` blocks.
pub const DEFAULT_BUFFER_RECORDS: usize = 1 << 20;

/// A push source. See the [module documentation](self).
pub trait Receiver: Send + 'static {
    /// The records it produces.
    type Item: Data;

    /// The receiver for messages, with its address: `socket 127.0.0.1:9999`.
    fn name(&self) -> String;

    /// A short name of the kind of receiver, without addresses (`"socket_text_stream"`): the
    /// operator's name in the pipeline graph and the default id.
    fn kind(&self) -> &'static str {
        "receiver_stream"
    }

    /// Runs on the thread that calls `start()`, before `run`: bind listening sockets here, so
    /// that an address in use fails `start()` with a clear error.
    fn on_start(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// Receives records and stores them until the source ends (`Ok`), fails (`Err`: restarted
    /// or failing the job, by the error's class) or [`ReceiverContext::is_stopped`] turns true.
    /// Blocking reads should time out now and then to look at `is_stopped`.
    fn run(&mut self, ctx: &ReceiverContext<Self::Item>) -> Result<(), SourceError>;

    /// Whether `run` is called again after it returned `Ok` (default `false`). Never in an
    /// available-now run, where the end of the source ends the run.
    fn restart_on_end(&self) -> bool {
        false
    }
}

/// How long a failed receiver waits before it is restarted: `initial` after the first failure,
/// doubling with each consecutive failure up to `max`. A run that stored records resets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (1 ms ..= 1 h; default 100 ms).
    pub initial: Duration,
    /// The longest delay (at least `initial`, at most 1 h; default 30 s).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }

    pub(crate) fn validate(&self) -> crate::error::Result<()> {
        let hour = Duration::from_secs(3600);
        if self.initial < Duration::from_millis(1) || self.initial > hour {
            return Err(Error::Config(format!(
                "the receiver back-off's initial delay must be between 1 ms and 1 h, not {:?}",
                self.initial
            )));
        }
        if self.max < self.initial || self.max > hour {
            return Err(Error::Config(format!(
                "the receiver back-off's maximum delay must be between its initial delay ({:?}) and 1 h, not {:?}",
                self.initial, self.max
            )));
        }
        Ok(())
    }
}

/// Options of a receiver stream.
#[derive(Clone, Copy, Debug)]
pub struct ReceiverOptions {
    /// The records the buffer holds before `store` blocks (1 ..= 2^32; default 2^20).
    pub capacity: usize,
    /// The restart back-off.
    pub backoff: Backoff,
    /// The most records per second it stores (default: no limit).
    pub max_rate: Option<f64>,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        ReceiverOptions {
            capacity: DEFAULT_BUFFER_RECORDS,
            backoff: Backoff::default(),
            max_rate: None,
        }
    }
}

impl ReceiverOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer of at most `records` records.
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = records;
        self
    }

    /// The restart back-off.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Stores at most `records_per_sec` records per second (1 ..= 10⁹): `store` waits until
    /// the records fit, so the receiver stops reading and its sender is held back. Spark's
    /// `spark.streaming.receiver.maxRate`. Backpressure may lower it further.
    pub fn max_rate(mut self, records_per_sec: f64) -> Self {
        self.max_rate = Some(records_per_sec);
        self
    }

    pub(crate) fn validate(&self) -> crate::error::Result<()> {
        crate::rate::check_rate("a receiver's max_rate", self.max_rate)?;
        if !(1..=1usize << 32).contains(&self.capacity) {
            return Err(Error::Config(format!(
                "a receiver's capacity must be between 1 and 2^32 records, not {}",
                self.capacity
            )));
        }
        self.backoff.validate()
    }
}

/// Records that could not be stored, handed back with the reason.
#[derive(Debug, thiserror::Error)]
#[error("cannot store {} records: {error}", records.len())]
pub struct StoreError<T> {
    /// The records, not stored: do not acknowledge them.
    pub records: Vec<T>,
    /// Why.
    #[source]
    pub error: Error,
}

pub(crate) struct Buffer<T> {
    pub records: Mutex<Vec<T>>,
    pub not_full: Condvar,
    pub capacity: usize,
    /// The write-ahead log, when the context checkpoints. Locked after `records`.
    pub wal: Mutex<Option<super::receiver_wal::ReceiverWal>>,
}

impl<T> Buffer<T> {
    pub fn new(capacity: usize) -> Self {
        Buffer {
            records: Mutex::new(Vec::new()),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
            wal: Mutex::new(None),
        }
    }

    pub fn records(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn wal(&self) -> std::sync::MutexGuard<'_, Option<super::receiver_wal::ReceiverWal>> {
        self.wal.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a running receiver uses to store records.
pub struct ReceiverContext<T> {
    pub(crate) buffer: Arc<Buffer<T>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) uid: String,
    pub(crate) available_now: bool,
    pub(crate) stored: Arc<AtomicBool>,
    pub(crate) rate: Arc<crate::rate::RateLimit>,
}

impl<T> Clone for ReceiverContext<T> {
    fn clone(&self) -> Self {
        ReceiverContext {
            buffer: Arc::clone(&self.buffer),
            stop: Arc::clone(&self.stop),
            shared: Arc::clone(&self.shared),
            uid: self.uid.clone(),
            available_now: self.available_now,
            stored: Arc::clone(&self.stored),
            rate: Arc::clone(&self.rate),
        }
    }
}

impl<T: Data> ReceiverContext<T> {
    /// Stores one record. Blocks while the buffer is full (until the next batch takes it or the
    /// context stops); a stored record is never dropped. If the write-ahead log cannot be
    /// written, the job fails.
    pub fn store(&self, record: T) {
        self.store_many(vec![record]);
    }

    /// Stores several records at once (cheaper than one at a time), as [`store`](Self::store).
    pub fn store_many(&self, records: Vec<T>) {
        if let Err(e) = self.store_reliably(records) {
            self.shared.fail(e.error);
        }
    }

    /// Stores `records` as one block and returns once it is safe: with a checkpoint directory,
    /// after the block is in the receiver's write-ahead log (fsynced per the WAL policy), so a
    /// *reliable* receiver acknowledges its sender only after this returns `Ok`. On `Err`
    /// nothing was stored: the records come back in the error, and the sender must not be
    /// acknowledged.
    pub fn store_reliably(&self, mut records: Vec<T>) -> Result<(), StoreError<T>> {
        if records.is_empty() {
            return Ok(());
        }
        self.rate.admit(records.len(), || self.is_stopped());
        let mut buffered = self.wait_for_room();
        if let Some(wal) = self.buffer.wal().as_mut() {
            if let Err(error) = wal.append(&records) {
                return Err(StoreError { records, error });
            }
        }
        buffered.append(&mut records);
        self.stored.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn wait_for_room(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        let mut records = self.buffer.records();
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
        self.bad_record_raw(policy, what, &[]);
    }

    /// Reports a malformed record with its bytes, which a dead-letter file keeps
    /// ([`BadRecordPolicy::DeadLetter`]).
    pub fn bad_record_raw(&self, policy: BadRecordPolicy, what: &str, raw: &[u8]) {
        match policy {
            BadRecordPolicy::DeadLetter => self.shared.dead_letter(&self.uid, what, raw),
            BadRecordPolicy::Skip => self.shared.skip(&self.uid, what),
            BadRecordPolicy::Fail => self.shared.fail(Error::Source {
                id: self.uid.clone(),
                error: SourceError::user(what.to_string()),
            }),
        }
    }
}
