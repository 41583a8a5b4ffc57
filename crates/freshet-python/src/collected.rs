//! The batches a `collect_batches` output received, read from Python.

use crate::convert::to_py_list;
use crate::value::Value;
use freshet::CollectedBatches;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// The batches a stream's `collect_batches()` output has received so far.
#[pyclass(frozen, module = "freshet._native")]
pub struct Collected {
    inner: CollectedBatches<Value>,
}

impl Collected {
    /// Wraps the engine's handle.
    pub fn new(inner: CollectedBatches<Value>) -> Collected {
        Collected { inner }
    }
}

#[pymethods]
impl Collected {
    /// `[(batch time in ms, [records])]`, in batch-time order.
    fn batches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .inner
            .batches()
            .into_iter()
            .map(|(t, records)| {
                PyTuple::new(
                    py,
                    [
                        t.millis().into_pyobject(py)?.into_any(),
                        to_py_list(py, &records)?.into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}
