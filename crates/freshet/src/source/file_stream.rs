//! Lines of the text files that appear in a directory.
//!
//! At every batch boundary the directory is listed; files not taken before (oldest modification
//! time first, then by name) are assigned to the batch, at most
//! [`FileStreamOptions::max_files_per_batch`] of them, and each worker reads its share. Files
//! whose name starts with `.` or `_` are ignored, so a writer can create `.name.tmp` and rename
//! it into place when complete: files must not change once they are in the directory.
//!
//! By default only files that appear after the context starts are read (as Spark does);
//! [`FileStreamOptions::include_existing`] also reads the files already there. A file that
//! vanishes or cannot be read before a worker reads it is skipped, counted and logged (or fails
//! the job, by [`BadRecordPolicy`]).
//!
//! The stream is a [`DirectSource`] whose offset is the set of file names taken, *relative to
//! the directory*, so a replayed batch reads exactly the same files, and a directory moved or
//! mounted elsewhere between two runs (the same files under another path) is not read again:
//! point the restarted job at the new path.
//!
//! What it remembers is bounded by age, as Spark's `maxFileAge`: a file whose modification time
//! is older than [`FileStreamOptions::max_file_age`] (default 7 days) before the newest file
//! taken is forgotten, and a file that old appearing later is ignored. Files are read in byte ranges
//! of at most 4 MiB (a line belongs to the range it starts in), one range at a time per
//! worker, so a large file is spread over the workers and never held in memory whole.

use super::direct::{BadRecordPolicy, DirectSource, ReadContext, SplitReader, StartContext};
use super::file_discovery::{FileDiscovery, FilesTaken, DEFAULT_MAX_FILE_AGE};
use crate::error::SourceError;
use std::io::{BufRead, ErrorKind, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Options of a file stream.
#[derive(Clone, Debug, Default)]
pub struct FileStreamOptions {
    /// Also read the files already in the directory when the context starts (as Spark's
    /// `newFilesOnly = false`). An available-now run
    /// ([`run_available_now`](crate::StreamingContext::run_available_now)) always reads them:
    /// they are what is available now.
    pub include_existing: bool,
    /// At most this many files per batch (the rest wait for later batches).
    pub max_files_per_batch: Option<usize>,
    /// What to do with a file that cannot be read or a line that is not UTF-8.
    pub bad_records: BadRecordPolicy,
    /// How far behind the newest file taken a file's modification time may be for the file to
    /// be read and remembered (1 s ..= 365 days; default 7 days).
    pub max_file_age: Option<std::time::Duration>,
}

impl FileStreamOptions {
    /// New files only, no cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also reads the files already there.
    pub fn include_existing(mut self, yes: bool) -> Self {
        self.include_existing = yes;
        self
    }

    /// At most `n` files per batch.
    pub fn max_files_per_batch(mut self, n: usize) -> Self {
        self.max_files_per_batch = Some(n.max(1));
        self
    }

    /// The policy for unreadable files and malformed lines.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Forgets (and ignores) files whose modification time is more than `age` before the
    /// newest file taken (1 s ..= 365 days; default 7 days).
    pub fn max_file_age(mut self, age: std::time::Duration) -> Self {
        self.max_file_age = Some(age);
        self
    }
}

/// The files of a directory as a direct source.
pub(crate) struct FileStreamSource {
    files: FileDiscovery,
    include_existing: bool,
}

impl FileStreamSource {
    pub fn new(dir: PathBuf, options: FileStreamOptions) -> Self {
        FileStreamSource {
            files: FileDiscovery::new(dir)
                .max_files_per_batch(options.max_files_per_batch)
                .max_age(options.max_file_age.unwrap_or(DEFAULT_MAX_FILE_AGE)),
            include_existing: options.include_existing,
        }
    }
}

/// The largest byte range of a file one split reads.
pub(crate) const RANGE_BYTES: u64 = 4 << 20;

/// The lines that start in bytes `start..end` of a file.
pub(crate) struct FileRange {
    path: PathBuf,
    start: u64,
    end: u64,
}

impl FileRange {
    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The byte ranges of `path` (at most [`RANGE_BYTES`] each), or one empty range when the file
/// cannot be read now (the reader then reports it).
pub(crate) fn ranges(path: PathBuf) -> Vec<FileRange> {
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    if size == 0 {
        return vec![FileRange {
            path,
            start: 0,
            end: 0,
        }];
    }
    (0..size.div_ceil(RANGE_BYTES))
        .map(|i| FileRange {
            path: path.clone(),
            start: i * RANGE_BYTES,
            end: ((i + 1) * RANGE_BYTES).min(size),
        })
        .collect()
}

/// Reads the lines of a [`FileRange`].
pub(crate) struct FileReader;

impl SplitReader for FileReader {
    type Split = FileRange;
    type Item = String;

    fn read(
        &self,
        range: &FileRange,
        out: &mut Vec<String>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        let path = &range.path;
        let mut bad = |what: &str, raw: &[u8]| {
            ctx.bad_record_raw(&format!("{}: {what}", path.display()), raw)
        };
        if let Err(e) = read_range(range, out, &mut bad) {
            match e.kind() {
                ErrorKind::Interrupted | ErrorKind::TimedOut => {
                    return Err(SourceError::io(path.display(), e))
                }
                _ => bad(&format!("cannot read: {e}"), &[]),
            }
        }
        Ok(())
    }
}

/// Appends the lines that start in `range` (the last one read to its end, past `range.end`).
pub(crate) fn read_range(
    range: &FileRange,
    out: &mut Vec<String>,
    bad: &mut dyn FnMut(&str, &[u8]),
) -> std::io::Result<()> {
    let file = std::fs::File::open(&range.path)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut pos = range.start;
    if range.start > 0 {
        // The line that began before the range belongs to the previous range: skip to the end
        // of the line that holds byte `start - 1`.
        reader.seek(SeekFrom::Start(range.start - 1))?;
        pos = range.start - 1 + reader.read_until(b'\n', &mut line)? as u64;
        line.clear();
    }
    while pos < range.end {
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match std::str::from_utf8(text) {
            Ok(s) => out.push(s.to_owned()),
            Err(_) => bad(
                &format!("the line at byte {} is not valid UTF-8", pos - n as u64),
                text,
            ),
        }
        line.clear();
    }
    Ok(())
}

impl DirectSource for FileStreamSource {
    type Item = String;
    type Offset = FilesTaken;
    type Split = FileRange;
    type Reader = FileReader;

    fn kind(&self) -> &'static str {
        "text_file_stream"
    }

    fn describe(&self) -> String {
        format!("text_file_stream {}", self.files.dir().display())
    }

    fn start(&mut self, ctx: &StartContext) -> Result<FilesTaken, SourceError> {
        self.files.start(self.include_existing, ctx.available_now)
    }

    fn latest(&mut self, from: &FilesTaken) -> Result<FilesTaken, SourceError> {
        self.files.latest(from)
    }

    fn splits(
        &mut self,
        from: &FilesTaken,
        to: &FilesTaken,
        _workers: usize,
    ) -> Result<Vec<FileRange>, SourceError> {
        Ok(self.files.new_files(from, to).flat_map(ranges).collect())
    }

    fn reader(&self) -> FileReader {
        FileReader
    }

    fn ended(&self, at: &FilesTaken) -> bool {
        self.files.ended(at)
    }

    fn lag(&self, _from: &FilesTaken) -> Option<u64> {
        None
    }
}
