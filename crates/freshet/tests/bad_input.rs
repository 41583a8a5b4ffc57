//! Misuse and bad input give a clear error (or a counted skip), never a panic or a hang.
//! Socket and file inputs are covered in `sources_socket.rs` and `sources_files.rs`.

mod common;

use common::*;
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, Dataset, Error, StreamingConfig, StreamingContext};
use std::time::Duration;

#[test]
fn a_batch_interval_of_zero_is_rejected() {
    let err = StreamingConfig::new(Duration::ZERO).validate().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("batch interval"), "{err}");
    assert!(matches!(
        StreamingContext::new(StreamingConfig::new(Duration::ZERO)),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        StreamingContext::with_clock(
            StreamingConfig::new(Duration::ZERO),
            std::sync::Arc::new(freshet::ManualClock::new(0))
        ),
        Err(Error::Config(_))
    ));
}

#[test]
fn other_invalid_configurations_are_rejected() {
    let ms = Duration::from_millis(10);
    for config in [
        StreamingConfig::new(Duration::from_micros(1500)),
        StreamingConfig::new(Duration::from_micros(999)),
        StreamingConfig::new(ms).workers(0),
        StreamingConfig::new(ms).max_in_flight_batches(0),
    ] {
        assert!(
            matches!(StreamingContext::new(config.clone()), Err(Error::Config(_))),
            "{config:?}"
        );
    }
    assert!(StreamingConfig::new(Duration::from_millis(1))
        .validate()
        .is_ok());
}

#[test]
fn starting_without_an_output_operation_fails() {
    let (ctx, _clock) = context(1);
    let _ = ctx.queue_stream(vec![vec![1]]).map(|x: i32| x + 1);
    let err = ctx.start().unwrap_err();
    assert!(matches!(err, Error::Plan(_)), "{err}");
    assert!(err.to_string().contains("output"), "{err}");
    let (ctx, _clock) = context(1);
    assert!(matches!(ctx.run_available_now(), Err(Error::Plan(_))));
}

#[test]
fn starting_twice_fails_and_the_first_run_goes_on() {
    let (ctx, clock) = context(2);
    let out = ctx.queue_stream(vec![vec![1], vec![2]]).collect_batches();
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    let err = ctx.start().unwrap_err();
    assert!(matches!(err, Error::Plan(_)), "{err}");
    assert!(matches!(ctx.run_available_now(), Err(Error::Plan(_))));
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 2), vec![vec![1], vec![2]]);
    // Stopped: cannot start again either, and stopping again is harmless.
    assert!(matches!(ctx.start(), Err(Error::Plan(_))));
    ctx.stop(true).unwrap();
}

#[test]
fn stop_before_start() {
    let (ctx, _clock) = context(1);
    ctx.queue_stream(vec![vec![1]]).collect_batches();
    ctx.stop(true).unwrap();
    assert!(matches!(ctx.start(), Err(Error::Plan(_))));
    assert!(ctx.await_termination().is_ok());
}

#[test]
fn actions_on_a_batch_inside_transform_are_errors() {
    let (ctx, clock) = context(2);
    let table = Dataset::parallelize(vec![(1, "one".to_string())], 1);
    let mut results: Vec<Result<(), Error>> = Vec::new();
    let out = ctx
        .queue_stream(vec![vec![(1, 10)], vec![(2, 20)]])
        .transform(|batch: Dataset<(i32, i32)>| {
            results.push(batch.collect().map(drop));
            results.push(batch.count().map(drop));
            results.push(batch.take(1).map(drop));
            results.push(batch.reduce(|a, _| a).map(drop));
            results.push(
                batch
                    .map(|(k, _)| k)
                    .save_as_text_files("/nonexistent/never"),
            );
            // Anything derived from the batch is part of the stream too.
            let joined = batch.join(&table);
            results.push(joined.collect().map(drop));
            results.push(joined.count().map(drop));
            // A static dataset is still a batch job of its own.
            assert_eq!(table.count().unwrap(), 1);
            joined
        })
        .collect_batches();
    assert_eq!(results.len(), 7);
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert!(matches!(err, Error::Plan(_)), "{err}");
        assert!(err.to_string().contains("transform"), "{err}");
    }
    assert!(!std::path::Path::new("/nonexistent/never").exists());
    // The pipeline itself works.
    run_batches(&ctx, &clock, 2);
    assert_eq!(
        sorted(&out, 2),
        vec![vec![(1, (10, "one".to_string()))], vec![]]
    );
}

