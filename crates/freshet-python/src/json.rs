//! Values as JSON, the form records take to and from SQL's rows.

use crate::value::Value;
use serde_json::{Map, Number};

/// The JSON text of a record for a JSON-lines table: a `dict` becomes an object (its keys as
/// strings); a `str` is taken as a line of JSON already.
pub fn line_of(v: &Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Dict(_) => Ok(to_json(v)?.to_string()),
        other => Err(format!(
            "a SQL table's records must be dicts or JSON lines (str); got a {}: {other}",
            other.type_name()
        )),
    }
}

/// The JSON value of `v` (tuples and lists become arrays; `bytes` and pickled objects have
/// none).
pub fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        Value::None => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::Number((*i).into()),
        Value::Float(f) => Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{f} has no JSON form"))?,
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Tuple(items) | Value::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Dict(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Value::Str(s) => s.clone(),
                    other => other.to_string(),
                };
                map.insert(key, to_json(v)?);
            }
            serde_json::Value::Object(map)
        }
        Value::Bytes(_) | Value::Pickled(_) => {
            return Err(format!("a {} has no JSON form", v.type_name()))
        }
    })
}

/// The value of a JSON value (objects become dicts in their order).
pub fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Dict(
            map.into_iter()
                .map(|(k, v)| (Value::Str(k), from_json(v)))
                .collect(),
        ),
    }
}
