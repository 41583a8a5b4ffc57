//! Golden tests of the two-stream keyed operators: join, left/right/full outer join, cogroup.
//! Batches of the same time are joined; keys may be missing on either side, appear several times
//! (every pair is produced), or the batch may be empty on one or both sides.

mod common;

use common::*;
use freshet::{DStream, StreamingContext};

type L = (String, i32);
type R = (String, String);

fn l(k: &str, v: i32) -> L {
    (k.to_string(), v)
}

fn r(k: &str, w: &str) -> R {
    (k.to_string(), w.to_string())
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Batch 1: key `a` twice on both sides, `b` only left, `c` only right.
/// Batch 2: only the left side has records. Batch 3: only the right side.
/// Batch 4: one match. Batch 5: both sides empty.
/// Batch 6: `m` on the left here, and on the right only in batch 7: no match across batches.
fn sides(ctx: &StreamingContext) -> (DStream<L>, DStream<R>) {
    let left = ctx.queue_stream(vec![
        vec![l("a", 1), l("b", 3), l("a", 2)],
        vec![l("x", 1)],
        vec![],
        vec![l("k", 1)],
        vec![],
        vec![l("m", 6)],
        vec![],
    ]);
    let right = ctx.queue_stream(vec![
        vec![r("a", "p"), r("c", "q"), r("a", "r")],
        vec![],
        vec![r("y", "s")],
        vec![r("k", "t")],
        vec![],
        vec![],
        vec![r("m", "u")],
    ]);
    (left, right)
}

#[test]
fn join_pairs_every_value_of_a_key_on_both_sides() {
    golden(
        7,
        vec![
            vec![
                (s("a"), (1, s("p"))),
                (s("a"), (1, s("r"))),
                (s("a"), (2, s("p"))),
                (s("a"), (2, s("r"))),
            ],
            vec![],
            vec![],
            vec![(s("k"), (1, s("t")))],
            vec![],
            vec![],
            vec![],
        ],
        |ctx| {
            let (left, right) = sides(ctx);
            left.join(&right).collect_batches()
        },
    );
}

#[test]
fn left_outer_join_keeps_every_left_value() {
    golden(
        7,
        vec![
            vec![
                (s("a"), (1, Some(s("p")))),
                (s("a"), (1, Some(s("r")))),
                (s("a"), (2, Some(s("p")))),
                (s("a"), (2, Some(s("r")))),
                (s("b"), (3, None)),
            ],
            vec![(s("x"), (1, None))],
            vec![],
            vec![(s("k"), (1, Some(s("t"))))],
            vec![],
            vec![(s("m"), (6, None))],
            vec![],
        ],
        |ctx| {
            let (left, right) = sides(ctx);
            left.left_outer_join(&right).collect_batches()
        },
    );
}

#[test]
fn right_outer_join_keeps_every_right_value() {
    golden(
        7,
        vec![
            vec![
                (s("a"), (Some(1), s("p"))),
                (s("a"), (Some(1), s("r"))),
                (s("a"), (Some(2), s("p"))),
                (s("a"), (Some(2), s("r"))),
                (s("c"), (None, s("q"))),
            ],
            vec![],
            vec![(s("y"), (None, s("s")))],
            vec![(s("k"), (Some(1), s("t")))],
            vec![],
            vec![],
            vec![(s("m"), (None, s("u")))],
        ],
        |ctx| {
            let (left, right) = sides(ctx);
            left.right_outer_join(&right).collect_batches()
        },
    );
}

#[test]
fn full_outer_join_keeps_every_value_of_either_side() {
    golden(
        7,
        vec![
            vec![
                (s("a"), (Some(1), Some(s("p")))),
                (s("a"), (Some(1), Some(s("r")))),
                (s("a"), (Some(2), Some(s("p")))),
                (s("a"), (Some(2), Some(s("r")))),
                (s("b"), (Some(3), None)),
                (s("c"), (None, Some(s("q")))),
            ],
            vec![(s("x"), (Some(1), None))],
            vec![(s("y"), (None, Some(s("s"))))],
            vec![(s("k"), (Some(1), Some(s("t"))))],
            vec![],
            vec![(s("m"), (Some(6), None))],
            vec![(s("m"), (None, Some(s("u"))))],
        ],
        |ctx| {
            let (left, right) = sides(ctx);
            left.full_outer_join(&right).collect_batches()
        },
    );
}

#[test]
fn cogroup_gathers_both_sides_of_every_key() {
    golden(
        7,
        vec![
            vec![
                (s("a"), (vec![1, 2], vec![s("p"), s("r")])),
                (s("b"), (vec![3], vec![])),
                (s("c"), (vec![], vec![s("q")])),
            ],
            vec![(s("x"), (vec![1], vec![]))],
            vec![(s("y"), (vec![], vec![s("s")]))],
            vec![(s("k"), (vec![1], vec![s("t")]))],
            vec![],
            vec![(s("m"), (vec![6], vec![]))],
            vec![(s("m"), (vec![], vec![s("u")]))],
        ],
        |ctx| {
            let (left, right) = sides(ctx);
            left.cogroup(&right)
                .map_values(|(mut vs, mut ws)| {
                    vs.sort();
                    ws.sort();
                    (vs, ws)
                })
                .collect_batches()
        },
    );
}

#[test]
fn self_join_pairs_a_stream_with_itself() {
    golden(
        2,
        vec![
            vec![
                (s("a"), (1, 1)),
                (s("a"), (1, 2)),
                (s("a"), (2, 1)),
                (s("a"), (2, 2)),
                (s("b"), (3, 3)),
            ],
            vec![],
        ],
        |ctx| {
            let x = ctx.queue_stream(vec![vec![l("a", 1), l("b", 3), l("a", 2)], vec![]]);
            x.join(&x).collect_batches()
        },
    );
}

#[test]
fn join_after_aggregation() {
    // Totals per key joined with the number of records per key.
    golden(
        2,
        vec![vec![(s("a"), (6, 3)), (s("b"), (3, 1))], vec![]],
        |ctx| {
            let x = ctx.queue_stream(vec![
                vec![l("a", 1), l("b", 3), l("a", 2), l("a", 3)],
                vec![],
            ]);
            let totals = x.reduce_by_key(|a, b| a + b);
            let counts = x.map_values(|_| 1u32).reduce_by_key(|a, b| a + b);
            totals.join(&counts).collect_batches()
        },
    );
}
