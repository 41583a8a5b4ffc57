//! The errors of the file formats: one variant per cause, each naming the file or the setting.
//!
//! A [`FormatError`] becomes a [`ConnectorError`] where it crosses into the engine (a sink's
//! write, a source's read), classified there: a bad setting, a record the format cannot hold,
//! a damaged file or a bad row are the user's; I/O errors are classified by their kind.

use freshet::ConnectorError;
use std::fmt;
use std::path::PathBuf;

/// An error of a file sink or a typed file reader.
#[derive(Debug)]
#[non_exhaustive]
pub enum FormatError {
    /// A setting is out of its range.
    Setting {
        /// The setting's name, as its builder method is called.
        name: &'static str,
        /// The value given.
        value: String,
        /// The values it accepts.
        expected: &'static str,
    },
    /// A file or directory could not be read or written.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A record cannot be written in the format (a nested value in CSV, a map key that is not
    /// a string in JSON, a value that does not fit the Parquet schema).
    Encode {
        /// The format (`"JSON lines"`, `"CSV"`, `"Parquet"`).
        format: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The record type has no schema in the format (Parquet: a type serde_arrow cannot
    /// trace, a timestamp setting naming a field that is not an `i64`).
    Schema {
        /// The record type.
        record: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A file is not a valid file of its format (a truncated or damaged Parquet file).
    Damaged {
        /// The file.
        path: PathBuf,
        /// The format.
        format: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A row does not parse as a record, and the bad-record policy is to fail.
    BadRow {
        /// The file.
        path: PathBuf,
        /// Where in the file (`line 3`, `record 7`, `row 12`).
        location: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A partition value cannot be a directory name.
    PartitionValue {
        /// The partition column.
        column: String,
        /// The value (or a description of it).
        value: String,
        /// Why.
        reason: String,
    },
}

impl FormatError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        FormatError::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn setting(
        name: &'static str,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Self {
        FormatError::Setting {
            name,
            value: value.to_string(),
            expected,
        }
    }

    pub(crate) fn encode(format: &'static str, message: impl fmt::Display) -> Self {
        FormatError::Encode {
            format,
            message: message.to_string(),
        }
    }

    pub(crate) fn damaged(
        path: impl Into<PathBuf>,
        format: &'static str,
        message: impl fmt::Display,
    ) -> Self {
        FormatError::Damaged {
            path: path.into(),
            format,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Setting {
                name,
                value,
                expected,
            } => write!(f, "{name} must be {expected}, not {value}"),
            FormatError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            FormatError::Encode { format, message } => {
                write!(f, "a record cannot be written as {format}: {message}")
            }
            FormatError::Schema { record, message } => {
                write!(f, "no Parquet schema for `{record}`: {message}")
            }
            FormatError::Damaged {
                path,
                format,
                message,
            } => write!(
                f,
                "{} is not a valid {format} file: {message}",
                path.display()
            ),
            FormatError::BadRow {
                path,
                location,
                reason,
            } => write!(f, "{}: {location} does not parse: {reason}", path.display()),
            FormatError::PartitionValue {
                column,
                value,
                reason,
            } => write!(f, "partition column `{column}`: value {value}: {reason}"),
        }
    }
}

impl std::error::Error for FormatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FormatError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<FormatError> for ConnectorError {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Io { path, error } => ConnectorError::io(path.display(), error),
            other => ConnectorError::user(other.to_string()),
        }
    }
}

/// Checks that `value` is in `lo..=hi`; `expected` reads like "between 1 and 100".
pub(crate) fn check_range<T: PartialOrd + fmt::Display>(
    name: &'static str,
    value: T,
    lo: T,
    hi: T,
    expected: &'static str,
) -> Result<(), FormatError> {
    if value < lo || value > hi {
        return Err(FormatError::setting(name, value, expected));
    }
    Ok(())
}
