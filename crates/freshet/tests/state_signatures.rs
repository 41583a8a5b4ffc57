//! Golden tests of the Spark forms of keyed state, on 1 and 4 workers, driven by a manual clock
//! (batches at 100, 200, ... ms): `update_state_by_key_with` (batch time and key),
//! `UpdateStateSpec` (initial state, partition count), `StateSpec::function_with` (batch time,
//! `None` emits nothing), `num_partitions`, and the error of a state update in a timeout call.

mod common;

use common::*;
use freshet::{
    BatchTime, CollectedBatches, Error, ManualClock, State, StateSpec, StreamingContext,
    UpdateStateSpec,
};
use std::time::Duration;

fn kv(k: char, v: u64) -> (char, u64) {
    (k, v)
}

/// Runs `n` batches on `workers` workers, with the outputs `build` registers; returns them.
fn run<T>(workers: usize, n: u64, build: impl FnOnce(&StreamingContext) -> T) -> T {
    let (ctx, clock) = context(workers);
    let out = build(&ctx);
    run_batches(&ctx, &clock, n);
    out
}

/// Each batch's partitions (one per worker), each partition sorted, the partitions sorted.
fn parts_of<T: Clone + Ord>(c: &CollectedBatches<Vec<T>>, n: u64) -> Vec<Vec<Vec<T>>> {
    assert_eq!(times(c), expected_times(n), "batch times");
    c.batches()
        .into_iter()
        .map(|(_, mut parts)| {
            parts.iter_mut().for_each(|p| p.sort());
            parts.sort();
            parts
        })
        .collect()
}

/// `workers - 1` empty partitions, then `part`: every record on one worker.
fn on_one_worker<T: Clone + Ord>(workers: usize, part: Vec<T>) -> Vec<Vec<T>> {
    let mut parts = vec![Vec::new(); workers - 1];
    parts.push(part);
    parts
}

#[test]
fn update_state_by_key_with_receives_the_batch_time_and_the_key() {
    // State: (the key the function was given, first batch time, last batch time, sum). Key 'a'
    // is removed at 300 ms, by key and time.
    type St = (char, u64, u64, u64);
    let batches = vec![
        vec![kv('a', 1), kv('b', 2)],
        vec![kv('a', 3)],
        vec![],
        vec![kv('b', 1)],
    ];
    let st = |k: char, first: u64, last: u64, sum: u64| (k, (k, first, last, sum));
    golden(
        5,
        vec![
            vec![st('a', 100, 100, 1), st('b', 100, 100, 2)],
            vec![st('a', 100, 200, 4), st('b', 100, 200, 2)],
            vec![st('b', 100, 300, 2)],
            vec![st('b', 100, 400, 3)],
            vec![st('b', 100, 500, 3)],
        ],
        |ctx| {
            ctx.queue_stream(batches.clone())
                .update_state_by_key_with(
                    |t: BatchTime, k: &char, new: Vec<u64>, old: Option<St>| {
                        if *k == 'a' && t == BatchTime(300) {
                            return None;
                        }
                        let (_, first, _, sum) = old.unwrap_or((*k, t.millis(), 0, 0));
                        Some((*k, first, t.millis(), sum + new.iter().sum::<u64>()))
                    },
                )
                .collect_batches()
        },
    );
}

#[test]
fn update_state_by_key_spec_with_time_key_and_initial_state() {
    // State: (calls, sum of values). 'z' starts with 10 calls and is visited at every batch.
    let batches = vec![vec![kv('a', 1)], vec![], vec![kv('a', 2), kv('z', 5)]];
    golden(
        3,
        vec![
            vec![('a', (1, 1)), ('z', (11, 0))],
            vec![('a', (2, 1)), ('z', (12, 0))],
            vec![('a', (3, 3)), ('z', (13, 5))],
        ],
        |ctx| {
            let spec = UpdateStateSpec::function_with(
                |_t: BatchTime, _k: &char, new: Vec<u64>, old: Option<(u64, u64)>| {
                    let (calls, sum) = old.unwrap_or((0, 0));
                    Some((calls + 1, sum + new.iter().sum::<u64>()))
                },
            )
            .initial_state(vec![('z', (10, 0))]);
            ctx.queue_stream(batches.clone())
                .update_state_by_key_spec(spec)
                .collect_batches()
        },
    );
}

#[test]
fn the_plain_update_function_in_a_spec_equals_update_state_by_key() {
    let batches = vec![vec![kv('a', 1), kv('b', 1)], vec![kv('a', 1)], vec![]];
    let sum = |new: Vec<u64>, old: Option<u64>| Some(old.unwrap_or(0) + new.iter().sum::<u64>());
    let expected = vec![
        vec![kv('a', 1), kv('b', 1)],
        vec![kv('a', 2), kv('b', 1)],
        vec![kv('a', 2), kv('b', 1)],
    ];
    golden(3, expected.clone(), |ctx| {
        ctx.queue_stream(batches.clone())
            .update_state_by_key_spec(UpdateStateSpec::function(sum))
            .collect_batches()
    });
    golden(3, expected, |ctx| {
        ctx.queue_stream(batches.clone())
            .update_state_by_key(sum)
            .collect_batches()
    });
}

