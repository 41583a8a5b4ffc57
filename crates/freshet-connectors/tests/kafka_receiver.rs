//! The Kafka reliable receiver against librdkafka's mock cluster: every record exactly once in
//! a run (one and two workers), offsets committed to the group only after their block is
//! stored, a second run of the same group continuing from the committed offsets, and the
//! settings refused by name.
#![cfg(feature = "kafka")]

use freshet::source::{BadRecordPolicy, Receiver, ReceiverOptions};
use freshet::{BatchTime, Clock, ErrorDomain, ManualClock, StreamingConfig, StreamingContext};
use freshet_connectors::kafka::{KafkaReceiver, KafkaSource, Utf8};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const I: u64 = 50;

type Cluster = MockCluster<'static, DefaultProducerContext>;

fn cluster(topic: &str, partitions: i32) -> Cluster {
    let c = MockCluster::new(1).expect("start librdkafka's mock cluster");
    c.create_topic(topic, partitions, 1)
        .expect("create the topic");
    c
}

/// Produces `values` to `topic`/`partition` and waits until the broker has them.
fn produce(brokers: &str, topic: &str, partition: i32, values: &[String]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "0")
        .create()
        .expect("a producer");
    for v in values {
        p.send(
            BaseRecord::<(), [u8]>::to(topic)
                .partition(partition)
                .payload(v.as_bytes()),
        )
        .expect("queue a record");
    }
    p.flush(Duration::from_secs(10)).expect("records delivered");
}

fn values(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn receiver(brokers: &str, group: &str, topic: &str) -> KafkaReceiver<Utf8> {
    KafkaSource::receiver(brokers, group, [topic])
        .block_size(7)
        .block_max_wait(Duration::from_millis(20))
        .poll_timeout(Duration::from_millis(20))
        .set("session.timeout.ms", "6000")
        .utf8_values()
}

/// The offsets `group` committed for `topic`'s partitions `0..partitions` (-1: none).
fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let watcher: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("a consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = watcher
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("the group's committed offsets");
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

/// An available-now run of the receiver with a checkpoint directory (so the write-ahead log):
/// every record it stored.
fn run_once(workers: usize, dir: &Path, receiver: KafkaReceiver<Utf8>) -> Vec<String> {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(I))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )
    .unwrap();
    ctx.checkpoint(dir).unwrap();
    let out = ctx.receiver_stream(receiver).uid("kafka").collect_batches();
    ctx.run_available_now().unwrap();
    out.batches().into_iter().flat_map(|(_, b)| b).collect()
}

fn every_record_once_and_the_next_run_continues(workers: usize) {
    let c = cluster("events", 3);
    let brokers = c.bootstrap_servers();
    let group = format!("app-{workers}");
    let mut produced = Vec::new();
    for p in 0..3 {
        let vs = values(&format!("first-p{p}"), 0..(10 + 4 * p as usize));
        produce(&brokers, "events", p, &vs);
        produced.extend(vs);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut read = run_once(workers, dir.path(), receiver(&brokers, &group, "events"));
    read.sort();
    produced.sort();
    assert_eq!(read, produced, "every record exactly once");
    // Everything stored was committed, next offset per partition.
    assert_eq!(committed(&brokers, &group, "events", 3), vec![10, 14, 18]);

    // A second run of the group (a new checkpoint directory) reads only what came since.
    let mut second = Vec::new();
    for p in 0..3 {
        let vs = values(&format!("second-p{p}"), 0..5);
        produce(&brokers, "events", p, &vs);
        second.extend(vs);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut read = run_once(workers, dir.path(), receiver(&brokers, &group, "events"));
    read.sort();
    second.sort();
    assert_eq!(read, second, "no record twice, none lost");
    assert_eq!(committed(&brokers, &group, "events", 3), vec![15, 19, 23]);

    // Another group starts from the earliest offsets.
    let dir = tempfile::tempdir().unwrap();
    let read = run_once(workers, dir.path(), receiver(&brokers, "other", "events"));
    assert_eq!(read.len(), produced.len() + second.len());
}

#[test]
fn with_one_worker_every_record_arrives_once_and_a_second_run_continues() {
    every_record_once_and_the_next_run_continues(1);
}

#[test]
fn with_two_workers_every_record_arrives_once_and_a_second_run_continues() {
    every_record_once_and_the_next_run_continues(2);
}

/// Waits until the group's committed offset of partition 0 is `expected`.
fn await_committed(brokers: &str, group: &str, topic: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = committed(brokers, group, topic, 1)[0];
        if now == expected {
            return;
        }
        assert!(now < expected, "committed {now}, past {expected}");
        assert!(
            Instant::now() < deadline,
            "the group did not commit {expected} (at {now})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn offsets_are_committed_only_after_their_block_is_stored() {
    let c = cluster("orders", 1);
    let brokers = c.bootstrap_servers();
    produce(&brokers, "orders", 0, &values("o", 0..20));
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(
        StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false),
        Arc::new(clock.clone()),
    )
    .unwrap();
    ctx.checkpoint(dir.path()).unwrap();
    // A buffer of 5 records and blocks of 5: one block is stored, the next waits for a batch.
    let out = ctx
        .receiver_stream_with(
            KafkaSource::receiver(&brokers, "slow", ["orders"])
                .block_size(5)
                .block_max_wait(Duration::from_secs(60))
                .set("session.timeout.ms", "6000")
                .utf8_values(),
            ReceiverOptions::new().capacity(5),
        )
        .collect_batches();
    ctx.start().unwrap();
    await_committed(&brokers, "slow", "orders", 5);
    // The receiver has polled more, but the second block is not stored: not committed.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(committed(&brokers, "slow", "orders", 1), vec![5]);
    }
    clock.advance(Duration::from_millis(I));
    ctx.await_batch(clock.now(), Duration::from_secs(30))
        .unwrap();
    assert_eq!(out.batch(BatchTime(I)).unwrap(), values("o", 0..5));
    await_committed(&brokers, "slow", "orders", 10);
    ctx.stop(false).unwrap();
}

#[test]
fn values_that_do_not_decode_follow_the_bad_record_policy() {
    let c = cluster("mixed", 1);
    let brokers = c.bootstrap_servers();
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    p.send(BaseRecord::<(), [u8]>::to("mixed").payload(b"ok-1"))
        .unwrap();
    p.send(BaseRecord::<(), [u8]>::to("mixed").payload(b"\xff"))
        .unwrap();
    p.send(BaseRecord::<(), [u8]>::to("mixed").payload(b"ok-2"))
        .unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let read = run_once(1, dir.path(), receiver(&brokers, "skip", "mixed"));
    assert_eq!(read, vec!["ok-1", "ok-2"]);
    assert_eq!(committed(&brokers, "skip", "mixed", 1), vec![3]);

    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    ctx.receiver_stream(receiver(&brokers, "fail", "mixed").bad_records(BadRecordPolicy::Fail))
        .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains("mixed/0 offset 1"), "{err}");
}

