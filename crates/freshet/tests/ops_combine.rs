//! Golden tests of `StreamingContext::union` and `StreamingContext::transform` over lists of
//! streams (Spark's `ssc.union` and `ssc.transform`), and of their mistakes, which `start()`
//! reports.

mod common;

use common::*;
use freshet::{current_batch_time, BatchTime, DStream, Dataset, Error, StreamingContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn s(x: &str) -> String {
    x.to_string()
}

/// Three queue streams of this context.
fn three(ctx: &StreamingContext) -> Vec<DStream<i32>> {
    vec![
        ctx.queue_stream(vec![vec![1, 2], vec![], vec![3]]),
        ctx.queue_stream(vec![vec![10], vec![20, 21]]),
        ctx.queue_stream(vec![vec![], vec![], vec![300, 301, 302]]),
    ]
}

#[test]
fn union_of_many_streams_batch_by_batch() {
    golden(
        4,
        vec![vec![1, 2, 10], vec![20, 21], vec![3, 300, 301, 302], vec![]],
        |ctx| ctx.union(&three(ctx)).collect_batches(),
    );
}

#[test]
fn union_of_one_stream_and_of_a_stream_with_itself() {
    golden(2, vec![vec![1, 2], vec![3]], |ctx| {
        let a = ctx.queue_stream(vec![vec![1, 2], vec![3]]);
        ctx.union(std::slice::from_ref(&a)).collect_batches()
    });
    // Spark's union of a stream with itself has every record twice; so does Freshet's.
    golden(2, vec![vec![1, 1, 2, 2], vec![3, 3]], |ctx| {
        let a = ctx.queue_stream(vec![vec![1, 2], vec![3]]);
        ctx.union(&[a.clone(), a]).collect_batches()
    });
}

#[test]
fn union_feeds_keyed_and_windowed_operators() {
    golden(
        2,
        vec![
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1)],
        ],
        |ctx| {
            let clicks = ctx.queue_stream(vec![strings(&["a", "b"]), strings(&["c"])]);
            let views = ctx.queue_stream(vec![strings(&["a"]), strings(&["b"])]);
            ctx.union(&[clicks, views])
                .map(|w| (w, 1u64))
                .reduce_by_key_and_window_every_batch(|a, b| a + b, interval() * 2)
                .collect_batches()
        },
    );
}

#[test]
fn transform_passes_one_dataset_per_stream_in_order() {
    golden(
        3,
        vec![
            // The first stream's records, each with the size of the third stream's batch.
            vec![(1, 0), (2, 0)],
            vec![],
            vec![(3, 3)],
        ],
        |ctx| {
            ctx.transform(&three(ctx), |batches: Vec<Dataset<i32>>| {
                assert_eq!(batches.len(), 3);
                let size = batches[2].map(|_| ((), 1)).reduce_by_key(|a, b| a + b);
                batches[0]
                    .map(|x| ((), x))
                    .left_outer_join(&size)
                    .map(|(_, (x, n))| (x, n.unwrap_or(0)))
            })
            .collect_batches()
        },
    );
}

#[test]
fn transform_joins_streams_with_a_static_dataset_and_sees_the_batch_time() {
    let names = Dataset::parallelize(vec![(1, s("ann")), (2, s("bob"))], 2);
    golden(
        2,
        vec![
            vec![(s("ann"), 100), (s("bob"), 100)],
            vec![(s("ann"), 200)],
        ],
        move |ctx| {
            let a = ctx.queue_stream(vec![vec![1], vec![1]]);
            let b = ctx.queue_stream(vec![vec![2, 3], vec![]]);
            let names = names.clone();
            ctx.transform(&[a, b], move |batches| {
                let ids = batches[0].union(&batches[1]).map(|id| (id, ()));
                ids.join(&names).map(|(_, ((), name))| {
                    (name, current_batch_time().map_or(0, BatchTime::millis))
                })
            })
            .collect_batches()
        },
    );
}

/// Starts `ctx` and returns the message of the plan error it fails with.
fn start_error(ctx: &StreamingContext) -> String {
    match ctx.start() {
        Err(Error::Plan(m)) => m,
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[test]
fn an_empty_list_fails_start_and_does_not_call_the_function() {
    let (ctx, _clock) = context(1);
    let _ = ctx.union::<i32>(&[]).collect_batches();
    let m = start_error(&ctx);
    assert!(m.contains("`union` needs at least one stream"), "{m}");

    let (ctx, _clock) = context(1);
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let _ = ctx
        .transform::<i32, i32, _>(&[], move |batches| {
            flag.store(true, Ordering::SeqCst);
            batches[0].clone()
        })
        .collect_batches();
    let m = start_error(&ctx);
    assert!(m.contains("`transform` needs at least one stream"), "{m}");
    assert!(!called.load(Ordering::SeqCst));
}

#[test]
fn a_stream_of_another_context_fails_start_naming_its_index() {
    let (ctx, _clock) = context(1);
    let (other, _other_clock) = context(1);
    let mine = ctx.queue_stream(vec![vec![1]]);
    let theirs = other.queue_stream(vec![vec![2]]);
    let _ = ctx.union(&[mine.clone(), theirs.clone()]).collect_batches();
    let m = start_error(&ctx);
    assert!(m.contains("index 1 (of 2)"), "{m}");
    assert!(m.contains("another StreamingContext"), "{m}");

    let (ctx, _clock) = context(1);
    let mine = ctx.queue_stream(vec![vec![1]]);
    let seen = Arc::new(Mutex::new(0));
    let count = Arc::clone(&seen);
    let _ = ctx
        .transform(&[theirs, mine.clone(), mine], move |b| {
            *count.lock().unwrap() += 1;
            b[1].clone()
        })
        .collect_batches();
    let m = start_error(&ctx);
    assert!(
        m.contains("`transform`: the stream(s) at index 0 (of 3)"),
        "{m}"
    );
    assert_eq!(*seen.lock().unwrap(), 0);
}
