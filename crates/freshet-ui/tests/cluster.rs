//! The processes of a job in the API, the health figures and `/metrics`: a real cluster of two
//! processes (two contexts of this test process, each with its own cluster configuration) with
//! the UI on the driver, a job of one process, and a run recorded before processes were.

mod common;

use common::get;
use freshet::cluster::ClusterConfig;
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, ManualClock, StreamingConfig, StreamingContext};
use freshet_ui::{UiConfig, UiServer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
const INTERVAL: Duration = Duration::from_millis(100);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Process `process` of a job on `peers` (data addresses) with the driver's control address
/// `control`: one worker, a generator of numbers counted by key, on a manual clock.
fn process(process: usize, peers: &[String], control: &str) -> (StreamingContext, ManualClock) {
    let clock = ManualClock::new(0);
    let cluster = ClusterConfig::new(process, peers.to_vec())
        .control(control)
        .connect_timeout(WAIT);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(INTERVAL)
            .workers(1)
            .stop_on_ctrl_c(false)
            .cluster(cluster),
        Arc::new(clock.clone()),
    )
    .unwrap();
    ctx.generator_stream(GeneratorOptions::rate(1_000), |i| (i % 7, 1u64))
        .uid("numbers")
        .reduce_by_key(|a, b| a + b)
        .foreach_batch(|_, _| {});
    (ctx, clock)
}

/// The value of the sample `series` (name and labels, as written) in a scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        let value = l.strip_prefix(series)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

