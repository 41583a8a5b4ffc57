//! Scheduling overhead per batch: a queue stream of empty batches, run available-now, through a
//! trivial pipeline (`map` + `foreach_batch`).
//!
//! Batches are cut back to back (available-now does not wait for the clock), so the wall time
//! divided by the number of batches is the engine's fixed cost of one batch: planning, handing
//! splits to the workers, stepping the dataflow, progress tracking, gathering on worker 0 and
//! reporting completion. Also printed: percentiles of the engine's own per-batch processing
//! time ([`StreamingContext::recent_batches`], the last 1000 batches).

use crate::stats::{percentile, warn_if_busy};
use freshet::{StreamingConfig, StreamingContext};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of the empty-batch scenario.
#[derive(clap::Parser, Debug, Clone)]
pub struct Args {
    /// Number of empty batches per run.
    #[arg(long, default_value_t = 10_000)]
    pub batches: usize,
    /// Worker counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<usize>,
    /// Batches allowed in flight at once (the engine's default is 1).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub in_flight: Vec<usize>,
}

/// Runs the scenario and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!(
        "\n== empty-batch == ({} empty batches per run)",
        args.batches
    );
    warn_if_busy();
    let mut lines = Vec::new();
    for &in_flight in &args.in_flight {
        for &workers in &args.workers {
            let ctx = StreamingContext::new(
                StreamingConfig::new(Duration::from_millis(10))
                    .workers(workers)
                    .max_in_flight_batches(in_flight)
                    .stop_on_ctrl_c(false),
            )?;
            let seen = Arc::new(AtomicU64::new(0));
            let s = Arc::clone(&seen);
            ctx.queue_stream(vec![Vec::<u64>::new(); args.batches])
                .map(|x| x + 1)
                .foreach_batch(move |_t, _records| {
                    s.fetch_add(1, Ordering::Relaxed);
                });
            let start = Instant::now();
            ctx.run_available_now()?;
            let took = start.elapsed();
            let n = seen.load(Ordering::Relaxed);
            anyhow::ensure!(
                n >= args.batches as u64,
                "foreach_batch saw {n} batches, expected {}",
                args.batches
            );
            let mut proc: Vec<u64> = ctx
                .recent_batches()
                .iter()
                .map(|b| b.processing_time.as_micros() as u64)
                .collect();
            proc.sort_unstable();
            let line = format!(
                "{:>7} {:>9} {:>8.1} {:>12.1} {:>10} {:>10} {:>10}",
                workers,
                in_flight,
                took.as_secs_f64(),
                took.as_secs_f64() * 1e6 / n as f64,
                percentile(&proc, 0.5),
                percentile(&proc, 0.99),
                proc.last().copied().unwrap_or(0),
            );
            println!("  {line}");
            lines.push(line);
        }
    }
    println!(
        "\n{:>7} {:>9} {:>8} {:>12} {:>10} {:>10} {:>10}",
        "workers", "in-flight", "wall s", "us/batch", "proc p50", "proc p99", "proc max"
    );
    println!("{:>58}", "(processing time in us, last 1000 batches)");
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
