//! Kafka throughput: records per second read by the direct stream and written by the sink,
//! next to librdkafka's own consumer and producer against the same broker.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example kafka_bench -- --records 200000 --partitions 8
//! ```
//!
//! The broker is librdkafka's mock cluster in this process (one broker, topics in memory).
//! Each figure is the best of `--runs` runs (default 3). The records are `--size`-byte values
//! (default 100) spread over `--partitions` partitions (default 8; librdkafka's mock cluster keeps about 5 MB per partition, so larger runs need more partitions).
//!
//! - `librdkafka producer`: one producer (with librdkafka's delivery reports served by
//!   rdkafka's background thread) sends every record, then waits for the deliveries.
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
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    records: u64,
    size: usize,
    partitions: i32,
    runs: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        records: 200_000,
        size: 100,
        partitions: 8,
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
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
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
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    // The producer's thread serves the delivery reports; this only watches them arrive.
    while p.in_flight_count() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    started.elapsed().as_secs_f64()
}

/// Reads every record of `topic` with one consumer; returns the seconds.
fn consume(brokers: &str, topic: &str, a: &Args) -> f64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench")
        .set("fetch.wait.max.ms", "10")
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
    let mut idle = 0;
    while n < a.records {
        match c.poll(Duration::from_millis(100)) {
            Some(m) => {
                m.expect("a record");
                n += 1;
                idle = 0;
            }
            None => {
                idle += 1;
                assert!(idle < 100, "the consumer read {n} of {} records", a.records);
            }
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

/// CPU seconds (user + system) used so far by this process, and by the mock cluster's thread.
fn cpu_seconds() -> (f64, f64) {
    let ticks = |stat: &str| -> f64 {
        // Fields after the command name (which is in parentheses): utime and stime are the
        // 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (t(11) + t(12)) / 100.0
    };
    let total = std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| ticks(&s));
    let mut broker = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            if stat.contains("(rdk:mock)") {
                broker += ticks(&stat);
            }
        }
    }
    (total, broker)
}

/// The best of `runs` runs of `f` (seconds), with the CPU seconds the broker's thread and
/// the rest of the process used in that run.
fn best(runs: usize, mut f: impl FnMut(usize) -> f64) -> (f64, f64, f64) {
    let mut best = (f64::INFINITY, 0.0, 0.0);
    for run in 0..runs {
        let (total0, broker0) = cpu_seconds();
        let secs = f(run);
        let (total1, broker1) = cpu_seconds();
        if secs < best.0 {
            let broker = broker1 - broker0;
            best = (secs, broker, (total1 - total0) - broker);
        }
    }
    best
}

/// The share of a run's wall time the broker's thread and everything else kept a core busy.
fn busy((secs, broker, rest): (f64, f64, f64)) -> String {
    format!(
        "broker thread busy {:3.0}%, clients and engine {:3.0}% of a core",
        100.0 * broker / secs,
        100.0 * rest / secs
    )
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
    println!(
        "librdkafka producer            {:6.3}  {}",
        rate(produced.0),
        busy(produced)
    );
    // The topic every reader reads.
    cluster.create_topic("input", a.partitions, 1)?;
    produce(&brokers, "input", &a);
    let consumed = best(a.runs, |_| consume(&brokers, "input", &a));
    println!(
        "librdkafka consumer            {:6.3}  {}",
        rate(consumed.0),
        busy(consumed)
    );
    for workers in [1, 2] {
        let r = best(a.runs, |_| direct(&brokers, "input", workers, &a));
        println!(
            "direct stream, {workers} worker{}       {:6.3}  {}  ({:.2}x the consumer)",
            if workers == 1 { " " } else { "s" },
            rate(r.0),
            busy(r),
            consumed.0 / r.0
        );
    }
    for (transactional, label) in [(false, "sink"), (true, "transactional sink")] {
        for workers in [1, 2] {
            let r = best(a.runs, |run| {
                let topic = format!("out-{transactional}-{workers}-{run}");
                cluster.create_topic(&topic, a.partitions, 1).unwrap();
                sink(&brokers, &topic, workers, transactional, &a)
            });
            println!(
                "{label:18}, {workers} worker{} {:6.3}  {}  ({:.2}x the producer)",
                if workers == 1 { " " } else { "s" },
                rate(r.0),
                busy(r),
                produced.0 / r.0
            );
        }
    }
    Ok(())
}
