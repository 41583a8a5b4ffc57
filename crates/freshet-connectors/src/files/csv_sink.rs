//! CSV: records of flat structs (or tuples) as rows, with a header row of the field names, as
//! a sink (exactly-once, one file per batch and partition, or rolled) and as a decoder for the
//! typed readers.

use super::encode::{concatenate, Encoder};
use super::error::FormatError;
use super::writer::{sink_settings, FormatWriter, SinkSettings};
use super::BadRow;
use freshet::sink::{Guarantee, Sink, SinkContext};
use freshet::SinkError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// How CSV files are written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first row holds the field names (default `true`). Written from the
    /// record's field names; read to match columns to fields by name.
    pub has_headers: bool,
    /// The field delimiter (default `b','`): an ASCII character other than `"`, `\n` and `\r`.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_headers: true,
            delimiter: b',',
        }
    }
}

impl CsvOptions {
    /// Headers, commas.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the first row holds the field names.
    pub fn has_headers(mut self, yes: bool) -> Self {
        self.has_headers = yes;
        self
    }

    /// The field delimiter (`b'\t'` for TSV).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Checks the delimiter.
    pub fn validate(&self) -> Result<(), FormatError> {
        let d = self.delimiter;
        if !d.is_ascii() || matches!(d, b'"' | b'\n' | b'\r') {
            return Err(FormatError::setting(
                "csv delimiter",
                format!("{:?}", d as char),
                "an ASCII character other than `\"`, `\\n` and `\\r`",
            ));
        }
        Ok(())
    }
}

/// Writes every batch as CSV: `<dir>/batch-<time>/part-<partition:05>.csv`, under
/// `<column>=<value>/` with [`partition_by`](Self::partition_by), rolled into
/// `part-<n>-<first>-<last>.csv` files with [`rolling`](Self::rolling). Every file that has
/// records starts with the header row. Exactly-once. Records must be flat: a nested struct,
/// list or map field fails the write with a user error.
#[derive(Clone, Debug)]
pub struct CsvSink {
    files: SinkSettings,
    csv: CsvOptions,
}

impl CsvSink {
    /// A sink writing under `dir`, fsyncing what it writes, `.csv` files.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CsvSink {
            files: SinkSettings::new(dir.into(), ".csv"),
            csv: CsvOptions::default(),
        }
    }

    sink_settings!();

    /// The CSV dialect (header row, delimiter).
    pub fn csv_options(mut self, options: CsvOptions) -> Self {
        self.csv = options;
        self
    }

    /// Checks every setting (the sink checks them again when a writer opens).
    pub fn validate(&self) -> Result<(), FormatError> {
        self.csv.validate()?;
        self.files.validate()
    }
}

/// The writer of one partition of a [`CsvSink`].
pub type CsvWriter<T> = FormatWriter<T>;

impl<T: Serialize + Send + Sync + 'static> Sink<T> for CsvSink {
    type Writer = CsvWriter<T>;

    fn open(&self, ctx: &SinkContext) -> Result<CsvWriter<T>, SinkError> {
        self.csv.validate()?;
        Ok(FormatWriter::open(
            &self.files,
            ctx,
            Box::new(CsvEncoder(self.csv)),
        )?)
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

/// Writes records as CSV rows.
pub(crate) struct CsvEncoder(pub CsvOptions);

fn csv_error(path: &Path, e: csv::Error) -> FormatError {
    if !e.is_io_error() {
        return FormatError::encode("CSV", e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(e) => FormatError::io(path, e),
        _ => FormatError::io(path, std::io::Error::other("an I/O error")),
    }
}

impl<T: Serialize + 'static> Encoder<T> for CsvEncoder {
    fn write_file(
        &self,
        path: &Path,
        records: &[&T],
        out: &mut BufWriter<File>,
    ) -> Result<(), FormatError> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(self.0.has_headers)
            .delimiter(self.0.delimiter)
            .from_writer(&mut *out);
        for r in records {
            w.serialize(r).map_err(|e| csv_error(path, e))?;
        }
        w.flush().map_err(|e| FormatError::io(path, e))?;
        Ok(())
    }

    fn combine(&self, parts: &[PathBuf], out: &mut BufWriter<File>) -> Result<(), FormatError> {
        let headers = self.0.has_headers;
        let delimiter = self.0.delimiter;
        // Keep the header row of the first part only.
        concatenate(parts, out, |i, part| {
            if i == 0 || !headers {
                return Ok(0);
            }
            let mut r = csv::ReaderBuilder::new()
                .has_headers(true)
                .delimiter(delimiter)
                .from_path(part)
                .map_err(|e| csv_error(part, e))?;
            r.byte_headers().map_err(|e| csv_error(part, e))?;
            Ok(r.position().byte())
        })
    }
}

/// Reads the CSV rows of `path` as records; a row that does not parse as a `T` goes to `bad`.
pub(crate) fn decode_csv<T: DeserializeOwned>(
    options: &CsvOptions,
    path: &Path,
    out: &mut Vec<T>,
    bad: &mut dyn FnMut(BadRow),
) -> Result<(), FormatError> {
    options.validate()?;
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(options.has_headers)
        .delimiter(options.delimiter)
        .from_reader(std::io::BufReader::with_capacity(1 << 16, file));
    let headers = if options.has_headers {
        match reader.byte_headers() {
            Ok(h) => Some(h.clone()),
            Err(e) => return Err(header_error(path, e)),
        }
    } else {
        None
    };
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => match record.deserialize::<T>(headers.as_ref()) {
                Ok(r) => out.push(r),
                Err(e) => bad(BadRow {
                    path: path.to_path_buf(),
                    location: format!("line {}", record.position().map_or(line, |p| p.line())),
                    reason: e.to_string(),
                    raw: raw_row(&record, options.delimiter),
                }),
            },
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(csv_error(path, e)),
                _ => bad(BadRow {
                    path: path.to_path_buf(),
                    location: format!("line {}", e.position().map_or(line, |p| p.line())),
                    reason: e.to_string(),
                    raw: raw_row(&record, options.delimiter),
                }),
            },
        }
    }
}

fn header_error(path: &Path, e: csv::Error) -> FormatError {
    if e.is_io_error() {
        return csv_error(path, e);
    }
    FormatError::damaged(path, "CSV", format!("the header row: {e}"))
}

/// The fields of a row joined by the delimiter (for a dead-letter file).
fn raw_row(record: &csv::ByteRecord, delimiter: u8) -> Vec<u8> {
    let mut raw = Vec::new();
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            raw.push(delimiter);
        }
        raw.extend_from_slice(field);
    }
    raw
}
