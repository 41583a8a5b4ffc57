//! Golden tests of count-based windows (manual clock, batches at 100, 200, ... ms). Arrival
//! order: batch after batch, within a batch worker 0's records first (a queue stream gives each
//! worker a contiguous slice), so 1 and 4 workers see the same order.

use freshet::{BatchTime, DStream, Data, ManualClock, StreamingConfig, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

fn run<T: Data, U: Data>(
    workers: usize,
    batches: Vec<Vec<T>>,
    build: impl FnOnce(DStream<T>) -> DStream<U>,
) -> Vec<Vec<U>> {
    let n = batches.len() as u64;
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(workers)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let out = build(ctx.queue_stream(batches)).collect_batches();
    ctx.start().unwrap();
    for k in 1..=n {
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }
    ctx.stop(true).unwrap();
    out.batches().into_iter().map(|(_, b)| b).collect()
}

#[test]
fn tumbling_and_sliding_count_windows_over_the_stream() {
    let batches = vec![vec![1, 2], vec![3, 4, 5], vec![], vec![6, 7]];
    for workers in [1, 4] {
        let got = run(workers, batches.clone(), |d| d.count_window(3, 3));
        // The last, partial window [7] is not emitted.
        assert_eq!(
            got,
            vec![vec![], vec![vec![1, 2, 3]], vec![], vec![vec![4, 5, 6]]]
        );
        let got = run(workers, batches.clone(), |d| d.count_window(3, 1));
        assert_eq!(
            got,
            vec![
                vec![vec![1], vec![1, 2]],
                vec![vec![1, 2, 3], vec![2, 3, 4], vec![3, 4, 5]],
                vec![],
                vec![vec![4, 5, 6], vec![5, 6, 7]],
            ],
            "{workers} workers"
        );
        let got = run(workers, batches.clone(), |d| d.count_window(4, 2));
        assert_eq!(
            got,
            vec![
                vec![vec![1, 2]],
                vec![vec![1, 2, 3, 4]],
                vec![],
                vec![vec![3, 4, 5, 6]]
            ]
        );
    }
}

#[test]
fn count_windows_per_key() {
    let batches = vec![
        vec![('a', 1), ('b', 1), ('a', 2)],
        vec![('a', 3), ('b', 2), ('a', 4)],
        vec![('b', 3)],
    ];
    for workers in [1, 4] {
        let mut got = run(workers, batches.clone(), |d| d.count_window_by_key(2, 2));
        got.iter_mut().for_each(|b| b.sort());
        assert_eq!(
            got,
            vec![
                vec![('a', vec![1, 2])],
                vec![('a', vec![3, 4]), ('b', vec![1, 2])],
                vec![]
            ],
            "{workers} workers"
        );
    }
}

#[test]
fn invalid_count_windows_fail_start() {
    let start_error = |build: &dyn Fn(DStream<(char, i32)>)| {
        let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
        build(ctx.queue_stream(vec![vec![('a', 1)]]));
        ctx.start()
            .expect_err("start() reports the mistake")
            .to_string()
    };
    let err = start_error(&|d| {
        d.count_window(0, 1);
    });
    assert!(
        err.contains("`count_window`: a count window needs"),
        "{err}"
    );
    let err = start_error(&|d| {
        d.count_window(2, 3);
    });
    assert!(err.contains("cannot exceed its size"), "{err}");
    let err = start_error(&|d| {
        d.count_window_by_key(3, 0);
    });
    assert!(err.contains("`count_window_by_key`"), "{err}");
}

#[test]
fn count_windows_over_a_dataset_follow_partition_order() {
    use freshet::Dataset;
    let ds = Dataset::parallelize((1..=10).collect::<Vec<i32>>(), 4);
    assert_eq!(
        ds.count_window(4, 4).unwrap().collect().unwrap(),
        vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]
    );
    let kv = Dataset::parallelize((1..=10).map(|i| (i % 2, i)).collect::<Vec<_>>(), 3);
    let mut got = kv.count_window_by_key(2, 2).unwrap().collect().unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            (0, vec![2, 4]),
            (0, vec![6, 8]),
            (1, vec![1, 3]),
            (1, vec![5, 7])
        ]
    );
}
