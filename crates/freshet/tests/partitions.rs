//! Golden tests of the partition-count forms (Spark's `numPartitions`), on 1 and 4 workers,
//! driven by a manual clock (batches at 100, 200, ... ms): the keys of a keyed operator with
//! `n` partitions are owned by the first `min(n, workers)` workers, the results are those of
//! the form without a count, and a `Dataset` gets exactly `n` partitions.

mod common;

use common::*;
use freshet::source::generator::GeneratorOptions;
use freshet::{CollectedBatches, Dataset, Error, ManualClock, StreamingContext, UpdateStateSpec};
use std::sync::Arc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Each batch's partitions (one per worker): each partition sorted, the partitions sorted.
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

/// The number of non-empty partitions of each batch, and each batch's records, sorted.
fn summary<T: Clone + Ord>(parts: &[Vec<Vec<T>>]) -> (Vec<usize>, Vec<Vec<T>>) {
    let used = parts
        .iter()
        .map(|b| b.iter().filter(|p| !p.is_empty()).count())
        .collect();
    let records = parts
        .iter()
        .map(|b| {
            let mut all: Vec<T> = b.iter().flatten().cloned().collect();
            all.sort();
            all
        })
        .collect();
    (used, records)
}

/// 64 keys in two batches, then an empty batch.
fn input() -> Vec<Vec<(u32, u64)>> {
    vec![
        (0..64).map(|k| (k, u64::from(k))).collect(),
        (0..64)
            .map(|k| (k, 1))
            .chain((0..8).map(|k| (k, 2)))
            .collect(),
        vec![],
    ]
}

/// Runs `n` batches on `workers` workers with the output `build` registers.
fn run<T: Clone + Ord>(
    workers: usize,
    n: u64,
    build: impl FnOnce(&StreamingContext) -> CollectedBatches<Vec<T>>,
) -> Vec<Vec<Vec<T>>> {
    let (ctx, clock) = context(workers);
    let out = build(&ctx);
    run_batches(&ctx, &clock, n);
    parts_of(&out, n)
}

