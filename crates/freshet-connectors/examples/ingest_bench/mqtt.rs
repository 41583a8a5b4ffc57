//! MQTT: the pipeline runs while one QoS 1 publisher sends, never far ahead of what it counted.

use crate::common::{
    config, count_into, payload, print_baseline, print_run, wait_for, Row, WORKERS,
};
use freshet::StreamingContext;
use freshet_connectors::mqtt::MqttSource;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages a publisher may have sent ahead of what the pipeline counted: below Mosquitto's
/// limit of 1000 queued messages per subscriber, beyond which it drops them.
const AHEAD: u64 = 800;

/// Publishes `n` QoS 1 messages to `topic`, keeping the broker's window of 20 full and, with
/// `counted`, at most [`AHEAD`] messages ahead of it; returns the seconds until the last
/// acknowledgement.
fn publish(topic: &str, n: u64, counted: Option<Arc<AtomicU64>>) -> f64 {
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

pub fn run(n: u64) -> Result<Row, Box<dyn std::error::Error>> {
    let topic = format!("freshet-ingest-bench-{}", std::process::id());
    let alone = publish(&format!("{topic}-alone"), n, None);
    let baseline = print_baseline("mqtt", "publisher (QoS 1)", n, alone);
    let mut freshet = [0.0; 2];
    for (slot, workers) in WORKERS.into_iter().enumerate() {
        let ctx = StreamingContext::new(config(workers))?;
        let client_id = format!("ingest-bench-{}-{workers}", std::process::id());
        let counted = count_into(ctx.receiver_stream(
            MqttSource::receiver("127.0.0.1:1883", &client_id, [&topic]).byte_payloads(),
        ));
        ctx.start()?;
        // The subscription is in place once the receiver has connected.
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        publish(&topic, n, Some(counted.clone()));
        let secs = wait_for(&counted, n, started);
        ctx.stop(false)?;
        let got = counted.load(Ordering::Relaxed);
        freshet[slot] = print_run("mqtt", "receiver", workers, got, secs);
    }
    Ok(Row {
        system: "MQTT (Mosquitto)",
        baseline,
        freshet,
    })
}
