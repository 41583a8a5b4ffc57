//! The lines appended to the log files of a directory, read by byte ranges.

use freshet::source::{DirectSource, ReadContext, SplitReader, StartContext};
use freshet::SourceError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The smallest and largest per-file read of one batch.
const MIN_BYTES: u64 = 1 << 10;
const MAX_BYTES: u64 = 1 << 30;

/// Options of an [`AppendLogSource`].
#[derive(Clone, Debug)]
pub struct AppendLogOptions {
    /// At most this many bytes per file and batch (1 KiB ..= 1 GiB; default 8 MiB). A longer
    /// line is still taken whole.
    pub max_bytes_per_file: u64,
}

impl Default for AppendLogOptions {
    fn default() -> Self {
        AppendLogOptions {
            max_bytes_per_file: 8 << 20,
        }
    }
}

/// Where an [`AppendLogSource`] stands: per file name, the byte position after the last
/// complete line taken.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendLogOffset {
    /// Byte positions by file name (relative to the directory).
    pub files: BTreeMap<String, u64>,
}

/// The bytes `start..end` of one file: whole lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The file's name in the directory.
    pub file: String,
    /// The first byte.
    pub start: u64,
    /// One past the last byte (just after a `\n`).
    pub end: u64,
}

/// Lines appended to the files of a directory. See the [module documentation](super).
#[derive(Clone, Debug)]
pub struct AppendLogSource {
    dir: PathBuf,
    options: AppendLogOptions,
    /// In an available-now run: the sizes when it started, which bound what is read.
    frozen: Option<BTreeMap<String, u64>>,
}

impl AppendLogSource {
    /// The log files of `dir`, with default options.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::with_options(dir, AppendLogOptions::default())
    }

    /// The log files of `dir`.
    pub fn with_options(dir: impl Into<PathBuf>, options: AppendLogOptions) -> Self {
        AppendLogSource {
            dir: dir.into(),
            options,
            frozen: None,
        }
    }

    /// The current size of every log file (names starting with `.` or `_` are ignored).
    fn sizes(&self) -> Result<BTreeMap<String, u64>, SourceError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            SourceError::external(format!("cannot list {}: {e}", self.dir.display())).with_cause(e)
        })?;
        let mut sizes = BTreeMap::new();
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            match entry.metadata() {
                Ok(m) if m.is_file() => {
                    sizes.insert(name, m.len());
                }
                _ => {}
            }
        }
        Ok(sizes)
    }

    /// The end of the complete lines of `file` from `start`, reading at most about
    /// `max_bytes_per_file` (more when one line is longer) and not past `size`.
    fn complete_lines_end(&self, file: &str, start: u64, size: u64) -> Result<u64, SourceError> {
        let path = self.dir.join(file);
        let mut f = std::fs::File::open(&path).map_err(|e| SourceError::io(path.display(), e))?;
        let mut window_end = size.min(start.saturating_add(self.options.max_bytes_per_file));
        let mut search_from = start;
        loop {
            let mut buf = vec![0u8; (window_end - search_from) as usize];
            f.seek(SeekFrom::Start(search_from))
                .and_then(|_| f.read_exact(&mut buf))
                .map_err(|e| SourceError::io(path.display(), e))?;
            if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
                return Ok(search_from + i as u64 + 1);
            }
            if window_end >= size {
                // Only a line still being written: it waits for its `\n`.
                return Ok(start);
            }
            // One line longer than the window: look further.
            search_from = window_end;
            window_end = size.min(window_end.saturating_add(self.options.max_bytes_per_file));
        }
    }
}

impl DirectSource for AppendLogSource {
    type Item = String;
    type Offset = AppendLogOffset;
    type Split = ByteRange;
    type Reader = AppendLogReader;

