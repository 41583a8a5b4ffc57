//! Golden tests of the keyed aggregations: reduce_by_key, group_by_key, combine_by_key,
//! count_by_value. Every batch is aggregated on its own: nothing leaks from one batch to the next.

mod common;

use common::*;

fn kv(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn input() -> Vec<Vec<(String, i64)>> {
    vec![
        kv(&[("a", 1), ("b", 2), ("a", 3), ("a", 4)]),
        vec![],
        kv(&[("b", 5)]),
        kv(&[("c", 1), ("c", 1), ("d", -7), ("c", 1)]),
        // The same keys as batch 1 again: each batch starts from nothing.
        kv(&[("a", 1), ("b", 2)]),
    ]
}

#[test]
fn reduce_by_key_sums_each_key_per_batch() {
    golden(
        6,
        vec![
            kv(&[("a", 8), ("b", 2)]),
            vec![],
            kv(&[("b", 5)]),
            kv(&[("c", 3), ("d", -7)]),
            kv(&[("a", 1), ("b", 2)]),
            vec![],
        ],
        |ctx| {
            ctx.queue_stream(input())
                .reduce_by_key(|a, b| a + b)
                .collect_batches()
        },
    );
}

#[test]
fn reduce_by_key_with_max() {
    golden(1, vec![kv(&[("a", 4), ("b", 2)])], |ctx| {
        ctx.queue_stream(vec![input()[0].clone()])
            .reduce_by_key(i64::max)
            .collect_batches()
    });
}

#[test]
fn reduce_by_key_many_keys() {
    // Keys 0..100, values 0..10_000 with value % 100 == key: the sum for key k is
    // sum_{j<100} (k + 100 j) = 100 k + 495_000.
    let expected: Vec<(u32, u64)> = (0..100).map(|k| (k, 100 * k as u64 + 495_000)).collect();
    golden(2, vec![expected, vec![]], |ctx| {
        ctx.queue_stream(vec![(0..10_000u64).collect::<Vec<_>>(), vec![]])
            .map(|i| ((i % 100) as u32, i))
            .reduce_by_key(|a, b| a + b)
            .collect_batches()
    });
}

#[test]
fn group_by_key_gathers_every_value() {
    golden(
        5,
        vec![
            vec![("a".to_string(), vec![1, 3, 4]), ("b".to_string(), vec![2])],
            vec![],
            vec![("b".to_string(), vec![5])],
            vec![
                ("c".to_string(), vec![1, 1, 1]),
                ("d".to_string(), vec![-7]),
            ],
            vec![("a".to_string(), vec![1]), ("b".to_string(), vec![2])],
        ],
        |ctx| {
            ctx.queue_stream(input())
                .group_by_key()
                .map_values(|mut v: Vec<i64>| {
                    v.sort();
                    v
                })
                .collect_batches()
        },
    );
}

#[test]
fn group_by_key_keeps_arrival_order_on_one_worker() {
    let (ctx, clock) = context(1);
    let out = ctx
        .queue_stream(vec![kv(&[("a", 3), ("b", 9), ("a", 1), ("a", 2)])])
        .group_by_key()
        .collect_batches();
    run_batches(&ctx, &clock, 1);
    assert_eq!(
        out.sorted_batches(),
        vec![vec![
            ("a".to_string(), vec![3, 1, 2]),
            ("b".to_string(), vec![9])
        ]]
    );
}

#[test]
fn combine_by_key_computes_sum_and_count() {
    golden(
        5,
        vec![
            vec![("a".to_string(), (8, 3)), ("b".to_string(), (2, 1))],
            vec![],
            vec![("b".to_string(), (5, 1))],
            vec![("c".to_string(), (3, 3)), ("d".to_string(), (-7, 1))],
            vec![("a".to_string(), (1, 1)), ("b".to_string(), (2, 1))],
        ],
        |ctx| {
            ctx.queue_stream(input())
                .combine_by_key(
                    |v: i64| (v, 1u32),
                    |(s, n), v| (s + v, n + 1),
                    |(s1, n1), (s2, n2)| (s1 + s2, n1 + n2),
                )
                .collect_batches()
        },
    );
}

#[test]
fn combine_by_key_with_a_different_combiner_type() {
    // The combiner is the list of values as strings; merging concatenates.
    golden(
        1,
        vec![vec![
            ("a".to_string(), strings(&["1", "3", "4"])),
            ("b".to_string(), strings(&["2"])),
        ]],
        |ctx| {
            ctx.queue_stream(vec![input()[0].clone()])
                .combine_by_key(
                    |v: i64| vec![v.to_string()],
                    |mut c: Vec<String>, v| {
                        c.push(v.to_string());
                        c
                    },
                    |mut a, mut b| {
                        a.append(&mut b);
                        a
                    },
                )
                .map_values(|mut c| {
                    c.sort();
                    c
                })
                .collect_batches()
        },
    );
}

#[test]
fn combine_by_key_merges_the_combiners_of_every_worker() {
    // 40 values of one key spread over every worker: the result counts all of them once.
    golden(1, vec![vec![("k".to_string(), (820, 40))]], |ctx| {
        ctx.queue_stream(vec![(1..=40i64).map(|v| ("k".to_string(), v)).collect()])
            .combine_by_key(
                |v: i64| (v, 1u32),
                |(s, n), v| (s + v, n + 1),
                |(s1, n1), (s2, n2)| (s1 + s2, n1 + n2),
            )
            .collect_batches()
    });
}

#[test]
fn count_by_value_counts_duplicates() {
    golden(
        3,
        vec![
            vec![("x".to_string(), 3), ("y".to_string(), 1)],
            vec![],
            vec![("z".to_string(), 1)],
        ],
        |ctx| {
            ctx.queue_stream(vec![
                strings(&["x", "y", "x", "x"]),
                vec![],
                strings(&["z"]),
            ])
            .count_by_value()
            .collect_batches()
        },
    );
}

#[test]
fn word_count() {
    golden(
        2,
        vec![
            vec![
                ("be".to_string(), 2),
                ("not".to_string(), 1),
                ("or".to_string(), 1),
                ("to".to_string(), 2),
            ],
            vec![("be".to_string(), 1)],
        ],
        |ctx| {
            ctx.queue_stream(vec![strings(&["to be or", "not to be"]), strings(&["be"])])
                .flat_map(|l: String| l.split(' ').map(str::to_string).collect::<Vec<_>>())
                .map(|w| (w, 1u64))
                .reduce_by_key(|a, b| a + b)
                .collect_batches()
        },
    );
}
