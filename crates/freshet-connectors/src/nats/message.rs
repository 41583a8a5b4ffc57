//! NATS messages and the decoders that turn them into a stream's items.

use crate::payload::PayloadDecoder;
pub use crate::payload::{Bytes, Json, Utf8};
use freshet::Data;
use serde::{Deserialize, Serialize};

/// A message read from a JetStream stream or received on a core NATS subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NatsMessage {
    /// The subject it was published to.
    pub subject: String,
    /// Its sequence in the stream (from 1); 0 for a message received on a core subject.
    pub sequence: u64,
    /// The payload.
    pub payload: Vec<u8>,
    /// The headers, as `(name, value)` pairs, sorted by name (a name with several values
    /// appears once per value, in order).
    pub headers: Vec<(String, String)>,
    /// When the stream stored it, in milliseconds since the Unix epoch; for a message received
    /// on a core subject, when the receiver received it.
    pub timestamp: i64,
}

impl NatsMessage {
    /// Copies a core NATS message, stamped with `timestamp`.
    pub(crate) fn from_core(m: &async_nats::Message, sequence: u64, timestamp: i64) -> Self {
        let mut headers: Vec<(String, String)> = m
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .flat_map(|(name, values)| {
                values
                    .iter()
                    .map(move |v| (name.to_string(), v.as_str().to_string()))
            })
            .collect();
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        NatsMessage {
            subject: m.subject.to_string(),
            sequence,
            payload: m.payload.to_vec(),
            headers,
            timestamp,
        }
    }

    /// The timestamp as an event time for
    /// [`with_event_time`](freshet::DStream::with_event_time): milliseconds since the Unix
    /// epoch (0 for a timestamp before it).
    pub fn event_time(&self) -> u64 {
        u64::try_from(self.timestamp).unwrap_or(0)
    }

    /// The payload as UTF-8 text, if it is valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    /// The first value of the header `name` (header names are case-sensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Turns a [`NatsMessage`] into a stream item. A message that does not decode is a bad record:
/// skipped and counted, or failing the job, as the stream's
/// [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
pub trait NatsDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one message, or says why it cannot (the caller adds the subject and sequence).
    fn decode(&self, message: NatsMessage) -> Result<Self::Item, String>;
}

/// The messages as they are: [`NatsMessage`] items.
#[derive(Clone, Copy, Debug, Default)]
pub struct Messages;

impl NatsDecoder for Messages {
    type Item = NatsMessage;

    fn decode(&self, message: NatsMessage) -> Result<NatsMessage, String> {
        Ok(message)
    }
}

/// Every [`PayloadDecoder`] decodes a message's payload: [`Utf8`], [`Bytes`] and [`Json`].
impl<P: PayloadDecoder> NatsDecoder for P {
    type Item = P::Item;

    fn decode(&self, message: NatsMessage) -> Result<P::Item, String> {
        self.decode_payload(message.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> NatsMessage {
        NatsMessage {
            subject: "orders.eu".into(),
            sequence: 7,
            payload: payload.to_vec(),
            headers: vec![("trace".into(), "abc".into())],
            timestamp: 1_700_000_000_000,
        }
    }

    #[test]
    fn decoders_take_what_decodes_and_say_why_the_rest_does_not() {
        assert_eq!(Utf8.decode(message(b"hi")).unwrap(), "hi");
        assert!(Utf8.decode(message(b"\xff")).unwrap_err().contains("UTF-8"));
        assert_eq!(Bytes.decode(message(b"\xff")).unwrap(), vec![0xff]);
        let json: Json<(String, u32)> = Json::new();
        assert_eq!(
            json.decode(message(b"[\"a\",1]")).unwrap(),
            ("a".to_string(), 1)
        );
        assert!(json.decode(message(b"{")).unwrap_err().contains("JSON"));
        let m = message(b"x");
        assert_eq!(m.event_time(), 1_700_000_000_000);
        assert_eq!(m.header("trace"), Some("abc"));
        assert_eq!(m.header("Trace"), None);
        assert_eq!(Messages.decode(m.clone()).unwrap(), m);
    }
}
