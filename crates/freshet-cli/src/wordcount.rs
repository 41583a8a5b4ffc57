//! `freshet wordcount`: the words of the text files in a directory.

use crate::report::BatchReporter;
use anyhow::Context;
use clap::Args;
use freshet::source::file_stream::FileStreamOptions;
use freshet::{Dataset, StreamingConfig, StreamingContext};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Options of `freshet wordcount`.
#[derive(Args, Debug)]
pub struct WordcountArgs {
    /// The directory (or glob pattern, without `--watch`) of text files.
    path: PathBuf,
    /// Keep running and count the words of each new file per batch (a stream).
    #[arg(long)]
    watch: bool,
    /// The batch interval in milliseconds, with `--watch` (1 ..= 3600000, one hour).
    #[arg(long, env = "FRESHET_BATCH_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    batch_ms: u64,
    /// Worker threads (1 ..= 256).
    #[arg(long, env = "FRESHET_WORKERS", default_value_t = 2, value_parser = crate::ranges::workers)]
    workers: usize,
    /// How many words to show (1 ..= 100000).
    #[arg(long, env = "FRESHET_TOP", default_value_t = 10, value_parser = crate::ranges::top)]
    top: usize,
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,
}

fn words(lines: Dataset<String>) -> Dataset<(String, u64)> {
    lines
        .flat_map(|line: String| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
}

/// Runs the word count.
pub fn run(args: WordcountArgs) -> anyhow::Result<()> {
    if !args.watch {
        let lines = Dataset::text_file(&args.path)?;
        let counts = crate::demo::top(words(lines).collect()?, args.top);
        for (w, c) in counts {
            println!("{c:>10} {w}");
        }
        return Ok(());
    }
    let config = StreamingConfig::new(Duration::from_millis(args.batch_ms)).workers(args.workers);
    let config = args.cluster.apply(config)?;
    let ctx = StreamingContext::new(config)?;
    let reporter = Arc::new(BatchReporter::default());
    ctx.add_listener(reporter.clone());
    let n = args.top;
    ctx.text_file_stream_with(&args.path, FileStreamOptions::new())
        .transform(words)
        .foreach_batch(move |time, counts| {
            let shown: Vec<String> = crate::demo::top(counts, n)
                .into_iter()
                .map(|(w, c)| format!("{w} {c}"))
                .collect();
            reporter.set_results(time, format!("top words: {}", shown.join(", ")));
        });
    ctx.start()
        .with_context(|| format!("cannot watch {}", args.path.display()))?;
    println!(
        "watching {} for new files; Ctrl-C stops",
        args.path.display()
    );
    ctx.await_termination()?;
    Ok(())
}
