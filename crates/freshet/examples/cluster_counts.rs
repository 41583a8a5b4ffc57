//! Word counts over a sliding window and since the start, for the text files of a directory:
//! a keyed, windowed pipeline that runs the same in one process or as a cluster.
//!
//! ```sh
//! # one process
//! cargo run --release --example cluster_counts -- --input IN --output OUT --available-now
//! # three processes on this machine, restarted as a whole if one dies
//! freshet cluster run --processes 3 -- target/release/examples/cluster_counts \
//!     --input IN --output OUT --checkpoint CK --available-now
//! ```
//!
//! Every batch writes `OUT/windows/batch-<time>/part-<worker>` (lines `word<TAB>count` over
//! the last `--window-batches` batches, every 2 batches) and `OUT/totals/batch-<time>/...`
//! (each word's count since the start, for the words of the batch). With `--checkpoint` the
//! job recovers from a crash and its output is the same as without one. With
//! `--available-now` it processes the files present, `--files-per-batch` per batch, and
//! stops. `--pause-ms N` makes every part of a batch that holds lines take N ms longer.

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
    checkpoint: Option<PathBuf>,
    batch_ms: u64,
    workers: usize,
    window_batches: u64,
    files_per_batch: usize,
    checkpoint_every: u64,
    available_now: bool,
    pause_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        input: PathBuf::new(),
        output: PathBuf::new(),
        checkpoint: None,
        batch_ms: 100,
        workers: 1,
        window_batches: 4,
        files_per_batch: 2,
        checkpoint_every: 3,
        available_now: false,
        pause_ms: 0,
    };
    let (mut input, mut output) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--available-now" {
            args.available_now = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--input" => input = Some(PathBuf::from(value)),
            "--output" => output = Some(PathBuf::from(value)),
            "--checkpoint" => args.checkpoint = Some(PathBuf::from(value)),
            "--batch-ms" => args.batch_ms = number(&value)?,
            "--workers" => args.workers = number(&value)? as usize,
            "--window-batches" => args.window_batches = number(&value)?,
            "--files-per-batch" => args.files_per_batch = number(&value)? as usize,
            "--checkpoint-every" => args.checkpoint_every = number(&value)?,
            "--pause-ms" => args.pause_ms = number(&value)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    args.input = input.ok_or("--input DIR is required")?;
    args.output = output.ok_or("--output DIR is required")?;
    Ok(args)
}

fn build(args: &Args) -> freshet::Result<StreamingContext> {
    let interval = Duration::from_millis(args.batch_ms);
    let config = StreamingConfig::new(interval)
        .workers(args.workers)
        .checkpoint_interval(args.checkpoint_every);
    let ctx = StreamingContext::new(config)?;
    let options = FileStreamOptions::new()
        .include_existing(true)
        .max_files_per_batch(args.files_per_batch);
    let pause = Duration::from_millis(args.pause_ms);
    let pairs = ctx
        .text_file_stream_with(&args.input, options)
        // Work that takes time (crash tests use it to kill the job mid-way).
        .map_partitions(move |lines: Vec<String>| {
            if !lines.is_empty() {
                std::thread::sleep(pause);
            }
            lines
        })
        .flat_map(|line: String| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|word| (word, 1u64));
    pairs
        .reduce_by_key_and_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            interval * args.window_batches as u32,
            interval * 2,
        )
        .filter(|(_, n)| *n > 0)
        .map(|(word, n)| format!("{word}\t{n}"))
        .sink(FileSink::new(args.output.join("windows")));
    pairs
        .running_reduce_by_key(|a, b| a + b)
        .map(|(word, n)| format!("{word}\t{n}"))
        .sink(FileSink::new(args.output.join("totals")));
    Ok(ctx)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let ctx = match &args.checkpoint {
        Some(dir) => StreamingContext::get_or_create(dir, || build(&args))?,
        None => build(&args)?,
    };
    if args.available_now {
        ctx.run_available_now()?;
    } else {
        ctx.start()?;
        ctx.await_termination()?;
    }
    Ok(())
}
