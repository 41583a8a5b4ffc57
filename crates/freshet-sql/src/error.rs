//! The errors of SQL over streams.

use datafusion::error::DataFusionError;

/// What went wrong planning or running a SQL query.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// DataFusion could not parse or plan the query: its message says where.
    #[error("{0}")]
    Plan(String),
    /// The query is valid SQL but cannot run continuously over a stream (or uses a feature
    /// Freshet does not map onto its operators); the message names the construct.
    #[error("not supported in streaming SQL: {0}")]
    Unsupported(String),
    /// A table name is registered twice, or a query names a table that is not registered.
    #[error("{0}")]
    Catalog(String),
    /// Records could not be converted to or from Arrow (a type serde_arrow cannot map, or a
    /// row that does not fit the schema).
    #[error("Arrow conversion: {0}")]
    Arrow(String),
    /// DataFusion failed while evaluating a batch.
    #[error("evaluating a batch: {0}")]
    Execution(String),
    /// The engine refused the pipeline the query maps to.
    #[error(transparent)]
    Engine(#[from] freshet::Error),
}

impl SqlError {
    pub(crate) fn plan(e: DataFusionError) -> SqlError {
        SqlError::Plan(strip_context(e).to_string())
    }

    pub(crate) fn execution(e: DataFusionError) -> SqlError {
        SqlError::Execution(strip_context(e).to_string())
    }

    pub(crate) fn arrow(e: impl std::fmt::Display) -> SqlError {
        SqlError::Arrow(e.to_string())
    }
}

/// The error DataFusion wrapped in its context layers, which only repeat where it was raised.
fn strip_context(e: DataFusionError) -> DataFusionError {
    match e {
        DataFusionError::Context(_, inner) => strip_context(*inner),
        other => other,
    }
}

/// A result of SQL planning or evaluation.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl From<SqlError> for freshet::Error {
    fn from(e: SqlError) -> freshet::Error {
        match e {
            SqlError::Engine(e) => e,
            other => freshet::Error::Function(other.to_string()),
        }
    }
}
