//! The Kafka direct stream's lag, in total and per partition, against librdkafka's mock
//! cluster: what the sources' status shows after a batch that took part of a backlog.
#![cfg(feature = "kafka")]

use freshet::testing::BatchStepper;
use freshet::StreamingConfig;
use freshet_connectors::kafka::KafkaSource;
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use std::time::Duration;

/// Produces `n` records to `topic`/`partition` and waits until the broker has them.
fn produce(brokers: &str, topic: &str, partition: i32, n: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "0")
        .create()
        .expect("a producer");
    for i in 0..n {
        let v = format!("p{partition}-{i}");
        p.send(
            BaseRecord::to(topic)
                .partition(partition)
                .key(v.as_bytes())
                .payload(v.as_bytes()),
        )
        .expect("queue a record");
    }
    p.flush(Duration::from_secs(10)).expect("records delivered");
}

#[test]
fn the_sources_status_shows_the_lag_of_every_partition() {
    let c: MockCluster<'static, DefaultProducerContext> =
        MockCluster::new(1).expect("start librdkafka's mock cluster");
    c.create_topic("t", 2, 1).expect("create the topic");
    let brokers = c.bootstrap_servers();
    produce(&brokers, "t", 0, 10);
    produce(&brokers, "t", 1, 4);

    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(100)).workers(2)).unwrap();
    let out = stepper
        .context()
        .direct_stream(KafkaSource::direct(&brokers, ["t"]).max_records_per_partition_per_batch(3))
        .uid("t")
        .collect_batches();
    stepper.start().unwrap();
    stepper.step().unwrap();

    let sources = stepper.context().sources_status();
    assert_eq!(sources.len(), 1);
    let source = &sources[0];
    assert_eq!(source.records_total, 6);
    assert_eq!(source.lag, Some(8));
    let mut partitions = source.partition_lag.clone();
    partitions.sort();
    assert_eq!(
        partitions,
        vec![("t/0".to_string(), 7), ("t/1".to_string(), 1)]
    );
    stepper.stop().unwrap();
    assert_eq!(out.batches()[0].1.len(), 6);
}
