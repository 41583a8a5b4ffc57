//! [`Rows`]: a chunk of rows as one record of a Freshet stream, so SQL results move between
//! operators (and processes) as Arrow record batches rather than row by row.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Rows of one schema, as an Arrow [`RecordBatch`]. A [`SqlStream`](crate::SqlStream) is a
/// stream of these; they cross processes in the Arrow IPC stream format.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows(pub RecordBatch);

impl Rows {
    /// The record batch.
    pub fn batch(&self) -> &RecordBatch {
        &self.0
    }

    /// How many rows.
    pub fn num_rows(&self) -> usize {
        self.0.num_rows()
    }
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        let mut writer =
            StreamWriter::try_new(&mut bytes, &self.0.schema()).map_err(S::Error::custom)?;
        writer.write(&self.0).map_err(S::Error::custom)?;
        writer.finish().map_err(S::Error::custom)?;
        drop(writer);
        serializer.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(deserializer)?;
        let mut reader = StreamReader::try_new(bytes.as_slice(), None).map_err(D::Error::custom)?;
        match reader.next() {
            Some(batch) => Ok(Rows(batch.map_err(D::Error::custom)?)),
            None => Err(D::Error::custom(
                "an Arrow IPC stream without a record batch",
            )),
        }
    }
}

/// Reads bytes written by `serialize_bytes`, whether the format gives them as bytes or as a
/// sequence.
fn serde_bytes_vec<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct Bytes;
    impl<'de> serde::de::Visitor<'de> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("the bytes of an Arrow IPC stream")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_byte_buf(Bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn rows_round_trip_through_serde() {
        let batch = RecordBatch::try_from_iter([
            ("n", Arc::new(Int64Array::from(vec![1, 2])) as _),
            ("s", Arc::new(StringArray::from(vec![Some("a"), None])) as _),
        ])
        .unwrap();
        let rows = Rows(batch);
        let json = serde_json::to_vec(&rows).unwrap();
        let back: Rows = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, rows);
    }
}
