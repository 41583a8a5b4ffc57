//! Entries per value of one field in every batch, from a Redis stream through the direct
//! (replayable) source.
//!
//! ```sh
//! cargo run -p freshet-connectors --example redis_counts -- \
//!     --url redis://127.0.0.1/ --stream logs --field level \
//!     --checkpoint CK_DIR --batch-ms 1000
//! redis-cli XADD logs '*' level warn msg "disk 91% full"
//! ```
//!
//! Entries without the field are skipped and counted. The batch log and checkpoints under
//! `CK_DIR` hold id ranges: stop it at any moment and start it again with the same arguments,
//! and the batches after the last checkpoint are read again exactly, then the entries added
//! meanwhile, each once. The consumer group `freshet-redis-counts` shows how far it got
//! (`XINFO GROUPS logs`).

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::redis::RedisStreamSource;
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    url: String,
    stream: String,
    field: String,
    checkpoint: PathBuf,
    batch_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut url, mut stream, mut field, mut checkpoint, mut batch_ms) =
        (None, None, None, None, 1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--stream" => stream = Some(value),
            "--field" => field = Some(value),
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
        url: url.unwrap_or_else(|| "redis://127.0.0.1/".to_string()),
        stream: stream.ok_or("--stream KEY is required")?,
        field: field.ok_or("--field NAME is required")?,
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
        let source = RedisStreamSource::new(&args.url, &args.stream)
            .group("freshet-redis-counts")
            .field_utf8(&args.field);
        ctx.direct_stream(source)
            .uid("redis")
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
