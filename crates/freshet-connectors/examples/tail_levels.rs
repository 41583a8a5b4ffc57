//! Exactly-once running counts of log levels over the lines appended to the log files of a
//! directory.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example tail_levels -- \
//!     --input LOG_DIR --output OUT_DIR --checkpoint CK_DIR --batch-ms 100
//! ```
//!
//! Each line's first word is its level (`INFO`, `WARN`, ...). Every batch writes the running
//! count of every level to `OUT_DIR/batch-<time>/part-<worker>` as JSON lines
//! `["ERROR",12]`. Kill it at any moment (even with SIGKILL) and start it again with the same
//! arguments: it restores its state from the last checkpoint, replays the logged byte ranges,
//! and continues, so the newest batch always holds the counts over every complete line so far.

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::files::{AppendLogSource, JsonLinesSink};
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    input: PathBuf,
    output: PathBuf,
    checkpoint: PathBuf,
    batch_ms: u64,
    workers: usize,
    checkpoint_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let (mut input, mut output, mut checkpoint) = (None, None, None);
    let (mut batch_ms, mut workers, mut checkpoint_every) = (100, 2, 10);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{what} needs a number, not {value}");
        match flag.as_str() {
            "--input" => input = Some(PathBuf::from(&value)),
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
        input: input.ok_or("--input DIR is required")?,
        output: output.ok_or("--output DIR is required")?,
        checkpoint: checkpoint.ok_or("--checkpoint DIR is required")?,
        batch_ms,
        workers,
        checkpoint_every,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let ctx = StreamingContext::get_or_create(&args.checkpoint, || {
        let config = StreamingConfig::new(Duration::from_millis(args.batch_ms))
            .workers(args.workers)
            .checkpoint_interval(args.checkpoint_every);
        let ctx = StreamingContext::new(config)?;
        ctx.direct_stream(AppendLogSource::new(&args.input))
            .uid("app-logs")
            .map(|line: String| {
                let level = line.split_whitespace().next().unwrap_or("").to_string();
                (level, 1u64)
            })
            .update_state_by_key(|new: Vec<u64>, total: Option<u64>| {
                Some(total.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .sink(JsonLinesSink::new(&args.output))
            .uid("level-counts");
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
