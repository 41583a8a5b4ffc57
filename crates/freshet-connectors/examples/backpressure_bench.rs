//! The rate curve of backpressure: a Kafka direct stream on a backlog feeds a pipeline that
//! processes slower than it could read, and each batch prints what was admitted, how long it
//! took, how late it started, and the limit backpressure set for the next batches.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example backpressure_bench -- --seconds 6
//! ```
//!
//! The broker is librdkafka's mock cluster in this process, loaded with `--records` (default
//! 400,000) records before the job starts. The pipeline spends `--work-us` (default 20)
//! microseconds of CPU on each record, so one worker processes at most about 50,000 records
//! per second; batches are 100 ms, and backpressure starts at `--initial-rate` (default
//! 200,000 records/s, four times too many). Without backpressure the batches would take
//! 400 ms each and the scheduling delay would grow by 300 ms a batch; with it, the limit falls
//! to what the pipeline keeps up with and the delay stops growing.

use freshet::rate::Backpressure;
use freshet::{BatchInfo, StreamingConfig, StreamingContext, StreamingListener};
use freshet_connectors::kafka::KafkaSource;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    records: u64,
    seconds: u64,
    work_us: u64,
    initial_rate: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        records: 400_000,
        seconds: 6,
        work_us: 20,
        initial_rate: 200_000.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag} needs a positive number, not {value}");
        match flag.as_str() {
            "--records" => a.records = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "--seconds" => a.seconds = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            "--work-us" => a.work_us = value.parse().map_err(|_| bad())?,
            "--initial-rate" => {
                a.initial_rate = value.parse().ok().filter(|r| *r >= 1.0).ok_or_else(bad)?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Loads `n` records of 100 bytes into `topic`, round robin over its partitions.
fn load(brokers: &str, topic: &str, partitions: i32, n: u64) {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a producer");
    let value = vec![b'x'; 100];
    for i in 0..n {
        let mut record = BaseRecord::<(), _>::to(topic)
            .partition((i % partitions as u64) as i32)
            .payload(&value);
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
    while p.in_flight_count() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spends `us` microseconds of CPU.
fn work(us: u64) {
    let until = Instant::now() + Duration::from_micros(us);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Prints a line per completed batch.
struct Curve {
    ctx: Mutex<Option<StreamingContext>>,
    started: Instant,
}

impl StreamingListener for Curve {
    fn on_batch_completed(&self, info: &BatchInfo) {
        let limit = self
            .ctx
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.sources_status()))
            .and_then(|s| s.first().and_then(|s| s.rate_limit));
        println!(
            "{:7.2} s  {:7}  {:8}  {:8}  {}",
            self.started.elapsed().as_secs_f64(),
            info.records,
            info.processing_time.as_millis(),
            info.scheduling_delay.as_millis(),
            limit.map_or("-".to_string(), |l| format!("{l:.0}"))
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args()?;
    let cluster = MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    // Many partitions: the mock cluster keeps about 5 MB per partition.
    let partitions = 1 + (a.records * 100 / 4_000_000) as i32;
    cluster.create_topic("backlog", partitions, 1)?;
    load(&brokers, "backlog", partitions, a.records);

    let config = StreamingConfig::new(Duration::from_millis(100))
        .stop_on_ctrl_c(false)
        .backpressure(Backpressure::on().initial_rate(a.initial_rate));
    let ctx = StreamingContext::new(config)?;
    let work_us = a.work_us;
    ctx.direct_stream(KafkaSource::direct(&brokers, ["backlog"]).byte_values())
        .uid("backlog")
        .map(move |v: Vec<u8>| {
            work(work_us);
            v.len()
        })
        .count()
        .foreach_batch(|_, _| {});
    let curve = Arc::new(Curve {
        ctx: Mutex::new(Some(ctx.clone())),
        started: Instant::now(),
    });
    ctx.add_listener(curve.clone());
    println!(
        "{} records waiting; {} µs of work a record; initial rate {} records/s",
        a.records, a.work_us, a.initial_rate
    );
    println!("   time   records  proc ms  delay ms  limit (records/s)");
    ctx.start()?;
    std::thread::sleep(Duration::from_secs(a.seconds));
    ctx.stop(false)?;
    curve.ctx.lock().map(|mut c| c.take()).ok();
    Ok(())
}