    fn kind(&self) -> &'static str {
        "append_log"
    }

    fn describe(&self) -> String {
        format!("append_log {}", self.dir.display())
    }

    fn start(&mut self, ctx: &StartContext) -> Result<AppendLogOffset, SourceError> {
        let max = self.options.max_bytes_per_file;
        if !(MIN_BYTES..=MAX_BYTES).contains(&max) {
            return Err(SourceError::user(format!(
                "max_bytes_per_file must be between {MIN_BYTES} and {MAX_BYTES}, not {max}"
            )));
        }
        if !self.dir.is_dir() {
            return Err(SourceError::user(format!(
                "{} is not a directory",
                self.dir.display()
            )));
        }
        if ctx.available_now {
            self.frozen = Some(self.sizes()?);
        }
        Ok(AppendLogOffset::default())
    }

    fn latest(&mut self, from: &AppendLogOffset) -> Result<AppendLogOffset, SourceError> {
        let sizes = match &self.frozen {
            Some(sizes) => sizes.clone(),
            None => self.sizes()?,
        };
        let mut to = from.clone();
        for (file, size) in sizes {
            let start = from.files.get(&file).copied().unwrap_or(0);
            if size < start {
                return Err(SourceError::user(format!(
                    "{} shrank from {start} to {size} bytes: log files must only grow (rotate by renaming)",
                    self.dir.join(&file).display()
                )));
            }
            if size > start {
                let end = self.complete_lines_end(&file, start, size)?;
                if end > start {
                    to.files.insert(file, end);
                }
            }
        }
        Ok(to)
    }

    fn splits(
        &mut self,
        from: &AppendLogOffset,
        to: &AppendLogOffset,
        _workers: usize,
    ) -> Result<Vec<ByteRange>, SourceError> {
        Ok(to
            .files
            .iter()
            .filter_map(|(file, &end)| {
                let start = from.files.get(file).copied().unwrap_or(0);
                (end > start).then(|| ByteRange {
                    file: file.clone(),
                    start,
                    end,
                })
            })
            .collect())
    }

    fn reader(&self) -> AppendLogReader {
        AppendLogReader {
            dir: self.dir.clone(),
        }
    }

    fn ended(&self, at: &AppendLogOffset) -> bool {
        // In an available-now run, once every file is read up to its size at the start (a
        // last line without `\n` is never complete, so it is left out).
        self.frozen.as_ref().is_some_and(|sizes| {
            sizes.iter().all(|(file, size)| {
                let pos = at.files.get(file).copied().unwrap_or(0);
                pos >= *size || self.complete_lines_end(file, pos, *size).ok() == Some(pos)
            })
        })
    }

    fn lag(&self, from: &AppendLogOffset) -> Option<u64> {
        // Bytes, not lines: what is known without reading.
        let sizes = self.sizes().ok()?;
        Some(
            sizes
                .iter()
                .map(|(f, s)| s.saturating_sub(from.files.get(f).copied().unwrap_or(0)))
                .sum(),
        )
    }
}

/// Reads the lines of a [`ByteRange`].
#[derive(Clone, Debug)]
pub struct AppendLogReader {
    dir: PathBuf,
}

fn read_range(path: &Path, range: &ByteRange) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(range.start))?;
    let mut buf = vec![0u8; (range.end - range.start) as usize];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

impl SplitReader for AppendLogReader {
    type Split = ByteRange;
    type Item = String;

    fn read(
        &self,
        range: &ByteRange,
        out: &mut Vec<String>,
        ctx: &ReadContext<'_>,
    ) -> Result<(), SourceError> {
        let path = self.dir.join(&range.file);
        let bytes = read_range(&path, range).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => SourceError::user(format!(
                "{} is shorter than byte {}: log files must only grow",
                path.display(),
                range.end
            )),
            _ => SourceError::io(path.display(), e),
        })?;
        let mut at = range.start;
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            match std::str::from_utf8(text) {
                Ok(s) => out.push(s.to_string()),
                Err(_) => ctx.bad_record_raw(
                    &format!(
                        "{}: the line at byte {at} is not valid UTF-8",
                        path.display()
                    ),
                    text,
                ),
            }
            at += line.len() as u64;
        }
        Ok(())
    }
}
