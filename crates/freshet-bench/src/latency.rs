//! End-to-end latency: from a record's creation to its output, at a fixed input rate.
//!
//! A custom [`Receiver`] produces records `(sequence, created_us)` at `--rate` records per
//! second, in small paced bursts, each stamped with its creation time in microseconds since a
//! process-wide [`Instant`]. The pipeline is light: `map` (key modulo 1024) then either
//! - `filter` (drops 1 key in 1024) — every surviving record's latency is measured in
//!   `foreach_batch` as `now - created`; or
//! - `reduce_by_key(min)` — the latency of the oldest record of every key of every batch (an
//!   upper bound on the batch's record latencies).
//!
//! The context runs on the system clock for `--seconds` per batch interval; the first second is
//! a warm-up and is not counted. The figures are p50, p99 and max of the latencies, and the
//! p50/p99 of the engine's own per-batch processing time and scheduling delay
//! ([`StreamingContext::recent_batches`]).

use crate::stats::{percentile, warn_if_busy};
use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::{BatchInfo, StreamingConfig, StreamingContext};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Settings of the latency scenario.
#[derive(clap::Parser, Debug, Clone)]
pub struct Args {
    /// Batch intervals in milliseconds, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    pub intervals: Vec<u64>,
    /// Input records per second.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Seconds each configuration runs (the first is a warm-up).
    #[arg(long, default_value_t = 8)]
    pub seconds: u64,
    /// Worker counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<usize>,
    /// The pipeline after `map`: `filter` (per-record latency) or `reduce` (`reduce_by_key`,
    /// oldest record per key).
    #[arg(long, default_value = "filter")]
    pub pipeline: Pipeline,
}

/// The light pipelines the scenario can run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipeline {
    /// `map` then `filter`: every record's latency.
    Filter,
    /// `map` then `reduce_by_key(min)`: the oldest record's latency per key and batch.
    Reduce,
}

/// Microseconds since the first call in this process.
fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Produces `rate` records per second, stamped with their creation time, until stopped.
struct PacedProducer {
    rate: u64,
}

impl Receiver for PacedProducer {
    type Item = (u64, u64);

    fn name(&self) -> String {
        format!("paced producer {}/s", self.rate)
    }

    fn run(&mut self, ctx: &ReceiverContext<(u64, u64)>) -> Result<(), freshet::SourceError> {
        let start = Instant::now();
        let mut produced = 0u64;
        let mut buf = Vec::new();
        while !ctx.is_stopped() {
            let due = (start.elapsed().as_nanos() * self.rate as u128 / 1_000_000_000) as u64;
            if due > produced {
                let stamp = now_us();
                buf.extend((produced..due).map(|seq| (seq, stamp)));
                produced = due;
                ctx.store_many(std::mem::take(&mut buf));
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        Ok(())
    }
}

/// The figures of one configuration.
struct Outcome {
    latencies_us: Vec<u64>,
    batches: Vec<BatchInfo>,
    records_out: u64,
}

/// Runs one configuration.
fn measure(args: &Args, interval_ms: u64, workers: usize) -> anyhow::Result<Outcome> {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(interval_ms))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )?;
    let warmup_end = now_us() + 1_000_000;
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&latencies);
    let record = move |stamps: &mut dyn Iterator<Item = u64>| {
        let now = now_us();
        let mut l = sink.lock().unwrap_or_else(|p| p.into_inner());
        l.extend(
            stamps
                .filter(|&s| s >= warmup_end)
                .map(|s| now.saturating_sub(s)),
        );
    };
    let keyed = ctx
        .receiver_stream(PacedProducer { rate: args.rate })
        .map(|(seq, created)| (seq % 1024, created));
    match args.pipeline {
        Pipeline::Filter => keyed
            .filter(|(k, _)| *k != 1023)
            .foreach_batch(move |_t, recs| record(&mut recs.into_iter().map(|r| r.1))),
        Pipeline::Reduce => keyed
            .reduce_by_key(|a, b| a.min(b))
            .foreach_batch(move |_t, recs| record(&mut recs.into_iter().map(|r| r.1))),
    };
    ctx.start()?;
    std::thread::sleep(Duration::from_secs(args.seconds.max(2)));
    ctx.stop(true)?;
    let warm_ms = ctx.first_batch_time().map_or(0, |t| t.millis() + 1_000);
    let batches: Vec<BatchInfo> = ctx
        .recent_batches()
        .into_iter()
        .filter(|b| b.time.millis() >= warm_ms)
        .collect();
    let mut latencies_us =
        std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    latencies_us.sort_unstable();
    let records_out = latencies_us.len() as u64;
    Ok(Outcome {
        latencies_us,
        batches,
        records_out,
    })
}

fn duration_percentiles(batches: &[BatchInfo], f: impl Fn(&BatchInfo) -> Duration) -> (u64, u64) {
    let mut v: Vec<u64> = batches.iter().map(|b| f(b).as_micros() as u64).collect();
    v.sort_unstable();
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

fn fmt_ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// Runs the scenario and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!(
        "\n== latency == ({} records/s, {} s per configuration, pipeline map + {:?})",
        args.rate, args.seconds, args.pipeline
    );
    warn_if_busy();
    let mut lines = Vec::new();
    for &interval in &args.intervals {
        for &workers in &args.workers {
            let o = measure(args, interval, workers)?;
            let l = &o.latencies_us;
            let (proc50, proc99) = duration_percentiles(&o.batches, |b| b.processing_time);
            let (sched50, sched99) = duration_percentiles(&o.batches, |b| b.scheduling_delay);
            let line = format!(
                "{:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
                interval,
                workers,
                fmt_ms(percentile(l, 0.5)),
                fmt_ms(percentile(l, 0.99)),
                fmt_ms(l.last().copied().unwrap_or(0)),
                o.records_out,
                fmt_ms(proc50),
                fmt_ms(proc99),
                fmt_ms(sched50),
                fmt_ms(sched99),
            );
            println!("  {line}");
            lines.push(line);
        }
    }
    println!(
        "\n{:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "interval",
        "workers",
        "p50 ms",
        "p99 ms",
        "max ms",
        "measured",
        "proc p50",
        "proc p99",
        "sched p50",
        "sched p99"
    );
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
