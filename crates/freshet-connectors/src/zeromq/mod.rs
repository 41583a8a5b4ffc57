//! ZeroMQ: `SUB` and `PULL` sockets as receivers, at-most-once.
//!
//! # [`ZmqSource::sub`] and [`ZmqSource::pull`]
//!
//! A [`ZmqReceiver`] reads a socket that connects to an endpoint (or binds it, with
//! [`bind`](ZmqReceiver::bind)) and stores what arrives in blocks: a `SUB` socket the messages
//! that `PUB` sockets publish on its topic prefixes, a `PULL` socket the messages that `PUSH`
//! sockets send (shared among the pullers connected to them).
//!
//! **At-most-once.** ZeroMQ has no acknowledgements and keeps nothing: a message queued in a
//! socket when the job crashes is gone, a `SUB` socket receives nothing published before it
//! subscribed (ZeroMQ's "slow joiner"), and a `PUB` socket drops messages for a subscriber that
//! falls behind. With a checkpoint directory, what reached the receiver's write-ahead log is
//! kept across a crash and counted once. For input that must not be lost, use a broker with
//! acknowledgements (Kafka, NATS JetStream, RabbitMQ, MQTT) or [HTTP ingest](crate::http).
//!
//! **Holding senders back.** The socket queues at most
//! [`receive_hwm`](ZmqReceiver::receive_hwm) messages of at most
//! [`max_message_bytes`](ZmqReceiver::max_message_bytes) each. When the job falls behind
//! (the receiver's buffer is full, or a rate limit or backpressure holds it), the receiver
//! stops reading and the queue fills: then a `PUSH` sender blocks (its own high-water mark
//! reached), while a `PUB` sender drops what this subscriber cannot take, as ZeroMQ's
//! publish-subscribe does.
//!
//! **Errors**: an endpoint that ZeroMQ refuses (malformed, an unknown transport, an address in
//! use when binding) and a setting out of range are the user's and fail `start()`. A peer that
//! is away is not an error: ZeroMQ reconnects by itself.
//!
//! **Records**: the payloads (the last frame of each message, so `[topic, payload]` messages
//! work) as UTF-8 text by default; [`ZmqMessage`]s (every frame, the time received), raw
//! [`Bytes`] or [`Json`] into a serde type. A message that does not decode follows the
//! receiver's bad-record policy (skip and count by default).

mod message;
mod receiver;
mod settings;

pub use message::{Bytes, Json, Messages, Utf8, ZmqDecoder, ZmqMessage};
pub use receiver::ZmqReceiver;
pub use settings::{SocketKind, MAX_BLOCK_SIZE, MAX_MESSAGE_BYTES, MAX_RECEIVE_HWM};

/// Entry points of the ZeroMQ receivers.
pub struct ZmqSource;

impl ZmqSource {
    /// A `SUB` socket connected to `endpoint` (`tcp://host:port`, `ipc://path`), subscribed to
    /// every message unless [`subscribe`](ZmqReceiver::subscribe) narrows it.
    pub fn sub(endpoint: impl Into<String>) -> ZmqReceiver {
        ZmqReceiver::new(SocketKind::Sub, endpoint.into())
    }

    /// A `PULL` socket connected to `endpoint`; [`bind`](ZmqReceiver::bind) it to let `PUSH`
    /// senders connect instead.
    pub fn pull(endpoint: impl Into<String>) -> ZmqReceiver {
        ZmqReceiver::new(SocketKind::Pull, endpoint.into())
    }
}
