//! Words per batch from ZeroMQ: a `PULL` socket that senders `PUSH` to, or a `SUB` socket on a
//! publisher's topic prefixes.
//!
//! ```sh
//! # PUSH senders connect to the job:
//! cargo run -p freshet-connectors --example zeromq_counts -- --bind tcp://127.0.0.1:5557
//! # or the job subscribes to a publisher's "logs." messages:
//! cargo run -p freshet-connectors --example zeromq_counts -- \
//!     --sub tcp://127.0.0.1:5556 --prefix logs. --checkpoint CK_DIR
//! ```
//!
//! Each message's last frame is a line of text; every batch prints its word counts. ZeroMQ
//! acknowledges nothing: with `--checkpoint`, what reached the receiver's write-ahead log
//! survives a crash, but what was still queued in a socket is gone (at-most-once).

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::zeromq::{ZmqReceiver, ZmqSource};
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    receiver: ZmqReceiver,
    checkpoint: Option<PathBuf>,
    batch_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut receiver, mut prefixes, mut checkpoint, mut batch_ms) = (None, Vec::new(), None, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bind" => receiver = Some(ZmqSource::pull(value).bind()),
            "--pull" => receiver = Some(ZmqSource::pull(value)),
            "--sub" => receiver = Some(ZmqSource::sub(value)),
            "--prefix" => prefixes.push(value),
            "--checkpoint" => checkpoint = Some(PathBuf::from(&value)),
            "--batch-ms" => {
                batch_ms = value
                    .parse()
                    .map_err(|_| format!("--batch-ms needs a number, not {value}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let receiver = receiver.ok_or("one of --bind ENDPOINT, --pull ENDPOINT or --sub ENDPOINT")?;
    Ok(Args {
        receiver: prefixes.into_iter().fold(receiver, ZmqReceiver::subscribe),
        checkpoint,
        batch_ms,
    })
}

fn build(receiver: ZmqReceiver, batch_ms: u64) -> freshet::Result<StreamingContext> {
    let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(batch_ms)))?;
    ctx.receiver_stream(receiver)
        .uid("zeromq")
        .flat_map(|line| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .count_by_value()
        .foreach_batch(|time, mut counts| {
            counts.sort();
            println!("batch {}: {counts:?}", time.0);
        });
    Ok(ctx)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let Args {
        receiver,
        checkpoint,
        batch_ms,
    } = parse_args()?;
    let ctx = match checkpoint {
        Some(dir) => StreamingContext::get_or_create(dir, || build(receiver, batch_ms))?,
        None => build(receiver, batch_ms)?,
    };
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
