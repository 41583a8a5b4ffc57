//! One function for batch and stream code.
//!
//! `filter_errors` is a `Dataset<String> -> Dataset<String>` function. This example runs it as a
//! batch job over log files (`Dataset::text_file`), then over the same directory as a stream
//! (`text_file_stream` + `transform`) processed with `run_available_now`.
//!
//! ```text
//! cargo run -p freshet --example filter_errors
//! ```

use freshet::source::file_stream::FileStreamOptions;
use freshet::{Dataset, StreamingConfig, StreamingContext};
use std::time::Duration;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The error lines of a log, without the `ERROR ` marker.
fn filter_errors(lines: Dataset<String>) -> Dataset<String> {
    lines
        .filter(|l| l.starts_with("ERROR "))
        .map(|l| l["ERROR ".len()..].trim().to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("app-1.log"),
        "INFO started\nERROR disk full\nWARN slow\nERROR timeout\n",
    )?;
    std::fs::write(
        dir.path().join("app-2.log"),
        "INFO ok\nERROR network down\n",
    )?;
    std::fs::write(dir.path().join("app-3.log"), "INFO nothing wrong\n")?;
    println!("log files in {}", dir.path().display());

    // A batch job over the files.
    let errors = filter_errors(Dataset::text_file(dir.path())?);
    println!("batch job: {} errors", errors.count()?);
    for e in errors.collect()? {
        println!("  {e}");
    }

    // The same function on a stream of the files, one file per batch, processed now.
    let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(100)).workers(2))?;
    ctx.text_file_stream_with(
        dir.path(),
        FileStreamOptions::new()
            .include_existing(true)
            .max_files_per_batch(1),
    )
    .transform(filter_errors)
    .foreach_batch(|time, errors| {
        println!("stream batch {time}: {} errors", errors.len());
        for e in errors {
            println!("  {e}");
        }
    });
    ctx.run_available_now()?;
    Ok(())
}
