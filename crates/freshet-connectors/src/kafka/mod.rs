//! Kafka: topics as a direct (replayable) stream, with exactly-once input across restarts, or
//! through a reliable receiver in a consumer group, at-least-once; and a sink that writes a
//! stream to a topic, exactly-once with transactions.
//!
//! # [`KafkaSink`]
//!
//! Produces every batch's items to a topic through an idempotent producer and awaits their
//! delivery before the batch counts as written. With a transactional id each worker writes
//! its part of a batch in one transaction, committed with a marker of the batch, so a replay
//! after a crash skips what was committed: `read_committed` readers see every batch once.
//! [`KafkaEncoder`]s turn items into records ([`KeyValue`], [`Values`], [`JsonValues`],
//! [`EncodeWith`]).
//!
//! # [`KafkaSource::receiver`]
//!
//! A [`KafkaReceiver`] joins a consumer group, stores what it polls in blocks through the
//! receiver write-ahead log and commits a block's offsets to the group only after the block is
//! stored: at-least-once with a checkpoint directory (see [`KafkaReceiver`]). Prefer the direct
//! stream, which is exactly-once and reads partitions in parallel; use the receiver when the
//! group's committed offsets must be the position (shared with other tools or consumers).
//!
//! # [`KafkaSource::direct`]
//!
//! At each batch boundary the driver asks the brokers for the end (high watermark) of every
//! partition of the subscribed topics and fixes, per partition, the range of offsets the batch
//! reads: from where the previous batch ended to that end, by at most
//! [`max_records_per_partition_per_batch`](KafkaSource::max_records_per_partition_per_batch).
//! The engine logs the ends in the batch log before the batch runs; each partition's range is
//! one split, read by one worker with a consumer assigned to it by hand (no consumer group,
//! no automatic commits), which stops at the end of the range.
//!
//! **Offset**: [`KafkaOffset`], per topic and partition the offset of the next record to read.
//! It is in the batch log and in every checkpoint, so a restart replays the logged ranges
//! exactly and continues from there: with an exactly-once sink, every record is counted once.
//!
//! **Acknowledgement**: none is needed: Kafka keeps the records (until its retention deletes
//! them; a range deleted before it was read fails the job with a user error). Optionally
//! ([`commit_offsets_to_group`](KafkaSource::commit_offsets_to_group)) the offsets of each
//! checkpointed batch are committed to a consumer group, for monitoring tools; they are never
//! read back.
//!
//! **Partitions** added to a topic while the stream runs enter at their oldest offset and are
//! read from the next batch on; [`partitions`](KafkaSource::partitions) restricts the stream to
//! a fixed list.
//!
//! **Errors**: a missing topic or partition, a refused authorization and a bad setting are the
//! user's (the job fails); a broker that is down or slow is the outside world's: a batch planned
//! while no broker answers gets nothing from the source (the next one catches up), a read that
//! fails is retried with back-off.
//!
//! **Records**: [`KafkaRecord`]s, or what a [`KafkaDecoder`] makes of them ([`Utf8`],
//! [`Bytes`], [`Json`]); a record that does not decode follows the stream's bad-record policy.
//! [`KafkaRecord::event_time`] is the record's timestamp as an event time.

mod deliveries;
mod encode;
mod error;
mod reader;
mod receiver;
mod record;
mod sink;
mod source;

pub use encode::{
    EncodeWith, JsonValues, KafkaBytes, KafkaEncoder, KafkaMessage, KeyValue, Values,
};
pub use sink::{KafkaSink, KafkaSinkWriter, MAX_DELIVERY_TIMEOUT};

pub use reader::KafkaReader;
pub use receiver::{KafkaReceiver, MAX_BLOCK_SIZE};
pub use record::{Bytes, Json, KafkaDecoder, KafkaHeader, KafkaRecord, Records, Utf8};
pub use source::{
    KafkaOffset, KafkaSource, PartitionRange, StartingOffsets, MAX_RECORDS_PER_PARTITION_PER_BATCH,
};
