//! The Kafka sink against librdkafka's mock cluster: every item delivered once with its key,
//! value and batch time, with and without transactions; replayed batches skipped after a
//! commit; a second writer under the same transactional id fences the first; and the errors
//! at the edges (bad settings, a missing topic, records the broker refuses, a closed port).
#![cfg(feature = "kafka")]

use freshet::sink::{Guarantee, Sink, SinkContext, SinkWriter};
use freshet::testing::laws::{check_retryable, closed_port};
use freshet::testing::BatchStepper;
use freshet::{BatchTime, ErrorDomain, SinkError, StreamingConfig};
use freshet_connectors::kafka::{KafkaMessage, KafkaSink};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, Timestamp};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const I: u64 = 100;

type Cluster = MockCluster<'static, DefaultProducerContext>;

fn cluster(topic: &str, partitions: i32) -> Cluster {
    let c = MockCluster::new(1).expect("start librdkafka's mock cluster");
    c.create_topic(topic, partitions, 1)
        .expect("create the topic");
    c
}

/// One record as a reader sees it: key, value, timestamp.
type Seen = (Option<String>, String, i64);

/// Reads every record of `topic` (all `partitions`) until `expected` have arrived or 20 s pass.
fn read_all(brokers: &str, topic: &str, partitions: i32, expected: usize) -> Vec<Seen> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "reader")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < expected && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let key = m.key().map(|k| String::from_utf8(k.to_vec()).unwrap());
            let value = String::from_utf8(m.payload().unwrap().to_vec()).unwrap();
            let Timestamp::CreateTime(ts) = m.timestamp() else {
                panic!("a record without its create time");
            };
            seen.push((key, value, ts));
        }
    }
    // Anything beyond what was expected is a duplicate.
    while let Some(m) = consumer.poll(Duration::from_millis(300)) {
        let m = m.unwrap();
        seen.push((None, format!("unexpected at offset {}", m.offset()), 0));
    }
    seen.sort();
    seen
}

/// Batches of `(word, n)`: batch `b` holds `b + 3` words.
fn batches() -> Vec<Vec<(Option<String>, u64)>> {
    (0..3u64)
        .map(|b| {
            (0..b + 3)
                .map(|i| (Some(format!("w{b}-{i}")), b * 100 + i))
                .collect()
        })
        .collect()
}

fn expected() -> Vec<Seen> {
    let mut all: Vec<Seen> = batches()
        .into_iter()
        .enumerate()
        .flat_map(|(b, items)| {
            items.into_iter().map(move |(k, v)| {
                let time = (b as i64 + 1) * I as i64;
                (k, v.to_string(), time)
            })
        })
        .collect();
    all.sort();
    all
}

fn run_pipeline(sink: KafkaSink, workers: usize) {
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(I)).workers(workers)).unwrap();
    stepper
        .context()
        .queue_stream(batches())
        .sink(sink)
        .uid("words");
    stepper.start().unwrap();
    stepper.steps(4).unwrap();
    stepper.stop().unwrap();
}

#[test]
fn every_item_is_delivered_once_with_its_key_value_and_batch_time() {
    let c = cluster("plain", 3);
    let brokers = c.bootstrap_servers();
    let sink = KafkaSink::new(&brokers, "plain");
    assert_eq!(
        <KafkaSink as Sink<(Option<String>, u64)>>::guarantee(&sink),
        Guarantee::AtLeastOnce
    );
    run_pipeline(sink, 2);
    let want = expected();
    assert_eq!(read_all(&brokers, "plain", 3, want.len()), want);
}

#[test]
fn a_transactional_sink_delivers_every_batch_in_a_transaction_per_worker() {
    let c = cluster("txn", 3);
    let brokers = c.bootstrap_servers();
    let sink = KafkaSink::new(&brokers, "txn").transactional_id("job");
    assert_eq!(
        <KafkaSink as Sink<(Option<String>, u64)>>::guarantee(&sink),
        Guarantee::ExactlyOnce
    );
    run_pipeline(sink, 2);
    let want = expected();
    assert_eq!(read_all(&brokers, "txn", 3, want.len()), want);
}

fn ctx(partition: usize) -> SinkContext {
    SinkContext {
        output_id: "out".into(),
        partition,
        partitions: 2,
    }
}

type Item = (Option<String>, u64);

#[test]
fn items_and_timestamps_can_be_encoded_by_hand() {
    let c = cluster("custom", 2);
    let brokers = c.bootstrap_servers();
    let sink = KafkaSink::new(&brokers, "custom").encode_with(
        |item: &(String, i64), m: &mut KafkaMessage| {
            m.key().extend_from_slice(item.0.as_bytes());
            m.value().extend_from_slice(b"v");
            m.set_partition(1);
            m.set_timestamp(item.1);
            Ok(())
        },
    );
    let mut w = sink.open(&ctx(0)).unwrap();
    w.write(BatchTime(5), &[("a".to_string(), 42)]).unwrap();
    w.commit(BatchTime(5)).unwrap();
    let seen = read_all(&brokers, "custom", 2, 1);
    assert_eq!(seen, vec![(Some("a".into()), "v".into(), 42)]);
}

