//! How a [`KafkaSink`](super::KafkaSink) turns a stream's items into Kafka records.

use freshet::SinkError;
use serde::Serialize;
use std::marker::PhantomData;
use std::sync::Arc;

/// The record an encoder fills for one item: a key (or none), a value, and optionally a
/// partition and a timestamp. The sink reuses one message for every item of a batch, so
/// encoding allocates nothing once the buffers have grown.
#[derive(Debug, Default)]
pub struct KafkaMessage {
    key: Vec<u8>,
    keyed: bool,
    value: Vec<u8>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

impl KafkaMessage {
    /// The key's buffer (empty); calling it gives the record a key.
    pub fn key(&mut self) -> &mut Vec<u8> {
        self.keyed = true;
        &mut self.key
    }

    /// The value's buffer (empty).
    pub fn value(&mut self) -> &mut Vec<u8> {
        &mut self.value
    }

    /// Sends the record to this partition of the topic, instead of the one the producer's
    /// partitioner picks (by key hash; spread when there is no key).
    pub fn set_partition(&mut self, partition: i32) {
        self.partition = Some(partition);
    }

    /// Gives the record this timestamp (milliseconds since the Unix epoch) instead of the time
    /// of the batch that wrote it.
    pub fn set_timestamp(&mut self, millis: i64) {
        self.timestamp = Some(millis);
    }

    pub(crate) fn clear(&mut self) {
        self.key.clear();
        self.keyed = false;
        self.value.clear();
        self.partition = None;
        self.timestamp = None;
    }

    pub(crate) fn key_bytes(&self) -> Option<&[u8]> {
        self.keyed.then_some(self.key.as_slice())
    }

    pub(crate) fn value_bytes(&self) -> &[u8] {
        &self.value
    }

    pub(crate) fn partition_or(&self) -> Option<i32> {
        self.partition
    }

    pub(crate) fn timestamp_or(&self, batch_millis: i64) -> i64 {
        self.timestamp.unwrap_or(batch_millis)
    }
}

/// Turns items of type `T` into Kafka records.
pub trait KafkaEncoder<T>: Send + Sync + 'static {
    /// Fills `message` (cleared) for `item`. An error fails the batch (it is the user's: an
    /// item the sink cannot write).
    fn encode(&self, item: &T, message: &mut KafkaMessage) -> Result<(), SinkError>;
}

/// A key or a value written as bytes: strings as UTF-8, byte vectors as they are, numbers as
/// their decimal text (what `kafka-console-consumer` shows and other tools parse).
pub trait KafkaBytes {
    /// Appends the bytes of `self` to `out`.
    fn write_to(&self, out: &mut Vec<u8>);
}

impl KafkaBytes for String {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl KafkaBytes for str {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl KafkaBytes for Arc<str> {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl KafkaBytes for Vec<u8> {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl KafkaBytes for &'static str {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

macro_rules! decimal_bytes {
    ($($t:ty),*) => {$(
        impl KafkaBytes for $t {
            fn write_to(&self, out: &mut Vec<u8>) {
                use std::io::Write;
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
decimal_bytes!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

/// Items `(key, value)`: the key (if `Some`) and the value as [`KafkaBytes`]. The encoder of
/// [`KafkaSink::new`](super::KafkaSink::new).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyValue;

impl<K, V> KafkaEncoder<(Option<K>, V)> for KeyValue
where
    K: KafkaBytes + 'static,
    V: KafkaBytes + 'static,
{
    fn encode(&self, item: &(Option<K>, V), message: &mut KafkaMessage) -> Result<(), SinkError> {
        if let Some(k) = &item.0 {
            k.write_to(message.key());
        }
        item.1.write_to(message.value());
        Ok(())
    }
}

/// Items written as the value alone, without a key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Values;

impl<V: KafkaBytes + 'static> KafkaEncoder<V> for Values {
    fn encode(&self, item: &V, message: &mut KafkaMessage) -> Result<(), SinkError> {
        item.write_to(message.value());
        Ok(())
    }
}

/// Items written as JSON values, without a key.
pub struct JsonValues<T>(PhantomData<fn(&T)>);

impl<T> JsonValues<T> {
    /// The encoder.
    pub fn new() -> Self {
        JsonValues(PhantomData)
    }
}

impl<T> Default for JsonValues<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Serialize + 'static> KafkaEncoder<T> for JsonValues<T> {
    fn encode(&self, item: &T, message: &mut KafkaMessage) -> Result<(), SinkError> {
        serde_json::to_writer(message.value(), item).map_err(|e| {
            SinkError::user(format!("kafka: an item cannot be written as JSON: {e}")).with_cause(e)
        })
    }
}

/// An encoder from a closure.
pub struct EncodeWith<F>(pub F);

impl<T, F> KafkaEncoder<T> for EncodeWith<F>
where
    F: Fn(&T, &mut KafkaMessage) -> Result<(), SinkError> + Send + Sync + 'static,
{
    fn encode(&self, item: &T, message: &mut KafkaMessage) -> Result<(), SinkError> {
        (self.0)(item, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_numbers_and_json_are_encoded_into_reused_buffers() {
        let mut m = KafkaMessage::default();
        KeyValue
            .encode(&(Some("w".to_string()), 42u64), &mut m)
            .unwrap();
        assert_eq!(m.key_bytes(), Some(&b"w"[..]));
        assert_eq!(m.value_bytes(), b"42");
        m.clear();
        KeyValue
            .encode(&(None::<String>, "v".to_string()), &mut m)
            .unwrap();
        assert_eq!(m.key_bytes(), None);
        assert_eq!(m.value_bytes(), b"v");
        m.clear();
        JsonValues::new().encode(&("a", 1), &mut m).unwrap();
        assert_eq!(m.value_bytes(), br#"["a",1]"#);
        assert_eq!(m.timestamp_or(7), 7);
        m.set_timestamp(9);
        assert_eq!(m.timestamp_or(7), 9);
    }
}
