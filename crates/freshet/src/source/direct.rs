//! The public interface of a direct (replayable) source.
//!
//! A direct source answers a few narrow questions; the engine does the rest. At each batch
//! boundary the engine asks where the next batch should end ([`DirectSource::latest`]), cuts
//! the range from where the previous batch ended into splits ([`DirectSource::splits`]), logs
//! the end of the range in the batch metadata log *before* the batch runs, and hands each worker
//! its splits, which the worker reads with the source's [`SplitReader`]. Offsets are the
//! source's own type; the engine serializes them into the batch log and into checkpoints.
//!
//! After a crash the engine restores the offset of the last checkpoint and replays every logged
//! batch: it asks for the splits of the same range again, so a source whose `splits` and
//! `read` depend only on the range gives exactly the same batches (this is what
//! [`replayable`](DirectSource::replayable) promises). With an idempotent or transactional sink
//! the output is then exactly-once.
//!
//! The engine also owns stopping, retries and the bad-record policy: a read that fails with a
//! retryable [`SourceError`] is retried with back-off, a malformed record reported through
//! [`ReadContext::bad_record`] is skipped and counted or fails the job, as the stream's
//! [`BadRecordPolicy`] says.

use crate::data::Data;
use crate::error::{Error, SourceError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// What to do with a malformed record (for example a line that is not valid UTF-8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadRecordPolicy {
    /// Skip it, count it and log it (the default).
    #[default]
    Skip,
    /// Fail the job.
    Fail,
    /// Keep it in the source's dead-letter file, `<dir>/<source id>.jsonl` (one JSON object
    /// per line: time, source, reason, and the record's bytes as text or hexadecimal), count it
    /// and log it. The directory is [`StreamingConfig::dead_letter_dir`](crate::StreamingConfig::dead_letter_dir),
    /// by default `dead-letters` in the checkpoint directory; a job with neither fails at its
    /// first bad record. A batch replayed after a crash writes its bad records again.
    DeadLetter,
}

/// A source whose batches are ranges of offsets that can be read again. See the
/// [module documentation](crate::source).
///
/// Plug one in with [`StreamingContext::direct_stream`](crate::StreamingContext::direct_stream).
pub trait DirectSource: Send + 'static {
    /// The records it produces.
    type Item: Data;
    /// A position in the source (a sequence number, an offset per partition, the files taken).
    /// The engine keeps the offset where the last batch ended and logs every batch's end.
    type Offset: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// One unit of a batch's work, read by one worker.
    type Split: Send + 'static;
    /// The worker-side reader.
    type Reader: SplitReader<Split = Self::Split, Item = Self::Item>;

    /// A short name of the kind of source, without addresses or paths (`"kafka"`,
    /// `"text_file_stream"`): the operator's name in the pipeline graph and the default id.
    fn kind(&self) -> &'static str;

    /// The source for messages: its address, directory or topic.
    fn describe(&self) -> String;

    /// Connects (or checks that the source can be read) and returns the offset to start from
    /// when there is no checkpoint. Called once, on the thread that calls `start()`; an error
    /// fails `start()`.
    fn start(&mut self, ctx: &StartContext) -> Result<Self::Offset, SourceError>;

    /// Where the next batch should end when it starts at `from`: `from` itself when nothing new
    /// is there. A source may cap the batch (a maximum of files or records per batch). A
    /// retryable error leaves the batch without records from this source (counted as skipped);
    /// the next batch asks again. Any other error fails the job.
    fn latest(&mut self, from: &Self::Offset) -> Result<Self::Offset, SourceError>;

    /// The work of the batch from `from` up to `to`, cut into splits for `workers` workers
    /// (the engine deals them out in order: split `i` goes to worker `i % workers`). For a
    /// replayable source the result must depend only on `from`, `to` and `workers`.
    fn splits(
        &mut self,
        from: &Self::Offset,
        to: &Self::Offset,
        workers: usize,
    ) -> Result<Vec<Self::Split>, SourceError>;

    /// The reader the workers use; shared by every worker.
    fn reader(&self) -> Self::Reader;

    /// Every batch up to `through` is in the oldest checkpoint kept: it will never be replayed
    /// again, so the source may forget it (commit consumer offsets, delete read files). Errors
    /// are logged, never fatal.
    fn commit(&mut self, through: &Self::Offset) -> Result<(), SourceError> {
        let _ = through;
        Ok(())
    }

    /// Whether the splits of a logged range can be rebuilt after a restart (`true` by default).
    /// A source that is not (an in-memory queue) contributes nothing to a replayed batch.
    fn replayable(&self) -> bool {
        true
    }

    /// Whether the source has ended at `at`: nothing more will ever come (a generator with a
    /// limit, the files present at the start of an available-now run).
    fn ended(&self, at: &Self::Offset) -> bool {
        let _ = at;
        false
    }

    /// Where the next batch ends when it may take at most `max_records` records (a rate
    /// limit: [`DirectOptions::max_rate`] or backpressure). The default ignores the limit
    /// and asks [`latest`](Self::latest): sources whose offsets count records override it
    /// (Kafka spreads the records over its partitions by their lag).
    fn latest_limited(
        &mut self,
        from: &Self::Offset,
        max_records: u64,
    ) -> Result<Self::Offset, SourceError> {
        let _ = max_records;
        self.latest(from)
    }

    /// How many records wait beyond `from`, where the source knows (shown as lag).
    fn lag(&self, from: &Self::Offset) -> Option<u64> {
        let _ = from;
        None
    }

    /// Per partition, how many records wait beyond `from`: `(name, records)` with names like
    /// `"topic/3"`, in a stable order. Empty (the default) where the source has no partitions
    /// or does not know. Asked once per batch, after [`lag`](Self::lag), on the driver's
    /// planning thread.
    fn lag_by_partition(&self, from: &Self::Offset) -> Vec<(String, u64)> {
        let _ = from;
        Vec::new()
    }

    /// Stops: close connections. Called once, when the run ends.
    fn stop(&mut self) {}
}

