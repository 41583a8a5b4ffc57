//! Two queries over generated JSON lines: a filter with a projection, and a count per key per
//! event-time window.
//!
//! The input (by default 3,000,000 Nexmark-like bid events over 8 files, one JSON object per
//! line) is generated once, deterministically, under
//! [`data_root`](crate::stats::data_root)`/json-bids-*`, and reused by later runs. Each file
//! holds a contiguous run of events, in event-time order but for a jitter of up to 200 ms.
//! Before measuring, every file is read once so that all runs read from the page cache.
//!
//! Queries:
//! - A, filter + project: the bids with `price > PRICE_THRESHOLD` (about a quarter), projected to
//!   `(auction, price)`; checked: how many were kept and the sum of their prices;
//! - B, count per channel per tumbling 10 s window of `date_time`; checked: every
//!   `(window start, channel, count)`.
//!
//! Measured for each query, each `--reps` times (best and median reported, in lines per second
//! of wall time; also the best lines per CPU-second of the whole process):
//! - a hand-written single-thread loop: `read_to_string` per file, `serde_json::from_str` of
//!   each line into a struct borrowing its strings ([`BidRef`]), then the filter and sum, or an
//!   `FxHashMap<(u64, &str), u64>` per file merged into one with owned keys;
//! - Freshet streaming, run available-now with 1 and with 2 workers over
//!   `text_file_stream_with(dir, include_existing, max_files_per_batch)`, in the forms of
//!   [`Form`] that `--forms` selects: the textbook one (parse into an owned [`Bid`] with `map`,
//!   then `filter` and `map`, or `map` to `(channel, date_time)` and the event-time window API),
//!   the collector one (`flat_map_into` parsing into [`BidRef`] and pushing only what the query
//!   needs), the typed JSON-lines source, and SQL (`freshet_sql`, the lines decoded by Arrow).

use crate::stats::{
    best_and_median, generated, millions, per_sec, timed, warn_if_busy, write_file, Timed,
};
use crate::wordcount::{input_files, SplitMix};
use anyhow::{bail, Context as _};
use clap::builder::RangedU64ValueParser;
use freshet::event_time::{WatermarkOptions, WindowSpec};
use freshet::source::file_stream::FileStreamOptions;
use freshet::{DStream, StreamingConfig, StreamingContext};
use freshet_connectors::files::{TypedFileSource, TypedFileStreams, TypedStreamOptions};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Settings of the JSON scenario.
#[derive(clap::Parser, Debug, Clone)]
pub struct Args {
    /// Number of bid events (lines) in the input.
    #[arg(long, default_value_t = 3_000_000,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..=1_000_000_000))]
    pub events: u64,
    /// Number of input files.
    #[arg(long, default_value_t = 8,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub files: usize,
    /// How many times each measurement runs.
    #[arg(long, default_value_t = 3,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000))]
    pub reps: usize,
    /// Files per batch of the streaming runs.
    #[arg(long, default_value_t = 2,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub max_files_per_batch: usize,
    /// Worker counts of the streaming runs, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub workers: Vec<usize>,
    /// The Freshet forms measured, comma separated: textbook, collector, typed, sql.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "textbook,collector,typed,sql"
    )]
    pub forms: Vec<String>,
}

/// Query A keeps the bids priced above this (prices run from 1 to 100,000, skewed towards low
/// prices: about 25% are above it).
const PRICE_THRESHOLD: u64 = 42_000;

/// Query B's tumbling window size, in milliseconds of event time.
const WINDOW_MS: u64 = 10_000;

/// Query B's watermark delay in milliseconds: five times the input's largest jitter, so that
/// no bid is late.
const WATERMARK_DELAY_MS: u64 = 1_000;

/// The event time of the first bid: 2024-01-01 00:00:00 UTC, in milliseconds since the epoch.
const START_MS: u64 = 1_704_067_200_000;

/// The largest jitter added to a bid's event time, in milliseconds.
const MAX_JITTER_MS: u64 = 200;

