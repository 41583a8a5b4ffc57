//! A user's Python function as the engine calls it: with the GIL, and with any exception turned
//! into an error message carrying the Python traceback.

use pyo3::prelude::*;
use std::sync::Arc;

/// A Python callable and the name error messages give it.
#[derive(Clone)]
pub struct PyFunction {
    func: Arc<Py<PyAny>>,
    name: Arc<str>,
}

impl PyFunction {
    /// Wraps `func`, checking that it can be called.
    pub fn new(func: &Bound<'_, PyAny>) -> PyResult<PyFunction> {
        if !func.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "expected a function, got {}",
                func.get_type().name()?
            )));
        }
        let name = func
            .getattr("__qualname__")
            .or_else(|_| func.getattr("__name__"))
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| func.repr().map(|r| r.to_string()).unwrap_or_default());
        Ok(PyFunction {
            func: Arc::new(func.clone().unbind()),
            name: name.into(),
        })
    }

    /// The callable.
    pub fn bind<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.func.bind(py)
    }

    /// Calls the function with `args`, turning an exception into [`failure`](Self::failure).
    pub fn call<'py>(
        &self,
        py: Python<'py>,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> Result<Bound<'py, PyAny>, String> {
        self.func
            .bind(py)
            .call1(args)
            .map_err(|e| self.failure(py, &e))
    }

    /// The message of a failure of this function: its name, and the Python traceback.
    pub fn failure(&self, py: Python<'_>, err: &PyErr) -> String {
        format!(
            "Python function `{}` raised an exception:\n{}",
            self.name,
            traceback_text(py, err)
        )
    }
}

/// The text Python prints for an uncaught `err`: the traceback and the exception.
pub fn traceback_text(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|tb| {
        let lines = tb.getattr("format_exception")?.call1((
            err.get_type(py),
            err.value(py),
            err.traceback(py),
        ))?;
        lines.extract::<Vec<String>>()
    });
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_string(),
        Err(_) => err.to_string(),
    }
}
