//! Kafka throughput: records per second read by the direct stream and written by the sink,
//! next to librdkafka's own consumer and producer against the same broker.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example kafka_bench -- --records 1000000
//! ```
//!
//! The broker is librdkafka's mock cluster in this process (one broker, topics in memory).
//! Each figure is the best of `--runs` runs (default 3). The records are `--size`-byte values
//! (default 100) spread over `--partitions` partitions (default 4).
//!
//! - `librdkafka producer`: one producer sends every record, then waits for the deliveries.
//! - `librdkafka consumer`: one consumer reads every partition from the start.
//! - `direct stream, N workers`: an available-now run of `KafkaSource::direct(..).byte_values()`
//!   counting the records.
//! - `sink, N workers` (and `transactional`): an available-now run writing in-memory batches of
//!   the same values through `KafkaSink::values()`.

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::kafka::{KafkaSink, KafkaSource};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    records: u64,
    size: usize,
    partitions: i32,
    runs: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        records: 1_000_000,
        size: 100,
        partitions: 4,
        runs: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag} needs a positive number, not {value}");
        match flag.as_str() {
            "--records" => a.records = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "--size" => a.size = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "--partitions" => {
                a.partitions = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?
            }
            "--runs" => a.runs = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn value(i: u64, size: usize) -> Vec<u8> {
    let mut v = format!("{i:012} ").into_bytes();
    v.resize(size, b'x');
    v
}

/// Sends `records` values to `topic`, round robin over the partitions; returns the seconds.
fn produce(brokers: &str, topic: &str, a: &Args) -> f64 {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("a producer");
    let started = Instant::now();
    for i in 0..a.records {
        let v = value(i, a.size);
        let mut record = BaseRecord::<(), _>::to(topic)
            .partition((i % a.partitions as u64) as i32)
            .payload(&v);
        loop {
            match p.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    p.poll(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    p.flush(Duration::from_secs(300)).expect("delivered");
    started.elapsed().as_secs_f64()
}

/// Reads every record of `topic` with one consumer; returns the seconds.
fn consume(brokers: &str, topic: &str, a: &Args) -> f64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..a.partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .expect("a partition");
    }
    let started = Instant::now();
    c.assign(&list).expect("assigned");
    let mut n = 0;
    while n < a.records {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            m.expect("a record");
            n += 1;
        }
    }
    started.elapsed().as_secs_f64()
}

fn direct(brokers: &str, topic: &str, workers: usize, a: &Args) -> f64 {
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(500))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )
    .expect("a context");
    let counted = Arc::new(AtomicU64::new(0));
    let c = counted.clone();
    ctx.direct_stream(KafkaSource::direct(brokers, [topic]).byte_values())
        .uid("in")
        .count()
        .foreach_batch(move |_, n| {
            c.fetch_add(n.iter().sum::<u64>(), Ordering::Relaxed);
        });
    let started = Instant::now();
    ctx.run_available_now().expect("the run");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(counted.load(Ordering::Relaxed), a.records);
    secs
}

fn sink(brokers: &str, topic: &str, workers: usize, transactional: bool, a: &Args) -> f64 {
    let batches = 10u64;
    let per_batch = a.records / batches;
    let data: Vec<Vec<Vec<u8>>> = (0..batches)
        .map(|b| {
            (0..per_batch)
                .map(|i| value(b * per_batch + i, a.size))
                .collect()
        })
        .collect();
    let ctx = StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(500))
            .workers(workers)
            .stop_on_ctrl_c(false),
    )
    .expect("a context");
    let mut sink = KafkaSink::new(brokers, topic).values();
    if transactional {
        sink = sink.transactional_id("bench");
    }
    ctx.queue_stream(data).sink(sink).uid("out");
    let started = Instant::now();
    ctx.run_available_now().expect("the run");
    started.elapsed().as_secs_f64()
}

fn best(runs: usize, mut f: impl FnMut(usize) -> f64) -> f64 {
    (0..runs).map(&mut f).fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args()?;
    let cluster = MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    let rate = |secs: f64| a.records as f64 / secs / 1e6;
    println!(
        "{} records of {} bytes, {} partitions, best of {} runs (M records/s)",
        a.records, a.size, a.partitions, a.runs
    );

    let produced = best(a.runs, |run| {
        let topic = format!("produced-{run}");
        cluster.create_topic(&topic, a.partitions, 1).unwrap();
        produce(&brokers, &topic, &a)
    });
    println!("librdkafka producer        {:6.2}", rate(produced));
    // The topic every reader reads.
    cluster.create_topic("input", a.partitions, 1)?;
    produce(&brokers, "input", &a);
    let consumed = best(a.runs, |_| consume(&brokers, "input", &a));
    println!("librdkafka consumer        {:6.2}", rate(consumed));
    for workers in [1, 2] {
        let secs = best(a.runs, |_| direct(&brokers, "input", workers, &a));
        println!(
            "direct stream, {workers} worker{}   {:6.2}  ({:.2}x the consumer)",
            if workers == 1 { " " } else { "s" },
            rate(secs),
            consumed / secs
        );
    }
    for (transactional, label) in [(false, "sink"), (true, "sink, transactional")] {
        for workers in [1, 2] {
            let secs = best(a.runs, |run| {
                let topic = format!("out-{label}-{workers}-{run}").replace([' ', ','], "");
                cluster.create_topic(&topic, a.partitions, 1).unwrap();
                sink(&brokers, &topic, workers, transactional, &a)
            });
            println!(
                "{label}, {workers} worker{} {:6.2}  ({:.2}x the producer)",
                if workers == 1 { " " } else { "s" },
                rate(secs),
                produced / secs
            );
        }
    }
    Ok(())
}
