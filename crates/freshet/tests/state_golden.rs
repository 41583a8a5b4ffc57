//! Golden tests of `update_state_by_key` and `map_with_state`, driven by a manual clock
//! (batches at 100, 200, ... ms).

use freshet::{
    BatchTime, DStream, Data, ManualClock, State, StateSpec, StreamingConfig, StreamingContext,
};
use std::sync::Arc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `n` batches over the queue `batches` on `workers` workers; the outputs `build`
/// registers are returned sorted per batch.
fn run<T: Data, U: Data + Ord, V: Data + Ord>(
    workers: usize,
    n: u64,
    batches: Vec<Vec<T>>,
    build: impl FnOnce(DStream<T>) -> (DStream<U>, DStream<V>),
) -> (Vec<Vec<U>>, Vec<Vec<V>>) {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(ms(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let (a, b) = build(ctx.queue_stream(batches));
    let (a, b) = (a.collect_batches(), b.collect_batches());
    ctx.start().unwrap();
    for k in 1..=n {
        clock.advance(ms(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }
    ctx.stop(true).unwrap();
    (a.sorted_batches(), b.sorted_batches())
}

fn kv(k: char, v: u64) -> (char, u64) {
    (k, v)
}

#[test]
fn update_state_by_key_visits_every_key_and_removes_on_none() {
    // A running count that is dropped once it reaches 3; a key with no new values in a batch
    // keeps its state and is still reported.
    let batches = vec![
        vec![kv('a', 1), kv('b', 1)],
        vec![kv('a', 1)],
        vec![],
        vec![kv('a', 1)],
        vec![kv('a', 1)],
    ];
    for workers in [1, 4] {
        let (got, calls) = run(workers, 5, batches.clone(), |d| {
            let states = d.update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
                let n = old.unwrap_or(0) + new.iter().sum::<u64>();
                (n < 3).then_some(n)
            });
            (states.clone(), states.count())
        });
        assert_eq!(
            got,
            vec![
                vec![kv('a', 1), kv('b', 1)],
                vec![kv('a', 2), kv('b', 1)],
                vec![kv('a', 2), kv('b', 1)],
                vec![kv('b', 1)],
                vec![kv('a', 1), kv('b', 1)],
            ],
            "{workers} workers"
        );
        assert_eq!(calls, vec![vec![2], vec![2], vec![2], vec![1], vec![2]]);
    }
}

#[test]
fn update_state_by_key_with_initial_state() {
    for workers in [1, 4] {
        let (got, _) = run(workers, 2, vec![vec![kv('a', 1)]], |d| {
            let s = d.update_state_by_key_with_initial(
                |new: Vec<u64>, old: Option<u64>| Some(old.unwrap_or(0) + new.len() as u64),
                vec![kv('a', 10), kv('z', 5)],
            );
            (s.clone(), s)
        });
        assert_eq!(
            got,
            vec![vec![kv('a', 11), kv('z', 5)], vec![kv('a', 11), kv('z', 5)]]
        );
    }
}

/// A running sum per key; the output is (key, value seen, sum so far, timing out).
fn sum_spec() -> StateSpec<char, u64, u64, (char, Option<u64>, u64, bool)> {
    StateSpec::function(|k: &char, v: Option<u64>, st: &mut State<u64>| {
        let sum = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
        if !st.is_timing_out() {
            st.update(sum);
        }
        (*k, v, sum, st.is_timing_out())
    })
}

#[test]
fn map_with_state_values_and_snapshots() {
    let batches = vec![vec![kv('a', 1), kv('b', 2)], vec![kv('a', 3)], vec![]];
    for workers in [1, 4] {
        let (values, snaps) = run(workers, 3, batches.clone(), |d| {
            let m = d.map_with_state(sum_spec().initial_state(vec![kv('c', 7)]));
            (m.values(), m.state_snapshots())
        });
        assert_eq!(
            values,
            vec![
                vec![('a', Some(1), 1, false), ('b', Some(2), 2, false)],
                vec![('a', Some(3), 4, false)],
                vec![],
            ]
        );
        assert_eq!(
            snaps,
            vec![
                vec![kv('a', 1), kv('b', 2), kv('c', 7)],
                vec![kv('a', 4), kv('b', 2), kv('c', 7)],
                vec![kv('a', 4), kv('b', 2), kv('c', 7)],
            ]
        );
    }
}

#[test]
fn map_with_state_timeout_and_remove() {
    // Timeout 200 ms: a key times out at the first batch more than 200 ms after its last data.
    let batches = vec![
        vec![kv('a', 1), kv('b', 1)],
        vec![kv('b', 1)],
        vec![],
        vec![kv('b', 1)],
        vec![kv('a', 5)],
        vec![],
        vec![],
        vec![],
    ];
    for workers in [1, 4] {
        let (values, snaps) = run(workers, 8, batches.clone(), |d| {
            let m = d.map_with_state(sum_spec().timeout(ms(200)));
            (m.values(), m.state_snapshots())
        });
        assert_eq!(
            values,
            vec![
                vec![('a', Some(1), 1, false), ('b', Some(1), 1, false)],
                vec![('b', Some(1), 2, false)],
                vec![],
                // 'a' last had data at 100; at 400, 300 ms have passed.
                vec![('a', None, 1, true), ('b', Some(1), 3, false)],
                // 'a' comes back with fresh state.
                vec![('a', Some(5), 5, false)],
                vec![],
                // 'b' last had data at 400, 'a' at 500.
                vec![('b', None, 3, true)],
                vec![('a', None, 5, true)],
            ],
            "{workers} workers"
        );
        assert_eq!(snaps[6], vec![kv('a', 5)]);
        assert_eq!(snaps[7], vec![]);
        assert_eq!(snaps[4], vec![kv('a', 5), kv('b', 3)]);
    }
    // A function that removes the state on a threshold.
    let spec = StateSpec::function(|_k: &char, v: Option<u64>, st: &mut State<u64>| {
        let n = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
        if n >= 2 {
            st.remove();
        } else {
            st.update(n);
        }
        n
    });
    let (values, snaps) = run(
        2,
        3,
        vec![vec![kv('a', 1)], vec![kv('a', 1)], vec![kv('a', 1)]],
        |d| {
            let m = d.map_with_state(spec);
            (m.values(), m.state_snapshots())
        },
    );
    assert_eq!(values, vec![vec![1], vec![2], vec![1]]);
    assert_eq!(snaps, vec![vec![kv('a', 1)], vec![], vec![kv('a', 1)]]);
}
