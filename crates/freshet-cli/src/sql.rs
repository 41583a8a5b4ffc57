//! `freshet sql`: a continuous SQL query over files or the demo's click stream, printed per
//! batch or written to files.

use crate::demo::UiArgs;
use anyhow::{bail, Context};
use clap::Args;
use freshet::source::file_stream::FileStreamOptions;
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, StreamingConfig, StreamingContext};
use freshet_connectors::kafka::KafkaSource;
use freshet_sql::files::{FileFormat, RowsFileSink};
use freshet_sql::formats::{
    infer_csv, infer_json_lines, infer_json_lines_from, text_schema, LineFormat, INFER_LINES,
};
use freshet_sql::{SqlContext, StreamOptions};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Options of `freshet sql`.
#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The query. `EXPLAIN <query>` prints how it maps onto Freshet's operators and exits.
    query: String,
    /// A stream the query can read, as NAME=SPEC (repeatable). SPEC is `json:DIR` (JSON
    /// lines), `csv:DIR` (CSV with a header line) or `text:DIR` (one column, `line`): the files
    /// of DIR, those present at start and each new one; columns are inferred from the files
    /// present. `kafka:BROKERS/TOPIC`: the JSON values of a topic's records, from the oldest
    /// (columns inferred from its first records). Or `demo`: the demo's synthetic clicks (seq, user, page, dwell_ms, and ts, the
    /// batch time in milliseconds).
    #[arg(long = "source", value_name = "NAME=SPEC", required = true)]
    sources: Vec<String>,
    /// A static table the query can join, as NAME=SPEC (repeatable), loaded once at start:
    /// `json:PATH` or `csv:PATH`, a file or the files of a directory; or `postgres:URL`, the
    /// PostgreSQL table NAME in the database at URL (e.g.
    /// `postgres:postgresql://user@localhost/db`).
    #[arg(long = "table", value_name = "NAME=SPEC")]
    tables: Vec<String>,
    /// Read the stream NAME as a tumbling window of MS milliseconds of processing time (a
    /// multiple of --batch-ms), as NAME=MS (repeatable): how two streams are joined over more
    /// than one batch.
    #[arg(long = "window", value_name = "NAME=MS")]
    windows: Vec<String>,
    /// Where the results go: `print` (a table per batch on standard output), `json:DIR` or
    /// `csv:DIR` (a file per batch and worker, exactly once across restarts with --checkpoint).
    #[arg(long, value_name = "SPEC", default_value = "print")]
    sink: String,
    /// The batch interval in milliseconds (1 ..= 3600000, one hour).
    #[arg(long, env = "FRESHET_BATCH_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    batch_ms: u64,
    /// Worker threads (1 ..= 256).
    #[arg(long, env = "FRESHET_WORKERS", default_value_t = 2, value_parser = crate::ranges::workers)]
    workers: usize,
    /// Stop gracefully after this many batches (1 ..= 1000000000; default: run until Ctrl-C).
    #[arg(long, env = "FRESHET_BATCHES", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    batches: Option<u64>,
    /// Process what the sources hold now, then stop (the open windows are closed at the end).
    #[arg(long, conflicts_with = "batches")]
    available_now: bool,
    /// How far the watermark of windowed queries trails the largest event time seen, in
    /// milliseconds (0 ..= 86400000, a day).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    watermark_delay_ms: u64,
    /// Clicks generated per second by the `demo` source (1 ..= 5000000).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    rate: u64,
    #[command(flatten)]
    ui: UiArgs,
    #[command(flatten)]
    job: crate::job::JobArgs,
}

/// A click of the `demo` source, with its batch time as event time.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DemoClick {
    seq: u64,
    user: u32,
    page: String,
    dwell_ms: u32,
    ts: u64,
}

/// `NAME=SPEC` split, or an error naming the option.
fn name_and_spec<'a>(option: &str, value: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    match value.split_once('=') {
        Some((name, spec)) if !name.is_empty() && !spec.is_empty() => Ok((name, spec)),
        _ => bail!("{option} {value:?}: expected NAME=SPEC"),
    }
}

fn register_source(
    ctx: &StreamingContext,
    sql: &SqlContext,
    value: &str,
    args: &SqlArgs,
) -> anyhow::Result<bool> {
    let (name, spec) = name_and_spec("--source", value)?;
    let mut options =
        StreamOptions::new().allowed_delay(Duration::from_millis(args.watermark_delay_ms));
    if let Some(len) = window_of(name, args)? {
        options = options.window(len, len);
    }
    let files = |dir: &str| {
        ctx.text_file_stream_with(
            PathBuf::from(dir),
            FileStreamOptions::new().include_existing(true),
        )
    };
    let context = || format!("--source {value}");
    match spec.split_once(':') {
        Some(("json", dir)) => {
            let schema = infer_json_lines(dir.as_ref()).with_context(context)?;
            sql.register_lines(name, &files(dir), LineFormat::JsonLines, schema, options)?;
        }
        Some(("csv", dir)) => {
            let (schema, header) = infer_csv(dir.as_ref()).with_context(context)?;
            sql.register_lines(
                name,
                &files(dir),
                LineFormat::Csv { header },
                schema,
                options,
            )?;
        }
        Some(("text", dir)) => {
            sql.register_lines(name, &files(dir), LineFormat::Text, text_schema(), options)?;
        }
        Some(("kafka", at)) => {
            let Some((brokers, topic)) = at.rsplit_once('/').filter(|(b, t)| !b.is_empty() && !t.is_empty()) else {
                bail!("--source {value}: expected kafka:BROKERS/TOPIC");
            };
            let sample = crate::kafka_sample::sample_values(brokers, topic, INFER_LINES)
                .with_context(context)?;
            let schema = infer_json_lines_from(&sample).with_context(context)?;
            let values = ctx.direct_stream(KafkaSource::direct(brokers, [topic]).utf8_values());
            sql.register_lines(name, &values, LineFormat::JsonLines, schema, options)?;
        }
        None if spec == "demo" => {
            let clicks = ctx
                .click_stream(GeneratorOptions::rate(args.rate))
                .map(|c| DemoClick {
                    seq: c.seq,
                    user: c.user,
                    page: c.page,
                    dwell_ms: c.dwell_ms,
                    ts: freshet::current_batch_time().map_or(0, BatchTime::millis),
                });
            sql.register_stream_with(name, &clicks, options)?;
            return Ok(true);
        }
        _ => bail!(
            "--source {value}: SPEC must be json:DIR, csv:DIR, text:DIR, kafka:BROKERS/TOPIC or demo"
        ),
    }
    Ok(false)
}

