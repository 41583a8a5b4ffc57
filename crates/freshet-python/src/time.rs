//! Batch times as Python sees them.

use pyo3::prelude::*;

/// The batch time `millis` (ms since the Unix epoch) as a naive local `datetime.datetime`, as
/// PySpark's `foreachRDD` passes it.
pub fn datetime(py: Python<'_>, millis: u64) -> PyResult<Bound<'_, PyAny>> {
    py.import("datetime")?
        .getattr("datetime")?
        .getattr("fromtimestamp")?
        .call1((millis as f64 / 1000.0,))
}