#[test]
fn a_panicking_closure_stops_the_stream_with_an_error() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        ctx.queue_stream(vec![vec![1], vec![2, 13], vec![3]])
            .map(|x: i32| {
                if x == 13 {
                    panic!("unlucky record");
                }
                x
            })
            .reduce_by_key_free()
            .collect_batches();
        ctx.start().unwrap();
        step(&ctx, &clock, 1);
        clock.advance(interval());
        let err = ctx.await_batch(BatchTime(200), TIMEOUT).unwrap_err();
        assert!(matches!(err, Error::WorkerPanicked { .. }), "{err}");
        assert!(err.to_string().contains("unlucky record"), "{err}");
        // Waiting for later batches, or stopping, reports the same error; nothing hangs.
        assert!(matches!(
            ctx.await_batch(BatchTime(300), TIMEOUT),
            Err(Error::WorkerPanicked { .. })
        ));
        assert!(matches!(ctx.stop(true), Err(Error::WorkerPanicked { .. })));
        assert!(matches!(
            ctx.await_termination(),
            Err(Error::WorkerPanicked { .. })
        ));
    }
}

/// A keyed step after the panicking map, so that the panic happens upstream of an exchange.
trait ReduceFree {
    fn reduce_by_key_free(&self) -> Self;
}

impl ReduceFree for freshet::DStream<i32> {
    fn reduce_by_key_free(&self) -> Self {
        self.map(|x| (x % 2, x))
            .reduce_by_key(|a, b| a + b)
            .map(|(_, v)| v)
    }
}

#[test]
fn a_panicking_closure_fails_a_batch_job() {
    for partitions in [1, 4] {
        let ds = Dataset::parallelize((0..40).collect::<Vec<i32>>(), partitions);
        let err = ds
            .map(|x| {
                assert!(x != 39, "bad record {x}");
                (x % 3, x)
            })
            .reduce_by_key(|a, b| a + b)
            .collect()
            .unwrap_err();
        assert!(matches!(err, Error::WorkerPanicked { .. }), "{err}");
        assert!(err.to_string().contains("bad record 39"), "{err}");
    }
    // A panic in a foreach-like action closure: reduce.
    let err = Dataset::parallelize(vec![1, 2, 3], 2)
        .reduce(|_, _| panic!("no"))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerPanicked { .. }), "{err}");
}

#[test]
fn a_panicking_foreach_batch_stops_the_stream() {
    // Regression: with several workers, a panic in an output operation used to leave the
    // other workers waiting forever for the failed one, and the context never stopped.
    for workers in WORKERS {
        within("a panicking foreach_batch", move || {
            let (ctx, clock) = context(workers);
            ctx.queue_stream(vec![vec![1]])
                .foreach_batch(|_, _: Vec<i32>| panic!("sink down"));
            ctx.start().unwrap();
            clock.advance(interval());
            let err = ctx.await_batch(BatchTime(100), TIMEOUT).unwrap_err();
            assert!(matches!(err, Error::WorkerPanicked { .. }), "{err}");
            assert!(err.to_string().contains("sink down"), "{err}");
            assert!(ctx.stop(true).is_err());
        });
    }
}

#[test]
fn a_panicking_partition_function_fails_a_batch_job() {
    // Regression: the failed operator used to run again after the panic; with one partition
    // the second panic escaped to the caller, with several the job hung.
    for partitions in [1, 2, 4] {
        let err = within("a panicking map_partitions", move || {
            Dataset::parallelize((0..8).collect::<Vec<i32>>(), partitions)
                .map_partitions(|_p: Vec<i32>| -> Vec<i32> { panic!("partition failed") })
                .collect()
                .unwrap_err()
        });
        assert!(matches!(err, Error::WorkerPanicked { .. }), "{err}");
        assert!(err.to_string().contains("partition failed"), "{err}");
    }
}

