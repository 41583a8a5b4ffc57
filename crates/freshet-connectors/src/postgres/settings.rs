//! The sink's settings, their ranges and defaults, and the checks that refuse bad values by
//! name.

use super::error::SettingsError;
use super::table::TableName;
use std::fmt::Debug;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

/// The range of `rows_per_statement` (PostgreSQL takes at most 65535 parameters per
/// statement, so fewer rows go in a statement of a wide table).
pub const ROWS_PER_STATEMENT: RangeInclusive<usize> = 1..=10_000;
/// The default `rows_per_statement`.
pub const DEFAULT_ROWS_PER_STATEMENT: usize = 500;
/// The range of `max_retries`.
pub const MAX_RETRIES: RangeInclusive<u32> = 0..=100;
/// The default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The range of `retry_backoff`.
pub const RETRY_BACKOFF: RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(60);
/// The default `retry_backoff`.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts: the back-off doubles up to it.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The range of `connect_timeout`.
pub const CONNECT_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(300);
/// The default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The range of `batch_timeout`.
pub const BATCH_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(24 * 3600);
/// The default `batch_timeout`.
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_secs(300);
/// The range of `marker_retention`.
pub const MARKER_RETENTION: RangeInclusive<Duration> =
    Duration::from_secs(60)..=Duration::from_secs(3650 * 24 * 3600);
/// The default `marker_retention`.
pub const DEFAULT_MARKER_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default marker table.
pub const DEFAULT_MARKER_TABLE: &str = "freshet_sink_batches";
/// The longest pipeline name, in bytes.
pub const MAX_PIPELINE_LEN: usize = 128;

/// What a batch's rows do to the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Every row is inserted (the default).
    Append,
    /// A row whose key columns match a row of the table replaces that row's other columns
    /// (`INSERT ... ON CONFLICT (key) DO UPDATE`); the table needs a primary key or unique
    /// index on exactly these columns. Within a batch, the last row of a key wins.
    Upsert {
        /// The key columns.
        key: Vec<String>,
    },
}

/// How rows travel to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMethod {
    /// `COPY table (columns) FROM STDIN` in text format, straight into the table (the
    /// default: the fastest for batches of more than a few hundred rows). `COPY` cannot
    /// resolve conflicts, so in upsert mode rows go by multi-row `INSERT ... ON CONFLICT`
    /// statements, as with [`WriteMethod::Insert`].
    Copy,
    /// Multi-row `INSERT ... VALUES` statements of `rows_per_statement` rows each.
    Insert,
}

/// Every setting of a sink, checked by [`Settings::check`].
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub connection: String,
    pub table: String,
    pub mode: WriteMode,
    pub method: WriteMethod,
    pub create_table: bool,
    pub pipeline: Option<String>,
    pub marker_table: String,
    pub rows_per_statement: usize,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub connect_timeout: Duration,
    pub batch_timeout: Duration,
    pub marker_retention: Duration,
}

/// The settings once checked: the connection parsed, the names split and quoted.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub config: tokio_postgres::Config,
    pub table: TableName,
    pub marker_table: TableName,
    pub pipeline: String,
}

impl Settings {
    pub fn new(connection: String, table: String) -> Self {
        Settings {
            connection,
            table,
            mode: WriteMode::Append,
            method: WriteMethod::Copy,
            create_table: false,
            pipeline: None,
            marker_table: DEFAULT_MARKER_TABLE.to_string(),
            rows_per_statement: DEFAULT_ROWS_PER_STATEMENT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            batch_timeout: DEFAULT_BATCH_TIMEOUT,
            marker_retention: DEFAULT_MARKER_RETENTION,
        }
    }

