//! The ZeroMQ receivers against real libzmq sockets over loopback TCP: PULL from PUSH senders,
//! SUB with topic prefixes from a PUB, a bound PULL that senders connect to, a sender that goes
//! away and comes back, a full receiver holding a PUSH sender back without losing a message,
//! bad payloads under each policy, and bad settings refused by name.
#![cfg(feature = "zeromq")]

use freshet::source::{BadRecordPolicy, Receiver, ReceiverOptions};
use freshet::testing::laws::closed_port;
use freshet::testing::BatchStepper;
use freshet::{CollectedBatches, Data, ErrorDomain, StreamingConfig};
use freshet_connectors::zeromq::{ZmqMessage, ZmqSource};
use std::time::{Duration, Instant};

const I: Duration = Duration::from_millis(50);

/// A socket of the test's side, bound to a free loopback port; its endpoint.
fn bound(kind: zmq::SocketType) -> (zmq::Socket, String) {
    let socket = zmq::Context::new().socket(kind).unwrap();
    socket.set_linger(0).unwrap();
    socket.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = socket.get_last_endpoint().unwrap().unwrap();
    (socket, endpoint)
}

fn all<T: Data>(out: &CollectedBatches<T>) -> Vec<T> {
    out.batches().into_iter().flat_map(|(_, b)| b).collect()
}

