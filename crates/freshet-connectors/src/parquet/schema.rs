//! The Arrow schema of a serde record type, traced from the type with serde_arrow.
//!
//! | Rust (serde) | Arrow | Parquet (physical / logical) |
//! |---|---|---|
//! | `bool` | `Boolean` | `BOOLEAN` |
//! | `i8`, `i16`, `i32`, `i64` | `Int8` .. `Int64` | `INT32` / `INT64` (signed, with width) |
//! | `u8`, `u16`, `u32`, `u64` | `UInt8` .. `UInt64` | `INT32` / `INT64` (unsigned) |
//! | `f32`, `f64` | `Float32`, `Float64` | `FLOAT`, `DOUBLE` |
//! | `String`, `&str`, `char` | `Utf8` | `BYTE_ARRAY` / `STRING` |
//! | `Vec<u8>` with `serde_bytes` | `Binary` | `BYTE_ARRAY` |
//! | `Option<T>` | `T`, nullable | optional |
//! | `Vec<T>` | `List<T>` | `LIST` |
//! | nested struct | `Struct` | group |
//! | `HashMap<K, V>`, `BTreeMap` | `Map<K, V>` | `MAP` |
//! | enum without data | `Dictionary<UInt32, Utf8>` | `STRING`, dictionary-encoded |
//! | `i64` named in [`timestamp_millis`](super::ParquetSink::timestamp_millis) | `Timestamp(ms, "UTC")` | `INT64` / `TIMESTAMP(MILLIS, UTC)` |
//!
//! Strings are `Utf8` and lists `List` (not the `Large` variants serde_arrow picks by
//! default), so other readers see the plain `string` and `list` types. Fields are
//! non-nullable unless they are `Option`s. The records must be structs with named fields.

use crate::files::FormatError;
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use serde::de::DeserializeOwned;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use std::sync::Arc;

/// How a record type maps to an Arrow schema.
#[derive(Clone, Debug, Default)]
pub(crate) struct SchemaSettings {
    /// Top-level `i64` fields that hold timestamps, with their unit.
    pub timestamps: Vec<(String, TimeUnit)>,
    /// A schema given by the user instead of tracing.
    pub fields: Option<Vec<FieldRef>>,
}

fn tracing_options() -> TracingOptions {
    TracingOptions::default()
        .strings_as_large_utf8(false)
        .sequence_as_large_list(false)
        .bytes_as_large_binary(false)
        .enums_without_data_as_strings(true)
        .allow_null_fields(true)
}

/// The Arrow schema Freshet writes records of type `T` with (the default mapping, above).
pub fn record_schema<T: DeserializeOwned>() -> Result<SchemaRef, FormatError> {
    Ok(Arc::new(Schema::new(fields_of::<T>(
        &SchemaSettings::default(),
    )?)))
}

/// The fields of `T` under `settings`.
pub(crate) fn fields_of<T: DeserializeOwned>(
    settings: &SchemaSettings,
) -> Result<Vec<FieldRef>, FormatError> {
    let record = std::any::type_name::<T>();
    let schema_error = |message: String| FormatError::Schema { record, message };
    let mut fields = match &settings.fields {
        Some(f) => f.clone(),
        None => Vec::<FieldRef>::from_type::<T>(tracing_options()).map_err(|e| {
            schema_error(format!(
                "{e} (give the schema with ParquetSink::fields if serde_arrow cannot trace it)"
            ))
        })?,
    };
    for (name, unit) in &settings.timestamps {
        let Some(i) = fields.iter().position(|f| f.name() == name) else {
            return Err(schema_error(format!(
                "a timestamp field `{name}` is set but the records have no such top-level field"
            )));
        };
        let f = &fields[i];
        if !matches!(f.data_type(), DataType::Int64 | DataType::Timestamp(..)) {
            return Err(schema_error(format!(
                "the timestamp field `{name}` must be an i64 (since the Unix epoch), not {}",
                f.data_type()
            )));
        }
        let ts = Field::new(
            name.as_str(),
            DataType::Timestamp(*unit, Some("UTC".into())),
            f.is_nullable(),
        )
        .with_metadata(f.metadata().clone());
        fields[i] = Arc::new(ts);
    }
    Ok(fields)
}
