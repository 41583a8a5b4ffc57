//! The columns of a record type, read from its `Deserialize` implementation, for the table
//! the sink creates when asked.
//!
//! The record type is walked once with a deserializer that answers every request with a
//! placeholder value and notes what was asked for: a struct's fields become the columns, and
//! each field's requested type its SQL type (`i64` → `bigint`, `String` → `text`,
//! `Option<T>` → nullable `T`, a sequence, map or nested struct → `jsonb`).

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use std::fmt;

/// A column of a table to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column's name: the serialized name of the field.
    pub name: String,
    /// Its SQL type.
    pub sql_type: String,
    /// Whether it may be NULL (an `Option` field).
    pub nullable: bool,
}

/// The columns of record type `T`, or why they cannot be read from it (it is not a struct,
/// or its `Deserialize` implementation refuses placeholder values).
pub fn columns_of<T: DeserializeOwned>() -> Result<Vec<ColumnDef>, String> {
    let mut columns = Vec::new();
    T::deserialize(Record {
        columns: &mut columns,
    })
    .map_err(|e| e.0)?;
    if columns.is_empty() {
        return Err("the record type has no fields".into());
    }
    Ok(columns)
}

/// Why tracing failed.
#[derive(Debug)]
struct TraceError(String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TraceError {}

impl de::Error for TraceError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        TraceError(msg.to_string())
    }
}

fn not_a_struct(what: &str) -> TraceError {
    TraceError(format!(
        "the record type is {what}, not a struct with named fields (a struct with \
         #[serde(flatten)] cannot be read either): create the table yourself"
    ))
}

/// The record itself: a struct (possibly in a newtype).
struct Record<'a> {
    columns: &'a mut Vec<ColumnDef>,
}

