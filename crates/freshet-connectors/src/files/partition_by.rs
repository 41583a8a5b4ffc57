//! Partitioning by a column value: `<dir>/<column>=<value>/...`, as Spark's `partitionBy`.
//!
//! The value comes from a named top-level field of the record ([`PartitionBy::field`]) or from
//! a closure ([`PartitionBy::column`]). It is escaped for a file name as Hive and Spark do:
//! `/`, `\`, `%`, `=`, `:`, `*`, `?`, `"`, `'`, `#`, `{`, `[`, `]`, `^`, DEL and control
//! characters become `%XX`; a missing, null or empty value becomes
//! `__HIVE_DEFAULT_PARTITION__`. Unlike Spark, the column also stays in the records.

use super::error::FormatError;
use serde::Serialize;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// The directory name of a null or empty partition value (as in Hive and Spark).
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The longest directory name a partition value may make, in bytes.
const MAX_COMPONENT_BYTES: usize = 255;

/// How a sink splits each batch into `<column>=<value>` directories. See the
/// [module documentation](self).
#[derive(Clone)]
pub struct PartitionBy {
    column: String,
    key: Key,
}

#[derive(Clone)]
enum Key {
    /// A top-level field, read through the record's `Serialize` implementation.
    Field(String),
    /// A closure over a record type: an `Arc<dyn Fn(&T) -> String + Send + Sync>` with the
    /// type's name.
    Closure(Arc<dyn Any + Send + Sync>, &'static str),
}

type KeyFn<T> = Arc<dyn Fn(&T) -> String + Send + Sync>;

impl fmt::Debug for PartitionBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Key::Field(name) => write!(f, "PartitionBy::field({name:?})"),
            Key::Closure(_, record) => {
                write!(f, "PartitionBy::column({:?}, <fn(&{record})>)", self.column)
            }
        }
    }
}

impl PartitionBy {
    /// Partitions by the value of the top-level field `name` of each record (a string, a
    /// number or a bool; null or missing goes to [`DEFAULT_PARTITION`]). The directory is
    /// `<name>=<value>`. Reading the field serializes the record once more; a closure
    /// ([`column`](Self::column)) is faster.
    pub fn field(name: impl Into<String>) -> Self {
        let name = name.into();
        PartitionBy {
            column: name.clone(),
            key: Key::Field(name),
        }
    }

    /// Partitions by `key(record)` under the directory name `<column>=<key>`: for example the
    /// hour of an event time. The sink's records must be of type `T`: a sink opened for
    /// another type fails with a user error naming both.
    pub fn column<T, F>(column: impl Into<String>, key: F) -> Self
    where
        T: 'static,
        F: Fn(&T) -> String + Send + Sync + 'static,
    {
        let f: KeyFn<T> = Arc::new(key);
        PartitionBy {
            column: column.into(),
            key: Key::Closure(Arc::new(f), std::any::type_name::<T>()),
        }
    }

    /// The column's name.
    pub fn column_name(&self) -> &str {
        &self.column
    }

    /// The partitioner for records of type `T`.
    pub(crate) fn keyer<T: Serialize + 'static>(&self) -> Result<Keyer<T>, FormatError> {
        let column = escape(&self.column);
        if self.column.is_empty() || column.len() > 100 {
            return Err(FormatError::setting(
                "partition_by column",
                format!("{:?}", self.column),
                "a name of 1 to 100 bytes",
            ));
        }
        let key = match &self.key {
            Key::Field(name) => KeyerFn::Field(name.clone()),
            Key::Closure(f, record) => match f.downcast_ref::<KeyFn<T>>() {
                Some(f) => KeyerFn::Closure(Arc::clone(f)),
                None => {
                    return Err(FormatError::PartitionValue {
                        column: self.column.clone(),
                        value: "(none)".into(),
                        reason: format!(
                        "the partition closure takes `&{record}` but the sink's records are `{}`",
                        std::any::type_name::<T>()
                    ),
                    })
                }
            },
        };
        Ok(Keyer {
            column,
            raw_column: self.column.clone(),
            key,
        })
    }
}

/// Computes the `<column>=<value>` directory of records of type `T`.
pub(crate) struct Keyer<T> {
    column: String,
    raw_column: String,
    key: KeyerFn<T>,
}

enum KeyerFn<T> {
    Field(String),
    Closure(KeyFn<T>),
}

impl<T: Serialize> Keyer<T> {
    /// The directory name of `record`'s partition.
    pub fn dir_of(&self, record: &T) -> Result<String, FormatError> {
        let value = match &self.key {
            KeyerFn::Closure(f) => Some(f(record)),
            KeyerFn::Field(name) => self.field_value(name, record)?,
        };
        let value = match value.as_deref() {
            None | Some("") => DEFAULT_PARTITION.to_string(),
            Some(v) => escape(v),
        };
        let dir = format!("{}={value}", self.column);
        if dir.len() > MAX_COMPONENT_BYTES {
            return Err(FormatError::PartitionValue {
                column: self.raw_column.clone(),
                value: format!("{:?}", truncate(&value, 40)),
                reason: format!(
                    "the directory name would be {} bytes, more than {MAX_COMPONENT_BYTES}",
                    dir.len()
                ),
            });
        }
        Ok(dir)
    }

    fn field_value(&self, name: &str, record: &T) -> Result<Option<String>, FormatError> {
        let value = serde_json::to_value(record)
            .map_err(|e| FormatError::encode("a partition value", e))?;
        let serde_json::Value::Object(mut map) = value else {
            return Err(FormatError::PartitionValue {
                column: self.raw_column.clone(),
                value: "(none)".into(),
                reason: "the records are not structs with named fields".into(),
            });
        };
        match map.remove(name) {
            None => Err(FormatError::PartitionValue {
                column: self.raw_column.clone(),
                value: "(none)".into(),
                reason: format!("the records have no field `{name}`"),
            }),
            Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                Ok(Some(v.to_string()))
            }
            Some(v) => Err(FormatError::PartitionValue {
                column: self.raw_column.clone(),
                value: truncate(&v.to_string(), 40).to_string(),
                reason: "a partition value must be a string, a number or a bool".into(),
            }),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Escapes a value for a directory name as Hive and Spark do (`%XX` for the characters that
/// are special in paths, URIs or `key=value` names).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let special = matches!(
            c,
            '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '{' | '[' | ']' | '^'
        ) || (c as u32) < 0x20
            || c as u32 == 0x7F;
        if special {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`escape`] (a `%` not followed by two hexadecimal digits is kept as it is).
pub fn unescape(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
