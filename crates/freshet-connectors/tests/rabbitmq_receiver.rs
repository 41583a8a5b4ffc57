//! The RabbitMQ reliable receiver against a real broker at 127.0.0.1:5672 (guest/guest, vhost
//! `/`; the tests fail when it cannot be reached): every message exactly once in a run (one and
//! two workers), nothing acknowledged lost across a restart, deliveries acknowledged only after
//! their block is stored, bad payloads under both policies, and errors classified.
#![cfg(feature = "rabbitmq")]

mod services;

use freshet::source::{BadRecordPolicy, Receiver, ReceiverOptions};
use freshet::testing::laws::{check_retryable, closed_port};
use freshet::{BatchTime, Clock, ErrorDomain, ManualClock, StreamingConfig, StreamingContext};
use freshet_connectors::rabbitmq::{RabbitMqReceiver, RabbitMqSource, Utf8};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const I: u64 = 50;

/// A publisher with confirms, and the queue's owner: declares it, counts it, deletes it.
struct Broker {
    rt: tokio::runtime::Runtime,
    conn: Connection,
    channel: Channel,
    queue: String,
}

impl Broker {
    /// Declares a durable queue named after the test and this process.
    fn new(test: &str) -> Broker {
        services::rabbitmq();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (conn, channel) = rt.block_on(async {
            let conn = tokio::time::timeout(
                Duration::from_secs(10),
                Connection::connect(URI, ConnectionProperties::default()),
            )
            .await
            .expect("RabbitMQ at 127.0.0.1:5672 did not answer")
            .expect("RabbitMQ must run at 127.0.0.1:5672 (rabbitmq-server -detached)");
            let channel = conn.create_channel().await.unwrap();
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .unwrap();
            (conn, channel)
        });
        let queue = format!("freshet-{}-{test}", std::process::id());
        let b = Broker {
            rt,
            conn,
            channel,
            queue,
        };
        b.rt.block_on(async {
            let _ = b
                .channel
                .queue_delete(&b.queue, QueueDeleteOptions::default())
                .await;
            let durable = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            b.channel
                .queue_declare(&b.queue, durable, FieldTable::default())
                .await
                .unwrap();
        });
        b
    }

    /// Publishes persistent messages to the queue and waits for the broker's confirms.
    fn publish_with(&self, payloads: &[Vec<u8>], properties: BasicProperties) {
        self.rt.block_on(async {
            for p in payloads {
                let confirm = self
                    .channel
                    .basic_publish(
                        "",
                        &self.queue,
                        BasicPublishOptions::default(),
                        p,
                        properties.clone().with_delivery_mode(2),
                    )
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                assert!(confirm.is_ack(), "the broker refused a message");
            }
        });
    }

    fn publish(&self, values: &[String]) {
        let payloads: Vec<Vec<u8>> = values.iter().map(|v| v.clone().into_bytes()).collect();
        self.publish_with(&payloads, BasicProperties::default());
    }

    /// The messages ready in the queue (not delivered, or delivered and given back).
    fn ready(&self) -> u32 {
        self.rt.block_on(async {
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            self.channel
                .queue_declare(&self.queue, passive, FieldTable::default())
                .await
                .unwrap()
                .message_count()
        })
    }

    /// Waits until `ready()` is `n`.
    fn await_ready(&self, n: u32) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.ready();
            if now == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the queue holds {now} ready messages, not {n}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn receiver(&self) -> RabbitMqReceiver<Utf8> {
        RabbitMqSource::receiver(URI, &self.queue)
            .prefetch(20)
            .block_size(7)
            .block_max_wait(Duration::from_millis(20))
            .poll_timeout(Duration::from_millis(20))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.rt.block_on(async {
            let _ = self
                .channel
                .queue_delete(&self.queue, QueueDeleteOptions::default())
                .await;
            let _ = self.conn.close(200, "test done").await;
        });
    }
}