/// The channels a bid comes through.
const CHANNELS: [&str; 8] = [
    "Google", "Facebook", "Baidu", "Apple", "Bing", "Yandex", "Naver", "Direct",
];

/// A bid as a user declares it: owned strings, so that it can be a Freshet record.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[allow(
    dead_code,
    reason = "every field is parsed, as a user's struct would declare them"
)]
struct Bid {
    auction: u64,
    bidder: u64,
    price: u64,
    channel: String,
    url: String,
    date_time: u64,
    extra: String,
}

/// A bid whose strings borrow from the line it was parsed from (no allocation per field).
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "every field is parsed, as in the owned `Bid`")]
struct BidRef<'a> {
    auction: u64,
    bidder: u64,
    price: u64,
    #[serde(borrow)]
    channel: &'a str,
    #[serde(borrow)]
    url: &'a str,
    date_time: u64,
    #[serde(borrow)]
    extra: &'a str,
}

/// The two queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Query {
    /// `price > PRICE_THRESHOLD`, projected to `(auction, price)`.
    Filter,
    /// Bids per channel per tumbling 10 s event-time window.
    Window,
}

impl Query {
    /// The query's letter in the per-run lines.
    fn letter(self) -> &'static str {
        match self {
            Query::Filter => "A",
            Query::Window => "B",
        }
    }

    /// The heading of the query's rows in the table.
    fn title(self) -> &'static str {
        match self {
            Query::Filter => "A: filter + project",
            Query::Window => "B: count per channel per 10 s event-time window",
        }
    }
}

/// How the Freshet pipeline is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `map` parsing into the owned [`Bid`], then `filter` and `map` (A) or `map` to
    /// `(channel, date_time)` (B): the textbook form.
    Textbook,
    /// `flat_map_into` parsing into the borrowed [`BidRef`] and pushing only the kept
    /// projections (A) or the `(channel, date_time)` pairs (B).
    Collector,
    /// The typed JSON-lines source (`freshet_connectors::files`) parsing each line straight
    /// into the owned [`Bid`], then the textbook form's `filter` and `map` (A) or `map` (B).
    Typed,
    /// The query in SQL (`freshet_sql`) over the lines decoded by Arrow's JSON reader.
    Sql,
}

/// What a query found.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// Query A: how many bids were kept and the sum of their prices.
    Kept {
        /// Bids kept.
        bids: u64,
        /// Sum of their prices.
        price_sum: u64,
    },
    /// Query B: `(window start, channel, count)` of every window, sorted.
    Windows(Vec<(u64, String, u64)>),
}

impl Answer {
    /// A short description for the per-run line.
    fn summary(&self) -> String {
        match self {
            Answer::Kept { bids, price_sum } => format!("{bids} kept, price sum {price_sum}"),
            Answer::Windows(w) => format!(
                "{} windows x channels, {} bids",
                w.len(),
                w.iter().map(|r| r.2).sum::<u64>()
            ),
        }
    }
}

/// The input's size: lines and bytes.
#[derive(Clone, Copy, Debug)]
struct Input {
    lines: u64,
    bytes: u64,
}

