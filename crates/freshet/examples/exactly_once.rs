//! Exactly-once running word counts over the text files that appear in a directory.
//!
//! ```sh
//! cargo run --release --example exactly_once -- \
//!     --input IN_DIR --output OUT_DIR --checkpoint CK_DIR --batch-ms 100
//! ```
//!
//! Every batch writes the running count of every word seen so far to
//! `OUT_DIR/batch-<time>/part-<worker>` as lines `word<TAB>count`. Kill it at any moment (even
//! with SIGKILL) and start it again with the same arguments: it restores its state from the last
//! checkpoint in CK_DIR, replays the batches logged after it, and continues, so the newest
//! batch's output always equals the counts over all files consumed so far.

use freshet::sink::FileSink;
use freshet::source::file_stream::FileStreamOptions;
use freshet::{StreamingConfig, StreamingContext};
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
    let mut input = None;
    let mut output = None;
    let mut checkpoint = None;
    let mut batch_ms = 100;
    let mut workers = 2;
    let mut checkpoint_every = 10;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--input" => input = Some(PathBuf::from(value()?)),
            "--output" => output = Some(PathBuf::from(value()?)),
            "--checkpoint" => checkpoint = Some(PathBuf::from(value()?)),
            "--batch-ms" => batch_ms = value()?.parse().map_err(|e| format!("--batch-ms: {e}"))?,
            "--workers" => workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--checkpoint-every" => {
                checkpoint_every = value()?
                    .parse()
                    .map_err(|e| format!("--checkpoint-every: {e}"))?
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
        ctx.text_file_stream_with(&args.input, FileStreamOptions::new().include_existing(true))
            .flat_map(|line: String| {
                line.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|word| (word, 1u64))
            .update_state_by_key(|new: Vec<u64>, total: Option<u64>| {
                Some(total.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .map(|(word, count)| format!("{word}\t{count}"))
            .sink(FileSink::new(&args.output));
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
