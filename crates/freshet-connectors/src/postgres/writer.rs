//! The writer of one partition: a connection on its own single-threaded runtime, the batch's
//! rows buffered by `write`, and `commit` writing them with the batch's marker in one
//! transaction, retried by the policy, reconnecting after a failure.

use super::error::{classify, db_reason, is_row_rejection, RejectedRow};
use super::marker;
use super::row::Rows;
use super::settings::{Checked, Settings, WriteMethod, WriteMode, MAX_BACKOFF};
use super::statements::{self, TextParam};
use super::table::{self, Column};
use freshet::sink::SinkWriter;
use freshet::{BatchTime, SinkError};
use futures_util::SinkExt;
use serde::Serialize;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use tokio::runtime::Runtime;
use tokio_postgres::types::{private::BytesMut, ToSql};
use tokio_postgres::{Client, NoTls, Statement, Transaction};

/// One connection and what was prepared on it.
struct Conn {
    client: Client,
    claim: Statement,
    prune: Statement,
    /// Prepared `INSERT ... VALUES` statements by columns and number of rows.
    inserts: HashMap<(Vec<String>, usize), Statement>,
}

/// What a writer knows about where it writes.
pub(crate) struct Target {
    pub settings: Arc<Settings>,
    pub checked: Arc<Checked>,
    pub output: String,
    pub partition: usize,
    /// The table's columns.
    pub columns: Vec<Column>,
}

impl Target {
    fn key(&self) -> &[String] {
        match &self.settings.mode {
            WriteMode::Append => &[],
            WriteMode::Upsert { key } => key,
        }
    }
}

/// Connects, creates the marker table (and the sink's table when asked, from `ddl`), and
/// reads the table's columns.
pub(crate) fn open<T>(
    settings: Arc<Settings>,
    checked: Arc<Checked>,
    output: String,
    partition: usize,
    ddl: Option<String>,
) -> Result<PostgresSinkWriter<T>, SinkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SinkError::internal(format!("postgres sink: starting a runtime: {e}")))?;
    let (conn, columns) = runtime.block_on(async {
        let mut conn = connect(&checked).await?;
        if let Some(ddl) = &ddl {
            table::create(&mut conn.client, &checked.table, ddl).await?;
        }
        let columns = table::columns(&conn.client, &checked.table).await?;
        Ok::<_, SinkError>((conn, columns))
    })?;
    let table = &checked.table;
    let Some(columns) = columns else {
        return Err(SinkError::user(format!(
            "postgres sink: table {table} does not exist: create it, or let the sink create \
             it from the record type with create_table(true)"
        )));
    };
    if let WriteMode::Upsert { key } = &settings.mode {
        for k in key {
            if !columns.iter().any(|c| &c.name == k) {
                return Err(SinkError::user(format!(
                    "postgres sink: upsert key column {k:?} is not a column of table {table} \
                     ({})",
                    names(&columns)
                )));
            }
        }
    }
    Ok(PostgresSinkWriter {
        target: Target {
            settings,
            checked,
            output,
            partition,
            columns,
        },
        runtime,
        conn: Some(conn),
        rows: Rows::default(),
        pending: None,
        committed: 0,
        _records: PhantomData,
    })
}

fn names(columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    names.join(", ")
}

/// Opens a connection (its I/O runs as a task of the writer's runtime), creates the marker
/// table if the database has none yet, and prepares the marker statements.
async fn connect(checked: &Checked) -> Result<Conn, SinkError> {
    let hosts = format!("{:?}", checked.config.get_hosts());
    let what = format!("postgres sink: connecting to {hosts}");
    let (mut client, connection) = checked
        .config
        .connect(NoTls)
        .await
        .map_err(|e| classify(&what, e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres sink: connection closed: {e}");
        }
    });
    let markers = &checked.marker_table;
    table::create(&mut client, markers, &marker::create_sql(markers)).await?;
    let prepare = |sql: String| {
        let client = &client;
        async move {
            client
                .prepare(&sql)
                .await
                .map_err(|e| classify(&format!("postgres sink: preparing `{sql}`"), e))
        }
    };
    let claim = prepare(marker::claim_sql(markers)).await?;
    let prune = prepare(marker::prune_sql(markers)).await?;
    Ok(Conn {
        client,
        claim,
        prune,
        inserts: HashMap::new(),
    })
}