/// For every worker count and partition count: the keyed operator `with` (taking a partition
/// count) uses `min(n, workers)` partitions and gives what `without` gives.
fn check<T, W, O>(n: u64, with: W, without: O)
where
    T: Clone + Ord + std::fmt::Debug,
    W: Fn(&StreamingContext, usize) -> CollectedBatches<Vec<T>>,
    O: Fn(&StreamingContext) -> CollectedBatches<Vec<T>>,
{
    for workers in WORKERS {
        let (_, expected) = summary(&run(workers, n, &without));
        for partitions in [1, 2, 3, 4, 16] {
            let (used, records) = summary(&run(workers, n, |ctx| with(ctx, partitions)));
            assert_eq!(
                records, expected,
                "{workers} workers, {partitions} partitions"
            );
            for (b, u) in used.iter().enumerate() {
                if !expected[b].is_empty() {
                    assert_eq!(
                        *u,
                        partitions.min(workers),
                        "{workers} workers, {partitions} partitions, batch {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn reduce_by_key_with_partitions() {
    check(
        3,
        |ctx, n| {
            ctx.queue_stream(input())
                .reduce_by_key_with_partitions(|a, b| a + b, n)
                .glom()
                .collect_batches()
        },
        |ctx| {
            ctx.queue_stream(input())
                .reduce_by_key(|a, b| a + b)
                .glom()
                .collect_batches()
        },
    );
}

#[test]
fn reduce_by_key_with_one_partition_gathers_on_one_worker() {
    let sums: Vec<(u32, u64)> = (0..64).map(|k| (k, u64::from(k))).collect();
    for workers in WORKERS {
        let got = run(workers, 1, |ctx| {
            ctx.queue_stream(vec![input()[0].clone()])
                .reduce_by_key_with_partitions(|a, b| a + b, 1)
                .glom()
                .collect_batches()
        });
        let mut expected = vec![vec![]; workers - 1];
        expected.push(sums.clone());
        assert_eq!(got, vec![expected], "{workers} workers");
    }
}

#[test]
fn group_by_key_with_partitions() {
    check(
        3,
        |ctx, n| {
            ctx.queue_stream(input())
                .group_by_key_with_partitions(n)
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .glom()
                .collect_batches()
        },
        |ctx| {
            ctx.queue_stream(input())
                .group_by_key()
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .glom()
                .collect_batches()
        },
    );
}

#[test]
fn combine_by_key_with_partitions() {
    let create = |v: u64| (v, 1u32);
    let merge_value = |(s, n): (u64, u32), v: u64| (s + v, n + 1);
    let merge = |(s, n): (u64, u32), (t, m): (u64, u32)| (s + t, n + m);
    check(
        3,
        |ctx, n| {
            ctx.queue_stream(input())
                .combine_by_key_with_partitions(create, merge_value, merge, n)
                .glom()
                .collect_batches()
        },
        |ctx| {
            ctx.queue_stream(input())
                .combine_by_key(create, merge_value, merge)
                .glom()
                .collect_batches()
        },
    );
}

#[test]
fn reduce_by_key_and_window_with_partitions() {
    check(
        4,
        |ctx, n| {
            ctx.queue_stream(input())
                .reduce_by_key_and_window_with_partitions(|a, b| a + b, ms(200), ms(100), n)
                .glom()
                .collect_batches()
        },
        |ctx| {
            ctx.queue_stream(input())
                .reduce_by_key_and_window(|a, b| a + b, ms(200), ms(100))
                .glom()
                .collect_batches()
        },
    );
}

#[test]
fn group_by_key_and_window_with_partitions() {
    check(
        4,
        // Values of one batch from several workers come in no set order: sorted.
        |ctx, n| {
            ctx.queue_stream(input())
                .group_by_key_and_window_with_partitions(ms(200), ms(100), n)
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .glom()
                .collect_batches()
        },
        |ctx| {
            ctx.queue_stream(input())
                .group_by_key_and_window(ms(200), ms(100))
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .glom()
                .collect_batches()
        },
    );
}

#[test]
fn update_state_by_key_with_partitions() {
    let sum = |new: Vec<u64>, old: Option<u64>| Some(old.unwrap_or(0) + new.iter().sum::<u64>());
    check(
        3,
        |ctx, n| {
            ctx.queue_stream(input())
                .update_state_by_key_spec(UpdateStateSpec::function(sum).num_partitions(n))
                .glom()
                .collect_batches()
        },
        |ctx| {
            ctx.queue_stream(input())
                .update_state_by_key(sum)
                .glom()
                .collect_batches()
        },
    );
}

#[test]
fn a_dataset_gets_exactly_the_partitions_asked_for() {
    let records: Vec<(u32, u64)> = input().concat();
    let mut sums: Vec<(u32, u64)> = Dataset::parallelize(records.clone(), 2)
        .reduce_by_key(|a, b| a + b)
        .collect()
        .unwrap();
    sums.sort();
    for n in [1, 3, 5] {
        let ds =
            Dataset::parallelize(records.clone(), 2).reduce_by_key_with_partitions(|a, b| a + b, n);
        assert_eq!(ds.partitions(), n);
        let parts = ds.glom().collect().unwrap();
        assert_eq!(parts.len(), n, "{n} partitions");
        assert!(parts.iter().all(|p| !p.is_empty()), "{n}: {parts:?}");
        let mut all: Vec<(u32, u64)> = parts.into_iter().flatten().collect();
        all.sort();
        assert_eq!(all, sums, "{n} partitions");

        let groups = Dataset::parallelize(records.clone(), 4).group_by_key_with_partitions(n);
        assert_eq!(groups.partitions(), n);
        assert_eq!(groups.glom().collect().unwrap().len(), n);
        let mut counts: Vec<(u32, usize)> = groups.map(|(k, vs)| (k, vs.len())).collect().unwrap();
        counts.sort();
        let expected: Vec<(u32, usize)> = (0..64).map(|k| (k, if k < 8 { 3 } else { 2 })).collect();
        assert_eq!(counts, expected);

        let combined = Dataset::parallelize(records.clone(), 1).combine_by_key_with_partitions(
            |v| v,
            u64::max,
            u64::max,
            n,
        );
        assert_eq!(combined.partitions(), n);
        assert_eq!(combined.count().unwrap(), 64);
    }
    // 0 counts as 1, as for `repartition`.
    let one = Dataset::parallelize(records, 2).reduce_by_key_with_partitions(|a, b| a + b, 0);
    assert_eq!(one.partitions(), 1);
    assert_eq!(one.collect().unwrap().len(), 64);
}

#[test]
fn a_partition_count_of_zero_fails_start_by_name() {
    type Build = fn(&StreamingContext);
    let cases: [(&str, Build); 5] = [
        ("reduce_by_key_with_partitions", |ctx| {
            ctx.queue_stream(input())
                .reduce_by_key_with_partitions(|a, b| a + b, 0)
                .collect_batches();
        }),
        ("group_by_key_with_partitions", |ctx| {
            ctx.queue_stream(input())
                .group_by_key_with_partitions(0)
                .collect_batches();
        }),
        ("combine_by_key_with_partitions", |ctx| {
            ctx.queue_stream(input())
                .combine_by_key_with_partitions(|v| v, |a, b| a + b, |a, b| a + b, 0)
                .collect_batches();
        }),
        ("reduce_by_key_and_window_with_partitions", |ctx| {
            ctx.queue_stream(input())
                .reduce_by_key_and_window_with_partitions(|a, b| a + b, ms(100), ms(100), 0)
                .collect_batches();
        }),
        ("group_by_key_and_window_with_partitions", |ctx| {
            ctx.queue_stream(input())
                .group_by_key_and_window_with_partitions(ms(100), ms(100), 0)
                .collect_batches();
        }),
    ];
    for (name, build) in cases {
        let ctx = StreamingContext::with_clock(config(1), Arc::new(ManualClock::new(0))).unwrap();
        build(&ctx);
        let err = ctx.start().expect_err("0 partitions");
        assert!(matches!(err, Error::Plan(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("`{name}` was given 0 partitions")),
            "{err}"
        );
    }
}

/// A running sum per key of a generator's records over `partitions` partitions, checkpointed
/// in `dir`; each output batch is its partitions.
fn checkpointed_sums(
    dir: &std::path::Path,
    workers: usize,
    partitions: usize,
    clock: &ManualClock,
) -> (StreamingContext, CollectedBatches<Vec<(u64, u64)>>) {
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(workers).checkpoint_interval(1),
            Arc::new(clock.clone()),
        )?;
        out = Some(
            ctx.generator_stream(GeneratorOptions::rate(100), |i| (i % 7, i))
                .update_state_by_key_spec(
                    UpdateStateSpec::function(|new: Vec<u64>, old: Option<u64>| {
                        Some(old.unwrap_or(0) + new.iter().sum::<u64>())
                    })
                    .num_partitions(partitions),
                )
                .glom()
                .collect_batches(),
        );
        Ok(ctx)
    })
    .unwrap();
    (ctx, out.unwrap())
}

#[test]
fn partitioned_state_recovers_onto_another_partition_and_worker_count() {
    // The generator makes 10 records per batch: batch k holds 10(k-1) .. 10k - 1.
    let sums_through = |k: u64| -> Vec<(u64, u64)> {
        let mut s = [0u64; 7];
        for i in 0..10 * k {
            s[(i % 7) as usize] += i;
        }
        (0..7).map(|key| (key, s[key as usize])).collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let (ctx, out) = checkpointed_sums(dir.path(), 2, 1, &clock);
    run_batches(&ctx, &clock, 3);
    let (used, records) = summary(&parts_of(&out, 3));
    assert_eq!(used, vec![1, 1, 1]);
    assert_eq!(records[2], sums_through(3));

    // Resumed on 4 workers with 3 partitions: the state moves to its new owners.
    let clock = ManualClock::new(300);
    let (ctx, out) = checkpointed_sums(dir.path(), 4, 3, &clock);
    ctx.start().unwrap();
    step(&ctx, &clock, 4);
    step(&ctx, &clock, 5);
    ctx.stop(true).unwrap();
    let batches = out.batches();
    assert_eq!(
        batches.iter().map(|(t, _)| t.0).collect::<Vec<_>>(),
        vec![400, 500]
    );
    for (t, parts) in batches {
        let k = t.0 / I;
        assert_eq!(parts.len(), 4);
        assert_eq!(
            parts.iter().filter(|p| !p.is_empty()).count(),
            3,
            "batch {k}"
        );
        let mut all: Vec<(u64, u64)> = parts.into_iter().flatten().collect();
        all.sort();
        assert_eq!(all, sums_through(k), "batch {k}");
    }
}