#[test]
fn update_state_by_key_with_a_partition_count() {
    // 50 keys; every key's state is its count of values so far.
    let batch: Vec<(u32, u64)> = (0..50).map(|k| (k, 1)).collect();
    let states = |n: u64| (0..50).map(|k| (k, n)).collect::<Vec<(u32, u64)>>();
    for workers in WORKERS {
        for partitions in [1, 2, 8] {
            let out = run(workers, 2, |ctx| {
                ctx.queue_stream(vec![batch.clone(), batch.clone()])
                    .update_state_by_key_spec(
                        UpdateStateSpec::function(|new: Vec<u64>, old: Option<u64>| {
                            Some(old.unwrap_or(0) + new.len() as u64)
                        })
                        .num_partitions(partitions),
                    )
                    .glom()
                    .collect_batches()
            });
            let got = parts_of(&out, 2);
            for (b, parts) in got.iter().enumerate() {
                assert_eq!(parts.len(), workers, "one partition per worker");
                let used = parts.iter().filter(|p| !p.is_empty()).count();
                assert_eq!(
                    used,
                    partitions.min(workers),
                    "{workers} workers, {partitions} partitions"
                );
                let mut all: Vec<(u32, u64)> = parts.iter().flatten().copied().collect();
                all.sort();
                assert_eq!(all, states(b as u64 + 1));
            }
            if partitions == 1 {
                assert_eq!(got[1], on_one_worker(workers, states(2)));
            }
        }
    }
}

/// A running sum per key that emits `(time, key, sum, timing out)` once the sum reaches 3, and
/// in a key's timeout call.
fn threshold_spec() -> StateSpec<char, u64, u64, (u64, char, u64, bool)> {
    StateSpec::function_with(
        |t: BatchTime, k: &char, v: Option<u64>, st: &mut State<u64>| {
            let sum = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
            if st.is_timing_out() {
                return Some((t.millis(), *k, sum, true));
            }
            st.update(sum);
            (sum >= 3).then_some((t.millis(), *k, sum, false))
        },
    )
}

#[test]
fn map_with_state_function_with_emits_nothing_for_none_and_gets_the_time() {
    let batches = vec![
        vec![kv('a', 1), kv('a', 2), kv('b', 5), kv('c', 1)],
        vec![kv('a', 3)],
    ];
    golden(
        5,
        vec![
            vec![(100, 'a', 3, false), (100, 'b', 5, false)],
            vec![(200, 'a', 6, false)],
            vec![],
            // 'b' and 'c' last had data at 100: at 400, 300 ms have passed (timeout 200 ms).
            vec![(400, 'b', 5, true), (400, 'c', 1, true)],
            vec![(500, 'a', 6, true)],
        ],
        |ctx| {
            ctx.queue_stream(batches.clone())
                .map_with_state(threshold_spec().timeout(Duration::from_millis(200)))
                .collect_batches()
        },
    );
}

#[test]
fn map_with_state_function_with_snapshots_and_initial_state() {
    let batches = vec![vec![kv('a', 1)], vec![kv('a', 2), kv('z', 1)]];
    for workers in WORKERS {
        let (values, snaps) = run(workers, 2, |ctx| {
            let m = ctx
                .queue_stream(batches.clone())
                .map_with_state(threshold_spec().initial_state(vec![kv('z', 10)]));
            (m.collect_batches(), m.state_snapshots().collect_batches())
        });
        assert_eq!(
            sorted(&values, 2),
            vec![vec![], vec![(200, 'a', 3, false), (200, 'z', 11, false)]],
            "{workers} workers"
        );
        assert_eq!(
            sorted(&snaps, 2),
            vec![vec![kv('a', 1), kv('z', 10)], vec![kv('a', 3), kv('z', 11)]],
            "{workers} workers"
        );
    }
}

#[test]
fn map_with_state_with_a_partition_count() {
    let batch: Vec<(u32, u64)> = (0..40).map(|k| (k, 1)).collect();
    for workers in WORKERS {
        let (values, snaps) = run(workers, 2, |ctx| {
            let spec = StateSpec::function(|k: &u32, v: Option<u64>, st: &mut State<u64>| {
                let n = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
                st.update(n);
                (*k, n)
            })
            .num_partitions(1);
            let m = ctx
                .queue_stream(vec![batch.clone(), batch.clone()])
                .map_with_state(spec);
            (
                m.glom().collect_batches(),
                m.state_snapshots().glom().collect_batches(),
            )
        });
        let all = |n: u64| (0..40).map(|k| (k, n)).collect::<Vec<(u32, u64)>>();
        assert_eq!(
            parts_of(&values, 2),
            vec![
                on_one_worker(workers, all(1)),
                on_one_worker(workers, all(2))
            ],
            "{workers} workers"
        );
        assert_eq!(
            parts_of(&snaps, 2),
            vec![
                on_one_worker(workers, all(1)),
                on_one_worker(workers, all(2))
            ],
            "{workers} workers"
        );
    }
}

