//! The event log and the history server: a run recorded as it ran is served read-only by the
//! same API after the job has stopped, crashed (a torn last line, no `stopped` record) or had
//! a line of its log damaged (reported, the rest kept); parts roll over at their size limit.

mod common;

use common::get;
use freshet::{BatchTime, ManualClock, StreamingConfig, StreamingContext};
use freshet_ui::{recorded_runs, EventLog, EventLogConfig, UiConfig, UiError, UiServer};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const I: u64 = 100;

/// Runs `batches` batches of a word count with an event log in `dir`; returns the live
/// context (stopped) and the log.
fn record(dir: &Path, batches: u64, config: EventLogConfig) -> (StreamingContext, EventLog) {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(I))
            .workers(2)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let input: Vec<Vec<String>> = (0..batches)
        .map(|i| vec![format!("w{}", i % 3), "x".into(), format!("w{}", i % 5)])
        .collect();
    ctx.queue_stream(input)
        .uid("words")
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
        .publish("counts", 10);
    let log = EventLog::start(
        &ctx,
        EventLogConfig {
            dir: dir.into(),
            ..config
        },
    )
    .unwrap();
    ctx.start().unwrap();
    for k in 1..=batches {
        clock.advance(Duration::from_millis(I));
        ctx.await_batch(BatchTime(I * k), Duration::from_secs(10))
            .unwrap();
    }
    ctx.stop(true).unwrap();
    (ctx, log)
}

fn history(dir: &Path) -> UiServer {
    UiServer::start_history(dir, None, UiConfig::new("127.0.0.1:0".parse().unwrap())).unwrap()
}

fn times(batches: &Value) -> Vec<u64> {
    batches
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_stopped_run_is_served_as_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, log) = record(dir.path(), 4, EventLogConfig::new(dir.path()));
    let runs = recorded_runs(dir.path()).unwrap();
    assert_eq!(runs, vec![(log.run().to_string(), vec![1])]);

    let ui = history(dir.path());
    let addr = ui.local_addr();
    let status = get(addr, "/api/v1/status").json();
    assert_eq!(status["running"], false);
    assert_eq!(status["history"]["run"], log.run());
    assert_eq!(status["history"]["ended"], "stopped");
    assert_eq!(status["history"]["damaged_lines"], 0);
    assert_eq!(status["workers"], 2);

    let live: Vec<u64> = ctx.recent_batches().iter().map(|b| b.time.0).collect();
    assert_eq!(times(&get(addr, "/api/v1/batches").json()), live);
    assert_eq!(live, vec![100, 200, 300, 400]);

    // A batch's detail is the one the running job gave.
    let detail = get(addr, "/api/v1/batches/200").json();
    let expected = ctx.batch_detail(BatchTime(200)).unwrap();
    assert_eq!(detail["records"], expected.info.records);
    assert_eq!(
        detail["operators"].as_array().unwrap().len(),
        expected.operators.len()
    );
    assert_eq!(detail["sources"][0]["records"], 3);
    assert_eq!(detail["workers"].as_array().unwrap().len(), 2);

    let graph = get(addr, "/api/v1/graph").json();
    assert_eq!(
        graph["nodes"].as_array().unwrap().len(),
        ctx.pipeline_graph().nodes.len()
    );
    assert!(graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["label"] == "words"));
    assert_eq!(get(addr, "/api/v1/outputs/counts").json()["time"], 400);
    assert_eq!(get(addr, "/api/v1/sources").json()[0]["records_total"], 12);
    let health = get(addr, "/api/v1/health").json();
    assert_eq!(health["workers"]["busy_ms"].as_array().unwrap().len(), 2);
    assert_eq!(health["outputs"][0]["batches"], 4);
    // The page is served; metrics are not (they belong to a running job).
    assert_eq!(get(addr, "/").status, 200);
    assert_eq!(get(addr, "/metrics").status, 404);
    ui.shutdown();
}

