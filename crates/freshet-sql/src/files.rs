//! Query results written to files, as a Freshet [`Sink`]: each worker writes its rows of a
//! batch to `<dir>/batch-<time>/part-<worker>.<ext>`, JSON lines or CSV, under a temporary name
//! renamed into place, so a batch replayed after a crash finds its file and writes nothing
//! twice (exactly-once).

use crate::rows::Rows;
use datafusion::arrow::array::RecordBatch;
use freshet::sink::{write_file_once, Guarantee, Sink, SinkContext, SinkWriter};
use freshet::{BatchTime, SinkError};
use std::path::PathBuf;

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

impl SinkWriter<Rows> for RowsFileWriter {
    fn write(&mut self, time: BatchTime, records: &[Rows]) -> Result<(), SinkError> {
        let batches: Vec<&RecordBatch> = records
            .iter()
            .map(|r| &r.0)
            .filter(|b| b.num_rows() > 0)
            .collect();
        if batches.is_empty() {
            return Ok(());
        }
        let name = format!(
            "part-{:05}.{}",
            self.partition,
            self.sink.format.extension()
        );
        let format = self.sink.format;
        write_file_once(&self.sink.batch_dir(time), &name, true, |out| {
            let arrow = std::io::Error::other;
            match format {
                FileFormat::JsonLines => {
                    let mut w = datafusion::arrow::json::LineDelimitedWriter::new(out);
                    w.write_batches(&batches).map_err(arrow)?;
                    w.finish().map_err(arrow)
                }
                FileFormat::Csv => {
                    let mut w = datafusion::arrow::csv::Writer::new(out);
                    batches.iter().try_for_each(|b| w.write(b)).map_err(arrow)
                }
            }
        })
    }
}
