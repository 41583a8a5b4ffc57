//! Redis sink throughput: records per second written by each mode with 1 and 2 workers, next
//! to a plain pipeline of the same commands (no transaction, no marker) from one connection.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example redis_sink_bench -- \
//!     --url redis://127.0.0.1/ --records 200000 --batches 10 --runs 3
//! ```
//!
//! Every run writes `--records` records in `--batches` equal batches (in memory, through an
//! available-now run) under a fresh key prefix, deleted afterwards. Each figure is the best of
//! `--runs` runs. Records:
//!
//! - `hash set`: `(field, value)` over 10 000 fields, `HSET`;
//! - `hash increments`: `(field, 1)` over 10 000 fields, `HINCRBY`;
//! - `sorted set increments, top 100`: `(member, 1)` over 10 000 members, `ZINCRBY`, trimmed
//!   with `ZREMRANGEBYRANK` after each batch;
//! - `stream`: a 2-field entry per record, `XADD`.

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::redis::RedisSink;
use redis::{Commands, Connection};
use std::time::{Duration, Instant};

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    url: String,
    records: u64,
    batches: u64,
    runs: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: "redis://127.0.0.1/".into(),
        records: 200_000,
        batches: 10,
        runs: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag} needs a positive number, not {value}");
        match flag.as_str() {
            "--url" => a.url = value.clone(),
            "--records" => a.records = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "--batches" => a.batches = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "--runs" => a.runs = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    HashSet,
    HashIncrements,
    ZsetIncrementsTop,
    Stream,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::HashSet => "hash set",
            Mode::HashIncrements => "hash increments",
            Mode::ZsetIncrementsTop => "sorted set increments, top 100",
            Mode::Stream => "stream",
        }
    }
}

const KEYS: u64 = 10_000;

fn batches<T>(a: &Args, make: impl Fn(u64) -> T) -> Vec<Vec<T>> {
    let per = a.records / a.batches;
    (0..a.batches)
        .map(|b| (0..per).map(|i| make(b * per + i)).collect())
        .collect()
}

fn context(workers: usize) -> StreamingContext {
    StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(500))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )
    .expect("a context")
}

/// One available-now run of `mode` with `workers` under `prefix`; returns the seconds.
fn run(a: &Args, mode: Mode, workers: usize, prefix: &str) -> f64 {
    let ctx = context(workers);
    match mode {
        Mode::HashSet => {
            let data = batches(a, |i| (format!("f{}", i % KEYS), format!("value-{i}")));
            let sink = RedisSink::hash(&a.url, "h").key_prefix(prefix);
            ctx.queue_stream(data).sink(sink).uid("bench");
        }
        Mode::HashIncrements => {
            let data = batches(a, |i| (format!("f{}", i % KEYS), 1u64));
            let sink = RedisSink::hash(&a.url, "h").key_prefix(prefix).increments();
            ctx.queue_stream(data).sink(sink).uid("bench");
        }
        Mode::ZsetIncrementsTop => {
            let data = batches(a, |i| (format!("m{}", i % KEYS), 1u64));
            let sink = RedisSink::sorted_set(&a.url, "z")
                .key_prefix(prefix)
                .increments()
                .top(100);
            ctx.queue_stream(data).sink(sink).uid("bench");
        }
        Mode::Stream => {
            let data = batches(a, |i| {
                vec![
                    ("seq".to_string(), i.to_string()),
                    ("page".into(), "/".into()),
                ]
            });
            let sink = RedisSink::stream(&a.url, "s").key_prefix(prefix);
            ctx.queue_stream(data).sink(sink).uid("bench");
        }
    }
    let started = Instant::now();
    ctx.run_available_now().expect("the run");
    started.elapsed().as_secs_f64()
}

/// The same commands as `mode` (hash set or stream) in plain pipelines of one batch each, from
/// one connection; returns the seconds.
fn baseline(a: &Args, conn: &mut Connection, mode: Mode, prefix: &str) -> f64 {
    let per = a.records / a.batches;
    let started = Instant::now();
    for b in 0..a.batches {
        let mut pipe = redis::pipe();
        for i in b * per..(b + 1) * per {
            match mode {
                Mode::Stream => {
                    pipe.cmd("XADD")
                        .arg(format!("{prefix}s"))
                        .arg("*")
                        .arg("seq")
                        .arg(i)
                        .arg("page")
                        .arg("/")
                        .ignore();
                }
                _ => {
                    pipe.cmd("HSET")
                        .arg(format!("{prefix}h"))
                        .arg(format!("f{}", i % KEYS))
                        .arg(format!("value-{i}"))
                        .ignore();
                }
            }
        }
        pipe.query::<()>(conn).expect("a pipeline");
    }
    started.elapsed().as_secs_f64()
}

fn clean(conn: &mut Connection, prefix: &str) {
    let keys: Vec<String> = conn
        .scan_match(format!("{prefix}*"))
        .expect("SCAN")
        .collect();
    for k in keys {
        let _: () = conn.del(k).expect("DEL");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args()?;
    let mut conn = redis::Client::open(a.url.as_str())?.get_connection()?;
    let _: String = redis::cmd("PING").query(&mut conn)?;
    println!(
        "{} records in {} batches, best of {} runs (records/s)",
        a.records, a.batches, a.runs
    );
    let rate = |secs: f64| a.records as f64 / secs;
    let mut n = 0;
    let mut fresh = |conn: &mut Connection| {
        n += 1;
        let prefix = format!("freshet-bench:{}:{n}:", std::process::id());
        clean(conn, &prefix);
        prefix
    };
    for mode in [Mode::HashSet, Mode::Stream] {
        let mut best = f64::INFINITY;
        for _ in 0..a.runs {
            let prefix = fresh(&mut conn);
            best = best.min(baseline(&a, &mut conn, mode, &prefix));
            clean(&mut conn, &prefix);
        }
        println!(
            "{:<32} plain pipeline, 1 connection {:>10.0}",
            mode.name(),
            rate(best)
        );
    }
    for mode in [
        Mode::HashSet,
        Mode::HashIncrements,
        Mode::ZsetIncrementsTop,
        Mode::Stream,
    ] {
        for workers in [1, 2] {
            let mut best = f64::INFINITY;
            for _ in 0..a.runs {
                let prefix = fresh(&mut conn);
                best = best.min(run(&a, mode, workers, &prefix));
                clean(&mut conn, &prefix);
            }
            println!(
                "{:<32} sink, {workers} worker{}             {:>10.0}",
                mode.name(),
                if workers == 1 { " " } else { "s" },
                rate(best)
            );
        }
    }
    Ok(())
}
