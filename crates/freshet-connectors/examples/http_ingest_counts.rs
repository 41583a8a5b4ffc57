//! Running counts of the records POSTed to an HTTP endpoint, to JSON lines files.
//!
//! ```sh
//! cargo run -p freshet-connectors --example http_ingest_counts -- \
//!     --addr 127.0.0.1:8080 --output OUT_DIR --checkpoint CK_DIR --batch-ms 1000
//! curl -H 'Content-Type: application/x-ndjson' --data-binary $'a\nb\na\n' \
//!     http://127.0.0.1:8080/ingest
//! ```
//!
//! An [`HttpIngest`] receiver takes records (one per line, or a JSON array) on
//! `POST /ingest` and answers `200` once they are in the receiver write-ahead log under
//! `--checkpoint`. Each batch updates the running count of every distinct record and writes
//! the counts that changed to `OUT_DIR/batch-<time>/part-<worker>` as JSON lines
//! `["record",12]`. Once listening, it prints `listening on HOST:PORT` (the port chosen for
//! port 0).
//!
//! Kill it at any moment (even with SIGKILL) and start it again with the same arguments:
//! nothing that was answered `200` is lost, and nothing stored is counted twice. A sender
//! that retries a request whose answer it did not get may have its records counted twice
//! (at-least-once for retries).

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::files::JsonLinesSink;
use freshet_connectors::http::HttpIngest;
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    addr: String,
    output: PathBuf,
    checkpoint: PathBuf,
    batch_ms: u64,
    workers: usize,
    checkpoint_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut addr, mut output, mut checkpoint) = (None, None, None);
    let (mut batch_ms, mut workers, mut checkpoint_every) = (1000, 1, 10);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{what} needs a number, not {value}");
        match flag.as_str() {
            "--addr" => addr = Some(value),
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
        addr: addr.ok_or("--addr HOST:PORT is required")?,
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
    let mut bound = None;
    let ctx = StreamingContext::get_or_create(&args.checkpoint, || {
        let config = StreamingConfig::new(Duration::from_millis(args.batch_ms))
            .workers(args.workers)
            .checkpoint_interval(args.checkpoint_every);
        let ctx = StreamingContext::new(config)?;
        let ingest = HttpIngest::new(&args.addr);
        bound = Some(ingest.local_addr_handle());
        ctx.receiver_stream(ingest)
            .uid("records")
            .map(|record: String| (record, 1u64))
            .running_reduce_by_key(|a, b| a + b)
            .sink(JsonLinesSink::new(&args.output))
            .uid("counts-to-files");
        Ok(ctx)
    })?;
    ctx.start()?;
    if let Some(addr) = bound.and_then(|b| b.get()) {
        println!("listening on {addr}");
    }
    ctx.await_termination()?;
    Ok(())
}
