//! What an operator reads when something is wrong: checkpoint history and tolerated checkpoint
//! failures, receiver errors and restarts, incidents, output durations, per-worker busy time,
//! watermarks and late records, and the names users gave pipeline nodes.

mod common;

use common::*;
use freshet::event_time::{WatermarkOptions, WindowSpec};
use freshet::metrics::{IncidentKind, NodeKind};
use freshet::source::receiver::{Receiver, ReceiverContext};
use freshet::source::{Backoff, ReceiverOptions};
use freshet::{BatchTime, Error, SourceError, StreamingListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Failures(Mutex<Vec<u64>>);

impl StreamingListener for Failures {
    fn on_checkpoint_failed(&self, time: BatchTime, _error: &str) {
        self.0.lock().unwrap().push(time.0);
    }
}

/// Makes the checkpoint store unwritable (a file where its directory was), or writable again.
fn break_checkpoints(dir: &std::path::Path, broken: bool) {
    let store = dir.join("checkpoints");
    if broken {
        std::fs::remove_dir_all(&store).unwrap();
        std::fs::write(&store, b"not a directory").unwrap();
    } else {
        std::fs::remove_file(&store).unwrap();
        std::fs::create_dir(&store).unwrap();
    }
}

/// Waits until `n` checkpoints were attempted (written or failed): the driver writes the
/// checkpoint of a batch after the batch completes.
fn settle(ctx: &freshet::StreamingContext, n: u64) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let h = ctx.checkpoint_history();
        if h.written + h.failed >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} checkpoints were not attempted"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn checkpoint_failures_are_counted_tolerated_in_a_row_then_stop_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, clock) = context_with(
        config(2)
            .checkpoint_interval(1)
            .tolerable_checkpoint_failures(2),
    );
    ctx.checkpoint(dir.path()).unwrap();
    let failures = Arc::new(Failures::default());
    ctx.add_listener(failures.clone());
    let input: Vec<Vec<u64>> = (0..20).map(|i| vec![i]).collect();
    ctx.queue_stream(input)
        .map(|x| (x % 2, x))
        .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
            Some(old.unwrap_or(0) + new.iter().sum::<u64>())
        })
        .collect_batches();
    ctx.start().unwrap();
    step(&ctx, &clock, 1);
    step(&ctx, &clock, 2);
    // A fresh directory is checkpointed before the first batch (time 0).
    settle(&ctx, 3);
    let history = ctx.checkpoint_history();
    assert_eq!((history.written, history.failed), (3, 0));
    assert_eq!(
        history.recent.iter().map(|c| c.time.0).collect::<Vec<_>>(),
        vec![0, 100, 200]
    );
    assert!(history.recent[1..].iter().all(|c| c.bytes > 0));

    // Two failures in a row are tolerated; the job goes on.
    break_checkpoints(dir.path(), true);
    step(&ctx, &clock, 3);
    step(&ctx, &clock, 4);
    settle(&ctx, 5);
    assert!(ctx.is_running());
    let history = ctx.checkpoint_history();
    assert_eq!(
        (
            history.written,
            history.failed,
            history.consecutive_failures
        ),
        (3, 2, 2)
    );
    assert_eq!(
        history
            .failures
            .iter()
            .map(|f| f.time.0)
            .collect::<Vec<_>>(),
        vec![300, 400]
    );
    assert!(!history.failures[0].error.is_empty());

    // A checkpoint written resets the count.
    break_checkpoints(dir.path(), false);
    step(&ctx, &clock, 5);
    settle(&ctx, 6);
    let history = ctx.checkpoint_history();
    assert_eq!(
        (
            history.written,
            history.failed,
            history.consecutive_failures
        ),
        (4, 2, 0)
    );

    // Three in a row are one too many.
    break_checkpoints(dir.path(), true);
    step(&ctx, &clock, 6);
    step(&ctx, &clock, 7);
    clock.advance(interval());
    let err = ctx.await_termination().unwrap_err();
    assert!(
        matches!(err, Error::Runtime(_) | Error::Durable { .. }),
        "{err:?}"
    );
    assert_eq!(*failures.0.lock().unwrap(), vec![300, 400, 600, 700, 800]);
    let kinds: Vec<IncidentKind> = ctx.incidents().iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == IncidentKind::CheckpointFailure)
            .count(),
        5
    );
    assert_eq!(kinds.last(), Some(&IncidentKind::JobFailure));
}

