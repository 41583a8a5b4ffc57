//! A live dashboard feed: page views from the built-in click generator, counted per page and
//! written to Redis exactly once — all-time counters in a hash, and the most viewed pages in a
//! sorted set trimmed to the top N.
//!
//! ```sh
//! cargo run -p freshet-connectors --example redis_top_pages -- \
//!     --url redis://127.0.0.1/ --checkpoint CK_DIR --top 5 --seconds 20
//! redis-cli ZREVRANGE pages:top 0 -1 WITHSCORES
//! redis-cli HGETALL pages:views
//! ```
//!
//! Two outputs, two ways of keeping a top N:
//!
//! - `pages:views` (hash): each batch's views per page added with `HINCRBY`. Increments are
//!   not idempotent; the sink's batch marker makes them exactly-once across restarts.
//! - `pages:top` (sorted set): each page's running total, kept in checkpointed state
//!   (`update_state_by_key`), set with `ZADD` and trimmed to the `--top` highest
//!   (`ZREMRANGEBYRANK`). Setting totals, rather than adding to scores, keeps the ranking
//!   exact when a page drops out of the top and comes back.
//!
//! Stop it at any moment (Ctrl-C, or even `kill -9`) and start it again with the same
//! arguments: it resumes from the checkpoint under `CK_DIR`, replays the batches after it, and
//! the sink skips those Redis already holds, so the sum of `pages:views` always equals the
//! number of clicks processed (with `--top 12` every page is ranked, and the scores of
//! `pages:top` add up to the same number). Every `--print-ms` it prints the top pages as Redis
//! has them.

use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::redis::RedisSink;
use redis::Commands;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    url: String,
    prefix: String,
    checkpoint: PathBuf,
    top: u64,
    rate: u64,
    batch_ms: u64,
    workers: usize,
    seconds: Option<u64>,
    print_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: "redis://127.0.0.1/".into(),
        prefix: "pages:".into(),
        checkpoint: PathBuf::new(),
        top: 5,
        rate: 2000,
        batch_ms: 1000,
        workers: 2,
        seconds: None,
        print_ms: 2000,
    };
    let mut checkpoint = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{flag} needs a number, not {value}"))
        };
        match flag.as_str() {
            "--url" => a.url = value.clone(),
            "--prefix" => a.prefix = value.clone(),
            "--checkpoint" => checkpoint = Some(PathBuf::from(&value)),
            "--top" => a.top = number()?,
            "--rate" => a.rate = number()?,
            "--batch-ms" => a.batch_ms = number()?,
            "--workers" => a.workers = number()? as usize,
            "--seconds" => a.seconds = Some(number()?),
            "--print-ms" => a.print_ms = number()?.max(100),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.checkpoint = checkpoint.ok_or("--checkpoint DIR is required")?;
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let a = parse_args()?;
    let ctx = StreamingContext::get_or_create(&a.checkpoint, || {
        let config = StreamingConfig::new(Duration::from_millis(a.batch_ms)).workers(a.workers);
        let ctx = StreamingContext::new(config)?;
        let views = ctx
            .click_stream(GeneratorOptions::rate(a.rate))
            .uid("clicks")
            .map(|c| c.page)
            .count_by_value();
        // All-time counters: this batch's views added, exactly once thanks to the marker.
        views
            .sink(
                RedisSink::hash(&a.url, "views")
                    .key_prefix(&a.prefix)
                    .increments(),
            )
            .uid("page-views");
        // The top N: running totals set as scores, the rest trimmed away.
        views
            .update_state_by_key(|new: Vec<u64>, total: Option<u64>| {
                Some(total.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .sink(
                RedisSink::sorted_set(&a.url, "top")
                    .key_prefix(&a.prefix)
                    .top(a.top),
            )
            .uid("top-pages");
        Ok(ctx)
    })?;
    ctx.start()?;

    let mut conn = redis::Client::open(a.url.as_str())?.get_connection()?;
    let started = Instant::now();
    let (top_key, views_key) = (format!("{}top", a.prefix), format!("{}views", a.prefix));
    loop {
        if ctx.await_termination_or_timeout(Duration::from_millis(a.print_ms))? {
            return Ok(());
        }
        let top: Vec<(String, f64)> = conn.zrevrange_withscores(&top_key, 0, -1)?;
        let all: Vec<u64> = conn.hvals(&views_key)?;
        let line: Vec<String> = top.iter().map(|(page, n)| format!("{page} {n}")).collect();
        println!(
            "{:>5.1}s  {} views in all; top {}: {}",
            started.elapsed().as_secs_f64(),
            all.iter().sum::<u64>(),
            a.top,
            line.join(", ")
        );
        if a.seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            ctx.stop(true)?;
            return Ok(());
        }
    }
}
