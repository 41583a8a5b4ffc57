//! Sinks: output keyed by batch time, for exactly-once results.
//!
//! A [`Sink`] receives each worker's records of each batch together with the batch time. After
//! a crash, batches logged after the last checkpoint are replayed with their original times and
//! contents, so a sink sees some batches twice. Exactly-once output needs a sink for which the
//! second write changes nothing:
//!
//! - **Idempotent sinks** write under a name derived from `(output, batch time, partition)`
//!   and skip names that already exist. [`FileSink`] does this: it writes
//!   `<dir>/batch-<time>/part-<partition>` through a temporary file renamed into place, so a
//!   final name exists only when complete.
//! - **Transactional sinks** (a database): in one transaction, write the records and a marker
//!   row keyed by `(pipeline, output, batch time, partition)`; if the marker exists already,
//!   roll back and report success. Commit before returning from [`Sink::write`]: the batch
//!   counts as complete only when every `write` of it has returned `Ok`.
//!
//! Replays produce the same partitions only with the same number of workers: keep it across
//! restarts when a sink names its output by partition.

use crate::data::Data;
use crate::dstream::DStream;
use crate::error::Error;
use crate::ops::{local, per_time, EmitEmpty};
use crate::plan::{next_id, Builder};
use crate::time::BatchTime;
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a sink could not write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The sink's system refused the write.
    #[error("{0}")]
    Failed(String),
}

/// Receives the records of each batch, one call per worker and batch (see the
/// [module documentation](self) for what makes the output exactly-once).
pub trait Sink<T>: Send + Sync + 'static {
    /// Writes worker `partition`'s records of batch `time` (called for every batch and worker,
    /// with empty `records` too). Writing the same batch and partition again must leave the
    /// same result as writing it once. An error fails the job.
    fn write(&self, time: BatchTime, partition: usize, records: &[T]) -> Result<(), SinkError>;
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SinkError + '_ {
    move |source| SinkError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl<T: Display + Send + Sync + 'static> Sink<T> for FileSink {
    fn write(&self, time: BatchTime, partition: usize, records: &[T]) -> Result<(), SinkError> {
        let dir = self.batch_dir(time);
        let name = format!("part-{partition:05}");
        let path = dir.join(&name);
        if path.exists() {
            // Written before (a replayed batch): the same records, nothing to do.
            return Ok(());
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut w = std::io::BufWriter::new(file);
        for r in records {
            writeln!(w, "{r}").map_err(io(&tmp))?;
        }
        let file = w.into_inner().map_err(|e| SinkError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        if self.sync {
            file.sync_all().map_err(io(&tmp))?;
        }
        drop(file);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if self.sync {
            if let Ok(d) = std::fs::File::open(&dir) {
                d.sync_all().map_err(io(&dir))?;
            }
        }
        Ok(())
    }
}

impl<T: Data> DStream<T> {
    /// Writes every batch to `sink`: each worker hands over its partition of each batch, empty
    /// ones included.
    pub fn sink<S: Sink<T>>(&self, sink: S) {
        let sink = Arc::new(sink);
        let plan = self.plan.clone();
        let id = next_id();
        self.ctx.add_output(Arc::new(move |b: &mut Builder<'_>| {
            b.output(id, "sink", |b| {
                let s = plan.stream(b);
                let sink = Arc::clone(&sink);
                let env = b.env.clone();
                let done = per_time(
                    s,
                    local(),
                    "sink",
                    &b.env,
                    EmitEmpty::AllWorkers,
                    Vec::new,
                    |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
                    move |t, records, _out: &mut Vec<()>| {
                        if let Err(e) = sink.write(BatchTime(t), env.index, &records) {
                            env.shared.fail(Error::Sink(e.to_string()));
                        }
                    },
                );
                b.probe(done);
            });
        }));
    }
}
