//! The one error type of this crate.
//!
//! Every variant that concerns a file carries its path, so a message printed at the top of the
//! program says which file to look at. Corruption is an error value, never a panic.

use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout `freshet-durable`.
pub type Result<T, E = DurableError> = std::result::Result<T, E>;

/// Everything that can go wrong in the storage layer, one variant per cause.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// An operating-system call on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the expected magic bytes (wrong kind of file, or garbage).
    #[error("{path}: bad file header (expected a {expected} file)")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// The kind of file that was expected ("wal", "manifest", ...).
        expected: &'static str,
    },
    /// The file has a format version this build cannot read.
    #[error("{path}: unsupported format version {version}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the header.
        version: u8,
    },
    /// A record failed its checksum or length check at `offset` (byte position in the file).
    #[error("{path}: corrupt record at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte position of the bad record in the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Records of a log were written and cannot be read back: damage inside a segment. The
    /// records after the damage are intact and still read.
    #[error("{path}: records {offsets:?} are lost (damage at byte {position}: {reason})")]
    Lost {
        /// The segment file.
        path: PathBuf,
        /// Byte position of the damage.
        position: u64,
        /// The offsets of the lost records.
        offsets: std::ops::Range<u64>,
        /// What was wrong.
        reason: String,
    },
    /// The file ends inside a record (a torn write) where a complete file was required.
    #[error("{path}: truncated at byte {offset}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Byte position where the incomplete record starts.
        offset: u64,
    },
    /// A checkpoint part listed in the manifest (or expected by it) is absent.
    #[error("{path}: missing checkpoint part of worker {worker}")]
    MissingPart {
        /// Path where the part should be.
        path: PathBuf,
        /// Worker whose part is missing.
        worker: usize,
    },
    /// A checkpoint part exists but its length or checksum differs from the manifest.
    #[error("{path}: checkpoint part does not match its manifest entry: {reason}")]
    PartMismatch {
        /// The part file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// A payload passed its checksum but could not be decoded (format bug or version skew).
    #[error("{path}: cannot decode: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Decoder message.
        reason: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Encoder message.
        reason: String,
    },
    /// A record is larger than the framing allows.
    #[error("record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// Length of the rejected record.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Another process holds the directory's lock (two jobs on one checkpoint directory).
    #[error("{path} is in use by {holder}: two jobs cannot share a checkpoint directory (stop the other job, or give this one its own directory)")]
    Locked {
        /// The directory.
        path: PathBuf,
        /// Who holds it, as the holder wrote it.
        holder: String,
    },
    /// A caller-supplied setting or argument is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl DurableError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        DurableError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// True when the error means "the data on disk is damaged" (as opposed to an I/O failure or
    /// a bad argument): callers such as checkpoint recovery fall back to older data on these.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            DurableError::BadHeader { .. }
                | DurableError::UnsupportedVersion { .. }
                | DurableError::Corrupt { .. }
                | DurableError::Lost { .. }
                | DurableError::Truncated { .. }
                | DurableError::MissingPart { .. }
                | DurableError::PartMismatch { .. }
                | DurableError::Decode { .. }
        )
    }
}

/// Adds a path to `io::Result`s.
pub(crate) trait IoContext<T> {
    /// Maps the error to [`DurableError::Io`] with `path`.
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| DurableError::io(path, e))
    }
}
