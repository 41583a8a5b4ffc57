//! Messages per topic from an MQTT broker, batch by batch.
//!
//! ```sh
//! cargo run -p freshet-connectors --example mqtt_counts -- \
//!     --broker localhost:1883 --topic 'sensors/#' --checkpoint CK_DIR --batch-ms 1000
//! ```
//!
//! A reliable receiver with a persistent session (client id `mqtt-counts`) subscribes to
//! `--topic` with QoS 1; each batch prints how many messages every topic got. Stop it and start
//! it again with the same arguments: what was published meanwhile is counted in the first
//! batches, and nothing acknowledged is lost (at-least-once: a message stored but not yet
//! acknowledged when it stopped may be counted twice).

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::mqtt::{MqttMessage, MqttSource};
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    broker: String,
    topic: String,
    checkpoint: PathBuf,
    batch_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut broker, mut topic, mut checkpoint, mut batch_ms) = (None, None, None, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--broker" => broker = Some(value),
            "--topic" => topic = Some(value),
            "--checkpoint" => checkpoint = Some(PathBuf::from(&value)),
            "--batch-ms" => {
                batch_ms = value
                    .parse()
                    .map_err(|_| format!("--batch-ms needs a number, not {value}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        broker: broker.ok_or("--broker HOST:PORT is required")?,
        topic: topic.ok_or("--topic FILTER is required")?,
        checkpoint: checkpoint.ok_or("--checkpoint DIR is required")?,
        batch_ms,
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
        let ctx =
            StreamingContext::new(StreamingConfig::new(Duration::from_millis(args.batch_ms)))?;
        let receiver = MqttSource::receiver(&args.broker, "mqtt-counts", [&args.topic]).messages();
        ctx.receiver_stream(receiver)
            .uid("messages")
            .map(|m: MqttMessage| m.topic)
            .count_by_value()
            .foreach_batch(|time, mut counts| {
                counts.sort();
                for (topic, n) in counts {
                    println!("{time:?} {topic} {n}");
                }
            });
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
