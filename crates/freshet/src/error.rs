//! Errors.
//!
//! [`Error`] is the error of the library: one variant per cause, the cause's own error kept as
//! its [`source`](std::error::Error::source), and the source or output it crossed added once, at
//! that boundary ([`Error::Source`], [`Error::Sink`], [`Error::Operator`]).
//!
//! Connectors report a [`ConnectorError`] (aliased [`SourceError`] and [`SinkError`]), classified
//! where the failure happened: whose problem it is ([`ErrorDomain`]) and whether waiting and
//! trying again may help ([`RetryHint`]). The engine reads the class to decide: a receiver is
//! restarted with back-off, a read or a write is retried, or the job fails.
//!
//! An error that ends a run is read by everyone who waits on the run, so errors are cheap to
//! clone: what they wrap (I/O and storage errors, a connector's cause) is shared behind an `Arc`,
//! never copied by hand.

use freshet_durable::DurableError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Whose problem an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorDomain {
    /// The user's: a bad setting, a missing topic, a record the pipeline cannot handle. Fixing
    /// it needs a person; retrying does not help.
    User,
    /// The outside world's: a service that is down or refused a request, a dropped connection, a
    /// full disk. It may pass by itself.
    External,
    /// Freshet's own (or a connector's): a bug. Retrying does not help.
    Internal,
}

/// Whether trying again may succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryHint {
    /// Do not retry: fail the job (or skip the record, where a policy says so).
    NoRetry,
    /// Retry after a delay that grows with every failure.
    WithBackoff,
}

