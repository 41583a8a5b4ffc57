//! The formats the typed readers understand, the rows they refuse, and which files a path
//! names.

use super::csv_sink::{decode_csv, CsvOptions};
use super::error::FormatError;
use super::json_lines::decode_json_lines;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// A file format a typed reader decodes into serde records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// One JSON value per line; blank lines are ignored.
    JsonLines,
    /// CSV rows, matched to fields by the header row's names (or by position without one).
    Csv(CsvOptions),
    /// Parquet files, through Arrow record batches.
    #[cfg(feature = "parquet")]
    Parquet,
}

impl FileFormat {
    /// The format's name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            FileFormat::JsonLines => "JSON lines",
            FileFormat::Csv(_) => "CSV",
            #[cfg(feature = "parquet")]
            FileFormat::Parquet => "Parquet",
        }
    }

    /// Checks the format's settings.
    pub fn validate(&self) -> Result<(), FormatError> {
        match self {
            FileFormat::Csv(o) => o.validate(),
            _ => Ok(()),
        }
    }

    /// Appends the records of the file `path` to `out`. A row that does not parse goes to
    /// `bad`; a file that cannot be read, or is not a file of the format (a truncated Parquet
    /// file), is an error naming it.
    pub fn decode<T: DeserializeOwned>(
        &self,
        path: &Path,
        out: &mut Vec<T>,
        bad: &mut dyn FnMut(BadRow),
    ) -> Result<(), FormatError> {
        match self {
            FileFormat::JsonLines => decode_json_lines(path, out, bad),
            FileFormat::Csv(o) => decode_csv(o, path, out, bad),
            #[cfg(feature = "parquet")]
            FileFormat::Parquet => crate::parquet::read::decode_parquet(path, out, bad),
        }
    }
}

/// A row that does not parse as a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// The file.
    pub path: PathBuf,
    /// Where in the file: `line 3` (JSON lines, CSV), `row 12` (Parquet, counted from 0).
    pub location: String,
    /// Why it does not parse.
    pub reason: String,
    /// The row's bytes, where the format has them (empty for Parquet).
    pub raw: Vec<u8>,
}

impl BadRow {
    /// `<file>: <location>: <reason>`, as the bad-record policy logs it.
    pub fn describe(&self) -> String {
        format!(
            "{}: {}: {}",
            self.path.display(),
            self.location,
            self.reason
        )
    }

    /// The error that fails a read with this row.
    pub fn into_error(self) -> FormatError {
        FormatError::BadRow {
            path: self.path,
            location: self.location,
            reason: self.reason,
        }
    }
}

/// Whether a file or directory name is hidden from readers (`.` or `_` first: temporary
/// files, staging directories).
pub(crate) fn hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// The files `path` names: the file itself, or the files under the directory, recursively
/// (partition and batch directories), hidden names excepted, in [`natural_order`] of their
/// paths.
pub(crate) fn list_files(path: &Path) -> Result<Vec<PathBuf>, FormatError> {
    let meta = std::fs::metadata(path).map_err(|e| FormatError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    walk(path, &mut files)?;
    files.sort_by(|a, b| natural_order(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(files)
}

/// Compares names with runs of digits compared by value, so that `batch-200` comes before
/// `batch-1000` and `part-0-100-300` before `part-0-1000-1100`: batch order.
pub(crate) fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for ((da, xa), (db, xb)) in ra.iter().zip(rb.iter()) {
        let ord = if *da && *db {
            let (ta, tb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            xa.cmp(xb)
        };
        if ord.is_ne() {
            return ord;
        }
    }
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), FormatError> {
    let entries = std::fs::read_dir(dir).map_err(|e| FormatError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FormatError::io(dir, e))?;
        let name = entry.file_name();
        if hidden(&name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| FormatError::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if kind.is_file() || path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}
