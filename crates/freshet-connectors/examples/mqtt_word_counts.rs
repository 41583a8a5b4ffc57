//! Exactly-once running word counts from MQTT, an at-least-once source, by dropping
//! redelivered messages by their id.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example mqtt_word_counts -- \
//!     --broker localhost:1883 --client-id word-counts --topic 'words/#' \
//!     --output OUT_DIR --checkpoint CK_DIR --batch-ms 1000
//! ```
//!
//! Each message is `ID WORD`. The reliable receiver (QoS 1, persistent session) acknowledges a
//! message only once it is in the write-ahead log, so after a crash the broker delivers again
//! what was stored but not yet acknowledged. The pipeline remembers the ids it has seen (keyed
//! state, checkpointed with the counts) and passes each id once, so every word's running count
//! (JSON lines `["word",12]` in `OUT_DIR/batch-<time>/part-<worker>`, for the words of each
//! batch) counts every acknowledged message exactly once. A message that is not `ID WORD` is
//! skipped and counted.

use freshet::source::BadRecordPolicy;
use freshet::{State, StateSpec, StreamingConfig, StreamingContext};
use freshet_connectors::files::JsonLinesSink;
use freshet_connectors::mqtt::MqttSource;
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    broker: String,
    client_id: String,
    topic: String,
    output: PathBuf,
    checkpoint: PathBuf,
    batch_ms: u64,
    workers: usize,
}

fn parse_args() -> Result<Args, String> {
    let (mut broker, mut client_id, mut topic) = (None, None, None);
    let (mut output, mut checkpoint) = (None, None);
    let (mut batch_ms, mut workers) = (1000, 1);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{what} needs a number, not {value}");
        match flag.as_str() {
            "--broker" => broker = Some(value),
            "--client-id" => client_id = Some(value),
            "--topic" => topic = Some(value),
            "--output" => output = Some(PathBuf::from(&value)),
            "--checkpoint" => checkpoint = Some(PathBuf::from(&value)),
            "--batch-ms" => batch_ms = value.parse().map_err(|_| number("--batch-ms"))?,
            "--workers" => workers = value.parse().map_err(|_| number("--workers"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        broker: broker.ok_or("--broker HOST:PORT is required")?,
        client_id: client_id.ok_or("--client-id ID is required")?,
        topic: topic.ok_or("--topic FILTER is required")?,
        output: output.ok_or("--output DIR is required")?,
        checkpoint: checkpoint.ok_or("--checkpoint DIR is required")?,
        batch_ms,
        workers,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
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
            .checkpoint_interval(3);
        let ctx = StreamingContext::new(config)?;
        let receiver = MqttSource::receiver(&args.broker, &args.client_id, [&args.topic])
            .bad_records(BadRecordPolicy::Skip)
            .utf8_payloads();
        // Each id passes once: a redelivered message finds its id in the state.
        let first_time = StateSpec::function_with(
            |_t, _id: &String, word: Option<String>, seen: &mut State<()>| {
                if seen.get().is_some() {
                    return None;
                }
                seen.update(());
                word
            },
        );
        ctx.receiver_stream(receiver)
            .uid("words")
            .flat_map(|m: String| {
                let mut parts = m.split_whitespace();
                match (parts.next(), parts.next()) {
                    (Some(id), Some(word)) => vec![(id.to_string(), word.to_string())],
                    _ => Vec::new(),
                }
            })
            .map_with_state(first_time)
            .map(|word| (word, 1u64))
            .running_reduce_by_key(|a, b| a + b)
            .sink(JsonLinesSink::new(&args.output))
            .uid("word-counts");
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
