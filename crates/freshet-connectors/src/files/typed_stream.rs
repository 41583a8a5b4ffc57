//! Typed records of the new files in a directory, as a replayable stream (the typed twin of
//! `text_file_stream`).
//!
//! At every batch boundary the directory is walked (recursively, so the partition and batch
//! directories of the sinks are seen; names starting with `.` or `_` are ignored, so a writer
//! renames a finished `.name.tmp` into place: files must not change once visible). Files not
//! taken before, oldest modification time first then by path, join the batch, at most
//! [`TypedStreamOptions::max_files_per_batch`] of them. A JSON lines file is read in byte
//! ranges of at most 1 MiB (a line belongs to the range it starts in), spread over the workers,
//! so a large file is never held in memory whole; a CSV or Parquet file is one split, read whole
//! by one worker. Records are decoded in the file's [`FileFormat`].
//!
//! The offset is the set of files taken, by path relative to the directory, so a replayed
//! batch reads the same files. It is bounded by age as Spark's `maxFileAge`: files modified
//! more than [`TypedStreamOptions::max_file_age`] before the newest file taken are forgotten,
//! and such old files appearing later are ignored.
//!
//! A row that does not parse, a file that vanished or cannot be read, or a damaged file (a
//! truncated Parquet file) follows the stream's [`BadRecordPolicy`]: skipped and counted,
//! kept as a dead letter, or failing the job with a message naming the file.

use super::csv_sink::CsvOptions;
use super::error::{check_range, FormatError};
use super::format::FileFormat;
use super::json_lines::{byte_ranges, decode_json_lines_in};
use freshet::source::file_discovery::FileDiscovery;
pub use freshet::source::file_discovery::FilesTaken;
use freshet::source::{
    BadRecordPolicy, DirectOptions, DirectSource, ReadContext, SplitReader, StartContext,
};
use freshet::{DStream, Data, SourceError, StreamingContext};

use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

/// Options of a typed file stream.
#[derive(Clone, Debug, Default)]
pub struct TypedStreamOptions {
    /// Also read the files already there at start (default: only files that appear later,
    /// as Spark's `newFilesOnly`). An available-now run always reads them.
    pub include_existing: bool,
    /// At most this many files per batch (1 ..= 1 000 000; default: no limit).
    pub max_files_per_batch: Option<usize>,
    /// What to do with rows that do not parse and files that cannot be read (default: skip
    /// and count).
    pub bad_records: BadRecordPolicy,
    /// How far behind the newest file taken a file may be to be read and remembered
    /// (1 s ..= 365 days; default 7 days).
    pub max_file_age: Option<Duration>,
}

impl TypedStreamOptions {
    /// New files only, no cap, skip bad rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also reads the files already there.
    pub fn include_existing(mut self, yes: bool) -> Self {
        self.include_existing = yes;
        self
    }

    /// At most `n` files per batch (1 ..= 1 000 000).
    pub fn max_files_per_batch(mut self, n: usize) -> Self {
        self.max_files_per_batch = Some(n);
        self
    }

    /// The policy for bad rows and unreadable files.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Forgets files modified more than `age` before the newest taken (1 s ..= 365 days).
    pub fn max_file_age(mut self, age: Duration) -> Self {
        self.max_file_age = Some(age);
        self
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<(), FormatError> {
        if let Some(n) = self.max_files_per_batch {
            check_range(
                "max_files_per_batch",
                n,
                1,
                1_000_000,
                "between 1 and 1000000",
            )?;
        }
        check_range(
            "max_file_age",
            self.age_ms(),
            1_000,
            365 * 24 * 3600 * 1000,
            "between 1 s and 365 days (in ms)",
        )?;
        Ok(())
    }

    fn age_ms(&self) -> u64 {
        self.max_file_age.map_or(7 * 24 * 3600 * 1000, |d| {
            d.as_millis().min(u64::MAX as u128) as u64
        })
    }
}

/// The new files of a directory as a replayable stream of `T`. See the
/// [module documentation](self).
pub struct TypedFileSource<T> {
    dir: PathBuf,
    format: FileFormat,
    options: TypedStreamOptions,
    files: Option<FileDiscovery>,
    _records: PhantomData<fn() -> T>,
}

impl<T: Data> TypedFileSource<T> {
    /// The files of `dir` in `format`.
    pub fn new(dir: impl Into<PathBuf>, format: FileFormat) -> Self {
        TypedFileSource {
            dir: dir.into(),
            format,
            options: TypedStreamOptions::default(),
            files: None,
            _records: PhantomData,
        }
    }

    /// JSON lines files.
    pub fn json_lines(dir: impl Into<PathBuf>) -> Self {
        Self::new(dir, FileFormat::JsonLines)
    }

    /// CSV files with a header row, comma-separated.
    pub fn csv(dir: impl Into<PathBuf>) -> Self {
        Self::new(dir, FileFormat::Csv(CsvOptions::default()))
    }

    /// Parquet files.
    #[cfg(feature = "parquet")]
    pub fn parquet(dir: impl Into<PathBuf>) -> Self {
        Self::new(dir, FileFormat::Parquet)
    }

    /// With `options`.
    pub fn options(mut self, options: TypedStreamOptions) -> Self {
        self.options = options;
        self
    }

    /// The policy for bad rows and unreadable files.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.options.bad_records = policy;
        self
    }

