//! Golden tests of the Spark-shaped windowed operators of a `DStream`, on 1 and 4 workers,
//! driven by a manual clock (batches at 100, 200, ... ms): they return the windowed stream
//! (no `Result`), an invalid length, slide or count is reported by `start()` naming the
//! operator, and the incremental window needs no filter (`reduce_by_key_and_window_inv`) or
//! takes a plain closure (`reduce_by_key_and_window_inv_filtered`).

mod common;

use common::*;
use freshet::{DStream, Error, ManualClock, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s(k: &str, v: i64) -> (String, i64) {
    (k.to_string(), v)
}

/// Values that cancel out: 'a' is 0 in the window ending at 200.
fn cancelling() -> Vec<Vec<(String, i64)>> {
    vec![vec![s("a", 2), s("b", 1)], vec![s("a", -2)], vec![], vec![]]
}

#[test]
fn incremental_window_without_a_filter() {
    golden(
        4,
        vec![
            vec![s("a", 2), s("b", 1)],
            vec![s("a", 0), s("b", 1)],
            vec![s("a", -2)],
            vec![],
        ],
        |ctx| {
            ctx.queue_stream(cancelling())
                .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, ms(200), ms(100))
                .collect_batches()
        },
    );
}

#[test]
fn incremental_window_with_a_plain_filter_closure() {
    golden(
        4,
        vec![
            vec![s("a", 2), s("b", 1)],
            vec![s("b", 1)],
            vec![s("a", -2)],
            vec![],
        ],
        |ctx| {
            ctx.queue_stream(cancelling())
                .reduce_by_key_and_window_inv_filtered(
                    |a, b| a + b,
                    |a, b| a - b,
                    ms(200),
                    ms(100),
                    |(_, v)| *v != 0,
                )
                .collect_batches()
        },
    );
}

/// Batches for the whole-stream windows: windows of 200 ms sliding by 100 ms hold
/// {1, 2}, {1, 2, 3}, {3, 4}, {4}.
fn numbers() -> Vec<Vec<i64>> {
    vec![vec![1, 2], vec![3], vec![4], vec![]]
}

#[test]
fn windowed_operators_return_streams_that_chain() {
    let (len, slide) = (ms(200), ms(100));
    golden(4, vec![vec![2], vec![3], vec![2], vec![1]], |ctx| {
        ctx.queue_stream(numbers())
            .count_by_window(len, slide)
            .collect_batches()
    });
    golden(4, vec![vec![2], vec![3], vec![2], vec![1]], |ctx| {
        ctx.queue_stream(numbers())
            .window(len, slide)
            .count()
            .collect_batches()
    });
    golden(4, vec![vec![3], vec![6], vec![7], vec![4]], |ctx| {
        ctx.queue_stream(numbers())
            .reduce_by_window(|a, b| a + b, len, slide)
            .collect_batches()
    });
    golden(4, vec![vec![3], vec![6], vec![7], vec![4]], |ctx| {
        ctx.queue_stream(numbers())
            .reduce_by_window_inv(|a, b| a + b, |a, b| a - b, len, slide)
            .collect_batches()
    });
    golden(
        4,
        vec![
            vec![(0, 1), (1, 1)],
            vec![(0, 1), (1, 2)],
            vec![(0, 1), (1, 1)],
            vec![(0, 1)],
        ],
        |ctx| {
            ctx.queue_stream(numbers())
                .map(|x| x % 2)
                .count_by_value_and_window(len, slide)
                .collect_batches()
        },
    );
    golden(
        4,
        vec![
            vec![(0, vec![2]), (1, vec![1])],
            vec![(0, vec![2]), (1, vec![1, 3])],
            vec![(0, vec![4]), (1, vec![3])],
            vec![(0, vec![4])],
        ],
        |ctx| {
            ctx.queue_stream(numbers())
                .map(|x| (x % 2, x))
                .group_by_key_and_window(len, slide)
                .collect_batches()
        },
    );
    // Windows of 400 ms ending every 200 ms: at 200 (1 + 2 + 3) and 400 (1 + ... + 4); the
    // windowed stream (and what follows it) has no batch at 100 and 300.
    for workers in [1, 4] {
        let out = freshet::testing::run_operation(numbers(), workers, |s| {
            s.map(|x| (1, x))
                .reduce_by_key_and_window(|a, b| a + b, ms(400), ms(200))
                .map(|(k, v)| (k, v + 1))
        })
        .unwrap();
        let times: Vec<u64> = out.batches().iter().map(|(t, _)| t.0).collect();
        assert_eq!(times, vec![200, 400]);
        assert_eq!(out.sorted(), vec![vec![(1, 7)], vec![(1, 11)]]);
    }
    golden(
        4,
        vec![vec![vec![1, 2]], vec![], vec![vec![3, 4]], vec![]],
        |ctx| {
            ctx.queue_stream(numbers())
                .count_window(2, 2)
                .collect_batches()
        },
    );
    golden(
        4,
        vec![
            vec![(0, vec![2]), (1, vec![1])],
            vec![(1, vec![1, 3])],
            vec![(0, vec![2, 4])],
            vec![],
        ],
        |ctx| {
            ctx.queue_stream(numbers())
                .map(|x| (x % 2, x))
                .count_window_by_key(2, 1)
                .collect_batches()
        },
    );
}

