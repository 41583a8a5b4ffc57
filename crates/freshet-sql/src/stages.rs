//! The per-partition functions a query's pipeline is made of, shared by streams and
//! datasets: records to Arrow, the stateless and pre plans to keyed records, Freshet's
//! accumulators, and the groups through the post plan back to Arrow.

use crate::accumulate::{Acc, AggKind};
use crate::error::{Result, SqlError};
use crate::exec::run_plan;
use crate::rows::Rows;
use crate::split::{AggregateShape, GROUPS_TABLE};
use crate::value::{array_of, values_of, Value};
use crate::windows::{event_millis, window_array};
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::FieldRef;
use datafusion::logical_expr::LogicalPlan;
use freshet::event_time::EventWindow;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A group's key values, the aggregates' arguments of one row.
pub type KeyedArgs = (Vec<Value>, Vec<Value>);
/// A group's key values, and one row's event time (ms) with the aggregates' arguments.
pub type TimedArgs = (Vec<Value>, (u64, Vec<Value>));

/// One result of an aggregation: a group and its aggregates' values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Group {
    /// The plain group keys.
    pub keys: Vec<Value>,
    /// The window, when the query groups by one.
    pub window: Option<EventWindow>,
    /// The aggregates' results.
    pub values: Vec<Value>,
}

/// Serializes one partition of records into Arrow with `fields`.
pub fn to_rows<T: Serialize>(fields: &[FieldRef], records: &[T]) -> Result<Option<Rows>> {
    if records.is_empty() {
        return Ok(None);
    }
    serde_arrow::to_record_batch(fields, &records)
        .map(|b| Some(Rows(b)))
        .map_err(SqlError::arrow)
}

/// Rows of the query's input number `.0` (the order of [`split`](crate::split::split)).
pub type Tagged = (u8, Rows);

/// The record batches of each input in `parts`, by name; `None` when there is no row at all.
fn inputs_of(names: &[String], parts: Vec<Tagged>) -> Option<Vec<(String, Vec<RecordBatch>)>> {
    let mut inputs: Vec<(String, Vec<RecordBatch>)> =
        names.iter().map(|n| (n.clone(), Vec::new())).collect();
    let mut any = false;
    for (tag, rows) in parts {
        if rows.num_rows() > 0 {
            any = true;
            inputs[usize::from(tag)].1.push(rows.0);
        }
    }
    any.then_some(inputs)
}

/// Runs a whole stateless `plan` over one partition of its inputs.
pub fn run_stateless(
    plan: &LogicalPlan,
    names: &[String],
    parts: Vec<Tagged>,
) -> Result<Vec<Rows>> {
    let Some(inputs) = inputs_of(names, parts) else {
        return Ok(Vec::new());
    };
    let out = run_plan(plan, inputs)?;
    Ok(out
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(Rows)
        .collect())
}

/// Runs the pre plan over one partition: one `(keys, arguments)` per row.
pub fn run_pre(
    shape: &AggregateShape,
    names: &[String],
    parts: Vec<Tagged>,
) -> Result<Vec<KeyedArgs>> {
    let mut out = Vec::new();
    for batch in pre_batches(shape, names, parts)? {
        let mut keys = columns(&batch, 0..shape.keys)?;
        let mut args = columns(&batch, shape.keys..batch.num_columns())?;
        for _ in 0..batch.num_rows() {
            out.push((next_row(&mut keys), next_row(&mut args)));
        }
    }
    Ok(out)
}

/// Runs the pre plan of a windowed query over one partition: one `(keys, (event time,
/// arguments))` per row with an event time (rows whose time is `NULL` belong to no window).
pub fn run_pre_timed(
    shape: &AggregateShape,
    names: &[String],
    parts: Vec<Tagged>,
) -> Result<Vec<TimedArgs>> {
    let mut out = Vec::new();
    for batch in pre_batches(shape, names, parts)? {
        let mut keys = columns(&batch, 0..shape.keys)?;
        let times = event_millis(batch.column(shape.keys).as_ref())?;
        let mut args = columns(&batch, shape.keys + 1..batch.num_columns())?;
        for time in times {
            let (keys, args) = (next_row(&mut keys), next_row(&mut args));
            let Some(time) = time else { continue };
            let time = u64::try_from(time).map_err(|_| {
                SqlError::Execution(format!(
                    "an event time before 1970 ({time} ms): windows start at the Unix epoch"
                ))
            })?;
            out.push((keys, (time, args)));
        }
    }
    Ok(out)
}

fn pre_batches(
    shape: &AggregateShape,
    names: &[String],
    parts: Vec<Tagged>,
) -> Result<Vec<RecordBatch>> {
    match inputs_of(names, parts) {
        Some(inputs) => run_plan(&shape.pre, inputs),
        None => Ok(Vec::new()),
    }
}

/// The values of the columns `range` of `batch`, each column's in row order.
fn columns(
    batch: &RecordBatch,
    range: std::ops::Range<usize>,
) -> Result<Vec<std::vec::IntoIter<Value>>> {
    range
        .map(|i| values_of(batch.column(i).as_ref()).map(Vec::into_iter))
        .collect()
}

/// The next row's values of `columns`, moved out.
fn next_row(columns: &mut [std::vec::IntoIter<Value>]) -> Vec<Value> {
    columns
        .iter_mut()
        .map(|c| c.next().unwrap_or(Value::Null))
        .collect()
}

/// The accumulators of `kinds` started from one row's arguments.
pub fn start(kinds: &[AggKind], args: Vec<Value>) -> Vec<Acc> {
    let mut accs: Vec<Acc> = kinds.iter().map(|k| k.empty()).collect();
    add(&mut accs, args);
    accs
}

/// Adds one row's arguments to `accs`.
pub fn add(accs: &mut [Acc], args: Vec<Value>) {
    for (acc, v) in accs.iter_mut().zip(args) {
        acc.add(v);
    }
}

/// Merges the accumulators `b` into `a`.
pub fn merge(a: &mut [Acc], b: Vec<Acc>) {
    for (x, y) in a.iter_mut().zip(b) {
        x.merge(y);
    }
}

/// The results of `accs`.
pub fn finish(accs: &[Acc]) -> Vec<Value> {
    accs.iter().map(Acc::finish).collect()
}

/// Runs the post plan over one partition of groups.
pub fn run_post(shape: &AggregateShape, groups: Vec<Group>) -> Result<Vec<Rows>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let fields = shape.groups_schema.fields();
    let group_count = shape.keys + usize::from(shape.window.is_some());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
    let mut key = 0;
    for (i, field) in fields.iter().enumerate() {
        let array = if i < group_count {
            if shape.window.as_ref().is_some_and(|(at, _)| *at == i) {
                let windows: Vec<EventWindow> = groups
                    .iter()
                    .map(|g| g.window.unwrap_or_default())
                    .collect();
                window_array(&windows)
            } else {
                let values: Vec<Value> = groups.iter().map(|g| g.keys[key].clone()).collect();
                key += 1;
                array_of(&values, field.data_type())?
            }
        } else {
            let j = i - group_count;
            let values: Vec<Value> = groups.iter().map(|g| g.values[j].clone()).collect();
            array_of(&values, field.data_type())?
        };
        columns.push(array);
    }
    let batch =
        RecordBatch::try_new(Arc::clone(&shape.groups_schema), columns).map_err(SqlError::arrow)?;
    let out = run_plan(&shape.post, vec![(GROUPS_TABLE.to_string(), vec![batch])])?;
    Ok(out
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(Rows)
        .collect())
}
