//! Stream entries and the decoders that turn them into a stream's items.

use super::id::EntryId;
use freshet::Data;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// An entry of a Redis stream: its id and its field/value pairs, in the order they were added.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RedisEntry {
    /// The entry id, `<milliseconds>-<sequence>`.
    pub id: String,
    /// The fields and their values, in order (field names read as UTF-8, invalid bytes
    /// replaced; values as they are).
    pub fields: Vec<(String, Vec<u8>)>,
}

impl RedisEntry {
    /// The value of the first field named `name`, if the entry has one.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of the field `name` as UTF-8 text, if the entry has it and it is valid UTF-8.
    pub fn field_str(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The parsed entry id (`None` only for an entry built by hand with a malformed id).
    pub fn entry_id(&self) -> Option<EntryId> {
        self.id.parse().ok()
    }

    /// The time part of the id as an event time for
    /// [`with_event_time`](freshet::DStream::with_event_time): milliseconds since the Unix
    /// epoch when Redis generated the id (`XADD key * ...`), 0 for a malformed id.
    pub fn event_time(&self) -> u64 {
        self.entry_id().map_or(0, |id| id.ms)
    }
}

/// Why an entry could not be decoded, and the bytes a dead-letter file keeps of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadEntry {
    /// What is wrong (the reader adds the stream key and the entry id).
    pub reason: String,
    /// The entry's bytes worth keeping: the offending field's value, or empty.
    pub raw: Vec<u8>,
}

impl BadEntry {
    /// A bad entry because of `reason`, keeping `raw`.
    pub fn new(reason: impl Into<String>, raw: impl Into<Vec<u8>>) -> Self {
        BadEntry {
            reason: reason.into(),
            raw: raw.into(),
        }
    }
}

/// Turns a [`RedisEntry`] into a stream item. An entry that does not decode is a bad record:
/// skipped and counted, dead-lettered or failing the job, as the stream's
/// [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
pub trait RedisDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one entry, or says why it cannot.
    fn decode(&self, entry: RedisEntry) -> Result<Self::Item, BadEntry>;
}

/// The entries as they are: [`RedisEntry`] items.
#[derive(Clone, Copy, Debug, Default)]
pub struct Entries;

impl RedisDecoder for Entries {
    type Item = RedisEntry;

    fn decode(&self, entry: RedisEntry) -> Result<RedisEntry, BadEntry> {
        Ok(entry)
    }
}

/// One field's value as UTF-8 text. An entry without the field, or whose value is not valid
/// UTF-8, is a bad record.
#[derive(Clone, Debug)]
pub struct FieldUtf8 {
    field: String,
}

impl FieldUtf8 {
    /// The value of the field `field`.
    pub fn new(field: impl Into<String>) -> Self {
        FieldUtf8 {
            field: field.into(),
        }
    }
}

impl RedisDecoder for FieldUtf8 {
    type Item = String;

    fn decode(&self, entry: RedisEntry) -> Result<String, BadEntry> {
        let value = take_field(entry, &self.field)?;
        String::from_utf8(value).map_err(|e| {
            let reason = format!(
                "field `{}` is not valid UTF-8: {}",
                self.field,
                e.utf8_error()
            );
            BadEntry::new(reason, e.into_bytes())
        })
    }
}

/// One field's value as a JSON document deserialized into `T`. An entry without the field, or
/// whose value is not such a document, is a bad record.
pub struct FieldJson<T> {
    field: String,
    _items: PhantomData<fn() -> T>,
}

impl<T> FieldJson<T> {
    /// The value of the field `field`, decoded into `T`.
    pub fn new(field: impl Into<String>) -> Self {
        FieldJson {
            field: field.into(),
            _items: PhantomData,
        }
    }
}

impl<T> Clone for FieldJson<T> {
    fn clone(&self) -> Self {
        Self::new(self.field.clone())
    }
}

impl<T> std::fmt::Debug for FieldJson<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FieldJson<{}>({:?})",
            std::any::type_name::<T>(),
            self.field
        )
    }
}

impl<T: Data + DeserializeOwned> RedisDecoder for FieldJson<T> {
    type Item = T;

    fn decode(&self, entry: RedisEntry) -> Result<T, BadEntry> {
        let value = take_field(entry, &self.field)?;
        serde_json::from_slice(&value).map_err(|e| {
            let reason = format!("field `{}` is not the JSON expected: {e}", self.field);
            BadEntry::new(reason, value)
        })
    }
}

/// The value of the first field `name`, moved out of the entry.
fn take_field(entry: RedisEntry, name: &str) -> Result<Vec<u8>, BadEntry> {
    entry
        .fields
        .into_iter()
        .find(|(f, _)| f == name)
        .map(|(_, v)| v)
        .ok_or_else(|| BadEntry::new(format!("the entry has no field `{name}`"), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, &[u8])]) -> RedisEntry {
        RedisEntry {
            id: "1700000000000-3".into(),
            fields: fields
                .iter()
                .map(|(f, v)| (f.to_string(), v.to_vec()))
                .collect(),
        }
    }

    #[test]
    fn fields_decode_as_text_or_json_and_missing_or_bad_ones_are_bad_entries() {
        let e = entry(&[("line", b"hello"), ("doc", br#"{"n":3}"#)]);
        assert_eq!(e.field_str("line"), Some("hello"));
        assert_eq!(e.event_time(), 1_700_000_000_000);
        assert_eq!(FieldUtf8::new("line").decode(e.clone()).unwrap(), "hello");
        let v: serde_json::Value = FieldJson::new("doc").decode(e.clone()).unwrap();
        assert_eq!(v["n"], 3);

        let missing = FieldUtf8::new("other").decode(e.clone()).unwrap_err();
        assert!(missing.reason.contains("no field `other`"), "{missing:?}");
        let bad = FieldJson::<serde_json::Value>::new("line")
            .decode(e)
            .unwrap_err();
        assert!(bad.reason.contains("JSON"), "{bad:?}");
        assert_eq!(bad.raw, b"hello");
        let invalid = FieldUtf8::new("x")
            .decode(entry(&[("x", &[0xff, 0xfe])]))
            .unwrap_err();
        assert_eq!(invalid.raw, vec![0xff, 0xfe]);
    }
}
