//! Golden tests of the processing-time windows, driven by a manual clock: batches at 100, 200,
//! ... ms with an interval of 100 ms, so the zero time is 0 and a window of slide 200 ms ends at
//! 200, 400, 600 ms. As in Spark, a windowed stream has batches only where a window ends: its
//! output operations are not called at the other batch times.

use freshet::{BatchTime, DStream, Data, Error, ManualClock, StreamingConfig, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `n` batches of 100 ms over `batches` (a queue; later batches are empty) on `workers`
/// workers; returns the records of every batch the output saw, sorted, after checking that it
/// saw exactly the batches at multiples of `every` ms.
fn run<T: Data, U: Data + Ord>(
    workers: usize,
    n: u64,
    every: u64,
    batches: Vec<Vec<T>>,
    build: impl FnOnce(DStream<T>) -> DStream<U>,
) -> Vec<Vec<U>> {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(ms(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let out = build(ctx.queue_stream(batches)).collect_batches();
    ctx.start().unwrap();
    for k in 1..=n {
        clock.advance(ms(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }
    ctx.stop(true).unwrap();
    let times: Vec<u64> = out.batches().iter().map(|(t, _)| t.0).collect();
    let expected: Vec<u64> = (1..=n)
        .map(|k| 100 * k)
        .filter(|t| t % every == 0)
        .collect();
    assert_eq!(times, expected, "the output's batches");
    out.sorted_batches()
}

fn s(k: &str, v: i64) -> (String, i64) {
    (k.to_string(), v)
}

#[test]
fn window_boundaries_first_partial_windows_and_empty_batches() {
    for workers in [1, 4] {
        let got = run(
            workers,
            6,
            200,
            vec![vec![1], vec![2], vec![], vec![4], vec![5], vec![6]],
            |d| d.window(ms(300), ms(200)),
        );
        // Windows end at 200 (the first, partial), 400, 600 and hold (t - 300, t].
        let e: Vec<Vec<i32>> = vec![vec![1, 2], vec![2, 4], vec![4, 5, 6]];
        assert_eq!(got, e, "{workers} workers");
    }
}

#[test]
fn tumbling_window_and_slide_of_one_batch() {
    let got = run(2, 4, 200, vec![vec![1, 2], vec![3], vec![4]], |d| {
        d.window(ms(200), ms(200))
    });
    assert_eq!(got, vec![vec![1, 2, 3], vec![4]]);
    let got = run(2, 4, 100, vec![vec![1, 2], vec![3], vec![4]], |d| {
        d.window(ms(200), ms(100))
    });
    assert_eq!(got, vec![vec![1, 2], vec![1, 2, 3], vec![3, 4], vec![4]]);
}

#[test]
fn count_and_reduce_by_window() {
    for workers in [1, 4] {
        let batches = vec![vec![1, 2], vec![3], vec![], vec![], vec![], vec![7]];
        let got = run(workers, 6, 200, batches.clone(), |d| {
            d.count_by_window(ms(200), ms(200))
        });
        // One count per window, zero for an empty one, no batch between windows.
        assert_eq!(got, vec![vec![3], vec![0], vec![1]]);
        let got = run(workers, 6, 100, batches.clone(), |d| {
            d.reduce_by_window(|a, b| a + b, ms(300), ms(100))
        });
        assert_eq!(
            got,
            vec![vec![3], vec![6], vec![6], vec![3], vec![], vec![7]]
        );
        let got = run(workers, 6, 100, batches, |d| {
            d.reduce_by_window_inv(|a, b| a + b, |a, b| a - b, ms(300), ms(100))
        });
        assert_eq!(
            got,
            vec![vec![3], vec![6], vec![6], vec![3], vec![], vec![7]]
        );
    }
}

#[test]
fn keyed_windows_keys_disappear_and_come_back() {
    let batches = vec![
        vec![s("a", 1), s("b", 1)],
        vec![s("a", 2)],
        vec![],
        vec![],
        vec![s("b", 5), s("a", 1), s("a", 1)],
        vec![],
    ];
    // Window of 200 ms sliding by 100 ms: (t - 200, t].
    let expected = vec![
        vec![s("a", 1), s("b", 1)],
        vec![s("a", 3), s("b", 1)],
        vec![s("a", 2)],
        vec![],
        vec![s("a", 2), s("b", 5)],
        vec![s("a", 2), s("b", 5)],
    ];
    for workers in [1, 4] {
        let plain = run(workers, 6, 100, batches.clone(), |d| {
            d.reduce_by_key_and_window(|a, b| a + b, ms(200), ms(100))
        });
        assert_eq!(plain, expected, "plain, {workers} workers");
        let inc = run(workers, 6, 100, batches.clone(), |d| {
            d.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, ms(200), ms(100))
        });
        assert_eq!(inc, expected, "incremental, {workers} workers");
    }
}

#[test]
fn incremental_filter_drops_zero_values() {
    // Values that cancel out: the key stays in the window with 0, which the filter drops.
    let batches = vec![vec![s("a", 2)], vec![s("a", -2)], vec![]];
    let keep_all = run(1, 3, 100, batches.clone(), |d| {
        d.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, ms(200), ms(100))
    });
    assert_eq!(
        keep_all,
        vec![vec![s("a", 2)], vec![s("a", 0)], vec![s("a", -2)]]
    );
    let filtered = run(1, 3, 100, batches, |d| {
        d.reduce_by_key_and_window_inv_filtered(
            |a, b| a + b,
            |a, b| a - b,
            ms(200),
            ms(100),
            |kv: &(String, i64)| kv.1 != 0,
        )
    });
    assert_eq!(filtered, vec![vec![s("a", 2)], vec![], vec![s("a", -2)]]);
}

#[test]
fn count_by_value_and_group_by_key_and_window() {
    let batches = vec![vec!['x', 'y', 'x'], vec!['y'], vec![], vec![]];
    for workers in [1, 4] {
        let got = run(workers, 4, 100, batches.clone(), |d| {
            d.count_by_value_and_window(ms(200), ms(100))
        });
        assert_eq!(
            got,
            vec![
                vec![('x', 2), ('y', 1)],
                vec![('x', 2), ('y', 2)],
                vec![('y', 1)],
                vec![]
            ]
        );
        let got = run(workers, 4, 200, batches.clone(), |d| {
            d.map(|w| (w, 1u8))
                .group_by_key_and_window(ms(200), ms(200))
                .map(|(k, vs)| (k, vs.len()))
        });
        assert_eq!(got, vec![vec![('x', 2), ('y', 2)], vec![]]);
    }
}

/// The error `start()` returns for the pipeline `build` makes.
fn start_error(build: impl FnOnce(DStream<(i32, i32)>)) -> Error {
    let ctx = StreamingContext::new(StreamingConfig::new(ms(100))).unwrap();
    build(ctx.queue_stream(vec![vec![(1, 1)]]));
    ctx.start().expect_err("start() reports the mistake")
}

#[test]
fn lengths_that_are_not_multiples_of_the_interval_fail_start() {
    let err = start_error(|d| {
        d.window(ms(150), ms(100)).collect_batches();
    });
    assert!(matches!(err, Error::Plan(_)), "{err}");
    assert!(err.to_string().contains("`window`"), "{err}");
    assert!(err.to_string().contains("window length (150ms)"), "{err}");
    let err = start_error(|d| {
        d.count_by_window(ms(200), ms(50)).collect_batches();
    });
    assert!(err.to_string().contains("window slide (50ms)"), "{err}");
    let err = start_error(|d| {
        d.reduce_by_key_and_window(|a, b| a + b, ms(0), ms(100));
    });
    assert!(
        err.to_string().contains("`reduce_by_key_and_window`"),
        "{err}"
    );
    let err = start_error(|d| {
        d.group_by_key_and_window(ms(300), ms(250));
    });
    assert!(err.to_string().contains("window slide (250ms)"), "{err}");
}
