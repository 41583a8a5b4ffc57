//! Golden tests of the record-at-a-time and per-partition DStream operators: map, flat_map,
//! filter, map_partitions, glom, union, repartition, map_values, flat_map_values.

mod common;

use common::*;

#[test]
fn map_applies_to_every_record_of_every_batch() {
    golden(3, vec![vec![10, 20, 30], vec![], vec![40, 50]], |ctx| {
        ctx.queue_stream(vec![vec![1, 2, 3], vec![], vec![4, 5]])
            .map(|x: i32| x * 10)
            .collect_batches()
    });
}

#[test]
fn map_changes_the_record_type() {
    golden(2, vec![strings(&["1", "22"]), strings(&["333"])], |ctx| {
        ctx.queue_stream(vec![vec![1u64, 22], vec![333]])
            .map(|x| x.to_string())
            .collect_batches()
    });
}

#[test]
fn flat_map_flattens_and_may_drop_records() {
    golden(
        4,
        vec![
            strings(&["a", "b", "c"]),
            vec![],
            vec![],
            strings(&["d", "d", "e"]),
        ],
        |ctx| {
            ctx.queue_stream(vec![
                strings(&["a b", "c"]),
                vec![],
                // Records that flatten to nothing leave an empty batch.
                strings(&["", "   "]),
                strings(&["d d", "e"]),
            ])
            .flat_map(|line: String| {
                line.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect_batches()
        },
    );
}

#[test]
fn filter_keeps_matching_records() {
    golden(4, vec![vec![2, 4], vec![], vec![], vec![6, 6]], |ctx| {
        ctx.queue_stream(vec![vec![1, 2, 3, 4], vec![], vec![5, 7], vec![6, 6, 9]])
            .filter(|x: &i32| x % 2 == 0)
            .collect_batches()
    });
}

#[test]
fn chained_narrow_operators() {
    golden(2, vec![vec![4, 16], vec![36]], |ctx| {
        ctx.queue_stream(vec![vec![1, 2, 3, 4], vec![5, 6]])
            .filter(|x: &i32| x % 2 == 0)
            .map(|x| x * x)
            .flat_map(|x| vec![x])
            .collect_batches()
    });
}

#[test]
fn map_partitions_sees_one_partition_per_worker_including_empty_ones() {
    // Batch 1 holds 1..=8, batch 2 is empty, batch 3 holds three records.
    let batches = vec![(1..=8).collect::<Vec<i32>>(), vec![], vec![1, 2, 3]];

    let (ctx, clock) = context(1);
    let out = ctx
        .queue_stream(batches.clone())
        .map_partitions(|part: Vec<i32>| vec![(part.len(), part.iter().sum::<i32>())])
        .collect_batches();
    run_batches(&ctx, &clock, 3);
    let got: Vec<_> = out.batches().into_iter().map(|(_, r)| r).collect();
    assert_eq!(got, vec![vec![(8, 36)], vec![(0, 0)], vec![(3, 6)]]);

    // Four workers: each batch is split evenly and gathered worker 0 first.
    let (ctx, clock) = context(4);
    let out = ctx
        .queue_stream(batches)
        .map_partitions(|part: Vec<i32>| vec![(part.len(), part.iter().sum::<i32>())])
        .collect_batches();
    run_batches(&ctx, &clock, 3);
    let got: Vec<_> = out.batches().into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        got,
        vec![
            vec![(2, 3), (2, 7), (2, 11), (2, 15)],
            vec![(0, 0), (0, 0), (0, 0), (0, 0)],
            vec![(0, 0), (1, 1), (1, 2), (1, 3)],
        ]
    );
}

#[test]
fn map_partitions_may_return_nothing() {
    golden(2, vec![vec![], vec![]], |ctx| {
        ctx.queue_stream(vec![vec![1, 2, 3], vec![]])
            .map_partitions(|_part: Vec<i32>| Vec::<i32>::new())
            .collect_batches()
    });
}

#[test]
fn glom_turns_each_partition_into_a_vec() {
    let (ctx, clock) = context(1);
    let out = ctx
        .queue_stream(vec![(1..=8).collect::<Vec<i32>>(), vec![]])
        .glom()
        .collect_batches();
    run_batches(&ctx, &clock, 2);
    let got: Vec<_> = out.batches().into_iter().map(|(_, r)| r).collect();
    assert_eq!(got, vec![vec![(1..=8).collect::<Vec<_>>()], vec![vec![]]]);

    let (ctx, clock) = context(4);
    let out = ctx
        .queue_stream(vec![(1..=8).collect::<Vec<i32>>(), vec![], vec![1, 2, 3]])
        .glom()
        .collect_batches();
    run_batches(&ctx, &clock, 3);
    let got: Vec<_> = out.batches().into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        got,
        vec![
            vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7, 8]],
            vec![vec![], vec![], vec![], vec![]],
            vec![vec![], vec![1], vec![2], vec![3]],
        ]
    );
}

