//! Numbers a user passes have ranges, and arithmetic on times and counts saturates or is
//! refused instead of wrapping around: windows longer than the clock can count, event times at
//! the end of the clock, a state timeout of `Duration::MAX`, a generator rate out of range.

mod common;

use common::*;
use freshet::event_time::{WatermarkOptions, WindowSpec};
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, ManualClock, StateSpec};
use std::time::Duration;

#[test]
fn window_lengths_beyond_the_limit_are_refused_by_name() {
    // What `start()` says of a window of length `len`, if it refuses it.
    let window_error = |len: Duration| {
        let (ctx, _clock) = context(1);
        ctx.queue_stream(vec![vec![1u64]])
            .window(len, interval())
            .collect_batches();
        let err = ctx.start().err().map(|e| e.to_string());
        if err.is_none() {
            ctx.stop(false).unwrap();
        }
        err
    };
    let err = window_error(Duration::MAX).unwrap();
    assert!(err.contains("window length"), "{err}");
    // 100 ms batches: a window of 1,000,001 intervals is one too many.
    let err = window_error(Duration::from_millis(100 * 1_000_001)).unwrap();
    assert!(err.contains("at most 1000000"), "{err}");
    assert_eq!(window_error(Duration::from_millis(100 * 1_000_000)), None);
    let (ctx, _clock) = context(1);
    let s = ctx.queue_stream(vec![vec![1u64]]);
    let err = s
        .map(|x| (x, 1u64))
        .with_event_time(|r: &(u64, u64)| r.0, WatermarkOptions::new(Duration::ZERO))
        .count_by_key_and_window(WindowSpec::tumbling(Duration::from_secs(u64::MAX)))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("at most"), "{err}");
}

#[test]
fn event_times_at_the_end_of_the_clock_do_not_wrap_around() {
    let top = u64::MAX - 5;
    for spec in [
        WindowSpec::tumbling(Duration::from_millis(10)),
        WindowSpec::sliding(Duration::from_millis(10), Duration::from_millis(5)),
        WindowSpec::session(Duration::from_millis(10)),
    ] {
        let (ctx, clock) = context(2);
        let windows = ctx
            .queue_stream(vec![vec![('a', top), ('a', u64::MAX), ('b', 3)]])
            .with_event_time(|r: &(char, u64)| r.1, WatermarkOptions::new(Duration::ZERO))
            .count_by_key_and_window(spec)
            .unwrap()
            .windows()
            .collect_batches();
        run_batches(&ctx, &clock, 2);
        // The graceful stop emits every open window that ends by the end of the clock (a
        // sliding window past it does not exist); none wraps around to a small time.
        let all: Vec<_> = windows.batches().into_iter().flat_map(|(_, w)| w).collect();
        assert!(all.iter().any(|w| w.0 == 'a'), "{spec:?}: {all:?}");
        assert!(all.iter().any(|w| w.0 == 'b'), "{spec:?}: {all:?}");
        assert!(
            all.iter().all(|w| w.1.start <= w.1.end),
            "{spec:?}: {all:?}"
        );
    }
}

#[test]
fn a_state_timeout_longer_than_the_clock_never_fires() {
    let (ctx, clock) = context(1);
    let out = ctx
        .queue_stream(vec![vec![("k".to_string(), 1u64)], vec![], vec![]])
        .map_with_state(
            StateSpec::function(|_k: &String, v: Option<u64>, s: &mut freshet::State<u64>| {
                let n = s.get().copied().unwrap_or(0) + v.unwrap_or(0);
                s.update(n);
                n
            })
            .timeout(Duration::MAX),
        )
        .state_snapshots()
        .collect_batches();
    run_batches(&ctx, &clock, 3);
    assert_eq!(out.batches().last().unwrap().1, vec![("k".to_string(), 1)]);
}

#[test]
fn a_generator_rate_out_of_range_fails_start_by_name() {
    let (ctx, _clock) = context(1);
    ctx.click_stream(GeneratorOptions::rate(u64::MAX))
        .count()
        .collect_batches();
    let err = ctx.start().unwrap_err().to_string();
    assert!(
        err.contains("generator's rate must be between 0 and"),
        "{err}"
    );
}

#[test]
fn a_manual_clock_saturates_at_the_end() {
    let clock = ManualClock::new(u64::MAX - 1);
    freshet::Clock::now(&clock);
    clock.advance(Duration::MAX);
    assert_eq!(freshet::Clock::now(&clock), BatchTime(u64::MAX));
}
