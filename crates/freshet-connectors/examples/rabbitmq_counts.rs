//! Messages per routing key in every batch, from a RabbitMQ queue through the reliable
//! receiver.
//!
//! ```sh
//! cargo run -p freshet-connectors --example rabbitmq_counts -- \
//!     --uri amqp://guest:guest@127.0.0.1:5672/%2f --queue events \
//!     --checkpoint CK_DIR --batch-ms 1000
//! ```
//!
//! The queue must exist (bind it to the exchanges you publish to). A message is acknowledged
//! once it is in the receiver write-ahead log under `CK_DIR`; stop it at any moment and start
//! it again with the same arguments: nothing acknowledged is lost, and what was delivered but
//! not acknowledged comes again (at-least-once).

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::rabbitmq::RabbitMqSource;
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    uri: String,
    queue: String,
    checkpoint: PathBuf,
    batch_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut uri, mut queue, mut checkpoint, mut batch_ms) = (None, None, None, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--uri" => uri = Some(value),
            "--queue" => queue = Some(value),
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
        uri: uri.ok_or("--uri amqp://USER:PASSWORD@HOST:PORT/VHOST is required")?,
        queue: queue.ok_or("--queue NAME is required")?,
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
        let receiver = RabbitMqSource::receiver(&args.uri, &args.queue).messages();
        ctx.receiver_stream(receiver)
            .uid("rabbitmq")
            .map(|m| m.routing_key)
            .count_by_value()
            .foreach_batch(|time, mut counts| {
                counts.sort();
                println!("batch {}: {counts:?}", time.0);
            });
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
