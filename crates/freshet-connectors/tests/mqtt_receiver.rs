//! The MQTT reliable receiver against the Mosquitto broker at 127.0.0.1:1883 (start it with
//! `mosquitto -d -c /etc/mosquitto/mosquitto.conf`; these tests fail when it is down): every
//! message exactly once in a run (one and two workers) with blocks closed at the broker's
//! in-flight window, nothing acknowledged lost across a restart from the checkpoint while the
//! persistent session queues, bad payloads under both policies, and the settings and errors.
#![cfg(feature = "mqtt")]

mod mqtt_client;
mod services;

use mqtt_client::*;

use freshet::source::{BadRecordPolicy, Receiver, ReceiverOptions};
use freshet::testing::laws::{check_retryable, closed_port};
use freshet::{
    Clock, ErrorDomain, ManualClock, StreamingConfig, StreamingContext, StreamingListener,
};
use freshet_connectors::mqtt::{MqttDecoder, MqttReceiver, MqttSource};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const I: u64 = 50;

fn texts(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn bytes(values: &[String]) -> Vec<Vec<u8>> {
    values.iter().map(|v| v.clone().into_bytes()).collect()
}

fn receiver(client_id: &str, filters: &[&str]) -> MqttReceiver {
    MqttSource::receiver(BROKER, client_id, filters.iter().copied())
        .block_size(7)
        .block_max_wait(Duration::from_millis(20))
        .poll_timeout(Duration::from_millis(20))
        .drain_timeout(Duration::from_millis(500))
}

/// An available-now run of `receiver` with a checkpoint directory (so the write-ahead log):
/// every item it stored.
fn run_once<D: MqttDecoder>(workers: usize, dir: &Path, receiver: MqttReceiver<D>) -> Vec<D::Item> {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(I))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )
    .unwrap();
    ctx.checkpoint(dir).unwrap();
    let out = ctx.receiver_stream(receiver).uid("mqtt").collect_batches();
    ctx.run_available_now().unwrap();
    out.batches().into_iter().flat_map(|(_, b)| b).collect()
}

fn every_message_arrives_once(workers: usize) {
    let id = unique("once");
    let root = unique("t");
    let filter = format!("{root}/+/temp");
    open_session(&id, &[&filter]);
    let kitchen = texts("kitchen", 0..45);
    let hall = texts("hall", 0..30);
    publish(&format!("{root}/kitchen/temp"), &bytes(&kitchen));
    publish(&format!("{root}/hall/temp"), &bytes(&hall));
    publish(&format!("{root}/hall/humidity"), &bytes(&texts("no", 0..3)));
    // Blocks that wait a minute and hold up to 10 000 messages: only the in-flight window
    // (20 unacknowledged messages) closes them before the run ends.
    let dir = tempfile::tempdir().unwrap();
    let mut read = run_once(
        workers,
        dir.path(),
        receiver(&id, &[&filter])
            .block_size(10_000)
            .block_max_wait(Duration::from_secs(60)),
    );
    let mut expected: Vec<String> = kitchen.into_iter().chain(hall).collect();
    read.sort();
    expected.sort();
    assert_eq!(read, expected, "every message exactly once");
    // Everything was acknowledged: the session holds nothing more.
    let dir = tempfile::tempdir().unwrap();
    let again = run_once(workers, dir.path(), receiver(&id, &[&filter]));
    assert!(again.is_empty(), "delivered again: {again:?}");
    close_session(&id);
}

#[test]
fn with_one_worker_every_message_arrives_once() {
    every_message_arrives_once(1);
}

#[test]
fn with_two_workers_every_message_arrives_once() {
    every_message_arrives_once(2);
}

type Collected = freshet::CollectedBatches<String>;

fn checkpointed(
    clock: &ManualClock,
    dir: &Path,
    receiver: MqttReceiver,
) -> (StreamingContext, Collected) {
    let config = StreamingConfig::new(Duration::from_millis(I))
        .workers(2)
        .checkpoint_interval(2)
        .stop_on_ctrl_c(false);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(config.clone(), Arc::new(clock.clone()))?;
        out = Some(ctx.receiver_stream(receiver).uid("mqtt").collect_batches());
        Ok(ctx)
    })
    .unwrap();
    (ctx, out.unwrap())
}

