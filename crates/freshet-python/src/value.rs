//! [`Value`]: a Python value as the engine holds it, without the interpreter.
//!
//! Records cross from Python into the engine as values of this type, so that the engine can
//! hash, compare, exchange, checkpoint and write them on its worker threads without taking the
//! GIL. Python's `None`, `bool`, `int` (within 64 bits), `float`, `str`, `bytes`, `tuple`, `list`
//! and `dict` map onto variants of their own; any other object (a large integer, a `datetime`, an
//! instance of a user's class) is kept pickled.
//!
//! Equality and hashing follow Python's: `1 == 1.0 == True`, and equal numbers hash alike, so a
//! key is the same key whichever numeric type carries it.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A Python value held by the engine.
#[derive(Clone, Serialize, Deserialize)]
pub enum Value {
    /// `None`.
    None,
    /// A `bool`.
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `tuple` (pairs are the keyed operators' records).
    Tuple(Vec<Value>),
    /// A `list`.
    List(Vec<Value>),
    /// A `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// Any other object, as `pickle.dumps` wrote it.
    Pickled(Vec<u8>),
}

impl Value {
    /// The number this value stands for, when it is a `bool`, an `int` or a `float`.
    fn number(&self) -> Option<Number> {
        match self {
            Value::Bool(b) => Some(Number::Int(i64::from(*b))),
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Float(f) => Some(Number::Float(*f)),
            _ => None,
        }
    }

    /// The pair `(key, value)` of a 2-tuple (or 2-list), or `None` for any other value.
    pub fn into_pair(self) -> Result<(Value, Value), Value> {
        match self {
            Value::Tuple(items) | Value::List(items) if items.len() == 2 => {
                let mut items = items.into_iter();
                match (items.next(), items.next()) {
                    (Some(k), Some(v)) => Ok((k, v)),
                    _ => unreachable!("two items"),
                }
            }
            other => Err(other),
        }
    }

    /// The 2-tuple `(k, v)`.
    pub fn pair(k: Value, v: Value) -> Value {
        Value::Tuple(vec![k, v])
    }

    /// The Python name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Pickled(_) => "object",
        }
    }

    /// The order of values of different types, for sorting mixed records deterministically
    /// (numbers of all kinds compare by value among themselves).
    fn rank(&self) -> u8 {
        match self {
            Value::None => 0,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => 1,
            Value::Str(_) => 2,
            Value::Bytes(_) => 3,
            Value::Tuple(_) => 4,
            Value::List(_) => 5,
            Value::Dict(_) => 6,
            Value::Pickled(_) => 7,
        }
    }
}

/// A numeric value, for comparisons across `bool`, `int` and `float`.
#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn cmp(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (Number::Int(a), Number::Float(b)) => cmp_int_float(a, b),
            (Number::Float(a), Number::Int(b)) => cmp_int_float(b, a).reverse(),
            (Number::Float(a), Number::Float(b)) => a.total_cmp(&b),
        }
    }
}

/// Compares an integer with a float exactly (no rounding of large integers); NaN sorts last.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    // i64 values are exact in i128, and every float beyond i64's range is an integer.
    if f >= 9.3e18 {
        return Ordering::Less;
    }
    if f <= -9.3e18 {
        return Ordering::Greater;
    }
    let whole = f.floor();
    match (i as i128).cmp(&(whole as i128)) {
        Ordering::Equal if f > whole => Ordering::Less,
        other => other,
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Some(a), Some(b)) = (self.number(), other.number()) {
            return a.cmp(b);
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) | (Value::Pickled(a), Value::Pickled(b)) => a.cmp(b),
            (Value::Tuple(a), Value::Tuple(b)) | (Value::List(a), Value::List(b)) => a.cmp(b),
            (Value::Dict(a), Value::Dict(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.number() {
            // Equal numbers hash alike: an integral float hashes as the integer it equals.
            Some(Number::Int(i)) => {
                state.write_u8(1);
                state.write_i64(i);
            }
            Some(Number::Float(f)) => {
                state.write_u8(1);
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    state.write_i64(f as i64);
                } else if f.is_nan() {
                    state.write_u64(u64::MAX);
                } else {
                    state.write_u64(f.to_bits());
                }
            }
            None => {
                state.write_u8(self.rank());
                match self {
                    Value::Str(s) => s.hash(state),
                    Value::Bytes(b) | Value::Pickled(b) => b.hash(state),
                    Value::Tuple(items) | Value::List(items) => items.hash(state),
                    Value::Dict(entries) => entries.hash(state),
                    _ => {}
                }
            }
        }
    }
}

impl fmt::Debug for Value {
    /// Python's `repr`, as for [`Display`](fmt::Display): `pprint` prints records with it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Value {
    /// Python's `repr` of the value (strings quoted), as `pprint` and text files show records.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write_float(f, *x),
            Value::Str(s) => write_str_repr(f, s),
            Value::Bytes(b) => {
                f.write_str("b'")?;
                for &c in b {
                    match c {
                        b'\\' => f.write_str("\\\\")?,
                        b'\'' => f.write_str("\\'")?,
                        b'\n' => f.write_str("\\n")?,
                        b'\t' => f.write_str("\\t")?,
                        b'\r' => f.write_str("\\r")?,
                        0x20..=0x7e => write!(f, "{}", c as char)?,
                        _ => write!(f, "\\x{c:02x}")?,
                    }
                }
                f.write_str("'")
            }
            Value::Tuple(items) => {
                f.write_str("(")?;
                write_items(f, items)?;
                if items.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
            Value::List(items) => {
                f.write_str("[")?;
                write_items(f, items)?;
                f.write_str("]")
            }
            Value::Dict(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Pickled(b) => write!(f, "<object, {} pickled bytes>", b.len()),
        }
    }
}

fn write_items(f: &mut fmt::Formatter<'_>, items: &[Value]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        f.write_str("nan")
    } else if x.is_infinite() {
        f.write_str(if x > 0.0 { "inf" } else { "-inf" })
    } else if x.fract() == 0.0 && x.abs() < 1e16 {
        write!(f, "{x:.1}")
    } else {
        write!(f, "{x}")
    }
}

fn write_str_repr(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    write!(f, "{quote}")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    write!(f, "{quote}")
}
