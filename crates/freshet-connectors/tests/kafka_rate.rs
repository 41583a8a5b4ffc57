//! Rate control of the Kafka direct stream against librdkafka's mock cluster: a maximum rate
//! spreads each batch's records over the partitions by their lag, and backpressure lowers the
//! rate when the pipeline processes slower than it admits.
#![cfg(feature = "kafka")]

use freshet::rate::Backpressure;
use freshet::source::DirectOptions;
use freshet::testing::BatchStepper;
use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::kafka::KafkaSource;
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::time::Duration;

fn produce(brokers: &str, topic: &str, per_partition: &[usize]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (partition, n) in per_partition.iter().enumerate() {
        for i in 0..*n {
            let v = format!("p{partition}-{i}");
            p.send(
                BaseRecord::<(), _>::to(topic)
                    .partition(partition as i32)
                    .payload(&v),
            )
            .unwrap();
        }
    }
    p.flush(Duration::from_secs(10)).unwrap();
}

fn rate_limit(ctx: &StreamingContext) -> Option<f64> {
    ctx.sources_status()[0].rate_limit
}

#[test]
fn a_maximum_rate_cuts_each_batch_and_spreads_it_over_the_partitions_by_lag() {
    let c = MockCluster::new(1).unwrap();
    c.create_topic("busy", 3, 1).unwrap();
    let brokers = c.bootstrap_servers();
    produce(&brokers, "busy", &[30, 20, 10]);
    let mut stepper =
        BatchStepper::new(StreamingConfig::new(Duration::from_millis(100)).workers(2)).unwrap();
    let out = stepper
        .context()
        .direct_stream_with(
            KafkaSource::direct(&brokers, ["busy"]).utf8_values(),
            DirectOptions::new().max_rate(200.0), // 20 records per 100 ms batch
        )
        .collect_batches();
    stepper.start().unwrap();
    stepper.steps(4).unwrap();
    let ctx = stepper.context().clone();
    assert_eq!(rate_limit(&ctx), Some(200.0));
    stepper.stop().unwrap();
    let batches = out.batches();
    let sizes: Vec<usize> = batches.iter().map(|(_, b)| b.len()).collect();
    assert_eq!(sizes, [20, 20, 20, 0]);
    // The first batch takes from each partition in proportion to its lag: 10, 7, 3.
    let from = |p: &str| batches[0].1.iter().filter(|v| v.starts_with(p)).count();
    assert_eq!((from("p0"), from("p1"), from("p2")), (10, 7, 3));

    let ctx = StreamingContext::new(StreamingConfig::new(Duration::from_millis(100))).unwrap();
    ctx.direct_stream_with(
        KafkaSource::direct(&brokers, ["busy"]),
        DirectOptions::new().max_rate(0.5),
    )
    .collect_batches();
    let e = ctx.start().unwrap_err();
    assert!(e.to_string().contains("max_rate"), "{e}");
}

#[test]
fn backpressure_lowers_the_rate_when_processing_falls_behind() {
    let c = MockCluster::new(1).unwrap();
    c.create_topic("backlog", 2, 1).unwrap();
    let brokers = c.bootstrap_servers();
    produce(&brokers, "backlog", &[2000, 2000]);
    let config = StreamingConfig::new(Duration::from_millis(100))
        .backpressure(Backpressure::on().initial_rate(1000.0).min_rate(10.0));
    let mut stepper = BatchStepper::new(config).unwrap();
    let out = stepper
        .context()
        .direct_stream(KafkaSource::direct(&brokers, ["backlog"]).utf8_values())
        .map(|v: String| {
            // A slow output: 2 ms a record, at most 500 records a second.
            std::thread::sleep(Duration::from_millis(2));
            v
        })
        .collect_batches();
    stepper.start().unwrap();
    let ctx = stepper.context().clone();
    assert_eq!(rate_limit(&ctx), Some(1000.0), "the initial rate");
    stepper.steps(6).unwrap();
    let limit = rate_limit(&ctx).unwrap();
    stepper.stop().unwrap();
    let sizes: Vec<usize> = out.batches().iter().map(|(_, b)| b.len()).collect();
    assert_eq!(sizes[0], 100, "{sizes:?}");
    assert!(limit < 600.0, "the limit stayed at {limit} ({sizes:?})");
    assert!(
        *sizes.last().unwrap() < 60,
        "the batches did not shrink: {sizes:?} (limit {limit})"
    );
}
