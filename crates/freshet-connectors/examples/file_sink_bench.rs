//! Throughput of the file sinks and typed readers: JSON lines, CSV and Parquet.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --no-default-features --features parquet \
//!     --example file_sink_bench -- --batches 50 --rows 20000
//! ```
//!
//! Writes `--batches` batches of `--rows` records each through one writer of each sink (one
//! committed file per batch, fsync off, then once more with fsync on, and rolled into larger
//! files), then reads the files back as a typed dataset. Prints rows/s and MB/s, where MB are
//! the bytes of the files written (10⁶ bytes). Figures, not assertions.

use freshet::sink::{Sink, SinkContext, SinkWriter};
use freshet::BatchTime;
use freshet_connectors::files::{
    read_dataset, CsvOptions, CsvSink, FileFormat, JsonLinesSink, ReadOptions, RollingPolicy,
};
use freshet_connectors::parquet::ParquetSink;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A record with the usual column types.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    id: u64,
    user: u32,
    page: String,
    price: f64,
    premium: bool,
    referrer: Option<String>,
    at_ms: i64,
}

fn event(i: u64) -> Event {
    const PAGES: [&str; 6] = ["/", "/products", "/search", "/cart", "/checkout", "/help"];
    Event {
        id: i,
        user: (i.wrapping_mul(2_654_435_761) % 100_000) as u32,
        page: PAGES[(i % 6) as usize].to_string(),
        price: (i % 10_000) as f64 / 100.0,
        premium: i.is_multiple_of(7),
        referrer: i
            .is_multiple_of(3)
            .then(|| format!("https://example.com/ref/{}", i % 97)),
        at_ms: 1_700_000_000_000 + i as i64,
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('_') {
            continue;
        }
        total += if p.is_dir() {
            dir_bytes(&p)
        } else {
            e.metadata().map_or(0, |m| m.len())
        };
    }
    total
}

fn write_all<S: Sink<Event>>(
    sink: &S,
    batches: &[Vec<Event>],
) -> Result<f64, Box<dyn std::error::Error>> {
    let ctx = SinkContext {
        output_id: "bench".into(),
        partition: 0,
        partitions: 1,
    };
    let start = Instant::now();
    let mut w = sink.open(&ctx)?;
    for (i, batch) in batches.iter().enumerate() {
        let t = BatchTime((i as u64 + 1) * 100);
        w.write(t, batch)?;
        w.commit(t)?;
    }
    drop(w); // a rolling writer rolls what is staged
    Ok(start.elapsed().as_secs_f64())
}

fn report(what: &str, rows: u64, bytes: u64, secs: f64) {
    println!(
        "{what:<34} {:>12.0} rows/s {:>9.1} MB/s {:>9.1} MB",
        rows as f64 / secs,
        bytes as f64 / 1e6 / secs,
        bytes as f64 / 1e6
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut batches, mut rows) = (50usize, 20_000u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--batches" => batches = value.parse()?,
            "--rows" => rows = value.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let data: Vec<Vec<Event>> = (0..batches as u64)
        .map(|b| (b * rows..(b + 1) * rows).map(event).collect())
        .collect();
    let total = batches as u64 * rows;
    println!("{batches} batches x {rows} rows = {total} rows, one writer");

    let root = tempfile::tempdir()?;
    let csv = FileFormat::Csv(CsvOptions::default());
    let cases: Vec<(&str, FileFormat, MakeSink)> = vec![
        (
            "JSON lines",
            FileFormat::JsonLines,
            Box::new(|d| Box::new(JsonLinesSink::new(d).sync(false))),
        ),
        (
            "JSON lines, fsync",
            FileFormat::JsonLines,
            Box::new(|d| Box::new(JsonLinesSink::new(d))),
        ),
        (
            "JSON lines, rolled",
            FileFormat::JsonLines,
            Box::new(|d| {
                Box::new(
                    JsonLinesSink::new(d)
                        .sync(false)
                        .rolling(RollingPolicy::new()),
                )
            }),
        ),
        (
            "CSV",
            csv,
            Box::new(|d| Box::new(CsvSink::new(d).sync(false))),
        ),
        (
            "Parquet (snappy)",
            FileFormat::Parquet,
            Box::new(|d| Box::new(ParquetSink::new(d).sync(false).timestamp_millis("at_ms"))),
        ),
        (
            "Parquet (snappy), fsync",
            FileFormat::Parquet,
            Box::new(|d| Box::new(ParquetSink::new(d).timestamp_millis("at_ms"))),
        ),
        (
            "Parquet (snappy), rolled",
            FileFormat::Parquet,
            Box::new(|d| {
                Box::new(
                    ParquetSink::new(d)
                        .sync(false)
                        .timestamp_millis("at_ms")
                        .rolling(RollingPolicy::new()),
                )
            }),
        ),
    ];
    for (i, (name, format, make)) in cases.iter().enumerate() {
        let dir = root.path().join(format!("case-{i}"));
        let sink = make(&dir);
        let secs = sink.write(&data)?;
        let bytes = dir_bytes(&dir);
        report(&format!("write {name}"), total, bytes, secs);
        let start = Instant::now();
        let loaded = read_dataset::<Event>(&dir, *format, &ReadOptions::new())?;
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(loaded.records, total);
        report(&format!("read  {name}"), total, bytes, secs);
    }
    Ok(())
}

/// Makes a sink writing under a directory.
type MakeSink = Box<dyn Fn(&Path) -> Box<dyn BenchSink>>;

/// A sink of events, object-safe for the table of cases.
trait BenchSink {
    fn write(&self, batches: &[Vec<Event>]) -> Result<f64, Box<dyn std::error::Error>>;
}

impl<S: Sink<Event>> BenchSink for S {
    fn write(&self, batches: &[Vec<Event>]) -> Result<f64, Box<dyn std::error::Error>> {
        write_all(self, batches)
    }
}
