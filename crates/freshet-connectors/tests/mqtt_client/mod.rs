//! A client of the local Mosquitto broker for the MQTT tests: unique names, persistent
//! sessions opened and closed, and QoS 1 publishing that waits for the broker's
//! acknowledgements.
#![allow(dead_code)]

use super::services;
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BROKER: &str = "127.0.0.1:1883";
pub const DELIVERY: Duration = Duration::from_secs(60);

/// A name no other test or earlier run uses: sessions persist in the broker.
pub fn unique(what: &str) -> String {
    services::mosquitto();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "freshet-{what}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn options(client_id: &str, clean_session: bool) -> MqttOptions {
    services::mosquitto();
    let mut o = MqttOptions::new(client_id, "127.0.0.1", 1883);
    o.set_clean_session(clean_session)
        .set_max_packet_size(1 << 20, 1 << 20);
    o
}

/// Drives `connection` until `done` says so, failing after [`DELIVERY`].
pub fn drive(
    connection: &mut rumqttc::Connection,
    what: &str,
    mut done: impl FnMut(&Event) -> bool,
) {
    let deadline = Instant::now() + DELIVERY;
    loop {
        assert!(Instant::now() < deadline, "{what}: timed out");
        match connection.recv_timeout(Duration::from_millis(500)) {
            Ok(Ok(event)) => {
                if done(&event) {
                    return;
                }
            }
            Ok(Err(e)) => panic!(
                "{what}: {e} (is mosquitto running at {BROKER}? \
                 `mosquitto -d -c /etc/mosquitto/mosquitto.conf`)"
            ),
            Err(rumqttc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

pub fn disconnect(client: &Client, connection: &mut rumqttc::Connection, what: &str) {
    client.disconnect().expect("queue a disconnection");
    drive(connection, what, |e| {
        matches!(e, Event::Outgoing(Outgoing::Disconnect))
    });
}

/// Creates the persistent session `client_id` subscribed to `filters` with QoS 1, so that the
/// broker keeps what is published from now on for the receiver.
pub fn open_session(client_id: &str, filters: &[&str]) {
    let (client, mut connection) = Client::new(options(client_id, false), 10);
    for f in filters {
        client
            .subscribe(*f, QoS::AtLeastOnce)
            .expect("queue a subscription");
    }
    let mut acks = 0;
    drive(&mut connection, "subscribing", |e| {
        if matches!(e, Event::Incoming(Packet::SubAck(_))) {
            acks += 1;
        }
        acks == filters.len()
    });
    disconnect(&client, &mut connection, "disconnecting the subscriber");
}

/// Removes the session `client_id` from the broker.
pub fn close_session(client_id: &str) {
    let (client, mut connection) = Client::new(options(client_id, true), 10);
    drive(&mut connection, "connecting", |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_)))
    });
    disconnect(&client, &mut connection, "closing the session");
}

/// Publishes `payloads` to `topic` with QoS 1 and waits until the broker acknowledged each.
pub fn publish(topic: &str, payloads: &[Vec<u8>]) {
    let (client, mut connection) = Client::new(options(&unique("pub"), true), 10);
    let mut sent = payloads.iter();
    let mut acked = 0;
    let mut queued = 0;
    // Queue a few at a time: the request channel holds ten.
    for p in sent.by_ref().take(5) {
        client
            .publish(topic, QoS::AtLeastOnce, false, p.clone())
            .expect("queue a message");
        queued += 1;
    }
    if !payloads.is_empty() {
        drive(&mut connection, "publishing", |e| {
            if matches!(e, Event::Incoming(Packet::PubAck(_))) {
                acked += 1;
                if let Some(p) = sent.next() {
                    client
                        .try_publish(topic, QoS::AtLeastOnce, false, p.clone())
                        .expect("queue a message");
                    queued += 1;
                }
            }
            acked == payloads.len()
        });
    }
    assert_eq!(queued, payloads.len());
    disconnect(&client, &mut connection, "disconnecting the publisher");
}