/// How a batch's transaction ended.
enum Outcome {
    /// Written and committed.
    Written,
    /// Its marker was there: written before, nothing done.
    WrittenBefore,
}

/// Why a transaction failed.
enum Failure {
    /// The database refused a row's data (SQLSTATE class 22 or 23).
    Rejected(tokio_postgres::Error),
    /// Anything else, classified.
    Other(SinkError),
}

fn at(step: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Failure {
    move |e| {
        let rejected = e
            .as_db_error()
            .is_some_and(|db| is_row_rejection(db.code().code()));
        if rejected {
            Failure::Rejected(e)
        } else {
            Failure::Other(classify(&format!("postgres sink: {step}"), e))
        }
    }
}

/// The cells of a row as text parameters.
fn params<'a>(rows: &'a Rows, row: usize, out: &mut Vec<TextParam<'a>>) {
    out.extend(rows.row(row).map(TextParam));
}

/// Writes `rows` as batch `millis` in one transaction with its marker.
async fn write_batch(
    slot: &mut Option<Conn>,
    target: &Target,
    rows: &Rows,
    millis: i64,
    prune: bool,
) -> Result<Outcome, Failure> {
    if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
        *slot = None;
    }
    if slot.is_none() {
        *slot = Some(connect(&target.checked).await.map_err(Failure::Other)?);
    }
    let Some(conn) = slot.as_mut() else {
        return Err(Failure::Other(SinkError::internal(
            "postgres sink: no connection after connecting",
        )));
    };
    let settings = &target.settings;
    let checked = &target.checked;
    let width = rows.columns().len();
    let Conn {
        client,
        claim,
        prune: prune_stmt,
        inserts,
        ..
    } = conn;
    let tx = client
        .transaction()
        .await
        .map_err(at("beginning a transaction"))?;
    let partition = i32::try_from(target.partition).unwrap_or(i32::MAX);
    let table = checked.table.to_string();
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let claimed = tx
        .execute(
            &*claim,
            &[
                &checked.pipeline,
                &target.output,
                &partition,
                &millis,
                &table,
                &count,
            ],
        )
        .await
        .map_err(at("inserting the batch's marker"))?;
    if claimed == 0 {
        tx.rollback().await.map_err(at("rolling back"))?;
        return Ok(Outcome::WrittenBefore);
    }
    let key = target.key();
    match settings.method {
        WriteMethod::Copy if key.is_empty() => {
            let sql = statements::copy_into(&checked.table, rows.columns());
            copy_rows(&tx, &sql, rows).await?;
        }
        // `COPY` cannot resolve conflicts: an upsert inserts with `ON CONFLICT` whatever the
        // method (as fast as copying into a staging table and inserting from it for large
        // batches, faster for small ones).
        WriteMethod::Copy | WriteMethod::Insert => {
            let per = statements::rows_per_statement(settings.rows_per_statement, width);
            let mut cells: Vec<TextParam<'_>> = Vec::with_capacity(per * width);
            let mut start = 0;
            while start < rows.len() {
                let n = per.min(rows.len() - start);
                let cache_key = (rows.columns().to_vec(), n);
                let stmt = match inserts.get(&cache_key) {
                    Some(s) => s.clone(),
                    None => {
                        let sql = statements::insert_values(&checked.table, rows.columns(), key, n);
                        let s = tx.prepare(&sql).await.map_err(at("preparing INSERT"))?;
                        inserts.insert(cache_key, s.clone());
                        s
                    }
                };
                cells.clear();
                for row in start..start + n {
                    params(rows, row, &mut cells);
                }
                let refs: Vec<&(dyn ToSql + Sync)> =
                    cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
                tx.execute(&stmt, &refs)
                    .await
                    .map_err(at("inserting rows"))?;
                start += n;
            }
        }
    }
    if prune {
        let retention = i64::try_from(settings.marker_retention.as_millis()).unwrap_or(i64::MAX);
        let oldest = millis.saturating_sub(retention);
        tx.execute(
            &*prune_stmt,
            &[&checked.pipeline, &target.output, &partition, &oldest],
        )
        .await
        .map_err(at("deleting old markers"))?;
    }
    tx.commit().await.map_err(at("committing"))?;
    Ok(Outcome::Written)
}

