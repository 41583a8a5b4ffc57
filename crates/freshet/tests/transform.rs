//! Golden tests of `transform` and `transform_with`: batch functions on `Dataset`s applied to
//! every batch, combined with static datasets, and seeing the batch time through
//! `current_batch_time()`.

mod common;

use common::*;
use freshet::{current_batch_time, BatchTime, Dataset};
use std::sync::{Arc, Mutex};

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn transform_applies_a_dataset_function_to_every_batch() {
    fn evens_squared(ds: Dataset<i32>) -> Dataset<i32> {
        ds.filter(|x| x % 2 == 0).map(|x| x * x)
    }
    golden(3, vec![vec![4, 16], vec![], vec![36]], |ctx| {
        ctx.queue_stream(vec![vec![1, 2, 3, 4], vec![], vec![5, 6]])
            .transform(evens_squared)
            .collect_batches()
    });
}

#[test]
fn transform_with_keyed_operators() {
    golden(2, vec![vec![(s("a"), 2), (s("b"), 1)], vec![]], |ctx| {
        ctx.queue_stream(vec![strings(&["a", "b", "a"]), vec![]])
            .transform(|ds| ds.count_by_value())
            .collect_batches()
    });
}

/// A reference table of user names, in two partitions.
fn users() -> Dataset<(u32, String)> {
    Dataset::parallelize(
        vec![(1, s("ann")), (2, s("bob")), (3, s("cat")), (4, s("dan"))],
        2,
    )
}

#[test]
fn transform_joins_each_batch_with_a_static_table() {
    golden(
        4,
        vec![
            vec![(1, (s("click"), s("ann"))), (3, (s("buy"), s("cat")))],
            vec![],
            // User 9 is not in the table; user 2 twice.
            vec![(2, (s("a"), s("bob"))), (2, (s("b"), s("bob")))],
            // The table is joined again with every later batch.
            vec![(1, (s("again"), s("ann")))],
        ],
        |ctx| {
            let table = users();
            ctx.queue_stream(vec![
                vec![(1u32, s("click")), (3, s("buy"))],
                vec![],
                vec![(2, s("a")), (9, s("x")), (2, s("b"))],
                vec![(1, s("again"))],
            ])
            .transform(move |batch| batch.join(&table))
            .collect_batches()
        },
    );
}

#[test]
fn static_table_is_part_of_every_batch_even_empty_ones() {
    // Left outer join from the table: every user in every batch, with the events of the batch.
    let row = |id: u32, name: &str, ev: Option<&str>| (id, (s(name), ev.map(s)));
    golden(
        2,
        vec![
            vec![
                row(1, "ann", None),
                row(2, "bob", Some("x")),
                row(2, "bob", Some("y")),
                row(3, "cat", None),
                row(4, "dan", None),
            ],
            vec![
                row(1, "ann", None),
                row(2, "bob", None),
                row(3, "cat", None),
                row(4, "dan", None),
            ],
        ],
        |ctx| {
            let table = users();
            ctx.queue_stream(vec![vec![(2u32, s("x")), (2, s("y"))], vec![]])
                .transform(move |batch| table.left_outer_join(&batch))
                .collect_batches()
        },
    );
}

#[test]
fn transform_may_ignore_the_batch() {
    golden(2, vec![vec![1, 2, 3], vec![1, 2, 3]], |ctx| {
        let table = Dataset::parallelize(vec![1, 2, 3], 3);
        ctx.queue_stream(vec![vec![100], vec![]])
            .transform(move |_batch| table)
            .collect_batches()
    });
}

#[test]
fn transform_with_a_static_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codes.txt");
    std::fs::write(&path, "E1 disk full\nE2 network down\n").unwrap();
    golden(
        2,
        vec![
            vec![(s("E2"), (s("host-a"), s("network down")))],
            vec![(s("E1"), (s("host-b"), s("disk full")))],
        ],
        |ctx| {
            let codes = Dataset::text_file(&path).unwrap().map(|line| {
                let (code, text) = line.split_once(' ').unwrap();
                (code.to_string(), text.to_string())
            });
            ctx.queue_stream(vec![
                vec![(s("E2"), s("host-a")), (s("E7"), s("host-c"))],
                vec![(s("E1"), s("host-b"))],
            ])
            .transform(move |batch| batch.join(&codes))
            .collect_batches()
        },
    );
}

