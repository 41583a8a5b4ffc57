//! # Freshet connectors
//!
//! Sources and sinks for [Freshet](freshet), one module and one cargo feature per system. Every
//! connector is written against Freshet's public interface alone — a
//! [`DirectSource`](freshet::source::DirectSource) or a
//! [`Receiver`](freshet::source::Receiver) on the input side, a [`Sink`](freshet::sink::Sink)
//! on the output side — and passes the laws of [`freshet::testing::laws`] in its tests.
//!
//! | feature | module | source | sink |
//! |---|---|---|---|
//! | `files` (default) | [`files`] | [`files::AppendLogSource`]: lines appended to log files, replayable by byte offset; [`files::TypedFileSource`] and [`files::json_lines_dataset`], [`files::csv_dataset`]: JSON lines and CSV files as typed streams and datasets | [`files::JsonLinesSink`], [`files::CsvSink`]: JSON lines and CSV, partitioned by a column, rolled into larger files, exactly-once |
//! | `parquet` (default) | [`parquet`] | [`parquet::parquet_dataset`] (and Parquet files as a typed stream) | [`parquet::ParquetSink`]: serde records through Arrow, partitioned, rolled, exactly-once |
//! | `postgres` (default) | [`postgres`] | — | [`postgres::PostgresSink`]: append (COPY or INSERT) or upsert, exactly-once with a batch marker in the same transaction |
//! | `http` (default) | [`http`] | [`http::HttpIngest`]: records POSTed as lines or a JSON array, answered 200 once in the write-ahead log, 429 with `Retry-After` when full | — |
//! | `kafka` (default) | [`kafka`] | [`kafka::KafkaSource::direct`]: Kafka topics, replayable by offset range per partition; [`kafka::KafkaSource::receiver`]: a consumer group, at-least-once | [`kafka::KafkaSink`]: a topic, exactly-once with transactions |
//! | `nats` (default) | [`nats`] | [`nats::NatsSource::jetstream`]: a JetStream stream, replayable by sequence range; [`nats::NatsSource::subject`]: core NATS subjects, at-most-once | — |
//! | `mqtt` (default) | [`mqtt`] | [`mqtt::MqttSource::receiver`]: topic filters (QoS 1, persistent session), acknowledged after the write-ahead log, at-least-once | — |
//! | `rabbitmq` (default) | [`rabbitmq`] | [`rabbitmq::RabbitMqSource::receiver`]: a queue, manual acknowledgements after the write-ahead log, at-least-once | — |
//! | `zeromq` (default) | [`zeromq`] | [`zeromq::ZmqSource::pull`], [`zeromq::ZmqSource::sub`]: ZeroMQ `PULL` and `SUB` sockets, at-most-once | — |
//! | `redis` (default) | [`redis`] | [`redis::RedisStreamSource`]: a stream, replayable by entry-id range; a consumer group moved after checkpoints, for monitoring | [`redis::RedisSink`]: hashes, sorted sets, streams, exactly-once with a batch marker in the same `MULTI`/`EXEC` |
//!
//! See the [`guide`] for how to write one.

#![deny(missing_docs)]

#[cfg(feature = "files")]
pub mod files;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(any(
    feature = "kafka",
    feature = "mqtt",
    feature = "nats",
    feature = "rabbitmq",
    feature = "zeromq"
))]
pub mod payload;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "zeromq")]
pub mod zeromq;

/// How to write a connector (`docs/connectors.md`; its examples are compiled and run as tests).
#[doc = include_str!("../../../docs/connectors.md")]
pub mod guide {}
