//! The core NATS subject receiver against the NATS server at 127.0.0.1:4222 (started when it
//! is down; these tests fail when it cannot be reached): messages published while it runs
//! arrive, on wildcard subjects, in order, with bad payloads under the policy; bad settings
//! are refused by name and a closed port is retried.
#![cfg(feature = "nats")]

mod services;

use freshet::source::{BadRecordPolicy, Receiver};
use freshet::testing::laws::{check_retryable, closed_port};
use freshet::testing::BatchStepper;
use freshet::{ErrorDomain, StreamingConfig};
use freshet_connectors::nats::{NatsMessage, NatsSource};
use std::time::{Duration, Instant};

const URL: &str = "nats://127.0.0.1:4222";

fn nats_up() {
    services::ensure(
        "NATS",
        4222,
        &[
            "start-stop-daemon",
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/nats-server",
            "--",
            "-a",
            "127.0.0.1",
            "-p",
            "4222",
            "-js",
            "-sd",
            "/var/lib/nats-server",
            "-l",
            "/var/log/nats-server.log",
        ],
    );
}

struct Publisher {
    rt: tokio::runtime::Runtime,
    client: async_nats::Client,
}

impl Publisher {
    fn new() -> Self {
        nats_up();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt
            .block_on(async_nats::connect(URL))
            .expect("connect to NATS");
        Publisher { rt, client }
    }

    fn publish(&self, subject: &str, payloads: &[Vec<u8>]) {
        self.rt.block_on(async {
            for p in payloads {
                self.client
                    .publish(subject.to_string(), p.clone().into())
                    .await
                    .unwrap();
            }
            self.client.flush().await.unwrap();
        });
    }
}

