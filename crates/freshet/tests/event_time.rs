//! Golden tests of event-time windows, driven by a manual clock (batches at 100, 200, ... ms;
//! event times are independent of batch times). A graceful stop runs one last batch that emits
//! every open window.

use freshet::event_time::{EventWindow, EventWindows, LatePolicy, WatermarkOptions, WindowSpec};
use freshet::{BatchTime, EventTimeStream, ManualClock, StreamingConfig, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

type Rec = (char, u64);
type Out = (char, EventWindow, u64);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn w(start: u64, end: u64) -> EventWindow {
    EventWindow { start, end }
}

struct Run {
    windows: Vec<Vec<Out>>,
    late: Vec<Vec<Rec>>,
    late_count: u64,
}

/// Runs `n` batches of the queue `batches` (records are (key, event time)), then stops
/// gracefully; the windows are counts per key.
fn run(
    workers: usize,
    n: u64,
    batches: Vec<Vec<Rec>>,
    options: WatermarkOptions,
    build: impl FnOnce(EventTimeStream<Rec>) -> EventWindows<char, u64, Rec>,
) -> Run {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(ms(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let result = build(
        ctx.queue_stream(batches)
            .with_event_time(|r: &Rec| r.1, options),
    );
    let windows = result.windows().collect_batches();
    let late = result.late_records().collect_batches();
    ctx.start().unwrap();
    for k in 1..=n {
        clock.advance(ms(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }
    ctx.stop(true).unwrap();
    Run {
        windows: windows.sorted_batches(),
        late: late.sorted_batches(),
        late_count: result.late_count(),
    }
}

fn count(spec: WindowSpec) -> impl FnOnce(EventTimeStream<Rec>) -> EventWindows<char, u64, Rec> {
    move |s| s.count_by_key_and_window(spec).unwrap()
}

#[test]
fn tumbling_windows_close_with_the_watermark_and_late_records_go_aside() {
    let batches = vec![
        vec![('a', 1), ('a', 4), ('b', 12)],
        vec![('a', 8), ('a', 21)],
        vec![('a', 3), ('b', 15), ('a', 30)],
        vec![],
    ];
    let options = WatermarkOptions::new(ms(5)).late_policy(LatePolicy::SideOutput);
    let r = run(1, 4, batches, options, count(WindowSpec::tumbling(ms(10))));
    assert_eq!(
        r.windows,
        vec![
            // Watermark 12 - 5 = 7: nothing closes yet.
            vec![],
            // Watermark 16: [0, 10) closes; 'a' at 8 came in time (8 >= 7).
            vec![('a', w(0, 10), 3)],
            // Records below 16 are late; watermark 25 closes [10, 20).
            vec![('b', w(10, 20), 1)],
            vec![],
            // The graceful stop's last batch emits the open windows.
            vec![('a', w(20, 30), 1), ('a', w(30, 40), 1)],
        ]
    );
    assert_eq!(
        r.late,
        vec![vec![], vec![], vec![('a', 3), ('b', 15)], vec![], vec![]]
    );
    assert_eq!(r.late_count, 2);
}

#[test]
fn dropped_late_records_are_counted() {
    // Watermark after batch 1: 100 - 5 = 95; 10 is late, 95 and 99 are not.
    let batches = vec![vec![('a', 100)], vec![('a', 10), ('a', 95), ('a', 99)]];
    let r = run(
        2,
        2,
        batches,
        WatermarkOptions::new(ms(5)),
        count(WindowSpec::tumbling(ms(50))),
    );
    assert_eq!(r.late_count, 1);
    assert!(r.late.iter().all(|b| b.is_empty()));
    let all: Vec<Out> = r.windows.into_iter().flatten().collect();
    assert_eq!(all, vec![('a', w(50, 100), 2), ('a', w(100, 150), 1)]);
}

#[test]
fn sliding_windows() {
    let batches = vec![vec![('a', 5), ('a', 15)], vec![('a', 25)]];
    let spec = WindowSpec::sliding(ms(20), ms(10));
    let r = run(1, 2, batches, WatermarkOptions::new(ms(0)), count(spec));
    assert_eq!(
        r.windows,
        vec![
            // The window ending at 10 starts before 0: its start is clamped.
            vec![('a', w(0, 10), 1)],
            vec![('a', w(0, 20), 2)],
            vec![('a', w(10, 30), 2), ('a', w(20, 40), 1)],
        ]
    );
}

#[test]
fn session_windows_grow_merge_and_close() {
    let batches = vec![
        vec![('a', 1), ('a', 5), ('b', 1)],
        vec![('a', 30), ('a', 12)],
        vec![('a', 35)],
    ];
    let spec = WindowSpec::session(ms(10));
    let r = run(1, 3, batches, WatermarkOptions::new(ms(0)), count(spec));
    assert_eq!(
        r.windows,
        vec![
            vec![],
            vec![('a', w(1, 22), 3), ('b', w(1, 11), 1)],
            vec![],
            vec![('a', w(30, 45), 2)],
        ]
    );
    // A record between two sessions joins them.
    let batches = vec![vec![('a', 0), ('a', 18)], vec![('a', 9)]];
    let r = run(1, 2, batches, WatermarkOptions::new(ms(100)), count(spec));
    let all: Vec<Out> = r.windows.into_iter().flatten().collect();
    assert_eq!(all, vec![('a', w(0, 28), 3)]);
}

#[test]
fn idle_partitions_stop_holding_the_watermark_back() {
    // Two workers: a two-record batch gives one record to each, a one-record batch goes to
    // worker 1. Worker 0 reads 'x' at 1 and then nothing.
    let batches = || {
        vec![
            vec![('x', 1), ('y', 100)],
            vec![('y', 200)],
            vec![('y', 300)],
            vec![('y', 400)],
        ]
    };
    let tumbling = || count(WindowSpec::tumbling(ms(100)));
    let options = WatermarkOptions::new(ms(0)).idle_timeout(ms(200));
    let r = run(2, 4, batches(), options, tumbling());
    // At batch 300 worker 0 has been idle for 200 ms: the watermark is worker 1's 300.
    assert_eq!(r.windows[0], vec![]);
    assert_eq!(r.windows[1], vec![]);
    assert_eq!(
        r.windows[2],
        vec![
            ('x', w(0, 100), 1),
            ('y', w(100, 200), 1),
            ('y', w(200, 300), 1)
        ]
    );
    // Without the timeout, worker 0 holds the watermark at 1 until the end of the input.
    let options = WatermarkOptions::new(ms(0)).idle_timeout(ms(100_000));
    let r = run(2, 4, batches(), options, tumbling());
    assert!(r.windows[..4].iter().all(|b| b.is_empty()));
    assert_eq!(r.windows[4].len(), 5);
}

#[test]
fn available_now_emits_every_open_window_and_workers_agree() {
    let batches: Vec<Vec<Rec>> = (0..10)
        .map(|b| {
            (0..20)
                .map(|i| ((b'a' + (i % 3) as u8) as char, b * 20 + i))
                .collect()
        })
        .collect();
    let mut results = Vec::new();
    for workers in [1, 4] {
        let clock = ManualClock::new(0);
        let ctx = StreamingContext::with_clock(
            StreamingConfig::new(ms(100)).workers(workers),
            Arc::new(clock),
        )
        .unwrap();
        let counts = ctx
            .queue_stream(batches.clone())
            .with_event_time(|r: &Rec| r.1, WatermarkOptions::new(ms(30)))
            .count_by_key_and_window(WindowSpec::tumbling(ms(50)))
            .unwrap();
        let out = counts.windows().collect_batches();
        ctx.run_available_now().unwrap();
        let mut all: Vec<Out> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
        all.sort();
        assert_eq!(counts.late_count(), 0);
        results.push(all);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].iter().map(|o| o.2).sum::<u64>(), 200);
    assert_eq!(results[0].len(), 4 * 3);
}

#[test]
fn invalid_specs_fail_when_built() {
    let ctx = StreamingContext::new(StreamingConfig::new(ms(100))).unwrap();
    let s = ctx
        .queue_stream::<Rec>(vec![])
        .with_event_time(|r: &Rec| r.1, WatermarkOptions::new(ms(0)));
    let err = s
        .count_by_key_and_window(WindowSpec::sliding(ms(30), ms(20)))
        .err()
        .unwrap();
    assert!(err.to_string().contains("multiple of its slide"), "{err}");
    assert!(s
        .count_by_key_and_window(WindowSpec::tumbling(ms(0)))
        .is_err());
    assert!(s
        .count_by_key_and_window(WindowSpec::session(ms(0)))
        .is_err());
}

#[test]
fn a_dataset_gets_every_window_of_its_records() {
    use freshet::Dataset;
    let recs: Vec<Rec> = (0..300u64)
        .map(|i| ((b'a' + (i % 4) as u8) as char, (i * 37) % 1000))
        .collect();
    for spec in [
        WindowSpec::tumbling(ms(100)),
        WindowSpec::sliding(ms(100), ms(25)),
        WindowSpec::session(ms(15)),
    ] {
        let mut from_dataset = Dataset::parallelize(recs.clone(), 3)
            .with_event_time(|r: &Rec| r.1)
            .count_by_key_and_window(spec)
            .unwrap()
            .collect()
            .unwrap();
        from_dataset.sort();
        // The same records as one in-time stream batch.
        let ctx = StreamingContext::with_clock(
            StreamingConfig::new(ms(100)).workers(2),
            Arc::new(ManualClock::new(0)),
        )
        .unwrap();
        let counts = ctx
            .queue_stream(vec![recs.clone()])
            .with_event_time(|r: &Rec| r.1, WatermarkOptions::new(ms(0)))
            .count_by_key_and_window(spec)
            .unwrap();
        let out = counts.windows().collect_batches();
        ctx.run_available_now().unwrap();
        let mut from_stream: Vec<Out> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
        from_stream.sort();
        assert_eq!(from_dataset, from_stream, "{spec:?}");
        assert_eq!(
            from_dataset.iter().map(|o| o.2).sum::<u64>(),
            match spec {
                WindowSpec::Sliding { .. } => 4 * 300,
                _ => 300,
            }
        );
    }
}
