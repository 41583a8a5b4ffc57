//! One batch function serves a batch job and a stream: `filter_errors` runs over files with
//! `Dataset::text_file`, and through `transform` over a file stream and a queue stream.

mod common;

use common::*;
use freshet::source::file_stream::FileStreamOptions;
use freshet::{Dataset, StreamingContext};

/// The error lines, without the `ERROR ` marker.
fn filter_errors(lines: Dataset<String>) -> Dataset<String> {
    lines
        .filter(|l| l.starts_with("ERROR "))
        .map(|l| l["ERROR ".len()..].trim().to_string())
}

fn write_logs(dir: &std::path::Path) {
    std::fs::write(
        dir.join("app-1.log"),
        "INFO started\nERROR disk full\nWARN slow\nERROR  timeout \n",
    )
    .unwrap();
    std::fs::write(dir.join("app-2.log"), "INFO ok\nERROR network down\n").unwrap();
    std::fs::write(dir.join("app-3.log"), "INFO nothing wrong\n").unwrap();
}

#[test]
fn filter_errors_in_a_batch_job_over_files() {
    let dir = tempfile::tempdir().unwrap();
    write_logs(dir.path());
    let errors = filter_errors(Dataset::text_file(dir.path()).unwrap());
    assert_eq!(
        errors.collect().unwrap(),
        strings(&["disk full", "timeout", "network down"])
    );
    assert_eq!(errors.count().unwrap(), 3);
    // The same over a glob.
    let one = filter_errors(Dataset::text_file(dir.path().join("app-2.*")).unwrap());
    assert_eq!(one.collect().unwrap(), strings(&["network down"]));
}

#[test]
fn filter_errors_in_a_file_stream() {
    for workers in WORKERS {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, clock) = context(workers);
        let out = ctx
            .text_file_stream(dir.path())
            .transform(filter_errors)
            .collect_batches();
        ctx.start().unwrap();
        // Files appear between batches: each batch takes the files new since the previous one.
        write_logs(dir.path());
        step(&ctx, &clock, 1);
        step(&ctx, &clock, 2);
        std::fs::write(dir.path().join("app-4.log"), "ERROR late\n").unwrap();
        step(&ctx, &clock, 3);
        ctx.stop(true).unwrap();
        assert_eq!(
            sorted(&out, 3),
            vec![
                strings(&["disk full", "network down", "timeout"]),
                vec![],
                strings(&["late"]),
            ],
            "with {workers} worker(s)"
        );
    }
}

#[test]
fn filter_errors_in_a_queue_stream() {
    golden(
        3,
        vec![strings(&["a", "b"]), vec![], vec![]],
        |ctx: &StreamingContext| {
            ctx.queue_stream(vec![
                strings(&["ERROR a", "INFO x", "ERROR b"]),
                vec![],
                strings(&["INFO y"]),
            ])
            .transform(filter_errors)
            .collect_batches()
        },
    );
}

#[test]
fn filter_errors_over_existing_files_available_now() {
    let dir = tempfile::tempdir().unwrap();
    write_logs(dir.path());
    let (ctx, _clock) = context(2);
    let out = ctx
        .text_file_stream_with(
            dir.path(),
            FileStreamOptions::new()
                .include_existing(true)
                .max_files_per_batch(2),
        )
        .transform(filter_errors)
        .collect_batches();
    ctx.run_available_now().unwrap();
    // Two files, then the third (oldest first, then by name).
    assert_eq!(
        sorted(&out, 2),
        vec![strings(&["disk full", "network down", "timeout"]), vec![]]
    );
}