/// Fails `failures` times with a retryable error, then stores `0..n`.
struct Flaky {
    failures: u32,
    n: u64,
}

impl Receiver for Flaky {
    type Item = u64;

    fn name(&self) -> String {
        "flaky".into()
    }

    fn run(&mut self, ctx: &ReceiverContext<u64>) -> Result<(), SourceError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(SourceError::external("connection refused"));
        }
        for i in 0..self.n {
            ctx.store(i);
        }
        Ok(())
    }
}

#[test]
fn receiver_errors_and_restarts_are_counted_and_listed() {
    let (ctx, _clock) = context(1);
    let backoff = Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(2),
    };
    let out = ctx
        .receiver_stream_with(
            Flaky { failures: 3, n: 4 },
            ReceiverOptions::new().backoff(backoff),
        )
        .uid("orders")
        .collect_batches();
    ctx.run_available_now().unwrap();
    let all: Vec<u64> = out.batches().into_iter().flat_map(|(_, r)| r).collect();
    assert_eq!(all, vec![0, 1, 2, 3]);
    let source = &ctx.sources_status()[0];
    assert_eq!((source.errors, source.restarts), (3, 3));
    assert!(source
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("connection refused")));
    let incidents = ctx.incidents();
    let of = |kind| incidents.iter().filter(|i| i.kind == kind).count();
    assert_eq!(of(IncidentKind::ReceiverError), 3);
    assert_eq!(of(IncidentKind::ReceiverRestart), 3);
    assert!(incidents.iter().all(|i| i.subject == "orders"));
}

#[test]
fn outputs_workers_labels_and_watermarks_are_reported() {
    let (ctx, clock) = context(2);
    // (key, event time in ms)
    let input: Vec<Vec<(char, u64)>> = vec![
        vec![('a', 10), ('b', 20), ('a', 130)],
        vec![('a', 250), ('b', 5)], // 5 is below the watermark of batch 1 (at least 10)
        vec![('a', 390), ('b', 390)],
    ];
    let source = ctx.queue_stream(input).uid("clicks");
    let parsed = source.map(|r| r).name("parse clicks");
    let windows = parsed
        .with_event_time(|r: &(char, u64)| r.1, WatermarkOptions::new(Duration::ZERO))
        .count_by_key_and_window(WindowSpec::tumbling(Duration::from_millis(100)))
        .unwrap();
    windows.windows().publish("window counts", 10);
    parsed.foreach_batch(|_, _| {}).uid("audit");
    ctx.start().unwrap();
    for k in 1..=3 {
        step(&ctx, &clock, k);
    }

    let graph = ctx.pipeline_graph();
    let label = |l: &str| graph.nodes.iter().find(|n| n.label.as_deref() == Some(l));
    assert_eq!(label("clicks").map(|n| n.kind), Some(NodeKind::Source));
    assert_eq!(label("parse clicks").map(|n| n.name.as_str()), Some("map"));
    assert_eq!(
        label("window counts").map(|n| n.kind),
        Some(NodeKind::Output)
    );
    assert_eq!(label("audit").map(|n| n.kind), Some(NodeKind::Output));

    let outputs = ctx.outputs_status();
    let audit = outputs
        .iter()
        .find(|o| o.id == "audit")
        .expect("audit output");
    assert_eq!((audit.kind.as_str(), audit.batches), ("foreach_batch", 3));
    assert_eq!(audit.last_batch, Some(BatchTime(300)));
    assert!(audit.max_duration >= audit.last_duration);
    assert!(outputs
        .iter()
        .any(|o| o.kind == "publish" && o.batches == 3));

    let event_time = ctx.event_time_status();
    assert_eq!(event_time.len(), 1);
    assert_eq!(event_time[0].watermark, Some(390));
    assert_eq!(event_time[0].batch, Some(BatchTime(300)));
    assert_eq!(event_time[0].late_records, 1);

    // Two workers, both of which ran operators for the first batch.
    let busy = ctx.worker_busy();
    assert_eq!(busy.len(), 2);
    let detail = ctx.batch_detail(BatchTime(100)).unwrap();
    assert_eq!(detail.workers.len(), 2);
    assert!(detail.workers.iter().all(|d| *d > Duration::ZERO));
    ctx.stop(true).unwrap();
}
