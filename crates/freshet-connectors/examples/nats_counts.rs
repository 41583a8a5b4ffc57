//! Messages per subject in every batch, from a NATS JetStream stream through the direct
//! (replayable) stream.
//!
//! ```sh
//! cargo run -p freshet-connectors --example nats_counts -- \
//!     --server nats://127.0.0.1:4222 --stream EVENTS \
//!     --checkpoint CK_DIR --batch-ms 1000
//! ```
//!
//! The stream must exist (`nats stream add EVENTS --subjects 'events.>'`). Each batch reads a
//! range of the stream's sequences, logged under `CK_DIR` before it runs; stop it at any moment
//! and start it again with the same arguments: the logged batches are replayed with the same
//! messages, and it continues with what was published meanwhile.

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::nats::NatsSource;
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    server: String,
    stream: String,
    checkpoint: PathBuf,
    batch_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut server, mut stream, mut checkpoint, mut batch_ms) = (None, None, None, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server" => server = Some(value),
            "--stream" => stream = Some(value),
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
        server: server.ok_or("--server nats://HOST:PORT is required")?,
        stream: stream.ok_or("--stream NAME is required")?,
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
        let source = NatsSource::jetstream(&args.server, &args.stream).messages();
        ctx.direct_stream(source)
            .uid("nats")
            .map(|m| m.subject)
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