#[test]
fn current_batch_time_inside_operator_closures() {
    golden(
        3,
        vec![vec![(100, 1), (100, 2)], vec![], vec![(300, 3)]],
        |ctx| {
            ctx.queue_stream(vec![vec![1, 2], vec![], vec![3]])
                .transform(|ds| ds.map(|x: i32| (current_batch_time().unwrap().0, x)))
                .collect_batches()
        },
    );
    // Also in keyed operators' functions and after a shuffle.
    golden(
        2,
        vec![vec![(s("a"), (100, 2))], vec![(s("b"), (200, 1))]],
        |ctx| {
            ctx.queue_stream(vec![strings(&["a", "a"]), strings(&["b"])])
                .transform(|ds| {
                    ds.map(|w| (w, 1))
                        .reduce_by_key(|a, b| a + b)
                        .map_values(|n| (current_batch_time().unwrap().0, n))
                })
                .collect_batches()
        },
    );
    assert_eq!(current_batch_time(), None);
}

/// A batch time and what `current_batch_time()` returned for it.
type Seen = (u64, Option<BatchTime>);

#[test]
fn current_batch_time_in_foreach_batch_and_filter() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let sink = seen.clone();
        let kept = ctx
            .queue_stream(vec![vec![1, 2], vec![3, 4], vec![5]])
            // Keep the records of batch 200 only.
            .filter(|_x: &i32| current_batch_time() == Some(BatchTime(200)))
            .collect_batches();
        ctx.queue_stream::<i32>(vec![])
            .foreach_batch(move |t, _| sink.lock().unwrap().push((t.0, current_batch_time())));
        run_batches(&ctx, &clock, 3);
        assert_eq!(sorted(&kept, 3), vec![vec![], vec![3, 4], vec![]]);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                (100, Some(BatchTime(100))),
                (200, Some(BatchTime(200))),
                (300, Some(BatchTime(300)))
            ]
        );
    }
}

#[test]
fn transform_with_passes_the_batches_of_the_same_time() {
    golden(
        3,
        vec![
            vec![(s("a"), (1, 10))],
            vec![],
            vec![(s("c"), (3, 30)), (s("c"), (3, 31))],
        ],
        |ctx| {
            let a = ctx.queue_stream(vec![
                vec![(s("a"), 1), (s("b"), 2)],
                vec![(s("b"), 2)],
                vec![(s("c"), 3)],
            ]);
            let b = ctx.queue_stream(vec![
                vec![(s("a"), 10)],
                vec![],
                vec![(s("c"), 30), (s("c"), 31)],
            ]);
            a.transform_with(&b, |x, y| x.join(&y)).collect_batches()
        },
    );
}

#[test]
fn transform_with_different_record_types_and_a_static_table() {
    golden(
        2,
        vec![strings(&["1", "2", "x", "y"]), strings(&["x", "y"])],
        |ctx| {
            let table = Dataset::parallelize(strings(&["y"]), 1);
            let nums = ctx.queue_stream(vec![vec![1u8, 2], vec![]]);
            let words = ctx.queue_stream(vec![strings(&["x"]), strings(&["x"])]);
            nums.transform_with(&words, move |n, w| {
                n.map(|x| x.to_string()).union(&w).union(&table)
            })
            .collect_batches()
        },
    );
}

#[test]
fn the_transform_function_is_called_once() {
    let calls = Arc::new(Mutex::new(0));
    let (ctx, clock) = context(4);
    let counter = calls.clone();
    let out = ctx
        .queue_stream(vec![vec![1], vec![2], vec![3]])
        .transform(move |ds: Dataset<i32>| {
            *counter.lock().unwrap() += 1;
            ds.map(|x| x + 1)
        })
        .collect_batches();
    run_batches(&ctx, &clock, 3);
    assert_eq!(sorted(&out, 3), vec![vec![2], vec![3], vec![4]]);
    assert_eq!(*calls.lock().unwrap(), 1);
}
