//! RabbitMQ: the queue is loaded first; then an available-now run of the receiver takes it all.

use crate::common::{config, count_into, payload, print_baseline, print_run, Row, WORKERS};
use freshet::StreamingContext;
use freshet_connectors::rabbitmq::RabbitMqSource;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Declares `queue` and loads `n` messages; returns the seconds the load took.
fn load_queue(rt: &tokio::runtime::Runtime, queue: &str, n: u64) -> Result<f64, lapin::Error> {
    rt.block_on(async {
        let conn = Connection::connect(AMQP, ConnectionProperties::default()).await?;
        let ch = conn.create_channel().await?;
        let _ = ch.queue_delete(queue, QueueDeleteOptions::default()).await;
        ch.queue_declare(queue, QueueDeclareOptions::default(), FieldTable::default())
            .await?;
        let started = Instant::now();
        for i in 0..n {
            let _confirm = ch
                .basic_publish(
                    "",
                    queue,
                    BasicPublishOptions::default(),
                    &payload(i),
                    BasicProperties::default(),
                )
                .await?;
        }
        // Wait until the broker holds them all.
        loop {
            let q = ch
                .queue_declare(
                    queue,
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            if u64::from(q.message_count()) >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        conn.close(0, "loaded").await?;
        Ok(secs)
    })
}

pub fn run(n: u64) -> Result<Row, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let queue = format!("freshet-ingest-bench-{}", std::process::id());
    let load = load_queue(&rt, &queue, n)?;
    let baseline = print_baseline("rabbitmq", "publisher (no confirms)", n, load);
    let mut freshet = [0.0; 2];
    for (slot, workers) in WORKERS.into_iter().enumerate() {
        load_queue(&rt, &queue, n)?;
        let ctx = StreamingContext::new(config(workers))?;
        let counted = count_into(
            ctx.receiver_stream(
                RabbitMqSource::receiver(AMQP, &queue)
                    .prefetch(2000)
                    .block_size(1000)
                    .byte_payloads(),
            ),
        );
        let started = Instant::now();
        ctx.run_available_now()?;
        let secs = started.elapsed().as_secs_f64();
        let got = counted.load(Ordering::Relaxed);
        freshet[slot] = print_run("rabbitmq", "receiver", workers, got, secs);
    }
    rt.block_on(async {
        let conn = Connection::connect(AMQP, ConnectionProperties::default()).await?;
        let ch = conn.create_channel().await?;
        ch.queue_delete(&queue, QueueDeleteOptions::default())
            .await?;
        Ok::<(), lapin::Error>(())
    })?;
    Ok(Row {
        system: "RabbitMQ",
        baseline,
        freshet,
    })
}