/// Steps batches until `out` holds every one of `expected`; returns all it holds.
fn step_until_all(
    ctx: &StreamingContext,
    clock: &ManualClock,
    out: &Collected,
    expected: &[String],
) -> BTreeSet<String> {
    let deadline = Instant::now() + DELIVERY;
    loop {
        clock.advance(Duration::from_millis(I));
        ctx.await_batch(clock.now(), Duration::from_secs(30))
            .unwrap();
        let seen: BTreeSet<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
        if expected.iter().all(|v| seen.contains(v)) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} messages arrived",
            expected.iter().filter(|v| seen.contains(*v)).count(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_restart_from_the_checkpoint_loses_nothing_and_gets_what_was_queued_meanwhile() {
    let id = unique("restart");
    let topic = unique("t");
    open_session(&id, &[&topic]);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);

    let first = texts("first", 0..40);
    publish(&topic, &bytes(&first));
    let (ctx, out) = checkpointed(&clock, dir.path(), receiver(&id, &[&topic]));
    ctx.start().unwrap();
    let mut seen = step_until_all(&ctx, &clock, &out, &first);
    ctx.stop(true).unwrap();
    seen.extend(out.batches().into_iter().flat_map(|(_, b)| b));

    // Published while no receiver runs: the persistent session keeps them.
    let second = texts("second", 0..40);
    publish(&topic, &bytes(&second));
    let (ctx, out) = checkpointed(&clock, dir.path(), receiver(&id, &[&topic]));
    ctx.start().unwrap();
    let again = step_until_all(&ctx, &clock, &out, &second);
    ctx.stop(true).unwrap();
    seen.extend(again);
    seen.extend(out.batches().into_iter().flat_map(|(_, b)| b));

    let all: BTreeSet<String> = first.into_iter().chain(second).collect();
    assert!(
        all.is_subset(&seen),
        "lost: {:?}",
        all.difference(&seen).collect::<Vec<_>>()
    );
    assert!(seen.is_subset(&all), "{seen:?}");
    close_session(&id);
}

#[test]
fn payloads_that_do_not_decode_follow_the_bad_record_policy() {
    // UTF-8, skipped and counted, and acknowledged.
    let id = unique("skip");
    let topic = unique("t");
    open_session(&id, &[&topic]);
    publish(
        &topic,
        &[b"ok-1".to_vec(), b"\xff".to_vec(), b"ok-2".to_vec()],
    );
    let dir = tempfile::tempdir().unwrap();
    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    ctx.checkpoint(dir.path()).unwrap();
    let out = ctx
        .receiver_stream(receiver(&id, &[&topic]))
        .collect_batches();
    ctx.run_available_now().unwrap();
    let read: Vec<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(read, vec!["ok-1", "ok-2"]);
    assert_eq!(ctx.skipped_records(), 1);
    let dir = tempfile::tempdir().unwrap();
    assert!(run_once(1, dir.path(), receiver(&id, &[&topic])).is_empty());
    close_session(&id);

    // JSON, failing the job with the user's error naming the topic.
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Reading {
        n: u32,
    }
    let id = unique("fail");
    let topic = unique("t");
    open_session(&id, &[&topic]);
    publish(&topic, &[br#"{"n":1}"#.to_vec(), b"{".to_vec()]);
    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    ctx.receiver_stream(
        receiver(&id, &[&topic])
            .bad_records(BadRecordPolicy::Fail)
            .json_payloads::<Reading>(),
    )
    .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&topic), "{err}");
    assert!(err.to_string().contains("JSON"), "{err}");
    // The bad message was not acknowledged: the broker still holds it.
    let dir = tempfile::tempdir().unwrap();
    let left = run_once(1, dir.path(), receiver(&id, &[&topic]).byte_payloads());
    assert_eq!(left, vec![b"{".to_vec()]);
    close_session(&id);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let r = || MqttSource::receiver(BROKER, "app", ["a/+/c"]);
    let cases: Vec<(MqttReceiver, &str)> = vec![
        (
            r().block_size(0),
            "block_size must be between 1 and 1000000",
        ),
        (
            r().block_size(1_000_001),
            "block_size must be between 1 and 1000000",
        ),
        (
            r().block_max_wait(Duration::ZERO),
            "block_max_wait must be between",
        ),
        (
            r().block_max_wait(Duration::from_secs(61)),
            "block_max_wait must be between",
        ),
        (
            r().max_inflight(0),
            "max_inflight must be between 1 and 65535",
        ),
        (
            r().poll_timeout(Duration::ZERO),
            "poll_timeout must be between",
        ),
        (
            r().drain_timeout(Duration::from_millis(1)),
            "drain_timeout must be between",
        ),
        (
            r().keep_alive(Duration::from_secs(1)),
            "keep_alive must be between",
        ),
        (
            r().connect_timeout(Duration::from_millis(10)),
            "connect_timeout must be between",
        ),
        (r().max_packet_size(10), "max_packet_size must be between"),
        (
            MqttSource::receiver(BROKER, "", ["t"]),
            "client_id is empty",
        ),
        (
            MqttSource::receiver(BROKER, "x".repeat(65_536), ["t"]),
            "client_id must be at most 65535 bytes",
        ),
        (
            MqttSource::receiver(BROKER, "app", Vec::<String>::new()),
            "no topic filter",
        ),
        (
            MqttSource::receiver(BROKER, "app", [""]),
            "topic filter `` is not a valid filter",
        ),
        (
            MqttSource::receiver(BROKER, "app", ["a/#/c"]),
            "topic filter `a/#/c` is not a valid filter",
        ),
        (
            MqttSource::receiver(BROKER, "app", ["a/b+"]),
            "topic filter `a/b+` is not a valid filter",
        ),
        (
            MqttSource::receiver("localhost", "app", ["t"]),
            "broker must be `host:port`",
        ),
    ];
    for (mut receiver, expected) in cases {
        let err = receiver.on_start().unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User, "{err}");
        assert!(
            err.to_string().contains(expected),
            "`{err}` lacks `{expected}`"
        );
    }
    // And through a context: `start()` fails.
    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    ctx.receiver_stream(r().max_inflight(0)).collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("max_inflight"), "{err}");
}