#[test]
fn a_panicking_glom_consumer_in_a_stream() {
    for workers in WORKERS {
        within("a panicking map_partitions in a stream", move || {
            let (ctx, clock) = context(workers);
            ctx.queue_stream(vec![vec![1, 2, 3]])
                .map_partitions(|_p: Vec<i32>| -> Vec<i32> { panic!("partition failed") })
                .collect_batches();
            ctx.start().unwrap();
            clock.advance(interval());
            let err = ctx.await_batch(BatchTime(100), TIMEOUT).unwrap_err();
            assert!(err.to_string().contains("partition failed"), "{err}");
            assert!(ctx.stop(true).is_err());
        });
    }
}

#[test]
fn await_batch_times_out_when_the_clock_does_not_move() {
    let (ctx, _clock) = context(1);
    ctx.queue_stream(vec![vec![1]]).collect_batches();
    ctx.start().unwrap();
    let err = ctx
        .await_batch(BatchTime(100), Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    ctx.stop(true).unwrap();
    // After the stop, waiting for a batch that never ran reports the stop.
    assert!(matches!(
        ctx.await_batch(BatchTime(100), TIMEOUT),
        Err(Error::Stopped)
    ));
    assert!(ctx.await_termination_or_timeout(TIMEOUT).unwrap());
}

#[test]
fn await_termination_or_timeout_while_running() {
    let (ctx, _clock) = context(1);
    ctx.queue_stream(vec![vec![1]]).collect_batches();
    ctx.start().unwrap();
    assert!(!ctx
        .await_termination_or_timeout(Duration::from_millis(20))
        .unwrap());
    ctx.stop(false).unwrap();
    assert!(ctx.await_termination_or_timeout(TIMEOUT).unwrap());
}

#[test]
fn saving_where_files_cannot_be_written_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    // A batch job: the target is under a regular file.
    let err = Dataset::parallelize(vec![1, 2], 2)
        .save_as_text_files(file.join("out"))
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    // A stream: the batch fails with the I/O error.
    let (ctx, clock) = context(2);
    ctx.queue_stream(vec![vec![1, 2]])
        .save_as_text_files(file.join("out").to_string_lossy(), None);
    ctx.start().unwrap();
    clock.advance(interval());
    let err = ctx.await_batch(BatchTime(100), TIMEOUT).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(ctx.stop(true).is_err());
}

#[test]
fn generator_with_rate_zero_ends_an_available_now_run() {
    // Regression: a generator that will never emit (rate 0) kept an available-now run cutting
    // empty batches forever.
    let out = within("an available-now run of a rate-0 generator", || {
        let (ctx, _clock) = context(1);
        let out = ctx
            .generator_stream(GeneratorOptions::rate(0).limit(10), |i| i)
            .collect_batches();
        ctx.run_available_now().unwrap();
        out.sorted_batches()
    });
    assert!(out.iter().all(Vec::is_empty), "{out:?}");
}

#[test]
fn stop_now_abandons_a_batch_in_progress() {
    for workers in WORKERS {
        within("stop(false) during a batch", move || {
            let (ctx, clock) = context(workers);
            let (entered_tx, entered_rx) = std::sync::mpsc::channel::<u64>();
            let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
            let entered = std::sync::Mutex::new(entered_tx);
            let gate = std::sync::Mutex::new(gate_rx);
            ctx.queue_stream(vec![vec![1, 2, 3], vec![4]])
                .foreach_batch(move |t, _: Vec<i32>| {
                    entered.lock().unwrap().send(t.0).unwrap();
                    // Batch 100 blocks until the test opens the gate.
                    let _ = gate.lock().unwrap().recv_timeout(TIMEOUT);
                });
            ctx.start().unwrap();
            clock.advance(interval());
            assert_eq!(entered_rx.recv_timeout(TIMEOUT).unwrap(), 100);
            let stopper = {
                let ctx = ctx.clone();
                std::thread::spawn(move || ctx.stop(false))
            };
            // Give the stop request time to land while batch 100 runs (either order must
            // give the same outcome: the stop returns, and batch 200 never starts).
            std::thread::sleep(Duration::from_millis(50));
            gate_tx.send(()).unwrap();
            stopper.join().unwrap().unwrap();
            // Batch 200 never started.
            assert!(entered_rx.try_recv().is_err());
            assert!(ctx.batches_completed() <= 1);
        });
    }
}
