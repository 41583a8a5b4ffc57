//! # freshet (Python)
//!
//! The native module `freshet._native` behind the Python package `freshet`: Freshet's engine
//! with a `pyspark.streaming`-like API. The Python classes (`python/freshet/`) wrap the types
//! here; `docs/python.md` describes the API.
//!
//! Records cross into the engine as [`value::Value`]s, so that keyed operators, windows, state
//! and checkpoints run on the engine's threads without the GIL. Python functions run under the
//! GIL, a partition at a time ([`steps`]); built-ins the engine recognizes run in Rust
//! ([`builtins`]). An exception in a user's function fails the job with its traceback
//! ([`calls`]), never the process.

#![deny(missing_docs)]

pub mod builtins;
pub mod calls;
pub mod coll;
pub mod collected;
pub mod context;
pub mod convert;
pub mod errors;
pub mod function;
pub mod json;
pub mod sources;
pub mod sql;
pub mod steps;
pub mod time;
pub mod value;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<context::Context>()?;
    m.add_class::<coll::Coll>()?;
    m.add_class::<collected::Collected>()?;
    m.add_class::<sql::Sql>()?;
    m.add_class::<sql::SqlOut>()?;
    m.add("FreshetError", m.py().get_type::<errors::FreshetError>())?;
    m.add(
        "UserFunctionError",
        m.py().get_type::<errors::UserFunctionError>(),
    )?;
    m.add_function(wrap_pyfunction!(parallelize, m)?)?;
    m.add_function(wrap_pyfunction!(text_file, m)?)?;
    Ok(())
}

/// A dataset of `records` in `num_slices` partitions.
#[pyfunction]
#[pyo3(signature = (records, num_slices=2))]
fn parallelize(records: &Bound<'_, PyAny>, num_slices: i64) -> PyResult<coll::Coll> {
    if !(1..=i64::from(freshet::MAX_BATCH_WORKERS as u32)).contains(&num_slices) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "num_slices must be between 1 and {}, got {num_slices}",
            freshet::MAX_BATCH_WORKERS
        )));
    }
    let values = convert::from_py_iter(records)?;
    Ok(coll::Coll::new(coll::Base::Batch(
        freshet::Dataset::parallelize(values, num_slices as usize),
    )))
}

/// A dataset of the lines of the file or the files of the directory `path`.
#[pyfunction]
fn text_file(path: String) -> PyResult<coll::Coll> {
    let lines = freshet::Dataset::text_file(&path).map_err(errors::to_py_err)?;
    Ok(coll::Coll::new(coll::Base::Batch(
        lines.map(value::Value::Str),
    )))
}