#[test]
fn a_closed_port_is_retryable_and_a_running_broker_answers() {
    let err = MqttSource::receiver(closed_port(), "app", ["t"])
        .check_connection()
        .unwrap_err();
    check_retryable(&err).unwrap();
    assert!(err.to_string().contains("mqtt"), "{err}");
    let id = unique("check");
    MqttSource::receiver(BROKER, &id, ["t"])
        .check_connection()
        .expect("mosquitto answers at 127.0.0.1:1883");
    close_session(&id);
}

#[derive(Default)]
struct Errors(Mutex<Vec<String>>);

impl StreamingListener for Errors {
    fn on_receiver_event(&self, _receiver: &str, event: &freshet::ReceiverEvent) {
        if let freshet::ReceiverEvent::Error(e) = event {
            self.0.lock().unwrap().push(e.clone());
        }
    }
}

#[test]
fn a_broker_that_is_down_restarts_the_receiver_with_back_off() {
    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    let errors = Arc::new(Errors::default());
    ctx.add_listener(errors.clone());
    ctx.receiver_stream_with(
        MqttSource::receiver(closed_port(), unique("down"), ["t"]),
        ReceiverOptions::new().backoff(freshet::source::Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        }),
    )
    .collect_batches();
    ctx.start().unwrap();
    // A restart after each failure (a user error would fail the job after the first).
    let deadline = Instant::now() + DELIVERY;
    while errors.0.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the receiver was not restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    ctx.stop(false).unwrap();
    let errors = errors.0.lock().unwrap();
    assert!(errors[0].contains("mqtt"), "{errors:?}");
}
