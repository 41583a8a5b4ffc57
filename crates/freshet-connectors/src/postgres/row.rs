//! Records as rows of text cells: a struct's fields (or a map's entries) by name, each value
//! as the text PostgreSQL reads for the column's type (`42`, `true`, `\x0a0b` for bytes, JSON
//! for sequences, maps and nested structs, NULL for `None`).
//!
//! Sending text lets the server parse each value with the column's own input function, so a
//! string field fills a `timestamptz`, `uuid` or `numeric` column, and a value the column
//! cannot hold is refused by the server, with its reason, never truncated here.

use serde::ser::{self, Impossible, Serialize};
use std::collections::HashMap;
use std::fmt::{self, Write as _};

/// The longest description of a row in an error, in characters.
const DESCRIBE_LIMIT: usize = 400;

/// The rows of one batch: column names from the first record, cells as ranges of one text
/// buffer.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    columns: Vec<String>,
    index: HashMap<String, usize>,
    text: String,
    cells: Vec<Option<(usize, usize)>>,
    rows: usize,
}

impl Rows {
    /// Empties the buffer for the next batch.
    pub fn clear(&mut self) {
        self.columns.clear();
        self.index.clear();
        self.text.clear();
        self.cells.clear();
        self.rows = 0;
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The columns, in the order of the first record's fields.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The cells of row `row`.
    pub fn row(&self, row: usize) -> impl ExactSizeIterator<Item = Option<&str>> + '_ {
        let width = self.columns.len();
        self.cells[row * width..(row + 1) * width]
            .iter()
            .map(|c| c.map(|(start, end)| &self.text[start..end]))
    }

    /// Appends `record` as a row. On error nothing is appended.
    pub fn push<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), String> {
        let (text_len, cells_len, columns_len) =
            (self.text.len(), self.cells.len(), self.columns.len());
        let first = self.rows == 0;
        let width = self.columns.len();
        if !first {
            self.cells.resize(cells_len + width, None);
        }
        let result = record.serialize(RowSerializer {
            rows: self,
            first,
            base: cells_len,
            field: 0,
        });
        match result {
            Ok(()) if first && self.columns.is_empty() => {
                Err("the record has no fields".to_string())
            }
            Ok(()) => {
                self.rows += 1;
                Ok(())
            }
            Err(e) => {
                self.text.truncate(text_len);
                self.cells.truncate(cells_len);
                if first {
                    self.columns.truncate(columns_len);
                    self.index.clear();
                }
                Err(e.0)
            }
        }
    }

    /// The index of column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Keeps the last row of every value of the columns `key` (their indexes), in their
    /// order: an upsert of the batch then touches every key once.
    pub fn keep_last_by_key(&mut self, key: &[usize]) {
        let width = self.columns.len();
        let mut last: HashMap<Vec<Option<&str>>, usize> = HashMap::with_capacity(self.rows);
        for row in 0..self.rows {
            let k: Vec<Option<&str>> = key
                .iter()
                .map(|&c| self.cells[row * width + c].map(|(s, e)| &self.text[s..e]))
                .collect();
            last.insert(k, row);
        }
        if last.len() == self.rows {
            return;
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let mut cells = Vec::with_capacity(keep.len() * width);
        for &row in &keep {
            cells.extend_from_slice(&self.cells[row * width..(row + 1) * width]);
        }
        self.cells = cells;
        self.rows = keep.len();
    }

    /// Row `row` as `{column: "value", ...}` for an error message, cut to a few hundred
    /// characters.
    pub fn describe(&self, row: usize) -> String {
        let mut out = String::from("{");
        for (i, (name, cell)) in self.columns.iter().zip(self.row(row)).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match cell {
                Some(v) => {
                    let _ = write!(out, "{name}: {v:?}");
                }
                None => {
                    let _ = write!(out, "{name}: NULL");
                }
            }
            if out.chars().count() > DESCRIBE_LIMIT {
                let cut: String = out.chars().take(DESCRIBE_LIMIT).collect();
                return format!("{cut}...}}");
            }
        }
        out.push('}');
        out
    }
}

/// Why a record or a value cannot be written as text cells.
#[derive(Debug)]
struct RowError(String);

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RowError {}

impl ser::Error for RowError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        RowError(msg.to_string())
    }
}

/// Serializes a record: a struct or a map, each field into its cell.
struct RowSerializer<'a> {
    rows: &'a mut Rows,
    /// Whether this is the batch's first record, whose fields name the columns.
    first: bool,
    /// The index of the row's first cell.
    base: usize,
    /// The index of the next field.
    field: usize,
}

