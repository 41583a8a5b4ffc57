//! `freshet demo`: page views of a synthetic click stream, counted per batch.

use crate::report::BatchReporter;
use anyhow::Context;
use clap::Args;
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, StreamingConfig, StreamingContext};
use freshet_ui::{UiConfig, UiServer};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

/// Options of `freshet demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The batch interval in milliseconds (1 ..= 3600000, one hour).
    #[arg(long, env = "FRESHET_BATCH_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    batch_ms: u64,
    /// Worker threads (1 ..= 256).
    #[arg(long, env = "FRESHET_WORKERS", default_value_t = 2, value_parser = crate::ranges::workers)]
    workers: usize,
    /// Stop gracefully after this many batches (1 ..= 1000000000; default: run until Ctrl-C).
    #[arg(long, env = "FRESHET_BATCHES", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    batches: Option<u64>,
    /// Click events generated per second (1 ..= 5000000).
    #[arg(long, env = "FRESHET_RATE", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    rate: u64,
    /// The length of the sliding window, in batches (1 ..= 10000).
    #[arg(long, env = "FRESHET_WINDOW_BATCHES", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    window_batches: u64,
    /// How many pages each batch line shows (1 ..= 100000).
    #[arg(long, env = "FRESHET_TOP", default_value_t = 3, value_parser = crate::ranges::top)]
    top: usize,
    #[command(flatten)]
    ui: UiArgs,
    #[command(flatten)]
    job: crate::job::JobArgs,
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,
}

/// Options of the web UI, shared by the commands that run a stream.
#[derive(Args, Debug)]
pub struct UiArgs {
    /// Where the web UI listens (`HOST:PORT`), or `off`. An address other than loopback
    /// requires --ui-token.
    #[arg(long, env = "FRESHET_UI_ADDR", value_name = "ADDR|off", default_value = freshet_ui::DEFAULT_ADDR)]
    ui_addr: String,
    /// A token every UI request must carry (`Authorization: Bearer TOKEN` or `?token=TOKEN`).
    #[arg(long, env = "FRESHET_UI_TOKEN", value_name = "TOKEN")]
    ui_token: Option<String>,
}

impl UiArgs {
    /// Starts the UI of `ctx` as asked and prints its address; `None` when it is off, or in a
    /// process of a cluster other than the driver.
    pub fn start(&self, ctx: &StreamingContext) -> anyhow::Result<Option<UiServer>> {
        let Some(config) = self.config()? else {
            return Ok(None);
        };
        if !ctx.is_driver() {
            println!("the UI runs in process 0 of the cluster");
            return Ok(None);
        }
        let ui = UiServer::start(ctx, config).context("cannot start the web UI")?;
        println!("UI at {}", ui.url());
        Ok(Some(ui))
    }

    /// The UI's settings; `None` when it is off.
    pub fn config(&self) -> anyhow::Result<Option<UiConfig>> {
        if self.ui_addr.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let addr = match self.ui_addr.to_socket_addrs() {
            Ok(mut found) => found.next().with_context(|| {
                format!(
                    "--ui-addr {}: the name resolves to no address",
                    self.ui_addr
                )
            })?,
            Err(e) => anyhow::bail!(
                "--ui-addr {:?}: {e} (expected HOST:PORT, or off)",
                self.ui_addr
            ),
        };
        let mut config = UiConfig::new(addr);
        config.token = self.ui_token.clone();
        Ok(Some(config))
    }
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
    let config = args.cluster.apply(config)?;
    let ctx = StreamingContext::new(config).context("invalid demo settings")?;
    let reporter = Arc::new(BatchReporter::default());
    // In a cluster, the driver (process 0) reports the job's batches.
    if ctx.is_driver() {
        ctx.add_listener(reporter.clone());
    }

    let n = args.top;
    let sink = reporter.clone();
    let views = ctx
        .click_stream(GeneratorOptions::rate(args.rate))
        .map(|click| (click.page, 1u64))
        .reduce_by_key(|a, b| a + b);
    views.publish("page views", 20);
    views.foreach_batch(move |time, counts| sink.set_results(time, describe(&top(counts, n))));

    // The same counts over a sliding window, kept incrementally: each batch adds the batch that
    // enters and subtracts the one that leaves; pages whose count drops to zero are dropped.
    let interval = Duration::from_millis(args.batch_ms);
    let windowed = views.reduce_by_key_and_window_inv_filtered(
        |a, b| a + b,
        |a, b| a - b,
        interval * args.window_batches as u32,
        interval,
        |kv: &(String, u64)| kv.1 > 0,
    );
    windowed.publish("page views, sliding window", 20);
    let sink = reporter.clone();
    let label = format!("last {} batches", args.window_batches);
    windowed.foreach_batch(move |time, counts| {
        sink.add_results(
            time,
            format!(
                "{label}: {}",
                describe(&top(counts, n)).trim_start_matches("top pages: ")
            ),
        )
    });

    let attached = args.job.attach(&ctx)?;
    let ui = args.ui.start(&ctx)?;
    ctx.start().context("cannot start the demo")?;
    if ctx.is_driver() {
        println!(
            "freshet demo: {} click events/s, {} ms batches, {} workers; Ctrl-C stops gracefully",
            args.rate, args.batch_ms, args.workers
        );
    }
    match (args.batches, ctx.first_batch_time()) {
        (Some(n), Some(first)) => {
            // In range by the options' bounds: at most 10^9 batches of at most an hour.
            let last = BatchTime(first.0 + (n - 1) * args.batch_ms);
            let wait = Duration::from_millis(args.batch_ms * (n + 1)) + Duration::from_secs(30);
            match ctx.await_batch(last, wait) {
                Ok(()) => ctx.stop(true)?,
                // Stopped before the last batch by a signal (a graceful stop): not an error.
                Err(freshet::Error::Stopped) => ctx.await_termination()?,
                Err(e) => return Err(e.into()),
            }
        }
        _ => ctx.await_termination()?,
    }
    if ctx.is_driver() {
        println!("stopped after {} batches", ctx.batches_completed());
    }
    attached.finish();
    if let Some(ui) = ui {
        ui.shutdown();
    }
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
