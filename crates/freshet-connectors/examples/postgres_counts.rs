//! Page views counted from a click stream and kept in PostgreSQL: the running count of every
//! page upserted into a table (the table behind a dashboard), and every click appended to a
//! second table, both exactly-once across crashes.
//!
//! ```sh
//! cargo run -p freshet-connectors --no-default-features --features postgres \
//!     --example postgres_counts -- \
//!     --connection "host=127.0.0.1 user=postgres dbname=test" --table page_views \
//!     --checkpoint CK_DIR --rate 1000 --limit 100000
//! psql -h 127.0.0.1 -U postgres test -c 'SELECT * FROM page_views ORDER BY views DESC'
//! ```
//!
//! The clicks come from the built-in generator, a replayable source: stop the program at any
//! moment (even with `kill -9`) and start it again with the same arguments; it resumes from
//! its checkpoint under `CK_DIR`, replays the batches after it, and the markers the sink
//! writes with each batch keep those replays from writing anything twice. Both tables are
//! created when missing: `<table>` (page, views) and `<table>_clicks` (seq, page, user_id).

use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::postgres::PostgresSink;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A row of the counts table.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PageViews {
    page: String,
    views: i64,
}

/// A row of the clicks table.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ClickRow {
    seq: i64,
    page: String,
    user_id: i64,
}

struct Args {
    connection: String,
    table: String,
    checkpoint: PathBuf,
    batch_ms: u64,
    workers: usize,
    rate: u64,
    limit: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        connection: "host=127.0.0.1 user=postgres dbname=test".into(),
        table: "page_views".into(),
        checkpoint: PathBuf::new(),
        batch_ms: 1000,
        workers: 2,
        rate: 1000,
        limit: None,
    };
    let mut checkpoint = None;
    let mut args = std::env::args().skip(1);
    let number = |flag: &str, v: &str| -> Result<u64, String> {
        v.parse()
            .map_err(|_| format!("{flag} needs a number, not {v}"))
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--connection" => a.connection = value,
            "--table" => a.table = value,
            "--checkpoint" => checkpoint = Some(PathBuf::from(&value)),
            "--batch-ms" => a.batch_ms = number(&flag, &value)?,
            "--workers" => a.workers = number(&flag, &value)? as usize,
            "--rate" => a.rate = number(&flag, &value)?,
            "--limit" => a.limit = Some(number(&flag, &value)?),
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
    let args = parse_args()?;
    let ctx = StreamingContext::get_or_create(&args.checkpoint, || {
        let config = StreamingConfig::new(Duration::from_millis(args.batch_ms))
            .workers(args.workers)
            .checkpoint_interval(3);
        let ctx = StreamingContext::new(config)?;
        let mut options = GeneratorOptions::rate(args.rate);
        if let Some(limit) = args.limit {
            options = options.limit(limit);
        }
        let clicks = ctx.click_stream(options).uid("clicks");
        clicks
            .map(|c| ClickRow {
                seq: c.seq as i64,
                page: c.page,
                user_id: i64::from(c.user),
            })
            .sink(
                PostgresSink::new(&args.connection, format!("{}_clicks", args.table))
                    .create_table(true),
            )
            .uid("clicks-to-pg");
        clicks
            .map(|c| (c.page, 1i64))
            .reduce_by_key(|a, b| a + b)
            .update_state_by_key(|new: Vec<i64>, total: Option<i64>| {
                Some(total.unwrap_or(0) + new.iter().sum::<i64>())
            })
            .map(|(page, views)| PageViews { page, views })
            .sink(
                PostgresSink::new(&args.connection, &args.table)
                    .upsert(["page"])
                    .create_table(true),
            )
            .uid("page-views-to-pg");
        Ok(ctx)
    })?;
    ctx.start()?;
    ctx.await_termination()?;
    Ok(())
}