    fn files(&mut self) -> Result<&mut FileDiscovery, SourceError> {
        self.files
            .as_mut()
            .ok_or_else(|| SourceError::internal("typed file stream: used before start"))
    }
}

/// One file of a batch, or (JSON lines) one byte range of it.
pub struct FileSplit {
    path: PathBuf,
    /// The lines that start in these bytes; `None`: the whole file.
    range: Option<(u64, u64)>,
}

/// Reads one file of a [`TypedFileSource`] into records.
pub struct TypedFileReader<T> {
    format: FileFormat,
    _records: PhantomData<fn() -> T>,
}

impl<T: Data> SplitReader for TypedFileReader<T> {
    type Split = FileSplit;
    type Item = T;

    fn read(
        &self,
        split: &FileSplit,
        out: &mut Vec<T>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        let mut bad = |row: super::BadRow| ctx.bad_record_raw(&row.describe(), &row.raw);
        let result = match (self.format, split.range) {
            (FileFormat::JsonLines, range) => {
                decode_json_lines_in(&split.path, range, out, &mut bad)
            }
            (format, _) => format.decode(&split.path, out, &mut bad),
        };
        match result {
            Ok(()) => Ok(()),
            Err(FormatError::Io { path, error })
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(SourceError::io(path.display(), error))
            }
            Err(e) => {
                // A vanished, unreadable or damaged file: the policy decides.
                ctx.bad_record(&e.to_string());
                Ok(())
            }
        }
    }
}

impl<T: Data> DirectSource for TypedFileSource<T> {
    type Item = T;
    type Offset = FilesTaken;
    type Split = FileSplit;
    type Reader = TypedFileReader<T>;

    fn kind(&self) -> &'static str {
        "typed_file_stream"
    }

    fn describe(&self) -> String {
        format!("{} files in {}", self.format.name(), self.dir.display())
    }

    fn start(&mut self, ctx: &StartContext) -> Result<FilesTaken, SourceError> {
        self.options.validate()?;
        self.format.validate()?;
        let files = self.files.insert(
            FileDiscovery::new(&self.dir)
                .recursive(true)
                .max_files_per_batch(self.options.max_files_per_batch)
                .max_age(Duration::from_millis(self.options.age_ms())),
        );
        files.start(self.options.include_existing, ctx.available_now)
    }

    fn latest(&mut self, from: &FilesTaken) -> Result<FilesTaken, SourceError> {
        self.files()?.latest(from)
    }

    fn splits(
        &mut self,
        from: &FilesTaken,
        to: &FilesTaken,
        _workers: usize,
    ) -> Result<Vec<FileSplit>, SourceError> {
        let by_range = matches!(self.format, FileFormat::JsonLines);
        Ok(self
            .files()?
            .new_files(from, to)
            .flat_map(|path| {
                // JSON lines are read in byte ranges, spread over the workers and never held
                // whole; the other formats a file at a time.
                let ranges = if by_range {
                    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                    byte_ranges(size).into_iter().map(Some).collect()
                } else {
                    vec![None]
                };
                ranges.into_iter().map(move |range| FileSplit {
                    path: path.clone(),
                    range,
                })
            })
            .collect())
    }

    fn reader(&self) -> TypedFileReader<T> {
        TypedFileReader {
            format: self.format,
            _records: PhantomData,
        }
    }

    fn ended(&self, at: &FilesTaken) -> bool {
        self.files.as_ref().is_some_and(|files| files.ended(at))
    }
}

/// Typed file streams on a [`StreamingContext`].
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet_connectors::files::TypedFileStreams;
/// use std::time::Duration;
///
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
/// struct Order { id: u64, amount: f64 }
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
/// ctx.json_lines_stream::<Order>("incoming/orders").print(10);
/// # Ok::<(), freshet::Error>(())
/// ```
pub trait TypedFileStreams {
    /// The records of the new JSON lines files under `dir`, bad rows skipped and counted.
    fn json_lines_stream<T: Data>(&self, dir: impl Into<PathBuf>) -> DStream<T>;

    /// The records of the new CSV files under `dir` (header row, commas), bad rows skipped
    /// and counted.
    fn csv_stream<T: Data>(&self, dir: impl Into<PathBuf>) -> DStream<T>;

    /// The records of the new Parquet files under `dir`, bad rows skipped and counted.
    #[cfg(feature = "parquet")]
    fn parquet_stream<T: Data>(&self, dir: impl Into<PathBuf>) -> DStream<T>;

    /// The records of `source`, with its bad-record policy.
    fn typed_file_stream<T: Data>(&self, source: TypedFileSource<T>) -> DStream<T>;
}

impl TypedFileStreams for StreamingContext {
    fn json_lines_stream<T: Data>(&self, dir: impl Into<PathBuf>) -> DStream<T> {
        self.typed_file_stream(TypedFileSource::json_lines(dir))
    }

    fn csv_stream<T: Data>(&self, dir: impl Into<PathBuf>) -> DStream<T> {
        self.typed_file_stream(TypedFileSource::csv(dir))
    }

    #[cfg(feature = "parquet")]
    fn parquet_stream<T: Data>(&self, dir: impl Into<PathBuf>) -> DStream<T> {
        self.typed_file_stream(TypedFileSource::parquet(dir))
    }

    fn typed_file_stream<T: Data>(&self, source: TypedFileSource<T>) -> DStream<T> {
        let policy = source.options.bad_records;
        self.direct_stream_with(source, DirectOptions::new().bad_records(policy))
    }
}
