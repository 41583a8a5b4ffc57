//! Golden tests of remembered batches: `StreamingContext::remember`, `DStream::remembered`,
//! `RememberedBatches::slice` and `DStream::slice` (Spark's `ssc.remember` and
//! `DStream.slice`), with the remember duration Spark would use.

mod common;

use common::*;
use freshet::{BatchTime, Error};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Batch `k` (1-based) holds `k * 10 .. k * 10 + k`: batch 100 is [10], 200 is [20, 21], ...
fn queue(n: u64) -> Vec<Vec<u64>> {
    (1..=n).map(|k| (k * 10..k * 10 + k).collect()).collect()
}

fn batch(k: u64) -> (BatchTime, Vec<u64>) {
    (BatchTime(k * I), (k * 10..k * 10 + k).collect())
}

fn everything() -> (BatchTime, BatchTime) {
    (BatchTime(0), BatchTime(u64::MAX))
}

/// Sorts the records of every batch (their order across workers is the gather order).
fn sorted_records(mut v: Vec<(BatchTime, Vec<u64>)>) -> Vec<(BatchTime, Vec<u64>)> {
    for (_, r) in &mut v {
        r.sort();
    }
    v
}

#[test]
fn by_default_a_stream_remembers_its_latest_batch() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let kept = ctx.queue_stream(queue(5)).remembered();
        run_batches(&ctx, &clock, 5);
        let (from, to) = everything();
        assert_eq!(
            sorted_records(kept.slice(from, to).unwrap()),
            vec![batch(5)]
        );
        assert_eq!(kept.remember_duration(), Some(interval()));
    }
}

#[test]
fn remember_keeps_the_batches_of_its_duration_and_slice_takes_a_closed_range() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        ctx.remember(ms(300)).unwrap();
        let numbers = ctx.queue_stream(queue(6));
        let kept = numbers.remembered();
        run_batches(&ctx, &clock, 6);
        let (from, to) = everything();
        let all = sorted_records(kept.slice(from, to).unwrap());
        assert_eq!(all, vec![batch(4), batch(5), batch(6)], "{workers} workers");
        // [from, to] is closed at both ends; times between batches select nothing more.
        let some = sorted_records(kept.slice(BatchTime(450), BatchTime(600)).unwrap());
        assert_eq!(some, vec![batch(5), batch(6)]);
        let one = sorted_records(numbers.slice(BatchTime(500), BatchTime(500)).unwrap());
        assert_eq!(one, vec![batch(5)]);
        assert!(kept.slice(BatchTime(0), BatchTime(350)).unwrap().is_empty());
        // The same handle for the same stream.
        let again = numbers.remembered();
        assert_eq!(again.slice(from, to).unwrap().len(), 3);
    }
}

#[test]
fn empty_batches_are_remembered_too() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        ctx.remember(ms(1000)).unwrap();
        let kept = ctx
            .queue_stream(vec![vec![1u8], vec![], vec![3]])
            .remembered();
        run_batches(&ctx, &clock, 4);
        let (from, to) = everything();
        assert_eq!(
            kept.slice(from, to).unwrap(),
            vec![
                (BatchTime(100), vec![1]),
                (BatchTime(200), vec![]),
                (BatchTime(300), vec![3]),
                (BatchTime(400), vec![]),
            ]
        );
    }
}

#[test]
fn a_window_over_the_stream_makes_it_remember_the_window_length_more() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let numbers = ctx.queue_stream(queue(8));
        let kept = numbers.remembered();
        // Spark: the windowed stream remembers one slide (100 ms); its parent that plus the
        // window's length (300 ms). A map in between changes nothing.
        let windowed = numbers.map(|x| x + 1).window_every_batch(ms(300));
        let kept_windows = windowed.remembered();
        let _ = windowed.count().collect_batches();
        run_batches(&ctx, &clock, 8);
        assert_eq!(kept.remember_duration(), Some(ms(400)));
        assert_eq!(kept_windows.remember_duration(), Some(ms(100)));
        let (from, to) = everything();
        let all = sorted_records(kept.slice(from, to).unwrap());
        assert_eq!(all, vec![batch(5), batch(6), batch(7), batch(8)]);
        let last = kept_windows.slice(from, to).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].1.len(), 6 + 7 + 8);
    }
}

