//! Query results written to files, as a Freshet [`Sink`]: each worker writes its rows of a
//! batch to `<dir>/batch-<time>/part-<worker>.<ext>`, JSON lines or CSV, under a temporary name
//! renamed into place, so a batch replayed after a crash finds its file and writes nothing
//! twice (exactly-once).

use crate::rows::Rows;
use datafusion::arrow::array::RecordBatch;
use freshet::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use freshet::{BatchTime, ErrorDomain, RetryHint, SinkError};
use std::path::{Path, PathBuf};

/// The format of result files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// One JSON object per row and line (`.jsonl`).
    JsonLines,
    /// Comma-separated values with a header line (`.csv`).
    Csv,
}

impl FileFormat {
    /// The files' extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::JsonLines => "jsonl",
            FileFormat::Csv => "csv",
        }
    }
}

/// An exactly-once file sink of query results (see the [module docs](self)). Batches in
/// which a worker has no row leave no file of that worker.
#[derive(Clone, Debug)]
pub struct RowsFileSink {
    dir: PathBuf,
    format: FileFormat,
}

impl RowsFileSink {
    /// A sink writing files of `format` under `dir`.
    pub fn new(dir: impl Into<PathBuf>, format: FileFormat) -> RowsFileSink {
        RowsFileSink {
            dir: dir.into(),
            format,
        }
    }

    /// The directory of batch `time`.
    pub fn batch_dir(&self, time: BatchTime) -> PathBuf {
        self.dir.join(format!("batch-{}", time.millis()))
    }
}

/// The writer of one worker of a [`RowsFileSink`].
#[derive(Debug)]
pub struct RowsFileWriter {
    sink: RowsFileSink,
    partition: usize,
}

impl Sink<Rows> for RowsFileSink {
    type Writer = RowsFileWriter;

    fn open(&self, ctx: &SinkContext) -> Result<RowsFileWriter, SinkError> {
        Ok(RowsFileWriter {
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

fn arrow(path: &Path) -> impl FnOnce(datafusion::arrow::error::ArrowError) -> SinkError + '_ {
    move |e| {
        SinkError::new(
            ErrorDomain::User,
            RetryHint::NoRetry,
            format!("{}: {e}", path.display()),
        )
    }
}

impl SinkWriter<Rows> for RowsFileWriter {
    fn write(&mut self, time: BatchTime, records: &[Rows]) -> Result<(), SinkError> {
        let batches: Vec<&RecordBatch> = records
            .iter()
            .map(|r| &r.0)
            .filter(|b| b.num_rows() > 0)
            .collect();
        let dir = self.sink.batch_dir(time);
        let name = format!(
            "part-{:05}.{}",
            self.partition,
            self.sink.format.extension()
        );
        let path = dir.join(&name);
        if batches.is_empty() || path.exists() {
            // Nothing to write, or written before (a replayed batch: the same rows).
            return Ok(());
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut out = std::io::BufWriter::new(file);
        match self.sink.format {
            FileFormat::JsonLines => {
                let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
                w.write_batches(&batches).map_err(arrow(&tmp))?;
                w.finish().map_err(arrow(&tmp))?;
            }
            FileFormat::Csv => {
                let mut w = datafusion::arrow::csv::Writer::new(&mut out);
                for b in batches {
                    w.write(b).map_err(arrow(&tmp))?;
                }
            }
        }
        let file = out
            .into_inner()
            .map_err(|e| SinkError::io(tmp.display(), e.into_error()))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            d.sync_all().map_err(io(&dir))?;
        }
        Ok(())
    }
}
