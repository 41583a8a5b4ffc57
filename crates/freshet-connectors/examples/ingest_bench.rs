//! Ingest throughput of the broker receivers: records per second a pipeline takes in from the
//! local RabbitMQ and Mosquitto, with 1 and 2 workers, next to what a plain client of the
//! same broker does.
//!
//! ```sh
//! cargo run --release -p freshet-connectors --example ingest_bench -- --messages 100000
//! ```
//!
//! - RabbitMQ: the queue is loaded with `--messages` messages of 100 bytes first; then an
//!   available-now run of `RabbitMqSource::receiver` (prefetch 2000, blocks of 1000) takes them
//!   all, storing each block and acknowledging it after. The baseline is the load itself
//!   (one publisher on one channel, without confirms).
//! - MQTT: Mosquitto keeps at most 1000 messages for a subscriber and drops the rest, so the
//!   pipeline runs while one publisher sends `--messages` / 5 messages with QoS 1, never more
//!   than 800 ahead of what the pipeline counted; the figure is the time from the first publish
//!   to the last message counted, next to the publisher alone (to a topic nobody reads).

use freshet::{StreamingConfig, StreamingContext};
use freshet_connectors::mqtt::MqttSource;
use freshet_connectors::rabbitmq::RabbitMqSource;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn parse_messages() -> Result<u64, String> {
    let mut messages = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--messages" => {
                messages = value.parse().ok().filter(|n| *n >= 1000).ok_or(format!(
                    "--messages needs a number of at least 1000, not {value}"
                ))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(messages)
}

fn payload(i: u64) -> Vec<u8> {
    let mut v = format!("{i:012} ").into_bytes();
    v.resize(100, b'x');
    v
}

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

fn rabbitmq(n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let queue = format!("freshet-ingest-bench-{}", std::process::id());
    let load = load_queue(&rt, &queue, n)?;
    println!(
        "rabbitmq  publisher (no confirms)   {:8.0} records/s",
        n as f64 / load
    );
    for workers in [1, 2] {
        load_queue(&rt, &queue, n)?;
        let ctx = StreamingContext::new(
            StreamingConfig::new(Duration::from_millis(200))
                .workers(workers)
                .stop_on_ctrl_c(false),
        )?;
        let counted = Arc::new(AtomicU64::new(0));
        let c = counted.clone();
        ctx.receiver_stream(
            RabbitMqSource::receiver(AMQP, &queue)
                .prefetch(2000)
                .block_size(1000)
                .byte_payloads(),
        )
        .count()
        .foreach_batch(move |_, n| {
            c.fetch_add(n.iter().sum::<u64>(), Ordering::Relaxed);
        });
        let started = Instant::now();
        ctx.run_available_now()?;
        let secs = started.elapsed().as_secs_f64();
        let got = counted.load(Ordering::Relaxed);
        println!(
            "rabbitmq  receiver, {workers} worker{}       {:8.0} records/s ({got} records)",
            if workers == 1 { " " } else { "s" },
            got as f64 / secs
        );
    }
    rt.block_on(async {
        let conn = Connection::connect(AMQP, ConnectionProperties::default()).await?;
        let ch = conn.create_channel().await?;
        ch.queue_delete(&queue, QueueDeleteOptions::default())
            .await?;
        Ok::<(), lapin::Error>(())
    })?;
    Ok(())
}

/// Messages a publisher may have sent ahead of what the pipeline counted: below Mosquitto's
/// limit of 1000 queued messages per subscriber, beyond which it drops them.
const AHEAD: u64 = 800;

/// Publishes `n` QoS 1 messages to `topic`, keeping the broker's window of 20 full and, with
/// `counted`, at most [`AHEAD`] messages ahead of it; returns the seconds until the last
/// acknowledgement.
fn publish_mqtt(topic: &str, n: u64, counted: Option<Arc<AtomicU64>>) -> f64 {
    let mut options = MqttOptions::new(
        format!("ingest-bench-pub-{}", std::process::id()),
        "127.0.0.1",
        1883,
    );
    options.set_clean_session(true).set_inflight(20);
    let (client, mut connection) = Client::new(options, 100);
    let started = Instant::now();
    let topic = topic.to_string();
    let sender = std::thread::spawn(move || {
        for i in 0..n {
            if let Some(c) = &counted {
                while i.saturating_sub(c.load(Ordering::Relaxed)) >= AHEAD {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            if client
                .publish(topic.as_str(), QoS::AtLeastOnce, false, payload(i))
                .is_err()
            {
                break;
            }
        }
        client
    });
    let mut acked = 0;
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == n {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("publishing: {e}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if let Ok(client) = sender.join() {
        let _ = client.disconnect();
    }
    secs
}

fn mqtt(n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let topic = format!("freshet-ingest-bench-{}", std::process::id());
    let alone = publish_mqtt(&format!("{topic}-alone"), n, None);
    println!(
        "mqtt      publisher (QoS 1)         {:8.0} records/s",
        n as f64 / alone
    );
    for workers in [1, 2] {
        let ctx = StreamingContext::new(
            StreamingConfig::new(Duration::from_millis(200))
                .workers(workers)
                .stop_on_ctrl_c(false),
        )?;
        let counted = Arc::new(AtomicU64::new(0));
        let c = counted.clone();
        let client_id = format!("ingest-bench-{}-{workers}", std::process::id());
        ctx.receiver_stream(
            MqttSource::receiver("127.0.0.1:1883", &client_id, [&topic]).byte_payloads(),
        )
        .count()
        .foreach_batch(move |_, n| {
            c.fetch_add(n.iter().sum::<u64>(), Ordering::Relaxed);
        });
        ctx.start()?;
        // The subscription is in place once the receiver has connected.
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        publish_mqtt(&topic, n, Some(counted.clone()));
        while counted.load(Ordering::Relaxed) < n && started.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let secs = started.elapsed().as_secs_f64();
        ctx.stop(false)?;
        println!(
            "mqtt      receiver, {workers} worker{}       {:8.0} records/s ({} records)",
            if workers == 1 { " " } else { "s" },
            counted.load(Ordering::Relaxed) as f64 / secs,
            counted.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = parse_messages()?;
    println!("{n} messages of 100 bytes (MQTT: {})", n / 5);
    rabbitmq(n)?;
    mqtt(n / 5)?;
    Ok(())
}