#[test]
fn union_merges_the_batches_of_the_same_time() {
    golden(4, vec![vec![1, 2, 10], vec![20], vec![3], vec![]], |ctx| {
        let a = ctx.queue_stream(vec![vec![1, 2], vec![], vec![3]]);
        let b = ctx.queue_stream(vec![vec![10], vec![20]]);
        a.union(&b).collect_batches()
    });
}

#[test]
fn union_with_itself_duplicates_every_record() {
    golden(2, vec![vec![1, 1, 2, 2], vec![]], |ctx| {
        let a = ctx.queue_stream(vec![vec![1, 2], vec![]]);
        a.union(&a).collect_batches()
    });
}

#[test]
fn union_of_three_streams() {
    golden(1, vec![vec![1, 2, 3]], |ctx| {
        let a = ctx.queue_stream(vec![vec![1]]);
        let b = ctx.queue_stream(vec![vec![2]]);
        let c = ctx.queue_stream(vec![vec![3]]);
        a.union(&b).union(&c).collect_batches()
    });
}

/// The partition sizes of every batch after `repartition(n)`, with all records of the batch
/// first gathered on one worker (a reduce by a single key), then exploded there.
fn repartitioned_sizes(workers: usize, n: usize, records: u32) -> (Vec<Vec<usize>>, Vec<Vec<u32>>) {
    let (ctx, clock) = context(workers);
    let parts = ctx
        .queue_stream(vec![(0..records).collect::<Vec<u32>>(), vec![]])
        .map(|x| (0u8, vec![x]))
        .reduce_by_key(|mut a, mut b| {
            a.append(&mut b);
            a
        })
        .flat_map(|(_, v)| v)
        .repartition(n)
        .glom();
    let sizes = parts.map(|p| p.len()).collect_batches();
    let contents = parts.flat_map(|p| p).collect_batches();
    run_batches(&ctx, &clock, 2);
    let sizes = sizes.batches().into_iter().map(|(_, r)| r).collect();
    (sizes, contents.sorted_batches())
}

#[test]
fn repartition_spreads_records_evenly() {
    let all: Vec<u32> = (0..12).collect();
    // One worker: one partition whatever `n` is.
    let (sizes, contents) = repartitioned_sizes(1, 4, 12);
    assert_eq!(sizes, vec![vec![12], vec![0]]);
    assert_eq!(contents, vec![all.clone(), vec![]]);
    // Four workers, four partitions: 12 records from one worker become 3 per worker.
    let (sizes, contents) = repartitioned_sizes(4, 4, 12);
    assert_eq!(sizes, vec![vec![3, 3, 3, 3], vec![0, 0, 0, 0]]);
    assert_eq!(contents, vec![all.clone(), vec![]]);
    // Two partitions on four workers: workers 2 and 3 get nothing.
    let (sizes, contents) = repartitioned_sizes(4, 2, 12);
    assert_eq!(sizes, vec![vec![6, 6, 0, 0], vec![0, 0, 0, 0]]);
    assert_eq!(contents, vec![all.clone(), vec![]]);
    // More partitions than workers: capped at the workers.
    let (sizes, contents) = repartitioned_sizes(4, 16, 12);
    assert_eq!(sizes, vec![vec![3, 3, 3, 3], vec![0, 0, 0, 0]]);
    assert_eq!(contents, vec![all, vec![]]);
}

