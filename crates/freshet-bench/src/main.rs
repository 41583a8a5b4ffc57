//! `freshet-bench`: prints throughput, latency and per-batch overhead figures of Freshet.
//!
//! ```text
//! cargo run --release -p freshet-bench -- wordcount
//! cargo run --release -p freshet-bench -- json
//! cargo run --release -p freshet-bench -- latency
//! cargo run --release -p freshet-bench -- empty-batch
//! cargo run --release -p freshet-bench -- all
//! ```
//!
//! The binary uses mimalloc as its global allocator (as Freshet's own binaries do) unless it is
//! built with `--no-default-features`, when it uses the system allocator, as a user's program
//! does by default; `docs/benchmarks.md` says which figures were measured with which.
//! Benchmarks print figures; they are not timed tests and assert only that the engine's results
//! are right.

#![deny(missing_docs)]

mod cluster;
mod empty_batch;
mod json;
mod latency;
mod stats;
mod wordcount;

use clap::{Parser, Subcommand};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freshet benchmarks: each scenario prints its figures.
#[derive(Parser, Debug)]
#[command(name = "freshet-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Word count over generated text files: a hand-written loop against Freshet (stream with
    /// 1 and 2 workers, and a batch job).
    Wordcount(wordcount::Args),
    /// Two queries over generated JSON lines (filter + project, and a count per key per
    /// event-time window): a hand-written loop against Freshet (stream with 1 and 2 workers).
    Json(json::Args),
    /// End-to-end latency (record creation to output) at a fixed input rate, per batch interval.
    Latency(latency::Args),
    /// Scheduling overhead of empty batches (queue stream run available-now).
    EmptyBatch(empty_batch::Args),
    /// Cluster mode on loopback: 1 process x 2 workers against 2 processes x 1 worker, and the
    /// cost per batch of coordinating processes.
    Cluster(cluster::Args),
    /// One process of a job measured by `cluster` (started by it).
    #[command(hide = true)]
    ClusterMember(cluster::MemberArgs),
    /// Every scenario with its default settings.
    All,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::ClusterMember(a) = &cli.scenario {
        return cluster::member(a);
    }
    stats::print_machine();
    match cli.scenario {
        Scenario::Wordcount(a) => wordcount::run(&a)?,
        Scenario::Json(a) => json::run(&a)?,
        Scenario::Latency(a) => latency::run(&a)?,
        Scenario::EmptyBatch(a) => empty_batch::run(&a)?,
        Scenario::Cluster(a) => cluster::run(&a)?,
        Scenario::ClusterMember(_) => {}
        Scenario::All => {
            wordcount::run(&wordcount::Args::parse_from(["wordcount"]))?;
            json::run(&json::Args::parse_from(["json"]))?;
            latency::run(&latency::Args::parse_from(["latency"]))?;
            empty_batch::run(&empty_batch::Args::parse_from(["empty-batch"]))?;
            cluster::run(&cluster::Args::parse_from(["cluster"]))?;
        }
    }
    Ok(())
}
