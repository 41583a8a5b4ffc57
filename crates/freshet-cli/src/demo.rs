//! `freshet demo`: page views of a synthetic click stream, counted per batch.

use crate::report::BatchReporter;
use anyhow::Context;
use clap::Args;
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, StreamingConfig, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

/// Options of `freshet demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The batch interval in milliseconds.
    #[arg(long, default_value_t = 1000)]
    batch_ms: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Stop gracefully after this many batches (default: run until Ctrl-C).
    #[arg(long)]
    batches: Option<u64>,
    /// Click events generated per second.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// How many pages each batch line shows.
    #[arg(long, default_value_t = 3)]
    top: usize,
}

/// The `n` largest counts, largest first (ties by name).
pub fn top(mut counts: Vec<(String, u64)>, n: usize) -> Vec<(String, u64)> {
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(n);
    counts
}

fn describe(counts: &[(String, u64)]) -> String {
    let parts: Vec<String> = counts.iter().map(|(p, c)| format!("{p} {c}")).collect();
    format!("top pages: {}", parts.join(", "))
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let config = StreamingConfig::new(Duration::from_millis(args.batch_ms)).workers(args.workers);
    let ctx = StreamingContext::new(config).context("invalid demo settings")?;
    let reporter = Arc::new(BatchReporter::default());
    ctx.add_listener(reporter.clone());

    let n = args.top;
    let sink = reporter.clone();
    ctx.click_stream(GeneratorOptions::rate(args.rate))
        .map(|click| (click.page, 1u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_batch(move |time, counts| sink.set_results(time, describe(&top(counts, n))));

    ctx.start().context("cannot start the demo")?;
    println!(
        "freshet demo: {} click events/s, {} ms batches, {} workers; Ctrl-C stops gracefully",
        args.rate, args.batch_ms, args.workers
    );
    match (args.batches, ctx.first_batch_time()) {
        (Some(n), Some(first)) => {
            let last = BatchTime(first.0 + (n.max(1) - 1) * args.batch_ms);
            let wait = Duration::from_millis(args.batch_ms * (n + 1)) + Duration::from_secs(30);
            ctx.await_batch(last, wait)?;
            ctx.stop(true)?;
        }
        _ => ctx.await_termination()?,
    }
    println!("stopped after {} batches", ctx.batches_completed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_orders_by_count_then_name() {
        let counts = vec![
            ("/b".to_string(), 5),
            ("/a".to_string(), 5),
            ("/c".to_string(), 9),
            ("/d".to_string(), 1),
        ];
        assert_eq!(
            top(counts, 3),
            vec![
                ("/c".to_string(), 9),
                ("/a".to_string(), 5),
                ("/b".to_string(), 5)
            ]
        );
    }
}
