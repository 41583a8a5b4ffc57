use freshet::{BatchTime, ManualClock, StreamingConfig, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn manual_clock_drives_batches() {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100)).workers(2),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let out = ctx
        .queue_stream(vec![vec![1, 2, 3], vec![], vec![4]])
        .map(|x: i32| (x % 2, x))
        .reduce_by_key(|a, b| a + b)
        .collect_batches();
    let counts = ctx
        .queue_stream::<i32>(vec![vec![1, 2], vec![]])
        .count()
        .collect_batches();
    ctx.start().unwrap();
    for k in 1..=3 {
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }
    ctx.stop(true).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![vec![(0, 2), (1, 4)], vec![], vec![(0, 4)]]
    );
    assert_eq!(counts.sorted_batches(), vec![vec![2], vec![0], vec![0]]);
    assert_eq!(out.batches()[0].0, BatchTime(100));
}