    /// Checks every setting; the error names the first one at fault.
    pub fn check(&self) -> Result<Checked, SettingsError> {
        in_range(
            "rows_per_statement",
            self.rows_per_statement,
            &ROWS_PER_STATEMENT,
        )?;
        in_range("max_retries", self.max_retries, &MAX_RETRIES)?;
        in_range("retry_backoff", self.retry_backoff, &RETRY_BACKOFF)?;
        in_range("connect_timeout", self.connect_timeout, &CONNECT_TIMEOUT)?;
        in_range("batch_timeout", self.batch_timeout, &BATCH_TIMEOUT)?;
        in_range("marker_retention", self.marker_retention, &MARKER_RETENTION)?;
        let table = TableName::parse("table", &self.table)?;
        let marker_table = TableName::parse("marker_table", &self.marker_table)?;
        if marker_table == table {
            return Err(SettingsError::InvalidName {
                setting: "marker_table",
                value: self.marker_table.clone(),
                reason: "it is the table the sink writes".into(),
            });
        }
        let pipeline = self.pipeline.clone().unwrap_or_else(|| table.to_string());
        if pipeline.is_empty() || pipeline.len() > MAX_PIPELINE_LEN || pipeline.contains('\0') {
            return Err(SettingsError::InvalidName {
                setting: "pipeline",
                value: pipeline,
                reason: format!("it must be 1 to {MAX_PIPELINE_LEN} bytes without U+0000"),
            });
        }
        if let WriteMode::Upsert { key } = &self.mode {
            if key.is_empty() {
                return Err(SettingsError::InvalidKey {
                    reason: "upsert needs at least one key column".into(),
                });
            }
            for (i, column) in key.iter().enumerate() {
                super::table::check_identifier("key", column)?;
                if key[..i].contains(column) {
                    return Err(SettingsError::InvalidKey {
                        reason: format!("column {column:?} is named twice"),
                    });
                }
            }
        }
        let mut config = tokio_postgres::Config::from_str(&self.connection).map_err(|e| {
            SettingsError::InvalidConnection {
                reason: e.to_string(),
            }
        })?;
        if config.get_user().is_none() {
            return Err(SettingsError::InvalidConnection {
                reason: "it names no user (`user=...`, or `postgresql://user@host/db`)".into(),
            });
        }
        if config.get_hosts().is_empty() {
            return Err(SettingsError::InvalidConnection {
                reason: "it names no host (`host=...`, or `postgresql://user@host/db`)".into(),
            });
        }
        config.connect_timeout(self.connect_timeout);
        config.keepalives(true);
        if config.get_application_name().is_none() {
            config.application_name("freshet");
        }
        Ok(Checked {
            config,
            table,
            marker_table,
            pipeline,
        })
    }
}

/// Checks that `value` of setting `name` is in `range`.
fn in_range<T: PartialOrd + Debug>(
    name: &'static str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<(), SettingsError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(SettingsError::OutOfRange {
            setting: name,
            value: format!("{value:?}"),
            range: format!("{:?} ..= {:?}", range.start(), range.end()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::new(
            "host=127.0.0.1 user=postgres dbname=test".into(),
            "t".into(),
        )
    }

    #[test]
    fn defaults_pass_and_the_pipeline_defaults_to_the_table() {
        let checked = settings().check().unwrap();
        assert_eq!(checked.pipeline, "\"t\"");
    }

    #[test]
    fn every_number_out_of_range_is_refused_by_name() {
        let mut s = settings();
        s.rows_per_statement = 0;
        assert_eq!(s.check().unwrap_err().setting(), "rows_per_statement");
        let mut s = settings();
        s.max_retries = 101;
        assert_eq!(s.check().unwrap_err().setting(), "max_retries");
        let mut s = settings();
        s.retry_backoff = Duration::ZERO;
        assert_eq!(s.check().unwrap_err().setting(), "retry_backoff");
        let mut s = settings();
        s.connect_timeout = Duration::from_secs(3600);
        assert_eq!(s.check().unwrap_err().setting(), "connect_timeout");
        let mut s = settings();
        s.batch_timeout = Duration::from_millis(1);
        assert_eq!(s.check().unwrap_err().setting(), "batch_timeout");
        let mut s = settings();
        s.marker_retention = Duration::from_secs(1);
        assert_eq!(s.check().unwrap_err().setting(), "marker_retention");
    }

    #[test]
    fn connections_keys_and_names_are_checked() {
        let mut s = settings();
        s.connection = "host=x port=notaport user=u".into();
        assert_eq!(s.check().unwrap_err().setting(), "connection");
        let mut s = settings();
        s.connection = "host=127.0.0.1 dbname=test".into();
        assert_eq!(s.check().unwrap_err().setting(), "connection");
        let mut s = settings();
        s.mode = WriteMode::Upsert { key: vec![] };
        assert_eq!(s.check().unwrap_err().setting(), "key");
        let mut s = settings();
        s.mode = WriteMode::Upsert {
            key: vec!["a".into(), "a".into()],
        };
        assert_eq!(s.check().unwrap_err().setting(), "key");
        let mut s = settings();
        s.marker_table = "t".into();
        assert_eq!(s.check().unwrap_err().setting(), "marker_table");
        let mut s = settings();
        s.pipeline = Some(String::new());
        assert_eq!(s.check().unwrap_err().setting(), "pipeline");
    }
}
