//! Python functions given to the engine's keyed, window and state operators, called from Rust
//! closures that have no error in their signature: an exception fails the job
//! ([`freshet::fail_job`]) with the traceback, and the process goes on.

use crate::builtins::{native_reduce, NativeReduce};
use crate::convert::{from_py, to_py, to_py_list};
use crate::function::PyFunction;
use crate::value::Value;
use pyo3::prelude::*;
use std::sync::Arc;

/// The message of a failure, with the batch it happened in when there is one.
fn in_batch(message: String) -> String {
    match freshet::current_batch_time() {
        Some(t) if t.millis() > 0 => format!("batch {} ms: {message}", t.millis()),
        _ => message,
    }
}

/// Fails the job with `message` (and the batch).
pub fn fail(message: String) -> ! {
    freshet::fail_job(in_batch(message))
}

/// A two-argument function of values: a recognized built-in run in Rust, or a Python function.
#[derive(Clone)]
pub struct Reducer {
    func: PyFunction,
    native: Option<NativeReduce>,
}

impl Reducer {
    /// Wraps `func`.
    pub fn new(func: &Bound<'_, PyAny>) -> PyResult<Reducer> {
        Ok(Reducer {
            native: native_reduce(func),
            func: PyFunction::new(func)?,
        })
    }

    /// The Python function.
    pub fn function(&self) -> &PyFunction {
        &self.func
    }

    /// Whether the function runs in Rust (for the rare operands it cannot, Python is called).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// `f(a, b)`; an exception fails the job.
    pub fn apply(&self, a: Value, b: Value) -> Value {
        let (a, b) = match self.native {
            Some(n) => match n.apply(a, b) {
                Ok(v) => return v,
                Err(operands) => operands,
            },
            None => (a, b),
        };
        Python::attach(|py| self.call_py(py, &a, &b)).unwrap_or_else(|e| fail(e))
    }

    /// `f(a, b)` in Python, the GIL held.
    pub fn call_py(&self, py: Python<'_>, a: &Value, b: &Value) -> Result<Value, String> {
        let args = (
            to_py(py, a).map_err(|e| e.to_string())?,
            to_py(py, b).map_err(|e| e.to_string())?,
        );
        let out = self.func.call(py, args)?;
        from_py(&out).map_err(|e| self.func.failure(py, &e))
    }

    /// Folds `values` into one with `f`, the GIL held (`None` for no values).
    pub fn fold_py(&self, py: Python<'_>, values: Vec<Value>) -> Result<Option<Value>, String> {
        let mut values = values.into_iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if let Some(n) = self.native {
            let mut acc = first;
            for v in values {
                acc = match n.apply(acc, v) {
                    Ok(x) => x,
                    Err((a, b)) => self.call_py(py, &a, &b)?,
                };
            }
            return Ok(Some(acc));
        }
        let f = self.func.bind(py);
        let mut acc = to_py(py, &first).map_err(|e| e.to_string())?;
        for v in values {
            let v = to_py(py, &v).map_err(|e| e.to_string())?;
            acc = f.call1((acc, v)).map_err(|e| self.func.failure(py, &e))?;
        }
        from_py(&acc)
            .map(Some)
            .map_err(|e| self.func.failure(py, &e))
    }

    /// The function as an engine closure.
    pub fn closure(&self) -> impl Fn(Value, Value) -> Value + Send + Sync + 'static {
        let r = self.clone();
        move |a, b| r.apply(a, b)
    }
}

/// A one-argument Python function as an engine closure.
pub fn unary(func: &PyFunction) -> impl Fn(Value) -> Value + Send + Sync + 'static {
    let f = func.clone();
    move |v| {
        Python::attach(|py| {
            let arg = to_py(py, &v).map_err(|e| e.to_string())?;
            let out = f.call(py, (arg,))?;
            from_py(&out).map_err(|e| f.failure(py, &e))
        })
        .unwrap_or_else(|e| fail(e))
    }
}

/// `update_state_by_key`'s function: `f(new_values, last_state)` returns the new state, or
/// `None` to remove it (as PySpark's `updateStateByKey`).
pub fn update_state(
    func: &PyFunction,
) -> impl Fn(Vec<Value>, Option<Value>) -> Option<Value> + Send + Sync + 'static {
    let f = Arc::new(func.clone());
    move |values, state| {
        Python::attach(|py| {
            let values = to_py_list(py, &values).map_err(|e| e.to_string())?;
            let state = match &state {
                Some(s) => to_py(py, s).map_err(|e| e.to_string())?,
                None => py.None().into_bound(py),
            };
            let out = f.call(py, (values, state))?;
            if out.is_none() {
                Ok(None)
            } else {
                from_py(&out).map(Some).map_err(|e| f.failure(py, &e))
            }
        })
        .unwrap_or_else(|e: String| fail(e))
    }
}
