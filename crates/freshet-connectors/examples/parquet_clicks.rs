//! Clicks from the embedded generator written as Parquet, partitioned by page and rolled, then
//! read back.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --no-default-features --features parquet \
//!     --example parquet_clicks -- --output OUT_DIR --records 200000 --rate 20000
//! ```
//!
//! The stream runs as an available-now job: batches of 100 ms of generator time, back to
//! back, until `--records` clicks are written. Each batch is staged, and every 10 s of batch
//! time (or 64 MiB) the staged batches of a worker roll into one file per page:
//! `OUT_DIR/page=%2Fcart/part-00000-<first>-<last>.parquet` (`/` in a page escaped as `%2F`).
//! With `--checkpoint DIR`, kill it at any moment and run it again: the replayed batches are
//! found staged or rolled, and every click is in exactly one file. Any Parquet reader sees the
//! columns `seq: uint64`, `user: uint32`, `page: string`, `dwell_ms: uint32`; with pyarrow:
//! `pyarrow.dataset.dataset(OUT_DIR, partitioning="hive").to_table()`.

use freshet::source::generator::{Click, GeneratorOptions};
use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::files::{PartitionBy, RollingPolicy};
use freshet_connectors::parquet::{parquet_dataset, ParquetSink};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    output: PathBuf,
    checkpoint: Option<PathBuf>,
    records: u64,
    rate: u64,
    workers: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        output: PathBuf::new(),
        checkpoint: None,
        records: 200_000,
        rate: 20_000,
        workers: 2,
    };
    let mut output = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{what} needs a number, not {value}");
        match flag.as_str() {
            "--output" => output = Some(PathBuf::from(&value)),
            "--checkpoint" => args.checkpoint = Some(PathBuf::from(&value)),
            "--records" => args.records = value.parse().map_err(|_| number("--records"))?,
            "--rate" => args.rate = value.parse().map_err(|_| number("--rate"))?,
            "--workers" => args.workers = value.parse().map_err(|_| number("--workers"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    args.output = output.ok_or("--output DIR is required")?;
    Ok(args)
}

fn build(args: &Args) -> freshet::Result<StreamingContext> {
    let config = StreamingConfig::new(Duration::from_millis(100)).workers(args.workers);
    let ctx = StreamingContext::new(config)?;
    ctx.click_stream(GeneratorOptions::rate(args.rate).limit(args.records))
        .uid("clicks")
        .sink(
            ParquetSink::new(&args.output)
                .partition_by(PartitionBy::column("page", |c: &Click| c.page.clone()))
                .rolling(
                    RollingPolicy::new()
                        .max_span(Duration::from_secs(10))
                        .max_bytes(64 << 20),
                ),
        )
        .uid("clicks-parquet");
    Ok(ctx)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let ctx = match &args.checkpoint {
        Some(dir) => StreamingContext::get_or_create(dir, || build(&args))?,
        None => build(&args)?,
    };
    ctx.run_available_now()?;

    let clicks = parquet_dataset::<Click>(&args.output)?.collect()?;
    let mut by_page: BTreeMap<String, u64> = BTreeMap::new();
    for c in &clicks {
        *by_page.entry(c.page.clone()).or_default() += 1;
    }
    let mut files = 0;
    for entry in std::fs::read_dir(&args.output)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("page=") {
            files += std::fs::read_dir(entry.path())?.count();
        }
    }
    println!(
        "{} clicks in {files} Parquet files under {}",
        clicks.len(),
        args.output.display()
    );
    for (page, n) in by_page {
        println!("  {page:<12} {n}");
    }
    Ok(())
}