/// The window `--window` gives the stream `name`, if any.
fn window_of(name: &str, args: &SqlArgs) -> anyhow::Result<Option<Duration>> {
    for value in &args.windows {
        let (stream, ms) = name_and_spec("--window", value)?;
        if stream != name {
            continue;
        }
        let ms: u64 = ms
            .parse()
            .ok()
            .filter(|ms| (1..=86_400_000).contains(ms) && ms % args.batch_ms == 0)
            .with_context(|| {
                format!(
                    "--window {value}: MS must be a multiple of --batch-ms ({}) in 1..=86400000",
                    args.batch_ms
                )
            })?;
        return Ok(Some(Duration::from_millis(ms)));
    }
    Ok(None)
}

fn register_table(sql: &SqlContext, value: &str) -> anyhow::Result<()> {
    let (name, spec) = name_and_spec("--table", value)?;
    if let Some(url) = spec.strip_prefix("postgres:") {
        let (schema, batches) =
            crate::pg_table::load(url, name).with_context(|| format!("--table {value}"))?;
        sql.register_table(name, schema, batches)?;
        return Ok(());
    }
    let (format, path) = match spec.split_once(':') {
        Some(("json", p)) => (FileFormat::JsonLines, PathBuf::from(p)),
        Some(("csv", p)) => (FileFormat::Csv, PathBuf::from(p)),
        _ => bail!("--table {value}: SPEC must be json:PATH, csv:PATH or postgres:URL"),
    };
    let (schema, batches) = freshet_sql::formats::read_table(&path, format)
        .with_context(|| format!("--table {value}"))?;
    sql.register_table(name, schema, batches)?;
    Ok(())
}

/// Runs the query.
pub fn run(args: SqlArgs) -> anyhow::Result<()> {
    let interval = Duration::from_millis(args.batch_ms);
    // An available-now run emits the processing-time windows (--window) holding its input
    // before it stops.
    let config = StreamingConfig::new(interval)
        .workers(args.workers)
        .drain_windows(true);
    let ctx = StreamingContext::new(config).context("invalid settings")?;
    let sql = SqlContext::new();
    let mut endless = false;
    for source in &args.sources {
        endless |= register_source(&ctx, &sql, source, &args)?;
    }
    for value in &args.windows {
        let (name, _) = name_and_spec("--window", value)?;
        if !args
            .sources
            .iter()
            .any(|s| s.split_once('=').is_some_and(|(n, _)| n == name))
        {
            bail!("--window {value}: no --source is named {name}");
        }
    }
    for table in &args.tables {
        register_table(&sql, table)?;
    }
    let query = args.query.trim();
    if let Some(rest) = strip_keyword(query, "EXPLAIN") {
        print!("{}", sql.explain(rest)?);
        return Ok(());
    }
    if args.available_now && endless {
        bail!("--available-now needs sources that end: the demo source never does (use --batches)");
    }
    let results = sql.sql_stream(query)?;
    match args.sink.split_once(':') {
        _ if args.sink == "print" => {
            results.print();
        }
        Some(("json", dir)) => {
            results
                .rows()
                .sink(RowsFileSink::new(dir, FileFormat::JsonLines));
        }
        Some(("csv", dir)) => {
            results.rows().sink(RowsFileSink::new(dir, FileFormat::Csv));
        }
        _ => bail!("--sink {}: expected print, json:DIR or csv:DIR", args.sink),
    }
    let attached = args.job.attach(&ctx)?;
    let ui = args.ui.start(&ctx)?;
    if args.available_now {
        ctx.run_available_now().context("the query failed")?;
    } else {
        ctx.start().context("cannot start the query")?;
        match (args.batches, ctx.first_batch_time()) {
            (Some(n), Some(first)) => {
                let last = BatchTime(first.0 + (n - 1) * args.batch_ms);
                let wait = interval * (n as u32 + 1) + Duration::from_secs(30);
                match ctx.await_batch(last, wait) {
                    Ok(()) => ctx.stop(true)?,
                    Err(freshet::Error::Stopped) => ctx.await_termination()?,
                    Err(e) => return Err(e).context("the query failed"),
                }
            }
            _ => ctx.await_termination().context("the query failed")?,
        }
    }
    attached.finish();
    if let Some(ui) = ui {
        ui.shutdown();
    }
    Ok(())
}

/// `text` without its leading `keyword` (any case) and the whitespace after it.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace))
        .then(|| rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_is_recognised_in_any_case() {
        assert_eq!(
            strip_keyword("explain  SELECT 1", "EXPLAIN"),
            Some("SELECT 1")
        );
        assert_eq!(strip_keyword("EXPLAINED", "EXPLAIN"), None);
        assert_eq!(strip_keyword("SELECT 1", "EXPLAIN"), None);
    }
}
