//! The HTTP ingest receiver over real HTTP on loopback, with `ureq` as the client: records
//! posted as NDJSON and as JSON arrays arrive exactly once (one and two workers); a restart
//! from the checkpoint loses nothing that was answered 200; the refusals (429 with
//! Retry-After, 413, 401, 400 or skip for bad records, 404, 415); bad settings refused by name;
//! an address in use failing `start()`.
#![cfg(feature = "http")]

use freshet::source::{BadRecordPolicy, Receiver, ReceiverOptions};
use freshet::{
    Clock, CollectedBatches, ErrorDomain, ManualClock, StreamingConfig, StreamingContext,
};
use freshet_connectors::http::{HttpIngest, LocalAddr};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const I: Duration = Duration::from_millis(50);
const DELIVERY: Duration = Duration::from_secs(30);

/// An answer: status, `Retry-After`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post_to(addr: &LocalAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let url = format!(
        "http://{}{path}",
        addr.get().expect("the receiver is bound")
    );
    let mut request = agent().post(&url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).expect("an HTTP answer");
    Answer {
        status: response.status().as_u16(),
        retry_after: response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn ndjson(addr: &LocalAddr, records: &[String]) -> Answer {
    let body = records.join("\n") + "\n";
    post_to(
        addr,
        "/ingest",
        &[("Content-Type", "application/x-ndjson")],
        body.as_bytes(),
    )
}

fn json_array(addr: &LocalAddr, records: &[u64]) -> Answer {
    let body = serde_json::to_vec(records).unwrap();
    post_to(
        addr,
        "/ingest",
        &[("Content-Type", "application/json")],
        &body,
    )
}

fn get(addr: &LocalAddr, path: &str) -> u16 {
    let url = format!("http://{}{path}", addr.get().unwrap());
    agent().get(&url).call().unwrap().status().as_u16()
}

fn texts(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn config(workers: usize) -> StreamingConfig {
    StreamingConfig::new(I)
        .workers(workers)
        .checkpoint_interval(2)
        .stop_on_ctrl_c(false)
}

/// A started context on the system clock collecting what `ingest` receives.
fn started<D: freshet_connectors::http::HttpDecoder>(
    workers: usize,
    dir: Option<&Path>,
    ingest: HttpIngest<D>,
) -> (StreamingContext, CollectedBatches<D::Item>, LocalAddr) {
    let addr = ingest.local_addr_handle();
    let build = || {
        let ctx = StreamingContext::new(config(workers))?;
        let out = ctx.receiver_stream(ingest).uid("http").collect_batches();
        Ok((ctx, out))
    };
    let (ctx, out) = build().map_err(|e: freshet::Error| e).unwrap();
    if let Some(dir) = dir {
        ctx.checkpoint(dir).unwrap();
    }
    ctx.start().unwrap();
    (ctx, out, addr)
}

fn all<T: freshet::Data>(out: &CollectedBatches<T>) -> Vec<T> {
    out.batches().into_iter().flat_map(|(_, b)| b).collect()
}

/// Waits until `out` holds at least `n` records.
fn wait_for<T: freshet::Data>(out: &CollectedBatches<T>, n: usize) {
    let deadline = Instant::now() + DELIVERY;
    while all(out).len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} records arrived",
            all(out).len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn every_record_arrives_once(workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, out, addr) = started(workers, Some(dir.path()), HttpIngest::new("127.0.0.1:0"));
    assert_eq!(get(&addr, "/healthz"), 200);
    let mut expected = Vec::new();
    for r in 0..3 {
        let records = texts(&format!("line{r}"), 0..10);
        let answer = ndjson(&addr, &records);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body.contains(r#""accepted":10"#), "{answer:?}");
        expected.extend(records);
    }
    for r in 0..2u64 {
        let numbers: Vec<u64> = (0..7).map(|i| r * 100 + i).collect();
        let answer = json_array(&addr, &numbers);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body.contains(r#""accepted":7"#), "{answer:?}");
        expected.extend(numbers.iter().map(u64::to_string));
    }
    wait_for(&out, expected.len());
    std::thread::sleep(I * 4);
    ctx.stop(true).unwrap();
    let mut read = all(&out);
    read.sort();
    expected.sort();
    assert_eq!(read, expected, "every record exactly once");
}

#[test]
fn with_one_worker_every_record_arrives_once() {
    every_record_arrives_once(1);
}

#[test]
fn with_two_workers_every_record_arrives_once() {
    every_record_arrives_once(2);
}

#[test]
fn a_restart_from_the_checkpoint_loses_nothing_that_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = freshet::testing::laws::closed_port();
    let mut acknowledged = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for round in 0..2 {
        let (ctx, out, addr) = started(2, Some(dir.path()), HttpIngest::new(&port));
        for r in 0..5 {
            let records = texts(&format!("round{round}-req{r}"), 0..8);
            let answer = ndjson(&addr, &records);
            assert_eq!(answer.status, 200, "{answer:?}");
            acknowledged.extend(records);
        }
        // Stopped right away: what was answered 200 but not yet processed is in the
        // write-ahead log, and the next run gets it.
        ctx.stop(false).unwrap();
        seen.extend(all(&out));
    }
    let (ctx, out, _) = started(2, Some(dir.path()), HttpIngest::new(&port));
    let deadline = Instant::now() + DELIVERY;
    loop {
        let now: BTreeSet<String> = seen.iter().cloned().chain(all(&out)).collect();
        if acknowledged.is_subset(&now) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ctx.stop(true).unwrap();
    seen.extend(all(&out));
    assert!(
        acknowledged.is_subset(&seen),
        "lost: {:?}",
        acknowledged.difference(&seen).collect::<Vec<_>>()
    );
    assert!(seen.is_subset(&acknowledged), "{seen:?}");
}

#[test]
fn a_full_queue_answers_429_with_retry_after() {
    // A manual clock cuts no batch, so a buffer of one record stays full.
    let clock = ManualClock::new(0);
    let ingest = HttpIngest::new("127.0.0.1:0")
        .queue_capacity(1)
        .max_queue_wait(Duration::from_millis(200))
        .retry_after(Duration::from_secs(3));
    let addr = ingest.local_addr_handle();
    let ctx = StreamingContext::with_clock(config(1), Arc::new(clock.clone())).unwrap();
    let out = ctx
        .receiver_stream_with(ingest, ReceiverOptions::new().capacity(1))
        .uid("http")
        .collect_batches();
    ctx.start().unwrap();
    // Fills the buffer.
    assert_eq!(ndjson(&addr, &texts("a", 0..1)).status, 200);
    // Taken by the receiver thread, whose store waits for room until the next batch.
    let waiting = {
        let addr = addr.clone();
        std::thread::spawn(move || ndjson(&addr, &texts("b", 0..1)))
    };
    std::thread::sleep(Duration::from_millis(300));
    // Queued, and not taken within max_queue_wait: refused, so never stored.
    let queued = {
        let addr = addr.clone();
        std::thread::spawn(move || ndjson(&addr, &texts("c", 0..1)))
    };
    std::thread::sleep(Duration::from_millis(50));
    // The queue (of one) is full: refused at once.
    let started_at = Instant::now();
    let full = ndjson(&addr, &texts("d", 0..1));
    assert_eq!(full.status, 429, "{full:?}");
    assert_eq!(full.retry_after.as_deref(), Some("3"));
    assert!(full.body.contains("queue_capacity"), "{full:?}");
    assert!(started_at.elapsed() < Duration::from_millis(150));
    let queued = queued.join().unwrap();
    assert_eq!(queued.status, 429, "{queued:?}");
    assert!(queued.body.contains("max_queue_wait"), "{queued:?}");
    // Batches take the buffer: the waiting request is stored and answered.
    let deadline = Instant::now() + DELIVERY;
    while !waiting.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the waiting request was never answered"
        );
        clock.advance(I);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(waiting.join().unwrap().status, 200);
    for _ in 0..3 {
        clock.advance(I);
        ctx.await_batch(clock.now(), DELIVERY).unwrap();
    }
    ctx.stop(true).unwrap();
    let mut read = all(&out);
    read.sort();
    assert_eq!(read, vec!["a-0", "b-0"]);
}

#[test]
fn refusals_413_401_404_415() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = HttpIngest::new("127.0.0.1:0")
        .path("/v1/events")
        .max_body_bytes(1024)
        .bearer_token("t0k3n");
    let (ctx, out, addr) = started(1, Some(dir.path()), ingest);
    let auth = ("Authorization", "Bearer t0k3n");
    let ndjson_type = ("Content-Type", "application/x-ndjson");

    let answer = post_to(&addr, "/v1/events", &[ndjson_type], b"a\n");
    assert_eq!(answer.status, 401, "{answer:?}");
    let answer = post_to(
        &addr,
        "/v1/events",
        &[ndjson_type, ("Authorization", "Bearer wrong")],
        b"a\n",
    );
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(get(&addr, "/healthz"), 200, "health needs no token");

    let big = "x".repeat(100) + "\n";
    let answer = post_to(
        &addr,
        "/v1/events",
        &[ndjson_type, auth],
        big.repeat(40).as_bytes(),
    );
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(answer.body.contains("max_body_bytes"), "{answer:?}");

    let answer = post_to(&addr, "/ingest", &[ndjson_type, auth], b"a\n");
    assert_eq!(answer.status, 404, "{answer:?}");
    // The token is checked first, whatever the method.
    assert_eq!(get(&addr, "/v1/events"), 401);
    let answer = post_to(
        &addr,
        "/v1/events",
        &[("Content-Type", "image/png"), auth],
        b"a",
    );
    assert_eq!(answer.status, 415, "{answer:?}");

    let answer = post_to(&addr, "/v1/events", &[ndjson_type, auth], big.as_bytes());
    assert_eq!(answer.status, 200, "{answer:?}");
    wait_for(&out, 1);
    ctx.stop(true).unwrap();
    assert_eq!(all(&out), vec!["x".repeat(100)]);
}

#[test]
fn bad_records_are_refused_with_400_or_skipped() {
    // Fail (the default): the request is refused whole, and the job goes on.
    let (ctx, out, addr) = started(
        1,
        None,
        HttpIngest::new("127.0.0.1:0").json_records::<u32>(),
    );
    let answer = post_to(
        &addr,
        "/ingest",
        &[("Content-Type", "application/x-ndjson")],
        b"1\n-2\n3\n",
    );
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("line 2"), "{answer:?}");
    let answer = post_to(
        &addr,
        "/ingest",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("not a JSON array"), "{answer:?}");
    let answer = post_to(
        &addr,
        "/ingest",
        &[("Content-Type", "application/json")],
        b"[4, 5]",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    wait_for(&out, 2);
    std::thread::sleep(I * 4);
    ctx.stop(true).unwrap();
    assert_eq!(all(&out), vec![4, 5], "nothing of the refused requests");

    // Skip: counted, the rest stored.
    let (ctx, out, addr) = started(
        1,
        None,
        HttpIngest::new("127.0.0.1:0").bad_records(BadRecordPolicy::Skip),
    );
    let answer = post_to(
        &addr,
        "/ingest",
        &[("Content-Type", "text/plain")],
        b"a\n\xff\nb\n",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains(r#""accepted":2"#), "{answer:?}");
    assert!(answer.body.contains(r#""skipped":1"#), "{answer:?}");
    wait_for(&out, 2);
    ctx.stop(true).unwrap();
    assert_eq!(all(&out), vec!["a", "b"]);
    assert_eq!(ctx.skipped_records(), 1);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let r = || HttpIngest::new("127.0.0.1:0");
    let cases: Vec<(HttpIngest, &str)> = vec![
        (
            r().max_body_bytes(0),
            "max_body_bytes must be between 1 and",
        ),
        (
            r().max_body_bytes((1 << 30) + 1),
            "max_body_bytes must be between",
        ),
        (
            r().queue_capacity(0),
            "queue_capacity must be between 1 and 65536",
        ),
        (
            r().max_concurrent_requests(0),
            "max_concurrent_requests must be between",
        ),
        (
            r().max_queue_wait(Duration::ZERO),
            "max_queue_wait must be between",
        ),
        (
            r().retry_after(Duration::from_millis(10)),
            "retry_after must be between",
        ),
        (
            r().retry_after(Duration::from_secs(7200)),
            "retry_after must be between",
        ),
        (r().bearer_token(""), "bearer_token must be"),
        (r().bearer_token("has space"), "bearer_token must be"),
        (r().path("ingest"), "path `ingest` is not valid"),
        (r().path("/a/{id}"), "path `/a/{id}` is not valid"),
        (r().path("/healthz"), "path `/healthz` is not valid"),
    ];
    for (mut receiver, expected) in cases {
        let err = receiver.on_start().unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User, "{err}");
        assert!(
            err.to_string().contains(expected),
            "`{err}` lacks `{expected}`"
        );
    }
    let ctx = StreamingContext::new(config(1)).unwrap();
    ctx.receiver_stream(r().queue_capacity(0)).collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("queue_capacity"), "{err}");
}

#[test]
fn an_address_in_use_fails_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let ctx = StreamingContext::new(config(1)).unwrap();
    ctx.receiver_stream(HttpIngest::new(&addr))
        .collect_batches();
    let err = ctx.start().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&addr), "{err}");
}