/// The error `start()` returns for the pipeline `build` makes on a fresh context.
fn start_error(build: impl FnOnce(DStream<(char, i64)>)) -> Error {
    let ctx = StreamingContext::with_clock(config(1), Arc::new(ManualClock::new(0))).unwrap();
    build(ctx.queue_stream(vec![vec![('a', 1)]]));
    ctx.start().expect_err("start() reports the mistake")
}

#[test]
fn invalid_windows_are_reported_by_start_naming_the_operator() {
    type Build = Box<dyn FnOnce(DStream<(char, i64)>)>;
    let cases: Vec<(&str, &str, Build)> = vec![
        (
            "window",
            "window length (150ms)",
            Box::new(|d| {
                d.window(ms(150), ms(100));
            }),
        ),
        (
            "count_by_window",
            "window slide (50ms)",
            Box::new(|d| {
                d.count_by_window(ms(200), ms(50));
            }),
        ),
        (
            "reduce_by_window",
            "window length (0ns)",
            Box::new(|d| {
                d.map(|(_, v)| v)
                    .reduce_by_window(|a, b| a + b, ms(0), ms(100));
            }),
        ),
        (
            "reduce_by_window_inv",
            "window slide (250ms)",
            Box::new(|d| {
                d.map(|(_, v)| v).reduce_by_window_inv(
                    |a, b| a + b,
                    |a, b| a - b,
                    ms(500),
                    ms(250),
                );
            }),
        ),
        (
            "count_by_value_and_window",
            "window length (1ms)",
            Box::new(|d| {
                d.count_by_value_and_window(ms(1), ms(100));
            }),
        ),
        (
            "reduce_by_key_and_window",
            "window length (0ns)",
            Box::new(|d| {
                d.reduce_by_key_and_window(|a, b| a + b, ms(0), ms(100));
            }),
        ),
        (
            "reduce_by_key_and_window_with_partitions",
            "window slide (150ms)",
            Box::new(|d| {
                d.reduce_by_key_and_window_with_partitions(|a, b| a + b, ms(300), ms(150), 2);
            }),
        ),
        (
            "reduce_by_key_and_window_inv",
            "window length (250ms)",
            Box::new(|d| {
                d.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, ms(250), ms(100));
            }),
        ),
        (
            "reduce_by_key_and_window_inv_filtered",
            "spans 1000001 batch intervals",
            Box::new(|d| {
                d.reduce_by_key_and_window_inv_filtered(
                    |a, b| a + b,
                    |a, b| a - b,
                    ms(100 * 1_000_001),
                    ms(100),
                    |_| true,
                );
            }),
        ),
        (
            "group_by_key_and_window",
            "window slide (250ms)",
            Box::new(|d| {
                d.group_by_key_and_window(ms(300), ms(250));
            }),
        ),
        (
            "group_by_key_and_window_with_partitions",
            "window length (50ms)",
            Box::new(|d| {
                d.group_by_key_and_window_with_partitions(ms(50), ms(100), 3);
            }),
        ),
        (
            "count_window",
            "size 0",
            Box::new(|d| {
                d.count_window(0, 1);
            }),
        ),
        (
            "count_window_by_key",
            "step (3) cannot exceed its size (2)",
            Box::new(|d| {
                d.count_window_by_key(2, 3);
            }),
        ),
    ];
    for (operator, what, build) in cases {
        let err = start_error(build);
        assert!(matches!(err, Error::Plan(_)), "{operator}: {err}");
        let message = err.to_string();
        assert!(message.contains(&format!("`{operator}`: ")), "{message}");
        assert!(message.contains(what), "{message}");
    }
}

#[test]
fn a_valid_pipeline_after_an_invalid_window_still_fails_start() {
    // The invalid window is not used by any output: the mistake is still reported.
    let err = start_error(|d| {
        let _unused = d.window(ms(150), ms(100));
        d.count().collect_batches();
    });
    assert!(err.to_string().contains("`window`"), "{err}");
}