/// Runs the scenario and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(f) = args
        .forms
        .iter()
        .find(|f| !["textbook", "collector", "typed", "sql"].contains(&f.as_str()))
    {
        bail!("--forms {f}: expected textbook, collector, typed or sql");
    }
    println!("\n== json ==");
    let dir = ensure_input(args)?;
    let files = input_files(&dir)?;
    let input = warm_page_cache(&files)?;
    println!(
        "input: {} files, {} lines, {:.1} MiB ({:.0} bytes per line) in {}",
        files.len(),
        input.lines,
        input.bytes as f64 / (1 << 20) as f64,
        input.bytes as f64 / input.lines.max(1) as f64,
        dir.display()
    );
    warn_if_busy();

    let mut rows: Vec<Row> = Vec::new();
    for query in [Query::Filter, Query::Window] {
        let hand = match query {
            Query::Filter => hand_filter,
            Query::Window => hand_windows,
        };
        let reference = measure(
            &mut rows,
            query,
            "hand loop, 1 thread, borrowed parse",
            args.reps,
            input,
            || hand(&files),
            None,
        )?;
        for (form, label) in [
            (Form::Textbook, textbook_label(query)),
            (Form::Collector, "flat_map_into"),
            (Form::Typed, "typed JSON source"),
            (Form::Sql, "SQL"),
        ] {
            let key = match form {
                Form::Textbook => "textbook",
                Form::Collector => "collector",
                Form::Typed => "typed",
                Form::Sql => "sql",
            };
            if !args.forms.iter().any(|f| f == key) {
                continue;
            }
            for &w in &args.workers {
                measure(
                    &mut rows,
                    query,
                    &format!("freshet stream ({label}), {w} worker(s)"),
                    args.reps,
                    input,
                    || match query {
                        Query::Filter => freshet_filter(&dir, w, args.max_files_per_batch, form),
                        Query::Window => freshet_windows(&dir, w, args.max_files_per_batch, form),
                    },
                    Some(&reference),
                )?;
            }
        }
    }
    print_table(&rows, input);
    Ok(())
}

/// The name of the textbook form of `query`.
fn textbook_label(query: Query) -> &'static str {
    match query {
        Query::Filter => "map+filter+map",
        Query::Window => "map+map+window",
    }
}

/// The samples of one measurement: lines per second of wall time and per CPU-second.
struct Row {
    query: Query,
    name: String,
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

/// Runs `f` `reps` times, checks its answer against `reference`, prints each run, and adds the
/// lines-per-second samples to `rows` under `name`. Returns the first run's answer.
fn measure(
    rows: &mut Vec<Row>,
    query: Query,
    name: &str,
    reps: usize,
    input: Input,
    mut f: impl FnMut() -> anyhow::Result<Answer>,
    reference: Option<&Answer>,
) -> anyhow::Result<Answer> {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut first = None;
    for _ in 0..reps.max(1) {
        let Timed {
            answer,
            wall: took,
            cpu: cpu_took,
        } = timed(&mut f)?;
        if let Some(r) = reference {
            if answer != *r {
                bail!(
                    "{} {name}: found {}, expected {}",
                    query.title(),
                    answer.summary(),
                    r.summary()
                );
            }
        }
        let rate = per_sec(input.lines, took);
        println!(
            "  {} {name}: {:.3} s wall, {:.2} s CPU, {} lines/s ({})",
            query.letter(),
            took.as_secs_f64(),
            cpu_took.as_secs_f64(),
            millions(rate),
            answer.summary()
        );
        wall.push(rate);
        cpu.push(per_sec(input.lines, cpu_took));
        first.get_or_insert(answer);
    }
    rows.push(Row {
        query,
        name: name.to_string(),
        wall,
        cpu,
    });
    first.context("no run")
}

/// Prints the table of `rows`, each query's rows against its hand loop (the first row of the
/// query).
fn print_table(rows: &[Row], input: Input) {
    let bytes_per_line = input.bytes as f64 / input.lines.max(1) as f64;
    for query in [Query::Filter, Query::Window] {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.query == query).collect();
        let Some(hand) = mine.first() else {
            continue;
        };
        let baseline = (best_and_median(&hand.wall).0, best_and_median(&hand.cpu).0);
        println!("\n{}", query.title());
        println!(
            "{:<48} {:>10} {:>10} {:>8} {:>14} {:>12} {:>14}",
            "lines/s (wall)", "best", "median", "MB/s", "vs hand", "per CPU-s", "vs hand"
        );
        for (i, r) in mine.iter().enumerate() {
            let vs = |hand: f64, rate: f64| {
                if i == 0 {
                    "baseline".to_string()
                } else {
                    slower(hand, rate)
                }
            };
            let (best, median) = best_and_median(&r.wall);
            let (cpu_best, _) = best_and_median(&r.cpu);
            println!(
                "{:<48} {:>10} {:>10} {:>8.0} {:>14} {:>12} {:>14}",
                r.name,
                millions(best),
                millions(median),
                best * bytes_per_line / 1e6,
                vs(baseline.0, best),
                millions(cpu_best),
                vs(baseline.1, cpu_best)
            );
        }
    }
}

