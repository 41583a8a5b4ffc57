//! Conversions between Python objects and [`Value`]s (the caller holds the GIL).

use crate::value::Value;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// `pickle.dumps` and `pickle.loads`, looked up once.
static PICKLE: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

fn pickle(py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
    PICKLE.get_or_try_init(py, || {
        let module = py.import("pickle")?;
        Ok((
            module.getattr("dumps")?.unbind(),
            module.getattr("loads")?.unbind(),
        ))
    })
}

/// The value a Python object stands for. Objects of exactly the built-in types map onto the
/// variants of their own; any other object (a subclass included, so that a named tuple keeps
/// its fields) is pickled.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::None);
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return Ok(Value::Str(s.to_str()?.to_owned()));
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast_exact::<PyInt>() {
        if let Ok(i) = i.extract::<i64>() {
            return Ok(Value::Int(i));
        }
        return pickled(obj);
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        return Ok(Value::Tuple(
            t.iter().map(|x| from_py(&x)).collect::<PyResult<_>>()?,
        ));
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return Ok(Value::List(
            l.iter().map(|x| from_py(&x)).collect::<PyResult<_>>()?,
        ));
    }
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        return Ok(Value::Dict(
            d.iter()
                .map(|(k, v)| Ok((from_py(&k)?, from_py(&v)?)))
                .collect::<PyResult<_>>()?,
        ));
    }
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    pickled(obj)
}

fn pickled(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let (dumps, _) = pickle(obj.py())?;
    let bytes = dumps.bind(obj.py()).call1((obj,)).map_err(|e| {
        PyTypeError::new_err(format!(
            "a record must be a built-in value or picklable; {} is not: {e}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(Value::Pickled(bytes.cast::<PyBytes>()?.as_bytes().to_vec()))
}

/// The Python object a value stands for.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::None => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Tuple(items) => PyTuple::new(py, objects(py, items)?)?.into_any(),
        Value::List(items) => PyList::new(py, objects(py, items)?)?.into_any(),
        Value::Dict(entries) => {
            let d = PyDict::new(py);
            for (k, v) in entries {
                d.set_item(to_py(py, k)?, to_py(py, v)?)?;
            }
            d.into_any()
        }
        Value::Pickled(bytes) => {
            let (_, loads) = pickle(py)?;
            loads.bind(py).call1((PyBytes::new(py, bytes),))?
        }
    })
}

/// The Python objects for `values`.
fn objects<'py>(py: Python<'py>, values: &[Value]) -> PyResult<Vec<Bound<'py, PyAny>>> {
    values.iter().map(|v| to_py(py, v)).collect()
}

/// A list of Python objects for `values`.
pub fn to_py_list<'py>(py: Python<'py>, values: &[Value]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, objects(py, values)?)
}

/// The values of the items of a Python iterable.
pub fn from_py_iter(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    obj.try_iter()?.map(|x| from_py(&x?)).collect()
}
