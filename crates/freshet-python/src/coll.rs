//! `Coll`: a stream (`DStream`) or a batch dataset (`Dataset`) of Python values, with the
//! operators both share. The Python classes `freshet.DStream` and `freshet.Dataset` wrap it.

use crate::calls::{self, Reducer};
use crate::convert::{to_py, to_py_list};
use crate::errors::to_py_err;
use crate::function::PyFunction;
use crate::steps::{self, Step, StepKind};
use crate::value::Value;
use freshet::{DStream, Dataset};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::time::Duration;

/// A stream or a dataset of values.
#[derive(Clone)]
pub enum Base {
    /// A stream.
    Stream(DStream<Value>),
    /// A batch dataset.
    Batch(Dataset<Value>),
}

/// The same, of `(key, value)` pairs.
enum Pairs {
    Stream(DStream<(Value, Value)>),
    Batch(Dataset<(Value, Value)>),
}

/// Applies the same expression to a stream or a dataset (their operators share names).
macro_rules! both {
    ($base:expr, $x:ident => $e:expr) => {
        match $base {
            Base::Stream($x) => Base::Stream($e),
            Base::Batch($x) => Base::Batch($e),
        }
    };
}

macro_rules! both_pairs {
    ($pairs:expr, $x:ident => $e:expr) => {
        match $pairs {
            Pairs::Stream($x) => Base::Stream($e),
            Pairs::Batch($x) => Base::Batch($e),
        }
    };
}

/// A stream or dataset of Python values, with the per-record steps not yet given to the engine.
#[pyclass(frozen, skip_from_py_object, module = "freshet._native")]
#[derive(Clone)]
pub struct Coll {
    base: Base,
    steps: Vec<Step>,
}

