//! NATS: JetStream streams as a direct (replayable) stream, with exactly-once input across
//! restarts, and plain subjects through a receiver, at-most-once.
//!
//! # [`NatsSource::jetstream`]
//!
//! At each batch boundary the driver asks the server for the stream's last sequence and fixes
//! the range of sequences the batch reads: from where the previous batch ended through that
//! last sequence, by at most
//! [`max_messages_per_batch`](NatsSource::max_messages_per_batch) (and by the stream's rate
//! limit, [`DirectOptions::max_rate`](freshet::source::DirectOptions::max_rate)). The engine
//! logs the end in the batch log before the batch runs; the range is cut into one contiguous
//! part per worker, and each part is read through an ephemeral pull consumer that starts at its
//! first sequence, acknowledges nothing and stops at its end.
//!
//! **Offset**: [`NatsOffset`], the sequence of the next message to read. It is in the batch log
//! and in every checkpoint, so a restart replays the logged ranges exactly and continues from
//! there: with an exactly-once sink, every message is counted once.
//!
//! **Gaps**: sequences without a message (deleted ones, messages of subjects a
//! [`filter_subject`](NatsSource::filter_subject) leaves out) produce nothing. When the stream's
//! oldest message is past the next one to read (limits, a purge), the messages in between were
//! removed unread: the job fails, or with
//! [`DirectOptions::on_data_loss`](freshet::source::DirectOptions::on_data_loss)`(Continue)`
//! goes on and counts them as lost.
//!
//! **Acknowledgement**: none is needed: the stream keeps the messages (within its limits).
//! Optionally ([`durable`](NatsSource::durable)) a durable consumer is positioned at the end of
//! each checkpointed batch, for monitoring tools; it is never read back.
//!
//! **Errors**: a stream that does not exist, a refused authorization and a bad setting are the
//! user's (the job fails); a server that is down or slow is the outside world's: a batch
//! planned while it does not answer gets nothing from the source (the next one catches up), a
//! read that fails is retried with back-off.
//!
//! **Records**: the payloads as UTF-8 text by default; [`NatsMessage`]s (subject, sequence,
//! payload, headers, timestamp) or what a [`NatsDecoder`] makes of them ([`Bytes`], [`Json`]).
//! A message that does not decode follows the stream's bad-record policy.
//! [`NatsMessage::event_time`] is the time the stream stored the message, as an event time.
//!
//! # [`NatsSource::subject`]
//!
//! A [`NatsSubjectReceiver`] subscribes to a subject (wildcards allowed, optionally in a queue
//! group) and stores what arrives in blocks. **At-most-once**: core NATS has no
//! acknowledgements and keeps nothing, so a message published while the receiver is not
//! subscribed is not delivered to it; with a checkpoint directory, what reached the receiver's
//! write-ahead log is kept across a crash. A connection that drops is re-established by the
//! client; a receiver that cannot connect is restarted with back-off.
//!
//! Each source, reader and receiver runs its client on a runtime of one thread of its own.

mod connection;
mod message;
mod reader;
mod receiver;
mod source;

pub use message::{Bytes, Json, Messages, NatsDecoder, NatsMessage, Utf8};
pub use reader::NatsReader;
pub use receiver::{NatsSubjectReceiver, MAX_BLOCK_SIZE};
pub use source::{NatsOffset, NatsSource, SequenceRange, StartingPosition, MAX_MESSAGES_PER_BATCH};
