//! JSON lines, one file per batch and partition, exactly-once.

use freshet::sink::{FileSink, FileSinkWriter, Guarantee, Sink, SinkContext, SinkWriter};
use freshet::{BatchTime, SinkError};
use serde::Serialize;
use std::marker::PhantomData;
use std::path::PathBuf;

/// Writes every batch as JSON lines: `<dir>/batch-<time>/part-<partition>`. See the
/// [module documentation](super).
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    files: FileSink,
}

impl JsonLinesSink {
    /// A sink writing under `dir`, fsyncing what it writes.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JsonLinesSink {
            files: FileSink::new(dir),
        }
    }

    /// Whether to fsync what is written (default `true`).
    pub fn sync(mut self, yes: bool) -> Self {
        self.files = self.files.sync(yes);
        self
    }

    /// The directory of batch `time`.
    pub fn batch_dir(&self, time: BatchTime) -> PathBuf {
        self.files.batch_dir(time)
    }
}

/// The writer of one partition of a [`JsonLinesSink`].
pub struct JsonLinesWriter<T> {
    files: FileSinkWriter,
    lines: Vec<String>,
    _records: PhantomData<fn(T)>,
}

impl<T: Serialize + Send + Sync + 'static> Sink<T> for JsonLinesSink {
    type Writer = JsonLinesWriter<T>;

    fn open(&self, ctx: &SinkContext) -> Result<JsonLinesWriter<T>, SinkError> {
        Ok(JsonLinesWriter {
            files: <FileSink as Sink<String>>::open(&self.files, ctx)?,
            lines: Vec::new(),
            _records: PhantomData,
        })
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

impl<T: Serialize + 'static> SinkWriter<T> for JsonLinesWriter<T> {
    fn write(&mut self, time: BatchTime, records: &[T]) -> Result<(), SinkError> {
        self.lines.clear();
        for r in records {
            let line = serde_json::to_string(r).map_err(|e| {
                SinkError::user(format!("a record cannot be written as JSON: {e}")).with_cause(e)
            })?;
            self.lines.push(line);
        }
        self.files.write(time, &self.lines)
    }
}