#[test]
fn repartition_keeps_every_record() {
    golden(
        3,
        vec![vec![1, 2, 2, 3, 4, 5, 6, 7], vec![], vec![9]],
        |ctx| {
            ctx.queue_stream(vec![vec![1, 2, 2, 3, 4, 5, 6, 7], vec![], vec![9]])
                .repartition(3)
                .collect_batches()
        },
    );
}

#[test]
fn map_values_keeps_the_keys() {
    golden(
        3,
        vec![
            vec![
                ("a".to_string(), 2),
                ("a".to_string(), 4),
                ("b".to_string(), 6),
            ],
            vec![],
            vec![("c".to_string(), 0)],
        ],
        |ctx| {
            ctx.queue_stream(vec![
                vec![
                    ("a".to_string(), 1),
                    ("b".to_string(), 3),
                    ("a".to_string(), 2),
                ],
                vec![],
                vec![("c".to_string(), 0)],
            ])
            .map_values(|v: i32| v * 2)
            .collect_batches()
        },
    );
}

#[test]
fn flat_map_values_pairs_every_result_with_its_key() {
    golden(
        2,
        vec![
            vec![
                ("a".to_string(), 'x'),
                ("a".to_string(), 'y'),
                ("a".to_string(), 'z'),
                ("b".to_string(), 'q'),
            ],
            vec![],
        ],
        |ctx| {
            ctx.queue_stream(vec![
                vec![
                    ("a".to_string(), "xy".to_string()),
                    ("b".to_string(), "q".to_string()),
                    ("c".to_string(), String::new()),
                    ("a".to_string(), "z".to_string()),
                ],
                vec![],
            ])
            .flat_map_values(|v: String| v.chars().collect::<Vec<_>>())
            .collect_batches()
        },
    );
}

/// Counts the calls of a user function.
fn counted<T>(calls: &std::sync::Arc<std::sync::atomic::AtomicU64>, x: T) -> T {
    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    x
}

#[test]
fn a_chain_read_by_two_operators_runs_once_per_record() {
    let (ctx, clock) = context(2);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c = calls.clone();
    let words = ctx
        .queue_stream(vec![strings(&["a b a", "c"]), strings(&["b"])])
        .flat_map(|line: String| line.split(' ').map(str::to_string).collect::<Vec<_>>())
        .map(move |w| counted(&c, w));
    // Read twice: by a keyed aggregation (which fuses a chain read by it alone) and by an output.
    let counts = words
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
        .collect_batches();
    let all = words.collect_batches();
    run_batches(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 5);
    assert_eq!(
        sorted(&counts, 2),
        vec![
            vec![
                ("a".to_string(), 2),
                ("b".to_string(), 1),
                ("c".to_string(), 1)
            ],
            vec![("b".to_string(), 1)]
        ]
    );
    assert_eq!(
        sorted(&all, 2),
        vec![strings(&["a", "a", "b", "c"]), strings(&["b"])]
    );
}

#[test]
fn a_chain_fused_into_a_keyed_aggregation_gives_what_separate_operators_give() {
    let input = || vec![(0..5_000u64).collect::<Vec<_>>(), (2_000..9_000).collect()];
    let build = |ctx: &freshet::StreamingContext| {
        ctx.queue_stream(input())
            .filter(|x| x % 7 != 3)
            .flat_map(|x| vec![x % 97, x % 13])
            .map(|k| (k, 1u64))
            .reduce_by_key(|a, b| a + b)
            .collect_batches()
    };
    let mut expected = Vec::new();
    for batch in input() {
        let mut counts = std::collections::BTreeMap::new();
        for x in batch.into_iter().filter(|x| x % 7 != 3) {
            for k in [x % 97, x % 13] {
                *counts.entry(k).or_insert(0u64) += 1;
            }
        }
        expected.push(counts.into_iter().collect::<Vec<_>>());
    }
    for workers in [1, 2, 3] {
        let (ctx, clock) = context(workers);
        let got = build(&ctx);
        run_batches(&ctx, &clock, 2);
        ctx.stop(true).unwrap();
        assert_eq!(sorted(&got, 2), expected, "{workers} workers");
    }
}
