//! Custom receivers driven by the manual clock: what a receiver stored before a boundary goes to
//! that batch; a graceful stop runs one last batch for what was stored; a bounded buffer makes
//! `store` wait; a receiver failing with a retryable error is restarted, one failing with any
//! other error fails the job; an error in `on_start` fails `start()`.

mod common;

use common::*;
use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::source::{Backoff, ReceiverOptions};
use freshet::{BatchTime, Error, ErrorDomain, SourceError, StreamingConfig};
use std::sync::mpsc;
use std::time::Duration;

/// Stores the records it is told to, and acknowledges each command once stored.
struct Scripted {
    commands: mpsc::Receiver<Vec<u64>>,
    acks: mpsc::Sender<()>,
}

impl Receiver for Scripted {
    type Item = u64;

    fn name(&self) -> String {
        "scripted".into()
    }

    fn run(&mut self, ctx: &ReceiverContext<u64>) -> Result<(), SourceError> {
        while !ctx.is_stopped() {
            match self.commands.recv_timeout(Duration::from_millis(10)) {
                Ok(records) => {
                    for r in records {
                        ctx.store(r);
                    }
                    let _ = self.acks.send(());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    }
}

/// A scripted receiver and the handle that drives it: `store(records)` returns once the
/// receiver has stored them.
fn scripted() -> (Scripted, impl Fn(Vec<u64>)) {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (ack_tx, ack_rx) = mpsc::channel();
    let store = move |records: Vec<u64>| {
        cmd_tx.send(records).unwrap();
        ack_rx.recv_timeout(TIMEOUT).unwrap();
    };
    (
        Scripted {
            commands: cmd_rx,
            acks: ack_tx,
        },
        store,
    )
}

#[test]
fn records_stored_before_a_boundary_make_that_batch() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let (receiver, store) = scripted();
        let out = ctx.receiver_stream(receiver).collect_batches();
        ctx.start().unwrap();
        store(vec![1, 2, 3, 4, 5]);
        step(&ctx, &clock, 1);
        step(&ctx, &clock, 2);
        store(vec![6]);
        store(vec![7]);
        step(&ctx, &clock, 3);
        // Stored after batch 300 and never reached by the clock: the graceful stop runs one
        // last batch (400) for it.
        store(vec![8, 9]);
        ctx.stop(true).unwrap();
        assert_eq!(
            out.batches(),
            vec![
                (BatchTime(100), vec![1, 2, 3, 4, 5]),
                (BatchTime(200), vec![]),
                (BatchTime(300), vec![6, 7]),
                (BatchTime(400), vec![8, 9]),
            ],
            "with {workers} worker(s)"
        );
    }
}

#[test]
fn a_graceful_stop_without_new_records_runs_no_extra_batch() {
    let (ctx, clock) = context(2);
    let (receiver, store) = scripted();
    let out = ctx.receiver_stream(receiver).count().collect_batches();
    ctx.start().unwrap();
    store(vec![1]);
    step(&ctx, &clock, 1);
    ctx.stop(true).unwrap();
    assert_eq!(sorted(&out, 1), vec![vec![1]]);
}

/// Stores `0..n` one at a time, then ends; fails first with `fail_first`, if set.
struct Counter {
    n: u64,
    fail_first: Option<fn() -> SourceError>,
}

impl Receiver for Counter {
    type Item = u64;

    fn name(&self) -> String {
        "counter".into()
    }

    fn run(&mut self, ctx: &ReceiverContext<u64>) -> Result<(), SourceError> {
        if let Some(error) = self.fail_first.take() {
            return Err(error());
        }
        for i in 0..self.n {
            ctx.store(i);
        }
        Ok(())
    }
}

#[test]
fn a_bounded_buffer_makes_store_wait_and_loses_nothing() {
    for workers in WORKERS {
        let (ctx, _clock) = context(workers);
        let out = ctx
            .receiver_stream_with_capacity(
                Counter {
                    n: 10,
                    fail_first: None,
                },
                3,
            )
            .collect_batches();
        ctx.run_available_now().unwrap();
        let batches = out.batches();
        assert!(batches.iter().all(|(_, r)| r.len() <= 3), "{batches:?}");
        let all: Vec<u64> = batches.into_iter().flat_map(|(_, r)| r).collect();
        assert_eq!(all, (0..10).collect::<Vec<_>>(), "with {workers} worker(s)");
    }
}

#[test]
fn a_receiver_failing_with_a_retryable_error_is_restarted() {
    let (ctx, _clock) = context(1);
    let backoff = Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
    };
    let out = ctx
        .receiver_stream_with(
            Counter {
                n: 3,
                fail_first: Some(|| SourceError::external("not ready yet")),
            },
            ReceiverOptions::new().backoff(backoff),
        )
        .collect_batches();
    ctx.run_available_now().unwrap();
    let all: Vec<u64> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
    assert_eq!(all, vec![0, 1, 2]);
}