impl RowSerializer<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), RowError> {
        let column = if self.first {
            if self.rows.index.contains_key(name) {
                return Err(RowError(format!("field `{name}` appears twice")));
            }
            let i = self.rows.columns.len();
            self.rows.columns.push(name.to_string());
            self.rows.index.insert(name.to_string(), i);
            self.rows.cells.push(None);
            i
        } else if self.rows.columns.get(self.field).is_some_and(|c| c == name) {
            self.field
        } else {
            self.rows.column_index(name).ok_or_else(|| {
                RowError(format!(
                    "field `{name}` is not among the fields of the batch's first record ({})",
                    self.rows.columns.join(", ")
                ))
            })?
        };
        self.field += 1;
        let start = self.rows.text.len();
        let cell = match value.serialize(CellSerializer {
            out: &mut self.rows.text,
        }) {
            Ok(true) => Some((start, self.rows.text.len())),
            Ok(false) => None,
            Err(CellError::Compound) => {
                // A sequence, map, nested struct or enum with data: its JSON text.
                self.rows.text.truncate(start);
                let json = serde_json::to_string(value)
                    .map_err(|e| RowError(format!("field `{name}`: {e}")))?;
                self.rows.text.push_str(&json);
                Some((start, self.rows.text.len()))
            }
            Err(CellError::Custom(e)) => return Err(RowError(format!("field `{name}`: {e}"))),
        };
        self.rows.cells[self.base + column] = cell;
        Ok(())
    }
}

fn not_a_record(what: &str) -> RowError {
    RowError(format!(
        "a record must serialize as a struct or a map with string keys, not {what}"
    ))
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*) => $what:literal;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), RowError> {
            Err(not_a_record($what))
        })*
    };
}