/// How much slower `rate` is than `hand` (the hand loop's time over this one's), e.g.
/// `2.31x slower`, or `1.20x faster` when it is faster.
fn slower(hand: f64, rate: f64) -> String {
    let ratio = hand / rate.max(1e-9);
    if ratio >= 1.0 {
        format!("{ratio:.2}x slower")
    } else {
        format!("{:.2}x faster", 1.0 / ratio)
    }
}

/// The start of the tumbling window of event time `ms`.
fn window_start(ms: u64) -> u64 {
    ms - ms % WINDOW_MS
}

/// The hand-written query A: one thread, borrowed parse, filter, count and sum.
fn hand_filter(files: &[PathBuf]) -> anyhow::Result<Answer> {
    let (mut bids, mut price_sum) = (0u64, 0u64);
    for file in files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for line in text.lines() {
            let bid: BidRef = serde_json::from_str(line).context("parsing a bid")?;
            if bid.price > PRICE_THRESHOLD {
                let kept = (bid.auction, bid.price);
                bids += 1;
                price_sum += kept.1;
            }
        }
    }
    Ok(Answer::Kept { bids, price_sum })
}

/// The hand-written query B: one thread, borrowed parse, one map of borrowed channels per file,
/// merged into a map of owned channels.
fn hand_windows(files: &[PathBuf]) -> anyhow::Result<Answer> {
    let mut total: FxHashMap<(u64, String), u64> = FxHashMap::default();
    for file in files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let mut counts: FxHashMap<(u64, &str), u64> = FxHashMap::default();
        for line in text.lines() {
            let bid: BidRef = serde_json::from_str(line).context("parsing a bid")?;
            *counts
                .entry((window_start(bid.date_time), bid.channel))
                .or_insert(0) += 1;
        }
        for ((start, channel), n) in counts {
            *total.entry((start, channel.to_owned())).or_insert(0) += n;
        }
    }
    Ok(sorted_windows(
        total.into_iter().map(|((s, c), n)| (s, c, n)).collect(),
    ))
}

/// `windows` sorted, as an answer.
fn sorted_windows(mut windows: Vec<(u64, String, u64)>) -> Answer {
    windows.sort_unstable();
    Answer::Windows(windows)
}

/// A streaming context for an available-now run with `workers` workers.
fn context(workers: usize) -> anyhow::Result<StreamingContext> {
    Ok(StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )?)
}

/// The lines of the files of `dir`, `files_per_batch` files per batch.
fn bid_lines(ctx: &StreamingContext, dir: &Path, files_per_batch: usize) -> DStream<String> {
    ctx.text_file_stream_with(
        dir,
        FileStreamOptions::new()
            .include_existing(true)
            .max_files_per_batch(files_per_batch),
    )
}

/// The bids of the files of `dir` from the typed JSON-lines source, `files_per_batch` files per
/// batch.
fn bids(ctx: &StreamingContext, dir: &Path, files_per_batch: usize) -> DStream<Bid> {
    ctx.typed_file_stream(
        TypedFileSource::json_lines(dir).options(
            TypedStreamOptions::new()
                .include_existing(true)
                .max_files_per_batch(files_per_batch),
        ),
    )
}

/// Parses a line into the owned [`Bid`] (the generated input has no malformed line).
fn parse_owned(line: String) -> Bid {
    serde_json::from_str(&line).expect("a bid as JSON")
}

