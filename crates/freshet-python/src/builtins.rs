//! The fast path: Python built-ins that the engine recognizes and runs in Rust, on its worker
//! threads, without the GIL.
//!
//! `flat_map(str.split)`, `map(str.lower)`, `reduce_by_key(operator.add)` and the like do what
//! Python would do, on the engine's values. A reduce that Rust cannot do exactly (an `int` sum
//! leaving 64 bits, or operands of types it does not add) calls the Python built-in instead.

use crate::value::Value;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// A recognized one-argument built-in (`map`, `flat_map`, `filter`, `map_values`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeFn {
    /// `str.split` (no arguments: runs of whitespace).
    Split,
    /// `str.lower`.
    Lower,
    /// `str.upper`.
    Upper,
    /// `str.strip`.
    Strip,
    /// `len`.
    Len,
    /// `bool` (as `filter(bool)`, or `filter(None)`): Python's truth value.
    Truth,
}

/// A recognized two-argument built-in (`reduce_by_key`, `reduce`, windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeReduce {
    /// `operator.add`.
    Add,
    /// `operator.sub` (the usual inverse of `operator.add` in windows).
    Sub,
    /// `max`.
    Max,
    /// `min`.
    Min,
}

struct Known {
    unary: Vec<(Py<PyAny>, NativeFn)>,
    binary: Vec<(Py<PyAny>, NativeReduce)>,
}

static KNOWN: PyOnceLock<Known> = PyOnceLock::new();

fn known(py: Python<'_>) -> PyResult<&Known> {
    KNOWN.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let string = builtins.getattr("str")?;
        let operator = py.import("operator")?;
        let get = |obj: &Bound<'_, PyAny>, name: &str| obj.getattr(name).map(Bound::unbind);
        Ok(Known {
            unary: vec![
                (get(&string, "split")?, NativeFn::Split),
                (get(&string, "lower")?, NativeFn::Lower),
                (get(&string, "upper")?, NativeFn::Upper),
                (get(&string, "strip")?, NativeFn::Strip),
                (get(&builtins, "len")?, NativeFn::Len),
                (get(&builtins, "bool")?, NativeFn::Truth),
            ],
            binary: vec![
                (get(&operator, "add")?, NativeReduce::Add),
                (get(&operator, "sub")?, NativeReduce::Sub),
                (get(&builtins, "max")?, NativeReduce::Max),
                (get(&builtins, "min")?, NativeReduce::Min),
            ],
        })
    })
}

/// The built-in `f` is, when the engine runs it natively.
pub fn native_fn(f: &Bound<'_, PyAny>) -> Option<NativeFn> {
    let known = known(f.py()).ok()?;
    known
        .unary
        .iter()
        .find(|(obj, _)| obj.bind(f.py()).is(f))
        .map(|(_, n)| *n)
}

/// The two-argument built-in `f` is, when the engine runs it natively.
pub fn native_reduce(f: &Bound<'_, PyAny>) -> Option<NativeReduce> {
    let known = known(f.py()).ok()?;
    known
        .binary
        .iter()
        .find(|(obj, _)| obj.bind(f.py()).is(f))
        .map(|(_, n)| *n)
}