/// An error of a source or a sink, classified where it happened.
///
/// ```
/// use freshet::{ConnectorError, ErrorDomain, RetryHint};
/// let e = ConnectorError::external("broker 127.0.0.1:9092 closed the connection");
/// assert_eq!(e.domain(), ErrorDomain::External);
/// assert_eq!(e.retry(), RetryHint::WithBackoff);
/// let e = ConnectorError::user("topic `clicks` does not exist");
/// assert!(!e.is_retryable());
/// ```
#[derive(Clone, Debug)]
pub struct ConnectorError {
    domain: ErrorDomain,
    retry: RetryHint,
    message: String,
    cause: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectorError {
    /// The cause itself (not the `Arc` it is shared in), so that `downcast_ref` finds the
    /// connector's own error type.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

/// The error a source reports.
pub type SourceError = ConnectorError;

/// The error a sink reports.
pub type SinkError = ConnectorError;

impl ConnectorError {
    /// An error of class `domain` / `retry`.
    pub fn new(domain: ErrorDomain, retry: RetryHint, message: impl Into<String>) -> Self {
        ConnectorError {
            domain,
            retry,
            message: message.into(),
            cause: None,
        }
    }

    /// The user's mistake: not retried.
    pub fn user(message: impl Into<String>) -> Self {
        Self::new(ErrorDomain::User, RetryHint::NoRetry, message)
    }

    /// A failure of the outside world that may pass: retried with back-off.
    pub fn external(message: impl Into<String>) -> Self {
        Self::new(ErrorDomain::External, RetryHint::WithBackoff, message)
    }

    /// A bug: not retried.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorDomain::Internal, RetryHint::NoRetry, message)
    }

    /// An I/O error about `what` (an address, a path), classified by its kind: a refused, reset
    /// or timed-out connection and a full disk are external and retryable; a missing file, a
    /// permission, an address in use or invalid data are the user's.
    pub fn io(what: impl fmt::Display, error: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let (domain, retry) = match error.kind() {
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::TimedOut
            | K::Interrupted
            | K::WouldBlock
            | K::UnexpectedEof
            | K::StorageFull
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::ResourceBusy => (ErrorDomain::External, RetryHint::WithBackoff),
            K::NotFound
            | K::PermissionDenied
            | K::AddrInUse
            | K::AddrNotAvailable
            | K::InvalidInput
            | K::InvalidData
            | K::AlreadyExists
            | K::NotADirectory
            | K::IsADirectory
            | K::ReadOnlyFilesystem => (ErrorDomain::User, RetryHint::NoRetry),
            _ => (ErrorDomain::External, RetryHint::NoRetry),
        };
        ConnectorError {
            domain,
            retry,
            message: format!("{what}: {error}"),
            cause: Some(Arc::new(error)),
        }
    }

    /// Keeps `cause` as this error's source.
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// Whose problem it is.
    pub fn domain(&self) -> ErrorDomain {
        self.domain
    }

    /// Whether trying again may help.
    pub fn retry(&self) -> RetryHint {
        self.retry
    }

    /// Whether the engine retries it (with back-off).
    pub fn is_retryable(&self) -> bool {
        self.retry == RetryHint::WithBackoff
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A Freshet error.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (for example a batch interval of zero).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The pipeline cannot be built as written (for example a window that is not a multiple of the
    /// batch interval, or a context started twice).
    #[error("invalid pipeline: {0}")]
    Plan(String),
    /// A source failed.
    #[error("source `{id}` failed: {error}")]
    Source {
        /// The source's stable id.
        id: String,
        /// What went wrong, classified.
        #[source]
        error: ConnectorError,
    },
    /// An output failed to write a batch.
    #[error("output `{output}` failed: {error}")]
    Sink {
        /// The output's stable id.
        output: String,
        /// What went wrong, classified.
        #[source]
        error: ConnectorError,
    },
    /// An operator failed (its checkpointed state does not decode, for example).
    #[error("operator `{operator}`: {error}")]
    Operator {
        /// The operator's name.
        operator: String,
        /// What went wrong.
        #[source]
        error: Box<Error>,
    },
    /// A socket could not be bound or connected.
    #[error("cannot use address {addr}: {error}")]
    Address {
        /// The address.
        addr: String,
        /// The underlying error.
        #[source]
        error: Arc<std::io::Error>,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: Arc<std::io::Error>,
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
    /// A thread of the run could not be started.
    #[error("cannot start the {thread} thread: {error}")]
    Spawn {
        /// Which thread.
        thread: String,
        /// The underlying error.
        #[source]
        error: Arc<std::io::Error>,
    },
    /// A fallible user function (such as the one given to
    /// [`try_map_partitions`](crate::DStream::try_map_partitions)) returned an error for a
    /// batch; it comes wrapped in an [`Error::Operator`] naming the operator and the batch.
    #[error("{0}")]
    Function(String),
    /// The dataflow runtime failed to start or run.
    #[error("runtime error: {0}")]
    Runtime(String),
    /// A process of the job could not be reached, failed, or disagrees with the driver.
    #[error("cluster: {0}")]
    Cluster(String),
    /// Waiting for a batch timed out.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The context has stopped, so the call cannot complete.
    #[error("the streaming context has stopped")]
    Stopped,
    /// The checkpoint directory, batch log or write-ahead log cannot be used.
    #[error("checkpoint: {what}: {error}")]
    Durable {
        /// What was being read or written.
        what: String,
        /// The storage error.
        #[source]
        error: Arc<DurableError>,
    },
    /// A `map_with_state` function updated or removed the state of a key during the key's
    /// timeout call ([`State::is_timing_out`](crate::State::is_timing_out)), where the key is
    /// removed whatever the function does (Spark: "Cannot update the state that is timing
    /// out"). It comes wrapped in an [`Error::Operator`] naming the operator.
    #[error("cannot {action} the state of a key that is timing out (batch {time}): the key is removed after this call; check State::is_timing_out() before calling {action}()")]
    StateTimingOut {
        /// What the function did: `"update"` or `"remove"`.
        action: &'static str,
        /// The batch in which the key timed out.
        time: crate::time::BatchTime,
    },
    /// Data read back from the checkpoint directory passed its checksum but does not decode:
    /// the pipeline's types changed since it was written.
    #[error("checkpoint: {what} does not decode ({reason}); the pipeline's types changed: start with a fresh checkpoint directory")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The decoder's message.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: Arc::new(error),
        }
    }

    pub(crate) fn address(addr: impl Into<String>, error: std::io::Error) -> Self {
        Error::Address {
            addr: addr.into(),
            error: Arc::new(error),
        }
    }

    pub(crate) fn spawn(thread: impl Into<String>, error: std::io::Error) -> Self {
        Error::Spawn {
            thread: thread.into(),
            error: Arc::new(error),
        }
    }

    pub(crate) fn durable(what: impl Into<String>, error: DurableError) -> Self {
        Error::Durable {
            what: what.into(),
            error: Arc::new(error),
        }
    }

    /// Whose problem the error is.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Error::Config(_)
            | Error::Plan(_)
            | Error::Pattern { .. }
            | Error::Decode { .. }
            | Error::Function(_)
            | Error::StateTimingOut { .. } => ErrorDomain::User,
            Error::Source { error, .. } | Error::Sink { error, .. } => error.domain(),
            Error::Operator { error, .. } => error.domain(),
            Error::Address { .. } | Error::Io { .. } | Error::Durable { .. } => {
                ErrorDomain::External
            }
            Error::Timeout(_) | Error::Stopped | Error::Cluster(_) => ErrorDomain::External,
            Error::WorkerPanicked { .. } | Error::Spawn { .. } | Error::Runtime(_) => {
                ErrorDomain::Internal
            }
        }
    }
}

/// `Result` with Freshet's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_are_classified_by_kind() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = ConnectorError::io("127.0.0.1:1", refused);
        assert!(e.is_retryable());
        assert_eq!(e.domain(), ErrorDomain::External);
        let cause = e.source().and_then(|c| c.downcast_ref::<std::io::Error>());
        assert_eq!(
            cause.map(std::io::Error::kind),
            Some(std::io::ErrorKind::ConnectionRefused),
            "the source is the cause itself"
        );
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            ConnectorError::io("/x", missing).domain(),
            ErrorDomain::User
        );
    }

    #[test]
    fn the_chain_is_kept_across_boundaries() {
        let inner = ConnectorError::external("reset")
            .with_cause(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let e = Error::Source {
            id: "clicks".into(),
            error: inner,
        };
        assert_eq!(e.domain(), ErrorDomain::External);
        assert!(matches!(e.clone(), Error::Source { id, .. } if id == "clicks"));
        let mut depth = 0;
        let mut cur: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cur {
            depth += 1;
            cur = c.source();
        }
        assert!(depth >= 2, "source chain has {depth} links");
    }
}
