//! Cluster mode on loopback: the same job as one process with 2 workers and as 2 processes
//! with 1 worker each, and the cost per batch of coordinating processes.
//!
//! Every configuration runs in child processes of this benchmark (`freshet-bench
//! cluster-member`), one per cluster process, given their places through the
//! `FRESHET_CLUSTER_*` environment; the one-process configuration runs in one child too, so
//! every run pays the same start-up. The driver's child reports the job's figures from its
//! own batch records: the words counted, and the summed processing time of the batches (run
//! available-now, batches follow each other without waiting for the clock, so that sum is the
//! job's working time; connecting the processes at the start is not in it).
//!
//! Queries, over the word-count input (see [`crate::wordcount`]), one file per batch:
//! - `wordcount`: the textbook word count (`flat_map`, `map`, `reduce_by_key`);
//! - `window`: the same pairs through `reduce_by_key_and_window_inv` over 4 batches, sliding
//!   every batch;
//! - `tiny`: 1,000 batches of one generated record each (10 ms batch times), whose median
//!   processing time is the fixed cost of a batch.

use crate::stats::{percentile, warn_if_busy};
use anyhow::{bail, Context as _};
use freshet::source::file_stream::FileStreamOptions;
use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the cluster scenario.
#[derive(clap::Parser, Debug, Clone)]
#[group(id = "ClusterArgs")]
pub struct Args {
    /// Settings of the word-count input (and `--reps`, how many times each measurement runs;
    /// the best is reported).
    #[command(flatten)]
    pub input: crate::wordcount::Args,
}

/// One process of a measured job (run by the benchmark itself in a child process).
#[derive(clap::Parser, Debug, Clone)]
pub struct MemberArgs {
    /// `wordcount`, `window` or `tiny`.
    #[arg(long)]
    pub query: String,
    /// Workers of this process.
    #[arg(long)]
    pub workers: usize,
    /// The directory of input files.
    #[arg(long)]
    pub dir: PathBuf,
}

/// What the driver's process reports.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    records: u64,
    busy: Duration,
    batches: usize,
    p50_us: u64,
}

/// Runs the scenario and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!(
        "\n== cluster == (loopback; the best of {} runs)",
        args.input.reps
    );
    warn_if_busy();
    let dir = crate::wordcount::ensure_input(&args.input)?;
    let shapes = [(1usize, 2usize), (2, 1)];
    println!(
        "\n{:<10} {:>18} {:>12} {:>10} {:>14}",
        "query", "processes x workers", "words", "batches", "words/s"
    );
    let mut tiny = Vec::new();
    // The input's words, counted by the word count (the window's output counts keys).
    let mut words = 0;
    for query in ["wordcount", "window", "tiny"] {
        for (processes, workers) in shapes {
            let mut best: Option<Figures> = None;
            for _ in 0..args.input.reps {
                let f = measure(query, processes, workers, &dir)?;
                if best.is_none_or(|b| f.busy < b.busy) {
                    best = Some(f);
                }
            }
            let mut f = best.context("no run")?;
            if query == "wordcount" {
                words = f.records;
            } else {
                f.records = words;
            }
            if query == "tiny" {
                tiny.push((processes, workers, f));
                continue;
            }
            println!(
                "{:<10} {:>18} {:>12} {:>10} {:>14.0}",
                query,
                format!("{processes} x {workers}"),
                f.records,
                f.batches,
                f.records as f64 / f.busy.as_secs_f64()
            );
        }
    }
    println!("\ncost of a batch of one record (median processing time):");
    for (processes, workers, f) in tiny {
        println!(
            "  {processes} x {workers}: {} us over {} batches",
            f.p50_us, f.batches
        );
    }
    Ok(())
}

/// Runs `query` as `processes` processes of `workers` workers and returns the driver's figures.
fn measure(query: &str, processes: usize, workers: usize, dir: &Path) -> anyhow::Result<Figures> {
    let exe = std::env::current_exe()?;
    let ports: Vec<u16> = {
        let listeners: Vec<std::net::TcpListener> = (0..=processes)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()?;
        listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?
    };
    let peers: Vec<String> = ports[1..]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let mut children = Vec::new();
    for process in 0..processes {
        let mut cmd = Command::new(&exe);
        cmd.args(["cluster-member", "--query", query, "--workers"])
            .arg(workers.to_string())
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if processes > 1 {
            cmd.env("FRESHET_CLUSTER_PROCESSES", processes.to_string())
                .env("FRESHET_CLUSTER_PROCESS", process.to_string())
                .env("FRESHET_CLUSTER_PEERS", peers.join(","))
                .env("FRESHET_CLUSTER_CONTROL", format!("127.0.0.1:{}", ports[0]));
        }
        children.push(cmd.spawn()?);
    }
    let mut figures = None;
    for (process, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "process {process} of the {query} job failed: {}",
                out.status
            );
        }
        if process == 0 {
            figures = Some(parse(&String::from_utf8_lossy(&out.stdout))?);
        }
    }
    figures.context("no figures")
}

fn parse(text: &str) -> anyhow::Result<Figures> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("FIGURES "))
        .context("the driver printed no figures")?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [records, busy_us, batches, p50_us] = n[..] else {
        bail!("bad figures line `{line}`");
    };
    Ok(Figures {
        records,
        busy: Duration::from_micros(busy_us),
        batches: batches as usize,
        p50_us,
    })
}

/// One process of a measured job: runs its part and, on the driver, prints the figures.
pub fn member(args: &MemberArgs) -> anyhow::Result<()> {
    let interval = Duration::from_millis(if args.query == "tiny" { 10 } else { 100 });
    let ctx = StreamingContext::new(
        StreamingConfig::new(interval)
            .workers(args.workers)
            .stop_on_ctrl_c(false),
    )?;
    let counted = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&counted);
    let lines = || {
        ctx.text_file_stream_with(
            &args.dir,
            FileStreamOptions::new()
                .include_existing(true)
                .max_files_per_batch(1),
        )
    };
    let pairs = || {
        lines()
            .flat_map(|line: String| {
                line.split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<String>>()
            })
            .map(|w| (w, 1u64))
    };
    let _output = match args.query.as_str() {
        "wordcount" => pairs()
            .reduce_by_key(|a, b| a + b)
            .foreach_batch(move |_t, counts| {
                c.fetch_add(counts.iter().map(|x| x.1).sum::<u64>(), Ordering::Relaxed);
            }),
        "window" => pairs()
            .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, interval * 4, interval)
            .foreach_batch(move |_t, counts| {
                c.fetch_add(counts.len() as u64, Ordering::Relaxed);
            }),
        "tiny" => ctx
            .generator_stream(GeneratorOptions::rate(100).limit(1000), |i| i)
            .map(|i| (i % 7, 1u64))
            .reduce_by_key(|a, b| a + b)
            .foreach_batch(move |_t, counts| {
                c.fetch_add(counts.len() as u64, Ordering::Relaxed);
            }),
        other => bail!("unknown query `{other}`"),
    };
    ctx.run_available_now()?;
    let process = freshet::cluster::ClusterConfig::from_env()?.map_or(0, |c| c.process());
    if process == 0 {
        let batches = ctx.recent_batches();
        let busy: Duration = batches.iter().map(|b| b.processing_time).sum();
        let mut proc: Vec<u64> = batches
            .iter()
            .map(|b| b.processing_time.as_micros() as u64)
            .collect();
        proc.sort_unstable();
        println!(
            "FIGURES {} {} {} {}",
            counted.load(Ordering::Relaxed),
            busy.as_micros(),
            batches.len(),
            percentile(&proc, 0.5)
        );
    }
    Ok(())
}