#[test]
fn a_receiver_failing_with_a_user_error_fails_the_job_with_its_id() {
    let (ctx, _clock) = context(1);
    ctx.receiver_stream(Counter {
        n: 3,
        fail_first: Some(|| SourceError::user("no such queue")),
    })
    .uid("orders")
    .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User);
    match &err {
        Error::Source { id, error } => {
            assert_eq!(id, "orders");
            assert!(!error.is_retryable());
        }
        other => panic!("expected a source error, got {other:?}"),
    }
}

#[test]
fn restart_backoff_doubles_up_to_its_cap_and_is_validated() {
    let b = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    let delays: Vec<u64> = (1..=6).map(|n| b.delay(n).as_millis() as u64).collect();
    assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
    let (ctx, _clock) = context(1);
    let bad = Backoff {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(1),
    };
    ctx.receiver_stream_with(CannotStart, ReceiverOptions::new().backoff(bad))
        .collect_batches();
    let err = ctx.start().unwrap_err().to_string();
    assert!(err.contains("maximum delay"), "{err}");
}

struct CannotStart;

impl Receiver for CannotStart {
    type Item = String;

    fn name(&self) -> String {
        "cannot-start".into()
    }

    fn on_start(&mut self) -> Result<(), SourceError> {
        Err(SourceError::user("no credentials"))
    }

    fn run(&mut self, _ctx: &ReceiverContext<String>) -> Result<(), SourceError> {
        unreachable!("run after a failed on_start")
    }
}

#[test]
fn an_error_in_on_start_fails_start() {
    let (ctx, _clock) = context(2);
    ctx.receiver_stream(CannotStart).collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("no credentials"), "{err}");
    assert!(ctx.await_termination().is_err());
}

#[test]
fn a_receiver_with_a_maximum_rate_stores_everything_and_shows_its_limit() {
    let (ctx, _clock) = context(1);
    let out = ctx
        .receiver_stream_with(
            Counter {
                n: 300,
                fail_first: None,
            },
            ReceiverOptions::new().max_rate(2000.0),
        )
        .collect_batches();
    ctx.run_available_now().unwrap();
    let all: Vec<u64> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
    assert_eq!(all, (0..300).collect::<Vec<_>>());
    assert_eq!(ctx.sources_status()[0].rate_limit, Some(2000.0));

    for rate in [0.0, 0.5, 2e9, f64::NAN] {
        let (ctx, _clock) = context(1);
        ctx.receiver_stream_with(
            Counter {
                n: 1,
                fail_first: None,
            },
            ReceiverOptions::new().max_rate(rate),
        )
        .collect_batches();
        let e = ctx.start().unwrap_err();
        assert!(e.to_string().contains("max_rate"), "{rate}: {e}");
    }
}

#[test]
fn backpressure_settings_are_checked_by_name() {
    use freshet::rate::Backpressure;
    let bad = [
        (Backpressure::on().initial_rate(0.0), "initial_rate"),
        (Backpressure::on().min_rate(-1.0), "min_rate"),
        (Backpressure::on().gains(-1.0, 0.2, 0.0), "proportional"),
        (Backpressure::on().gains(1.0, 500.0, 0.0), "integral"),
        (Backpressure::on().gains(1.0, 0.2, f64::NAN), "derivative"),
    ];
    for (b, name) in bad {
        let e = StreamingConfig::new(Duration::from_millis(100))
            .backpressure(b)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }
    assert!(StreamingConfig::new(Duration::from_millis(100))
        .backpressure(Backpressure::on())
        .validate()
        .is_ok());
}