#[test]
fn the_context_duration_adds_to_a_window_length() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        ctx.remember(ms(200)).unwrap();
        let numbers = ctx.queue_stream(queue(8));
        let kept = numbers.remembered();
        let _ = numbers
            .map(|x| (x % 2, x))
            .reduce_by_key_and_window_every_batch(|a, b| a + b, ms(300))
            .collect_batches();
        run_batches(&ctx, &clock, 8);
        // The window remembers max(slide, 200 ms); the stream that plus 300 ms.
        assert_eq!(kept.remember_duration(), Some(ms(500)));
        let (from, to) = everything();
        assert_eq!(kept.slice(from, to).unwrap().len(), 5);
    }
}

/// What an output saw at each batch: its time and the times of the batches sliced.
type Seen = Arc<Mutex<Vec<(u64, Vec<u64>)>>>;

#[test]
fn inside_an_output_of_batch_t_the_batches_before_t_are_there() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        ctx.remember(ms(1000)).unwrap();
        let numbers = ctx.queue_stream(queue(4));
        let kept = numbers.remembered();
        let seen: Seen = Arc::default();
        let sink = Arc::clone(&seen);
        numbers.count().foreach_batch(move |t, _| {
            let before = kept.slice(BatchTime(0), BatchTime(t.0 - I)).unwrap();
            let times = before.iter().map(|(b, _)| b.0).collect();
            sink.lock().unwrap().push((t.0, times));
        });
        run_batches(&ctx, &clock, 4);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                (100, vec![]),
                (200, vec![100]),
                (300, vec![100, 200]),
                (400, vec![100, 200, 300]),
            ]
        );
    }
}

#[test]
fn ranges_are_checked() {
    let (ctx, clock) = context(1);
    for bad in [
        Duration::ZERO,
        Duration::from_micros(1500),
        ms(100) * 1_000_001,
    ] {
        match ctx.remember(bad) {
            Err(Error::Plan(m)) => assert!(
                m.starts_with(&format!("the remember duration ({bad:?}) must be a whole number of milliseconds from 1ms to 100000s")),
                "{m}"
            ),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    ctx.remember(ms(1)).unwrap();
    ctx.remember(ms(100) * 1_000_000).unwrap();
    let numbers = ctx.queue_stream(queue(1));
    let kept = numbers.remembered();
    match kept.slice(BatchTime(500), BatchTime(300)) {
        Err(Error::Plan(m)) => assert!(
            m.starts_with("slice(from = 500 ms, to = 300 ms): `from` must not be after `to`"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    match numbers.map(|x| x).slice(BatchTime(0), BatchTime(1)) {
        Err(Error::Plan(m)) => assert!(m.contains("call remembered() on this stream"), "{m}"),
        other => panic!("{other:?}"),
    }
    run_batches(&ctx, &clock, 1);
    assert!(ctx.remember(ms(100)).is_err(), "remember() after start()");
    let (from, to) = everything();
    assert_eq!(kept.slice(from, to).unwrap(), vec![batch(1)]);
}

#[test]
fn a_windowed_stream_remembers_only_its_windows() {
    for workers in WORKERS {
        // As Spark's windowed DStreams, which have RDDs only where a window ends: batches 200,
        // 400, 600 for a slide of 200 ms. By default the stream remembers one slide: its last
        // window; with remember(500 ms), the windows ending after 100 ms.
        for (remember, expected) in [(None, vec![600]), (Some(ms(500)), vec![200, 400, 600])] {
            let (ctx, clock) = context(workers);
            if let Some(d) = remember {
                ctx.remember(d).unwrap();
            }
            let windows = ctx.queue_stream(queue(6)).window(ms(300), ms(200));
            let kept = windows.remembered();
            run_batches(&ctx, &clock, 6);
            let (from, to) = everything();
            let got = sorted_records(kept.slice(from, to).unwrap());
            let times: Vec<u64> = got.iter().map(|(t, _)| t.0).collect();
            assert_eq!(times, expected, "{workers} workers, remember {remember:?}");
            // The window ending at 600 holds the batches of (300, 600].
            let last: Vec<u64> = (4..=6).flat_map(|k| batch(k).1).collect();
            assert_eq!(got.last().unwrap().1, last);
        }
    }
}
