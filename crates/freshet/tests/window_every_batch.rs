//! Golden tests of the one-duration windows (Spark's `window(windowDuration)` and friends):
//! `*_every_batch(len)` equals the two-duration form with a slide of one batch interval, and a
//! bad length fails `start()` naming the operator.

mod common;

use common::*;
use freshet::{Error, StreamingContext};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s(x: &str) -> String {
    x.to_string()
}

fn numbers() -> Vec<Vec<i32>> {
    vec![vec![1], vec![2, 3], vec![], vec![4], vec![5], vec![]]
}

#[test]
fn window_every_batch_slides_by_one_batch() {
    let expected = vec![
        vec![1],
        vec![1, 2, 3],
        vec![1, 2, 3],
        vec![2, 3, 4],
        vec![4, 5],
        vec![4, 5],
    ];
    golden(6, expected.clone(), |ctx| {
        ctx.queue_stream(numbers())
            .window_every_batch(ms(300))
            .collect_batches()
    });
    golden(6, expected, |ctx| {
        ctx.queue_stream(numbers())
            .window(ms(300), interval())
            .collect_batches()
    });
}

fn words() -> Vec<Vec<(String, i64)>> {
    vec![
        vec![(s("a"), 1), (s("b"), 1)],
        vec![(s("a"), 1)],
        vec![],
        vec![(s("b"), 5)],
    ]
}

#[test]
fn reduce_by_key_and_window_every_batch_recomputed_and_incremental() {
    let expected = vec![
        vec![(s("a"), 1), (s("b"), 1)],
        vec![(s("a"), 2), (s("b"), 1)],
        vec![(s("a"), 1)],
        vec![(s("b"), 5)],
        vec![(s("b"), 5)],
    ];
    golden(5, expected.clone(), |ctx| {
        ctx.queue_stream(words())
            .reduce_by_key_and_window_every_batch(|a, b| a + b, ms(200))
            .collect_batches()
    });
    golden(5, expected, |ctx| {
        ctx.queue_stream(words())
            .reduce_by_key_and_window_inv_every_batch(|a, b| a + b, |a, b| a - b, ms(200))
            .collect_batches()
    });
}

#[test]
fn group_by_key_and_window_every_batch_lists_values_oldest_first() {
    golden(
        4,
        vec![
            vec![(s("a"), vec![1]), (s("b"), vec![1])],
            vec![(s("a"), vec![1, 1]), (s("b"), vec![1])],
            vec![(s("a"), vec![1])],
            vec![(s("b"), vec![5])],
        ],
        |ctx| {
            ctx.queue_stream(words())
                .group_by_key_and_window_every_batch(ms(200))
                .collect_batches()
        },
    );
}

#[test]
fn over_a_windowed_stream_it_slides_by_that_streams_slide() {
    // A tumbling window of 2 batches has batches at 200 and 400 only; a one-duration window
    // over it slides by 200 ms too, as Spark's `window(windowDuration)` does.
    for workers in [1, 4] {
        let out = freshet::testing::run_operation(numbers(), workers, |s| {
            s.window(ms(200), ms(200)).window_every_batch(ms(400))
        })
        .unwrap();
        let times: Vec<u64> = out.batches().iter().map(|(t, _)| t.0).collect();
        assert_eq!(times, vec![200, 400, 600]);
        assert_eq!(
            out.sorted(),
            vec![vec![1, 2, 3], vec![1, 2, 3, 4], vec![4, 5]]
        );
    }
}

/// Builds with `build` on a fresh context and returns the message `start()` fails with.
fn start_error(build: impl Fn(&StreamingContext)) -> String {
    let (ctx, _clock) = context(1);
    build(&ctx);
    match ctx.start() {
        Err(Error::Plan(m)) => m,
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[test]
fn bad_lengths_fail_start_naming_the_operator_and_the_length() {
    let m = start_error(|ctx| {
        let _ = ctx
            .queue_stream(numbers())
            .window_every_batch(ms(150))
            .collect_batches();
    });
    assert_eq!(
        m,
        "`window_every_batch`: the window length (150ms) must be a positive multiple of the batch interval (100ms)"
    );
    let m = start_error(|ctx| {
        let _ = ctx
            .queue_stream(words())
            .reduce_by_key_and_window_every_batch(|a, b| a + b, Duration::ZERO)
            .collect_batches();
    });
    assert!(
        m.starts_with("`reduce_by_key_and_window_every_batch`: the window length (0ns)"),
        "{m}"
    );
    let m = start_error(|ctx| {
        let _ = ctx
            .queue_stream(words())
            .group_by_key_and_window_every_batch(ms(100) + Duration::from_nanos(1))
            .collect_batches();
    });
    assert!(
        m.starts_with("`group_by_key_and_window_every_batch`"),
        "{m}"
    );
    let m = start_error(|ctx| {
        let _ = ctx
            .queue_stream(words())
            .reduce_by_key_and_window_inv_every_batch(
                |a, b| a + b,
                |a, b| a - b,
                ms(100) * 1_000_001,
            )
            .collect_batches();
    });
    assert_eq!(
        m,
        "`reduce_by_key_and_window_inv_every_batch`: the window length (100000.1s) spans 1000001 batch intervals; at most 1000000 are allowed"
    );
}
