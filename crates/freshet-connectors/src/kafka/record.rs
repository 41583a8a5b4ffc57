//! Kafka records and the decoders that turn them into a stream's items.

use crate::payload::PayloadDecoder;
pub use crate::payload::{Bytes, Json, Utf8};
use freshet::Data;
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};
use serde::{Deserialize, Serialize};

/// One header of a Kafka record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KafkaHeader {
    /// The header's name.
    pub key: String,
    /// Its value (`None` for a null value).
    pub value: Option<Vec<u8>>,
}

/// A record read from a Kafka partition, as it is in the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset in the partition.
    pub offset: i64,
    /// The record's timestamp, in milliseconds since the Unix epoch: its creation time, or the
    /// time the broker appended it when the topic is configured so (`None` when the producer
    /// gave none, as with very old clients).
    pub timestamp: Option<i64>,
    /// The key (`None` when the record has none).
    pub key: Option<Vec<u8>>,
    /// The value (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// The headers, in order.
    pub headers: Vec<KafkaHeader>,
}

impl KafkaRecord {
    /// Copies a message out of librdkafka's buffers.
    pub(crate) fn from_message(m: &BorrowedMessage<'_>) -> Self {
        let timestamp = match m.timestamp() {
            Timestamp::NotAvailable => None,
            Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => Some(t),
        };
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| KafkaHeader {
                        key: h.key.to_string(),
                        value: h.value.map(<[u8]>::to_vec),
                    })
                    .collect()
            })
            .unwrap_or_default();
        KafkaRecord {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp,
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
        }
    }

    /// The record's timestamp as an event time for
    /// [`with_event_time`](freshet::DStream::with_event_time): milliseconds since the Unix
    /// epoch, 0 when the record has no timestamp (or a negative one).
    ///
    /// ```no_run
    /// use freshet::{StreamingConfig, StreamingContext, WatermarkOptions};
    /// use freshet_connectors::kafka::{KafkaRecord, KafkaSource};
    /// use std::time::Duration;
    ///
    /// let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_secs(1)))?;
    /// let clicks = ctx
    ///     .direct_stream(KafkaSource::direct("localhost:9092", ["clicks"]))
    ///     .with_event_time(KafkaRecord::event_time, WatermarkOptions::new(Duration::from_secs(5)));
    /// # Ok::<(), freshet::Error>(())
    /// ```
    pub fn event_time(&self) -> u64 {
        self.timestamp.map_or(0, |t| u64::try_from(t).unwrap_or(0))
    }

    /// The key as UTF-8 text, if it has a key and it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The value as UTF-8 text, if it has a value and it is valid UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        self.value
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first header named `key`, if any.
    pub fn header(&self, key: &str) -> Option<&KafkaHeader> {
        self.headers.iter().find(|h| h.key == key)
    }
}

/// Turns a [`KafkaRecord`] into a stream item. A record that does not decode is a bad record:
/// skipped and counted, or failing the job, as the stream's
/// [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
pub trait KafkaDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one record, or says why it cannot (the reader adds the topic, partition and
    /// offset).
    fn decode(&self, record: KafkaRecord) -> Result<Self::Item, String>;
}

/// The records as they are: [`KafkaRecord`] items.
#[derive(Clone, Copy, Debug, Default)]
pub struct Records;

impl KafkaDecoder for Records {
    type Item = KafkaRecord;

    fn decode(&self, record: KafkaRecord) -> Result<KafkaRecord, String> {
        Ok(record)
    }
}

/// Every [`PayloadDecoder`] decodes a record's value: [`Utf8`], [`Bytes`] and [`Json`]. A record
/// without a value (a tombstone) is a bad record.
impl<P: PayloadDecoder> KafkaDecoder for P {
    type Item = P::Item;

    fn decode(&self, record: KafkaRecord) -> Result<P::Item, String> {
        let value = record.value.ok_or("the record has no value")?;
        self.decode_payload(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: Option<&[u8]>) -> KafkaRecord {
        KafkaRecord {
            topic: "t".into(),
            partition: 0,
            offset: 7,
            timestamp: Some(1_700_000_000_000),
            key: None,
            value: value.map(<[u8]>::to_vec),
            headers: vec![],
        }
    }

    #[test]
    fn decoders_take_what_decodes_and_say_why_the_rest_does_not() {
        assert_eq!(Utf8.decode(record(Some(b"hi"))).unwrap(), "hi");
        assert!(Utf8
            .decode(record(Some(b"\xff")))
            .unwrap_err()
            .contains("UTF-8"));
        assert!(Utf8.decode(record(None)).unwrap_err().contains("no value"));
        assert_eq!(Bytes.decode(record(Some(b"\xff"))).unwrap(), vec![0xff]);
        let json: Json<(String, u32)> = Json::new();
        assert_eq!(
            json.decode(record(Some(b"[\"a\",1]"))).unwrap(),
            ("a".to_string(), 1)
        );
        assert!(json
            .decode(record(Some(b"{")))
            .unwrap_err()
            .contains("JSON"));
        assert_eq!(record(None).event_time(), 1_700_000_000_000);
        let mut r = record(None);
        r.timestamp = None;
        assert_eq!(r.event_time(), 0);
    }
}