fn values(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn config(workers: usize) -> StreamingConfig {
    StreamingConfig::new(Duration::from_millis(I))
        .workers(workers)
        .stop_on_ctrl_c(false)
}

/// An available-now run of `receiver` with the checkpoint directory `dir`: what it produced.
fn run_once(workers: usize, dir: &Path, receiver: RabbitMqReceiver<Utf8>) -> Vec<String> {
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::new(config(workers))?;
        out = Some(
            ctx.receiver_stream(receiver)
                .uid("rabbitmq")
                .collect_batches(),
        );
        Ok(ctx)
    })
    .unwrap();
    ctx.run_available_now().unwrap();
    let out = out.unwrap();
    out.batches().into_iter().flat_map(|(_, b)| b).collect()
}

fn every_message_once(workers: usize) {
    let broker = Broker::new(&format!("once-{workers}"));
    let mut published = values("m", 0..100);
    broker.publish(&published);
    let dir = tempfile::tempdir().unwrap();
    let mut read = run_once(workers, dir.path(), broker.receiver());
    read.sort();
    published.sort();
    assert_eq!(read, published, "every message exactly once");
    // All acknowledged: nothing came back to the queue when the receiver disconnected.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(broker.ready(), 0);
}

#[test]
fn with_one_worker_every_message_arrives_once() {
    every_message_once(1);
}

#[test]
fn with_two_workers_every_message_arrives_once() {
    every_message_once(2);
}

#[test]
fn a_restart_loses_nothing_that_was_acknowledged() {
    let broker = Broker::new("restart");
    let dir = tempfile::tempdir().unwrap();
    let first = values("first", 0..30);
    let second = values("second", 0..20);

    // A running pipeline, stopped while it has everything of the first lot.
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir.path(), || {
        let ctx = StreamingContext::new(config(1))?;
        out = Some(
            ctx.receiver_stream(broker.receiver())
                .uid("rabbitmq")
                .collect_batches(),
        );
        Ok(ctx)
    })
    .unwrap();
    ctx.start().unwrap();
    broker.publish(&first);
    broker.await_ready(0);
    ctx.stop(false).unwrap();
    let mut seen: BTreeSet<String> = out
        .unwrap()
        .batches()
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();

    // More while it is down, then the same pipeline from the same checkpoint directory.
    broker.publish(&second);
    seen.extend(run_once(1, dir.path(), broker.receiver()));
    let expected: BTreeSet<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(seen, expected, "every message in the union of the runs");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(broker.ready(), 0, "everything acknowledged in the end");
}

#[test]
fn deliveries_are_acknowledged_only_after_their_block_is_stored() {
    let broker = Broker::new("acks");
    let published = values("o", 0..20);
    broker.publish(&published);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(config(1), Arc::new(clock.clone())).unwrap();
    ctx.checkpoint(dir.path()).unwrap();
    // At most 5 unacknowledged, blocks of 5 and a buffer of 5: the first block is stored and
    // acknowledged, the second waits for a batch to take the first.
    let out = ctx
        .receiver_stream_with(
            broker
                .receiver()
                .prefetch(5)
                .block_size(5)
                .block_max_wait(Duration::from_secs(60)),
            ReceiverOptions::new().capacity(5),
        )
        .uid("rabbitmq")
        .collect_batches();
    ctx.start().unwrap();
    // 5 acknowledged and 5 delivered but not stored: the broker holds back the other 10.
    broker.await_ready(10);
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(broker.ready(), 10, "a delivery not stored was acknowledged");
    }
    clock.advance(Duration::from_millis(I));
    ctx.await_batch(clock.now(), Duration::from_secs(30))
        .unwrap();
    assert_eq!(out.batch(BatchTime(I)).unwrap(), values("o", 0..5));
    // The second block is stored now and acknowledged: 5 more delivered.
    broker.await_ready(5);
    ctx.stop(false).unwrap();
    let mut seen: BTreeSet<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();

    // What was not acknowledged came back to the queue; the next run has everything.
    seen.extend(run_once(1, dir.path(), broker.receiver()));
    assert_eq!(seen, published.into_iter().collect::<BTreeSet<_>>());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(broker.ready(), 0);
}