/// Freshet query A in the given form, run available-now.
fn freshet_filter(
    dir: &Path,
    workers: usize,
    files_per_batch: usize,
    form: Form,
) -> anyhow::Result<Answer> {
    let ctx = context(workers)?;
    if form == Form::Sql {
        let sql = sql_context(&ctx, dir, files_per_batch, 0)?;
        let kept = sql
            .sql_stream(&format!(
                "SELECT auction, price FROM bids WHERE price > {PRICE_THRESHOLD}"
            ))?
            .records::<(u64, u64)>();
        return sum_kept(&ctx, &kept);
    }
    if form == Form::Typed {
        let kept = bids(&ctx, dir, files_per_batch)
            .filter(|b: &Bid| b.price > PRICE_THRESHOLD)
            .map(|b: Bid| (b.auction, b.price));
        return sum_kept(&ctx, &kept);
    }
    let lines = bid_lines(&ctx, dir, files_per_batch);
    let kept = match form {
        Form::Typed | Form::Sql => unreachable!("returned above"),
        Form::Textbook => lines
            .map(parse_owned)
            .filter(|b: &Bid| b.price > PRICE_THRESHOLD)
            .map(|b: Bid| (b.auction, b.price)),
        Form::Collector => lines.flat_map_into(|line: String, out: &mut Vec<(u64, u64)>| {
            let b: BidRef = serde_json::from_str(&line).expect("a bid as JSON");
            if b.price > PRICE_THRESHOLD {
                out.push((b.auction, b.price));
            }
        }),
    };
    sum_kept(&ctx, &kept)
}

/// Runs query A's pipeline available-now: how many bids it kept, and their prices' sum.
fn sum_kept(ctx: &StreamingContext, kept: &DStream<(u64, u64)>) -> anyhow::Result<Answer> {
    let bids = Arc::new(AtomicU64::new(0));
    let price_sum = Arc::new(AtomicU64::new(0));
    let (b, s) = (Arc::clone(&bids), Arc::clone(&price_sum));
    kept.foreach_batch(move |_t, kept: Vec<(u64, u64)>| {
        b.fetch_add(kept.len() as u64, Ordering::Relaxed);
        s.fetch_add(kept.iter().map(|k| k.1).sum::<u64>(), Ordering::Relaxed);
    });
    ctx.run_available_now()?;
    Ok(Answer::Kept {
        bids: bids.load(Ordering::Relaxed),
        price_sum: price_sum.load(Ordering::Relaxed),
    })
}

/// Freshet query B in the given form, run available-now (its end emits every open window).
fn freshet_windows(
    dir: &Path,
    workers: usize,
    files_per_batch: usize,
    form: Form,
) -> anyhow::Result<Answer> {
    let ctx = context(workers)?;
    if form == Form::Sql {
        return sql_windows(&ctx, dir, files_per_batch);
    }
    let pairs = match form {
        Form::Sql => unreachable!("the SQL form returned above"),
        Form::Typed => bids(&ctx, dir, files_per_batch).map(|b: Bid| (b.channel, b.date_time)),
        Form::Textbook => bid_lines(&ctx, dir, files_per_batch)
            .map(parse_owned)
            .map(|b: Bid| (b.channel, b.date_time)),
        Form::Collector => bid_lines(&ctx, dir, files_per_batch).flat_map_into(
            |line: String, out: &mut Vec<(String, u64)>| {
                let b: BidRef = serde_json::from_str(&line).expect("a bid as JSON");
                out.push((b.channel.to_owned(), b.date_time));
            },
        ),
    };
    let counted = pairs
        .with_event_time(
            |r: &(String, u64)| r.1,
            WatermarkOptions::new(Duration::from_millis(WATERMARK_DELAY_MS)),
        )
        .count_by_key_and_window(WindowSpec::tumbling(Duration::from_millis(WINDOW_MS)))?;
    let windows = Arc::new(Mutex::new(Vec::new()));
    let w = Arc::clone(&windows);
    counted.windows().foreach_batch(move |_t, batch| {
        w.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch.into_iter().map(|(c, win, n)| (win.start, c, n)));
    });
    ctx.run_available_now()?;
    if counted.late_count() != 0 {
        bail!("{} bids were late", counted.late_count());
    }
    let windows = std::mem::take(&mut *windows.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(sorted_windows(windows))
}

