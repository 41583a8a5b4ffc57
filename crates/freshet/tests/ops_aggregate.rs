//! Golden tests of the whole-batch aggregates: count (one record per batch, 0 when empty) and
//! reduce (one record per non-empty batch).

mod common;

use common::*;

#[test]
fn count_gives_one_record_per_batch_and_zero_for_empty_ones() {
    golden(
        5,
        vec![vec![3], vec![0], vec![1], vec![100], vec![0]],
        |ctx| {
            ctx.queue_stream(vec![vec![1, 2, 3], vec![], vec![7], (0..100).collect()])
                .count()
                .collect_batches()
        },
    );
}

#[test]
fn count_after_filter_that_drops_everything() {
    golden(2, vec![vec![0], vec![2]], |ctx| {
        ctx.queue_stream(vec![vec![1, 3, 5], vec![2, 4, 5]])
            .filter(|x: &i32| x % 2 == 0)
            .count()
            .collect_batches()
    });
}

#[test]
fn count_of_a_stream_with_no_input_at_all() {
    golden(3, vec![vec![0], vec![0], vec![0]], |ctx| {
        ctx.queue_stream::<String>(vec![]).count().collect_batches()
    });
}

#[test]
fn reduce_folds_each_non_empty_batch() {
    golden(4, vec![vec![6], vec![], vec![7], vec![5050]], |ctx| {
        ctx.queue_stream(vec![vec![1, 2, 3], vec![], vec![7], (1..=100).collect()])
            .reduce(|a: i64, b| a + b)
            .collect_batches()
    });
}

#[test]
fn reduce_with_max_and_strings() {
    golden(2, vec![strings(&["pear"]), vec![]], |ctx| {
        ctx.queue_stream(vec![strings(&["apple", "pear", "fig", "banana"]), vec![]])
            .reduce(|a: String, b: String| a.max(b))
            .collect_batches()
    });
}

#[test]
fn count_and_reduce_of_keyed_results() {
    // The number of distinct keys per batch, and the largest per-key total.
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let totals = ctx
            .queue_stream(vec![
                vec![(1u8, 1), (2, 5), (1, 7), (3, 2)],
                vec![],
                vec![(26, 3)],
            ])
            .reduce_by_key(|a, b| a + b);
        let keys = totals.count().collect_batches();
        let top = totals.map(|(_, v)| v).reduce(i32::max).collect_batches();
        run_batches(&ctx, &clock, 3);
        assert_eq!(sorted(&keys, 3), vec![vec![3], vec![0], vec![1]]);
        assert_eq!(sorted(&top, 3), vec![vec![8], vec![], vec![3]]);
    }
}
