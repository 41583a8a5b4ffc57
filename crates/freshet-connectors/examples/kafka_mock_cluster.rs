//! A Kafka cluster in one process, for trying the Kafka examples without a Kafka installation
//! and for the crash tests, which kill pipelines while it keeps the topics.
//!
//! ```sh
//! cargo run -p freshet-connectors --example kafka_mock_cluster -- --topic lines:3 --topic counts:3
//! ```
//!
//! It starts librdkafka's mock cluster (real Kafka protocol on loopback ports, topics kept in
//! memory), creates the topics (`name:partitions`), prints `bootstrap.servers=HOST:PORT,...`
//! and serves until its standard input closes or it is killed. The mock cluster accepts
//! transactions, but shows the records of aborted ones to `read_committed` readers too and
//! does not keep offsets committed within a transaction: use a real cluster to see a
//! transactional sink's exactly-once output.

use rdkafka::mocking::MockCluster;
use std::io::{BufRead, Write};

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn parse_topic(spec: &str) -> Result<(String, i32), String> {
    let (name, partitions) = spec
        .rsplit_once(':')
        .ok_or(format!("--topic takes NAME:PARTITIONS, not {spec}"))?;
    let partitions: i32 = partitions
        .parse()
        .ok()
        .filter(|p| (1..=1000).contains(p))
        .ok_or(format!(
            "the partitions of {name} must be 1 to 1000, not {partitions}"
        ))?;
    Ok((name.to_string(), partitions))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut topics = Vec::new();
    let mut brokers = 1;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--topic" => topics.push(parse_topic(&value)?),
            "--brokers" => {
                brokers = value
                    .parse()
                    .ok()
                    .filter(|b| (1..=10).contains(b))
                    .ok_or(format!("--brokers must be 1 to 10, not {value}"))?
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let cluster = MockCluster::new(brokers)?;
    for (name, partitions) in &topics {
        cluster.create_topic(name, *partitions, 1)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "bootstrap.servers={}", cluster.bootstrap_servers())?;
    out.flush()?;
    drop(out);
    // Serve until standard input closes.
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    Ok(())
}
