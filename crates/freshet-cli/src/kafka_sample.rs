//! The first records of a Kafka topic, read once at start to infer the columns of its JSON
//! values for `freshet sql`.

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// How long sampling waits for records before it takes what it has.
const SAMPLE_WAIT: Duration = Duration::from_secs(10);

/// Up to `n` values (as UTF-8 text) of the oldest records of `topic` on `brokers`, from every
/// partition; an error when the topic is unknown or holds no record.
pub fn sample_values(brokers: &str, topic: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "freshet-sql-schema")
        .set("enable.auto.commit", "false")
        .create()
        .with_context(|| format!("cannot reach Kafka at {brokers}"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), SAMPLE_WAIT)
        .with_context(|| format!("cannot read the metadata of {topic} at {brokers}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        bail!("the topic {topic} does not exist at {brokers}");
    }
    let mut ends = Vec::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, SAMPLE_WAIT)
            .with_context(|| format!("cannot read the offsets of {topic}/{p}"))?;
        if high > low {
            ends.push((p, high));
            assignment.add_partition_offset(topic, p, Offset::Offset(low))?;
        }
    }
    if ends.is_empty() {
        bail!("the topic {topic} holds no record to infer its columns from");
    }
    consumer.assign(&assignment)?;
    let mut values = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    let deadline = Instant::now() + SAMPLE_WAIT;
    while values.len() < n && done.len() < ends.len() && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.with_context(|| format!("reading {topic}"))?;
        let end = ends
            .iter()
            .find(|(p, _)| *p == message.partition())
            .map_or(0, |(_, h)| *h);
        if message.offset() + 1 >= end {
            done.insert(message.partition());
        }
        if let Some(Ok(text)) = message.payload_view::<str>() {
            values.push(text.to_string());
        }
    }
    if values.is_empty() {
        bail!("no record of {topic} could be read within {SAMPLE_WAIT:?}");
    }
    Ok(values)
}