fn refused(result: Result<impl Sized, SinkError>) -> SinkError {
    match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn bad_settings_and_missing_topics_are_the_users_and_a_closed_port_is_retried() {
    let c = cluster("edges", 1);
    let brokers = c.bootstrap_servers();
    let open = |sink: KafkaSink| refused(<KafkaSink as Sink<Item>>::open(&sink, &ctx(0)));
    let cases = [
        (KafkaSink::new("", "edges"), "broker list"),
        (KafkaSink::new(&brokers, ""), "topic"),
        (
            KafkaSink::new(&brokers, "edges").delivery_timeout(Duration::from_millis(10)),
            "delivery_timeout",
        ),
        (
            KafkaSink::new(&brokers, "edges").request_timeout(Duration::from_secs(3600)),
            "request_timeout",
        ),
        (
            KafkaSink::new(&brokers, "edges").transactional_id("has space"),
            "transactional_id",
        ),
        (
            KafkaSink::new(&brokers, "edges").set("transactional.id", "x"),
            "transactional.id",
        ),
        (
            KafkaSink::new(&brokers, "edges").set("linger.ms", "-5"),
            "linger.ms",
        ),
        (KafkaSink::new(&brokers, "no-such-topic"), "no-such-topic"),
    ];
    for (sink, named) in cases {
        let e = open(sink);
        assert_eq!(e.domain(), ErrorDomain::User, "{e}");
        assert!(e.to_string().contains(named), "{e} should name {named}");
    }
    // Nobody listens: the outside world's problem, retried.
    let e =
        open(KafkaSink::new(closed_port(), "edges").request_timeout(Duration::from_millis(500)));
    check_retryable(&e).unwrap();
}

#[test]
fn a_record_the_broker_refuses_fails_the_batch_naming_its_partition() {
    let c = cluster("small", 1);
    let brokers = c.bootstrap_servers();
    let sink = KafkaSink::new(&brokers, "small")
        .values()
        .set("message.max.bytes", "2000");
    let mut w = <_ as Sink<String>>::open(&sink, &ctx(0)).unwrap();
    let e = w.write(BatchTime(100), &["x".repeat(5000)]).unwrap_err();
    assert_eq!(e.domain(), ErrorDomain::User, "{e}");
    assert!(e.to_string().contains("small"), "{e}");
    // The writer goes on with the next batch.
    w.write(BatchTime(200), &["fits".to_string()]).unwrap();
    assert_eq!(read_all(&brokers, "small", 1, 1).len(), 1);
}

#[test]
fn a_batch_written_while_the_broker_is_down_fails_retryably_and_is_written_once_it_returns() {
    let c = cluster("down", 1);
    let brokers = c.bootstrap_servers();
    let sink = KafkaSink::new(&brokers, "down")
        .values()
        .delivery_timeout(Duration::from_secs(2));
    let mut w = <_ as Sink<String>>::open(&sink, &ctx(0)).unwrap();
    c.broker_down(1).unwrap();
    let e = w.write(BatchTime(100), &["lost?".to_string()]).unwrap_err();
    check_retryable(&e).unwrap();
    c.broker_up(1).unwrap();
    // The engine retries a retryable failure with back-off; so does this test.
    let mut attempts = 0;
    while let Err(e) = w.write(BatchTime(100), &["lost?".to_string()]) {
        check_retryable(&e).unwrap();
        attempts += 1;
        assert!(attempts < 10, "still failing: {e}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let seen: BTreeMap<String, usize> =
        read_all(&brokers, "down", 1, 1)
            .into_iter()
            .fold(BTreeMap::new(), |mut m, (_, v, _)| {
                *m.entry(v).or_default() += 1;
                m
            });
    assert!(seen.contains_key("lost?"), "{seen:?}");
}

#[test]
fn a_batch_at_or_before_the_last_committed_one_is_not_written_again() {
    let c = cluster("replays", 1);
    let brokers = c.bootstrap_servers();
    let sink = KafkaSink::new(&brokers, "replays").transactional_id("replay");
    let mut w: <KafkaSink as Sink<Item>>::Writer = sink.open(&ctx(0)).unwrap();
    w.write(BatchTime(200), &[(None, 1)]).unwrap();
    w.commit(BatchTime(200)).unwrap();
    // The engine writes a batch again when a later step of it failed: nothing is produced.
    w.write(BatchTime(200), &[(None, 1)]).unwrap();
    w.write(BatchTime(100), &[(None, 0)]).unwrap();
    w.write(BatchTime(300), &[(None, 2)]).unwrap();
    let values: Vec<String> = read_all(&brokers, "replays", 1, 2)
        .into_iter()
        .map(|(_, v, _)| v)
        .collect();
    assert_eq!(values, ["1", "2"]);
}
