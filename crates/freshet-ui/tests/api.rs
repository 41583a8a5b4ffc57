//! The JSON API, the event stream and `/metrics` against a pipeline driven by a manual clock.

mod common;

use common::{get, get_with, EventStream};
use freshet::{BatchTime, ManualClock, StreamingConfig, StreamingContext};
use freshet_ui::{UiConfig, UiError, UiServer};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// `queue_stream -> map -> reduce_by_key -> {publish "counts", foreach_batch}` on a manual clock
/// with 100 ms batches.
fn pipeline() -> (StreamingContext, ManualClock) {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(100)).workers(2),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let batches: Vec<Vec<String>> = vec![
        vec!["a", "b", "a", "c"],
        vec!["b"],
        vec!["c", "c"],
        vec!["d"],
    ]
    .into_iter()
    .map(|b| b.into_iter().map(String::from).collect())
    .collect();
    let counts = ctx
        .queue_stream(batches)
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b);
    counts.publish("counts", 10);
    counts.foreach_batch(|_, _| {});
    (ctx, clock)
}

fn run_batches(ctx: &StreamingContext, clock: &ManualClock, from: u64, to: u64) {
    for k in from..=to {
        clock.advance(Duration::from_millis(100));
        ctx.await_batch(BatchTime(100 * k), WAIT).unwrap();
    }
}

