//! SQL over streams and datasets of Python records (`freshet-sql`), with results handed to
//! Python as Arrow tables through the Arrow C data interface, without copying.

use crate::coll::{seconds, Base, Coll};
use crate::convert::to_py_list;
use crate::errors::FreshetError;
use crate::function::PyFunction;
use crate::json::{from_json, line_of};
use crate::value::Value;
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::pyarrow::{FromPyArrow, ToPyArrow};
use freshet_sql::formats::{self, LineFormat};
use freshet_sql::{Rows, SqlContext, SqlDataset, SqlError, SqlStream, StreamOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::{Arc, Mutex};

fn sql_err(e: SqlError) -> PyErr {
    FreshetError::new_err(e.to_string())
}

/// The registered tables and the queries over them.
#[pyclass(frozen, module = "freshet._native")]
pub struct Sql {
    inner: Mutex<SqlContext>,
}

/// Decodes a partition of records (dicts, or lines of `format`) into Arrow rows of `schema`.
fn decode(format: &LineFormat, schema: &SchemaRef, part: Vec<Value>) -> Result<Vec<Rows>, String> {
    let lines = part.iter().map(line_of).collect::<Result<Vec<_>, _>>()?;
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    formats::decode(format, schema, lines).map_err(|e| e.to_string())
}

fn line_format(format: &str, csv_header: Option<String>) -> PyResult<LineFormat> {
    match (format, csv_header) {
        ("json", _) => Ok(LineFormat::JsonLines),
        ("csv", Some(header)) => Ok(LineFormat::Csv { header }),
        ("csv", None) => Err(PyValueError::new_err(
            "format='csv' needs csv_header, the files' header line",
        )),
        ("text", _) => Ok(LineFormat::Text),
        (other, _) => Err(PyValueError::new_err(format!(
            "format must be 'json', 'csv' or 'text', got {other:?}"
        ))),
    }
}

/// The schema given, or the one inferred from the sample records.
fn schema_of(
    format: &LineFormat,
    schema: Option<&Bound<'_, PyAny>>,
    sample: Option<&Bound<'_, PyAny>>,
) -> PyResult<SchemaRef> {
    if let Some(s) = schema {
        return Ok(Arc::new(Schema::from_pyarrow_bound(s)?));
    }
    match (format, sample) {
        (LineFormat::Text, _) => Ok(formats::text_schema()),
        (LineFormat::JsonLines, Some(sample)) => {
            let lines = crate::convert::from_py_iter(sample)?
                .iter()
                .map(line_of)
                .collect::<Result<Vec<_>, _>>()
                .map_err(PyValueError::new_err)?;
            formats::infer_json_lines_from(&lines).map_err(sql_err)
        }
        _ => Err(PyValueError::new_err(
            "give the table's columns: schema= (a pyarrow.Schema), or sample= (records of JSON lines to infer them from)",
        )),
    }
}

/// The rows of a query result as Python dicts, in the columns' order.
fn dicts_of(batch: &RecordBatch) -> Result<Vec<Value>, String> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?
    };
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    Ok(rows
        .into_iter()
        .map(|mut row| {
            Value::Dict(
                names
                    .iter()
                    .map(|n| {
                        let v = row.remove(n).map(from_json).unwrap_or(Value::None);
                        (Value::Str(n.clone()), v)
                    })
                    .collect(),
            )
        })
        .collect())
}

/// A `pyarrow.Table` of `batches` (the Arrow buffers are shared, not copied).
fn table<'py>(
    py: Python<'py>,
    schema: &SchemaRef,
    batches: &[Rows],
) -> PyResult<Bound<'py, PyAny>> {
    let pa_batches = batches
        .iter()
        .map(|r| r.0.to_pyarrow(py))
        .collect::<PyResult<Vec<_>>>()?;
    // The batches' own schema (the planned one may differ in nullability).
    let schema = match batches.first() {
        Some(_) => py.None().into_bound(py),
        None => schema.as_ref().to_pyarrow(py)?,
    };
    py.import("pyarrow")?
        .getattr("Table")?
        .call_method1("from_batches", (PyList::new(py, pa_batches)?, schema))
}

#[pymethods]
impl Sql {
    #[new]
    fn new() -> Sql {
        Sql {
            inner: Mutex::new(SqlContext::new()),
        }
    }