impl NativeFn {
    /// The Python name, for error messages and the web UI.
    pub fn name(self) -> &'static str {
        match self {
            NativeFn::Split => "str.split",
            NativeFn::Lower => "str.lower",
            NativeFn::Upper => "str.upper",
            NativeFn::Strip => "str.strip",
            NativeFn::Len => "len",
            NativeFn::Truth => "bool",
        }
    }

    fn wrong_type(self, v: &Value) -> String {
        format!(
            "{} cannot be applied to a record of type {}: {v}",
            self.name(),
            v.type_name()
        )
    }

    /// `f(v)`.
    pub fn apply(self, v: Value) -> Result<Value, String> {
        match (self, v) {
            (NativeFn::Split, Value::Str(s)) => Ok(Value::List(
                py_split(&s).map(|w| Value::Str(w.to_owned())).collect(),
            )),
            (NativeFn::Lower, Value::Str(s)) => Ok(Value::Str(s.to_lowercase())),
            (NativeFn::Upper, Value::Str(s)) => Ok(Value::Str(s.to_uppercase())),
            (NativeFn::Strip, Value::Str(s)) => {
                Ok(Value::Str(s.trim_matches(is_py_space).to_owned()))
            }
            (NativeFn::Len, v) => match &v {
                Value::Str(s) => Ok(Value::Int(s.chars().count() as i64)),
                Value::Bytes(b) => Ok(Value::Int(b.len() as i64)),
                Value::Tuple(x) | Value::List(x) => Ok(Value::Int(x.len() as i64)),
                Value::Dict(x) => Ok(Value::Int(x.len() as i64)),
                _ => Err(self.wrong_type(&v)),
            },
            (NativeFn::Truth, v) => Ok(Value::Bool(truth(&v)?)),
            (_, v) => Err(self.wrong_type(&v)),
        }
    }

    /// The records `flat_map(f)` makes of `v`, appended to `out`.
    pub fn apply_flat(self, v: Value, out: &mut Vec<Value>) -> Result<(), String> {
        match (self, v) {
            (NativeFn::Split, Value::Str(s)) => {
                out.extend(py_split(&s).map(|w| Value::Str(w.to_owned())));
                Ok(())
            }
            (_, v) => match self.apply(v)? {
                Value::List(items) | Value::Tuple(items) => {
                    out.extend(items);
                    Ok(())
                }
                Value::Str(s) => {
                    out.extend(s.chars().map(|c| Value::Str(c.to_string())));
                    Ok(())
                }
                other => Err(format!(
                    "flat_map({}) returned {}, which is not iterable",
                    self.name(),
                    other.type_name()
                )),
            },
        }
    }

    /// Whether `filter(f)` keeps `v`.
    pub fn keeps(self, v: &Value) -> Result<bool, String> {
        match self {
            NativeFn::Truth => truth(v),
            _ => truth(&self.apply(v.clone())?),
        }
    }
}

/// Python's `str.isspace` for one character: Unicode white space and the separators
/// U+001C–U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The words of `s` as Python's `str.split()` finds them.
fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|w| !w.is_empty())
}

/// Python's truth value of `v` (an arbitrary object's is Python's to say: refused here).
fn truth(v: &Value) -> Result<bool, String> {
    Ok(match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::Tuple(x) | Value::List(x) => !x.is_empty(),
        Value::Dict(x) => !x.is_empty(),
        Value::Pickled(_) => return Err("the truth of an object is Python's to decide".into()),
    })
}

impl NativeReduce {
    /// `f(a, b)` when Rust computes exactly what Python would, else `Err((a, b))` for Python.
    pub fn apply(self, a: Value, b: Value) -> Result<Value, (Value, Value)> {
        match self {
            NativeReduce::Add => add(a, b),
            NativeReduce::Sub => sub(a, b),
            NativeReduce::Max | NativeReduce::Min => {
                if !comparable(&a, &b) {
                    return Err((a, b));
                }
                // Python's max/min keep the first of equal values.
                let take_b = match self {
                    NativeReduce::Max => b > a,
                    _ => b < a,
                };
                Ok(if take_b { b } else { a })
            }
        }
    }
}

/// Whether Python orders `a` and `b` as Rust does (numbers, or two strings).
fn comparable(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| matches!(v, Value::Bool(_) | Value::Int(_) | Value::Float(_));
    (number(a) && number(b)) || matches!((a, b), (Value::Str(_), Value::Str(_)))
}

fn add(a: Value, b: Value) -> Result<Value, (Value, Value)> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x
            .checked_add(y)
            .map(Value::Int)
            .ok_or((Value::Int(x), Value::Int(y))),
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(x + y)),
        (Value::Int(x), Value::Float(y)) => Ok(Value::Float(x as f64 + y)),
        (Value::Float(x), Value::Int(y)) => Ok(Value::Float(x + y as f64)),
        (Value::Str(mut x), Value::Str(y)) => {
            x.push_str(&y);
            Ok(Value::Str(x))
        }
        (Value::Tuple(mut x), Value::Tuple(y)) => {
            x.extend(y);
            Ok(Value::Tuple(x))
        }
        (Value::List(mut x), Value::List(y)) => {
            x.extend(y);
            Ok(Value::List(x))
        }
        (a, b) => Err((a, b)),
    }
}

fn sub(a: Value, b: Value) -> Result<Value, (Value, Value)> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x
            .checked_sub(y)
            .map(Value::Int)
            .ok_or((Value::Int(x), Value::Int(y))),
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(x - y)),
        (Value::Int(x), Value::Float(y)) => Ok(Value::Float(x as f64 - y)),
        (Value::Float(x), Value::Int(y)) => Ok(Value::Float(x - y as f64)),
        (a, b) => Err((a, b)),
    }
}
