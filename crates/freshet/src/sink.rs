//! Sinks: output keyed by batch time, for exactly-once results.
//!
//! A [`Sink`] opens one [`SinkWriter`] per worker (its partition of every batch); the writer
//! receives the worker's records of each batch with the batch time, then a `commit` for it. A
//! batch is complete only when every worker's write and commit of it have returned `Ok`.
//!
//! After a crash, batches logged after the last checkpoint are replayed with their original
//! times and contents, so a writer sees some batches twice. A sink says what that does
//! ([`Sink::guarantee`]):
//!
//! - [`Guarantee::ExactlyOnce`]: writing a batch again leaves the same result as writing it
//!   once. *Idempotent sinks* write under a name derived from `(output, batch time, partition)`
//!   and skip names that already exist ([`FileSink`] writes `<dir>/batch-<time>/part-<n>`
//!   through a temporary file renamed into place). *Transactional sinks* (a database) write the
//!   records and a marker row keyed by `(output, batch time, partition)` in one transaction,
//!   and roll back when the marker exists.
//! - [`Guarantee::AtLeastOnce`]: a replayed batch is written again. The engine warns at start
//!   when such a sink follows a replayable source in a checkpointed pipeline.
//!
//! # Errors and retries
//!
//! A write or commit that fails with a retryable [`SinkError`] is tried again after a back-off
//! (100 ms, doubling up to 5 s, 6 attempts in all); any other error, or the last attempt's,
//! fails the job with [`Error::Sink`](crate::Error::Sink) naming the output.
//!
//! Replays produce the same partitions only with the same number of workers: keep it across
//! restarts when a sink names its output by partition.

use crate::error::SinkError;
use crate::time::BatchTime;
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What writing a batch a second time does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guarantee {
    /// Nothing: rewriting a batch is harmless (idempotent or transactional), so with
    /// replayable sources the output is exactly-once.
    ExactlyOnce,
    /// The batch is written again (duplicates after a crash).
    AtLeastOnce,
}

/// Where a writer writes.
#[derive(Clone, Debug)]
pub struct SinkContext {
    /// The output's stable id (see [`Output::uid`](crate::Output::uid)).
    pub output_id: String,
    /// The partition (worker) this writer writes.
    pub partition: usize,
    /// The number of partitions.
    pub partitions: usize,
}

/// Receives the batches of a stream, one writer per worker. See the
/// [module documentation](self).
pub trait Sink<T>: Send + Sync + 'static {
    /// The per-worker writer.
    type Writer: SinkWriter<T>;

    /// Opens the writer of one partition; called on the worker before its first batch. A
    /// retryable error is retried like a write.
    fn open(&self, ctx: &SinkContext) -> Result<Self::Writer, SinkError>;

    /// What writing a batch twice does.
    fn guarantee(&self) -> Guarantee;
}

/// Writes one partition of every batch.
pub trait SinkWriter<T>: 'static {
    /// Writes this partition's records of batch `time` (called for every batch, with empty
    /// `records` too).
    fn write(&mut self, time: BatchTime, records: &[T]) -> Result<(), SinkError>;

    /// Makes batch `time` durable and visible. Called after `write` returned `Ok`; the batch
    /// counts as written once it returns `Ok`.
    fn commit(&mut self, time: BatchTime) -> Result<(), SinkError> {
        let _ = time;
        Ok(())
    }
}

/// An idempotent file sink: `<dir>/batch-<time>/part-<partition:05>`, one line per record.
#[derive(Clone, Debug)]
pub struct FileSink {
    dir: PathBuf,
    sync: bool,
}

impl FileSink {
    /// A sink writing under `dir`, fsyncing each file and directory (so that a written batch
    /// survives a power loss, not only a crash).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSink {
            dir: dir.into(),
            sync: true,
        }
    }

    /// Whether to fsync what is written (default `true`).
    pub fn sync(mut self, yes: bool) -> Self {
        self.sync = yes;
        self
    }

    /// The directory of batch `time`.
    pub fn batch_dir(&self, time: BatchTime) -> PathBuf {
        self.dir.join(format!("batch-{}", time.0))
    }
}

/// The writer of one partition of a [`FileSink`].
#[derive(Debug)]
pub struct FileSinkWriter {
    sink: FileSink,
    partition: usize,
}

impl<T: Display + Send + Sync + 'static> Sink<T> for FileSink {
    type Writer = FileSinkWriter;

    fn open(&self, ctx: &SinkContext) -> Result<FileSinkWriter, SinkError> {
        Ok(FileSinkWriter {
            sink: self.clone(),
            partition: ctx.partition,
        })
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SinkError + '_ {
    move |e| SinkError::io(path.display(), e)
}

impl<T: Display> SinkWriter<T> for FileSinkWriter {
    fn write(&mut self, time: BatchTime, records: &[T]) -> Result<(), SinkError> {
        let dir = self.sink.batch_dir(time);
        let name = format!("part-{:05}", self.partition);
        write_file_once(&dir, &name, self.sink.sync, |w| {
            for r in records {
                writeln!(w, "{r}")?;
            }
            Ok(())
        })
    }
}

/// Writes the file `dir/name` once: if it exists (a batch replayed after a crash), nothing is
/// done; otherwise `write` fills a temporary file in `dir` that is then renamed to `name`, so
/// the file is whole or absent. With `sync`, the file and the directory are fsynced, so a
/// written file survives a power loss. The building block of idempotent file sinks.
pub fn write_file_once(
    dir: &Path,
    name: &str,
    sync: bool,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), SinkError> {
    let path = dir.join(name);
    if path.exists() {
        // Written before (a replayed batch): the same records, nothing to do.
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut w = std::io::BufWriter::new(file);
    write(&mut w).map_err(io(&tmp))?;
    let file = w
        .into_inner()
        .map_err(|e| SinkError::io(tmp.display(), e.into_error()))?;
    if sync {
        file.sync_all().map_err(io(&tmp))?;
    }
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    if sync {
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().map_err(io(dir))?;
        }
    }
    Ok(())
}