/// A SQL context with the lines of the files of `dir` registered as the table `bids`, its
/// columns inferred from the files.
fn sql_context(
    ctx: &StreamingContext,
    dir: &Path,
    files_per_batch: usize,
    watermark_delay_ms: u64,
) -> anyhow::Result<freshet_sql::SqlContext> {
    let schema = freshet_sql::formats::infer_json_lines(dir)?;
    let sql = freshet_sql::SqlContext::new();
    sql.register_lines(
        "bids",
        &bid_lines(ctx, dir, files_per_batch),
        freshet_sql::formats::LineFormat::JsonLines,
        schema,
        freshet_sql::StreamOptions::new().allowed_delay(Duration::from_millis(watermark_delay_ms)),
    )?;
    Ok(sql)
}

/// Freshet query B in SQL, run available-now.
fn sql_windows(
    ctx: &StreamingContext,
    dir: &Path,
    files_per_batch: usize,
) -> anyhow::Result<Answer> {
    let sql = sql_context(ctx, dir, files_per_batch, WATERMARK_DELAY_MS)?;
    let rows = sql
        .sql_stream(&format!(
            "SELECT CAST(w['start'] AS BIGINT), channel, count(*) FROM \
             (SELECT tumble(date_time, INTERVAL '{WINDOW_MS}' MILLISECOND) AS w, channel FROM bids) \
             GROUP BY w, channel"
        ))?
        .records::<(u64, String, u64)>();
    let windows = Arc::new(Mutex::new(Vec::new()));
    let w = Arc::clone(&windows);
    rows.foreach_batch(move |_t, batch| {
        w.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
    });
    ctx.run_available_now()?;
    let windows = std::mem::take(&mut *windows.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(sorted_windows(windows))
}

/// Reads every file once so that the measured runs read from the page cache; returns the
/// total lines and bytes.
fn warm_page_cache(files: &[PathBuf]) -> anyhow::Result<Input> {
    let mut input = Input { lines: 0, bytes: 0 };
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        input.bytes += bytes.len() as u64;
        input.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok(input)
}

/// Appends `n` random lower-case letters to `out`.
fn push_letters(out: &mut String, n: u64, rng: &mut SplitMix) {
    for _ in 0..n {
        out.push((b'a' + (rng.next() % 26) as u8) as char);
    }
}

/// Writes bid number `i` as one JSON line into `line` (cleared first).
fn write_bid(line: &mut String, i: u64, rng: &mut SplitMix) {
    line.clear();
    // Bids go to recent auctions: auction ids grow with time.
    let auction = 1_000 + i / 20 + rng.next() % 50;
    let bidder = 1_000 + rng.next() % 50_000;
    // 1 ..= 100,000, skewed towards low prices.
    let price = 1 + (rng.unit().powi(3) * 100_000.0) as u64;
    let channel = CHANNELS[(rng.next() % CHANNELS.len() as u64) as usize];
    let date_time = START_MS + i + rng.next() % MAX_JITTER_MS;
    let _ = write!(
        line,
        r#"{{"auction":{auction},"bidder":{bidder},"price":{price},"channel":"{channel}","url":"https://www.nexmark.com/"#
    );
    push_letters(line, 3, rng);
    line.push('/');
    push_letters(line, 3, rng);
    let _ = write!(
        line,
        r#"/item.htm?query=1&channel_id={}","date_time":{date_time},"extra":""#,
        rng.next() % 10_000
    );
    let extra = 20 + rng.next() % 21;
    push_letters(line, extra, rng);
    line.push_str("\"}\n");
}

/// Generates the input unless a complete copy with the same parameters is there; returns its
/// directory. File `k` holds a contiguous run of bids, so the files in name order are in event
/// time order (but for the jitter).
fn ensure_input(args: &Args) -> anyhow::Result<PathBuf> {
    let params = format!("v1 events={} files={}", args.events, args.files);
    let name = format!("json-bids-{}e-{}f", args.events, args.files);
    generated(&name, &params, |dir| {
        let mut rng = SplitMix(0xB1D5_5EED);
        let mut line = String::new();
        let files = args.files as u64;
        for k in 0..files {
            write_file(dir, &format!("part-{k:03}.json"), |out| {
                for i in args.events * k / files..args.events * (k + 1) / files {
                    write_bid(&mut line, i, &mut rng);
                    out.write_all(line.as_bytes())?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}
