//! Window and state operators recover exactly from checkpoints: a run stopped without a final
//! checkpoint (so recovery restores an older one and replays logged batches), then resumed with
//! `get_or_create` on the same directory, writes the same batches as an uninterrupted run.
//! Driven by a manual clock: batches at 100, 200, ... ms; checkpoints every 3 batches.

use freshet::source::generator::GeneratorOptions;
use freshet::{
    BatchTime, CollectedBatches, Error, ManualClock, StreamingConfig, StreamingContext,
    WatermarkOptions, WindowSpec,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every batch of every output, each batch's records rendered and sorted.
type Outputs = BTreeMap<(usize, u64), Vec<String>>;

/// Builds the pipeline on `ctx` and returns its outputs.
type Build = fn(&StreamingContext) -> Vec<CollectedBatches<String>>;

/// What one run wrote, the first batch time of the run, and the late count it ended with.
struct Run {
    outputs: Outputs,
    first: u64,
    late: Option<u64>,
}

thread_local! {
    /// Reads the late count of the event-time pipeline built last on this thread.
    static LATE: std::cell::RefCell<Option<Box<dyn Fn() -> u64>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `build` on `workers` workers, through batch `last` (×100 ms); the clock starts at
/// `start` ms. With `dir`, the context checkpoints there (recovering from what it holds). The
/// run ends with a stop that is not graceful (no final checkpoint).
fn run(workers: usize, dir: Option<&Path>, start: u64, last: u64, build: Build) -> Run {
    let clock = ManualClock::new(start);
    let make = || {
        StreamingContext::with_clock(
            StreamingConfig::new(ms(100))
                .workers(workers)
                .checkpoint_interval(3)
                .stop_on_ctrl_c(false),
            Arc::new(clock.clone()),
        )
    };
    let (ctx, outs) = match dir {
        Some(dir) => {
            let mut outs = Vec::new();
            let ctx = StreamingContext::get_or_create(dir, || {
                let ctx = make()?;
                outs = build(&ctx);
                Ok(ctx)
            })
            .unwrap();
            (ctx, outs)
        }
        None => {
            let ctx = make().unwrap();
            let outs = build(&ctx);
            (ctx, outs)
        }
    };
    ctx.start().unwrap();
    let first = ctx.first_batch_time().unwrap().0;
    let mut t = first;
    while t <= last * 100 {
        clock.set(BatchTime(t));
        ctx.await_batch(BatchTime(t), Duration::from_secs(30))
            .unwrap();
        t += 100;
    }
    ctx.stop(false).unwrap();
    let mut outputs = Outputs::new();
    for (i, out) in outs.iter().enumerate() {
        for (t, mut records) in out.batches() {
            records.sort();
            outputs.insert((i, t.0), records);
        }
    }
    let late = LATE.with(|l| l.borrow_mut().take().map(|read| read()));
    Run {
        outputs,
        first,
        late,
    }
}

/// Runs `build` uninterrupted for 10 batches on 2 workers, then interrupted: 5 batches on
/// `before` workers (checkpoint after batch 3), and from the checkpoint on `after` workers
/// through batch 10; the outputs must be the same. Returns the uninterrupted run.
fn check_recovery(build: Build, before: usize, after: usize) -> Run {
    let reference = run(2, None, 0, 10, build);
    assert_eq!(reference.first, 100);

    let dir = tempfile::tempdir().unwrap();
    let first = run(before, Some(dir.path()), 0, 5, build);
    assert_eq!(first.first, 100);
    let second = run(after, Some(dir.path()), 500, 10, build);
    // Restored from the checkpoint of batch 300: batches 400 and 500 are replayed.
    assert_eq!(
        second.first, 400,
        "the resumed run replays the logged batches"
    );

    let mut combined = first.outputs;
    for (key, records) in second.outputs {
        if let Some(old) = combined.get(&key) {
            assert_eq!(
                *old, records,
                "a replayed batch differs from the original: output {}, batch {}",
                key.0, key.1
            );
        }
        combined.insert(key, records);
    }
    assert!(!reference.outputs.is_empty());
    assert_eq!(second.late, reference.late, "late count");
    assert_eq!(
        combined, reference.outputs,
        "interrupted ({before} then {after} workers) vs uninterrupted"
    );
    reference
}

fn render<T: std::fmt::Debug>(name: &str, x: T) -> String {
    format!("{name} {x:?}")
}

/// Every processing-time window operator over a generator (10 records per batch).
fn processing_time_windows(ctx: &StreamingContext) -> Vec<CollectedBatches<String>> {
    let nums = ctx.generator_stream(GeneratorOptions::rate(100), |i| i);
    let pairs = nums.map(|i| (i % 7, i));
    let (len, slide) = (ms(300), ms(200));
    vec![
        pairs
            .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, len, slide)
            .map(|x| render("inv", x))
            .collect_batches(),
        pairs
            .reduce_by_key_and_window(|a, b| a + b, len, slide)
            .map(|x| render("rbkw", x))
            .collect_batches(),
        pairs
            .group_by_key_and_window(len, slide)
            .map(|(k, mut vs)| {
                vs.sort();
                render("group", (k, vs))
            })
            .collect_batches(),
        nums.map(|i| i % 5)
            .count_by_value_and_window(len, ms(100))
            .map(|x| render("cbv", x))
            .collect_batches(),
        nums.window(len, slide)
            .map(|x| render("window", x))
            .collect_batches(),
        nums.count_by_window(len, slide)
            .map(|x| render("count", x))
            .collect_batches(),
        nums.reduce_by_window(|a, b| a + b, len, slide)
            .map(|x| render("reduce", x))
            .collect_batches(),
        nums.count_window(7, 4)
            .map(|x| render("cw", x))
            .collect_batches(),
        pairs
            .count_window_by_key(3, 2)
            .map(|x| render("cwk", x))
            .collect_batches(),
    ]
}

#[test]
fn processing_time_windows_recover_exactly() {
    check_recovery(processing_time_windows, 2, 2);
}

#[test]
fn processing_time_windows_recover_on_a_different_worker_count() {
    check_recovery(processing_time_windows, 2, 3);
    check_recovery(processing_time_windows, 3, 1);
}

/// Tumbling and session event-time windows (records out of order: some are late).
fn event_time_windows(ctx: &StreamingContext) -> Vec<CollectedBatches<String>> {
    // Event time runs ahead of batch time and jitters by up to 400 ms.
    let recs = ctx.generator_stream(GeneratorOptions::rate(100), |i| {
        (i % 3, 1_000 + i * 13 + (i * 7919 % 5) * 100)
    });
    let timed = recs.with_event_time(
        |r: &(u64, u64)| r.1,
        WatermarkOptions::new(ms(150)).idle_timeout(ms(1_000)),
    );
    let tumbling = Arc::new(
        timed
            .count_by_key_and_window(WindowSpec::tumbling(ms(250)))
            .unwrap(),
    );
    let sessions = timed
        .reduce_by_key_and_window(WindowSpec::session(ms(30)), |a, b| a.max(b))
        .unwrap();
    let late = Arc::clone(&tumbling);
    LATE.with(|l| *l.borrow_mut() = Some(Box::new(move || late.late_count())));
    vec![
        tumbling
            .windows()
            .map(|x| render("tumbling", x))
            .collect_batches(),
        sessions
            .windows()
            .map(|x| render("session", x))
            .collect_batches(),
    ]
}

#[test]
fn event_time_windows_recover_exactly() {
    let reference = check_recovery(event_time_windows, 2, 2);
    assert!(
        reference.late.unwrap() > 0,
        "the test should have late records"
    );
    let windows = reference.outputs.keys().filter(|(o, _)| *o == 0).count();
    assert!(windows >= 5, "tumbling windows close in most batches");
}

/// A running sum per key.
fn running_sums(ctx: &StreamingContext) -> Vec<CollectedBatches<String>> {
    vec![ctx
        .generator_stream(GeneratorOptions::rate(100), |i| (i % 5, i))
        .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
            Some(old.unwrap_or(0) + new.iter().sum::<u64>())
        })
        .map(|x| render("sum", x))
        .collect_batches()]
}

#[test]
fn update_state_by_key_recovers_on_more_workers() {
    check_recovery(running_sums, 1, 2);
}

#[test]
fn a_changed_pipeline_does_not_start_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    run(2, Some(dir.path()), 0, 2, running_sums);
    let clock = ManualClock::new(200);
    let ctx = StreamingContext::get_or_create(dir.path(), || {
        let ctx = StreamingContext::with_clock(
            StreamingConfig::new(ms(100))
                .workers(2)
                .checkpoint_interval(3)
                .stop_on_ctrl_c(false),
            Arc::new(clock.clone()),
        )?;
        ctx.generator_stream(GeneratorOptions::rate(100), |i| (i % 5, i))
            .filter(|(k, _)| *k != 3) // the extra operator
            .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
                Some(old.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .map(|x| render("sum", x))
            .collect_batches();
        Ok(ctx)
    })
    .unwrap();
    match ctx.start() {
        Err(Error::Plan(message)) => assert!(
            message.contains("does not match the checkpoint"),
            "unexpected message: {message}"
        ),
        other => panic!("expected a fingerprint error, got {other:?}"),
    }
}
