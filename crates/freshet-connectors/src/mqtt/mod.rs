//! MQTT: topics as a reliable receiver stream (QoS 1, persistent session).
//!
//! # [`MqttSource::receiver`]
//!
//! An [`MqttReceiver`] connects to an MQTT 3.1.1 broker with a persistent session
//! (`clean_session = false`) under its client id, subscribes to its topic filters with QoS 1
//! (`+` matches one level, `#` the rest) and acknowledges by hand: it stores the messages in
//! blocks through the receiver write-ahead log and sends a block's PUBACKs only after the block
//! is stored. The broker keeps the session's subscriptions and unacknowledged messages while
//! the receiver is down and sends them again when it reconnects.
//!
//! **Guarantee**: at-least-once with a checkpoint directory (exactly-once output with an
//! idempotent sink): an acknowledged message is in the write-ahead log; a message stored but
//! not yet acknowledged when the receiver stops or fails is delivered again.
//!
//! **Flow control**: the broker sends at most its in-flight window of unacknowledged messages
//! (Mosquitto: `max_inflight_messages`, 20 by default); a block is stored as soon as it holds
//! [`max_inflight`](MqttReceiver::max_inflight) of them.
//!
//! **Errors**: a refused or dropped connection, a timeout or a broker that is unavailable
//! restart the receiver with back-off; a bad setting, a rejected client id or credentials, a
//! refused subscription or a message larger than `max_packet_size` fail the job.
//!
//! **Records**: the payloads as UTF-8 text ([`Utf8`], the default), or what another
//! [`MqttDecoder`] makes of an [`MqttMessage`] ([`Messages`], [`Bytes`], `Json`); a payload
//! that does not decode follows the receiver's bad-record policy.

mod connection;
mod error;
mod message;
mod receiver;
mod settings;

pub use message::Json;
pub use message::{Bytes, Messages, MqttDecoder, MqttMessage, Utf8};
pub use receiver::{MqttReceiver, MqttSource};
pub use settings::{DEFAULT_MAX_INFLIGHT, MAX_BLOCK_SIZE, MAX_MQTT_STRING, MAX_PACKET_SIZE};
