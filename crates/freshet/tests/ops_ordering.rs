//! Golden tests of the ordering operators: `sort_by_key`, `sort_by`, `top`, `take_ordered` and
//! their `_by` forms, on every batch of a stream and on datasets. Unlike the other golden
//! tests, batches are compared in the order the outputs read them: a sorted batch must be
//! totally ordered across the workers, and equal keys must keep their arrival order.

mod common;

use common::*;
use freshet::{CollectedBatches, Dataset, StreamingContext};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// Like `golden`, but compares each batch in the order the output received it.
fn exact<T, F>(n: u64, expected: Vec<Vec<T>>, build: F)
where
    T: Clone + PartialEq + Debug,
    F: Fn(&StreamingContext) -> CollectedBatches<T>,
{
    exact_on(&WORKERS, n, expected, build)
}

fn exact_on<T, F>(workers: &[usize], n: u64, expected: Vec<Vec<T>>, build: F)
where
    T: Clone + PartialEq + Debug,
    F: Fn(&StreamingContext) -> CollectedBatches<T>,
{
    for &w in workers {
        let (ctx, clock) = context(w);
        let out = build(&ctx);
        run_batches(&ctx, &clock, n);
        assert_eq!(times(&out), expected_times(n), "batch times");
        let got: Vec<Vec<T>> = out.batches().into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, expected, "with {w} worker(s)");
    }
}

/// `n` pseudo-random numbers below `below` (a fixed linear congruential sequence).
fn numbers(n: usize, below: u64, seed: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % below
        })
        .collect()
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn sort_by_key_orders_every_batch_both_ways() {
    let input = vec![
        vec![(3, 'c'), (1, 'a'), (4, 'd'), (2, 'b')],
        vec![],
        vec![(9, 'z')],
    ];
    exact(
        3,
        vec![
            vec![(1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')],
            vec![],
            vec![(9, 'z')],
        ],
        |ctx| {
            ctx.queue_stream(input.clone())
                .sort_by_key(true)
                .collect_batches()
        },
    );
    exact(
        3,
        vec![
            vec![(4, 'd'), (3, 'c'), (2, 'b'), (1, 'a')],
            vec![],
            vec![(9, 'z')],
        ],
        |ctx| {
            ctx.queue_stream(input.clone())
                .sort_by_key(false)
                .collect_batches()
        },
    );
}

#[test]
fn a_large_batch_is_totally_ordered_and_stable_on_any_number_of_workers() {
    // 5,000 records, keys with many repeats; the value is the arrival position, so the
    // expected result (a stable sort of the batch) also checks that equal keys keep their
    // arrival order.
    let batch: Vec<(u64, usize)> = numbers(5_000, 300, 7).into_iter().zip(0..).collect();
    let mut ascending = batch.clone();
    ascending.sort_by_key(|r| r.0);
    let mut descending = batch.clone();
    descending.sort_by_key(|r| std::cmp::Reverse(r.0));
    exact_on(&[1, 2, 3, 4], 2, vec![ascending, vec![]], |ctx| {
        ctx.queue_stream(vec![batch.clone()])
            .sort_by_key(true)
            .collect_batches()
    });
    exact_on(&[1, 3, 4], 1, vec![descending], |ctx| {
        ctx.queue_stream(vec![batch.clone()])
            .sort_by_key(false)
            .collect_batches()
    });
}

#[test]
fn skewed_keys_all_equal_keep_arrival_order() {
    let batch: Vec<(u8, u32)> = (0..500).map(|i| (7, i)).chain([(1, 999)]).collect();
    let mut expected = vec![(1u8, 999u32)];
    expected.extend((0..500).map(|i| (7, i)));
    exact_on(&[1, 4], 1, vec![expected], |ctx| {
        ctx.queue_stream(vec![batch.clone()])
            .sort_by_key(true)
            .collect_batches()
    });
}

#[test]
fn sort_by_computes_the_key_and_keeps_the_records() {
    let words = strings(&["pear", "fig", "banana", "kiwi", "apple", "date"]);
    exact(
        2,
        vec![
            // By length, longest first; "pear", "kiwi", "date" (4) keep their arrival order.
            strings(&["banana", "apple", "pear", "kiwi", "date", "fig"]),
            vec![],
        ],
        |ctx| {
            ctx.queue_stream(vec![words.clone()])
                .sort_by(|w: &String| w.len(), false)
                .collect_batches()
        },
    );
}

#[test]
fn narrow_operators_after_a_sort_keep_the_order() {
    exact(1, vec![vec![s("1:a"), s("3:c"), s("5:e")]], |ctx| {
        ctx.queue_stream(vec![vec![(5, 'e'), (2, 'b'), (3, 'c'), (1, 'a'), (4, 'd')]])
            .sort_by_key(true)
            .filter(|(k, _)| k % 2 == 1)
            .map(|(k, v)| format!("{k}:{v}"))
            .collect_batches()
    });
}

#[test]
fn sorting_inside_transform_and_after_a_keyed_operator() {
    // Word counts per batch, most frequent first (ties by word, through a composite key).
    exact(
        2,
        vec![
            vec![(s("b"), 3), (s("a"), 2), (s("c"), 2), (s("d"), 1)],
            vec![(s("x"), 1)],
        ],
        |ctx| {
            ctx.queue_stream(vec![
                strings(&["a", "b", "c", "b", "d", "a", "b", "c"]),
                strings(&["x"]),
            ])
            .transform(|ds| {
                ds.count_by_value().sort_by(
                    |(w, n): &(String, u64)| (std::cmp::Reverse(*n), w.clone()),
                    true,
                )
            })
            .collect_batches()
        },
    );
}

#[test]
fn foreach_batch_sees_the_sorted_batch_in_order() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let seen: Arc<Mutex<Vec<Vec<u64>>>> = Arc::default();
        let sink = Arc::clone(&seen);
        ctx.queue_stream(vec![numbers(200, 1000, 3)])
            .map(|x| (x, ()))
            .sort_by_key(true)
            .map(|(x, ())| x)
            .foreach_batch(move |_t, records| sink.lock().unwrap().push(records));
        run_batches(&ctx, &clock, 1);
        let mut expected = numbers(200, 1000, 3);
        expected.sort();
        assert_eq!(*seen.lock().unwrap(), vec![expected], "{workers} workers");
    }
}

