//! [`PostgresSink`]: the settings a user gives, and the [`Sink`] that opens a writer per
//! worker.

use super::error::SettingsError;
use super::schema::columns_of;
use super::settings::{Settings, WriteMethod, WriteMode};
use super::table::create_table_sql;
use super::writer::{self, PostgresSinkWriter};
use freshet::sink::{Guarantee, Sink, SinkContext};
use freshet::{Data, SinkError};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Writes a stream's records into a PostgreSQL table, exactly-once. See the
/// [module documentation](super).
///
/// ```no_run
/// use freshet::{StreamingConfig, StreamingContext};
/// use freshet::source::generator::GeneratorOptions;
/// use freshet_connectors::postgres::PostgresSink;
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct PageViews {
///     page: String,
///     views: i64,
/// }
///
/// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
/// ctx.click_stream(GeneratorOptions::rate(100))
///     .map(|c| (c.page, 1i64))
///     .reduce_by_key(|a, b| a + b)
///     .update_state_by_key(|new: Vec<i64>, total: Option<i64>| {
///         Some(total.unwrap_or(0) + new.iter().sum::<i64>())
///     })
///     .map(|(page, views)| PageViews { page, views })
///     .sink(
///         PostgresSink::new("host=localhost user=postgres dbname=test", "page_views")
///             .upsert(["page"])
///             .create_table(true),
///     )
///     .uid("page-views");
/// # Ok::<(), freshet::Error>(())
/// ```
#[derive(Clone)]
pub struct PostgresSink {
    settings: Settings,
}

impl fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection string may hold a password: it is not shown.
        let s = &self.settings;
        f.debug_struct("PostgresSink")
            .field("table", &s.table)
            .field("mode", &s.mode)
            .field("method", &s.method)
            .field("create_table", &s.create_table)
            .field("pipeline", &s.pipeline)
            .field("marker_table", &s.marker_table)
            .finish_non_exhaustive()
    }
}

impl PostgresSink {
    /// A sink appending every record as a row of `table` (`name` or `schema.name`, taken
    /// as written: case matters) of the database at `connection`, a libpq-style connection
    /// string (`host=localhost user=app dbname=metrics`) or URL
    /// (`postgresql://app@localhost/metrics`). Rows travel by `COPY`.
    pub fn new(connection: impl Into<String>, table: impl Into<String>) -> Self {
        PostgresSink {
            settings: Settings::new(connection.into(), table.into()),
        }
    }

    /// Upserts on the columns `key` instead of appending: a row whose key matches one of
    /// the table replaces its other columns ([`WriteMode::Upsert`]).
    pub fn upsert<I, S>(self, key: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mode(WriteMode::Upsert {
            key: key.into_iter().map(Into::into).collect(),
        })
    }

    /// Appends or upserts (default [`WriteMode::Append`]).
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.settings.mode = mode;
        self
    }

    /// How rows travel (default [`WriteMethod::Copy`]).
    pub fn method(mut self, method: WriteMethod) -> Self {
        self.settings.method = method;
        self
    }

    /// Creates the table when it does not exist, with a column per field of the record type
    /// (see the module documentation for the types) and, in upsert mode, a primary key on
    /// the key columns (default `false`: a missing table is an error).
    pub fn create_table(mut self, yes: bool) -> Self {
        self.settings.create_table = yes;
        self
    }

    /// The pipeline's name in the markers, 1 to 128 bytes (default: the table's name). Give
    /// each job writing the same table with the same output uid its own name.
    pub fn pipeline(mut self, name: impl Into<String>) -> Self {
        self.settings.pipeline = Some(name.into());
        self
    }

    /// The table of the batch markers, created when missing (default
    /// `freshet_sink_batches`).
    pub fn marker_table(mut self, table: impl Into<String>) -> Self {
        self.settings.marker_table = table.into();
        self
    }

    /// The rows of one `INSERT` statement with [`WriteMethod::Insert`] (1 ..= 10000; default
    /// 500; fewer when rows × columns would pass PostgreSQL's 65535 parameters).
    pub fn rows_per_statement(mut self, rows: usize) -> Self {
        self.settings.rows_per_statement = rows;
        self
    }

    /// How many times the writer itself tries a batch again after a failure that may pass (a
    /// lost connection, a deadlock, a server restarting), reconnecting each time, before it
    /// reports the failure to the engine (0 ..= 100; default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings.max_retries = retries;
        self
    }

    /// The wait before the first retry; it doubles with every retry, up to 30 s (10 ms ..=
    /// 60 s; default 200 ms).
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.settings.retry_backoff = backoff;
        self
    }

    /// How long opening a connection may take (100 ms ..= 5 min; default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long writing one batch (its transaction) may take before the attempt is abandoned
    /// and retried on a new connection (1 s ..= 24 h; default 5 min).
    pub fn batch_timeout(mut self, timeout: Duration) -> Self {
        self.settings.batch_timeout = timeout;
        self
    }

    /// How long markers are kept, in batch time before the newest batch a writer wrote (1 min
    /// ..= 3650 days; default 7 days). A batch replayed after its marker was deleted would be
    /// written again: keep it longer than a restart can go back (the checkpoint interval).
    pub fn marker_retention(mut self, retention: Duration) -> Self {
        self.settings.marker_retention = retention;
        self
    }

    /// Checks every setting, as `open` does: the error names the first one at fault.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.settings.check().map(|_| ())
    }
}

impl<T: Data> Sink<T> for PostgresSink {
    type Writer = PostgresSinkWriter<T>;

    fn open(&self, ctx: &SinkContext) -> Result<PostgresSinkWriter<T>, SinkError> {
        let checked = self.settings.check()?;
        let ddl = if self.settings.create_table {
            let columns = columns_of::<T>().map_err(|reason| {
                SinkError::user(format!(
                    "postgres sink: cannot create table {} from the record type: {reason}",
                    checked.table
                ))
            })?;
            let key: &[String] = match &self.settings.mode {
                WriteMode::Append => &[],
                WriteMode::Upsert { key } => key,
            };
            if let Some(k) = key.iter().find(|k| !columns.iter().any(|c| &c.name == *k)) {
                return Err(SinkError::user(format!(
                    "postgres sink: upsert key column {k:?} is not a field of the record type"
                )));
            }
            Some(create_table_sql(&checked.table, &columns, key))
        } else {
            None
        };
        writer::open(
            Arc::new(self.settings.clone()),
            Arc::new(checked),
            ctx.output_id.clone(),
            ctx.partition,
            ddl,
        )
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}
