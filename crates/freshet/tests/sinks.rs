//! Sinks with their own writer per worker: every partition of every batch is written then
//! committed; retryable failures are retried, others fail the job with the output's id.

mod common;

use common::*;
use freshet::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use freshet::{BatchTime, Error, ErrorDomain, SinkError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What a [`Recording`] sink saw: per (batch, partition) the committed records, and the output
/// ids its writers were opened for.
#[derive(Default)]
struct Seen {
    committed: BTreeMap<(u64, usize), Vec<u64>>,
    opened: Vec<String>,
    attempts: u32,
}

/// A sink that keeps what is committed in memory and fails its first `failures` writes.
#[derive(Clone)]
struct Recording {
    seen: Arc<Mutex<Seen>>,
    failures: u32,
    retryable: bool,
}

struct RecordingWriter {
    sink: Recording,
    partition: usize,
    staged: Vec<u64>,
}

impl Sink<u64> for Recording {
    type Writer = RecordingWriter;

    fn open(&self, ctx: &SinkContext) -> Result<RecordingWriter, SinkError> {
        self.seen.lock().unwrap().opened.push(ctx.output_id.clone());
        Ok(RecordingWriter {
            sink: self.clone(),
            partition: ctx.partition,
            staged: Vec::new(),
        })
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce
    }
}

impl SinkWriter<u64> for RecordingWriter {
    fn write(&mut self, _time: BatchTime, records: &[u64]) -> Result<(), SinkError> {
        let mut seen = self.sink.seen.lock().unwrap();
        seen.attempts += 1;
        if seen.attempts <= self.sink.failures {
            return Err(if self.sink.retryable {
                SinkError::external("the database is restarting")
            } else {
                SinkError::user("the table does not exist")
            });
        }
        self.staged = records.to_vec();
        Ok(())
    }

    fn commit(&mut self, time: BatchTime) -> Result<(), SinkError> {
        let mut seen = self.sink.seen.lock().unwrap();
        seen.committed
            .insert((time.0, self.partition), std::mem::take(&mut self.staged));
        Ok(())
    }
}

fn recording(failures: u32, retryable: bool) -> Recording {
    Recording {
        seen: Arc::new(Mutex::new(Seen::default())),
        failures,
        retryable,
    }
}

#[test]
fn every_partition_of_every_batch_is_written_and_committed_once() {
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let sink = recording(0, true);
        ctx.queue_stream(vec![vec![1u64, 2, 3, 4], vec![5]])
            .sink(sink.clone())
            .uid("numbers");
        run_batches(&ctx, &clock, 2);
        let seen = sink.seen.lock().unwrap();
        assert_eq!(seen.opened, vec!["numbers".to_string(); workers]);
        assert_eq!(
            seen.committed.len(),
            2 * workers,
            "one commit per batch and partition"
        );
        let mut all: Vec<u64> = seen.committed.values().flatten().copied().collect();
        all.sort();
        assert_eq!(all, vec![1, 2, 3, 4, 5], "with {workers} worker(s)");
    }
}

#[test]
fn a_retryable_write_failure_is_retried() {
    let (ctx, clock) = context(1);
    let sink = recording(2, true);
    ctx.queue_stream(vec![vec![7u64]]).sink(sink.clone());
    run_batches(&ctx, &clock, 1);
    let seen = sink.seen.lock().unwrap();
    assert_eq!(seen.attempts, 3);
    assert_eq!(seen.committed.get(&(I, 0)), Some(&vec![7]));
}

#[test]
fn a_user_error_fails_the_job_naming_the_output() {
    let (ctx, clock) = context(1);
    let sink = recording(1, false);
    ctx.queue_stream(vec![vec![7u64]])
        .sink(sink.clone())
        .uid("orders-table");
    ctx.start().unwrap();
    clock.advance(interval());
    let err = ctx.await_batch(BatchTime(I), TIMEOUT).unwrap_err();
    match &err {
        Error::Sink { output, error } => {
            assert_eq!(output, "orders-table");
            assert_eq!(error.domain(), ErrorDomain::User);
        }
        other => panic!("expected a sink error, got {other}"),
    }
    assert_eq!(
        sink.seen.lock().unwrap().attempts,
        1,
        "a user error is not retried"
    );
}

/// A sink that writes nothing and says a rewrite duplicates.
struct AtLeastOnce;

struct NoWriter;

impl Sink<u64> for AtLeastOnce {
    type Writer = NoWriter;

    fn open(&self, _ctx: &SinkContext) -> Result<NoWriter, SinkError> {
        Ok(NoWriter)
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::AtLeastOnce
    }
}

impl SinkWriter<u64> for NoWriter {
    fn write(&mut self, _time: BatchTime, _records: &[u64]) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What `start()` logs for a pipeline with a generator (replayable) and `sink`, checkpointed
/// or not.
fn start_logs<S: Sink<u64>>(sink: S, checkpointed: bool) -> String {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = Arc::clone(&logs);
        move || LogWriter(Arc::clone(&logs))
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _clock) = context(1);
        if checkpointed {
            ctx.checkpoint(dir.path()).unwrap();
        }
        ctx.generator_stream(
            freshet::source::generator::GeneratorOptions::rate(10),
            |i| i,
        )
        .sink(sink)
        .uid("alerts");
        ctx.start().unwrap();
        ctx.stop(true).unwrap();
    });
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    text
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_replayable_source_into_an_at_least_once_sink_is_warned_about() {
    let warning = "output `alerts` is at-least-once";
    let logs = start_logs(AtLeastOnce, true);
    assert!(logs.contains(warning), "{logs}");
    // Not without checkpoints (nothing is replayed), nor for an exactly-once sink.
    assert!(!start_logs(AtLeastOnce, false).contains(warning));
    assert!(!start_logs(recording(0, true), true).contains(warning));
}