/// Steps batches until `done` holds of what arrived (20 s at most).
fn step_until<T: Data>(
    stepper: &mut BatchStepper,
    out: &CollectedBatches<T>,
    what: &str,
    mut done: impl FnMut(&[T]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        stepper.step().unwrap();
        if done(&all(out)) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn pull_receives_every_message_pushed_in_order() {
    let (push, endpoint) = bound(zmq::PUSH);
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let out = stepper
        .context()
        .receiver_stream(ZmqSource::pull(&endpoint).block_size(7))
        .collect_batches();
    stepper.start().unwrap();
    // A PUSH socket queues until a puller connects: nothing sent before is lost.
    let sent: Vec<String> = (0..2000).map(|i| format!("line {i}")).collect();
    for line in &sent {
        push.send(line.as_bytes(), 0).unwrap();
    }
    step_until(&mut stepper, &out, "messages did not arrive", |got| {
        got.len() >= sent.len()
    });
    stepper.step().unwrap();
    stepper.stop().unwrap();
    assert_eq!(all(&out), sent);
}

#[test]
fn sub_takes_its_prefixes_only_and_keeps_every_frame() {
    let (publisher, endpoint) = bound(zmq::PUB);
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let out = stepper
        .context()
        .receiver_stream(
            ZmqSource::sub(&endpoint)
                .subscribe("sensors.")
                .subscribe("alerts")
                .messages(),
        )
        .collect_batches();
    stepper.start().unwrap();
    // A subscriber receives nothing published before its subscription reached the publisher:
    // probe until one arrives.
    step_until(&mut stepper, &out, "the subscriber never joined", |got| {
        publisher
            .send_multipart([&b"sensors.probe"[..], b"p"], 0)
            .unwrap();
        !got.is_empty()
    });
    let probes = all(&out).len();
    for i in 0..50 {
        let topic: &[u8] = match i % 3 {
            0 => b"sensors.t",
            1 => b"alerts",
            _ => b"logs",
        };
        publisher
            .send_multipart([topic, format!("{i}").as_bytes()], 0)
            .unwrap();
    }
    publisher.send(&b"sensors.single"[..], 0).unwrap();
    step_until(&mut stepper, &out, "messages did not arrive", |got| {
        got.last().is_some_and(|m| m.frames.len() == 1)
    });
    stepper.stop().unwrap();
    let got: Vec<ZmqMessage> = all(&out).split_off(probes);
    let got: Vec<ZmqMessage> = got.into_iter().filter(|m| m.payload() != b"p").collect();
    let expected: Vec<String> = (0..50)
        .filter(|i| i % 3 != 2)
        .map(|i| i.to_string())
        .collect();
    let payloads: Vec<String> = got[..got.len() - 1]
        .iter()
        .map(|m| String::from_utf8(m.payload().to_vec()).unwrap())
        .collect();
    assert_eq!(payloads, expected);
    assert_eq!(got[0].topic(), Some(&b"sensors.t"[..]));
    assert_eq!(got[1].topic(), Some(&b"alerts"[..]));
    assert_eq!(got.last().unwrap().payload(), b"sensors.single");
    assert!(got.iter().all(|m| m.timestamp > 0));
}

#[test]
fn a_bound_pull_takes_senders_that_connect_and_refuses_an_address_in_use() {
    let endpoint = format!("tcp://{}", closed_port());
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let out = stepper
        .context()
        .receiver_stream(ZmqSource::pull(&endpoint).bind().json::<u32>())
        .collect_batches();
    stepper.start().unwrap();

    // The address is taken now: a second bound receiver fails at start, naming it.
    let mut second = ZmqSource::pull(&endpoint).bind();
    let err = second.on_start().unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(err.to_string().contains(&endpoint), "{err}");

    let senders: Vec<zmq::Socket> = (0..2)
        .map(|_| {
            let s = zmq::Context::new().socket(zmq::PUSH).unwrap();
            s.set_linger(1000).unwrap();
            s.connect(&endpoint).unwrap();
            s
        })
        .collect();
    for i in 0..100u32 {
        senders[(i % 2) as usize]
            .send(i.to_string().as_bytes(), 0)
            .unwrap();
    }
    step_until(&mut stepper, &out, "messages did not arrive", |got| {
        got.len() >= 100
    });
    stepper.stop().unwrap();
    let mut got = all(&out);
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<u32>>());
}

#[test]
fn a_sender_that_goes_away_and_comes_back_is_read_again() {
    let (push, endpoint) = bound(zmq::PUSH);
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let out = stepper
        .context()
        .receiver_stream(ZmqSource::pull(&endpoint))
        .collect_batches();
    stepper.start().unwrap();
    push.send(&b"before"[..], 0).unwrap();
    step_until(
        &mut stepper,
        &out,
        "the first message did not arrive",
        |got| got.len() == 1,
    );
    // The sender's process ends; a new one binds the same address later.
    drop(push);
    stepper.steps(3).unwrap();
    let push = zmq::Context::new().socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.bind(&endpoint).unwrap();
    push.send(&b"after"[..], 0).unwrap();
    step_until(
        &mut stepper,
        &out,
        "the receiver did not reconnect",
        |got| got.len() == 2,
    );
    stepper.stop().unwrap();
    assert_eq!(all(&out), ["before", "after"]);
}

/// Message `i`, padded to 16 KiB so that the kernel's socket buffers fill after a few hundred.
fn padded(i: u32) -> Vec<u8> {
    let mut m = i.to_string().into_bytes();
    m.push(b' ');
    m.resize(16 << 10, b'.');
    m
}

#[test]
fn a_full_receiver_holds_a_pusher_back_and_loses_nothing() {
    let (push, endpoint) = bound(zmq::PUSH);
    push.set_sndhwm(10).unwrap();
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let out = stepper
        .context()
        .receiver_stream_with(
            ZmqSource::pull(&endpoint).receive_hwm(10).block_size(10),
            ReceiverOptions::new().capacity(50),
        )
        .collect_batches();
    stepper.start().unwrap();
    // No batch is taken: the receiver's buffer fills, then both sockets' queues and the
    // kernel's buffers, and the sender is refused (EAGAIN) instead of queueing without bound.
    let mut sent = 0u32;
    loop {
        match push.send(padded(sent), zmq::DONTWAIT) {
            Ok(()) => sent += 1,
            Err(zmq::Error::EAGAIN) => {
                // Let the queues settle, then see whether it is still refused.
                std::thread::sleep(Duration::from_millis(200));
                match push.send(padded(sent), zmq::DONTWAIT) {
                    Ok(()) => sent += 1,
                    Err(zmq::Error::EAGAIN) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 20_000, "the sender was never held back");
    }
    assert!(sent >= 50, "only {sent} sent");
    // Batches take the buffer: the sender may go on, and every message arrives once.
    push.set_sndtimeo(100).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut more = 0;
    while more < 100 {
        stepper.step().unwrap();
        match push.send(padded(sent), 0) {
            Ok(()) => {
                sent += 1;
                more += 1;
            }
            Err(zmq::Error::EAGAIN) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "the sender stayed held back");
    }
    let total = sent as usize;
    step_until(&mut stepper, &out, "messages were lost", |got| {
        got.len() >= total
    });
    stepper.stop().unwrap();
    let got: Vec<u32> = all(&out)
        .iter()
        .map(|s| s.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, (0..sent).collect::<Vec<u32>>());
}

#[test]
fn bad_payloads_are_skipped_and_counted_or_dead_lettered() {
    let (push, endpoint) = bound(zmq::PUSH);
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let out = stepper
        .context()
        .receiver_stream(ZmqSource::pull(&endpoint).bad_records(BadRecordPolicy::Skip))
        .collect_batches();
    stepper.start().unwrap();
    for payload in [&b"ok"[..], b"\xff\xfe", b"fine"] {
        push.send(payload, 0).unwrap();
    }
    step_until(&mut stepper, &out, "messages did not arrive", |got| {
        got.len() == 2
    });
    assert_eq!(stepper.context().skipped_records(), 1);
    stepper.stop().unwrap();
    assert_eq!(all(&out), ["ok", "fine"]);

    let (push, endpoint) = bound(zmq::PUSH);
    let dead = tempfile::tempdir().unwrap();
    let config = StreamingConfig::new(I).dead_letter_dir(dead.path());
    let mut stepper = BatchStepper::new(config).unwrap();
    let out = stepper
        .context()
        .receiver_stream(
            ZmqSource::pull(&endpoint)
                .json::<u32>()
                .bad_records(BadRecordPolicy::DeadLetter),
        )
        .uid("numbers")
        .collect_batches();
    stepper.start().unwrap();
    for payload in [&b"1"[..], b"not json", b"3"] {
        push.send(payload, 0).unwrap();
    }
    step_until(&mut stepper, &out, "messages did not arrive", |got| {
        got.len() == 2
    });
    stepper.stop().unwrap();
    assert_eq!(all(&out), [1, 3]);
    let kept = std::fs::read_to_string(dead.path().join("numbers.jsonl")).unwrap();
    assert!(kept.contains(r#""record":"not json""#), "{kept}");
    assert!(kept.contains("not the JSON expected"), "{kept}");
}

#[test]
fn a_bad_payload_under_the_fail_policy_fails_the_job() {
    let (push, endpoint) = bound(zmq::PUSH);
    let mut stepper = BatchStepper::new(StreamingConfig::new(I)).unwrap();
    let _out = stepper
        .context()
        .receiver_stream(ZmqSource::pull(&endpoint).bad_records(BadRecordPolicy::Fail))
        .collect_batches();
    stepper.start().unwrap();
    push.send(&b"\xff"[..], 0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        if let Err(e) = stepper.step() {
            break e;
        }
        assert!(Instant::now() < deadline, "the job did not fail");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
}

#[test]
fn bad_settings_are_refused_by_name() {
    let cases = [
        (ZmqSource::pull("localhost:5557"), "not a ZeroMQ endpoint"),
        (
            ZmqSource::pull("tcp://127.0.0.1:1").subscribe("a"),
            "SUB sockets only",
        ),
        (
            ZmqSource::sub("tcp://127.0.0.1:1").receive_hwm(0),
            "receive_hwm must be between 1 and",
        ),
        (
            ZmqSource::sub("tcp://127.0.0.1:1").max_message_bytes(0),
            "max_message_bytes must be between 1 and",
        ),
        (
            ZmqSource::sub("tcp://127.0.0.1:1").block_size(0),
            "block_size must be between 1 and",
        ),
        (ZmqSource::sub("nope://127.0.0.1:1"), "nope://127.0.0.1:1"),
        (
            ZmqSource::pull("tcp://256.0.0.1:1").bind(),
            "tcp://256.0.0.1:1",
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
}
