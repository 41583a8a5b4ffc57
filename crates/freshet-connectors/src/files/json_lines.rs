//! JSON lines: one JSON value per line, as a sink (one file per batch and partition, or
//! rolled), exactly-once, and as a decoder for the typed readers.

use super::encode::{concatenate, Encoder};
use super::error::FormatError;
use super::writer::{sink_settings, FormatWriter, SinkSettings};
use super::BadRow;
use freshet::sink::{Guarantee, Sink, SinkContext};
use freshet::SinkError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// Writes every batch as JSON lines: `<dir>/batch-<time>/part-<partition:05>` by default,
/// under `<column>=<value>/` directories with [`partition_by`](Self::partition_by), rolled
/// into `part-<n>-<first>-<last>` files with [`rolling`](Self::rolling). Exactly-once. See
/// the [module documentation](super).
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet::source::generator::GeneratorOptions;
/// use freshet_connectors::files::{JsonLinesSink, PartitionBy, RollingPolicy};
/// use std::time::Duration;
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(100)))?;
/// ctx.click_stream(GeneratorOptions::rate(1000))
///     .sink(
///         JsonLinesSink::new("out/clicks")
///             .extension(".jsonl")
///             .partition_by(PartitionBy::field("page"))
///             .rolling(RollingPolicy::new().max_span(Duration::from_secs(60))),
///     )
///     .uid("clicks-jsonl");
/// # Ok::<(), freshet::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    files: SinkSettings,
}

impl JsonLinesSink {
    /// A sink writing under `dir`, fsyncing what it writes, files without an extension.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JsonLinesSink {
            files: SinkSettings::new(dir.into(), ""),
        }
    }

    sink_settings!();

    /// Checks every setting (the sink checks them again when a writer opens).
    pub fn validate(&self) -> Result<(), FormatError> {
        self.files.validate()
    }
}

/// The writer of one partition of a [`JsonLinesSink`].
pub type JsonLinesWriter<T> = FormatWriter<T>;

impl<T: Serialize + Send + Sync + 'static> Sink<T> for JsonLinesSink {
    type Writer = JsonLinesWriter<T>;

    fn open(&self, ctx: &SinkContext) -> Result<JsonLinesWriter<T>, SinkError> {
        Ok(FormatWriter::open(&self.files, ctx, Box::new(JsonEncoder))?)
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

/// Writes records as JSON lines.
pub(crate) struct JsonEncoder;

impl<T: Serialize + 'static> Encoder<T> for JsonEncoder {
    fn write_file(
        &self,
        path: &Path,
        records: &[&T],
        out: &mut BufWriter<File>,
    ) -> Result<(), FormatError> {
        for r in records {
            serde_json::to_writer(&mut *out, r).map_err(|e| {
                if e.is_io() {
                    FormatError::io(path, std::io::Error::other(e))
                } else {
                    FormatError::encode("JSON", e)
                }
            })?;
            out.write_all(b"\n").map_err(|e| FormatError::io(path, e))?;
        }
        Ok(())
    }

    fn combine(&self, parts: &[PathBuf], out: &mut BufWriter<File>) -> Result<(), FormatError> {
        concatenate(parts, out, |_, _| Ok(0))
    }
}

/// The largest byte range of a JSON lines file that one split of a stream reads.
pub(crate) const RANGE_BYTES: u64 = 1 << 20;

/// The byte ranges of at most [`RANGE_BYTES`] that a JSON lines file of `size` bytes is read
/// in (one empty range for an empty file).
pub(crate) fn byte_ranges(size: u64) -> Vec<(u64, u64)> {
    if size == 0 {
        return vec![(0, 0)];
    }
    (0..size.div_ceil(RANGE_BYTES))
        .map(|i| (i * RANGE_BYTES, ((i + 1) * RANGE_BYTES).min(size)))
        .collect()
}

/// Reads the JSON lines of `path` as records; blank lines are ignored, a line that does not
/// parse as a `T` goes to `bad`.
pub(crate) fn decode_json_lines<T: DeserializeOwned>(
    path: &Path,
    out: &mut Vec<T>,
    bad: &mut dyn FnMut(BadRow),
) -> Result<(), FormatError> {
    decode_json_lines_in(path, None, out, bad)
}

/// [`decode_json_lines`] for the lines that start in bytes `start..end` of `path` (the last
/// one read to its end), or all of them for `None`. A bad line is located by its number in a
/// range that starts the file, else by the byte it starts at.
pub(crate) fn decode_json_lines_in<T: DeserializeOwned>(
    path: &Path,
    range: Option<(u64, u64)>,
    out: &mut Vec<T>,
    bad: &mut dyn FnMut(BadRow),
) -> Result<(), FormatError> {
    let io = |e| FormatError::io(path, e);
    let file = File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let (start, end) = range.unwrap_or((0, u64::MAX));
    let mut pos = start;
    if start > 0 {
        // The line that holds byte `start - 1` belongs to the range before.
        reader
            .seek(std::io::SeekFrom::Start(start - 1))
            .map_err(io)?;
        pos = start - 1 + reader.read_until(b'\n', &mut line).map_err(io)? as u64;
    }
    let mut number = 0u64;
    while pos < end {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        let at = pos;
        pos += n as u64;
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Checking the line's UTF-8 at once and parsing it as text is faster than letting the
        // parser check every string it reads (10-20% here).
        let parsed = std::str::from_utf8(text)
            .map_err(|e| format!("not valid UTF-8: {e}"))
            .and_then(|s| serde_json::from_str::<T>(s).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => out.push(r),
            Err(reason) => bad(BadRow {
                path: path.to_path_buf(),
                location: if start == 0 {
                    format!("line {number}")
                } else {
                    format!("the line at byte {at}")
                },
                reason,
                raw: text.to_vec(),
            }),
        }
    }
    Ok(())
}
