//! Rows per second into PostgreSQL: multi-row `INSERT` against `COPY`, with 1 and 2 workers
//! (each worker its own writer, connection and transaction per batch, as in a pipeline), in
//! append mode and in upsert mode.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --no-default-features --features postgres \
//!     --example postgres_bench -- \
//!     --connection "host=127.0.0.1 user=postgres dbname=test" --rows 400000 --batch 10000
//! ```
//!
//! Each run writes `--rows` rows of four columns (bigint, text, bigint, integer) in batches of
//! `--batch` rows per worker into a fresh table `freshet_bench`, and
//! prints the rows per second from the first write to the last commit. In upsert mode the
//! table's key is `id`, and each worker cycles over its own quarter of its rows' ids: the
//! first quarter of its rows inserts, the rest updates.

use freshet::sink::{Sink, SinkContext, SinkWriter};
use freshet::BatchTime;
use freshet_connectors::postgres::{PostgresSink, WriteMethod, WriteMode};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio_postgres::NoTls;

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    id: i64,
    page: String,
    user_id: i64,
    dwell_ms: i32,
}

fn event(id: u64) -> Event {
    Event {
        id: id as i64,
        page: format!("/product/{}", id % 97),
        user_id: (id.wrapping_mul(2_654_435_761) % 100_000) as i64,
        dwell_ms: (id % 5_000) as i32,
    }
}

fn reset(connection: &str, table: &str, upsert: bool) -> Result<(), Box<dyn std::error::Error>> {
    let key = if upsert { " PRIMARY KEY" } else { "" };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(connection, NoTls).await?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {table}; \
                 CREATE TABLE {table} (id bigint NOT NULL{key}, page text NOT NULL, \
                 user_id bigint NOT NULL, dwell_ms integer NOT NULL); \
                 DO $$ BEGIN IF to_regclass('freshet_sink_batches') IS NOT NULL THEN \
                 DELETE FROM freshet_sink_batches WHERE pipeline = 'bench'; END IF; END $$"
            ))
            .await?;
        Ok::<_, tokio_postgres::Error>(())
    })?;
    Ok(())
}

/// Writes `rows` rows with `workers` writers; returns rows per second.
fn run(
    connection: &str,
    mode: &WriteMode,
    method: WriteMethod,
    workers: usize,
    rows: u64,
    batch: u64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let table = "freshet_bench";
    let upsert = *mode != WriteMode::Append;
    reset(connection, table, upsert)?;
    let sink = PostgresSink::new(connection, table)
        .mode(mode.clone())
        .method(method)
        .pipeline("bench");
    let per_worker = rows / workers as u64;
    let keys = if upsert {
        (per_worker / 4).max(1)
    } else {
        u64::MAX
    };
    let started = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let sink = &sink;
                s.spawn(move || -> Result<(), freshet::SinkError> {
                    let ctx = SinkContext {
                        output_id: "bench".into(),
                        partition: w,
                        partitions: workers,
                    };
                    let mut writer = Sink::<Event>::open(sink, &ctx)?;
                    let first = w as u64 * per_worker;
                    let mut records = Vec::with_capacity(batch as usize);
                    let mut next = first;
                    let mut time = 1;
                    while next < first + per_worker {
                        records.clear();
                        let end = (next + batch).min(first + per_worker);
                        records.extend((next..end).map(|n| event(first + (n - first) % keys)));
                        writer.write(BatchTime(time), &records)?;
                        writer.commit(BatchTime(time))?;
                        next = end;
                        time += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(r) => r?,
                Err(_) => return Err(freshet::SinkError::internal("a writer thread panicked")),
            }
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    Ok((per_worker * workers as u64) as f64 / secs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut connection = "host=127.0.0.1 user=postgres dbname=test".to_string();
    let (mut rows, mut batch) = (400_000u64, 10_000u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--connection" => connection = value,
            "--rows" => rows = value.parse()?,
            "--batch" => batch = value.parse::<u64>()?.max(1),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    println!("{rows} rows of 4 columns, batches of {batch} rows per worker");
    println!(
        "{:<8} {:<8} {:>8} {:>12}",
        "mode", "method", "workers", "rows/s"
    );
    let upsert = WriteMode::Upsert {
        key: vec!["id".to_string()],
    };
    for (mode, name) in [(WriteMode::Append, "append"), (upsert, "upsert")] {
        for method in [WriteMethod::Insert, WriteMethod::Copy] {
            for workers in [1, 2] {
                let rate = run(&connection, &mode, method, workers, rows, batch)?;
                let method = format!("{method:?}").to_uppercase();
                println!("{name:<8} {method:<8} {workers:>8} {rate:>12.0}");
            }
        }
    }
    Ok(())
}
