//! What every system's benchmark shares: the arguments, the payloads, the pipeline's
//! configuration and counting, and the lines and table it prints.

use freshet::{DStream, Data, StreamingConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The systems, in the order they run.
pub const SYSTEMS: [&str; 6] = ["rabbitmq", "mqtt", "nats", "redis", "http", "zeromq"];

/// The worker counts every system runs with.
pub const WORKERS: [usize; 2] = [1, 2];

/// How long a pipeline fed while it runs may take to count everything.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub struct Args {
    pub messages: u64,
    pub only: Vec<&'static str>,
}

pub fn parse_args() -> Result<Args, String> {
    let mut messages = 100_000;
    let mut only = SYSTEMS.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--messages" => {
                messages = value.parse().ok().filter(|n| *n >= 1000).ok_or(format!(
                    "--messages needs a number of at least 1000, not {value}"
                ))?
            }
            "--only" => {
                let names: Vec<&str> = value.split(',').map(str::trim).collect();
                if let Some(bad) = names.iter().find(|n| !SYSTEMS.contains(n)) {
                    return Err(format!(
                        "--only takes names among {}, not {bad}",
                        SYSTEMS.join(",")
                    ));
                }
                only = SYSTEMS.into_iter().filter(|s| names.contains(s)).collect();
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args { messages, only })
}

/// Message `i`: its number, then `x` up to 100 bytes.
pub fn payload(i: u64) -> Vec<u8> {
    let mut v = format!("{i:012} ").into_bytes();
    v.resize(100, b'x');
    v
}

/// 200 ms batches, `workers` workers, no Ctrl-C handler.
pub fn config(workers: usize) -> StreamingConfig {
    StreamingConfig::new(Duration::from_millis(200))
        .workers(workers)
        .stop_on_ctrl_c(false)
}

/// Counts the records of `stream` in every batch into the counter it returns.
pub fn count_into<T: Data>(stream: DStream<T>) -> Arc<AtomicU64> {
    let counted = Arc::new(AtomicU64::new(0));
    let c = counted.clone();
    stream.count().foreach_batch(move |_, n| {
        c.fetch_add(n.iter().sum::<u64>(), Ordering::Relaxed);
    });
    counted
}

/// Waits until `counted` reaches `n` or [`DEADLINE`] has passed since `started`; returns the
/// seconds since `started`.
pub fn wait_for(counted: &AtomicU64, n: u64, started: Instant) -> f64 {
    while counted.load(Ordering::Relaxed) < n && started.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(1));
    }
    started.elapsed().as_secs_f64()
}

/// One system's figures, for the table at the end.
pub struct Row {
    pub system: &'static str,
    pub baseline: f64,
    /// Records/s with 1 and 2 workers.
    pub freshet: [f64; 2],
}

/// Prints the plain client's line.
pub fn print_baseline(system: &str, what: &str, records: u64, secs: f64) -> f64 {
    let rate = records as f64 / secs;
    println!("{system:9} {what:27} {rate:8.0} records/s");
    rate
}

/// Prints a pipeline's line.
pub fn print_run(system: &str, what: &str, workers: usize, got: u64, secs: f64) -> f64 {
    let rate = got as f64 / secs;
    let label = format!(
        "{what}, {workers} worker{}",
        if workers == 1 { "" } else { "s" }
    );
    println!("{system:9} {label:27} {rate:8.0} records/s ({got} records)");
    rate
}

/// Prints the figures of every system as a Markdown table.
pub fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| system | plain client | Freshet 1 worker | Freshet 2 workers | ratio (1 / 2 workers) |"
    );
    println!("|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} / {:.2} |",
            row.system,
            row.baseline,
            row.freshet[0],
            row.freshet[1],
            row.freshet[0] / row.baseline,
            row.freshet[1] / row.baseline
        );
    }
}
