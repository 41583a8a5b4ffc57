//! One SQL value as Freshet's keyed operators carry it: group keys, aggregate inputs and
//! results between the stages DataFusion evaluates.

use crate::error::{Result, SqlError};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float64Array, Int64Array, NullArray,
    StringArray, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A SQL value. Integers, timestamps and dates travel as `Int` (their raw Arrow value);
/// the Arrow type they go back to is the query's, known from its plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer, a timestamp, a date or a time (the raw value of its Arrow type).
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => 2,
            Value::Text(_) => 3,
            Value::Bytes(_) => 4,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Ord for Value {
    /// SQL order within one type (floats by `total_cmp`, so `NaN` is one value); `NULL`
    /// first. Values of one column always have one variant, so the order across variants
    /// only has to be consistent.
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (UInt(a), UInt(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Int(a), UInt(b)) => i128::from(*a).cmp(&i128::from(*b)),
            (UInt(a), Int(b)) => i128::from(*a).cmp(&i128::from(*b)),
            (Text(a), Text(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => (1u8, b).hash(state),
            Value::Int(i) => (2u8, i).hash(state),
            Value::UInt(u) => (3u8, u).hash(state),
            Value::Float(f) => (4u8, f.to_bits()).hash(state),
            Value::Text(s) => (5u8, s).hash(state),
            Value::Bytes(b) => (6u8, b).hash(state),
        }
    }
}

/// The values of `array`, one per row.
pub fn values_of(array: &dyn Array) -> Result<Vec<Value>> {
    let n = array.len();
    let nullable = |i: usize, v: Value| if array.is_null(i) { Value::Null } else { v };
    macro_rules! ints {
        ($t:ty, $variant:ident, $conv:ty) => {{
            let a = array.as_primitive::<$t>();
            (0..n)
                .map(|i| nullable(i, Value::$variant(<$conv>::from(a.value(i)))))
                .collect()
        }};
    }
    Ok(match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|i| nullable(i, Value::Bool(a.value(i))))
                .collect()
        }
        DataType::Int8 => ints!(Int8Type, Int, i64),
        DataType::Int16 => ints!(Int16Type, Int, i64),
        DataType::Int32 => ints!(Int32Type, Int, i64),
        DataType::Int64 => ints!(Int64Type, Int, i64),
        DataType::UInt8 => ints!(UInt8Type, UInt, u64),
        DataType::UInt16 => ints!(UInt16Type, UInt, u64),
        DataType::UInt32 => ints!(UInt32Type, UInt, u64),
        DataType::UInt64 => ints!(UInt64Type, UInt, u64),
        DataType::Float32 => ints!(Float32Type, Float, f64),
        DataType::Float64 => ints!(Float64Type, Float, f64),
        DataType::Timestamp(..)
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_) => {
            let raw = cast(array, &DataType::Int64).map_err(SqlError::arrow)?;
            values_of(raw.as_ref())?
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let utf8 = cast(array, &DataType::Utf8).map_err(SqlError::arrow)?;
            let a = utf8.as_string::<i32>();
            (0..n)
                .map(|i| nullable(i, Value::Text(a.value(i).to_owned())))
                .collect()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let bin = cast(array, &DataType::Binary).map_err(SqlError::arrow)?;
            let a = bin.as_binary::<i32>();
            (0..n)
                .map(|i| nullable(i, Value::Bytes(a.value(i).to_vec())))
                .collect()
        }
        other => {
            return Err(SqlError::Unsupported(format!(
                "values of type {other} as group keys or aggregate inputs"
            )))
        }
    })
}

/// An Arrow array of type `to` holding `values` (all of one variant, or `NULL`).
pub fn array_of(values: &[Value], to: &DataType) -> Result<ArrayRef> {
    let first = values.iter().find(|v| !v.is_null());
    // The values of one variant as an array of `$array`, others (`NULL`) as nulls.
    macro_rules! array {
        ($variant:ident, $array:ty, $value:expr) => {
            Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::$variant(x) => Some($value(x)),
                        _ => None,
                    })
                    .collect::<$array>(),
            )
        };
    }
    let raw: ArrayRef = match first {
        None | Some(Value::Null) => Arc::new(NullArray::new(values.len())),
        Some(Value::Bool(_)) => array!(Bool, BooleanArray, |b: &bool| *b),
        Some(Value::Int(_)) => array!(Int, Int64Array, |i: &i64| *i),
        Some(Value::UInt(_)) => array!(UInt, UInt64Array, |u: &u64| *u),
        Some(Value::Float(_)) => array!(Float, Float64Array, |f: &f64| *f),
        Some(Value::Text(_)) => array!(Text, StringArray, String::as_str),
        Some(Value::Bytes(_)) => array!(Bytes, BinaryArray, Vec::as_slice),
    };
    if raw.data_type() == to {
        return Ok(raw);
    }
    // Timestamps and dates come back from their raw integer (`cast` from Int64 to a
    // timestamp reinterprets the value; to Date32 it goes through Int32).
    let raw = match to {
        DataType::Date32 | DataType::Time32(_) => {
            cast(&raw, &DataType::Int32).map_err(SqlError::arrow)?
        }
        _ => raw,
    };
    cast(&raw, to).map_err(SqlError::arrow)
}
