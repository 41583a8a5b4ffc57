//! Custom receivers driven by the manual clock: what a receiver stored before a boundary goes to
//! that batch; a graceful stop runs one last batch for what was stored; a bounded buffer makes
//! `store` wait; a failed receiver is restarted; an error in `on_start` fails `start()`.

mod common;

use common::*;
use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::{BatchTime, Error};
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

    fn run(&mut self, ctx: &ReceiverContext<u64>) -> freshet::Result<()> {
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

/// Stores `0..n` one at a time, then ends.
struct Counter {
    n: u64,
    fail_first: bool,
}

impl Receiver for Counter {
    type Item = u64;

    fn name(&self) -> String {
        "counter".into()
    }

    fn run(&mut self, ctx: &ReceiverContext<u64>) -> freshet::Result<()> {
        if self.fail_first {
            self.fail_first = false;
            return Err(Error::Source {
                source_name: self.name(),
                message: "not ready yet".into(),
            });
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
                    fail_first: false,
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
fn a_failed_receiver_is_restarted() {
    let (ctx, _clock) = context(1);
    let out = ctx
        .receiver_stream(Counter {
            n: 3,
            fail_first: true,
        })
        .collect_batches();
    ctx.run_available_now().unwrap();
    let all: Vec<u64> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
    assert_eq!(all, vec![0, 1, 2]);
}

struct CannotStart;

impl Receiver for CannotStart {
    type Item = String;

    fn name(&self) -> String {
        "cannot-start".into()
    }

    fn on_start(&mut self) -> freshet::Result<()> {
        Err(Error::Source {
            source_name: self.name(),
            message: "no credentials".into(),
        })
    }

    fn run(&mut self, _ctx: &ReceiverContext<String>) -> freshet::Result<()> {
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