impl<'de> de::Deserializer<'de> for Record<'_> {
    type Error = TraceError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, TraceError> {
        Err(not_a_struct("self-describing"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_map(Fields {
            fields,
            next: 0,
            columns: Some(self.columns),
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, TraceError> {
        Err(not_a_struct("a map"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

/// A struct's fields, each traced (into `columns`, or silently for a nested struct).
struct Fields<'a> {
    fields: &'static [&'static str],
    next: usize,
    columns: Option<&'a mut Vec<ColumnDef>>,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = TraceError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TraceError> {
        let Some(name) = self.fields.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize((*name).into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TraceError> {
        let name = self.fields.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        let mut column = ColumnDef {
            name: name.to_string(),
            sql_type: "jsonb".into(),
            nullable: false,
        };
        let value = seed.deserialize(Field {
            column: &mut column,
        })?;
        if let Some(columns) = self.columns.as_mut() {
            columns.push(column);
        }
        Ok(value)
    }
}

/// One field's value: notes its type and answers with a placeholder.
struct Field<'a> {
    column: &'a mut ColumnDef,
}

impl Field<'_> {
    fn set(&mut self, sql_type: &str) {
        self.column.sql_type = sql_type.to_string();
    }
}

/// A placeholder field whose type is not kept (inside a `jsonb` value).
fn silent<'de, S: DeserializeSeed<'de>>(seed: S) -> Result<S::Value, TraceError> {
    let mut scratch = ColumnDef {
        name: String::new(),
        sql_type: String::new(),
        nullable: false,
    };
    seed.deserialize(Field {
        column: &mut scratch,
    })
}

macro_rules! traced {
    ($($method:ident => $sql:literal, $visit:ident($($value:expr)?);)*) => {
        $(fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, TraceError> {
            self.set($sql);
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Field<'_> {
    type Error = TraceError;

    traced! {
        deserialize_bool => "boolean", visit_bool(false);
        deserialize_i8 => "smallint", visit_i8(1);
        deserialize_i16 => "smallint", visit_i16(1);
        deserialize_i32 => "integer", visit_i32(1);
        deserialize_i64 => "bigint", visit_i64(1);
        deserialize_i128 => "numeric", visit_i128(1);
        deserialize_u8 => "smallint", visit_u8(1);
        deserialize_u16 => "integer", visit_u16(1);
        deserialize_u32 => "bigint", visit_u32(1);
        deserialize_u64 => "bigint", visit_u64(1);
        deserialize_u128 => "numeric", visit_u128(1);
        deserialize_f32 => "real", visit_f32(0.0);
        deserialize_f64 => "double precision", visit_f64(0.0);
        deserialize_char => "text", visit_char('a');
        deserialize_str => "text", visit_str("");
        deserialize_string => "text", visit_str("");
        deserialize_identifier => "text", visit_str("");
        deserialize_bytes => "bytea", visit_bytes(&[]);
        deserialize_byte_buf => "bytea", visit_bytes(&[]);
        deserialize_unit => "jsonb", visit_unit();
        deserialize_any => "jsonb", visit_unit();
        deserialize_ignored_any => "jsonb", visit_unit();
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        self.column.nullable = true;
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.set("jsonb");
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, TraceError> {
        self.set("jsonb");
        visitor.visit_seq(Placeholders { left: 0 })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        mut self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.set("jsonb");
        visitor.visit_seq(Placeholders { left: len })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, TraceError> {
        self.set("jsonb");
        visitor.visit_map(Fields {
            fields: &[],
            next: 0,
            columns: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.set("jsonb");
        visitor.visit_map(Fields {
            fields,
            next: 0,
            columns: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        // A unit variant is written as its name; one with data as JSON text.
        self.set("text");
        visitor.visit_enum(FirstVariant)
    }
}

/// `left` placeholder elements of a tuple (none for a sequence).
struct Placeholders {
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Placeholders {
    type Error = TraceError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, TraceError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        silent(seed).map(Some)
    }
}

/// An enum's first variant, with placeholder data.
struct FirstVariant;

impl<'de> de::EnumAccess<'de> for FirstVariant {
    type Error = TraceError;
    type Variant = FirstVariant;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, FirstVariant), TraceError> {
        let index: de::value::U32Deserializer<TraceError> = 0u32.into_deserializer();
        Ok((seed.deserialize(index)?, FirstVariant))
    }
}

impl<'de> de::VariantAccess<'de> for FirstVariant {
    type Error = TraceError;

    fn unit_variant(self) -> Result<(), TraceError> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, TraceError> {
        silent(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_seq(Placeholders { left: len })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_map(Fields {
            fields,
            next: 0,
            columns: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Level {
        Info,
        Warn(String),
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        a: u8,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Event {
        id: i64,
        #[serde(rename = "userName")]
        user: String,
        score: Option<f64>,
        small: i16,
        count: u64,
        ok: bool,
        raw: serde_bytes_like::Bytes,
        tags: Vec<String>,
        pair: (u32, String),
        attrs: BTreeMap<String, i32>,
        inner: Inner,
        level: Level,
        nested: Option<Vec<u8>>,
        any: serde_json::Value,
        #[serde(skip)]
        skipped: u8,
    }

    /// A byte buffer deserialized through `deserialize_byte_buf`.
    mod serde_bytes_like {
        use serde::de::{Deserializer, Visitor};
        pub struct Bytes(#[allow(dead_code)] pub Vec<u8>);
        impl<'de> serde::Deserialize<'de> for Bytes {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = Bytes;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                        Ok(Bytes(v.to_vec()))
                    }
                }
                d.deserialize_byte_buf(V)
            }
        }
    }

    #[test]
    fn a_structs_fields_become_typed_columns() {
        let columns = columns_of::<Event>().unwrap();
        let got: Vec<(&str, &str, bool)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.sql_type.as_str(), c.nullable))
            .collect();
        assert_eq!(
            got,
            vec![
                ("id", "bigint", false),
                ("userName", "text", false),
                ("score", "double precision", true),
                ("small", "smallint", false),
                ("count", "bigint", false),
                ("ok", "boolean", false),
                ("raw", "bytea", false),
                ("tags", "jsonb", false),
                ("pair", "jsonb", false),
                ("attrs", "jsonb", false),
                ("inner", "jsonb", false),
                ("level", "text", false),
                ("nested", "jsonb", true),
                ("any", "jsonb", false),
            ]
        );
    }

    #[test]
    fn records_that_are_not_structs_are_refused() {
        assert!(columns_of::<(String, u64)>().is_err());
        assert!(columns_of::<u64>().is_err());
        assert!(columns_of::<BTreeMap<String, u64>>().is_err());
    }
}