fn names(v: &serde_json::Value, field: &str) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn json_api_events_and_metrics() {
    let (ctx, clock) = pipeline();
    let ui = UiServer::start(&ctx, UiConfig::new(loopback())).unwrap();
    let addr = ui.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(ui.url(), format!("http://{addr}/"));

    // Before the start: empty figures, not an error.
    let before = get(addr, "/api/v1/status");
    assert_eq!(before.status, 200);
    assert_eq!(before.json()["running"], json!(false));
    assert_eq!(get(addr, "/api/v1/graph").json()["nodes"], json!([]));

    ctx.start().unwrap();
    run_batches(&ctx, &clock, 1, 3);

    let status = get(addr, "/api/v1/status");
    assert_eq!(status.status, 200);
    assert_eq!(
        status.header("content-type"),
        Some("application/json"),
        "{:?}",
        status.headers
    );
    let status = status.json();
    assert_eq!(status["running"], json!(true));
    assert_eq!(status["batches_completed"], json!(3));
    assert_eq!(status["batch_interval_ms"], json!(100.0));
    assert_eq!(status["workers"], json!(2));
    assert_eq!(status["first_batch_time"], json!(100));
    assert_eq!(status["skipped_records"], json!(0));
    assert_eq!(status["lost_records"], json!(0));
    assert_eq!(status["disk_full_waits"], json!(0));
    assert_eq!(status["backlog"]["falling_behind"], json!(false));

    // Completed batches, oldest first; `limit` keeps the newest.
    let batches = get(addr, "/api/v1/batches").json();
    let batches = batches.as_array().unwrap();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0]["time"], json!(100));
    assert_eq!(batches[0]["records"], json!(4));
    assert_eq!(batches[0]["input_rate"], json!(40.0));
    assert_eq!(batches[2]["records"], json!(2));
    for b in batches {
        let sched = b["scheduling_delay_ms"].as_f64().unwrap();
        let proc = b["processing_time_ms"].as_f64().unwrap();
        let total = b["total_delay_ms"].as_f64().unwrap();
        assert!(proc > 0.0);
        assert!((sched + proc - total).abs() < 0.01, "{b}");
    }
    let last = get(addr, "/api/v1/batches?limit=1").json();
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0]["time"], json!(300));
    assert_eq!(get(addr, "/api/v1/batches?limit=x").status, 400);
    let after = get(addr, "/api/v1/batches?after=100").json();
    assert_eq!(after.as_array().unwrap().len(), 2);
    assert_eq!(after[0]["time"], json!(200));

    // One batch's detail with its operators.
    let detail = get(addr, "/api/v1/batches/100").json();
    assert_eq!(detail["records"], json!(4));
    let op = |name: &str| {
        detail["operators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == json!(name))
            .unwrap_or_else(|| panic!("no operator {name} in {detail}"))
            .clone()
    };
    assert_eq!(op("queue_stream")["records_out"], json!(4));
    assert_eq!(op("map")["records_out"], json!(4));
    assert_eq!(op("reduce_by_key")["records_out"], json!(3));
    assert!(op("map")["busy_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        detail["sources"],
        json!([{ "name": "queue_stream-0", "records": 4 }])
    );
    let missing = get(addr, "/api/v1/batches/12345");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].as_str().unwrap().contains("12345"));
    assert_eq!(get(addr, "/api/v1/batches/abc").status, 400);
    assert!(get(addr, "/api/v1/batches/active").json().is_array());

    // The graph with record counts.
    let graph = get(addr, "/api/v1/graph").json();
    assert_eq!(
        names(&graph["nodes"], "name"),
        vec![
            "foreach_batch",
            "map",
            "publish",
            "queue_stream",
            "reduce_by_key"
        ]
    );
    assert_eq!(graph["edges"].as_array().unwrap().len(), 4);
    let source = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == json!("queue_stream"))
        .unwrap();
    assert_eq!(source["kind"], json!("source"));
    assert_eq!(source["records_total"], json!(7));
    assert_eq!(source["records_last_batch"], json!(2));

    // Sources.
    let sources = get(addr, "/api/v1/sources").json();
    assert_eq!(sources.as_array().unwrap().len(), 1);
    assert_eq!(sources[0]["name"], json!("queue_stream-0"));
    assert_eq!(sources[0]["records_total"], json!(7));
    assert_eq!(sources[0]["last_batch_records"], json!(2));
    assert_eq!(sources[0]["state"], json!("not_a_receiver"));
    assert_eq!(sources[0]["lag"], json!(1));

    // The live results: the latest batch of "counts".
    let outputs = get(addr, "/api/v1/outputs").json();
    assert_eq!(
        outputs,
        json!([{ "name": "counts", "time": 300, "total": 1, "records": ["(\"c\", 2)"] }])
    );
    assert_eq!(get(addr, "/api/v1/outputs/counts").json(), outputs[0]);
    assert_eq!(get(addr, "/api/v1/outputs/nope").status, 404);
    assert_eq!(get(addr, "/api/v1/nothing").status, 404);

    // Prometheus text: OpenMetrics for a scraper that asks for it, plain text for a browser.
    let metrics = get_with(
        addr,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n",
    );
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let shown = get_with(addr, "/metrics", "Accept: text/html,*/*;q=0.8\r\n");
    assert_eq!(
        shown.header("content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
    assert!(shown.body.contains("freshet_batches_completed"));
    let text = &metrics.body;
    let source_id = sources[0]["id"].as_u64().unwrap();
    let reduce_id = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == json!("reduce_by_key"))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    for line in [
        "freshet_running 1".to_string(),
        "freshet_batches_completed_total 3".to_string(),
        "freshet_input_records_total 7".to_string(),
        "freshet_skipped_records_total 0".to_string(),
        "freshet_lost_records_total 0".to_string(),
        "freshet_disk_full_waits_total 0".to_string(),
        "freshet_falling_behind 0".to_string(),
        "freshet_last_batch_records 2".to_string(),
        "freshet_batch_processing_seconds_count 3".to_string(),
        "freshet_batch_scheduling_delay_seconds_count 3".to_string(),
        "freshet_batch_total_delay_seconds_count 3".to_string(),
        format!("freshet_source_records_total{{source=\"queue_stream-0\",source_id=\"{source_id}\"}} 7"),
        format!("freshet_receiver_up{{source=\"queue_stream-0\",source_id=\"{source_id}\"}} 1"),
        format!("freshet_source_lag_records{{source=\"queue_stream-0\",source_id=\"{source_id}\"}} 1"),
        format!(
            "freshet_operator_records_total{{operator=\"reduce_by_key\",node=\"{reduce_id}\",kind=\"operator\"}} 5"
        ),
        "# TYPE freshet_batch_processing_seconds histogram".to_string(),
        "# EOF".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line || l.starts_with(&format!("{line}."))),
            "no line {line:?} in\n{text}"
        );
    }

    // Events: a snapshot on connect, then the events of the next batch.
    let mut events = EventStream::open(addr, "/api/v1/events");
    assert!(
        events.read_until("event: snapshot", 1, WAIT),
        "{}",
        events.text
    );
    assert!(events.text.contains("text/event-stream"), "{}", events.text);
    assert!(events.text.contains("\"outputs\""), "{}", events.text);
    run_batches(&ctx, &clock, 4, 4);
    assert!(
        events.read_until("event: batch_completed", 1, WAIT),
        "{}",
        events.text
    );
    for e in [
        "event: batch_submitted",
        "event: batch_started",
        "event: output_completed",
    ] {
        assert!(events.text.contains(e), "no {e} in {}", events.text);
    }
    assert!(events.text.contains("\"time\":400"), "{}", events.text);

    // The page and its assets.
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/static/app.js"));
    assert!(!page.body.contains("{{TOKEN_QUERY}}"));
    assert_eq!(get(addr, "/static/app.js").status, 200);
    assert_eq!(get(addr, "/static/style.css").status, 200);

    // Shutting down ends open event streams and frees the port.
    ctx.stop(true).unwrap();
    assert_eq!(get(addr, "/api/v1/status").json()["running"], json!(false));
    ui.shutdown();
    assert!(events.closed_within(WAIT), "the event stream stayed open");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn token_is_required_off_loopback_and_checked_on_every_request() {
    let (ctx, _clock) = pipeline();
    let err = UiServer::start(&ctx, UiConfig::new("0.0.0.0:0".parse().unwrap())).unwrap_err();
    assert!(matches!(err, UiError::TokenRequired(_)), "{err}");
    assert!(err.to_string().contains("--ui-token"));
    assert!(matches!(
        UiServer::start(&ctx, UiConfig::new(loopback()).token("two words")),
        Err(UiError::InvalidToken)
    ));

    let ui = UiServer::start(&ctx, UiConfig::new(loopback()).token("s3cret/+")).unwrap();
    let addr = ui.local_addr();
    assert_eq!(ui.url(), format!("http://{addr}/?token=s3cret%2F%2B"));
    for path in [
        "/",
        "/api/v1/status",
        "/metrics",
        "/static/app.js",
        "/api/v1/events",
    ] {
        assert_eq!(get(addr, path).status, 401, "{path}");
        assert_eq!(
            get(addr, &format!("{path}?token=wrong")).status,
            401,
            "{path}"
        );
        let bad = get_with(addr, path, "Authorization: Bearer s3cret/\r\n");
        assert_eq!(bad.status, 401, "{path}");
    }
    let ok = get_with(addr, "/api/v1/status", "Authorization: Bearer s3cret/+\r\n");
    assert_eq!(ok.status, 200);
    assert_eq!(get(addr, "/metrics?token=s3cret%2F%2B").status, 200);
    let page = get(addr, "/?token=s3cret%2F%2B");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("/static/app.js?token=s3cret%2F%2B"),
        "{}",
        page.body
    );

    // Off loopback with a token is allowed.
    let open =
        UiServer::start(&ctx, UiConfig::new("0.0.0.0:0".parse().unwrap()).token("t")).unwrap();
    open.shutdown();
    ui.shutdown();
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let (ctx, _clock) = pipeline();
    let taken = std::net::TcpListener::bind(loopback()).unwrap();
    let addr = taken.local_addr().unwrap();
    let err = UiServer::start(&ctx, UiConfig::new(addr)).unwrap_err();
    assert!(matches!(err, UiError::AddrInUse(a) if a == addr), "{err:?}");
    assert!(err.to_string().contains("already in use"), "{err}");
}

