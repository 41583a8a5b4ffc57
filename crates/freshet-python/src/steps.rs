//! Chains of per-record steps (`map`, `flat_map`, `filter`, `map_values`, ...) run as one pass
//! over each partition.
//!
//! Consecutive steps are kept together until an operator of the engine needs their output, and
//! then run as one `try_map_partitions`: steps given Python functions run under one hold of the
//! GIL per partition and segment, passing Python objects from step to step without converting
//! them; steps given built-ins the engine recognizes ([`crate::builtins`]) run in Rust without
//! the GIL.

use crate::builtins::NativeFn;
use crate::convert::{from_py, to_py};
use crate::function::PyFunction;
use crate::value::Value;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// What a step does with each record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// `f(x)`.
    Map,
    /// The items of `f(x)`.
    FlatMap,
    /// `x` when `f(x)` is true.
    Filter,
    /// `(k, f(v))` for a pair `(k, v)`.
    MapValues,
    /// `(k, y)` for each `y` in `f(v)`.
    FlatMapValues,
    /// The items of `f(records)`, once per partition.
    MapPartitions,
}

impl StepKind {
    fn name(self) -> &'static str {
        match self {
            StepKind::Map => "map",
            StepKind::FlatMap => "flat_map",
            StepKind::Filter => "filter",
            StepKind::MapValues => "map_values",
            StepKind::FlatMapValues => "flat_map_values",
            StepKind::MapPartitions => "map_partitions",
        }
    }
}

/// One step: its kind, the user's function, and the built-in it is when the engine runs it
/// natively.
#[derive(Clone)]
pub struct Step {
    kind: StepKind,
    func: PyFunction,
    native: Option<NativeFn>,
}

impl Step {
    /// A step running `func`; `filter(None)` keeps the true records, as Python's `filter`.
    pub fn new(kind: StepKind, func: &Bound<'_, PyAny>) -> PyResult<Step> {
        let py = func.py();
        let func = if func.is_none() && kind == StepKind::Filter {
            py.import("builtins")?.getattr("bool")?
        } else {
            func.clone()
        };
        let native = match kind {
            StepKind::MapPartitions => None,
            _ => crate::builtins::native_fn(&func),
        };
        Ok(Step {
            kind,
            native,
            func: PyFunction::new(&func)?,
        })
    }

    /// Whether the step runs without the GIL.
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }
}

/// The name the web UI shows for a chain: its steps, with the built-ins that run in Rust
/// (`flat_map[str.split] → map`).
pub fn label(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s.native {
            Some(n) => format!("{}[{}]", s.kind.name(), n.name()),
            None => s.kind.name().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Runs `steps` over one partition's records.
pub fn run(steps: &[Step], mut records: Vec<Value>) -> Result<Vec<Value>, String> {
    let mut rest = steps;
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take_while(|s| s.is_native() == first.is_native())
            .count();
        let (segment, tail) = rest.split_at(n);
        records = if first.is_native() {
            run_native(segment, records)?
        } else {
            Python::attach(|py| run_python(py, segment, records))?
        };
        rest = tail;
    }
    Ok(records)
}

fn not_a_pair(kind: StepKind, v: &Value) -> String {
    format!(
        "{} expects (key, value) pairs; got a {}: {v}",
        kind.name(),
        v.type_name()
    )
}

/// Runs built-in steps in Rust, one step over all records at a time.
fn run_native(steps: &[Step], mut records: Vec<Value>) -> Result<Vec<Value>, String> {
    for step in steps {
        let f = step.native.expect("native steps only");
        let mut out = Vec::with_capacity(records.len());
        for v in records {
            match step.kind {
                StepKind::Map => out.push(f.apply(v)?),
                StepKind::FlatMap => f.apply_flat(v, &mut out)?,
                StepKind::Filter => {
                    if f.keeps(&v)? {
                        out.push(v)
                    }
                }
                StepKind::MapValues | StepKind::FlatMapValues => {
                    let (k, v) = v.into_pair().map_err(|v| not_a_pair(step.kind, &v))?;
                    if step.kind == StepKind::MapValues {
                        out.push(Value::pair(k, f.apply(v)?));
                    } else {
                        let mut items = Vec::new();
                        f.apply_flat(v, &mut items)?;
                        out.extend(items.into_iter().map(|y| Value::pair(k.clone(), y)));
                    }
                }
                StepKind::MapPartitions => unreachable!("never native"),
            }
        }
        records = out;
    }
    Ok(records)
}

/// Runs `steps` over one partition's records and combines the resulting `(key, value)` pairs
/// by key with `f`, as `reduce_by_key` does before routing: when the last steps are Python's,
/// they and the combining run under one hold of the GIL, in a Python dict, and only each key's
/// combined value becomes a value of the engine.
pub fn run_combining(
    steps: &[Step],
    records: Vec<Value>,
    f: &PyFunction,
) -> Result<Vec<(Value, Value)>, String> {
    let python_tail = steps.iter().rev().take_while(|s| !s.is_native()).count();
    let (head, tail) = steps.split_at(steps.len() - python_tail);
    let records = run(head, records)?;
    Python::attach(|py| {
        let mut objs = records
            .iter()
            .map(|v| to_py(py, v))
            .collect::<PyResult<Vec<_>>>()
            .map_err(|e| format!("cannot pass a record to Python: {e}"))?;
        drop(records);
        for step in tail {
            objs = run_python_step(py, step, objs)?;
        }
        let acc = PyDict::new(py);
        for o in objs {
            let (k, v) = py_pair_of("reduce_by_key", &o)?;
            let merged = match acc.get_item(&k).map_err(|e| f.failure(py, &e))? {
                Some(a) => f.call(py, (a, v))?,
                None => v,
            };
            acc.set_item(k, merged)
                .map_err(|e| format!("reduce_by_key cannot use a key: {e}"))?;
        }
        acc.iter()
            .map(|(k, v)| Ok((from_py(&k)?, from_py(&v)?)))
            .collect::<PyResult<Vec<_>>>()
            .map_err(|e| format!("a record returned by a Python function cannot be kept: {e}"))
    })
}

/// Runs steps with Python functions, holding the GIL: records become Python objects once, go
/// through every step, and come back as values.
fn run_python(py: Python<'_>, steps: &[Step], records: Vec<Value>) -> Result<Vec<Value>, String> {
    let convert_in = |e: PyErr| format!("cannot pass a record to Python: {e}");
    let mut objs = records
        .iter()
        .map(|v| to_py(py, v))
        .collect::<PyResult<Vec<_>>>()
        .map_err(convert_in)?;
    drop(records);
    for step in steps {
        objs = run_python_step(py, step, objs)?;
    }
    objs.iter()
        .map(|o| from_py(o))
        .collect::<PyResult<Vec<_>>>()
        .map_err(|e| format!("a record returned by a Python function cannot be kept: {e}"))
}

fn iterate<'py>(
    step: &Step,
    py: Python<'py>,
    result: Bound<'py, PyAny>,
    mut each: impl FnMut(Bound<'py, PyAny>),
) -> Result<(), String> {
    let iter = result.try_iter().map_err(|e| {
        format!(
            "{} function returned something that is not iterable: {}",
            step.kind.name(),
            crate::function::traceback_text(py, &e)
        )
    })?;
    for item in iter {
        each(item.map_err(|e| step.func.failure(py, &e))?);
    }
    Ok(())
}

/// The two items of a Python pair, or an error naming the step.
fn py_pair<'py>(
    step: &Step,
    obj: &Bound<'py, PyAny>,
) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>), String> {
    py_pair_of(step.kind.name(), obj)
}

