//! MQTT messages and the decoders that turn them into a stream's items.

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

/// The payloads as raw bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bytes;

impl MqttDecoder for Bytes {
    type Item = Vec<u8>;

    fn decode(&self, message: MqttMessage) -> Result<Vec<u8>, String> {
        Ok(message.payload)
    }
}

/// The payloads as UTF-8 text. A payload that is not valid UTF-8 is a bad record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8;

impl MqttDecoder for Utf8 {
    type Item = String;

    fn decode(&self, message: MqttMessage) -> Result<String, String> {
        String::from_utf8(message.payload)
            .map_err(|e| format!("the payload is not valid UTF-8: {e}"))
    }
}

/// The payloads as JSON documents deserialized into `T`. A payload that is not such a document
/// is a bad record.
pub struct Json<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Json<T> {
    /// Payloads decoded into `T`.
    pub fn new() -> Self {
        Json(std::marker::PhantomData)
    }
}

impl<T> Default for Json<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Json<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Json<{}>", std::any::type_name::<T>())
    }
}

impl<T: Data> MqttDecoder for Json<T> {
    type Item = T;

    fn decode(&self, message: MqttMessage) -> Result<T, String> {
        serde_json::from_slice(&message.payload)
            .map_err(|e| format!("the payload is not the JSON expected: {e}"))
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
