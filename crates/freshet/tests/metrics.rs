//! The figures a running pipeline exposes: graph, per-batch operator figures, sources, outputs,
//! and listener events.

mod common;

use freshet::metrics::{NodeKind, ReceiverState};
use freshet::{
    BatchInfo, BatchTime, ManualClock, OutputOperationInfo, StreamingConfig, StreamingContext,
    StreamingListener,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl StreamingListener for Recorder {
    fn on_batch_submitted(&self, time: BatchTime) {
        self.events
            .lock()
            .unwrap()
            .push(format!("submitted {}", time.0));
    }
    fn on_batch_started(&self, time: BatchTime) {
        self.events
            .lock()
            .unwrap()
            .push(format!("started {}", time.0));
    }
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.events.lock().unwrap().push(format!(
            "completed {} records {}",
            info.time.0, info.records
        ));
    }
    fn on_output_operation_started(&self, name: &str, time: BatchTime) {
        self.events
            .lock()
            .unwrap()
            .push(format!("output started {name} {}", time.0));
    }
    fn on_output_operation_completed(&self, info: &OutputOperationInfo) {
        self.events
            .lock()
            .unwrap()
            .push(format!("output {} {}", info.name, info.time.0));
    }
}

#[test]
fn graph_batch_detail_sources_and_events() {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100)).workers(2),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let recorder = Arc::new(Recorder::default());
    ctx.add_listener(recorder.clone());
    let words = ctx.queue_stream(vec![
        vec!["a", "b", "a", "c"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
        vec![],
    ]);
    let counts = words.map(|w| (w, 1u64)).reduce_by_key(|a, b| a + b);
    counts.publish("counts", 10);
    let seen = counts.collect_batches();
    ctx.start().unwrap();
    assert!(ctx.is_running());
    for k in 1..=2 {
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }

    // The graph: queue_stream -> map -> reduce_by_key -> {publish, foreach_batch}.
    let graph = ctx.pipeline_graph();
    let name_of = |id: u64| {
        graph
            .nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap()
            .name
            .clone()
    };
    let mut edges: Vec<(String, String)> = graph
        .edges
        .iter()
        .map(|e| (name_of(e.from), name_of(e.to)))
        .collect();
    edges.sort();
    assert_eq!(
        edges,
        vec![
            ("map".to_string(), "reduce_by_key".to_string()),
            ("queue_stream".to_string(), "map".to_string()),
            ("reduce_by_key".to_string(), "foreach_batch".to_string()),
            ("reduce_by_key".to_string(), "publish".to_string()),
        ]
    );
    let source = graph
        .nodes
        .iter()
        .find(|n| n.name == "queue_stream")
        .unwrap();
    assert_eq!(source.kind, NodeKind::Source);
    assert_eq!(source.records_total, 4);
    let reduce = graph
        .nodes
        .iter()
        .find(|n| n.name == "reduce_by_key")
        .unwrap();
    assert_eq!(reduce.records_total, 3);

    // Per-batch operator figures.
    let detail = ctx.batch_detail(BatchTime(100)).unwrap();
    assert_eq!(detail.info.records, 4);
    let fig = |name: &str| {
        detail
            .operators
            .iter()
            .find(|o| o.name == name)
            .unwrap()
            .records_out
    };
    assert_eq!(fig("queue_stream"), 4);
    assert_eq!(fig("map"), 4);
    assert_eq!(fig("reduce_by_key"), 3);
    let input = |name: &str| {
        detail
            .operators
            .iter()
            .find(|o| o.name == name)
            .unwrap()
            .records_in
    };
    assert_eq!(input("map"), 4);
    assert_eq!(input("reduce_by_key"), 4);
    assert_eq!(input("foreach_batch"), 3);
    assert!(detail.operators.iter().any(|o| o.busy > Duration::ZERO));
    assert_eq!(detail.sources, vec![("queue_stream-0".to_string(), 4)]);

    // Sources.
    let sources = ctx.sources_status();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].records_total, 4);
    assert_eq!(sources[0].state, ReceiverState::NotAReceiver);
    assert_eq!(sources[0].lag, Some(0));

    // The published output holds the latest batch (the empty second one).
    let outputs = ctx.published_outputs();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].name, "counts");
    assert_eq!(outputs[0].time, BatchTime(200));
    assert_eq!(outputs[0].total, 0);

    ctx.stop(true).unwrap();
    assert_eq!(seen.len(), 2);
    let events = recorder.events.lock().unwrap().clone();
    let pos = |e: &str| {
        events
            .iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("no {e} in {events:?}"))
    };
    assert!(pos("submitted 100") < pos("started 100"));
    assert!(pos("started 100") < pos("output started foreach_batch 100"));
    assert!(pos("output started foreach_batch 100") < pos("output foreach_batch 100"));
    assert!(pos("output foreach_batch 100") < pos("completed 100 records 4"));
    assert!(pos("completed 100 records 4") < pos("submitted 200"));
    assert!(events.contains(&"completed 200 records 0".to_string()));
}

