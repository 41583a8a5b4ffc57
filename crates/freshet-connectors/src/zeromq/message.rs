//! ZeroMQ messages and the decoders that turn them into a stream's items.

use crate::payload::PayloadDecoder;
pub use crate::payload::{Bytes, Json, Utf8};
use freshet::Data;
use serde::{Deserialize, Serialize};

/// A message received on a ZeroMQ socket: its frames, as sent (one for a plain message; a
/// publisher that puts a topic in front sends `[topic, payload]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ZmqMessage {
    /// The frames, in order (at least one).
    pub frames: Vec<Vec<u8>>,
    /// When the receiver received it, in milliseconds since the Unix epoch.
    pub timestamp: i64,
}

impl ZmqMessage {
    /// The last frame: the payload, whether or not a topic frame precedes it.
    pub fn payload(&self) -> &[u8] {
        self.frames.last().map_or(&[], Vec::as_slice)
    }

    /// The first frame when there are several (the topic of a `[topic, payload]` message).
    pub fn topic(&self) -> Option<&[u8]> {
        match self.frames.as_slice() {
            [topic, _, ..] => Some(topic),
            _ => None,
        }
    }

    /// The timestamp as an event time for
    /// [`with_event_time`](freshet::DStream::with_event_time): milliseconds since the Unix
    /// epoch (0 for a timestamp before it).
    pub fn event_time(&self) -> u64 {
        u64::try_from(self.timestamp).unwrap_or(0)
    }

    fn into_payload(mut self) -> Vec<u8> {
        self.frames.pop().unwrap_or_default()
    }
}

/// Turns a [`ZmqMessage`] into a stream item. A message that does not decode is a bad record:
/// skipped and counted, written to a dead-letter file, or failing the job, as the receiver's
/// [`BadRecordPolicy`](freshet::source::BadRecordPolicy) says.
pub trait ZmqDecoder: Send + Sync + 'static {
    /// The items it produces.
    type Item: Data;

    /// Decodes one message, or says why it cannot.
    fn decode(&self, message: ZmqMessage) -> Result<Self::Item, String>;
}

/// The messages as they are: [`ZmqMessage`] items.
#[derive(Clone, Copy, Debug, Default)]
pub struct Messages;

impl ZmqDecoder for Messages {
    type Item = ZmqMessage;

    fn decode(&self, message: ZmqMessage) -> Result<ZmqMessage, String> {
        Ok(message)
    }
}

/// Every [`PayloadDecoder`] decodes a message's payload: [`Utf8`], [`Bytes`] and [`Json`].
impl<P: PayloadDecoder> ZmqDecoder for P {
    type Item = P::Item;

    fn decode(&self, message: ZmqMessage) -> Result<P::Item, String> {
        self.decode_payload(message.into_payload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(frames: &[&[u8]]) -> ZmqMessage {
        ZmqMessage {
            frames: frames.iter().map(|f| f.to_vec()).collect(),
            timestamp: 5,
        }
    }

    #[test]
    fn the_payload_is_the_last_frame_and_the_topic_the_first_of_several() {
        let plain = message(&[b"hello"]);
        assert_eq!(plain.payload(), b"hello");
        assert_eq!(plain.topic(), None);
        let topical = message(&[b"sensors.t", b"21.5"]);
        assert_eq!(topical.payload(), b"21.5");
        assert_eq!(topical.topic(), Some(&b"sensors.t"[..]));
        assert_eq!(Utf8.decode(topical).unwrap(), "21.5");
    }

    #[test]
    fn decoders_refuse_what_does_not_decode() {
        assert!(Utf8.decode(message(&[b"\xff"])).is_err());
        assert!(Json::<u32>::new().decode(message(&[b"\"x\""])).is_err());
        assert_eq!(Json::<u32>::new().decode(message(&[b"7"])).unwrap(), 7);
        assert_eq!(Bytes.decode(message(&[b"a", b"\xff"])).unwrap(), b"\xff");
    }
}