/// The lines of the only part of the only run in `dir`, and its path.
fn lines(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let (run, parts) = recorded_runs(dir).unwrap().remove(0);
    let path = dir.join(format!("{run}.{:05}.jsonl", parts[0]));
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text.lines().map(String::from).collect())
}

#[test]
fn a_crashed_run_ends_at_its_last_complete_line_and_damage_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), 4, EventLogConfig::new(dir.path()));
    let (path, mut all) = lines(dir.path());
    assert!(all.last().unwrap().contains("\"stopped\""));

    // Killed before it could write its final snapshot and stop record: the snapshot line is
    // half written.
    all.pop();
    let snapshot = all.pop().unwrap();
    let mut text = all.join("\n");
    text.push('\n');
    text.push_str(&snapshot[..snapshot.len() / 2]);
    std::fs::write(&path, &text).unwrap();
    let ui = history(dir.path());
    let status = get(ui.local_addr(), "/api/v1/status").json();
    assert_eq!(status["history"]["ended"], "crashed");
    assert_eq!(status["history"]["damaged_lines"], 0);
    assert_eq!(
        times(&get(ui.local_addr(), "/api/v1/batches").json()),
        vec![100, 200, 300, 400]
    );
    ui.shutdown();

    // A line damaged in the middle: counted and skipped, every other line kept.
    let damaged: Vec<String> = all
        .iter()
        .map(|l| {
            if l.contains("\"time\":200") && l.contains("\"event\":\"batch\"") {
                l.replace('{', "#")
            } else {
                l.clone()
            }
        })
        .collect();
    std::fs::write(&path, damaged.join("\n") + "\n").unwrap();
    let ui = history(dir.path());
    let status = get(ui.local_addr(), "/api/v1/status").json();
    assert_eq!(status["history"]["damaged_lines"], 1);
    assert_eq!(
        times(&get(ui.local_addr(), "/api/v1/batches").json()),
        vec![100, 300, 400]
    );
    ui.shutdown();
}

#[test]
fn parts_roll_over_and_the_oldest_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let config = EventLogConfig {
        max_file_bytes: 64 * 1024,
        max_files: 2,
        ..EventLogConfig::new(dir.path())
    };
    record(dir.path(), 300, config);
    let runs = recorded_runs(dir.path()).unwrap();
    assert_eq!(runs.len(), 1);
    let parts = &runs[0].1;
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0] > 1, "the first parts were deleted: {parts:?}");
    for p in parts {
        let path = dir.path().join(format!("{}.{p:05}.jsonl", runs[0].0));
        let len = std::fs::metadata(&path).unwrap().len();
        // A part ends with the line that took it over the limit.
        assert!(
            len < 64 * 1024 + 16 * 1024,
            "{} is {len} bytes",
            path.display()
        );
    }
    // The history shows what the kept parts hold, ending with the last batch.
    let ui = history(dir.path());
    let got = times(&get(ui.local_addr(), "/api/v1/batches").json());
    assert_eq!(got.last(), Some(&30_000));
    assert_eq!(
        get(ui.local_addr(), "/api/v1/status").json()["history"]["ended"],
        "stopped"
    );
    ui.shutdown();
}

#[test]
fn bad_settings_and_missing_logs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(I))).unwrap();
    let err = EventLog::start(
        &ctx,
        EventLogConfig {
            max_files: 0,
            ..EventLogConfig::new(dir.path())
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_files = 0"), "{err}");
    let err = UiServer::start_history(
        dir.path(),
        None,
        UiConfig::new("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap_err();
    assert!(matches!(err, UiError::History(_)), "{err}");
    assert!(err.to_string().contains("holds no event log"), "{err}");
    record(dir.path(), 1, EventLogConfig::new(dir.path()));
    let err = UiServer::start_history(
        dir.path(),
        Some("run-1"),
        UiConfig::new("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("has no run named run-1"), "{err}");
}