    /// Registers a stream or dataset of records (dicts, or lines of `format`) as table `name`.
    #[pyo3(signature = (name, records, format="json", schema=None, sample=None, csv_header=None, window=None, allowed_delay=None))]
    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        name: &str,
        records: &Coll,
        format: &str,
        schema: Option<&Bound<'_, PyAny>>,
        sample: Option<&Bound<'_, PyAny>>,
        csv_header: Option<String>,
        window: Option<(f64, f64)>,
        allowed_delay: Option<f64>,
    ) -> PyResult<()> {
        let format = line_format(format, csv_header)?;
        let schema = schema_of(&format, schema, sample)?;
        let mut options = StreamOptions::new();
        if let Some((len, slide)) = window {
            options = options.window(
                seconds("window length", len)?,
                seconds("window slide", slide)?,
            );
        }
        if let Some(d) = allowed_delay {
            options = options.allowed_delay(seconds("allowed_delay", d)?);
        }
        let (f, s) = (format.clone(), schema.clone());
        let sql = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match records.base() {
            Base::Stream(stream) => {
                let rows = stream.try_map_partitions(move |part| decode(&f, &s, part));
                sql.register_rows(name, &rows, schema, options)
            }
            Base::Batch(dataset) => {
                let rows = dataset.try_map_partitions(move |part| decode(&f, &s, part));
                sql.register_dataset_rows(name, &rows, schema)
            }
        }
        .map_err(sql_err)
    }

    /// Registers a `pyarrow.Table` as the static table `name` (joined with streams).
    fn register_table(&self, name: &str, table: &Bound<'_, PyAny>) -> PyResult<()> {
        let schema = Arc::new(Schema::from_pyarrow_bound(&table.getattr("schema")?)?);
        let batches = table
            .call_method0("to_batches")?
            .try_iter()?
            .map(|b| RecordBatch::from_pyarrow_bound(&b?))
            .collect::<PyResult<Vec<_>>>()?;
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .register_table(name, schema, batches)
            .map_err(sql_err)
    }

    /// The continuous query `query` over the registered streams.
    fn sql_stream(&self, query: &str) -> PyResult<SqlOut> {
        let out = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sql_stream(query)
            .map_err(sql_err)?;
        Ok(SqlOut {
            query: Query::Stream(out),
        })
    }

    /// The query `query` over the registered datasets and tables.
    fn sql_dataset(&self, query: &str) -> PyResult<SqlOut> {
        let out = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sql_dataset(query)
            .map_err(sql_err)?;
        Ok(SqlOut {
            query: Query::Dataset(out),
        })
    }

    /// How `query` runs: DataFusion's plans and Freshet's stages.
    fn explain(&self, query: &str) -> PyResult<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .explain(query)
            .map_err(sql_err)
    }
}

/// The result of a query: a stream or a dataset of Arrow rows.
pub enum Query {
    /// Of a continuous query.
    Stream(SqlStream),
    /// Of a query over datasets.
    Dataset(SqlDataset),
}

/// A query's result, for Python.
#[pyclass(frozen, module = "freshet._native")]
pub struct SqlOut {
    query: Query,
}

#[pymethods]
impl SqlOut {
    /// The result's columns, as a `pyarrow.Schema`.
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let schema = match &self.query {
            Query::Stream(s) => s.schema(),
            Query::Dataset(d) => d.schema(),
        };
        schema.as_ref().to_pyarrow(py)
    }

    /// The result's rows as a stream or dataset of dicts.
    fn records(&self) -> Coll {
        let to_dicts = |part: Vec<Rows>| -> Result<Vec<Value>, String> {
            let mut out = Vec::new();
            for rows in &part {
                out.extend(dicts_of(&rows.0)?);
            }
            Ok(out)
        };
        Coll::new(match &self.query {
            Query::Stream(s) => Base::Stream(s.rows().try_map_partitions(to_dicts)),
            Query::Dataset(d) => Base::Batch(d.rows().try_map_partitions(to_dicts)),
        })
    }

    /// Calls `f(time, table)` for every batch of a continuous query's result, with the batch's
    /// rows as a `pyarrow.Table` sharing the engine's buffers.
    fn foreach_batch_arrow(&self, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let Query::Stream(s) = &self.query else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "foreach_batch_arrow is an output of continuous queries; use to_arrow() on a dataset's",
            ));
        };
        let f = PyFunction::new(f)?;
        let schema = s.schema();
        s.rows().foreach_batch(move |t, rows| {
            Python::attach(|py| {
                let time = crate::time::datetime(py, t.millis()).map_err(|e| e.to_string())?;
                let table = table(py, &schema, &rows).map_err(|e| e.to_string())?;
                f.call(
                    py,
                    PyTuple::new(py, [time, table]).map_err(|e| e.to_string())?,
                )
                .map(|_| ())
            })
            .unwrap_or_else(|e| crate::calls::fail(e))
        });
        Ok(())
    }

    /// Prints every batch of a continuous query's result as a table.
    fn pprint(&self) -> PyResult<()> {
        match &self.query {
            Query::Stream(s) => {
                s.print();
                Ok(())
            }
            Query::Dataset(_) => Err(pyo3::exceptions::PyTypeError::new_err(
                "pprint is an output of continuous queries",
            )),
        }
    }

    /// A dataset query's result as a `pyarrow.Table` (the engine's buffers, not copied).
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Query::Dataset(d) = &self.query else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "to_arrow is an action of dataset queries; on a stream use foreach_batch_arrow",
            ));
        };
        let batches = py.detach(|| d.collect()).map_err(sql_err)?;
        let rows: Vec<Rows> = batches.into_iter().map(Rows).collect();
        table(py, &d.schema(), &rows)
    }

    /// A dataset query's rows as a list of dicts.
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let Query::Dataset(d) = &self.query else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "collect is an action of dataset queries",
            ));
        };
        let batches = py.detach(|| d.collect()).map_err(sql_err)?;
        let mut values = Vec::new();
        for b in &batches {
            values.extend(dicts_of(b).map_err(FreshetError::new_err)?);
        }
        to_py_list(py, &values)
    }
}
