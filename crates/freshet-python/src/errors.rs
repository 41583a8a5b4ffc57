//! The exceptions the package raises for the engine's errors.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(
    freshet,
    FreshetError,
    PyException,
    "An error of the engine: a source, a sink, a checkpoint or the run failed."
);
create_exception!(
    freshet,
    UserFunctionError,
    FreshetError,
    "A user's function raised an exception while a batch ran; the message holds its traceback."
);

/// Whether the engine's error is a user function's failure.
fn is_function(e: &freshet::Error) -> bool {
    match e {
        freshet::Error::Function(_) => true,
        freshet::Error::Operator { error, .. } => is_function(error),
        _ => false,
    }
}

/// The Python exception for an engine error.
pub fn to_py_err(e: freshet::Error) -> PyErr {
    if is_function(&e) {
        UserFunctionError::new_err(e.to_string())
    } else {
        FreshetError::new_err(e.to_string())
    }
}
