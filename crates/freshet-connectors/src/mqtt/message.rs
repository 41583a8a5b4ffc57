//! MQTT messages and the decoders that turn them into a stream's items.

use crate::payload::PayloadDecoder;
pub use crate::payload::{Bytes, Json, Utf8};
use freshet::Data;
use serde::{Deserialize, Serialize};

/// A message received from an MQTT topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MqttMessage {
    /// The topic it was published to (never a filter: `sensors/kitchen/temp`).
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Whether the broker sent it as a retained message (the last one kept for the topic,
    /// delivered when the subscription was made).
    pub retain: bool,
    /// Whether the broker marked it as a possible redelivery (sent again after a reconnection
    /// because it had not been acknowledged).
    pub dup: bool,
}

impl MqttMessage {
    /// The payload as UTF-8 text, if it is valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }
}

/// Turns an [`MqttMessage`] into a stream item. A message that does not decode is a bad record:
/// skipped and counted, or failing the job, as the receiver's
/// [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
pub trait MqttDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one message, or says why it cannot (the receiver adds the topic).
    fn decode(&self, message: MqttMessage) -> Result<Self::Item, String>;
}

/// The messages as they are: [`MqttMessage`] items, with their topics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Messages;

impl MqttDecoder for Messages {
    type Item = MqttMessage;

    fn decode(&self, message: MqttMessage) -> Result<MqttMessage, String> {
        Ok(message)
    }
}

/// Every [`PayloadDecoder`] decodes a message's payload: [`Utf8`], [`Bytes`] and [`Json`].
impl<P: PayloadDecoder> MqttDecoder for P {
    type Item = P::Item;

    fn decode(&self, message: MqttMessage) -> Result<P::Item, String> {
        self.decode_payload(message.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> MqttMessage {
        MqttMessage {
            topic: "t/1".into(),
            payload: payload.to_vec(),
            retain: false,
            dup: false,
        }
    }

    #[test]
    fn decoders_take_what_decodes_and_say_why_the_rest_does_not() {
        assert_eq!(Utf8.decode(message(b"hi")).unwrap(), "hi");
        assert!(Utf8.decode(message(b"\xff")).unwrap_err().contains("UTF-8"));
        assert_eq!(Bytes.decode(message(b"\xff")).unwrap(), vec![0xff]);
        assert_eq!(Messages.decode(message(b"x")).unwrap().topic, "t/1");
        assert_eq!(message(b"\xff").payload_str(), None);
    }

    #[test]
    fn the_json_decoder_refuses_other_documents() {
        let json: Json<(String, u32)> = Json::new();
        assert_eq!(
            json.decode(message(b"[\"a\",1]")).unwrap(),
            ("a".to_string(), 1)
        );
        assert!(json.decode(message(b"{")).unwrap_err().contains("JSON"));
    }
}