#[test]
fn top_and_take_ordered_per_batch() {
    let input = vec![vec![5, 1, 4, 2, 3, 4], vec![], vec![8], vec![2, 9]];
    exact(4, vec![vec![5, 4, 4], vec![], vec![8], vec![9, 2]], |ctx| {
        ctx.queue_stream(input.clone()).top(3).collect_batches()
    });
    exact(4, vec![vec![1, 2, 3], vec![], vec![8], vec![2, 9]], |ctx| {
        ctx.queue_stream(input.clone())
            .take_ordered(3)
            .collect_batches()
    });
    exact(4, vec![vec![], vec![], vec![], vec![]], |ctx| {
        ctx.queue_stream(input.clone()).top(0).collect_batches()
    });
}

#[test]
fn top_by_and_take_ordered_by_break_ties_by_arrival() {
    // (page, views): "b", "d" and "e" tie at 5 views.
    let batch = vec![
        (s("a"), 1),
        (s("b"), 5),
        (s("c"), 9),
        (s("d"), 5),
        (s("e"), 5),
        (s("f"), 2),
    ];
    exact(
        1,
        vec![vec![(s("c"), 9), (s("b"), 5), (s("d"), 5)]],
        |ctx| {
            ctx.queue_stream(vec![batch.clone()])
                .top_by(3, |(_, n): &(String, i32)| *n)
                .collect_batches()
        },
    );
    exact(
        1,
        vec![vec![(s("a"), 1), (s("f"), 2), (s("b"), 5), (s("d"), 5)]],
        |ctx| {
            ctx.queue_stream(vec![batch.clone()])
                .take_ordered_by(4, |(_, n): &(String, i32)| *n)
                .collect_batches()
        },
    );
}

