//! The results of a query: [`SqlStream`] (a stream of rows) and [`SqlDataset`] (a batch job's
//! rows), with their schema, as Arrow or as typed records.

use crate::error::{Result, SqlError};
use crate::rows::Rows;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::pretty::pretty_format_batches;

use freshet::{BatchTime, DStream, Data, Dataset, Output};

/// The results of a query over a stream: for each batch, the rows the query produced in it,
/// as Arrow record batches of [`schema`](Self::schema).
#[derive(Clone)]
pub struct SqlStream {
    rows: DStream<Rows>,
    schema: SchemaRef,
}

impl SqlStream {
    pub(crate) fn new(rows: DStream<Rows>, schema: SchemaRef) -> SqlStream {
        SqlStream { rows, schema }
    }

    /// The columns of the results.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The results as a stream of Arrow chunks (each a record of the stream).
    pub fn rows(&self) -> DStream<Rows> {
        self.rows.clone()
    }

    /// The results as typed records: each row deserialized into `T` (a struct whose fields
    /// are named as the columns, or a tuple of the columns in order). A row that does not fit
    /// `T` fails the job with an error naming the column.
    pub fn records<T: Data>(&self) -> DStream<T> {
        self.rows
            .try_map_partitions(|parts: Vec<Rows>| records_of::<T>(parts))
    }

    /// Prints each batch's results as a table under the batch time (empty batches print a
    /// header only).
    pub fn print(&self) -> Output {
        self.rows
            .foreach_batch(|time: BatchTime, parts: Vec<Rows>| {
                println!("{}", table(time, &parts));
            })
    }
}

/// The results of a query over a dataset, as Arrow record batches of
/// [`schema`](Self::schema).
#[derive(Clone)]
pub struct SqlDataset {
    rows: Dataset<Rows>,
    schema: SchemaRef,
}

impl SqlDataset {
    pub(crate) fn new(rows: Dataset<Rows>, schema: SchemaRef) -> SqlDataset {
        SqlDataset { rows, schema }
    }

    /// The columns of the results.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The results as a dataset of Arrow chunks.
    pub fn rows(&self) -> Dataset<Rows> {
        self.rows.clone()
    }

    /// Runs the job and returns its record batches.
    pub fn collect(&self) -> Result<Vec<RecordBatch>> {
        Ok(self.rows.collect()?.into_iter().map(|r| r.0).collect())
    }

    /// Runs the job and returns its rows as typed records (see [`SqlStream::records`]).
    pub fn collect_records<T: Data>(&self) -> Result<Vec<T>> {
        records_of(self.rows.collect()?)
    }
}

/// The rows of `parts` as `T`s.
pub fn records_of<T: Data>(parts: Vec<Rows>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for part in parts {
        let mut rows: Vec<T> = serde_arrow::from_record_batch(&part.0).map_err(|e| {
            SqlError::Arrow(format!(
                "the results do not fit {}: {e}",
                std::any::type_name::<T>()
            ))
        })?;
        out.append(&mut rows);
    }
    Ok(out)
}

/// A batch's results as a text table under its time.
pub fn table(time: BatchTime, parts: &[Rows]) -> String {
    let batches: Vec<RecordBatch> = parts.iter().map(|r| r.0.clone()).collect();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let header = format!("-------------------------------------------\nTime: {} ms ({rows} rows)\n-------------------------------------------", time.millis());
    if rows == 0 {
        return header;
    }
    match pretty_format_batches(&batches) {
        Ok(t) => format!("{header}\n{t}"),
        Err(e) => format!("{header}\n(cannot format the rows: {e})"),
    }
}
