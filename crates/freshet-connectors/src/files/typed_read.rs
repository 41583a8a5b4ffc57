//! Files as a typed [`Dataset`]: JSON lines, CSV (and Parquet with the `parquet` feature)
//! decoded into serde records.
//!
//! The path is a file or a directory, read recursively (the partition and batch directories
//! the sinks write), names starting with `.` or `_` excepted, files in path order with
//! numbers compared by value (batch order). The files are read when the dataset is made, on
//! the calling thread, so a damaged file or a bad row
//! under [`BadRecordPolicy::Fail`] is an error of the call that names the file and the row;
//! the records are then held in memory, cut into partitions like
//! [`Dataset::parallelize`], and `collect` returns them in file order.
//!
//! Rows that do not parse follow the [`BadRecordPolicy`]: skipped and counted (the default,
//! as the engine's sources do), failing the read, or kept in a dead-letter file
//! `<dead_letter_dir>/<source name>.jsonl` (one JSON object per line: `time_ms`, `source`,
//! `reason`, and the row as `record` or `record_hex`), counted. A file that is not a file of
//! its format fails the read whatever the policy, as [`Dataset::text_file`] fails on a file
//! it cannot read.

use super::csv_sink::CsvOptions;
use super::error::{check_range, FormatError};
use super::format::{list_files, BadRow, FileFormat};
use freshet::source::BadRecordPolicy;
use freshet::{Data, Dataset, MAX_BATCH_WORKERS};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How a typed reader reads files into a dataset.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// What to do with a row that does not parse (default: skip and count).
    pub bad_records: BadRecordPolicy,
    /// The dataset's partitions (1 ..= 256; default: as many as the machine has cores, at
    /// most one per file).
    pub partitions: Option<usize>,
    /// Where [`BadRecordPolicy::DeadLetter`] keeps bad rows (required by that policy).
    pub dead_letter_dir: Option<PathBuf>,
    /// The name of the dead-letter file and of log lines (1 ..= 100 bytes of letters, digits,
    /// `-` or `_`; default `file_dataset`).
    pub source_name: Option<String>,
}

impl ReadOptions {
    /// Skip bad rows, one partition per core.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy for rows that do not parse.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// The number of partitions (1 ..= 256).
    pub fn partitions(mut self, n: usize) -> Self {
        self.partitions = Some(n);
        self
    }

    /// The dead-letter directory (for [`BadRecordPolicy::DeadLetter`]).
    pub fn dead_letter_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dead_letter_dir = Some(dir.into());
        self
    }

    /// The name of the dead-letter file and of log lines.
    pub fn source_name(mut self, name: impl Into<String>) -> Self {
        self.source_name = Some(name.into());
        self
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<(), FormatError> {
        if let Some(n) = self.partitions {
            check_range("partitions", n, 1, MAX_BATCH_WORKERS, "between 1 and 256")?;
        }
        if let Some(name) = &self.source_name {
            let ok = (1..=100).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(FormatError::setting(
                    "source_name",
                    format!("{name:?}"),
                    "1 to 100 letters, digits, `-` or `_`",
                ));
            }
        }
        if self.bad_records == BadRecordPolicy::DeadLetter && self.dead_letter_dir.is_none() {
            return Err(FormatError::setting(
                "dead_letter_dir",
                "none",
                "set for BadRecordPolicy::DeadLetter",
            ));
        }
        Ok(())
    }

    fn name(&self) -> &str {
        self.source_name.as_deref().unwrap_or("file_dataset")
    }
}

/// A typed dataset and what reading it found.
pub struct Loaded<T> {
    /// The records.
    pub dataset: Dataset<T>,
    /// The files read.
    pub files: usize,
    /// The records read.
    pub records: u64,
    /// The rows that did not parse (skipped or dead-lettered).
    pub bad_rows: u64,
}