impl<'a> ser::Serializer for RowSerializer<'a> {
    type Ok = ();
    type Error = RowError;
    type SerializeSeq = Impossible<(), RowError>;
    type SerializeTuple = Impossible<(), RowError>;
    type SerializeTupleStruct = Impossible<(), RowError>;
    type SerializeTupleVariant = Impossible<(), RowError>;
    type SerializeMap = MapFields<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), RowError>;

    refuse! {
        serialize_bool(bool) => "a bool";
        serialize_i8(i8) => "a number";
        serialize_i16(i16) => "a number";
        serialize_i32(i32) => "a number";
        serialize_i64(i64) => "a number";
        serialize_u8(u8) => "a number";
        serialize_u16(u16) => "a number";
        serialize_u32(u32) => "a number";
        serialize_u64(u64) => "a number";
        serialize_f32(f32) => "a number";
        serialize_f64(f64) => "a number";
        serialize_char(char) => "a character";
        serialize_str(&str) => "a string";
        serialize_bytes(&[u8]) => "bytes";
        serialize_unit() => "a unit";
        serialize_unit_struct(&'static str) => "a unit struct";
        serialize_unit_variant(&'static str, u32, &'static str) => "an enum";
    }

    fn serialize_none(self) -> Result<(), RowError> {
        Err(not_a_record("None"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), RowError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), RowError> {
        Err(not_a_record("an enum"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowError> {
        Err(not_a_record("a sequence"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowError> {
        Err(not_a_record(
            "a tuple (use a struct: its field names are the columns)",
        ))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, RowError> {
        Err(not_a_record("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, RowError> {
        Err(not_a_record("an enum"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<MapFields<'a>, RowError> {
        Ok(MapFields {
            row: self,
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, RowError> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, RowError> {
        Err(not_a_record("an enum"))
    }
}

impl ser::SerializeStruct for RowSerializer<'_> {
    type Ok = ();
    type Error = RowError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), RowError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), RowError> {
        Ok(())
    }
}

/// A map record's entries.
struct MapFields<'a> {
    row: RowSerializer<'a>,
    key: Option<String>,
}

impl ser::SerializeMap for MapFields<'_> {
    type Ok = ();
    type Error = RowError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), RowError> {
        let mut name = String::new();
        match key.serialize(CellSerializer { out: &mut name }) {
            Ok(true) => {
                self.key = Some(name);
                Ok(())
            }
            _ => Err(RowError("a map record's keys must be strings".into())),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RowError> {
        let Some(name) = self.key.take() else {
            return Err(RowError("a map value came without its key".into()));
        };
        self.row.field(&name, value)
    }

    fn end(self) -> Result<(), RowError> {
        Ok(())
    }
}

/// Why a value is not written as plain text.
#[derive(Debug)]
enum CellError {
    /// It is a compound value: written as JSON instead.
    Compound,
    /// It cannot be serialized at all.
    Custom(String),
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellError::Compound => f.write_str("a compound value"),
            CellError::Custom(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CellError {}

impl ser::Error for CellError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        CellError::Custom(msg.to_string())
    }
}

/// Writes one scalar value as text; `Ok(false)` is NULL.
struct CellSerializer<'a> {
    out: &'a mut String,
}

macro_rules! display {
    ($($method:ident($ty:ty);)*) => {
        $(fn $method(self, v: $ty) -> Result<bool, CellError> {
            let _ = write!(self.out, "{v}");
            Ok(true)
        })*
    };
}

impl ser::Serializer for CellSerializer<'_> {
    type Ok = bool;
    type Error = CellError;
    type SerializeSeq = Impossible<bool, CellError>;
    type SerializeTuple = Impossible<bool, CellError>;
    type SerializeTupleStruct = Impossible<bool, CellError>;
    type SerializeTupleVariant = Impossible<bool, CellError>;
    type SerializeMap = Impossible<bool, CellError>;
    type SerializeStruct = Impossible<bool, CellError>;
    type SerializeStructVariant = Impossible<bool, CellError>;

    display! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_char(char);
        serialize_str(&str);
    }

    fn serialize_f32(self, v: f32) -> Result<bool, CellError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<bool, CellError> {
        if v.is_nan() {
            self.out.push_str("NaN");
        } else if v.is_infinite() {
            self.out
                .push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            let _ = write!(self.out, "{v}");
        }
        Ok(true)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<bool, CellError> {
        self.out.push_str("\\x");
        for b in v {
            let _ = write!(self.out, "{b:02x}");
        }
        Ok(true)
    }

    fn serialize_none(self) -> Result<bool, CellError> {
        Ok(false)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<bool, CellError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<bool, CellError> {
        Ok(false)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, CellError> {
        Ok(false)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, CellError> {
        self.out.push_str(variant);
        Ok(true)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, CellError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, CellError> {
        Err(CellError::Compound)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CellError> {
        Err(CellError::Compound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Event {
        id: i64,
        page: String,
        score: Option<f64>,
        ok: bool,
        #[serde(with = "bytes")]
        raw: Vec<u8>,
        tags: Vec<&'static str>,
        level: Level,
    }

    #[derive(Serialize)]
    enum Level {
        Warn,
    }

    mod bytes {
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    fn cells(rows: &Rows, row: usize) -> Vec<Option<String>> {
        rows.row(row).map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn fields_become_text_cells() {
        let mut rows = Rows::default();
        rows.push(&Event {
            id: -3,
            page: "/a\tb".into(),
            score: None,
            ok: true,
            raw: vec![0, 255],
            tags: vec!["x", "y"],
            level: Level::Warn,
        })
        .unwrap();
        rows.push(&Event {
            id: 7,
            page: String::new(),
            score: Some(f64::INFINITY),
            ok: false,
            raw: vec![],
            tags: vec![],
            level: Level::Warn,
        })
        .unwrap();
        assert_eq!(
            rows.columns(),
            ["id", "page", "score", "ok", "raw", "tags", "level"]
        );
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            cells(&rows, 0),
            vec![
                s("-3"),
                s("/a\tb"),
                None,
                s("true"),
                s("\\x00ff"),
                s(r#"["x","y"]"#),
                s("Warn")
            ]
        );
        assert_eq!(
            cells(&rows, 1),
            vec![
                s("7"),
                s(""),
                s("Infinity"),
                s("false"),
                s("\\x"),
                s("[]"),
                s("Warn")
            ]
        );
        assert!(rows
            .describe(0)
            .starts_with("{id: \"-3\", page: \"/a\\tb\", score: NULL"));
    }

    #[test]
    fn map_records_fill_columns_by_name_and_missing_ones_are_null() {
        let mut rows = Rows::default();
        let mut a = BTreeMap::new();
        a.insert("k", "1");
        a.insert("v", "x");
        rows.push(&a).unwrap();
        let mut b = BTreeMap::new();
        b.insert("v", "y");
        rows.push(&b).unwrap();
        assert_eq!(cells(&rows, 1), vec![None, Some("y".to_string())]);
        let mut c = BTreeMap::new();
        c.insert("other", "z");
        assert!(rows.push(&c).unwrap_err().contains("`other`"));
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn tuples_and_scalars_are_refused() {
        let mut rows = Rows::default();
        assert!(rows.push(&("a", 1)).unwrap_err().contains("tuple"));
        assert!(rows.push(&5u64).is_err());
        assert!(rows.is_empty());
        assert!(rows.columns().is_empty());
    }

    #[test]
    fn the_last_row_of_each_key_is_kept() {
        #[derive(Serialize)]
        struct Count {
            page: &'static str,
            n: u64,
        }
        let mut rows = Rows::default();
        for (page, n) in [("/a", 1), ("/b", 1), ("/a", 2), ("/c", 5), ("/b", 3)] {
            rows.push(&Count { page, n }).unwrap();
        }
        rows.keep_last_by_key(&[0]);
        let kept: Vec<Vec<Option<String>>> = (0..rows.len()).map(|r| cells(&rows, r)).collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            kept,
            vec![
                vec![s("/a"), s("2")],
                vec![s("/c"), s("5")],
                vec![s("/b"), s("3")]
            ]
        );
    }
}
