//! The `freshet` command.

mod checkpoint;
mod cluster;
mod config;
mod demo;
mod history;
mod job;
mod kafka_sample;
mod pg_table;
mod ranges;
mod report;
mod sql;
mod wordcount;

use clap::{CommandFactory, Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freshet: micro-batch stream processing.
#[derive(Parser, Debug)]
#[command(name = "freshet", version, about, long_about = None)]
#[command(args_override_self = true)]
struct Cli {
    /// A TOML file with settings, a table per command (`[demo]`, `[wordcount]`); the command
    /// line and the environment (`FRESHET_<OPTION>`) override it. See docs/operations.md.
    #[arg(long, global = true, value_name = "FILE", env = "FRESHET_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// How log lines are written to standard error: `text` (with colours only when standard
    /// error is a terminal) or `json` (one object per line, for log collectors). The level is
    /// set by `RUST_LOG` (default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FRESHET_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// The format of log lines.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sends log lines to standard error in `format`, at the level `RUST_LOG` sets (default `warn`).
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the built-in demo: a synthetic click stream, page views counted per batch.
    ///
    /// Prints one line per batch: its time, input records, processing time, scheduling delay
    /// and the most viewed pages. Runs until Ctrl-C (a graceful stop) or `--batches`. Serves the
    /// web UI on 127.0.0.1:4040 unless `--ui-addr` says otherwise.
    Demo(demo::DemoArgs),
    /// Counts the words of the text files in a directory, as a batch job or, with `--watch`,
    /// as a stream over the files that appear there.
    Wordcount(wordcount::WordcountArgs),
    /// Runs a continuous SQL query over streams of files (or the demo's clicks), printing
    /// each batch's results or writing them to files. See docs/sql.md.
    Sql(sql::SqlArgs),
    /// Tools for checkpoint directories.
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
    /// Serves the web UI of a finished or crashed job from its event log (read-only), as
    /// Spark's history server does.
    History(history::HistoryArgs),
    /// Runs a cluster of several processes on this machine and restarts it when one fails.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// The error and those of its causes that it does not already say, on one line.
fn report(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {}", report(&e));
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`freshet demo | head`) instead of failing on the broken pipe.
    // SAFETY: called first thing in `main`, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = config::with_file_settings(std::env::args_os().collect(), &Cli::command())?;
    let cli = Cli::parse_from(args);
    init_logs(cli.log_format);
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Wordcount(args) => wordcount::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Checkpoint(cmd) => checkpoint::run(cmd),
        Command::History(args) => history::run(args),
        Command::Cluster(cmd) => cluster::run(cmd),
    }
}