#[test]
fn payloads_that_do_not_decode_follow_the_bad_record_policy() {
    let mixed = [b"ok-1".to_vec(), b"\xff".to_vec(), b"ok-2".to_vec()];

    let broker = Broker::new("skip");
    broker.publish_with(&mixed, BasicProperties::default());
    let dir = tempfile::tempdir().unwrap();
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir.path(), || {
        let ctx = StreamingContext::new(config(1))?;
        out = Some(ctx.receiver_stream(broker.receiver()).collect_batches());
        Ok(ctx)
    })
    .unwrap();
    ctx.run_available_now().unwrap();
    let read: Vec<String> = out
        .unwrap()
        .batches()
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert_eq!(read, vec!["ok-1", "ok-2"]);
    assert_eq!(ctx.skipped_records(), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(broker.ready(), 0, "a skipped message is acknowledged");

    let broker = Broker::new("fail");
    broker.publish_with(&mixed, BasicProperties::default());
    let ctx = StreamingContext::new(config(1)).unwrap();
    ctx.receiver_stream(
        broker
            .receiver()
            .block_size(1)
            .bad_records(BadRecordPolicy::Fail),
    )
    .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
    assert!(err.to_string().contains(&broker.queue), "{err}");
    // The bad message and the one after it were not acknowledged.
    broker.await_ready(2);
}

#[test]
fn messages_carry_their_routing_key_exchange_and_headers() {
    let broker = Broker::new("raw");
    let mut headers = FieldTable::default();
    headers.insert("origin".into(), AMQPValue::LongString("web".into()));
    headers.insert("attempt".into(), AMQPValue::LongInt(3));
    broker.publish_with(
        &[b"{\"n\":1}".to_vec()],
        BasicProperties::default()
            .with_headers(headers)
            .with_message_id("id-1".into()),
    );
    let ctx = StreamingContext::new(config(1)).unwrap();
    let out = ctx
        .receiver_stream(broker.receiver().messages())
        .collect_batches();
    ctx.run_available_now().unwrap();
    let read: Vec<_> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(read.len(), 1);
    let m = &read[0];
    assert_eq!(m.routing_key, broker.queue);
    assert_eq!(m.exchange, "");
    assert!(!m.redelivered);
    assert_eq!(m.message_id.as_deref(), Some("id-1"));
    assert_eq!(m.header("origin").unwrap().value, b"web");
    assert_eq!(m.header("attempt").unwrap().value, b"3");
    assert_eq!(m.payload_str(), Some("{\"n\":1}"));
}

