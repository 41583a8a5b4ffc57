//! Payload decoders shared by the message connectors: a message's payload (Kafka: its value) as
//! raw bytes, UTF-8 text or a JSON document. Each connector's decoder trait is implemented for
//! every [`PayloadDecoder`], so `Utf8`, `Bytes` and `Json<T>` work with all of them, next to the
//! connector's own decoder of whole messages.

use freshet::Data;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// Turns a message's payload into a stream item, or says why it cannot (the connector adds where
/// the message came from and applies the bad-record policy).
pub trait PayloadDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one payload.
    fn decode_payload(&self, payload: Vec<u8>) -> Result<Self::Item, String>;
}

/// The payloads as raw bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bytes;

impl PayloadDecoder for Bytes {
    type Item = Vec<u8>;

    fn decode_payload(&self, payload: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(payload)
    }
}

/// The payloads as UTF-8 text. A payload that is not valid UTF-8 is a bad record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8;

impl PayloadDecoder for Utf8 {
    type Item = String;

    fn decode_payload(&self, payload: Vec<u8>) -> Result<String, String> {
        String::from_utf8(payload).map_err(|e| format!("the payload is not valid UTF-8: {e}"))
    }
}

/// The payloads as JSON documents deserialized into `T`. A payload that is not such a document
/// is a bad record.
pub struct Json<T>(PhantomData<fn() -> T>);

impl<T> Json<T> {
    /// Payloads decoded into `T`.
    pub fn new() -> Self {
        Json(PhantomData)
    }
}

impl<T> Default for Json<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Json<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Json<T> {}

impl<T> std::fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Json<{}>", std::any::type_name::<T>())
    }
}

impl<T: Data + DeserializeOwned> PayloadDecoder for Json<T> {
    type Item = T;

    fn decode_payload(&self, payload: Vec<u8>) -> Result<T, String> {
        serde_json::from_slice(&payload)
            .map_err(|e| format!("the payload is not the JSON expected: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_take_what_decodes_and_say_why_the_rest_does_not() {
        assert_eq!(Utf8.decode_payload(b"hi".to_vec()).unwrap(), "hi");
        assert!(Utf8
            .decode_payload(b"\xff".to_vec())
            .unwrap_err()
            .contains("not valid UTF-8"));
        assert_eq!(Bytes.decode_payload(b"\xff".to_vec()).unwrap(), b"\xff");
        assert_eq!(Json::<u32>::new().decode_payload(b"7".to_vec()).unwrap(), 7);
        assert!(Json::<u32>::new()
            .decode_payload(b"\"x\"".to_vec())
            .unwrap_err()
            .contains("not the JSON expected"));
    }
}