/// The size of the pieces of `COPY` data sent to the server while the next ones are encoded.
const COPY_CHUNK: usize = 64 * 1024;

/// Sends `rows` through `copy` (a `COPY ... FROM STDIN` in text format) in `tx`.
async fn copy_rows(tx: &Transaction<'_>, copy: &str, rows: &Rows) -> Result<(), Failure> {
    let sink = tx
        .copy_in::<_, BytesMut>(copy)
        .await
        .map_err(at("starting COPY"))?;
    let mut sink = std::pin::pin!(sink);
    let mut chunk = BytesMut::with_capacity(COPY_CHUNK * 2);
    for row in 0..rows.len() {
        statements::push_copy_row(&mut chunk, rows.row(row));
        if chunk.len() >= COPY_CHUNK {
            let full = chunk.split();
            chunk.reserve(COPY_CHUNK * 2);
            sink.feed(full).await.map_err(at("copying rows"))?;
        }
    }
    if !chunk.is_empty() {
        sink.feed(chunk).await.map_err(at("copying rows"))?;
    }
    sink.as_mut().finish().await.map_err(at("finishing COPY"))?;
    Ok(())
}

/// Inserts the rows one by one in a transaction that is rolled back, to find the first row
/// the database refuses: its index and the error.
async fn locate_rejected(
    slot: &mut Option<Conn>,
    target: &Target,
    rows: &Rows,
) -> Result<Option<(usize, tokio_postgres::Error)>, SinkError> {
    if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
        *slot = Some(connect(&target.checked).await?);
    }
    let Some(conn) = slot.as_mut() else {
        return Ok(None);
    };
    let what = "postgres sink: looking for the rejected row";
    let tx = conn
        .client
        .transaction()
        .await
        .map_err(|e| classify(what, e))?;
    let sql = statements::insert_values(&target.checked.table, rows.columns(), target.key(), 1);
    let stmt = tx.prepare(&sql).await.map_err(|e| classify(what, e))?;
    let mut cells = Vec::with_capacity(rows.columns().len());
    for row in 0..rows.len() {
        cells.clear();
        params(rows, row, &mut cells);
        let refs: Vec<&(dyn ToSql + Sync)> =
            cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        if let Err(e) = tx.execute(&stmt, &refs).await {
            let rejected = e
                .as_db_error()
                .is_some_and(|db| is_row_rejection(db.code().code()));
            if rejected {
                return Ok(Some((row, e)));
            }
            return Err(classify(what, e));
        }
    }
    tx.rollback().await.map_err(|e| classify(what, e))?;
    Ok(None)
}

/// Writes one partition of every batch to a PostgreSQL table. See
/// [`PostgresSink`](super::PostgresSink).
pub struct PostgresSinkWriter<T> {
    target: Target,
    runtime: Runtime,
    conn: Option<Conn>,
    rows: Rows,
    /// The batch whose rows `rows` holds, written but not committed.
    pending: Option<BatchTime>,
    /// Batches committed by this writer.
    committed: u64,
    _records: PhantomData<fn(&T)>,
}

impl<T> PostgresSinkWriter<T> {
    /// Checks the buffered rows against the table: every field a column, the key present.
    fn check_columns(&mut self, time: BatchTime) -> Result<(), SinkError> {
        let table = &self.target.checked.table;
        for c in self.rows.columns() {
            if !self.target.columns.iter().any(|t| &t.name == c) {
                return Err(SinkError::user(format!(
                    "postgres sink: batch {} has field `{c}`, which is not a column of table \
                     {table} ({})",
                    time.0,
                    names(&self.target.columns)
                )));
            }
        }
        if let WriteMode::Upsert { key } = &self.target.settings.mode {
            let mut indexes = Vec::with_capacity(key.len());
            for k in key {
                let Some(i) = self.rows.column_index(k) else {
                    return Err(SinkError::user(format!(
                        "postgres sink: the records of batch {} have no field `{k}`, a column \
                         of the upsert key",
                        time.0
                    )));
                };
                indexes.push(i);
            }
            self.rows.keep_last_by_key(&indexes);
        }
        Ok(())
    }

