//! Event-time windows combine records per (key, pane) on the worker that reads them when it
//! knows the watermark the window operator will use (one batch in flight), and send records one
//! by one otherwise (several batches in flight). Both must give the same windows, late records
//! and late count.

use freshet::event_time::{EventWindow, LatePolicy, WatermarkOptions, WindowSpec};
use freshet::source::generator::GeneratorOptions;
use freshet::{StreamingConfig, StreamingContext};
use std::time::Duration;

/// (key, event time): event time moves forward 1 ms per record on average, with disorder up to
/// 3 s, so some records fall behind the 500 ms allowed delay and are late.
fn record(seq: u64) -> (u32, u64) {
    let jitter = (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 3000;
    ((seq % 13) as u32, seq.saturating_sub(jitter))
}

type Outcome = (Vec<(u32, EventWindow, u64)>, Vec<(u32, u64)>, u64);

fn run(workers: usize, in_flight: usize) -> Outcome {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(10))
            .workers(workers)
            .max_in_flight_batches(in_flight)
            .stop_on_ctrl_c(false),
    )
    .unwrap();
    let windows = ctx
        .generator_stream(GeneratorOptions::rate(50_000).limit(20_000), record)
        .with_event_time(
            |r: &(u32, u64)| r.1,
            WatermarkOptions::new(Duration::from_millis(500)).late_policy(LatePolicy::SideOutput),
        )
        .aggregate_by_key_and_window(
            WindowSpec::sliding(Duration::from_secs(4), Duration::from_secs(1)),
            |_| 1u64,
            |n, _| n + 1,
            |a, b| a + b,
        )
        .unwrap();
    let out = windows.windows().collect_batches();
    let late = windows.late_records().collect_batches();
    ctx.run_available_now().unwrap();
    let mut w: Vec<_> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    w.sort_by_key(|(k, win, n)| (win.start, *k, *n));
    let mut l: Vec<_> = late.batches().into_iter().flat_map(|(_, b)| b).collect();
    l.sort();
    (w, l, windows.late_count())
}

/// With late records the results depend on the worker count (each worker is a source partition
/// with its own maximum, and the watermark is their minimum), so each worker count is compared
/// with itself: combined (one batch in flight) against one by one (four in flight).
#[test]
fn combining_before_the_exchange_changes_no_result() {
    for workers in [1, 2, 3] {
        let one_by_one = run(workers, 4);
        assert!(
            one_by_one.2 > 0,
            "the input must have late records ({workers} workers)"
        );
        assert!(!one_by_one.0.is_empty());
        let combined = run(workers, 1);
        assert_eq!(combined.2, one_by_one.2, "late count, {workers} workers");
        assert_eq!(combined.1, one_by_one.1, "late records, {workers} workers");
        assert_eq!(combined.0, one_by_one.0, "windows, {workers} workers");
    }
}