/// The two items of a Python pair, or an error naming the operator `op`.
fn py_pair_of<'py>(
    op: &str,
    obj: &Bound<'py, PyAny>,
) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>), String> {
    let pair = obj
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)
        .map(|t| (t.get_item(0), t.get_item(1)));
    match pair {
        Some((Ok(k), Ok(v))) => Ok((k, v)),
        _ => {
            let v = from_py(obj).unwrap_or(Value::Str(obj.to_string()));
            Err(format!(
                "{op} expects (key, value) pairs; got a {}: {v}",
                v.type_name()
            ))
        }
    }
}

fn run_python_step<'py>(
    py: Python<'py>,
    step: &Step,
    objs: Vec<Bound<'py, PyAny>>,
) -> Result<Vec<Bound<'py, PyAny>>, String> {
    let mut out = Vec::with_capacity(objs.len());
    match step.kind {
        StepKind::Map => {
            for o in objs {
                out.push(step.func.call(py, (o,))?);
            }
        }
        StepKind::FlatMap => {
            for o in objs {
                let result = step.func.call(py, (o,))?;
                iterate(step, py, result, |x| out.push(x))?;
            }
        }
        StepKind::Filter => {
            for o in objs {
                let keep = step.func.call(py, (o.clone(),))?;
                if keep.is_truthy().map_err(|e| step.func.failure(py, &e))? {
                    out.push(o);
                }
            }
        }
        StepKind::MapValues => {
            for o in objs {
                let (k, v) = py_pair(step, &o)?;
                let y = step.func.call(py, (v,))?;
                out.push(
                    PyTuple::new(py, [k, y])
                        .map_err(|e| e.to_string())?
                        .into_any(),
                );
            }
        }
        StepKind::FlatMapValues => {
            for o in objs {
                let (k, v) = py_pair(step, &o)?;
                let result = step.func.call(py, (v,))?;
                let mut items = Vec::new();
                iterate(step, py, result, |y| items.push(y))?;
                for y in items {
                    out.push(
                        PyTuple::new(py, [k.clone(), y])
                            .map_err(|e| e.to_string())?
                            .into_any(),
                    );
                }
            }
        }
        StepKind::MapPartitions => {
            let list = pyo3::types::PyList::new(py, objs).map_err(|e| e.to_string())?;
            let result = step.func.call(py, (list,))?;
            iterate(step, py, result, |x| out.push(x))?;
        }
    }
    Ok(out)
}