#[test]
fn json_payloads_decode_into_a_serde_type() {
    let broker = Broker::new("json");
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct N {
        n: u32,
    }
    broker.publish(&["{\"n\":2}".to_string()]);
    let ctx = StreamingContext::new(config(1)).unwrap();
    let out = ctx
        .receiver_stream(broker.receiver().json_payloads::<N>())
        .collect_batches();
    ctx.run_available_now().unwrap();
    let read: Vec<N> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(read, vec![N { n: 2 }]);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let r = || RabbitMqSource::receiver(URI, "q");
    let cases: Vec<(RabbitMqReceiver, &str)> = vec![
        (r().prefetch(0), "prefetch must be between 1 and 65535"),
        (
            r().block_size(0),
            "block_size must be between 1 and 1000000",
        ),
        (
            r().block_size(1_000_001),
            "block_size must be between 1 and 1000000",
        ),
        (
            r().block_max_wait(Duration::ZERO),
            "block_max_wait must be between",
        ),
        (
            r().block_max_wait(Duration::from_secs(61)),
            "block_max_wait must be between",
        ),
        (
            r().poll_timeout(Duration::ZERO),
            "poll_timeout must be between",
        ),
        (
            r().request_timeout(Duration::from_millis(10)),
            "request_timeout must be between",
        ),
        (r().consumer_tag("t".repeat(256)), "consumer_tag"),
        (RabbitMqSource::receiver(URI, ""), "queue must be a name"),
        (RabbitMqSource::receiver("http://x", "q"), "uri"),
        (
            RabbitMqSource::receiver("amqps://guest:guest@127.0.0.1:5671/%2f", "q"),
            "amqps",
        ),
    ];
    for (mut receiver, expected) in cases {
        let err = receiver.on_start().unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User, "{err}");
        assert!(
            err.to_string().contains(expected),
            "`{err}` lacks `{expected}`"
        );
    }
    // The name shows the broker without the credentials.
    let name = r().name();
    assert!(name.contains("127.0.0.1:5672"), "{name}");
    assert!(!name.contains("guest"), "{name}");
    // And through a context: `start()` fails.
    let ctx = StreamingContext::new(config(1)).unwrap();
    ctx.receiver_stream(r().prefetch(0)).collect_batches();
    let err = ctx.start().unwrap_err();
    assert!(err.to_string().contains("prefetch"), "{err}");
}

#[test]
fn a_missing_queue_is_the_users_error() {
    services::rabbitmq();
    let queue = format!("freshet-{}-absent", std::process::id());
    let err = RabbitMqSource::receiver(URI, &queue)
        .ready_messages()
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&queue), "{err}");

    let ctx = StreamingContext::new(config(1)).unwrap();
    ctx.receiver_stream(RabbitMqSource::receiver(URI, &queue))
        .collect_batches();
    let err = ctx.run_available_now().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&queue), "{err}");

    // Declared by the receiver, it exists.
    let declared = format!("freshet-{}-declared", std::process::id());
    let r = RabbitMqSource::receiver(URI, &declared).declare_queue(false);
    let ctx = StreamingContext::new(config(1)).unwrap();
    ctx.receiver_stream(r).collect_batches();
    ctx.run_available_now().unwrap();
    let broker = Broker::new("declared");
    assert_eq!(broker.ready(), 0);
    broker.rt.block_on(async {
        broker
            .channel
            .queue_delete(&declared, QueueDeleteOptions::default())
            .await
            .unwrap();
    });
}

#[derive(Default)]
struct Errors(std::sync::Mutex<Vec<String>>);

impl freshet::StreamingListener for Errors {
    fn on_receiver_event(&self, _receiver: &str, event: &freshet::ReceiverEvent) {
        if let freshet::ReceiverEvent::Error(e) = event {
            self.0.lock().unwrap().push(e.clone());
        }
    }
}

#[test]
fn a_broker_that_cannot_be_reached_is_retried_with_back_off() {
    let uri = format!("amqp://guest:guest@{}/%2f", closed_port());
    let err = RabbitMqSource::receiver(&uri, "q")
        .ready_messages()
        .unwrap_err();
    check_retryable(&err).unwrap();
    assert_eq!(err.domain(), ErrorDomain::External, "{err}");

    let ctx = StreamingContext::new(config(1)).unwrap();
    let errors = Arc::new(Errors::default());
    ctx.add_listener(errors.clone());
    ctx.receiver_stream_with(
        RabbitMqSource::receiver(&uri, "q").request_timeout(Duration::from_millis(500)),
        ReceiverOptions::new().backoff(freshet::source::Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        }),
    )
    .collect_batches();
    ctx.start().unwrap();
    // A restart after each failure (a user error would fail the job after the first).
    let deadline = Instant::now() + Duration::from_secs(30);
    while errors.0.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the receiver was not restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    ctx.stop(false).unwrap();
    let errors = errors.0.lock().unwrap();
    assert!(errors[0].contains("rabbitmq"), "{errors:?}");
}