#[test]
fn state_sizes_and_checkpoints_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100))
            .workers(2)
            .checkpoint_interval(1),
        Arc::new(clock.clone()),
    )
    .unwrap();
    ctx.checkpoint(dir.path()).unwrap();
    ctx.queue_stream(
        vec![vec![("a", 1u64), ("b", 1)], vec![("c", 1)]]
            .into_iter()
            .map(|b| b.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            .collect(),
    )
    .update_state_by_key(|new: Vec<u64>, s: Option<u64>| {
        Some(s.unwrap_or(0) + new.iter().sum::<u64>())
    })
    .collect_batches();
    ctx.start().unwrap();
    for k in 1..=2 {
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100 * k), Duration::from_secs(10))
            .unwrap();
    }
    let sizes = ctx.state_sizes();
    assert_eq!(sizes.len(), 1);
    assert_eq!(sizes[0].name, "update_state_by_key");
    assert_eq!(sizes[0].keys, 3);
    ctx.stop(true).unwrap();
    let (last, written) = ctx.checkpoints_written();
    // The initial checkpoint, one after each batch, and the final one of the graceful stop.
    assert!(written >= 3, "{written} checkpoints");
    let last = last.unwrap();
    assert!(last.bytes > 0);
    assert!(last.time >= BatchTime(200));
}

#[test]
fn the_detail_of_an_old_batch_keeps_its_source_figures() {
    let (ctx, clock) = common::context(1);
    // 15 batches: batch k holds k records.
    let batches: Vec<Vec<u64>> = (1..=15u64).map(|k| (0..k).collect()).collect();
    ctx.queue_stream(batches).count().collect_batches();
    common::run_batches(&ctx, &clock, 15);
    for k in [1u64, 2, 15] {
        let detail = ctx.batch_detail(BatchTime(common::I * k)).unwrap();
        assert_eq!(
            detail.sources,
            vec![("queue_stream-0".to_string(), k)],
            "batch {k}"
        );
    }
}

#[test]
fn a_job_behind_its_clock_shows_its_backlog_and_is_flagged() {
    let (ctx, clock) = common::context(1);
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    ctx.queue_stream(vec![vec![1u64]])
        .foreach_batch(move |t, _| {
            if t == BatchTime(100) {
                // A slow output: batch 100 takes as long as the test says.
                let _ = gate.lock().unwrap().recv();
            }
        });
    ctx.start().unwrap();
    assert_eq!(ctx.backlog(), freshet::Backlog::default());
    // Five intervals pass while batch 100 is stuck.
    clock.advance(Duration::from_millis(5 * common::I));
    let backlog = ctx.backlog();
    assert_eq!(backlog.batches, 5);
    assert_eq!(backlog.oldest, Some(BatchTime(100)));
    assert!(backlog.falling_behind);
    release.send(()).unwrap();
    ctx.await_batch(BatchTime(500), common::TIMEOUT).unwrap();
    assert_eq!(ctx.backlog(), freshet::Backlog::default(), "caught up");
    ctx.stop(true).unwrap();
}

#[test]
fn sources_and_operators_have_busy_time_and_fused_steps_count_their_records() {
    let (ctx, clock) = common::context(1);
    let records: Vec<u64> = (0..200_000).collect();
    let kept = records
        .iter()
        .map(|x| x.wrapping_mul(2_654_435_761) % 1000)
        .filter(|x| x % 3 == 0)
        .count() as u64;
    ctx.queue_stream(vec![records])
        .map(|x| x.wrapping_mul(2_654_435_761) % 1000)
        .filter(|x| x % 3 == 0)
        .count()
        .collect_batches();
    common::run_batches(&ctx, &clock, 1);
    let detail = ctx.batch_detail(BatchTime(common::I)).unwrap();
    let op = |name: &str| {
        detail
            .operators
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", detail.operators))
            .clone()
    };
    // `map` runs fused into the operator that runs `filter`, which is charged for both.
    for name in ["queue_stream", "filter"] {
        assert!(op(name).busy > Duration::ZERO, "{name} has no busy time");
    }
    assert_eq!(op("map").busy, Duration::ZERO);
    assert_eq!(
        (op("map").records_in, op("map").records_out),
        (200_000, 200_000)
    );
    assert_eq!(
        (op("filter").records_in, op("filter").records_out),
        (200_000, kept)
    );
}