#[test]
fn state_size_and_checkpoints_in_the_api_and_metrics() {
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
    let batches: Vec<Vec<(String, u64)>> = vec![
        vec![("a".into(), 1), ("b".into(), 1)],
        vec![("c".into(), 1)],
    ];
    ctx.queue_stream(batches)
        .update_state_by_key(|new: Vec<u64>, s: Option<u64>| {
            Some(s.unwrap_or(0) + new.iter().sum::<u64>())
        })
        .foreach_batch(|_, _| {});
    let ui = UiServer::start(&ctx, UiConfig::new(loopback())).unwrap();
    ctx.start().unwrap();
    run_batches(&ctx, &clock, 1, 2);

    let status = get(ui.local_addr(), "/api/v1/status").json();
    assert_eq!(status["state_keys"], json!(3));
    assert_eq!(status["state"][0]["operator"], json!("update_state_by_key"));
    assert!(status["checkpoints_written"].as_u64().unwrap() >= 2);
    assert!(status["last_checkpoint"]["bytes"].as_u64().unwrap() > 0);

    let metrics = get(ui.local_addr(), "/metrics").body;
    assert!(
        metrics.contains("freshet_state_keys{operator=\"update_state_by_key\""),
        "{metrics}"
    );
    assert!(metrics.contains("freshet_checkpoints_total "), "{metrics}");
    assert!(
        metrics.contains("freshet_last_checkpoint_duration_seconds "),
        "{metrics}"
    );
    ctx.stop(true).unwrap();
    ui.shutdown();
}