fn root(tag: &str) -> String {
    format!(
        "freshet.test.{tag}.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

#[test]
fn messages_published_while_it_runs_arrive_in_order() {
    let p = Publisher::new();
    let root = root("core");
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(50))).unwrap();
    let out = stepper
        .context()
        .receiver_stream(
            NatsSource::subject(URL, format!("{root}.*"))
                .block_size(7)
                .messages(),
        )
        .uid("core")
        .collect_batches();
    stepper.start().unwrap();
    // The receiver subscribes on its own thread: probe until it does.
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = |out: &freshet::CollectedBatches<NatsMessage>| -> Vec<NatsMessage> {
        out.batches().into_iter().flat_map(|(_, b)| b).collect()
    };
    while read(&out).is_empty() {
        assert!(Instant::now() < deadline, "the receiver never subscribed");
        p.publish(&format!("{root}.probe"), &[b"probe".to_vec()]);
        std::thread::sleep(Duration::from_millis(50));
        stepper.step().unwrap();
    }
    let probes = read(&out).len();
    let sent: Vec<Vec<u8>> = (0..40).map(|i| format!("m-{i}").into_bytes()).collect();
    p.publish(&format!("{root}.a"), &sent[..20]);
    p.publish(&format!("{root}.b"), &sent[20..]);
    p.publish(&format!("{root}.not.matched"), &[b"no".to_vec()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while read(&out).len() < probes + 40 {
        assert!(Instant::now() < deadline, "messages did not arrive");
        std::thread::sleep(Duration::from_millis(20));
        stepper.step().unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    stepper.step().unwrap();
    stepper.stop().unwrap();
    let got: Vec<NatsMessage> = read(&out)
        .into_iter()
        .filter(|m| m.payload != b"probe")
        .collect();
    let payloads: Vec<Vec<u8>> = got.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(payloads, sent);
    assert!(got[..20].iter().all(|m| m.subject == format!("{root}.a")));
    assert!(got[20..].iter().all(|m| m.subject == format!("{root}.b")));
    assert!(got.iter().all(|m| m.sequence == 0 && m.timestamp > 0));
}

#[test]
fn payloads_that_do_not_decode_are_skipped_and_counted() {
    let p = Publisher::new();
    let root = root("bad");
    let mut stepper = BatchStepper::new(StreamingConfig::new(Duration::from_millis(50))).unwrap();
    let out = stepper
        .context()
        .receiver_stream(
            NatsSource::subject(URL, format!("{root}.>")).bad_records(BadRecordPolicy::Skip),
        )
        .collect_batches();
    stepper.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let count = |out: &freshet::CollectedBatches<String>| {
        out.batches()
            .into_iter()
            .map(|(_, b)| b.len())
            .sum::<usize>()
    };
    while count(&out) == 0 {
        assert!(Instant::now() < deadline, "the receiver never subscribed");
        p.publish(&format!("{root}.probe"), &[b"probe".to_vec()]);
        std::thread::sleep(Duration::from_millis(50));
        stepper.step().unwrap();
    }
    let skipped = stepper.context().skipped_records();
    p.publish(
        &format!("{root}.x"),
        &[b"ok".to_vec(), b"\xff".to_vec(), b"fine".to_vec()],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        stepper.step().unwrap();
        let all: Vec<String> = out.batches().into_iter().flat_map(|(_, b)| b).collect();
        if all.iter().any(|t| t == "fine") {
            let tail: Vec<&String> = all.iter().filter(|t| *t != "probe").collect();
            assert_eq!(tail, vec!["ok", "fine"]);
            break;
        }
        assert!(Instant::now() < deadline, "messages did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(stepper.context().skipped_records(), skipped + 1);
    stepper.stop().unwrap();
}

#[test]
fn bad_settings_are_refused_by_name_and_a_closed_port_is_retried() {
    nats_up();
    let cases = [
        (NatsSource::subject(URL, "a..b"), "subject `a..b`"),
        (NatsSource::subject(URL, "a.>.b"), "subject `a.>.b`"),
        (
            NatsSource::subject(URL, "a").block_size(0),
            "block_size must be between 1 and",
        ),
        (
            NatsSource::subject(URL, "a").connect_timeout(Duration::ZERO),
            "connect_timeout must be between",
        ),
        (
            NatsSource::subject(URL, "a").queue_group("g h"),
            "queue group `g h`",
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
    // A receiver that cannot connect fails its run with a retryable error (and is restarted).
    let mut receiver = NatsSource::subject(format!("nats://{}", closed_port()), "a")
        .connect_timeout(Duration::from_millis(500));
    receiver.on_start().unwrap();
    let ctx = freshet::StreamingContext::new(
        StreamingConfig::new(Duration::from_millis(50)).stop_on_ctrl_c(false),
    )
    .unwrap();
    let err = run_once(&ctx, receiver);
    check_retryable(&err).unwrap();
}

/// Runs `receiver` once in a context: the error its run ends with.
fn run_once(
    ctx: &freshet::StreamingContext,
    receiver: freshet_connectors::nats::NatsSubjectReceiver,
) -> freshet::SourceError {
    let (tx, rx) = std::sync::mpsc::channel();
    let wrapped = Once {
        inner: Some(receiver),
        tx,
    };
    let _ = ctx.receiver_stream(wrapped).collect_batches();
    ctx.start().unwrap();
    let err = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    ctx.stop(false).unwrap();
    err
}

/// Runs its receiver once and reports how the run ended.
struct Once {
    inner: Option<freshet_connectors::nats::NatsSubjectReceiver>,
    tx: std::sync::mpsc::Sender<freshet::SourceError>,
}

impl Receiver for Once {
    type Item = String;

    fn name(&self) -> String {
        "once".into()
    }

    fn run(
        &mut self,
        ctx: &freshet::source::ReceiverContext<String>,
    ) -> Result<(), freshet::SourceError> {
        if let Some(mut r) = self.inner.take() {
            if let Err(e) = r.run(ctx) {
                let _ = self.tx.send(e);
            }
        }
        Ok(())
    }
}