#[test]
fn a_missing_topic_is_the_users_error() {
    let c = cluster("present", 1);
    let brokers = c.bootstrap_servers();
    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    ctx.receiver_stream(receiver(&brokers, "g", "absent"))
        .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains("absent"), "{err}");
}

#[test]
fn bad_settings_are_refused_by_name() {
    let b = "localhost:9092";
    let r = || KafkaSource::receiver(b, "g", ["t"]);
    let cases: Vec<(KafkaReceiver, &str)> = vec![
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
            r().poll_timeout(Duration::ZERO),
            "poll_timeout must be between",
        ),
        (
            r().request_timeout(Duration::from_millis(10)),
            "request_timeout must be between",
        ),
        (
            r().set("enable.auto.commit", "true"),
            "`enable.auto.commit`",
        ),
        (
            r().set("enable.auto.offset.store", "true"),
            "`enable.auto.offset.store`",
        ),
        (r().set("group.id", "other"), "`group.id`"),
        (
            r().set("auto.offset.reset", "error"),
            "auto.offset.reset must be",
        ),
        (r().set("no.such.property", "1"), "no.such.property"),
        (
            KafkaSource::receiver(b, " ", ["t"]),
            "the consumer group is empty",
        ),
        (
            KafkaSource::receiver(b, "g", ["bad topic"]),
            "is not a topic name",
        ),
        (
            KafkaSource::receiver(b, "g", Vec::<String>::new()),
            "no topic",
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
    ctx.receiver_stream(r().block_size(0)).collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("block_size"), "{err}");
}

#[derive(Default)]
struct Errors(std::sync::Mutex<Vec<String>>);

impl freshet::StreamingListener for Errors {
    fn on_receiver_event(&self, _receiver: &str, event: &freshet::ReceiverEvent) {
        if let freshet::ReceiverEvent::Error(e) = event {
            self.0.lock().unwrap().push(e.clone());
        }
    }
}

#[test]
fn brokers_that_do_not_answer_restart_the_receiver_with_back_off() {
    let ctx =
        StreamingContext::new(StreamingConfig::new(Duration::from_millis(I)).stop_on_ctrl_c(false))
            .unwrap();
    let errors = Arc::new(Errors::default());
    ctx.add_listener(errors.clone());
    ctx.receiver_stream_with(
        KafkaSource::receiver(freshet::testing::laws::closed_port(), "g", ["t"])
            .request_timeout(Duration::from_millis(200)),
        ReceiverOptions::new().backoff(freshet::source::Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        }),
    )
    .collect_batches();
    ctx.start().unwrap();
    // A restart after each failure (a user error would fail the job after the first).
    let deadline = Instant::now() + Duration::from_secs(60);
    while errors.0.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the receiver was not restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    ctx.stop(false).unwrap();
    let errors = errors.0.lock().unwrap();
    assert!(errors[0].contains("kafka"), "{errors:?}");
}