/// Runs a `map_with_state` whose timeout call does `misuse` to the state, with a timeout of
/// 100 ms and data for 'a' in the first batch only: 'a' times out at 300 ms. Returns the
/// values of the batches before, and the error the run ended with.
fn timing_out_with(workers: usize, misuse: fn(&mut State<u64>)) -> (Vec<Vec<(char, u64)>>, Error) {
    let (ctx, clock) = context(workers);
    let spec = StateSpec::function(move |k: &char, v: Option<u64>, st: &mut State<u64>| {
        let n = st.get().copied().unwrap_or(0) + v.unwrap_or(0);
        if st.is_timing_out() {
            misuse(st);
        } else {
            st.update(n);
        }
        (*k, n)
    })
    .timeout(Duration::from_millis(100));
    let out = ctx
        .queue_stream(vec![
            vec![kv('a', 1), kv('b', 1)],
            vec![kv('b', 1)],
            vec![kv('b', 1)],
        ])
        .map_with_state(spec)
        .collect_batches();
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    step(&ctx, &clock, 2);
    clock.advance(interval());
    let err = ctx
        .await_termination_or_timeout(TIMEOUT)
        .expect_err("the timeout call's update fails the job");
    let before: Vec<Vec<(char, u64)>> = out.sorted_batches().into_iter().take(2).collect();
    (before, err)
}

#[test]
fn updating_or_removing_a_timing_out_state_fails_the_job_naming_the_operator() {
    for workers in WORKERS {
        for (action, misuse) in [
            (
                "update",
                (|st: &mut State<u64>| st.update(99)) as fn(&mut State<u64>),
            ),
            ("remove", |st: &mut State<u64>| st.remove()),
        ] {
            let (before, err) = timing_out_with(workers, misuse);
            assert_eq!(
                before,
                vec![vec![kv('a', 1), kv('b', 1)], vec![kv('b', 2)]],
                "{workers} workers"
            );
            match &err {
                Error::Operator { operator, error } => {
                    assert_eq!(operator, "map_with_state", "{err}");
                    match **error {
                        Error::StateTimingOut { action: a, time } => {
                            assert_eq!(a, action, "{err}");
                            assert_eq!(time, BatchTime(300), "{err}");
                        }
                        _ => panic!("expected StateTimingOut, got {err}"),
                    }
                }
                _ => panic!("expected an operator error, got {err}"),
            }
            assert_eq!(err.domain(), freshet::ErrorDomain::User);
            let message = err.to_string();
            assert!(
                message.contains(&format!(
                    "cannot {action} the state of a key that is timing out"
                )),
                "{message}"
            );
        }
    }
}

#[test]
fn reading_a_timing_out_state_is_fine() {
    // The spec of the golden tests above reads the state in the timeout call and does not
    // update it: the job runs on.
    let (ctx, clock) = context(2);
    let out = ctx
        .queue_stream(vec![vec![kv('a', 3)]])
        .map_with_state(threshold_spec().timeout(Duration::from_millis(100)))
        .collect_batches();
    run_batches(&ctx, &clock, 4);
    assert_eq!(
        sorted(&out, 4),
        vec![
            vec![(100, 'a', 3, false)],
            vec![],
            vec![(300, 'a', 3, true)],
            vec![]
        ]
    );
}

#[test]
fn a_partition_count_of_zero_fails_start() {
    for build in [
        (|ctx: &StreamingContext| {
            ctx.queue_stream(vec![vec![kv('a', 1)]])
                .update_state_by_key_spec(
                    UpdateStateSpec::function(|_new: Vec<u64>, old: Option<u64>| old)
                        .num_partitions(0),
                )
                .collect_batches();
        }) as fn(&StreamingContext),
        |ctx: &StreamingContext| {
            ctx.queue_stream(vec![vec![kv('a', 1)]])
                .map_with_state(
                    StateSpec::function(|_k: &char, v: Option<u64>, _st: &mut State<u64>| v)
                        .num_partitions(0),
                )
                .collect_batches();
        },
    ] {
        let ctx = StreamingContext::with_clock(config(1), std::sync::Arc::new(ManualClock::new(0)))
            .unwrap();
        build(&ctx);
        let err = ctx.start().expect_err("0 partitions");
        assert!(matches!(err, Error::Plan(_)), "{err}");
        assert!(err.to_string().contains("was given 0 partitions"), "{err}");
    }
}
