//! The `freshet` command.

mod checkpoint;
mod demo;
mod report;
mod wordcount;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freshet: micro-batch stream processing.
#[derive(Parser, Debug)]
#[command(name = "freshet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Tools for checkpoint directories.
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
}

fn main() -> anyhow::Result<()> {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`freshet demo | head`) instead of failing on the broken pipe.
    // SAFETY: called first thing in `main`, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Wordcount(args) => wordcount::run(args),
        Command::Checkpoint(cmd) => checkpoint::run(cmd),
    }
}
