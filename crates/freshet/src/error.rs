//! Errors.
//!
//! Each cause has its own variant. Errors that happen while a pipeline runs carry the name of the
//! source or operator they come from.

use std::path::PathBuf;

/// A Freshet error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (for example a batch interval of zero).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The pipeline cannot be built as written (for example a window that is not a multiple of the
    /// batch interval, or a context started twice).
    #[error("invalid pipeline: {0}")]
    Plan(String),
    /// A source failed.
    #[error("source `{source_name}` failed: {message}")]
    Source {
        /// The source's name.
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// A socket could not be bound or connected.
    #[error("cannot use address {addr}: {error}")]
    Address {
        /// The address.
        addr: String,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// An invalid glob pattern.
    #[error("invalid path pattern `{pattern}`: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A worker thread panicked (a bug in an operator closure, or in Freshet).
    #[error("worker {worker} panicked: {message}")]
    WorkerPanicked {
        /// The worker's index.
        worker: usize,
        /// The panic message.
        message: String,
    },
    /// The runtime failed to start.
    #[error("runtime error: {0}")]
    Runtime(String),
    /// Waiting for a batch timed out.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The context has stopped, so the call cannot complete.
    #[error("the streaming context has stopped")]
    Stopped,
    /// A sink failed to write a batch.
    #[error("sink failed: {0}")]
    Sink(String),
    /// The checkpoint directory, batch log or a snapshot cannot be used.
    #[error("checkpoint: {0}")]
    Durable(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    /// A copy of this error for a second reader (the original may hold an `io::Error`, which is
    /// not `Clone`).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { path, error } => Error::Io {
                path: path.clone(),
                error: std::io::Error::new(error.kind(), error.to_string()),
            },
            Error::Address { addr, error } => Error::Address {
                addr: addr.clone(),
                error: std::io::Error::new(error.kind(), error.to_string()),
            },
            Error::Config(s) => Error::Config(s.clone()),
            Error::Plan(s) => Error::Plan(s.clone()),
            Error::Source {
                source_name,
                message,
            } => Error::Source {
                source_name: source_name.clone(),
                message: message.clone(),
            },
            Error::Pattern { pattern, message } => Error::Pattern {
                pattern: pattern.clone(),
                message: message.clone(),
            },
            Error::WorkerPanicked { worker, message } => Error::WorkerPanicked {
                worker: *worker,
                message: message.clone(),
            },
            Error::Runtime(s) => Error::Runtime(s.clone()),
            Error::Timeout(d) => Error::Timeout(*d),
            Error::Stopped => Error::Stopped,
            Error::Durable(s) => Error::Durable(s.clone()),
            Error::Sink(s) => Error::Sink(s.clone()),
        }
    }
}

/// `Result` with Freshet's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
