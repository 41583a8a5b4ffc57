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
use std::io::{BufRead, BufWriter, Write};
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

/// Reads the JSON lines of `path` as records; blank lines are ignored, a line that does not
/// parse as a `T` goes to `bad`.
pub(crate) fn decode_json_lines<T: DeserializeOwned>(
    path: &Path,
    out: &mut Vec<T>,
    bad: &mut dyn FnMut(BadRow),
) -> Result<(), FormatError> {
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| FormatError::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<T>(text) {
            Ok(r) => out.push(r),
            Err(e) => bad(BadRow {
                path: path.to_path_buf(),
                location: format!("line {number}"),
                reason: e.to_string(),
                raw: text.to_vec(),
            }),
        }
    }
}