/// The records of the JSON lines files at `path` (a file or a directory), bad rows skipped
/// and counted. See the [module documentation](self).
///
/// ```no_run
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Click { user: u32, page: String }
///
/// let clicks = freshet_connectors::files::json_lines_dataset::<Click>("out/clicks")?;
/// println!("{} clicks", clicks.count()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn json_lines_dataset<T: Data>(path: impl AsRef<Path>) -> Result<Dataset<T>, FormatError> {
    Ok(read_dataset(path, FileFormat::JsonLines, &ReadOptions::default())?.dataset)
}

/// The records of the CSV files at `path` (with a header row, comma-separated), bad rows
/// skipped and counted. See the [module documentation](self).
pub fn csv_dataset<T: Data>(path: impl AsRef<Path>) -> Result<Dataset<T>, FormatError> {
    Ok(read_dataset(
        path,
        FileFormat::Csv(CsvOptions::default()),
        &ReadOptions::default(),
    )?
    .dataset)
}

/// The records of the files at `path` in `format`, read with `options`. See the
/// [module documentation](self).
pub fn read_dataset<T: Data>(
    path: impl AsRef<Path>,
    format: FileFormat,
    options: &ReadOptions,
) -> Result<Loaded<T>, FormatError> {
    options.validate()?;
    format.validate()?;
    let files = list_files(path.as_ref())?;
    let mut records = Vec::new();
    let mut bad_rows = 0u64;
    let mut failed = None;
    let mut letters = DeadLetters::new(options);
    for file in &files {
        format.decode(file, &mut records, &mut |row: BadRow| {
            if failed.is_some() {
                return;
            }
            match options.bad_records {
                BadRecordPolicy::Fail => failed = Some(row),
                BadRecordPolicy::Skip => {
                    bad_rows += 1;
                    tracing::warn!("{}: skipped: {}", options.name(), row.describe());
                }
                BadRecordPolicy::DeadLetter => {
                    bad_rows += 1;
                    letters.push(&row);
                }
            }
        })?;
        if let Some(row) = failed.take() {
            return Err(row.into_error());
        }
    }
    letters.finish()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let partitions = options
        .partitions
        .unwrap_or_else(|| cores.min(files.len()))
        .max(1);
    let n = records.len() as u64;
    Ok(Loaded {
        dataset: Dataset::parallelize(records, partitions),
        files: files.len(),
        records: n,
        bad_rows,
    })
}

/// The dead-letter file of a read, opened at the first bad row.
struct DeadLetters<'a> {
    options: &'a ReadOptions,
    out: Option<Result<(PathBuf, std::io::BufWriter<std::fs::File>), FormatError>>,
}

impl<'a> DeadLetters<'a> {
    fn new(options: &'a ReadOptions) -> Self {
        DeadLetters { options, out: None }
    }

    fn push(&mut self, row: &BadRow) {
        let options = self.options;
        let out = self.out.get_or_insert_with(|| {
            let dir = options.dead_letter_dir.clone().unwrap_or_default();
            std::fs::create_dir_all(&dir).map_err(|e| FormatError::io(&dir, e))?;
            let path = dir.join(format!("{}.jsonl", options.name()));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| FormatError::io(&path, e))?;
            Ok((path, std::io::BufWriter::new(file)))
        });
        let Ok((path, w)) = out else { return };
        let line = dead_letter_line(options.name(), row);
        if let Err(e) = writeln!(w, "{line}") {
            self.out = Some(Err(FormatError::io(path.clone(), e)));
        }
    }

    fn finish(self) -> Result<(), FormatError> {
        match self.out {
            None => Ok(()),
            Some(Err(e)) => Err(e),
            Some(Ok((path, mut w))) => w.flush().map_err(|e| FormatError::io(path, e)),
        }
    }
}

/// One line of a dead-letter file, in the engine's layout.
pub(crate) fn dead_letter_line(source: &str, row: &BadRow) -> String {
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut line = serde_json::json!({
        "time_ms": time_ms,
        "source": source,
        "reason": row.describe(),
    });
    match std::str::from_utf8(&row.raw) {
        Ok(text) => line["record"] = text.into(),
        Err(_) => {
            let hex: String = row.raw.iter().map(|b| format!("{b:02x}")).collect();
            line["record_hex"] = hex.into();
        }
    }
    line.to_string()
}
