//! The aggregate functions streaming SQL evaluates incrementally on Freshet's keyed operators:
//! each is an accumulator that takes values, merges with another accumulator (the partial
//! aggregates of other workers and earlier batches) and gives the SQL result.

use crate::error::{Result, SqlError};
use crate::value::Value;
use serde::{Deserialize, Serialize};

/// An aggregate function of a streaming query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    /// `count(x)` (non-null values) and `count(*)`.
    Count,
    /// `sum(x)`.
    Sum,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `avg(x)` (also `mean`).
    Avg,
}

impl AggKind {
    /// The kind of DataFusion's aggregate function `name`, or an error naming what is
    /// supported.
    pub fn from_name(name: &str) -> Result<AggKind> {
        Ok(match name {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "avg" | "mean" => AggKind::Avg,
            other => {
                return Err(SqlError::Unsupported(format!(
                    "the aggregate function {other}() (streaming SQL evaluates count, sum, min, max and avg incrementally)"
                )))
            }
        })
    }

    /// An accumulator that has seen nothing.
    pub fn empty(self) -> Acc {
        match self {
            AggKind::Count => Acc::Count(0),
            AggKind::Sum => Acc::Sum(Value::Null),
            AggKind::Min => Acc::Min(Value::Null),
            AggKind::Max => Acc::Max(Value::Null),
            AggKind::Avg => Acc::Avg { sum: 0.0, count: 0 },
        }
    }
}

/// The running state of one aggregate function for one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Acc {
    /// Non-null values seen.
    Count(i64),
    /// The sum of the non-null values (`NULL` until one is seen), in the input's variant.
    Sum(Value),
    /// The least non-null value (`NULL` until one is seen).
    Min(Value),
    /// The greatest non-null value (`NULL` until one is seen).
    Max(Value),
    /// The sum and count of the non-null values.
    Avg {
        /// Sum of the values.
        sum: f64,
        /// How many.
        count: u64,
    },
}

impl Acc {
    /// Takes in one value (SQL aggregates skip `NULL`).
    pub fn add(&mut self, v: Value) {
        if v.is_null() {
            return;
        }
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Sum(s) => *s = add_values(std::mem::replace(s, Value::Null), v),
            Acc::Min(m) => {
                if m.is_null() || v < *m {
                    *m = v;
                }
            }
            Acc::Max(m) => {
                if m.is_null() || v > *m {
                    *m = v;
                }
            }
            Acc::Avg { sum, count } => {
                *sum += as_f64(&v);
                *count += 1;
            }
        }
    }

    /// Takes in another accumulator of the same function.
    pub fn merge(&mut self, other: Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Sum(a), Acc::Sum(b)) => {
                if !b.is_null() {
                    *a = add_values(std::mem::replace(a, Value::Null), b);
                }
            }
            (Acc::Min(a), Acc::Min(b)) => {
                if !b.is_null() && (a.is_null() || b < *a) {
                    *a = b;
                }
            }
            (Acc::Max(a), Acc::Max(b)) => {
                if !b.is_null() && (a.is_null() || b > *a) {
                    *a = b;
                }
            }
            (Acc::Avg { sum, count }, Acc::Avg { sum: s, count: c }) => {
                *sum += s;
                *count += c;
            }
            (a, b) => unreachable!("accumulators of one column have one kind: {a:?} and {b:?}"),
        }
    }

    /// The SQL result.
    pub fn finish(&self) -> Value {
        match self {
            Acc::Count(n) => Value::Int(*n),
            Acc::Sum(v) | Acc::Min(v) | Acc::Max(v) => v.clone(),
            Acc::Avg { count: 0, .. } => Value::Null,
            Acc::Avg { sum, count } => Value::Float(*sum / *count as f64),
        }
    }
}

fn add_values(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Null, b) => b,
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(y)),
        (Value::UInt(x), Value::UInt(y)) => Value::UInt(x.wrapping_add(y)),
        (x, y) => Value::Float(as_f64(&x) + as_f64(&y)),
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::UInt(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulators_skip_nulls_and_merge_partials() {
        let values = [Value::Int(3), Value::Null, Value::Int(-1), Value::Int(5)];
        for (kind, expected) in [
            (AggKind::Count, Value::Int(3)),
            (AggKind::Sum, Value::Int(7)),
            (AggKind::Min, Value::Int(-1)),
            (AggKind::Max, Value::Int(5)),
            (AggKind::Avg, Value::Float(7.0 / 3.0)),
        ] {
            let mut whole = kind.empty();
            values.iter().cloned().for_each(|v| whole.add(v));
            let (mut left, mut right) = (kind.empty(), kind.empty());
            values[..2].iter().cloned().for_each(|v| left.add(v));
            values[2..].iter().cloned().for_each(|v| right.add(v));
            left.merge(right);
            assert_eq!(whole.finish(), expected, "{kind:?}");
            assert_eq!(left.finish(), expected, "{kind:?} merged");
        }
    }

    #[test]
    fn aggregates_of_nothing_are_null_except_count() {
        assert_eq!(AggKind::Count.empty().finish(), Value::Int(0));
        for kind in [AggKind::Sum, AggKind::Min, AggKind::Max, AggKind::Avg] {
            assert!(kind.empty().finish().is_null(), "{kind:?}");
        }
    }

    #[test]
    fn other_functions_are_named_in_the_error() {
        let e = AggKind::from_name("median").unwrap_err().to_string();
        assert!(e.contains("median()") && e.contains("count, sum"), "{e}");
    }
}
