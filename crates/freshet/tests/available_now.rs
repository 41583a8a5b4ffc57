//! Available-now runs: process what the inputs hold, in back-to-back batches (one interval
//! apart, without waiting for the clock), then stop.

mod common;

use common::*;
use freshet::source::file_stream::FileStreamOptions;
use freshet::source::generator::{click, GeneratorOptions};
use freshet::{Error, StreamingConfig};

#[test]
fn queue_is_drained_then_the_run_stops() {
    for workers in WORKERS {
        // The manual clock never moves: batches do not wait for it.
        let (ctx, _clock) = context(workers);
        let out = ctx
            .queue_stream(vec![vec![1, 2], vec![], vec![3]])
            .map(|x: i32| x * 2)
            .collect_batches();
        ctx.run_available_now().unwrap();
        assert_eq!(sorted(&out, 3), vec![vec![2, 4], vec![], vec![6]]);
        assert_eq!(ctx.batches_completed(), 3);
    }
}

#[test]
fn empty_queue_runs_no_batch() {
    let (ctx, _clock) = context(2);
    let out = ctx.queue_stream::<i32>(vec![]).collect_batches();
    ctx.run_available_now().unwrap();
    assert!(out.is_empty());
    assert_eq!(ctx.batches_completed(), 0);
}

#[test]
fn the_longest_queue_decides_the_number_of_batches() {
    let (ctx, _clock) = context(2);
    let a = ctx.queue_stream(vec![vec![1]]);
    let b = ctx.queue_stream(vec![vec![10], vec![20], vec![30]]);
    let out = a.union(&b).collect_batches();
    ctx.run_available_now().unwrap();
    assert_eq!(sorted(&out, 3), vec![vec![1, 10], vec![20], vec![30]]);
}

#[test]
fn queue_input_pushed_before_the_run() {
    let (ctx, _clock) = context(1);
    let (stream, handle) = ctx.queue_input::<String>();
    let out = stream.count().collect_batches();
    handle.push(strings(&["a", "b"]));
    handle.push(vec![]);
    assert_eq!(handle.len(), 2);
    ctx.run_available_now().unwrap();
    assert!(handle.is_empty());
    assert_eq!(sorted(&out, 2), vec![vec![2], vec![0]]);
}

#[test]
fn a_context_runs_once() {
    let (ctx, _clock) = context(1);
    ctx.queue_stream(vec![vec![1]]).collect_batches();
    ctx.run_available_now().unwrap();
    assert!(matches!(ctx.run_available_now(), Err(Error::Plan(_))));
    assert!(matches!(ctx.start(), Err(Error::Plan(_))));
}

#[test]
fn file_stream_with_existing_files_in_bounded_batches() {
    for workers in WORKERS {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c", "d", "e"] {
            std::fs::write(dir.path().join(name), format!("{name}1\n{name}2\n")).unwrap();
        }
        let (ctx, _clock) = context(workers);
        let out = ctx
            .text_file_stream_with(
                dir.path(),
                FileStreamOptions::new()
                    .include_existing(true)
                    .max_files_per_batch(2),
            )
            .collect_batches();
        ctx.run_available_now().unwrap();
        assert_eq!(
            sorted(&out, 3),
            vec![
                strings(&["a1", "a2", "b1", "b2"]),
                strings(&["c1", "c2", "d1", "d2"]),
                strings(&["e1", "e2"]),
            ],
            "with {workers} worker(s)"
        );
    }
}

#[test]
fn generator_with_a_limit() {
    for workers in WORKERS {
        // 1000 records per second at 100 ms per batch: 100 per batch, 250 in all.
        let (ctx, _clock) = context(workers);
        let out = ctx
            .generator_stream(GeneratorOptions::rate(1000).limit(250), |i| i)
            .collect_batches();
        ctx.run_available_now().unwrap();
        assert_eq!(
            sorted(&out, 3),
            vec![
                (0..100).collect::<Vec<u64>>(),
                (100..200).collect(),
                (200..250).collect()
            ],
            "with {workers} worker(s)"
        );
    }
}

#[test]
fn generator_rate_is_exact_across_batches() {
    // 15 records per second at 100 ms per batch: 1.5 per batch, so 1, 2, 1, 2.
    let (ctx, _clock) = context(2);
    let out = ctx
        .generator_stream(GeneratorOptions::rate(15).limit(6), |i| i * 10)
        .collect_batches();
    ctx.run_available_now().unwrap();
    assert_eq!(
        sorted(&out, 4),
        vec![vec![0], vec![10, 20], vec![30], vec![40, 50]]
    );
}

#[test]
fn click_stream_is_deterministic() {
    let (ctx, _clock) = context(4);
    let out = ctx
        .click_stream(GeneratorOptions::rate(100).limit(20))
        .map(|c| c.seq)
        .collect_batches();
    ctx.run_available_now().unwrap();
    assert_eq!(
        sorted(&out, 2),
        vec![(0..10).collect::<Vec<u64>>(), (10..20).collect()]
    );
    assert_eq!(click(3), click(3));
}

#[test]
fn mixed_sources_end_when_all_are_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "file\n").unwrap();
    let (ctx, _clock) = context(2);
    let files =
        ctx.text_file_stream_with(dir.path(), FileStreamOptions::new().include_existing(true));
    let queue = ctx.queue_stream(vec![strings(&["q1"]), strings(&["q2"])]);
    let generated = ctx.generator_stream(GeneratorOptions::rate(10).limit(3), |i| format!("g{i}"));
    let out = files.union(&queue).union(&generated).collect_batches();
    ctx.run_available_now().unwrap();
    assert_eq!(
        sorted(&out, 3),
        vec![
            strings(&["file", "g0", "q1"]),
            strings(&["g1", "q2"]),
            strings(&["g2"])
        ]
    );
}

#[test]
fn a_file_stream_reads_the_files_already_there_without_being_told() {
    // What is available now is what is there: `include_existing` is for started streams.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
    let (ctx, _clock) = context(2);
    let out = ctx.text_file_stream(dir.path()).collect_batches();
    ctx.run_available_now().unwrap();
    assert_eq!(sorted(&out, 1), vec![strings(&["one", "two"])]);
}

#[test]
fn drained_processing_time_windows_holding_the_input_are_emitted_before_the_run_stops() {
    for workers in WORKERS {
        let (ctx, _clock) = context_with(
            StreamingConfig::new(std::time::Duration::from_millis(I))
                .workers(workers)
                .drain_windows(true),
        );
        let interval = ctx.batch_interval();
        let records = ctx.queue_stream(vec![vec![1], vec![2], vec![3]]);
        // Tumbling windows of 4 batches: the input fills the first one only partly.
        let tumbling = records.window(interval * 4, interval * 4).collect_batches();
        let sliding = records
            .count_by_window(interval * 2, interval)
            .collect_batches();
        ctx.run_available_now().unwrap();
        let mut seen: Vec<i32> = tumbling
            .batches()
            .into_iter()
            .flat_map(|(_, b)| b)
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![1, 2, 3],
            "{workers} workers: every record in a window"
        );
        let counts: Vec<u64> = sliding.batches().into_iter().flat_map(|(_, b)| b).collect();
        // Windows of 2 batches at every batch; the run drains for the longest window (4
        // batches), so the sliding windows after the input are empty.
        assert_eq!(counts, vec![1, 2, 2, 1, 0, 0], "{workers} workers");
        assert_eq!(
            ctx.batches_completed(),
            6,
            "3 batches with records, 3 to drain"
        );
    }
}