#[test]
fn top_of_a_large_batch_matches_a_stable_sort() {
    // Enough records per worker that each keeps cutting its candidates to the best `n`.
    let batch: Vec<(u64, usize)> = numbers(3_000, 50, 11).into_iter().zip(0..).collect();
    let mut by_key_desc = batch.clone();
    by_key_desc.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut by_key_asc = batch.clone();
    by_key_asc.sort_by_key(|r| r.0);
    let n = 25;
    exact_on(&[1, 2, 4], 1, vec![by_key_desc[..n].to_vec()], |ctx| {
        ctx.queue_stream(vec![batch.clone()])
            .top_by(n, |r: &(u64, usize)| r.0)
            .collect_batches()
    });
    exact_on(&[1, 2, 4], 1, vec![by_key_asc[..n].to_vec()], |ctx| {
        ctx.queue_stream(vec![batch.clone()])
            .take_ordered_by(n, |r: &(u64, usize)| r.0)
            .collect_batches()
    });
    let mut plain: Vec<(u64, usize)> = batch.clone();
    plain.sort();
    exact_on(&[1, 4], 1, vec![plain[..n].to_vec()], |ctx| {
        ctx.queue_stream(vec![batch.clone()])
            .take_ordered(n)
            .collect_batches()
    });
}

#[test]
fn dataset_sorts_and_selections() {
    let records: Vec<(u64, usize)> = numbers(1_000, 100, 5).into_iter().zip(0..).collect();
    for partitions in [1, 3, 4] {
        let ds = Dataset::parallelize(records.clone(), partitions);
        let mut asc = records.clone();
        asc.sort_by_key(|r| r.0);
        assert_eq!(ds.sort_by_key(true).collect().unwrap(), asc, "{partitions}");
        let mut desc = records.clone();
        desc.sort_by_key(|r| std::cmp::Reverse(r.0));
        assert_eq!(
            ds.sort_by_key(false).collect().unwrap(),
            desc,
            "{partitions}"
        );
        let mut by_value = records.clone();
        by_value.sort_by_key(|r| std::cmp::Reverse(r.1));
        assert_eq!(
            ds.sort_by(|r: &(u64, usize)| r.1, false).collect().unwrap(),
            by_value
        );
        let mut all = records.clone();
        all.sort();
        assert_eq!(ds.take_ordered(5).unwrap(), all[..5].to_vec());
        let top: Vec<(u64, usize)> = all.iter().rev().take(5).cloned().collect();
        assert_eq!(ds.top(5).unwrap(), top);
        assert_eq!(ds.top_by(3, |r: &(u64, usize)| r.1).unwrap(), {
            let mut v = records.clone();
            v.reverse();
            v[..3].to_vec()
        });
        assert_eq!(
            ds.take_ordered_by(3, |r: &(u64, usize)| r.1).unwrap(),
            records[..3].to_vec()
        );
        assert!(ds.top(0).unwrap().is_empty());
        assert_eq!(ds.take_ordered(usize::MAX).unwrap(), all);
    }
    let empty = Dataset::parallelize(Vec::<(u8, u8)>::new(), 2);
    assert!(empty.sort_by_key(true).collect().unwrap().is_empty());
    assert!(empty.top(3).unwrap().is_empty());
}

#[test]
fn each_worker_holds_one_balanced_range_of_keys() {
    let (ctx, clock) = context(4);
    let parts = ctx
        .queue_stream(vec![numbers(4_000, 1_000_000, 13)])
        .map(|x| (x, ()))
        .sort_by_key(true)
        .map(|(x, ())| x)
        .glom()
        .collect_batches();
    run_batches(&ctx, &clock, 1);
    let parts = parts.batches().remove(0).1;
    assert_eq!(parts.len(), 4, "one partition per worker");
    for p in &parts {
        // Bounds from 60 sampled keys per worker: each range holds about a quarter.
        assert!(
            (700..=1300).contains(&p.len()),
            "unbalanced: {:?}",
            parts.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
    }
    for w in parts.windows(2) {
        assert!(w[0].last() <= w[1].first(), "ranges overlap");
    }
}