/// Reads one split into records, on a worker.
pub trait SplitReader: Send + Sync + 'static {
    /// The split type of the source.
    type Split: Send + 'static;
    /// The records it produces.
    type Item: Data;

    /// Appends the records of `split` to `out`. On a retryable error the engine truncates `out`
    /// back to its length before the call and reads the split again after a back-off; on any
    /// other error the job fails. Malformed records go to [`ReadContext::bad_record`].
    fn read(
        &self,
        split: &Self::Split,
        out: &mut Vec<Self::Item>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError>;
}

/// What a source learns when the context starts.
#[derive(Clone, Debug)]
pub struct StartContext {
    /// The source's stable id (checkpoint and batch-log key).
    pub id: String,
    /// Whether this is an available-now run: the source should take what is there now and
    /// then end.
    pub available_now: bool,
    /// The batch interval.
    pub batch_interval: std::time::Duration,
    /// Where to report input removed before the source read it, under the stream's
    /// [`DataLossPolicy`](super::DataLossPolicy).
    pub data_loss: super::DataLoss,
}

/// Reports bad records to the engine while a worker reads a split.
pub struct ReadContext<'a> {
    pub(crate) id: &'a str,
    pub(crate) worker: usize,
    pub(crate) policy: BadRecordPolicy,
    pub(crate) report: &'a dyn Fn(BadRecord),
}

/// A malformed record, as the engine receives it.
pub(crate) enum BadRecord {
    Skipped(String),
    Failed(Error),
    DeadLetter { what: String, raw: Vec<u8> },
}

impl ReadContext<'_> {
    /// The index of the worker that reads.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Reports a malformed record (`what` says which and why): skipped, counted and logged, or
    /// failing the job, as the stream's [`BadRecordPolicy`] says.
    pub fn bad_record(&self, what: &str) {
        self.bad_record_raw(what, &[]);
    }

    /// Reports a malformed record with its bytes, which a dead-letter file keeps
    /// ([`BadRecordPolicy::DeadLetter`]).
    pub fn bad_record_raw(&self, what: &str, raw: &[u8]) {
        match self.policy {
            BadRecordPolicy::Skip => (self.report)(BadRecord::Skipped(what.to_string())),
            BadRecordPolicy::Fail => (self.report)(BadRecord::Failed(Error::Source {
                id: self.id.to_string(),
                error: SourceError::user(what.to_string()),
            })),
            BadRecordPolicy::DeadLetter => (self.report)(BadRecord::DeadLetter {
                what: what.to_string(),
                raw: raw.to_vec(),
            }),
        }
    }
}

/// Options of a direct stream.
#[derive(Clone, Debug, Default)]
pub struct DirectOptions {
    /// What to do with malformed records.
    pub bad_records: BadRecordPolicy,
    /// How often a retryable read is tried before the job fails (default 5).
    pub read_attempts: Option<u32>,
    /// The most records per second the stream admits (default: no limit).
    pub max_rate: Option<f64>,
    /// What to do when input was removed before it was read (default: fail the job).
    pub data_loss: super::DataLossPolicy,
}

impl DirectOptions {
    /// Default options: skip bad records, 5 read attempts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy for malformed records.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Tries a retryable read at most `n` times (1..=100) before the job fails.
    pub fn read_attempts(mut self, n: u32) -> Self {
        self.read_attempts = Some(n);
        self
    }

    /// Admits at most `records_per_sec` records per second (1 ..= 10⁹): each batch ends after
    /// `records_per_sec × batch interval` records, for sources that count records (see
    /// [`DirectSource::latest_limited`]). Backpressure may lower it further.
    pub fn max_rate(mut self, records_per_sec: f64) -> Self {
        self.max_rate = Some(records_per_sec);
        self
    }

    /// What to do when the source finds input removed before it was read (a retention limit,
    /// a trim): fail the job (the default) or go on and count the loss.
    pub fn on_data_loss(mut self, policy: super::DataLossPolicy) -> Self {
        self.data_loss = policy;
        self
    }

    pub(crate) fn validate(&self) -> crate::error::Result<()> {
        crate::rate::check_rate("max_rate", self.max_rate)?;
        if let Some(n) = self.read_attempts {
            if !(1..=100).contains(&n) {
                return Err(Error::Config(format!(
                    "read_attempts must be between 1 and 100, not {n}"
                )));
            }
        }
        Ok(())
    }
}
