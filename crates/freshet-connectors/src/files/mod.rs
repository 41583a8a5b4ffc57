//! Files: append-only log files as a replayable source; JSON lines and CSV files of serde
//! records (Parquet with the `parquet` feature) as exactly-once sinks, typed datasets and
//! typed streams.
//!
//! # [`AppendLogSource`]
//!
//! Reads the lines appended to the files of a directory (`app.log`, `app-2.log`, ...), as
//! `tail -F` would, but replayably. Its offset is, per file name, the byte position after the
//! last complete line taken: a batch takes each file's complete lines from there (at most
//! [`AppendLogOptions::max_bytes_per_file`] per file and batch); a line still being written
//! (no final `\n` yet) waits for the next batch. A replay reads the same byte ranges again, so
//! with an exactly-once sink every line is counted once across crashes.
//!
//! Files must only grow. Rotate by renaming (`app.log` -> `app.log.1`, a new `app.log`): the
//! renamed file is a new name whose lines are read from the start, so name rotated files so
//! that they are ignored (a leading `.` or `_`), or keep them out of the directory. A file that
//! shrinks fails the job: its offsets no longer mean anything.
//!
//! # Sinks: [`JsonLinesSink`], [`CsvSink`] (and `parquet::ParquetSink`)
//!
//! Each writes every batch, one file per partition (worker):
//! `<dir>/batch-<time>/part-<partition:05><ext>`, written under a temporary name, fsynced and
//! renamed into place. A file that exists already is a replayed batch and is left as it is,
//! so the sinks are exactly-once ([`Guarantee::ExactlyOnce`](freshet::sink::Guarantee)).
//!
//! - [`partition_by`](JsonLinesSink::partition_by) splits each batch into
//!   `<dir>/<column>=<value>/batch-<time>/...` directories ([`PartitionBy`]; values escaped
//!   as Hive and Spark do).
//! - [`rolling`](JsonLinesSink::rolling) puts many batches in one file,
//!   `<dir>/[<column>=<value>/]part-<partition:05>-<first>-<last><ext>`, named by the batch
//!   times it covers, and stays exactly-once: see [`rolling`].
//!
//! # Typed readers
//!
//! [`json_lines_dataset`], [`csv_dataset`] and [`read_dataset`] read files into a
//! [`Dataset`](freshet::Dataset); [`TypedFileStreams`] (`ctx.json_lines_stream::<T>(dir)`)
//! and [`TypedFileSource`] read the new files of a directory as a replayable stream. Both skip
//! names starting with `.` or `_` (temporary files, `_staging`), walk partition directories,
//! and apply the [`BadRecordPolicy`](freshet::source::BadRecordPolicy) to rows that do not
//! parse.

mod append_log;
mod csv_sink;
mod encode;
mod error;
mod format;
mod json_lines;
mod layout;
mod partition_by;
pub mod rolling;
mod typed_read;
mod typed_stream;
mod writer;

pub use append_log::{AppendLogOffset, AppendLogOptions, AppendLogSource, ByteRange};
pub use csv_sink::{CsvOptions, CsvSink, CsvWriter};
pub use error::FormatError;
pub use format::{BadRow, FileFormat};
pub use json_lines::{JsonLinesSink, JsonLinesWriter};
pub use partition_by::{escape, unescape, PartitionBy, DEFAULT_PARTITION};
pub use rolling::RollingPolicy;
pub use typed_read::{csv_dataset, json_lines_dataset, read_dataset, Loaded, ReadOptions};
pub use typed_stream::{
    FileSplit, FilesTaken, TypedFileReader, TypedFileSource, TypedFileStreams, TypedStreamOptions,
};
pub use writer::FormatWriter;

#[cfg(feature = "parquet")]
pub(crate) use encode::Encoder;
#[cfg(feature = "parquet")]
pub(crate) use error::check_range;
#[cfg(feature = "parquet")]
pub(crate) use writer::{sink_settings, SinkSettings};

#[cfg(test)]
mod tests;
