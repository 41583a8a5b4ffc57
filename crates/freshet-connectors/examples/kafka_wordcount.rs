//! Exactly-once running word counts from a Kafka topic to another topic and to files.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example kafka_wordcount -- \
//!     --brokers localhost:9092 --input-topic lines --output-topic counts \
//!     --output OUT_DIR --checkpoint CK_DIR --batch-ms 1000
//! ```
//!
//! Each batch reads the lines that arrived on `--input-topic` (a direct stream: offset ranges
//! fixed per batch and logged), splits them into words and updates each word's running count.
//! The counts of the words seen in the batch go
//!
//! - to `--output-topic` as records `word → count` (UTF-8), in one Kafka transaction per batch
//!   and worker (readers use `isolation.level=read_committed`; the topic is a changelog: the
//!   newest record of a word holds its count);
//! - to `OUT_DIR/batch-<time>/part-<worker>` as JSON lines `["word",12]`.
//!
//! Kill it at any moment (even with SIGKILL) and start it again with the same arguments: it
//! restores the counts from the last checkpoint and replays the logged offset ranges, so no
//! line is lost or counted twice. With no Kafka at hand, the `kafka_mock_cluster` example
//! serves one.

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::files::JsonLinesSink;
use freshet_connectors::kafka::{KafkaSink, KafkaSource};
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    brokers: String,
    input_topic: String,
    output_topic: String,
    output: PathBuf,
    checkpoint: PathBuf,
    batch_ms: u64,
    workers: usize,
    checkpoint_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut brokers, mut input_topic, mut output_topic) = (None, None, None);
    let (mut output, mut checkpoint) = (None, None);
    let (mut batch_ms, mut workers, mut checkpoint_every) = (1000, 1, 10);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{what} needs a number, not {value}");
        match flag.as_str() {
            "--brokers" => brokers = Some(value),
            "--input-topic" => input_topic = Some(value),
            "--output-topic" => output_topic = Some(value),
            "--output" => output = Some(PathBuf::from(&value)),
            "--checkpoint" => checkpoint = Some(PathBuf::from(&value)),
            "--batch-ms" => batch_ms = value.parse().map_err(|_| number("--batch-ms"))?,
            "--workers" => workers = value.parse().map_err(|_| number("--workers"))?,
            "--checkpoint-every" => {
                checkpoint_every = value.parse().map_err(|_| number("--checkpoint-every"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        brokers: brokers.ok_or("--brokers HOST:PORT is required")?,
        input_topic: input_topic.ok_or("--input-topic NAME is required")?,
        output_topic: output_topic.ok_or("--output-topic NAME is required")?,
        output: output.ok_or("--output DIR is required")?,
        checkpoint: checkpoint.ok_or("--checkpoint DIR is required")?,
        batch_ms,
        workers,
        checkpoint_every,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Warnings and errors on standard error; RUST_LOG=info shows more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    let ctx = StreamingContext::get_or_create(&args.checkpoint, || {
        let config = StreamingConfig::new(Duration::from_millis(args.batch_ms))
            .workers(args.workers)
            .checkpoint_interval(args.checkpoint_every);
        let ctx = StreamingContext::new(config)?;
        let counts = ctx
            .direct_stream(KafkaSource::direct(&args.brokers, [&args.input_topic]).utf8_values())
            .uid("lines")
            .flat_map(|line: String| {
                line.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .map(|word| (word, 1u64))
            .running_reduce_by_key(|a, b| a + b);
        counts
            .map(|(word, n)| (Some(word), n))
            .sink(
                KafkaSink::new(&args.brokers, &args.output_topic)
                    .transactional_id("kafka-wordcount"),
            )
            .uid("counts-to-kafka");
        counts
            .sink(JsonLinesSink::new(&args.output))
            .uid("counts-to-files");
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