#[test]
fn the_driver_shows_both_processes_of_a_cluster() {
    let (control, peers) = common::cluster_addresses(2);
    let (driver, clock) = process(0, &peers, &control);
    let (other, _) = process(1, &peers, &control);
    let ui = UiServer::start(&driver, UiConfig::new(loopback())).unwrap();
    let addr = ui.local_addr();

    // `start` returns once both processes have connected: start each from its own thread.
    let starts: Vec<_> = [driver.clone(), other.clone()]
        .into_iter()
        .map(|ctx| std::thread::spawn(move || ctx.start()))
        .collect();
    for (p, s) in starts.into_iter().enumerate() {
        s.join()
            .unwrap()
            .unwrap_or_else(|e| panic!("process {p} did not start: {e}"));
    }

    // Batches until the figures of process 1's worker have reached the driver.
    let deadline = Instant::now() + WAIT;
    let mut k = 0;
    let health = loop {
        k += 1;
        clock.advance(INTERVAL);
        driver.await_batch(BatchTime(100 * k), WAIT).unwrap();
        let health = get(addr, "/api/v1/health").json();
        if health["workers"]["busy_ms"].as_array().map_or(0, Vec::len) == 2 {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "the driver has no figures of process 1's worker after {k} batches: {health}"
        );
    };

    let cluster = get(addr, "/api/v1/cluster");
    assert_eq!(cluster.status, 200);
    let cluster = cluster.json();
    assert_eq!(cluster["this_process"], 0, "{cluster}");
    let processes = cluster["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 2, "{cluster}");
    for (p, entry) in processes.iter().enumerate() {
        assert_eq!(entry["process"], p, "{cluster}");
        assert_eq!(entry["address"], peers[p].as_str(), "{cluster}");
        assert_eq!(entry["first_worker"], p, "{cluster}");
        assert_eq!(entry["workers"], 1, "{cluster}");
        assert_eq!(entry["connected"], true, "{cluster}");
        assert_eq!(entry["error"], Value::Null, "{cluster}");
    }
    // The driver reports itself, and has heard from process 1 since it connected.
    assert_eq!(processes[0]["last_heard_ms"], Value::Null, "{cluster}");
    assert!(processes[1]["last_heard_ms"].is_u64(), "{cluster}");

    // The health figures carry the same processes, and one busy time per worker of the job.
    let in_health = &health["cluster"];
    assert_eq!(in_health["this_process"], 0, "{health}");
    let listed: Vec<(u64, u64, bool)> = in_health["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["process"].as_u64().unwrap(),
                p["first_worker"].as_u64().unwrap(),
                p["connected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![(0, 0, true), (1, 1, true)], "{health}");

    let scrape = get(addr, "/metrics");
    assert_eq!(scrape.status, 200);
    let text = &scrape.body;
    assert_eq!(
        sample(text, "freshet_cluster_processes"),
        Some(2.0),
        "{text}"
    );
    for p in 0..2 {
        assert_eq!(
            sample(
                text,
                &format!("freshet_cluster_process_connected{{process=\"{p}\"}}")
            ),
            Some(1.0),
            "{text}"
        );
        assert!(
            sample(
                text,
                &format!("freshet_cluster_process_last_heard_seconds{{process=\"{p}\"}}")
            )
            .is_some_and(|s| s >= 0.0),
            "{text}"
        );
    }
    for line in [
        "# TYPE freshet_cluster_processes gauge",
        "# TYPE freshet_cluster_process_connected gauge",
        "# TYPE freshet_cluster_process_last_heard_seconds gauge",
        "# UNIT freshet_cluster_process_last_heard_seconds seconds",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }

    driver.stop(true).unwrap();
    assert!(
        other.await_termination_or_timeout(WAIT).is_ok(),
        "process 1 did not end with the driver"
    );
    ui.shutdown();
}

#[test]
fn a_job_of_one_process_has_no_processes_to_show() {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(INTERVAL)
            .workers(2)
            .stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    ctx.queue_stream(vec![vec![("a".to_string(), 1u64)], vec![]])
        .reduce_by_key(|a, b| a + b)
        .foreach_batch(|_, _| {});
    let ui = UiServer::start(&ctx, UiConfig::new(loopback())).unwrap();
    let addr = ui.local_addr();
    ctx.start().unwrap();
    clock.advance(INTERVAL);
    ctx.await_batch(BatchTime(100), WAIT).unwrap();

    let cluster = get(addr, "/api/v1/cluster");
    assert_eq!(cluster.status, 200);
    assert_eq!(cluster.json(), json!({ "processes": [] }));
    let health = get(addr, "/api/v1/health").json();
    assert_eq!(health["cluster"], json!({ "processes": [] }), "{health}");

    let text = get(addr, "/metrics").body;
    assert_eq!(
        sample(&text, "freshet_cluster_processes"),
        Some(1.0),
        "{text}"
    );
    for family in [
        "freshet_cluster_process_connected",
        "freshet_cluster_process_last_heard_seconds",
    ] {
        assert!(
            !text.lines().any(|l| l.starts_with(&format!("{family}{{"))),
            "a series of {family} for a job of one process:\n{text}"
        );
    }
    ctx.stop(true).unwrap();
    ui.shutdown();
}

#[test]
fn a_run_recorded_without_processes_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = json!({
        "running": false,
        "batch_interval_ms": 100.0,
        "workers": 1,
        "batches_completed": 0,
        "graph": { "nodes": [], "edges": [] },
        "sources": [],
        "outputs": [],
        "active": [],
        "health": {
            "checkpoints": { "written": 0, "failed": 0, "consecutive_failures": 0, "recent": [], "failures": [] },
            "incidents": [],
            "outputs": [],
            "event_time": [],
            "workers": { "busy_ms": [1.5], "skew": 1.0 },
        },
    });
    let lines = [
        json!({ "event": "start", "part": 1, "at_ms": 1_000 }),
        json!({ "event": "snapshot", "at_ms": 2_000, "snapshot": snapshot }),
        json!({ "event": "stopped", "at_ms": 3_000, "error": null }),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("run-1000.00001.jsonl"), text).unwrap();

    let ui = UiServer::start_history(dir.path(), None, UiConfig::new(loopback())).unwrap();
    let addr = ui.local_addr();
    let cluster = get(addr, "/api/v1/cluster");
    assert_eq!(cluster.status, 200);
    assert_eq!(cluster.json(), json!({ "processes": [] }));
    let health = get(addr, "/api/v1/health").json();
    assert_eq!(health["cluster"], json!({ "processes": [] }), "{health}");
    assert_eq!(health["workers"]["busy_ms"], json!([1.5]), "{health}");
    ui.shutdown();
}