/// A duration in seconds, as PySpark gives them.
pub fn seconds(name: &str, secs: f64) -> PyResult<Duration> {
    if !(secs.is_finite() && secs > 0.0 && secs <= 1e9) {
        return Err(PyValueError::new_err(format!(
            "{name} must be a number of seconds in (0, 1e9], got {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn positive(name: &str, n: i64, max: i64) -> PyResult<usize> {
    if n < 1 || n > max {
        return Err(PyValueError::new_err(format!(
            "{name} must be between 1 and {max}, got {n}"
        )));
    }
    Ok(n as usize)
}

impl Coll {
    /// A collection with no pending steps.
    pub fn new(base: Base) -> Coll {
        Coll {
            base,
            steps: Vec::new(),
        }
    }

    /// The collection with its pending steps given to the engine.
    pub fn base(&self) -> Base {
        if self.steps.is_empty() {
            return self.base.clone();
        }
        let steps = self.steps.clone();
        let label = steps::label(&steps);
        match &self.base {
            Base::Stream(s) => Base::Stream(
                s.try_map_partitions(move |part| steps::run(&steps, part))
                    .name(label),
            ),
            Base::Batch(d) => {
                Base::Batch(d.try_map_partitions(move |part| steps::run(&steps, part)))
            }
        }
    }

    fn with_step(&self, kind: StepKind, f: &Bound<'_, PyAny>) -> PyResult<Coll> {
        let mut steps = self.steps.clone();
        steps.push(Step::new(kind, f)?);
        Ok(Coll {
            base: self.base.clone(),
            steps,
        })
    }

    fn stream(&self, op: &str) -> PyResult<DStream<Value>> {
        match self.base() {
            Base::Stream(s) => Ok(s),
            Base::Batch(_) => Err(PyTypeError::new_err(format!(
                "{op} is an operator of streams (DStream), not of datasets"
            ))),
        }
    }

    fn dataset(&self, op: &str) -> PyResult<Dataset<Value>> {
        match self.base() {
            Base::Batch(d) => Ok(d),
            Base::Stream(_) => Err(PyTypeError::new_err(format!(
                "{op} is an action of datasets; on a stream use foreach_batch or collect_batches"
            ))),
        }
    }

    fn pairs(&self, op: &'static str) -> Pairs {
        let to_pair = move |part: Vec<Value>| {
            part.into_iter()
                .map(|v| {
                    v.into_pair().map_err(|v| {
                        format!(
                            "{op} expects (key, value) pairs; got a {}: {v}",
                            v.type_name()
                        )
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        };
        match self.base() {
            Base::Stream(s) => Pairs::Stream(s.try_map_partitions(to_pair)),
            Base::Batch(d) => Pairs::Batch(d.try_map_partitions(to_pair)),
        }
    }

    fn other_base(&self, other: &Coll, op: &str) -> PyResult<Base> {
        let other = other.base();
        match (&self.base, &other) {
            (Base::Stream(_), Base::Stream(_)) | (Base::Batch(_), Base::Batch(_)) => Ok(other),
            _ => Err(PyTypeError::new_err(format!(
                "{op} needs two streams or two datasets"
            ))),
        }
    }

    fn other_pairs(&self, other: &Coll, op: &'static str) -> PyResult<Pairs> {
        self.other_base(other, op)?;
        Ok(other.pairs(op))
    }
}

fn unpair(part: Vec<(Value, Value)>) -> Vec<Value> {
    part.into_iter().map(|(k, v)| Value::pair(k, v)).collect()
}

/// `reduce_by_key` when Python runs per record: with a Python function, or after a chain of
/// steps that ends in Python's.
///
/// Each partition is combined by key under one hold of the GIL (together with the chain's
/// Python steps, in a Python dict: [`steps::run_combining`]), so only each key's partial result
/// becomes an engine value; the partials are then merged by the engine (a built-in function,
/// without the GIL) or routed by key and folded under one more hold of the GIL. Never a call
/// from the engine per record.
fn reduce_py(coll: &Coll, r: Reducer) -> Base {
    let fused = coll.steps.last().is_some_and(|s| !s.is_native());
    let combined = if fused {
        let steps = coll.steps.clone();
        let f = r.function().clone();
        let combine = move |part: Vec<Value>| steps::run_combining(&steps, part, &f);
        match &coll.base {
            Base::Stream(s) => Pairs::Stream(s.try_map_partitions(combine)),
            Base::Batch(d) => Pairs::Batch(d.try_map_partitions(combine)),
        }
    } else {
        let r = r.clone();
        let combine = move |part: Vec<(Value, Value)>| -> Result<Vec<(Value, Value)>, String> {
            let mut groups: rustc_hash::FxHashMap<Value, Vec<Value>> = Default::default();
            for (k, v) in part {
                groups.entry(k).or_default().push(v);
            }
            Python::attach(|py| {
                groups
                    .into_iter()
                    .filter_map(|(k, vs)| r.fold_py(py, vs).map(|v| v.map(|v| (k, v))).transpose())
                    .collect()
            })
        };
        match coll.pairs("reduce_by_key") {
            Pairs::Stream(s) => Pairs::Stream(s.try_map_partitions(combine)),
            Pairs::Batch(d) => Pairs::Batch(d.try_map_partitions(combine)),
        }
    };
    if r.is_native() {
        return both_pairs!(combined, p => p.reduce_by_key(r.closure()).map_partitions(unpair));
    }
    let fold = move |part: Vec<(Value, Vec<Value>)>| -> Result<Vec<Value>, String> {
        Python::attach(|py| {
            part.into_iter()
                .filter_map(|(k, vs)| {
                    r.fold_py(py, vs)
                        .map(|v| v.map(|v| Value::pair(k, v)))
                        .transpose()
                })
                .collect()
        })
    };
    both_pairs!(combined, p => p.group_by_key().try_map_partitions(fold.clone()))
}

#[pymethods]
impl Coll {
    /// Whether this is a stream (else a batch dataset).
    fn is_stream(&self) -> bool {
        matches!(self.base, Base::Stream(_))
    }

    /// A per-record step (`map`, `flat_map`, `filter`, `map_values`, `flat_map_values`,
    /// `map_partitions`) with the function `f`.
    fn step(&self, kind: &str, f: &Bound<'_, PyAny>) -> PyResult<Coll> {
        let kind = match kind {
            "map" => StepKind::Map,
            "flat_map" => StepKind::FlatMap,
            "filter" => StepKind::Filter,
            "map_values" => StepKind::MapValues,
            "flat_map_values" => StepKind::FlatMapValues,
            "map_partitions" => StepKind::MapPartitions,
            other => return Err(PyValueError::new_err(format!("no step {other:?}"))),
        };
        self.with_step(kind, f)
    }

    fn glom(&self) -> Coll {
        Coll::new(both!(self.base(), x => x.glom().map(Value::List)))
    }

    fn union(&self, other: &Coll) -> PyResult<Coll> {
        let other = self.other_base(other, "union")?;
        Ok(Coll::new(match (self.base(), other) {
            (Base::Stream(a), Base::Stream(b)) => Base::Stream(a.union(&b)),
            (Base::Batch(a), Base::Batch(b)) => Base::Batch(a.union(&b)),
            _ => unreachable!("checked"),
        }))
    }

    fn repartition(&self, n: i64) -> PyResult<Coll> {
        let n = positive("num_partitions", n, 1 << 16)?;
        Ok(Coll::new(both!(self.base(), x => x.repartition(n))))
    }

    /// `count()` of a stream: a stream of one count per batch.
    fn count_stream(&self) -> PyResult<Coll> {
        Ok(Coll::new(Base::Stream(
            self.stream("count")?.count().map(|n| Value::Int(n as i64)),
        )))
    }

    /// `reduce(f)` of a stream: a stream of one value per non-empty batch.
    fn reduce_stream(&self, f: &Bound<'_, PyAny>) -> PyResult<Coll> {
        let r = Reducer::new(f)?;
        Ok(Coll::new(Base::Stream(
            self.stream("reduce")?.reduce(r.closure()),
        )))
    }

    fn count_by_value(&self) -> Coll {
        Coll::new(
            both!(self.base(), x => x.count_by_value().map(|(v, n)| Value::pair(v, Value::Int(n as i64)))),
        )
    }

    #[pyo3(signature = (f, num_partitions=None))]
    fn reduce_by_key(&self, f: &Bound<'_, PyAny>, num_partitions: Option<i64>) -> PyResult<Coll> {
        if let Some(n) = num_partitions {
            positive("num_partitions", n, 1 << 16)?;
        }
        let r = Reducer::new(f)?;
        let python_tail = self.steps.last().is_some_and(|s| !s.is_native());
        Ok(Coll::new(if r.is_native() && !python_tail {
            let pairs = self.pairs("reduce_by_key");
            both_pairs!(pairs, p => p.reduce_by_key(r.closure()).map_partitions(unpair))
        } else {
            reduce_py(self, r)
        }))
    }

    fn group_by_key(&self) -> Coll {
        let pairs = self.pairs("group_by_key");
        Coll::new(
            both_pairs!(pairs, p => p.group_by_key().map(|(k, vs)| Value::pair(k, Value::List(vs)))),
        )
    }

    fn combine_by_key(
        &self,
        create: &Bound<'_, PyAny>,
        merge_value: &Bound<'_, PyAny>,
        merge_combiners: &Bound<'_, PyAny>,
    ) -> PyResult<Coll> {
        let create = std::sync::Arc::new(calls::unary(&PyFunction::new(create)?));
        let merge_value = Reducer::new(merge_value)?;
        let merge_combiners = Reducer::new(merge_combiners)?;
        let pairs = self.pairs("combine_by_key");
        Ok(Coll::new(both_pairs!(pairs, p => {
            let create = create.clone();
            p.combine_by_key(
                move |v| create(v),
                merge_value.closure(),
                merge_combiners.closure(),
            )
            .map_partitions(unpair)
        })))
    }

    fn join(&self, other: &Coll) -> PyResult<Coll> {
        self.joined(other, "join", JoinKind::Inner)
    }

    fn left_outer_join(&self, other: &Coll) -> PyResult<Coll> {
        self.joined(other, "left_outer_join", JoinKind::Left)
    }

    fn right_outer_join(&self, other: &Coll) -> PyResult<Coll> {
        self.joined(other, "right_outer_join", JoinKind::Right)
    }

    fn full_outer_join(&self, other: &Coll) -> PyResult<Coll> {
        self.joined(other, "full_outer_join", JoinKind::Full)
    }

    fn cogroup(&self, other: &Coll) -> PyResult<Coll> {
        let b = self.other_pairs(other, "cogroup")?;
        let lists = |(k, (vs, ws)): (Value, (Vec<Value>, Vec<Value>))| {
            Value::pair(k, Value::Tuple(vec![Value::List(vs), Value::List(ws)]))
        };
        Ok(Coll::new(match (self.pairs("cogroup"), b) {
            (Pairs::Stream(a), Pairs::Stream(b)) => Base::Stream(a.cogroup(&b).map(lists)),
            (Pairs::Batch(a), Pairs::Batch(b)) => Base::Batch(a.cogroup(&b).map(lists)),
            _ => unreachable!("checked"),
        }))
    }

    #[pyo3(signature = (f, ascending=true))]
    fn sort_by(&self, f: &Bound<'_, PyAny>, ascending: bool) -> PyResult<Coll> {
        let key = std::sync::Arc::new(calls::unary(&PyFunction::new(f)?));
        Ok(Coll::new(both!(self.base(), x => {
            let key = key.clone();
            x.sort_by(move |v: &Value| key(v.clone()), ascending)
        })))
    }

    #[pyo3(signature = (ascending=true))]
    fn sort_by_key(&self, ascending: bool) -> Coll {
        let pairs = self.pairs("sort_by_key");
        Coll::new(both_pairs!(pairs, p => p.sort_by_key(ascending).map_partitions(unpair)))
    }

    // ---- windows (streams only) ----

    #[pyo3(signature = (window_duration, slide_duration))]
    fn window(&self, window_duration: f64, slide_duration: f64) -> PyResult<Coll> {
        let (len, slide) = self.window_args(window_duration, slide_duration)?;
        Ok(Coll::new(Base::Stream(
            self.stream("window")?.window(len, slide),
        )))
    }

    #[pyo3(signature = (window_duration, slide_duration))]
    fn count_by_window(&self, window_duration: f64, slide_duration: f64) -> PyResult<Coll> {
        let (len, slide) = self.window_args(window_duration, slide_duration)?;
        Ok(Coll::new(Base::Stream(
            self.stream("count_by_window")?
                .count_by_window(len, slide)
                .map(|n| Value::Int(n as i64)),
        )))
    }

    #[pyo3(signature = (f, inv, window_duration, slide_duration))]
    fn reduce_by_window(
        &self,
        f: &Bound<'_, PyAny>,
        inv: &Bound<'_, PyAny>,
        window_duration: f64,
        slide_duration: f64,
    ) -> PyResult<Coll> {
        let (len, slide) = self.window_args(window_duration, slide_duration)?;
        let s = self.stream("reduce_by_window")?;
        let f = Reducer::new(f)?.closure();
        Ok(Coll::new(Base::Stream(if inv.is_none() {
            s.reduce_by_window(f, len, slide)
        } else {
            s.reduce_by_window_inv(f, Reducer::new(inv)?.closure(), len, slide)
        })))
    }

    #[pyo3(signature = (window_duration, slide_duration))]
    fn count_by_value_and_window(
        &self,
        window_duration: f64,
        slide_duration: f64,
    ) -> PyResult<Coll> {
        let (len, slide) = self.window_args(window_duration, slide_duration)?;
        Ok(Coll::new(Base::Stream(
            self.stream("count_by_value_and_window")?
                .count_by_value_and_window(len, slide)
                .map(|(v, n)| Value::pair(v, Value::Int(n as i64))),
        )))
    }

    #[pyo3(signature = (window_duration, slide_duration))]
    fn group_by_key_and_window(&self, window_duration: f64, slide_duration: f64) -> PyResult<Coll> {
        let (len, slide) = self.window_args(window_duration, slide_duration)?;
        let Pairs::Stream(s) = self.pairs_stream("group_by_key_and_window")? else {
            unreachable!("a stream")
        };
        Ok(Coll::new(Base::Stream(
            s.group_by_key_and_window(len, slide)
                .map(|(k, vs)| Value::pair(k, Value::List(vs))),
        )))
    }

    #[pyo3(signature = (f, inv, window_duration, slide_duration, filter=None))]
    fn reduce_by_key_and_window(
        &self,
        f: &Bound<'_, PyAny>,
        inv: &Bound<'_, PyAny>,
        window_duration: f64,
        slide_duration: f64,
        filter: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Coll> {
        let (len, slide) = self.window_args(window_duration, slide_duration)?;
        let Pairs::Stream(s) = self.pairs_stream("reduce_by_key_and_window")? else {
            unreachable!("a stream")
        };
        let f = Reducer::new(f)?.closure();
        let out = match (inv.is_none(), filter) {
            (true, _) => s.reduce_by_key_and_window(f, len, slide),
            (false, None) => {
                s.reduce_by_key_and_window_inv(f, Reducer::new(inv)?.closure(), len, slide)
            }
            (false, Some(keep)) => {
                let keep = calls::unary(&PyFunction::new(keep)?);
                s.reduce_by_key_and_window_inv_filtered(
                    f,
                    Reducer::new(inv)?.closure(),
                    len,
                    slide,
                    move |(k, v): &(Value, Value)| {
                        let kept = keep(Value::pair(k.clone(), v.clone()));
                        crate::builtins::NativeFn::Truth
                            .keeps(&kept)
                            .unwrap_or(true)
                    },
                )
            }
        };
        Ok(Coll::new(Base::Stream(out.map_partitions(unpair))))
    }

    // ---- state ----

    fn update_state_by_key(&self, f: &Bound<'_, PyAny>) -> PyResult<Coll> {
        let Pairs::Stream(s) = self.pairs_stream("update_state_by_key")? else {
            unreachable!("a stream")
        };
        let update = calls::update_state(&PyFunction::new(f)?);
        Ok(Coll::new(Base::Stream(
            s.update_state_by_key(update).map_partitions(unpair),
        )))
    }

    // ---- transform ----

    /// `transform(f)`: `f` is called once, now, with the batch as a dataset `Coll`, and
    /// returns the dataset `Coll` every batch becomes.
    fn transform(&self, py: Python<'_>, f: &Bound<'_, PyAny>) -> PyResult<Coll> {
        let s = self.stream("transform")?;
        let mut failure = None;
        let out = s.transform(|batch| or_note(call_transform(py, f, vec![batch]), &mut failure));
        built(out, failure)
    }

    fn transform_with(&self, py: Python<'_>, f: &Bound<'_, PyAny>, other: &Coll) -> PyResult<Coll> {
        let a = self.stream("transform_with")?;
        let Base::Stream(b) = self.other_base(other, "transform_with")? else {
            return Err(PyTypeError::new_err("transform_with needs a stream"));
        };
        let mut failure = None;
        let out = a.transform_with(&b, |x, y| {
            or_note(call_transform(py, f, vec![x, y]), &mut failure)
        });
        built(out, failure)
    }

    // ---- outputs of streams ----

    fn foreach_batch(&self, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let f = PyFunction::new(f)?;
        self.stream("foreach_batch")?
            .foreach_batch(move |t, records| {
                Python::attach(|py| {
                    let time = crate::time::datetime(py, t.millis()).map_err(|e| e.to_string())?;
                    let list = to_py_list(py, &records).map_err(|e| e.to_string())?;
                    f.call(py, (time, list)).map(|_| ())
                })
                .unwrap_or_else(|e| calls::fail(e))
            });
        Ok(())
    }

    fn pprint(&self, num: i64) -> PyResult<()> {
        let n = positive("num", num, 1 << 30)?;
        self.stream("pprint")?.print(n);
        Ok(())
    }

    #[pyo3(signature = (prefix, suffix=None))]
    fn save_as_text_files(&self, prefix: String, suffix: Option<String>) -> PyResult<()> {
        match self.base() {
            Base::Stream(s) => {
                s.save_as_text_files(prefix, suffix.as_deref());
                Ok(())
            }
            Base::Batch(d) => d.save_as_text_files(prefix).map_err(to_py_err),
        }
    }

    fn collect_batches(&self) -> PyResult<crate::collected::Collected> {
        Ok(crate::collected::Collected::new(
            self.stream("collect_batches")?.collect_batches(),
        ))
    }

    // ---- actions of datasets ----

    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let d = self.dataset("collect")?;
        let records = py.detach(|| d.collect()).map_err(to_py_err)?;
        to_py_list(py, &records)
    }

    fn count(&self, py: Python<'_>) -> PyResult<u64> {
        let d = self.dataset("count")?;
        py.detach(|| d.count()).map_err(to_py_err)
    }

    fn take<'py>(&self, py: Python<'py>, n: i64) -> PyResult<Bound<'py, PyList>> {
        let n = positive("n", n.max(1), 1 << 40)?;
        let d = self.dataset("take")?;
        let records = py.detach(|| d.take(n)).map_err(to_py_err)?;
        to_py_list(py, &records)
    }

    fn reduce<'py>(&self, py: Python<'py>, f: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let d = self.dataset("reduce")?;
        let r = Reducer::new(f)?;
        let out = py.detach(|| d.reduce(r.closure())).map_err(to_py_err)?;
        match out {
            Some(v) => to_py(py, &v),
            None => Err(PyValueError::new_err("reduce() of an empty dataset")),
        }
    }
}

#[derive(Clone, Copy)]
enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

fn opt(v: Option<Value>) -> Value {
    v.unwrap_or(Value::None)
}

impl Coll {
    fn joined(&self, other: &Coll, op: &'static str, kind: JoinKind) -> PyResult<Coll> {
        let b = self.other_pairs(other, op)?;
        let a = self.pairs(op);
        macro_rules! join {
            ($a:expr, $b:expr) => {
                match kind {
                    JoinKind::Inner => $a
                        .join(&$b)
                        .map(|(k, (v, w))| Value::pair(k, Value::pair(v, w))),
                    JoinKind::Left => $a
                        .left_outer_join(&$b)
                        .map(|(k, (v, w))| Value::pair(k, Value::pair(v, opt(w)))),
                    JoinKind::Right => $a
                        .right_outer_join(&$b)
                        .map(|(k, (v, w))| Value::pair(k, Value::pair(opt(v), w))),
                    JoinKind::Full => $a
                        .full_outer_join(&$b)
                        .map(|(k, (v, w))| Value::pair(k, Value::pair(opt(v), opt(w)))),
                }
            };
        }
        Ok(Coll::new(match (a, b) {
            (Pairs::Stream(a), Pairs::Stream(b)) => Base::Stream(join!(a, b)),
            (Pairs::Batch(a), Pairs::Batch(b)) => Base::Batch(join!(a, b)),
            _ => unreachable!("checked"),
        }))
    }

    fn pairs_stream(&self, op: &'static str) -> PyResult<Pairs> {
        self.stream(op)?;
        Ok(self.pairs(op))
    }

    fn window_args(&self, len: f64, slide: f64) -> PyResult<(Duration, Duration)> {
        Ok((
            seconds("window_duration", len)?,
            seconds("slide_duration", slide)?,
        ))
    }
}

/// The dataset a `transform` function returned, or an empty one with its error noted in
/// `failure` (the engine's `transform` takes a function that cannot fail).
fn or_note(result: PyResult<Dataset<Value>>, failure: &mut Option<PyErr>) -> Dataset<Value> {
    result.unwrap_or_else(|e| {
        *failure = Some(e);
        Dataset::parallelize(Vec::new(), 1)
    })
}

/// The stream a `transform` made, or the error its function raised.
fn built(out: DStream<Value>, failure: Option<PyErr>) -> PyResult<Coll> {
    match failure {
        Some(e) => Err(e),
        None => Ok(Coll::new(Base::Stream(out))),
    }
}

/// Calls a `transform` function with datasets, once, and checks that it returns a dataset.
fn call_transform(
    py: Python<'_>,
    f: &Bound<'_, PyAny>,
    inputs: Vec<Dataset<Value>>,
) -> PyResult<Dataset<Value>> {
    let wrap = py.import("freshet")?.getattr("Dataset")?.getattr("_wrap")?;
    let args = inputs
        .into_iter()
        .map(|d| wrap.call1((Coll::new(Base::Batch(d)),)))
        .collect::<PyResult<Vec<_>>>()?;
    let out = f.call1(pyo3::types::PyTuple::new(py, args)?)?;
    let coll = out
        .getattr("_coll")
        .map_err(|_| PyTypeError::new_err("a transform function must return a Dataset"))?;
    let coll = coll.cast::<Coll>()?.get().base();
    match coll {
        Base::Batch(d) => Ok(d),
        Base::Stream(_) => Err(PyTypeError::new_err(
            "a transform function must return a Dataset, not a DStream",
        )),
    }
}