    /// The error of a batch the database refused: the row found by
    /// [`locate_rejected`], or the batch when no single row is refused alone.
    fn rejected(&mut self, time: BatchTime, original: tokio_postgres::Error) -> SinkError {
        let timeout = self.target.settings.batch_timeout;
        let found = self.runtime.block_on(async {
            // The timer is made inside the runtime, whose clock it needs.
            tokio::time::timeout(
                timeout,
                locate_rejected(&mut self.conn, &self.target, &self.rows),
            )
            .await
        });
        self.conn = None;
        let table = self.target.checked.table.to_string();
        let (row, error) = match found {
            Ok(Ok(Some((row, e)))) => (Some(row), e),
            _ => (None, original),
        };
        let (sqlstate, reason) = match error.as_db_error() {
            Some(db) => (db.code().code().to_string(), db_reason(db)),
            None => (String::new(), error.to_string()),
        };
        match row {
            Some(row) => RejectedRow {
                table,
                batch: time,
                partition: self.target.partition,
                row,
                values: self.rows.describe(row),
                sqlstate,
                reason,
            }
            .into(),
            None => SinkError::user(format!(
                "postgres sink: table {table} refused batch {} (partition {}): {reason} \
                 (SQLSTATE {sqlstate}); no single row is refused alone",
                time.0, self.target.partition
            ))
            .with_cause(error),
        }
    }
}

impl<T: Serialize + 'static> SinkWriter<T> for PostgresSinkWriter<T> {
    fn write(&mut self, time: BatchTime, records: &[T]) -> Result<(), SinkError> {
        self.rows.clear();
        self.pending = Some(time);
        for (i, record) in records.iter().enumerate() {
            self.rows.push(record).map_err(|reason| {
                SinkError::user(format!(
                    "postgres sink: record {i} of batch {} (partition {}) cannot be written to \
                     table {}: {reason}",
                    time.0, self.target.partition, self.target.checked.table
                ))
            })?;
        }
        if !self.rows.is_empty() {
            self.check_columns(time)?;
        }
        Ok(())
    }

    fn commit(&mut self, time: BatchTime) -> Result<(), SinkError> {
        if self.pending != Some(time) || self.rows.is_empty() {
            // An empty batch writes nothing, not even a marker.
            return Ok(());
        }
        let millis = i64::try_from(time.millis()).unwrap_or(i64::MAX);
        let settings = Arc::clone(&self.target.settings);
        let mut backoff = settings.retry_backoff;
        let mut retries = 0;
        loop {
            let prune = marker::prunes(self.committed);
            let result = self.runtime.block_on(async {
                tokio::time::timeout(
                    settings.batch_timeout,
                    write_batch(&mut self.conn, &self.target, &self.rows, millis, prune),
                )
                .await
            });
            let error = match result {
                Ok(Ok(outcome)) => {
                    if let Outcome::WrittenBefore = outcome {
                        tracing::info!(
                            output = %self.target.output,
                            partition = self.target.partition,
                            "postgres sink: batch {} was written before; not written again",
                            time.0
                        );
                    }
                    self.committed += 1;
                    self.pending = None;
                    self.rows.clear();
                    return Ok(());
                }
                Ok(Err(Failure::Rejected(e))) => return Err(self.rejected(time, e)),
                Ok(Err(Failure::Other(e))) => e,
                Err(_) => SinkError::external(format!(
                    "postgres sink: batch {} was not written within batch_timeout ({:?})",
                    time.0, settings.batch_timeout
                )),
            };
            // The connection may be in any state: the next attempt opens a new one (the
            // server rolls back what this one left open).
            self.conn = None;
            if !error.is_retryable() || retries >= settings.max_retries {
                return Err(error);
            }
            tracing::warn!(
                output = %self.target.output,
                partition = self.target.partition,
                "postgres sink: batch {} failed (retry {} of {}) and is tried again in \
                 {backoff:?}: {error}",
                time.0,
                retries + 1,
                settings.max_retries
            );
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            retries += 1;
        }
    }
}
