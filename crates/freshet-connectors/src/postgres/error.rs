//! What can go wrong: a setting out of its range ([`SettingsError`]), a row the database
//! refused ([`RejectedRow`]), and the classification of the database's errors into the
//! engine's classes (user, external and retried, internal).

use freshet::{BatchTime, SinkError};
use std::fmt;
use tokio_postgres::error::DbError;

/// A setting of a [`PostgresSink`](super::PostgresSink) that cannot be used. Each variant
/// names the setting; [`PostgresSink::validate`](super::PostgresSink::validate) returns it, and
/// `open` reports it as the cause of a user error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    /// A number or a duration outside its range.
    OutOfRange {
        /// The setting (`max_retries`, `rows_per_statement`, ...).
        setting: &'static str,
        /// The value given.
        value: String,
        /// The range it must be in, as text (`1 ..= 10000`).
        range: String,
    },
    /// A name (table, marker table, pipeline, key column) that is empty, too long or holds a
    /// character it may not hold.
    InvalidName {
        /// The setting.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection string does not parse, or lacks the user.
    InvalidConnection {
        /// What is wrong with it (the password is never shown).
        reason: String,
    },
    /// Upsert mode without key columns, or with a key column named twice.
    InvalidKey {
        /// What is wrong with it.
        reason: String,
    },
}

impl SettingsError {
    /// The setting at fault (`connection` and `key` for the last two variants).
    pub fn setting(&self) -> &'static str {
        match self {
            SettingsError::OutOfRange { setting, .. }
            | SettingsError::InvalidName { setting, .. } => setting,
            SettingsError::InvalidConnection { .. } => "connection",
            SettingsError::InvalidKey { .. } => "key",
        }
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::OutOfRange {
                setting,
                value,
                range,
            } => write!(
                f,
                "postgres sink: {setting} must be in {range}, not {value}"
            ),
            SettingsError::InvalidName {
                setting,
                value,
                reason,
            } => write!(
                f,
                "postgres sink: {setting} {value:?} is not valid: {reason}"
            ),
            SettingsError::InvalidConnection { reason } => {
                write!(
                    f,
                    "postgres sink: the connection string is not valid: {reason}"
                )
            }
            SettingsError::InvalidKey { reason } => {
                write!(f, "postgres sink: the upsert key is not valid: {reason}")
            }
        }
    }
}

impl std::error::Error for SettingsError {}

impl From<SettingsError> for SinkError {
    fn from(e: SettingsError) -> SinkError {
        SinkError::user(e.to_string()).with_cause(e)
    }
}

/// A row the database refused (a constraint, a value of the wrong type): the batch was rolled
/// back and fails with this error as the cause of a user error. Nothing of the batch was
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRow {
    /// The table, as written in SQL.
    pub table: String,
    /// The batch.
    pub batch: BatchTime,
    /// The partition (worker) that wrote it.
    pub partition: usize,
    /// The row's index in the partition's records of the batch (after upsert's de-duplication
    /// by key, the index among the rows kept).
    pub row: usize,
    /// The row's values by column, as sent (`{page: "/cart", views: "3"}`), cut to a few
    /// hundred characters.
    pub values: String,
    /// The SQLSTATE code (`23505` for a unique violation, `22P02` for a malformed value).
    pub sqlstate: String,
    /// The database's message, with its detail when it gave one.
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgres sink: table {} rejected row {} of batch {} (partition {}): {}: {} \
             (SQLSTATE {})",
            self.table,
            self.row,
            self.batch.0,
            self.partition,
            self.values,
            self.reason,
            self.sqlstate
        )
    }
}

impl std::error::Error for RejectedRow {}

impl From<RejectedRow> for SinkError {
    fn from(e: RejectedRow) -> SinkError {
        SinkError::user(e.to_string()).with_cause(e)
    }
}

/// The database's message with its detail and hint.
pub(crate) fn db_reason(db: &DbError) -> String {
    let mut reason = db.message().to_string();
    if let Some(detail) = db.detail() {
        reason.push_str(": ");
        reason.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        reason.push_str(" (hint: ");
        reason.push_str(hint);
        reason.push(')');
    }
    reason
}

/// Whether SQLSTATE `code` says that a row's data was refused: a data exception (class 22) or
/// an integrity constraint violation (class 23).
pub(crate) fn is_row_rejection(code: &str) -> bool {
    code.starts_with("22") || code.starts_with("23")
}

/// Whether SQLSTATE `code` is a failure of the outside world that may pass: a lost connection
/// (08), a serialization failure or deadlock (40), resources (53), an administrator's or a
/// timeout's cancellation (57), a lock not available (55P03), a system error (58), or a server
/// in recovery (25006 read-only transaction, during a fail-over).
fn is_transient(code: &str) -> bool {
    ["08", "40", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "55P03"
        || code == "25006"
}

/// Classifies an error of tokio-postgres met while doing `what`: the server's errors by
/// SQLSTATE (transient ones retried, the rest the user's: a missing table or column, a refused
/// password, a bad value); a lost connection, a refused one or a timeout is external and retried.
pub(crate) fn classify(what: &str, e: tokio_postgres::Error) -> SinkError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let message = format!("{what}: {} (SQLSTATE {code})", db_reason(db));
        return if is_transient(code) {
            SinkError::external(message).with_cause(e)
        } else {
            SinkError::user(message).with_cause(e)
        };
    }
    let message = format!("{what}: {e}");
    let text = e.to_string();
    if text.starts_with("invalid configuration") {
        return SinkError::user(message).with_cause(e);
    }
    // A closed or refused connection, an I/O error, a connect timeout, an unexpected message:
    // a new connection may succeed.
    SinkError::external(message).with_cause(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_sorted_into_rejections_and_transient_failures() {
        for code in ["23505", "23502", "22P02", "22003", "23514"] {
            assert!(is_row_rejection(code), "{code}");
            assert!(!is_transient(code), "{code}");
        }
        for code in [
            "08006", "40001", "40P01", "53300", "57P01", "57014", "55P03",
        ] {
            assert!(is_transient(code), "{code}");
            assert!(!is_row_rejection(code), "{code}");
        }
        for code in ["42P01", "42703", "28P01", "3D000"] {
            assert!(!is_transient(code) && !is_row_rejection(code), "{code}");
        }
    }

    #[test]
    fn settings_errors_name_their_setting() {
        let e = SettingsError::OutOfRange {
            setting: "max_retries",
            value: "1000".into(),
            range: "0 ..= 100".into(),
        };
        assert_eq!(e.setting(), "max_retries");
        assert!(e
            .to_string()
            .contains("max_retries must be in 0 ..= 100, not 1000"));
        let s: SinkError = e.into();
        assert!(!s.is_retryable());
    }
}
