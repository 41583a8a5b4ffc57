//! RabbitMQ deliveries and the decoders that turn them into a stream's items.

use crate::payload::PayloadDecoder;
pub use crate::payload::{Bytes, Json, Utf8};
use freshet::Data;
use lapin::message::Delivery;
use lapin::types::AMQPValue;
use serde::{Deserialize, Serialize};

/// One header of a message (an entry of its `headers` table).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RabbitMqHeader {
    /// The header's name.
    pub key: String,
    /// Its value: the bytes of a string or byte array, the decimal text of a number or
    /// timestamp, `true`/`false`, or a debugging form of a nested table or array.
    pub value: Vec<u8>,
}

/// A message delivered from a queue, as the broker sent it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RabbitMqMessage {
    /// The exchange it was published to (empty for the default exchange).
    pub exchange: String,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Whether the broker delivered it before without an acknowledgement (to this or another
    /// consumer): it may already be in the stream.
    pub redelivered: bool,
    /// The `message_id` property, if the publisher set one.
    pub message_id: Option<String>,
    /// The `timestamp` property (seconds since the Unix epoch by convention), if set.
    pub timestamp: Option<u64>,
    /// The `headers` table, in key order (`None` when the message has none).
    pub headers: Option<Vec<RabbitMqHeader>>,
    /// The body.
    pub payload: Vec<u8>,
}

impl RabbitMqMessage {
    /// Copies a delivery out of lapin's structures.
    pub(crate) fn from_delivery(d: Delivery) -> Self {
        let p = &d.properties;
        let headers = p.headers().as_ref().map(|table| {
            table
                .inner()
                .iter()
                .map(|(k, v)| RabbitMqHeader {
                    key: k.as_str().to_string(),
                    value: header_value(v),
                })
                .collect()
        });
        RabbitMqMessage {
            exchange: d.exchange.as_str().to_string(),
            routing_key: d.routing_key.as_str().to_string(),
            redelivered: d.redelivered,
            message_id: p.message_id().as_ref().map(|m| m.as_str().to_string()),
            timestamp: *p.timestamp(),
            headers,
            payload: d.data,
        }
    }

    /// The payload as UTF-8 text, if it is valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    /// The first header named `key`, if any.
    pub fn header(&self, key: &str) -> Option<&RabbitMqHeader> {
        self.headers.as_ref()?.iter().find(|h| h.key == key)
    }
}

fn header_value(v: &AMQPValue) -> Vec<u8> {
    match v {
        AMQPValue::LongString(s) => s.as_bytes().to_vec(),
        AMQPValue::ShortString(s) => s.as_str().as_bytes().to_vec(),
        AMQPValue::ByteArray(b) => b.as_slice().to_vec(),
        AMQPValue::Boolean(b) => b.to_string().into_bytes(),
        AMQPValue::ShortShortInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortShortUInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortUInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongUInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongLongInt(n) => n.to_string().into_bytes(),
        AMQPValue::Timestamp(n) => n.to_string().into_bytes(),
        AMQPValue::Float(n) => n.to_string().into_bytes(),
        AMQPValue::Double(n) => n.to_string().into_bytes(),
        AMQPValue::Void => Vec::new(),
        other => format!("{other:?}").into_bytes(),
    }
}

/// Turns a [`RabbitMqMessage`] into a stream item. A message that does not decode is a bad
/// record: skipped and counted, or failing the job, as the receiver's
/// [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
pub trait RabbitMqDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one message, or says why it cannot (the receiver adds the queue and routing
    /// key).
    fn decode(&self, message: RabbitMqMessage) -> Result<Self::Item, String>;
}

/// The messages as they are: [`RabbitMqMessage`] items, with routing key, exchange and headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Messages;

impl RabbitMqDecoder for Messages {
    type Item = RabbitMqMessage;

    fn decode(&self, message: RabbitMqMessage) -> Result<RabbitMqMessage, String> {
        Ok(message)
    }
}

/// Every [`PayloadDecoder`] decodes a message's payload: [`Utf8`], [`Bytes`] and [`Json`].
impl<P: PayloadDecoder> RabbitMqDecoder for P {
    type Item = P::Item;

    fn decode(&self, message: RabbitMqMessage) -> Result<P::Item, String> {
        self.decode_payload(message.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> RabbitMqMessage {
        RabbitMqMessage {
            exchange: "amq.topic".into(),
            routing_key: "eu.clicks".into(),
            redelivered: false,
            message_id: None,
            timestamp: None,
            headers: Some(vec![RabbitMqHeader {
                key: "origin".into(),
                value: b"web".to_vec(),
            }]),
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn decoders_take_what_decodes_and_say_why_the_rest_does_not() {
        assert_eq!(Utf8.decode(message(b"hi")).unwrap(), "hi");
        assert!(Utf8.decode(message(b"\xff")).unwrap_err().contains("UTF-8"));
        assert_eq!(Bytes.decode(message(b"\xff")).unwrap(), vec![0xff]);
        {
            let json: Json<(String, u32)> = Json::new();
            assert_eq!(
                json.decode(message(b"[\"a\",1]")).unwrap(),
                ("a".to_string(), 1)
            );
            assert!(json.decode(message(b"{")).unwrap_err().contains("JSON"));
        }
        let m = Messages.decode(message(b"x")).unwrap();
        assert_eq!(m.header("origin").unwrap().value, b"web");
        assert!(m.header("other").is_none());
        assert_eq!(m.payload_str(), Some("x"));
    }

    #[test]
    fn header_values_are_bytes_or_text() {
        assert_eq!(header_value(&AMQPValue::LongInt(-7)), b"-7");
        assert_eq!(header_value(&AMQPValue::Boolean(true)), b"true");
        assert_eq!(
            header_value(&AMQPValue::LongString("a b".into())),
            b"a b".to_vec()
        );
        assert!(header_value(&AMQPValue::Void).is_empty());
    }
}
