//! Ingest throughput: records per second a pipeline takes in from RabbitMQ, MQTT (Mosquitto),
//! NATS JetStream, Redis Streams, HTTP ingest and ZeroMQ on this machine, with 1 and 2
//! workers, next to what a plain client of the same system does.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example ingest_bench -- --messages 100000
//! cargo run --release -p freshet-connectors --example ingest_bench -- --only nats,redis
//! ```
//!
//! Every message is 100 bytes; every pipeline runs 200 ms batches and counts the records of
//! each batch. MQTT takes `--messages` / 5 messages, HTTP ingest and ZeroMQ 10 × `--messages`
//! (fed while the pipeline runs, they would otherwise be over within a batch or two).
//!
//! - RabbitMQ (127.0.0.1:5672): the queue is loaded with `--messages` messages first; then an
//!   available-now run of `RabbitMqSource::receiver` (prefetch 2000, blocks of 1000) takes
//!   them all, storing each block and acknowledging it after. The baseline is the load itself
//!   (one publisher on one channel, without confirms).
//! - MQTT (127.0.0.1:1883): Mosquitto keeps at most 1000 messages for a subscriber and drops
//!   the rest, so the pipeline runs while one publisher sends `--messages` / 5 messages with
//!   QoS 1, never more than 800 ahead of what the pipeline counted; the figure is the time
//!   from the first publish to the last message counted, next to the publisher alone (to a
//!   topic nobody reads).
//! - NATS JetStream (127.0.0.1:4222): a stream of its own is loaded by one publisher that
//!   keeps up to 1000 publish acknowledgements in flight (the baseline); then available-now
//!   runs of `NatsSource::jetstream` read it all. The stream is deleted after.
//! - Redis Streams (127.0.0.1:6379): a key of its own is loaded with `XADD`s in pipelines of
//!   1000 (the baseline); then available-now runs of `RedisStreamSource` read it all. The key
//!   is deleted after.
//! - HTTP ingest: the pipeline runs `HttpIngest` on a free loopback port while two client
//!   threads POST newline-delimited bodies of 1000 records until each is answered 200 (a 429
//!   is sent again after its `Retry-After`); the figure is the time from the first POST to the
//!   last record counted. The baseline is the same client against an axum server that reads
//!   each body, counts its lines and answers 200.
//! - ZeroMQ: the pipeline runs a bound `PULL` receiver while one `PUSH` socket sends as fast
//!   as it is let; the figure is the time from the first send to the last message counted.
//!   The baseline is a `PUSH` socket and a plain `PULL` socket (in a thread of its own) in one
//!   process.
//!
//! `--only NAME[,NAME]` runs some of them: rabbitmq, mqtt, nats, redis, http, zeromq. A
//! Markdown table of the figures ends the output.

mod common;
mod http;
mod mqtt;
mod nats;
mod rabbitmq;
mod redis;
mod zeromq;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// HTTP ingest and ZeroMQ take this many times `--messages`: they are fed while the pipeline
/// runs and take 200,000 records in less than one batch, so the figure would be mostly the
/// wait for the batch to end.
const FAST: u64 = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::parse_args().map_err(|e| {
        format!(
            "{e}\nusage: ingest_bench [--messages N] [--only {}]",
            common::SYSTEMS.join(",")
        )
    })?;
    let n = args.messages;
    println!(
        "{n} messages of 100 bytes (MQTT: {}; HTTP and ZeroMQ: {})",
        n / 5,
        n * FAST
    );
    let mut rows = Vec::new();
    for system in args.only {
        rows.push(match system {
            "rabbitmq" => rabbitmq::run(n)?,
            "mqtt" => mqtt::run(n / 5)?,
            "nats" => nats::run(n)?,
            "redis" => redis::run(n)?,
            "http" => http::run(n * FAST)?,
            "zeromq" => zeromq::run(n * FAST)?,
            other => unreachable!("{other} is not a system"),
        });
    }
    common::print_table(&rows);
    Ok(())
}
